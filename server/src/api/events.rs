//! `events/`: the list, one event in full, the replay of its delivery and the streaming export;
//! what each answers is decided in `views::events` and `views::export`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;
use crate::views::events::{self, Filter};
use crate::views::export::{self, ExportChunks};

/// `GET events/?outcome=&endpoint=&platform=&snapshot=&ip=&from=&to=&q=&cursor=&limit=`
pub async fn list(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    Ok(Json(events::list(&state.db, &filter).await?).into_response())
}

/// `GET events/{id}/`: the event with its (redacted) headers, its delivery, the stored body and
/// the posts it produced.
pub async fn detail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let detail = events::detail(&state.db, id).await?;
    Ok(Json(rest_detail(detail)).into_response())
}

/// The detail as the REST API has always written it: `headers` an object of name to value (a
/// list of values for a header repeated), where the dashboard's view lists them.
fn rest_detail(detail: app::types::EventDetailView) -> serde_json::Value {
    let headers = detail.headers.as_ref().map(|headers| {
        headers
            .iter()
            .map(|header| {
                let value = match header.values.as_slice() {
                    [one] => serde_json::json!(one),
                    many => serde_json::json!(many),
                };
                (header.name.clone(), value)
            })
            .collect::<serde_json::Map<_, _>>()
    });
    let mut json = serde_json::to_value(detail).unwrap_or_default();
    json["headers"] = serde_json::json!(headers);
    json
}

/// `POST events/{id}/replay/`: extracts the event's stored delivery again.
pub async fn replay(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let queued = events::replay(&state.db, &state.writer, &state.ingest.processor, id).await?;
    Ok((StatusCode::ACCEPTED, Json(queued)).into_response())
}

/// `GET export-events/?format=csv|json&<list filters>`: every matching event, newest first,
/// streamed page by page (constant memory whatever the count).
pub async fn export(
    State(state): State<AppState>,
    Query(filter): Query<Filter>,
) -> Result<Response, ApiError> {
    let (json_format, chunks) = export::chunks(state.db.clone(), &filter)?;
    Ok(if json_format {
        download("application/json", "webhook_events.json", chunks)
    } else {
        download("text/csv; charset=utf-8", "webhook_events.csv", chunks)
    })
}

/// An export's answer: a file to save, its chunks streamed as they are read.
pub(super) fn download(content_type: &str, name: &str, chunks: ExportChunks) -> Response {
    use futures_util::{StreamExt, TryStreamExt};
    (
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
        .into_response()
}
