//! The storage path alone, in this process: the server's own writer (group commit, log flush,
//! background checkpoints) storing the same ~1 KB deliveries `ingest` sends, each with its event,
//! from many concurrent tasks. No HTTP, no parsing, no signatures: what storage allows at most,
//! which the HTTP path can only stay below.

use std::sync::Arc;
use std::time::{Duration, Instant};

use delivery::decode::{Declared, decode_all};
use delivery::records::Record;
use server::config::DatabaseUrl;
use server::store::checkpoint;
use server::store::events::NewEvent;
use server::store::ingestion::{BodySummary, DeliveryMeta, InlineDelivery, ParsedBody};
use server::store::writer::Writer;
use tokio_util::sync::CancellationToken;

use crate::generate;

pub struct Options {
    pub tasks: usize,
    pub seconds: u64,
    pub warmup: u64,
}

/// A delivery as the webhook handler hands it to the writer, and the event it records beside it.
fn prepared(task: usize, sequence: u64) -> (InlineDelivery, NewEvent) {
    let raw = generate::small_delivery(task, sequence);
    let mut posts = Vec::new();
    let decoded = decode_all(&raw, Declared::default(), u64::MAX, None, false, |record| {
        if let Record::Post(post) = record {
            posts.push(*post);
        }
    })
    .expect("generated deliveries decode");
    let received_ms = chrono::Utc::now().timestamp_millis();
    let delivery = InlineDelivery {
        meta: DeliveryMeta {
            snapshot_id: None,
            filename: None,
            replay_key: None,
            client_ip: "127.0.0.1".into(),
            received_ms,
        },
        body: ParsedBody {
            summary: BodySummary {
                format: Some(decoded.format),
                compressed: decoded.compressed,
                wire_bytes: raw.len() as i64,
                inflated_bytes: decoded.inflated_bytes as i64,
                posts: posts.len() as i64,
                input_errors: 0,
                malformed: 0,
                coverage: None,
            },
            posts,
            input_errors: Vec::new(),
        },
        raw: Some(raw.clone()),
    };
    let event = NewEvent {
        at_ms: received_ms,
        endpoint: "webhook",
        outcome: "accepted",
        status: 200,
        latency_us: 1_000,
        bytes: raw.len() as i64,
        client_ip: Some("127.0.0.1".into()),
        user_agent: None,
        snapshot_id: None,
        platform: Some("instagram".into()),
        records: Some(1),
        delivery_id: None,
        error: None,
        // What the handler stores for the bench's requests (secrets redacted).
        headers: Some(
            r#"{"authorization":"[redacted]","content-length":"1158","content-type":"application/json","host":"bench","x-brightdata-signature":"[redacted]"}"#
                .into(),
        ),
    };
    (delivery, event)
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url: DatabaseUrl =
        format!("sqlite://{}/bench.db?mode=rwc", dir.path().display()).parse()?;
    let pool = server::config::PoolConfig::default_for(&url);
    let db = server::db::connect(&url, &pool).await?;
    server::db::migrate(&db).await?;
    let (writer_db, durability) = server::db::connect_writer(&url, &pool).await?;
    let stop = CancellationToken::new();
    let (writer, writer_task) =
        Writer::start(writer_db, durability, Arc::new(|_| {}), stop.clone());
    let checkpoints = checkpoint::spawn(db.clone(), writer.wal_frames(), stop.clone());

    // Distinct deliveries for up to 25,000 per second, so that none is stored twice (a repeat would
    // be an update); a task that runs out stops, and the run says so.
    let total = options.seconds + options.warmup;
    let per_task = (25_000 * total as usize).div_ceil(options.tasks);
    let preparing = Instant::now();
    let work: Vec<Vec<(InlineDelivery, NewEvent)>> = (0..options.tasks)
        .map(|task| (0..per_task as u64).map(|s| prepared(task, s)).collect())
        .collect();
    println!(
        "prepared {} deliveries in {:.1} s; measuring",
        per_task * options.tasks,
        preparing.elapsed().as_secs_f64()
    );

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(options.warmup);
    let stop_at = measure_from + Duration::from_secs(options.seconds);
    // CPU per thread over the measured seconds only.
    let sampler = tokio::spawn(async move {
        let pid = std::process::id();
        tokio::time::sleep_until(measure_from.into()).await;
        let before = crate::server::cpu_ticks_by_thread(pid);
        tokio::time::sleep_until(stop_at.into()).await;
        (before, crate::server::cpu_ticks_by_thread(pid))
    });
    let mut running = tokio::task::JoinSet::new();
    for deliveries in work {
        let writer = writer.clone();
        running.spawn(async move {
            let mut latencies = Vec::with_capacity(deliveries.len());
            for (delivery, event) in deliveries {
                let now = Instant::now();
                if now >= stop_at {
                    return (latencies, false);
                }
                let stored = writer.store_delivery(delivery).await;
                writer.record_event(event);
                stored.expect("the writer stores");
                if now >= measure_from {
                    latencies.push(now.elapsed());
                }
            }
            (latencies, true)
        });
    }
    let mut latencies = Vec::new();
    let mut ran_out = 0;
    while let Some(done) = running.join_next().await {
        let (own, exhausted) = done?;
        latencies.extend(own);
        ran_out += usize::from(exhausted);
    }
    if ran_out > 0 {
        println!("{ran_out} tasks ran out of deliveries before the end: the rate is a lower bound");
    }
    let (before, after) = sampler.await?;
    stop.cancel();
    writer_task.await?;
    checkpoints.await?;

    latencies.sort_unstable();
    let count = latencies.len();
    let at = |q: f64| latencies[((count as f64 * q) as usize).min(count - 1)];
    let rate = count as f64 / options.seconds as f64;
    println!(
        "store: {count} deliveries in {} s = {rate:.0} deliveries/s; p50 {:.2} ms, p99 {:.2} ms",
        options.seconds,
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
    );
    let (total, parts) = crate::cpu_per_item(&before?, &after?, count as f64);
    println!("CPU per delivery: {total:.0} µs ({parts})");
    Ok(())
}
