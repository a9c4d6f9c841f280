//! SQLite's write-ahead log, copied back into the database file off the writer's path.
//!
//! Automatic checkpoints are off (`db::connect`): SQLite would run them inside a commit, stalling
//! that batch and every answer waiting on it. Instead a background task checkpoints every
//! `EVERY` on a reader connection, beside the writer. The log only starts over when a write
//! transaction begins on a fully copied log, which under sustained writes a background checkpoint
//! rarely leaves behind (the writer commits meanwhile). So once the log holds more than
//! `RESTART_FRAMES`, the writer checkpoints itself between two batches: nothing is committed
//! meanwhile, the copy completes (it is short: the background copied nearly all of it) and the next
//! batch starts the log over.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often the background copies the log.
const EVERY: Duration = Duration::from_millis(100);
/// Log frames (pages of 4 KiB) above which the writer checkpoints itself: 32 MiB.
pub const RESTART_FRAMES: i64 = 8192;

/// The log's length as last seen by a checkpoint, shared by the background task and the writer.
#[derive(Debug, Default, Clone)]
pub struct WalFrames(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    frames: AtomicI64,
    /// Keeps the two checkpoints apart: SQLite would make the second wait in its busy handler,
    /// which sleeps in steps of up to 25 ms.
    checkpointing: Mutex<()>,
}

impl WalFrames {
    pub fn get(&self) -> i64 {
        self.0.frames.load(Ordering::Relaxed)
    }

    fn set(&self, frames: i64) {
        self.0.frames.store(frames, Ordering::Relaxed);
    }
}

/// Runs one PASSIVE checkpoint (it never waits for readers or the writer) and records the log's
/// length it saw. Nothing to do on PostgreSQL.
pub async fn run(db: &DatabaseConnection, frames: &WalFrames) {
    if db.get_database_backend() != DatabaseBackend::Sqlite {
        return;
    }
    let _alone = frames.0.checkpointing.lock().await;
    let statement =
        Statement::from_string(DatabaseBackend::Sqlite, "PRAGMA wal_checkpoint(PASSIVE)");
    match db.query_one_raw(statement).await {
        // Columns: busy, log (frames in the log), checkpointed.
        Ok(Some(row)) => frames.set(row.try_get_by_index::<i64>(1).unwrap_or(0)),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "WAL checkpoint failed"),
    }
}

/// Checkpoints in the background on `readers` (never the writer's connection) until `stop`.
pub fn spawn(
    readers: DatabaseConnection,
    frames: WalFrames,
    stop: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        if readers.get_database_backend() != DatabaseBackend::Sqlite {
            return;
        }
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => run(&readers, &frames).await,
                _ = stop.cancelled() => break,
            }
        }
    })
}
