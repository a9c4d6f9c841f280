//! How much room each kind of data takes, and how much arrived lately: the database's own
//! account of its tables (SQLite's `dbstat`, PostgreSQL's `pg_total_relation_size`), indexes
//! counted with their table.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

/// What a table holds, in words.
pub fn holds(table: &str) -> &'static str {
    match table {
        "events" => "every request to the endpoints (the monitor's record)",
        "delivery_chunks" => "raw delivery bodies, kept for replay (WEBHOOK_BODY_RETENTION)",
        "posts" => "the collected posts, each with its record",
        "deliveries" => "one row per delivery file",
        "input_errors" => "inputs BrightData reported as failed",
        "snapshots" => "the collections and their completeness",
        "notifications" => "BrightData's status notifications",
        "replay_keys" => "duplicate detection (a week)",
        "rollups" => "per-minute and per-hour counters for the charts",
        "alerts" => "alerts",
        "revoked_sessions" => "ended dashboard sessions",
        "seaql_migrations" => "the schema's version",
        _ => "",
    }
}

/// Bytes per table, largest first.
pub async fn table_bytes(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let sql = match backend {
        // `dbstat` reads every page: its cost grows with the file (see the README's figure).
        DatabaseBackend::Sqlite => {
            "SELECT m.tbl_name AS name, SUM(d.pgsize) AS bytes \
             FROM dbstat d JOIN sqlite_master m ON m.name = d.name \
             GROUP BY m.tbl_name ORDER BY bytes DESC"
        }
        _ => {
            "SELECT relname::text AS name, pg_total_relation_size(relid)::bigint AS bytes \
             FROM pg_catalog.pg_statio_user_tables ORDER BY bytes DESC"
        }
    };
    let rows = db
        .query_all_raw(Statement::from_string(backend, sql))
        .await?;
    rows.into_iter()
        .map(|row| Ok((row.try_get("", "name")?, row.try_get("", "bytes")?)))
        .collect()
}

/// What arrived since `since` (Unix ms): events, deliveries, the posts they carried (new or
/// not) and their wire bytes still kept as raw bodies. Read from the events' time index and the
/// deliveries table (small rows), never from a scan of the posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arrived {
    pub events: i64,
    pub deliveries: i64,
    pub body_bytes: i64,
    pub posts: i64,
}

pub async fn arrived_since(db: &impl ConnectionTrait, since: i64) -> Result<Arrived, DbErr> {
    let backend = db.get_database_backend();
    let one = |sql: &str| Statement::from_sql_and_values(backend, sql, [since.into()]);
    let number = |row: &Option<sea_orm::QueryResult>, column: &str| -> Result<i64, DbErr> {
        Ok(row
            .as_ref()
            .map(|r| r.try_get::<Option<i64>>("", column))
            .transpose()?
            .flatten()
            .unwrap_or(0))
    };
    let placeholder = if backend == DatabaseBackend::Postgres {
        "$1"
    } else {
        "?"
    };
    let events = db
        .query_one_raw(one(&format!(
            "SELECT COUNT(*) AS n FROM events WHERE at_ms >= {placeholder}"
        )))
        .await?;
    let deliveries = db
        .query_one_raw(one(&format!(
            "SELECT COUNT(*) AS n, \
             CAST(SUM(CASE WHEN body_kept THEN wire_bytes ELSE 0 END) AS BIGINT) AS bytes, \
             CAST(SUM(posts) AS BIGINT) AS posts \
             FROM deliveries WHERE received_ms >= {placeholder}"
        )))
        .await?;
    Ok(Arrived {
        events: number(&events, "n")?,
        deliveries: number(&deliveries, "n")?,
        body_bytes: number(&deliveries, "bytes")?,
        posts: number(&deliveries, "posts")?,
    })
}
