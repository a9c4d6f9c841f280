//! Multi-row INSERT statements for the writer's hot path, written here rather than built through
//! ActiveModels and sea-query.
//!
//! Two reasons, both measured in profiles of `bench ingest`:
//! - building a statement through `insert_many` took about a fifth of the writer thread's time
//!   (each value wrapped, cloned and walked several times); here each value is cloned once;
//! - every distinct SQL text is prepared anew, and a batch's row counts vary.
//!
//! How many rows a statement holds differs by database (`statement_sizes`):
//! - SQLite: a power of two, so a table has at most `MAX_ROWS.ilog2() + 1` texts, which the
//!   connection's statement cache keeps (preparing was 6% of SQLite's thread before). Several
//!   statements cost little: SQLite runs in-process.
//! - PostgreSQL: up to `PG_EXACT_ROWS` rows in one statement of exactly that many; more in
//!   power-of-two pieces of at least that many, then the rest in one. Each statement there is a
//!   round trip that the single writer waits for; the power-of-two pieces made ~12 of a
//!   `bench ingest` batch's ~21, where a batch of up to 64 rows a table now takes one each. A table
//!   has at most `PG_EXACT_ROWS` + 2 texts, which the writer's connections keep prepared
//!   (`db::connect_writer`). Bounded on purpose: PostgreSQL keeps ~3.3 KB per row of a prepared
//!   insert (64 rows: 197 KB; 256 rows: 838 KB, measured with `pg_backend_memory_contexts`), so a
//!   text for every count up to 256 could hold ~100 MB per table and connection. (Every row in one
//!   JSON parameter, one text per table, was tried: `json_populate_recordset` cost PostgreSQL more
//!   than the round trips it saved, and the rate halved.)

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

/// Rows per statement at most (with 16 columns, 4,096 parameters: far below either database's
/// limit).
pub const MAX_ROWS: usize = 256;

/// PostgreSQL: rows stored in one statement of exactly their count (see the module's comment).
pub const PG_EXACT_ROWS: usize = 64;

/// The row counts `rows` rows are stored in, largest first, each at most `MAX_ROWS`.
/// SQLite: powers of two (37 rows are 32 + 4 + 1). PostgreSQL: the same down to `PG_EXACT_ROWS`,
/// then the rest at once (37 rows are 37; 600 are 256 + 256 + 64 + 24).
pub fn statement_sizes(backend: DatabaseBackend, mut rows: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if rows == 0 {
            return None;
        }
        let size = match backend {
            DatabaseBackend::Postgres if rows <= PG_EXACT_ROWS => rows,
            _ => Ord::min(1 << rows.ilog2(), MAX_ROWS),
        };
        rows -= size;
        Some(size)
    })
}

/// `INSERT INTO <table> (<columns>) VALUES (...), ... <tail>` statements for `rows`, in order;
/// `values` appends one row's values, one per column.
pub fn insert_statements<R>(
    backend: DatabaseBackend,
    table: &str,
    columns: &[&str],
    tail: &str,
    rows: &[R],
    mut values: impl FnMut(&R, &mut Vec<Value>),
) -> Vec<Statement> {
    let mut statements = Vec::new();
    let mut start = 0;
    for size in statement_sizes(backend, rows.len()) {
        let mut bound = Vec::with_capacity(size * columns.len());
        for row in &rows[start..start + size] {
            let before = bound.len();
            values(row, &mut bound);
            debug_assert_eq!(bound.len() - before, columns.len(), "one value per column");
        }
        let sql = insert_sql(backend, table, columns, size, tail);
        statements.push(Statement::from_sql_and_values(backend, sql, bound));
        start += size;
    }
    statements
}

/// Runs statements that return no rows, in order.
pub async fn execute_all(
    db: &impl ConnectionTrait,
    statements: Vec<Statement>,
) -> Result<(), DbErr> {
    for statement in statements {
        db.execute_raw(statement).await?;
    }
    Ok(())
}

fn insert_sql(
    backend: DatabaseBackend,
    table: &str,
    columns: &[&str],
    rows: usize,
    tail: &str,
) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(64 + rows * columns.len() * 6 + tail.len());
    // Quoted: some names (`key`) are keywords.
    let _ = write!(
        sql,
        "INSERT INTO \"{table}\" (\"{}\") VALUES ",
        columns.join("\", \"")
    );
    let mut parameter = 0;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns.len() {
            if column > 0 {
                sql.push_str(", ");
            }
            parameter += 1;
            match backend {
                DatabaseBackend::Postgres => {
                    let _ = write!(sql, "${parameter}");
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    if !tail.is_empty() {
        sql.push(' ');
        sql.push_str(tail);
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_powers_of_two_that_add_up() {
        for rows in 0..2000 {
            let sizes: Vec<usize> = statement_sizes(DatabaseBackend::Sqlite, rows).collect();
            assert_eq!(sizes.iter().sum::<usize>(), rows, "{rows}");
            assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= MAX_ROWS));
            assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first");
        }
        let sizes = |backend, rows| statement_sizes(backend, rows).collect::<Vec<_>>();
        assert_eq!(sizes(DatabaseBackend::Sqlite, 37), [32, 4, 1]);
        assert_eq!(sizes(DatabaseBackend::Sqlite, 600), [256, 256, 64, 16, 8]);
        assert_eq!(sizes(DatabaseBackend::Postgres, 37), [37]);
        assert_eq!(sizes(DatabaseBackend::Postgres, 64), [64]);
        assert_eq!(sizes(DatabaseBackend::Postgres, 100), [64, 36]);
        assert_eq!(sizes(DatabaseBackend::Postgres, 600), [256, 256, 64, 24]);
        // A table's texts on PostgreSQL: every count up to 64, and 128 and 256.
        let texts: std::collections::BTreeSet<usize> = (0..2000)
            .flat_map(|rows| sizes(DatabaseBackend::Postgres, rows))
            .collect();
        assert_eq!(texts.len(), PG_EXACT_ROWS + 2);
    }

    #[test]
    fn statements_bind_every_row_in_order() {
        let rows: Vec<i64> = (0..5).collect();
        let statements = insert_statements(
            DatabaseBackend::Postgres,
            "t",
            &["a", "b"],
            "ON CONFLICT DO NOTHING",
            &rows,
            |row, values| {
                values.push((*row).into());
                values.push(format!("r{row}").into());
            },
        );
        assert_eq!(statements.len(), 1, "one statement on PostgreSQL");
        assert_eq!(
            statements[0].sql,
            r#"INSERT INTO "t" ("a", "b") VALUES ($1, $2), ($3, $4), ($5, $6), ($7, $8), ($9, $10) ON CONFLICT DO NOTHING"#
        );
        let values = &statements[0].values.as_ref().unwrap().0;
        assert_eq!(values[8..], [Value::from(4i64), Value::from("r4")]);
        let sqlite = insert_statements(DatabaseBackend::Sqlite, "t", &["a"], "", &rows, {
            |row, values: &mut Vec<Value>| values.push((*row).into())
        });
        let texts: Vec<&str> = sqlite.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            texts,
            [
                r#"INSERT INTO "t" ("a") VALUES (?), (?), (?), (?)"#,
                r#"INSERT INTO "t" ("a") VALUES (?)"#
            ],
            "powers of two on SQLite"
        );
        assert_eq!(sqlite[1].values.as_ref().unwrap().0, [Value::from(4i64)]);
    }
}
