//! Alerts: rules evaluated every `WEBHOOK_ALERT_INTERVAL`. An alert is ONE row per rule and subject
//! while its condition holds: a repeat bumps its count and last-seen time, it resolves by itself when
//! the condition clears, and a new occurrence after that is a new alert. Opening and resolving go to
//! `webhook_monitor.log` and the live hub.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use app::types::{AlertView, LiveMessage};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use tokio::task::JoinHandle;

use super::{Thresholds, metrics, now_ms};
use crate::live::LiveHub;
use crate::log_file::LogFile;
use crate::schedule::Rounds;
use crate::store::Writer;
use crate::store::completeness;
use crate::store::drift;
use crate::store::entities::{alerts, snapshots};
use crate::store::rollups::{self, Granularity};
use delivery::drift::{DRIFT, NORMAL};

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
    // The service's own error rate: requests that passed the token check. Refusals of callers
    // without it are judged by the security-spike rule below, so an outsider cannot raise this.
    let rate = m.authenticated_error_rate;
    if m.authenticated >= t.min_sample && rate > t.error_rate {
        let failed = m.authenticated - m.accepted - m.duplicates;
        firing.push(Firing {
            rule: "error_rate",
            subject: String::new(),
            severity: if rate >= 0.5 { "critical" } else { "warning" },
            message: format!(
                "error rate {:.1}% over {minutes} min ({failed} of {} authenticated requests refused or failed) is above {:.1}%",
                rate * 100.0,
                m.authenticated,
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
    let stalled = snapshots::Entity::find()
        .filter(snapshots::Column::Status.eq("running"))
        .filter(snapshots::Column::Deliveries.eq(0))
        .filter(snapshots::Column::NotifiedMs.lt(now - stall_ms));
    let (stalled_shown, stalled_more) = capped(
        db,
        stalled
            .order_by_desc(snapshots::Column::NotifiedMs)
            .order_by_desc(snapshots::Column::Id),
    )
    .await?;
    for snapshot in stalled_shown {
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
    overflow(
        &mut firing,
        "snapshot_stalled",
        stalled_more,
        "are running with no delivery",
    );
    let failed = snapshots::Entity::find()
        .filter(snapshots::Column::Status.eq("failed"))
        .filter(snapshots::Column::FinishedMs.gt(now - FAILED_FOR_MS));
    let (failed_shown, failed_more) = capped(
        db,
        failed
            .order_by_desc(snapshots::Column::FinishedMs)
            .order_by_desc(snapshots::Column::Id),
    )
    .await?;
    for snapshot in failed_shown {
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
    overflow(
        &mut firing,
        "snapshot_failed",
        failed_more,
        "failed in the last day",
    );
    let incomplete = snapshots::Entity::find()
        .filter(snapshots::Column::Completeness.eq(completeness::INCOMPLETE))
        .filter(snapshots::Column::ReadyMs.gt(now - completeness::CHECKED_FOR_MS));
    let (incomplete_shown, incomplete_more) = capped(
        db,
        incomplete
            .order_by_desc(snapshots::Column::ReadyMs)
            .order_by_desc(snapshots::Column::Id),
    )
    .await?;
    for snapshot in incomplete_shown {
        firing.push(Firing {
            rule: "snapshot_incomplete",
            subject: snapshot.id.clone(),
            severity: "warning",
            message: format!(
                "snapshot {} arrived incomplete: {} (ask BrightData to deliver it again from its page)",
                snapshot.id,
                snapshot.completeness_note.as_deref().unwrap_or("records missing")
            ),
        });
    }
    overflow(
        &mut firing,
        "snapshot_incomplete",
        incomplete_more,
        "arrived incomplete",
    );
    firing.extend(scraper_drift(db).await?);
    Ok(firing)
}

/// Snapshots looked at for the drift rule: the newest judged ones hold the latest judgement of
/// every platform that is scraped at all often.
const DRIFT_LOOKBACK: u64 = 200;

/// `scraper_drift`, one per platform and field (subject `instagram:likes`): the field drifted in
/// the latest judged snapshot of its platform and dataset. A later snapshot judged normal (or a
/// drifted one an operator accepted) resolves it; one too small to judge or still learning changes
/// nothing.
async fn scraper_drift(db: &DatabaseConnection) -> Result<Vec<Firing>, DbErr> {
    let mut decided: HashSet<(String, Option<String>)> = HashSet::new();
    let mut firing = Vec::new();
    for snapshot in drift::latest_judged(db, DRIFT_LOOKBACK).await? {
        let Some(fields) = drift::SnapshotFields::read(&snapshot) else {
            continue;
        };
        let accepted = snapshot.drift.as_deref() == Some(drift::ACCEPTED);
        for platform in &fields.platforms {
            let decides = accepted || [NORMAL, DRIFT].contains(&platform.verdict.as_str());
            let group = (platform.platform.clone(), snapshot.dataset_id.clone());
            if !decides || !decided.insert(group) || accepted {
                continue;
            }
            for field in &platform.fields {
                let Some(note) = &field.note else { continue };
                if firing.len() as u64 >= SNAPSHOT_ALERTS {
                    break;
                }
                firing.push(Firing {
                    rule: "scraper_drift",
                    subject: format!("{}:{}", platform.platform, field.name),
                    severity: "warning",
                    message: format!(
                        "{} records changed shape in snapshot {}: {note}",
                        platform.platform, snapshot.id
                    ),
                });
            }
        }
    }
    Ok(firing)
}

/// Snapshots one per-snapshot rule opens alerts for at most: anyone with the webhook token can
/// invent snapshot ids, and thousands of alerts would bury the real ones. The rest are one alert
/// with their count.
const SNAPSHOT_ALERTS: u64 = 50;

/// The first [`SNAPSHOT_ALERTS`] snapshots of `select`, and how many more there are.
async fn capped(
    db: &DatabaseConnection,
    select: sea_orm::Select<snapshots::Entity>,
) -> Result<(Vec<snapshots::Model>, u64), DbErr> {
    let total = select.clone().count(db).await?;
    let shown = select.limit(SNAPSHOT_ALERTS).all(db).await?;
    Ok((shown, total.saturating_sub(SNAPSHOT_ALERTS)))
}

/// The one alert that stands for the snapshots past the cap (subject `*`).
fn overflow(firing: &mut Vec<Firing>, rule: &'static str, more: u64, what: &str) {
    if more > 0 {
        firing.push(Firing {
            rule,
            subject: "*".to_owned(),
            severity: "warning",
            message: format!(
                "{more} more snapshots {what} (alerts are opened for {SNAPSHOT_ALERTS} at most; the Snapshots section lists them all)"
            ),
        });
    }
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
    db: DatabaseConnection,
    writer: Writer,
    thresholds: Thresholds,
    hub: LiveHub,
    log: LogFile,
    outage: Option<Outage>,
}

/// The `database_unreachable` alert while it holds. No row can be written while the database does
/// not answer, so it lives here — opened and logged once, repeats counted — and is stored, resolved,
/// once the database answers again: one record per outage, like every other alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub count: i64,
    pub message: String,
}

impl Outage {
    pub const RULE: &'static str = "database_unreachable";

    /// The outage after one more failed evaluation; `true` when it opens with this one.
    pub fn observe(current: Option<Outage>, message: String, now: i64) -> (Outage, bool) {
        match current {
            Some(mut outage) => {
                outage.last_seen_ms = now;
                outage.count += 1;
                outage.message = message;
                (outage, false)
            }
            None => (
                Outage {
                    first_seen_ms: now,
                    last_seen_ms: now,
                    count: 1,
                    message,
                },
                true,
            ),
        }
    }

    /// The alert as it is shown while the outage lasts (`id` 0: not stored yet).
    pub fn view(&self) -> AlertView {
        AlertView {
            id: 0,
            rule: Self::RULE.into(),
            subject: String::new(),
            severity: "critical".into(),
            message: self.message.clone(),
            status: "active".into(),
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: self.last_seen_ms,
            count: self.count,
            resolved_ms: None,
            acknowledged_by: None,
            acknowledged_ms: None,
        }
    }

    /// The resolved alert row stored once the database is back.
    pub fn resolved_row(&self, now: i64) -> alerts::ActiveModel {
        alerts::ActiveModel {
            rule: Set(Self::RULE.to_owned()),
            subject: Set(String::new()),
            severity: Set("critical".to_owned()),
            message: Set(self.message.clone()),
            status: Set("resolved".to_owned()),
            first_seen_ms: Set(self.first_seen_ms),
            last_seen_ms: Set(self.last_seen_ms),
            count: Set(self.count),
            resolved_ms: Set(Some(now)),
            acknowledged_by: Set(None),
            acknowledged_ms: Set(None),
            ..Default::default()
        }
    }
}

impl Evaluator {
    pub fn new(
        db: DatabaseConnection,
        writer: Writer,
        thresholds: Thresholds,
        hub: LiveHub,
        log: LogFile,
    ) -> Self {
        Self {
            db,
            writer,
            thresholds,
            hub,
            log,
            outage: None,
        }
    }

    /// One evaluation: conditions, then the alert rows, then the log and the hub.
    pub async fn run_once(&mut self) {
        let now = now_ms();
        let reachable = tokio::time::timeout(Duration::from_secs(2), self.db.ping()).await;
        let firing = match reachable {
            Ok(Ok(())) => conditions(&self.db, &self.thresholds, now).await,
            Ok(Err(error)) => Err(DbErr::Custom(format!(
                "the database does not answer: {error}"
            ))),
            Err(_) => Err(DbErr::Custom(
                "the database does not answer (no reply within 2 s)".into(),
            )),
        };
        let firing = match firing {
            Ok(firing) => firing,
            Err(error) => {
                tracing::error!(%error, "alert rules could not be evaluated");
                let (outage, opened) = Outage::observe(self.outage.take(), error.to_string(), now);
                if opened {
                    self.log.write(
                        "alert_opened",
                        serde_json::json!({"rule": Outage::RULE, "subject": "", "severity": "critical", "message": outage.message}),
                    );
                }
                self.hub.publish(LiveMessage::Alert(outage.view()));
                self.outage = Some(outage);
                return;
            }
        };
        let outage = self.outage.clone();
        let changes = match self
            .writer
            .run(move |txn| {
                Box::pin(async move {
                    let mut changes = apply(txn, firing, now).await?;
                    if let Some(outage) = outage {
                        changes
                            .resolved
                            .push(outage.resolved_row(now).insert(txn).await?);
                    }
                    Ok(changes)
                })
            })
            .await
        {
            Ok(changes) => changes,
            Err(error) => {
                // The outage (if any) stays open and is stored with the next successful run.
                tracing::error!(%error, "alerts could not be stored");
                return;
            }
        };
        self.outage = None;
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

    pub fn spawn(mut self, mut rounds: Rounds) -> JoinHandle<()> {
        tokio::spawn(async move {
            while rounds.next().await {
                self.run_once().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{Database, QueryOrder};
    use tokio_util::sync::CancellationToken;

    use super::*;

    #[test]
    fn an_outage_opens_once_and_counts_repeats() {
        let (first, opened) = Outage::observe(None, "down".into(), 1_000);
        assert!(opened);
        assert_eq!((first.first_seen_ms, first.count), (1_000, 1));
        let (second, opened) = Outage::observe(Some(first), "still down".into(), 2_000);
        assert!(!opened);
        assert_eq!(
            second,
            Outage {
                first_seen_ms: 1_000,
                last_seen_ms: 2_000,
                count: 2,
                message: "still down".into()
            }
        );
        assert_eq!(second.view().status, "active");
    }

    fn thresholds() -> Thresholds {
        Thresholds {
            error_rate: 0.1,
            response_time: Duration::from_secs(5),
            min_sample: 10,
            window: Duration::from_secs(300),
            security_spike_per_minute: 100,
            snapshot_stall_after: Duration::from_secs(3600),
            delivery_stale_after: Duration::from_secs(3600),
        }
    }

    /// A real SQLite database and writer; the evaluator's own connection is closed to make the
    /// database unreachable, then replaced by a working one.
    #[tokio::test]
    async fn database_outage_is_one_alert_stored_resolved_when_the_database_is_back() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/a.db?mode=rwc", dir.path().display());
        let db = Database::connect(&url).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let stop = CancellationToken::new();
        let (writer, _task) = Writer::start(
            db.clone(),
            crate::db::Durability::OnCommit,
            std::sync::Arc::new(|_| {}),
            stop.clone(),
        );
        let hub = LiveHub::default();
        let mut live = hub.subscribe();
        let log_path = dir.path().join("webhook_monitor.log");
        let rotation = crate::log_file::Rotation {
            max_bytes: 1 << 20,
            keep: 1,
        };
        let (log, log_task) = LogFile::open(&log_path, rotation, stop.clone())
            .await
            .unwrap();

        let unreachable = Database::connect(&url).await.unwrap();
        unreachable.clone().close().await.unwrap();
        let mut evaluator = Evaluator::new(unreachable, writer, thresholds(), hub, log);
        for _ in 0..3 {
            evaluator.run_once().await;
        }
        for count in 1..=3 {
            match live.recv().await.unwrap() {
                LiveMessage::Alert(alert) => {
                    assert_eq!((alert.rule.as_str(), alert.count), (Outage::RULE, count));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        let stored = alerts::Entity::find().all(&db).await.unwrap();
        assert!(stored.is_empty(), "nothing can be stored during the outage");

        evaluator.db = db.clone();
        evaluator.run_once().await;
        let stored = alerts::Entity::find()
            .order_by_asc(alerts::Column::Id)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(stored.len(), 1);
        let alert = &stored[0];
        assert_eq!(
            (alert.rule.as_str(), alert.status.as_str(), alert.count),
            (Outage::RULE, "resolved", 3)
        );
        let resolved_ms = alert.resolved_ms.expect("resolved time");
        assert!(alert.first_seen_ms <= alert.last_seen_ms && alert.last_seen_ms <= resolved_ms);
        assert!(evaluator.outage.is_none());
        match live.recv().await.unwrap() {
            LiveMessage::Alert(alert) => assert_eq!(alert.status, "resolved"),
            other => panic!("unexpected {other:?}"),
        }
        evaluator.run_once().await;
        assert_eq!(alerts::Entity::find().all(&db).await.unwrap().len(), 1);

        drop(evaluator);
        stop.cancel();
        log_task.await.unwrap();
        let lines = std::fs::read_to_string(&log_path).unwrap();
        let opened = lines.matches("\"alert_opened\"").count();
        let resolved = lines.matches("\"alert_resolved\"").count();
        assert_eq!((opened, resolved), (1, 1), "{lines}");
    }
}
