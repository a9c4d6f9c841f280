//! Events: the filtered, cursor-paginated list (newest first, never a COUNT over the table), one
//! event in full, and replaying a stored delivery.

use std::io::Write;

use app::types::{
    BodyView, DeliveryView, EventDetailView, EventPage, HeaderView, PostView, ReplayView,
};
use delivery::lifecycle::DeliveryState;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::error::{ViewError, ViewResult};
use super::paging::{contains, given, time_param};
use crate::events::view;
use crate::extractor::ProcessorHandle;
use crate::store::entities::{deliveries, delivery_chunks, events, posts};
use crate::store::outcome::Outcome;
use crate::store::{Writer, ingestion};

const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 500;
/// Posts listed in an event's detail at most.
const DETAIL_POSTS: u64 = 20;
/// Body text shown in an event's detail at most.
const BODY_PREVIEW: u64 = 1 << 20;

/// The filters of the list and the export: the type the dashboard sends too.
pub use app::types::EventFilter as Filter;

/// The filter as a condition on the events table.
pub(super) fn condition(filter: &Filter) -> ViewResult<Condition> {
    let mut c = Condition::all();
    if let Some(outcome) = given(&filter.outcome) {
        let known = outcome
            .split(',')
            .map(|o| {
                Outcome::parse(o.trim())
                    .map(Outcome::as_str)
                    .ok_or_else(|| {
                        ViewError::invalid("invalid_outcome", format!("unknown outcome {o:?}"))
                    })
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
        let like = || contains(q);
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
pub(super) fn before_id(filter: &Filter) -> ViewResult<Option<i64>> {
    super::paging::cursor(&filter.cursor)
}

/// One page, newest first, starting below `before`.
pub async fn page(
    db: &DatabaseConnection,
    condition: Condition,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<events::Model>, sea_orm::DbErr> {
    super::paging::page_query::<events::Entity>(events::Column::Id, condition, before, limit)
        .all(db)
        .await
}

/// One page of the list, for the API and the dashboard alike.
pub async fn list(db: &DatabaseConnection, filter: &Filter) -> ViewResult<EventPage> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let mut rows = page(db, condition(filter)?, before_id(filter)?, limit + 1)
        .await
        .map_err(|e| ViewError::internal("listing events", e))?;
    let next_cursor = super::paging::next_cursor(&mut rows, limit, |e| e.id);
    Ok(EventPage {
        events: rows.into_iter().map(view).collect(),
        next_cursor,
    })
}

/// The event with this id, or 404.
async fn find_event(db: &DatabaseConnection, id: i64) -> ViewResult<events::Model> {
    events::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(|e| ViewError::internal("reading an event", e))?
        .ok_or_else(|| ViewError::not_found(format!("no event {id}")))
}

/// One event in full, for the API and the dashboard alike.
pub async fn detail(db: &DatabaseConnection, id: i64) -> ViewResult<EventDetailView> {
    let event = find_event(db, id).await?;
    let headers = event.headers.as_deref().and_then(header_views);
    let fail = |e| ViewError::internal("reading a delivery", e);
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

/// The headers as recorded: a JSON object (`request::redacted_headers`) whose values are a string,
/// or a list of strings for a header repeated. `None` when the text is not that.
fn header_views(recorded: &str) -> Option<Vec<HeaderView>> {
    let object: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_str(recorded).ok()?;
    object
        .into_iter()
        .map(|(name, value)| {
            let values = match value {
                serde_json::Value::String(one) => vec![one],
                serde_json::Value::Array(many) => many
                    .into_iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<_>>()?,
                _ => return None,
            };
            Some(HeaderView { name, values })
        })
        .collect()
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

/// Queues the event's stored delivery for extraction again (posts are upserts, input errors are
/// replaced: replaying twice changes nothing more).
pub async fn replay(
    db: &DatabaseConnection,
    writer: &Writer,
    processor: &ProcessorHandle,
    id: i64,
) -> ViewResult<ReplayView> {
    let event = find_event(db, id).await?;
    let Some(delivery_id) = event.delivery_id else {
        return Err(ViewError::conflict(
            "no_delivery",
            "this event stored no delivery (refused, a notification, or a duplicate of one)",
        ));
    };
    let queued = writer
        .run(move |txn| Box::pin(ingestion::requeue(txn, delivery_id)))
        .await
        .map_err(|e| ViewError::internal("queueing a replay", e))?;
    match queued {
        ingestion::Requeue::Queued => {
            processor.wake();
            Ok(ReplayView {
                status: DeliveryState::Queued.as_str().to_owned(),
                delivery_id,
            })
        }
        ingestion::Requeue::Missing => Err(ViewError::not_found(format!(
            "delivery {delivery_id} is no longer stored"
        ))),
        ingestion::Requeue::BodyNotKept => Err(ViewError::conflict(
            "body_not_kept",
            "the raw body of this delivery was larger than WEBHOOK_MAX_STORED_BODY_BYTES and was not kept",
        )),
        ingestion::Requeue::Busy(state) => Err(ViewError::conflict(
            "busy",
            format!("the delivery is {state}; try again when it is stored"),
        )),
    }
}
