//! Storage that does not grow without bound: raw bodies dropped after `WEBHOOK_BODY_RETENTION`
//! while the posts stay, and `GET storage/` saying what each kind of data takes.

use crate::helpers::{ADMIN_TOKEN, Shape, Spawn, TestApp, admin_get, json as read, sample, spawn};

const API: &str = "/api/brightdata/webhook";

async fn deliver(app: &TestApp, snapshot: &str, shape: Shape) {
    let answer = app
        .webhook()
        .header("snapshot-id", snapshot)
        .body(sample(shape))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test]
async fn raw_bodies_go_after_their_retention_and_the_posts_stay() {
    retention_case(spawn()).await.stop().await;
}

#[tokio::test]
async fn bodies_are_kept_by_default_and_storage_says_what_takes_the_room() {
    storage_case(spawn()).await.stop().await;
}

async fn retention_case(spawn: Spawn) -> TestApp {
    let app = spawn
        .var("WEBHOOK_BODY_RETENTION", "1")
        .var("WEBHOOK_RETENTION_INTERVAL", "1")
        .start()
        .await;
    deliver(&app, "s_retained", Shape::InstagramFull).await;
    app.settle().await;
    // The body goes once it is a second old; the delivery's row and its posts stay.
    app.eventually("SELECT COUNT(*) FROM delivery_chunks", 0)
        .await;
    app.eventually("SELECT COUNT(*) FROM deliveries WHERE body_kept", 0)
        .await;
    assert_eq!(app.number("SELECT COUNT(*) FROM deliveries").await, 1);
    assert_eq!(
        app.number("SELECT COUNT(*) FROM posts").await,
        Shape::InstagramFull.posts() as i64
    );
    // A replay then says why it cannot be done.
    let event = app
        .number("SELECT MIN(id) FROM events WHERE delivery_id IS NOT NULL")
        .await;
    let (status, body) = read(
        app.client
            .post(app.url(&format!("{API}/events/{event}/replay/")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("body_not_kept")),
        "{body}"
    );
    app
}

async fn storage_case(spawn: Spawn) -> TestApp {
    let app = spawn.var("WEBHOOK_RETENTION_INTERVAL", "1").start().await;
    deliver(&app, "s_storage", Shape::InstagramFull).await;
    deliver(&app, "s_storage", Shape::LinkedinPosts).await;
    app.settle().await;
    // Retention runs, and 30 days is far away: the bodies stay.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(
        app.number("SELECT COUNT(*) FROM deliveries WHERE body_kept")
            .await,
        2
    );

    let (status, storage) = admin_get(&app, &format!("{API}/storage/")).await;
    assert_eq!(status, 200, "{storage}");
    assert_eq!(storage["events_24h"], 2);
    assert_eq!(storage["deliveries_24h"], 2);
    assert_eq!(
        storage["posts_24h"],
        (Shape::InstagramFull.posts() + Shape::LinkedinPosts.posts()) as i64
    );
    let wire = app
        .number("SELECT CAST(SUM(wire_bytes) AS BIGINT) FROM deliveries")
        .await;
    assert_eq!(storage["body_bytes_24h"], wire);
    assert_eq!(storage["body_retention_s"], 30 * 24 * 3600);
    let tables = storage["tables"].as_array().unwrap();
    let size = |name: &str| {
        tables
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {storage}"))["bytes"]
            .as_i64()
            .unwrap()
    };
    for table in ["posts", "events", "deliveries", "delivery_chunks"] {
        assert!(size(table) > 0, "{table}");
    }
    let total: i64 = tables.iter().map(|t| t["bytes"].as_i64().unwrap()).sum();
    assert_eq!(storage["total_bytes"], total);
    let sizes: Vec<i64> = tables
        .iter()
        .map(|t| t["bytes"].as_i64().unwrap())
        .collect();
    assert!(
        sizes.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {sizes:?}"
    );
    assert!(
        tables
            .iter()
            .find(|t| t["name"] == "delivery_chunks")
            .unwrap()["holds"]
            .as_str()
            .unwrap()
            .contains("raw delivery bodies")
    );
    // The setting is shown with the others.
    let (_, config) = admin_get(&app, &format!("{API}/config/")).await;
    assert!(
        config.to_string().contains("WEBHOOK_BODY_RETENTION"),
        "{config}"
    );
    app
}
