//! Several instances on one PostgreSQL act as one service. Each instance is a `server` process of
//! its own (so one can be killed), on a database of the test's own, addressed directly (no proxy
//! in front).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use delivery::samples;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{
    ADMIN_TOKEN, PgDatabase, Shape, WEBHOOK_TOKEN, gzip, number_in, open_live_at, sample,
    session_cookie_at,
};
use crate::process::{Reaped, server};

const API: &str = "/api/brightdata/webhook";
/// `CLUSTER_LEASE` in these tests (the shortest allowed): a dead holder's lease runs out this fast.
const LEASE_S: u64 = 3;

/// One instance: its process, address, instance id, directories, and every line it printed.
struct Instance {
    process: Reaped,
    base: String,
    id: String,
    dir: TempDir,
    lines: Arc<Mutex<Vec<String>>>,
}

/// The JSON lines among `lines` whose message is `message`.
fn printed(lines: &Mutex<Vec<String>>, message: &str) -> Vec<Value> {
    lines
        .lock()
        .unwrap()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|json| json["message"] == message)
        .collect()
}

/// An instance started and not yet listening (its database may not be there yet).
struct Starting {
    process: Reaped,
    dir: TempDir,
    lines: Arc<Mutex<Vec<String>>>,
    listening: std::sync::mpsc::Receiver<Value>,
}

impl Starting {
    fn printed(&self, message: &str) -> usize {
        printed(&self.lines, message).len()
    }

    fn listening(self) -> Instance {
        let listening = self
            .listening
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no instance listening: {:?}", self.lines.lock().unwrap()));
        Instance {
            process: self.process,
            base: format!("http://{}", listening["address"].as_str().unwrap()),
            id: listening["instance"].as_str().unwrap().to_owned(),
            dir: self.dir,
            lines: self.lines,
        }
    }
}

impl Instance {
    fn start(database: &str, vars: &[(&str, &str)]) -> Self {
        Self::spawn(database, vars).listening()
    }

    fn spawn(database: &str, vars: &[(&str, &str)]) -> Starting {
        let dir = tempfile::tempdir().unwrap();
        let mut command = server(dir.path());
        command
            .env("DATABASE_URL", database)
            .env("BRIGHTDATA_WEBHOOK_TOKEN", WEBHOOK_TOKEN)
            .env("WEBHOOK_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("WEBHOOK_RATE_LIMIT", "1000000")
            .env("CLUSTER_LEASE", LEASE_S.to_string())
            .env("WEBHOOK_ALERT_INTERVAL", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, value) in vars {
            command.env(name, value);
        }
        let mut process = Reaped(command.spawn().unwrap());
        let stdout = process.0.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (listening_in, listening_out) = std::sync::mpsc::channel::<Value>();
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let json = serde_json::from_str::<Value>(&line).unwrap_or_default();
                if json["message"] == "listening" {
                    let _ = listening_in.send(json);
                }
                kept.lock().unwrap().push(line);
            }
        });
        Starting {
            process,
            dir,
            lines,
            listening: listening_out,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The lines it printed whose message is `message`.
    fn printed(&self, message: &str) -> Vec<Value> {
        printed(&self.lines, message)
    }

    /// The events of its `webhook_monitor.log` named `event`.
    fn monitor_log(&self, event: &str) -> Vec<Value> {
        let path = self.dir.path().join("logs").join("webhook_monitor.log");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|json| json["event"] == event)
            .collect()
    }

    /// SIGKILL: no graceful stop, its leases are left to run out.
    fn kill(&mut self) {
        self.process.0.kill().unwrap();
        self.process.0.wait().unwrap();
    }

    /// SIGTERM, and waits until it stopped.
    fn stop(&mut self) {
        let pid = self.process.0.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = self.process.0.wait().unwrap();
        assert!(status.success(), "{status}");
    }
}

async fn text(db: &DatabaseConnection, sql: &str) -> Option<String> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()?;
    row.try_get_by_index::<Option<String>>(0).unwrap()
}

/// Polls `probe` every 50 ms until it gives `Some`; fails after `within`.
async fn wait_for<T, F, Fut>(what: &str, within: Duration, probe: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The instance holding the leadership now.
async fn leader(db: &DatabaseConnection) -> Option<String> {
    let now = chrono::Utc::now().timestamp_millis();
    text(
        db,
        &format!("SELECT holder FROM leases WHERE name = 'leader' AND until_ms >= {now}"),
    )
    .await
}

async fn admin_json(client: &reqwest::Client, url: String) -> Value {
    let response = client
        .get(url)
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn three_instances_on_one_postgresql_share_deliveries_alerts_and_the_leadership() {
    let pg = PgDatabase::create().await;
    let db = Database::connect(pg.url()).await.unwrap();
    let spike = [("WEBHOOK_SECURITY_SPIKE_PER_MINUTE", "5")];
    // Three at once, started together (each starts while the others are starting).
    let starting: Vec<Starting> = (0..3).map(|_| Instance::spawn(&pg.url(), &spike)).collect();
    let mut instances: Vec<Instance> = starting.into_iter().map(Starting::listening).collect();
    let ids: std::collections::HashSet<&str> = instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "each its own instance id");
    let client = server::outbound::builder().build().unwrap();

    // One of them leads, and only it says so.
    let first = wait_for("a leader", Duration::from_secs(10), || leader(&db)).await;
    let leading = instances
        .iter()
        .position(|i| i.id == first)
        .unwrap_or_else(|| panic!("{first} is none of the instances"));
    for (n, instance) in instances.iter().enumerate() {
        let taken = instance.monitor_log("leadership_taken").len();
        assert_eq!(taken, usize::from(n == leading), "instance {n}");
    }

    // A delivery to each appears in the one events list, asked of any.
    let shapes = [
        Shape::LinkedinPosts,
        Shape::TiktokWithError,
        Shape::InstagramFull,
    ];
    for (instance, shape) in instances.iter().zip(shapes) {
        let answer = client
            .post(instance.url(&format!("{API}/")))
            .bearer_auth(WEBHOOK_TOKEN)
            .header("content-type", "application/json")
            .body(sample(shape))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    for instance in &instances {
        let events = wait_for("every delivery's event", Duration::from_secs(20), || {
            let client = client.clone();
            let url = instance.url(&format!("{API}/events/?outcome=accepted&limit=50"));
            async move {
                let page = admin_json(&client, url).await;
                let events = page["events"].as_array().unwrap().clone();
                (events.len() == 3).then_some(events)
            }
        })
        .await;
        assert_eq!(events.len(), 3);
    }

    // The same file sent to all three at the same moment is stored once.
    let send = |instance: &Instance| {
        client
            .post(instance.url(&format!("{API}/")))
            .bearer_auth(WEBHOOK_TOKEN)
            .header("content-type", "application/json")
            .header("snapshot-id", "s_all")
            .header("dca-filename", "s_all_0.json")
            .body(sample(Shape::InstagramDeadPages))
            .send()
    };
    let (one, two, three) = tokio::join!(
        send(&instances[0]),
        send(&instances[1]),
        send(&instances[2])
    );
    let mut answers = Vec::new();
    for answer in [one.unwrap(), two.unwrap(), three.unwrap()] {
        assert_eq!(answer.status(), 200);
        answers.push(answer.json::<Value>().await.unwrap());
    }
    let stored = answers
        .iter()
        .filter(|a| !a["duplicate"].as_bool().unwrap())
        .count();
    assert_eq!(
        stored, 1,
        "one stores, the others are told it is a replay: {answers:?}"
    );
    assert_eq!(
        number_in(
            &db,
            "SELECT count(*) FROM deliveries WHERE snapshot_id = 's_all'"
        )
        .await,
        1
    );
    assert_eq!(
        number_in(
            &db,
            "SELECT count(*) FROM posts WHERE snapshot_id = 's_all'"
        )
        .await,
        Shape::InstagramDeadPages.posts() as i64
    );
    assert_eq!(
        number_in(
            &db,
            "SELECT count(*) FROM input_errors WHERE snapshot_id = 's_all'"
        )
        .await,
        Shape::InstagramDeadPages.input_errors() as i64
    );

    // Refusals on every instance: one alert for the one condition, opened by the leader alone.
    for instance in &instances {
        for _ in 0..6 {
            let refused = client
                .post(instance.url(&format!("{API}/")))
                .bearer_auth("not-the-token")
                .body("[]")
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 401);
        }
    }
    // Prometheus: each instance counts its own, under its own label; the service-wide gauge,
    // read from the shared rollups, is the same from any.
    for instance in &instances {
        let scraped = wait_for(
            "the refusals in the rollups",
            Duration::from_secs(20),
            || {
                let client = client.clone();
                let url = instance.url("/metrics");
                async move {
                    let text = client
                        .get(url)
                        .bearer_auth(ADMIN_TOKEN)
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    text.contains(
                    "trackfutura_cluster_requests{outcome=\"rejected_auth\",window=\"5m\"} 18\n",
                )
                .then_some(text)
                }
            },
        )
        .await;
        let own = format!(
            "trackfutura_requests_total{{instance=\"{}\",outcome=\"rejected_auth\"}} 6\n",
            instance.id
        );
        assert!(scraped.contains(&own), "{own} in {scraped}");
        assert_eq!(scraped.matches("trackfutura_requests_total{").count(), 10);
        let leads = u8::from(instance.id == first);
        assert!(scraped.contains(&format!(
            "trackfutura_leader{{instance=\"{}\"}} {leads}\n",
            instance.id
        )));
    }

    let spike_alerts = "SELECT count(*) FROM alerts WHERE rule = 'security_spike'";
    wait_for(
        "the security spike alert",
        Duration::from_secs(20),
        || async { (number_in(&db, spike_alerts).await > 0).then_some(()) },
    )
    .await;
    // Several more evaluation rounds (one a second) on every instance.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(number_in(&db, spike_alerts).await, 1);
    let opened = |instance: &Instance| {
        instance
            .monitor_log("alert_opened")
            .into_iter()
            .filter(|e| e["rule"] == "security_spike")
            .count()
    };
    for (n, instance) in instances.iter().enumerate() {
        assert_eq!(opened(instance), usize::from(n == leading), "instance {n}");
    }

    // The leader dies: one of the two others takes over once its lease ran out, and goes on
    // evaluating.
    let seen_before = number_in(
        &db,
        "SELECT last_seen_ms FROM alerts WHERE rule = 'security_spike'",
    )
    .await;
    let killed = Instant::now();
    let mut dead = instances.remove(leading);
    dead.kill();
    let next = wait_for(
        "another leader",
        Duration::from_secs(4 * LEASE_S),
        || async { leader(&db).await.filter(|holder| *holder != dead.id) },
    )
    .await;
    eprintln!(
        "leadership handed over {:?} after the kill",
        killed.elapsed()
    );
    let successor = instances
        .iter()
        .position(|i| i.id == next)
        .unwrap_or_else(|| panic!("{next} is none of the survivors"));
    for (n, instance) in instances.iter().enumerate() {
        let taken = instance.monitor_log("leadership_taken").len();
        assert_eq!(taken, usize::from(n == successor), "survivor {n}");
    }
    wait_for(
        "the new leader evaluating the open alert",
        Duration::from_secs(20),
        || async {
            let seen = number_in(
                &db,
                "SELECT last_seen_ms FROM alerts WHERE rule = 'security_spike'",
            )
            .await;
            (seen > seen_before).then_some(())
        },
    )
    .await;
    assert_eq!(number_in(&db, spike_alerts).await, 1);

    // A leader that stops gracefully gives the lead up at once, and the last one takes it.
    let mut successor = instances.remove(successor);
    let last = instances.pop().unwrap();
    successor.stop();
    let handed = Instant::now();
    // Given up, not left to run out: the lease no longer names it.
    assert_ne!(leader(&db).await, Some(successor.id.clone()), "released");
    let third = wait_for("a new leader", Duration::from_secs(LEASE_S), || leader(&db)).await;
    assert_eq!(third, last.id);
    eprintln!(
        "leadership given up by a graceful stop was taken {:?} later",
        handed.elapsed()
    );

    drop(last);
    db.close().await.unwrap();
    pg.drop_database().await;
}

/// `records` with BrightData's input reports (a dead page, a private account) spread through it.
fn with_input_errors(mut records: Vec<Value>) -> (Vec<Value>, usize) {
    let reports: Vec<Value> = Shape::InstagramDeadPages
        .records(1)
        .into_iter()
        .filter(|r| r.get("error").is_some() || r.get("warning").is_some())
        .collect();
    let n = records.len();
    for (i, report) in reports.iter().enumerate() {
        records.insert(i * n / reports.len(), report.clone());
    }
    (records, reports.len())
}

fn chunked(body: Vec<u8>) -> reqwest::Body {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 << 10).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(pieces))
}

/// Sends `records` chunked (no length: stored raw, answered 202, extracted in the background);
/// the delivery's id.
async fn queue(
    client: &reqwest::Client,
    instance: &Instance,
    snapshot: &str,
    records: &[Value],
) -> i64 {
    let answer = client
        .post(instance.url(&format!("{API}/")))
        .bearer_auth(WEBHOOK_TOKEN)
        .header("content-type", "application/x-ndjson")
        .header("content-encoding", "gzip")
        .header("snapshot-id", snapshot)
        .body(chunked(gzip(&samples::ndjson(records))))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 202);
    let answer: Value = answer.json().await.unwrap();
    answer["delivery_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{answer}"))
}

#[tokio::test]
async fn a_queued_delivery_is_extracted_once_and_taken_over_when_its_instance_dies() {
    let pg = PgDatabase::create().await;
    let db = Database::connect(pg.url()).await.unwrap();
    let mut a = Instance::start(&pg.url(), &[]);
    let mut b = Instance::start(&pg.url(), &[]);
    let client = server::outbound::builder().build().unwrap();

    // A large delivery: its extraction takes seconds on PostgreSQL.
    const POSTS: usize = 60_000;
    let (records, reports) = with_input_errors(samples::instagram_snapshot(7, POSTS));
    let id = queue(&client, &a, "s_large", &records).await;
    let state = |column: &str| format!("SELECT {column} FROM deliveries WHERE id = {id}");
    // Part of it is stored (a batch committed its progress): kill the instance extracting it at
    // once. (That a live holder keeps its delivery is `claim_queued`'s unit test: waiting here
    // for the other instance to look would need an extraction slower than this machine's.)
    let holder = wait_for(
        "an extraction under way",
        Duration::from_secs(30),
        || async {
            let progress = number_in(&db, &state("extracted_records")).await;
            let holder = text(&db, &state("lease_holder")).await;
            (progress > 0).then_some(holder).flatten()
        },
    )
    .await;
    let (dying, taking_over) = if holder == a.id {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    dying.kill();
    let stored_by_the_dead = number_in(
        &db,
        "SELECT count(*) FROM posts WHERE snapshot_id = 's_large'",
    )
    .await;
    assert!(
        stored_by_the_dead > 0 && stored_by_the_dead < POSTS as i64,
        "killed half-way: {stored_by_the_dead} posts stored"
    );
    assert_eq!(
        text(&db, &state("state")).await.as_deref(),
        Some("processing")
    );

    wait_for(
        "the delivery finished",
        Duration::from_secs(120),
        || async { (text(&db, &state("state")).await.as_deref() == Some("stored")).then_some(()) },
    )
    .await;
    assert_eq!(
        text(&db, &state("lease_holder")).await.as_deref(),
        Some(taking_over.id.as_str())
    );
    let went_on = taking_over.printed("going on with an interrupted extraction");
    assert_eq!(went_on.len(), 1, "{went_on:?}");
    assert!(
        dying
            .printed("going on with an interrupted extraction")
            .is_empty()
    );
    assert!(went_on[0]["records"].as_i64().unwrap() > 0);
    // Exact counts: nothing stored twice, nothing counted twice, nothing lost.
    assert_eq!(number_in(&db, &state("posts")).await, POSTS as i64);
    assert_eq!(number_in(&db, &state("input_errors")).await, reports as i64);
    assert_eq!(number_in(&db, &state("duplicates")).await, 0);
    assert_eq!(
        number_in(
            &db,
            "SELECT count(*) FROM posts WHERE snapshot_id = 's_large'"
        )
        .await,
        POSTS as i64
    );
    assert_eq!(
        number_in(
            &db,
            "SELECT max(times_delivered) FROM posts WHERE snapshot_id = 's_large'"
        )
        .await,
        1
    );
    assert_eq!(
        number_in(
            &db,
            &format!("SELECT count(*) FROM input_errors WHERE delivery_id = {id}")
        )
        .await,
        reports as i64
    );
    assert_eq!(
        number_in(&db, "SELECT posts FROM snapshots WHERE id = 's_large'").await,
        POSTS as i64
    );

    // With two instances up, queued deliveries are each extracted by one of them, once.
    let c = Instance::start(&pg.url(), &[]);
    let mut ids = Vec::new();
    for n in 0..8u64 {
        let to = if n % 2 == 0 { &*taking_over } else { &c };
        let records = samples::instagram_snapshot(100 + n, 300);
        ids.push(queue(&client, to, &format!("s_many_{n}"), &records).await);
    }
    let all = ids
        .iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(",");
    wait_for("every delivery stored", Duration::from_secs(60), || async {
        (number_in(
            &db,
            &format!("SELECT count(*) FROM deliveries WHERE id IN ({all}) AND state = 'stored'"),
        )
        .await
            == ids.len() as i64)
            .then_some(())
    })
    .await;
    let mut extracted: Vec<i64> = [&*taking_over, &c]
        .iter()
        .flat_map(|i| i.printed("extracted a queued delivery"))
        .map(|line| line["delivery_id"].as_i64().unwrap())
        .filter(|delivery| ids.contains(delivery))
        .collect();
    extracted.sort_unstable();
    assert_eq!(extracted, ids, "each extracted once");
    assert_eq!(
        number_in(
            &db,
            &format!("SELECT CAST(sum(duplicates) AS BIGINT) FROM deliveries WHERE id IN ({all})")
        )
        .await,
        0
    );

    drop(c);
    db.close().await.unwrap();
    pg.drop_database().await;
}

/// The next websocket message's text (`None` once the server closed the stream).
async fn next_message(stream: &mut tokio::net::TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.ok()?;
    let opcode = head[0] & 0x0f;
    let length = match head[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            stream.read_exact(&mut n).await.ok()?;
            u16::from_be_bytes(n) as usize
        }
        127 => {
            let mut n = [0u8; 8];
            stream.read_exact(&mut n).await.ok()?;
            u64::from_be_bytes(n) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; length];
    stream.read_exact(&mut payload).await.ok()?;
    // 0x8: the server closes.
    (opcode != 0x8).then(|| String::from_utf8_lossy(&payload).into_owned())
}

/// Reads the stream until an update names `snapshot`; the time it took.
async fn until_touched(stream: &mut tokio::net::TcpStream, snapshot: &str) -> Duration {
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let message = next_message(stream).await.expect("the stream stays open");
            if message.contains(snapshot) {
                return started.elapsed();
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no update naming {snapshot} within 10 s"))
}

#[tokio::test]
async fn a_page_on_any_instance_follows_the_others_and_their_logouts() {
    let pg = PgDatabase::create().await;
    let starting: Vec<Starting> = (0..3).map(|_| Instance::spawn(&pg.url(), &[])).collect();
    let instances: Vec<Instance> = starting.into_iter().map(Starting::listening).collect();
    let client = server::outbound::builder().build().unwrap();

    // A page on each instance, one session: each sees every delivery the others store, with the
    // snapshot it touched. Deliveries go to each instance in turn.
    let cookie = session_cookie_at(&client, &instances[0].base).await;
    let mut pages = Vec::new();
    for instance in &instances {
        pages.push(open_live_at(&instance.base, &cookie).await);
    }
    let mut delays = Vec::new();
    for n in 0..21 {
        let to = n % instances.len();
        let snapshot = format!("s_seen_everywhere_{n}");
        let sent = Instant::now();
        let answer = client
            .post(instances[to].url(&format!("{API}/")))
            .bearer_auth(WEBHOOK_TOKEN)
            .header("content-type", "application/json")
            .header("snapshot-id", &snapshot)
            .body(sample(Shape::LinkedinPosts))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        for (on, page) in pages.iter_mut().enumerate() {
            until_touched(page, &snapshot).await;
            if on != to {
                delays.push(sent.elapsed());
            }
        }
    }
    delays.sort_unstable();
    let at = |q: f64| delays[((delays.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "a delivery to one instance reached another's live stream in p50 {:?}, p95 {:?} ({} pages)",
        at(0.5),
        at(0.95),
        delays.len()
    );

    // A logout on the first instance ends the session's streams on the others too.
    let logged_out = Instant::now();
    let answer = client
        .post(instances[0].url("/api/auth/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    for (n, page) in pages.iter_mut().enumerate().skip(1) {
        let closed = tokio::time::timeout(Duration::from_secs(12), async {
            while next_message(page).await.is_some() {}
        })
        .await;
        assert!(closed.is_ok(), "instance {n}'s stream outlived the logout");
        let refused = client
            .get(instances[n].url(&format!("{API}/health/")))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401);
    }
    eprintln!(
        "a logout on one instance closed the others' live streams within {:?}",
        logged_out.elapsed()
    );

    drop(instances);
    pg.drop_database().await;
}

/// A TCP proxy in front of the local PostgreSQL that the test can cut (every connection through
/// it dropped, new ones closed at once, as when the database host goes away) and restore.
struct Cuttable {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Cuttable {
    /// On a thread and runtime of its own: the test's thread blocks while an instance starts.
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, watching) = tokio::sync::watch::channel(true);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        std::thread::spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        return;
                    };
                    if !*watching.borrow() {
                        continue; // dropped: closed at once
                    }
                    let mut cut = watching.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:5432").await
                        else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.wait_for(|up| !*up) => {}
                        }
                    });
                }
            })
        });
        Self { port, up }
    }

    fn url(&self, pg: &PgDatabase) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{}", self.port, pg.name)
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn restore(&self) {
        self.up.send_replace(true);
    }
}

/// A database that answers but refuses (here: it does not exist) is not waited for: the start
/// fails at once with the reason, where an unreachable one is retried.
#[tokio::test]
async fn a_database_that_refuses_fails_the_start_at_once() {
    let missing = format!(
        "postgres://postgres@127.0.0.1:5432/tf_missing_{}",
        std::process::id()
    );
    let mut starting = Instance::spawn(&missing, &[]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = starting.process.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "still running: {:?}",
            starting.lines.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    assert_eq!(
        starting.printed("connecting: the database cannot be reached; retrying"),
        0
    );
}

#[tokio::test]
async fn postgresql_going_away_is_waited_for_answered_503_and_recovered_from() {
    let pg = PgDatabase::create().await;
    let db = Database::connect(pg.url()).await.unwrap();
    let proxy = Cuttable::start();
    let quick = [
        ("DATABASE_CONNECT_TIMEOUT", "1"),
        ("DATABASE_ACQUIRE_TIMEOUT", "2"),
    ];

    // Not there at start: waited for, each attempt logged, no exit.
    proxy.cut();
    let mut starting = Instance::spawn(&proxy.url(&pg), &quick);
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let retries = starting.printed("connecting: the database cannot be reached; retrying");
    assert!(retries >= 2, "{retries} attempts logged");
    assert!(
        starting.process.0.try_wait().unwrap().is_none(),
        "it exited"
    );
    proxy.restore();
    let instance = starting.listening();
    let client = server::outbound::builder().build().unwrap();
    let deliver = |n: u32| {
        client
            .post(instance.url(&format!("{API}/")))
            .bearer_auth(WEBHOOK_TOKEN)
            .header("content-type", "application/json")
            .header("snapshot-id", format!("s_outage_{n}"))
            .body(sample(Shape::LinkedinPosts))
            .send()
    };
    assert_eq!(deliver(0).await.unwrap().status(), 200);
    // The only instance leads (so it is the one to alert on the outage).
    wait_for("the leadership", Duration::from_secs(5), || async {
        (instance.monitor_log("leadership_taken").len() == 1).then_some(())
    })
    .await;

    // Gone while serving: deliveries are refused with 503 (never a 2xx for what is not stored),
    // health says so, and the leader raises one alert.
    proxy.cut();
    let refused = deliver(1).await.unwrap();
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers()["retry-after"], "5");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "database_unavailable", "{body}");
    let health = client
        .get(instance.url("/api/health/"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 503);
    let outage_opened = || {
        instance
            .monitor_log("alert_opened")
            .into_iter()
            .filter(|e| e["rule"] == "database_unreachable")
            .count()
    };
    wait_for("the outage alert", Duration::from_secs(20), || async {
        (outage_opened() > 0).then_some(())
    })
    .await;
    // More evaluation rounds while it lasts: still one alert.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(outage_opened(), 1);

    // Back: the same process serves again, and the outage is stored as one resolved alert.
    proxy.restore();
    let resumed = Instant::now();
    wait_for(
        "deliveries stored again",
        Duration::from_secs(30),
        || async { (deliver(2).await.unwrap().status() == 200).then_some(()) },
    )
    .await;
    eprintln!(
        "storing again {:?} after the database came back",
        resumed.elapsed()
    );
    let health = client
        .get(instance.url("/api/health/"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    wait_for("the outage resolved", Duration::from_secs(20), || async {
        (number_in(
            &db,
            "SELECT count(*) FROM alerts WHERE rule = 'database_unreachable' AND status = 'resolved'",
        )
        .await
            == 1)
            .then_some(())
    })
    .await;
    assert_eq!(
        number_in(
            &db,
            "SELECT count(*) FROM alerts WHERE rule = 'database_unreachable'"
        )
        .await,
        1
    );
    // What was refused was not stored; what was acknowledged was.
    assert_eq!(
        number_in(
            &db,
            "SELECT count(*) FROM deliveries WHERE snapshot_id = 's_outage_1'"
        )
        .await,
        0
    );
    assert_eq!(
        number_in(
            &db,
            "SELECT count(*) FROM deliveries WHERE snapshot_id IN ('s_outage_0', 's_outage_2')"
        )
        .await,
        2
    );

    drop(instance);
    db.close().await.unwrap();
    pg.drop_database().await;
}
