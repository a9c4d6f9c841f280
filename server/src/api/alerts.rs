//! `alerts/`: the list and acknowledging one (`views::alerts` decides both).

use app::types::AlertFilter;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::alerts;

/// `GET alerts/?status=active|resolved|all&severity=warning|critical`
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<AlertFilter>,
) -> Result<Response, ApiError> {
    Ok(Json(alerts::list(&state.db, &filter).await?).into_response())
}

#[derive(Deserialize, Default)]
pub struct Ack {
    /// Who acknowledges (free text; defaults to `admin`).
    by: Option<String>,
}

/// `POST alerts/{id}/ack/` with an optional `{"by": "name"}`.
pub async fn acknowledge(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    body: Option<Json<Ack>>,
) -> Result<Response, ApiError> {
    let by = body.and_then(|Json(ack)| ack.by);
    let alert = alerts::acknowledge(&state.writer, &state.logs, &state.hub, id, by).await?;
    Ok(Json(alert).into_response())
}
