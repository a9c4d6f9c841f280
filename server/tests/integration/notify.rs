//! The notify endpoint and the snapshot lifecycle it drives.

use serde_json::json;

use crate::helpers::{TestApp, json as read, spawn};

async fn status(app: &TestApp, snapshot: &str) -> String {
    use sea_orm::EntityTrait;
    server::store::entities::snapshots::Entity::find_by_id(snapshot.to_owned())
        .one(&app.state.db)
        .await
        .unwrap()
        .expect("snapshot stored")
        .status
}

async fn lifecycle(app: &TestApp) {
    let notify = |body: serde_json::Value| app.notify().json(&body);
    let (code, answer) = read(notify(json!({"snapshot_id": "s_life", "status": "running", "dataset_id": "gd_lk5ns7kz21pck8jpis"})).send().await.unwrap()).await;
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["snapshot_status"], "running");
    // `ready` means data available: it moves forward, never to "processing".
    let (_, answer) = read(
        notify(json!({"id": "s_life", "state": "ready"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["snapshot_status"], "ready");
    // A late `running` does not undo it.
    let (_, answer) = read(
        notify(json!({"request_id": "s_life", "status": "running"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["snapshot_status"], "ready");
    // The data arrives: delivered.
    let r = app
        .webhook()
        .header("snapshot-id", "s_life")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status(app, "s_life").await, "delivered");
    let (_, answer) = read(
        notify(json!({"snapshot_id": "s_life", "status": "done"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["snapshot_status"], "delivered");

    // Failed, with BrightData's error text, form-encoded.
    let r = app
        .notify()
        .header("content-type", "application/x-www-form-urlencoded")
        .body("snapshot_id=s_fail&status=failed&error=Quota+exceeded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(status(app, "s_fail").await, "failed");
    assert_eq!(
        app.number("SELECT count(*) FROM snapshots WHERE id = 's_fail' AND error = 'Quota exceeded' AND finished_ms IS NOT NULL").await,
        1
    );
    let (_, answer) = read(
        notify(json!({"snapshot_id": "s_cancel", "status": "cancelled"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer["snapshot_status"], "cancelled");

    // The dataset tells the platform.
    assert_eq!(
        app.number("SELECT count(*) FROM snapshots WHERE id = 's_life' AND platform = 'instagram' AND dataset_id = 'gd_lk5ns7kz21pck8jpis' AND ready_ms IS NOT NULL AND delivered_ms IS NOT NULL").await,
        1
    );
    assert_eq!(app.number("SELECT count(*) FROM notifications").await, 6);
}

#[tokio::test]
async fn a_snapshot_lifecycle() {
    let app = spawn().start().await;
    lifecycle(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn bad_notifications_get_clear_errors() {
    let app = spawn().start().await;
    for (body, status, code) in [
        (json!({"status": "ready"}), 400, "missing_snapshot_id"),
        (json!({"snapshot_id": "s_1"}), 400, "missing_status"),
        (
            json!({"snapshot_id": "s_1", "status": "exploded"}),
            422,
            "unknown_status",
        ),
        (
            json!({"snapshot_id": "s 1", "status": "ready"}),
            400,
            "invalid_snapshot_id",
        ),
        (json!(["s_1", "ready"]), 400, "invalid_json"),
    ] {
        let (got, answer) = read(app.notify().json(&body).send().await.unwrap()).await;
        assert_eq!(
            (got, answer["error"].as_str().unwrap()),
            (status, code),
            "{body}"
        );
    }
    let (got, _) = read(
        app.notify()
            .header("content-type", "application/json")
            .body("{oops")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got, 400);
    let big = vec![b' '; (1 << 20) + 10];
    let (got, answer) = read(
        app.notify()
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (got, answer["error"].as_str().unwrap()),
        (413, "payload_too_large")
    );
    assert_eq!(app.number("SELECT count(*) FROM snapshots").await, 0);
    let events = app.events(7).await;
    assert!(events.iter().all(|e| e.endpoint == "notify"));
    app.stop().await;
}

#[tokio::test]
async fn replayed_notifications_change_nothing() {
    let app = spawn().start().await;
    let send = || {
        app.notify()
            .header("webhook-id", "evt_1")
            .json(&json!({"snapshot_id": "s_r", "status": "running"}))
    };
    let (_, first) = read(send().send().await.unwrap()).await;
    assert_eq!(first["duplicate"], false);
    let (_, again) = read(send().send().await.unwrap()).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(app.number("SELECT count(*) FROM notifications").await, 1);
    app.stop().await;
}
