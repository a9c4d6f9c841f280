//! The database connection: SQLite (default) or PostgreSQL, one pool for the whole process.

use std::path::PathBuf;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr};

use crate::config::DatabaseUrl;

/// Connects with explicit pool settings. For SQLite: creates the file (and its directory) on first
/// start, WAL journal (readers never block the writer), `synchronous=FULL` (a committed transaction
/// survives a crash: a 2xx must mean durable) and a busy timeout instead of immediate lock errors.
pub async fn connect(url: &DatabaseUrl) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.as_str());
    options
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
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
            .max_connections(8)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|opts| {
                opts.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    // The writer checkpoints after answering a batch (`writer::checkpoint`), so no
                    // commit waits for one.
                    .pragma("wal_autocheckpoint", "0")
                    .foreign_keys(true)
            });
    } else {
        options.max_connections(16).min_connections(1);
    }
    Database::connect(options).await
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
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
