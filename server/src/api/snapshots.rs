//! `snapshots/`: the list, one snapshot in full, asking for a redelivery, the field coverage history
//! and accepting a drifted shape (`views::snapshots` and `views::drift` decide each).

use app::types::SnapshotFilter;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{drift, snapshots};

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

/// `GET snapshots/coverage/`: per platform, the key fields' coverage over recent snapshots.
pub async fn coverage(State(state): State<AppState>) -> Result<Response, ApiError> {
    Ok(Json(drift::history(&state.db).await?).into_response())
}

/// `POST snapshots/{id}/fields/accept/`: takes a drifted snapshot's fields as the new normal.
pub async fn accept_fields(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let view = drift::accept(&state.db, &state.writer, &state.logs.monitor, &id).await?;
    Ok(Json(view).into_response())
}
