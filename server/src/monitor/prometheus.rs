//! `GET /metrics` in the Prometheus text exposition format: this process's request counters and
//! latency histogram since start, plus gauges read from the database (health, open alerts).

use std::fmt::Write;

use crate::events::EventRecorder;
use crate::store::outcome::Outcome;

pub struct Gauges {
    pub health: u8,
    pub alerts_warning: i64,
    pub alerts_critical: i64,
    pub uptime_s: u64,
    pub connections_open: u64,
    pub connections_refused: u64,
}

pub fn render(events: &EventRecorder, gauges: &Gauges) -> String {
    let mut out = String::with_capacity(4096);
    let _ = writeln!(
        out,
        "# HELP trackfutura_requests_total Requests to the ingestion endpoints since start, by outcome."
    );
    let _ = writeln!(out, "# TYPE trackfutura_requests_total counter");
    for outcome in Outcome::ALL {
        let _ = writeln!(
            out,
            "trackfutura_requests_total{{outcome=\"{}\"}} {}",
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
            "trackfutura_request_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "trackfutura_request_duration_seconds_bucket{{le=\"+Inf\"}} {}",
        latency.count()
    );
    let _ = writeln!(
        out,
        "trackfutura_request_duration_seconds_sum {:.6}",
        latency.sum_seconds()
    );
    let _ = writeln!(
        out,
        "trackfutura_request_duration_seconds_count {}",
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
    let _ = writeln!(out, "trackfutura_events_dropped_total {}", events.dropped());
    let _ = writeln!(
        out,
        "# HELP trackfutura_http_connections_open HTTP connections being served."
    );
    let _ = writeln!(out, "# TYPE trackfutura_http_connections_open gauge");
    let _ = writeln!(
        out,
        "trackfutura_http_connections_open {}",
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
        "trackfutura_http_connections_refused_total {}",
        gauges.connections_refused
    );
    let _ = writeln!(
        out,
        "# HELP trackfutura_uptime_seconds Seconds since this process started."
    );
    let _ = writeln!(out, "# TYPE trackfutura_uptime_seconds gauge");
    let _ = writeln!(out, "trackfutura_uptime_seconds {}", gauges.uptime_s);
    out
}
