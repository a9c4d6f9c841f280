//! Ids for the rows the writer inserts in batches (events, deliveries), known before the insert so
//! that one multi-row statement can store many rows and everything that refers to them.
//!
//! PostgreSQL: blocks of the table's own identity sequence (`nextval`), safe with several instances.
//! SQLite: a counter per table, seeded from the highest id ever used (`max(id)` and
//! `sqlite_sequence`); one process owns a SQLite file, and every insert into these tables takes its
//! id here.

use std::collections::HashMap;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};
use tokio::sync::Mutex;

#[derive(Default)]
pub struct IdAllocator {
    sqlite_next: Mutex<HashMap<&'static str, i64>>,
}

impl IdAllocator {
    /// `count` new ids for `table` (whose primary key is `id`), ascending.
    pub async fn take(
        &self,
        db: &impl ConnectionTrait,
        table: &'static str,
        count: usize,
    ) -> Result<Vec<i64>, DbErr> {
        if count == 0 {
            return Ok(Vec::new());
        }
        match db.get_database_backend() {
            DatabaseBackend::Postgres => {
                let rows = db
                    .query_all_raw(Statement::from_string(
                        DatabaseBackend::Postgres,
                        format!(
                            "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id FROM generate_series(1, {count})"
                        ),
                    ))
                    .await?;
                let mut ids = rows
                    .iter()
                    .map(|row| row.try_get::<i64>("", "id"))
                    .collect::<Result<Vec<_>, _>>()?;
                ids.sort_unstable();
                Ok(ids)
            }
            _ => {
                let mut next = self.sqlite_next.lock().await;
                let first = match next.get(table) {
                    Some(first) => *first,
                    None => highest_used(db, table).await? + 1,
                };
                next.insert(table, first + count as i64);
                Ok((first..first + count as i64).collect())
            }
        }
    }
}

async fn highest_used(db: &impl ConnectionTrait, table: &str) -> Result<i64, DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Sqlite,
            format!(
                "SELECT max(coalesce((SELECT max(id) FROM {table}), 0), \
                 coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{table}'), 0)) AS id"
            ),
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "id"))
        .transpose()?
        .unwrap_or(0))
}
