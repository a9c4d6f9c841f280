use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use delivery::secret::Secret;

use super::*;

fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, OsString> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), OsString::from(v)))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

fn error(var: &str, value: &str) -> ConfigError {
    config(&[(var, value)]).expect_err(&format!("{var}={value:?} should be rejected"))
}

#[test]
fn defaults_match_the_guide() {
    let c = config(&[]).unwrap();
    assert_eq!(c.http.host, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    assert_eq!(c.http.port, 8000);
    assert!(c.http.public_url.is_none());
    assert_eq!(c.http.site_root, PathBuf::from("target/site"));
    assert_eq!(c.storage.data_dir, PathBuf::from("data"));
    assert_eq!(
        c.storage.database_url.as_str(),
        "sqlite://data/track-futura.db"
    );
    assert!(c.security.webhook_tokens.is_empty());
    assert!(c.security.admin_token.is_none());
    assert_eq!(c.security.rate_limit_per_minute, 100);
    assert_eq!(c.security.max_timestamp_age, Duration::from_secs(300));
    assert!(c.security.allowed_ips.is_empty());
    assert!(!c.security.cert_pinning);
    assert_eq!(c.security.rate_burst, 100);
    assert!(c.security.trusted_proxies.is_empty());
    assert_eq!(c.security.proxy_header, ProxyHeader::XForwardedFor);
    assert!(c.security.signing_secrets.is_empty());
    assert!(!c.security.require_signature);
    assert_eq!(c.ingest.max_body_bytes, 1 << 30);
    assert_eq!(c.ingest.max_inflated_bytes, 4 << 30);
    assert_eq!(c.ingest.max_stored_body_bytes, 64 << 20);
    assert_eq!(c.ingest.inline_memory_bytes, 512 << 20);
    assert!(c.ingest.dataset_platforms.is_empty());
    assert_eq!(c.monitor.max_events, 100_000);
    assert!(c.monitor.metrics_token.is_none());
    assert_eq!(c.monitor.session_ttl, Duration::from_secs(43_200));
    assert_eq!(c.monitor.alert_interval, Duration::from_secs(15));
    assert_eq!(c.monitor.alert_window, Duration::from_secs(300));
    assert_eq!(c.monitor.alert_min_sample, 20);
    assert_eq!(c.monitor.security_spike_per_minute, 60);
    assert_eq!(c.monitor.snapshot_stall_after, Duration::from_secs(3600));
    assert_eq!(c.monitor.delivery_stale_after, Duration::from_secs(86_400));
    assert_eq!(c.monitor.retention_interval, Duration::from_secs(60));
    assert!(c.http.platform.is_none());
    assert_eq!(c.monitor.metrics_retention, Duration::from_secs(3600));
    assert_eq!(c.monitor.error_threshold, 0.1);
    assert_eq!(c.monitor.response_time_threshold, Duration::from_secs(5));
    assert!(!c.ngrok.enabled);
    assert!(c.ngrok.auth_token.is_none());
    assert!(c.ngrok.subdomain.is_none());
    assert_eq!(c.ngrok.region, NgrokRegion::Us);
    assert_eq!(c.logging.filter, "info");
    assert!(!c.logging.debug);
    assert_eq!(c.logging.format, LogFormat::Text);
    assert_eq!(c.logging.dir, PathBuf::from("logs"));
}

#[test]
fn every_variable_is_read() {
    let c = config(&[
        ("HOST", "127.0.0.1"),
        ("PORT", "9000"),
        ("BRIGHTDATA_BASE_URL", "https://hooks.example.com/base"),
        ("LEPTOS_SITE_ROOT", "/srv/site"),
        ("DATA_DIR", "/var/lib/tf"),
        ("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tf"),
        ("BRIGHTDATA_WEBHOOK_TOKEN", "old-token, new-token"),
        ("WEBHOOK_ADMIN_TOKEN", "admin-token"),
        ("WEBHOOK_RATE_LIMIT", "500"),
        ("WEBHOOK_MAX_TIMESTAMP_AGE", "60"),
        (
            "WEBHOOK_ALLOWED_IPS",
            "1.2.3.4, 10.0.0.0/8,2001:db8::/32,::1",
        ),
        ("WEBHOOK_ENABLE_CERT_PINNING", "TRUE"),
        (
            "BRIGHTDATA_PINNED_SPKI_SHA256",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=, 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ),
        ("WEBHOOK_RATE_BURST", "20"),
        ("WEBHOOK_TRUSTED_PROXIES", "10.0.0.0/8,fd00::/8"),
        ("WEBHOOK_PROXY_HEADER", "Forwarded"),
        ("WEBHOOK_SIGNING_SECRET", "whsec_abc,other"),
        ("WEBHOOK_REQUIRE_SIGNATURE", "on"),
        ("WEBHOOK_MAX_BODY_BYTES", "512MiB"),
        ("WEBHOOK_MAX_INFLATED_BYTES", "2GB"),
        ("WEBHOOK_MAX_STORED_BODY_BYTES", "0"),
        ("WEBHOOK_INLINE_MEMORY_BYTES", "1GiB"),
        ("WEBHOOK_DATASET_PLATFORMS", "gd_x=instagram"),
        ("WEBHOOK_MAX_EVENTS", "50000"),
        ("WEBHOOK_METRICS_RETENTION", "86400"),
        ("WEBHOOK_ERROR_THRESHOLD", "0.25"),
        ("WEBHOOK_RESPONSE_TIME_THRESHOLD", "1.5"),
        ("METRICS_TOKEN", "prom-token"),
        ("WEBHOOK_SESSION_TTL", "600"),
        ("WEBHOOK_ALERT_INTERVAL", "2"),
        ("WEBHOOK_ALERT_WINDOW", "60"),
        ("WEBHOOK_ALERT_MIN_SAMPLE", "5"),
        ("WEBHOOK_SECURITY_SPIKE_PER_MINUTE", "7"),
        ("WEBHOOK_SNAPSHOT_STALL_AFTER", "30"),
        ("WEBHOOK_DELIVERY_STALE_AFTER", "40"),
        ("WEBHOOK_RETENTION_INTERVAL", "5"),
        ("DYNO", "web.1"),
        ("NGROK_ENABLED", "yes"),
        ("NGROK_AUTH_TOKEN", "ngrok-secret"),
        ("NGROK_SUBDOMAIN", "my-hooks-1"),
        ("NGROK_REGION", "EU"),
        ("RUST_LOG", "server=debug,tower_http=info"),
        ("DEBUG", "1"),
        ("LOG_FORMAT", "json"),
        ("LOG_DIR", "/var/log/tf"),
    ])
    .unwrap();
    assert_eq!(c.http.bind_address(), "127.0.0.1:9000".parse().unwrap());
    assert_eq!(
        c.http.public_url.unwrap().as_str(),
        "https://hooks.example.com/base"
    );
    assert_eq!(c.http.site_root, PathBuf::from("/srv/site"));
    assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/tf"));
    assert!(!c.storage.database_url.is_sqlite());
    let tokens: Vec<_> = c
        .security
        .webhook_tokens
        .iter()
        .map(Secret::expose)
        .collect();
    assert_eq!(tokens, ["old-token", "new-token"]);
    assert_eq!(c.security.admin_token.unwrap().expose(), "admin-token");
    assert_eq!(c.security.rate_limit_per_minute, 500);
    assert_eq!(c.security.max_timestamp_age, Duration::from_secs(60));
    let nets: Vec<String> = c
        .security
        .allowed_ips
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        nets,
        ["1.2.3.4/32", "10.0.0.0/8", "2001:db8::/32", "::1/128"]
    );
    assert!(c.security.cert_pinning);
    assert_eq!(c.security.rate_burst, 20);
    assert_eq!(c.security.trusted_proxies.len(), 2);
    assert_eq!(c.security.proxy_header, ProxyHeader::Forwarded);
    assert_eq!(c.security.signing_secrets.len(), 2);
    assert!(c.security.require_signature);
    assert_eq!(c.ingest.max_body_bytes, 512 << 20);
    assert_eq!(c.ingest.max_inflated_bytes, 2_000_000_000);
    assert_eq!(c.ingest.max_stored_body_bytes, 0);
    assert_eq!(c.ingest.inline_memory_bytes, 1 << 30);
    assert_eq!(
        c.ingest.dataset_platforms,
        [("gd_x".to_owned(), "instagram".to_owned())]
    );
    assert_eq!(c.monitor.max_events, 50_000);
    assert_eq!(c.monitor.metrics_retention, Duration::from_secs(86_400));
    assert_eq!(c.monitor.error_threshold, 0.25);
    assert_eq!(
        c.monitor.response_time_threshold,
        Duration::from_millis(1500)
    );
    assert_eq!(c.monitor.metrics_token.unwrap().expose(), "prom-token");
    assert_eq!(c.monitor.session_ttl, Duration::from_secs(600));
    assert_eq!(c.monitor.alert_interval, Duration::from_secs(2));
    assert_eq!(c.monitor.alert_window, Duration::from_secs(60));
    assert_eq!(c.monitor.alert_min_sample, 5);
    assert_eq!(c.monitor.security_spike_per_minute, 7);
    assert_eq!(c.monitor.snapshot_stall_after, Duration::from_secs(30));
    assert_eq!(c.monitor.delivery_stale_after, Duration::from_secs(40));
    assert_eq!(c.monitor.retention_interval, Duration::from_secs(5));
    assert_eq!(c.http.platform.as_deref(), Some("Heroku"));
    assert!(c.ngrok.enabled);
    assert_eq!(c.ngrok.auth_token.unwrap().expose(), "ngrok-secret");
    assert_eq!(c.ngrok.subdomain.as_deref(), Some("my-hooks-1"));
    assert_eq!(c.ngrok.region, NgrokRegion::Eu);
    assert_eq!(c.logging.filter, "server=debug,tower_http=info");
    assert!(c.logging.debug);
    assert_eq!(c.logging.format, LogFormat::Json);
    assert_eq!(c.logging.dir, PathBuf::from("/var/log/tf"));
}

#[test]
fn data_dir_moves_the_default_database() {
    let c = config(&[("DATA_DIR", "/tmp/x")]).unwrap();
    assert_eq!(
        c.storage.database_url.as_str(),
        "sqlite:///tmp/x/track-futura.db"
    );
}

#[test]
fn debug_raises_the_default_log_level() {
    assert_eq!(
        config(&[("DEBUG", "true")]).unwrap().logging.filter,
        "debug"
    );
}

#[test]
fn blank_values_take_the_default() {
    let c = config(&[("WEBHOOK_RATE_LIMIT", "  "), ("WEBHOOK_ALLOWED_IPS", "")]).unwrap();
    assert_eq!(c.security.rate_limit_per_minute, 100);
    assert!(c.security.allowed_ips.is_empty());
}

#[test]
fn every_bad_value_is_rejected_with_its_variable_named() {
    let cases = [
        ("HOST", "localhost"),
        ("HOST", "300.1.1.1"),
        ("PORT", "http"),
        ("PORT", "70000"),
        ("PORT", "-1"),
        ("BRIGHTDATA_BASE_URL", "hooks.example.com"),
        ("BRIGHTDATA_BASE_URL", "ftp://hooks.example.com"),
        ("BRIGHTDATA_BASE_URL", "https://"),
        ("DATABASE_URL", "mysql://root@localhost/x"),
        ("DATABASE_URL", "data.db"),
        ("WEBHOOK_RATE_LIMIT", "abc"),
        ("WEBHOOK_RATE_LIMIT", "0"),
        ("WEBHOOK_RATE_LIMIT", "-5"),
        ("WEBHOOK_RATE_LIMIT", "1.5"),
        ("WEBHOOK_RATE_LIMIT", "99999999999"),
        ("WEBHOOK_MAX_TIMESTAMP_AGE", "5m"),
        ("WEBHOOK_MAX_TIMESTAMP_AGE", "0"),
        ("WEBHOOK_ALLOWED_IPS", "10.0.0.0/33"),
        ("WEBHOOK_ALLOWED_IPS", "1.2.3"),
        ("WEBHOOK_ALLOWED_IPS", "1.2.3.4;5.6.7.8"),
        ("WEBHOOK_ALLOWED_IPS", "2001:db8::/129"),
        ("WEBHOOK_ALLOWED_IPS", "brightdata-ip-range"),
        ("WEBHOOK_ENABLE_CERT_PINNING", "maybe"),
        ("WEBHOOK_RATE_BURST", "0"),
        ("WEBHOOK_TRUSTED_PROXIES", "10.0.0.0/40"),
        ("WEBHOOK_PROXY_HEADER", "x-real-ip"),
        ("WEBHOOK_REQUIRE_SIGNATURE", "sometimes"),
        ("WEBHOOK_MAX_BODY_BYTES", "1TB-ish"),
        ("WEBHOOK_MAX_BODY_BYTES", "12"),
        ("WEBHOOK_MAX_BODY_BYTES", "99999999999GiB"),
        ("WEBHOOK_MAX_INFLATED_BYTES", "-1"),
        ("WEBHOOK_MAX_STORED_BODY_BYTES", "lots"),
        ("WEBHOOK_DATASET_PLATFORMS", "gd_x"),
        ("WEBHOOK_MAX_EVENTS", "lots"),
        ("WEBHOOK_MAX_EVENTS", "0"),
        ("WEBHOOK_SESSION_TTL", "12h"),
        ("WEBHOOK_ALERT_INTERVAL", "0"),
        ("WEBHOOK_ALERT_WINDOW", "five"),
        ("WEBHOOK_ALERT_MIN_SAMPLE", "0"),
        ("WEBHOOK_SECURITY_SPIKE_PER_MINUTE", "-3"),
        ("WEBHOOK_SNAPSHOT_STALL_AFTER", "1.5"),
        ("WEBHOOK_DELIVERY_STALE_AFTER", "1d"),
        ("WEBHOOK_RETENTION_INTERVAL", "x"),
        ("WEBHOOK_METRICS_RETENTION", "1h"),
        ("WEBHOOK_METRICS_RETENTION", "0"),
        ("WEBHOOK_ERROR_THRESHOLD", "2"),
        ("WEBHOOK_ERROR_THRESHOLD", "-0.1"),
        ("WEBHOOK_ERROR_THRESHOLD", "10%"),
        ("WEBHOOK_ERROR_THRESHOLD", "NaN"),
        ("WEBHOOK_RESPONSE_TIME_THRESHOLD", "0"),
        ("WEBHOOK_RESPONSE_TIME_THRESHOLD", "fast"),
        ("WEBHOOK_RESPONSE_TIME_THRESHOLD", "inf"),
        ("NGROK_ENABLED", "enabled"),
        ("NGROK_SUBDOMAIN", "My_Hooks"),
        ("NGROK_SUBDOMAIN", "-hooks"),
        ("NGROK_REGION", "mars"),
        ("RUST_LOG", "server=loud"),
        ("DEBUG", "verbose"),
        ("LOG_FORMAT", "xml"),
    ];
    for (var, value) in cases {
        let err = error(var, value);
        assert_eq!(err.var, var, "{var}={value:?}");
        let line = err.to_string();
        assert!(line.starts_with(&format!("invalid {var}=")), "{line}");
        assert!(line.contains("expected "), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}

#[test]
fn the_issue_examples_read_well() {
    assert_eq!(
        error("WEBHOOK_RATE_LIMIT", "abc").to_string(),
        "invalid WEBHOOK_RATE_LIMIT=\"abc\": expected a whole number of requests per minute, at least 1 (e.g. 100)"
    );
    assert!(
        error("WEBHOOK_ALLOWED_IPS", "10.0.0.0/33")
            .to_string()
            .contains("CIDR")
    );
    assert!(
        error("WEBHOOK_ERROR_THRESHOLD", "2")
            .to_string()
            .contains("between 0 and 1")
    );
}

#[test]
fn bad_secrets_are_rejected_without_echoing_them() {
    for (var, value) in [
        ("BRIGHTDATA_WEBHOOK_TOKEN", "Bearer s3cr3t-value"),
        ("BRIGHTDATA_WEBHOOK_TOKEN", "s3cr3t value"),
        ("BRIGHTDATA_WEBHOOK_TOKEN", "s3cr3t-value,,other"),
        ("WEBHOOK_ADMIN_TOKEN", "s3cr3t-value,another"),
        ("NGROK_AUTH_TOKEN", "s3cr3t\tvalue"),
        ("WEBHOOK_SIGNING_SECRET", "s3cr3t-value,,x"),
    ] {
        let err = error(var, value);
        assert_eq!(err.var, var);
        assert!(err.value.is_none());
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }
}

#[test]
fn non_utf8_values_are_rejected() {
    use std::os::unix::ffi::OsStringExt;
    let err = Config::from_lookup(|name| {
        (name == "WEBHOOK_RATE_LIMIT").then(|| OsString::from_vec(vec![0x31, 0xff]))
    })
    .unwrap_err();
    assert_eq!(err.var, "WEBHOOK_RATE_LIMIT");
    assert!(err.to_string().contains("UTF-8"));
}

#[test]
fn debug_output_hides_secrets() {
    let c = config(&[
        ("BRIGHTDATA_WEBHOOK_TOKEN", "tok-aaaaaaaa"),
        ("WEBHOOK_ADMIN_TOKEN", "adm-bbbbbbbb"),
        ("NGROK_AUTH_TOKEN", "ngr-cccccccc"),
        ("DATABASE_URL", "postgres://app:pw-dddddddd@db:5432/tf"),
    ])
    .unwrap();
    let printed = format!("{c:?} {c:#?}");
    for secret in [
        "tok-aaaaaaaa",
        "adm-bbbbbbbb",
        "ngr-cccccccc",
        "pw-dddddddd",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked");
    }
    assert!(printed.contains("postgres://app:***@db:5432/tf"));
}

#[test]
fn database_url_secrets_in_the_query_are_masked_too() {
    for (url, shown) in [
        (
            "postgres://db:5432/tf?user=app&password=pw-eeeeeeee",
            "postgres://db:5432/tf?user=app&password=***",
        ),
        (
            "postgres://app@db/tf?sslmode=require&sslpassword=pw-ffffffff&PassFile=/x",
            "postgres://app@db/tf?sslmode=require&sslpassword=***&PassFile=***",
        ),
        (
            "postgres://app:pw-gggggggg@db/tf?application_name=tf",
            "postgres://app:***@db/tf?application_name=tf",
        ),
        (
            "sqlite://data/track-futura.db",
            "sqlite://data/track-futura.db",
        ),
    ] {
        let parsed: DatabaseUrl = url.parse().unwrap();
        assert_eq!(parsed.redacted(), shown, "{url}");
        assert!(!format!("{parsed:?}").contains("pw-"), "{url}");
    }
}

#[test]
fn sizes() {
    assert_eq!(parse_bytes("1048576"), Some(1 << 20));
    assert_eq!(parse_bytes("64MiB"), Some(64 << 20));
    assert_eq!(parse_bytes("64 mib"), Some(64 << 20));
    assert_eq!(parse_bytes("1GB"), Some(1_000_000_000));
    assert_eq!(parse_bytes("100"), None, "below 1 KiB");
    assert_eq!(parse_bytes("1.5GiB"), None);
    assert_eq!(parse_bytes("GiB"), None);
}
