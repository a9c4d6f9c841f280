//! Data shared by the server and the browser: what the live stream and the API carry.

use serde::{Deserialize, Serialize};

/// One request to an ingestion endpoint, as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// `webhook` or `notify`.
    pub endpoint: String,
    /// `accepted`, `duplicate`, `rejected_auth`, `rejected_signature`, `rejected_timestamp`,
    /// `rejected_ip`, `rate_limited`, `too_large`, `bad_payload` or `error`.
    pub outcome: String,
    pub status: u16,
    pub latency_us: i64,
    pub bytes: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub snapshot_id: Option<String>,
    pub platform: Option<String>,
    pub records: Option<i64>,
    pub delivery_id: Option<i64>,
    pub error: Option<String>,
}

/// What the live hub publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    Event(EventView),
    /// An alert opened, repeated, was acknowledged or resolved.
    Alert(AlertView),
}

/// Percentiles of response time, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyView {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Requests in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketCount {
    /// Bucket start, Unix milliseconds.
    pub at_ms: i64,
    /// Bucket length in milliseconds (60000 or 3600000).
    pub span_ms: i64,
    pub requests: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThroughputView {
    /// Mean requests per minute over the window.
    pub per_minute_mean: f64,
    /// Busiest minute (or busiest hour / 60 where only hourly rollups cover the window).
    pub per_minute_peak: f64,
    pub series: Vec<BucketCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformView {
    pub platform: String,
    pub requests: i64,
    pub accepted: i64,
    pub records: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotCountView {
    pub snapshot_id: String,
    pub requests: i64,
    pub records: i64,
}

/// Metrics over a window. Rates are fractions from 0 to 1; times are milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsView {
    /// `5m`, `1h`, `24h`, `7d`, ...
    pub window: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub requests: i64,
    /// Accepted deliveries and notifications (duplicates not included).
    pub accepted: i64,
    /// Replays answered `duplicate: true`: successful, nothing stored.
    pub duplicates: i64,
    /// Everything refused or failed.
    pub rejected: i64,
    pub by_outcome: std::collections::BTreeMap<String, i64>,
    /// (accepted + duplicates) / requests; 1 when there were no requests.
    pub success_rate: f64,
    /// rejected / requests; 0 when there were no requests.
    pub error_rate: f64,
    pub latency: LatencyView,
    pub throughput: ThroughputView,
    pub bytes: i64,
    pub records: i64,
    pub by_platform: Vec<PlatformView>,
    /// The busiest snapshots (at most 50).
    pub by_snapshot: Vec<SnapshotCountView>,
}

/// One health check's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReason {
    /// `database`, `error_rate`, `latency`, `disk`, `last_delivery`, `alerts`.
    pub check: String,
    /// `healthy`, `degraded`, `unhealthy` or `critical`.
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthView {
    /// The worst of the checks: `healthy`, `degraded`, `unhealthy` or `critical`.
    pub status: String,
    /// Every check, worst first.
    pub reasons: Vec<HealthReason>,
    pub error_rate: f64,
    pub p95_ms: f64,
    pub requests_5m: i64,
    pub last_accepted_ms: Option<i64>,
    pub disk_free_bytes: Option<u64>,
    pub open_critical_alerts: i64,
    pub version: String,
    pub uptime_s: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    /// `error_rate`, `latency_p95`, `security_spike`, `snapshot_stalled`, `snapshot_failed`,
    /// `database_unreachable`.
    pub rule: String,
    /// What the alert is about (a snapshot id), or empty.
    pub subject: String,
    /// `warning` or `critical`.
    pub severity: String,
    pub message: String,
    /// `active` or `resolved`.
    pub status: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// How many evaluations found the condition holding.
    pub count: i64,
    pub resolved_ms: Option<i64>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_ms: Option<i64>,
}

/// One bucket of the analytics time series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsBucket {
    pub at_ms: i64,
    pub span_ms: i64,
    pub requests: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub records: i64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranked {
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientIpView {
    pub ip: String,
    pub requests: i64,
    pub rejected: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRecordsView {
    pub snapshot_id: String,
    pub status: String,
    pub platform: Option<String>,
    pub records: i64,
    pub input_errors: i64,
    pub deliveries: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsView {
    pub range: String,
    pub from_ms: i64,
    pub to_ms: i64,
    /// `minute`, `hour` or `day`.
    pub bucket: String,
    pub buckets: Vec<AnalyticsBucket>,
    /// Refusal outcomes, most frequent first.
    pub top_error_types: Vec<Ranked>,
    /// Error messages of refused requests still in the event log, most frequent first.
    pub top_errors: Vec<Ranked>,
    /// Client addresses still in the event log, busiest first.
    pub top_client_ips: Vec<ClientIpView>,
    pub per_platform: Vec<PlatformView>,
    /// Most recently active snapshots and their record counts.
    pub records_per_snapshot: Vec<SnapshotRecordsView>,
}

/// What the dashboard's overview shows for one time range: the cards (this window against the
/// one before it), health, and the series behind the charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewView {
    /// `5m`, `1h`, `24h` or `7d`.
    pub window: String,
    pub metrics: MetricsView,
    /// The same figures over the window just before this one: the cards' changes.
    pub previous: MetricsView,
    pub health: HealthView,
    pub open_alerts: i64,
    /// The error rate above which health turns unhealthy and alerts open (fraction).
    pub error_threshold: f64,
    /// `minute`, `hour` or `day`: the width of each bucket below.
    pub bucket: String,
    /// Buckets with traffic, oldest first (empty buckets are absent).
    pub buckets: Vec<AnalyticsBucket>,
    /// The newest events, newest first (at most 10).
    pub latest_events: Vec<EventView>,
    /// Open alerts, most recently seen first (at most 10).
    pub alerts: Vec<AlertView>,
}
