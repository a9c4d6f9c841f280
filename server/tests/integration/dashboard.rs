use crate::helpers::{ADMIN_TOKEN, Shape, sample, spawn_app};

#[tokio::test]
async fn root_redirects_to_the_dashboard() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/webhook-monitor");
    app.stop().await;
}

#[tokio::test]
async fn anonymous_visitors_get_the_login_form_with_the_hydration_scripts() {
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
    assert!(html.contains(r#"data-testid="login""#), "{html}");
    assert!(!html.contains(r#"data-testid="cards""#));
    // Rendered offline by the server; only the hydrated app opens the live link.
    assert!(html.contains(r#"data-state="offline""#));
    assert!(html.contains("/pkg/track-futura.js"));
    assert!(html.contains("/pkg/track-futura.css"));
    app.stop().await;
}

/// The first paint carries real numbers and the charts: the server waits for the overview. Before
/// any delivery it says what to do: the endpoints to give BrightData.
#[tokio::test]
async fn the_admin_gets_the_overview_rendered_with_real_numbers() {
    let app = spawn_app().await;
    let page = |window: &'static str| {
        app.client
            .get(app.url(&format!("/webhook-monitor?window={window}")))
            .bearer_auth(ADMIN_TOKEN)
            .send()
    };
    let empty = page("1h").await.unwrap().text().await.unwrap();
    assert!(empty.contains(r#"data-testid="empty-state""#), "{empty}");
    assert!(empty.contains("No deliveries yet"));
    assert!(
        empty.contains("/api/brightdata/webhook/") && empty.contains("/api/brightdata/notify/")
    );
    let r = app
        .webhook()
        .header("snapshot-id", "s_page")
        .body(sample(Shape::TiktokWithError))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.settle().await;
    let answer = page("24h").await.unwrap();
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let html = answer.text().await.unwrap();
    let value = |id: &str| {
        let marker = format!(r#"data-testid="card-{id}-value""#);
        let at = html
            .find(&marker)
            .unwrap_or_else(|| panic!("{id} in {html}"));
        let rest = &html[at..];
        rest[rest.find('>').unwrap() + 1..]
            .split('<')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(value("requests"), "1");
    assert_eq!(value("records"), "4");
    assert_eq!(value("error-rate"), "0.0%");
    assert_eq!(html.matches("<svg").count(), 4, "four charts");
    assert!(html.contains("tiktok"), "records per platform");
    assert!(!html.contains(r#"data-testid="login""#));
    assert!(!html.contains(r#"data-testid="empty-state""#));
    app.stop().await;
}

/// The server functions check the admin credential exactly like the REST monitor API.
#[tokio::test]
async fn the_dashboard_functions_refuse_anonymous_use_and_log_in_with_the_admin_token() {
    let app = spawn_app().await;
    let overview = |cookie: Option<String>| {
        let mut request = app.client.get(app.url("/dashboard/api/overview?window=1h"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    assert_eq!(overview(None).await.unwrap().status(), 401);

    let login = |token: &'static str| {
        app.client
            .post(app.url("/dashboard/api/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    let refused = login("wrong").await.unwrap();
    assert_eq!(refused.status(), 401);
    assert!(refused.headers().get("set-cookie").is_none());
    let accepted = login(ADMIN_TOKEN).await.unwrap();
    assert_eq!(accepted.status(), 200);
    let cookie = accepted.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("tf_session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();

    let answer = overview(Some(session.clone())).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(body["window"], "1h");
    assert_eq!(body["metrics"]["requests"], 0);
    assert_eq!(body["health"]["status"], "healthy", "{body}");

    // Only the selector's windows.
    let bad = app
        .client
        .get(app.url("/dashboard/api/overview?window=13m"))
        .header("cookie", session)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    // A forged cookie is no session.
    let forged = overview(Some("tf_session=v1.99999999999999.x.y".into()))
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn unknown_pages_are_404() {
    let app = spawn_app().await;
    let response = app.get("/no-such-page").await;
    assert_eq!(response.status(), 404);
    app.stop().await;
}
