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
    let files = each_file_once(rows.into_iter().map(
        |(filename, state, posts, input_errors, malformed)| {
            let records = posts + input_errors;
            (filename, state, records, (records, malformed))
        },
    ));
    Ok(Received {
        records: files.files.iter().map(|(records, _)| records).sum(),
        malformed: files.files.iter().map(|(_, malformed)| malformed).sum(),
        pending: files.pending,
    })
}

/// A snapshot's delivery files, each once.
pub struct Files<T> {
    /// What each stored file carries.
    pub files: Vec<T>,
    /// Deliveries not yet extracted (what they carry is not known yet).
    pub pending: i64,
}

/// Sorts a snapshot's deliveries, given as (file name, state, records, what it carries), into its
/// files: a file delivered twice under one name counts once, as its larger delivery; a failed
/// delivery counts not at all; one still arriving or being extracted is pending.
pub fn each_file_once<T>(
    deliveries: impl IntoIterator<Item = (Option<String>, String, i64, T)>,
) -> Files<T> {
    let mut pending = 0;
    let mut unnamed = Vec::new();
    let mut named: HashMap<String, (i64, T)> = HashMap::new();
    for (filename, state, records, carries) in deliveries {
        match DeliveryState::parse(&state) {
            Some(DeliveryState::Stored) => {}
            Some(DeliveryState::Failed) => continue,
            _ => {
                pending += 1;
                continue;
            }
        }
        match filename {
            None => unnamed.push(carries),
            Some(name) => match named.get(&name) {
                Some((best, _)) if *best >= records => {}
                _ => {
                    named.insert(name, (records, carries));
                }
            },
        }
    }
    unnamed.extend(named.into_values().map(|(_, carries)| carries));
    Files {
        files: unnamed,
        pending,
    }
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
