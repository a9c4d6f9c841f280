//! Every snapshot proven complete, over HTTP, against a local fake of BrightData's API: counts that
//! match, a missing file (an alert, a redelivery that brings it, the alert resolved), a progress
//! answer without counts, a failed collection, and no API key at all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_TOKEN, Shape, TestApp, WEBHOOK_TOKEN, admin_get, json as read, sample, spawn, until,
};

const API: &str = "/api/brightdata/webhook";
const API_KEY: &str = "bd-api-key-complete-0123456789";

/// BrightData's progress and deliver calls: progress answers are set per snapshot by the test
/// (unknown snapshots get 404); every deliver call is kept.
/// A deliver call as the fake saw it: (snapshot id, query, body).
type DeliverCall = (String, HashMap<String, String>, Value);

#[derive(Default)]
struct FakeApi {
    progress: Mutex<HashMap<String, Value>>,
    asked: Mutex<Vec<String>>,
    delivers: Mutex<Vec<DeliverCall>>,
    /// When set, deliver calls are refused with this status.
    refuse_deliver: Mutex<Option<u16>>,
}

async fn fake_api() -> (String, Arc<FakeApi>) {
    let fake = Arc::new(FakeApi::default());
    fn authorised(headers: &HeaderMap) -> bool {
        headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {API_KEY}"))
    }
    async fn progress(
        State(fake): State<Arc<FakeApi>>,
        headers: HeaderMap,
        Path(id): Path<String>,
    ) -> (StatusCode, String) {
        if !authorised(&headers) {
            return (StatusCode::UNAUTHORIZED, "Unauthorized".into());
        }
        fake.asked.lock().unwrap().push(id.clone());
        match fake.progress.lock().unwrap().get(&id) {
            Some(answer) => (StatusCode::OK, answer.to_string()),
            None => (StatusCode::NOT_FOUND, "Snapshot does not exist".into()),
        }
    }
    async fn deliver(
        State(fake): State<Arc<FakeApi>>,
        headers: HeaderMap,
        Path(id): Path<String>,
        Query(query): Query<HashMap<String, String>>,
        body: String,
    ) -> (StatusCode, String) {
        if !authorised(&headers) {
            return (StatusCode::UNAUTHORIZED, "Unauthorized".into());
        }
        if let Some(status) = *fake.refuse_deliver.lock().unwrap() {
            return (
                StatusCode::from_u16(status).unwrap(),
                "Snapshot is expired".into(),
            );
        }
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        fake.delivers.lock().unwrap().push((id, query, body));
        (
            StatusCode::OK,
            json!({"delivery_id": "d_fake42"}).to_string(),
        )
    }
    let router = axum::Router::new()
        .route("/datasets/v3/progress/{id}", get(progress))
        .route("/datasets/v3/deliver/{id}", post(deliver))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, fake)
}

async fn start(api: Option<&str>) -> TestApp {
    let mut spawn = spawn()
        .var("BRIGHTDATA_BASE_URL", "https://hooks.example.org")
        .var("BRIGHTDATA_VERIFY_INTERVAL", "1")
        .var("BRIGHTDATA_VERIFY_SETTLE", "1")
        .var("WEBHOOK_ALERT_INTERVAL", "1");
    if let Some(api) = api {
        spawn = spawn
            .var("BRIGHTDATA_API_URL", api)
            .var("BRIGHTDATA_API_TOKEN", API_KEY);
    }
    spawn.start().await
}

/// Sends `shape` as file `n` of `snapshot`.
async fn deliver(app: &TestApp, snapshot: &str, n: usize, shape: Shape) {
    let answer = app
        .webhook()
        .header("snapshot-id", snapshot)
        .header("dca-filename", format!("{snapshot}_{n}.json"))
        .body(sample(shape))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

async fn notify_ready(app: &TestApp, snapshot: &str) {
    let answer = app
        .notify()
        .json(&json!({"snapshot_id": snapshot, "status": "ready"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

async fn redeliver(app: &TestApp, snapshot: &str) -> (u16, Value) {
    read(
        app.client
            .post(app.url(&format!("{API}/snapshots/{snapshot}/redeliver/")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The snapshot's completeness once it has a verdict other than `pending`.
async fn judged(app: &TestApp, snapshot: &str) -> Value {
    until(app, &format!("{API}/snapshots/{snapshot}/"), |b| {
        b["snapshot"]["completeness"]["verdict"] != "pending"
    })
    .await["snapshot"]["completeness"]
        .clone()
}

/// Records a shape's delivery file holds: its posts and its input errors.
fn records(shape: Shape) -> i64 {
    let body: Vec<Value> = serde_json::from_slice(&sample(shape)).unwrap();
    body.len() as i64
}

#[tokio::test]
async fn each_snapshot_is_judged_against_brightdatas_count_and_a_redelivery_completes_it() {
    let (api, fake) = fake_api().await;
    let app = start(Some(&api)).await;
    let (first, second) = (Shape::InstagramDeadPages, Shape::LinkedinPosts);
    let total = records(first) + records(second);
    {
        let mut progress = fake.progress.lock().unwrap();
        for id in ["s_whole", "s_short"] {
            progress.insert(
                id.into(),
                json!({"snapshot_id": id, "dataset_id": "gd_x", "status": "ready", "records": total, "errors": 4}),
            );
        }
        progress.insert(
            "s_nocount".into(),
            json!({"snapshot_id": "s_nocount", "status": "ready"}),
        );
        progress.insert(
            "s_failed".into(),
            json!({"snapshot_id": "s_failed", "status": "failed", "error_message": "too many inputs"}),
        );
    }

    // Both files: complete. One of two: incomplete by the second file's records.
    deliver(&app, "s_whole", 0, first).await;
    deliver(&app, "s_whole", 1, second).await;
    deliver(&app, "s_short", 0, first).await;
    deliver(&app, "s_nocount", 0, second).await;
    deliver(&app, "s_failed", 0, second).await;
    for id in ["s_whole", "s_short", "s_nocount", "s_failed"] {
        notify_ready(&app, id).await;
    }

    let whole = judged(&app, "s_whole").await;
    assert_eq!(whole["verdict"], "complete", "{whole}");
    assert_eq!(whole["expected_records"], total);
    assert_eq!(whole["expected_errors"], 4);
    assert_eq!(whole["received_records"], total);
    assert_eq!(whole["missing"], Value::Null);

    let short = judged(&app, "s_short").await;
    assert_eq!(short["verdict"], "incomplete", "{short}");
    assert_eq!(short["expected_records"], total);
    assert_eq!(short["received_records"], records(first));
    assert_eq!(short["missing"], records(second));
    assert!(
        short["note"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{} of {total} records missing", records(second))),
        "{short}"
    );

    let nocount = judged(&app, "s_nocount").await;
    assert_eq!(nocount["verdict"], "unverified");
    assert!(
        nocount["note"]
            .as_str()
            .unwrap()
            .contains("no record count"),
        "{nocount}"
    );
    let failed = judged(&app, "s_failed").await;
    assert_eq!(failed["verdict"], "unverified");
    assert!(
        failed["note"]
            .as_str()
            .unwrap()
            .contains("failed: too many inputs"),
        "{failed}"
    );

    // The list shows the verdicts too.
    let (_, list) = admin_get(&app, &format!("{API}/snapshots/")).await;
    let verdicts: HashMap<String, String> = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap().to_owned(),
                s["completeness"]["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(verdicts["s_whole"], "complete");
    assert_eq!(verdicts["s_short"], "incomplete");

    // One alert, for the incomplete snapshot only.
    let alerts = until(&app, &format!("{API}/alerts/"), |b| {
        b["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "snapshot_incomplete")
    })
    .await;
    let incomplete: Vec<&Value> = alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "snapshot_incomplete")
        .collect();
    assert_eq!(incomplete.len(), 1, "{alerts}");
    assert_eq!(incomplete[0]["subject"], "s_short");
    assert!(
        incomplete[0]["message"]
            .as_str()
            .unwrap()
            .contains("records missing"),
        "{alerts}"
    );

    // BrightData refusing a redelivery is a 502 with its answer; nothing is recorded.
    *fake.refuse_deliver.lock().unwrap() = Some(400);
    let (status, body) = redeliver(&app, "s_short").await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"], "upstream_failed", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Snapshot is expired"),
        "{body}"
    );
    *fake.refuse_deliver.lock().unwrap() = None;

    // The redelivery: to this service's data URL, with its webhook token and notify URL.
    let (status, asked) = redeliver(&app, "s_short").await;
    assert_eq!(status, 200, "{asked}");
    assert_eq!(asked["delivery_id"], "d_fake42");
    let delivers = fake.delivers.lock().unwrap().clone();
    assert_eq!(delivers.len(), 1);
    let (id, query, body) = &delivers[0];
    assert_eq!(id, "s_short");
    assert_eq!(
        query["notify"],
        "https://hooks.example.org/api/brightdata/notify/"
    );
    assert_eq!(body["deliver"]["type"], "webhook");
    assert_eq!(
        body["deliver"]["endpoint"],
        "https://hooks.example.org/api/brightdata/webhook/"
    );
    assert_eq!(
        body["deliver"]["auth_header"],
        format!("Bearer {WEBHOOK_TOKEN}")
    );
    let (_, detail) = admin_get(&app, &format!("{API}/snapshots/s_short/")).await;
    assert!(
        detail["snapshot"]["completeness"]["redelivery_ms"]
            .as_i64()
            .is_some()
    );
    assert_eq!(detail["can_redeliver"], true);

    // BrightData delivers both files again: the first is a repeat, the second was missing.
    deliver(&app, "s_short", 0, first).await;
    deliver(&app, "s_short", 1, second).await;
    let reconciled = until(&app, &format!("{API}/snapshots/s_short/"), |b| {
        b["snapshot"]["completeness"]["verdict"] == "complete"
    })
    .await;
    assert_eq!(
        reconciled["snapshot"]["completeness"]["received_records"],
        total
    );
    until(&app, &format!("{API}/alerts/?status=all"), |b| {
        b["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["rule"] == "snapshot_incomplete" && a["status"] == "resolved")
    })
    .await;
    // Posts were not stored twice (every snapshot here carries the same generated posts).
    let (_, posts) = admin_get(&app, &format!("{API}/posts/?limit=500")).await;
    let stored = posts["posts"].as_array().unwrap().len();
    assert_eq!(stored, first.posts() + second.posts());

    // BrightData is asked once per snapshot: a complete or incomplete verdict keeps its count.
    let asked = fake.asked.lock().unwrap().clone();
    for id in ["s_whole", "s_short"] {
        assert_eq!(asked.iter().filter(|a| *a == id).count(), 1, "{asked:?}");
    }

    // A snapshot not ready yet cannot be redelivered; an unknown one is a 404.
    deliver(&app, "s_running", 0, second).await;
    let (status, body) = redeliver(&app, "s_running").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "not_ready");
    let (status, _) = redeliver(&app, "s_unknown").await;
    assert_eq!(status, 404);
    let (_, running) = admin_get(&app, &format!("{API}/snapshots/s_running/")).await;
    assert_eq!(running["snapshot"]["completeness"]["verdict"], "pending");
    assert!(
        running["snapshot"]["completeness"]["note"]
            .as_str()
            .unwrap()
            .contains("once BrightData says the snapshot is ready")
    );
}

#[tokio::test]
async fn without_an_api_key_snapshots_are_unverified_and_say_why() {
    let app = start(None).await;
    deliver(&app, "s_nokey", 0, Shape::LinkedinPosts).await;
    notify_ready(&app, "s_nokey").await;
    let verdict = judged(&app, "s_nokey").await;
    assert_eq!(verdict["verdict"], "unverified");
    assert!(
        verdict["note"]
            .as_str()
            .unwrap()
            .contains("BRIGHTDATA_API_TOKEN is not set"),
        "{verdict}"
    );
    assert_eq!(verdict["received_records"], records(Shape::LinkedinPosts));

    let (_, detail) = admin_get(&app, &format!("{API}/snapshots/s_nokey/")).await;
    assert_eq!(detail["can_redeliver"], false);
    let (status, body) = redeliver(&app, "s_nokey").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "no_api_key");

    // Everything else works: the posts are there, and no alert is raised for it.
    let (_, posts) = admin_get(&app, &format!("{API}/posts/?snapshot=s_nokey")).await;
    assert_eq!(
        posts["posts"].as_array().unwrap().len(),
        Shape::LinkedinPosts.posts()
    );
    let (_, alerts) = admin_get(&app, &format!("{API}/alerts/?status=all")).await;
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["rule"] != "snapshot_incomplete"),
        "{alerts}"
    );
}
