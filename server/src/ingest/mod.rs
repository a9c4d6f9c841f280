//! Ingestion: the data endpoint (`/api/brightdata/webhook/`) and the notify endpoint
//! (`/api/brightdata/notify/`), behind their own security layers, in this order:
//!
//! 1. `resolve_client_ip` (`client_ip`), then `record`, which turns every request, whatever happens
//!    inside, into an event;
//! 2. `allowlist` — `WEBHOOK_ALLOWED_IPS` -> 403;
//! 3. `rate_limit` — per client IP -> 429 with `Retry-After`;
//! 4. `size_limit` — `Content-Length` above the limit -> 413 (chunked bodies are counted while read);
//! 5. to 7., in the handlers: credentials and signatures (`verify`), timestamp, replay.

pub mod client_ip;
pub mod notify;
pub mod outcome;

pub mod rate_limit;
pub mod request;
pub mod selftest;
pub mod webhook;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use ipnet::IpNet;
use sea_orm::DatabaseConnection;
use tower::ServiceBuilder;

use self::client_ip::ClientIpResolver;
use self::outcome::{EventDetail, Rejection};
use self::rate_limit::RateLimit;
use crate::events::EventRecorder;
use crate::extractor::ProcessorHandle;
use crate::paths::both_slashes;
use crate::store::Writer;
use crate::store::events::NewEvent;
use crate::store::outcome::Outcome;
use delivery::platforms::DatasetPlatforms;
use delivery::verify::Verifier;

/// Notifications are small; anything bigger is not one.
pub const MAX_NOTIFY_BYTES: u64 = 1 << 20;

/// The client address as resolved by the first layer (never the raw `X-Forwarded-For`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_body_bytes: u64,
    pub max_inflated_bytes: u64,
    pub max_stored_body_bytes: u64,
    /// What inline deliveries may hold at once (`WEBHOOK_INLINE_MEMORY_BYTES`; `inline_memory`).
    pub inline_memory_bytes: u32,
}

/// Everything the ingestion layers and handlers use.
pub struct Ingest {
    pub verifier: Verifier,
    pub client_ip: ClientIpResolver,
    pub allowed_ips: Vec<IpNet>,
    pub limits: Limits,
    pub platforms: DatasetPlatforms,
    pub db: DatabaseConnection,
    pub writer: Writer,
    pub events: EventRecorder,
    pub processor: ProcessorHandle,
    /// Tally the posts' field coverage (`SCRAPER_DRIFT`).
    pub field_coverage: bool,
    /// Bytes that inline deliveries may still take (`Limits::inline_memory_bytes` in all).
    pub inline_memory: tokio::sync::Semaphore,
}

/// The data and notify endpoints, behind their layers, for a router of any state.
pub fn routes<S: Clone + Send + Sync + 'static>(
    ingest: Arc<Ingest>,
    rate_limit: &RateLimit,
) -> Router<S> {
    // Any method reaches the handlers, which check the token before the method: a caller without
    // the token is refused as such (401), so only token holders can produce a `bad_payload`
    // (which the service's own error rate counts).
    let webhook = any(webhook::receive).layer(middleware::from_fn_with_state(
        ingest.limits.max_body_bytes,
        size_limit,
    ));
    let notify =
        any(notify::receive).layer(middleware::from_fn_with_state(MAX_NOTIFY_BYTES, size_limit));
    let mut router = Router::<Arc<Ingest>>::new();
    for path in both_slashes("/brightdata/webhook/") {
        router = router.route(&path, webhook.clone());
    }
    for path in both_slashes("/brightdata/notify/") {
        router = router.route(&path, notify.clone());
    }
    // The handlers get their state here: a router left to take `AppState` would clone all of it
    // (a few dozen reference counts) for every request.
    guarded(router, ingest.clone(), rate_limit, true).with_state(ingest)
}

/// Wraps `router` in the security layers 1 to 3, in order. `record_events`: whether requests become
/// events (the self-test runs the same stack without recording its crafted requests).
pub fn guarded<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    ingest: Arc<Ingest>,
    rate_limit: &RateLimit,
    record_events: bool,
) -> Router<S> {
    router.layer(
        ServiceBuilder::new()
            .layer(middleware::from_fn_with_state(
                ingest.clone(),
                resolve_client_ip,
            ))
            .option_layer(
                record_events.then(|| middleware::from_fn_with_state(ingest.clone(), record)),
            )
            // Inside `record`: a panicking handler is answered 500 and recorded as an error event.
            .map_response(IntoResponse::into_response)
            .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
            .layer(middleware::from_fn_with_state(ingest, allowlist))
            .layer(rate_limit.layer())
            .layer(DefaultBodyLimit::disable()),
    )
}

/// The server's 500 for a panicking handler, marked for the event the request becomes.
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let mut response = crate::http_server::panicked(panic);
    response
        .extensions_mut()
        .insert(EventDetail::failed("internal error: the handler panicked"));
    response
}

/// Layer 1: who is calling (see `client_ip`), for every later layer.
async fn resolve_client_ip(
    State(ingest): State<Arc<Ingest>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let ip = ingest.client_ip.resolve(peer.ip(), request.headers());
    request.extensions_mut().insert(ClientIp(ip));
    next.run(request).await
}

/// Records the request as an event once it is answered, whatever the answer.
async fn record(State(ingest): State<Arc<Ingest>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let at_ms = chrono::Utc::now().timestamp_millis();
    let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() else {
        return Rejection::internal("recording", "client IP was not resolved").into_response();
    };
    // The full path as requested (the nested router sees it without `/api`).
    let path = request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|uri| uri.path().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let endpoint = if path.contains("/notify") {
        "notify"
    } else {
        "webhook"
    };
    let headers = request.headers();
    let user_agent = headers.get("user-agent").map(|v| {
        String::from_utf8_lossy(v.as_bytes())
            .chars()
            .take(512)
            .collect()
    });
    let declared_bytes = headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i64>().ok());
    let stored_headers = request::redacted_headers(headers);

    let response = next.run(request).await;

    let detail = response
        .extensions()
        .get::<EventDetail>()
        .cloned()
        .unwrap_or_default();
    let status = response.status();
    let outcome = detail.outcome.unwrap_or(match status {
        s if s.is_success() => Outcome::Accepted,
        StatusCode::TOO_MANY_REQUESTS => Outcome::RateLimited,
        StatusCode::PAYLOAD_TOO_LARGE => Outcome::TooLarge,
        s if s.is_client_error() => Outcome::BadPayload,
        _ => Outcome::Error,
    });
    let error = detail.error.or_else(|| {
        (!status.is_success()).then(|| {
            status
                .canonical_reason()
                .unwrap_or("request failed")
                .to_owned()
        })
    });
    ingest.events.record(
        outcome,
        &path,
        ip,
        NewEvent {
            at_ms,
            endpoint,
            outcome: outcome.as_str(),
            status: status.as_u16(),
            latency_us: started.elapsed().as_micros() as i64,
            bytes: detail.bytes.or(declared_bytes).unwrap_or(0),
            client_ip: Some(ip.to_string()),
            user_agent,
            snapshot_id: detail.snapshot_id,
            platform: detail.platform,
            records: detail.records,
            delivery_id: detail.delivery_id,
            error,
            headers: Some(stored_headers),
        },
    );
    response
}

/// Layer 2: the IP allow-list.
async fn allowlist(State(ingest): State<Arc<Ingest>>, request: Request, next: Next) -> Response {
    if ingest.allowed_ips.is_empty() {
        return next.run(request).await;
    }
    let Some(ClientIp(ip)) = request.extensions().get::<ClientIp>().copied() else {
        return Rejection::internal("allow-list", "client IP was not resolved").into_response();
    };
    if ingest.allowed_ips.iter().any(|net| net.contains(&ip)) {
        next.run(request).await
    } else {
        Rejection::new(
            Outcome::RejectedIp,
            StatusCode::FORBIDDEN,
            "ip_not_allowed",
            format!("client IP {ip} is not in WEBHOOK_ALLOWED_IPS"),
        )
        .into_response()
    }
}

/// Layer 4: refuses a declared body above `limit` before any of it is read.
pub(crate) async fn size_limit(State(limit): State<u64>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => Rejection::too_large(format!(
            "the body is {length} bytes; the limit is {limit} bytes"
        ))
        .into_response(),
        _ => next.run(request).await,
    }
}
