//! A minimal HTTP/1.1 client over keep-alive TCP connections: cheap enough that the load generator
//! does not steal the CPU it is measuring.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::generate;

/// Builds `count` signed delivery requests for one connection, before any timing starts, so the
/// load generator spends its CPU on sending, not on preparing.
pub fn prepare_signed_requests(
    worker: usize,
    count: usize,
    token: &str,
    secret: &str,
) -> Vec<Vec<u8>> {
    (0..count as u64)
        .map(|sequence| {
            let body = generate::small_delivery(worker, sequence);
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(&body);
            let signature = hex::encode(mac.finalize().into_bytes());
            let mut request = format!(
                "POST /api/brightdata/webhook/ HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nX-BrightData-Signature: sha256={signature}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            request
        })
        .collect()
}

/// Sends the prepared requests back to back on one connection (cycling if the run outlasts them)
/// until `stop_at`; returns the latencies measured after `measure_from`, and how many answers were
/// not 2xx.
pub async fn send_requests(
    port: u16,
    requests: Vec<Vec<u8>>,
    measure_from: Instant,
    stop_at: Instant,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    send_requests_from(port, None, requests, measure_from, stop_at).await
}

/// The same from a chosen local address (another loopback address, as a second client).
pub async fn send_requests_from(
    port: u16,
    source: Option<std::net::IpAddr>,
    requests: Vec<Vec<u8>>,
    measure_from: Instant,
    stop_at: Instant,
) -> anyhow::Result<(Vec<Duration>, usize)> {
    let stream = match source {
        None => TcpStream::connect(("127.0.0.1", port)).await?,
        Some(source) => {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind((source, 0).into())?;
            socket.connect(([127, 0, 0, 1], port).into()).await?
        }
    };
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut latencies = Vec::with_capacity(requests.len());
    let mut failures = 0;
    for request in requests.iter().cycle() {
        let now = Instant::now();
        if now >= stop_at {
            break;
        }
        stream.get_mut().write_all(request).await?;
        let status = read_response(&mut stream).await?;
        if now >= measure_from {
            latencies.push(now.elapsed());
            if !(200..300).contains(&status) {
                failures += 1;
            }
        }
    }
    Ok((latencies, failures))
}

/// Reads one response (status line, headers, Content-Length body); returns the status.
async fn read_response(stream: &mut BufReader<TcpStream>) -> anyhow::Result<u16> {
    use tokio::io::AsyncBufReadExt;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("no status line: {line:?}"))?
        .parse()?;
    let mut length = 0usize;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok(status)
}

/// Posts one large gzip body; returns the status once the answer arrives.
pub async fn post_large(port: u16, token: &str, body: &[u8]) -> anyhow::Result<u16> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut stream = BufReader::new(stream);
    let head = format!(
        "POST /api/brightdata/webhook/ HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nContent-Type: application/gzip\r\nContent-Encoding: gzip\r\nSnapshot-Id: s_bench_large\r\nDca-Filename: s_bench_large.json.gz\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.get_mut().write_all(head.as_bytes()).await?;
    stream.get_mut().write_all(body).await?;
    read_response(&mut stream).await
}

/// GETs `path` with the admin `token` as HTTP/1.0 (the body then runs to the end of the
/// connection) and reads it to the end without keeping it; its status and size in bytes.
pub async fn get_to_end(port: u16, path: &str, token: &str) -> anyhow::Result<(u16, u64)> {
    use tokio::io::AsyncBufReadExt;
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let mut stream = BufReader::new(stream);
    let head =
        format!("GET {path} HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n\r\n");
    stream.get_mut().write_all(head.as_bytes()).await?;
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no status line: {line:?}"))?;
    loop {
        line.clear();
        stream.read_line(&mut line).await?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
    }
    let size = tokio::io::copy(&mut stream, &mut tokio::io::sink()).await?;
    Ok((status, size))
}
