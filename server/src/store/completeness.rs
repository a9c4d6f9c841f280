//! What completeness checks read and write: the snapshots due a check, what was received for one,
//! and the verdict.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, Order};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::store::entities::{deliveries, snapshots};
use delivery::lifecycle::DeliveryState;

/// The verdicts, as stored in `snapshots.completeness`.
pub const COMPLETE: &str = "complete";
pub const INCOMPLETE: &str = "incomplete";
pub const UNVERIFIED: &str = "unverified";

/// How long after BrightData said `ready` a snapshot is still checked.
pub const CHECKED_FOR_MS: i64 = 7 * 24 * 3600 * 1000;
/// How often an unverified snapshot asks BrightData again (the API may say more later, or a key
/// may have been set).
pub const UNVERIFIED_RECHECK_MS: i64 = 15 * 60 * 1000;
/// Snapshots checked per round at most.
const PER_ROUND: u64 = 50;

/// The snapshots due a check at `now`: ready for at least `settle_ms` (deliveries can trail the
/// notification) and for less than [`CHECKED_FOR_MS`], not failed, and either never judged or
/// judged `incomplete` (recounted every round: a redelivery can complete it), or `unverified` and
/// last checked [`UNVERIFIED_RECHECK_MS`] ago. Least recently checked first.
pub async fn due(
    db: &impl ConnectionTrait,
    now: i64,
    settle_ms: i64,
) -> Result<Vec<snapshots::Model>, DbErr> {
    snapshots::Entity::find()
        .filter(snapshots::Column::ReadyMs.lte(now - settle_ms))
        .filter(snapshots::Column::ReadyMs.gt(now - CHECKED_FOR_MS))
        .filter(snapshots::Column::Status.is_not_in(["failed", "cancelled"]))
        .filter(
            Condition::any()
                .add(snapshots::Column::Completeness.is_null())
                .add(snapshots::Column::Completeness.eq(INCOMPLETE))
                .add(
                    Condition::all()
                        .add(snapshots::Column::Completeness.eq(UNVERIFIED))
                        .add(snapshots::Column::CheckedMs.lt(now - UNVERIFIED_RECHECK_MS)),
                ),
        )
        .order_by(Expr::cust("COALESCE(checked_ms, 0)"), Order::Asc)
        .order_by_asc(snapshots::Column::Id)
        .limit(PER_ROUND)
        .all(db)
        .await
}

/// What arrived for a snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Received {
    /// Posts and input errors in its delivery files, each file counted once: a file delivered
    /// twice under one name counts as its larger delivery.
    pub records: i64,
    /// Records of those files that could not be read.
    pub malformed: i64,
    /// Deliveries not yet extracted (the count would still grow).
    pub pending: i64,
}

pub async fn received(db: &impl ConnectionTrait, snapshot_id: &str) -> Result<Received, DbErr> {
    let rows: Vec<(Option<String>, String, i64, i64, i64)> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Filename)
        .column(deliveries::Column::State)
        .column(deliveries::Column::Posts)
        .column(deliveries::Column::InputErrors)
        .column(deliveries::Column::Malformed)
        .filter(deliveries::Column::SnapshotId.eq(snapshot_id))
        .into_tuple()
        .all(db)
        .await?;
    let mut received = Received::default();
    // Per file name: (records, malformed) of its largest delivery.
    let mut files: HashMap<String, (i64, i64)> = HashMap::new();
    for (filename, state, posts, input_errors, malformed) in rows {
        match DeliveryState::parse(&state) {
            Some(DeliveryState::Stored) => {}
            Some(DeliveryState::Failed) => continue,
            _ => {
                received.pending += 1;
                continue;
            }
        }
        let counts = (posts + input_errors, malformed);
        match filename {
            Some(name) => {
                let best = files.entry(name).or_default();
                if counts.0 > best.0 {
                    *best = counts;
                }
            }
            None => {
                received.records += counts.0;
                received.malformed += counts.1;
            }
        }
    }
    for (records, malformed) in files.into_values() {
        received.records += records;
        received.malformed += malformed;
    }
    Ok(received)
}

/// A check's result for one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// [`COMPLETE`], [`INCOMPLETE`], [`UNVERIFIED`], or none (not judged yet: BrightData still
    /// collects).
    pub completeness: Option<&'static str>,
    pub expected_records: Option<i64>,
    pub expected_errors: Option<i64>,
    pub received_records: i64,
    pub note: String,
}

/// Stores the verdict (only its columns: a delivery may be updating the counters meanwhile).
pub async fn save(
    db: &impl ConnectionTrait,
    snapshot_id: &str,
    verdict: &Verdict,
    now: i64,
) -> Result<(), DbErr> {
    snapshots::Entity::update_many()
        .col_expr(
            snapshots::Column::Completeness,
            Expr::value(verdict.completeness.map(str::to_owned)),
        )
        .col_expr(
            snapshots::Column::ExpectedRecords,
            Expr::value(verdict.expected_records),
        )
        .col_expr(
            snapshots::Column::ExpectedErrors,
            Expr::value(verdict.expected_errors),
        )
        .col_expr(
            snapshots::Column::ReceivedRecords,
            Expr::value(verdict.received_records),
        )
        .col_expr(
            snapshots::Column::CompletenessNote,
            Expr::value(verdict.note.clone()),
        )
        .col_expr(snapshots::Column::CheckedMs, Expr::value(now))
        .filter(snapshots::Column::Id.eq(snapshot_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records that a redelivery was asked for.
pub async fn redelivery_asked(
    db: &impl ConnectionTrait,
    snapshot_id: &str,
    now: i64,
) -> Result<(), DbErr> {
    snapshots::Entity::update_many()
        .col_expr(snapshots::Column::RedeliveryMs, Expr::value(now))
        .filter(snapshots::Column::Id.eq(snapshot_id))
        .exec(db)
        .await?;
    Ok(())
}
