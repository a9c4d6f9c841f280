//! What drift judging reads and writes: the snapshots due a judgement, a snapshot's field coverage
//! (its delivery files' tallies added up), the earlier snapshots a baseline is made of, and the
//! judgement.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::store::completeness;
use crate::store::entities::{deliveries, snapshots};
use delivery::coverage::{self, PlatformCoverage};
use delivery::drift::{DRIFT, LEARNING, NORMAL, PlatformJudgement};

/// An operator took a drifted snapshot's shape as the new normal: it counts in baselines, and the
/// baseline of later snapshots starts from it.
pub const ACCEPTED: &str = "accepted";

/// A snapshot whose BrightData never said `ready` is judged once no delivery came for this long.
pub const QUIET_MS: i64 = 10 * 60 * 1000;
/// Snapshots judged per round at most.
const PER_ROUND: u64 = 50;
/// Earlier snapshots looked at to find a baseline.
const CANDIDATES: u64 = 200;

/// What is stored in `snapshots.field_coverage`: the coverage added up, and its judgement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SnapshotFields {
    pub coverage: Vec<PlatformCoverage>,
    pub platforms: Vec<PlatformJudgement>,
}

impl SnapshotFields {
    pub fn read(snapshot: &snapshots::Model) -> Option<SnapshotFields> {
        serde_json::from_str(snapshot.field_coverage.as_deref()?).ok()
    }
}

/// The snapshots due a judgement at `now`, oldest first (so each one's baseline was judged before
/// it): settled after BrightData's `ready` (or quiet for [`QUIET_MS`] when BrightData never said
/// it), with posts, not failed, and never judged or changed since (a redelivered file).
pub async fn due(
    db: &impl ConnectionTrait,
    now: i64,
    settle_ms: i64,
) -> Result<Vec<snapshots::Model>, DbErr> {
    snapshots::Entity::find()
        .filter(
            Condition::any()
                .add(snapshots::Column::ReadyMs.lte(now - settle_ms))
                .add(
                    Condition::all()
                        .add(snapshots::Column::ReadyMs.is_null())
                        .add(snapshots::Column::Status.eq("delivered"))
                        .add(snapshots::Column::UpdatedMs.lte(now - QUIET_MS)),
                ),
        )
        .filter(snapshots::Column::Status.is_not_in(["failed", "cancelled"]))
        .filter(snapshots::Column::Posts.gt(0))
        .filter(
            Condition::any()
                .add(snapshots::Column::DriftCheckedMs.is_null())
                .add(
                    Condition::all()
                        .add(snapshots::Column::Drift.ne(ACCEPTED))
                        .add(Expr::cust("updated_ms > drift_checked_ms")),
                ),
        )
        .order_by_asc(snapshots::Column::CreatedMs)
        .order_by_asc(snapshots::Column::Id)
        .limit(PER_ROUND)
        .all(db)
        .await
}

/// A snapshot's field coverage: its stored delivery files' tallies added up, each file once (a file
/// delivered twice under one name counts as its larger delivery). `None` while a file is still
/// being extracted.
pub async fn coverage(
    db: &impl ConnectionTrait,
    snapshot_id: &str,
) -> Result<Option<Vec<PlatformCoverage>>, DbErr> {
    let rows: Vec<(Option<String>, String, i64, Option<String>)> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Filename)
        .column(deliveries::Column::State)
        .column(deliveries::Column::Posts)
        .column(deliveries::Column::FieldCoverage)
        .filter(deliveries::Column::SnapshotId.eq(snapshot_id))
        .into_tuple()
        .all(db)
        .await?;
    let files = completeness::each_file_once(rows);
    if files.pending > 0 {
        return Ok(None);
    }
    let mut sum = Vec::new();
    for tally in files.files.into_iter().flatten() {
        if let Ok(more) = serde_json::from_str::<Vec<PlatformCoverage>>(&tally) {
            coverage::merge(&mut sum, more);
        }
    }
    Ok(Some(sum))
}

/// The baseline of `platform` for `snapshot`: the coverage of the last `n` earlier snapshots of the
/// same platform and dataset whose judgement of that platform was normal (or still learning),
/// newest first; it starts at the last snapshot an operator accepted.
pub async fn baseline(
    db: &impl ConnectionTrait,
    snapshot: &snapshots::Model,
    platform: &str,
    n: usize,
) -> Result<Vec<(String, PlatformCoverage)>, DbErr> {
    let dataset = match &snapshot.dataset_id {
        Some(id) => snapshots::Column::DatasetId.eq(id.clone()),
        None => snapshots::Column::DatasetId.is_null(),
    };
    let earlier = snapshots::Entity::find()
        .filter(dataset)
        .filter(snapshots::Column::Drift.is_in([NORMAL, LEARNING, DRIFT, ACCEPTED]))
        .filter(
            Condition::any()
                .add(snapshots::Column::CreatedMs.lt(snapshot.created_ms))
                .add(
                    Condition::all()
                        .add(snapshots::Column::CreatedMs.eq(snapshot.created_ms))
                        .add(snapshots::Column::Id.lt(snapshot.id.clone())),
                ),
        )
        .order_by_desc(snapshots::Column::CreatedMs)
        .order_by_desc(snapshots::Column::Id)
        .limit(CANDIDATES)
        .all(db)
        .await?;
    let mut out = Vec::new();
    for candidate in earlier {
        let Some(fields) = SnapshotFields::read(&candidate) else {
            continue;
        };
        let accepted = candidate.drift.as_deref() == Some(ACCEPTED);
        let usual = fields
            .platforms
            .iter()
            .any(|p| p.platform == platform && [NORMAL, LEARNING].contains(&p.verdict.as_str()));
        if !(accepted || usual) {
            continue;
        }
        if let Some(coverage) = fields.coverage.into_iter().find(|c| c.platform == platform) {
            out.push((candidate.id, coverage));
        }
        if accepted || out.len() >= n {
            break;
        }
    }
    Ok(out)
}

/// Stores a judgement (only its columns: a delivery may be updating the counters meanwhile).
pub async fn save(
    db: &impl ConnectionTrait,
    snapshot_id: &str,
    verdict: &str,
    fields: &SnapshotFields,
    now: i64,
) -> Result<(), DbErr> {
    let json = serde_json::to_string(fields).map_err(|e| DbErr::Custom(e.to_string()))?;
    snapshots::Entity::update_many()
        .col_expr(snapshots::Column::FieldCoverage, Expr::value(json))
        .col_expr(snapshots::Column::Drift, Expr::value(verdict))
        .col_expr(snapshots::Column::DriftCheckedMs, Expr::value(now))
        .filter(snapshots::Column::Id.eq(snapshot_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Takes a drifted snapshot's shape as the new normal; false when it had not drifted.
pub async fn accept(db: &impl ConnectionTrait, snapshot_id: &str) -> Result<bool, DbErr> {
    let result = snapshots::Entity::update_many()
        .col_expr(snapshots::Column::Drift, Expr::value(ACCEPTED))
        .filter(snapshots::Column::Id.eq(snapshot_id))
        .filter(snapshots::Column::Drift.eq(DRIFT))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// The most recently created judged snapshots (normal, drifted or accepted), newest first: the
/// latest of each platform and dataset says whether its fields are drifted now.
pub async fn latest_judged(
    db: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<snapshots::Model>, DbErr> {
    snapshots::Entity::find()
        .filter(snapshots::Column::Drift.is_in([NORMAL, DRIFT, ACCEPTED, LEARNING]))
        .order_by_desc(snapshots::Column::CreatedMs)
        .order_by_desc(snapshots::Column::Id)
        .limit(limit)
        .all(db)
        .await
}
