//! The server's peak memory under inputs meant to take it: many large inline deliveries at once,
//! and a gzip body whose chunks each inflate about 1000x.

use std::io::Write;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{TOKEN, generate, server};

/// `deliveries` gzip deliveries of about `mb` MiB each, sent at once (each inline-sized when
/// `mb <= 8`): their answers, and the server's peak RSS.
pub async fn concurrent(binary: &str, deliveries: usize, mb: usize) -> anyhow::Result<()> {
    let (body, records, inflated) = generate::large_gzip_delivery(mb << 20);
    println!(
        "concurrent: {deliveries} deliveries at once, each {records} records, {:.1} MB gzip inflating to {:.1} MB",
        body.len() as f64 / 1e6,
        inflated as f64 / 1e6
    );
    let server = server::Server::start(binary, &[("BRIGHTDATA_WEBHOOK_TOKEN", TOKEN)])?;
    let idle = server.rss_kb()?;
    let started = Instant::now();
    let mut sending = Vec::new();
    for n in 0..deliveries {
        let body = body.clone();
        let port = server.port;
        sending.push(tokio::spawn(async move {
            post(port, &format!("s_concurrent_{n}"), &body, true).await
        }));
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for task in sending {
        *statuses.entry(task.await??).or_default() += 1;
    }
    println!(
        "answers {statuses:?} after {:.1} s; server RSS {} MB idle, peak {} MB",
        started.elapsed().as_secs_f64(),
        idle / 1024,
        server.peak_rss_kb()? / 1024
    );
    Ok(())
}

/// A gzip body of `members` concatenated members, each about 1 MiB that inflates to about 1 GiB
/// of records (~1000x), streamed in: the answer, extraction if accepted, and the peak RSS.
pub async fn bomb(binary: &str, members: usize, max_inflated: &str) -> anyhow::Result<()> {
    let made = Instant::now();
    // One ~10 KB record over and over: few records for the inflated size, so extracting them
    // takes seconds, not hours; they share one post id (each upsert rewrites the one row).
    let record = serde_json::to_vec(&serde_json::json!({
        "post_id": "bomb_1",
        "url": "https://www.instagram.com/p/bomb_1/",
        "description": "x".repeat(10_000),
    }))?;
    let per_member = (1usize << 30) / (record.len() + 1);
    let mut inflate_to = Vec::with_capacity(per_member * (record.len() + 1));
    for _ in 0..per_member {
        inflate_to.push(b',');
        inflate_to.extend_from_slice(&record);
    }
    let member = gzip(&inflate_to, flate2::Compression::best())?;
    drop(inflate_to);
    let mut first = b"[".to_vec();
    first.extend_from_slice(&record);
    let mut body = gzip(&first, flate2::Compression::best())?;
    for _ in 0..members {
        body.extend_from_slice(&member);
    }
    body.extend_from_slice(&gzip(b"]", flate2::Compression::best())?);
    println!(
        "bomb: {members} members of {:.2} MB each inflating to 1 GiB ({:.0}x), {:.1} MB on the wire, made in {:.1} s; WEBHOOK_MAX_INFLATED_BYTES={max_inflated}",
        member.len() as f64 / 1e6,
        (1u64 << 30) as f64 / member.len() as f64,
        body.len() as f64 / 1e6,
        made.elapsed().as_secs_f64()
    );
    let server = server::Server::start(
        binary,
        &[
            ("BRIGHTDATA_WEBHOOK_TOKEN", TOKEN),
            ("WEBHOOK_MAX_BODY_BYTES", "2GiB"),
            ("WEBHOOK_MAX_INFLATED_BYTES", max_inflated),
        ],
    )?;
    let idle = server.rss_kb()?;
    let sent = Instant::now();
    let status = post(server.port, "s_bomb", &body, false).await?;
    let at_answer = server.peak_rss_kb()?;
    println!(
        "answer {status} after {:.1} s; server RSS {} MB idle, peak {} MB by the answer",
        sent.elapsed().as_secs_f64(),
        idle / 1024,
        at_answer / 1024
    );
    if status == 202 {
        let deadline = Instant::now() + Duration::from_secs(900);
        while server.count("SELECT count(*) FROM deliveries WHERE state IN ('stored', 'failed')")?
            == 0
        {
            anyhow::ensure!(Instant::now() < deadline, "extraction took over 15 minutes");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        println!(
            "extracted {:.1} s after sending (state {}); peak RSS {} MB",
            sent.elapsed().as_secs_f64(),
            server.text("SELECT state FROM deliveries")?,
            server.peak_rss_kb()? / 1024
        );
    }
    Ok(())
}

fn gzip(data: &[u8], level: flate2::Compression) -> anyhow::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

/// Posts one gzip body, with its length declared or chunked; returns the status.
async fn post(port: u16, snapshot: &str, body: &[u8], declared: bool) -> anyhow::Result<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let length = if declared {
        format!("Content-Length: {}", body.len())
    } else {
        "Transfer-Encoding: chunked".to_owned()
    };
    let head = format!(
        "POST /api/brightdata/webhook/ HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nSnapshot-Id: {snapshot}\r\nConnection: close\r\n{length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    if declared {
        stream.write_all(body).await?;
    } else {
        for piece in body.chunks(1 << 20) {
            stream
                .write_all(format!("{:x}\r\n", piece.len()).as_bytes())
                .await?;
            // The server may refuse and close before the end: stop sending then.
            if stream.write_all(piece).await.is_err() || stream.write_all(b"\r\n").await.is_err() {
                break;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no answer: {text:.200}"))
}
