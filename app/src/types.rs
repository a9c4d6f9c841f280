//! Data shared by the server and the browser: what the live stream and the API carry.

use serde::{Deserialize, Serialize};

/// One request to an ingestion endpoint, as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct LatencyView {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Requests in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct BucketCount {
    /// Bucket start, Unix milliseconds.
    pub at_ms: i64,
    /// Bucket length in milliseconds (60000 or 3600000).
    pub span_ms: i64,
    pub requests: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct ThroughputView {
    /// Mean requests per minute over the window.
    pub per_minute_mean: f64,
    /// Busiest minute (or busiest hour / 60 where only hourly rollups cover the window).
    pub per_minute_peak: f64,
    pub series: Vec<BucketCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PlatformView {
    pub platform: String,
    pub requests: i64,
    pub accepted: i64,
    pub records: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SnapshotCountView {
    pub snapshot_id: String,
    pub requests: i64,
    pub records: i64,
}

/// Metrics over a window. Rates are fractions from 0 to 1; times are milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
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
    /// Requests that passed the token check (`accepted`, `duplicate`, `bad_payload`, `error`,
    /// `rejected_signature`, `rejected_timestamp`): the traffic the service itself is judged on.
    pub authenticated: i64,
    /// Refused or failed among `authenticated`; 0 when there were none. Health and the
    /// `error_rate` alert judge this: refusals of callers without the token are the
    /// `security_spike` alert's, so an outsider cannot turn the service unhealthy.
    pub authenticated_error_rate: f64,
    pub latency: LatencyView,
    pub throughput: ThroughputView,
    pub bytes: i64,
    pub records: i64,
    pub by_platform: Vec<PlatformView>,
    /// The busiest snapshots (at most 50).
    pub by_snapshot: Vec<SnapshotCountView>,
}

/// One health check's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct HealthReason {
    /// `database`, `error_rate`, `latency`, `disk`, `last_delivery`, `alerts`.
    pub check: String,
    /// `healthy`, `degraded`, `unhealthy` or `critical`.
    pub status: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct AlertView {
    pub id: i64,
    /// `error_rate`, `latency_p95`, `security_spike`, `snapshot_stalled`, `snapshot_failed`,
    /// `snapshot_incomplete`, `scraper_drift`, `database_unreachable`.
    pub rule: String,
    /// What the alert is about (a snapshot id; `platform:field` for `scraper_drift`), or empty.
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct AnalyticsBucket {
    pub at_ms: i64,
    pub span_ms: i64,
    pub requests: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Requests that passed the token check, and those of them refused or failed: the error
    /// rate that health and the `error_rate` alert judge (outsiders' refusals are not in it).
    pub authenticated: i64,
    pub authenticated_failed: i64,
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
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

/// The events list's filters (the monitor API's query parameters, and the dashboard's URL).
/// Absent or empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventFilter {
    /// One outcome, or several separated by commas.
    pub outcome: Option<String>,
    /// `webhook` or `notify`.
    pub endpoint: Option<String>,
    pub platform: Option<String>,
    pub snapshot: Option<String>,
    pub ip: Option<String>,
    /// Unix milliseconds or RFC 3339.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Free text, matched in the error, user agent, snapshot and client IP.
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<u64>,
    /// Export only: `csv` (default) or `json`.
    pub format: Option<String>,
}

impl EventFilter {
    /// The filter's parameters as `name=value` pairs (empty ones left out), in a fixed order:
    /// the dashboard's links and the export's URL are built from them.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        set_fields([
            ("outcome", &self.outcome),
            ("endpoint", &self.endpoint),
            ("platform", &self.platform),
            ("snapshot", &self.snapshot),
            ("ip", &self.ip),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("cursor", &self.cursor),
            ("format", &self.format),
        ])
        .chain(self.limit.map(|l| ("limit", l.to_string())))
        .collect()
    }

    /// The filter as a URL query (`a=1&b=two%20words`), without the `?`.
    pub fn query(&self) -> String {
        url_query(&self.pairs())
    }

    /// Whether the filter selects anything narrower than every event.
    pub fn narrows(&self) -> bool {
        self.pairs()
            .iter()
            .any(|(name, _)| !matches!(*name, "cursor" | "limit" | "format"))
    }
}

/// The fields that are set and not blank, trimmed, in their order.
fn set_fields<const N: usize>(
    fields: [(&'static str, &Option<String>); N],
) -> impl Iterator<Item = (&'static str, String)> {
    fields.into_iter().filter_map(|(name, value)| {
        let value = value.as_deref()?.trim();
        (!value.is_empty()).then(|| (name, value.to_owned()))
    })
}

/// `name=value` pairs as a URL query (`a=1&b=two%20words`), without the `?`.
pub fn url_query(pairs: &[(&'static str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={}", url_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One page of events, newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct EventPage {
    pub events: Vec<EventView>,
    /// Where the next (older) page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// A request header as recorded (redacted where it carries a credential), with each of its values
/// when it was repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct HeaderView {
    pub name: String,
    pub values: Vec<String>,
}

/// A stored delivery (one request's body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct DeliveryView {
    pub id: i64,
    pub snapshot_id: Option<String>,
    pub filename: Option<String>,
    /// `receiving`, `queued`, `stored` or `aborted`.
    pub state: String,
    /// `json`, `ndjson` or `csv`.
    pub format: String,
    pub compressed: bool,
    pub wire_bytes: i64,
    pub inflated_bytes: i64,
    /// Posts stored from it.
    pub records: i64,
    pub input_errors: i64,
    pub malformed: i64,
    pub duplicates: Option<i64>,
    pub received_ms: i64,
    pub processed_ms: Option<i64>,
    pub error: Option<String>,
    /// Whether the raw body is kept (for replay and the detail view).
    pub body_kept: bool,
}

/// The start of a stored body, inflated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct BodyView {
    /// How it was stored: `gzip` or `identity`.
    pub encoding: String,
    pub stored_bytes: u64,
    /// False when the stored gzip could not be inflated.
    pub readable: bool,
    /// True when only the first MiB is shown.
    pub truncated: bool,
    pub text: String,
}

/// One stored post, without its record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PostView {
    pub platform: String,
    pub post_id: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub posted_ms: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub views: Option<i64>,
    pub times_delivered: i32,
}

/// The posts list's filters (`GET posts/`). Absent or empty means "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PostFilter {
    pub snapshot: Option<String>,
    pub platform: Option<String>,
    /// The author, exactly as stored.
    pub author: Option<String>,
    /// Posted at or after / before: Unix milliseconds or RFC 3339.
    pub from: Option<String>,
    pub to: Option<String>,
    /// Text anywhere in the record as BrightData sent it.
    pub q: Option<String>,
    /// The delivery that (last) brought the post.
    pub delivery: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    pub limit: Option<u64>,
    /// Export only: `csv` (default), `ndjson` or `parquet`.
    pub format: Option<String>,
    /// Export only, CSV: `true` starts the file with a UTF-8 byte order mark (for Excel).
    pub bom: Option<String>,
}

impl PostFilter {
    /// The filter as a URL query (`a=1&b=two%20words`, empty ones left out), without the `?`:
    /// the dashboard's links and download URLs are built from it.
    pub fn query(&self) -> String {
        let pairs: Vec<(&'static str, String)> = set_fields([
            ("snapshot", &self.snapshot),
            ("platform", &self.platform),
            ("author", &self.author),
            ("from", &self.from),
            ("to", &self.to),
            ("q", &self.q),
            ("delivery", &self.delivery),
            ("cursor", &self.cursor),
            ("format", &self.format),
            ("bom", &self.bom),
        ])
        .chain(self.limit.map(|l| ("limit", l.to_string())))
        .collect();
        url_query(&pairs)
    }
}

/// One stored post with its record: the columns kept of it, its text, and the record itself as
/// BrightData sent it (its last delivery's version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PostRecordView {
    pub id: i64,
    pub platform: String,
    pub post_id: String,
    pub snapshot_id: Option<String>,
    pub delivery_id: i64,
    /// The request (event) that brought that delivery, while the event is kept.
    pub event_id: Option<i64>,
    pub url: Option<String>,
    pub author: Option<String>,
    pub posted_ms: Option<i64>,
    pub likes: Option<i64>,
    pub comments: Option<i64>,
    pub shares: Option<i64>,
    pub views: Option<i64>,
    /// The post's text (caption, description or content, whichever the platform's record has).
    pub text: Option<String>,
    pub first_seen_ms: i64,
    pub updated_ms: i64,
    pub times_delivered: i32,
    /// The record's JSON text, as stored.
    pub record: String,
}

/// One page of posts, most recently stored first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PostPage {
    pub posts: Vec<PostRecordView>,
    pub next_cursor: Option<String>,
}

/// One event in full: its headers (secrets redacted), the delivery it stored, the body and the
/// posts that delivery produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct EventDetailView {
    pub event: EventView,
    /// In name order; `None` when the event kept none.
    pub headers: Option<Vec<HeaderView>>,
    pub delivery: Option<DeliveryView>,
    pub body: Option<BodyView>,
    /// Posts stored from the delivery, newest first (at most 20).
    pub posts: Vec<PostView>,
}

/// A replay queued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct ReplayView {
    /// `queued`.
    pub status: String,
    pub delivery_id: i64,
}

/// The alerts list's filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertFilter {
    /// `active` (default), `resolved` or `all`.
    pub status: Option<String>,
    /// `warning` or `critical`.
    pub severity: Option<String>,
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct AlertList {
    pub alerts: Vec<AlertView>,
}

/// The snapshots list's filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotFilter {
    pub status: Option<String>,
    pub platform: Option<String>,
    /// `<updated_ms>:<id>` from the previous page.
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

impl SnapshotFilter {
    /// The filter as a URL query, as [`EventFilter::query`].
    pub fn query(&self) -> String {
        let pairs: Vec<_> = set_fields([
            ("status", &self.status),
            ("platform", &self.platform),
            ("cursor", &self.cursor),
        ])
        .chain(self.limit.map(|l| ("limit", l.to_string())))
        .collect();
        url_query(&pairs)
    }
}

/// A BrightData collection (snapshot) and where it is in its lifecycle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SnapshotView {
    pub id: String,
    pub dataset_id: Option<String>,
    pub platform: Option<String>,
    /// `running`, `ready`, `delivered`, `failed` or `cancelled`.
    pub status: String,
    pub error: Option<String>,
    pub records: i64,
    pub input_errors: i64,
    pub deliveries: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub notified_ms: Option<i64>,
    pub ready_ms: Option<i64>,
    pub delivered_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    /// Whether it arrived whole.
    pub completeness: CompletenessView,
    /// Whether its records changed shape.
    pub drift: DriftView,
}

/// Whether a snapshot's records look like the platform's usual (scraper drift).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct DriftView {
    /// `normal`, `drift`, `learning` (too few earlier snapshots for a baseline), `not_judged` (too
    /// few records), `accepted` (a drifted shape an operator took as the new normal), or `pending`.
    pub verdict: String,
    /// The drifted fields, as `platform:field`.
    pub fields: Vec<String>,
    pub checked_ms: Option<i64>,
}

/// One platform's records in a snapshot: each top-level field's coverage against the baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct PlatformCoverageView {
    pub platform: String,
    pub records: i64,
    /// `normal`, `drift`, `learning` or `not_judged`.
    pub verdict: String,
    /// The verdict in words.
    pub note: String,
    /// Earlier snapshots the baseline is the median of.
    pub baseline_snapshots: i64,
    /// Drifted fields first, then the fields the service reads, then the rest, by name.
    pub fields: Vec<FieldCoverageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct FieldCoverageView {
    pub field: String,
    /// Share of the records where it is filled (not null, blank or empty), 0 to 1.
    pub coverage: f64,
    /// The same share in the baseline (median), when there is one.
    pub baseline: Option<f64>,
    /// Its values' JSON type (`string`, `number`, `boolean`, `array`, `object`, `mixed`; empty when
    /// every value was null).
    pub kind: String,
    pub baseline_kind: Option<String>,
    /// One of the fields the service reads (url, id, author, posted at, text, counts).
    pub key: bool,
    /// `emptied`, `vanished`, `type_changed` or `new` when it drifted.
    pub change: Option<String>,
    /// The change in words.
    pub note: Option<String>,
}

/// The key fields' coverage over a platform's recent judged snapshots (oldest first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct CoverageHistoryView {
    pub platform: String,
    /// The key fields its records carry.
    pub fields: Vec<String>,
    pub snapshots: Vec<CoveragePointView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct CoveragePointView {
    pub snapshot_id: String,
    pub created_ms: i64,
    /// The platform's verdict in this snapshot.
    pub verdict: String,
    /// Each of `fields`' coverage (0 to 1), in that order.
    pub coverage: Vec<f64>,
}

/// Whether a snapshot arrived whole: what BrightData counted against what arrived.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct CompletenessView {
    /// `complete`, `incomplete`, `unverified`, or `pending` (not judged yet).
    pub verdict: String,
    /// Records and errors BrightData says the snapshot produced.
    pub expected_records: Option<i64>,
    pub expected_errors: Option<i64>,
    /// Posts and input errors its delivery files held at the last check (each file once).
    pub received_records: Option<i64>,
    /// The records missing, when incomplete.
    pub missing: Option<i64>,
    /// Why, in words: the numbers, or why it cannot be judged (yet).
    pub note: String,
    pub checked_ms: Option<i64>,
    /// When a redelivery was last asked for.
    pub redelivery_ms: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SnapshotPage {
    pub snapshots: Vec<SnapshotView>,
    pub next_cursor: Option<String>,
}

/// A status notification BrightData sent for a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct NotificationView {
    pub id: i64,
    /// The lifecycle status it meant.
    pub status: String,
    /// The status word as BrightData sent it.
    pub notified_status: String,
    pub error: Option<String>,
    pub received_ms: i64,
}

/// An input that produced no post (a `warning` or `error` record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct InputErrorView {
    pub id: i64,
    pub delivery_id: i64,
    /// `warning` or `error`.
    pub kind: String,
    pub code: Option<String>,
    pub message: String,
    pub input_url: Option<String>,
    pub at_ms: i64,
}

/// One snapshot with what arrived for it (each list newest first, at most 100; posts at most 20).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SnapshotDetailView {
    pub snapshot: SnapshotView,
    pub stored_posts: u64,
    pub deliveries: Vec<DeliveryView>,
    pub notifications: Vec<NotificationView>,
    pub input_errors: Vec<InputErrorView>,
    pub posts: Vec<PostView>,
    /// Whether a redelivery can be asked for here (`BRIGHTDATA_API_TOKEN` is set).
    pub can_redeliver: bool,
    /// Its field coverage per platform, judged (empty until judged).
    pub coverage: Vec<PlatformCoverageView>,
}

/// What BrightData answered a redelivery request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct RedeliveryView {
    pub snapshot_id: String,
    /// BrightData's id for the delivery, when it gave one.
    pub delivery_id: Option<String>,
    pub asked_ms: i64,
}

/// One check of the security self-test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SelfTestCheck {
    pub name: String,
    pub description: String,
    pub expected: String,
    pub actual: String,
    pub passed: bool,
}

/// A weak setting the self-test found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SelfTestWarning {
    pub setting: String,
    /// `warning` or `info`.
    pub severity: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SelfTestReport {
    /// Every check passed (warnings do not fail the test).
    pub passed: bool,
    pub checks: Vec<SelfTestCheck>,
    pub warnings: Vec<SelfTestWarning>,
}

/// One setting in effect, as the Setup page shows it (secrets masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SettingView {
    /// The environment variable.
    pub name: String,
    pub value: String,
}

/// What to paste into BrightData, and the configuration in effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct SetupView {
    /// The public base URL in effect.
    pub base_url: String,
    /// How it was found, e.g. `BRIGHTDATA_BASE_URL`, `Railway: RAILWAY_PUBLIC_DOMAIN`.
    pub base_url_source: String,
    /// Problems met while detecting it (e.g. a malformed `PLATFORM_ROUTES`).
    pub base_url_warnings: Vec<String>,
    /// False when BrightData cannot reach it (a local address).
    pub reachable: bool,
    /// BrightData's `endpoint`.
    pub data_url: String,
    /// BrightData's `notify`.
    pub notify_url: String,
    /// BrightData's `auth_header`, with the token left out (`Bearer <webhook token>`).
    pub auth_header: String,
    /// Where the webhook token is (the variable or the generated file), never the token.
    pub token_source: String,
    pub dashboard_url: String,
    pub settings: Vec<SettingView>,
}

/// How much room each kind of data takes, and how fast it grows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct StorageView {
    /// Per table, largest first; empty when the database cannot say (`note` says why).
    pub tables: Vec<TableSizeView>,
    pub total_bytes: i64,
    /// What arrived in the last 24 hours.
    pub events_24h: i64,
    pub deliveries_24h: i64,
    /// Posts those deliveries carried (new or seen before).
    pub posts_24h: i64,
    /// Raw bodies of those deliveries still kept (wire bytes).
    pub body_bytes_24h: i64,
    /// How long raw bodies are kept, in seconds (`None`: for ever).
    pub body_retention_s: Option<u64>,
    pub note: Option<String>,
}

/// One table's size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct TableSizeView {
    pub name: String,
    /// What it holds, in words.
    pub holds: String,
    /// With its indexes.
    pub bytes: i64,
}

/// What the live stream carries to the page: a heartbeat (sent first, and again every few
/// seconds while nothing happens: the stream is up), or what the hub published since the last
/// update, counted. At most one update per `api::COALESCE_MS` whatever the traffic, so a connected
/// page costs the server little (sending every event to every page cut the ingest rate by ~45%
/// with 50 pages connected). Counts cannot fall behind: the page reloads what it shows, so
/// nothing is ever missed. `snapshots`: the snapshots the new events belong to (`None`: not
/// known, e.g. too many), so a snapshot's page reloads only for its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct LiveUpdate {
    pub heartbeat: bool,
    pub events: u64,
    pub alerts: u64,
    pub snapshots: Option<Vec<String>>,
}

impl LiveUpdate {
    pub fn heartbeat() -> Self {
        Self {
            heartbeat: true,
            events: 0,
            alerts: 0,
            snapshots: Some(Vec::new()),
        }
    }

    pub fn changes(events: u64, alerts: u64, snapshots: Option<Vec<String>>) -> Self {
        Self {
            heartbeat: false,
            events,
            alerts,
            snapshots,
        }
    }
}
