//! The connection layer against clients that stall: raw TCP, because an HTTP client library would
//! not send half a request. Each limit is set to 1 s here; the defaults are in the README.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Shape, TestApp, WEBHOOK_TOKEN, sample, spawn};

/// How long a test waits for the server to act before it calls the limit missing (well above
/// the 1 s limits, far below the 30-60 s defaults the limits replace).
const PATIENCE: Duration = Duration::from_secs(10);

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// Reads until the server closes the connection; `None` if it is still open after `PATIENCE`.
async fn read_until_closed(stream: &mut TcpStream) -> Option<String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    read.ok()
        .map(|()| String::from_utf8_lossy(&received).into_owned())
}

fn delivery_head(length: usize) -> String {
    format!(
        "POST /api/brightdata/webhook/ HTTP/1.1\r\nhost: test\r\nauthorization: Bearer {WEBHOOK_TOKEN}\r\n\
         content-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}

#[tokio::test]
async fn a_client_that_stalls_inside_its_headers_is_disconnected() {
    let app = spawn().var("HTTP_HEADER_TIMEOUT", "1").start().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"POST /api/brightdata/webhook/ HTTP/1.1\r\nhost: test\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(
        answer.is_some(),
        "a half-sent header block still holds its connection"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn().var("HTTP_HEADER_TIMEOUT", "1").start().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /api/health/ HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream)
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_408_and_nothing_is_stored() {
    let app = spawn().var("HTTP_BODY_IDLE_TIMEOUT", "1").start().await;
    // Inline (declared small) and streamed (declared above 8 MiB) bodies alike.
    for declared in [100_000, 20 << 20] {
        let mut stream = connect(&app).await;
        stream
            .write_all(delivery_head(declared).as_bytes())
            .await
            .unwrap();
        stream.write_all(b"[{").await.unwrap();
        let answer = read_until_closed(&mut stream)
            .await
            .expect("a stalled body still holds its connection");
        assert!(answer.starts_with("HTTP/1.1 408"), "{declared}: {answer}");
        assert!(answer.contains("body_timeout"), "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
    app.eventually("SELECT count(*) FROM events WHERE status = 408", 2)
        .await;
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 0);
    assert_eq!(app.number("SELECT count(*) FROM delivery_chunks").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_slow_but_steady_upload_completes() {
    let app = spawn().var("HTTP_BODY_IDLE_TIMEOUT", "1").start().await;
    let body = sample(Shape::InstagramFull);
    let mut stream = connect(&app).await;
    stream
        .write_all(delivery_head(body.len()).as_bytes())
        .await
        .unwrap();
    // Ten pieces 400 ms apart: the upload takes about 4 s, four times the idle limit.
    for piece in body.chunks(body.len().div_ceil(10)) {
        tokio::time::sleep(Duration::from_millis(400)).await;
        stream.write_all(piece).await.unwrap();
    }
    let mut head = [0u8; 12];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut head))
        .await
        .expect("an answer")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "{}", String::from_utf8_lossy(&head));
    app.eventually("SELECT count(*) FROM deliveries", 1).await;
    app.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_with_503_and_served_again_below_it() {
    let app = spawn().var("HTTP_MAX_CONNECTIONS", "2").start().await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect(&app).await;
        stream
            .write_all(b"GET /api/health/ HTTP/1.1\r\n")
            .await
            .unwrap();
        held.push(stream);
    }
    wait_for(|| app.state.connections.open() == 2).await;

    let mut third = connect(&app).await;
    let answer = read_until_closed(&mut third)
        .await
        .expect("the refused connection is closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    assert_eq!(app.state.connections.refused(), 1);

    drop(held.pop());
    wait_for(|| app.state.connections.open() == 1).await;
    let health = app.get("/api/health/").await;
    assert_eq!(health.status(), 200);
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!(
            "trackfutura_http_connections_refused_total{{instance=\"{}\"}} 1",
            app.state.instance.id
        )),
        "{metrics}"
    );
    drop(held);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_forever_for_a_stalled_upload() {
    let app = spawn().var("HTTP_SHUTDOWN_TIMEOUT", "1").start().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(delivery_head(100_000).as_bytes())
        .await
        .unwrap();
    stream.write_all(b"[").await.unwrap();
    // The handler is now waiting for the rest of the body (the idle limit is 60 s).
    wait_for(|| app.state.connections.open() == 1).await;
    tokio::time::timeout(PATIENCE, app.stop())
        .await
        .expect("shutdown finished despite the stalled client");
    drop(stream);
}

async fn wait_for(condition: impl Fn() -> bool) {
    tokio::time::timeout(PATIENCE, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("condition reached");
}

/// Connects from `local` (any 127.0.0.0/8 address works on loopback).
async fn connect_from(app: &TestApp, local: &str) -> TcpStream {
    let address = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(address).await.unwrap()
}

/// One address that opens sockets and sends nothing holds at most its own share of the slots:
/// BrightData, from another address, is still served.
#[tokio::test]
async fn one_address_cannot_take_every_connection_slot() {
    let app = spawn()
        .var("HTTP_MAX_CONNECTIONS", "10")
        .var("HTTP_MAX_CONNECTIONS_PER_PEER", "3")
        .start()
        .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(&app, "127.0.0.1").await);
    }
    wait_for(|| app.state.connections.open() == 3).await;
    let mut fourth = connect_from(&app, "127.0.0.1").await;
    let answer = read_until_closed(&mut fourth)
        .await
        .expect("the refused connection is closed");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("HTTP_MAX_CONNECTIONS_PER_PEER"), "{answer}");
    assert_eq!(app.state.connections.refused(), 1);

    // Another address is served while the first holds its three.
    let mut other = connect_from(&app, "127.0.0.2").await;
    let body = sample(Shape::LinkedinPosts);
    other
        .write_all(delivery_head(body.len()).as_bytes())
        .await
        .unwrap();
    other.write_all(&body).await.unwrap();
    let mut head = [0u8; 12];
    tokio::time::timeout(PATIENCE, other.read_exact(&mut head))
        .await
        .expect("an answer")
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 200", "{}", String::from_utf8_lossy(&head));

    // The slots come back as the sockets close.
    drop(held);
    drop(other);
    wait_for(|| app.state.connections.open() == 0).await;
    app.stop().await;
}

/// A client that asks for a large answer (the dashboard's WASM, say) and reads none of it loses
/// its connection after `HTTP_WRITE_TIMEOUT` instead of holding it forever.
#[tokio::test]
async fn a_client_that_stops_reading_an_answer_is_disconnected() {
    use rand::RngCore;
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    // Larger than every socket buffer between the two ends; random, so nothing compresses it.
    let mut wasm = vec![0u8; 16 << 20];
    rand::rng().fill_bytes(&mut wasm);
    std::fs::write(site.path().join("pkg/track-futura.wasm"), wasm).unwrap();
    let app = spawn()
        .var("HTTP_WRITE_TIMEOUT", "1")
        .var("LEPTOS_SITE_ROOT", site.path().to_str().unwrap())
        .start()
        .await;
    let before = app.state.connections.open();
    // A socket with a tiny receive buffer that never reads.
    let address = app.address.trim_start_matches("http://").parse().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(address).await.unwrap();
    stream
        .write_all(b"GET /pkg/track-futura.wasm HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    wait_for(|| app.state.connections.open() == before + 1).await;
    // Reading nothing: the server gives up on the write and closes.
    wait_for(|| app.state.connections.open() == before).await;
    let mut received = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received)).await;
    assert!(
        received.len() < 16 << 20,
        "the answer was cut short: {} bytes",
        received.len()
    );
    app.stop().await;
}

/// The dashboard's live stream, upgraded to a websocket, stays on the books while it is open and
/// is closed when the server shuts down.
#[tokio::test]
async fn a_live_websocket_is_counted_and_closed_on_shutdown() {
    let app = spawn().start().await;
    let cookie = crate::helpers::session_cookie(&app).await;
    let before = app.state.connections.open();
    let mut stream = crate::helpers::open_live(&app, &cookie).await;
    // Upgraded: the HTTP exchange is over, the socket is still served and counted (beside the
    // login's kept-alive connection).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.state.connections.open(), before + 1);
    let state = app.state.clone();
    tokio::time::timeout(PATIENCE, app.stop())
        .await
        .expect("shutdown finished with a websocket open");
    assert!(
        read_until_closed(&mut stream).await.is_some(),
        "the websocket was closed by the shutdown"
    );
    assert_eq!(state.connections.open(), 0);
}

/// A handler that panics is answered 500 (not a dropped connection), its connection leaves the
/// books, and on the ingestion stack the request becomes an `error` event like any other.
#[tokio::test]
async fn a_panicking_handler_is_answered_500_recorded_and_leaves_the_books() {
    use axum::routing::post;
    use server::http_server::{ConnectionStats, serve};
    let app = spawn().start().await;
    // The real ingestion stack (client IP, event recording, allow-list, rate limit) around a
    // handler that panics, served by the real loop.
    let boom = axum::Router::new().route(
        "/api/brightdata/webhook/",
        post(|| async {
            if true {
                panic!("a handler bug");
            }
        }),
    );
    let router =
        server::ingest::guarded(boom, app.state.ingest.clone(), &app.state.rate_limit, true);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stats = std::sync::Arc::new(ConnectionStats::default());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let served = tokio::spawn(serve(
        listener,
        router,
        server::config::HttpLimits::default(),
        Vec::new(),
        stats.clone(),
        shutdown.clone(),
    ));

    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            b"POST /api/brightdata/webhook/ HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\nconnection: close\r\n\r\n[]",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    assert!(answer.contains("\"error\":\"internal\""), "{answer}");
    drop(stream);
    wait_for(|| stats.open() == 0).await;
    app.settle().await;
    assert_eq!(
        app.number(
            "SELECT count(*) FROM events WHERE outcome = 'error' AND status = 500 \
             AND error LIKE '%panicked%'"
        )
        .await,
        1
    );
    shutdown.cancel();
    served.await.unwrap();
    app.stop().await;
}
