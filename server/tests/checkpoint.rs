//! The SQLite log under sustained writes, in a test binary of its own: it measures how far the log
//! grows while it writes, and other tests' flushes and CPU beside it (in the library's test
//! binary, where tests run two at a time) made it fail about one run in five. Test binaries run
//! one after another, so here it runs alone.

use std::sync::Arc;

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement};
use server::config::PoolConfig;
use server::store::Writer;
use server::store::checkpoint::{RESTART_FRAMES, spawn};
use tokio_util::sync::CancellationToken;

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
    let pool = PoolConfig::default_for(&url);
    let readers = server::db::connect(&url, &pool).await.unwrap();
    readers
        .execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)")
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let (writer_db, durability) = server::db::connect_writer(&url, &pool).await.unwrap();
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
