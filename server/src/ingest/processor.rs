//! Extracts the posts of deliveries that were stored raw and answered 202 (large or streamed
//! bodies). It reads the chunks back in order, decodes them like the inline path, and upserts posts in
//! batches; input errors of an interrupted run are reset first, so a restart redoes the work exactly
//! once. Woken when a delivery is queued, and every few seconds in case it missed one.

use std::sync::Arc;
use std::sync::mpsc as sync_mpsc;
use std::time::Duration;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::decode::{Declared, DeliveryDecoder};
use super::platforms::DatasetPlatforms;
use super::records::{Format, InputError, Mode, Post, Record};
use crate::store::entities::{deliveries, delivery_chunks, snapshots};
use crate::store::ingestion::Extracted;
use crate::store::{Writer, ingestion};

/// Records per write transaction while extracting.
const BATCH: usize = 1000;
/// Deliveries still `receiving` after this long were abandoned by their sender (or by a crash).
const ABANDONED_AFTER_MS: i64 = 60 * 60 * 1000;

#[derive(Clone, Default)]
pub struct ProcessorHandle(Arc<Notify>);

impl ProcessorHandle {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

pub struct Processor {
    pub db: DatabaseConnection,
    pub writer: Writer,
    pub platforms: DatasetPlatforms,
    pub max_inflated_bytes: u64,
    pub max_stored_body_bytes: u64,
}

impl Processor {
    pub fn spawn(self, handle: ProcessorHandle, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let cutoff = chrono::Utc::now().timestamp_millis() - ABANDONED_AFTER_MS;
            match self
                .writer
                .run(move |txn| Box::pin(ingestion::recover_after_restart(txn, cutoff)))
                .await
            {
                Ok((0, 0)) => {}
                Ok((requeued, dropped)) => tracing::info!(
                    requeued,
                    dropped,
                    "recovered deliveries interrupted by the last stop"
                ),
                Err(error) => tracing::error!(%error, "cannot recover interrupted deliveries"),
            }
            loop {
                while !stop.is_cancelled() {
                    match self.process_next().await {
                        Ok(true) => {}
                        Ok(false) => break,
                        Err(error) => {
                            tracing::error!(%error, "cannot take a queued delivery; will retry");
                            break;
                        }
                    }
                }
                tokio::select! {
                    _ = handle.0.notified() => {}
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = stop.cancelled() => break,
                }
            }
        })
    }

    /// Extracts one queued delivery; `false` when there was none.
    async fn process_next(&self) -> anyhow::Result<bool> {
        let Some(delivery) = self
            .writer
            .run(|txn| Box::pin(ingestion::claim_queued(txn)))
            .await?
        else {
            return Ok(false);
        };
        let id = delivery.id;
        if let Err(error) = self.extract(delivery).await {
            tracing::error!(delivery_id = id, %error, "extracting a queued delivery failed");
            let reason = error.to_string();
            self.writer
                .run(move |txn| Box::pin(ingestion::mark_failed(txn, id, reason)))
                .await?;
        }
        Ok(true)
    }

    async fn extract(&self, delivery: deliveries::Model) -> anyhow::Result<()> {
        let id = delivery.id;
        self.writer
            .run(move |txn| Box::pin(ingestion::reset_extraction(txn, id)))
            .await?;

        let default_platform = self
            .snapshot_platform(delivery.snapshot_id.as_deref())
            .await;
        let (records_in, records_out) = sync_mpsc::channel::<Record>();
        // Stored as received: gzip is told by its bytes, CSV by what receiving found.
        let declared = Declared {
            gzip: false,
            csv: delivery.format == Format::Csv.as_str(),
        };
        let mut decoder = DeliveryDecoder::new(
            declared,
            self.max_inflated_bytes,
            default_platform,
            Mode::Extract,
            move |record| {
                let _ = records_in.send(record);
            },
        );
        let mut totals = Extracted::default();
        let mut seq = 0;
        loop {
            let chunk = delivery_chunks::Entity::find_by_id((id, seq))
                .one(&self.db)
                .await?;
            let Some(chunk) = chunk else {
                tokio::task::spawn_blocking(move || decoder.finish())
                    .await?
                    .map_err(|e| anyhow::anyhow!("delivery {id}: {e}"))?;
                let rest: Vec<Record> = records_out.try_iter().collect();
                self.write_batch(&delivery, rest, &mut totals).await?;
                break;
            };
            // Inflating and parsing are CPU work: keep them off the async threads.
            let (returned, fed) = tokio::task::spawn_blocking(move || {
                let fed = decoder.feed(&chunk.data);
                (decoder, fed)
            })
            .await?;
            fed.map_err(|e| anyhow::anyhow!("delivery {id}: {e}"))?;
            decoder = returned;
            let batch: Vec<Record> = records_out.try_iter().collect();
            self.write_batch(&delivery, batch, &mut totals).await?;
            seq += 1;
        }

        let keep = delivery.wire_bytes as u64 <= self.max_stored_body_bytes;
        let now = chrono::Utc::now().timestamp_millis();
        tracing::info!(
            delivery_id = id,
            posts = totals.posts,
            input_errors = totals.input_errors,
            duplicates = totals.duplicates,
            "extracted a queued delivery"
        );
        self.writer
            .run(move |txn| {
                Box::pin(async move {
                    ingestion::complete_processing(txn, &delivery, totals, keep, now).await
                })
            })
            .await?;
        Ok(())
    }

    async fn write_batch(
        &self,
        delivery: &deliveries::Model,
        records: Vec<Record>,
        totals: &mut Extracted,
    ) -> anyhow::Result<()> {
        let mut posts: Vec<Post> = Vec::new();
        let mut errors: Vec<InputError> = Vec::new();
        for record in records {
            match record {
                Record::Post(post) => posts.push(*post),
                Record::InputError(error) => errors.push(error),
                Record::Malformed { .. }
                | Record::CountedPost { .. }
                | Record::CountedInputError => {}
            }
        }
        if totals.platform.is_none() {
            totals.platform = posts.first().map(|p| p.platform.clone());
        }
        totals.posts += posts.len() as i64;
        totals.input_errors += errors.len() as i64;
        let now = chrono::Utc::now().timestamp_millis();
        let mut posts = posts.into_iter().peekable();
        let mut errors = errors.into_iter().peekable();
        while posts.peek().is_some() || errors.peek().is_some() {
            let post_batch: Vec<Post> = posts.by_ref().take(BATCH).collect();
            let error_batch: Vec<InputError> = errors.by_ref().take(BATCH).collect();
            let snapshot = delivery.snapshot_id.clone();
            let id = delivery.id;
            totals.duplicates += self
                .writer
                .run(move |txn| {
                    Box::pin(async move {
                        let duplicates =
                            ingestion::upsert_posts(txn, snapshot.as_deref(), id, &post_batch, now)
                                .await?;
                        ingestion::insert_input_errors(
                            txn,
                            snapshot.as_deref(),
                            id,
                            &error_batch,
                            now,
                        )
                        .await?;
                        Ok(duplicates)
                    })
                })
                .await?;
        }
        Ok(())
    }

    async fn snapshot_platform(&self, snapshot_id: Option<&str>) -> Option<String> {
        let snapshot = snapshots::Entity::find()
            .filter(snapshots::Column::Id.eq(snapshot_id?))
            .one(&self.db)
            .await
            .ok()
            .flatten()?;
        snapshot.platform.or_else(|| {
            snapshot
                .dataset_id
                .and_then(|d| self.platforms.platform(&d).map(str::to_owned))
        })
    }
}
