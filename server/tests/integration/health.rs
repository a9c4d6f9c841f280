use serde_json::Value;

use crate::helpers::{spawn, spawn_app};

#[tokio::test]
async fn health_reports_healthy_with_a_connected_database() {
    let app = spawn_app().await;
    for path in ["/api/health/", "/api/health"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["database"], "connected");
        assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    }
    app.stop().await;
}

#[tokio::test]
async fn health_is_503_unhealthy_when_the_database_does_not_answer() {
    let app = spawn_app().await;
    app.state.db.close_by_ref().await.unwrap();
    let response = app.get("/api/health/").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["database"], "unreachable");
    assert!(!body["reason"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404() {
    let app = spawn_app().await;
    let response = app.get("/api/nope").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    app.stop().await;
}

#[tokio::test]
async fn the_database_file_is_created_under_the_data_dir() {
    let app = spawn().sqlite().start().await;
    assert!(app.data_dir().join("track-futura.db").exists());
    app.stop().await;
}
