//! `snapshots/`: the list and one snapshot in full (`views::snapshots` decides both).

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
    Ok(Json(snapshots::detail(&state.db, &id).await?).into_response())
}
