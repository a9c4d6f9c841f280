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
//! - PostgreSQL: all rows in one statement (up to `MAX_ROWS`). Each statement there is a round
//!   trip that the single writer waits for; the power-of-two pieces made ~12 of a `bench ingest`
//!   batch's ~21. The writer's connections keep enough prepared texts (`db::connect_writer`) for
//!   every row count of every table, so each is prepared once. (Every row in one JSON parameter, one
//!   text per table, was tried: `json_populate_recordset` cost PostgreSQL more than the round
//!   trips it saved, and the rate halved.)

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement, Value};

/// Rows per statement at most (with 16 columns, 4,096 parameters: far below either database's
/// limit).
pub const MAX_ROWS: usize = 256;

/// The row counts `rows` rows are stored in, largest first, each at most `MAX_ROWS`.
/// SQLite: powers of two (37 rows are 32 + 4 + 1); PostgreSQL: as many as fit (37 rows are 37).
pub fn statement_sizes(backend: DatabaseBackend, mut rows: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if rows == 0 {
            return None;
        }
        let size = match backend {
            DatabaseBackend::Postgres => Ord::min(rows, MAX_ROWS),
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
        assert_eq!(sizes(DatabaseBackend::Postgres, 600), [256, 256, 88]);
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
