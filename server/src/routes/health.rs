//! `GET /api/health/`: unauthenticated liveness for platform health checks. Says only whether the
//! service and its database answer; details belong to the authenticated monitor API.

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::paths::both_slashes;
use crate::state::AppState;

const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for path in both_slashes("/health/") {
        router = router.route(&path, get(health));
    }
    router
}

async fn health(State(state): State<AppState>) -> Response {
    let version = env!("CARGO_PKG_VERSION");
    let problem = match tokio::time::timeout(DATABASE_TIMEOUT, state.db.ping()).await {
        Ok(Ok(())) => None,
        Ok(Err(error)) => {
            tracing::warn!(%error, "health check: database query failed");
            Some("database query failed")
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer in time");
            Some("database did not answer within 2 s")
        }
    };
    match problem {
        None => Json(json!({
            "status": "healthy",
            "database": "connected",
            "version": version,
        }))
        .into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unhealthy",
                "database": "unreachable",
                "reason": reason,
                "version": version,
            })),
        )
            .into_response(),
    }
}
