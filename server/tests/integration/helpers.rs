//! `spawn_app()`: starts the real service on an ephemeral port with its own data and log directories
//! and a fresh SQLite file (or a throw-away PostgreSQL database), and hands back a typed client.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;

use sea_orm::{ConnectionTrait, Database};
use server::config::Config;
use server::startup::Application;
use server::state::AppState;
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
    dir: Option<TempDir>,
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

    fn dir(&self) -> &std::path::Path {
        self.dir.as_ref().expect("directory kept until stop").path()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// Stops the server gracefully and waits for it (log files flushed, database closed). Returns
    /// the directory holding its data and logs, to inspect or to start again from.
    pub async fn stop(mut self) -> TempDir {
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

/// Builder for the environment the app starts with.
pub struct Spawn {
    vars: HashMap<String, String>,
    dir: TempDir,
}

pub fn spawn() -> Spawn {
    spawn_in(tempfile::tempdir().unwrap())
}

/// Starts from an existing directory (e.g. one an earlier `stop()` returned).
pub fn spawn_in(dir: TempDir) -> Spawn {
    let mut vars = HashMap::new();
    for (k, v) in [
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("DATA_DIR", dir.path().join("data").display().to_string()),
        ("LOG_DIR", dir.path().join("logs").display().to_string()),
        ("BRIGHTDATA_WEBHOOK_TOKEN", WEBHOOK_TOKEN.to_owned()),
        ("WEBHOOK_ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
    ] {
        vars.insert(k.to_owned(), v);
    }
    Spawn { vars, dir }
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

    pub fn config(&self) -> Config {
        Config::from_lookup(|name| self.vars.get(name).map(OsString::from))
            .expect("test configuration is valid")
    }

    pub async fn start(self) -> TestApp {
        let app = Application::build(self.config())
            .await
            .expect("application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let state = app.state().clone();
        let shutdown = app.shutdown_token();
        let server = tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            state,
            dir: Some(self.dir),
            shutdown,
            server: Some(server),
        }
    }
}

/// A PostgreSQL database created for one test and dropped at the end. The server is
/// `TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432`).
pub struct PgDatabase {
    server: String,
    pub name: String,
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
        Self { server, name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    pub async fn drop_database(self) {
        let admin = Database::connect(format!("{}/postgres", self.server))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ))
            .await
            .unwrap();
        admin.close().await.unwrap();
    }
}

fn rand_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{nanos:x}")
}
