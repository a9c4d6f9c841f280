//! Posts: the collected data, filtered and cursor-paginated (most recently stored first, never a
//! COUNT over the table), each with its record as BrightData sent it.

use std::collections::{BTreeSet, HashMap};

use app::types::{PostFilter, PostPage, PostRecordView};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QueryResult, QuerySelect, QueryTrait, Select,
};

use super::error::{ViewError, ViewResult};
use super::export::{ExportChunks, paged, spreadsheet_text};
use super::paging::{contains, given, id_range, newest_in_id_ranges, time_param};
use super::post_rows::{COLUMNS, PostRow};
use super::posts_parquet::PostsParquet;
use crate::store::entities::{events, posts};

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;
/// Posts read per page while exporting.
const EXPORT_PAGE: u64 = 1000;

/// The filter as a condition on the posts table.
fn condition(filter: &PostFilter) -> ViewResult<Condition> {
    let mut c = Condition::all();
    if let Some(snapshot) = given(&filter.snapshot) {
        c = c.add(posts::Column::SnapshotId.eq(snapshot));
    }
    if let Some(platform) = given(&filter.platform) {
        c = c.add(posts::Column::Platform.eq(platform));
    }
    if let Some(author) = given(&filter.author) {
        c = c.add(posts::Column::Author.eq(author));
    }
    if let Some(from) = given(&filter.from) {
        c = c.add(posts::Column::PostedMs.gte(time_param("from", from)?));
    }
    if let Some(to) = given(&filter.to) {
        c = c.add(posts::Column::PostedMs.lt(time_param("to", to)?));
    }
    if let Some(delivery) = given(&filter.delivery) {
        let id = delivery.parse::<i64>().map_err(|_| {
            ViewError::invalid(
                "invalid_delivery",
                format!("delivery must be a delivery id, not {delivery:?}"),
            )
        })?;
        c = c.add(posts::Column::DeliveryId.eq(id));
    }
    if let Some(q) = given(&filter.q) {
        c = c.add(posts::Column::Data.like(contains(q)));
    }
    Ok(c)
}

/// The cursor a filter starts below, if any.
fn before_id(filter: &PostFilter) -> ViewResult<Option<i64>> {
    super::paging::cursor(&filter.cursor)
}

/// One page of posts below `before`, most recently stored first.
async fn page(
    db: &DatabaseConnection,
    condition: Condition,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<posts::Model>, sea_orm::DbErr> {
    page_query(condition, before, limit).all(db).await
}

/// The query of a page (`page`, and each of the export's).
fn page_query(condition: Condition, before: Option<i64>, limit: u64) -> Select<posts::Entity> {
    super::paging::page_query::<posts::Entity>(posts::Column::Id, condition, before, limit)
}

/// One page of posts, most recently stored first.
pub async fn list(db: &DatabaseConnection, filter: &PostFilter) -> ViewResult<PostPage> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let mut rows = page(db, condition(filter)?, before_id(filter)?, limit + 1)
        .await
        .map_err(|e| ViewError::internal("listing posts", e))?;
    let next_cursor = super::paging::next_cursor(&mut rows, limit, |p| p.id);
    let events = events_of(db, rows.iter().map(|p| p.delivery_id))
        .await
        .map_err(|e| ViewError::internal("listing posts", e))?;
    Ok(PostPage {
        posts: rows
            .into_iter()
            .map(|p| {
                let event = events.get(&p.delivery_id).copied();
                view(p, event)
            })
            .collect(),
        next_cursor,
    })
}

/// The first event of each delivery (the request that stored it).
async fn events_of(
    db: &DatabaseConnection,
    deliveries: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, i64>, sea_orm::DbErr> {
    let ids: BTreeSet<i64> = deliveries.collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Option<i64>, Option<i64>)> = events::Entity::find()
        .select_only()
        .column(events::Column::DeliveryId)
        .column_as(events::Column::Id.min(), "first")
        .filter(events::Column::DeliveryId.is_in(ids))
        .group_by(events::Column::DeliveryId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(delivery, event)| Some((delivery?, event?)))
        .collect())
}

fn view(p: posts::Model, event_id: Option<i64>) -> PostRecordView {
    PostRecordView {
        event_id,
        text: delivery::records::post_text(&p.data),
        id: p.id,
        platform: p.platform,
        post_id: p.post_id,
        snapshot_id: p.snapshot_id,
        delivery_id: p.delivery_id,
        url: p.url,
        author: p.author,
        posted_ms: p.posted_ms,
        likes: p.likes,
        comments: p.comments,
        shares: p.shares,
        views: p.views,
        first_seen_ms: p.first_seen_ms,
        updated_ms: p.updated_ms,
        times_delivered: p.times_delivered,
        record: p.data,
    }
}

/// The CSV export's columns, in order: the columns kept of each post, its text, and its record's
/// JSON text last.
pub const CSV_COLUMNS: [&str; 18] = [
    "id",
    "platform",
    "post_id",
    "snapshot_id",
    "delivery_id",
    "url",
    "author",
    "posted_at",
    "posted_ms",
    "likes",
    "comments",
    "shares",
    "views",
    "text",
    "times_delivered",
    "first_seen_ms",
    "updated_ms",
    "record",
];

/// How an export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One row per post ([`CSV_COLUMNS`]); `bom`: a UTF-8 byte order mark first, for Excel.
    Csv { bom: bool },
    /// The records as BrightData sent them, one per line.
    Ndjson,
    /// Typed columns (`posts_parquet::schema`), for pandas, polars, R and DuckDB.
    Parquet,
}

impl Format {
    pub fn of(filter: &PostFilter) -> ViewResult<Self> {
        let bom = match given(&filter.bom) {
            None | Some("false" | "0") => false,
            Some("true" | "1") => true,
            Some(other) => {
                return Err(ViewError::invalid(
                    "invalid_bom",
                    format!("bom must be true or false, not {other:?}"),
                ));
            }
        };
        match given(&filter.format).unwrap_or("csv") {
            "csv" => Ok(Self::Csv { bom }),
            "ndjson" => Ok(Self::Ndjson),
            "parquet" => Ok(Self::Parquet),
            other => Err(ViewError::invalid(
                "invalid_format",
                format!("format must be csv, ndjson or parquet, not {other:?}"),
            )),
        }
    }
}

/// How many posts `filter` matches (for a progress bar: a COUNT, so not for every page view).
pub async fn count(db: &DatabaseConnection, filter: &PostFilter) -> ViewResult<u64> {
    use sea_orm::PaginatorTrait;
    let mut select = posts::Entity::find().filter(condition(filter)?);
    if let Some(before) = before_id(filter)? {
        select = select.filter(posts::Column::Id.lt(before));
    }
    select
        .count(db)
        .await
        .map_err(|e| ViewError::internal("counting posts", e))
}

/// Every post matching `filter`, most recently stored first, streamed a page at a time
/// (constant memory whatever the count).
///
/// Pages come as the database's rows and are decoded where they are rendered, on the blocking
/// pool (`export::paged`): the next page is asked for as soon as this one has arrived. Decoded
/// on arrival, a page of 1,000 posts held the next query back for the time it took, the
/// database's thread idle meanwhile.
pub fn export(db: DatabaseConnection, filter: &PostFilter) -> ViewResult<(Format, ExportChunks)> {
    let format = Format::of(filter)?;
    let condition = condition(filter)?;
    let before = before_id(filter)?;
    let backend = db.get_database_backend();
    let on_sqlite = backend == sea_orm::DbBackend::Sqlite;
    // On SQLite: by ranges of ids where no index narrows the posts (`reads_id_ranges`), else a
    // page at a time, forwards where `reads_forwards` says it pays. On PostgreSQL newest first.
    let by_id_ranges = on_sqlite && reads_id_ranges(filter);
    let page: fn(Condition, Option<i64>) -> Select<posts::Entity> =
        if on_sqlite && reads_forwards(filter) {
            export_page_on_sqlite
        } else {
            |condition, before| page_query(condition, before, EXPORT_PAGE)
        };
    let rows = move |columns: &'static [posts::Column]| {
        move |before| {
            let db = db.clone();
            let condition = condition.clone();
            async move {
                let read = |select: Select<posts::Entity>| {
                    let columns = columns.iter().copied();
                    db.query_all_raw(select.select_only().columns(columns).build(backend))
                };
                if by_id_ranges {
                    let id = posts::Column::Id;
                    newest_in_id_ranges::<posts::Entity, _, _>(
                        &db,
                        id,
                        before,
                        EXPORT_PAGE,
                        |above, up_to| {
                            read(export_range_on_sqlite(condition.clone(), above, up_to))
                        },
                    )
                    .await
                } else {
                    read(page(condition, before)).await
                }
            }
        }
    };
    let chunks = match format {
        // Only the records: each column read is a copy on SQLite's thread, and a record is all
        // NDJSON writes.
        Format::Ndjson => {
            let render = |rows: &[QueryResult], _, _| {
                let records = rows
                    .iter()
                    .map(|row| row.try_get::<String>("", "data"))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                Ok(ndjson_lines(&records))
            };
            let columns = &[posts::Column::Id, posts::Column::Data][..];
            paged(before, EXPORT_PAGE, rows(columns), row_id, render)
        }
        Format::Csv { bom } => {
            let render = move |rows: &[QueryResult], first: bool, _| {
                csv_rows(&post_rows(rows)?, first, bom && first).map_err(|e| e.to_string())
            };
            paged(before, EXPORT_PAGE, rows(&COLUMNS), row_id, render)
        }
        Format::Parquet => {
            let mut file = PostsParquet::new()
                .map_err(|e| ViewError::internal("starting a Parquet file", e))?;
            let render = move |rows: &[QueryResult], _, last: bool| {
                file.page(&post_rows(rows)?, last)
                    .map_err(|e| e.to_string())
            };
            paged(before, EXPORT_PAGE, rows(&COLUMNS), row_id, render)
        }
    };
    Ok((format, chunks))
}

/// An export's page on SQLite: the posts of `page_query`, read from the disk oldest first.
///
/// Why: read newest first, SQLite walks the table backwards, which the kernel's read-ahead does
/// not follow. From a cold page cache, a 364,000-post snapshot's Parquet export took 12–15 s
/// that way (~50 MB/s from the disk) against 3.3–4.5 s with its pages read forwards (README,
/// "Posts out: cold exports, and a platform's posts").
///
/// How: the page's lowest id comes from the filter's index (the snapshot's or the platform's;
/// which exports use this: `reads_forwards`), in the same statement, so the page is exactly
/// `page_query`'s whatever is stored meanwhile. Its rows from there up are then sorted newest
/// first in memory (`temp_store` is `memory`): ordered by `id + 0`, which no index gives, SQLite
/// reads them forwards and sorts them rather than walk the table backwards. Sorted by SQLite,
/// not reversed once read, because each row's values are allocated as they arrive: rendered in
/// the reverse of that order, the Parquet export of warm pages was 5–15% slower.
///
/// Not on PostgreSQL: where a snapshot is most of the table, its planner finds the lowest id by
/// reading the table's rows, so each page was read twice. Its Parquet export of the same
/// snapshot was then 8–20% slower from warm caches, for 7.1 against 8.2 s from cold ones.
fn export_page_on_sqlite(condition: Condition, before: Option<i64>) -> Select<posts::Entity> {
    use sea_orm::sea_query::{Expr, ExprTrait, Query, SubQueryStatement};

    let page = page_query(condition.clone(), before, EXPORT_PAGE)
        .select_only()
        .column(posts::Column::Id)
        .into_query();
    let lowest = Query::select()
        .expr(Expr::col("id").min())
        .from_subquery(page, "page")
        .to_owned();
    let id = || Expr::col((posts::Entity, posts::Column::Id));
    let mut select = posts::Entity::find()
        .filter(condition)
        .filter(id().gte(SubQueryStatement::from(lowest)));
    if let Some(before) = before {
        select = select.filter(posts::Column::Id.lt(before));
    }
    select.order_by(id().add(0), sea_orm::Order::Desc)
}

/// The posts `condition` matches with `above < id <= up_to` (an export's range on SQLite:
/// `paging::newest_in_id_ranges`), newest first, read forwards and sorted in memory as in
/// `export_page_on_sqlite`.
fn export_range_on_sqlite(condition: Condition, above: i64, up_to: i64) -> Select<posts::Entity> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let id = posts::Column::Id;
    id_range::<posts::Entity>(id, above, up_to)
        .filter(condition)
        .order_by(Expr::col(id).add(0), sea_orm::Order::Desc)
}

/// Whether an export of `filter` reads ranges of ids on SQLite (`paging::newest_in_id_ranges`,
/// each range with the filter): with no filter, or filters no index narrows (author, dates, text,
/// delivery, a platform with one of those). Counted newest first instead, SQLite walked the
/// table backwards for each page, reading every post from the disk backwards: from a cold cache
/// ~9 s for an author's 15 posts among 364,000, against ~0.6 s by ranges (README, "Whole-table
/// exports read by ranges of ids"). Not with a snapshot, whose index holds its posts whatever
/// their number, nor with a platform alone (`reads_forwards`).
fn reads_id_ranges(filter: &PostFilter) -> bool {
    given(&filter.snapshot).is_none() && !reads_forwards(filter)
}

/// Whether an export of `filter` reads its pages forwards on SQLite (`export_page_on_sqlite`):
/// with a snapshot alone or a platform alone, whose indexes (`idx_posts_snapshot`,
/// `idx_posts_platform`) hold each page's ids in id order.
///
/// With another filter, a page's lowest id is found by walking the table's rows backwards, the
/// very read this avoids, and the rows are then read again: a filter matching 21 of 364,000
/// posts took 0.32 s so, 0.16 s newest first (NDJSON, warm) (README, "Posts out: which exports
/// read forwards").
fn reads_forwards(filter: &PostFilter) -> bool {
    // Every field named, so a new filter has to be placed here.
    let PostFilter {
        snapshot,
        platform,
        author,
        from,
        to,
        q,
        delivery,
        cursor: _,
        limit: _,
        format: _,
        bom: _,
    } = filter;
    let others = [author, from, to, q, delivery];
    others.iter().all(|field| given(field).is_none())
        && given(snapshot).is_some() != given(platform).is_some()
}

/// A post's id in a row of the export's query.
fn row_id(row: &QueryResult) -> Result<i64, sea_orm::DbErr> {
    row.try_get("", "id")
}

/// Rows of the export's query (of [`COLUMNS`]) as posts borrowed from them.
fn post_rows(rows: &[QueryResult]) -> Result<Vec<PostRow<'_>>, String> {
    rows.iter().map(PostRow::of).collect()
}

/// Each record's text on a line of its own. A record is stored as BrightData sent it, which in a
/// pretty-printed JSON array spans lines: its line breaks can only be whitespace between tokens
/// (JSON escapes them inside strings), so they become spaces and nothing else changes.
fn ndjson_lines(records: &[String]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.iter().map(|data| data.len() + 1).sum());
    for data in records {
        out.extend(
            data.bytes()
                .map(|b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
        );
        out.push(b'\n');
    }
    out
}

/// Posts as CSV rows (the header row first when `header`), CRLF-terminated; text a spreadsheet
/// would run as a formula is neutralised as in the events export. Each field is written from
/// where it lies (a number through one reused buffer): building a row of owned strings copied
/// every post's record once more.
fn csv_rows(rows: &[PostRow], header: bool, bom: bool) -> Result<Vec<u8>, csv::Error> {
    use std::fmt::Write;

    let mut buffer = Vec::with_capacity(rows.iter().map(|p| 2 * p.data.len() + 256).sum());
    if bom {
        buffer.extend_from_slice(b"\xEF\xBB\xBF");
    }
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(buffer);
    if header {
        out.write_record(CSV_COLUMNS)?;
    }
    let mut scratch = String::new();
    let mut number = |out: &mut csv::Writer<Vec<u8>>, value: Option<i64>| {
        scratch.clear();
        if let Some(n) = value {
            let _ = write!(scratch, "{n}");
        }
        out.write_field(&scratch)
    };
    let text = |out: &mut csv::Writer<Vec<u8>>, value: Option<&str>| {
        out.write_field(spreadsheet_text(value.unwrap_or_default()).as_bytes())
    };
    for p in rows {
        number(&mut out, Some(p.id))?;
        text(&mut out, Some(p.platform))?;
        text(&mut out, Some(p.post_id))?;
        text(&mut out, p.snapshot_id)?;
        number(&mut out, Some(p.delivery_id))?;
        text(&mut out, p.url)?;
        text(&mut out, p.author)?;
        let posted_at = p
            .posted_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        out.write_field(posted_at.as_deref().unwrap_or_default())?;
        number(&mut out, p.posted_ms)?;
        number(&mut out, p.likes)?;
        number(&mut out, p.comments)?;
        number(&mut out, p.shares)?;
        number(&mut out, p.views)?;
        text(&mut out, delivery::records::post_text(p.data).as_deref())?;
        number(&mut out, Some(i64::from(p.times_delivered)))?;
        number(&mut out, Some(p.first_seen_ms))?;
        number(&mut out, Some(p.updated_ms))?;
        out.write_field(p.data)?;
        // An empty record ends the row.
        out.write_record(None::<&[u8]>)?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, Statement};

    /// 2,500 posts over two snapshots and two platforms, ids 1..=2500.
    async fn posts_db() -> DatabaseConnection {
        let db = crate::store::test_db_with_deliveries(&[(1, "stored")]).await;
        let rows: Vec<String> = (1..=2500)
            .map(|i| {
                let snapshot = if i % 3 == 0 { "s_b" } else { "s_a" };
                let platform = if i % 2 == 0 { "facebook" } else { "instagram" };
                format!(
                    "({i}, '{platform}', 'p{i}', '{snapshot}', 1, 'a{}', '{{}}', 0, 0)",
                    i % 5
                )
            })
            .collect();
        db.execute_unprepared(&format!(
            "INSERT INTO posts (id, platform, post_id, snapshot_id, delivery_id, author, data, \
             first_seen_ms, updated_ms) VALUES {}",
            rows.join(",")
        ))
        .await
        .unwrap();
        db
    }

    fn filters() -> Vec<PostFilter> {
        let given = |s: &str| Some(s.to_owned());
        vec![
            PostFilter::default(),
            PostFilter {
                snapshot: given("s_b"),
                ..Default::default()
            },
            PostFilter {
                platform: given("facebook"),
                ..Default::default()
            },
            PostFilter {
                author: given("a3"),
                snapshot: given("s_a"),
                ..Default::default()
            },
        ]
    }

    async fn ids(db: &DatabaseConnection, page: Select<posts::Entity>) -> Vec<i64> {
        let statement = page
            .select_only()
            .column(posts::Column::Id)
            .build(DbBackend::Sqlite);
        let rows = db.query_all_raw(statement).await.unwrap();
        rows.iter().map(|row| row_id(row).unwrap()).collect()
    }

    /// SQLite's plan for `query`, a step a line.
    async fn plan(db: &DatabaseConnection, query: Select<posts::Entity>) -> Vec<String> {
        let query = query.build(DbBackend::Sqlite);
        let plan = Statement {
            sql: format!("EXPLAIN QUERY PLAN {}", query.sql),
            ..query
        };
        let steps = db.query_all_raw(plan).await.unwrap();
        steps
            .iter()
            .map(|row| row.try_get("", "detail").unwrap())
            .collect()
    }

    #[tokio::test]
    async fn an_export_page_on_sqlite_holds_the_posts_of_a_page_newest_first() {
        let db = posts_db().await;
        for filter in filters() {
            for before in [None, Some(1800), Some(900), Some(2)] {
                let c = condition(&filter).unwrap();
                let exported = ids(&db, export_page_on_sqlite(c.clone(), before)).await;
                let listed = ids(&db, page_query(c, before, EXPORT_PAGE)).await;
                assert!(
                    !listed.is_empty() || before == Some(2),
                    "{filter:?} {before:?}"
                );
                assert_eq!(exported, listed, "{filter:?} below {before:?}");
            }
        }
    }

    /// `reads_forwards` agrees with SQLite's plan: the exports it reads forwards are those whose
    /// page's ids are read from an index alone (a covering index).
    #[tokio::test]
    async fn filtered_exports_read_forwards_where_an_index_alone_holds_a_page_s_ids() {
        let db = posts_db().await;
        let given = |s: &str| Some(s.to_owned());
        let mut filters = filters();
        filters.extend([
            PostFilter {
                snapshot: given("s_a"),
                platform: given("facebook"),
                ..Default::default()
            },
            PostFilter {
                from: given("0"),
                ..Default::default()
            },
            PostFilter {
                q: given("p1"),
                ..Default::default()
            },
            PostFilter {
                delivery: given("1"),
                ..Default::default()
            },
        ]);
        let mut forwards = 0;
        for filter in filters {
            for before in [None, Some(1800)] {
                let ids = page_query(condition(&filter).unwrap(), before, EXPORT_PAGE)
                    .select_only()
                    .column(posts::Column::Id);
                let plan = plan(&db, ids).await;
                let from_an_index = plan.len() == 1 && plan[0].contains("USING COVERING INDEX");
                assert_eq!(
                    reads_forwards(&filter),
                    from_an_index,
                    "{filter:?} below {before:?}: {plan:?}"
                );
                forwards += usize::from(from_an_index);
            }
        }
        assert_eq!(
            forwards, 4,
            "the snapshot's and the platform's, with and without a cursor"
        );
    }

    /// A page (listed, or exported on PostgreSQL) walks an index or the table in id order and
    /// stops after the page: sorting would mean reading every post the filter matches, for
    /// each page (the platform's, before `idx_posts_platform`: 2 s a page among 364,000 posts).
    #[tokio::test]
    async fn a_page_of_posts_is_read_in_id_order_not_sorted() {
        let db = posts_db().await;
        for filter in filters() {
            for before in [None, Some(1800)] {
                let page = page_query(condition(&filter).unwrap(), before, EXPORT_PAGE);
                let plan = plan(&db, page).await;
                assert!(
                    !plan.iter().any(|step| step.contains("TEMP B-TREE")),
                    "{filter:?}: {plan:?}"
                );
            }
        }
    }

    /// The point of `export_page_on_sqlite`: SQLite reads the page's range of the table and
    /// sorts it, rather than walking the table backwards (its plan names no direction, but an
    /// order it has to sort for is one it does not get from walking an index).
    #[tokio::test]
    async fn an_export_page_on_sqlite_is_a_range_sorted_in_memory() {
        let db = posts_db().await;
        for filter in filters() {
            for before in [None, Some(1800)] {
                let page = export_page_on_sqlite(condition(&filter).unwrap(), before)
                    .select_only()
                    .columns(COLUMNS);
                let plan = plan(&db, page).await;
                let read = &plan[0];
                assert!(
                    read.starts_with("SEARCH posts") && read.contains("rowid>?"),
                    "the page's range, from its lowest id: {plan:?}"
                );
                assert!(
                    plan.iter()
                        .any(|step| step == "USE TEMP B-TREE FOR ORDER BY"),
                    "sorted, not read in order: {plan:?}"
                );
            }
        }
    }

    /// An export no index narrows reads ranges of ids on SQLite: each page is exactly the page
    /// that counting gives (`page_query`), whatever gaps deleted posts left and however sparse
    /// the filter's posts are, and the range is read forwards and sorted.
    #[tokio::test]
    async fn exports_no_index_narrows_page_by_ranges_of_ids_on_sqlite_across_gaps() {
        let db = posts_db().await;
        // Gaps: a run of 500, a run across the page sizes below, and every seventh id.
        db.execute_unprepared(
            "DELETE FROM posts WHERE id BETWEEN 1001 AND 1500 OR id BETWEEN 1990 AND 2010 \
             OR (id BETWEEN 100 AND 400 AND id % 7 = 0) OR id = 2500",
        )
        .await
        .unwrap();
        let by_ranges = |condition: Condition, before: Option<i64>, limit: u64| {
            let db = db.clone();
            async move {
                let id = posts::Column::Id;
                newest_in_id_ranges::<posts::Entity, _, _>(
                    &db,
                    id,
                    before,
                    limit,
                    |above, up_to| {
                        let range = export_range_on_sqlite(condition.clone(), above, up_to);
                        let range = range.select_only().column(id);
                        db.query_all_raw(range.build(DbBackend::Sqlite))
                    },
                )
                .await
                .unwrap()
                .iter()
                .map(|row| row_id(row).unwrap())
                .collect::<Vec<i64>>()
            }
        };
        let given = |s: &str| Some(s.to_owned());
        let unindexed = [
            PostFilter::default(),
            PostFilter {
                author: given("a3"),
                ..Default::default()
            },
            PostFilter {
                platform: given("facebook"),
                author: given("a1"),
                ..Default::default()
            },
            PostFilter {
                delivery: given("1"),
                ..Default::default()
            },
            // None: the ranges go down to the first post and stop.
            PostFilter {
                author: given("nobody"),
                ..Default::default()
            },
        ];
        for filter in unindexed {
            assert!(reads_id_ranges(&filter), "{filter:?}");
            let c = condition(&filter).unwrap();
            for limit in [EXPORT_PAGE, 100, 7] {
                for before in [
                    None,
                    Some(2500),
                    Some(2011),
                    Some(1600),
                    Some(1001),
                    Some(2),
                ] {
                    let counted = ids(&db, page_query(c.clone(), before, limit)).await;
                    let ranges = by_ranges(c.clone(), before, limit).await;
                    assert_eq!(ranges, counted, "{filter:?}, {limit} below {before:?}");
                }
                // A whole export, page after page: every post once, newest first.
                let (mut exported, mut before) = (Vec::<i64>::new(), None);
                loop {
                    let page = by_ranges(c.clone(), before, limit).await;
                    exported.extend(&page);
                    if (page.len() as u64) < limit {
                        break;
                    }
                    before = page.last().copied();
                }
                let all = ids(&db, page_query(c.clone(), None, 10_000)).await;
                assert_eq!(exported, all, "{filter:?}, {limit} a page");
            }
        }
        let all = ids(&db, page_query(Condition::all(), None, 10_000)).await;
        assert_eq!(all.len(), 2500 - 500 - 21 - 43 - 1);
        // A snapshot's export walks its index; a platform's alone reads forwards.
        for filter in &filters()[1..] {
            assert!(!reads_id_ranges(filter), "{filter:?}");
        }
        let plan = plan(&db, export_range_on_sqlite(Condition::all(), 1000, 2000)).await;
        assert_eq!(
            plan,
            [
                "SEARCH posts USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
                "USE TEMP B-TREE FOR ORDER BY"
            ],
            "the range read forwards, then sorted"
        );
    }
}
