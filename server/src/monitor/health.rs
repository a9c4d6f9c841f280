//! Health: `healthy | degraded | unhealthy | critical`, with every check's reason, worst first.

use delivery::lifecycle::DeliveryState;
use std::path::Path;
use std::time::Duration;

use app::types::{HealthReason, HealthView};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use super::{Thresholds, metrics, now_ms};
use crate::store::entities::{alerts, deliveries};
use crate::store::storage;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Healthy,
    Degraded,
    Unhealthy,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Critical => "critical",
        }
    }

    /// The Prometheus gauge value.
    pub fn gauge(self) -> u8 {
        self as u8
    }
}

const DISK_CRITICAL: u64 = 100 << 20;
const DISK_LOW: u64 = 1 << 30;

/// Which table takes the most room, said when the disk runs low (measured only then: on SQLite it
/// reads every page).
async fn largest_table(db: &DatabaseConnection) -> String {
    let sizes = tokio::time::timeout(Duration::from_secs(5), storage::table_bytes(db)).await;
    match sizes {
        Ok(Ok(tables)) => {
            let total: i64 = tables.iter().map(|(_, b)| b).sum();
            match tables.first() {
                Some((name, bytes)) => format!(
                    "; the largest table is {name} ({}) with {} MiB of the database's {} MiB",
                    storage::holds(name),
                    bytes >> 20,
                    total >> 20
                ),
                None => String::new(),
            }
        }
        _ => "; the table sizes could not be read".to_owned(),
    }
}

pub async fn check(
    db: &DatabaseConnection,
    thresholds: &Thresholds,
    data_dir: &Path,
    uptime_s: u64,
) -> HealthView {
    let mut reasons: Vec<(Level, &str, String)> = Vec::new();
    let mut view = HealthView {
        status: String::new(),
        reasons: Vec::new(),
        error_rate: 0.0,
        p95_ms: 0.0,
        requests_5m: 0,
        last_accepted_ms: None,
        disk_free_bytes: disk_free(data_dir),
        open_critical_alerts: 0,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_s,
    };

    match view.disk_free_bytes {
        Some(free) if free < DISK_CRITICAL => reasons.push((
            Level::Critical,
            "disk",
            format!(
                "{} MiB free where the data lives{}",
                free >> 20,
                largest_table(db).await
            ),
        )),
        Some(free) if free < DISK_LOW => reasons.push((
            Level::Degraded,
            "disk",
            format!(
                "{} MiB free where the data lives{}",
                free >> 20,
                largest_table(db).await
            ),
        )),
        Some(free) => reasons.push((Level::Healthy, "disk", format!("{} GiB free", free >> 30))),
        None => reasons.push((Level::Degraded, "disk", "free space unknown".into())),
    }

    let answered = tokio::time::timeout(Duration::from_secs(2), db.ping()).await;
    if !matches!(answered, Ok(Ok(()))) {
        reasons.push((
            Level::Critical,
            "database",
            "the database does not answer".into(),
        ));
        return finish(view, reasons);
    }
    reasons.push((Level::Healthy, "database", "connected".into()));

    let window = thresholds.window;
    let now = now_ms();
    match metrics::compute(db, "", window.as_millis() as i64, now).await {
        Ok(m) => {
            view.error_rate = m.authenticated_error_rate;
            view.p95_ms = m.latency.p95_ms;
            view.requests_5m = m.requests;
            let minutes = window.as_secs() / 60;
            // Judged on the callers holding the token: anyone can send refused requests.
            let anonymous = m.requests - m.authenticated;
            let refused_note = if anonymous > 0 {
                format!("; {anonymous} requests without a valid token refused, not counted")
            } else {
                String::new()
            };
            if m.authenticated < thresholds.min_sample {
                reasons.push((
                    Level::Healthy,
                    "error_rate",
                    format!(
                        "{} authenticated requests in {minutes} min: too few to judge{refused_note}",
                        m.authenticated
                    ),
                ));
            } else {
                let level = if m.authenticated_error_rate > thresholds.error_rate {
                    Level::Unhealthy
                } else {
                    Level::Healthy
                };
                reasons.push((
                    level,
                    "error_rate",
                    format!(
                        "error rate {:.1}% of authenticated requests over {minutes} min (limit {:.1}%){refused_note}",
                        m.authenticated_error_rate * 100.0,
                        thresholds.error_rate * 100.0
                    ),
                ));
                let limit_ms = thresholds.response_time.as_secs_f64() * 1000.0;
                let level = if m.latency.p95_ms > limit_ms {
                    Level::Degraded
                } else {
                    Level::Healthy
                };
                reasons.push((
                    level,
                    "latency",
                    format!("p95 {:.1} ms (limit {limit_ms:.0} ms)", m.latency.p95_ms),
                ));
            }
        }
        Err(error) => reasons.push((
            Level::Unhealthy,
            "error_rate",
            format!("metrics unavailable: {error}"),
        )),
    }

    let last = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::ReceivedMs)
        .filter(deliveries::Column::State.ne(DeliveryState::Receiving.as_str()))
        .order_by_desc(deliveries::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await;
    match last {
        Ok(Some(at)) => {
            view.last_accepted_ms = Some(at);
            let age = Duration::from_millis((now - at).max(0) as u64);
            let level = if age > thresholds.delivery_stale_after {
                Level::Degraded
            } else {
                Level::Healthy
            };
            reasons.push((
                level,
                "last_delivery",
                format!("last delivery {} ago", human(age)),
            ));
        }
        Ok(None) => reasons.push((
            Level::Healthy,
            "last_delivery",
            "no delivery received yet".into(),
        )),
        Err(error) => reasons.push((
            Level::Unhealthy,
            "last_delivery",
            format!("unknown: {error}"),
        )),
    }

    match alerts::Entity::find()
        .filter(alerts::Column::Status.eq("active"))
        .filter(alerts::Column::Severity.eq("critical"))
        .count(db)
        .await
    {
        Ok(0) => reasons.push((Level::Healthy, "alerts", "no critical alert open".into())),
        Ok(n) => {
            view.open_critical_alerts = n as i64;
            reasons.push((
                Level::Critical,
                "alerts",
                format!("{n} critical alert(s) open"),
            ));
        }
        Err(error) => reasons.push((Level::Unhealthy, "alerts", format!("unknown: {error}"))),
    }
    finish(view, reasons)
}

fn finish(mut view: HealthView, mut reasons: Vec<(Level, &str, String)>) -> HealthView {
    reasons.sort_by_key(|reason| std::cmp::Reverse(reason.0));
    let worst = reasons.first().map(|r| r.0).unwrap_or(Level::Healthy);
    view.status = worst.as_str().to_owned();
    view.reasons = reasons
        .into_iter()
        .map(|(level, check, message)| HealthReason {
            check: check.to_owned(),
            status: level.as_str().to_owned(),
            message,
        })
        .collect();
    view
}

pub fn level(status: &str) -> Level {
    match status {
        "degraded" => Level::Degraded,
        "unhealthy" => Level::Unhealthy,
        "critical" => Level::Critical,
        _ => Level::Healthy,
    }
}

/// Free space of the filesystem holding `path` (or its nearest existing parent).
fn disk_free(path: &Path) -> Option<u64> {
    let existing = path
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("."));
    let stat = rustix::fs::statvfs(existing).ok()?;
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

fn human(age: Duration) -> String {
    let s = age.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}
