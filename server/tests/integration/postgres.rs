//! The same migration and health checks against a throw-away PostgreSQL database.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::helpers::{PgDatabase, spawn};

#[tokio::test]
async fn migrations_and_health_on_postgresql() {
    let pg = PgDatabase::create().await;
    let app = spawn().database(&pg.url()).start().await;

    let response = app.get("/api/health/").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["database"], "connected");

    let backend = app.state.db.get_database_backend();
    let row = app
        .state
        .db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'events'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 1);
    assert!(!app.data_dir().join("track-futura.db").exists());

    app.stop().await;
    // A restart on the migrated database applies nothing twice.
    let again = spawn().database(&pg.url()).start().await;
    assert_eq!(again.get("/api/health/").await.status(), 200);
    again.stop().await;
    pg.drop_database().await;
}

#[tokio::test]
async fn postgresql_over_tls_when_the_url_requires_it() {
    // Managed PostgreSQL (Heroku's) refuses connections without TLS; the local server offers it.
    let pg = PgDatabase::create().await;
    let app = spawn()
        .database(&format!("{}?sslmode=require", pg.url()))
        .start()
        .await;
    assert_eq!(app.get("/api/health/").await.status(), 200);
    let answer = app
        .webhook()
        .body(crate::helpers::sample(crate::helpers::Shape::LinkedinPosts))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    // Every connection of this database, the writer's and the live feed's included, is
    // encrypted. Read until both counts agree: a connection still opening in the background (the
    // live feed's) is listed before its handshake is done.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let encrypted = app
            .number(&format!(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.datname = '{}' AND s.ssl",
                pg.name
            ))
            .await;
        let all = app
            .number(&format!(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}'",
                pg.name
            ))
            .await;
        if all >= 3 && encrypted == all {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{encrypted} of {all} connections use TLS"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    app.stop().await;
    pg.drop_database().await;
}
