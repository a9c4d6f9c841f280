//! Metrics, health, analytics, the self-test and Prometheus.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::auth::has_bearer;
use crate::error::ApiError;
use crate::monitor::{
    analytics as analytics_engine, health as health_engine, metrics as metrics_engine, now_ms,
    prometheus as exposition, window,
};
use crate::state::AppState;
use crate::store::entities::alerts;

fn window_param(
    params: &HashMap<String, String>,
    name: &str,
    default: &str,
) -> Result<(String, i64), ApiError> {
    let text = params
        .get(name)
        .map(String::as_str)
        .unwrap_or(default)
        .to_owned();
    let duration = window::parse(&text).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_window",
            format!("{name} must be like 5m, 1h, 24h or 7d (at most 90d), not {text:?}"),
        )
    })?;
    Ok((text, duration.as_millis() as i64))
}

/// `GET metrics/?window=5m|1h|24h|7d` (default 1h).
pub async fn metrics(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (window, window_ms) = window_param(&params, "window", window::DEFAULT)?;
    let metrics = metrics_engine::compute(&state.db, &window, window_ms, now_ms())
        .await
        .map_err(|e| ApiError::internal("computing metrics", e))?;
    Ok(Json(metrics).into_response())
}

/// `GET health/`: the detailed health (the public `/api/health/` says only up or down).
pub async fn health(State(state): State<AppState>) -> Response {
    let view = health_engine::check(
        &state.db,
        &state.thresholds,
        &state.config.storage.data_dir,
        state.started_at.elapsed().as_secs(),
    )
    .await;
    Json(view).into_response()
}

/// `GET analytics/?range=24h` (default 24h).
pub async fn analytics(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let (range, range_ms) = window_param(&params, "range", "24h")?;
    let view = analytics_engine::compute(&state.db, &range, range_ms, now_ms())
        .await
        .map_err(|e| ApiError::internal("computing analytics", e))?;
    Ok(Json(view).into_response())
}

/// `POST test/`: the security self-test.
pub async fn self_test(State(state): State<AppState>) -> Response {
    let report =
        crate::ingest::selftest::run(state.ingest.clone(), &state.config, &state.credentials).await;
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
    let health = health_engine::check(
        &state.db,
        &state.thresholds,
        &state.config.storage.data_dir,
        state.started_at.elapsed().as_secs(),
    )
    .await;
    let open = |severity: &'static str| {
        alerts::Entity::find()
            .filter(alerts::Column::Status.eq("active"))
            .filter(alerts::Column::Severity.eq(severity))
            .count(&state.db)
    };
    let gauges = exposition::Gauges {
        health: health_engine::level(&health.status).gauge(),
        alerts_warning: open("warning").await.unwrap_or(0) as i64,
        alerts_critical: open("critical").await.unwrap_or(0) as i64,
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
