//! Extracts the posts of deliveries that were stored raw and answered 202 (large or streamed
//! bodies). It reads the chunks back in order, decodes them like the inline path, and upserts posts in
//! batches, each committed with the extraction's progress: an interrupted extraction (a restart,
//! an instance that died) goes on after its last committed batch, so every record is stored and
//! counted exactly once. Woken when a delivery is queued, and every few seconds in case it missed
//! one (or another instance queued it).
//!
//! With several instances on one PostgreSQL, a delivery is extracted by the instance holding its
//! lease (`ingestion::claim_queued`). Every write of the extraction renews the lease in its own
//! transaction and is dropped if the lease was lost, and a heartbeat renews it between writes; an
//! instance that dies stops renewing, and another takes the delivery over once the lease ran out.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::leadership::Instance;
use crate::store::entities::{deliveries, delivery_chunks, snapshots};
use crate::store::ingestion::{Extracted, Lease, Progress};
use crate::store::writer::Heard;
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

#[derive(Clone)]
pub struct Processor {
    pub db: DatabaseConnection,
    pub writer: Writer,
    pub platforms: DatasetPlatforms,
    pub max_inflated_bytes: u64,
    pub max_stored_body_bytes: u64,
    /// Tally the posts' field coverage (`SCRAPER_DRIFT`).
    pub field_coverage: bool,
    /// Who holds the leases of the deliveries this processor extracts, and for how long.
    pub instance: Instance,
    /// The only instance on its database (SQLite): what it was extracting when it stopped goes
    /// on at start, rather than after its lease ran out.
    pub sole: bool,
}

/// This instance's lease on a delivery ran out and another instance took the delivery over: this
/// one writes nothing more for it, the other goes on from the last batch committed.
#[derive(Debug, thiserror::Error)]
#[error("another instance took the delivery over (this one's lease ran out)")]
pub struct LeaseLost;

impl Processor {
    pub fn spawn(self, handle: ProcessorHandle, stop: CancellationToken) -> JoinHandle<()> {
        tokio::spawn(async move {
            let cutoff = chrono::Utc::now().timestamp_millis() - ABANDONED_AFTER_MS;
            let sole = self.sole;
            match self
                .writer
                .run(move |txn| Box::pin(ingestion::recover_after_restart(txn, cutoff, sole)))
                .await
            {
                Ok((0, 0)) => {}
                Ok((resumed, dropped)) => tracing::info!(
                    resumed,
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

    /// A lease from now on.
    fn lease(&self) -> Lease {
        let now = chrono::Utc::now().timestamp_millis();
        Lease {
            holder: self.instance.id.to_string(),
            until_ms: self.instance.lease_until(now),
        }
    }

    /// Extracts one queued delivery; `false` when there was none.
    async fn process_next(&self) -> anyhow::Result<bool> {
        let lease = self.lease();
        let now = chrono::Utc::now().timestamp_millis();
        let Some(delivery) = self
            .writer
            .run(move |txn| {
                Box::pin(async move { ingestion::claim_queued(txn, &lease, now).await })
            })
            .await?
        else {
            return Ok(false);
        };
        let id = delivery.id;
        match self.extract(delivery).await {
            Ok(()) => {}
            Err(error) if error.is::<LeaseLost>() => {
                tracing::warn!(delivery_id = id, "{error}");
            }
            Err(error) => {
                tracing::error!(delivery_id = id, %error, "extracting a queued delivery failed");
                let reason = error.to_string();
                let failed = self
                    .fenced(id, Heard::Durable, move |txn| {
                        Box::pin(ingestion::mark_failed(txn, id, reason))
                    })
                    .await;
                match failed {
                    Ok(()) => {}
                    Err(error) if error.is::<LeaseLost>() => {
                        tracing::warn!(delivery_id = id, "{error}");
                    }
                    Err(error) => return Err(error),
                }
            }
        }
        Ok(true)
    }

    /// Runs `work` in the writer's next batch if this instance still holds the lease on delivery
    /// `id` (renewed in the same transaction); [`LeaseLost`] otherwise, and nothing is written.
    /// Returns once the batch is as `heard` says.
    async fn fenced<T, F>(&self, id: i64, heard: Heard, work: F) -> anyhow::Result<T>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, DbErr>>
            + Send
            + 'static,
    {
        let lease = self.lease();
        let done = self
            .writer
            .run_heard(heard, move |txn| {
                Box::pin(async move {
                    if !ingestion::renew_lease(txn, id, &lease).await? {
                        return Ok(None);
                    }
                    work(txn).await.map(Some)
                })
            })
            .await?;
        done.ok_or_else(|| LeaseLost.into())
    }

    /// Renews the lease on delivery `id` every third of its length while the extraction runs
    /// (a stretch without writes, a slow chunk, must not lose it); cancels `lost` if it was lost.
    fn heartbeat(&self, id: i64, lost: CancellationToken) -> AbortOnDrop<()> {
        let every = self.instance.lease / 3;
        let processor = self.clone();
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match processor
                    .fenced(id, Heard::Durable, |_| Box::pin(async { Ok(()) }))
                    .await
                {
                    Ok(()) => {}
                    Err(error) if error.is::<LeaseLost>() => {
                        lost.cancel();
                        return;
                    }
                    // The database is away: the writes fail too; the next beat tries again.
                    Err(error) => {
                        tracing::warn!(delivery_id = id, %error, "cannot renew a delivery's lease")
                    }
                }
            }
        }))
    }

    async fn extract(&self, delivery: deliveries::Model) -> anyhow::Result<()> {
        let id = delivery.id;
        // What an earlier run committed (an instance that died, or this one before a restart);
        // nothing on a first run. Its records are decoded again but not stored again.
        let done = Progress::of(&delivery);
        if done.records == 0 {
            self.fenced(id, Heard::Durable, move |txn| {
                Box::pin(ingestion::reset_extraction(txn, id))
            })
            .await?;
        } else {
            tracing::info!(
                delivery_id = id,
                records = done.records,
                "going on with an interrupted extraction"
            );
        }
        let lost = CancellationToken::new();
        let _heartbeat = self.heartbeat(id, lost.clone());

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

        let mut totals = Extracted {
            posts: done.posts,
            input_errors: done.input_errors,
            duplicates: done.duplicates,
            ..Extracted::default()
        };
        let mut batch = Vec::with_capacity(BATCH);
        let mut consumed: i64 = 0;
        loop {
            let record = tokio::select! {
                record = records_out.recv() => record,
                _ = lost.cancelled() => return Err(LeaseLost.into()),
            };
            let Some(record) = record else { break };
            consumed += 1;
            if consumed <= done.records {
                // Stored by the earlier run: only its platform is still wanted.
                if totals.platform.is_none()
                    && let Record::Post(post) = &record
                {
                    totals.platform = Some(post.platform.clone());
                }
                continue;
            }
            batch.push(record);
            if batch.len() >= BATCH {
                self.write_batch(&delivery, std::mem::take(&mut batch), &mut totals, consumed)
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
        self.write_batch(&delivery, batch, &mut totals, consumed)
            .await?;

        let keep = delivery.wire_bytes as u64 <= self.max_stored_body_bytes;
        let now = chrono::Utc::now().timestamp_millis();
        let (posts, input_errors, duplicates) =
            (totals.posts, totals.input_errors, totals.duplicates);
        // Durable: it also makes every batch before it durable.
        self.fenced(id, Heard::Durable, move |txn| {
            Box::pin(async move {
                ingestion::complete_processing(txn, &delivery, totals, keep, now).await
            })
        })
        .await?;
        tracing::info!(
            delivery_id = id,
            posts,
            input_errors,
            duplicates,
            instance = %self.instance.id,
            "extracted a queued delivery"
        );
        if posts >= ingestion::LARGE_DELIVERY_POSTS
            && let Err(error) = ingestion::refresh_statistics(&self.db).await
        {
            // The posts are stored; only the next queries' plans may suffer.
            tracing::warn!(delivery_id = id, %error, "refreshing the posts table's statistics failed");
        }
        Ok(())
    }

    /// Stores one batch of records, and the extraction's progress once it is stored (`consumed`:
    /// records consumed with this batch, from the first), in one transaction under the lease.
    async fn write_batch(
        &self,
        delivery: &deliveries::Model,
        records: Vec<Record>,
        totals: &mut Extracted,
        consumed: i64,
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
        let progress = Progress {
            records: consumed,
            posts: totals.posts + posts.len() as i64,
            input_errors: totals.input_errors + errors.len() as i64,
            duplicates: totals.duplicates,
        };
        let now = chrono::Utc::now().timestamp_millis();
        let snapshot = delivery.snapshot_id.clone();
        let id = delivery.id;
        let duplicates = self
            .fenced(id, Heard::Committed, move |txn| {
                Box::pin(async move {
                    let duplicates =
                        ingestion::upsert_posts(txn, snapshot.as_deref(), id, &posts, now).await?;
                    ingestion::insert_input_errors(txn, snapshot.as_deref(), id, &errors, now)
                        .await?;
                    let progress = Progress {
                        duplicates: progress.duplicates + duplicates,
                        ..progress
                    };
                    ingestion::save_progress(txn, id, progress).await?;
                    Ok(duplicates)
                })
            })
            .await?;
        totals.posts = progress.posts;
        totals.input_errors = progress.input_errors;
        totals.duplicates += duplicates;
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
