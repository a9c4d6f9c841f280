//! `GET /metrics` in the Prometheus text exposition format: this process's request counters and
//! latency histogram since start, plus gauges read from the database (health, open alerts).
//!
//! Several instances can serve one database: what a process counts itself carries its
//! `instance` label (its id: host, process id and a random part), so the series of two processes
//! never mix and `sum by (outcome)` over every instance's scrape adds up; what is read from the
//! shared database (health, open alerts, `trackfutura_cluster_requests`) is the whole service's,
//! the same from whichever instance answers.

use std::fmt::Write;

use crate::events::EventRecorder;
use crate::store::outcome::Outcome;

pub struct Gauges {
    /// This process's id (the `instance` label).
    pub instance: String,
    /// Whether this process runs the once-per-service rounds.
    pub leader: bool,
    /// Requests by outcome over the last [`CLUSTER_WINDOW_MIN`] minutes, by every instance.
    pub cluster_requests: Vec<(Outcome, i64)>,
    pub health: u8,
    pub alerts_warning: i64,
    pub alerts_critical: i64,
    pub uptime_s: u64,
    pub connections_open: u64,
    pub connections_refused: u64,
}

/// The window of `trackfutura_cluster_requests`, in minutes.
pub const CLUSTER_WINDOW_MIN: i64 = 5;

pub fn render(events: &EventRecorder, gauges: &Gauges) -> String {
    let mut out = String::with_capacity(4096);
    let instance = escape(&gauges.instance);
    let _ = writeln!(
        out,
        "# HELP trackfutura_requests_total Requests to the ingestion endpoints since start, by outcome."
    );
    let _ = writeln!(out, "# TYPE trackfutura_requests_total counter");
    for outcome in Outcome::ALL {
        let _ = writeln!(
            out,
            "trackfutura_requests_total{{instance=\"{instance}\",outcome=\"{}\"}} {}",
            outcome.as_str(),
            events.counters().get(outcome)
        );
    }
    let latency = events.latency();
    let _ = writeln!(
        out,
        "# HELP trackfutura_request_duration_seconds Time to answer an ingestion request."
    );
    let _ = writeln!(out, "# TYPE trackfutura_request_duration_seconds histogram");
    let mut cumulative = 0;
    for (le, count) in latency.buckets() {
        cumulative += count;
        let _ = writeln!(
            out,
            "trackfutura_request_duration_seconds_bucket{{instance=\"{instance}\",le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "trackfutura_request_duration_seconds_bucket{{instance=\"{instance}\",le=\"+Inf\"}} {}",
        latency.count()
    );
    let _ = writeln!(
        out,
        "trackfutura_request_duration_seconds_sum{{instance=\"{instance}\"}} {:.6}",
        latency.sum_seconds()
    );
    let _ = writeln!(
        out,
        "trackfutura_request_duration_seconds_count{{instance=\"{instance}\"}} {}",
        latency.count()
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_health Health: 0 healthy, 1 degraded, 2 unhealthy, 3 critical."
    );
    let _ = writeln!(out, "# TYPE trackfutura_health gauge");
    let _ = writeln!(out, "trackfutura_health {}", gauges.health);
    let _ = writeln!(
        out,
        "# HELP trackfutura_alerts_open Active alerts, by severity."
    );
    let _ = writeln!(out, "# TYPE trackfutura_alerts_open gauge");
    let _ = writeln!(
        out,
        "trackfutura_alerts_open{{severity=\"warning\"}} {}",
        gauges.alerts_warning
    );
    let _ = writeln!(
        out,
        "trackfutura_alerts_open{{severity=\"critical\"}} {}",
        gauges.alerts_critical
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_events_dropped_total Events not stored because the write queue was full."
    );
    let _ = writeln!(out, "# TYPE trackfutura_events_dropped_total counter");
    let _ = writeln!(
        out,
        "trackfutura_events_dropped_total{{instance=\"{instance}\"}} {}",
        events.dropped()
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_http_connections_open HTTP connections being served."
    );
    let _ = writeln!(out, "# TYPE trackfutura_http_connections_open gauge");
    let _ = writeln!(
        out,
        "trackfutura_http_connections_open{{instance=\"{instance}\"}} {}",
        gauges.connections_open
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_http_connections_refused_total Connections answered 503 at HTTP_MAX_CONNECTIONS."
    );
    let _ = writeln!(
        out,
        "# TYPE trackfutura_http_connections_refused_total counter"
    );
    let _ = writeln!(
        out,
        "trackfutura_http_connections_refused_total{{instance=\"{instance}\"}} {}",
        gauges.connections_refused
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_uptime_seconds Seconds since this process started."
    );
    let _ = writeln!(out, "# TYPE trackfutura_uptime_seconds gauge");
    let _ = writeln!(
        out,
        "trackfutura_uptime_seconds{{instance=\"{instance}\"}} {}",
        gauges.uptime_s
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_leader 1 on the instance running alerts, retention, completeness and drift."
    );
    let _ = writeln!(out, "# TYPE trackfutura_leader gauge");
    let _ = writeln!(
        out,
        "trackfutura_leader{{instance=\"{instance}\"}} {}",
        u8::from(gauges.leader)
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_cluster_requests Requests to the ingestion endpoints in the last {CLUSTER_WINDOW_MIN} minutes, by every instance, by outcome (from the shared database)."
    );
    let _ = writeln!(out, "# TYPE trackfutura_cluster_requests gauge");
    for (outcome, requests) in &gauges.cluster_requests {
        let _ = writeln!(
            out,
            "trackfutura_cluster_requests{{outcome=\"{}\",window=\"{CLUSTER_WINDOW_MIN}m\"}} {requests}",
            outcome.as_str()
        );
    }
    out
}

/// A label value as the exposition format wants it.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
