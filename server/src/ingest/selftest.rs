//! The security self-test (`POST /api/brightdata/webhook/test/`): crafted requests go through the
//! real verification stack — the same layers in the same order, a fresh rate limiter with the
//! configured rate, and the handler's checks in dry-run mode (nothing stored, no events) — and each
//! check reports what it expected and what it got. Configuration weaknesses come as warnings.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::middleware;
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower::ServiceExt;

use super::rate_limit::RateLimit;
use super::{Ingest, guarded, size_limit, webhook};
use crate::config::Config;
use crate::credentials::Credentials;
use crate::public_url::PublicUrl;

pub use app::types::{
    SelfTestCheck as Check, SelfTestReport as Report, SelfTestWarning as Warning,
};

/// A burst larger than this is not exercised (it would take too many requests).
const MAX_BURST_TESTED: u32 = 2000;
const PLACEHOLDERS: [&str; 6] = [
    "your-secure-webhook-token",
    "your-token",
    "changeme",
    "secret",
    "token",
    "password",
];

pub async fn run(
    ingest: Arc<Ingest>,
    config: &Config,
    public: &PublicUrl,
    credentials: &Credentials,
) -> Report {
    let security = &config.security;
    let rate = RateLimit::new(security.rate_limit_per_minute, security.rate_burst);
    let router: Router = guarded(
        Router::new().route(
            "/check",
            post(webhook::dry_run).layer(middleware::from_fn_with_state(
                ingest.limits.max_body_bytes,
                size_limit,
            )),
        ),
        ingest.clone(),
        &rate,
        false,
    )
    .with_state(ingest.clone());

    let allowed_ip = allowed_address(&security.allowed_ips);
    let token = credentials.webhook_tokens[0].expose().to_owned();
    let secret = security
        .signing_secrets
        .first()
        .map(|s| s.expose().to_owned());
    let body =
        br#"[{"post_id":"selftest_1","url":"https://www.instagram.com/p/selftest/"}]"#.to_vec();
    let now = chrono::Utc::now().timestamp();
    let mut checks = Vec::new();

    // A request as BrightData (or a signing sender) would send it.
    let good = || {
        let mut r = Request::post("/check")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        if let Some(secret) = &secret {
            r = r.header("x-brightdata-signature", sign(secret, &body));
        }
        r
    };

    let status = send(&router, allowed_ip, good().body(Body::from(body.clone()))).await;
    checks.push(check(
        "good_token",
        "a correct token (and signature when configured)",
        StatusCode::OK,
        status,
    ));

    let bad = Request::post("/check")
        .header("authorization", "Bearer not-the-token")
        .body(Body::from(body.clone()));
    checks.push(check(
        "bad_token",
        "a wrong token",
        StatusCode::UNAUTHORIZED,
        send(&router, allowed_ip, bad).await,
    ));

    let forged = Request::post("/check")
        .header("authorization", format!("Bearer {token}"))
        .header(
            "x-brightdata-signature",
            format!("sha256={}", "0".repeat(64)),
        )
        .body(Body::from(body.clone()));
    checks.push(check(
        "bad_signature",
        "a signature that does not match the body",
        StatusCode::UNAUTHORIZED,
        send(&router, allowed_ip, forged).await,
    ));

    let stale_at = now - security.max_timestamp_age.as_secs() as i64 - 60;
    let stale = good()
        .header("x-brightdata-timestamp", stale_at.to_string())
        .body(Body::from(body.clone()));
    checks.push(check(
        "stale_timestamp",
        "a timestamp older than WEBHOOK_MAX_TIMESTAMP_AGE",
        StatusCode::UNAUTHORIZED,
        send(&router, allowed_ip, stale).await,
    ));

    match outside_address(&security.allowed_ips) {
        Some(outsider) if !security.allowed_ips.is_empty() => {
            let r = good().body(Body::from(body.clone()));
            checks.push(check(
                "disallowed_ip",
                &format!("a request from {outsider}, outside WEBHOOK_ALLOWED_IPS"),
                StatusCode::FORBIDDEN,
                send(&router, outsider, r).await,
            ));
        }
        _ => {
            let r = good().body(Body::from(body.clone()));
            checks.push(check(
                "disallowed_ip",
                "WEBHOOK_ALLOWED_IPS is empty: any address is let through",
                StatusCode::OK,
                send(&router, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 250)), r).await,
            ));
        }
    }

    let oversize = good()
        .header(
            "content-length",
            (ingest.limits.max_body_bytes + 1).to_string(),
        )
        .body(Body::empty());
    checks.push(check(
        "oversize",
        "a declared body above WEBHOOK_MAX_BODY_BYTES",
        StatusCode::PAYLOAD_TOO_LARGE,
        send(&router, allowed_ip, oversize).await,
    ));

    let zipped = gzip(&body);
    let mut gz = Request::post("/check")
        .header("authorization", format!("Bearer {token}"))
        .header("content-encoding", "gzip");
    if let Some(secret) = &secret {
        gz = gz.header("x-brightdata-signature", sign(secret, &zipped));
    }
    checks.push(check(
        "gzip",
        "a gzip body is recognised and inflated",
        StatusCode::OK,
        send(&router, allowed_ip, gz.body(Body::from(zipped))).await,
    ));

    // Inflation stops at the limit: a body inflating just past it (capped at 64 MiB for the test).
    let limit = ingest.limits.max_inflated_bytes.min(64 << 20);
    let bomb = gzip_blanks(limit as usize + 1024);
    let mut b = Request::post("/check")
        .header("authorization", format!("Bearer {token}"))
        .header("content-encoding", "gzip");
    if let Some(secret) = &secret {
        b = b.header("x-brightdata-signature", sign(secret, &bomb));
    }
    checks.push(check(
        "gzip_bomb",
        &format!("{} bytes of gzip inflating past {limit} bytes", bomb.len()),
        StatusCode::PAYLOAD_TOO_LARGE,
        send(&router, allowed_ip, b.body(Body::from(bomb))).await,
    ));

    // Last, as it spends the fresh limiter's budget for one test address.
    let burst = security.rate_burst;
    if burst <= MAX_BURST_TESTED {
        // From an allowed address, so the allow-list does not answer first.
        let mut last = StatusCode::OK;
        for _ in 0..=burst {
            let r = Request::post("/check").body(Body::empty());
            last = send(&router, allowed_ip, r).await;
        }
        checks.push(check(
            "rate_limit",
            &format!(
                "{} requests at once from one address (burst {burst})",
                burst + 1
            ),
            StatusCode::TOO_MANY_REQUESTS,
            last,
        ));
    } else {
        checks.push(Check {
            name: "rate_limit".into(),
            description: format!("burst {burst} is above {MAX_BURST_TESTED}: not exercised"),
            expected: "429".into(),
            actual: "not run".into(),
            passed: true,
        });
    }

    let warnings = warnings(config, public, credentials);
    Report {
        passed: checks.iter().all(|c| c.passed),
        checks,
        warnings,
    }
}

fn check(name: &'static str, description: &str, expected: StatusCode, actual: StatusCode) -> Check {
    Check {
        name: name.into(),
        description: description.to_owned(),
        expected: expected.as_u16().to_string(),
        actual: actual.as_u16().to_string(),
        passed: expected == actual,
    }
}

async fn send(
    router: &Router,
    from: IpAddr,
    request: Result<Request<Body>, axum::http::Error>,
) -> StatusCode {
    let Ok(mut request) = request else {
        return StatusCode::INTERNAL_SERVER_ERROR;
    };
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::new(from, 40_000)));
    match router.clone().oneshot(request).await {
        Ok(response) => response.status(),
        Err(never) => match never {},
    }
}

/// `sha256=<hex HMAC-SHA256 of the body>`, as `X-BrightData-Signature` carries it.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

fn gzip_blanks(size: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let blanks = vec![b' '; 1 << 20];
    let mut left = size;
    let _ = encoder.write_all(b"[");
    while left > 0 {
        let n = left.min(blanks.len());
        let _ = encoder.write_all(&blanks[..n]);
        left -= n;
    }
    encoder.finish().unwrap_or_default()
}

/// An address inside the allow-list (loopback when it is empty).
fn allowed_address(allowed: &[ipnet::IpNet]) -> IpAddr {
    allowed
        .first()
        .map(|net| net.addr())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A documentation address outside every allowed network.
fn outside_address(allowed: &[ipnet::IpNet]) -> Option<IpAddr> {
    [
        "203.0.113.250",
        "198.51.100.250",
        "192.0.2.250",
        "2001:db8:ffff::250",
    ]
    .iter()
    .filter_map(|a| a.parse::<IpAddr>().ok())
    .find(|ip| !allowed.iter().any(|net| net.contains(ip)))
}

fn warnings(config: &Config, public: &PublicUrl, credentials: &Credentials) -> Vec<Warning> {
    let security = &config.security;
    let mut out = Vec::new();
    for token in &credentials.webhook_tokens {
        let value = token.expose();
        if PLACEHOLDERS.iter().any(|p| value.eq_ignore_ascii_case(p)) {
            out.push(Warning {
                setting: "BRIGHTDATA_WEBHOOK_TOKEN".into(),
                severity: "warning".into(),
                message: "a webhook token is a documentation placeholder: anyone who read the guide knows it".into(),
            });
        } else if value.len() < 24 {
            out.push(Warning {
                setting: "BRIGHTDATA_WEBHOOK_TOKEN".into(),
                severity: "warning".into(),
                message: format!(
                    "a webhook token has only {} characters: use at least 32 random characters",
                    value.len()
                ),
            });
        }
        if token == &credentials.admin_token {
            out.push(Warning {
                setting: "WEBHOOK_ADMIN_TOKEN".into(),
                severity: "warning".into(),
                message: "the admin token equals a webhook token: whoever sends data can read the monitor".into(),
            });
        }
    }
    if credentials.admin_token.expose().len() < 24 {
        out.push(Warning {
            setting: "WEBHOOK_ADMIN_TOKEN".into(),
            severity: "warning".into(),
            message: "the admin token is shorter than 24 characters".into(),
        });
    }
    let (severity, message) = if public.reachable() {
        (
            "info",
            format!("public URL {} (found by {})", public.url, public.describe()),
        )
    } else {
        let url = &public.url;
        let how = public.describe();
        (
            "warning",
            format!("public URL {url} is not reachable from BrightData ({how})"),
        )
    };
    out.push(Warning {
        setting: "BRIGHTDATA_BASE_URL".into(),
        severity: severity.into(),
        message,
    });
    for warning in &public.warnings {
        out.push(Warning {
            setting: "BRIGHTDATA_BASE_URL".into(),
            severity: "warning".into(),
            message: warning.clone(),
        });
    }
    let production = config.http.platform.is_some() || public.is_https();
    if security.allowed_ips.is_empty() && production {
        out.push(Warning {
            setting: "WEBHOOK_ALLOWED_IPS".into(),
            severity: "warning".into(),
            message:
                "the allow-list is empty in production: set it to BrightData's published addresses"
                    .into(),
        });
    }
    if !security.require_signature {
        out.push(Warning {
            setting: "WEBHOOK_REQUIRE_SIGNATURE".into(),
            severity: "info".into(),
            message: "signatures are optional; BrightData does not sign, so the token is its only credential".into(),
        });
    }
    if let Some(platform) = &config.http.platform
        && security.trusted_proxies.is_empty()
    {
        out.push(Warning {
            setting: "WEBHOOK_TRUSTED_PROXIES".into(),
            severity: "warning".into(),
            message: format!(
                "running on {platform} behind its router but no trusted proxies are set: every client looks like the router (one rate-limit bucket, allow-list useless)"
            ),
        });
    }
    if security.cert_pinning {
        out.push(Warning {
            setting: "WEBHOOK_ENABLE_CERT_PINNING".into(),
            severity: "info".into(),
            message: "certificate pinning is on, but the service makes no outbound calls yet"
                .into(),
        });
    }
    out
}
