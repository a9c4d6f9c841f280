//! The monitoring engine's answers: metrics over a window, analytics over a range, health, and the
//! open alerts by severity.

use std::path::Path;

use app::types::HealthView;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter};

use super::error::{ViewError, ViewResult};
use crate::monitor::{Thresholds, analytics, health, metrics, now_ms, window};
use crate::store::entities::alerts;
use crate::store::outcome::Outcome;
use crate::store::rollups;

/// What health reads besides the database.
pub struct Service<'a> {
    pub thresholds: &'a Thresholds,
    pub data_dir: &'a Path,
    pub uptime_s: u64,
}

/// A window's length in milliseconds, from its name (`5m`, `1h`, `24h`, `7d`, ...).
pub fn window_ms(param: &str, text: &str) -> ViewResult<i64> {
    let duration = window::parse(text).ok_or_else(|| {
        ViewError::invalid(
            "invalid_window",
            format!("{param} must be like 5m, 1h, 24h or 7d (at most 90d), not {text:?}"),
        )
    })?;
    Ok(duration.as_millis() as i64)
}

/// The metrics of the window named `window` ending now.
pub async fn metrics(db: &DatabaseConnection, window: &str) -> ViewResult<app::types::MetricsView> {
    let window_ms = window_ms("window", window)?;
    metrics::compute(db, window, window_ms, now_ms())
        .await
        .map_err(|e| ViewError::internal("computing metrics", e))
}

/// The analytics of the range named `range` ending now.
pub async fn analytics(
    db: &DatabaseConnection,
    range: &str,
) -> ViewResult<app::types::AnalyticsView> {
    let range_ms = window_ms("range", range)?;
    analytics::compute(db, range, range_ms, now_ms())
        .await
        .map_err(|e| ViewError::internal("computing analytics", e))
}

/// The service's health (`monitor::health`).
pub async fn health(db: &DatabaseConnection, service: &Service<'_>) -> HealthView {
    health::check(db, service.thresholds, service.data_dir, service.uptime_s).await
}

/// Requests by outcome over the last `minutes`, by every instance (from the rollups), every
/// outcome named (0 when none).
pub async fn requests_by_outcome(
    db: &DatabaseConnection,
    minutes: i64,
) -> ViewResult<Vec<(Outcome, i64)>> {
    let now = now_ms();
    let rows = rollups::read_window(db, now - minutes * 60_000, now + 1)
        .await
        .map_err(|e| ViewError::internal("reading the request counts", e))?;
    Ok(Outcome::ALL
        .into_iter()
        .map(|outcome| {
            let requests = rows
                .iter()
                .filter(|row| row.key.outcome == outcome.as_str())
                .map(|row| row.requests)
                .sum();
            (outcome, requests)
        })
        .collect())
}

/// How many alerts of `severity` are open.
pub async fn open_alerts(db: &DatabaseConnection, severity: &str) -> ViewResult<u64> {
    alerts::Entity::find()
        .filter(alerts::Column::Status.eq("active"))
        .filter(alerts::Column::Severity.eq(severity))
        .count(db)
        .await
        .map_err(|e| ViewError::internal("counting open alerts", e))
}
