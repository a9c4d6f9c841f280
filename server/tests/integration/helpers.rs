//! `spawn_app()`: starts the real service on an ephemeral port with its own data and log directories
//! and a fresh database, and hands back a typed client.
//!
//! **One suite, both databases.** `scripts/test` runs this suite twice: on SQLite, then with
//! `TEST_DATABASE=postgres`, where every app that does not name its database gets a PostgreSQL
//! database of its own, created when it starts and dropped with it (`PgDatabase`). A test that is
//! about SQLite itself (its file, its log) says so with `Spawn::sqlite`; tests of several instances
//! on one PostgreSQL name theirs, and live in `cluster` and `postgres`, which the second run skips.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use delivery::samples::Shape;
use sea_orm::{ConnectionTrait, Database, EntityTrait, QueryOrder, Statement};
use server::config::Config;
use server::startup::Application;
use server::state::AppState;
use server::store::entities::events;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const WEBHOOK_TOKEN: &str = "test-webhook-token-0123456789abcdef";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdef";

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    dir: Option<Stopped>,
    database_url: Option<String>,
    shutdown: CancellationToken,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir().join("data")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.dir().join("logs")
    }

    /// `DATABASE_URL` as the app was given it (`None`: SQLite in its data directory).
    pub fn database_url(&self) -> Option<String> {
        self.database_url.clone()
    }

    fn dir(&self) -> &Path {
        self.dir.as_ref().expect("directory kept until stop").path()
    }

    /// `POST /api/brightdata/webhook/` with the webhook token and a JSON content type.
    pub fn webhook(&self) -> reqwest::RequestBuilder {
        self.webhook_as("application/json")
    }

    /// The same with another content type (reqwest adds headers; it never replaces them).
    pub fn webhook_as(&self, content_type: &str) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/api/brightdata/webhook/"))
            .bearer_auth(WEBHOOK_TOKEN)
            .header("content-type", content_type)
    }

    /// `POST /api/brightdata/notify/` with the webhook token.
    pub fn notify(&self) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/api/brightdata/notify/"))
            .bearer_auth(WEBHOOK_TOKEN)
    }

    /// A single integer from SQL (`SELECT count(*) ...`); NULL reads as 0.
    pub async fn number(&self, sql: &str) -> i64 {
        number_in(&self.state.db, sql).await
    }

    /// Waits until `sql` gives `expected` (events and queued deliveries are written in the background).
    pub async fn eventually(&self, sql: &str, expected: i64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let value = self.number(sql).await;
            if value == expected {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{sql}: still {value}, expected {expected}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Requests this instance has recorded as events so far (stored or still queued).
    pub fn recorded(&self) -> i64 {
        use server::store::outcome::Outcome;
        Outcome::ALL
            .iter()
            .map(|o| self.state.events.counters().get(*o) as i64)
            .sum()
    }

    /// Waits until every request recorded so far is stored (written in the background): in the
    /// rollups, which count each one, whether as an event row or, for a refusal past its
    /// address's few full records a minute, as a count.
    pub async fn settle(&self) -> i64 {
        let recorded = self.recorded();
        self.eventually(
            "SELECT CAST(coalesce(sum(requests), 0) AS BIGINT) FROM rollups_minute",
            recorded,
        )
        .await;
        recorded
    }

    /// Every stored event, oldest first, once `count` exist.
    pub async fn events(&self, count: i64) -> Vec<events::Model> {
        self.eventually("SELECT count(*) FROM events", count).await;
        events::Entity::find()
            .order_by_asc(events::Column::Id)
            .all(&self.state.db)
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// Stops the server gracefully and waits for it (log files flushed, database closed). Returns
    /// the directory holding its data and logs (and its PostgreSQL database, if it has one of its
    /// own), to inspect or to start again from.
    pub async fn stop(mut self) -> Stopped {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.dir.take().expect("directory kept until stop")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What a stopped app leaves: its directory (data and logs) and, when the suite runs on
/// PostgreSQL, its database, dropped with this value.
pub struct Stopped {
    dir: TempDir,
    pg: Option<PgDatabase>,
}

impl Stopped {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Which database the suite runs on (`TEST_DATABASE`: `sqlite`, the default, or `postgres`).
pub fn suite_on_postgresql() -> bool {
    match std::env::var("TEST_DATABASE").as_deref() {
        Err(_) | Ok("sqlite") => false,
        Ok("postgres") => true,
        Ok(other) => panic!("TEST_DATABASE={other}: expected sqlite or postgres"),
    }
}

/// Builder for the environment the app starts with.
pub struct Spawn {
    vars: HashMap<String, String>,
    dir: Stopped,
    sqlite: bool,
}

pub fn spawn() -> Spawn {
    spawn_in(Stopped {
        dir: tempfile::tempdir().unwrap(),
        pg: None,
    })
}

/// Starts from what an earlier `stop()` left: the same directory and database.
pub fn spawn_in(dir: Stopped) -> Spawn {
    let mut vars = HashMap::new();
    for (k, v) in [
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("DATA_DIR", dir.path().join("data").display().to_string()),
        ("LOG_DIR", dir.path().join("logs").display().to_string()),
        ("BRIGHTDATA_WEBHOOK_TOKEN", WEBHOOK_TOKEN.to_owned()),
        ("WEBHOOK_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
        // Tests send many requests from 127.0.0.1; the rate-limit test sets its own.
        ("WEBHOOK_RATE_LIMIT", "1000000".to_owned()),
    ] {
        vars.insert(k.to_owned(), v);
    }
    Spawn {
        vars,
        dir,
        sqlite: false,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn().start().await
}

impl Spawn {
    pub fn var(mut self, name: &str, value: &str) -> Self {
        self.vars.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.vars.remove(name);
        self
    }

    pub fn database(self, url: &str) -> Self {
        self.var("DATABASE_URL", url)
    }

    /// On SQLite whatever the suite runs on: for a test of SQLite itself (its file, its log).
    pub fn sqlite(mut self) -> Self {
        self.sqlite = true;
        self
    }

    pub fn config(&self) -> Config {
        Config::from_lookup(|name| self.vars.get(name).map(OsString::from))
            .expect("test configuration is valid")
    }

    pub async fn start(mut self) -> TestApp {
        if suite_on_postgresql() && !self.sqlite && !self.vars.contains_key("DATABASE_URL") {
            let pg = match self.dir.pg.take() {
                Some(pg) => pg,
                None => PgDatabase::create().await,
            };
            self.vars.insert("DATABASE_URL".into(), pg.url());
            self.dir.pg = Some(pg);
        }
        let app = Application::build(self.config())
            .await
            .expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let shutdown = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: server::outbound::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            state,
            dir: Some(self.dir),
            database_url: self.vars.get("DATABASE_URL").cloned(),
            shutdown,
            server: Some(server),
        }
    }
}

/// A single integer from SQL on `db` (`SELECT count(*) ...`); NULL reads as 0.
pub async fn number_in(db: &impl ConnectionTrait, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .expect("one row");
    // PostgreSQL answers INT4 for aggregates over INTEGER columns, INT8 for counts.
    row.try_get_by_index::<Option<i64>>(0)
        .or_else(|_| {
            row.try_get_by_index::<Option<i32>>(0)
                .map(|v| v.map(i64::from))
        })
        .unwrap()
        .unwrap_or(0)
}

/// A PostgreSQL database created for one test and dropped at the end (`drop_database`, or when
/// the value is dropped: a test that fails leaves nothing behind). The server is
/// `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`).
pub struct PgDatabase {
    server: String,
    pub name: String,
    dropped: bool,
}

impl PgDatabase {
    pub async fn create() -> Self {
        let server = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned());
        let name = format!("tf_test_{}_{}", std::process::id(), rand_suffix());
        let admin = Database::connect(format!("{server}/postgres"))
            .await
            .expect("PostgreSQL must run on 127.0.0.1:5432 (see README: scripts/test starts it)");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        admin.close().await.unwrap();
        Self {
            server,
            name,
            dropped: false,
        }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    pub async fn drop_database(mut self) {
        drop_now(&self.server, &self.name).await;
        self.dropped = true;
    }
}

impl Drop for PgDatabase {
    /// Drops the database on a thread of its own: `Drop` cannot wait on the test's runtime, and
    /// this also runs while a failed test unwinds.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (server, name) = (self.server.clone(), self.name.clone());
        let dropping = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(drop_now(&server, &name))
        });
        if dropping.join().is_err() {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// `DROP DATABASE ... WITH (FORCE)`: ends the connections still open to it first.
async fn drop_now(server: &str, name: &str) {
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .unwrap();
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    admin.close().await.unwrap();
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos:x}")
}

/// The seed of every generated delivery in these tests (any seed works; one keeps failures
/// reproducible).
pub const SAMPLE_SEED: u64 = 20250616;

/// A generated BrightData-shaped delivery body (`delivery::samples`): what the tests send.
pub fn sample(shape: Shape) -> Vec<u8> {
    shape.body(SAMPLE_SEED)
}

/// Where the team's shared BrightData fixtures are, when they are there: a second, independent
/// source of delivery bodies (`BRIGHTDATA_FIXTURES` overrides `../shared/fixtures/brightdata` beside
/// the repository). `REQUIRE_SHARED_FIXTURES=1` (CI sets it) makes their absence a failure.
pub fn shared_fixtures_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BRIGHTDATA_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/brightdata")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    let required = std::env::var("REQUIRE_SHARED_FIXTURES").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "REQUIRE_SHARED_FIXTURES=1 but {} is not there",
        dir.display()
    );
    None
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A JSON array body rewritten as NDJSON (one record per line).
pub fn to_ndjson(array: &[u8]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = serde_json::from_slice(array).unwrap();
    let mut out = Vec::new();
    for record in records {
        out.extend(serde_json::to_vec(&record).unwrap());
        out.push(b'\n');
    }
    out
}

/// A JSON array body rewritten as CSV, the way `format=csv` carries it: one column per field of
/// any record (first seen first), nested values as JSON text, null and absent fields empty.
pub fn to_csv(array: &[u8]) -> Vec<u8> {
    let records: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(array).unwrap();
    let mut columns: Vec<&str> = Vec::new();
    for record in &records {
        for key in record.keys() {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&columns).unwrap();
    for record in &records {
        let cells = columns.iter().map(|column| match record.get(*column) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(other) => other.to_string(),
        });
        writer.write_record(cells).unwrap();
    }
    writer.into_inner().unwrap()
}

/// An NDJSON body rewritten as a JSON array.
pub fn to_array(ndjson: &[u8]) -> Vec<u8> {
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(ndjson)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    serde_json::to_vec(&records).unwrap()
}

/// GETs `path` with the admin token: its status and JSON.
pub async fn admin_get(app: &TestApp, path: &str) -> (u16, serde_json::Value) {
    json(
        app.client
            .get(app.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// Polls `path` (as the admin) until `done(body)`; fails after 20 s.
pub async fn until(
    app: &TestApp,
    path: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (status, body) = admin_get(app, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        if done(&body) {
            return body;
        }
        assert!(std::time::Instant::now() < deadline, "{path}: {body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

pub async fn json(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, value)
}

/// Logs in through the dashboard's own function; the session cookie (`name=value`).
pub async fn session_cookie(app: &TestApp) -> String {
    session_cookie_at(&app.client, &app.address).await
}

/// The same on the server at `base` (`http://127.0.0.1:<port>`).
pub async fn session_cookie_at(client: &reqwest::Client, base: &str) -> String {
    let accepted = client
        .post(format!("{base}/dashboard/api/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
    accepted.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The dashboard's live stream as the page opens it (a websocket upgrade, over raw TCP), with
/// the session `cookie`: the socket once the server answered 101.
pub async fn open_live(app: &TestApp, cookie: &str) -> tokio::net::TcpStream {
    open_live_at(&app.address, cookie).await
}

/// The same on the server at `base`; the socket is read up to the end of the answer's head, so
/// what follows is the stream's messages.
pub async fn open_live_at(base: &str, cookie: &str) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /dashboard/api/live HTTP/1.1\r\nhost: test\r\nconnection: upgrade\r\n\
                 upgrade: websocket\r\nsec-websocket-version: 13\r\n\
                 sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\ncookie: {cookie}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
    })
    .await
    .expect("an answer");
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}
