//! The monitoring engine: what is kept and for how long, health thresholds, alert rules, sessions.

use std::time::Duration;

use delivery::secret::Secret;

use super::ConfigError;
use super::vars::{SECONDS, Vars, parse_positive_seconds};

#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// `WEBHOOK_MAX_EVENTS`: how many events are kept (default 100000; see the README for why not 1000).
    pub max_events: u64,
    /// `WEBHOOK_METRICS_RETENTION`: how long events are kept (default 3600 s).
    pub metrics_retention: Duration,
    /// `WEBHOOK_ERROR_THRESHOLD`: error rate (fraction 0..1) above which the service is unhealthy (default 0.1).
    pub error_threshold: f64,
    /// `WEBHOOK_RESPONSE_TIME_THRESHOLD`: response time above which the service is degraded (default 5.0 s).
    pub response_time_threshold: Duration,
    /// `METRICS_TOKEN`: a token for `GET /metrics` only (the admin token works too).
    pub metrics_token: Option<Secret>,
    /// `WEBHOOK_SESSION_TTL`: how long a dashboard login lasts (default 12 h).
    pub session_ttl: Duration,
    /// `WEBHOOK_ALERT_INTERVAL`: how often alert rules are evaluated (default 15 s).
    pub alert_interval: Duration,
    /// `WEBHOOK_ALERT_WINDOW`: the window error rate and latency are judged over (default 300 s).
    pub alert_window: Duration,
    /// `WEBHOOK_ALERT_MIN_SAMPLE`: requests needed in the window before judging (default 20).
    pub alert_min_sample: u64,
    /// `WEBHOOK_SECURITY_SPIKE_PER_MINUTE`: refused requests in a minute that raise an alert (default 60).
    pub security_spike_per_minute: u64,
    /// `WEBHOOK_SNAPSHOT_STALL_AFTER`: a snapshot notified running with no data for this long is
    /// stalled (default 3600 s).
    pub snapshot_stall_after: Duration,
    /// `WEBHOOK_DELIVERY_STALE_AFTER`: no accepted delivery for this long degrades health (default 86400 s).
    pub delivery_stale_after: Duration,
    /// `WEBHOOK_RETENTION_INTERVAL`: how often retention runs (default 60 s).
    pub retention_interval: Duration,
    /// `WEBHOOK_BODY_RETENTION`: how long a delivery's raw body is kept for replay, in seconds
    /// (default 30 days; `0` keeps bodies for ever). The posts, input errors and the delivery's
    /// row stay: the raw body is only for replay.
    pub body_retention: Option<Duration>,
}

impl MonitorConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            max_events: vars.parse(
                "WEBHOOK_MAX_EVENTS",
                "a whole number of events, at least 1 (e.g. 100000)",
                100_000,
                |v| v.parse::<u64>().ok().filter(|n| *n > 0),
            )?,
            metrics_retention: vars.parse(
                "WEBHOOK_METRICS_RETENTION",
                "a whole number of seconds, at least 1 (e.g. 3600)",
                Duration::from_secs(3600),
                parse_positive_seconds,
            )?,
            error_threshold: vars.parse(
                "WEBHOOK_ERROR_THRESHOLD",
                "a fraction between 0 and 1 (e.g. 0.1 for 10%)",
                0.1,
                |v| v.parse::<f64>().ok().filter(|x| (0.0..=1.0).contains(x)),
            )?,
            response_time_threshold: vars.parse(
                "WEBHOOK_RESPONSE_TIME_THRESHOLD",
                "a number of seconds above 0 (e.g. 5.0)",
                Duration::from_secs(5),
                |v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x > 0.0 && *x <= 3600.0)
                        .map(Duration::from_secs_f64)
                },
            )?,
            metrics_token: vars
                .secret_list(
                    "METRICS_TOKEN",
                    "one token without spaces or a 'Bearer ' prefix",
                )?
                .into_iter()
                .next(),
            session_ttl: vars.parse(
                "WEBHOOK_SESSION_TTL",
                SECONDS,
                Duration::from_secs(12 * 3600),
                parse_positive_seconds,
            )?,
            alert_interval: vars.parse(
                "WEBHOOK_ALERT_INTERVAL",
                SECONDS,
                Duration::from_secs(15),
                parse_positive_seconds,
            )?,
            alert_window: vars.parse(
                "WEBHOOK_ALERT_WINDOW",
                SECONDS,
                Duration::from_secs(300),
                parse_positive_seconds,
            )?,
            alert_min_sample: vars.parse(
                "WEBHOOK_ALERT_MIN_SAMPLE",
                "a whole number of requests, at least 1",
                20,
                |v| v.parse::<u64>().ok().filter(|n| *n > 0),
            )?,
            security_spike_per_minute: vars.parse(
                "WEBHOOK_SECURITY_SPIKE_PER_MINUTE",
                "a whole number of requests per minute, at least 1",
                60,
                |v| v.parse::<u64>().ok().filter(|n| *n > 0),
            )?,
            snapshot_stall_after: vars.parse(
                "WEBHOOK_SNAPSHOT_STALL_AFTER",
                SECONDS,
                Duration::from_secs(3600),
                parse_positive_seconds,
            )?,
            delivery_stale_after: vars.parse(
                "WEBHOOK_DELIVERY_STALE_AFTER",
                SECONDS,
                Duration::from_secs(86_400),
                parse_positive_seconds,
            )?,
            retention_interval: vars.parse(
                "WEBHOOK_RETENTION_INTERVAL",
                SECONDS,
                Duration::from_secs(60),
                parse_positive_seconds,
            )?,
            body_retention: vars.parse(
                "WEBHOOK_BODY_RETENTION",
                "a whole number of seconds (e.g. 2592000 for 30 days), or 0 to keep bodies for ever",
                Some(Duration::from_secs(30 * 24 * 3600)),
                |v| {
                    v.parse::<u64>()
                        .ok()
                        .map(|s| (s > 0).then(|| Duration::from_secs(s)))
                },
            )?,
        })
    }
}
