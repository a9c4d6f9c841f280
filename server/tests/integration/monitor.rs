//! The monitoring engine and its API, over HTTP: access control, numbers checked against what the
//! test sent, alerts, retention, export, self-test, Prometheus, replay.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{ADMIN_TOKEN, Shape, TestApp, WEBHOOK_TOKEN, json as read, sample, spawn};

const API: &str = "/api/brightdata/webhook";

impl TestApp {
    fn admin_get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(self.url(path)).bearer_auth(ADMIN_TOKEN)
    }

    fn admin_post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(self.url(path)).bearer_auth(ADMIN_TOKEN)
    }

    async fn admin_json(&self, path: &str) -> Value {
        let (status, body) = read(self.admin_get(path).send().await.unwrap()).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    /// `accepted` empty deliveries and `rejected` bad-token requests; waits for their events (and
    /// any earlier ones) to be stored.
    /// `accepted` good deliveries and `failed` malformed ones, all from the token holder: the
    /// traffic the service's own error rate is judged on.
    async fn traffic(&self, accepted: usize, failed: usize) {
        for _ in 0..accepted {
            assert_eq!(
                self.webhook().body("[]").send().await.unwrap().status(),
                200
            );
        }
        for _ in 0..failed {
            let r = self.webhook().body("[{\"url\": ").send().await.unwrap();
            assert_eq!(r.status(), 400);
        }
        self.settle().await;
    }

    /// `count` requests with a wrong token.
    async fn anonymous(&self, count: usize) {
        for _ in 0..count {
            let r = self
                .client
                .post(self.url("/api/brightdata/webhook/"))
                .bearer_auth("wrong-token")
                .body("[]")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401);
        }
        self.settle().await;
    }

    /// Polls `path` until `done(body)`.
    async fn until(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let body = self.admin_json(path).await;
            if done(&body) {
                return body;
            }
            assert!(std::time::Instant::now() < deadline, "{path}: {body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

const GETS: [&str; 11] = [
    "/metrics/",
    "/config/",
    "/storage/",
    "/health/",
    "/analytics/",
    "/events/",
    "/export-events/",
    "/alerts/",
    "/snapshots/",
    "/metrics",
    "/events",
];

#[tokio::test]
async fn every_endpoint_needs_the_admin_credential() {
    let app = spawn()
        .var("METRICS_TOKEN", "prometheus-token-0123456789")
        .start()
        .await;
    app.traffic(1, 0).await;
    let event_id = app.number("SELECT max(id) FROM events").await;
    let mut paths: Vec<String> = GETS.iter().map(|p| format!("{API}{p}")).collect();
    paths.push(format!("{API}/events/{event_id}/"));
    for path in &paths {
        let anonymous = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{path}");
        assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
        let (_, body) = read(anonymous).await;
        assert_eq!(body["error"], "unauthorized");
        let webhook_token = app
            .client
            .get(app.url(path))
            .bearer_auth(WEBHOOK_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            webhook_token.status(),
            401,
            "{path}: the webhook token is not the admin token"
        );
        let admin = app.admin_get(path).send().await.unwrap();
        assert_eq!(admin.status(), 200, "{path}");
    }
    for path in [
        format!("{API}/test/"),
        format!("{API}/alerts/1/ack/"),
        format!("{API}/events/{event_id}/replay/"),
    ] {
        let r = app.client.post(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{path}");
    }
    // Prometheus: the admin token or METRICS_TOKEN, nothing else.
    assert_eq!(app.get("/metrics").await.status(), 401);
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("prometheus-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.admin_get("/metrics").send().await.unwrap().status(),
        200
    );
    let r = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(WEBHOOK_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_session_is_an_httponly_strict_cookie_and_writes_need_the_csrf_header() {
    let app = spawn().start().await;
    let login = |token: &str| {
        app.client
            .post(app.url("/api/auth/login"))
            .json(&json!({"token": token}))
    };
    let (status, body) = read(login("wrong").send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (401, "invalid_token")
    );

    let response = login(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for part in [
        "tf_session=",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=43200",
        "Path=/",
    ] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains(ADMIN_TOKEN));
    let session = cookie.split(';').next().unwrap().to_owned();

    let with = |req: reqwest::RequestBuilder| req.header("cookie", session.clone());
    assert_eq!(
        with(app.client.get(app.url(&format!("{API}/metrics/"))))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let (_, state) = read(
        with(app.client.get(app.url("/api/auth/session")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["authenticated"], true);
    // A write with only the cookie could come from another site: refused.
    let r = with(app.client.post(app.url(&format!("{API}/test/"))))
        .send()
        .await
        .unwrap();
    let (status, body) = read(r).await;
    assert_eq!((status, body["error"].as_str().unwrap()), (403, "csrf"));
    let r = with(app.client.post(app.url(&format!("{API}/test/"))))
        .header("x-requested-with", "track-futura")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A forged or altered cookie is nothing.
    let forged = session.replacen("v1.", "v1.9", 1);
    let r = app
        .client
        .get(app.url(&format!("{API}/metrics/")))
        .header("cookie", forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    let r = with(app.client.post(app.url("/api/auth/logout")))
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let (_, state) = read(
        app.client
            .get(app.url("/api/auth/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["authenticated"], false);
    // The logged-out cookie itself is refused from now on (ended on the server, not only cleared
    // in the browser).
    let r = with(app.client.get(app.url(&format!("{API}/metrics/"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "a copy of the ended session's cookie");
    let (_, state) = read(
        with(app.client.get(app.url("/api/auth/session")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(state["authenticated"], false);

    // Guessing is slowed down: 5 at once, then 10 a minute.
    let mut limited = false;
    for _ in 0..8 {
        if login("guess").send().await.unwrap().status() == 429 {
            limited = true;
        }
    }
    assert!(limited);
    let dir = app.stop().await;
    let log = std::fs::read_to_string(dir.path().join("logs/webhook_security.log")).unwrap();
    assert!(log.contains("login_failed") && log.contains("\"event\":\"login\""));
}

/// Stops the app; from its security log, the refusals logged one by one, and the summary lines of
/// those only counted.
async fn refusal_log(app: TestApp) -> (i64, Vec<Value>) {
    let dir = app.stop().await;
    let log = std::fs::read_to_string(dir.path().join("logs/webhook_security.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let logged = lines
        .iter()
        .filter(|l| l["event"] == "request_rejected")
        .count() as i64;
    let summaries = lines
        .into_iter()
        .filter(|l| l["event"] == "requests_rejected_counted")
        .collect();
    (logged, summaries)
}

#[tokio::test]
async fn a_flood_of_refusals_is_counted_exactly_but_recorded_in_full_only_a_few_times() {
    let app = spawn().start().await;
    app.anonymous(300).await;
    // Every refusal is in the metrics (the counted ones arrive within a second or so)...
    let m = app
        .until(&format!("{API}/metrics/?window=5m"), |m| {
            m["requests"] == 300
        })
        .await;
    assert_eq!(m["by_outcome"]["rejected_auth"], 300, "{m}");
    // ... but only the first 20 per address and reason a minute are rows and log lines (a run
    // that crosses a minute gets two such allowances).
    let rows = app
        .number("SELECT count(*) FROM events WHERE outcome = 'rejected_auth'")
        .await;
    assert!((20..=40).contains(&rows), "{rows} event rows");
    let (logged, summaries) = refusal_log(app).await;
    let counted: i64 = summaries
        .iter()
        .map(|l| {
            assert_eq!(l["ip"], "127.0.0.1", "{l}");
            assert_eq!(l["outcome"], "rejected_auth", "{l}");
            l["count"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(logged, rows);
    assert_eq!(logged + counted, 300);
}

/// Refusals sprayed from 5,000 addresses (behind a trusted proxy, as IPv6 /64s would be) leave a
/// bounded number of event rows and security-log lines, while the metrics count every one.
#[tokio::test]
async fn refusals_sprayed_from_many_addresses_leave_a_bounded_trail_and_exact_counts() {
    use futures_util::StreamExt;
    let app = spawn()
        .var("WEBHOOK_TRUSTED_PROXIES", "127.0.0.1/32")
        .start()
        .await;
    let sent = 5_000u32;
    futures_util::stream::iter(0..sent)
        .map(|n| {
            let forwarded = std::net::Ipv4Addr::from(0x0a00_0000 + n).to_string();
            let request = app
                .client
                .post(app.url("/api/brightdata/webhook/"))
                .bearer_auth("wrong-token")
                .header("x-forwarded-for", forwarded)
                .body("[]");
            async move {
                assert_eq!(request.send().await.unwrap().status(), 401);
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    app.settle().await;
    let m = app
        .until(&format!("{API}/metrics/?window=5m"), |m| {
            m["requests"] == i64::from(sent)
        })
        .await;
    assert_eq!(m["by_outcome"]["rejected_auth"], i64::from(sent), "{m}");
    let rows = app
        .number("SELECT count(*) FROM events WHERE outcome = 'rejected_auth'")
        .await;
    // 256 tracked addresses a minute get a full record each (a run crossing a minute, twice that).
    assert!((256..=512).contains(&rows), "{rows} event rows");
    let (logged, summaries) = refusal_log(app).await;
    let counted: i64 = summaries.iter().map(|l| l["count"].as_i64().unwrap()).sum();
    assert_eq!(logged, rows);
    assert_eq!(logged + counted, i64::from(sent), "the counts stay exact");
    // Each address refused once got its full record; the rest are summed as `other`, one line a
    // second (before the fix: one summary line per address, 4,400 of them).
    assert!(summaries.len() <= 60, "{} summary lines", summaries.len());
    assert!(
        summaries.iter().all(|l| l["ip"] == "other"),
        "{summaries:?}"
    );
}

#[tokio::test]
async fn metrics_match_the_requests_sent() {
    let app = spawn().start().await;
    app.traffic(7, 3).await;
    let m = app.admin_json(&format!("{API}/metrics/?window=5m")).await;
    assert_eq!(m["window"], "5m");
    assert_eq!(m["requests"], 10);
    assert_eq!(m["accepted"], 7);
    assert_eq!(m["rejected"], 3);
    assert_eq!(m["by_outcome"]["accepted"], 7);
    assert_eq!(m["by_outcome"]["bad_payload"], 3);
    assert!(
        (m["error_rate"].as_f64().unwrap() - 0.3).abs() < 1e-9,
        "{m}"
    );
    assert!((m["success_rate"].as_f64().unwrap() - 0.7).abs() < 1e-9);

    // Percentiles from the rollup histograms, against the stored latencies.
    let mut latencies: Vec<i64> = app.events(10).await.iter().map(|e| e.latency_us).collect();
    latencies.sort_unstable();
    let nearest_rank = |p: f64| {
        latencies[((p * latencies.len() as f64).ceil() as usize).max(1) - 1] as f64 / 1000.0
    };
    for (field, p) in [("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
        let got = m["latency"][field].as_f64().unwrap();
        let want = nearest_rank(p);
        assert!(
            (got - want).abs() <= want * 0.01 + 0.001,
            "{field}: {got} vs {want}"
        );
    }
    let max = m["latency"]["max_ms"].as_f64().unwrap();
    assert!((max - *latencies.last().unwrap() as f64 / 1000.0).abs() < 1e-9);
    assert!(m["throughput"]["per_minute_mean"].as_f64().unwrap() > 0.0);

    // Records and platforms from a real delivery.
    let r = app
        .webhook()
        .header("snapshot-id", "s_metrics")
        .body(sample(Shape::TiktokWithError))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.eventually("SELECT count(*) FROM events", 11).await;
    let m = app.admin_json(&format!("{API}/metrics/?window=1h")).await;
    assert_eq!(m["records"], 4);
    let tiktok = m["by_platform"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == "tiktok")
        .unwrap()
        .clone();
    assert_eq!(
        (tiktok["requests"].as_i64(), tiktok["records"].as_i64()),
        (Some(1), Some(4))
    );
    assert_eq!(m["by_snapshot"][0]["snapshot_id"], "s_metrics");

    for window in ["24h", "7d"] {
        let m = app
            .admin_json(&format!("{API}/metrics/?window={window}"))
            .await;
        assert_eq!(m["requests"], 11, "{window}");
    }
    let (status, body) = read(
        app.admin_get(&format!("{API}/metrics/?window=forever"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, "invalid_window")
    );
    app.stop().await;
}

#[tokio::test]
async fn health_names_its_reasons() {
    let app = spawn().var("WEBHOOK_ALERT_MIN_SAMPLE", "5").start().await;
    let h = app.admin_json(&format!("{API}/health/")).await;
    assert_eq!(h["status"], "healthy", "{h}");
    let checks: Vec<&str> = h["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["check"].as_str().unwrap())
        .collect();
    for check in ["database", "error_rate", "disk", "last_delivery", "alerts"] {
        assert!(checks.contains(&check), "{checks:?}");
    }
    app.traffic(2, 8).await;
    let h = app.admin_json(&format!("{API}/health/")).await;
    // Unhealthy for the error rate; critical once an evaluation round (whenever it comes) has
    // opened the alert for it, which is then named first.
    let alerted = h["open_critical_alerts"].as_i64().unwrap() > 0;
    let expected = if alerted { "critical" } else { "unhealthy" };
    assert_eq!(h["status"], expected, "{h}");
    let first = &h["reasons"][usize::from(alerted)];
    assert_eq!(first["check"], "error_rate", "{h}");
    assert_eq!(first["status"], "unhealthy", "{h}");
    assert!(first["message"].as_str().unwrap().contains("80.0%"));
    assert!(h["last_accepted_ms"].as_i64().is_some());
    app.stop().await;
}

#[tokio::test]
async fn refusals_of_callers_without_the_token_do_not_make_the_service_unhealthy() {
    let app = spawn()
        .var("WEBHOOK_ALERT_MIN_SAMPLE", "5")
        .var("WEBHOOK_ALERT_INTERVAL", "1")
        .var("WEBHOOK_SECURITY_SPIKE_PER_MINUTE", "20")
        .start()
        .await;
    app.traffic(6, 0).await;
    app.anonymous(40).await;
    let h = app.admin_json(&format!("{API}/health/")).await;
    assert_eq!(h["status"], "healthy", "{h}");
    let reason = h["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["check"] == "error_rate")
        .unwrap();
    let message = reason["message"].as_str().unwrap();
    assert!(
        message.contains("0.0% of authenticated") && message.contains("40 requests without"),
        "{message}"
    );
    let m = app.admin_json(&format!("{API}/metrics/?window=5m")).await;
    assert_eq!(m["requests"], 46, "{m}");
    assert_eq!(m["authenticated"], 6, "{m}");
    assert_eq!(m["authenticated_error_rate"], 0.0, "{m}");
    assert!((m["error_rate"].as_f64().unwrap() - 40.0 / 46.0).abs() < 1e-9);
    // Still visible: as a security spike, never as the service's error rate.
    let alerts = app
        .until(&format!("{API}/alerts/"), |b| {
            b["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["rule"] == "security_spike")
        })
        .await;
    assert!(
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["rule"] != "error_rate"),
        "{alerts}"
    );
    // The token holder's own failures do count.
    app.traffic(0, 6).await;
    let h = app.admin_json(&format!("{API}/health/")).await;
    assert_eq!(h["status"], "unhealthy", "{h}");
    app.stop().await;
}

#[tokio::test]
async fn an_alert_opens_once_counts_repeats_is_acknowledged_and_resolves() {
    let app = spawn()
        .var("WEBHOOK_ALERT_INTERVAL", "1")
        .var("WEBHOOK_ALERT_MIN_SAMPLE", "10")
        .start()
        .await;
    app.traffic(7, 3).await;
    let active = app
        .until(&format!("{API}/alerts/"), |b| {
            b["alerts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["rule"] == "error_rate")
        })
        .await;
    let alert = active["alerts"][0].clone();
    assert_eq!(alert["status"], "active");
    assert_eq!(alert["severity"], "warning");
    assert!(
        alert["message"].as_str().unwrap().contains("30.0%"),
        "{alert}"
    );
    let id = alert["id"].as_i64().unwrap();

    // Repeats raise the count of the same alert, never a second one.
    let repeated = app
        .until(&format!("{API}/alerts/"), |b| {
            b["alerts"][0]["count"].as_i64().unwrap_or(0) >= 3
        })
        .await;
    assert_eq!(repeated["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(repeated["alerts"][0]["id"], id);

    let (status, acked) = read(
        app.admin_post(&format!("{API}/alerts/{id}/ack/"))
            .json(&json!({"by": "on-call"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(acked["acknowledged_by"], "on-call");
    assert!(acked["acknowledged_ms"].as_i64().is_some());
    let r = app
        .admin_post(&format!("{API}/alerts/999999/ack/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Good traffic dilutes the rate below 10%: the alert resolves by itself.
    app.traffic(40, 0).await;
    let all = app
        .until(&format!("{API}/alerts/?status=all"), |b| {
            b["alerts"][0]["status"] == "resolved"
        })
        .await;
    assert_eq!(all["alerts"].as_array().unwrap().len(), 1);
    assert!(all["alerts"][0]["resolved_ms"].as_i64().is_some());
    let active = app.admin_json(&format!("{API}/alerts/")).await;
    assert!(active["alerts"].as_array().unwrap().is_empty());

    let dir = app.stop().await;
    let log = std::fs::read_to_string(dir.path().join("logs/webhook_monitor.log")).unwrap();
    assert_eq!(log.matches("\"alert_opened\"").count(), 1, "{log}");
    assert_eq!(log.matches("\"alert_resolved\"").count(), 1);
    assert_eq!(log.matches("\"alert_acknowledged\"").count(), 1);
}

/// Anyone with the webhook token can invent snapshot ids: per-snapshot alerts stop at 50, and one
/// more alert counts the rest.
#[tokio::test]
async fn per_snapshot_alerts_are_capped_and_the_rest_counted_in_one() {
    let app = spawn().var("WEBHOOK_ALERT_INTERVAL", "1").start().await;
    for i in 0..60 {
        let r = app
            .notify()
            .json(&json!({"snapshot_id": format!("s_invented_{i:02}"), "status": "failed"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let alerts = app
        .until(&format!("{API}/alerts/?limit=1000"), |b| {
            // An evaluation may run while the notifications still arrive: wait for the one
            // after the last.
            b["alerts"].as_array().unwrap().iter().any(|a| {
                a["subject"] == "*" && a["message"].as_str().unwrap().starts_with("10 more")
            }) && b["alerts"].as_array().unwrap().len() == 51
        })
        .await;
    let alerts = alerts["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 51, "50 snapshots and one for the rest");
    assert!(alerts.iter().all(|a| a["rule"] == "snapshot_failed"));
    let rest = alerts.iter().find(|a| a["subject"] == "*").unwrap();
    assert!(
        rest["message"]
            .as_str()
            .unwrap()
            .starts_with("10 more snapshots failed"),
        "{rest}"
    );
    // The newest failures are the ones named.
    assert!(alerts.iter().any(|a| a["subject"] == "s_invented_59"));
    assert!(!alerts.iter().any(|a| a["subject"] == "s_invented_00"));
    app.stop().await;
}

#[tokio::test]
async fn stalled_and_failed_snapshots_raise_alerts() {
    let app = spawn()
        .var("WEBHOOK_ALERT_INTERVAL", "1")
        .var("WEBHOOK_SNAPSHOT_STALL_AFTER", "1")
        .start()
        .await;
    let notify = |body: Value| app.notify().json(&body);
    assert_eq!(
        notify(json!({"snapshot_id": "s_stall", "status": "running"}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        notify(json!({"snapshot_id": "s_broken", "status": "failed", "error": "Account quota exceeded"})).send().await.unwrap().status(),
        200
    );
    let alerts = app
        .until(&format!("{API}/alerts/"), |b| {
            b["alerts"].as_array().unwrap().len() == 2
        })
        .await;
    let by_rule = |rule: &str| {
        alerts["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["rule"] == rule)
            .unwrap()
            .clone()
    };
    assert_eq!(by_rule("snapshot_stalled")["subject"], "s_stall");
    let failed = by_rule("snapshot_failed");
    assert_eq!(failed["subject"], "s_broken");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("Account quota exceeded")
    );
    // The data arrives: no longer stalled.
    let r = app
        .webhook()
        .header("snapshot-id", "s_stall")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.until(&format!("{API}/alerts/"), |b| {
        b["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["rule"] != "snapshot_stalled")
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn retention_deletes_the_oldest_events_and_nothing_else() {
    let app = spawn()
        .var("WEBHOOK_MAX_EVENTS", "5")
        .var("WEBHOOK_RETENTION_INTERVAL", "1")
        .start()
        .await;
    let r = app
        .webhook()
        .header("snapshot-id", "s_keep")
        .body(sample(Shape::LinkedinPosts))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..6 {
        assert_eq!(app.webhook().body("[]").send().await.unwrap().status(), 200);
    }
    for _ in 0..5 {
        let r = app
            .client
            .post(app.url("/api/brightdata/webhook/"))
            .body("[]")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // Ids are given in order from 1: the twelve requests are events 1..=12, and the newest five stay.
    app.eventually("SELECT max(id) FROM events", 12).await;
    app.eventually("SELECT count(*) FROM events", 5).await;
    let kept: Vec<i64> = app.events(5).await.iter().map(|e| e.id).collect();
    assert_eq!(kept, [8, 9, 10, 11, 12], "the newest five stay");
    // Rollups keep the totals; stored data is untouched.
    let m = app.admin_json(&format!("{API}/metrics/?window=1h")).await;
    assert_eq!(m["requests"], 12);
    assert_eq!(app.number("SELECT count(*) FROM posts").await, 3);
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 7);
    assert_eq!(app.number("SELECT count(*) FROM snapshots").await, 1);
    app.stop().await;

    // By age: everything older than the retention goes.
    let app = spawn()
        .var("WEBHOOK_METRICS_RETENTION", "1")
        .var("WEBHOOK_RETENTION_INTERVAL", "1")
        .start()
        .await;
    for _ in 0..3 {
        assert_eq!(app.webhook().body("[]").send().await.unwrap().status(), 200);
    }
    app.eventually("SELECT max(id) FROM events", 3).await;
    app.eventually("SELECT count(*) FROM events", 0).await;
    let m = app.admin_json(&format!("{API}/metrics/?window=1h")).await;
    assert_eq!(m["requests"], 3);
    app.stop().await;
}

#[tokio::test]
async fn events_are_paged_filtered_and_detailed() {
    let app = spawn().start().await;
    let r = app
        .webhook()
        .header("snapshot-id", "s_detail")
        .body(sample(Shape::TiktokWithError))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.traffic(14, 0).await;
    app.anonymous(10).await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{API}/events/?limit=10&cursor={c}"),
            None => format!("{API}/events/?limit=10"),
        };
        let page = app.admin_json(&path).await;
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 25);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no overlap"
    );

    let rejected = app
        .admin_json(&format!("{API}/events/?outcome=rejected_auth&limit=500"))
        .await;
    assert_eq!(rejected["events"].as_array().unwrap().len(), 10);
    let by_snapshot = app
        .admin_json(&format!("{API}/events/?snapshot=s_detail"))
        .await;
    assert_eq!(by_snapshot["events"].as_array().unwrap().len(), 1);
    let text = app
        .admin_json(&format!("{API}/events/?q=invalid_token&limit=500"))
        .await;
    assert_eq!(text["events"].as_array().unwrap().len(), 10);
    let future = app
        .admin_json(&format!(
            "{API}/events/?from={}",
            chrono::Utc::now().timestamp_millis() + 60_000
        ))
        .await;
    assert!(future["events"].as_array().unwrap().is_empty());
    let by_ip = app
        .admin_json(&format!("{API}/events/?ip=127.0.0.1&limit=500"))
        .await;
    assert_eq!(by_ip["events"].as_array().unwrap().len(), 25);
    let (status, body) = read(
        app.admin_get(&format!("{API}/events/?outcome=exploded"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, "invalid_outcome")
    );

    let first = app.events(25).await[0].clone();
    let detail = app.admin_json(&format!("{API}/events/{}/", first.id)).await;
    assert_eq!(detail["event"]["snapshot_id"], "s_detail");
    assert_eq!(detail["headers"]["authorization"], "[redacted]");
    assert_eq!(detail["delivery"]["records"], 4);
    assert_eq!(detail["body"]["encoding"], "identity");
    assert!(
        detail["body"]["text"]
            .as_str()
            .unwrap()
            .contains("tiktok.com")
    );
    assert!(!detail.to_string().contains(WEBHOOK_TOKEN));
    assert_eq!(
        app.admin_get(&format!("{API}/events/999999/"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    app.stop().await;
}

/// Text a client chose that a spreadsheet would run as a formula is exported with a `'` in front
/// (CSV injection); everything else, and the JSON export, stay as sent.
#[tokio::test]
async fn the_csv_export_neutralises_formulas_in_what_clients_sent() {
    let app = spawn().start().await;
    let agents = [
        "=HYPERLINK(\"http://evil.example/\",\"click\")",
        "+1+1",
        "-2+3",
        "@SUM(A1:A9)",
        "=cmd|' /C calc'!A0",
        "curl/8.0 = fine in the middle",
    ];
    for agent in agents {
        let r = app
            .webhook()
            .header("user-agent", agent)
            .body("[]")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{agent}");
    }
    app.events(agents.len() as i64).await;
    let text = app
        .admin_get(&format!("{API}/export-events/?format=csv"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let exported: Vec<String> = reader
        .records()
        .map(|row| row.unwrap()[9].to_owned())
        .collect();
    let mut expected: Vec<String> = agents[..5].iter().map(|a| format!("'{a}")).collect();
    expected.push(agents[5].to_owned());
    expected.reverse();
    assert_eq!(exported, expected, "newest first");
    let json: Vec<Value> = app
        .admin_get(&format!("{API}/export-events/?format=json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        json[5]["user_agent"], agents[0],
        "JSON carries the text as sent"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_csv_export_parses_back_into_the_events() {
    let app = spawn().start().await;
    app.traffic(3, 0).await;
    app.anonymous(2).await;
    // A user agent with a comma, quotes and a newline-free oddity, to exercise quoting.
    let r = app
        .webhook()
        .header("user-agent", "odd, \"quoted\" agent")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let events = app.events(6).await;

    let response = app
        .admin_get(&format!("{API}/export-events/?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = response.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..5], ["id", "at", "at_ms", "endpoint", "outcome"]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), events.len());
    for (row, event) in rows.iter().zip(events.iter().rev()) {
        assert_eq!(row[0].parse::<i64>().unwrap(), event.id);
        assert_eq!(&row[4], event.outcome.as_str());
        assert_eq!(row[5].parse::<i16>().unwrap(), event.status);
        assert_eq!(&row[8], event.client_ip.as_deref().unwrap_or(""));
        assert_eq!(&row[9], event.user_agent.as_deref().unwrap_or(""));
        assert_eq!(&row[14], event.error.as_deref().unwrap_or(""));
    }
    assert_eq!(&rows[0][9], "odd, \"quoted\" agent");

    let response = app
        .admin_get(&format!(
            "{API}/export-events/?format=json&outcome=rejected_auth"
        ))
        .send()
        .await
        .unwrap();
    let exported: Vec<Value> = response.json().await.unwrap();
    assert_eq!(exported.len(), 2);
    assert!(exported.iter().all(|e| e["outcome"] == "rejected_auth"));
    let (status, _) = read(
        app.admin_get(&format!("{API}/export-events/?format=xml"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn the_self_test_passes_a_good_configuration_and_names_a_bad_ones_problems() {
    let app = spawn()
        .var("WEBHOOK_SIGNING_SECRET", "a-long-signing-secret-0123456789")
        .var("WEBHOOK_ALLOWED_IPS", "127.0.0.0/8")
        .var("WEBHOOK_REQUIRE_SIGNATURE", "true")
        .var("WEBHOOK_RATE_LIMIT", "30")
        .var("WEBHOOK_MAX_INFLATED_BYTES", "8MiB")
        .var("BRIGHTDATA_BASE_URL", "https://hooks.example.org")
        .start()
        .await;
    let (status, report) = read(
        app.admin_post(&format!("{API}/test/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(report["passed"], true, "{report:#}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "good_token",
            "bad_token",
            "bad_signature",
            "stale_timestamp",
            "disallowed_ip",
            "oversize",
            "gzip",
            "gzip_bomb",
            "rate_limit"
        ]
    );
    for check in report["checks"].as_array().unwrap() {
        assert_eq!(check["expected"], check["actual"], "{check}");
    }
    assert_eq!(report["checks"][4]["expected"], "403");
    assert_eq!(report["checks"][8]["expected"], "429");
    let settings: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["setting"].as_str().unwrap())
        .collect();
    // Nothing to warn about; the public URL in effect is shown, as information.
    assert_eq!(settings, ["BRIGHTDATA_BASE_URL"], "{report:#}");
    assert_eq!(report["warnings"][0]["severity"], "info");
    assert_eq!(
        report["warnings"][0]["message"],
        "public URL https://hooks.example.org (found by BRIGHTDATA_BASE_URL)"
    );
    // The self-test stores nothing and records no event.
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 0);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.number("SELECT count(*) FROM events").await, 0);
    app.stop().await;

    let app = spawn()
        .var("BRIGHTDATA_WEBHOOK_TOKEN", "your-secure-webhook-token")
        .var("WEBHOOK_ADMIN_TOKEN", "short-admin")
        .var("DYNO", "web.1")
        .start()
        .await;
    let report = app
        .client
        .post(app.url(&format!("{API}/test/")))
        .bearer_auth("short-admin")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let settings: Vec<&str> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["setting"].as_str().unwrap())
        .collect();
    for expected in [
        "BRIGHTDATA_BASE_URL",
        "BRIGHTDATA_WEBHOOK_TOKEN",
        "WEBHOOK_ADMIN_TOKEN",
        "WEBHOOK_ALLOWED_IPS",
        "WEBHOOK_REQUIRE_SIGNATURE",
        "WEBHOOK_TRUSTED_PROXIES",
    ] {
        assert!(
            settings.contains(&expected),
            "{expected} missing from {settings:?}"
        );
    }
    // With an empty allow-list every address gets through, and the report says so.
    let ip_check = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "disallowed_ip")
        .unwrap();
    assert_eq!(ip_check["expected"], "200");
    assert!(ip_check["description"].as_str().unwrap().contains("empty"));
    app.stop().await;
}

#[tokio::test]
async fn prometheus_output_parses() {
    let app = spawn().start().await;
    app.traffic(4, 0).await;
    app.anonymous(2).await;
    // The service-wide figures are read from the stored rollups.
    app.settle().await;
    let text = app
        .admin_get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let instance = app.state.instance.id.to_string();
    for series in [
        "trackfutura_requests_total{instance=",
        "trackfutura_request_duration_seconds_count{instance=",
        "trackfutura_uptime_seconds{instance=",
        "trackfutura_leader{instance=",
    ] {
        assert!(
            text.contains(&format!("{series}\"{instance}\"")),
            "{series}: {text}"
        );
    }
    let mut samples: Vec<(String, f64)> = Vec::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let metric = name.split('{').next().unwrap();
        assert!(
            metric
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        if let Some(labels) = name.strip_prefix(metric) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        // What this process counts itself carries its instance label; read without it.
        let name = name
            .replace(&format!("instance=\"{instance}\","), "")
            .replace(&format!("{{instance=\"{instance}\"}}"), "");
        samples.push((
            name,
            value.parse().unwrap_or_else(|_| panic!("value of {line}")),
        ));
    }
    let get = |name: &str| samples.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    assert_eq!(
        get("trackfutura_requests_total{outcome=\"accepted\"}"),
        Some(4.0)
    );
    assert_eq!(
        get("trackfutura_requests_total{outcome=\"rejected_auth\"}"),
        Some(2.0)
    );
    assert_eq!(get("trackfutura_request_duration_seconds_count"), Some(6.0));
    assert_eq!(
        get("trackfutura_request_duration_seconds_bucket{le=\"+Inf\"}"),
        Some(6.0)
    );
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(n, _)| n.starts_with("trackfutura_request_duration_seconds_bucket"))
        .map(|(_, v)| *v)
        .collect();
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "cumulative buckets"
    );
    assert!(get("trackfutura_health").is_some());
    assert_eq!(
        get("trackfutura_alerts_open{severity=\"critical\"}"),
        Some(0.0)
    );
    // The only instance on SQLite leads.
    assert_eq!(get("trackfutura_leader"), Some(1.0));
    assert_eq!(
        get("trackfutura_cluster_requests{outcome=\"accepted\",window=\"5m\"}"),
        Some(4.0)
    );
    assert_eq!(
        get("trackfutura_cluster_requests{outcome=\"rejected_auth\",window=\"5m\"}"),
        Some(2.0)
    );
    app.stop().await;
}

#[tokio::test]
async fn replaying_a_stored_delivery_changes_nothing_twice() {
    let app = spawn().start().await;
    let r = app
        .webhook()
        .header("snapshot-id", "s_replay_api")
        .body(sample(Shape::InstagramDeadPages))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.traffic(0, 1).await;
    let events = app.events(2).await;
    let snapshot_before = app
        .admin_json(&format!("{API}/snapshots/s_replay_api/"))
        .await;
    for _ in 0..2 {
        let (status, body) = read(
            app.admin_post(&format!("{API}/events/{}/replay/", events[0].id))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 202, "{body}");
        app.eventually("SELECT count(*) FROM deliveries WHERE state = 'stored'", 1)
            .await;
    }
    assert_eq!(app.number("SELECT count(*) FROM posts").await, 6);
    assert_eq!(app.number("SELECT count(*) FROM input_errors").await, 4);
    let snapshot_after = app
        .admin_json(&format!("{API}/snapshots/s_replay_api/"))
        .await;
    assert_eq!(
        snapshot_after["snapshot"]["records"],
        snapshot_before["snapshot"]["records"]
    );
    assert_eq!(snapshot_after["stored_posts"], 6);
    assert_eq!(snapshot_after["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(snapshot_after["input_errors"].as_array().unwrap().len(), 4);
    // A refused request stored nothing to replay.
    let (status, body) = read(
        app.admin_post(&format!("{API}/events/{}/replay/", events[1].id))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (409, "no_delivery")
    );
    app.stop().await;
}

#[tokio::test]
async fn snapshots_analytics_and_the_openapi_document() {
    let app = spawn().start().await;
    for (snapshot, shape) in [
        ("s_a", Shape::LinkedinPosts),
        ("s_b", Shape::TiktokWithError),
    ] {
        let r = app
            .webhook()
            .header("snapshot-id", snapshot)
            .body(sample(shape))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    app.traffic(0, 0).await;
    app.anonymous(2).await;
    let list = app.admin_json(&format!("{API}/snapshots/?limit=1")).await;
    assert_eq!(list["snapshots"].as_array().unwrap().len(), 1);
    let next = list["next_cursor"].as_str().unwrap();
    let rest = app
        .admin_json(&format!("{API}/snapshots/?limit=1&cursor={next}"))
        .await;
    assert_eq!(rest["snapshots"].as_array().unwrap().len(), 1);
    assert_ne!(rest["snapshots"][0]["id"], list["snapshots"][0]["id"]);
    assert_eq!(
        app.admin_get(&format!("{API}/snapshots/s_nope/"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    let a = app.admin_json(&format!("{API}/analytics/?range=1h")).await;
    assert_eq!(a["bucket"], "minute");
    let total: i64 = a["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["requests"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 4);
    assert_eq!(a["top_error_types"][0]["key"], "rejected_auth");
    assert_eq!(a["top_client_ips"][0]["ip"], "127.0.0.1");
    assert_eq!(a["top_client_ips"][0]["rejected"], 2);
    assert_eq!(a["records_per_snapshot"].as_array().unwrap().len(), 2);
    assert_eq!(
        app.admin_json(&format!("{API}/analytics/?range=30d")).await["bucket"],
        "day"
    );

    let spec = app
        .get("/api/openapi.json")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/metrics/",
        "/health/",
        "/events/",
        "/events/{id}/",
        "/events/{id}/replay/",
        "/alerts/",
        "/alerts/{id}/ack/",
        "/analytics/",
        "/export-events/",
        "/snapshots/",
        "/snapshots/{id}/",
        "/snapshots/{id}/redeliver/",
        "/snapshots/{id}/fields/accept/",
        "/snapshots/coverage/",
        "/posts/",
        "/export-posts/",
        "/storage/",
        "/test/",
    ] {
        assert!(
            spec["paths"][format!("{API}{path}")].is_object(),
            "{path} missing"
        );
    }
    app.stop().await;
}

/// The writer's rollup shards on PostgreSQL (`rollups::Shards`): adding to one shard waits for
/// the transaction holding its rows and then adds to them (two writers that drew the same shard
/// lose nothing); adding to another shard does not wait; readers sum every shard of a key.
#[tokio::test]
async fn rollup_shards_on_postgresql_wait_only_for_their_own_rows() {
    use sea_orm::TransactionTrait;
    use server::store::rollups::{self, Granularity, Rollup};

    let pg = crate::helpers::PgDatabase::create().await;
    let app = spawn().database(&pg.url()).start().await;
    let db = app.state.db.clone();
    // A minute a day ahead: nothing the app records lands in it, and no retention removes it.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let minute = Granularity::Minute.floor(now_ms + 86_400_000);
    let one_request = move || {
        let mut row = Rollup::empty_minute(minute, "webhook", "accepted");
        row.add(100, 2_000);
        vec![row]
    };
    let holding = db.begin().await.unwrap();
    rollups::add_counts(&holding, 10, &one_request())
        .await
        .unwrap();

    // Another shard: done while the first transaction still holds its rows.
    let other = db.begin().await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        rollups::add_counts(&other, 11, &one_request()),
    )
    .await
    .expect("a write to another shard waits for no other shard's locks")
    .unwrap();
    other.commit().await.unwrap();

    // The same shard: waits for the holder, then adds to what it committed.
    let same = tokio::spawn({
        let db = db.clone();
        async move {
            let txn = db.begin().await.unwrap();
            rollups::add_counts(&txn, 10, &one_request()).await.unwrap();
            txn.commit().await.unwrap();
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!same.is_finished(), "a write to a locked shard waits");
    holding.commit().await.unwrap();
    same.await.unwrap();

    for granularity in [Granularity::Minute, Granularity::Hour] {
        let start = granularity.floor(minute);
        let rows = rollups::read_range(&db, granularity, start, start + granularity.span_ms())
            .await
            .unwrap();
        // Two rows (shards 10 and 11), three requests, whose latencies all count.
        assert_eq!(rows.len(), 2, "{granularity:?}");
        let mut total = Rollup::total();
        rows.iter().for_each(|row| total.merge(row));
        assert_eq!((total.requests, total.bytes), (3, 300), "{granularity:?}");
        assert_eq!(total.latency.len(), 3, "{granularity:?}");
    }
    app.stop().await;
    pg.drop_database().await;
}

/// Two instances sharing PostgreSQL, both adding to the same new rollup rows at once: every request
/// must be counted once in the minute and the hour rollups (a row that does not exist yet cannot be
/// locked, so two instances used to both start it from zero and the later write won).
#[tokio::test]
async fn two_instances_on_postgresql_count_every_request_in_the_rollups() {
    let pg = crate::helpers::PgDatabase::create().await;
    let a = spawn().database(&pg.url()).start().await;
    let b = spawn().database(&pg.url()).start().await;
    let mut tasks = Vec::new();
    for round in 0..8 {
        for app in [&a, &b] {
            for _ in 0..6 {
                // Accepted and refused requests: several rollup rows per bucket.
                let request = if round % 2 == 0 {
                    app.webhook().body("[]")
                } else {
                    app.client
                        .post(app.url("/api/brightdata/webhook/"))
                        .body("[]")
                };
                tasks.push(tokio::spawn(async move {
                    request.send().await.unwrap().status()
                }));
            }
        }
    }
    for task in tasks {
        let status = task.await.unwrap().as_u16();
        assert!(status == 200 || status == 401, "{status}");
    }
    let total = a.recorded() + b.recorded();
    assert_eq!(total, 96);
    // Every request is in the rollups (past 20 refusals a minute from one address, as a count).
    a.eventually(
        "SELECT CAST(coalesce(sum(requests), 0) AS BIGINT) FROM rollups_minute",
        total,
    )
    .await;
    for table in ["rollups_minute", "rollups_hour"] {
        assert_eq!(
            a.number(&format!(
                "SELECT CAST(sum(requests) AS BIGINT) FROM {table}"
            ))
            .await,
            total,
            "{table}"
        );
    }
    a.stop().await;
    b.stop().await;
    pg.drop_database().await;
}
