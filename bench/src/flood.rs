//! An authenticated sender's latency, calm and then while a second loopback address floods the
//! webhook with wrong-token requests: what one anonymous client can take from BrightData.

use std::time::{Duration, Instant};

use crate::{SECRET, TOKEN, client};

pub struct Options {
    pub connections: usize,
    pub flood_connections: usize,
    pub seconds: u64,
}

/// Where the flood comes from: another loopback address than the sender's 127.0.0.1.
const FLOODER: &str = "127.0.0.2";

pub async fn run(binary: &str, options: Options) -> anyhow::Result<()> {
    let Options {
        connections,
        flood_connections,
        seconds,
    } = options;
    let per_connection = 2000;
    let server = crate::signed_server(binary, None)?;
    let port = server.port;
    println!(
        "flood: {connections} authenticated connections (signed ~1 KB deliveries) for {seconds} s calm, \
         then {seconds} s while {flood_connections} connections from {FLOODER} send wrong-token requests"
    );
    let mut worker = 0;
    let mut sender = || {
        worker += 1;
        (0..connections)
            .map(|c| {
                client::prepare_signed_requests(worker * 1000 + c, per_connection, TOKEN, SECRET)
            })
            .collect::<Vec<_>>()
    };

    let calm = sender();
    let (calm_latencies, calm_failed) = measure(port, calm, None, seconds).await?;
    let flooded = sender();
    let wrong = b"POST /api/brightdata/webhook/ HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer wrong-token\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]".to_vec();
    let log = server.dir().join("logs/webhook_security.log");
    let log_before = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let rows_before =
        server.count("SELECT count(*) FROM events WHERE outcome = 'rejected_auth'")?;
    let (flood_latencies, flood_failed) = measure(
        port,
        flooded,
        Some((vec![wrong], flood_connections)),
        seconds,
    )
    .await?;
    // The last counts are written within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rows =
        server.count("SELECT count(*) FROM events WHERE outcome = 'rejected_auth'")? - rows_before;
    let counted = server.count(
        "SELECT coalesce(sum(requests), 0) FROM rollups_minute WHERE outcome = 'rejected_auth'",
    )?;
    let log_growth = std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0) - log_before;

    let report = |name: &str, latencies: &[Duration], failed: usize| {
        let n = latencies.len();
        let pct = |p: f64| latencies[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1000.0;
        println!(
            "{name}: {n} deliveries ({:.0}/s, non-2xx {failed}), p50 {:.2} ms, p99 {:.2} ms",
            n as f64 / seconds as f64,
            pct(0.50),
            pct(0.99)
        );
        pct(0.99)
    };
    let calm_p99 = report("calm", &calm_latencies.0, calm_failed);
    let flood_p99 = report("flooded", &flood_latencies.0, flood_failed);
    println!(
        "flood: {} wrong-token requests ({:.0}/s) refused; {rows} stored as event rows, {counted} counted in the rollups; security log +{:.1} KB",
        flood_latencies.1,
        flood_latencies.1 as f64 / seconds as f64,
        log_growth as f64 / 1e3
    );
    println!("p99 flooded / calm: {:.2}", flood_p99 / calm_p99);
    Ok(())
}

type Flood = (Vec<Vec<u8>>, usize);

/// Runs the sender's connections (and the flood's, if any) for `seconds`; returns the sender's
/// sorted latencies with the flood's request count, and the sender's non-2xx answers.
async fn measure(
    port: u16,
    sender: Vec<Vec<Vec<u8>>>,
    flood: Option<Flood>,
    seconds: u64,
) -> anyhow::Result<((Vec<Duration>, usize), usize)> {
    let start = Instant::now();
    let stop_at = start + Duration::from_secs(seconds);
    let mut flooding = Vec::new();
    if let Some((requests, connections)) = flood {
        for _ in 0..connections {
            flooding.push(tokio::spawn(client::send_requests_from(
                port,
                Some(FLOODER.parse()?),
                requests.clone(),
                start,
                stop_at,
            )));
        }
    }
    let mut sending = Vec::new();
    for requests in sender {
        sending.push(tokio::spawn(client::send_requests(
            port, requests, start, stop_at,
        )));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for task in sending {
        let (mut own, bad) = task.await??;
        latencies.append(&mut own);
        failed += bad;
    }
    let mut flood_requests = 0;
    for task in flooding {
        flood_requests += task.await??.0.len();
    }
    latencies.sort_unstable();
    Ok(((latencies, flood_requests), failed))
}
