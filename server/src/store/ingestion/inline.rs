//! Inline deliveries: a batch stored with a few multi-row statements, every table at once.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter};

use super::chunks::insert_chunks;
use super::deliveries::{
    DeliveryMeta, DeliveryOutcome, DeliveryRow, ParsedBody, insert_deliveries,
};
use super::input_errors::write_input_errors;
use super::posts::{PostRow, write_posts};
use super::replay_keys::claim_replay_keys;
use super::snapshots::snapshot_received;
use crate::store::entities::replay_keys;
use crate::store::ids::IdAllocator;
use delivery::lifecycle::DeliveryState;
use delivery::records::InputError;

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
                state: DeliveryState::Stored,
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
