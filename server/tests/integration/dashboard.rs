use crate::helpers::spawn_app;

#[tokio::test]
async fn root_redirects_to_the_dashboard() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/webhook-monitor");
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_server_rendered_with_its_hydration_scripts() {
    let app = spawn_app().await;
    let response = app.get("/webhook-monitor").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("Track-Futura Webhook Monitor"));
    assert!(html.contains("No deliveries yet"));
    assert!(html.contains("/api/brightdata/webhook/"));
    // Rendered offline by the server; only the hydrated app switches it to live.
    assert!(html.contains(r#"data-hydrated="false""#));
    assert!(html.contains("/pkg/track-futura.js"));
    assert!(html.contains("/pkg/track-futura.css"));
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = spawn_app().await;
    let response = app.get("/no-such-page").await;
    assert_eq!(response.status(), 404);
    app.stop().await;
}
