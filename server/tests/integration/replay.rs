//! Retries and duplicates: one delivery is stored once, however often and however concurrently it
//! arrives (BrightData retries when it does not get a 2xx within 30 s).

use crate::helpers::{PgDatabase, Shape, TestApp, json, sample, spawn};

async fn same_file_twice(app: &TestApp) {
    let send = || {
        app.webhook()
            .header("snapshot-id", "s_replay")
            .header("dca-filename", "s_replay_0.json.gz")
            .body(sample(Shape::InstagramDeadPages))
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
    let body = sample(Shape::TiktokWithError);
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

/// Distinct deliveries (other files) carrying the same posts at once, spread over `apps` (several
/// instances sharing one PostgreSQL): each post is new exactly once across all the answers.
async fn same_posts_in_concurrent_deliveries(apps: &[&TestApp]) {
    let body = sample(Shape::TiktokWithError);
    let mut tasks = Vec::new();
    for n in 0..16 {
        let request = apps[n % apps.len()]
            .webhook()
            .header("snapshot-id", "s_same_posts")
            .header("dca-filename", format!("part-{n}.json"))
            .body(body.clone());
        tasks.push(tokio::spawn(async move {
            json(request.send().await.unwrap()).await
        }));
    }
    let mut duplicates = 0;
    for task in tasks {
        let (status, answer) = task.await.unwrap();
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["duplicate"], false);
        assert_eq!(answer["records"], 4);
        duplicates += answer["duplicates"].as_i64().unwrap();
    }
    // 16 deliveries of the same 4 posts: 4 new, 60 repeats.
    assert_eq!(duplicates, 16 * 4 - 4);
    let app = apps[0];
    assert_eq!(
        app.number("SELECT count(*) FROM posts WHERE snapshot_id = 's_same_posts'")
            .await,
        4
    );
    assert_eq!(
        app.number("SELECT min(times_delivered) FROM posts WHERE snapshot_id = 's_same_posts'")
            .await,
        16
    );
    // The stored delivery rows say the same as the answers.
    assert_eq!(
        app.number("SELECT CAST(sum(duplicates) AS BIGINT) FROM deliveries WHERE snapshot_id = 's_same_posts'")
            .await,
        60
    );

    // One body with the same post twice: the second is a repeat of the first.
    let post = r#"{"url":"https://www.tiktok.com/@a/video/7000000000000000001","post_id":"7000000000000000001","description":"twice"}"#;
    let (status, answer) = json(
        app.webhook()
            .header("snapshot-id", "s_twice")
            .header("dca-filename", "twice.json")
            .body(format!("[{post},{post}]"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (answer["records"].as_i64(), answer["duplicates"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        app.number("SELECT times_delivered FROM posts WHERE post_id = '7000000000000000001'")
            .await,
        2
    );
}

#[tokio::test]
async fn the_same_posts_in_concurrent_deliveries_are_new_once() {
    let app = spawn().start().await;
    same_posts_in_concurrent_deliveries(&[&app]).await;
    app.stop().await;
}

#[tokio::test]
async fn the_same_posts_in_concurrent_deliveries_are_new_once_on_two_postgresql_instances() {
    let pg = PgDatabase::create().await;
    let a = spawn().database(&pg.url()).start().await;
    let b = spawn().database(&pg.url()).start().await;
    same_posts_in_concurrent_deliveries(&[&a, &b]).await;
    a.stop().await;
    b.stop().await;
    pg.drop_database().await;
}

#[tokio::test]
async fn replays_and_concurrent_duplicates() {
    let app = spawn().start().await;
    same_file_twice(&app).await;
    concurrent_duplicates(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn two_instances_on_one_postgresql_store_a_delivery_once() {
    let pg = PgDatabase::create().await;
    let a = spawn().database(&pg.url()).start().await;
    let b = spawn().database(&pg.url()).start().await;
    let body = sample(Shape::LinkedinPosts);
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
