//! The `snapshots` and `notifications` tables: a snapshot's status and totals, and the
//! notifications that moved it.

use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait,
    QuerySelect,
};

use super::replay_keys::claim_replay_key;
use crate::store::entities::{notifications, snapshots};
use delivery::lifecycle::SnapshotStatus;

/// Creates the snapshot if new; returns the stored row (and whether it was just created) for an
/// update, locked on PostgreSQL so that several instances updating one snapshot take turns.
pub(super) async fn snapshot_for_update(
    txn: &DatabaseTransaction,
    snapshot_id: &str,
    initial: SnapshotStatus,
    now: i64,
) -> Result<(snapshots::Model, bool), DbErr> {
    let created = insert_snapshot_if_new(txn, new_snapshot(snapshot_id, initial, now)).await?;
    let mut select = snapshots::Entity::find_by_id(snapshot_id.to_owned());
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        select = select.lock_exclusive();
    }
    let row = select
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("snapshot {snapshot_id}")))?;
    Ok((row, created))
}

/// A snapshot row as first seen: nothing received or known about it yet.
pub(super) fn new_snapshot(
    snapshot_id: &str,
    status: SnapshotStatus,
    now: i64,
) -> snapshots::ActiveModel {
    snapshots::ActiveModel {
        id: Set(snapshot_id.to_owned()),
        dataset_id: Set(None),
        platform: Set(None),
        status: Set(status.as_str().to_owned()),
        error: Set(None),
        posts: Set(0),
        input_errors: Set(0),
        deliveries: Set(0),
        created_ms: Set(now),
        updated_ms: Set(now),
        notified_ms: Set(None),
        ready_ms: Set(None),
        delivered_ms: Set(None),
        finished_ms: Set(None),
        completeness: Set(None),
        expected_records: Set(None),
        expected_errors: Set(None),
        received_records: Set(None),
        completeness_note: Set(None),
        checked_ms: Set(None),
        redelivery_ms: Set(None),
        field_coverage: Set(None),
        drift: Set(None),
        drift_checked_ms: Set(None),
    }
}

/// Records a snapshot `server trigger` just started, as `triggered` (unless BrightData already
/// told us about it), so the tracker shows it before any notify arrives.
pub async fn snapshot_triggered(
    db: &impl ConnectionTrait,
    snapshot_id: &str,
    dataset_id: &str,
    platform: Option<&str>,
    now: i64,
) -> Result<bool, DbErr> {
    let mut snapshot = new_snapshot(snapshot_id, SnapshotStatus::Triggered, now);
    snapshot.dataset_id = Set(Some(dataset_id.to_owned()));
    snapshot.platform = Set(platform.map(str::to_owned));
    insert_snapshot_if_new(db, snapshot).await
}

/// Inserts the row unless the snapshot exists; whether it was inserted.
pub(super) async fn insert_snapshot_if_new(
    db: &impl ConnectionTrait,
    snapshot: snapshots::ActiveModel,
) -> Result<bool, DbErr> {
    Ok(snapshots::Entity::insert(snapshot)
        .on_conflict(
            OnConflict::column(snapshots::Column::Id)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?
        == 1)
}

/// Records that deliveries of `snapshot_id` arrived: the snapshot becomes `delivered`.
pub async fn snapshot_received(
    txn: &DatabaseTransaction,
    snapshot_id: &str,
    platform: Option<&str>,
    posts: i64,
    input_errors: i64,
    deliveries: i64,
    now: i64,
) -> Result<(), DbErr> {
    let (current, _) =
        snapshot_for_update(txn, snapshot_id, SnapshotStatus::Delivered, now).await?;
    let mut update = snapshots::ActiveModel::from(current.clone());
    update.status = Set(SnapshotStatus::Delivered.as_str().to_owned());
    update.posts = Set(current.posts + posts);
    update.input_errors = Set(current.input_errors + input_errors);
    update.deliveries = Set(current.deliveries + deliveries);
    update.delivered_ms = Set(current.delivered_ms.or(Some(now)));
    update.platform = Set(current.platform.clone().or(platform.map(str::to_owned)));
    update.updated_ms = Set(now);
    snapshots::Entity::update(update).exec(txn).await?;
    Ok(())
}

/// Adds extracted posts to a snapshot's counters (deliveries processed after their answer).
pub async fn snapshot_add_counts(
    txn: &DatabaseTransaction,
    snapshot_id: &str,
    platform: Option<&str>,
    posts: i64,
    input_errors: i64,
    now: i64,
) -> Result<(), DbErr> {
    let (current, _) =
        snapshot_for_update(txn, snapshot_id, SnapshotStatus::Delivered, now).await?;
    let mut update = snapshots::ActiveModel::from(current.clone());
    update.posts = Set(current.posts + posts);
    update.input_errors = Set(current.input_errors + input_errors);
    update.platform = Set(current.platform.clone().or(platform.map(str::to_owned)));
    update.updated_ms = Set(now);
    snapshots::Entity::update(update).exec(txn).await?;
    Ok(())
}

/// A status notification, as parsed from the notify endpoint.
#[derive(Debug, Clone)]
pub struct Notification {
    pub snapshot_id: String,
    pub status_raw: String,
    pub status: SnapshotStatus,
    pub dataset_id: Option<String>,
    pub dataset_platform: Option<String>,
    pub error: Option<String>,
    pub payload: String,
    pub replay_key: Option<String>,
    pub received_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOutcome {
    Applied { status: SnapshotStatus },
    Duplicate,
}

pub async fn apply_notification(
    txn: &DatabaseTransaction,
    n: Notification,
) -> Result<NotifyOutcome, DbErr> {
    let now = n.received_ms;
    if let Some(key) = &n.replay_key
        && !claim_replay_key(txn, key, "notify", now).await?
    {
        return Ok(NotifyOutcome::Duplicate);
    }
    notifications::Entity::insert(notifications::ActiveModel {
        snapshot_id: Set(n.snapshot_id.clone()),
        status_raw: Set(n.status_raw.clone()),
        status: Set(n.status.as_str().to_owned()),
        error: Set(n.error.clone()),
        received_ms: Set(now),
        payload: Set(n.payload.clone()),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;

    let (current, created) = snapshot_for_update(txn, &n.snapshot_id, n.status, now).await?;
    let previous = if created {
        None
    } else {
        SnapshotStatus::parse(&current.status)
    };
    let status = SnapshotStatus::next(previous, n.status);
    let mut update = snapshots::ActiveModel::from(current.clone());
    update.status = Set(status.as_str().to_owned());
    update.dataset_id = Set(current.dataset_id.clone().or(n.dataset_id.clone()));
    update.platform = Set(current.platform.clone().or(n.dataset_platform.clone()));
    update.notified_ms = Set(Some(now));
    update.updated_ms = Set(now);
    if matches!(n.status, SnapshotStatus::Ready) {
        update.ready_ms = Set(current.ready_ms.or(Some(now)));
    }
    if matches!(n.status, SnapshotStatus::Failed | SnapshotStatus::Cancelled) {
        update.finished_ms = Set(Some(now));
        update.error = Set(n.error.clone().or(current.error.clone()));
    }
    snapshots::Entity::update(update).exec(txn).await?;
    Ok(NotifyOutcome::Applied { status })
}
