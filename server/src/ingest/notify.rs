//! `POST /api/brightdata/notify/`: a snapshot status notification, JSON or form-encoded, with the field
//! name variants BrightData has used (`snapshot_id`/`id`/`request_id`, `status`/`state`,
//! `error`/`message`/`error_message`).

use std::io::Read;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Map, Value, json};

use super::outcome::{EventDetail, Rejection, answer};
use super::request::{Accepts, DeliveryHeaders, declared_body};
use super::{ClientIp, Ingest, MAX_NOTIFY_BYTES};
use crate::store::ingestion::{self, Notification, NotifyOutcome};
use crate::store::outcome::Outcome;
use delivery::lifecycle::SnapshotStatus;
use delivery::verify::unix_now;

pub async fn receive(
    State(ingest): State<Arc<Ingest>>,
    Extension(ClientIp(_ip)): Extension<ClientIp>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut detail = EventDetail::default();
    let result = receive_notification(&ingest, &method, &headers, body, &mut detail).await;
    answer(result, detail)
}

async fn receive_notification(
    ingest: &Ingest,
    method: &Method,
    headers: &HeaderMap,
    body: Body,
    detail: &mut EventDetail,
) -> Result<Response, Rejection> {
    let received_ms = chrono::Utc::now().timestamp_millis();
    let mut checks = ingest.verifier.check_headers(headers, unix_now())?;
    Rejection::unless_post(method)?;
    let declared_gzip = declared_body(headers, Accepts::Notification)?.gzip;
    let ids = DeliveryHeaders::parse(headers, "notify")?;

    let mut raw = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Rejection::unreadable(&e))?;
        if (raw.len() + chunk.len()) as u64 > MAX_NOTIFY_BYTES {
            return Err(Rejection::too_large(format!(
                "a notification is at most {MAX_NOTIFY_BYTES} bytes"
            )));
        }
        checks.update(&chunk);
        raw.extend_from_slice(&chunk);
    }
    detail.bytes = Some(raw.len() as i64);
    checks.finish()?;

    let text = inflate_small(&raw, declared_gzip)?;
    let fields = parse_fields(&text, is_form(headers))?;
    let snapshot_id = field(&fields, &["snapshot_id", "id", "request_id"]).ok_or_else(|| {
        Rejection::bad_payload(
            "missing_snapshot_id",
            "the notification has no snapshot_id (or id / request_id)",
        )
    })?;
    if let Some(header_id) = &ids.snapshot_id
        && *header_id != snapshot_id
    {
        return Err(Rejection::bad_payload(
            "invalid_header",
            format!("the snapshot id header ({header_id}) and body ({snapshot_id}) disagree"),
        ));
    }
    if snapshot_id.len() > 128
        || !snapshot_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(Rejection::bad_payload(
            "invalid_snapshot_id",
            "the snapshot id has characters that are not allowed",
        ));
    }
    detail.snapshot_id = Some(snapshot_id.clone());
    let status_raw = field(&fields, &["status", "state"]).ok_or_else(|| {
        Rejection::bad_payload(
            "missing_status",
            "the notification has no status (or state)",
        )
    })?;
    let status = SnapshotStatus::from_notified(&status_raw).ok_or_else(|| {
        Rejection::new(
            Outcome::BadPayload,
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_status",
            format!(
                "unknown status {status_raw:?}: expected running, ready, done, completed, failed or cancelled"
            ),
        )
    })?;
    let dataset_id = field(&fields, &["dataset_id"]);
    let dataset_platform = dataset_id
        .as_deref()
        .and_then(|d| ingest.platforms.platform(d))
        .map(str::to_owned);
    detail.platform = dataset_platform.clone();

    let notification = Notification {
        snapshot_id: snapshot_id.clone(),
        status_raw: status_raw.chars().take(64).collect(),
        status,
        dataset_id,
        dataset_platform,
        error: field(&fields, &["error", "error_message", "message"]),
        payload: Value::Object(fields).to_string(),
        replay_key: ids.replay_key,
        received_ms,
    };
    let outcome = ingest
        .writer
        .run(move |txn| Box::pin(ingestion::apply_notification(txn, notification)))
        .await
        .map_err(|e| Rejection::storing("storing a notification", e))?;
    match outcome {
        NotifyOutcome::Duplicate => {
            detail.outcome = Some(Outcome::Duplicate);
            Ok(Json(json!({
                "status": "ok",
                "duplicate": true,
                "snapshot_id": snapshot_id,
                "message": "this notification was received before; nothing changed",
            }))
            .into_response())
        }
        NotifyOutcome::Applied { status: now } => {
            detail.outcome = Some(Outcome::Accepted);
            Ok(Json(json!({
                "status": "ok",
                "duplicate": false,
                "snapshot_id": snapshot_id,
                "notified_status": status_raw,
                "snapshot_status": now.as_str(),
            }))
            .into_response())
        }
    }
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
}

fn inflate_small(raw: &[u8], declared_gzip: bool) -> Result<Vec<u8>, Rejection> {
    let is_gzip = raw.starts_with(&[0x1f, 0x8b]);
    if declared_gzip && !is_gzip {
        return Err(Rejection::bad_payload(
            "invalid_gzip",
            "Content-Encoding says gzip but the body is not gzip",
        ));
    }
    if !is_gzip {
        return Ok(raw.to_vec());
    }
    let mut inflated = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(MAX_NOTIFY_BYTES + 1)
        .read_to_end(&mut inflated)
        .map_err(|_| Rejection::bad_payload("invalid_gzip", "the gzip data is corrupt"))?;
    if inflated.len() as u64 > MAX_NOTIFY_BYTES {
        return Err(Rejection::too_large(format!(
            "a notification inflates to at most {MAX_NOTIFY_BYTES} bytes"
        )));
    }
    Ok(inflated)
}

/// The notification as a flat map of fields.
fn parse_fields(body: &[u8], form: bool) -> Result<Map<String, Value>, Rejection> {
    if form {
        let text = std::str::from_utf8(body).map_err(|_| {
            Rejection::bad_payload("invalid_form", "the form body is not valid UTF-8")
        })?;
        return Ok(url::form_urlencoded::parse(text.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Rejection::bad_payload(
            "invalid_json",
            "a notification is a JSON object",
        )),
        Err(error) => Err(Rejection::bad_payload(
            "invalid_json",
            format!("the notification is not valid JSON: {error}"),
        )),
    }
}

fn field(fields: &Map<String, Value>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| match fields.get(*name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_form_field_variants() {
        let json = parse_fields(br#"{"id":"s_1","state":"done","message":"x"}"#, false).unwrap();
        assert_eq!(field(&json, &["snapshot_id", "id"]).as_deref(), Some("s_1"));
        assert_eq!(field(&json, &["status", "state"]).as_deref(), Some("done"));
        let form =
            parse_fields(b"snapshot_id=s_2&status=failed&error=Quota+exceeded", true).unwrap();
        assert_eq!(field(&form, &["error"]).as_deref(), Some("Quota exceeded"));
        assert!(parse_fields(b"[1]", false).is_err());
        assert!(parse_fields(b"{", false).is_err());
        assert!(parse_fields(b"\xff\xfe", true).is_err());
    }
}
