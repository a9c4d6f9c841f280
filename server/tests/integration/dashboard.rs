use crate::helpers::{ADMIN_TOKEN, Shape, sample, session_cookie, spawn_app};

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

/// An answer of the dashboard as the REST API writes it: an event's headers, which the dashboard
/// lists as `{name, values}`, are an object of name to value there (a list for a repeated header).
fn rest_shaped(mut answer: serde_json::Value) -> serde_json::Value {
    if let Some(headers) = answer.get("headers").and_then(|h| h.as_array()).cloned() {
        let object: serde_json::Map<String, serde_json::Value> = headers
            .into_iter()
            .map(|header| {
                let values = header["values"].as_array().unwrap().clone();
                let value = match values.as_slice() {
                    [one] => one.clone(),
                    _ => serde_json::Value::Array(values),
                };
                (header["name"].as_str().unwrap().to_owned(), value)
            })
            .collect();
        answer["headers"] = object.into();
    }
    answer
}

/// Each section's server function answers what the REST monitor API answers for the same
/// question: one implementation behind both doors (the shape of an event's headers aside).
#[tokio::test]
async fn every_section_reads_what_the_monitor_api_reads() {
    let app = spawn_app().await;
    for (snapshot, shape) in [
        ("s_sections_a", Shape::InstagramDeadPages),
        ("s_sections_b", Shape::LinkedinPosts),
    ] {
        let r = app
            .webhook()
            .header("snapshot-id", snapshot)
            .header("dca-filename", format!("{snapshot}_0.json"))
            .body(sample(shape))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let refused = app
        .client
        .post(app.url("/api/brightdata/webhook/"))
        .bearer_auth("not-the-token")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    app.settle().await;
    let event_id = app
        .number("SELECT max(id) FROM events WHERE outcome = 'accepted'")
        .await;
    let session = session_cookie(&app).await;
    let dashboard = |path: String| {
        let request = app
            .client
            .get(app.url(&format!("/dashboard/api/{path}")))
            .header("cookie", session.clone());
        async move {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            assert_eq!(answer.headers()["cache-control"], "no-store", "{path}");
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let rest = |path: String| {
        let request = app
            .client
            .get(app.url(&format!("/api/brightdata/webhook/{path}")))
            .bearer_auth(ADMIN_TOKEN);
        async move {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            answer.json::<serde_json::Value>().await.unwrap()
        }
    };
    let pairs = [
        ("events?".to_owned(), "events/".to_owned()),
        (
            "events?filter[outcome]=rejected_auth".to_owned(),
            "events/?outcome=rejected_auth".to_owned(),
        ),
        (
            "events?filter[snapshot]=s_sections_b&filter[outcome]=".to_owned(),
            "events/?snapshot=s_sections_b".to_owned(),
        ),
        (
            format!("event?id={event_id}"),
            format!("events/{event_id}/"),
        ),
        ("snapshots?".to_owned(), "snapshots/".to_owned()),
        (
            "snapshot?id=s_sections_a".to_owned(),
            "snapshots/s_sections_a/".to_owned(),
        ),
        (
            "alerts?filter[status]=all".to_owned(),
            "alerts/?status=all".to_owned(),
        ),
        ("setup".to_owned(), "config/".to_owned()),
    ];
    for (function, path) in pairs {
        assert_eq!(
            rest_shaped(dashboard(function.clone()).await),
            rest(path).await,
            "{function}"
        );
    }
    let refusals = dashboard("events?filter[outcome]=rejected_auth".into()).await;
    assert_eq!(refusals["events"].as_array().unwrap().len(), 1);
    let detail = dashboard(format!("event?id={event_id}")).await;
    assert_eq!(detail["delivery"]["records"], 3, "{detail}");
    assert_eq!(detail["posts"].as_array().unwrap().len(), 3);
    assert!(
        detail["headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"name": "authorization", "values": ["[redacted]"]})),
        "{detail}"
    );
    assert!(
        detail["body"]["text"]
            .as_str()
            .unwrap()
            .contains("linkedin.com")
    );
    let snapshot = dashboard("snapshot?id=s_sections_a".into()).await;
    assert_eq!(snapshot["snapshot"]["status"], "delivered");
    assert_eq!(snapshot["input_errors"].as_array().unwrap().len(), 4);
    assert_eq!(snapshot["stored_posts"], 6);
    // Without BRIGHTDATA_BASE_URL the URLs are this request's host, flagged unreachable; the
    // token is never in them.
    let setup = dashboard("setup".into()).await;
    assert_eq!(
        setup["data_url"],
        format!("{}/api/brightdata/webhook/", app.address)
    );
    assert_eq!(setup["reachable"], false);
    assert_eq!(setup["auth_header"], "Bearer <webhook token>");
    assert!(!setup.to_string().contains(crate::helpers::WEBHOOK_TOKEN));
    assert!(!setup.to_string().contains(ADMIN_TOKEN));
    // Unknown things are 404, bad filters 400, as in the API.
    let missing = app
        .client
        .get(app.url("/dashboard/api/snapshot?id=s_nope"))
        .header("cookie", session.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let bad = app
        .client
        .get(app.url("/dashboard/api/events?filter[outcome]=nonsense"))
        .header("cookie", session.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    app.stop().await;
}

/// Anonymous callers get nothing from any section; writes with the session cookie need the CSRF
/// header (the dashboard's client sends it), exactly as the REST API's writes do.
#[tokio::test]
async fn section_functions_refuse_anonymous_use_and_writes_keep_the_csrf_rule() {
    let app = spawn_app().await;
    let r = app
        .webhook()
        .header("snapshot-id", "s_writes")
        .body(sample(Shape::InstagramFull))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.settle().await;
    let event_id = app.number("SELECT max(id) FROM events").await;
    for path in [
        "status".to_owned(),
        "events?".to_owned(),
        format!("event?id={event_id}"),
        "snapshots?".to_owned(),
        "snapshot?id=s_writes".to_owned(),
        "alerts?".to_owned(),
        "setup".to_owned(),
    ] {
        let anonymous = app.get(&format!("/dashboard/api/{path}")).await.status();
        assert_eq!(anonymous, 401, "{path}");
        let webhook_token = app
            .client
            .get(app.url(&format!("/dashboard/api/{path}")))
            .bearer_auth(crate::helpers::WEBHOOK_TOKEN)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(webhook_token, 401, "{path}: not the admin token");
    }
    let session = session_cookie(&app).await;
    let write = |function: &str, body: String, cookie: Option<&str>, csrf: bool| {
        let mut request = app
            .client
            .post(app.url(&format!("/dashboard/api/{function}")))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie.to_owned());
        }
        if csrf {
            request = request.header("x-requested-with", "track-futura");
        }
        request.send()
    };
    let replay = format!("id={event_id}");
    for (function, body) in [
        ("replay", replay.clone()),
        ("acknowledge", "id=1&by=me".to_owned()),
        ("self_test", String::new()),
    ] {
        let anonymous = write(function, body.clone(), None, true).await.unwrap();
        assert_eq!(anonymous.status(), 401, "{function}");
        let forged = write(function, body.clone(), Some(&session), false)
            .await
            .unwrap();
        assert_eq!(
            forged.status(),
            403,
            "{function}: the cookie alone is no proof"
        );
    }
    let replayed = write("replay", replay, Some(&session), true).await.unwrap();
    assert_eq!(replayed.status(), 200);
    let replayed: serde_json::Value = replayed.json().await.unwrap();
    assert_eq!(replayed["status"], "queued");
    let report = write("self_test", String::new(), Some(&session), true)
        .await
        .unwrap();
    assert_eq!(report.status(), 200);
    let report: serde_json::Value = report.json().await.unwrap();
    assert_eq!(report["passed"], true, "{report}");
    assert!(report["checks"].as_array().unwrap().len() >= 8);
    let no_alert = write("acknowledge", "id=999&by=me".into(), Some(&session), true)
        .await
        .unwrap();
    assert_eq!(no_alert.status(), 404);
    app.stop().await;
}

/// Every section is a page of its own, rendered by the server with its data (the first paint is
/// complete without a script); attacker-controlled text in a stored body stays text.
#[tokio::test]
async fn each_section_is_rendered_on_the_server_with_its_data() {
    let app = spawn_app().await;
    let hostile = br#"[{"url":"https://www.instagram.com/p/XSS1/","post_id":"XSS1","description":"<script>alert(1)</script><img src=x onerror=alert(2)>"}]"#;
    let r = app
        .webhook()
        .header("snapshot-id", "s_render")
        .body(&hostile[..])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.settle().await;
    let event_id = app.number("SELECT max(id) FROM events").await;
    let page = |path: String| {
        let request = app
            .client
            .get(app.url(&format!("/webhook-monitor{path}")))
            .bearer_auth(ADMIN_TOKEN);
        async move {
            let answer = request.send().await.unwrap();
            assert_eq!(answer.status(), 200, "{path}");
            answer.text().await.unwrap()
        }
    };
    let events = page("/events?outcome=accepted".into()).await;
    assert!(events.contains(r#"data-testid="events-table""#), "{events}");
    assert!(events.contains("s_render"));
    let detail = page(format!("/events/{event_id}")).await;
    assert!(detail.contains(r#"data-testid="event-body""#), "{detail}");
    assert!(detail.contains("&lt;script"), "escaped in the body");
    assert!(!detail.contains("<script>alert(1)"));
    assert!(!detail.contains("<img src=x"));
    let snapshots = page("/snapshots".into()).await;
    assert!(snapshots.contains("s_render") && snapshots.contains("delivered"));
    let snapshot = page("/snapshots/s_render".into()).await;
    assert!(
        snapshot.contains(r#"data-testid="lifecycle""#),
        "{snapshot}"
    );
    let alerts = page("/alerts".into()).await;
    assert!(alerts.contains(r#"data-testid="alerts-empty""#), "{alerts}");
    let setup = page("/setup".into()).await;
    assert!(setup.contains(&format!("{}/api/brightdata/webhook/", app.address)));
    assert!(setup.contains("WEBHOOK_RATE_LIMIT"));
    assert!(!setup.contains(ADMIN_TOKEN) && !setup.contains(crate::helpers::WEBHOOK_TOKEN));
    // Anonymous: the login form, on every section.
    let anonymous = app
        .get("/webhook-monitor/setup")
        .await
        .text()
        .await
        .unwrap();
    assert!(anonymous.contains(r#"data-testid="login""#));
    assert!(!anonymous.contains("WEBHOOK_RATE_LIMIT"));
    app.stop().await;
}

/// The monitor API's and the dashboard's answers are compressed for a client that accepts it;
/// the ingestion endpoints' small answers never are (BrightData sees their latency); the site's
/// assets are served from their pre-compressed files.
#[tokio::test]
async fn answers_are_compressed_except_the_ingestion_endpoints() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/track-futura.wasm"), vec![b'w'; 4096]).unwrap();
    std::fs::write(
        site.path().join("pkg/track-futura.wasm.br"),
        b"brotli bytes",
    )
    .unwrap();
    std::fs::write(site.path().join("pkg/track-futura.wasm.gz"), b"gzip bytes").unwrap();
    let app = crate::helpers::spawn()
        .var("LEPTOS_SITE_ROOT", site.path().to_str().unwrap())
        .start()
        .await;
    let encoding = |response: &reqwest::Response| {
        response
            .headers()
            .get("content-encoding")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let metrics = app
        .client
        .get(app.url("/api/brightdata/webhook/metrics/"))
        .bearer_auth(ADMIN_TOKEN)
        .header("accept-encoding", "br, gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert_eq!(encoding(&metrics).as_deref(), Some("br"));
    let page = app
        .client
        .get(app.url("/webhook-monitor"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(encoding(&page).as_deref(), Some("gzip"));
    let delivery = app
        .webhook()
        .header("accept-encoding", "br, gzip")
        .body(sample(Shape::LinkedinPosts))
        .send()
        .await
        .unwrap();
    assert_eq!(delivery.status(), 200);
    assert_eq!(encoding(&delivery), None, "ingestion answers stay plain");
    app.settle().await;
    // A streamed export, compressed on the fly, arrives whole (the encoder polls its body once
    // past the end: an unfused stream panicked there and the client saw a reset).
    let export = |accept: &'static str| {
        app.client
            .get(app.url("/api/brightdata/webhook/export-events/?format=csv"))
            .bearer_auth(ADMIN_TOKEN)
            .header("accept-encoding", accept)
            .send()
    };
    let plain = export("identity").await.unwrap().bytes().await.unwrap();
    let gzipped = export("gzip").await.unwrap();
    assert_eq!(encoding(&gzipped).as_deref(), Some("gzip"));
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gzipped.bytes().await.unwrap()[..]),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated, plain.to_vec());
    assert!(
        String::from_utf8_lossy(&plain).lines().count() >= 2,
        "header and a row"
    );
    for (accept, expected, body) in [
        ("br, gzip", Some("br"), &b"brotli bytes"[..]),
        ("gzip", Some("gzip"), &b"gzip bytes"[..]),
        ("identity", None, &[b'w'; 4096][..]),
    ] {
        let wasm = app
            .client
            .get(app.url("/pkg/track-futura.wasm"))
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(encoding(&wasm).as_deref(), expected, "{accept}");
        assert_eq!(&wasm.bytes().await.unwrap()[..], body, "{accept}");
    }
    app.stop().await;
}
