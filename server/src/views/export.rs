//! The events export: every event a filter matches, newest first, as CSV or JSON text in chunks of
//! a page each (constant memory whatever the count). One implementation for `GET export-events/`
//! and `server export-events`.

use bytes::Bytes;
use sea_orm::{ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder};

use super::error::{ViewError, ViewResult};
use super::events::{Filter, before_id, condition, page};
use super::paging::{id_range, newest_in_id_ranges};
use crate::events::view;
use crate::store::entities::events;

/// Rows fetched per page while exporting.
const EXPORT_PAGE: u64 = 2000;
/// Pages an export reads ahead of its rendering at most (`paged`).
const READ_AHEAD: usize = 2;

/// The export's columns, in order (documented in the README and the OpenAPI document).
pub const EXPORT_COLUMNS: [&str; 15] = [
    "id",
    "at",
    "at_ms",
    "endpoint",
    "outcome",
    "status",
    "latency_ms",
    "bytes",
    "client_ip",
    "user_agent",
    "snapshot_id",
    "platform",
    "records",
    "delivery_id",
    "error",
];

/// A cell a spreadsheet would run as a formula (first character `=`, `+`, `-`, `@`, tab or CR)
/// gets a `'` in front, as OWASP advises against CSV injection: the text a client chose (its user
/// agent, a reason quoting its headers) is read in a spreadsheet, never evaluated.
pub(super) fn spreadsheet_text(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}").into()
    } else {
        value.into()
    }
}

/// One page of the export as CSV rows (the header row first when `header`), CRLF-terminated.
fn csv_rows(rows: &[events::Model], header: bool) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(256 * rows.len() + 256));
    if header {
        out.write_record(EXPORT_COLUMNS)?;
    }
    for e in rows {
        let at = chrono::DateTime::from_timestamp_millis(e.at_ms)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let text = |value: &Option<String>| {
            spreadsheet_text(value.as_deref().unwrap_or_default()).into_owned()
        };
        out.write_record([
            e.id.to_string(),
            at,
            e.at_ms.to_string(),
            spreadsheet_text(&e.endpoint).into_owned(),
            spreadsheet_text(&e.outcome).into_owned(),
            e.status.to_string(),
            format!("{:.3}", e.latency_us as f64 / 1000.0),
            e.bytes.to_string(),
            text(&e.client_ip),
            text(&e.user_agent),
            text(&e.snapshot_id),
            text(&e.platform),
            e.records.map(|r| r.to_string()).unwrap_or_default(),
            e.delivery_id.map(|d| d.to_string()).unwrap_or_default(),
            text(&e.error),
        ])?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// An export in progress: its chunks of bytes, each with the number of events it holds.
pub type ExportChunks = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<(Bytes, u64), std::io::Error>> + Send>,
>;

/// Every event matching `filter`, newest first, as CSV or JSON text in chunks of a page each:
/// constant memory whatever the count. One implementation for `GET export-events/` and
/// `server export-events`. Returns whether it is JSON, and the chunks.
pub fn chunks(db: DatabaseConnection, filter: &Filter) -> ViewResult<(bool, ExportChunks)> {
    let json_format = match filter.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "json" => true,
        other => {
            return Err(ViewError::invalid(
                "invalid_format",
                format!("format must be csv or json, not {other:?}"),
            ));
        }
    };
    let condition = condition(filter)?;
    // Every event, on SQLite: by ranges of ids (`paging::newest_in_id_ranges`).
    let whole_table = db.get_database_backend() == DbBackend::Sqlite && condition.is_empty();
    let fetch = move |before| {
        let db = db.clone();
        let condition = condition.clone();
        async move {
            if whole_table {
                let id = events::Column::Id;
                newest_in_id_ranges::<events::Entity, _, _>(
                    &db,
                    id,
                    before,
                    EXPORT_PAGE,
                    // Read in id order and reversed here: sorted newest first by SQLite (as
                    // the posts' ranges are), a warm export of 1,000,000 events took 3.6 to
                    // 3.8 s against 3.2 to 3.4 (README, "Whole-table exports read by ranges of
                    // ids").
                    |above, up_to| {
                        let range = id_range::<events::Entity>(id, above, up_to)
                            .order_by_asc(id)
                            .all(&db);
                        async move {
                            let mut rows = range.await?;
                            rows.reverse();
                            Ok(rows)
                        }
                    },
                )
                .await
            } else {
                page(&db, condition, before, EXPORT_PAGE).await
            }
        }
    };
    let render = move |rows: &[events::Model], first: bool, last: bool| {
        if !json_format {
            return csv_rows(rows, first).map_err(|e| e.to_string());
        }
        let mut out = Vec::new();
        if first {
            out.push(b'[');
        }
        for (i, row) in rows.iter().enumerate() {
            if !(first && i == 0) {
                out.push(b',');
            }
            out.extend(serde_json::to_vec(&view(row.clone())).unwrap_or_default());
        }
        if last {
            out.push(b']');
        }
        Ok(out)
    };
    let chunks = paged(before_id(filter)?, EXPORT_PAGE, fetch, |e| Ok(e.id), render);
    Ok((json_format, chunks))
}

/// Rows read page by page below a cursor (newest first), each page rendered to bytes as it is
/// read: an export at constant memory whatever its size (at most `READ_AHEAD` pages queued, one
/// more read and waiting for room, one being rendered). `render(rows, first, last)`: `first` until
/// a page held rows, `last` on the page that ends it (one shorter than `page_size`).
///
/// The pages are read by a task of their own, one after the other, ahead of the rendering: the
/// database reads without waiting for each page to be rendered, and the rendering without waiting
/// for each read. (Reading the next page only once the last one was handed over made the two take
/// turns: in a profile of a Parquet export, SQLite's thread was 57% busy and the machine a fifth
/// idle, and no thread was busy all the time.)
///
/// Pages are rendered on a thread of the blocking pool held by the export, not on the runtime's
/// worker that polls the stream. There a page held up the read of the next one: tokio queues a
/// task spawned on a worker in that worker's own slot, which no other worker takes from, so the
/// read waited for the rendering to end, and the two took turns (the machine stood 44% idle during
/// `bench large`'s exports). A CSV or Parquet page is also milliseconds of CPU that no request
/// sharing the worker should wait for.
///
/// One thread for all of an export's pages, not a blocking task per page: each task went to
/// whichever pooled thread was free, and the allocator keeps a thread's freed memory for that
/// thread, so an export's peak grew with the number of threads its pages had visited (`bench
/// large`'s Parquet export peaked at 209–293 MB, and 195–214 MB on one thread).
pub fn paged<R, F, Fut, W>(
    start: Option<i64>,
    page_size: u64,
    fetch: F,
    id_of: fn(&R) -> Result<i64, sea_orm::DbErr>,
    mut render: W,
) -> ExportChunks
where
    R: Send + 'static,
    F: Fn(Option<i64>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<R>, sea_orm::DbErr>> + Send + 'static,
    W: FnMut(&[R], bool, bool) -> Result<Vec<u8>, String> + Send + 'static,
{
    /// A page for the export's rendering thread: its rows, `first`, `last`, and where its bytes go.
    type Page<R> = (
        Vec<R>,
        bool,
        bool,
        tokio::sync::oneshot::Sender<Result<Vec<u8>, String>>,
    );
    struct State<R> {
        /// Pages as read, with whether each is the last; closed once the export ends.
        read: tokio::sync::mpsc::Receiver<Result<(Vec<R>, bool), String>>,
        first: bool,
        done: bool,
        pages: std::sync::mpsc::Sender<Page<R>>,
    }
    let (pages, queue) = std::sync::mpsc::channel::<Page<R>>();
    // Ends when the stream is dropped (its sender with it), finished or not.
    tokio::task::spawn_blocking(move || {
        for (rows, first, last, rendered) in queue {
            let bytes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                render(&rows, first, last)
            }));
            // Freed here, on the thread that renders: see above.
            drop(rows);
            // After a panic the renderer's state is unknown: the export ends there.
            let (bytes, panicked) = match bytes {
                Ok(bytes) => (bytes, false),
                Err(panic) => (Err(panic_message(&*panic)), true),
            };
            if rendered.send(bytes).is_err() || panicked {
                break;
            }
        }
    });
    // Ends after the last page or an error, or once the stream is gone (its receiver with it).
    let (read_page, read) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::spawn(async move {
        let mut below = start;
        loop {
            // A page shorter than `page_size` is the last; the next one is read below this one's
            // last row.
            let (page, next) = match fetch(below).await {
                Ok(rows) if (rows.len() as u64) < page_size => (Ok((rows, true)), None),
                Ok(rows) => match rows.last().map(id_of).transpose() {
                    Ok(next) => (Ok((rows, false)), next),
                    Err(error) => (Err(error.to_string()), None),
                },
                Err(error) => (Err(error.to_string()), None),
            };
            let end = !matches!(page, Ok((_, false)));
            if read_page.send(page).await.is_err() || end {
                return;
            }
            below = next;
        }
    });
    let state = State {
        read,
        first: true,
        done: false,
        pages,
    };
    let stream = futures_util::stream::unfold(state, move |mut state| async move {
        if state.done {
            return None;
        }
        let stopped = |state: &mut State<R>, error: String| {
            tracing::error!(%error, "export stopped");
            state.done = true;
            state.read.close();
            Err(std::io::Error::other(error))
        };
        let (rows, last) = match state.read.recv().await {
            Some(Ok(page)) => page,
            Some(Err(error)) => return Some((stopped(&mut state, error), state)),
            None => {
                let error = "the export's reading task stopped".to_string();
                return Some((stopped(&mut state, error), state));
            }
        };
        state.done = last;
        let first = state.first;
        state.first = first && rows.is_empty();
        let count = rows.len() as u64;
        let (sent, rendered) = tokio::sync::oneshot::channel();
        let gone = || Err("the export's rendering thread stopped".to_string());
        let rendered = match state.pages.send((rows, first, last, sent)) {
            Ok(()) => rendered.await.unwrap_or_else(|_| gone()),
            Err(_) => gone(),
        };
        let item = match rendered {
            Ok(bytes) => Ok((Bytes::from(bytes), count)),
            Err(error) => stopped(&mut state, error),
        };
        Some((item, state))
    });
    Box::pin(stream)
}

/// A renderer's panic as the error that ends its export.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let message = (panic.downcast_ref::<&str>().copied())
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    format!("rendering a page panicked: {message}")
}

/// How many events `filter` matches (for a progress bar: a COUNT, so not for every page view).
pub async fn count(db: &DatabaseConnection, filter: &Filter) -> ViewResult<u64> {
    use sea_orm::PaginatorTrait;
    let mut select = events::Entity::find().filter(condition(filter)?);
    if let Some(before) = before_id(filter)? {
        select = select.filter(events::Column::Id.lt(before));
    }
    select
        .count(db)
        .await
        .map_err(|e| ViewError::internal("counting events", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(user_agent: &str, error: &str) -> events::Model {
        events::Model {
            id: 7,
            at_ms: 1_764_650_000_000,
            endpoint: "webhook".into(),
            outcome: "rejected_auth".into(),
            status: 401,
            latency_us: 1_500,
            bytes: 2,
            client_ip: Some("203.0.113.9".into()),
            user_agent: Some(user_agent.into()),
            snapshot_id: None,
            platform: None,
            records: None,
            delivery_id: None,
            error: Some(error.into()),
            headers: None,
        }
    }

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_neutralised() {
        for formula in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(spreadsheet_text(formula), format!("'{formula}"));
        }
        for text in ["curl/8", "a=b", "", "1-2", "'quoted"] {
            assert_eq!(spreadsheet_text(text), text);
        }
    }

    #[test]
    fn csv_rows_are_quoted_crlf_terminated_and_parse_back() {
        let rows = [
            event(
                "odd, \"quoted\"\nagent",
                "invalid_token: the token is not valid",
            ),
            event("=HYPERLINK(\"x\")", "-rm"),
        ];
        let bytes = csv_rows(&rows, true).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("id,at,at_ms,endpoint,outcome,status,latency_ms,"));
        assert!(text.ends_with("\r\n"));
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let parsed: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(parsed.len(), 2);
        assert_eq!(&parsed[0][9], "odd, \"quoted\"\nagent");
        assert_eq!(&parsed[0][6], "1.500");
        assert_eq!(&parsed[1][9], "'=HYPERLINK(\"x\")");
        assert_eq!(&parsed[1][14], "'-rm");
        assert_eq!(&parsed[1][1], "2025-12-02T04:33:20.000Z");
        let body_only = csv_rows(&rows[..1], false).unwrap();
        assert!(body_only.starts_with(b"7,"));
    }

    /// Ids 10 down to 1, pages of `size` below a cursor, as `paged` asks for them.
    fn ids(
        size: u64,
    ) -> impl Fn(Option<i64>) -> futures_util::future::Ready<Result<Vec<i64>, sea_orm::DbErr>> {
        move |below: Option<i64>| {
            let top = below.map_or(10, |b| b - 1);
            let page = (1..=top).rev().take(size as usize).collect();
            futures_util::future::ready(Ok(page))
        }
    }

    async fn collect(chunks: ExportChunks) -> Vec<Result<(Bytes, u64), String>> {
        use futures_util::StreamExt;
        chunks.map(|c| c.map_err(|e| e.to_string())).collect().await
    }

    /// Each page as (`rows first last`, the thread that rendered it), in order.
    fn pages_and_threads(chunks: Vec<Result<(Bytes, u64), String>>) -> Vec<(String, String)> {
        chunks
            .into_iter()
            .map(|c| String::from_utf8(c.unwrap().0.to_vec()).unwrap())
            .map(|l| {
                let (page, thread) = l.trim_end().rsplit_once(' ').unwrap();
                (page.to_string(), thread.to_string())
            })
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_page_is_rendered_in_order_on_the_one_thread_of_its_export() {
        // Two exports at once, each page taking a while: a blocking task per page would have
        // pages land on either export's thread.
        let render = |rows: &[i64], first: bool, last: bool| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            let thread = format!("{:?}", std::thread::current().id()).replace(' ', "");
            Ok(format!("{rows:?} {first} {last} {thread}").into_bytes())
        };
        let export = || collect(paged(None, 1, ids(1), |id| Ok(*id), render));
        let (one, two) = tokio::join!(export(), export());
        for chunks in [one, two] {
            let pages = pages_and_threads(chunks);
            let expected: Vec<String> = (1..=10)
                .rev()
                .map(|id| format!("[{id}] {} false", id == 10))
                .chain(["[] false true".to_string()])
                .collect();
            assert_eq!(
                pages.iter().map(|p| &p.0).collect::<Vec<_>>(),
                expected.iter().collect::<Vec<_>>()
            );
            assert!(pages.iter().all(|p| p.1 == pages[0].1), "{pages:?}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pages_are_read_ahead_of_a_slow_rendering_and_no_further() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let read = std::sync::Arc::new(AtomicUsize::new(0));
        let fetch = {
            let read = read.clone();
            let pages = ids(1);
            move |below: Option<i64>| {
                read.fetch_add(1, Ordering::SeqCst);
                pages(below)
            }
        };
        // The first page is rendered only once the pages after it have been read (the page being
        // rendered, `READ_AHEAD` queued, one more waiting for room): reading page by page
        // behind the rendering, it never would be.
        let ahead = 2 + READ_AHEAD;
        let render = {
            let read = read.clone();
            move |rows: &[i64], first: bool, _: bool| {
                if first {
                    let waited = std::time::Instant::now();
                    while read.load(Ordering::SeqCst) < ahead {
                        assert!(
                            waited.elapsed() < std::time::Duration::from_secs(10),
                            "{} pages read while the first was rendered",
                            read.load(Ordering::SeqCst)
                        );
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    // And no more: the reading waits for room.
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    assert_eq!(read.load(Ordering::SeqCst), ahead);
                }
                Ok(format!("{rows:?}").into_bytes())
            }
        };
        let chunks = collect(paged(None, 1, fetch, |id| Ok(*id), render)).await;
        let pages: Vec<String> = chunks
            .into_iter()
            .map(|c| String::from_utf8(c.unwrap().0.to_vec()).unwrap())
            .collect();
        let expected: Vec<String> = (1..=10)
            .rev()
            .map(|id| format!("[{id}]"))
            .chain(["[]".to_string()])
            .collect();
        assert_eq!(pages, expected);
        assert_eq!(read.load(Ordering::SeqCst), 11, "each page read once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_that_fails_or_panics_ends_the_export_with_an_error() {
        let fails = |rows: &[i64], _: bool, _: bool| {
            if rows.contains(&5) {
                Err("no room".to_string())
            } else {
                Ok(b"ok".to_vec())
            }
        };
        let chunks = collect(paged(None, 4, ids(4), |id| Ok(*id), fails)).await;
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert!(chunks[0].is_ok());
        assert_eq!(chunks[1].as_ref().unwrap_err(), "no room");

        let panics = |rows: &[i64], _: bool, _: bool| {
            assert!(!rows.contains(&5), "a page that cannot be rendered");
            Ok(b"ok".to_vec())
        };
        let chunks = collect(paged(None, 4, ids(4), |id| Ok(*id), panics)).await;
        assert_eq!(chunks.len(), 2, "{chunks:?}");
        assert!(chunks[0].is_ok());
        assert_eq!(
            chunks[1].as_ref().unwrap_err(),
            "rendering a page panicked: a page that cannot be rendered"
        );
    }

    /// Every event, exported on SQLite by ranges of ids (`paging::newest_in_id_ranges`), is the
    /// same file as the events a filter matching all of them gives page by page: newest first,
    /// each once, across gaps and page boundaries.
    #[tokio::test]
    async fn an_export_of_every_event_on_sqlite_reads_ranges_of_ids_across_gaps() {
        use sea_orm::ConnectionTrait;

        let db = crate::store::test_db_with_deliveries(&[]).await;
        db.execute_unprepared(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4500) \
             INSERT INTO events (id, at_ms, endpoint, outcome, status, latency_us, bytes, \
             user_agent) SELECT i, 1764650000000 + i, 'webhook', 'accepted', 202, i, 10, \
             'agent ' || i FROM n",
        )
        .await
        .unwrap();
        db.execute_unprepared(
            "DELETE FROM events WHERE id BETWEEN 1500 AND 2600 OR (id > 3000 AND id % 5 = 0) \
             OR id = 4500",
        )
        .await
        .unwrap();
        let export = |filter: Filter| {
            let db = db.clone();
            async move {
                let (_, chunks) = super::chunks(db, &filter).unwrap();
                let chunks = collect(chunks).await;
                let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.unwrap().0).collect();
                String::from_utf8(bytes).unwrap()
            }
        };
        let every = export(Filter::default()).await;
        let ids: Vec<i64> = every
            .lines()
            .skip(1)
            .map(|line| line.split(',').next().unwrap().parse().unwrap())
            .collect();
        let kept: Vec<i64> = (1..4500)
            .rev()
            .filter(|id| !((1500..=2600).contains(id) || (*id > 3000 && id % 5 == 0)))
            .collect();
        assert_eq!(ids, kept);
        let webhook = Filter {
            endpoint: Some("webhook".into()),
            ..Filter::default()
        };
        assert_eq!(
            every,
            export(webhook).await,
            "as a filter matching all of them"
        );
    }
}
