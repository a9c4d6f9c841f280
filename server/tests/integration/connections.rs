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
        metrics.contains("trackfutura_http_connections_refused_total 1"),
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
