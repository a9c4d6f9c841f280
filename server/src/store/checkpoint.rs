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

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr, Statement};

    use super::*;
    use crate::store::Writer;

    fn insert_blob(
        bytes: usize,
    ) -> impl for<'t> FnOnce(
        &'t DatabaseTransaction,
    ) -> futures_util::future::BoxFuture<'t, Result<(), DbErr>>
    + Send
    + 'static {
        move |txn| {
            Box::pin(async move {
                txn.execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Sqlite,
                    "INSERT INTO t (b) VALUES (?)",
                    [vec![7u8; bytes].into()],
                ))
                .await?;
                Ok(())
            })
        }
    }

    /// 192 MiB written in 1 MiB commits, one after the other, while the background checkpoints:
    /// without the writer's own checkpoint the log keeps growing (tried: to 47,019 of the 49,152
    /// frames); with it the log stays near `RESTART_FRAMES`, plus what is committed between two
    /// background reports (bounds generous for a loaded test machine).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_log_starts_over_under_sustained_writes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.db");
        let url = format!("sqlite://{}?mode=rwc", file.display())
            .parse()
            .unwrap();
        let readers = crate::db::connect(&url).await.unwrap();
        readers
            .execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
            .await
            .unwrap();
        let stop = CancellationToken::new();
        let (writer_db, durability) = crate::db::connect_writer(&url).await.unwrap();
        let (writer, task) = Writer::start(writer_db, durability, Arc::new(|_| {}), stop.clone());
        let background = spawn(readers.clone(), writer.wal_frames(), stop.clone());
        let mut longest = 0;
        for _ in 0..192 {
            writer.run(insert_blob(1 << 20)).await.unwrap();
            longest = longest.max(writer.wal_frames().get());
        }
        stop.cancel();
        task.await.unwrap();
        background.await.unwrap();

        // 192 MiB are 49,152 pages: without restarts the log would see them all.
        assert!(longest > 0, "no checkpoint reported the log");
        assert!(
            longest < 3 * RESTART_FRAMES,
            "the log grew to {longest} frames"
        );
        let wal = std::fs::metadata(dir.path().join("c.db-wal"))
            .unwrap()
            .len();
        // Over 192 MiB had the log never started over.
        assert!(wal < 128 << 20, "the log file is {wal} bytes");
        let rows = readers
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "SELECT count(*) AS n FROM t",
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get::<i64>("", "n")
            .unwrap();
        assert_eq!(rows, 192);
    }
}
