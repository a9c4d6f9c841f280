//! Large and chunked bodies: stored raw while they arrive (bounded memory), answered 202 once durable,
//! then extracted in the background; and a 2xx survives `kill -9`.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use server::config::PoolConfig;

use crate::helpers::{
    PgDatabase, Shape, TestApp, WEBHOOK_TOKEN, gzip, json, sample, spawn, to_csv, to_ndjson,
};

fn chunked(body: Vec<u8>, piece: usize) -> reqwest::Body {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(piece).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(pieces))
}

/// Many distinct Instagram-shaped posts, generated (`n` records).
fn many_posts(n: usize) -> Vec<u8> {
    let template: Vec<serde_json::Value> =
        serde_json::from_slice(&sample(Shape::InstagramFull)).unwrap();
    let mut out = Vec::new();
    for i in 0..n {
        let mut record = template[i % template.len()].clone();
        record["post_id"] = format!("gen_{i}").into();
        record["url"] = format!("https://www.instagram.com/p/gen{i}/").into();
        out.extend(serde_json::to_vec(&record).unwrap());
        out.push(b'\n');
    }
    out
}

async fn chunked_delivery_is_queued_then_extracted(app: &TestApp) {
    let body = to_ndjson(&sample(Shape::InstagramDeadPages));
    let (status, answer) = json(
        app.webhook()
            .header("snapshot-id", "s_stream")
            .header("dca-filename", "s_stream.json")
            .body(chunked(body, 777))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["queued"], true);
    assert_eq!(answer["records"], 6);
    assert_eq!(answer["input_errors"], 4);
    let id = answer["delivery_id"].as_i64().unwrap();
    app.eventually(
        &format!("SELECT count(*) FROM deliveries WHERE id = {id} AND state = 'stored'"),
        1,
    )
    .await;
    assert_eq!(
        app.number("SELECT count(*) FROM posts WHERE snapshot_id = 's_stream'")
            .await,
        6
    );
    assert_eq!(
        app.number(&format!(
            "SELECT count(*) FROM input_errors WHERE delivery_id = {id}"
        ))
        .await,
        4
    );
    assert_eq!(
        app.number("SELECT count(*) FROM snapshots WHERE id = 's_stream' AND status = 'delivered' AND posts = 6 AND input_errors = 4").await,
        1
    );
    // The same file again (inline this time) is a duplicate.
    let (_, again) = json(
        app.webhook()
            .header("snapshot-id", "s_stream")
            .header("dca-filename", "s_stream.json")
            .body("[]")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again["duplicate"], true);
}

/// A chunked gzip CSV is known by its file name, counted while it streams in, and extracted as
/// CSV by the background worker.
#[tokio::test]
async fn a_chunked_gzip_csv_delivery_is_queued_then_extracted() {
    let app = spawn().start().await;
    let body = gzip(&to_csv(&sample(Shape::InstagramDeadPages)));
    let (status, answer) = json(
        app.webhook_as("application/gzip")
            .header("snapshot-id", "s_csv")
            .header("dca-filename", "s_csv.csv.gz")
            .body(chunked(body, 300))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["records"], 6);
    assert_eq!(answer["input_errors"], 4);
    let id = answer["delivery_id"].as_i64().unwrap();
    app.eventually(
        &format!("SELECT count(*) FROM deliveries WHERE id = {id} AND state = 'stored' AND format = 'csv'"),
        1,
    )
    .await;
    assert_eq!(
        app.number(
            "SELECT count(*) FROM posts WHERE snapshot_id = 's_csv' AND platform = 'instagram'"
        )
        .await,
        6
    );
    assert_eq!(
        app.number(&format!(
            "SELECT count(*) FROM input_errors WHERE delivery_id = {id} AND code IS NOT NULL"
        ))
        .await,
        4
    );
    app.stop().await;
}

#[tokio::test]
async fn chunked_deliveries_are_queued_then_extracted() {
    let app = spawn().start().await;
    chunked_delivery_is_queued_then_extracted(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_large_gzip_delivery_streams_and_keeps_its_body_only_when_small_enough() {
    let app = spawn()
        .var("WEBHOOK_MAX_STORED_BODY_BYTES", "64KiB")
        .start()
        .await;
    let records = 20_000;
    let body = gzip(&many_posts(records));
    assert!(body.len() > 64 << 10, "bigger than the stored-body limit");
    let (status, answer) = json(
        app.webhook_as("application/gzip")
            .header("content-encoding", "gzip")
            .body(chunked(body, 64 << 10))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["records"], records);
    assert_eq!(answer["compressed"], true);
    let id = answer["delivery_id"].as_i64().unwrap();
    app.eventually(
        &format!("SELECT count(*) FROM deliveries WHERE id = {id} AND state = 'stored'"),
        1,
    )
    .await;
    assert_eq!(
        app.number("SELECT count(*) FROM posts").await,
        records as i64
    );
    // Too big to keep for replay: the raw chunks are gone once extracted.
    assert_eq!(app.number("SELECT count(*) FROM delivery_chunks").await, 0);
    assert_eq!(
        app.number(&format!(
            "SELECT count(*) FROM deliveries WHERE id = {id} AND body_kept = false"
        ))
        .await,
        1
    );
    app.stop().await;
}

/// The event detail shows the first MiB of a kept multi-chunk gzip body, inflated, and says it
/// is cut (it reads the chunks only as far as the preview needs).
#[tokio::test]
async fn the_event_detail_previews_the_first_mib_of_a_large_kept_gzip_body() {
    let app = spawn().start().await;
    let ndjson = many_posts(60_000);
    let body = gzip(&ndjson);
    assert!(body.len() > 1 << 20, "more than one stored chunk");
    let (status, answer) = json(
        app.webhook_as("application/gzip")
            .body(chunked(body.clone(), 64 << 10))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["delivery_id"].as_i64().unwrap();
    app.eventually(
        &format!("SELECT count(*) FROM deliveries WHERE id = {id} AND state = 'stored'"),
        1,
    )
    .await;
    assert!(app.number("SELECT count(*) FROM delivery_chunks").await >= 2);
    app.settle().await;
    let event = app
        .number(&format!("SELECT id FROM events WHERE delivery_id = {id}"))
        .await;
    let detail: serde_json::Value = app
        .client
        .get(app.url(&format!("/api/brightdata/webhook/events/{event}/")))
        .bearer_auth(crate::helpers::ADMIN_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let preview = &detail["body"];
    assert_eq!(preview["encoding"], "gzip", "{preview}");
    assert_eq!(preview["readable"], true);
    assert_eq!(preview["truncated"], true);
    assert_eq!(preview["stored_bytes"], body.len());
    let text = preview["text"].as_str().unwrap();
    let expected = String::from_utf8_lossy(&ndjson[..1 << 20]);
    assert_eq!(text, expected);
    app.stop().await;
}

#[tokio::test]
async fn a_small_body_that_inflates_beyond_the_inline_limit_is_streamed() {
    let app = spawn().start().await;
    // About 70 KB of gzip inflating to 70 MiB: blank lines around three posts.
    let mut ndjson = to_ndjson(&sample(Shape::LinkedinPosts));
    ndjson.extend(std::iter::repeat_n(b'\n', 70 << 20));
    let body = gzip(&ndjson);
    assert!(body.len() < 1 << 20);
    let (status, answer) = json(
        app.webhook()
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["records"], 3);
    let id = answer["delivery_id"].as_i64().unwrap();
    app.eventually(
        &format!("SELECT count(*) FROM deliveries WHERE id = {id} AND state = 'stored'"),
        1,
    )
    .await;
    assert_eq!(
        app.number("SELECT count(*) FROM posts WHERE platform = 'linkedin'")
            .await,
        3
    );
    app.stop().await;
}

/// An inline delivery reserves memory for its records from its size (32 times the body, at least
/// 256 KiB); one that inflates past that, though far below the inline limit, is stored streamed
/// (bounded memory) instead of being held whole.
#[tokio::test]
async fn a_small_body_whose_records_outgrow_their_reserved_room_is_streamed() {
    let app = spawn().start().await;
    let mut ndjson = to_ndjson(&sample(Shape::LinkedinPosts));
    ndjson.extend(std::iter::repeat_n(b'\n', 4 << 20));
    let body = gzip(&ndjson);
    assert!(body.len() * 32 < 256 << 10, "{} bytes", body.len());
    let (status, answer) = json(
        app.webhook()
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["records"], 3);
    // The same records uncompressed fit their room: inline, 200.
    let (status, answer) = json(
        app.webhook()
            .body(to_ndjson(&sample(Shape::LinkedinPosts)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn a_broken_chunked_body_leaves_nothing_behind() {
    let app = spawn().start().await;
    let mut body = to_ndjson(&sample(Shape::TiktokWithError));
    body.truncate(body.len() / 2);
    let gz = gzip(&body);
    let truncated_gzip = gz[..gz.len() - 12].to_vec();
    let (status, answer) = json(
        app.webhook()
            .header("content-encoding", "gzip")
            .body(chunked(truncated_gzip, 100))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str().unwrap()),
        (400, "invalid_gzip")
    );
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 0);
    assert_eq!(app.number("SELECT count(*) FROM delivery_chunks").await, 0);
    app.stop().await;
}

/// Starts the real binary, waits until it listens, returns (child, port).
#[allow(
    clippy::zombie_processes,
    reason = "the child is returned; the caller kills and waits for it"
)]
fn start_binary(dir: &std::path::Path) -> (std::process::Child, u16) {
    start_binary_with(dir, &[])
}

#[allow(
    clippy::zombie_processes,
    reason = "the child is returned; the caller kills and waits for it"
)]
fn start_binary_with(dir: &std::path::Path, vars: &[(&str, &str)]) -> (std::process::Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .env_clear()
        .envs(vars.iter().copied())
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("DATA_DIR", dir.join("data"))
        .env("LOG_DIR", dir.join("logs"))
        .env("LOG_FORMAT", "json")
        .env("BRIGHTDATA_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
        .env("WEBHOOK_ADMIN_TOKEN", "admin-token-for-kill-test")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let status = child.wait();
            panic!("server exited before listening: {status:?}");
        }
        let json: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if json["message"] == "listening" {
            let port = json["address"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
            return (child, port);
        }
    }
}

/// A blocking HTTP/1.1 POST that returns the status line as soon as it is read.
fn post_and_read_status(port: u16, body: &[u8]) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/brightdata/webhook/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {WEBHOOK_TOKEN}\r\nContent-Type: application/json\r\nSnapshot-Id: s_kill\r\nDca-Filename: kill.json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).unwrap();
    String::from_utf8_lossy(&first).into_owned()
}

#[tokio::test]
async fn an_acknowledged_delivery_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start_binary(dir.path());
    let status = post_and_read_status(port, &sample(Shape::LinkedinPosts));
    // SIGKILL the moment the 2xx is seen: no graceful shutdown, no flush.
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(status, "HTTP/1.1 200");

    let url = format!("sqlite://{}/data/track-futura.db", dir.path().display());
    let url = url.parse().unwrap();
    let db = server::db::connect(&url, &PoolConfig::default_for(&url))
        .await
        .unwrap();
    let app_like = |sql: &str| {
        let db = db.clone();
        let sql = sql.to_owned();
        async move {
            use sea_orm::ConnectionTrait;
            db.query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
        }
    };
    assert_eq!(
        app_like("SELECT count(*) FROM deliveries WHERE snapshot_id = 's_kill'").await,
        1
    );
    assert_eq!(
        app_like("SELECT count(*) FROM posts WHERE platform = 'linkedin'").await,
        3
    );
}

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A chunked delivery signed the Standard Webhooks way (`signature` over `signed`, sent `body`).
fn signed_chunked(
    app: &TestApp,
    id: &str,
    signed: &[u8],
    body: Vec<u8>,
) -> reqwest::RequestBuilder {
    let ts = chrono::Utc::now().timestamp();
    app.webhook()
        .header("snapshot-id", "s_signed_stream")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header(
            "webhook-signature",
            crate::security::standard_signature(SECRET, id, ts, signed),
        )
        .body(chunked(body, 500))
}

/// With signatures required, a streamed body is only stored until its signature is checked: a
/// body that fails it is refused for its signature, whatever it holds (an unverified body is never
/// inflated or parsed), and a verified one is parsed by the extractor, which then tells its counts.
#[tokio::test]
async fn a_signed_streamed_body_is_parsed_only_once_verified() {
    let app = spawn()
        .var("WEBHOOK_SIGNING_SECRET", SECRET)
        .var("WEBHOOK_REQUIRE_SIGNATURE", "true")
        .start()
        .await;
    // Not gzip at all, with a signature over other bytes: the signature is what is wrong.
    let garbage = b"\x1f\x8b\x08\x00garbage that is not deflate".repeat(50);
    let (status, answer) = json(
        signed_chunked(&app, "msg_bad", b"[]", garbage)
            .header("content-encoding", "gzip")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("invalid_signature")),
        "{answer}"
    );
    app.settle().await;
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 0);
    assert_eq!(app.number("SELECT count(*) FROM delivery_chunks").await, 0);

    let body = gzip(&sample(Shape::InstagramDeadPages));
    let (status, answer) = json(
        signed_chunked(&app, "msg_good", &body, body.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["queued"], true);
    assert_eq!(answer["records"], serde_json::Value::Null, "{answer}");
    let id = answer["delivery_id"].as_i64().unwrap();
    app.eventually(
        &format!(
            "SELECT count(*) FROM deliveries WHERE id = {id} AND state = 'stored' \
             AND posts = 6 AND input_errors = 4 AND format = 'json' AND compressed"
        ),
        1,
    )
    .await;
    assert_eq!(
        app.number("SELECT count(*) FROM posts WHERE snapshot_id = 's_signed_stream'")
            .await,
        6
    );
    app.stop().await;
}

/// Freshness is judged when the headers arrive: a signed upload that takes longer than
/// `WEBHOOK_MAX_TIMESTAMP_AGE` to send (a large file on a slow link) is accepted, not stored in
/// full and then refused for its own length (as every retry of it would be).
#[tokio::test]
async fn a_signed_upload_slower_than_the_timestamp_age_is_accepted() {
    use futures_util::StreamExt;
    let app = spawn()
        .var("WEBHOOK_SIGNING_SECRET", SECRET)
        .var("WEBHOOK_MAX_TIMESTAMP_AGE", "1")
        .start()
        .await;
    let body = sample(Shape::InstagramDeadPages);
    let pieces: Vec<Vec<u8>> = body
        .chunks(body.len() / 4 + 1)
        .map(<[u8]>::to_vec)
        .collect();
    // Four pieces, 1.2 s apart: the last byte arrives about 3.6 s after the headers.
    let slow = futures_util::stream::iter(pieces).then(|piece| async move {
        tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
        Ok::<_, std::io::Error>(piece)
    });
    let ts = chrono::Utc::now().timestamp();
    let started = std::time::Instant::now();
    let (status, answer) = json(
        app.webhook()
            .header("snapshot-id", "s_slow_upload")
            .header("webhook-id", "msg_slow")
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                crate::security::standard_signature(SECRET, "msg_slow", ts, &body),
            )
            .body(reqwest::Body::wrap_stream(slow))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(started.elapsed().as_secs_f64() > 3.0, "the upload was slow");
    assert_eq!(status, 202, "{answer}");
    app.eventually(
        "SELECT count(*) FROM posts WHERE snapshot_id = 's_slow_upload'",
        6,
    )
    .await;
    app.stop().await;
}

/// The server process's thread count (`/proc/<pid>/status`).
fn threads_of(pid: u32) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// A hundred unsigned uploads that send their first bytes and then stall hold no blocking
/// threads (the pool that file I/O shares): the body is parsed a stored chunk at a time, not by a
/// thread waiting for the whole upload.
#[tokio::test]
async fn stalled_streamed_uploads_hold_no_blocking_threads() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = start_binary_with(dir.path(), &[("WEBHOOK_RATE_LIMIT", "1000")]);
    let before = threads_of(child.id());
    let uploads: Vec<std::net::TcpStream> = (0..100)
        .map(|i| {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            write!(
                stream,
                "POST /api/brightdata/webhook/ HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {WEBHOOK_TOKEN}\r\nContent-Type: application/json\r\nSnapshot-Id: s_stall\r\nDca-Filename: stall_{i}.json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n[\r\n"
            )
            .unwrap();
            stream
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    let during = threads_of(child.id());
    drop(uploads);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        during < before + 20,
        "{before} threads before, {during} with 100 stalled uploads"
    );
}

/// On PostgreSQL a large delivery refreshes the posts table's statistics once it is extracted:
/// until autovacuum would, a minute or more later, every page of an export of the new snapshot
/// was planned as a sort of the whole snapshot.
#[tokio::test]
async fn a_large_delivery_on_postgresql_leaves_the_posts_table_analysed() {
    let pg = PgDatabase::create().await;
    let app = spawn().database(&pg.url()).start().await;
    let analysed = "SELECT count(*) FROM pg_stat_user_tables \
                    WHERE relname = 'posts' AND last_analyze IS NOT NULL";
    assert_eq!(app.number(analysed).await, 0);
    let records = 12_000;
    let (status, answer) = json(
        app.webhook_as("application/gzip")
            .header("content-encoding", "gzip")
            .body(chunked(gzip(&many_posts(records)), 64 << 10))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    app.eventually("SELECT count(*) FROM posts", records as i64)
        .await;
    app.eventually(analysed, 1).await;
    app.stop().await;
    pg.drop_database().await;
}
