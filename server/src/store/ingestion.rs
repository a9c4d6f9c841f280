//! Writes of the ingestion path. Each function runs inside the writer's transaction (see `writer`), so a
//! delivery, its posts, its input errors, its snapshot and its replay key commit together or not at all.

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::entities::{
    deliveries, delivery_chunks, input_errors, notifications, replay_keys, snapshots,
};
use super::ids::IdAllocator;
use super::multirow;
use crate::ingest::lifecycle::SnapshotStatus;
use crate::ingest::records::{Format, InputError, Post};

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

/// Claims a replay key. `false` when it was already taken (the request is a replay).
pub async fn claim_replay_key(
    txn: &DatabaseTransaction,
    key: &str,
    endpoint: &str,
    now_ms: i64,
) -> Result<bool, DbErr> {
    let inserted = replay_keys::Entity::insert(replay_keys::ActiveModel {
        key: Set(key.to_owned()),
        endpoint: Set(endpoint.to_owned()),
        delivery_id: Set(None),
        seen_ms: Set(now_ms),
    })
    .on_conflict(
        OnConflict::column(replay_keys::Column::Key)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(inserted == 1)
}

/// The delivery a replay key points to, if the key was seen.
pub async fn replay_key_delivery(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<Option<i64>>, DbErr> {
    Ok(replay_keys::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.delivery_id))
}

/// A delivery whose posts are stored before it is answered.
#[derive(Debug, Clone)]
pub struct InlineDelivery {
    pub meta: DeliveryMeta,
    pub body: ParsedBody,
    /// The raw body as received, when small enough to keep for replay.
    pub raw: Option<Vec<u8>>,
}

/// Stores a batch of deliveries with a few multi-row statements: replay keys, delivery rows, raw
/// bodies, posts (deduplicated across the batch and against what is stored), input errors and
/// snapshot totals. Outcomes come back in the order of `batch`.
pub async fn store_deliveries(
    txn: &DatabaseTransaction,
    ids: &IdAllocator,
    batch: &[InlineDelivery],
) -> Result<Vec<DeliveryOutcome>, DbErr> {
    let delivery_ids = ids.take(txn, "deliveries", batch.len()).await?;
    let mut duplicate_of: Vec<Option<Option<i64>>> = vec![None; batch.len()];

    // Replay keys: the first delivery of a key in this batch may claim it; any other is a replay.
    let mut first_with_key: HashMap<&str, usize> = HashMap::new();
    for (i, delivery) in batch.iter().enumerate() {
        if let Some(key) = &delivery.meta.replay_key {
            first_with_key.entry(key.as_str()).or_insert(i);
        }
    }
    if !first_with_key.is_empty() {
        let mut claims: Vec<(&str, i64, i64)> = first_with_key
            .iter()
            .map(|(key, i)| (*key, delivery_ids[*i], batch[*i].meta.received_ms))
            .collect();
        claims.sort_unstable();
        let claimed = claim_replay_keys(txn, &claims).await?;
        let mut replayed: Vec<(usize, &str)> = Vec::new();
        for (i, delivery) in batch.iter().enumerate() {
            if let Some(key) = delivery.meta.replay_key.as_deref()
                && (first_with_key[key] != i || !claimed.contains(key))
            {
                replayed.push((i, key));
            }
        }
        if !replayed.is_empty() {
            let keys: Vec<String> = replayed.iter().map(|(_, k)| k.to_string()).collect();
            let known: HashMap<String, Option<i64>> = replay_keys::Entity::find()
                .filter(replay_keys::Column::Key.is_in(keys))
                .all(txn)
                .await?
                .into_iter()
                .map(|row| (row.key, row.delivery_id))
                .collect();
            for (i, key) in replayed {
                duplicate_of[i] = Some(known.get(key).copied().flatten());
            }
        }
    }
    let storing: Vec<usize> = (0..batch.len())
        .filter(|i| duplicate_of[*i].is_none())
        .collect();

    // Posts first: their upsert says which were stored before. A post counts as a duplicate when it
    // was stored before or repeats an earlier one in the batch (in order).
    let mut posts: Vec<PostRow<'_>> = Vec::new();
    let mut errors: Vec<(&InputError, Option<&str>, i64, i64)> = Vec::new();
    for &i in &storing {
        let delivery = &batch[i];
        let snapshot = delivery.meta.snapshot_id.as_deref();
        posts.extend(
            delivery
                .body
                .posts
                .iter()
                .map(|p| (p, snapshot, delivery_ids[i])),
        );
        errors.extend(
            delivery
                .body
                .input_errors
                .iter()
                .map(|e| (e, snapshot, delivery_ids[i], delivery.meta.received_ms)),
        );
    }
    let now = batch
        .iter()
        .map(|d| d.meta.received_ms)
        .max()
        .unwrap_or_default();
    let mut seen = write_posts(txn, &posts, now).await?;
    let mut duplicates = vec![0i64; batch.len()];
    for &i in &storing {
        for post in &batch[i].body.posts {
            if !seen.insert((post.platform.as_str(), post.post_id.as_str())) {
                duplicates[i] += 1;
            }
        }
    }

    let rows: Vec<DeliveryRow<'_>> = storing
        .iter()
        .map(|&i| {
            let delivery = &batch[i];
            DeliveryRow {
                id: delivery_ids[i],
                meta: &delivery.meta,
                body: &delivery.body.summary,
                state: "stored",
                body_kept: delivery.raw.is_some(),
                processed_ms: Some(delivery.meta.received_ms),
                duplicates: Some(duplicates[i]),
            }
        })
        .collect();
    insert_deliveries(txn, &rows).await?;
    insert_chunks(
        txn,
        storing.iter().filter_map(|&i| {
            batch[i]
                .raw
                .as_ref()
                .map(|raw| (delivery_ids[i], 0, raw.as_slice()))
        }),
    )
    .await?;
    write_input_errors(txn, &errors).await?;

    // Snapshot totals, one update per snapshot in the batch.
    let mut per_snapshot: HashMap<&str, (Option<&str>, i64, i64, i64, i64)> = HashMap::new();
    for &i in &storing {
        let delivery = &batch[i];
        if let Some(snapshot) = delivery.meta.snapshot_id.as_deref() {
            let entry = per_snapshot.entry(snapshot).or_default();
            entry.0 = entry
                .0
                .or(delivery.body.posts.first().map(|p| p.platform.as_str()));
            entry.1 += delivery.body.posts.len() as i64;
            entry.2 += delivery.body.input_errors.len() as i64;
            entry.3 += 1;
            entry.4 = Ord::max(entry.4, delivery.meta.received_ms);
        }
    }
    let mut snapshots: Vec<_> = per_snapshot.into_iter().collect();
    snapshots.sort_unstable_by_key(|(id, _)| *id);
    for (snapshot, (platform, posts, input_errors, deliveries, at)) in snapshots {
        snapshot_received(txn, snapshot, platform, posts, input_errors, deliveries, at).await?;
    }

    Ok((0..batch.len())
        .map(|i| match duplicate_of[i] {
            Some(delivery_id) => DeliveryOutcome::Duplicate { delivery_id },
            None => DeliveryOutcome::Stored {
                delivery_id: delivery_ids[i],
                duplicates: duplicates[i],
            },
        })
        .collect())
}

/// Claims replay keys in one statement; returns the keys this statement inserted (the others were
/// taken before — also by another instance on PostgreSQL, which is why RETURNING decides).
async fn claim_replay_keys(
    txn: &DatabaseTransaction,
    claims: &[(&str, i64, i64)],
) -> Result<HashSet<String>, DbErr> {
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "replay_keys",
        &["key", "endpoint", "delivery_id", "seen_ms"],
        "ON CONFLICT (\"key\") DO NOTHING RETURNING \"key\"",
        claims,
        |(key, delivery_id, seen_ms), values| {
            values.extend([
                (*key).into(),
                "webhook".into(),
                Some(*delivery_id).into(),
                (*seen_ms).into(),
            ]);
        },
    );
    let mut claimed = HashSet::new();
    for statement in statements {
        for row in txn.query_all_raw(statement).await? {
            claimed.insert(row.try_get::<String>("", "key")?);
        }
    }
    Ok(claimed)
}

/// Raw body chunks (delivery, seq, bytes), several per statement up to a few MiB.
async fn insert_chunks<'r>(
    txn: &DatabaseTransaction,
    chunks: impl Iterator<Item = (i64, i32, &'r [u8])>,
) -> Result<(), DbErr> {
    let mut pending: Vec<(i64, i32, &[u8])> = Vec::new();
    let mut pending_bytes = 0;
    for chunk in chunks {
        pending_bytes += chunk.2.len();
        pending.push(chunk);
        if pending_bytes > 4 << 20 || pending.len() >= multirow::MAX_ROWS {
            write_chunks(txn, &std::mem::take(&mut pending)).await?;
            pending_bytes = 0;
        }
    }
    write_chunks(txn, &pending).await
}

async fn write_chunks(
    txn: &DatabaseTransaction,
    chunks: &[(i64, i32, &[u8])],
) -> Result<(), DbErr> {
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "delivery_chunks",
        &["delivery_id", "seq", "data"],
        "",
        chunks,
        |(delivery_id, seq, data), values| {
            values.push((*delivery_id).into());
            values.push((*seq).into());
            values.push(data.to_vec().into());
        },
    );
    multirow::execute_all(txn, statements).await
}

/// A delivery row as stored.
struct DeliveryRow<'a> {
    id: i64,
    meta: &'a DeliveryMeta,
    body: &'a BodySummary,
    state: &'static str,
    body_kept: bool,
    processed_ms: Option<i64>,
    duplicates: Option<i64>,
}

async fn insert_deliveries(
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
                row.state.into(),
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
            ]);
        },
    );
    multirow::execute_all(txn, statements).await
}

pub async fn link_replay_key(
    txn: &DatabaseTransaction,
    key: &str,
    delivery_id: i64,
) -> Result<(), DbErr> {
    replay_keys::Entity::update_many()
        .col_expr(replay_keys::Column::DeliveryId, Expr::value(delivery_id))
        .filter(replay_keys::Column::Key.eq(key))
        .exec(txn)
        .await?;
    Ok(())
}

pub async fn insert_chunk(
    txn: &DatabaseTransaction,
    delivery_id: i64,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), DbErr> {
    write_chunks(txn, &[(delivery_id, seq, &data)]).await
}

/// Inserts or updates the posts of one delivery by (platform, post id). Returns how many were
/// already stored or repeated within the batch: those are updated, never duplicated.
pub async fn upsert_posts(
    txn: &DatabaseTransaction,
    snapshot_id: Option<&str>,
    delivery_id: i64,
    batch: &[Post],
    now: i64,
) -> Result<i64, DbErr> {
    let rows: Vec<PostRow<'_>> = batch
        .iter()
        .map(|p| (p, snapshot_id, delivery_id))
        .collect();
    let mut seen = write_posts(txn, &rows, now).await?;
    Ok(batch
        .iter()
        .filter(|p| !seen.insert((p.platform.as_str(), p.post_id.as_str())))
        .count() as i64)
}

/// A post to store, with its snapshot and delivery.
type PostRow<'a> = (&'a Post, Option<&'a str>, i64);

/// Upserts posts (post, snapshot, delivery). A post given several times counts as delivered that
/// many times and keeps its last version (one statement may not touch a row twice).
///
/// Returns the (platform, post id) of the posts that were stored before: the upsert returns each
/// row's `times_delivered`, which is more than this call added only if the row existed. One
/// statement both writes and tells, so no lookup precedes it, and on PostgreSQL two instances
/// storing the same new post cannot both count it as new (the row lock orders them).
async fn write_posts<'p>(
    txn: &DatabaseTransaction,
    posts: &[PostRow<'p>],
    now: i64,
) -> Result<HashSet<(&'p str, &'p str)>, DbErr> {
    let mut latest: HashMap<(&str, &str), (PostRow<'_>, i32)> = HashMap::with_capacity(posts.len());
    for entry in posts {
        let key = (entry.0.platform.as_str(), entry.0.post_id.as_str());
        let times = latest.get(&key).map_or(0, |(_, times)| *times) + 1;
        latest.insert(key, (*entry, times));
    }
    let mut unique: Vec<_> = latest.into_values().collect();
    // A stable order keeps concurrent writers (several instances) from deadlocking on row locks.
    unique.sort_unstable_by(|a, b| {
        (&a.0.0.platform, &a.0.0.post_id).cmp(&(&b.0.0.platform, &b.0.0.post_id))
    });
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "posts",
        &[
            "platform",
            "post_id",
            "snapshot_id",
            "delivery_id",
            "url",
            "author",
            "posted_ms",
            "likes",
            "comments",
            "shares",
            "views",
            "data",
            "first_seen_ms",
            "updated_ms",
            "times_delivered",
        ],
        "ON CONFLICT (platform, post_id) DO UPDATE SET snapshot_id = excluded.snapshot_id, \
         delivery_id = excluded.delivery_id, url = excluded.url, author = excluded.author, \
         posted_ms = excluded.posted_ms, likes = excluded.likes, comments = excluded.comments, \
         shares = excluded.shares, views = excluded.views, data = excluded.data, \
         updated_ms = excluded.updated_ms, \
         times_delivered = posts.times_delivered + excluded.times_delivered \
         RETURNING platform, post_id, times_delivered",
        &unique,
        |((post, snapshot, delivery_id), times), values| {
            values.extend([
                post.platform.as_str().into(),
                post.post_id.as_str().into(),
                snapshot.map(str::to_owned).into(),
                (*delivery_id).into(),
                post.url.clone().into(),
                post.author.clone().into(),
                post.posted_at_ms.into(),
                post.likes.into(),
                post.comments.into(),
                post.shares.into(),
                post.views.into(),
                post.data.as_str().into(),
                now.into(),
                now.into(),
                (*times).into(),
            ]);
        },
    );
    // Which row each returned post is (a statement does not keep their order).
    let index: HashMap<(&str, &str), usize> = unique
        .iter()
        .enumerate()
        .map(|(i, ((post, _, _), _))| ((post.platform.as_str(), post.post_id.as_str()), i))
        .collect();
    let mut stored_before = HashSet::new();
    for statement in statements {
        for row in txn.query_all_raw(statement).await? {
            let platform: String = row.try_get("", "platform")?;
            let post_id: String = row.try_get("", "post_id")?;
            let times: i32 = row.try_get("", "times_delivered")?;
            if let Some(&i) = index.get(&(platform.as_str(), post_id.as_str())) {
                let ((post, _, _), added) = &unique[i];
                if times > *added {
                    stored_before.insert((post.platform.as_str(), post.post_id.as_str()));
                }
            }
        }
    }
    Ok(stored_before)
}

pub async fn insert_input_errors(
    txn: &DatabaseTransaction,
    snapshot_id: Option<&str>,
    delivery_id: i64,
    errors: &[InputError],
    now: i64,
) -> Result<(), DbErr> {
    let rows: Vec<_> = errors
        .iter()
        .map(|e| (e, snapshot_id, delivery_id, now))
        .collect();
    write_input_errors(txn, &rows).await
}

/// Inserts input errors (error, snapshot, delivery, time).
async fn write_input_errors(
    txn: &DatabaseTransaction,
    errors: &[(&InputError, Option<&str>, i64, i64)],
) -> Result<(), DbErr> {
    let statements = multirow::insert_statements(
        txn.get_database_backend(),
        "input_errors",
        &[
            "snapshot_id",
            "delivery_id",
            "kind",
            "code",
            "message",
            "input_url",
            "data",
            "at_ms",
        ],
        "",
        errors,
        |(error, snapshot, delivery_id, at), values| {
            values.extend([
                snapshot.map(str::to_owned).into(),
                (*delivery_id).into(),
                error.kind.into(),
                error.code.clone().into(),
                error.message.clone().into(),
                error.input_url.clone().into(),
                error.data.clone().into(),
                (*at).into(),
            ]);
        },
    );
    multirow::execute_all(txn, statements).await
}

/// Creates the snapshot if new; returns the stored row (and whether it was just created) for an
/// update, locked on PostgreSQL so that several instances updating one snapshot take turns.
async fn snapshot_for_update(
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
fn new_snapshot(snapshot_id: &str, status: SnapshotStatus, now: i64) -> snapshots::ActiveModel {
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
async fn insert_snapshot_if_new(
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
        state: "receiving",
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
        .col_expr(deliveries::Column::State, Expr::value("queued"))
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

/// Takes the oldest queued delivery for extraction; `None` when there is none.
pub async fn claim_queued(txn: &DatabaseTransaction) -> Result<Option<deliveries::Model>, DbErr> {
    let Some(next) = deliveries::Entity::find()
        .filter(deliveries::Column::State.eq("queued"))
        .order_by_asc(deliveries::Column::Id)
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::State, Expr::value("processing"))
        .filter(deliveries::Column::Id.eq(next.id))
        .filter(deliveries::Column::State.eq("queued"))
        .exec(txn)
        .await?;
    Ok(Some(next))
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
    } = extracted;
    if !keep_body {
        delivery_chunks::Entity::delete_many()
            .filter(delivery_chunks::Column::DeliveryId.eq(delivery.id))
            .exec(txn)
            .await?;
    }
    let first_time = delivery.processed_ms.is_none();
    let mut update = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::State, Expr::value("stored"))
        .col_expr(deliveries::Column::BodyKept, Expr::value(keep_body))
        .filter(deliveries::Column::Id.eq(delivery.id));
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

/// Before (re)extracting a delivery: its input errors from an interrupted earlier run go, so the
/// run adds them exactly once (posts are upserts and need no cleanup).
pub async fn reset_extraction(txn: &DatabaseTransaction, delivery_id: i64) -> Result<(), DbErr> {
    input_errors::Entity::delete_many()
        .filter(input_errors::Column::DeliveryId.eq(delivery_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// After a restart: extraction that was running is queued again, and bodies that never finished
/// arriving (the sender disconnected, or we stopped) are dropped; they were never acknowledged.
pub async fn recover_after_restart(
    txn: &DatabaseTransaction,
    receiving_older_than_ms: i64,
) -> Result<(u64, u64), DbErr> {
    let requeued = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::State, Expr::value("queued"))
        .filter(deliveries::Column::State.eq("processing"))
        .exec(txn)
        .await?
        .rows_affected;
    let abandoned: Vec<i64> = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Id)
        .filter(deliveries::Column::State.eq("receiving"))
        .filter(deliveries::Column::ReceivedMs.lt(receiving_older_than_ms))
        .into_tuple::<i64>()
        .all(txn)
        .await?;
    for id in &abandoned {
        discard_delivery(txn, *id).await?;
    }
    Ok((requeued, abandoned.len() as u64))
}

/// Extraction of a queued delivery failed: keep it (its raw body stays) with the reason.
pub async fn mark_failed(
    txn: &DatabaseTransaction,
    delivery_id: i64,
    error: String,
) -> Result<(), DbErr> {
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::State, Expr::value("failed"))
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
    if !matches!(delivery.state.as_str(), "stored" | "failed") {
        return Ok(Requeue::Busy(delivery.state));
    }
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::State, Expr::value("queued"))
        .col_expr(
            deliveries::Column::Error,
            Expr::value(Option::<String>::None),
        )
        .filter(deliveries::Column::Id.eq(delivery_id))
        .exec(txn)
        .await?;
    Ok(Requeue::Queued)
}
