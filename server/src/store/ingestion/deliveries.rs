//! The `deliveries` table: a delivery's row from its arrival (inline, or receiving chunk by chunk)
//! through its queue for extraction to stored or failed, and its replay.

use sea_orm::sea_query::Expr;
use sea_orm::sea_query::{LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::replay_keys::{claim_replay_key, link_replay_key, replay_key_delivery};
use super::snapshots::{snapshot_add_counts, snapshot_received};
use crate::store::entities::{deliveries, delivery_chunks, input_errors};
use crate::store::ids::IdAllocator;
use crate::store::multirow;
use delivery::coverage::PlatformCoverage;
use delivery::lifecycle::DeliveryState;
use delivery::records::{Format, InputError, Post};

/// What is known about a delivery before its body is parsed.
#[derive(Debug, Clone)]
pub struct DeliveryMeta {
    pub snapshot_id: Option<String>,
    pub filename: Option<String>,
    pub replay_key: Option<String>,
    pub client_ip: String,
    pub received_ms: i64,
}

/// The numbers of a decoded body.
#[derive(Debug, Clone, Default)]
pub struct BodySummary {
    pub format: Option<Format>,
    pub compressed: bool,
    pub wire_bytes: i64,
    pub inflated_bytes: i64,
    pub posts: i64,
    pub input_errors: i64,
    pub malformed: i64,
    /// Its posts' field coverage (tallied for deliveries of a snapshot: drift is judged per
    /// snapshot).
    pub coverage: Option<Vec<PlatformCoverage>>,
}

/// A decoded body with its records, stored in one go.
#[derive(Debug, Clone, Default)]
pub struct ParsedBody {
    pub summary: BodySummary,
    pub posts: Vec<Post>,
    pub input_errors: Vec<InputError>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Stored {
        delivery_id: i64,
        duplicates: i64,
    },
    /// Seen before under the same replay key: nothing new stored.
    Duplicate {
        delivery_id: Option<i64>,
    },
}

/// A delivery row as stored.
pub(super) struct DeliveryRow<'a> {
    pub(super) id: i64,
    pub(super) meta: &'a DeliveryMeta,
    pub(super) body: &'a BodySummary,
    pub(super) state: DeliveryState,
    pub(super) body_kept: bool,
    pub(super) processed_ms: Option<i64>,
    pub(super) duplicates: Option<i64>,
}

pub(super) async fn insert_deliveries(
    txn: &DatabaseTransaction,
    rows: &[DeliveryRow<'_>],
) -> Result<(), DbErr> {
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "deliveries",
        &[
            "id",
            "delivery_key",
            "snapshot_id",
            "filename",
            "state",
            "format",
            "compressed",
            "wire_bytes",
            "inflated_bytes",
            "posts",
            "input_errors",
            "malformed",
            "duplicates",
            "received_ms",
            "processed_ms",
            "client_ip",
            "error",
            "body_kept",
            "field_coverage",
        ],
        "",
        rows,
        |row, values| {
            let (meta, body) = (row.meta, row.body);
            values.extend([
                row.id.into(),
                meta.replay_key.clone().into(),
                meta.snapshot_id.clone().into(),
                meta.filename.clone().into(),
                row.state.as_str().into(),
                body.format.map(Format::as_str).unwrap_or("unknown").into(),
                body.compressed.into(),
                body.wire_bytes.into(),
                body.inflated_bytes.into(),
                body.posts.into(),
                body.input_errors.into(),
                body.malformed.into(),
                row.duplicates.into(),
                meta.received_ms.into(),
                row.processed_ms.into(),
                Some(meta.client_ip.clone()).into(),
                Option::<String>::None.into(),
                row.body_kept.into(),
                coverage_json(meta, body.coverage.as_deref()).into(),
            ]);
        },
    );
    multirow::execute_all(txn, statements).await
}

/// A delivery's field coverage as stored: only for a delivery of a snapshot (drift is judged per
/// snapshot).
fn coverage_json(meta: &DeliveryMeta, coverage: Option<&[PlatformCoverage]>) -> Option<String> {
    meta.snapshot_id.as_ref()?;
    serde_json::to_string(coverage?).ok()
}

/// Opens a delivery whose body is still arriving (stored chunk by chunk before it is answered).
pub async fn begin_receiving(
    txn: &DatabaseTransaction,
    ids: &IdAllocator,
    meta: &DeliveryMeta,
) -> Result<i64, DbErr> {
    let id = ids.take(txn, "deliveries", 1).await?[0];
    let unclaimed = DeliveryMeta {
        replay_key: None,
        ..meta.clone()
    };
    let row = DeliveryRow {
        id,
        meta: &unclaimed,
        body: &BodySummary::default(),
        state: DeliveryState::Receiving,
        body_kept: true,
        processed_ms: None,
        duplicates: None,
    };
    insert_deliveries(txn, &[row]).await?;
    Ok(id)
}

/// Deletes a delivery and its chunks (a body that failed verification, or a replay).
pub async fn discard_delivery(txn: &DatabaseTransaction, delivery_id: i64) -> Result<(), DbErr> {
    delivery_chunks::Entity::delete_many()
        .filter(delivery_chunks::Column::DeliveryId.eq(delivery_id))
        .exec(txn)
        .await?;
    deliveries::Entity::delete_by_id(delivery_id)
        .exec(txn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivedOutcome {
    /// Durable; posts are extracted in the background.
    Queued {
        delivery_id: i64,
    },
    Duplicate {
        delivery_id: Option<i64>,
    },
}

/// Closes a fully received delivery: claims its replay key and queues it for extraction.
pub async fn finish_receiving(
    txn: &DatabaseTransaction,
    delivery_id: i64,
    meta: &DeliveryMeta,
    summary: &BodySummary,
) -> Result<ReceivedOutcome, DbErr> {
    if let Some(key) = &meta.replay_key {
        if !claim_replay_key(txn, key, "webhook", meta.received_ms).await? {
            discard_delivery(txn, delivery_id).await?;
            let existing = replay_key_delivery(txn, key).await?.flatten();
            return Ok(ReceivedOutcome::Duplicate {
                delivery_id: existing,
            });
        }
        link_replay_key(txn, key, delivery_id).await?;
    }
    deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::State,
            Expr::value(DeliveryState::Queued.as_str()),
        )
        .col_expr(
            deliveries::Column::DeliveryKey,
            Expr::value(meta.replay_key.clone()),
        )
        .col_expr(
            deliveries::Column::Format,
            Expr::value(summary.format.map(Format::as_str).unwrap_or("unknown")),
        )
        .col_expr(
            deliveries::Column::Compressed,
            Expr::value(summary.compressed),
        )
        .col_expr(
            deliveries::Column::WireBytes,
            Expr::value(summary.wire_bytes),
        )
        .col_expr(
            deliveries::Column::InflatedBytes,
            Expr::value(summary.inflated_bytes),
        )
        .col_expr(deliveries::Column::Posts, Expr::value(summary.posts))
        .col_expr(
            deliveries::Column::InputErrors,
            Expr::value(summary.input_errors),
        )
        .col_expr(
            deliveries::Column::Malformed,
            Expr::value(summary.malformed),
        )
        .filter(deliveries::Column::Id.eq(delivery_id))
        .exec(txn)
        .await?;
    if let Some(snapshot_id) = &meta.snapshot_id {
        snapshot_received(txn, snapshot_id, None, 0, 0, 1, meta.received_ms).await?;
    }
    Ok(ReceivedOutcome::Queued { delivery_id })
}

/// An instance's hold on the extraction of a delivery: the holder renews it while it works; once
/// it runs out unrenewed (the instance died, or lost the database), another instance may take the
/// delivery over and go on from its committed progress.
#[derive(Debug, Clone)]
pub struct Lease {
    pub holder: String,
    pub until_ms: i64,
}

/// Takes the oldest delivery waiting for extraction, `None` when there is none: one queued, or one
/// whose extraction's lease ran out (also one left `processing` without a lease by a version before
/// leases). On PostgreSQL the row is locked with `SKIP LOCKED` until the claim commits, so two
/// instances claiming at the same moment take different deliveries; SQLite has one writer.
pub async fn claim_queued(
    txn: &DatabaseTransaction,
    lease: &Lease,
    now: i64,
) -> Result<Option<deliveries::Model>, DbErr> {
    let claimable = || {
        Condition::any()
            .add(deliveries::Column::State.eq(DeliveryState::Queued.as_str()))
            .add(
                Condition::all()
                    .add(deliveries::Column::State.eq(DeliveryState::Processing.as_str()))
                    .add(
                        Condition::any()
                            .add(deliveries::Column::LeaseUntilMs.is_null())
                            .add(deliveries::Column::LeaseUntilMs.lt(now)),
                    ),
            )
    };
    let Some(mut next) = deliveries::Entity::find()
        .filter(claimable())
        .order_by_asc(deliveries::Column::Id)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let mut claim = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::State,
            Expr::value(DeliveryState::Processing.as_str()),
        )
        .col_expr(
            deliveries::Column::LeaseHolder,
            Expr::value(lease.holder.clone()),
        )
        .col_expr(
            deliveries::Column::LeaseUntilMs,
            Expr::value(lease.until_ms),
        )
        .filter(deliveries::Column::Id.eq(next.id))
        .filter(claimable());
    // A queued delivery is extracted from its start (a replay too); one taken over goes on from
    // where the last holder's committed progress got.
    if next.state == DeliveryState::Queued.as_str() {
        next.set_progress(&Progress::default());
        for column in Progress::COLUMNS {
            claim = claim.col_expr(column, Expr::value(0));
        }
    }
    if claim.exec(txn).await?.rows_affected != 1 {
        return Ok(None);
    }
    next.state = DeliveryState::Processing.as_str().to_owned();
    next.lease_holder = Some(lease.holder.clone());
    next.lease_until_ms = Some(lease.until_ms);
    Ok(Some(next))
}

/// How far an extraction got: records consumed (of any kind), and the posts, input errors and
/// duplicates among them. Committed with each batch, read back by whoever goes on with it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub records: i64,
    pub posts: i64,
    pub input_errors: i64,
    pub duplicates: i64,
}

impl Progress {
    const COLUMNS: [deliveries::Column; 4] = [
        deliveries::Column::ExtractedRecords,
        deliveries::Column::ExtractedPosts,
        deliveries::Column::ExtractedInputErrors,
        deliveries::Column::ExtractedDuplicates,
    ];

    pub fn of(delivery: &deliveries::Model) -> Self {
        Self {
            records: delivery.extracted_records,
            posts: delivery.extracted_posts,
            input_errors: delivery.extracted_input_errors,
            duplicates: delivery.extracted_duplicates,
        }
    }

    fn values(self) -> [i64; 4] {
        [self.records, self.posts, self.input_errors, self.duplicates]
    }
}

impl deliveries::Model {
    fn set_progress(&mut self, progress: &Progress) {
        self.extracted_records = progress.records;
        self.extracted_posts = progress.posts;
        self.extracted_input_errors = progress.input_errors;
        self.extracted_duplicates = progress.duplicates;
    }
}

/// Records an extraction's progress, in the transaction of the batch that made it.
pub async fn save_progress(
    txn: &DatabaseTransaction,
    delivery_id: i64,
    progress: Progress,
) -> Result<(), DbErr> {
    let mut update =
        deliveries::Entity::update_many().filter(deliveries::Column::Id.eq(delivery_id));
    for (column, value) in Progress::COLUMNS.into_iter().zip(progress.values()) {
        update = update.col_expr(column, Expr::value(value));
    }
    update.exec(txn).await?;
    Ok(())
}

/// Extends this holder's lease on a delivery it extracts; `false` when it no longer holds it (the
/// lease ran out and another instance took the delivery over): it must then write nothing more for
/// it. Called in the transaction of each of its writes, so a holder that lost the lease cannot
/// commit after the new holder began.
pub async fn renew_lease(
    txn: &DatabaseTransaction,
    delivery_id: i64,
    lease: &Lease,
) -> Result<bool, DbErr> {
    let renewed = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::LeaseUntilMs,
            Expr::value(lease.until_ms),
        )
        .filter(deliveries::Column::Id.eq(delivery_id))
        .filter(deliveries::Column::State.eq(DeliveryState::Processing.as_str()))
        .filter(deliveries::Column::LeaseHolder.eq(lease.holder.as_str()))
        .exec(txn)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// Finishes extraction: counts, snapshot totals, and the raw body dropped unless it is small enough
/// to keep for replay. A replay (the delivery was extracted before) changes no count: the snapshot
/// already has them and the posts were already there.
/// What extracting a queued delivery produced.
#[derive(Debug, Clone, Default)]
pub struct Extracted {
    pub posts: i64,
    pub input_errors: i64,
    pub duplicates: i64,
    pub platform: Option<String>,
    /// What the body turned out to be (a signed body is first parsed here, not on arrival).
    pub format: Option<Format>,
    pub compressed: bool,
    pub inflated_bytes: i64,
    pub coverage: Option<Vec<PlatformCoverage>>,
}

pub async fn complete_processing(
    txn: &DatabaseTransaction,
    delivery: &deliveries::Model,
    extracted: Extracted,
    keep_body: bool,
    now: i64,
) -> Result<(), DbErr> {
    let Extracted {
        posts,
        input_errors,
        duplicates,
        platform,
        format,
        compressed,
        inflated_bytes,
        coverage,
    } = extracted;
    if !keep_body {
        delivery_chunks::Entity::delete_many()
            .filter(delivery_chunks::Column::DeliveryId.eq(delivery.id))
            .exec(txn)
            .await?;
    }
    let first_time = delivery.processed_ms.is_none();
    let mut update = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::State,
            Expr::value(DeliveryState::Stored.as_str()),
        )
        .col_expr(deliveries::Column::BodyKept, Expr::value(keep_body))
        .filter(deliveries::Column::Id.eq(delivery.id));
    if delivery.snapshot_id.is_some()
        && let Some(coverage) = coverage.and_then(|c| serde_json::to_string(&c).ok())
    {
        update = update.col_expr(deliveries::Column::FieldCoverage, Expr::value(coverage));
    }
    if first_time {
        update = update
            .col_expr(deliveries::Column::Duplicates, Expr::value(duplicates))
            .col_expr(deliveries::Column::ProcessedMs, Expr::value(now))
            .col_expr(deliveries::Column::Posts, Expr::value(posts))
            .col_expr(deliveries::Column::InputErrors, Expr::value(input_errors));
        if let Some(format) = format {
            update = update
                .col_expr(deliveries::Column::Format, Expr::value(format.as_str()))
                .col_expr(deliveries::Column::Compressed, Expr::value(compressed))
                .col_expr(
                    deliveries::Column::InflatedBytes,
                    Expr::value(inflated_bytes),
                );
        }
    }
    update.exec(txn).await?;
    if first_time && let Some(snapshot_id) = &delivery.snapshot_id {
        snapshot_add_counts(
            txn,
            snapshot_id,
            platform.as_deref(),
            posts,
            input_errors,
            now,
        )
        .await?;
    }
    Ok(())
}

/// Before extracting a delivery from its start (a first run, or a replay): input errors an
/// earlier extraction of it stored go, so this run adds them exactly once (posts are upserts and
/// need no cleanup). A run that goes on from committed progress keeps them.
pub async fn reset_extraction(txn: &DatabaseTransaction, delivery_id: i64) -> Result<(), DbErr> {
    input_errors::Entity::delete_many()
        .filter(input_errors::Column::DeliveryId.eq(delivery_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// After a restart: bodies that never finished arriving (the sender disconnected, or we stopped)
/// are dropped; they were never acknowledged. With `sole` (SQLite: this process is the only one
/// on the file) the leases of extractions that were running are ended, so they go on at once from
/// their committed progress; on PostgreSQL another instance may be extracting them, and an
/// interrupted one is taken over when its lease runs out (`claim_queued`).
pub async fn recover_after_restart(
    txn: &DatabaseTransaction,
    receiving_older_than_ms: i64,
    sole: bool,
) -> Result<(u64, u64), DbErr> {
    let resumed = if sole {
        deliveries::Entity::update_many()
            .col_expr(
                deliveries::Column::LeaseUntilMs,
                Expr::value(Option::<i64>::None),
            )
            .filter(deliveries::Column::State.eq(DeliveryState::Processing.as_str()))
            .exec(txn)
            .await?
            .rows_affected
    } else {
        0
    };
    let abandoned: Vec<i64> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Id)
        .filter(deliveries::Column::State.eq(DeliveryState::Receiving.as_str()))
        .filter(deliveries::Column::ReceivedMs.lt(receiving_older_than_ms))
        .into_tuple::<i64>()
        .all(txn)
        .await?;
    for id in &abandoned {
        discard_delivery(txn, *id).await?;
    }
    Ok((resumed, abandoned.len() as u64))
}

/// Extraction of a queued delivery failed: keep it (its raw body stays) with the reason.
pub async fn mark_failed(
    txn: &DatabaseTransaction,
    delivery_id: i64,
    error: String,
) -> Result<(), DbErr> {
    deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::State,
            Expr::value(DeliveryState::Failed.as_str()),
        )
        .col_expr(deliveries::Column::Error, Expr::value(error))
        .filter(deliveries::Column::Id.eq(delivery_id))
        .exec(txn)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeue {
    Queued,
    Missing,
    BodyNotKept,
    /// Still arriving or being extracted.
    /// Extraction is not over: the state it is in, as stored.
    Busy(String),
}

/// Queues a stored delivery for extraction again (a replay).
pub async fn requeue(txn: &DatabaseTransaction, delivery_id: i64) -> Result<Requeue, DbErr> {
    let Some(delivery) = deliveries::Entity::find_by_id(delivery_id).one(txn).await? else {
        return Ok(Requeue::Missing);
    };
    if !delivery.body_kept {
        return Ok(Requeue::BodyNotKept);
    }
    if !DeliveryState::parse(&delivery.state).is_some_and(DeliveryState::is_finished) {
        return Ok(Requeue::Busy(delivery.state));
    }
    deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::State,
            Expr::value(DeliveryState::Queued.as_str()),
        )
        .col_expr(
            deliveries::Column::Error,
            Expr::value(Option::<String>::None),
        )
        .filter(deliveries::Column::Id.eq(delivery_id))
        .exec(txn)
        .await?;
    Ok(Requeue::Queued)
}

#[cfg(test)]
mod tests {
    use sea_orm::{DatabaseConnection, TransactionTrait};

    use super::*;

    async fn claim(db: &DatabaseConnection, holder: &str, now: i64) -> Option<deliveries::Model> {
        let txn = db.begin().await.unwrap();
        let lease = Lease {
            holder: holder.to_owned(),
            until_ms: now + 1_000,
        };
        let claimed = claim_queued(&txn, &lease, now).await.unwrap();
        txn.commit().await.unwrap();
        claimed
    }

    #[tokio::test]
    async fn a_delivery_is_extracted_under_one_lease_until_it_runs_out() {
        let db =
            crate::store::test_db_with_deliveries(&[(1, "stored"), (2, "queued"), (3, "queued")])
                .await;
        // The oldest queued delivery goes to a; the next to b.
        let first = claim(&db, "a", 0).await.unwrap();
        assert_eq!((first.id, first.state.as_str()), (2, "processing"));
        assert_eq!(first.lease_until_ms, Some(1_000));
        assert_eq!(claim(&db, "b", 10).await.unwrap().id, 3);
        assert!(claim(&db, "c", 20).await.is_none());

        // a's batch commits its progress and renews; c cannot renew what it does not hold.
        let txn = db.begin().await.unwrap();
        let renewal = |holder: &str, until_ms| Lease {
            holder: holder.to_owned(),
            until_ms,
        };
        assert!(renew_lease(&txn, 2, &renewal("a", 1_500)).await.unwrap());
        assert!(!renew_lease(&txn, 2, &renewal("c", 1_500)).await.unwrap());
        let progress = Progress {
            records: 1_000,
            posts: 990,
            input_errors: 4,
            duplicates: 2,
        };
        save_progress(&txn, 2, progress).await.unwrap();
        txn.commit().await.unwrap();

        // At 1,400 b's lease ran out (b died): c takes 3 over, not a's renewed 2.
        assert_eq!(claim(&db, "c", 1_400).await.unwrap().id, 3);
        assert!(claim(&db, "d", 1_450).await.is_none());
        // Once a's ran out too, c takes it with a's progress.
        let taken = claim(&db, "c", 1_600).await.unwrap();
        assert_eq!(taken.id, 2);
        assert_eq!(taken.lease_holder.as_deref(), Some("c"));
        assert_eq!(Progress::of(&taken), progress);
        // a, which lost it, may write nothing more for it.
        let txn = db.begin().await.unwrap();
        assert!(!renew_lease(&txn, 2, &renewal("a", 2_000)).await.unwrap());
        txn.commit().await.unwrap();

        // Queued again (a replay), it starts over from nothing.
        db.execute_unprepared("UPDATE deliveries SET state = 'queued' WHERE id = 2")
            .await
            .unwrap();
        let replayed = claim(&db, "a", 1_700).await.unwrap();
        assert_eq!(replayed.id, 2);
        assert_eq!(Progress::of(&replayed), Progress::default());
        assert_eq!(
            Progress::of(
                &deliveries::Entity::find_by_id(2)
                    .one(&db)
                    .await
                    .unwrap()
                    .unwrap()
            ),
            Progress::default()
        );
    }

    #[tokio::test]
    async fn a_restart_of_the_only_instance_goes_on_at_once() {
        let db = crate::store::test_db_with_deliveries(&[(1, "queued")]).await;
        claim(&db, "before-restart", 0).await.unwrap();
        let txn = db.begin().await.unwrap();
        // On PostgreSQL (not the only instance) it waits for the lease to run out.
        assert_eq!(recover_after_restart(&txn, 0, false).await.unwrap(), (0, 0));
        assert_eq!(recover_after_restart(&txn, 0, true).await.unwrap(), (1, 0));
        txn.commit().await.unwrap();
        assert_eq!(claim(&db, "after-restart", 10).await.unwrap().id, 1);
    }
}
