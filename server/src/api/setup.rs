//! `config/`: the setup view (`views::setup`), with the base URL taken from the request's `Host`
//! when the service knows no public address; `storage/`: what the data takes (`views::storage`).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// `GET config/` (admin only): the same as the Setup page.
pub async fn config(State(state): State<AppState>, headers: HeaderMap) -> Response {
    Json(setup_view(&state, &headers)).into_response()
}

/// `GET storage/` (admin only): how much room each kind of data takes, what arrived in a day.
pub async fn storage(State(state): State<AppState>) -> Result<Response, ApiError> {
    let usage =
        crate::views::storage::usage(&state.db, state.config.monitor.body_retention).await?;
    Ok(Json(usage).into_response())
}

/// The setup view for a request with these headers (the REST API and the dashboard alike).
pub fn setup_view(state: &AppState, headers: &HeaderMap) -> app::types::SetupView {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    crate::views::setup::view(&state.config, &state.public, &state.credentials, host)
}
