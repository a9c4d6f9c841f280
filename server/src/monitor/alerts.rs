//! Alerts: rules evaluated every `WEBHOOK_ALERT_INTERVAL`. An alert is ONE row per rule and subject
//! while its condition holds: a repeat bumps its count and last-seen time, it resolves by itself when
//! the condition clears, and a new occurrence after that is a new alert. Opening and resolving go to
//! `webhook_monitor.log` and the live hub.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use app::types::{AlertView, LiveMessage};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    DbErr, EntityTrait, QueryFilter,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Thresholds, metrics, now_ms};
use crate::live::LiveHub;
use crate::log_file::LogFile;
use crate::store::Writer;
use crate::store::entities::{alerts, snapshots};
use crate::store::rollups::{self, Granularity};

/// A condition that holds now.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    pub rule: &'static str,
    pub subject: String,
    pub severity: &'static str,
    pub message: String,
}

const SECURITY_OUTCOMES: [&str; 6] = [
    "rejected_auth",
    "rejected_signature",
    "rejected_timestamp",
    "rejected_ip",
    "rate_limited",
    "too_large",
];

/// Failed snapshots are alerted on for a day after they failed.
const FAILED_FOR_MS: i64 = 24 * 3600 * 1000;

/// Every rule's verdict now.
pub async fn conditions(
    db: &DatabaseConnection,
    t: &Thresholds,
    now: i64,
) -> Result<Vec<Firing>, DbErr> {
    let mut firing = Vec::new();
    let window_ms = t.window.as_millis() as i64;
    let minutes = (t.window.as_secs() / 60).max(1);
    let m = metrics::compute(db, "", window_ms, now).await?;
    if m.requests >= t.min_sample && m.error_rate > t.error_rate {
        firing.push(Firing {
            rule: "error_rate",
            subject: String::new(),
            severity: if m.error_rate >= 0.5 { "critical" } else { "warning" },
            message: format!(
                "error rate {:.1}% over {minutes} min ({} of {} requests refused or failed) is above {:.1}%",
                m.error_rate * 100.0,
                m.rejected,
                m.requests,
                t.error_rate * 100.0
            ),
        });
    }
    let limit_ms = t.response_time.as_secs_f64() * 1000.0;
    if m.requests >= t.min_sample && m.latency.p95_ms > limit_ms {
        firing.push(Firing {
            rule: "latency_p95",
            subject: String::new(),
            severity: "warning",
            message: format!(
                "p95 response time {:.0} ms over {minutes} min is above {limit_ms:.0} ms",
                m.latency.p95_ms
            ),
        });
    }

    // Security refusals in the current and the previous minute.
    let minute = Granularity::Minute;
    let recent =
        rollups::read_range(db, minute, minute.floor(now) - minute.span_ms(), now + 1).await?;
    let mut per_minute: HashMap<i64, i64> = HashMap::new();
    for row in recent
        .iter()
        .filter(|r| SECURITY_OUTCOMES.contains(&r.key.outcome.as_str()))
    {
        *per_minute.entry(row.key.bucket_ms).or_default() += row.requests;
    }
    if let Some(worst) = per_minute.values().copied().max()
        && worst > t.security_spike_per_minute
    {
        firing.push(Firing {
            rule: "security_spike",
            subject: String::new(),
            severity: "warning",
            message: format!(
                "{worst} refused requests (auth, signature, timestamp, IP, rate, size) in one minute; limit {}",
                t.security_spike_per_minute
            ),
        });
    }

    let stall_ms = t.snapshot_stall_after.as_millis() as i64;
    for snapshot in snapshots::Entity::find()
        .filter(snapshots::Column::Status.eq("running"))
        .filter(snapshots::Column::Deliveries.eq(0))
        .filter(snapshots::Column::NotifiedMs.lt(now - stall_ms))
        .all(db)
        .await?
    {
        firing.push(Firing {
            rule: "snapshot_stalled",
            subject: snapshot.id.clone(),
            severity: "warning",
            message: format!(
                "snapshot {} has been running for {} min with no delivery",
                snapshot.id,
                (now - snapshot.notified_ms.unwrap_or(now)) / 60_000
            ),
        });
    }
    for snapshot in snapshots::Entity::find()
        .filter(snapshots::Column::Status.eq("failed"))
        .filter(snapshots::Column::FinishedMs.gt(now - FAILED_FOR_MS))
        .all(db)
        .await?
    {
        firing.push(Firing {
            rule: "snapshot_failed",
            subject: snapshot.id.clone(),
            severity: "warning",
            message: format!(
                "snapshot {} failed: {}",
                snapshot.id,
                snapshot.error.as_deref().unwrap_or("no error text")
            ),
        });
    }
    Ok(firing)
}

/// What one evaluation changed.
#[derive(Debug, Default)]
pub struct Changes {
    pub opened: Vec<alerts::Model>,
    pub repeated: Vec<alerts::Model>,
    pub resolved: Vec<alerts::Model>,
}

/// Folds the conditions into the alert rows (in the writer's transaction).
pub async fn apply(
    txn: &DatabaseTransaction,
    firing: Vec<Firing>,
    now: i64,
) -> Result<Changes, DbErr> {
    let active = alerts::Entity::find()
        .filter(alerts::Column::Status.eq("active"))
        .all(txn)
        .await?;
    let mut changes = Changes::default();
    let mut still: HashSet<(String, String)> = HashSet::new();
    for fire in firing {
        let key = (fire.rule.to_owned(), fire.subject.clone());
        if !still.insert(key.clone()) {
            continue;
        }
        match active
            .iter()
            .find(|a| a.rule == key.0 && a.subject == key.1)
        {
            Some(existing) => {
                let mut update: alerts::ActiveModel = existing.clone().into();
                update.last_seen_ms = Set(now);
                update.count = Set(existing.count + 1);
                update.message = Set(fire.message);
                update.severity = Set(fire.severity.to_owned());
                changes.repeated.push(update.update(txn).await?);
            }
            None => {
                let row = alerts::ActiveModel {
                    rule: Set(fire.rule.to_owned()),
                    subject: Set(fire.subject),
                    severity: Set(fire.severity.to_owned()),
                    message: Set(fire.message),
                    status: Set("active".to_owned()),
                    first_seen_ms: Set(now),
                    last_seen_ms: Set(now),
                    count: Set(1),
                    resolved_ms: Set(None),
                    acknowledged_by: Set(None),
                    acknowledged_ms: Set(None),
                    ..Default::default()
                };
                changes.opened.push(row.insert(txn).await?);
            }
        }
    }
    for alert in active {
        if still.contains(&(alert.rule.clone(), alert.subject.clone())) {
            continue;
        }
        let mut update: alerts::ActiveModel = alert.into();
        update.status = Set("resolved".to_owned());
        update.resolved_ms = Set(Some(now));
        changes.resolved.push(update.update(txn).await?);
    }
    Ok(changes)
}

pub fn view(alert: alerts::Model) -> AlertView {
    AlertView {
        id: alert.id,
        rule: alert.rule,
        subject: alert.subject,
        severity: alert.severity,
        message: alert.message,
        status: alert.status,
        first_seen_ms: alert.first_seen_ms,
        last_seen_ms: alert.last_seen_ms,
        count: alert.count,
        resolved_ms: alert.resolved_ms,
        acknowledged_by: alert.acknowledged_by,
        acknowledged_ms: alert.acknowledged_ms,
    }
}

pub struct Evaluator {
    pub db: DatabaseConnection,
    pub writer: Writer,
    pub thresholds: Thresholds,
    pub hub: LiveHub,
    pub log: LogFile,
}

impl Evaluator {
    /// One evaluation: conditions, then the alert rows, then the log and the hub.
    pub async fn run_once(&self) {
        let now = now_ms();
        let reachable = tokio::time::timeout(Duration::from_secs(2), self.db.ping()).await;
        let firing = match reachable {
            Ok(Ok(())) => conditions(&self.db, &self.thresholds, now).await,
            _ => Err(DbErr::Custom("the database does not answer".into())),
        };
        let firing = match firing {
            Ok(firing) => firing,
            Err(error) => {
                // Nothing can be stored: say it where it can be seen, and try again next time.
                tracing::error!(%error, "alert rules could not be evaluated");
                self.log.write(
                    "alert_database_unreachable",
                    serde_json::json!({"rule": "database_unreachable", "severity": "critical", "message": error.to_string()}),
                );
                self.hub.publish(LiveMessage::Alert(AlertView {
                    id: 0,
                    rule: "database_unreachable".into(),
                    subject: String::new(),
                    severity: "critical".into(),
                    message: error.to_string(),
                    status: "active".into(),
                    first_seen_ms: now,
                    last_seen_ms: now,
                    count: 1,
                    resolved_ms: None,
                    acknowledged_by: None,
                    acknowledged_ms: None,
                }));
                return;
            }
        };
        let changes = match self
            .writer
            .run(move |txn| Box::pin(apply(txn, firing, now)))
            .await
        {
            Ok(changes) => changes,
            Err(error) => {
                tracing::error!(%error, "alerts could not be stored");
                return;
            }
        };
        for (event, rows) in [
            ("alert_opened", changes.opened),
            ("alert_resolved", changes.resolved),
        ] {
            for alert in rows {
                self.log.write(
                    event,
                    serde_json::json!({
                        "id": alert.id,
                        "rule": alert.rule,
                        "subject": alert.subject,
                        "severity": alert.severity,
                        "message": alert.message,
                    }),
                );
                tracing::warn!(rule = %alert.rule, subject = %alert.subject, "{event}: {}", alert.message);
                self.hub.publish(LiveMessage::Alert(view(alert)));
            }
        }
        for alert in changes.repeated {
            self.hub.publish(LiveMessage::Alert(view(alert)));
        }
    }

    pub fn spawn(self, every: Duration, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => self.run_once().await,
                    _ = stop.cancelled() => break,
                }
            }
        })
    }
}
