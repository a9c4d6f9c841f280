//! Each security layer over real HTTP: its status, its JSON error, its event and its log line.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::helpers::{WEBHOOK_TOKEN, json, spawn};

const GITHUB_SECRET: &str = "It's a Secret to Everybody";
const GITHUB_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

fn hex_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn standard_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let (status, body) = json(response).await;
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (status, body["error"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn tokens_bearer_bare_rotated_missing_wrong() {
    let app = spawn()
        .var(
            "BRIGHTDATA_WEBHOOK_TOKEN",
            &format!("old-token-123,{WEBHOOK_TOKEN}"),
        )
        .start()
        .await;
    let post = || {
        app.client
            .post(app.url("/api/brightdata/webhook/"))
            .header("content-type", "application/json")
            .body("[]")
    };
    assert_eq!(
        post()
            .bearer_auth(WEBHOOK_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post()
            .header("authorization", WEBHOOK_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post()
            .bearer_auth("old-token-123")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        error_of(post().send().await.unwrap()).await,
        (401, "missing_token".into())
    );
    assert_eq!(
        error_of(post().bearer_auth("wrong").send().await.unwrap()).await,
        (401, "invalid_token".into())
    );
    let twice = post()
        .header("authorization", format!("Bearer {WEBHOOK_TOKEN}"))
        .header("authorization", "Bearer other")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(twice).await.0, 401);
    // The notify endpoint has the same lock.
    let notify = app
        .client
        .post(app.url("/api/brightdata/notify/"))
        .json(&serde_json::json!({"snapshot_id": "s_1", "status": "running"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(notify).await, (401, "missing_token".into()));

    let events = app.events(7).await;
    let outcomes: Vec<&str> = events.iter().map(|e| e.outcome.as_str()).collect();
    assert_eq!(
        outcomes,
        [
            "accepted",
            "accepted",
            "accepted",
            "rejected_auth",
            "rejected_auth",
            "rejected_auth",
            "rejected_auth"
        ]
    );
    let dir = app.stop().await;
    let log = std::fs::read_to_string(dir.path().join("logs/webhook_security.log")).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|l: &Value| l["event"] == "request_rejected")
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["ip"], "127.0.0.1");
    assert_eq!(lines[0]["path"], "/api/brightdata/webhook/");
    assert!(
        lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("missing_token")
    );
    assert_eq!(lines[3]["path"], "/api/brightdata/notify/");
    assert!(!log.contains(WEBHOOK_TOKEN) && !log.contains("old-token-123"));
}

#[tokio::test]
async fn hex_hmac_signatures_over_the_raw_body() {
    let app = spawn()
        .var("WEBHOOK_SIGNING_SECRET", GITHUB_SECRET)
        .start()
        .await;
    let signed = |body: &'static [u8], signature: &str| {
        app.webhook()
            .header("x-brightdata-signature", signature)
            .body(body)
    };
    // The documented vector (GitHub's): the body is one malformed NDJSON line, stored as such.
    let (status, answer) = json(
        signed(b"Hello, World!", GITHUB_SIGNATURE)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["malformed"], 1);
    // Tampered body, same signature.
    let r = signed(b"Hello, World?", GITHUB_SIGNATURE)
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (401, "invalid_signature".into()));
    // A real delivery, signed over its gzip bytes as sent.
    let body = crate::helpers::gzip(b"[]");
    let signature = hex_signature(GITHUB_SECRET, &body);
    let r = app
        .webhook()
        .header("content-encoding", "gzip")
        .header("x-brightdata-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for malformed in ["sha256=xyz", "md5=abc", "", "sha256="] {
        let r = signed(b"[]", malformed).send().await.unwrap();
        assert_eq!(
            error_of(r).await,
            (401, "malformed_signature".into()),
            "{malformed:?}"
        );
    }
    let events = app.events(7).await;
    assert_eq!(events[1].outcome, "rejected_signature");
    let headers = events[1].headers.as_deref().unwrap();
    assert!(!headers.contains("757107ea") && headers.contains("[redacted]"));
    app.stop().await;
}

#[tokio::test]
async fn standard_webhooks_vectors_rotation_truncation_and_tolerance() {
    // The published vectors carry 2021/2022 timestamps: widen the tolerance to accept them.
    let app = spawn()
        .var(
            "WEBHOOK_SIGNING_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw,whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        )
        .var("WEBHOOK_MAX_TIMESTAMP_AGE", "400000000")
        .start()
        .await;
    let send = |id: &str, ts: &str, sig: &str, body: &'static str| {
        app.webhook()
            .header("webhook-id", id)
            .header("webhook-timestamp", ts)
            .header("webhook-signature", sig)
            .body(body)
    };
    let r = send(
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        r#"{"test": 2432232314}"#,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = send(
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        "1649367553",
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        r#"{"email":"test@example.com","username":"test_user"}"#,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    // Tampered body.
    let r = send(
        "msg_x1",
        "1614265330",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        r#"{"test": 2432232315}"#,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(error_of(r).await, (401, "invalid_signature".into()));
    // A bare or truncated v1 never matches.
    for truncated in ["v1,", "v1,g0hM9SsE+OTPJTGt/tmIKtSy"] {
        let r = send("msg_x2", "1614265330", truncated, r#"{"test": 2432232314}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_of(r).await,
            (401, "invalid_signature".into()),
            "{truncated}"
        );
    }
    // Several signatures, one right: accepted.
    let ts = now();
    let body = "[]";
    let good = standard_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_multi",
        ts,
        body.as_bytes(),
    );
    let r = send(
        "msg_multi",
        &ts.to_string(),
        &format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {good}"),
        "[]",
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    // Malformed headers are 401, never 500.
    for (ts, sig) in [
        ("soon", good.as_str()),
        ("1614265330", "garbage"),
        ("1614265330", ""),
    ] {
        let r = send("msg_bad", ts, sig, "[]").send().await.unwrap();
        assert_eq!(r.status(), 401, "{ts} {sig}");
    }
    app.stop().await;
}

#[tokio::test]
async fn required_signatures_and_unverifiable_ones() {
    let app = spawn()
        .var(
            "WEBHOOK_SIGNING_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        .var("WEBHOOK_REQUIRE_SIGNATURE", "true")
        .start()
        .await;
    let r = app.webhook().body("[]").send().await.unwrap();
    assert_eq!(error_of(r).await, (401, "signature_required".into()));
    let ts = now();
    let sig = standard_signature(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_req",
        ts,
        b"[]",
    );
    let r = app
        .webhook()
        .header("webhook-id", "msg_req")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    app.stop().await;

    // Without a configured secret a signature cannot be checked: refused, not ignored.
    let app = spawn().start().await;
    let r = app
        .webhook()
        .header("x-brightdata-signature", GITHUB_SIGNATURE)
        .body("Hello, World!")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(r).await, (401, "signature_unverifiable".into()));
    app.stop().await;
}

#[tokio::test]
async fn stale_future_and_malformed_timestamps_are_rejected() {
    let app = spawn()
        .var("WEBHOOK_MAX_TIMESTAMP_AGE", "300")
        .start()
        .await;
    let with = |name: &'static str, value: String| app.webhook().header(name, value).body("[]");
    assert_eq!(
        with("x-brightdata-timestamp", now().to_string())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        with("x-timestamp", chrono::Utc::now().to_rfc3339())
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for (name, value) in [
        ("x-brightdata-timestamp", (now() - 301).to_string()),
        ("x-timestamp", (now() + 301).to_string()),
        (
            "x-timestamp",
            (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339(),
        ),
        ("x-timestamp", "yesterday".to_owned()),
        ("webhook-timestamp", (now() - 3600).to_string()),
        // Extreme values: `now - timestamp` overflows a 64-bit difference.
        ("x-timestamp", (i64::MIN + now()).to_string()),
        ("x-timestamp", i64::MIN.to_string()),
        ("x-timestamp", i64::MAX.to_string()),
    ] {
        let r = with(name, value.clone()).send().await.unwrap();
        assert_eq!(
            error_of(r).await,
            (401, "invalid_timestamp".into()),
            "{name}: {value}"
        );
    }
    let events = app.events(10).await;
    assert!(
        events[2..]
            .iter()
            .all(|e| e.outcome == "rejected_timestamp")
    );
    app.stop().await;
}

#[tokio::test]
async fn replays_under_a_fresh_timestamp_are_still_duplicates() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let app = spawn().var("WEBHOOK_SIGNING_SECRET", secret).start().await;
    let body = crate::helpers::sample(crate::helpers::Shape::TiktokWithError);
    let send = |id: &str| {
        let ts = now();
        app.webhook()
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header(
                "webhook-signature",
                standard_signature(secret, id, ts, &body),
            )
            .body(body.clone())
    };
    let (status, first) = json(send("msg_once").send().await.unwrap()).await;
    assert_eq!(
        (status, first["duplicate"].clone()),
        (200, Value::Bool(false))
    );
    let (status, again) = json(send("msg_once").send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["delivery_id"], first["delivery_id"]);
    assert_eq!(app.number("SELECT count(*) FROM deliveries").await, 1);
    assert_eq!(app.number("SELECT count(*) FROM input_errors").await, 1);
    let events = app.events(2).await;
    assert_eq!(events[1].outcome, "duplicate");
    app.stop().await;
}

#[tokio::test]
async fn the_allow_list_takes_ipv4_and_ipv6_networks() {
    let app = spawn()
        .var("WEBHOOK_ALLOWED_IPS", "10.0.0.0/8,2001:db8::/32")
        .start()
        .await;
    // We call from 127.0.0.1: not allowed.
    let r = app.webhook().body("[]").send().await.unwrap();
    assert_eq!(error_of(r).await, (403, "ip_not_allowed".into()));
    // A forged X-Forwarded-For from an untrusted peer changes nothing.
    let r = app
        .webhook()
        .header("x-forwarded-for", "10.1.2.3")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let events = app.events(2).await;
    assert_eq!(events[1].client_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(events[1].outcome, "rejected_ip");
    app.stop().await;

    // Behind a trusted proxy (127.0.0.1), the rightmost untrusted hop is the client.
    let app = spawn()
        .var("WEBHOOK_ALLOWED_IPS", "10.0.0.0/8,2001:db8::/32")
        .var("WEBHOOK_TRUSTED_PROXIES", "127.0.0.1/32")
        .start()
        .await;
    for (xff, status) in [
        ("10.1.2.3", 200),
        ("6.6.6.6, 10.1.2.3", 200),
        ("10.1.2.3, 6.6.6.6", 403),
        ("2001:db8::5", 200),
        ("[2001:db8:ffff::1]:443", 200),
        ("2001:db9::5", 403),
    ] {
        let r = app
            .webhook()
            .header("x-forwarded-for", xff)
            .body("[]")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{xff}");
    }
    let events = app.events(6).await;
    assert_eq!(events[1].client_ip.as_deref(), Some("10.1.2.3"));
    assert_eq!(events[2].client_ip.as_deref(), Some("6.6.6.6"));
    assert_eq!(events[4].client_ip.as_deref(), Some("2001:db8:ffff::1"));
    app.stop().await;
}

#[tokio::test]
async fn an_ipv6_peer_matches_an_ipv6_network() {
    let Ok(listener) = std::net::TcpListener::bind("[::1]:0") else {
        panic!("IPv6 loopback is needed for this test");
    };
    drop(listener);
    for (allowed, status) in [("::1/128", 200), ("2001:db8::/32", 403)] {
        let app = spawn()
            .var("HOST", "::1")
            .var("WEBHOOK_ALLOWED_IPS", allowed)
            .start()
            .await;
        let port = app.address.rsplit(':').next().unwrap().to_owned();
        let r = app
            .client
            .post(format!("http://[::1]:{port}/api/brightdata/webhook/"))
            .bearer_auth(WEBHOOK_TOKEN)
            .header("content-type", "application/json")
            .body("[]")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{allowed}");
        app.stop().await;
    }
}

/// One IPv6 host usually holds a whole /64: its addresses share one budget, another /64 has its own.
#[tokio::test]
async fn ipv6_clients_are_rate_limited_per_64() {
    let app = spawn()
        .var("WEBHOOK_RATE_LIMIT", "3")
        .var("WEBHOOK_TRUSTED_PROXIES", "127.0.0.1/32")
        .start()
        .await;
    let from = |ip: &str| app.webhook().header("x-forwarded-for", ip).body("[]");
    for ip in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        assert_eq!(from(ip).send().await.unwrap().status(), 200, "{ip}");
    }
    let fourth = from("2001:db8:1:2::4").send().await.unwrap();
    assert_eq!(error_of(fourth).await, (429, "rate_limited".into()));
    assert_eq!(from("2001:db8:1:3::1").send().await.unwrap().status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_are_per_client_and_say_when_to_retry() {
    let app = spawn()
        .var("WEBHOOK_RATE_LIMIT", "3")
        .var("WEBHOOK_TRUSTED_PROXIES", "127.0.0.1/32")
        .start()
        .await;
    let from = |ip: &str| app.webhook().header("x-forwarded-for", ip).body("[]");
    for _ in 0..3 {
        assert_eq!(from("198.51.100.1").send().await.unwrap().status(), 200);
    }
    let r = from("198.51.100.1").send().await.unwrap();
    let retry_after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");
    assert_eq!(error_of(r).await, (429, "rate_limited".into()));
    // An unauthenticated flood from one address does not starve a sender at another.
    for _ in 0..20 {
        let r = app
            .client
            .post(app.url("/api/brightdata/webhook/"))
            .header("x-forwarded-for", "203.0.113.66")
            .body("[]")
            .send()
            .await
            .unwrap();
        assert!(r.status() == 401 || r.status() == 429);
    }
    assert_eq!(from("198.51.100.2").send().await.unwrap().status(), 200);
    let events = app.events(25).await;
    assert_eq!(events[3].outcome, "rate_limited");
    assert_eq!(events[24].outcome, "accepted");
    app.stop().await;
}
