//! Wrong shapes: too big (declared, chunked, inflated), not UTF-8, truncated, wrong media type,
//! CSV that is not a delivery.
//! Each gets a clear JSON error, and nothing of it is stored.

use std::io::Write;

use crate::helpers::{TestApp, WEBHOOK_TOKEN, json, spawn};

async fn nothing_stored(app: &TestApp) {
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 0);
    assert_eq!(app.number("SELECT count(*) FROM posts").await, 0);
    assert_eq!(app.number("SELECT count(*) FROM delivery_chunks").await, 0);
}

async fn refused(response: reqwest::Response, status: u16, code: &str) {
    let (got, body) = json(response).await;
    assert_eq!(
        (got, body["error"].as_str().unwrap()),
        (status, code),
        "{body}"
    );
}

#[tokio::test]
async fn declared_and_chunked_bodies_over_the_limit_are_413() {
    let app = spawn().var("WEBHOOK_MAX_BODY_BYTES", "4KiB").start().await;
    let big = format!("[{}]", vec!["{\"post_id\":\"1\"}"; 400].join(","));
    assert!(big.len() > 4096);
    refused(
        app.webhook().body(big.clone()).send().await.unwrap(),
        413,
        "payload_too_large",
    )
    .await;

    // Chunked: no Content-Length, counted while read.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        big.as_bytes().chunks(500).map(|c| Ok(c.to_vec())).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(pieces));
    let response = app.webhook().body(body).send().await.unwrap();
    refused(response, 413, "payload_too_large").await;

    let events = app.events(2).await;
    assert!(
        events
            .iter()
            .all(|e| e.outcome == "too_large" && e.status == 413)
    );
    nothing_stored(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_gzip_bomb_is_stopped_at_the_inflation_limit() {
    let app = spawn()
        .var("WEBHOOK_MAX_INFLATED_BYTES", "16MiB")
        .start()
        .await;
    // 1 GiB of blanks inflating from about 1 MB.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let blanks = vec![b' '; 1 << 20];
    encoder.write_all(b"[").unwrap();
    for _ in 0..1024 {
        encoder.write_all(&blanks).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 4 << 20);
    let started = std::time::Instant::now();
    let response = app
        .webhook()
        .header("content-encoding", "gzip")
        .body(bomb.clone())
        .send()
        .await
        .unwrap();
    refused(response, 413, "payload_too_large").await;
    // Chunked, through the streamed path too.
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        bomb.chunks(64 << 10).map(|c| Ok(c.to_vec())).collect();
    let response = app
        .webhook()
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    refused(response, 413, "payload_too_large").await;
    // Inflating all 2 GiB would take many seconds; stopping at 16 MiB takes a fraction of one.
    println!("two bombs refused in {:?}", started.elapsed());
    nothing_stored(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn invalid_utf8_truncated_json_and_broken_gzip_are_400() {
    let app = spawn().start().await;
    let latin1 = b"[{\"post_id\":\"1\",\"url\":\"https://www.instagram.com/p/1/\",\"description\":\"caf\xe9\"}]".to_vec();
    refused(
        app.webhook().body(latin1).send().await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    let truncated =
        br#"[{"post_id":"1","url":"https://www.instagram.com/p/1/"},{"post_id":"2","url":"htt"#
            .to_vec();
    refused(
        app.webhook().body(truncated.clone()).send().await.unwrap(),
        400,
        "truncated_json",
    )
    .await;
    refused(
        app.webhook().body(b"[1,,2]".to_vec()).send().await.unwrap(),
        400,
        "invalid_json",
    )
    .await;
    refused(
        app.webhook()
            .body(b"[] trailing".to_vec())
            .send()
            .await
            .unwrap(),
        400,
        "invalid_json",
    )
    .await;
    let gz = crate::helpers::gzip(&truncated);
    refused(
        app.webhook()
            .header("content-encoding", "gzip")
            .body(gz.clone())
            .send()
            .await
            .unwrap(),
        400,
        "truncated_json",
    )
    .await;
    refused(
        app.webhook()
            .header("content-encoding", "gzip")
            .body(gz[..gz.len() / 2].to_vec())
            .send()
            .await
            .unwrap(),
        400,
        "invalid_gzip",
    )
    .await;
    refused(
        app.webhook()
            .header("content-encoding", "gzip")
            .body(b"[]".to_vec())
            .send()
            .await
            .unwrap(),
        400,
        "invalid_gzip",
    )
    .await;
    let events = app.events(7).await;
    assert!(
        events
            .iter()
            .all(|e| e.outcome == "bad_payload" && e.status == 400)
    );
    nothing_stored(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_csv_without_a_known_column_is_400_and_bad_rows_are_counted() {
    let app = spawn().start().await;
    for body in [
        &b"hello world\n"[..],
        b"name,age\nann,3\n",
        b"\xffpost_id,url\n1,x\n",
    ] {
        refused(
            app.webhook_as("text/csv")
                .body(body.to_vec())
                .send()
                .await
                .unwrap(),
            400,
            "invalid_csv",
        )
        .await;
    }
    nothing_stored(&app).await;

    // Rows stand alone: a ragged row and one with invalid UTF-8 are counted, the rest stored.
    let body = b"post_id,url,likes\r\n\
                 a1,https://www.instagram.com/p/a1/,5\r\n\
                 a2,https://www.instagram.com/p/a2/\r\n\
                 a3,https://www.instagram.com/p/a3/,\xff\r\n\
                 a4,\"https://www.instagram.com/p/a4/\",\"1,200\"\r\n";
    let (status, answer) = json(
        app.webhook_as("text/csv; charset=utf-8")
            .body(body.to_vec())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["records"], 2, "{answer}");
    assert_eq!(answer["malformed"], 2, "{answer}");
    assert_eq!(
        app.number("SELECT count(*) FROM posts WHERE post_id IN ('a1', 'a4')")
            .await,
        2
    );
    assert_eq!(
        app.number("SELECT likes FROM posts WHERE post_id = 'a1'")
            .await,
        5
    );
    assert_eq!(
        app.number("SELECT count(*) FROM deliveries WHERE format = 'csv' AND malformed = 2")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn wrong_media_types_and_encodings_are_415() {
    let app = spawn().start().await;
    let post = |ct: &str| app.webhook_as(ct).body("[]");
    refused(
        post("application/xml").send().await.unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    refused(
        post("application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    refused(
        post("application/json; charset=iso-8859-1")
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    refused(
        app.webhook()
            .header("content-encoding", "br")
            .body("[]")
            .send()
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    // What BrightData sends is accepted.
    for ct in [
        "application/json",
        "application/gzip",
        "application/x-ndjson",
        "application/octet-stream",
    ] {
        let body = if ct == "application/gzip" {
            crate::helpers::gzip(b"[]")
        } else {
            b"[]".to_vec()
        };
        let r = app.webhook_as(ct).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200, "{ct}");
    }
    app.stop().await;
}

#[tokio::test]
async fn conflicting_snapshot_headers_are_400() {
    let app = spawn().start().await;
    let r = app
        .webhook()
        .header("snapshot-id", "s_one")
        .header("dca-collection-id", "s_two")
        .body("[]")
        .send()
        .await
        .unwrap();
    refused(r, 400, "invalid_header").await;
    nothing_stored(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn other_methods_are_refused_and_recorded_after_the_token() {
    let app = spawn().start().await;
    // Without the token the caller learns nothing more than that (and cannot drive the service's
    // own error rate, which counts `bad_payload`).
    let r = app.get("/api/brightdata/webhook/").await;
    assert_eq!(r.status(), 401);
    let events = app.events(1).await;
    assert_eq!(events[0].outcome, "rejected_auth");
    for path in ["/api/brightdata/webhook/", "/api/brightdata/notify/"] {
        let r = app
            .client
            .get(app.url(path))
            .bearer_auth(WEBHOOK_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "{path}");
        assert_eq!(r.headers()["allow"], "POST");
        refused(r, 405, "method_not_allowed").await;
    }
    let events = app.events(3).await;
    assert!(
        events[1..]
            .iter()
            .all(|e| e.status == 405 && e.outcome == "bad_payload"),
        "{events:?}"
    );
    app.stop().await;
}
