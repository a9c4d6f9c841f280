//! The HTTP/1.1 server loop. `axum::serve` has no timers and no connection cap, so a client that
//! stalls inside its headers or its body would hold a connection, a file descriptor and a task
//! forever. Here every connection is served by hyper under `HttpLimits`:
//! - headers must be complete within `header_timeout` of the connection opening or of the previous
//!   answer (which also closes idle keep-alive connections);
//! - a body that sends nothing for `body_idle_timeout` while a handler waits for it fails with
//!   [`BodyIdleTimeout`] (answered 408); a slow but steady upload never trips it;
//! - an answer the client stops reading for `write_timeout` closes the connection;
//! - at most `max_connections` are served at once, and at most `max_connections_per_peer` from one
//!   address (an IPv6 peer by its /64; our own trusted proxies are exempt): one more is answered
//!   503 and closed, so one address that opens sockets and sends nothing cannot take every slot;
//! - a handler that panics is answered 500 (`CatchPanicLayer`), and its connection leaves the
//!   books all the same: they are kept by a guard that the socket itself carries;
//! - a connection upgraded to a websocket (the dashboard's live stream) stays on the books until
//!   its socket closes, and is closed when shutdown begins;
//! - on shutdown, in-flight requests get `shutdown_timeout` to finish, then their connections are
//!   dropped, so a stalled client cannot hang the shutdown.
//!
//! Two maintained pieces were tried in place of ours and do not do the same job: tower-http's
//! `TimeoutBody` drops the body's size hint (a delivery's declared length, which decides the inline
//! path: every delivery was then streamed and answered 202), and hyper-util's graceful shutdown
//! watches only connections that cannot upgrade (the live stream is a websocket).
//!
//! HTTP/2 is not offered: BrightData and the platforms' proxies speak HTTP/1.1 to us.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;

use crate::config::HttpLimits;
use crate::rate_key::rate_key;

/// Counters of the connection layer, exported on `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicU64,
    refused: AtomicU64,
}

impl ConnectionStats {
    /// Connections being served now, websockets included.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections answered 503: `max_connections` were open, or `max_connections_per_peer`
    /// from the same address.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// A complete 503 answer, so the client sees why it was refused.
fn over_capacity(message: &str) -> Vec<u8> {
    let body = format!(r#"{{"error":"too_many_connections","message":"{message}"}}"#);
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

const ALL_SLOTS_TAKEN: &str =
    "the server is serving HTTP_MAX_CONNECTIONS connections; retry shortly";
const PEER_SLOTS_TAKEN: &str =
    "this address holds HTTP_MAX_CONNECTIONS_PER_PEER connections; close one or retry shortly";

/// Refusals written at once; beyond this an over-cap connection is simply closed.
const MAX_REFUSING: usize = 64;

/// Open connections per address.
#[derive(Default)]
struct PeerCounts(Mutex<HashMap<IpAddr, usize>>);

impl PeerCounts {
    fn try_take(&self, peer: IpAddr, max: usize) -> bool {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(peer).or_default();
        if *count >= max {
            return false;
        }
        *count += 1;
        true
    }

    fn release(&self, peer: IpAddr) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&peer) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&peer);
            }
        }
    }
}

/// One open connection on the books: released when dropped, however the connection ends (a
/// closed socket, a panicking handler's unwinding, a websocket that outlived its HTTP exchange).
struct OnTheBooks {
    stats: Arc<ConnectionStats>,
    peers: Arc<PeerCounts>,
    /// The address counted against its per-peer limit (`None`: an exempt proxy).
    peer: Option<IpAddr>,
    _slot: OwnedSemaphorePermit,
}

impl Drop for OnTheBooks {
    fn drop(&mut self) {
        self.stats.open.fetch_sub(1, Ordering::Relaxed);
        if let Some(peer) = self.peer {
            self.peers.release(peer);
        }
    }
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains. `exempt`: peers
/// without a per-peer limit (the trusted proxies, through which every client comes).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    exempt: Vec<IpNet>,
    stats: Arc<ConnectionStats>,
    shutdown: CancellationToken,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    // Ingestion catches its handlers' panics inside its event recording (so they become `error`
    // events); this catches them everywhere else.
    let router = router.layer(CatchPanicLayer::custom(panicked));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let peers = Arc::new(PeerCounts::default());
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    // Cancelled once the drain is over: every socket still open is closed.
    let kill = CancellationToken::new();
    let mut connections = JoinSet::new();

    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        // Reap finished connection tasks so the set does not grow.
        while connections.try_join_next().is_some() {}
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors (or a similar resource error): back off instead of
                // spinning; connection-level errors (reset before accept) need no pause.
                if !is_connection_error(&error) {
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let peer =
            (!exempt.iter().any(|net| net.contains(&remote.ip()))).then(|| rate_key(remote.ip()));
        let taken = match peer {
            Some(peer) if !peers.try_take(peer, limits.max_connections_per_peer) => {
                Err(PEER_SLOTS_TAKEN)
            }
            _ => match slots.clone().try_acquire_owned() {
                Ok(slot) => Ok(slot),
                Err(_) => {
                    if let Some(peer) = peer {
                        peers.release(peer);
                    }
                    Err(ALL_SLOTS_TAKEN)
                }
            },
        };
        let slot = match taken {
            Ok(slot) => slot,
            Err(why) => {
                stats.refused.fetch_add(1, Ordering::Relaxed);
                if let Ok(refusal) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream, why).await;
                        drop(refusal);
                    });
                }
                continue;
            }
        };
        stats.open.fetch_add(1, Ordering::Relaxed);
        let books = OnTheBooks {
            stats: stats.clone(),
            peers: peers.clone(),
            peer,
            _slot: slot,
        };
        let upgraded = Arc::new(AtomicBool::new(false));
        let io = ServedIo::new(
            stream,
            books,
            limits.write_timeout,
            upgraded.clone(),
            shutdown.clone(),
            kill.clone(),
        );
        let alive = Arc::downgrade(&io.alive);
        let http = http.clone();
        let router = router.clone();
        let shutdown = shutdown.clone();
        let body_idle = limits.body_idle_timeout;
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let mut request =
                    request.map(|body| Body::new(IdleTimeoutBody::new(body, body_idle)));
                request.extensions_mut().insert(ConnectInfo(remote));
                router.clone().oneshot(request)
            });
            let result = {
                let connection = http
                    .serve_connection(TokioIo::new(io), service)
                    .with_upgrades();
                let mut connection = pin!(connection);
                tokio::select! {
                    result = connection.as_mut() => result,
                    () = shutdown.cancelled() => {
                        // Finish the request in flight, then close instead of keeping alive.
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
            // The connection is gone; a socket still alive was handed to a websocket.
            mark_upgraded(&alive, &upgraded);
        });
    }

    drop(listener);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
        // Websockets live in tasks of their own: wait for their sockets too.
        while stats.open() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = stats.open(),
            "connections still open after HTTP_SHUTDOWN_TIMEOUT; closing them"
        );
        kill.cancel();
        connections.shutdown().await;
    }
}

fn mark_upgraded(alive: &Weak<()>, upgraded: &AtomicBool) {
    if alive.strong_count() > 0 {
        upgraded.store(true, Ordering::Relaxed);
    }
}

/// The 500 of a panicking handler: logged with its message, answered without internals.
pub fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    tracing::error!(panic = %message, "a request handler panicked; answered 500");
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::Json(serde_json::json!({
            "error": "internal",
            "message": "the server failed while handling this request; it is logged",
        })),
    )
        .into_response()
}

fn is_connection_error(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// Answers 503 without reading the request, then drains a little of what the client sent so the
/// close is not a reset that hides the answer.
async fn refuse(mut stream: TcpStream, why: &str) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if stream.write_all(&over_capacity(why)).await.is_err() {
            return;
        }
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let mut drained = 0;
        while drained < 64 << 10 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => drained += n,
            }
        }
    })
    .await;
}

/// The socket of one connection, as hyper (and, after an upgrade, the websocket) uses it: it
/// carries the connection's place on the books, gives up a write that makes no progress for
/// `write_timeout`, and closes when told to.
struct ServedIo {
    inner: TcpStream,
    _books: OnTheBooks,
    /// Alive as long as the socket: after hyper's connection ends, a live socket means a websocket.
    alive: Arc<()>,
    write_timeout: Duration,
    write_stalled: Option<Pin<Box<tokio::time::Sleep>>>,
    upgraded: Arc<AtomicBool>,
    /// Shutdown began: closes the socket once it serves a websocket (at its next read or write;
    /// the live stream writes a heartbeat every 5 s).
    closing: Pin<Box<WaitForCancellationFutureOwned>>,
    /// The drain is over: closes a websocket's socket (hyper's connections are dropped then).
    killed: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl ServedIo {
    fn new(
        inner: TcpStream,
        books: OnTheBooks,
        write_timeout: Duration,
        upgraded: Arc<AtomicBool>,
        shutdown: CancellationToken,
        kill: CancellationToken,
    ) -> Self {
        Self {
            inner,
            _books: books,
            alive: Arc::new(()),
            write_timeout,
            write_stalled: None,
            upgraded,
            closing: Box::pin(shutdown.cancelled_owned()),
            killed: Box::pin(kill.cancelled_owned()),
        }
    }

    /// Whether the socket, handed to a websocket, must close now (polling registers the
    /// wake-ups). An HTTP connection costs one atomic load here: hyper's graceful shutdown and
    /// the drain's end close those; polling the shared tokens on every read and write would
    /// take their locks on every one.
    fn closed(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.upgraded.load(Ordering::Relaxed) {
            return false;
        }
        let killed = self.killed.as_mut().poll(cx).is_ready();
        let closing = self.closing.as_mut().poll(cx).is_ready();
        killed || closing
    }

    /// A write's result, with the write timeout applied while it waits.
    fn timed_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.write_stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.write_timeout;
                let stalled = self
                    .write_stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match stalled.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client read nothing for HTTP_WRITE_TIMEOUT",
                    ))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

fn aborted<T>() -> Poll<std::io::Result<T>> {
    Poll::Ready(Err(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the server is shutting down",
    )))
}

impl AsyncRead for ServedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.closed(cx) {
            return aborted();
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.closed(cx) {
            return aborted();
        }
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.timed_write(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.closed(cx) {
            return aborted();
        }
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.timed_write(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed_write(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The error a request body yields when it stopped arriving; handlers answer it 408.
#[derive(Debug, thiserror::Error)]
#[error("the body sent nothing for {0:?} (HTTP_BODY_IDLE_TIMEOUT)")]
pub struct BodyIdleTimeout(pub Duration);

impl BodyIdleTimeout {
    /// Whether `error`, or any error it wraps, is a body idle timeout.
    pub fn caused(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut current = Some(error);
        while let Some(error) = current {
            if error.is::<Self>() {
                return true;
            }
            current = error.source();
        }
        false
    }
}

/// A request body that fails with [`BodyIdleTimeout`] when the client sends nothing for `idle`
/// while it is being read. The clock runs only while the handler waits for data: time the handler
/// spends on a chunk (e.g. storing it) is not counted against the client.
struct IdleTimeoutBody {
    inner: Incoming,
    idle: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl IdleTimeoutBody {
    fn new(inner: Incoming, idle: Duration) -> Self {
        Self {
            inner,
            idle,
            waiting: None,
        }
    }
}

impl http_body::Body for IdleTimeoutBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = None;
                Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
            }
            Poll::Pending => {
                let idle = this.idle;
                let waiting = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
                match waiting.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.waiting = None;
                        Poll::Ready(Some(Err(Box::new(BodyIdleTimeout(idle)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}
