//! The HTTP/1.1 server loop. `axum::serve` has no timers and no connection cap, so a client that
//! stalls inside its headers or its body would hold a connection, a file descriptor and a task
//! forever. Here every connection is served by hyper under `HttpLimits`:
//! - headers must be complete within `header_timeout` of the connection opening or of the previous
//!   answer (which also closes idle keep-alive connections);
//! - a body that sends nothing for `body_idle_timeout` while a handler waits for it fails with
//!   [`BodyIdleTimeout`] (answered 408); a slow but steady upload never trips it;
//! - at most `max_connections` are served at once; one more is answered 503 and closed;
//! - on shutdown, in-flight requests get `shutdown_timeout` to finish, then their connections are
//!   dropped, so a stalled client cannot hang the shutdown.
//!
//! HTTP/2 is not offered: BrightData and the platforms' proxies speak HTTP/1.1 to us.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body::Frame;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::config::HttpLimits;

/// Counters of the connection layer, exported on `/metrics`.
#[derive(Debug, Default)]
pub struct ConnectionStats {
    open: AtomicU64,
    refused: AtomicU64,
}

impl ConnectionStats {
    /// Connections being served now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections answered 503 because `max_connections` were open.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }
}

/// The answer to a connection over the cap: complete, so the client sees why.
fn over_capacity() -> Vec<u8> {
    let body = r#"{"error":"too_many_connections","message":"the server is serving HTTP_MAX_CONNECTIONS connections; retry shortly"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Refusals written at once; beyond this an over-cap connection is simply closed.
const MAX_REFUSING: usize = 64;

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: HttpLimits,
    stats: Arc<ConnectionStats>,
    shutdown: CancellationToken,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let http = Arc::new(http);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
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
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            if let Ok(refusal) = refusing.clone().try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(refusal);
                });
            }
            continue;
        };
        let http = http.clone();
        let router = router.clone();
        let stats = stats.clone();
        let shutdown = shutdown.clone();
        let body_idle = limits.body_idle_timeout;
        connections.spawn(async move {
            stats.open.fetch_add(1, Ordering::Relaxed);
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let mut request =
                    request.map(|body| Body::new(IdleTimeoutBody::new(body, body_idle)));
                request.extensions_mut().insert(ConnectInfo(remote));
                router.clone().oneshot(request)
            });
            let connection = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let mut connection = pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = shutdown.cancelled() => {
                    // Finish the request in flight, then close instead of keeping alive.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
            stats.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
        });
    }

    drop(listener);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after HTTP_SHUTDOWN_TIMEOUT; closing them"
        );
        connections.shutdown().await;
    }
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
async fn refuse(mut stream: TcpStream) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        if stream.write_all(&over_capacity()).await.is_err() {
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
