//! The command-line tools against the real server and local fakes of what we cannot reach: a fake
//! `ngrok` executable serving the agent's local API, a fake BrightData API checking every
//! parameter, and a TLS server with generated certificates for the pinning.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::helpers::{ADMIN_TOKEN, Shape, TestApp, WEBHOOK_TOKEN, sample, spawn};
use super::process::server;

/// The tool's output: exit code, stdout, stderr.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `server <args>` with data and logs under `root`, without blocking the test's runtime
/// (the server under test runs on it).
async fn run(root: &Path, env: &[(&str, &str)], args: &[&str]) -> Ran {
    let mut command = server(root);
    command.args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("the binary runs");
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `run` beside `app`: on its directory, and on its database when that is a PostgreSQL one.
async fn run_beside(app: &TestApp, env: &[(&str, &str)], args: &[&str]) -> Ran {
    let url = app.database_url();
    let mut env = env.to_vec();
    if let Some(url) = &url {
        env.push(("DATABASE_URL", url));
    }
    run(&root(app), &env, args).await
}

/// The directory `process::server` expects: the parent of the app's `data` and `logs`.
fn root(app: &TestApp) -> PathBuf {
    app.data_dir().parent().unwrap().to_owned()
}

const TOKENS: [(&str, &str); 2] = [
    ("BRIGHTDATA_WEBHOOK_TOKEN", WEBHOOK_TOKEN),
    ("WEBHOOK_ADMIN_TOKEN", ADMIN_TOKEN),
];

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn admin_json(app: &TestApp, path: &str) -> Value {
    let answer = app
        .client
        .get(app.url(path))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "{path}");
    answer.json().await.unwrap()
}

// ---------------------------------------------------------------------------------------------
// check-setup

#[tokio::test]
async fn check_setup_prints_the_urls_and_parameters_without_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run(
        dir.path(),
        &[
            TOKENS[0],
            TOKENS[1],
            ("BRIGHTDATA_BASE_URL", "https://hooks.example.org"),
        ],
        &["check-setup"],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    for line in [
        "Public URL:    https://hooks.example.org",
        "found by:    BRIGHTDATA_BASE_URL",
        "endpoint=https://hooks.example.org/api/brightdata/webhook/",
        "notify=https://hooks.example.org/api/brightdata/notify/",
        "auth_header=Bearer <webhook token: BRIGHTDATA_WEBHOOK_TOKEN>",
        "uncompressed_webhook=true",
        "include_errors=true",
    ] {
        assert!(
            ran.stdout.contains(line),
            "{line} missing in:\n{}",
            ran.stdout
        );
    }
    assert!(!ran.stdout.contains(WEBHOOK_TOKEN) && !ran.stderr.contains(WEBHOOK_TOKEN));

    // Nothing configured: the local address, flagged.
    let ran = run(dir.path(), &TOKENS, &["check-setup"]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(ran.stdout.contains("reachable:   NO"), "{}", ran.stdout);
}

#[tokio::test]
async fn check_setup_send_test_proves_a_signed_delivery_is_stored_and_the_snapshot_moves() {
    let app = spawn()
        .var("WEBHOOK_SIGNING_SECRET", "setup-check-secret")
        .var("WEBHOOK_REQUIRE_SIGNATURE", "true")
        .start()
        .await;
    let env = [
        TOKENS[0],
        TOKENS[1],
        ("WEBHOOK_SIGNING_SECRET", "setup-check-secret"),
    ];
    let ran = run_beside(
        &app,
        &env,
        &["check-setup", "--url", &app.address, "--send-test"],
    )
    .await;
    assert_eq!(
        ran.code,
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        ran.stdout,
        ran.stderr
    );
    assert!(ran.stdout.contains("Setup works"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("6 posts and 4 input errors counted"),
        "{}",
        ran.stdout
    );

    // What the tool claims is what the database holds.
    let snapshots = admin_json(&app, "/api/brightdata/webhook/snapshots/").await;
    let snapshot = &snapshots["snapshots"][0];
    assert!(
        snapshot["id"]
            .as_str()
            .unwrap()
            .starts_with("s_setupcheck_")
    );
    assert_eq!(snapshot["status"], "delivered");
    assert_eq!(snapshot["records"], 6);
    assert_eq!(app.number("SELECT count(*) FROM posts").await, 6);
    assert_eq!(
        app.number("SELECT count(*) FROM deliveries WHERE state = 'stored'")
            .await,
        1
    );

    // Without the secret the server refuses the unsigned delivery: the tool says so and fails.
    let ran = run_beside(
        &app,
        &TOKENS,
        &["check-setup", "--url", &app.address, "--send-test"],
    )
    .await;
    assert_eq!(ran.code, Some(1));
    assert!(ran.stderr.contains("refused: 401"), "{}", ran.stderr);
}

#[tokio::test]
async fn check_setup_send_test_fails_with_the_reason() {
    let app = spawn().start().await;
    // A wrong webhook token.
    let ran = run_beside(
        &app,
        &[
            ("BRIGHTDATA_WEBHOOK_TOKEN", "wrong-token-0123456789"),
            TOKENS[1],
        ],
        &["check-setup", "--url", &app.address, "--send-test"],
    )
    .await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("refused: 401") && ran.stderr.contains("invalid_token"),
        "{}",
        ran.stderr
    );
    // A wrong admin token: the delivery answered 200, but the tool cannot prove it was stored.
    let ran = run_beside(
        &app,
        &[
            TOKENS[0],
            ("WEBHOOK_ADMIN_TOKEN", "wrong-admin-token-0123456789"),
        ],
        &["check-setup", "--url", &app.address, "--send-test"],
    )
    .await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("monitor API refused the admin token"),
        "{}",
        ran.stderr
    );
    // Nothing listening.
    let url = format!("http://127.0.0.1:{}", free_port());
    let ran = run_beside(
        &app,
        &TOKENS,
        &["check-setup", "--url", &url, "--send-test"],
    )
    .await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("Is the service running"),
        "{}",
        ran.stderr
    );
    // Not a URL.
    let ran = run_beside(
        &app,
        &TOKENS,
        &["check-setup", "--url", "ftp://x", "--send-test"],
    )
    .await;
    assert_eq!(ran.code, Some(2));
}

// ---------------------------------------------------------------------------------------------
// Public URL detection, as the running service shows it

#[tokio::test]
async fn the_detected_url_and_its_source_are_shown_by_config_and_the_self_test() {
    let app = spawn()
        .var(
            "RAILWAY_PUBLIC_DOMAIN",
            "track-futura-production.up.railway.app",
        )
        .var("RAILWAY_ENVIRONMENT", "production")
        .start()
        .await;
    let config = admin_json(&app, "/api/brightdata/webhook/config/").await;
    assert_eq!(
        config["base_url"],
        "https://track-futura-production.up.railway.app"
    );
    assert_eq!(config["base_url_source"], "Railway: RAILWAY_PUBLIC_DOMAIN");
    assert_eq!(config["reachable"], true);
    assert_eq!(
        config["data_url"],
        "https://track-futura-production.up.railway.app/api/brightdata/webhook/"
    );
    let report: Value = app
        .client
        .post(app.url("/api/brightdata/webhook/test/"))
        .bearer_auth(ADMIN_TOKEN)
        .header("x-requested-with", "test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("public URL https://track-futura-production.up.railway.app (found by Railway: RAILWAY_PUBLIC_DOMAIN)"),
        "{warnings}"
    );
}

#[tokio::test]
async fn a_malformed_platform_routes_is_a_warning_everywhere_not_a_crash() {
    let app = spawn()
        .var("PLATFORM_ROUTES", "eyJub3QiOiAianNvbg")
        .start()
        .await;
    let config = admin_json(&app, "/api/brightdata/webhook/config/").await;
    assert_eq!(config["reachable"], false);
    assert!(
        config["base_url_warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("PLATFORM_ROUTES: "),
        "{config}"
    );
    // The start-up log says it too.
    let dir = tempfile::tempdir().unwrap();
    let mut child = super::process::Reaped(
        server(dir.path())
            .envs(TOKENS)
            .env("PLATFORM_ROUTES", "not base64!")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (listening, before) = super::process::wait_until_listening(&mut child.0);
    assert!(before.contains("PLATFORM_ROUTES: not base64"), "{before}");
    assert!(
        listening["found_by"]
            .as_str()
            .unwrap()
            .contains("unreachable"),
        "{listening}"
    );
}

// ---------------------------------------------------------------------------------------------
// ngrok

/// A stand-in for the ngrok agent: `ngrok http <port> [--subdomain=x] ...` serves the agent's
/// local API at NGROK_API_URL with an http and an https tunnel, and records how it was called.
const FAKE_NGROK: &str = r#"#!/usr/bin/env python3
import http.server, json, os, signal, sys, urllib.parse
args = sys.argv[1:]
with open(os.environ["FAKE_NGROK_RECORD"], "w") as f:
    json.dump({"argv": args, "authtoken": os.environ.get("NGROK_AUTHTOKEN")}, f)
port = args[1]
sub = next((a.split("=", 1)[1] for a in args if a.startswith("--subdomain=")), "f00d1234")
tunnels = {"uri": "/api/tunnels", "tunnels": [
    {"name": "command_line (http)", "ID": "a1", "public_url": "http://%s.fake-ngrok.test" % sub,
     "proto": "http", "config": {"addr": "http://localhost:%s" % port, "inspect": True}, "metrics": {}},
    {"name": "command_line", "ID": "b2", "public_url": "https://%s.fake-ngrok.test" % sub,
     "proto": "https", "config": {"addr": "http://localhost:%s" % port, "inspect": True}, "metrics": {}}]}
class Api(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(tunnels).encode() if self.path == "/api/tunnels" else b"{}"
        self.send_response(200 if self.path == "/api/tunnels" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
api = urllib.parse.urlparse(os.environ["NGROK_API_URL"])
http.server.HTTPServer((api.hostname, api.port), Api).serve_forever()
"#;

fn fake_ngrok(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-ngrok");
    std::fs::write(&path, FAKE_NGROK).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .starts_with('Z')
    })
}

#[tokio::test]
async fn ngrok_start_status_stop_drive_the_agent_and_the_service_picks_the_tunnel_up() {
    let dir = tempfile::tempdir().unwrap();
    let bin = fake_ngrok(dir.path());
    let record = dir.path().join("record.json");
    let api = format!("http://127.0.0.1:{}", free_port());
    let env = [
        TOKENS[0],
        TOKENS[1],
        ("NGROK_BIN", bin.to_str().unwrap()),
        ("NGROK_API_URL", api.as_str()),
        ("NGROK_AUTH_TOKEN", "ngrok-secret-token-123"),
        ("FAKE_NGROK_RECORD", record.to_str().unwrap()),
    ];
    let ran = run(
        dir.path(),
        &env,
        &[
            "ngrok",
            "start",
            "--port",
            "8123",
            "--subdomain",
            "tf-dev",
            "--region",
            "eu",
        ],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout
            .contains("data:        https://tf-dev.fake-ngrok.test/api/brightdata/webhook/"),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stdout
            .contains("notify:      https://tf-dev.fake-ngrok.test/api/brightdata/notify/")
    );
    for secret in [WEBHOOK_TOKEN, "ngrok-secret-token-123"] {
        assert!(!ran.stdout.contains(secret) && !ran.stderr.contains(secret));
    }
    // How the agent was called: the token in its environment, never on its command line.
    let called: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(
        called["argv"],
        json!([
            "http",
            "8123",
            "--region=eu",
            "--log=stdout",
            "--log-format=json",
            "--subdomain=tf-dev"
        ])
    );
    assert_eq!(called["authtoken"], "ngrok-secret-token-123");
    let pid: u32 = std::fs::read_to_string(dir.path().join("data/ngrok.pid"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(alive(pid));

    // Starting again reuses the running agent.
    let again = run(dir.path(), &env, &["ngrok", "start", "--port", "8123"]).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stdout.contains("https://tf-dev.fake-ngrok.test"));

    let status = run(dir.path(), &env, &["ngrok", "status", "--port", "8123"]).await;
    assert_eq!(status.code, Some(0), "{}", status.stderr);
    assert!(status.stdout.contains(&format!("ngrok runs (pid {pid})")));

    // The service, started with NGROK_ENABLED, takes the tunnel as its public URL.
    let app = spawn()
        .var("NGROK_ENABLED", "true")
        .var("NGROK_API_URL", &api)
        .start()
        .await;
    assert_eq!(app.state.public.url, "https://tf-dev.fake-ngrok.test");
    let config = admin_json(&app, "/api/brightdata/webhook/config/").await;
    assert_eq!(
        config["data_url"],
        "https://tf-dev.fake-ngrok.test/api/brightdata/webhook/"
    );
    assert!(
        config["base_url_source"]
            .as_str()
            .unwrap()
            .starts_with("ngrok tunnel")
    );

    // Another process called ngrok, not started by the helper, survives the stop.
    let mut other = super::process::Reaped(
        std::process::Command::new(&bin)
            .args(["http", "9999"])
            .env("NGROK_API_URL", format!("http://127.0.0.1:{}", free_port()))
            .env("FAKE_NGROK_RECORD", dir.path().join("other.json"))
            .spawn()
            .unwrap(),
    );
    let stop = run(dir.path(), &env, &["ngrok", "stop"]).await;
    assert_eq!(stop.code, Some(0), "{}", stop.stderr);
    assert!(stop.stdout.contains(&format!("stopped ngrok (pid {pid})")));
    assert!(!alive(pid));
    assert!(
        other.0.try_wait().unwrap().is_none(),
        "the other ngrok was killed"
    );
    assert!(!dir.path().join("data/ngrok.pid").exists());

    let status = run(dir.path(), &env, &["ngrok", "status"]).await;
    assert_eq!(status.code, Some(3));
    let stop = run(dir.path(), &env, &["ngrok", "stop"]).await;
    assert_eq!(stop.code, Some(3));

    // A pid file naming a process that is not ours (pid reused) is never signalled.
    std::fs::write(
        dir.path().join("data/ngrok.pid"),
        format!("{} 1\n", other.0.id()),
    )
    .unwrap();
    let stop = run(dir.path(), &env, &["ngrok", "stop"]).await;
    assert_eq!(stop.code, Some(3), "{}", stop.stderr);
    assert!(
        other.0.try_wait().unwrap().is_none(),
        "a reused pid was signalled"
    );
}

#[tokio::test]
async fn ngrok_without_the_binary_or_a_tunnel_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let ran = run(
        dir.path(),
        &[("NGROK_BIN", "/nonexistent/ngrok")],
        &["ngrok", "start"],
    )
    .await;
    assert_eq!(ran.code, Some(4));
    assert!(ran.stderr.contains("install ngrok"), "{}", ran.stderr);
    // PATH holds no ngrok here (the tests' PATH is the machine's).
    let ran = run(dir.path(), &[("PATH", "/nonexistent")], &["ngrok", "start"]).await;
    assert_eq!(ran.code, Some(4), "{}", ran.stderr);
    // NGROK_ENABLED with no agent running: the service starts, local, with a warning.
    let app = spawn()
        .var("NGROK_ENABLED", "true")
        .var(
            "NGROK_API_URL",
            &format!("http://127.0.0.1:{}", free_port()),
        )
        .start()
        .await;
    let config = admin_json(&app, "/api/brightdata/webhook/config/").await;
    assert_eq!(config["reachable"], false);
    assert!(
        config["base_url_warnings"][0]
            .as_str()
            .unwrap()
            .contains("run `server ngrok start`"),
        "{config}"
    );
}

// ---------------------------------------------------------------------------------------------
// trigger and progress, against a fake BrightData API

#[derive(Default)]
struct FakeApi {
    /// Every request: (method and path, query, body).
    seen: Mutex<Vec<(String, Value, Value)>>,
}

const API_KEY: &str = "bd-api-key-0123456789";

/// Checks the API key and, on trigger, every parameter BrightData needs to deliver to
/// `https://hooks.example.org` with the webhook token. Wrong ones are answered 400 with why.
async fn fake_brightdata() -> (String, Arc<FakeApi>) {
    let fake = Arc::new(FakeApi::default());
    fn authorised(headers: &HeaderMap) -> bool {
        headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {API_KEY}"))
    }
    async fn trigger(
        State(fake): State<Arc<FakeApi>>,
        headers: HeaderMap,
        Query(query): Query<std::collections::HashMap<String, String>>,
        body: String,
    ) -> (StatusCode, String) {
        if !authorised(&headers) {
            return (StatusCode::UNAUTHORIZED, "Unauthorized".into());
        }
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        fake.seen
            .lock()
            .unwrap()
            .push(("POST trigger".into(), json!(query), body.clone()));
        let expected = [
            (
                "endpoint",
                "https://hooks.example.org/api/brightdata/webhook/".to_owned(),
            ),
            (
                "notify",
                "https://hooks.example.org/api/brightdata/notify/".to_owned(),
            ),
            ("auth_header", format!("Bearer {WEBHOOK_TOKEN}")),
            ("format", "json".to_owned()),
            ("uncompressed_webhook", "true".to_owned()),
            ("include_errors", "true".to_owned()),
        ];
        for (name, value) in expected {
            if query.get(name) != Some(&value) {
                return (
                    StatusCode::BAD_REQUEST,
                    format!("{name} is {:?}", query.get(name)),
                );
            }
        }
        if !query
            .get("dataset_id")
            .is_some_and(|d| d.starts_with("gd_"))
        {
            return (StatusCode::BAD_REQUEST, "dataset_id".into());
        }
        if !body
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_object))
        {
            return (
                StatusCode::BAD_REQUEST,
                "body must be a JSON array of inputs".into(),
            );
        }
        (
            StatusCode::OK,
            json!({"snapshot_id": "s_fake0123abcd"}).to_string(),
        )
    }
    async fn progress(
        State(fake): State<Arc<FakeApi>>,
        headers: HeaderMap,
        axum::extract::Path(id): axum::extract::Path<String>,
    ) -> (StatusCode, String) {
        if !authorised(&headers) {
            return (StatusCode::UNAUTHORIZED, "Unauthorized".into());
        }
        fake.seen
            .lock()
            .unwrap()
            .push((format!("GET progress/{id}"), Value::Null, Value::Null));
        (
            StatusCode::OK,
            json!({"snapshot_id": id, "dataset_id": "gd_lk5ns7kz21pck8jpis", "status": "ready"})
                .to_string(),
        )
    }
    let router = axum::Router::new()
        .route("/datasets/v3/trigger", post(trigger))
        .route("/datasets/v3/progress/{id}", get(progress))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, fake)
}

#[tokio::test]
async fn trigger_sends_every_parameter_and_records_the_snapshot_as_triggered() {
    let (api, fake) = fake_brightdata().await;
    let app = spawn()
        .var("BRIGHTDATA_BASE_URL", "https://hooks.example.org")
        .start()
        .await;
    let env = [
        TOKENS[0],
        TOKENS[1],
        ("BRIGHTDATA_BASE_URL", "https://hooks.example.org"),
        ("BRIGHTDATA_API_URL", api.as_str()),
        ("BRIGHTDATA_API_TOKEN", API_KEY),
    ];
    let ran = run_beside(
        &app,
        &env,
        &[
            "trigger",
            "--dataset-id",
            "gd_lk5ns7kz21pck8jpis",
            "--url",
            "https://www.instagram.com/a",
            "--url",
            "https://www.instagram.com/b",
        ],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("snapshot_id: s_fake0123abcd"),
        "{}",
        ran.stdout
    );
    assert!(!ran.stdout.contains(WEBHOOK_TOKEN) && !ran.stdout.contains(API_KEY));
    let seen = fake.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1["dataset_id"], "gd_lk5ns7kz21pck8jpis");
    assert_eq!(
        seen[0].2,
        json!([{"url": "https://www.instagram.com/a"}, {"url": "https://www.instagram.com/b"}])
    );

    // The tracker shows it before BrightData says anything; a notify then moves it on.
    let snapshot = admin_json(&app, "/api/brightdata/webhook/snapshots/s_fake0123abcd/").await;
    assert_eq!(snapshot["snapshot"]["status"], "triggered");
    assert_eq!(snapshot["snapshot"]["platform"], "instagram");
    assert_eq!(snapshot["snapshot"]["dataset_id"], "gd_lk5ns7kz21pck8jpis");
    let answer = app
        .notify()
        .json(&json!({"snapshot_id": "s_fake0123abcd", "status": "running"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let snapshot = admin_json(&app, "/api/brightdata/webhook/snapshots/s_fake0123abcd/").await;
    assert_eq!(snapshot["snapshot"]["status"], "running");

    // Inputs from a file (NDJSON), and progress.
    let inputs = root(&app).join("inputs.ndjson");
    std::fs::write(
        &inputs,
        "{\"url\": \"https://www.tiktok.com/@a\", \"num_of_posts\": 5}\n",
    )
    .unwrap();
    let ran = run_beside(
        &app,
        &env,
        &[
            "trigger",
            "--dataset-id",
            "gd_lu702nij2f790tmv9h",
            "--input",
            inputs.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("already known"),
        "the same snapshot id: {}",
        ran.stdout
    );
    assert_eq!(
        fake.seen.lock().unwrap()[1].2,
        json!([{"url": "https://www.tiktok.com/@a", "num_of_posts": 5}])
    );
    let ran = run_beside(&app, &env, &["progress", "s_fake0123abcd"]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let answer: Value = serde_json::from_str(ran.stdout.trim()).unwrap();
    assert_eq!(answer["status"], "ready");
}

#[tokio::test]
async fn trigger_and_progress_refusals_are_clear_failures() {
    let (api, fake) = fake_brightdata().await;
    let dir = tempfile::tempdir().unwrap();
    let base = [
        TOKENS[0],
        TOKENS[1],
        ("BRIGHTDATA_BASE_URL", "https://hooks.example.org"),
        ("BRIGHTDATA_API_URL", api.as_str()),
    ];
    let args = [
        "trigger",
        "--dataset-id",
        "gd_x",
        "--url",
        "https://www.instagram.com/a",
    ];
    // No API key.
    let ran = run(dir.path(), &base, &args).await;
    assert_eq!(ran.code, Some(2));
    assert!(ran.stderr.contains("BRIGHTDATA_API_TOKEN is not set"));
    // A wrong one.
    let mut env = base.to_vec();
    env.push(("BRIGHTDATA_API_TOKEN", "wrong-key"));
    let ran = run(dir.path(), &env, &args).await;
    assert_eq!(ran.code, Some(1));
    assert!(
        ran.stderr.contains("BrightData answered 401"),
        "{}",
        ran.stderr
    );
    let ran = run(dir.path(), &env, &["progress", "s_1"]).await;
    assert_eq!(ran.code, Some(1));
    // Bad inputs never reach the API.
    env.pop();
    env.push(("BRIGHTDATA_API_TOKEN", API_KEY));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[1, 2]").unwrap();
    let ran = run(
        dir.path(),
        &env,
        &[
            "trigger",
            "--dataset-id",
            "gd_x",
            "--input",
            bad.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains("input 1 is not a JSON object"),
        "{}",
        ran.stderr
    );
    let ran = run(dir.path(), &env, &["trigger", "--dataset-id", "gd_x"]).await;
    assert_eq!(ran.code, Some(2), "clap: --input or --url is required");
    let ran = run(dir.path(), &env, &["progress", "../etc/passwd"]).await;
    assert_eq!(ran.code, Some(2));
    assert!(fake.seen.lock().unwrap().is_empty());
}

/// Every way a call to BrightData's API can fail before an answer (nothing listening, a TLS
/// refusal, a server that never answers) leaves the API key and the webhook token out of what the
/// command prints: the trigger's URL carries the token in its query, and reqwest quotes the URL.
#[tokio::test]
async fn no_failure_of_a_call_to_brightdata_prints_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let closed = format!("http://127.0.0.1:{}", free_port());
    let tls = tls_server().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let trigger = [
        "trigger",
        "--dataset-id",
        "gd_x",
        "--url",
        "https://www.instagram.com/a",
    ];
    let progress = ["progress", "s_1"];
    for (kind, api, says) in [
        ("closed port", closed.as_str(), "error sending request"),
        ("TLS failure", tls.url.as_str(), "error sending request"),
        ("timeout", silent_url.as_str(), "timed out"),
    ] {
        for args in [&trigger[..], &progress[..]] {
            let ran = run(
                dir.path(),
                &[
                    TOKENS[0],
                    TOKENS[1],
                    ("BRIGHTDATA_BASE_URL", "https://hooks.example.org"),
                    ("BRIGHTDATA_API_URL", api),
                    ("BRIGHTDATA_API_TOKEN", API_KEY),
                    ("BRIGHTDATA_API_TIMEOUT", "2"),
                ],
                args,
            )
            .await;
            assert_eq!(ran.code, Some(1), "{kind} {args:?}: {}", ran.stderr);
            assert!(ran.stderr.contains(says), "{kind} {args:?}: {}", ran.stderr);
            for secret in [WEBHOOK_TOKEN, API_KEY, ADMIN_TOKEN] {
                assert!(
                    !ran.stdout.contains(secret) && !ran.stderr.contains(secret),
                    "{kind} {args:?} printed a secret: {} {}",
                    ran.stdout,
                    ran.stderr
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Certificate pinning, against a local TLS server

struct Tls {
    url: String,
    ca_file: PathBuf,
    leaf_pin: String,
    ca_pin: String,
    /// The key of a certificate the server sends after its own that no verified path uses.
    appended_pin: String,
    _dir: tempfile::TempDir,
}

fn pin_of(public_key_der: &[u8]) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(public_key_der))
}

/// A TLS server for `localhost` whose certificate a generated CA signed, answering every request
/// with a progress answer. Its chain is its own certificate, then an unrelated CA certificate (as a
/// server holding a wrongly issued certificate would append BrightData's real intermediate).
async fn tls_server() -> Tls {
    use rcgen::{
        BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        PublicKeyData,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Track-Futura test CA");
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let ca_pin = pin_of(&ca_key.subject_public_key_info());
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    assert_eq!(
        server::outbound::spki_sha256(leaf.der()).map(|h| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(h)
        }),
        Some(pin_of(&leaf_key.subject_public_key_info())),
        "the pin read from a certificate is its key's"
    );

    let unrelated_key = KeyPair::generate().unwrap();
    let mut unrelated_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    unrelated_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    unrelated_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "BrightData's real intermediate");
    let unrelated = unrelated_params.self_signed(&unrelated_key).unwrap();
    let appended_pin = pin_of(&unrelated_key.subject_public_key_info());

    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone(), unrelated.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}",
        listener.local_addr().unwrap().port()
    );
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"snapshot_id":"s_tls","status":"running"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    Tls {
        url,
        ca_file,
        leaf_pin: pin_of(&leaf_key.subject_public_key_info()),
        ca_pin,
        appended_pin,
        _dir: dir,
    }
}

#[tokio::test]
async fn pinning_passes_the_pinned_key_and_fails_closed_on_any_other() {
    let tls = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let progress = |pinning: &'static str, pins: String| {
        let tls_url = tls.url.clone();
        let ca_file = tls.ca_file.display().to_string();
        let dir = dir.path().to_owned();
        async move {
            run(
                &dir,
                &[
                    ("BRIGHTDATA_API_URL", &tls_url),
                    ("BRIGHTDATA_API_TOKEN", API_KEY),
                    ("SSL_CERT_FILE", &ca_file),
                    ("WEBHOOK_ENABLE_CERT_PINNING", pinning),
                    ("BRIGHTDATA_PINNED_SPKI_SHA256", &pins),
                ],
                &["progress", "s_tls"],
            )
            .await
        }
    };
    // Normal verification alone: the generated CA is trusted through SSL_CERT_FILE.
    let ran = progress("false", String::new()).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.contains("\"status\":\"running\""),
        "{}",
        ran.stdout
    );
    // Pinned to the server's key (among others): passes.
    let other = pin_of(b"some other key");
    let ran = progress("true", format!("{other},{}", tls.leaf_pin)).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    // Pinned to the root the verified path ends at (not sent by the server): passes.
    let ran = progress("true", tls.ca_pin.clone()).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    // Pinned to other keys only, or to the key of a certificate the server appended to its chain
    // but that no verified path uses: fails.
    for pins in [other.clone(), tls.appended_pin.clone()] {
        let ran = progress("true", pins).await;
        assert_eq!(ran.code, Some(1), "{}", ran.stdout);
        assert!(ran.stderr.contains("certificate pinning"), "{}", ran.stderr);
    }
    // Pinning on, no pins: the tool refuses to run at all.
    let ran = progress("true", String::new()).await;
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains("BRIGHTDATA_PINNED_SPKI_SHA256"),
        "{}",
        ran.stderr
    );
    // Without the CA trusted, verification fails before any pin is looked at.
    let ran = run(
        dir.path(),
        &[
            ("BRIGHTDATA_API_URL", &tls.url),
            ("BRIGHTDATA_API_TOKEN", API_KEY),
            ("SSL_CERT_FILE", "/nonexistent.pem"),
            ("WEBHOOK_ENABLE_CERT_PINNING", "true"),
            ("BRIGHTDATA_PINNED_SPKI_SHA256", &tls.leaf_pin),
        ],
        &["progress", "s_tls"],
    )
    .await;
    assert_ne!(
        ran.code,
        Some(0),
        "an untrusted certificate passed on its pin alone"
    );
}

// ---------------------------------------------------------------------------------------------
// export-events

#[tokio::test]
async fn export_events_writes_what_the_api_exports_while_the_server_runs() {
    let app = spawn().start().await;
    for shape in [
        Shape::InstagramFull,
        Shape::LinkedinPosts,
        Shape::TiktokWithError,
    ] {
        let answer = app.webhook().body(sample(shape)).send().await.unwrap();
        assert_eq!(answer.status(), 200);
    }
    for _ in 0..3 {
        let answer = app
            .client
            .post(app.url("/api/brightdata/webhook/"))
            .bearer_auth("=cmd|' /C calc'!A0")
            .body("[]")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 401);
    }
    app.settle().await;
    let out = root(&app).join("export");
    std::fs::create_dir_all(&out).unwrap();
    for (format, filter) in [
        ("csv", ""),
        ("json", ""),
        ("csv", "accepted"),
        ("json", "rejected_auth"),
    ] {
        let file = out.join(format!("events-{format}-{filter}"));
        let mut args = vec![
            "export-events",
            "--format",
            format,
            "--output",
            file.to_str().unwrap(),
            "--progress",
        ];
        if !filter.is_empty() {
            args.extend(["--outcome", filter]);
        }
        let ran = run_beside(&app, &[], &args).await;
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        let expected_count = match filter {
            "" => 6,
            _ => 3,
        };
        assert!(
            ran.stdout
                .contains(&format!("{expected_count} events written")),
            "{}",
            ran.stdout
        );
        assert!(
            ran.stderr
                .contains(&format!("{expected_count}/{expected_count} events")),
            "{}",
            ran.stderr
        );
        let api = app
            .client
            .get(app.url(&format!(
                "/api/brightdata/webhook/export-events/?format={format}&outcome={filter}"
            )))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            api.to_vec(),
            "{format} {filter}"
        );
    }
    // Bad filters are refused before anything is written.
    let file = out.join("bad.csv");
    let ran = run_beside(
        &app,
        &[],
        &[
            "export-events",
            "--output",
            file.to_str().unwrap(),
            "--outcome",
            "nonsense",
        ],
    )
    .await;
    assert_eq!(ran.code, Some(2));
    assert!(ran.stderr.contains("unknown outcome"), "{}", ran.stderr);
    assert!(!file.exists());
}

// ---------------------------------------------------------------------------------------------
// export-posts

#[tokio::test]
async fn export_posts_writes_each_format_as_the_api_exports_it() {
    let app = spawn().start().await;
    for (snapshot, shape) in [
        ("s_cli_ig", Shape::InstagramFull),
        ("s_cli_li", Shape::LinkedinPosts),
    ] {
        let answer = app
            .webhook()
            .header("snapshot-id", snapshot)
            .body(sample(shape))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    app.settle().await;
    let out = root(&app).join("export");
    std::fs::create_dir_all(&out).unwrap();
    let api = |query: String| {
        let request = app
            .client
            .get(app.url(&format!("/api/brightdata/webhook/export-posts/?{query}")))
            .bearer_auth(ADMIN_TOKEN);
        async move { request.send().await.unwrap().bytes().await.unwrap() }
    };
    let ig = Shape::InstagramFull.posts();
    for (format, snapshot, file_name, expected) in [
        ("parquet", "s_cli_ig", "ig.parquet", ig),
        ("csv", "s_cli_li", "li.csv", Shape::LinkedinPosts.posts()),
        (
            "ndjson",
            "",
            "all.ndjson.gz",
            ig + Shape::LinkedinPosts.posts(),
        ),
    ] {
        let file = out.join(file_name);
        let mut args = vec![
            "export-posts",
            "--format",
            format,
            "-o",
            file.to_str().unwrap(),
            "--progress",
        ];
        if !snapshot.is_empty() {
            args.extend(["--snapshot", snapshot]);
        }
        let ran = run_beside(&app, &[], &args).await;
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        assert!(
            ran.stdout.contains(&format!("{expected} posts written")),
            "{}",
            ran.stdout
        );
        assert!(
            ran.stderr.contains(&format!("{expected}/{expected} posts")),
            "{}",
            ran.stderr
        );
        let written = std::fs::read(&file).unwrap();
        // A .gz name: the same bytes, gzip-compressed.
        let written = if file_name.ends_with(".gz") {
            let mut inflated = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(&written[..]),
                &mut inflated,
            )
            .unwrap();
            inflated
        } else {
            written
        };
        let expected_bytes = api(format!("format={format}&snapshot={snapshot}")).await;
        assert_eq!(written, expected_bytes.to_vec(), "{format}");
    }
    let parquet = std::fs::read(out.join("ig.parquet")).unwrap();
    let rows = crate::posts::parquet_rows(parquet.into());
    assert_eq!(rows.len(), ig);
    assert!(rows.iter().all(|r| r["snapshot_id"] == "s_cli_ig"));

    // Wrong filters and formats are refused before anything is written.
    let file = out.join("bad.parquet");
    for args in [&["--format", "xlsx"][..], &["--from", "yesterday"][..]] {
        let mut all = vec!["export-posts", "-o", file.to_str().unwrap()];
        all.extend(args);
        let ran = run_beside(&app, &[], &all).await;
        assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
        assert!(!file.exists());
    }
}
