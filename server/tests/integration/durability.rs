//! What `kill -9` cannot show, since the page cache outlives the process: that a 2xx is sent only
//! after the write-ahead log holding the delivery was flushed to disk. The server runs under strace,
//! and the order of its system calls is checked: the log write carrying a delivery, then an
//! `fdatasync` of the log that began after it, then the answer. The same check, with every flush
//! slowed down by strace, shows that a retry is answered "duplicate" only once its original is
//! durable (a read sees a commit before its flush).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, Statement};

use super::helpers::{Shape, gzip, sample};
use super::process::{wait_until_listening, with_server_env};

const TOKEN: &str = "durability-test-token-0123456789abcdef";
/// The system calls that write the log, flush it, and send answers.
const TRACED: &str = "trace=pwrite64,write,writev,sendto,sendmsg,fdatasync,fsync";

/// The server started by strace, which writes the traced calls to a file.
struct Traced {
    strace: Child,
    address: String,
    trace: PathBuf,
    dir: tempfile::TempDir,
}

impl Traced {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("trace.txt");
        let mut command = with_server_env(Command::new("strace"), dir.path());
        command
            // Threads followed, wall-clock entry times, time spent in each call, file names of
            // descriptors, buffers in full (a log page is 4 KiB).
            .args(["-f", "-qq", "-ttt", "-T", "-y", "-s", "65536", "-e", TRACED])
            .args(extra)
            .arg("-o")
            .arg(&trace)
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_server"))
            .env("BRIGHTDATA_WEBHOOK_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut strace = command
            .spawn()
            .expect("strace runs (scripts/tools.sh installs it)");
        let (listening, _) = wait_until_listening(&mut strace);
        let address = format!("http://{}", listening["address"].as_str().unwrap());
        Self {
            strace,
            address,
            trace,
            dir,
        }
    }

    fn database(&self) -> PathBuf {
        self.dir.path().join("data/track-futura.db")
    }

    /// The server's pid: strace's only child.
    fn server_pid(&self) -> Option<String> {
        let pid = self.strace.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).ok()?;
        children.split_whitespace().next().map(str::to_owned)
    }

    /// Stops the server gracefully (strace ends with it) and returns the system calls it made.
    fn stop(&mut self) -> Vec<Call> {
        let pid = self.server_pid().expect("the server runs under strace");
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.strace.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "the traced server did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        calls(&std::fs::read_to_string(&self.trace).unwrap())
    }

    fn delivery(&self, snapshot: &str) -> reqwest::RequestBuilder {
        server::outbound::builder()
            .build()
            .unwrap()
            .post(format!("{}/api/brightdata/webhook/", self.address))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .header("snapshot-id", snapshot)
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        if let Some(pid) = self.server_pid() {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        let _ = self.strace.kill();
        let _ = self.strace.wait();
    }
}

/// One system call: its name, its text (arguments and result) and when it began and ended (s).
#[derive(Debug)]
struct Call {
    name: String,
    text: String,
    start: f64,
    end: f64,
}

impl Call {
    /// A write into the SQLite write-ahead log.
    fn writes_log(&self) -> bool {
        matches!(self.name.as_str(), "pwrite64" | "write" | "writev") && self.text.contains("-wal>")
    }

    /// A flush of the log file that succeeded.
    fn flushes_log(&self) -> bool {
        matches!(self.name.as_str(), "fdatasync" | "fsync")
            && self.text.contains("-wal>")
            && self.text.contains(") = 0")
    }

    /// A write of an HTTP 2xx answer.
    fn answers_2xx(&self) -> bool {
        !self.writes_log() && self.text.contains("HTTP/1.1 2")
    }
}

/// strace's `-f -ttt -T` lines: `<tid> <seconds> name(args) = result <duration>`. A call that
/// another thread's call interrupted in the trace comes in two lines (`<unfinished ...>`, then
/// `<... name resumed>`), joined here by thread.
fn calls(trace: &str) -> Vec<Call> {
    let mut pending: HashMap<&str, (f64, &str)> = HashMap::new();
    let mut calls = Vec::new();
    for line in trace.lines() {
        // strace pads the thread id to five columns: split on runs of spaces.
        let Some((tid, rest)) = line.trim_start().split_once(' ') else {
            continue;
        };
        let Some((at, rest)) = rest.trim_start().split_once(' ') else {
            continue;
        };
        let Ok(at) = at.parse::<f64>() else { continue };
        if let Some(head) = rest.strip_suffix(" <unfinished ...>") {
            pending.insert(tid, (at, head));
            continue;
        }
        let (start, text) = match rest.strip_prefix("<... ") {
            Some(resumed) => {
                let Some((head_at, head)) = pending.remove(tid) else {
                    continue;
                };
                let tail = resumed.split_once(" resumed>").map_or("", |(_, tail)| tail);
                (head_at, format!("{head}{tail}"))
            }
            None => (at, rest.to_owned()),
        };
        let Some(name) = text.split('(').next().filter(|n| !n.is_empty()) else {
            continue;
        };
        let duration = text
            .rsplit_once(" <")
            .and_then(|(_, d)| d.strip_suffix('>'))
            .and_then(|d| d.parse::<f64>().ok())
            .unwrap_or(0.0);
        calls.push(Call {
            name: name.to_owned(),
            start,
            end: start + duration,
            text,
        });
    }
    calls.sort_by(|a, b| a.start.total_cmp(&b.start));
    calls
}

/// Checks the promise for one delivery: its first log write (the commit that stored it, found by a
/// text only it carries), then a log flush that began after that write, then its answer.
/// `answer` picks the answer among the 2xx writes after the commit. Returns what was seen.
fn check_flushed_before_answer(
    calls: &[Call],
    marker: &str,
    answer: impl Fn(&Call) -> bool,
) -> Result<String, String> {
    let commit = calls
        .iter()
        .find(|c| c.writes_log() && c.text.contains(marker))
        .ok_or_else(|| format!("no log write carries {marker}"))?;
    let answered = calls
        .iter()
        .find(|c| c.start >= commit.start && c.answers_2xx() && answer(c))
        .ok_or_else(|| format!("no 2xx answer after the commit of {marker}"))?;
    match calls
        .iter()
        .find(|c| c.flushes_log() && c.start >= commit.end && c.end <= answered.start)
    {
        Some(flush) => Ok(format!(
            "{marker}: committed at {:.6}, flushed {:.6}..{:.6}, answered at {:.6}",
            commit.end, flush.start, flush.end, answered.start
        )),
        None => Err(format!(
            "{marker}: committed at {:.6} and answered at {:.6} ({}) with no log flush between",
            commit.end,
            answered.start,
            answered.text.chars().take(80).collect::<String>()
        )),
    }
}

#[tokio::test]
async fn every_2xx_is_sent_after_the_log_holding_its_delivery_was_flushed() {
    let mut server = Traced::start(&[]);
    let body = sample(Shape::InstagramFull);
    // One at a time, so the first 2xx after a delivery's commit is its own answer.
    let mut markers = Vec::new();
    for n in 0..4 {
        let snapshot = format!("s_traced_inline_{n}");
        let response = server.delivery(&snapshot).body(body.clone()).send().await;
        assert_eq!(response.unwrap().status(), 200, "{snapshot}");
        markers.push(snapshot);
    }
    // The streamed path (no declared length): chunks stored, then queued, then answered 202.
    let snapshot = "s_traced_streamed".to_owned();
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        gzip(&body).chunks(1000).map(|c| Ok(c.to_vec())).collect();
    let response = server
        .delivery(&snapshot)
        .header("content-encoding", "gzip")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    markers.push(snapshot);

    let calls = server.stop();
    assert!(
        calls.iter().any(Call::flushes_log),
        "the trace shows no flush of the log at all"
    );
    for marker in &markers {
        match check_flushed_before_answer(&calls, marker, |_| true) {
            Ok(seen) => eprintln!("{seen}"),
            Err(broken) => panic!("{broken}"),
        }
    }
}

#[tokio::test]
async fn a_retry_is_answered_duplicate_only_once_its_original_is_durable() {
    // Every flush takes 1.5 s: the original is committed, and visible to reads, long before it is
    // durable. A retry read in that window must wait for the flush before it says "duplicate".
    let mut server = Traced::start(&["-e", "inject=fdatasync:delay_enter=1500000"]);
    let body = sample(Shape::InstagramFull);
    let send = |body: Vec<u8>| {
        server
            .delivery("s_retried_original")
            .header("webhook-id", "retried-delivery-1")
            .body(body)
            .send()
    };
    let original = tokio::spawn(send(body.clone()));

    let db = Database::connect(format!("sqlite://{}?mode=ro", server.database().display()))
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT count(*) FROM replay_keys WHERE key = 'webhook:id:retried-delivery-1'",
            ))
            .await;
        if let Ok(Some(row)) = seen
            && row.try_get_by_index::<i64>(0) == Ok(1)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the original was never committed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        !original.is_finished(),
        "the original was answered before the test could retry it unflushed"
    );
    let retry = send(body).await.unwrap();
    assert_eq!(retry.status(), 200);
    let retry: serde_json::Value = retry.json().await.unwrap();
    assert_eq!(retry["duplicate"], true, "{retry}");
    let original = original.await.unwrap().unwrap();
    assert_eq!(original.status(), 200);
    let original: serde_json::Value = original.json().await.unwrap();
    assert_eq!(original["duplicate"], false, "{original}");
    drop(db);

    let calls = server.stop();
    let retried = check_flushed_before_answer(&calls, "s_retried_original", |answer| {
        answer.text.contains(r#"duplicate\":true"#)
    });
    match retried {
        Ok(seen) => eprintln!("{seen}"),
        Err(broken) => panic!("the duplicate answer came first: {broken}"),
    }
}

#[test]
fn the_trace_reader_joins_interrupted_calls_and_finds_a_missing_flush() {
    let trace = "\
10  100.000100 pwrite64(7</d/x.db-wal>, \"..s_a..\", 4120, 0) = 4120 <0.000010>
11 100.000200 fdatasync(7</d/x.db-wal> <unfinished ...>
12 100.000300 writev(9<socket:[1]>, [{iov_base=\"HTTP/1.1 200 OK\"}], 1) = 15 <0.000005>
11 100.000900 <... fdatasync resumed>) = 0 <0.000700>
123456 100.001000 writev(9<socket:[1]>, [{iov_base=\"HTTP/1.1 200 OK\"}], 1) = 15 <0.000005>
";
    let calls = calls(trace);
    assert_eq!(calls.len(), 4);
    let flush = calls.iter().find(|c| c.name == "fdatasync").unwrap();
    assert!(flush.flushes_log());
    assert!((flush.end - 100.0009).abs() < 1e-9, "{flush:?}");
    // The first answer began before the flush ended: the check refuses it.
    assert!(check_flushed_before_answer(&calls, "s_a", |_| true).is_err());
    // Answered only after the flush: accepted.
    let later = |c: &Call| c.start > 100.0005;
    assert!(check_flushed_before_answer(&calls, "s_a", later).is_ok());
    assert!(check_flushed_before_answer(&calls, "s_b", |_| true).is_err());
}
