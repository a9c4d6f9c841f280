//! The database connection: SQLite (default) or PostgreSQL, one pool for the whole process.

use std::path::PathBuf;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    TransactionTrait,
};

use crate::config::{DatabaseUrl, PoolConfig};

/// The longest wait between two attempts to reach a database that is not there at start.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(30);

/// Connects with explicit pool settings. For SQLite: creates the file (and its directory) on first
/// start, WAL journal (readers never block the writer), `synchronous=FULL` (a committed transaction
/// survives a crash; the writer's own connection flushes differently, see `connect_writer`) and a
/// busy timeout instead of immediate lock errors.
pub async fn connect(url: &DatabaseUrl, pool: &PoolConfig) -> Result<DatabaseConnection, DbErr> {
    connect_with(url, pool, Role::Pool).await
}

/// `connect` (or `connect_writer`, through `attempt`) until it succeeds or fails for another
/// reason than reach: a database that is not there yet at start (a platform starting both at
/// once, a failover) is waited for, each failure logged with the next delay (1 s, doubling to
/// 30 s), rather than the process exiting and its supervisor restarting it in a loop. A refused
/// password, a missing database or an SQLite file that cannot be opened is not waited for: it
/// fails at once, with its reason.
pub async fn connect_patiently<T, F, Fut>(
    url: &DatabaseUrl,
    what: &str,
    attempt: F,
) -> Result<T, DbErr>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, DbErr>>,
{
    let mut delay = Duration::from_secs(1);
    for attempts in 1u32.. {
        match attempt().await {
            Ok(connected) => {
                if attempts > 1 {
                    tracing::info!(attempts, database = %url.redacted(), "{what}: connected");
                }
                return Ok(connected);
            }
            Err(error) if is_unreachable(&error) => {
                tracing::warn!(
                    attempts,
                    database = %url.redacted(),
                    retry_in_s = delay.as_secs(),
                    %error,
                    "{what}: the database cannot be reached; retrying"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(MAX_RETRY_DELAY);
            }
            Err(error) => return Err(error),
        }
    }
    unreachable!("the attempts never run out")
}

/// How a committed batch becomes durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durability {
    /// The commit is durable when it returns (PostgreSQL; SQLite with `synchronous=FULL`).
    OnCommit,
    /// SQLite with `synchronous=NORMAL` on the writer's connection: a commit writes the log file
    /// (this one) without flushing it; the log is flushed (`fdatasync`) before the batch is
    /// acknowledged. Until then a committed batch would survive the process being killed but not
    /// the machine losing power, so nobody hears of it before the flush. Checkpoints flush the log
    /// before they copy it and the database after, and the log only starts over once all of it is
    /// in the database, so nothing a flush is owed is overwritten first.
    FlushLog(PathBuf),
}

/// The writer's own connection (see `store::writer`): one, never shared, so its page cache stays
/// warm (a pooled connection would often come back stale after another connection read) and no
/// reader ever waits behind it for a pool slot. On PostgreSQL two: one batch commits on one while
/// the next is written on the other.
///
/// On a SQLite file it commits with `synchronous=NORMAL` (the log is written, not flushed) and the
/// writer flushes the log itself before it acknowledges (`Durability::FlushLog`): measured, the
/// flush inside each commit cost 13–15% of the durable request rate.
pub async fn connect_writer(
    url: &DatabaseUrl,
    pool: &PoolConfig,
) -> Result<(DatabaseConnection, Durability), DbErr> {
    let log = url
        .is_sqlite()
        .then(|| sqlite_file(url.as_str()))
        .flatten()
        .map(|file| PathBuf::from(format!("{}-wal", file.display())));
    let role = Role::Writer {
        connections: if url.is_sqlite() { 1 } else { 2 },
        flushes_log: log.is_some(),
    };
    let db = connect_with(url, pool, role).await?;
    Ok((db, log.map_or(Durability::OnCommit, Durability::FlushLog)))
}

/// Prepared statements a pooled PostgreSQL connection keeps (sqlx's default).
const POOL_STATEMENTS: usize = 100;

/// Prepared statements each of the writer's PostgreSQL connections keeps: its multi-row inserts
/// have a text per row count up to 64, and 128 and 256 (`store::multirow`), for each of six
/// tables, and each is prepared once instead of again whenever it fell out of a cache of 100.
const WRITER_STATEMENTS: usize = 512;

/// Which connections `connect_with` opens.
enum Role {
    /// The shared pool, `PoolConfig::size` connections.
    Pool,
    /// The writer's. `flushes_log`: its commits leave SQLite's log unflushed (`connect_writer`).
    Writer { connections: u32, flushes_log: bool },
}

async fn connect_with(
    url: &DatabaseUrl,
    pool: &PoolConfig,
    role: Role,
) -> Result<DatabaseConnection, DbErr> {
    let (connections, flushed_by_writer, statements) = match role {
        Role::Pool => (pool.size, false, POOL_STATEMENTS),
        Role::Writer {
            connections,
            flushes_log,
        } => (connections, flushes_log, WRITER_STATEMENTS),
    };
    let writer = matches!(role, Role::Writer { .. });
    let mut options = ConnectOptions::new(url.as_str());
    options
        .connect_timeout(pool.connect_timeout)
        .acquire_timeout(pool.acquire_timeout)
        .sqlx_logging(false);
    if url.is_sqlite() {
        let dir = sqlite_file(url.as_str()).and_then(|f| f.parent().map(PathBuf::from));
        if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(&dir).map_err(|e| {
                DbErr::Custom(format!(
                    "cannot create database directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        options
            .max_connections(connections)
            .min_connections(1)
            // A local file cannot drop the connection: a ping per acquire would only cost a round
            // trip to the connection's thread (for the writer, one per batch).
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(move |opts| {
                opts.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(if flushed_by_writer {
                        SqliteSynchronous::Normal
                    } else {
                        SqliteSynchronous::Full
                    })
                    .busy_timeout(Duration::from_secs(10))
                    // Checkpoints run beside the writer (`store::checkpoint`): no commit waits
                    // for one.
                    .pragma("wal_autocheckpoint", "0")
                    // Once restarted, the log file is cut back to this size (64 MiB).
                    .pragma("journal_size_limit", "67108864")
                    // Savepoints and multi-row statements keep a sub-journal of the pages they
                    // change; past 64 KiB SQLite spills it to a temporary file, which the
                    // writer's batches did on every commit (3.8% of the server's CPU in a profile).
                    .pragma("temp_store", "memory")
                    .foreign_keys(true)
                    // Rows cross from the connection's thread to the runtime through a queue
                    // of this many: room for a whole page of an export or a batch's answers,
                    // so SQLite's thread never waits for the reader mid-page.
                    .row_buffer_size(1024)
            });
    } else {
        options
            .max_connections(connections)
            .min_connections(1)
            // The writer's connection is pinged when it goes back to the pool (sqlx always does,
            // and drops a broken one then): a ping when it is taken again, once per batch, was
            // a second round trip on the writer's path (+4% PostgreSQL rate without it). A
            // connection that broke while idle fails its next batch (503) and is replaced.
            .test_before_acquire(!writer)
            .map_sqlx_postgres_opts(move |opts| opts.statement_cache_capacity(statements));
    }
    Database::connect(options).await
}

/// Whether `error` says the database cannot be reached (refused or dropped connections, no
/// connection free in time, TLS or protocol failures on the way): the request may succeed once it
/// is back, unlike an error in the statement or the data.
pub fn is_unreachable(error: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match error {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(error))
        | DbErr::Exec(RuntimeErr::SqlxError(error))
        | DbErr::Query(RuntimeErr::SqlxError(error)) => matches!(
            error.as_ref(),
            sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
        ),
        DbErr::Conn(_) => true,
        _ => false,
    }
}

/// The PostgreSQL advisory lock that one migrating instance holds at a time ("tfmigr").
const MIGRATION_LOCK: i64 = 0x7466_6d69_6772;

/// Applies every pending migration. On PostgreSQL all of them in one transaction that first takes
/// an advisory lock: instances started together on an empty database raced each other's
/// migrations, and all but one failed to start (seen with three started at once). The others
/// wait for the lock, then find nothing left to apply.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DatabaseBackend::Postgres {
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}

/// The file path of a `sqlite:` URL, or `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_paths() {
        assert_eq!(
            sqlite_file("sqlite://data/tf.db"),
            Some(PathBuf::from("data/tf.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:///abs/tf.db?mode=rwc"),
            Some(PathBuf::from("/abs/tf.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x"), None);
    }
}
