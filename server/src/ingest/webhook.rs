//! `POST /api/brightdata/webhook/`: a data delivery.
//!
//! Two ways to store, one answer contract (a 2xx means the delivery is durably stored):
//! - **inline** (declared body up to 8 MiB, inflating to at most 64 MiB): read, verify, parse, then
//!   the delivery, its posts, input errors and snapshot commit in one transaction; the answer (200)
//!   carries exact counts.
//! - **streamed** (bigger, or no `Content-Length`): the raw body is written to the database in 1 MiB
//!   chunks while it arrives and is verified and parsed on the fly (memory stays bounded); once it is
//!   complete and valid it is committed as `queued` and answered 202; a background worker then extracts
//!   the posts (`processor`), also after a restart.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::json;

use super::outcome::{EventDetail, Rejection, answer};
use super::request::{Accepts, DeliveryHeaders, declared_body, is_csv_file_name};
use super::{ClientIp, Ingest};
use crate::store::ingestion::{
    self, BodySummary, DeliveryMeta, DeliveryOutcome, InlineDelivery, ParsedBody, ReceivedOutcome,
};
use crate::store::outcome::Outcome;
use delivery::decode::{Declared, DecodeError, Decoded, DeliveryDecoder};
use delivery::records::{Format, InputError, Mode, PayloadError, Post, Record};
use delivery::verify::{BodyChecks, unix_now};

/// Bodies declared up to this size are stored inline.
const INLINE_MAX_WIRE: u64 = 8 << 20;
/// ... as long as they inflate to at most this.
const INLINE_MAX_INFLATED: u64 = 64 << 20;
/// Inline deliveries share `WEBHOOK_INLINE_MEMORY_BYTES`: each reserves its share before its body is
/// read (twice the body: as read and the copy kept for replay), plus room for its parsed records
/// (about twice their text) sized from the body: 32 times it, at least `INLINE_RECORDS_MIN`. A body
/// whose records outgrow that room is stored like a streamed one instead (bounded memory, answered
/// 202); a delivery that finds the budget taken waits for it.
const INLINE_RECORDS_MIN: u64 = 256 << 10;
/// Bodies above this are decoded off the async runtime.
const DECODE_IN_PLACE_MAX: usize = 256 << 10;
/// Raw body chunk size in the database.
const CHUNK_BYTES: usize = 1 << 20;
/// Malformed-record reasons echoed in the answer.
const MALFORMED_EXAMPLES: usize = 5;

pub async fn receive(
    State(ingest): State<Arc<Ingest>>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut detail = EventDetail::default();
    let result = receive_delivery(
        &ingest,
        ip.to_string(),
        &method,
        &headers,
        body,
        &mut detail,
    )
    .await;
    answer(result, detail)
}

async fn receive_delivery(
    ingest: &Arc<Ingest>,
    client_ip: String,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    detail: &mut EventDetail,
) -> Result<Response, Rejection> {
    let received_ms = chrono::Utc::now().timestamp_millis();
    let headers_at = unix_now();
    let mut checks = ingest.verifier.check_headers(headers, headers_at)?;
    Rejection::unless_post(method)?;
    let (declared, ids) = delivery_headers(headers)?;
    detail.snapshot_id = ids.snapshot_id.clone();

    // Unsigned retries are recognised before reading the body (a signed one must prove its
    // signature first, so it is checked when stored).
    if !checks.is_signed()
        && let Some(key) = &ids.replay_key
    {
        let seen = ingestion::replay_key_delivery(&ingest.db, key)
            .await
            .map_err(|e| Rejection::storing("replay check", e))?;
        if let Some(delivery_id) = seen {
            // The original may be committed but not yet flushed: "duplicate" promises it is stored.
            ingest
                .writer
                .settled()
                .await
                .map_err(|e| Rejection::storing("waiting for the original delivery", e))?;
            return Ok(duplicate(detail, ids.snapshot_id.as_deref(), delivery_id));
        }
    }

    let meta = DeliveryMeta {
        snapshot_id: ids.snapshot_id.clone(),
        filename: ids.filename.clone(),
        replay_key: ids.replay_key.clone(),
        client_ip,
        received_ms,
    };
    let default_platform = dataset_platform(ingest, ids.snapshot_id.as_deref()).await;
    // Known when the request declared its length (or has no body at all).
    let declared_length = http_body::Body::size_hint(&body).exact();

    match declared_length {
        Some(length) if length <= INLINE_MAX_WIRE => {
            let limit = ingest
                .limits
                .max_inflated_bytes
                .min(INLINE_MAX_INFLATED)
                .min((length * 32).max(INLINE_RECORDS_MIN));
            // Held until the answer: the body twice and the parsed records' room (never more than
            // the whole budget, so a delivery alone always proceeds).
            let reserved =
                (2 * length + 2 * limit).min(u64::from(ingest.limits.inline_memory_bytes)) as u32;
            let _memory = ingest
                .inline_memory
                .acquire_many(reserved)
                .await
                .map_err(|e| Rejection::internal("reserving memory for a delivery", e))?;
            let raw = read_all(body, length, &mut checks).await?;
            detail.bytes = Some(raw.len() as i64);
            checks.finish()?;
            let decoding = decode_collecting(
                raw.clone(),
                declared,
                limit,
                default_platform.clone(),
                // Drift is judged per snapshot: a delivery of none is not tallied.
                ingest.field_coverage && meta.snapshot_id.is_some(),
            );
            match decoding.await {
                Err(DecodeError::InflatedTooLarge { .. })
                    if ingest.limits.max_inflated_bytes > limit =>
                {
                    // Too big to hold its records in memory: store it like a streamed body.
                    let pieces: Vec<Result<Bytes, std::io::Error>> = (0..raw.len())
                        .step_by(CHUNK_BYTES)
                        .map(|start| Ok(raw.slice(start..(start + CHUNK_BYTES).min(raw.len()))))
                        .collect();
                    let chunks = futures_util::stream::iter(pieces);
                    let checks = ingest.verifier.check_headers(headers, headers_at)?;
                    store_streamed(
                        ingest,
                        meta,
                        chunks,
                        checks,
                        declared,
                        default_platform,
                        detail,
                    )
                    .await
                }
                Err(error) => Err(decode_rejection(error)),
                Ok((decoded, collected)) => {
                    store_inline(ingest, meta, raw, decoded, collected, detail).await
                }
            }
        }
        _ => {
            let stream = body.into_data_stream();
            store_streamed(
                ingest,
                meta,
                stream,
                checks,
                declared,
                default_platform,
                detail,
            )
            .await
        }
    }
}

/// What a delivery's headers say about it; a file named `.csv` is CSV whatever its media type.
fn delivery_headers(headers: &HeaderMap) -> Result<(Declared, DeliveryHeaders), Rejection> {
    let mut declared = declared_body(headers, Accepts::Records)?;
    let ids = DeliveryHeaders::parse(headers, "webhook")?;
    declared.csv |= ids.filename.as_deref().is_some_and(is_csv_file_name);
    Ok((declared, ids))
}

/// Reads a body of declared `length` (hyper enforces it), feeding the signature checks.
async fn read_all(body: Body, length: u64, checks: &mut BodyChecks) -> Result<Bytes, Rejection> {
    let mut stream = body.into_data_stream();
    let mut raw = BytesMut::with_capacity(length as usize);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Rejection::unreadable(&e))?;
        checks.update(&chunk);
        raw.extend_from_slice(&chunk);
    }
    Ok(raw.freeze())
}

/// Records as parsed, plus samples of why some were malformed.
#[derive(Default)]
struct Collected {
    keep: bool,
    posts: Vec<Post>,
    input_errors: Vec<InputError>,
    post_count: i64,
    input_error_count: i64,
    malformed: i64,
    malformed_examples: Vec<String>,
    platform: Option<String>,
}

impl Collected {
    fn keeping() -> Self {
        Self {
            keep: true,
            ..Self::default()
        }
    }

    fn add(&mut self, record: Record) {
        match record {
            Record::Post(post) => {
                self.post_count += 1;
                if self.platform.is_none() {
                    self.platform = Some(post.platform.clone());
                }
                if self.keep {
                    self.posts.push(*post);
                }
            }
            Record::InputError(error) => {
                self.input_error_count += 1;
                if self.keep {
                    self.input_errors.push(error);
                }
            }
            Record::CountedPost { platform } => {
                self.post_count += 1;
                if self.platform.is_none() {
                    self.platform = Some(platform);
                }
            }
            Record::CountedInputError => self.input_error_count += 1,
            Record::Malformed { index, reason } => {
                self.malformed += 1;
                if self.malformed_examples.len() < MALFORMED_EXAMPLES {
                    self.malformed_examples
                        .push(format!("record {index}: {reason}"));
                }
            }
        }
    }
}

async fn decode_collecting(
    raw: Bytes,
    declared: Declared,
    limit: u64,
    default_platform: Option<String>,
    coverage: bool,
) -> Result<(Decoded, Collected), DecodeError> {
    let small = raw.len() <= DECODE_IN_PLACE_MAX;
    let run = move || {
        let mut collected = Collected::keeping();
        let decoded =
            delivery::decode::decode_all(&raw, declared, limit, default_platform, coverage, |r| {
                collected.add(r)
            })?;
        Ok((decoded, collected))
    };
    if small {
        run()
    } else {
        tokio::task::spawn_blocking(run)
            .await
            .unwrap_or(Err(DecodeError::Gzip))
    }
}

async fn store_inline(
    ingest: &Arc<Ingest>,
    meta: DeliveryMeta,
    raw: Bytes,
    decoded: Decoded,
    collected: Collected,
    detail: &mut EventDetail,
) -> Result<Response, Rejection> {
    let keep_body = (raw.len() as u64) <= ingest.limits.max_stored_body_bytes;
    let body = ParsedBody {
        summary: summary(raw.len() as i64, &decoded, &collected),
        posts: collected.posts,
        input_errors: collected.input_errors,
    };
    let snapshot_id = meta.snapshot_id.clone();
    let outcome = ingest
        .writer
        .store_delivery(InlineDelivery {
            meta,
            body,
            raw: keep_body.then(|| raw.to_vec()),
        })
        .await
        .map_err(|e| Rejection::storing("storing a delivery", e))?;
    match outcome {
        DeliveryOutcome::Duplicate { delivery_id } => {
            Ok(duplicate(detail, snapshot_id.as_deref(), delivery_id))
        }
        DeliveryOutcome::Stored {
            delivery_id,
            duplicates,
        } => {
            detail.outcome = Some(Outcome::Accepted);
            detail.delivery_id = Some(delivery_id);
            detail.records = Some(collected.post_count);
            detail.platform = collected.platform.clone();
            Ok((
                StatusCode::OK,
                Json(json!({
                    "status": "ok",
                    "delivery_id": delivery_id,
                    "snapshot_id": snapshot_id,
                    "format": decoded.format.as_str(),
                    "compressed": decoded.compressed,
                    "records": collected.post_count,
                    "input_errors": collected.input_error_count,
                    "duplicates": duplicates,
                    "malformed": collected.malformed,
                    "malformed_examples": collected.malformed_examples,
                    "duplicate": false,
                })),
            )
                .into_response())
        }
    }
}

/// The streamed path: chunks to the database as they arrive, verification and parsing alongside.
async fn store_streamed<S, E>(
    ingest: &Arc<Ingest>,
    meta: DeliveryMeta,
    mut stream: S,
    mut checks: BodyChecks,
    declared: Declared,
    default_platform: Option<String>,
    detail: &mut EventDetail,
) -> Result<Response, Rejection>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + 'static,
{
    let opening = meta.clone();
    let ids = ingest.writer.ids();
    let delivery_id = ingest
        .writer
        .run(move |txn| {
            Box::pin(async move { ingestion::begin_receiving(txn, &ids, &opening).await })
        })
        .await
        .map_err(|e| Rejection::storing("opening a delivery", e))?;
    detail.delivery_id = Some(delivery_id);

    let received = receive_chunks(
        ingest,
        delivery_id,
        &mut stream,
        &mut checks,
        declared,
        default_platform,
        detail,
    )
    .await;
    // Signature first: a body that fails it is untrusted, whatever its content.
    let verified = match received {
        Ok(parsed) => checks.finish().map(|()| parsed).map_err(Rejection::from),
        Err(rejection) => Err(rejection),
    };
    let (wire_bytes, counted) = match verified {
        Ok(parsed) => parsed,
        Err(rejection) => {
            let discard = ingest
                .writer
                .run(move |txn| Box::pin(ingestion::discard_delivery(txn, delivery_id)))
                .await;
            if let Err(error) = discard {
                tracing::error!(%error, delivery_id, "cannot discard a refused delivery");
            }
            return Err(rejection);
        }
    };

    let summary = match &counted {
        Some((decoded, collected)) => summary(wire_bytes, decoded, collected),
        // Told by the extractor once it has parsed the verified body.
        None => BodySummary {
            format: declared.csv.then_some(Format::Csv),
            wire_bytes,
            ..BodySummary::default()
        },
    };
    let snapshot_id = meta.snapshot_id.clone();
    let outcome = ingest
        .writer
        .run(move |txn| {
            Box::pin(
                async move { ingestion::finish_receiving(txn, delivery_id, &meta, &summary).await },
            )
        })
        .await
        .map_err(|e| Rejection::storing("queueing a delivery", e))?;
    match outcome {
        ReceivedOutcome::Duplicate { delivery_id } => {
            Ok(duplicate(detail, snapshot_id.as_deref(), delivery_id))
        }
        ReceivedOutcome::Queued { delivery_id } => {
            ingest.processor.wake();
            detail.outcome = Some(Outcome::Accepted);
            let mut answer = json!({
                "status": "ok",
                "queued": true,
                "delivery_id": delivery_id,
                "snapshot_id": snapshot_id,
                "duplicates": null,
                "duplicate": false,
            });
            let counts = match &counted {
                Some((decoded, collected)) => {
                    detail.records = Some(collected.post_count);
                    detail.platform = collected.platform.clone();
                    json!({
                        "format": decoded.format.as_str(),
                        "compressed": decoded.compressed,
                        "records": collected.post_count,
                        "input_errors": collected.input_error_count,
                        "malformed": collected.malformed,
                        "malformed_examples": collected.malformed_examples,
                    })
                }
                None => json!({
                    "format": null,
                    "compressed": null,
                    "records": null,
                    "input_errors": null,
                    "malformed": null,
                    "malformed_examples": [],
                    "message": "signed body: parsed only after its signature was verified; \
                                its records are counted as they are extracted",
                }),
            };
            if let (Some(answer), serde_json::Value::Object(counts)) =
                (answer.as_object_mut(), counts)
            {
                answer.extend(counts);
            }
            Ok((StatusCode::ACCEPTED, Json(answer)).into_response())
        }
    }
}

fn summary(wire_bytes: i64, decoded: &Decoded, collected: &Collected) -> BodySummary {
    BodySummary {
        format: Some(decoded.format),
        compressed: decoded.compressed,
        wire_bytes,
        inflated_bytes: decoded.inflated_bytes as i64,
        posts: collected.post_count,
        input_errors: collected.input_error_count,
        malformed: collected.malformed,
        coverage: decoded.coverage.clone(),
    }
}

/// Bytes received, and what they held when they were counted on arrival (unsigned bodies).
type Received = (i64, Option<(Decoded, Collected)>);

async fn receive_chunks<S, E>(
    ingest: &Arc<Ingest>,
    delivery_id: i64,
    stream: &mut S,
    checks: &mut BodyChecks,
    declared: Declared,
    default_platform: Option<String>,
    detail: &mut EventDetail,
) -> Result<Received, Rejection>
where
    S: futures_util::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::error::Error + 'static,
{
    let max_wire = ingest.limits.max_body_bytes;
    let max_inflated = ingest.limits.max_inflated_bytes;
    // A signed body is not inflated or parsed before its signature is checked (that needs all of
    // it): its chunks are only stored, under a delivery still `receiving` that no view shows, and
    // the background extractor parses them once the delivery is verified and queued. An unsigned
    // body has nothing to wait for, and is counted while it arrives so the answer can say what it
    // held.
    let counting = !checks.is_signed();
    // Parsing runs on the blocking pool one stored chunk at a time, never while the upload waits
    // for the network: a few hundred slow uploads hold no threads (the pool is shared with file
    // I/O). One chunk is parsed while the next arrives; a parse error stops the upload.
    let mut parser = counting.then(|| BatchParser::new(declared, max_inflated, default_platform));

    let mut wire: u64 = 0;
    let mut seq: i32 = 0;
    let mut pending = BytesMut::with_capacity(CHUNK_BYTES);
    let mut failure: Option<Rejection> = None;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                failure = Some(Rejection::unreadable(&error));
                break;
            }
        };
        wire += chunk.len() as u64;
        detail.bytes = Some(wire as i64);
        if wire > max_wire {
            failure = Some(Rejection::too_large(format!(
                "the body exceeds the limit of {max_wire} bytes"
            )));
            break;
        }
        checks.update(&chunk);
        pending.extend_from_slice(&chunk);
        if pending.len() >= CHUNK_BYTES {
            let data = pending.split().freeze();
            if let Some(parser) = parser.as_mut()
                && let Err(error) = parser.feed(data.clone()).await
            {
                failure = Some(decode_rejection(error));
                break;
            }
            write_chunk(ingest, delivery_id, seq, data.to_vec()).await?;
            seq += 1;
        }
    }
    if let Some(rejection) = failure {
        return Err(rejection);
    }
    let pending = pending.freeze();
    let counted = match parser {
        Some(parser) => Some(
            parser
                .finish(pending.clone())
                .await
                .map_err(decode_rejection)?,
        ),
        None => None,
    };
    if !pending.is_empty() {
        write_chunk(ingest, delivery_id, seq, pending.to_vec()).await?;
    }
    Ok((wire as i64, counted))
}

/// Counts an unsigned streamed body's records batch by batch on the blocking pool: the decoder
/// travels to a blocking thread with each batch and comes back, so a thread is held only while
/// there is something to parse.
struct BatchParser {
    idle: Option<Box<Counting>>,
    busy: Option<tokio::task::JoinHandle<Result<Box<Counting>, DecodeError>>>,
}

type RecordSink = Box<dyn FnMut(Record) + Send>;

struct Counting {
    decoder: DeliveryDecoder<RecordSink>,
    collected: Arc<std::sync::Mutex<Collected>>,
}

impl BatchParser {
    fn new(declared: Declared, max_inflated: u64, default_platform: Option<String>) -> Self {
        let collected = Arc::new(std::sync::Mutex::new(Collected::default()));
        let sink = collected.clone();
        let emit: RecordSink = Box::new(move |record| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).add(record);
        });
        let decoder =
            DeliveryDecoder::new(declared, max_inflated, default_platform, Mode::Count, emit);
        Self {
            idle: Some(Box::new(Counting { decoder, collected })),
            busy: None,
        }
    }

    /// Waits for the batch before (if still parsing), then starts parsing `batch`.
    async fn feed(&mut self, batch: Bytes) -> Result<(), DecodeError> {
        let mut counting = self.take().await?;
        self.busy = Some(tokio::task::spawn_blocking(move || {
            counting.decoder.feed(&batch)?;
            Ok(counting)
        }));
        Ok(())
    }

    async fn take(&mut self) -> Result<Box<Counting>, DecodeError> {
        if let Some(busy) = self.busy.take() {
            return busy.await.unwrap_or(Err(DecodeError::Gzip));
        }
        Ok(self.idle.take().expect("a parser is idle or busy"))
    }

    /// Parses the last batch and ends the body.
    async fn finish(mut self, last: Bytes) -> Result<(Decoded, Collected), DecodeError> {
        let counting = self.take().await?;
        tokio::task::spawn_blocking(move || {
            let Counting {
                mut decoder,
                collected,
            } = *counting;
            decoder.feed(&last)?;
            let decoded = decoder.finish()?;
            let collected =
                std::mem::take(&mut *collected.lock().unwrap_or_else(|p| p.into_inner()));
            Ok((decoded, collected))
        })
        .await
        .unwrap_or(Err(DecodeError::Gzip))
    }
}

async fn write_chunk(
    ingest: &Arc<Ingest>,
    delivery_id: i64,
    seq: i32,
    data: Vec<u8>,
) -> Result<(), Rejection> {
    ingest
        .writer
        .run(move |txn| Box::pin(ingestion::insert_chunk(txn, delivery_id, seq, data)))
        .await
        .map_err(|e| Rejection::storing("storing a body chunk", e))
}

fn duplicate(
    detail: &mut EventDetail,
    snapshot_id: Option<&str>,
    delivery_id: Option<i64>,
) -> Response {
    detail.outcome = Some(Outcome::Duplicate);
    detail.delivery_id = delivery_id;
    detail.records = Some(0);
    (
        StatusCode::OK,
        Json(json!({
            "status": "ok",
            "duplicate": true,
            "delivery_id": delivery_id,
            "snapshot_id": snapshot_id,
            "records": 0,
            "input_errors": 0,
            "duplicates": 0,
            "message": "this delivery was received before; nothing new was stored",
        })),
    )
        .into_response()
}

fn decode_rejection(error: DecodeError) -> Rejection {
    match error {
        DecodeError::InflatedTooLarge { limit } => Rejection::too_large(format!(
            "the body inflates to more than {limit} bytes (WEBHOOK_MAX_INFLATED_BYTES)"
        )),
        DecodeError::Payload(PayloadError::RecordTooLarge) => {
            Rejection::too_large(PayloadError::RecordTooLarge.to_string())
        }
        DecodeError::Payload(PayloadError::Truncated) => {
            Rejection::bad_payload("truncated_json", error.to_string())
        }
        DecodeError::Payload(PayloadError::InvalidCsv(_)) => {
            Rejection::bad_payload("invalid_csv", error.to_string())
        }
        DecodeError::Payload(_) => Rejection::bad_payload("invalid_json", error.to_string()),
        DecodeError::Gzip => Rejection::bad_payload("invalid_gzip", error.to_string()),
        DecodeError::NotGzip => Rejection::bad_payload("invalid_gzip", error.to_string()),
    }
}

/// The platform of the snapshot's dataset, for records whose URL does not tell.
async fn dataset_platform(ingest: &Ingest, snapshot_id: Option<&str>) -> Option<String> {
    use sea_orm::EntityTrait;
    let snapshot_id = snapshot_id?;
    let snapshot = crate::store::entities::snapshots::Entity::find_by_id(snapshot_id.to_owned())
        .one(&ingest.db)
        .await
        .ok()
        .flatten()?;
    snapshot.platform.or_else(|| {
        snapshot
            .dataset_id
            .and_then(|d| ingest.platforms.platform(&d).map(str::to_owned))
    })
}

/// The whole verification of a delivery — credentials, signatures, timestamp, size, gzip and
/// parsing — without storing anything: what the security self-test sends its crafted requests to.
pub async fn dry_run(
    State(ingest): State<Arc<Ingest>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = async {
        let mut checks = ingest.verifier.check_headers(&headers, unix_now())?;
        let (declared, _) = delivery_headers(&headers)?;
        let mut stream = body.into_data_stream();
        let mut raw = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| Rejection::unreadable(&e))?;
            if (raw.len() + chunk.len()) as u64 > ingest.limits.max_body_bytes {
                return Err(Rejection::too_large(
                    "the body exceeds WEBHOOK_MAX_BODY_BYTES",
                ));
            }
            checks.update(&chunk);
            raw.extend_from_slice(&chunk);
        }
        checks.finish()?;
        let limit = ingest.limits.max_inflated_bytes.min(INLINE_MAX_INFLATED);
        let (decoded, collected) = decode_collecting(raw.freeze(), declared, limit, None, false)
            .await
            .map_err(decode_rejection)?;
        Ok(Json(json!({
            "status": "ok",
            "dry_run": true,
            "compressed": decoded.compressed,
            "records": collected.post_count,
        }))
        .into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
