//! The monitoring engine: metrics, health, alerts, analytics, retention, Prometheus and the security
//! self-test, all derived from stored events and their rollups (so every instance sharing a database
//! sees the same numbers).

pub mod alerts;
pub mod analytics;
pub mod health;
pub mod metrics;
pub mod prometheus;
pub mod retention;
pub mod window;

use std::time::Duration;

/// Thresholds the rules and health checks use (from the configuration).
#[derive(Debug, Clone)]
pub struct Thresholds {
    /// Error rate above which the service is unhealthy (fraction).
    pub error_rate: f64,
    /// p95 response time above which it is degraded.
    pub response_time: Duration,
    /// Requests needed in the window before a rate or a percentile is judged.
    pub min_sample: i64,
    /// The window rates and percentiles are judged over.
    pub window: Duration,
    /// Security refusals per minute that make a spike.
    pub security_spike_per_minute: i64,
    /// A snapshot notified `running` with no delivery for this long is stalled.
    pub snapshot_stall_after: Duration,
    /// No accepted delivery for this long makes the service degraded.
    pub delivery_stale_after: Duration,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
