//! The monitor API with a large event table: seeds events (and their rollups, exactly as the writer
//! stores them) straight into a fresh SQLite database, then starts the release server on it and times
//! metrics, health, the first events page and the dashboard's server-rendered page, and streams the
//! whole CSV export.

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use sea_orm::TransactionTrait;
use server::store::events::{NewEvent, insert_events};
use server::store::ids::IdAllocator;
use server::store::rollups::{Shards, add_events};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::server::ADMIN_TOKEN as ADMIN;
const OUTCOMES: [(&str, u16, f64); 5] = [
    ("accepted", 200, 0.80),
    ("duplicate", 200, 0.05),
    ("rejected_auth", 401, 0.08),
    ("rate_limited", 429, 0.05),
    ("bad_payload", 400, 0.02),
];
const PLATFORMS: [&str; 4] = ["instagram", "facebook", "linkedin", "tiktok"];

fn event(rng: &mut impl Rng, at_ms: i64) -> NewEvent {
    let mut pick = rng.random::<f64>();
    let (outcome, status, _) = OUTCOMES
        .iter()
        .find(|(_, _, share)| {
            pick -= share;
            pick <= 0.0
        })
        .copied()
        .unwrap_or(OUTCOMES[0]);
    let accepted = outcome == "accepted";
    // Log-uniform latencies between 0.5 ms and 500 ms.
    let latency_us = (500.0 * 1000f64.powf(rng.random::<f64>())) as i64;
    NewEvent {
        at_ms,
        endpoint: "webhook",
        outcome,
        status,
        latency_us,
        bytes: rng.random_range(200..200_000),
        client_ip: Some(format!("198.51.100.{}", rng.random_range(1..100))),
        user_agent: Some("BRD dca-ds-delivery-worker/2.0".into()),
        snapshot_id: accepted.then(|| format!("s_bench{:03}", rng.random_range(0..50))),
        platform: accepted.then(|| PLATFORMS[rng.random_range(0..4)].to_owned()),
        records: accepted.then(|| rng.random_range(0..50)),
        delivery_id: None,
        error: (!accepted && outcome != "duplicate").then(|| format!("{outcome}: bench")),
        headers: Some(r#"{"content-type":"application/json","authorization":"[redacted]"}"#.into()),
    }
}

pub async fn run(binary: &str, count: usize, calls: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let url: server::config::DatabaseUrl = format!("sqlite://{}/track-futura.db", data.display())
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let db = server::db::connect(&url, &server::config::PoolConfig::default_for(&url)).await?;
    server::db::migrate(&db).await?;
    let ids = IdAllocator::default();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(42);
    let now = chrono::Utc::now().timestamp_millis();
    let started = Instant::now();
    let mut written = 0;
    while written < count {
        let batch = (count - written).min(10_000);
        // Spread over the last 55 minutes, oldest first.
        let events: Vec<NewEvent> = (0..batch)
            .map(|i| {
                let at = now - 55 * 60_000 + ((written + i) as i64 * 55 * 60_000) / count as i64;
                event(&mut rng, at)
            })
            .collect();
        let txn = db.begin().await?;
        let models = insert_events(&txn, &ids, &events).await?;
        add_events(&txn, Shards::SOLE.of_batch(0), &models).await?;
        txn.commit().await?;
        written += batch;
    }
    println!(
        "seeded {count} events (+ rollups) in {:.1} s ({:.0} events/s)",
        started.elapsed().as_secs_f64(),
        count as f64 / started.elapsed().as_secs_f64()
    );
    db.close().await?;

    let server = crate::server::Server::start_in(
        binary,
        dir,
        &[
            ("WEBHOOK_ADMIN_TOKEN", ADMIN),
            ("BRIGHTDATA_WEBHOOK_TOKEN", "bench-webhook-token-0123456789"),
            ("WEBHOOK_MAX_EVENTS", "100000000"),
            ("WEBHOOK_METRICS_RETENTION", "86400"),
            ("WEBHOOK_RETENTION_INTERVAL", "86400"),
            ("WEBHOOK_ALERT_INTERVAL", "86400"),
        ],
    )?;
    let port = server.port;
    for (name, path) in [
        ("metrics 1h", "/api/brightdata/webhook/metrics/?window=1h"),
        ("metrics 24h", "/api/brightdata/webhook/metrics/?window=24h"),
        ("metrics 7d", "/api/brightdata/webhook/metrics/?window=7d"),
        ("health", "/api/brightdata/webhook/health/"),
        (
            "events, first page",
            "/api/brightdata/webhook/events/?limit=50",
        ),
        (
            "events, filtered",
            "/api/brightdata/webhook/events/?outcome=rejected_auth&limit=50",
        ),
        // The dashboard's first paint waits for its data (SSR async): the whole page is timed, so
        // this is an upper bound of its time to first byte.
        // The overview's data alone (its server function), beside the page that renders it.
        ("overview data 1h", "/dashboard/api/overview?window=1h"),
        ("dashboard page 1h", "/webhook-monitor"),
        ("dashboard page 24h", "/webhook-monitor?window=24h"),
        ("events page", "/webhook-monitor/events"),
        (
            "events page, filtered",
            "/webhook-monitor/events?outcome=rejected_auth",
        ),
        ("snapshots page", "/webhook-monitor/snapshots"),
        ("alerts page", "/webhook-monitor/alerts"),
    ] {
        // The first call after start-up is timed apart: it runs against a cold server (fresh pool
        // connections, empty statement and page caches) and is much slower than the rest.
        let started = Instant::now();
        let (status, _) = get(port, path).await?;
        anyhow::ensure!(status == 200, "{path}: {status}");
        let cold = started.elapsed();
        let mut times = Vec::new();
        for _ in 0..calls {
            let started = Instant::now();
            let (status, _) = get(port, path).await?;
            anyhow::ensure!(status == 200, "{path}: {status}");
            times.push(started.elapsed());
        }
        times.sort_unstable();
        println!(
            "{name:<20} first {:.1} ms; then median {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            ms(cold),
            ms(times[times.len() / 2]),
            ms(times[times.len() * 95 / 100]),
            ms(times[times.len() - 1])
        );
    }
    let rss_before = server.peak_rss_kb()?;
    let started = Instant::now();
    let (status, bytes, lines) = export(port).await?;
    anyhow::ensure!(status == 200, "export: {status}");
    let took = started.elapsed();
    println!(
        "csv export: {} rows, {:.1} MB in {:.1} s ({:.0} rows/s); server peak RSS {} MB before, {} MB after",
        lines - 1,
        bytes as f64 / 1e6,
        took.as_secs_f64(),
        (lines - 1) as f64 / took.as_secs_f64(),
        rss_before / 1024,
        server.peak_rss_kb()? / 1024
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn get(port: u16, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {ADMIN}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let status = String::from_utf8_lossy(&answer[..answer.len().min(12)])
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()?;
    Ok((status, answer))
}

/// Streams the CSV export, counting bytes and lines without keeping them.
async fn export(port: u16) -> anyhow::Result<(u16, u64, u64)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            // HTTP/1.0: the body runs to the end of the connection, with no chunk framing to miscount.
            format!("GET /api/brightdata/webhook/export-events/?format=csv HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {ADMIN}\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut buffer = vec![0u8; 1 << 16];
    let mut head = Vec::new();
    let mut bytes = 0u64;
    let mut lines = 0u64;
    let mut in_body = false;
    loop {
        let n = stream.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        let mut chunk = &buffer[..n];
        if !in_body {
            head.extend_from_slice(chunk);
            let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let body_start = end + 4;
            let rest = head[body_start..].to_vec();
            in_body = true;
            lines += memchr_count(&rest);
            bytes += rest.len() as u64;
            chunk = &[];
        }
        lines += memchr_count(chunk);
        bytes += chunk.len() as u64;
    }
    let status = String::from_utf8_lossy(&head[..head.len().min(12)])
        .split_whitespace()
        .nth(1)
        .unwrap_or("0")
        .parse()?;
    Ok((status, bytes, lines))
}

/// CSV rows end with CRLF.
fn memchr_count(bytes: &[u8]) -> u64 {
    bytes.windows(2).filter(|w| w == b"\r\n").count() as u64
}
