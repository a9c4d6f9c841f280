//! The single database writer, with group commit.
//!
//! Every write goes through one task, on its own thread and connection, that takes whatever is
//! queued and writes it in ONE transaction, committed once. A caller hears back only after that
//! commit: a 2xx built on a reply is durable.
//! Under load many requests share one commit (one fsync), which is where durable throughput comes
//! from; SQLite allows one writer at a time anyway, and PostgreSQL gets the same batching.
//!
//! On SQLite the fsync is taken off the writer's path too (`Durability::FlushLog`): the commit only
//! writes the log, and a thread of its own flushes the log file to disk before the batch's callers
//! hear back, while the writer already runs the next batch. One flush covers every batch committed
//! before it began.
//!
//! On PostgreSQL the commit's wait is taken off the writer's path another way: the writer writes
//! the next batch on a second connection while the last one commits (`commit_batch`).
//!
//! The hot path is batched further: all inline deliveries of a batch are stored with a handful of
//! multi-row statements (`ingestion::store_deliveries`), and all events with one insert, in the
//! transaction itself. If that part fails, the transaction is rolled back and begun again with each
//! delivery in a savepoint of its own, so one bad delivery never fails its neighbours. Other work
//! comes as closures, run after it, each in its own savepoint.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sea_orm::{DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::checkpoint::{self, WalFrames};
use super::entities::events;
use super::events::{NewEvent, insert_events};
use super::ids::IdAllocator;
use super::ingestion::{DeliveryOutcome, InlineDelivery, store_deliveries};
use super::rollups::{Rollup, Shards, add_counts, add_events};
use crate::db::Durability;

/// Jobs taken into one transaction at most.
const MAX_BATCH: usize = 1024;
const QUEUE: usize = 16_384;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    /// The database cannot be reached (`db::is_unreachable`): worth a retry once it is back.
    #[error("the database cannot be reached: {0}")]
    Unreachable(String),
    #[error("the writer has stopped")]
    Stopped,
}

impl From<DbErr> for StoreError {
    fn from(error: DbErr) -> Self {
        if crate::db::is_unreachable(&error) {
            Self::Unreachable(error.to_string())
        } else {
            Self::Database(error.to_string())
        }
    }
}

type Value = Box<dyn Any + Send>;
type Work =
    Box<dyn for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<Value, DbErr>> + Send>;
type Reply<T> = oneshot::Sender<Result<T, StoreError>>;
/// Told about events once they are committed (the live hub).
pub type EventsCommitted = Arc<dyn Fn(Vec<events::Model>) + Send + Sync>;

/// What a committed batch owes its callers, paid once the commit is durable (or failed to be).
type Acknowledge = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// When the caller of a job hears back (`Writer::run_heard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard {
    /// Once the batch is committed and durable: what a 2xx is built on.
    Durable,
    /// Once the batch is committed, without waiting for the log flush that makes it durable (on
    /// SQLite; on PostgreSQL a commit is durable). Only for work that is done again if a crash
    /// loses it, and that nobody outside hears of: an extraction's batch of posts, committed
    /// with the extraction's progress (a lost tail of the log loses both, and the extraction
    /// resumes from the progress that remains). The batch is flushed as every batch is (the
    /// flusher takes each commit); only its caller no longer waits for that. The extraction's
    /// last step (the delivery marked stored) is `Durable`: the extraction is reported done only
    /// once a flush after it, which covers every batch before it, has returned.
    ///
    /// Why: an extraction writes one batch at a time, and waiting for each batch's flush left
    /// the writer idle; `bench large --mb 100` extracted ~5% faster without the wait, over nine
    /// interleaved pairs (README, "The extraction's batches, heard at commit").
    Committed,
}

enum Job {
    Work(Work, Reply<Value>, Heard),
    Delivery(Box<InlineDelivery>, Reply<DeliveryOutcome>),
    Event(Box<NewEvent>),
    /// Minute rollup rows of requests counted without an event row each.
    Counts(Vec<Rollup>),
}

#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    ids: Arc<IdAllocator>,
    events_dropped: Arc<AtomicU64>,
    wal_frames: WalFrames,
}

impl Writer {
    /// Starts the writer task. It runs until `stop` is cancelled, then finishes what is queued
    /// (and acknowledges it) before its task ends.
    pub fn start(
        db: DatabaseConnection,
        durability: Durability,
        on_events: EventsCommitted,
        stop: CancellationToken,
    ) -> (Self, JoinHandle<()>) {
        let (jobs, receiver) = mpsc::channel(QUEUE);
        let ids = Arc::new(IdAllocator::default());
        // Its own thread and runtime: on the shared runtime, every await between two statements
        // would queue behind the request handlers, stretching each batch (and every answer waiting
        // on it) while the CPU has room.
        let (finished, done) = oneshot::channel::<()>();
        let batch_ids = ids.clone();
        let wal_frames = WalFrames::default();
        let frames = wal_frames.clone();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || {
                let (acknowledge, flusher) = match durability {
                    Durability::OnCommit => (Acknowledger::OnCommit, None),
                    Durability::FlushLog(log) => {
                        let (sender, waiting) = std::sync::mpsc::channel();
                        let flusher = std::thread::Builder::new()
                            .name("db-log-flush".into())
                            .spawn({
                                let log = log.clone();
                                move || flush_log_loop(&log, &waiting)
                            })
                            .expect("the log flusher thread starts");
                        (
                            Acknowledger::AfterFlush {
                                flusher: sender,
                                log,
                            },
                            Some(flusher),
                        )
                    }
                };
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the writer's runtime starts");
                runtime.block_on(run(
                    db,
                    receiver,
                    batch_ids,
                    on_events,
                    acknowledge,
                    frames,
                    stop,
                ));
                // `run` has dropped its acknowledger: the flusher acknowledges what is left, then ends.
                if let Some(flusher) = flusher {
                    let _ = flusher.join();
                }
                let _ = finished.send(());
            })
            .expect("the writer thread starts");
        let task = tokio::spawn(async move {
            let _ = done.await;
        });
        let writer = Self {
            jobs,
            ids,
            events_dropped: Arc::default(),
            wal_frames,
        };
        (writer, task)
    }

    /// The SQLite log's length, reported by the background checkpoints (`checkpoint::spawn`): the
    /// writer restarts the log when it grows too long.
    pub fn wal_frames(&self) -> WalFrames {
        self.wal_frames.clone()
    }

    /// Ids for tables whose rows the writer batches (events, deliveries): every insert into them
    /// takes its id here.
    pub fn ids(&self) -> Arc<IdAllocator> {
        self.ids.clone()
    }

    /// Runs `work` in the next batch and returns its result once the batch is committed and
    /// durable.
    pub async fn run<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, DbErr>>
            + Send
            + 'static,
    {
        self.run_heard(Heard::Durable, work).await
    }

    /// Runs `work` in the next batch and returns its result once the batch is as `heard` says.
    pub async fn run_heard<T, F>(&self, heard: Heard, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<T, DbErr>>
            + Send
            + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |txn| {
            Box::pin(async move { work(txn).await.map(|value| Box::new(value) as Value) })
        });
        self.jobs
            .send(Job::Work(work, reply, heard))
            .await
            .map_err(|_| StoreError::Stopped)?;
        let value = answer.await.map_err(|_| StoreError::Stopped)??;
        Ok(*value
            .downcast::<T>()
            .expect("a job's value has the type its caller asked for"))
    }

    /// Returns once every batch committed before the call is durable (an empty job: its batch is
    /// acknowledged only after a flush that began after its commit, and one flush covers every
    /// commit before it). An answer built on what a READ saw must wait here first: readers see a
    /// commit as soon as it is made, before its log is flushed.
    pub async fn settled(&self) -> Result<(), StoreError> {
        self.run(|_txn| Box::pin(async { Ok(()) })).await
    }

    /// Stores a delivery with its posts; the answer comes once it is committed.
    pub async fn store_delivery(
        &self,
        delivery: InlineDelivery,
    ) -> Result<DeliveryOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Delivery(Box::new(delivery), reply))
            .await
            .map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }

    /// Queues an event without waiting. If the queue is full the event is dropped and counted:
    /// recording a request must never hold the request up.
    pub fn record_event(&self, event: NewEvent) {
        if self.jobs.try_send(Job::Event(Box::new(event))).is_err() {
            self.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Adds rollup rows counted elsewhere (`refusals`) with the next batch; waits for room in the
    /// queue rather than dropping them: they are the only record of those requests.
    pub async fn add_counts(&self, rows: Vec<Rollup>) -> Result<(), StoreError> {
        self.jobs
            .send(Job::Counts(rows))
            .await
            .map_err(|_| StoreError::Stopped)
    }

    pub fn events_dropped(&self) -> u64 {
        self.events_dropped.load(Ordering::Relaxed)
    }
}

async fn run(
    db: DatabaseConnection,
    mut receiver: mpsc::Receiver<Job>,
    ids: Arc<IdAllocator>,
    on_events: EventsCommitted,
    acknowledge: Acknowledger,
    wal_frames: WalFrames,
    stop: CancellationToken,
) {
    let acknowledge = Arc::new(acknowledge);
    // PostgreSQL: the next batch is written while the last one commits (`Committing`), in rollup
    // rows of another shard than the last one's, so as not to wait for its locks.
    let overlap = db.get_database_backend() == DatabaseBackend::Postgres;
    let shards = if overlap {
        Shards::random_pair()
    } else {
        Shards::SOLE
    };
    let mut batches: u64 = 0;
    let mut committing: Option<JoinHandle<()>> = None;
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = tokio::select! {
            job = receiver.recv() => job,
            _ = stop.cancelled() => {
                receiver.close();
                receiver.recv().await
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let shard = shards.of_batch(batches);
        batches += 1;
        let written = write_batch(&db, &ids, shard, std::mem::take(&mut batch)).await;
        // One commit at a time, in order: the last batch is committed (and acknowledged) before
        // this one's commit is sent.
        if let Some(previous) = committing.take() {
            let _ = previous.await;
        }
        if let Some(written) = written {
            let commit = commit_batch(written, on_events.clone(), acknowledge.clone());
            if overlap {
                committing = Some(tokio::spawn(commit));
            } else {
                commit.await;
            }
        }
        if wal_frames.get() > checkpoint::RESTART_FRAMES {
            checkpoint::run(&db, &wal_frames).await;
        }
    }
    if let Some(previous) = committing.take() {
        let _ = previous.await;
    }
    checkpoint::run(&db, &wal_frames).await;
}

/// A batch written in its transaction, not yet committed, with what it owes its callers.
struct Written {
    txn: DatabaseTransaction,
    done_works: Vec<(Reply<Value>, Value)>,
    /// Works whose callers hear back at the commit (`Heard::Committed`).
    committed_works: Vec<(Reply<Value>, Value)>,
    replies: Vec<Reply<DeliveryOutcome>>,
    delivery_results: Vec<Result<DeliveryOutcome, StoreError>>,
    stored_events: Vec<events::Model>,
}

/// Writes a batch in one transaction, left open for `commit_batch`. `None` when no transaction
/// could be opened (every caller has heard so).
async fn write_batch(
    db: &DatabaseConnection,
    ids: &IdAllocator,
    shard: i64,
    batch: Vec<Job>,
) -> Option<Written> {
    let mut works = Vec::new();
    let mut deliveries = Vec::new();
    let mut replies = Vec::new();
    let mut events = Vec::new();
    let mut counts = Vec::new();
    for job in batch {
        match job {
            Job::Work(work, reply, heard) => works.push((work, reply, heard)),
            Job::Delivery(delivery, reply) => {
                deliveries.push(*delivery);
                replies.push(reply);
            }
            Job::Event(event) => events.push(*event),
            Job::Counts(rows) => counts.extend(rows),
        }
    }

    let txn = match begin_with_retry(db).await {
        Ok(txn) => txn,
        Err(error) => {
            fail_all(&error, works, replies);
            return None;
        }
    };

    // The hot path first, without savepoints (each costs two round trips to the database thread):
    // all deliveries and events in a few statements. If any of it fails, the whole transaction is
    // rolled back (nothing else ran in it yet) and done again, isolated: each delivery alone.
    let (txn, delivery_results, stored_events) = match store_together(
        &txn,
        ids,
        shard,
        &deliveries,
        &events,
        &counts,
    )
    .await
    {
        Ok((outcomes, models)) => (txn, outcomes.into_iter().map(Ok).collect(), models),
        Err(error) => {
            tracing::warn!(%error, deliveries = deliveries.len(), events = events.len(), "a batch failed; storing its parts one by one");
            let _ = txn.rollback().await;
            let txn = match begin_with_retry(db).await {
                Ok(txn) => txn,
                Err(error) => {
                    fail_all(&error, works, replies);
                    return None;
                }
            };
            let results = store_deliveries_one_by_one(&txn, ids, &deliveries).await;
            let stored = match insert_events_isolated(&txn, ids, shard, events).await {
                Ok(models) => models,
                Err(error) => {
                    tracing::error!(%error, "events of a batch could not be stored");
                    Vec::new()
                }
            };
            if let Err(error) = add_counts_isolated(&txn, shard, &counts).await {
                tracing::error!(%error, "counted requests of a batch could not be stored");
            }
            (txn, results, stored)
        }
    };

    let mut done_works = Vec::with_capacity(works.len());
    let mut committed_works = Vec::new();
    for (work, reply, heard) in works {
        match in_savepoint(&txn, work).await {
            Ok(value) if heard == Heard::Committed => committed_works.push((reply, value)),
            Ok(value) => done_works.push((reply, value)),
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }
    Some(Written {
        txn,
        done_works,
        committed_works,
        replies,
        delivery_results,
        stored_events,
    })
}

/// Commits a written batch; its callers hear back once the commit is durable (those of
/// `Heard::Committed` once it is made).
///
/// On PostgreSQL this runs while the writer writes the next batch on its second connection: the
/// commit's wait for the log flush (half a millisecond or more, with nothing else for the writer
/// to do) no longer stands between two batches. It cannot deadlock: a committing transaction
/// waits for no lock, so the next batch waits at most for this commit (on a row both touch, such
/// as the minute's rollup), never the other way round. And the next batch holds only requests
/// that were not answered yet, so none of them was sent knowing of this one's outcome.
async fn commit_batch(
    written: Written,
    on_events: EventsCommitted,
    acknowledge: Arc<Acknowledger>,
) {
    let Written {
        txn,
        done_works,
        committed_works,
        replies,
        delivery_results,
        stored_events,
    } = written;
    match txn.commit().await {
        Ok(()) => {
            for (reply, value) in committed_works {
                let _ = reply.send(Ok(value));
            }
            acknowledge.after_commit(Box::new(move |durable| match durable {
                Ok(()) => {
                    for (reply, value) in done_works {
                        let _ = reply.send(Ok(value));
                    }
                    for (reply, result) in replies.into_iter().zip(delivery_results) {
                        let _ = reply.send(result);
                    }
                    if !stored_events.is_empty() {
                        on_events(stored_events);
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "a committed batch could not be made durable; nothing in it is acknowledged");
                    refuse_all(&error, done_works, replies);
                }
            }));
        }
        Err(error) => {
            tracing::error!(%error, "batch commit failed; nothing in it is acknowledged");
            let works = committed_works.into_iter().chain(done_works).collect();
            refuse_all(&StoreError::from(error), works, replies);
        }
    }
}

/// Hands committed batches their acknowledgement, at once or after the log is flushed.
enum Acknowledger {
    OnCommit,
    AfterFlush {
        flusher: std::sync::mpsc::Sender<Acknowledge>,
        log: PathBuf,
    },
}

impl Acknowledger {
    fn after_commit(&self, acknowledge: Acknowledge) {
        match self {
            Self::OnCommit => acknowledge(Ok(())),
            Self::AfterFlush { flusher, log } => {
                if let Err(unsent) = flusher.send(acknowledge) {
                    // The flusher is gone (it panicked: it only ends after the writer): flush here.
                    (unsent.0)(flush(log));
                }
            }
        }
    }
}

/// The flusher's loop: takes every batch committed so far, flushes the log once for all of them,
/// then acknowledges them. Ends when the writer is gone and nothing is left.
fn flush_log_loop(log: &std::path::Path, waiting: &std::sync::mpsc::Receiver<Acknowledge>) {
    while let Ok(first) = waiting.recv() {
        let batches: Vec<Acknowledge> = std::iter::once(first).chain(waiting.try_iter()).collect();
        let flushed = flush(log);
        for acknowledge in batches {
            acknowledge(flushed.clone());
        }
    }
}

/// `fdatasync` of the log file. Opened anew each time: one open per flush costs nothing beside the
/// flush, and never holds on to a file SQLite has since replaced.
fn flush(log: &std::path::Path) -> Result<(), StoreError> {
    std::fs::File::open(log)
        .and_then(|file| file.sync_data())
        .map_err(|error| StoreError::Database(format!("flushing {}: {error}", log.display())))
}

/// Nothing of a batch is acknowledged: every caller hears `error` instead.
fn refuse_all(
    error: &StoreError,
    done_works: Vec<(Reply<Value>, Value)>,
    replies: Vec<Reply<DeliveryOutcome>>,
) {
    for (reply, _) in done_works {
        let _ = reply.send(Err(error.clone()));
    }
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// No transaction could be opened: every job of the batch hears so (events are lost, and logged).
fn fail_all(
    error: &DbErr,
    works: Vec<(Work, Reply<Value>, Heard)>,
    replies: Vec<Reply<DeliveryOutcome>>,
) {
    tracing::error!(%error, "cannot open a write transaction");
    let error = StoreError::from(error.clone());
    for (_, reply, _) in works {
        let _ = reply.send(Err(error.clone()));
    }
    for reply in replies {
        let _ = reply.send(Err(error.clone()));
    }
}

/// Deliveries and events of a batch in the transaction itself, no savepoint.
async fn store_together(
    txn: &DatabaseTransaction,
    ids: &IdAllocator,
    shard: i64,
    deliveries: &[InlineDelivery],
    events: &[NewEvent],
    counts: &[Rollup],
) -> Result<(Vec<DeliveryOutcome>, Vec<events::Model>), DbErr> {
    ids.reserve(
        txn,
        &[("deliveries", deliveries.len()), ("events", events.len())],
    )
    .await?;
    let outcomes = if deliveries.is_empty() {
        Vec::new()
    } else {
        store_deliveries(txn, ids, deliveries).await?
    };
    let models = insert_events(txn, ids, events).await?;
    add_events(txn, shard, &models).await?;
    add_counts(txn, shard, counts).await?;
    Ok((outcomes, models))
}

/// Counted requests in a savepoint of their own (the isolated path).
async fn add_counts_isolated(
    txn: &DatabaseTransaction,
    shard: i64,
    counts: &[Rollup],
) -> Result<(), DbErr> {
    let savepoint = txn.begin().await?;
    match add_counts(&savepoint, shard, counts).await {
        Ok(()) => savepoint.commit().await,
        Err(error) => {
            let _ = savepoint.rollback().await;
            Err(error)
        }
    }
}

/// Runs one closure job in a savepoint; a failure or panic rolls back only its own writes.
async fn in_savepoint(txn: &DatabaseTransaction, work: Work) -> Result<Value, StoreError> {
    let savepoint = txn.begin().await?;
    match AssertUnwindSafe(work(&savepoint)).catch_unwind().await {
        Ok(Ok(value)) => {
            savepoint.commit().await?;
            Ok(value)
        }
        Ok(Err(error)) => {
            let _ = savepoint.rollback().await;
            Err(error.into())
        }
        Err(_) => {
            tracing::error!("a write job panicked; its savepoint is rolled back");
            let _ = savepoint.rollback().await;
            Err(StoreError::Database("write job panicked".into()))
        }
    }
}

/// Each delivery in a savepoint of its own, so only a faulty one fails (after the batch as a whole
/// did).
async fn store_deliveries_one_by_one(
    txn: &DatabaseTransaction,
    ids: &IdAllocator,
    deliveries: &[InlineDelivery],
) -> Vec<Result<DeliveryOutcome, StoreError>> {
    let mut results = Vec::with_capacity(deliveries.len());
    for one in deliveries.chunks(1) {
        results.push(match attempt_deliveries(txn, ids, one).await {
            Ok(mut outcome) => outcome.pop().ok_or(StoreError::Stopped),
            Err(error) => Err(error.into()),
        });
    }
    results
}

async fn attempt_deliveries(
    txn: &DatabaseTransaction,
    ids: &IdAllocator,
    deliveries: &[InlineDelivery],
) -> Result<Vec<DeliveryOutcome>, DbErr> {
    let savepoint = txn.begin().await?;
    match store_deliveries(&savepoint, ids, deliveries).await {
        Ok(outcomes) => {
            savepoint.commit().await?;
            Ok(outcomes)
        }
        Err(error) => {
            let _ = savepoint.rollback().await;
            Err(error)
        }
    }
}

async fn insert_events_isolated(
    txn: &DatabaseTransaction,
    ids: &IdAllocator,
    shard: i64,
    events: Vec<NewEvent>,
) -> Result<Vec<events::Model>, DbErr> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let savepoint = txn.begin().await?;
    let stored = match insert_events(&savepoint, ids, &events).await {
        Ok(models) => add_events(&savepoint, shard, &models)
            .await
            .map(|()| models),
        Err(error) => Err(error),
    };
    match stored {
        Ok(models) => {
            savepoint.commit().await?;
            Ok(models)
        }
        Err(error) => {
            let _ = savepoint.rollback().await;
            Err(error)
        }
    }
}

/// SQLite answers "database is locked" when another process holds the write lock longer than the
/// busy timeout; a short retry keeps a transient lock from failing a whole batch.
async fn begin_with_retry(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mut delay = Duration::from_millis(20);
    let mut attempt = 0;
    loop {
        match db.begin().await {
            Ok(txn) => return Ok(txn),
            // A database that cannot be reached is not busy: the callers hear it at once (a
            // 503 the sender retries) rather than after the retries.
            Err(error) if attempt < 5 && !crate::db::is_unreachable(&error) => {
                tracing::warn!(%error, attempt, "retrying write transaction");
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Database, Statement};

    use super::*;

    async fn sqlite() -> (DatabaseConnection, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/w.db?mode=rwc", dir.path().display());
        let db = Database::connect(&url).await.unwrap();
        db.execute_unprepared("CREATE TABLE t (v INTEGER PRIMARY KEY)")
            .await
            .unwrap();
        (db, dir)
    }

    /// A writer nobody listens to for events.
    fn start(
        db: &DatabaseConnection,
        durability: Durability,
        stop: &CancellationToken,
    ) -> (Writer, JoinHandle<()>) {
        Writer::start(db.clone(), durability, Arc::new(|_| {}), stop.clone())
    }

    fn insert(
        v: i64,
    ) -> impl for<'t> FnOnce(&'t DatabaseTransaction) -> BoxFuture<'t, Result<i64, DbErr>> + Send + 'static
    {
        move |txn| {
            Box::pin(async move {
                txn.execute_raw(Statement::from_string(
                    txn.get_database_backend(),
                    format!("INSERT INTO t (v) VALUES ({v})"),
                ))
                .await?;
                Ok(v)
            })
        }
    }

    async fn count(db: &DatabaseConnection) -> i64 {
        db.query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS n FROM t",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap()
    }

    fn delivery(post_id: &str) -> InlineDelivery {
        use super::super::ingestion::{DeliveryMeta, ParsedBody};
        InlineDelivery {
            meta: DeliveryMeta {
                snapshot_id: Some("s_writer".into()),
                filename: None,
                replay_key: None,
                client_ip: "127.0.0.1".into(),
                received_ms: 1_000,
            },
            body: ParsedBody {
                posts: vec![delivery::records::Post {
                    platform: "instagram".into(),
                    post_id: post_id.into(),
                    url: None,
                    author: None,
                    posted_at_ms: None,
                    likes: None,
                    comments: None,
                    shares: None,
                    views: None,
                    data: "{}".into(),
                }],
                ..Default::default()
            },
            raw: Some(b"[{}]".to_vec()),
        }
    }

    fn event(records: i64) -> NewEvent {
        NewEvent {
            at_ms: 1_000,
            endpoint: "webhook",
            outcome: "accepted",
            status: 200,
            latency_us: 10,
            bytes: 4,
            client_ip: None,
            user_agent: None,
            snapshot_id: None,
            platform: None,
            records: Some(records),
            delivery_id: None,
            error: None,
            headers: None,
        }
    }

    #[tokio::test]
    async fn one_refused_delivery_in_a_batch_fails_alone() {
        let (db, _dir) = sqlite().await;
        crate::db::migrate(&db).await.unwrap();
        db.execute_unprepared(
            "CREATE TRIGGER refuse BEFORE INSERT ON posts WHEN NEW.post_id = 'bad' \
             BEGIN SELECT RAISE(ABORT, 'refused post'); END",
        )
        .await
        .unwrap();
        let stop = CancellationToken::new();
        let (writer, task) = start(&db, Durability::OnCommit, &stop);
        // Hold the writer in a batch so that everything below queues up for the next one.
        let holding = writer.clone();
        let hold = tokio::spawn(async move {
            holding
                .run(|_| {
                    Box::pin(async {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        Ok(())
                    })
                })
                .await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut handles = Vec::new();
        for i in 0..40 {
            let writer = writer.clone();
            let post_id = if i == 17 {
                "bad".into()
            } else {
                format!("p{i}")
            };
            writer.record_event(event(i));
            handles.push(tokio::spawn(async move {
                writer.store_delivery(delivery(&post_id)).await
            }));
        }
        hold.await.unwrap().unwrap();
        let mut stored = 0;
        for (i, handle) in handles.into_iter().enumerate() {
            match handle.await.unwrap() {
                Ok(DeliveryOutcome::Stored { .. }) => stored += 1,
                Err(StoreError::Database(e)) if i == 17 => assert!(e.contains("refused post")),
                other => panic!("delivery {i}: {other:?}"),
            }
        }
        assert_eq!(stored, 39);
        stop.cancel();
        task.await.unwrap();
        for (table, rows) in [("posts", 39), ("deliveries", 39), ("events", 40)] {
            let sql = format!("SELECT count(*) AS n FROM {table}");
            let n: i64 = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap()
                .try_get("", "n")
                .unwrap();
            assert_eq!(n, rows, "{table}");
        }
    }

    /// A writer on a WAL database whose log cannot be flushed: its commits happen, its flushes
    /// fail. Returns the database, its directory, the writer, its task and its stop token.
    async fn writer_that_cannot_flush() -> (
        DatabaseConnection,
        tempfile::TempDir,
        Writer,
        JoinHandle<()>,
        CancellationToken,
    ) {
        let (db, dir) = sqlite().await;
        db.execute_unprepared("PRAGMA journal_mode = WAL")
            .await
            .unwrap();
        let stop = CancellationToken::new();
        let missing = dir.path().join("no-such-dir").join("w.db-wal");
        let (writer, task) = start(&db, Durability::FlushLog(missing), &stop);
        (db, dir, writer, task, stop)
    }

    #[tokio::test]
    async fn a_batch_is_acknowledged_only_once_its_log_is_flushed() {
        // The commit happens, but nobody may hear it is durable.
        let (db, dir, writer, task, stop) = writer_that_cannot_flush().await;
        match writer.run(insert(1)).await {
            Err(StoreError::Database(error)) => assert!(error.contains("flushing"), "{error}"),
            other => panic!("acknowledged without a flush: {other:?}"),
        }
        stop.cancel();
        task.await.unwrap();

        // The real log: every one of many concurrent jobs is acknowledged, and stored.
        let log = dir.path().join("w.db-wal");
        let stop = CancellationToken::new();
        let (writer, task) = start(&db, Durability::FlushLog(log), &stop);
        let mut handles = Vec::new();
        for v in 10..210 {
            let writer = writer.clone();
            handles.push(tokio::spawn(async move { writer.run(insert(v)).await }));
        }
        for handle in handles {
            handle.await.unwrap().unwrap();
        }
        assert_eq!(count(&db).await, 201);
        stop.cancel();
        task.await.unwrap();
    }

    /// Work heard at the commit is answered without the flush: with a log that cannot be
    /// flushed, it is answered (and its row committed) where durable work is refused.
    #[tokio::test]
    async fn committed_work_is_answered_at_the_commit_without_waiting_for_the_flush() {
        let (db, _dir, writer, task, stop) = writer_that_cannot_flush().await;
        assert_eq!(
            writer.run_heard(Heard::Committed, insert(1)).await.unwrap(),
            1
        );
        assert!(
            writer.run(insert(2)).await.is_err(),
            "durable without a flush"
        );
        assert_eq!(
            writer.run_heard(Heard::Committed, insert(3)).await.unwrap(),
            3
        );
        assert_eq!(count(&db).await, 3, "all three committed");
        stop.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn concurrent_jobs_commit_and_a_failing_one_does_not_take_others_down() {
        let (db, _dir) = sqlite().await;
        let stop = CancellationToken::new();
        let (writer, task) = start(&db, Durability::OnCommit, &stop);
        let mut handles = Vec::new();
        for v in 0..200 {
            let writer = writer.clone();
            handles.push(tokio::spawn(
                async move { writer.run(insert(v % 100)).await },
            ));
        }
        let mut ok = 0;
        let mut failed = 0;
        for handle in handles {
            match handle.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Database(_)) => failed += 1,
                Err(other) => panic!("{other}"),
            }
        }
        // Each value 0..100 twice: the second insert of each violates the primary key.
        assert_eq!((ok, failed), (100, 100));
        assert_eq!(count(&db).await, 100);
        stop.cancel();
        task.await.unwrap();
        assert!(matches!(
            writer.run(insert(1000)).await,
            Err(StoreError::Stopped)
        ));
    }
}
