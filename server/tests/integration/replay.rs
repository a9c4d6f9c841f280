//! Retries and duplicates: one delivery is stored once, however often and however concurrently it
//! arrives (BrightData retries when it does not get a 2xx within 30 s).

use crate::helpers::{PgDatabase, TestApp, fixture, json, spawn};

async fn same_file_twice(app: &TestApp) {
    let send = || {
        app.webhook()
            .header("snapshot-id", "s_replay")
            .header("dca-filename", "s_replay_0.json.gz")
            .body(fixture("bd_20250616_032051_0_instagram.json"))
    };
    let (_, first) = json(send().send().await.unwrap()).await;
    assert_eq!(first["duplicate"], false);
    let (status, again) = json(send().send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["delivery_id"], first["delivery_id"]);
    // Another file of the same snapshot is a new delivery.
    let (_, other) = json(
        app.webhook()
            .header("snapshot-id", "s_replay")
            .header("dca-filename", "s_replay_1.json.gz")
            .body("[]")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(other["duplicate"], false);
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 2);
    assert_eq!(app.number("SELECT count(*) FROM input_errors").await, 4);
}

async fn concurrent_duplicates(app: &TestApp) {
    let body = fixture("tiktok_posts_synthetic.json");
    let mut tasks = Vec::new();
    for _ in 0..24 {
        let request = app
            .webhook()
            .header("x-brightdata-id", "bd_delivery_42")
            .header("snapshot-id", "s_race")
            .body(body.clone());
        tasks.push(tokio::spawn(async move {
            json(request.send().await.unwrap()).await
        }));
    }
    let mut stored = 0;
    let mut duplicates = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        if answer["duplicate"] == true {
            duplicates += 1;
        } else {
            stored += 1;
        }
    }
    assert_eq!((stored, duplicates), (1, 23));
    assert_eq!(
        app.number("SELECT count(*) FROM deliveries WHERE snapshot_id = 's_race'")
            .await,
        1
    );
    assert_eq!(
        app.number("SELECT count(*) FROM posts WHERE platform = 'tiktok'")
            .await,
        4
    );
    assert_eq!(
        app.number("SELECT deliveries FROM snapshots WHERE id = 's_race'")
            .await,
        1
    );
}

#[tokio::test]
async fn replays_and_concurrent_duplicates_on_sqlite() {
    let app = spawn().start().await;
    same_file_twice(&app).await;
    concurrent_duplicates(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn replays_and_concurrent_duplicates_on_postgresql() {
    let pg = PgDatabase::create().await;
    let app = spawn().database(&pg.url()).start().await;
    same_file_twice(&app).await;
    concurrent_duplicates(&app).await;
    app.stop().await;
    pg.drop_database().await;
}

#[tokio::test]
async fn two_instances_on_one_postgresql_store_a_delivery_once() {
    let pg = PgDatabase::create().await;
    let a = spawn().database(&pg.url()).start().await;
    let b = spawn().database(&pg.url()).start().await;
    let body = fixture("linkedin_posts_sample.json");
    let mut tasks = Vec::new();
    for app in [&a, &b, &a, &b] {
        let request = app
            .webhook()
            .header("snapshot-id", "s_cluster")
            .header("dca-filename", "part-0.json")
            .body(body.clone());
        tasks.push(tokio::spawn(async move {
            json(request.send().await.unwrap()).await
        }));
    }
    let mut stored = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 200);
        stored += (answer["duplicate"] == false) as i32;
    }
    assert_eq!(stored, 1);
    assert_eq!(a.number("SELECT count(*) FROM deliveries").await, 1);
    assert_eq!(b.number("SELECT count(*) FROM posts").await, 3);
    a.stop().await;
    b.stop().await;
    pg.drop_database().await;
}
