//! Scraper drift over HTTP, with generated Instagram snapshots: normal ones build the baseline, then
//! a field that went empty, a type change and a renamed field are each found and alerted on; a later
//! normal snapshot resolves the alert; a small snapshot is not judged; nothing is flagged while the
//! baseline is short; a drifted shape accepted as the new normal resolves its alerts.

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, TestApp, admin_get, json as read, spawn, until};
use delivery::samples::instagram_snapshot;

const API: &str = "/api/brightdata/webhook";
/// Posts per generated snapshot (enough to judge: the default minimum is 20).
const POSTS: usize = 24;

async fn start() -> TestApp {
    spawn()
        .var("BRIGHTDATA_VERIFY_INTERVAL", "1")
        .var("BRIGHTDATA_VERIFY_SETTLE", "1")
        .var("WEBHOOK_ALERT_INTERVAL", "1")
        .start()
        .await
}

/// `POSTS` normal Instagram posts of snapshot number `n`, changed by `edit`.
fn records(n: u64, posts: usize, edit: impl Fn(&mut serde_json::Map<String, Value>)) -> Vec<Value> {
    let mut records = instagram_snapshot(n, posts);
    for record in &mut records {
        edit(record.as_object_mut().unwrap());
    }
    records
}

fn normal(_: &mut serde_json::Map<String, Value>) {}

/// Sends `records` as snapshot `id`'s one file, then BrightData's `ready`; `chunked` sends the body
/// without a length (stored first, its posts extracted in the background).
async fn snapshot(app: &TestApp, id: &str, records: &[Value], chunked: bool) {
    let body = serde_json::to_vec(records).unwrap();
    let request = app
        .webhook()
        .header("snapshot-id", id)
        .header("dca-filename", format!("{id}_0.json"));
    let request = if chunked {
        let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
            body.chunks(4096).map(|c| Ok(c.to_vec())).collect();
        request.body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
    } else {
        request.body(body)
    };
    let answer = request.send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    let notified = app
        .notify()
        .json(&json!({"snapshot_id": id, "status": "ready"}))
        .send()
        .await
        .unwrap();
    assert_eq!(notified.status(), 200);
}

/// The snapshot's detail once its fields are judged.
async fn judged(app: &TestApp, id: &str) -> Value {
    until(app, &format!("{API}/snapshots/{id}/"), |b| {
        b["snapshot"]["drift"]["verdict"] != "pending"
    })
    .await
}

/// The active `scraper_drift` alerts, by subject.
async fn drift_alerts(app: &TestApp) -> Vec<Value> {
    let (_, alerts) = admin_get(app, &format!("{API}/alerts/?status=active")).await;
    alerts["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["rule"] == "scraper_drift")
        .cloned()
        .collect()
}

/// Waits until the active `scraper_drift` alerts are exactly `subjects` (sorted).
async fn alerts_become(app: &TestApp, subjects: &[&str]) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let alerts = drift_alerts(app).await;
        let mut now: Vec<&str> = alerts
            .iter()
            .map(|a| a["subject"].as_str().unwrap())
            .collect();
        now.sort_unstable();
        if now == subjects {
            return alerts;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "active drift alerts {now:?}, expected {subjects:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The row of `field` in the snapshot's (only) platform table.
fn field<'a>(detail: &'a Value, name: &str) -> &'a Value {
    let platforms = detail["coverage"].as_array().unwrap();
    assert_eq!(platforms.len(), 1, "{detail}");
    platforms[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == name)
        .unwrap_or_else(|| panic!("no {name} in {detail}"))
}

fn changes(detail: &Value) -> Vec<(String, String)> {
    detail["coverage"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| !f["change"].is_null())
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_owned(),
                f["change"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn accept(app: &TestApp, id: &str) -> (u16, Value) {
    read(
        app.client
            .post(app.url(&format!("{API}/snapshots/{id}/fields/accept/")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_field_gone_empty_a_type_change_and_a_rename_are_found_and_resolved() {
    let app = start().await;
    let no_likes = |r: &mut serde_json::Map<String, Value>| {
        r.insert("likes".into(), Value::Null);
    };

    // Seven snapshots at once, judged oldest first. The third has no likes, but the baseline is
    // still short (learning): nothing is flagged, and as one odd snapshot it does not move the
    // median. The seventh has no likes against five earlier snapshots: drift.
    for n in 1..=7u64 {
        let edit: &dyn Fn(&mut serde_json::Map<String, Value>) =
            if n == 3 || n == 7 { &no_likes } else { &normal };
        snapshot(&app, &format!("s_a{n}"), &records(n, POSTS, edit), false).await;
    }
    let broken = judged(&app, "s_a7").await;
    for n in 1..=6 {
        let detail = judged(&app, &format!("s_a{n}")).await;
        let verdict = &detail["snapshot"]["drift"]["verdict"];
        let expected = if n <= 5 { "learning" } else { "normal" };
        assert_eq!(verdict, expected, "s_a{n}: {}", detail["coverage"]);
        assert!(
            changes(&detail).is_empty(),
            "s_a{n}: {}",
            detail["coverage"]
        );
    }
    assert_eq!(broken["snapshot"]["drift"]["verdict"], "drift");
    assert_eq!(
        broken["snapshot"]["drift"]["fields"],
        json!(["instagram:likes"])
    );
    assert_eq!(changes(&broken), [("likes".into(), "emptied".into())]);
    let likes = field(&broken, "likes");
    assert_eq!(likes["coverage"], 0.0);
    assert_eq!(likes["baseline"], 0.75, "every fourth post hides its likes");
    assert_eq!(likes["baseline_kind"], "number");
    assert_eq!(likes["key"], true);
    assert_eq!(broken["coverage"][0]["baseline_snapshots"], 5);
    assert_eq!(broken["coverage"][0]["records"], POSTS);
    // Other fields are there, as usual.
    let user = field(&broken, "user_posted");
    assert_eq!(
        (user["coverage"].as_f64(), user["kind"].as_str()),
        (Some(1.0), Some("string"))
    );
    assert!(user["change"].is_null());

    let alerts = alerts_become(&app, &["instagram:likes"]).await;
    let message = alerts[0]["message"].as_str().unwrap();
    assert!(
        message.contains("s_a7") && message.contains("likes"),
        "{message}"
    );

    // The list and the coverage history say it too.
    let (_, list) = admin_get(&app, &format!("{API}/snapshots/")).await;
    let row = list["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "s_a7")
        .unwrap();
    assert_eq!(row["drift"]["verdict"], "drift");
    let (status, history) = admin_get(&app, &format!("{API}/snapshots/coverage/")).await;
    assert_eq!(status, 200, "{history}");
    assert_eq!(history[0]["platform"], "instagram");
    let fields: Vec<&str> = history[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let at = fields.iter().position(|f| *f == "likes").unwrap();
    let points = history[0]["snapshots"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    assert_eq!(points[6]["snapshot_id"], "s_a7", "oldest first");
    assert_eq!(points[6]["verdict"], "drift");
    assert_eq!(points[6]["coverage"][at], 0.0);
    assert_eq!(points[5]["coverage"][at], 0.75);

    // A later normal snapshot resolves the alert.
    snapshot(&app, "s_b", &records(8, POSTS, normal), false).await;
    assert_eq!(
        judged(&app, "s_b").await["snapshot"]["drift"]["verdict"],
        "normal"
    );
    alerts_become(&app, &[]).await;

    // Five records are too few to judge, however empty.
    snapshot(&app, "s_c", &records(9, 5, no_likes), false).await;
    let small = judged(&app, "s_c").await;
    assert_eq!(small["snapshot"]["drift"]["verdict"], "not_judged");
    assert!(changes(&small).is_empty());
    assert!(
        small["coverage"][0]["note"]
            .as_str()
            .unwrap()
            .contains("too few"),
        "{}",
        small["coverage"]
    );

    // `likes` as text: a type change.
    let as_text = |r: &mut serde_json::Map<String, Value>| {
        if let Some(likes) = r.get("likes").cloned() {
            r.insert("likes".into(), Value::String(likes.to_string()));
        }
    };
    snapshot(&app, "s_d", &records(10, POSTS, as_text), false).await;
    let typed = judged(&app, "s_d").await;
    assert_eq!(changes(&typed), [("likes".into(), "type_changed".into())]);
    assert_eq!(field(&typed, "likes")["kind"], "string");
    alerts_become(&app, &["instagram:likes"]).await;

    // `date_posted` renamed `posted_at`, sent without a length (extracted in the background): one
    // field vanished, one new. The type change's alert resolves: likes are numbers again here.
    let renamed = |r: &mut serde_json::Map<String, Value>| {
        let at = r.remove("date_posted").unwrap();
        r.insert("posted_at".into(), at);
    };
    snapshot(&app, "s_e", &records(11, POSTS, renamed), true).await;
    let detail = judged(&app, "s_e").await;
    let mut found = changes(&detail);
    found.sort();
    assert_eq!(
        found,
        [
            ("date_posted".into(), "vanished".into()),
            ("posted_at".into(), "new".into())
        ]
    );
    alerts_become(&app, &["instagram:date_posted", "instagram:posted_at"]).await;

    // The platform changed for good: accepting the shape resolves its alerts, and the next
    // snapshot learns again from it.
    let (status, body) = accept(&app, "s_e").await;
    assert_eq!(
        (status, body["verdict"].as_str()),
        (200, Some("accepted")),
        "{body}"
    );
    alerts_become(&app, &[]).await;
    let (status, body) = accept(&app, "s_e").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("not_drifted")),
        "{body}"
    );
    let (status, _) = accept(&app, "s_nowhere").await;
    assert_eq!(status, 404);
    snapshot(&app, "s_f", &records(12, POSTS, renamed), false).await;
    let after = judged(&app, "s_f").await;
    assert_eq!(after["snapshot"]["drift"]["verdict"], "learning");
    assert_eq!(after["coverage"][0]["baseline_snapshots"], 1);
    assert!(changes(&after).is_empty());
}

#[tokio::test]
async fn drift_can_be_turned_off() {
    let app = spawn()
        .var("SCRAPER_DRIFT", "off")
        .var("BRIGHTDATA_VERIFY_INTERVAL", "1")
        .var("BRIGHTDATA_VERIFY_SETTLE", "1")
        .start()
        .await;
    snapshot(&app, "s_off", &records(1, POSTS, normal), false).await;
    // The completeness check runs on the same schedule: once it has judged, drift would have too.
    until(&app, &format!("{API}/snapshots/s_off/"), |b| {
        b["snapshot"]["completeness"]["verdict"] != "pending"
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, detail) = admin_get(&app, &format!("{API}/snapshots/s_off/")).await;
    assert_eq!(detail["snapshot"]["drift"]["verdict"], "pending");
    assert_eq!(detail["coverage"], json!([]));
}
