//! Metrics, health, analytics, the self-test and Prometheus.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::has_bearer;
use crate::error::ApiError;
use crate::monitor::{health as health_engine, prometheus as exposition, window};
use crate::state::AppState;
use crate::views::monitor as views;

fn param<'a>(params: &'a HashMap<String, String>, name: &str, default: &'a str) -> &'a str {
    params.get(name).map(String::as_str).unwrap_or(default)
}

/// `GET metrics/?window=5m|1h|24h|7d` (default 1h).
pub async fn metrics(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let window = param(&params, "window", window::DEFAULT);
    Ok(Json(views::metrics(&state.db, window).await?).into_response())
}

/// `GET health/`: the detailed health (the public `/api/health/` says only up or down).
pub async fn health(State(state): State<AppState>) -> Response {
    Json(views::health(&state.db, &state.service()).await).into_response()
}

/// `GET analytics/?range=24h` (default 24h).
pub async fn analytics(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let range = param(&params, "range", "24h");
    Ok(Json(views::analytics(&state.db, range).await?).into_response())
}

/// `POST test/`: the security self-test.
pub async fn self_test(State(state): State<AppState>) -> Response {
    let report = crate::ingest::selftest::run(
        state.ingest.clone(),
        &state.config,
        &state.public,
        &state.credentials,
    )
    .await;
    Json(report).into_response()
}

/// `GET /metrics`: Prometheus text format, for the admin token or `METRICS_TOKEN`.
pub async fn prometheus(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let allowed = has_bearer(&headers, &state.credentials.admin_token)
        || state
            .config
            .monitor
            .metrics_token
            .as_ref()
            .is_some_and(|token| has_bearer(&headers, token));
    if !allowed {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <METRICS_TOKEN or admin token>",
        )
        .into_response();
    }
    let health = views::health(&state.db, &state.service()).await;
    let cluster_requests = views::requests_by_outcome(&state.db, exposition::CLUSTER_WINDOW_MIN)
        .await
        .unwrap_or_default();
    let gauges = exposition::Gauges {
        instance: state.instance.id.to_string(),
        leader: state.leadership.holds(),
        cluster_requests,
        health: health_engine::level(&health.status).gauge(),
        alerts_warning: views::open_alerts(&state.db, "warning").await.unwrap_or(0) as i64,
        alerts_critical: views::open_alerts(&state.db, "critical").await.unwrap_or(0) as i64,
        uptime_s: state.started_at.elapsed().as_secs(),
        connections_open: state.connections.open(),
        connections_refused: state.connections.refused(),
    };
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        exposition::render(&state.events, &gauges),
    )
        .into_response()
}
