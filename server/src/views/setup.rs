//! The setup view: where BrightData must send (the URLs with the base URL in effect), how the token
//! is supplied, and every setting with its value (secrets only as "set" or "not set").

use app::types::{SettingView, SetupView};

use crate::config::{Config, LogFormat, ProxyHeader};
use crate::credentials::{Credentials, TokenSource};
use crate::paths::DASHBOARD_PATH;
use crate::public_url::{PublicUrl, Source, is_local};

/// The setup as seen by a request with these headers. The public URL in effect is configured or
/// detected (see `public_url`); when nothing was found, the base URL is the host the request
/// named (what the operator's browser reached), flagged unreachable.
pub fn view(
    config: &Config,
    public: &PublicUrl,
    credentials: &Credentials,
    host: Option<&str>,
) -> SetupView {
    let base_url = match public.source {
        Source::Local => host
            .filter(|h| !h.is_empty())
            .map(|host| format!("http://{host}"))
            .unwrap_or_else(|| public.url.clone()),
        _ => public.url.clone(),
    };
    let reachable = public.reachable() && !is_local(&base_url);
    let token_source = match &credentials.webhook_source {
        TokenSource::Environment => "BRIGHTDATA_WEBHOOK_TOKEN".to_owned(),
        TokenSource::File(path) | TokenSource::Generated(path) => {
            format!("the file {}", path.display())
        }
    };
    SetupView {
        data_url: format!("{base_url}/api/brightdata/webhook/"),
        notify_url: format!("{base_url}/api/brightdata/notify/"),
        dashboard_url: format!("{base_url}{DASHBOARD_PATH}"),
        auth_header: "Bearer <webhook token>".to_owned(),
        token_source,
        base_url,
        base_url_source: public.describe(),
        base_url_warnings: public.warnings.clone(),
        reachable,
        settings: settings(config),
    }
}

/// Every setting in effect, by its variable; secrets say only whether they are set.
fn settings(config: &Config) -> Vec<SettingView> {
    let secret = |set: bool, what: &str| {
        if set {
            format!("set ({what}, hidden)")
        } else {
            "not set".to_owned()
        }
    };
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "empty".to_owned()
        } else {
            items.join(", ")
        }
    };
    let seconds = |d: std::time::Duration| format!("{} s", d.as_secs());
    let s = &config.security;
    let i = &config.ingest;
    let m = &config.monitor;
    let rows: Vec<(&str, String)> = vec![
        (
            "BRIGHTDATA_BASE_URL",
            config
                .http
                .public_url
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_else(|| "not set".into()),
        ),
        (
            "BRIGHTDATA_WEBHOOK_TOKEN",
            secret(
                !s.webhook_tokens.is_empty(),
                &format!("{} token(s)", s.webhook_tokens.len()),
            ),
        ),
        (
            "WEBHOOK_ADMIN_TOKEN",
            secret(s.admin_token.is_some(), "1 token"),
        ),
        (
            "WEBHOOK_SIGNING_SECRET",
            secret(
                !s.signing_secrets.is_empty(),
                &format!("{} secret(s)", s.signing_secrets.len()),
            ),
        ),
        ("WEBHOOK_REQUIRE_SIGNATURE", s.require_signature.to_string()),
        (
            "WEBHOOK_RATE_LIMIT",
            format!("{} per minute", s.rate_limit_per_minute),
        ),
        ("WEBHOOK_RATE_BURST", s.rate_burst.to_string()),
        ("WEBHOOK_MAX_TIMESTAMP_AGE", seconds(s.max_timestamp_age)),
        (
            "WEBHOOK_ALLOWED_IPS",
            if s.allowed_ips.is_empty() {
                "empty (every address)".to_owned()
            } else {
                list(s.allowed_ips.iter().map(|n| n.to_string()).collect())
            },
        ),
        (
            "WEBHOOK_TRUSTED_PROXIES",
            list(s.trusted_proxies.iter().map(|n| n.to_string()).collect()),
        ),
        (
            "WEBHOOK_PROXY_HEADER",
            match s.proxy_header {
                ProxyHeader::XForwardedFor => "x-forwarded-for",
                ProxyHeader::Forwarded => "forwarded",
            }
            .to_owned(),
        ),
        ("WEBHOOK_ENABLE_CERT_PINNING", s.cert_pinning.to_string()),
        (
            "WEBHOOK_MAX_BODY_BYTES",
            format!("{} bytes", i.max_body_bytes),
        ),
        (
            "WEBHOOK_MAX_INFLATED_BYTES",
            format!("{} bytes", i.max_inflated_bytes),
        ),
        (
            "WEBHOOK_MAX_STORED_BODY_BYTES",
            format!("{} bytes", i.max_stored_body_bytes),
        ),
        (
            "WEBHOOK_INLINE_MEMORY_BYTES",
            format!("{} bytes", i.inline_memory_bytes),
        ),
        (
            "WEBHOOK_DATASET_PLATFORMS",
            list(
                i.dataset_platforms
                    .iter()
                    .map(|(id, p)| format!("{id}={p}"))
                    .collect(),
            ),
        ),
        ("WEBHOOK_MAX_EVENTS", m.max_events.to_string()),
        ("WEBHOOK_METRICS_RETENTION", seconds(m.metrics_retention)),
        ("WEBHOOK_ERROR_THRESHOLD", m.error_threshold.to_string()),
        (
            "WEBHOOK_RESPONSE_TIME_THRESHOLD",
            format!("{} s", m.response_time_threshold.as_secs_f64()),
        ),
        (
            "METRICS_TOKEN",
            secret(m.metrics_token.is_some(), "1 token"),
        ),
        ("WEBHOOK_SESSION_TTL", seconds(m.session_ttl)),
        ("WEBHOOK_ALERT_INTERVAL", seconds(m.alert_interval)),
        ("WEBHOOK_ALERT_WINDOW", seconds(m.alert_window)),
        ("WEBHOOK_ALERT_MIN_SAMPLE", m.alert_min_sample.to_string()),
        (
            "WEBHOOK_SECURITY_SPIKE_PER_MINUTE",
            m.security_spike_per_minute.to_string(),
        ),
        (
            "WEBHOOK_SNAPSHOT_STALL_AFTER",
            seconds(m.snapshot_stall_after),
        ),
        (
            "WEBHOOK_DELIVERY_STALE_AFTER",
            seconds(m.delivery_stale_after),
        ),
        ("WEBHOOK_RETENTION_INTERVAL", seconds(m.retention_interval)),
        (
            "WEBHOOK_BODY_RETENTION",
            m.body_retention
                .map(seconds)
                .unwrap_or_else(|| "0 (raw bodies kept for ever)".into()),
        ),
        ("NGROK_ENABLED", config.ngrok.enabled.to_string()),
        (
            "NGROK_AUTH_TOKEN",
            secret(config.ngrok.auth_token.is_some(), "1 token"),
        ),
        ("NGROK_REGION", config.ngrok.region.code().to_owned()),
        (
            "NGROK_SUBDOMAIN",
            config
                .ngrok
                .subdomain
                .clone()
                .unwrap_or_else(|| "not set".into()),
        ),
        ("NGROK_API_URL", config.ngrok.api_url.to_string()),
        ("BRIGHTDATA_API_URL", config.brightdata.api_url.to_string()),
        (
            "BRIGHTDATA_API_TOKEN",
            secret(config.brightdata.api_token.is_some(), "1 key"),
        ),
        (
            "BRIGHTDATA_PINNED_SPKI_SHA256",
            format!("{} pin(s)", config.brightdata.pinned_spki_sha256.len()),
        ),
        (
            "BRIGHTDATA_API_TIMEOUT",
            format!("{} s", config.brightdata.timeout.as_secs()),
        ),
        (
            "BRIGHTDATA_VERIFY_INTERVAL",
            format!("{} s", config.brightdata.verify_interval.as_secs()),
        ),
        (
            "BRIGHTDATA_VERIFY_SETTLE",
            format!("{} s", config.brightdata.verify_settle.as_secs()),
        ),
        (
            "SCRAPER_DRIFT",
            if config.drift.enabled { "on" } else { "off" }.to_owned(),
        ),
        (
            "SCRAPER_DRIFT_BASELINE",
            format!("{} snapshots", config.drift.thresholds.baseline),
        ),
        (
            "SCRAPER_DRIFT_MIN_RECORDS",
            config.drift.thresholds.min_records.to_string(),
        ),
        (
            "SCRAPER_DRIFT_HIGH",
            config.drift.thresholds.high.to_string(),
        ),
        ("SCRAPER_DRIFT_LOW", config.drift.thresholds.low.to_string()),
        ("DATABASE_URL", config.storage.database_url.redacted()),
        ("DATA_DIR", config.storage.data_dir.display().to_string()),
        ("HOST", config.http.host.to_string()),
        ("PORT", config.http.port.to_string()),
        (
            "platform",
            config
                .http
                .platform
                .clone()
                .unwrap_or_else(|| "none detected".into()),
        ),
        ("LOG_DIR", config.logging.dir.display().to_string()),
        (
            "LOG_FORMAT",
            match config.logging.format {
                LogFormat::Text => "text",
                LogFormat::Json => "json",
            }
            .to_owned(),
        ),
        (
            "LOG_MAX_FILE_BYTES",
            config.logging.max_file_bytes.to_string(),
        ),
        ("LOG_KEEP_FILES", config.logging.keep_files.to_string()),
        ("DEBUG", config.logging.debug.to_string()),
    ];
    rows.into_iter()
        .map(|(name, value)| SettingView {
            name: name.to_owned(),
            value,
        })
        .collect()
}
