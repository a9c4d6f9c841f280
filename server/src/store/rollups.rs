//! Rollups: events summed per minute and per hour. Two kinds:
//! - `rollups_{minute,hour}`: per (endpoint, outcome, platform), with counts, bytes, records and a
//!   latency histogram — metrics, health, alerts and charts read these;
//! - `snapshot_rollups_{minute,hour}`: per snapshot, counts only — the per-snapshot figures.
//!
//! The writer adds each batch of events to them in the same transaction, so they are always exactly
//! as current as the events, and they outlive the events' retention.
//!
//! A key's counts may be split over several rows, one per writer shard (`shard`, see
//! [`Shards`]): readers sum the rows they read, whatever their key, so they never see the split.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, Func, InsertStatement, OnConflict, Query,
    SelectStatement, SimpleExpr, UnionType, WithClause,
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, QueryResult};

use super::histogram::LatencyHistogram;
use crate::store::entities::events;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Minute,
    Hour,
}

impl Granularity {
    fn table(self) -> &'static str {
        match self {
            Self::Minute => "rollups_minute",
            Self::Hour => "rollups_hour",
        }
    }

    fn snapshot_table(self) -> &'static str {
        match self {
            Self::Minute => "snapshot_rollups_minute",
            Self::Hour => "snapshot_rollups_hour",
        }
    }

    pub fn span_ms(self) -> i64 {
        match self {
            Self::Minute => 60_000,
            Self::Hour => 3_600_000,
        }
    }

    pub fn floor(self, at_ms: i64) -> i64 {
        at_ms - at_ms.rem_euclid(self.span_ms())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub bucket_ms: i64,
    pub endpoint: String,
    pub outcome: String,
    /// '' when none.
    pub platform: String,
}

#[derive(Debug, Clone)]
pub struct Rollup {
    pub granularity: Granularity,
    pub key: RollupKey,
    pub requests: i64,
    pub bytes: i64,
    pub records: i64,
    pub latency_sum_us: i64,
    pub latency_max_us: i64,
    pub latency: LatencyHistogram,
}

/// Requests and records of one snapshot in one bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotRollup {
    pub bucket_ms: i64,
    pub snapshot_id: String,
    pub requests: i64,
    pub records: i64,
    pub bytes: i64,
}

impl Rollup {
    fn new(granularity: Granularity, key: RollupKey) -> Self {
        Self {
            granularity,
            key,
            requests: 0,
            bytes: 0,
            records: 0,
            latency_sum_us: 0,
            latency_max_us: 0,
            latency: LatencyHistogram::default(),
        }
    }

    /// An empty total to merge rows into.
    pub fn total() -> Self {
        Self::new(
            Granularity::Minute,
            RollupKey {
                bucket_ms: 0,
                endpoint: String::new(),
                outcome: String::new(),
                platform: String::new(),
            },
        )
    }

    /// An empty minute row for requests counted without an event row each (no platform).
    pub fn empty_minute(bucket_ms: i64, endpoint: &str, outcome: &str) -> Self {
        Self::new(
            Granularity::Minute,
            RollupKey {
                bucket_ms: Granularity::Minute.floor(bucket_ms),
                endpoint: endpoint.to_owned(),
                outcome: outcome.to_owned(),
                platform: String::new(),
            },
        )
    }

    /// Counts one request that stored no records.
    pub fn add(&mut self, bytes: i64, latency_us: i64) {
        self.requests += 1;
        self.bytes += bytes;
        self.latency_sum_us += latency_us;
        self.latency_max_us = Ord::max(self.latency_max_us, latency_us);
        self.latency.record(latency_us);
    }

    fn add_event(&mut self, event: &events::Model) {
        self.add(event.bytes, event.latency_us);
        self.records += event.records.unwrap_or(0);
    }

    /// Adds another rollup's numbers into this one (any key).
    pub fn merge(&mut self, other: &Rollup) {
        self.requests += other.requests;
        self.bytes += other.bytes;
        self.records += other.records;
        self.latency_sum_us += other.latency_sum_us;
        self.latency_max_us = Ord::max(self.latency_max_us, other.latency_max_us);
        self.latency.add(&other.latency);
    }

    fn from_row(granularity: Granularity, row: &QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            granularity,
            key: RollupKey {
                bucket_ms: row.try_get("", "bucket_ms")?,
                endpoint: row.try_get("", "endpoint")?,
                outcome: row.try_get("", "outcome")?,
                platform: row.try_get("", "platform")?,
            },
            requests: row.try_get("", "requests")?,
            bytes: row.try_get("", "bytes")?,
            records: row.try_get("", "records")?,
            latency_sum_us: row.try_get("", "latency_sum_us")?,
            latency_max_us: row.try_get("", "latency_max_us")?,
            latency: LatencyHistogram::decode(&row.try_get::<Vec<u8>>("", "latency_histogram")?),
        })
    }
}

/// Rows of one writer shard (`rollups_{minute,hour}.shard`). On PostgreSQL the batches of one
/// writer alternate between two shards of their own, picked at random when the writer starts: the
/// batch written while the last one commits does not wait for that one's row locks, and another
/// instance's batches never do. A row is still read and written under its lock, so two writers
/// that drew the same shard stay correct, only slower. SQLite has one writer: every row is shard 0.
#[derive(Debug, Clone, Copy)]
pub struct Shards {
    first: i64,
    count: i64,
}

impl Shards {
    /// The one shard of SQLite's only writer.
    pub const SOLE: Self = Self { first: 0, count: 1 };

    /// Two shards of a writer's own, at random (one of 2^31 pairs).
    pub fn random_pair() -> Self {
        use rand::RngCore;
        Self {
            first: 2 * i64::from(rand::rng().next_u32() >> 1) + 2,
            count: 2,
        }
    }

    /// The shard of the writer's `batch`-th batch.
    pub fn of_batch(self, batch: u64) -> i64 {
        self.first + (batch % self.count as u64) as i64
    }
}

const COLUMNS: [&str; 11] = [
    "bucket_ms",
    "endpoint",
    "outcome",
    "platform",
    "shard",
    "requests",
    "bytes",
    "records",
    "latency_sum_us",
    "latency_max_us",
    "latency_histogram",
];
const KEY_COLUMNS: usize = 5;
const SNAPSHOT_COLUMNS: [&str; 5] = ["bucket_ms", "snapshot_id", "requests", "records", "bytes"];

fn columns(names: &[&str]) -> Vec<Alias> {
    names.iter().map(|c| Alias::new(*c)).collect()
}

/// What a batch adds to the rollups of one granularity.
struct Additions {
    granularity: Granularity,
    deltas: BTreeMap<RollupKey, Rollup>,
    snapshots: Vec<SnapshotRollup>,
}

/// Adds stored events to every rollup, in rows of `shard`. Runs inside the writer's transaction.
pub async fn add_events(
    db: &impl ConnectionTrait,
    shard: i64,
    batch: &[events::Model],
) -> Result<(), DbErr> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut additions = Vec::with_capacity(2);
    for granularity in [Granularity::Minute, Granularity::Hour] {
        let mut deltas: BTreeMap<RollupKey, Rollup> = BTreeMap::new();
        let mut snapshots: BTreeMap<(i64, &str), SnapshotRollup> = BTreeMap::new();
        for event in batch {
            let bucket_ms = granularity.floor(event.at_ms);
            let key = RollupKey {
                bucket_ms,
                endpoint: event.endpoint.clone(),
                outcome: event.outcome.clone(),
                platform: event.platform.clone().unwrap_or_default(),
            };
            deltas
                .entry(key.clone())
                .or_insert_with(|| Rollup::new(granularity, key))
                .add_event(event);
            if let Some(snapshot) = event.snapshot_id.as_deref() {
                let row =
                    snapshots
                        .entry((bucket_ms, snapshot))
                        .or_insert_with(|| SnapshotRollup {
                            bucket_ms,
                            snapshot_id: snapshot.to_owned(),
                            requests: 0,
                            records: 0,
                            bytes: 0,
                        });
                row.requests += 1;
                row.records += event.records.unwrap_or(0);
                row.bytes += event.bytes;
            }
        }
        additions.push(Additions {
            granularity,
            deltas,
            snapshots: snapshots.into_values().collect(),
        });
    }
    apply(db, shard, additions).await
}

/// Adds minute rows counted elsewhere (refusals recorded without an event row each) to the minute
/// and hour rollups, in rows of `shard`.
pub async fn add_counts(
    db: &impl ConnectionTrait,
    shard: i64,
    minute_rows: &[Rollup],
) -> Result<(), DbErr> {
    if minute_rows.is_empty() {
        return Ok(());
    }
    let mut additions = Vec::with_capacity(2);
    for granularity in [Granularity::Minute, Granularity::Hour] {
        let mut deltas: BTreeMap<RollupKey, Rollup> = BTreeMap::new();
        for row in minute_rows {
            let key = RollupKey {
                bucket_ms: granularity.floor(row.key.bucket_ms),
                ..row.key.clone()
            };
            deltas
                .entry(key.clone())
                .or_insert_with(|| Rollup::new(granularity, key))
                .merge(row);
        }
        additions.push(Additions {
            granularity,
            deltas,
            snapshots: Vec::new(),
        });
    }
    apply(db, shard, additions).await
}

/// Adds `additions` to the stored rows of their keys in `shard`.
///
/// Histograms cannot be added in SQL: the affected rows are read, merged here and written back.
/// On PostgreSQL another writer may hold the same shard (a draw of the same number), so the rows
/// must be locked as they are read. But a row that does not exist yet cannot be locked, so two
/// writers would both merge into nothing and the later write would drop the earlier one's counts.
/// Hence one statement that inserts the missing rows empty and locks the others (an insert of the
/// same key waits for the other's commit), returning each as it stands; then one that writes
/// them all back with the snapshot counts. Two round trips for both granularities, where a
/// statement each was six: a round trip costs the writer ~0.3 ms under load.
async fn apply(
    db: &impl ConnectionTrait,
    shard: i64,
    additions: Vec<Additions>,
) -> Result<(), DbErr> {
    let postgres = db.get_database_backend() == DatabaseBackend::Postgres;
    let mut existing: Vec<(Granularity, Rollup)> = Vec::new();
    if postgres {
        let mut locks = Vec::new();
        for addition in &additions {
            let empty: Vec<Rollup> = addition
                .deltas
                .keys()
                .map(|key| Rollup::new(addition.granularity, key.clone()))
                .collect();
            locks.extend(
                insert_or_lock(addition.granularity, shard, &empty)
                    .into_iter()
                    .map(|insert| (addition.granularity, insert)),
            );
        }
        existing = run_locks(db, locks).await?;
    } else {
        for addition in &additions {
            let buckets: BTreeSet<i64> = addition.deltas.keys().map(|k| k.bucket_ms).collect();
            let rows = read(db, addition.granularity, Bucket::In(&buckets), Some(shard)).await?;
            existing.extend(rows.into_iter().map(|row| (addition.granularity, row)));
        }
    }
    let mut writes: Vec<InsertStatement> = Vec::new();
    for addition in additions {
        let granularity = addition.granularity;
        let mut merged: Vec<Rollup> = Vec::with_capacity(addition.deltas.len());
        for (key, delta) in addition.deltas {
            let mut row = existing
                .iter()
                .find(|(g, row)| *g == granularity && row.key == key)
                .map(|(_, row)| row.clone())
                .unwrap_or_else(|| Rollup::new(granularity, key));
            row.merge(&delta);
            merged.push(row);
        }
        writes.extend(replace(granularity, shard, &merged));
        writes.extend(add_snapshot_counts(granularity, &addition.snapshots));
    }
    if postgres {
        run_together(db, writes).await
    } else {
        for insert in writes {
            db.execute_raw(db.get_database_backend().build(&insert))
                .await?;
        }
        Ok(())
    }
}

/// PostgreSQL: runs the locking inserts in one statement (each a CTE returning its rows, tagged
/// with its granularity) and returns the rows.
async fn run_locks(
    db: &impl ConnectionTrait,
    locks: Vec<(Granularity, InsertStatement)>,
) -> Result<Vec<(Granularity, Rollup)>, DbErr> {
    if locks.is_empty() {
        return Ok(Vec::new());
    }
    let (granularities, statements): (Vec<Granularity>, Vec<InsertStatement>) =
        locks.into_iter().unzip();
    let with = with_ctes("locked", statements);
    let mut union: Option<SelectStatement> = None;
    for i in 0..granularities.len() {
        let name = Alias::new(format!("locked{i}"));
        let mut select = Query::select();
        select
            .expr_as(Expr::cust(i.to_string()), Alias::new("part"))
            .columns(columns(&COLUMNS))
            .from(name);
        match union.as_mut() {
            None => union = Some(select),
            Some(first) => {
                first.union(UnionType::All, select);
            }
        }
    }
    let query = with.query(union.expect("at least one lock"));
    let mut stored = Vec::new();
    for row in db
        .query_all_raw(DatabaseBackend::Postgres.build(&query))
        .await?
    {
        let part: i32 = row.try_get("", "part")?;
        let granularity = granularities[part as usize];
        stored.push((granularity, Rollup::from_row(granularity, &row)?));
    }
    Ok(stored)
}

/// PostgreSQL: runs `writes` in one statement (each a CTE: PostgreSQL runs every data-modifying
/// CTE to completion, whatever the main query reads).
async fn run_together(
    db: &impl ConnectionTrait,
    writes: Vec<InsertStatement>,
) -> Result<(), DbErr> {
    if writes.is_empty() {
        return Ok(());
    }
    let query =
        with_ctes("written", writes).query(Query::select().expr(Expr::cust("1")).to_owned());
    db.execute_raw(DatabaseBackend::Postgres.build(&query))
        .await?;
    Ok(())
}

/// `inserts` as the CTEs `{prefix}0`, `{prefix}1`, … of one statement.
fn with_ctes(prefix: &str, inserts: Vec<InsertStatement>) -> WithClause {
    let mut with = WithClause::new();
    for (i, insert) in inserts.into_iter().enumerate() {
        with.cte(
            CommonTableExpression::new()
                .query(insert)
                .table_name(Alias::new(format!("{prefix}{i}")))
                .to_owned(),
        );
    }
    with
}

/// Statements writing rollup rows over those of their keys, in the order given. Callers give them
/// in key order: several writers touching the same keys then take their locks in the same order
/// and wait for each other instead of deadlocking.
fn replace(granularity: Granularity, shard: i64, rows: &[Rollup]) -> Vec<InsertStatement> {
    let on_conflict = OnConflict::columns(columns(&COLUMNS[..KEY_COLUMNS]))
        .update_columns(columns(&COLUMNS[KEY_COLUMNS..]))
        .to_owned();
    inserts(granularity, shard, rows, on_conflict)
}

/// PostgreSQL: statements inserting `rows` (empty ones) where their key is missing and locking
/// the rows that exist (`ON CONFLICT DO UPDATE` to the same value takes the row's lock, as
/// `FOR UPDATE` would), returning every one of them as it stands. In key order, as `replace`.
fn insert_or_lock(granularity: Granularity, shard: i64, rows: &[Rollup]) -> Vec<InsertStatement> {
    let on_conflict = OnConflict::columns(columns(&COLUMNS[..KEY_COLUMNS]))
        .value(
            Alias::new("requests"),
            Expr::col((Alias::new(granularity.table()), Alias::new("requests"))),
        )
        .to_owned();
    let mut statements = inserts(granularity, shard, rows, on_conflict);
    for insert in &mut statements {
        insert.returning(Query::returning().columns(columns(&COLUMNS)));
    }
    statements
}

/// `rows` of `shard` inserted into `granularity`'s table, 200 a statement, `on_conflict`.
fn inserts(
    granularity: Granularity,
    shard: i64,
    rows: &[Rollup],
    on_conflict: OnConflict,
) -> Vec<InsertStatement> {
    rows.chunks(200)
        .map(|rows| {
            let mut insert = Query::insert();
            insert
                .into_table(Alias::new(granularity.table()))
                .columns(columns(&COLUMNS))
                .on_conflict(on_conflict.clone());
            for row in rows {
                insert.values_panic(row_values(row, shard));
            }
            insert
        })
        .collect()
}

fn row_values(row: &Rollup, shard: i64) -> [SimpleExpr; 11] {
    [
        row.key.bucket_ms.into(),
        row.key.endpoint.clone().into(),
        row.key.outcome.clone().into(),
        row.key.platform.clone().into(),
        shard.into(),
        row.requests.into(),
        row.bytes.into(),
        row.records.into(),
        row.latency_sum_us.into(),
        row.latency_max_us.into(),
        row.latency.encode().into(),
    ]
}

/// Statements adding snapshot counts. They are plain sums: the database adds them (safe with
/// several writers).
fn add_snapshot_counts(granularity: Granularity, rows: &[SnapshotRollup]) -> Vec<InsertStatement> {
    let table = Alias::new(granularity.snapshot_table());
    rows.chunks(200)
        .map(|rows| {
            let added = |column: &str| -> SimpleExpr {
                Expr::col((table.clone(), Alias::new(column)))
                    .add(Expr::col((Alias::new("excluded"), Alias::new(column))))
            };
            let mut insert = Query::insert();
            insert
                .into_table(table.clone())
                .columns(columns(&SNAPSHOT_COLUMNS))
                .on_conflict(
                    OnConflict::columns(columns(&SNAPSHOT_COLUMNS[..2]))
                        .value(Alias::new("requests"), added("requests"))
                        .value(Alias::new("records"), added("records"))
                        .value(Alias::new("bytes"), added("bytes"))
                        .to_owned(),
                );
            for row in rows {
                insert.values_panic([
                    row.bucket_ms.into(),
                    row.snapshot_id.clone().into(),
                    row.requests.into(),
                    row.records.into(),
                    row.bytes.into(),
                ]);
            }
            insert
        })
        .collect()
}

enum Bucket<'a> {
    In(&'a BTreeSet<i64>),
    Range(i64, i64),
}

/// Rollup rows, of `shard` or of every shard.
async fn read(
    db: &impl ConnectionTrait,
    granularity: Granularity,
    buckets: Bucket<'_>,
    shard: Option<i64>,
) -> Result<Vec<Rollup>, DbErr> {
    let mut select = Query::select();
    select
        .columns(columns(&COLUMNS))
        .from(Alias::new(granularity.table()));
    match buckets {
        Bucket::In(set) => {
            select.and_where(Expr::col(Alias::new("bucket_ms")).is_in(set.iter().copied()));
        }
        Bucket::Range(from, to) => {
            select
                .and_where(Expr::col(Alias::new("bucket_ms")).gte(from))
                .and_where(Expr::col(Alias::new("bucket_ms")).lt(to));
        }
    }
    if let Some(shard) = shard {
        select.and_where(Expr::col(Alias::new("shard")).eq(shard));
    }
    let statement = db.get_database_backend().build(&select);
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| Rollup::from_row(granularity, row))
        .collect()
}

/// Rollup rows whose bucket starts in `[from_ms, to_ms)`, of every shard (a key may come in several
/// rows).
pub async fn read_range(
    db: &impl ConnectionTrait,
    granularity: Granularity,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Rollup>, DbErr> {
    read(db, granularity, Bucket::Range(from_ms, to_ms), None).await
}

/// The (granularity, from, to) pieces covering `[from_ms, to_ms)`: whole hours from the hourly
/// tables, the ragged edges from the minute tables (a 7-day window reads ~170 hourly buckets plus at
/// most two hours of minutes).
fn pieces(from_ms: i64, to_ms: i64) -> Vec<(Granularity, i64, i64)> {
    let (minute, hour) = (Granularity::Minute, Granularity::Hour);
    let first_full_hour = hour.floor(from_ms + hour.span_ms() - 1);
    let end_full_hours = hour.floor(to_ms);
    if end_full_hours - first_full_hour < 2 * hour.span_ms() {
        return vec![(minute, minute.floor(from_ms), to_ms)];
    }
    vec![
        (minute, minute.floor(from_ms), first_full_hour),
        (hour, first_full_hour, end_full_hours),
        (minute, end_full_hours, to_ms),
    ]
}

pub async fn read_window(
    db: &impl ConnectionTrait,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Rollup>, DbErr> {
    let mut rows = Vec::new();
    for (granularity, from, to) in pieces(from_ms, to_ms) {
        rows.extend(read_range(db, granularity, from, to).await?);
    }
    Ok(rows)
}

/// Per-snapshot totals over `[from_ms, to_ms)`, busiest first, at most `limit`.
pub async fn snapshot_totals(
    db: &impl ConnectionTrait,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<SnapshotRollup>, DbErr> {
    let mut totals: BTreeMap<String, SnapshotRollup> = BTreeMap::new();
    for (granularity, from, to) in pieces(from_ms, to_ms) {
        // Summed by the database: one row per snapshot comes back, not one per bucket.
        let sum = |column: &str| {
            Func::cast_as(
                Func::sum(Expr::col(Alias::new(column))),
                Alias::new("BIGINT"),
            )
        };
        let mut select = Query::select();
        select
            .column(Alias::new("snapshot_id"))
            .expr_as(sum("requests"), Alias::new("requests"))
            .expr_as(sum("records"), Alias::new("records"))
            .expr_as(sum("bytes"), Alias::new("bytes"))
            .from(Alias::new(granularity.snapshot_table()))
            .and_where(Expr::col(Alias::new("bucket_ms")).gte(from))
            .and_where(Expr::col(Alias::new("bucket_ms")).lt(to))
            .group_by_col(Alias::new("snapshot_id"));
        let rows = db
            .query_all_raw(db.get_database_backend().build(&select))
            .await?;
        for row in rows {
            let snapshot_id: String = row.try_get("", "snapshot_id")?;
            let total = totals
                .entry(snapshot_id.clone())
                .or_insert_with(|| SnapshotRollup {
                    bucket_ms: from_ms,
                    snapshot_id,
                    requests: 0,
                    records: 0,
                    bytes: 0,
                });
            total.requests += row.try_get::<i64>("", "requests")?;
            total.records += row.try_get::<i64>("", "records")?;
            total.bytes += row.try_get::<i64>("", "bytes")?;
        }
    }
    let mut totals: Vec<SnapshotRollup> = totals.into_values().collect();
    totals.sort_by(|a, b| {
        b.requests
            .cmp(&a.requests)
            .then(a.snapshot_id.cmp(&b.snapshot_id))
    });
    totals.truncate(limit);
    Ok(totals)
}

/// Deletes rollups (both kinds) whose bucket started before `before_ms`; returns how many.
pub async fn delete_before(
    db: &impl ConnectionTrait,
    granularity: Granularity,
    before_ms: i64,
) -> Result<u64, DbErr> {
    let mut deleted = 0;
    for table in [granularity.table(), granularity.snapshot_table()] {
        let mut delete = Query::delete();
        delete
            .from_table(Alias::new(table))
            .and_where(Expr::col(Alias::new("bucket_ms")).lt(before_ms));
        deleted += db
            .execute_raw(db.get_database_backend().build(&delete))
            .await?
            .rows_affected();
    }
    Ok(deleted)
}
