//! An export streams at constant memory whatever its size. The server runs as a process of its own,
//! so its memory is its own, started afresh on the same database for each format (an allocator
//! keeps what a process freed, so a second export in one process would reuse the first one's
//! memory and hide a leak).
//!
//! Its peak resident size (`VmHWM`, reset through `/proc/<pid>/clear_refs` just before the export)
//! is read after every chunk. What an export needs at once (a page or two of posts, a Parquet row
//! group, each pooled connection's cache and its thread's allocator) is taken in the first third
//! or so of the stream and then stays flat (measured: CSV 79 MB after 4 MB, 107 MB from 40 MB of
//! 134 on); so the second half of the stream, tens of megabytes of records, must not raise the
//! peak by more than allocator slack, where holding the records would raise it by their size.

use std::process::Stdio;
use std::time::{Duration, Instant};

use delivery::samples;

use crate::helpers::{ADMIN_TOKEN, WEBHOOK_TOKEN, gzip};
use crate::process::{Reaped, server, wait_until_listening};

const API: &str = "/api/brightdata/webhook";
/// ~96 MB of records: five Parquet row groups (16,384 rows each).
const POSTS: usize = 80_000;
const MIB: u64 = 1 << 20;

/// A `/proc/<pid>/status` figure, in bytes.
fn status_bytes(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

/// The server on the database in `dir`: the process, its address, its pid.
fn start(dir: &std::path::Path) -> (Reaped, String, u32) {
    let mut child = Reaped(
        server(dir)
            .env("BRIGHTDATA_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
            .env("WEBHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("WEBHOOK_RATE_LIMIT", "1000000")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (listening, _) = wait_until_listening(&mut child.0);
    let base = format!("http://{}", listening["address"].as_str().unwrap());
    let pid = child.0.id();
    (child, base, pid)
}

struct Measured {
    bytes: u64,
    /// Line feeds, and those after a carriage return (CSV rows end in CRLF; a post's text may
    /// hold a bare line feed inside its quoted cell).
    lines: u64,
    crlf: u64,
    before: u64,
    /// The bytes themselves, when asked to keep them.
    kept: Vec<u8>,
    /// The peak once half of the bytes had arrived, and at the end.
    halfway_peak: u64,
    peak: u64,
}

/// Streams one export, counting its bytes and lines, reading the server's peak after each chunk;
/// the bytes are dropped unless `keep`.
async fn export(
    client: &reqwest::Client,
    base: &str,
    pid: u32,
    query: &str,
    keep: bool,
) -> Measured {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_bytes(pid, "VmRSS:");
    let mut response = client
        .get(format!("{base}{API}/export-posts/?{query}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query}");
    let (mut bytes, mut lines, mut crlf, mut last) = (0u64, 0u64, 0u64, 0u8);
    let mut peaks = Vec::new();
    let mut kept = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len() as u64;
        if keep {
            kept.extend_from_slice(&chunk);
        }
        for &b in chunk.iter() {
            if b == b'\n' {
                lines += 1;
                crlf += u64::from(last == b'\r');
            }
            last = b;
        }
        peaks.push((bytes, status_bytes(pid, "VmHWM:")));
    }
    let halfway = peaks.iter().find(|(at, _)| 2 * at >= bytes).unwrap();
    Measured {
        bytes,
        lines,
        crlf,
        before,
        kept,
        halfway_peak: halfway.1,
        peak: status_bytes(pid, "VmHWM:"),
    }
}

#[tokio::test]
async fn an_export_streams_at_constant_memory_whatever_its_size() {
    let dir = tempfile::tempdir().unwrap();
    let (first, base, _) = start(dir.path());
    let client = server::outbound::builder().build().unwrap();
    let answer = client
        .post(format!("{base}{API}/"))
        .bearer_auth(WEBHOOK_TOKEN)
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .header("snapshot-id", "s_memory")
        .body(gzip(&samples::ndjson(&samples::instagram_snapshot(
            1, POSTS,
        ))))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    // A large body is extracted after the answer: wait until every post is stored.
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let detail: serde_json::Value = client
            .get(format!("{base}{API}/snapshots/s_memory/"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if detail["stored_posts"] == POSTS {
            break;
        }
        assert!(Instant::now() < deadline, "{detail}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(first);

    for format in ["csv", "ndjson", "parquet"] {
        let (_server, base, pid) = start(dir.path());
        let m = export(
            &client,
            &base,
            pid,
            &format!("snapshot=s_memory&format={format}"),
            format == "parquet",
        )
        .await;
        eprintln!(
            "{format}: {POSTS} posts, {} MB; server {} MB before, peak {} MB halfway, {} MB at the end",
            m.bytes / MIB,
            m.before / MIB,
            m.halfway_peak / MIB,
            m.peak / MIB
        );
        match format {
            // A header row, then one row per post.
            "csv" => assert_eq!(m.crlf, 1 + POSTS as u64),
            // One line per record (JSON escapes the line breaks inside its strings).
            "ndjson" => assert_eq!(m.lines, POSTS as u64),
            _ => {
                assert!(m.bytes > 16 * MIB, "{}", m.bytes);
                every_post_in_order(m.kept);
            }
        }
        // The second half of the stream (~48 MB of records) adds nothing beyond allocator slack.
        // Parquet's memory moves a row group at a time (built whole, up to `ROW_GROUP_BYTES`,
        // ~6 MB apart on the wire): seen alone, up to 20 MB after halfway; with the rest of the
        // suite running beside it once 32 MB (183 MB halfway, 215 MB at the end, its usual
        // plateau reached later). It may take one more group's room.
        let slack = match format {
            "parquet" => 32 * MIB + server::views::posts_parquet::ROW_GROUP_BYTES as u64,
            _ => 32 * MIB,
        };
        assert!(
            m.peak <= m.halfway_peak + slack,
            "{format}: the peak went from {} MB halfway to {} MB",
            m.halfway_peak / MIB,
            m.peak / MIB
        );
        // The bound for the server's memory.
        assert!(m.peak < 256 * MIB, "{format}: peak {} MB", m.peak / MIB);
    }
}

/// A Parquet export of the snapshot holds all its posts, newest first, over several row groups,
/// each post's columns in one row (its record beside its own post id).
fn every_post_in_order(file: Vec<u8>) {
    use arrow_array::{Array, Int64Array, StringArray};
    use parquet::arrow::ProjectionMask;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(file)).unwrap();
    let groups = builder.metadata().num_row_groups();
    assert!(groups >= 5, "{groups} row groups");
    let wanted = ["id", "post_id", "record"];
    let columns = builder
        .parquet_schema()
        .columns()
        .iter()
        .enumerate()
        .filter(|(_, c)| wanted.contains(&c.name()))
        .map(|(i, _)| i)
        .collect::<Vec<_>>();
    let mask = ProjectionMask::leaves(builder.parquet_schema(), columns);
    let (mut rows, mut last_id) = (0, i64::MAX);
    for batch in builder.with_projection(mask).build().unwrap() {
        let batch = batch.unwrap();
        let column = |name: &str| batch.column_by_name(name).unwrap().clone();
        let ids = column("id");
        let ids = ids.as_any().downcast_ref::<Int64Array>().unwrap();
        let post_ids = column("post_id");
        let post_ids = post_ids.as_any().downcast_ref::<StringArray>().unwrap();
        let records = column("record");
        let records = records.as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..batch.num_rows() {
            assert!(
                ids.value(i) < last_id,
                "row {rows}: id {} after {last_id}",
                ids.value(i)
            );
            last_id = ids.value(i);
            let record: serde_json::Value = serde_json::from_str(records.value(i)).unwrap();
            assert!(
                record.to_string().contains(post_ids.value(i)),
                "row {rows}: post {} with the record {record}",
                post_ids.value(i)
            );
            rows += 1;
        }
        assert_eq!(ids.null_count() + records.null_count(), 0);
    }
    assert_eq!(rows, POSTS);
}
