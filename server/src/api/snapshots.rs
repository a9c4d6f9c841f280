//! `snapshots/`: the list, one snapshot in full, and asking for a redelivery (`views::snapshots`
//! decides each).

use app::types::SnapshotFilter;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::snapshots;

/// `GET snapshots/?status=&platform=&cursor=&limit=`
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<SnapshotFilter>,
) -> Result<Response, ApiError> {
    Ok(Json(snapshots::list(&state.db, &filter).await?).into_response())
}

/// `GET snapshots/{id}/`
pub async fn detail(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let can_redeliver = state.brightdata().is_ok();
    Ok(Json(snapshots::detail(&state.db, &id, can_redeliver).await?).into_response())
}

/// `POST snapshots/{id}/redeliver/`: asks BrightData to deliver the snapshot again, here.
pub async fn redeliver(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let to = state.redelivery_destination();
    let asked = snapshots::redeliver(
        &state.db,
        &state.writer,
        &state.logs.monitor,
        state.brightdata(),
        &to,
        &id,
    )
    .await?;
    Ok(Json(asked).into_response())
}
