//! Events: the filtered, cursor-paginated list (newest first, never a COUNT over the table), one
//! event in full, the streaming export, and replaying a stored delivery.

use std::io::Write;

use app::types::{BodyView, DeliveryView, EventDetailView, EventPage, PostView, ReplayView};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::sea_query::LikeExpr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::error::ApiError;
use crate::events::view;
use crate::ingest::outcome::Outcome;
use crate::state::AppState;
use crate::store::entities::{deliveries, delivery_chunks, events, posts};
use crate::store::ingestion;

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;
/// Rows fetched per page while exporting.
const EXPORT_PAGE: u64 = 2000;
/// Posts listed in an event's detail at most.
const DETAIL_POSTS: u64 = 20;
/// Body text shown in an event's detail at most.
const BODY_PREVIEW: u64 = 1 << 20;

/// The filters of the list and the export: the type the dashboard sends too.
pub use app::types::EventFilter as Filter;

fn bad(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

fn time_param(name: &str, value: &str) -> Result<i64, ApiError> {
    value
        .parse::<i64>()
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|t| t.timestamp_millis())
        })
        .ok_or_else(|| {
            bad(
                "invalid_time",
                format!("{name} must be Unix milliseconds or RFC 3339, not {value:?}"),
            )
        })
}

/// A filter's value, with an empty one (an unset field of the dashboard's form) taken as unset.
pub(crate) fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// The filter as a condition on the events table.
fn condition(filter: &Filter) -> Result<Condition, ApiError> {
    let mut c = Condition::all();
    if let Some(outcome) = given(&filter.outcome) {
        let known = outcome
            .split(',')
            .map(|o| {
                Outcome::parse(o.trim())
                    .map(Outcome::as_str)
                    .ok_or_else(|| bad("invalid_outcome", format!("unknown outcome {o:?}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        c = c.add(events::Column::Outcome.is_in(known));
    }
    if let Some(endpoint) = given(&filter.endpoint) {
        c = c.add(events::Column::Endpoint.eq(endpoint));
    }
    if let Some(platform) = given(&filter.platform) {
        c = c.add(events::Column::Platform.eq(platform));
    }
    if let Some(snapshot) = given(&filter.snapshot) {
        c = c.add(events::Column::SnapshotId.eq(snapshot));
    }
    if let Some(ip) = given(&filter.ip) {
        c = c.add(events::Column::ClientIp.eq(ip));
    }
    if let Some(from) = given(&filter.from) {
        c = c.add(events::Column::AtMs.gte(time_param("from", from)?));
    }
    if let Some(to) = given(&filter.to) {
        c = c.add(events::Column::AtMs.lt(time_param("to", to)?));
    }
    if let Some(q) = given(&filter.q) {
        // The text is matched literally: LIKE's wildcards in it are escaped.
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let like = || LikeExpr::new(format!("%{escaped}%")).escape('\\');
        c = c.add(
            Condition::any()
                .add(events::Column::Error.like(like()))
                .add(events::Column::UserAgent.like(like()))
                .add(events::Column::SnapshotId.like(like()))
                .add(events::Column::ClientIp.like(like())),
        );
    }
    Ok(c)
}

/// Where the page starts: below the cursor's event id.
fn before_id(filter: &Filter) -> Result<Option<i64>, ApiError> {
    given(&filter.cursor)
        .map(|c| {
            c.parse::<i64>()
                .map_err(|_| bad("invalid_cursor", format!("invalid cursor {c:?}")))
        })
        .transpose()
}

/// One page, newest first, starting below `before`.
pub async fn page(
    db: &DatabaseConnection,
    condition: Condition,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<events::Model>, sea_orm::DbErr> {
    let mut select = events::Entity::find().filter(condition);
    if let Some(before) = before {
        select = select.filter(events::Column::Id.lt(before));
    }
    select
        .order_by_desc(events::Column::Id)
        .limit(limit)
        .all(db)
        .await
}

/// One page of the list, for the API and the dashboard alike.
pub async fn list_page(db: &DatabaseConnection, filter: &Filter) -> Result<EventPage, ApiError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let mut rows = page(db, condition(filter)?, before_id(filter)?, limit + 1)
        .await
        .map_err(|e| ApiError::internal("listing events", e))?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = more
        .then(|| rows.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(EventPage {
        events: rows.into_iter().map(view).collect(),
        next_cursor,
    })
}

/// `GET events/?outcome=&endpoint=&platform=&snapshot=&ip=&from=&to=&q=&cursor=&limit=`
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    Ok(Json(list_page(&state.db, &filter).await?).into_response())
}

/// The event with this id, or 404.
async fn find_event(db: &DatabaseConnection, id: i64) -> Result<events::Model, ApiError> {
    events::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(|e| ApiError::internal("reading an event", e))?
        .ok_or_else(|| ApiError::not_found(format!("no event {id}")))
}

/// One event in full, for the API and the dashboard alike.
pub async fn detail_view(db: &DatabaseConnection, id: i64) -> Result<EventDetailView, ApiError> {
    let event = find_event(db, id).await?;
    // Written by the server as a JSON object (`request::redacted_headers`).
    let headers = event
        .headers
        .as_deref()
        .and_then(|h| serde_json::from_str(h).ok());
    let fail = |e| ApiError::internal("reading a delivery", e);
    let (delivery, body, posts) = match event.delivery_id {
        Some(delivery_id) => match deliveries::Entity::find_by_id(delivery_id)
            .one(db)
            .await
            .map_err(fail)?
        {
            Some(delivery) => {
                let body = if delivery.body_kept {
                    Some(body_preview(db, &delivery).await.map_err(fail)?)
                } else {
                    None
                };
                let posts = posts::Entity::find()
                    .filter(posts::Column::DeliveryId.eq(delivery_id))
                    .order_by_desc(posts::Column::Id)
                    .limit(DETAIL_POSTS)
                    .all(db)
                    .await
                    .map_err(fail)?;
                (
                    Some(delivery_view(delivery)),
                    body,
                    posts.into_iter().map(post_view).collect(),
                )
            }
            None => (None, None, Vec::new()),
        },
        None => (None, None, Vec::new()),
    };
    Ok(EventDetailView {
        event: view(event),
        headers,
        delivery,
        body,
        posts,
    })
}

/// `GET events/{id}/`: the event with its (redacted) headers, its delivery, the stored body and
/// the posts it produced.
pub async fn detail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    Ok(Json(detail_view(&state.db, id).await?).into_response())
}

pub fn delivery_view(d: deliveries::Model) -> DeliveryView {
    DeliveryView {
        id: d.id,
        snapshot_id: d.snapshot_id,
        filename: d.filename,
        state: d.state,
        format: d.format,
        compressed: d.compressed,
        wire_bytes: d.wire_bytes,
        inflated_bytes: d.inflated_bytes,
        records: d.posts,
        input_errors: d.input_errors,
        malformed: d.malformed,
        duplicates: d.duplicates,
        received_ms: d.received_ms,
        processed_ms: d.processed_ms,
        error: d.error,
        body_kept: d.body_kept,
    }
}

pub fn post_view(p: posts::Model) -> PostView {
    PostView {
        platform: p.platform,
        post_id: p.post_id,
        url: p.url,
        author: p.author,
        posted_ms: p.posted_ms,
        likes: p.likes,
        comments: p.comments,
        shares: p.shares,
        views: p.views,
        times_delivered: p.times_delivered,
    }
}

/// The first [`BODY_PREVIEW`] bytes of a kept body, inflated. Reads its chunks one at a time and
/// only as far as the preview needs: a 1 GiB body, or a chunk that inflates 1000x, costs about
/// one chunk and one preview of memory.
async fn body_preview(
    db: &DatabaseConnection,
    delivery: &deliveries::Model,
) -> Result<BodyView, sea_orm::DbErr> {
    let wanted = BODY_PREVIEW as usize + 1;
    let mut sink: Option<Preview> = None;
    let mut readable = true;
    for seq in 0.. {
        let Some(chunk) = delivery_chunks::Entity::find_by_id((delivery.id, seq))
            .one(db)
            .await?
        else {
            break;
        };
        let sink = sink.get_or_insert_with(|| {
            if chunk.data.starts_with(&[0x1f, 0x8b]) {
                Preview::Gzip(Box::new(flate2::write::MultiGzDecoder::new(Capped::new(
                    wanted,
                ))))
            } else {
                Preview::Plain(Capped::new(wanted))
            }
        });
        let written = match sink {
            Preview::Plain(text) => text.write_all(&chunk.data),
            Preview::Gzip(inflater) => inflater.write_all(&chunk.data),
        };
        // An error is the preview being full (the sink refuses more) or broken gzip data.
        if written.is_err() || sink.text().is_full() {
            readable = sink.text().is_full();
            break;
        }
    }
    let gzip = matches!(sink, Some(Preview::Gzip(_)));
    let text = match sink {
        None => Capped::new(0),
        Some(Preview::Plain(text)) => text,
        Some(Preview::Gzip(mut inflater)) => {
            // A full preview stopped the inflater on purpose; otherwise the stream must end well.
            if !inflater.get_ref().is_full() && inflater.try_finish().is_err() {
                readable = false;
            }
            let text = inflater.get_ref();
            Capped {
                bytes: text.bytes.clone(),
                cap: text.cap,
            }
        }
    };
    let mut text = text.bytes;
    let truncated = text.len() as u64 > BODY_PREVIEW;
    text.truncate(BODY_PREVIEW as usize);
    Ok(BodyView {
        encoding: if gzip { "gzip" } else { "identity" }.to_owned(),
        stored_bytes: delivery.wire_bytes.max(0) as u64,
        readable,
        truncated,
        text: String::from_utf8_lossy(&text).into_owned(),
    })
}

/// Where a body preview is written: as stored, or through an inflater.
enum Preview {
    Plain(Capped),
    // Boxed: the inflater's state is ten times the size of a plain sink.
    Gzip(Box<flate2::write::MultiGzDecoder<Capped>>),
}

impl Preview {
    fn text(&self) -> &Capped {
        match self {
            Self::Plain(text) => text,
            Self::Gzip(inflater) => inflater.get_ref(),
        }
    }
}

/// A sink that keeps the first `cap` bytes written to it and refuses the rest, which stops an
/// inflater feeding it.
struct Capped {
    bytes: Vec<u8>,
    cap: usize,
}

impl Capped {
    fn new(cap: usize) -> Self {
        Self {
            bytes: Vec::new(),
            cap,
        }
    }

    fn is_full(&self) -> bool {
        self.bytes.len() >= self.cap
    }
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.is_full() {
            return Err(std::io::Error::other("preview full"));
        }
        let taken = data.len().min(self.cap - self.bytes.len());
        self.bytes.extend_from_slice(&data[..taken]);
        Ok(taken)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Queues the event's stored delivery for extraction again, for the API and the dashboard alike.
pub async fn replay_event(state: &AppState, id: i64) -> Result<ReplayView, ApiError> {
    let event = find_event(&state.db, id).await?;
    let Some(delivery_id) = event.delivery_id else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_delivery",
            "this event stored no delivery (refused, a notification, or a duplicate of one)",
        ));
    };
    let queued = state
        .writer
        .run(move |txn| Box::pin(ingestion::requeue(txn, delivery_id)))
        .await
        .map_err(|e| ApiError::internal("queueing a replay", e))?;
    match queued {
        ingestion::Requeue::Queued => {
            state.ingest.processor.wake();
            Ok(ReplayView {
                status: "queued".to_owned(),
                delivery_id,
            })
        }
        ingestion::Requeue::Missing => Err(ApiError::not_found(format!(
            "delivery {delivery_id} is no longer stored"
        ))),
        ingestion::Requeue::BodyNotKept => Err(ApiError::new(
            StatusCode::CONFLICT,
            "body_not_kept",
            "the raw body of this delivery was larger than WEBHOOK_MAX_STORED_BODY_BYTES and was not kept",
        )),
        ingestion::Requeue::Busy(state) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "busy",
            format!("the delivery is {state}; try again when it is stored"),
        )),
    }
}

/// `POST events/{id}/replay/`: extracts the event's stored delivery again (posts are upserts, input
/// errors are replaced: replaying twice changes nothing more).
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let queued = replay_event(&state, id).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)).into_response())
}

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
fn spreadsheet_text(value: &str) -> std::borrow::Cow<'_, str> {
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
pub fn export_chunks(
    db: DatabaseConnection,
    filter: &Filter,
) -> Result<(bool, ExportChunks), ApiError> {
    let json_format = match filter.format.as_deref().unwrap_or("csv") {
        "csv" => false,
        "json" => true,
        other => {
            return Err(bad(
                "invalid_format",
                format!("format must be csv or json, not {other:?}"),
            ));
        }
    };
    let condition = condition(filter)?;
    let start = before_id(filter)?;

    struct Cursor {
        before: Option<i64>,
        first: bool,
        done: bool,
    }
    let stream = futures_util::stream::unfold(
        Cursor {
            before: start,
            first: true,
            done: false,
        },
        move |mut cursor| {
            let db = db.clone();
            let condition = condition.clone();
            async move {
                if cursor.done {
                    return None;
                }
                let rows = match page(&db, condition, cursor.before, EXPORT_PAGE).await {
                    Ok(rows) => rows,
                    Err(error) => {
                        tracing::error!(%error, "export stopped");
                        cursor.done = true;
                        return Some((Err(std::io::Error::other(error.to_string())), cursor));
                    }
                };
                let mut out = Vec::new();
                if json_format {
                    if cursor.first {
                        out.push(b'[');
                    }
                    for (i, row) in rows.iter().enumerate() {
                        if !(cursor.first && i == 0) {
                            out.push(b',');
                        }
                        out.extend(serde_json::to_vec(&view(row.clone())).unwrap_or_default());
                    }
                } else {
                    match csv_rows(&rows, cursor.first) {
                        Ok(csv) => out = csv,
                        Err(error) => {
                            tracing::error!(%error, "export stopped");
                            cursor.done = true;
                            return Some((Err(std::io::Error::other(error.to_string())), cursor));
                        }
                    }
                }
                cursor.first = cursor.first && rows.is_empty();
                cursor.before = rows.last().map(|r| r.id).or(cursor.before);
                if (rows.len() as u64) < EXPORT_PAGE {
                    cursor.done = true;
                    if json_format {
                        out.push(b']');
                    }
                }
                Some((Ok((Bytes::from(out), rows.len() as u64)), cursor))
            }
        },
    );
    Ok((json_format, Box::pin(stream)))
}

/// How many events `filter` matches (for a progress bar: a COUNT, so not for every page view).
pub async fn export_count(db: &DatabaseConnection, filter: &Filter) -> Result<u64, ApiError> {
    use sea_orm::PaginatorTrait;
    let mut select = events::Entity::find().filter(condition(filter)?);
    if let Some(before) = before_id(filter)? {
        select = select.filter(events::Column::Id.lt(before));
    }
    select
        .count(db)
        .await
        .map_err(|e| ApiError::internal("counting events", e))
}

/// `GET export-events/?format=csv|json&<list filters>`: every matching event, newest first,
/// streamed page by page (constant memory whatever the count).
pub async fn export(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    use futures_util::{StreamExt, TryStreamExt};
    let (json_format, chunks) = export_chunks(state.db.clone(), &filter)?;
    let (content_type, name) = if json_format {
        ("application/json", "webhook_events.json")
    } else {
        ("text/csv; charset=utf-8", "webhook_events.csv")
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        // Fused: the compression layer's encoder polls its body once more after the end, and an
        // `unfold` stream panics when polled past its end.
        Body::from_stream(chunks.map_ok(|(bytes, _)| bytes).fuse()),
    )
        .into_response())
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
