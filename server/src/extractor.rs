//! Extracts the posts of deliveries that were stored raw and answered 202 (large or streamed
//! bodies). It reads the chunks back in order, decodes them like the inline path, and upserts posts in
//! batches; input errors of an interrupted run are reset first, so a restart redoes the work exactly
//! once. Woken when a delivery is queued, and every few seconds in case it missed one.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::store::entities::{deliveries, delivery_chunks, snapshots};
use crate::store::ingestion::Extracted;
use crate::store::{Writer, ingestion};
use delivery::decode::{Declared, DeliveryDecoder};
use delivery::platforms::DatasetPlatforms;
use delivery::records::{Format, InputError, Mode, Post, Record};

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
    /// Tally the posts' field coverage (`SCRAPER_DRIFT`).
    pub field_coverage: bool,
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
        // Stored as received: gzip is told by its bytes, CSV by what receiving found.
        let declared = Declared {
            gzip: false,
            csv: delivery.format == Format::Csv.as_str(),
        };
        // Three stages joined by bounded channels, so memory stays bounded however densely a
        // chunk inflates (gzip reaches ~1000x): stored chunks are read one at a time, inflated and
        // parsed on a blocking thread, and the records written in batches as they come.
        let (chunks_in, mut chunks_out) = tokio::sync::mpsc::channel::<Vec<u8>>(2);
        let (records_in, mut records_out) = tokio::sync::mpsc::channel::<Record>(2 * BATCH);
        let max_inflated = self.max_inflated_bytes;
        // Drift is judged per snapshot: a delivery of none is not tallied.
        let field_coverage = self.field_coverage && delivery.snapshot_id.is_some();
        let decoding = tokio::task::spawn_blocking(move || {
            let mut decoder =
                DeliveryDecoder::new(declared, max_inflated, default_platform, Mode::Extract, {
                    move |record| {
                        // Fails only when the writer side gave up; the reader then stops too.
                        let _ = records_in.blocking_send(record);
                    }
                });
            if field_coverage {
                decoder = decoder.count_coverage();
            }
            while let Some(data) = chunks_out.blocking_recv() {
                decoder.feed(&data)?;
            }
            decoder.finish()
        });
        let db = self.db.clone();
        let mut reading = AbortOnDrop(tokio::spawn(async move {
            for seq in 0.. {
                let chunk = delivery_chunks::Entity::find_by_id((id, seq))
                    .one(&db)
                    .await?;
                let Some(chunk) = chunk else { break };
                if chunks_in.send(chunk.data).await.is_err() {
                    break; // the decoder stopped on an error, reported below
                }
            }
            Ok::<_, sea_orm::DbErr>(())
        }));

        let mut totals = Extracted::default();
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(record) = records_out.recv().await {
            batch.push(record);
            if batch.len() >= BATCH {
                self.write_batch(&delivery, std::mem::take(&mut batch), &mut totals)
                    .await?;
            }
        }
        let decoded = decoding
            .await?
            .map_err(|e| anyhow::anyhow!("delivery {id}: {e}"))?;
        totals.format = Some(decoded.format);
        totals.compressed = decoded.compressed;
        totals.inflated_bytes = decoded.inflated_bytes as i64;
        totals.coverage = decoded.coverage;
        (&mut reading.0).await??;
        self.write_batch(&delivery, batch, &mut totals).await?;

        let keep = delivery.wire_bytes as u64 <= self.max_stored_body_bytes;
        let now = chrono::Utc::now().timestamp_millis();
        tracing::info!(
            delivery_id = id,
            posts = totals.posts,
            input_errors = totals.input_errors,
            duplicates = totals.duplicates,
            "extracted a queued delivery"
        );
        let posts = totals.posts;
        self.writer
            .run(move |txn| {
                Box::pin(async move {
                    ingestion::complete_processing(txn, &delivery, totals, keep, now).await
                })
            })
            .await?;
        if posts >= ingestion::LARGE_DELIVERY_POSTS
            && let Err(error) = ingestion::refresh_statistics(&self.db).await
        {
            // The posts are stored; only the next queries' plans may suffer.
            tracing::warn!(delivery_id = id, %error, "refreshing the posts table's statistics failed");
        }
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

/// Aborts the task when dropped: an extraction that fails half-way stops reading its chunks.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
