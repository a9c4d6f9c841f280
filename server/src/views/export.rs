//! The events export: every event a filter matches, newest first, as CSV or JSON text in chunks of
//! a page each (constant memory whatever the count). One implementation for `GET export-events/`
//! and `server export-events`.

use bytes::Bytes;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use super::error::{ViewError, ViewResult};
use super::events::{Filter, before_id, condition, page};
use crate::events::view;
use crate::store::entities::events;

/// Rows fetched per page while exporting.
const EXPORT_PAGE: u64 = 2000;

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
    let fetch = move |before| {
        let db = db.clone();
        let condition = condition.clone();
        async move { page(&db, condition, before, EXPORT_PAGE).await }
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
/// read: an export at constant memory whatever its size (two pages at most: the next one is read
/// while the current one is rendered, so the database and the rendering work side by side).
/// `render(rows, first, last)`: `first` until a page held rows, `last` on the page that ends it
/// (one shorter than `page_size`).
///
/// A page is rendered on the blocking pool, not on the runtime's worker that polls the stream.
/// There it held up the read of the next page: tokio queues a task spawned on a worker in that
/// worker's own slot, which no other worker takes from, so the read waited for the rendering to
/// end, and the two took turns. The machine stood 44% idle during `bench large`'s exports. A CSV
/// or Parquet page is also milliseconds of CPU that no request sharing the worker should wait for.
pub fn paged<R, F, Fut, W>(
    start: Option<i64>,
    page_size: u64,
    fetch: F,
    id_of: fn(&R) -> Result<i64, sea_orm::DbErr>,
    render: W,
) -> ExportChunks
where
    R: Send + 'static,
    F: Fn(Option<i64>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Vec<R>, sea_orm::DbErr>> + Send + 'static,
    W: FnMut(&[R], bool, bool) -> Result<Vec<u8>, String> + Send + 'static,
{
    type Next<R> = tokio::task::JoinHandle<Result<Vec<R>, sea_orm::DbErr>>;
    struct State<R, F, W> {
        next: Option<Next<R>>,
        first: bool,
        fetch: F,
        /// Away on the blocking pool while it renders a page.
        render: Option<W>,
    }
    let state = State {
        next: Some(tokio::spawn(fetch(start))),
        first: true,
        fetch,
        render: Some(render),
    };
    let stream = futures_util::stream::unfold(state, move |mut state| async move {
        let next = state.next.take()?;
        let stopped = |error: String| {
            tracing::error!(%error, "export stopped");
            Err(std::io::Error::other(error))
        };
        let rows = match next.await {
            Ok(Ok(rows)) => rows,
            Ok(Err(error)) => return Some((stopped(error.to_string()), state)),
            Err(error) => return Some((stopped(error.to_string()), state)),
        };
        let last = (rows.len() as u64) < page_size;
        if !last {
            // The next page is read while this one is rendered.
            let below = match rows.last().map(id_of).transpose() {
                Ok(below) => below,
                Err(error) => return Some((stopped(error.to_string()), state)),
            };
            state.next = Some(tokio::spawn((state.fetch)(below)));
        }
        let first = state.first;
        state.first = first && rows.is_empty();
        let count = rows.len() as u64;
        let mut render = state.render.take()?;
        let rendered = tokio::task::spawn_blocking(move || {
            let bytes = render(&rows, first, last);
            (render, bytes)
        })
        .await;
        let rendered = match rendered {
            Ok((render, Ok(bytes))) => {
                state.render = Some(render);
                Ok((Bytes::from(bytes), count))
            }
            Ok((_, Err(error))) => Err(error),
            Err(panicked) => Err(format!("rendering a page: {panicked}")),
        };
        let item = rendered.or_else(|error| {
            if let Some(next) = state.next.take() {
                next.abort();
            }
            stopped(error)
        });
        Some((item, state))
    });
    Box::pin(stream)
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
}
