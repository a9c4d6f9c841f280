//! `server check-setup [--url URL] [--send-test]`: what to paste into BrightData, and with
//! `--send-test` proof that the whole path works. It sends a test delivery of BrightData-shaped
//! records and a notify, then checks through the monitor API that the delivery was STORED, that
//! its records were counted and that the snapshot moved. An answer of 200 alone proves nothing.

use delivery::lifecycle::DeliveryState;
use std::time::{Duration, Instant};

use app::types::SnapshotDetailView;
use reqwest::StatusCode;

use super::{EXIT_USAGE, Failure, failed, failure};
use crate::config::Config;
use crate::credentials::{Credentials, TokenSource};
use crate::public_url::PublicUrl;
use delivery::samples::Shape;

/// The records of the test delivery: Instagram posts and `dead_page` warnings, as BrightData sends
/// them with `include_errors=true`.
const SHAPE: Shape = Shape::InstagramDeadPages;

pub struct Options {
    /// The service to check; default: the public URL in effect.
    pub url: Option<String>,
    pub send_test: bool,
}

pub async fn run(config: &Config, public: &PublicUrl, options: &Options) -> Result<(), Failure> {
    let base = match &options.url {
        Some(url) => {
            let parsed = url::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                .ok_or_else(|| {
                    failure(EXIT_USAGE, format!("--url {url:?} is not an http(s) URL"))
                })?;
            parsed.as_str().trim_end_matches('/').to_owned()
        }
        None => public.url.clone(),
    };
    let credentials = Credentials::existing(&config.security, &config.storage.data_dir);
    let token_from = match &credentials {
        Ok(c) => match &c.webhook_source {
            TokenSource::Environment => "BRIGHTDATA_WEBHOOK_TOKEN".to_owned(),
            TokenSource::File(path) | TokenSource::Generated(path) => path.display().to_string(),
        },
        Err(error) => format!("not found: {error}"),
    };

    println!("Public URL:    {}", public.url);
    println!("  found by:    {}", public.describe());
    println!(
        "  reachable:   {}",
        if public.reachable() {
            "yes (a public address)"
        } else {
            "NO: BrightData cannot call this address"
        }
    );
    for warning in &public.warnings {
        println!("  warning:     {warning}");
    }
    println!();
    println!("BrightData trigger parameters (POST /datasets/v3/trigger, or `server trigger`):");
    println!("  endpoint={}", public.data_url());
    println!("  notify={}", public.notify_url());
    println!("  auth_header=Bearer <webhook token: {token_from}>");
    println!("  format=json");
    println!("  uncompressed_webhook=true");
    println!("  include_errors=true");
    if !options.send_test {
        return Ok(());
    }

    let credentials =
        credentials.map_err(|e| failure(EXIT_USAGE, format!("reading the tokens: {e}")))?;
    println!();
    println!("Test delivery to {base}:");
    let client = crate::outbound::client(None, Duration::from_secs(30)).map_err(failed)?;
    let step = |what: &str| println!("  ok  {what}");

    let health = client
        .get(format!("{base}/api/health/"))
        .send()
        .await
        .map_err(|e| {
            failed(format!(
                "GET {base}/api/health/ failed: {e}. Is the service running there?"
            ))
        })?;
    if health.status() != StatusCode::OK {
        return Err(failed(format!(
            "GET {base}/api/health/ answered {}: {}",
            health.status(),
            health.text().await.unwrap_or_default()
        )));
    }
    step("the service answers /api/health/");

    let snapshot = format!(
        "s_setupcheck_{}",
        chrono::Utc::now().format("%Y%m%d%H%M%S%3f")
    );
    let seed = chrono::Utc::now().timestamp_millis() as u64;
    let records = SHAPE.records(seed);
    let expected_posts = SHAPE.posts() as i64;
    let expected_errors = SHAPE.input_errors() as i64;
    let body = serde_json::to_vec(&records).map_err(|e| failed(e.to_string()))?;
    let token = credentials.webhook_tokens[0].expose();
    let request = client
        .post(format!("{base}/api/brightdata/webhook/"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("snapshot-id", &snapshot)
        .header("dca-filename", format!("{snapshot}.json"));
    let answer = signed(request, config, &body)
        .body(body)
        .send()
        .await
        .map_err(|e| failed(format!("POST the test delivery: {e}")))?;
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(failed(format!(
            "the test delivery was refused: {status} {text}"
        )));
    }
    step(&format!(
        "delivery of {} records for snapshot {snapshot} answered {status}",
        records.len()
    ));

    let notify_body = serde_json::to_vec(&serde_json::json!({
        "snapshot_id": snapshot,
        "status": "ready",
        "dataset_id": SHAPE.dataset_id(),
    }))
    .map_err(|e| failed(e.to_string()))?;
    let notify = signed(
        client
            .post(format!("{base}/api/brightdata/notify/"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json"),
        config,
        &notify_body,
    )
    .body(notify_body)
    .send()
    .await
    .map_err(|e| failed(format!("POST the test notify: {e}")))?;
    if !notify.status().is_success() {
        let status = notify.status();
        return Err(failed(format!(
            "the test notify was refused: {status} {}",
            notify.text().await.unwrap_or_default()
        )));
    }
    step(&format!("notify `ready` answered {}", notify.status()));

    // What the service made of it, through the admin monitor API (202 deliveries are extracted
    // in the background: wait a little for them).
    let admin = credentials.admin_token.expose();
    let url = format!("{base}/api/brightdata/webhook/snapshots/{snapshot}/");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last;
    loop {
        match verify(&client, &url, admin, expected_posts, expected_errors).await {
            Ok(detail) => {
                step(&format!(
                    "delivery {} is {}: {} posts and {} input errors counted",
                    detail.deliveries[0].id,
                    detail.deliveries[0].state,
                    detail.deliveries[0].records,
                    detail.deliveries[0].input_errors
                ));
                step(&format!(
                    "snapshot {snapshot} moved to `{}` (notified, {} posts stored)",
                    detail.snapshot.status, detail.stored_posts
                ));
                println!("\nSetup works: BrightData deliveries to {base} will be stored.");
                return Ok(());
            }
            Err(Check::Final(reason)) => return Err(failed(reason)),
            Err(Check::NotYet(reason)) => last = reason,
        }
        if Instant::now() > deadline {
            return Err(failed(format!(
                "after 15 s the test delivery is still not stored as expected: {last}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// With a signing secret configured: signed and timestamped the way the service checks it
/// (`X-BrightData-Signature`, `X-Timestamp`).
fn signed(
    request: reqwest::RequestBuilder,
    config: &Config,
    body: &[u8],
) -> reqwest::RequestBuilder {
    match config.security.signing_secrets.first() {
        Some(secret) => request
            .header(
                "x-brightdata-signature",
                crate::ingest::selftest::sign(secret.expose(), body),
            )
            .header("x-timestamp", chrono::Utc::now().timestamp().to_string()),
        None => request,
    }
}

enum Check {
    /// Cannot get better by waiting.
    Final(String),
    NotYet(String),
}

async fn verify(
    client: &reqwest::Client,
    url: &str,
    admin: &str,
    posts: i64,
    input_errors: i64,
) -> Result<SnapshotDetailView, Check> {
    let answer = client
        .get(url)
        .bearer_auth(admin)
        .send()
        .await
        .map_err(|e| Check::Final(format!("GET {url}: {e}")))?;
    match answer.status() {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            return Err(Check::Final(format!(
                "the monitor API refused the admin token ({}): is WEBHOOK_ADMIN_TOKEN (or DATA_DIR's admin_token) the server's?",
                answer.status()
            )));
        }
        StatusCode::NOT_FOUND => return Err(Check::NotYet("the snapshot is not recorded".into())),
        other => return Err(Check::Final(format!("GET {url} answered {other}"))),
    }
    let detail: SnapshotDetailView = answer
        .json()
        .await
        .map_err(|e| Check::Final(format!("GET {url}: unexpected answer ({e})")))?;
    let Some(delivery) = detail.deliveries.first() else {
        return Err(Check::NotYet(
            "no delivery is recorded for the snapshot".into(),
        ));
    };
    if delivery.state != DeliveryState::Stored.as_str() {
        return Err(Check::NotYet(format!(
            "the delivery is `{}`",
            delivery.state
        )));
    }
    if delivery.records != posts || delivery.input_errors != input_errors {
        return Err(Check::Final(format!(
            "the delivery is stored with {} posts and {} input errors; {posts} and {input_errors} were sent",
            delivery.records, delivery.input_errors
        )));
    }
    if detail.notifications.is_empty() {
        return Err(Check::NotYet("the notify is not recorded".into()));
    }
    if detail.snapshot.status != "delivered" || detail.snapshot.ready_ms.is_none() {
        return Err(Check::NotYet(format!(
            "the snapshot is `{}`, not yet `delivered` after `ready`",
            detail.snapshot.status
        )));
    }
    Ok(detail)
}
