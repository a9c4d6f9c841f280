//! Configuration: read once at start from environment variables into typed structs, validated.
//!
//! The variable names are the contract documented in the README. A value that is set but malformed
//! stops start-up with a one-line error naming the variable and the expected form: there is no silent
//! fallback to a default. A variable that is unset, or set to an empty string, takes its default.

use std::ffi::OsString;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

use crate::public_url::PublicUrl;
use crate::secret::Secret;

/// Everything the service is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: HttpConfig,
    pub storage: StorageConfig,
    pub security: SecurityConfig,
    pub ingest: IngestConfig,
    pub monitor: MonitorConfig,
    pub ngrok: NgrokConfig,
    pub brightdata: BrightDataApiConfig,
    pub logging: LoggingConfig,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HOST`: the address to bind (default `0.0.0.0`: BrightData must be able to reach us).
    pub host: IpAddr,
    /// `PORT` (default 8000; platforms set it).
    pub port: u16,
    /// `BRIGHTDATA_BASE_URL`: the public URL BrightData calls, when configured.
    pub public_url: Option<Url>,
    /// The public URL in effect: `BRIGHTDATA_BASE_URL`, else detected from the platform's
    /// variables (see `public_url`); start-up may still replace a local result by an ngrok tunnel.
    pub public: PublicUrl,
    /// `LEPTOS_SITE_ROOT` (default `target/site`): the built dashboard assets (JS, WASM, CSS).
    pub site_root: PathBuf,
    /// The hosting platform, detected from the variables it sets (`PLATFORM_APPLICATION_NAME`:
    /// Upsun / Platform.sh, `RAILWAY_ENVIRONMENT`: Railway, `DYNO`: Heroku); `None` elsewhere.
    pub platform: Option<String>,
    /// Connection limits and timeouts (see `http_server`).
    pub limits: HttpLimits,
}

/// What one client connection may take from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// `HTTP_HEADER_TIMEOUT` (default 30 s): a request's headers must be complete this long after
    /// the connection opened or the previous answer was sent; also how long an idle keep-alive
    /// connection is kept (hyper measures both on one clock).
    pub header_timeout: Duration,
    /// `HTTP_BODY_IDLE_TIMEOUT` (default 60 s): a body that sends nothing for this long while the
    /// server waits for it is cut off (408). A slow but steady upload is never cut.
    pub body_idle_timeout: Duration,
    /// `HTTP_MAX_CONNECTIONS` (default 1024): open connections served at once; more are answered
    /// 503 and closed.
    pub max_connections: usize,
    /// `HTTP_MAX_CONNECTIONS_PER_PEER` (default 128): open connections from one address (an IPv6
    /// peer by its /64; `WEBHOOK_TRUSTED_PROXIES` are exempt); more are answered 503 and closed.
    pub max_connections_per_peer: usize,
    /// `HTTP_WRITE_TIMEOUT` (default 60 s): an answer the client reads nothing of for this long
    /// closes its connection.
    pub write_timeout: Duration,
    /// `HTTP_SHUTDOWN_TIMEOUT` (default 30 s): on shutdown, how long in-flight requests may take
    /// to finish before their connections are closed.
    pub shutdown_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_peer: 128,
            write_timeout: Duration::from_secs(60),
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

impl HttpConfig {
    pub fn bind_address(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

#[derive(Debug, Clone)]
pub struct StorageConfig {
    /// `DATA_DIR` (default `./data`): the SQLite file and the generated tokens live here.
    pub data_dir: PathBuf,
    /// `DATABASE_URL` (default: `sqlite://<DATA_DIR>/track-futura.db`).
    pub database_url: DatabaseUrl,
}

#[derive(Debug, Clone)]
pub struct SecurityConfig {
    /// `BRIGHTDATA_WEBHOOK_TOKEN`: accepted webhook tokens (comma-separated, for rotation). Empty when
    /// unset: a token is then generated on first start and kept under `DATA_DIR`.
    pub webhook_tokens: Vec<Secret>,
    /// `WEBHOOK_ADMIN_TOKEN`: the credential of the monitor API and dashboard. Generated when unset.
    pub admin_token: Option<Secret>,
    /// `WEBHOOK_RATE_LIMIT`: requests per minute per client IP (default 100).
    pub rate_limit_per_minute: u32,
    /// `WEBHOOK_MAX_TIMESTAMP_AGE`: how far a signed timestamp may lie in the past or future (default 300 s).
    pub max_timestamp_age: Duration,
    /// `WEBHOOK_ALLOWED_IPS`: addresses and networks allowed to call the webhook; empty allows all.
    pub allowed_ips: Vec<IpNet>,
    /// `WEBHOOK_ENABLE_CERT_PINNING` (default false).
    pub cert_pinning: bool,
    /// `WEBHOOK_RATE_BURST`: requests a client may send at once before the per-minute rate applies
    /// (default: the rate limit, i.e. one minute's worth).
    pub rate_burst: u32,
    /// `WEBHOOK_TRUSTED_PROXIES`: networks of our own reverse proxies; only their forwarding header is
    /// believed. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// `WEBHOOK_PROXY_HEADER`: `x-forwarded-for` (default) or `forwarded`, whichever the proxies write.
    pub proxy_header: ProxyHeader,
    /// `WEBHOOK_SIGNING_SECRET`: secret(s) for signed requests (comma-separated for rotation).
    pub signing_secrets: Vec<Secret>,
    /// `WEBHOOK_REQUIRE_SIGNATURE` (default false): refuse requests without a valid signature.
    pub require_signature: bool,
}

/// Which forwarding header the trusted proxies append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    XForwardedFor,
    Forwarded,
}

#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// `WEBHOOK_MAX_BODY_BYTES`: largest body on the wire (default 1 GiB).
    pub max_body_bytes: u64,
    /// `WEBHOOK_MAX_INFLATED_BYTES`: largest body after gzip inflation (default 4 GiB).
    pub max_inflated_bytes: u64,
    /// `WEBHOOK_MAX_STORED_BODY_BYTES`: raw bodies (as received, usually gzip) up to this size are
    /// kept for replay (default 64 MiB).
    pub max_stored_body_bytes: u64,
    /// `WEBHOOK_INLINE_MEMORY_BYTES`: memory that deliveries stored inline (bodies up to 8 MiB) may
    /// hold at once, bodies and parsed records together (default 512 MiB, at most 4 GiB - 1).
    pub inline_memory_bytes: u64,
    /// `WEBHOOK_DATASET_PLATFORMS`: `gd_xxx=instagram,...`, added to the built-in dataset ids.
    pub dataset_platforms: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct MonitorConfig {
    /// `WEBHOOK_MAX_EVENTS`: how many events are kept (default 100000; see the README for why not 1000).
    pub max_events: u64,
    /// `WEBHOOK_METRICS_RETENTION`: how long events are kept (default 3600 s).
    pub metrics_retention: Duration,
    /// `WEBHOOK_ERROR_THRESHOLD`: error rate (fraction 0..1) above which the service is unhealthy (default 0.1).
    pub error_threshold: f64,
    /// `WEBHOOK_RESPONSE_TIME_THRESHOLD`: response time above which the service is degraded (default 5.0 s).
    pub response_time_threshold: Duration,
    /// `METRICS_TOKEN`: a token for `GET /metrics` only (the admin token works too).
    pub metrics_token: Option<Secret>,
    /// `WEBHOOK_SESSION_TTL`: how long a dashboard login lasts (default 12 h).
    pub session_ttl: Duration,
    /// `WEBHOOK_ALERT_INTERVAL`: how often alert rules are evaluated (default 15 s).
    pub alert_interval: Duration,
    /// `WEBHOOK_ALERT_WINDOW`: the window error rate and latency are judged over (default 300 s).
    pub alert_window: Duration,
    /// `WEBHOOK_ALERT_MIN_SAMPLE`: requests needed in the window before judging (default 20).
    pub alert_min_sample: u64,
    /// `WEBHOOK_SECURITY_SPIKE_PER_MINUTE`: refused requests in a minute that raise an alert (default 60).
    pub security_spike_per_minute: u64,
    /// `WEBHOOK_SNAPSHOT_STALL_AFTER`: a snapshot notified running with no data for this long is
    /// stalled (default 3600 s).
    pub snapshot_stall_after: Duration,
    /// `WEBHOOK_DELIVERY_STALE_AFTER`: no accepted delivery for this long degrades health (default 86400 s).
    pub delivery_stale_after: Duration,
    /// `WEBHOOK_RETENTION_INTERVAL`: how often retention runs (default 60 s).
    pub retention_interval: Duration,
}

#[derive(Debug, Clone)]
pub struct NgrokConfig {
    /// `NGROK_ENABLED` (default false).
    pub enabled: bool,
    /// `NGROK_AUTH_TOKEN`.
    pub auth_token: Option<Secret>,
    /// `NGROK_SUBDOMAIN`: a DNS label.
    pub subdomain: Option<String>,
    /// `NGROK_REGION`: us, eu, ap, au, sa, jp or in (default us).
    pub region: NgrokRegion,
    /// `NGROK_BIN`: the ngrok executable (default: `ngrok` on the `PATH`).
    pub bin: Option<PathBuf>,
    /// `NGROK_API_URL` (default `http://127.0.0.1:4040`): the ngrok agent's local API.
    pub api_url: Url,
}

/// Outbound calls to BrightData's API (`server trigger`, `server progress`).
#[derive(Debug, Clone)]
pub struct BrightDataApiConfig {
    /// `BRIGHTDATA_API_URL` (default `https://api.brightdata.com`).
    pub api_url: Url,
    /// `BRIGHTDATA_API_TOKEN`: the BrightData API key (sent as `Authorization: Bearer`).
    pub api_token: Option<Secret>,
    /// `BRIGHTDATA_PINNED_SPKI_SHA256`: base64 SHA-256 hashes of the public keys (SPKI) one of
    /// which BrightData's certificate chain must contain when `WEBHOOK_ENABLE_CERT_PINNING` is on.
    pub pinned_spki_sha256: Vec<[u8; 32]>,
    /// `BRIGHTDATA_API_TIMEOUT` (default 60 s): how long one call to the API may take in all.
    pub timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NgrokRegion {
    Us,
    Eu,
    Ap,
    Au,
    Sa,
    Jp,
    In,
}

impl NgrokRegion {
    const ALL: [(&'static str, NgrokRegion); 7] = [
        ("us", Self::Us),
        ("eu", Self::Eu),
        ("ap", Self::Ap),
        ("au", Self::Au),
        ("sa", Self::Sa),
        ("jp", Self::Jp),
        ("in", Self::In),
    ];

    /// `us`, `EU`, ...: one of the seven region codes.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(|(_, region)| *region)
    }

    pub fn code(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, region)| *region == self)
            .map(|(code, _)| *code)
            .unwrap_or("us")
    }
}

#[derive(Debug, Clone)]
pub struct LoggingConfig {
    /// `RUST_LOG`: tracing filter directives (default `info`, or `debug` when `DEBUG` is on).
    pub filter: String,
    /// `DEBUG` (default false): more detail in logs and error answers meant for development.
    pub debug: bool,
    /// `LOG_FORMAT`: `text` (default) or `json` for stdout.
    pub format: LogFormat,
    /// `LOG_DIR` (default `./logs`): where `webhook_security.log` and `webhook_monitor.log` are written.
    pub dir: PathBuf,
    /// `LOG_MAX_FILE_BYTES` (default 10 MiB): a log file this large is rotated (`.1`, `.2`, ...).
    pub max_file_bytes: u64,
    /// `LOG_KEEP_FILES` (default 5, 1 to 100): rotated files kept per log; older ones are deleted.
    pub keep_files: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A database URL; `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_sqlite(&self) -> bool {
        self.0.starts_with("sqlite:")
    }

    /// The URL with any password replaced, safe to log.
    /// The URL with its password masked, in the user part and in any query parameter that
    /// carries a secret (`?password=`, `sslpassword=`, `passfile=`, `token=`, `secret=`, …).
    pub fn redacted(&self) -> String {
        let Ok(mut url) = Url::parse(&self.0) else {
            return self.0.clone();
        };
        let mut masked = false;
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
            masked = true;
        }
        let secret = |name: &str| {
            let name = name.to_ascii_lowercase();
            ["pass", "pwd", "secret", "token", "key"]
                .iter()
                .any(|word| name.contains(word))
        };
        if url.query_pairs().any(|(name, _)| secret(&name)) {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(name, value)| {
                    let value = if secret(&name) {
                        "***".into()
                    } else {
                        value.into_owned()
                    };
                    (name.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
            masked = true;
        }
        if !masked {
            return self.0.clone();
        }
        // Keep the asterisks readable (the query encoder writes them as they are; the user part
        // may not).
        url.to_string().replace("%2A%2A%2A", "***")
    }

    fn parse(value: &str) -> Option<Self> {
        let scheme_ok = ["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|prefix| value.starts_with(prefix));
        let parses = value.starts_with("sqlite:") || Url::parse(value).is_ok();
        (scheme_ok && parses).then(|| Self(value.to_owned()))
    }
}

impl FromStr for DatabaseUrl {
    type Err = ConfigError;

    fn from_str(value: &str) -> Result<Self, ConfigError> {
        Self::parse(value).ok_or(ConfigError {
            var: "DATABASE_URL",
            value: None,
            expected: "sqlite://<path> or postgres://user@host:port/database",
        })
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

/// A variable that could not be used. Displays as one line naming the variable and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {var}{shown}: expected {expected}", shown = shown_value(.value))]
pub struct ConfigError {
    pub var: &'static str,
    /// The offending value, or `None` for secrets (never echoed).
    pub value: Option<String>,
    pub expected: &'static str,
}

fn shown_value(value: &Option<String>) -> String {
    match value {
        Some(value) => format!("={value:?}"),
        None => String::new(),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads variables through `lookup`, so tests can pass a map instead of touching the process env.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<OsString>) -> Result<Self, ConfigError> {
        let vars = Vars { lookup: &lookup };

        let debug = vars.parse("DEBUG", BOOL, false, parse_bool)?;
        let data_dir = vars.parse("DATA_DIR", "a directory path", PathBuf::from("data"), |v| {
            Some(PathBuf::from(v))
        })?;
        let default_db = format!("sqlite://{}/track-futura.db", data_dir.display());
        let rate_limit_per_minute = vars.parse(
            "WEBHOOK_RATE_LIMIT",
            "a whole number of requests per minute, at least 1 (e.g. 100)",
            100,
            |v| v.parse::<u32>().ok().filter(|n| *n > 0),
        )?;

        let host = vars.parse(
            "HOST",
            "an IP address to bind, e.g. 0.0.0.0 or 127.0.0.1",
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            |v| v.parse().ok(),
        )?;
        let port = vars.parse("PORT", "a TCP port number 0-65535", 8000, |v| {
            v.parse().ok()
        })?;
        let public_url = vars.optional(
            "BRIGHTDATA_BASE_URL",
            "an absolute http(s) URL, e.g. https://hooks.example.com",
            parse_base_url,
        )?;
        let public = crate::public_url::detect(
            public_url.as_ref(),
            &|name| lookup(name).and_then(|v| v.into_string().ok()),
            host,
            port,
        );

        let config = Config {
            http: HttpConfig {
                host,
                port,
                public_url,
                public,
                site_root: vars.parse(
                    "LEPTOS_SITE_ROOT",
                    "a directory path",
                    PathBuf::from("target/site"),
                    |v| Some(PathBuf::from(v)),
                )?,
                platform: [
                    ("PLATFORM_APPLICATION_NAME", "Upsun / Platform.sh"),
                    ("RAILWAY_ENVIRONMENT", "Railway"),
                    ("DYNO", "Heroku"),
                ]
                .iter()
                .find(|(var, _)| (vars.lookup)(var).is_some_and(|v| !v.is_empty()))
                .map(|(_, name)| (*name).to_owned()),
                limits: HttpLimits {
                    header_timeout: vars.parse("HTTP_HEADER_TIMEOUT", SECONDS, HttpLimits::default().header_timeout, parse_positive_seconds)?,
                    body_idle_timeout: vars.parse("HTTP_BODY_IDLE_TIMEOUT", SECONDS, HttpLimits::default().body_idle_timeout, parse_positive_seconds)?,
                    max_connections: vars.parse(
                        "HTTP_MAX_CONNECTIONS",
                        "a whole number of connections, at least 1 (e.g. 1024)",
                        HttpLimits::default().max_connections,
                        |v| v.parse::<usize>().ok().filter(|n| (1..=1_000_000).contains(n)),
                    )?,
                    max_connections_per_peer: vars.parse(
                        "HTTP_MAX_CONNECTIONS_PER_PEER",
                        "a whole number of connections, at least 1 (e.g. 128)",
                        HttpLimits::default().max_connections_per_peer,
                        |v| v.parse::<usize>().ok().filter(|n| (1..=1_000_000).contains(n)),
                    )?,
                    write_timeout: vars.parse("HTTP_WRITE_TIMEOUT", SECONDS, HttpLimits::default().write_timeout, parse_positive_seconds)?,
                    shutdown_timeout: vars.parse("HTTP_SHUTDOWN_TIMEOUT", SECONDS, HttpLimits::default().shutdown_timeout, parse_positive_seconds)?,
                },
            },
            storage: StorageConfig {
                database_url: vars.parse(
                    "DATABASE_URL",
                    "sqlite://<path> or postgres://user@host:port/database",
                    DatabaseUrl(default_db),
                    DatabaseUrl::parse,
                )?,
                data_dir,
            },
            security: SecurityConfig {
                webhook_tokens: vars.secret_list(
                    "BRIGHTDATA_WEBHOOK_TOKEN",
                    "one or more comma-separated tokens without spaces or a 'Bearer ' prefix",
                )?,
                admin_token: vars
                    .secret_list(
                        "WEBHOOK_ADMIN_TOKEN",
                        "one token without spaces, commas or a 'Bearer ' prefix",
                    )
                    .and_then(|tokens| match tokens.len() {
                        0 | 1 => Ok(tokens.into_iter().next()),
                        _ => Err(ConfigError {
                            var: "WEBHOOK_ADMIN_TOKEN",
                            value: None,
                            expected: "one token without spaces, commas or a 'Bearer ' prefix",
                        }),
                    })?,
                rate_limit_per_minute,
                max_timestamp_age: vars.parse(
                    "WEBHOOK_MAX_TIMESTAMP_AGE",
                    "a whole number of seconds, at least 1 (e.g. 300)",
                    Duration::from_secs(300),
                    parse_positive_seconds,
                )?,
                allowed_ips: vars.parse(
                    "WEBHOOK_ALLOWED_IPS",
                    "comma-separated IP addresses or CIDR networks, e.g. 1.2.3.4,10.0.0.0/8,2001:db8::/32",
                    Vec::new(),
                    parse_ip_list,
                )?,
                cert_pinning: vars.parse("WEBHOOK_ENABLE_CERT_PINNING", BOOL, false, parse_bool)?,
                rate_burst: vars.optional(
                    "WEBHOOK_RATE_BURST",
                    "a whole number of requests, at least 1",
                    |v| v.parse::<u32>().ok().filter(|n| *n > 0),
                )?
                .unwrap_or(rate_limit_per_minute),
                trusted_proxies: vars.parse(
                    "WEBHOOK_TRUSTED_PROXIES",
                    "comma-separated IP addresses or CIDR networks of your reverse proxies",
                    Vec::new(),
                    parse_ip_list,
                )?,
                proxy_header: vars.parse(
                    "WEBHOOK_PROXY_HEADER",
                    "x-forwarded-for or forwarded",
                    ProxyHeader::XForwardedFor,
                    |v| match v.to_ascii_lowercase().as_str() {
                        "x-forwarded-for" => Some(ProxyHeader::XForwardedFor),
                        "forwarded" => Some(ProxyHeader::Forwarded),
                        _ => None,
                    },
                )?,
                signing_secrets: vars.signing_secrets()?,
                require_signature: vars.parse("WEBHOOK_REQUIRE_SIGNATURE", BOOL, false, parse_bool)?,
            },
            ingest: IngestConfig {
                max_body_bytes: vars.parse(
                    "WEBHOOK_MAX_BODY_BYTES",
                    BYTES,
                    1 << 30,
                    parse_bytes,
                )?,
                max_inflated_bytes: vars.parse(
                    "WEBHOOK_MAX_INFLATED_BYTES",
                    BYTES,
                    4 << 30,
                    parse_bytes,
                )?,
                max_stored_body_bytes: vars.parse(
                    "WEBHOOK_MAX_STORED_BODY_BYTES",
                    "a size like 67108864, 64MiB or 0 (keep no bodies)",
                    64 << 20,
                    |v| if v == "0" { Some(0) } else { parse_bytes(v) },
                )?,
                inline_memory_bytes: vars.parse(
                    "WEBHOOK_INLINE_MEMORY_BYTES",
                    "a size from 1 KiB to 4 GiB - 1, like 536870912 or 512MiB",
                    512 << 20,
                    |v| parse_bytes(v).filter(|n| *n <= u64::from(u32::MAX)),
                )?,
                dataset_platforms: vars.parse(
                    "WEBHOOK_DATASET_PLATFORMS",
                    "comma-separated dataset_id=platform pairs, e.g. gd_abc=instagram",
                    Vec::new(),
                    crate::ingest::platforms::parse_pairs,
                )?,
            },
            monitor: MonitorConfig {
                max_events: vars.parse(
                    "WEBHOOK_MAX_EVENTS",
                    "a whole number of events, at least 1 (e.g. 100000)",
                    100_000,
                    |v| v.parse::<u64>().ok().filter(|n| *n > 0),
                )?,
                metrics_retention: vars.parse(
                    "WEBHOOK_METRICS_RETENTION",
                    "a whole number of seconds, at least 1 (e.g. 3600)",
                    Duration::from_secs(3600),
                    parse_positive_seconds,
                )?,
                error_threshold: vars.parse(
                    "WEBHOOK_ERROR_THRESHOLD",
                    "a fraction between 0 and 1 (e.g. 0.1 for 10%)",
                    0.1,
                    |v| v.parse::<f64>().ok().filter(|x| (0.0..=1.0).contains(x)),
                )?,
                response_time_threshold: vars.parse(
                    "WEBHOOK_RESPONSE_TIME_THRESHOLD",
                    "a number of seconds above 0 (e.g. 5.0)",
                    Duration::from_secs(5),
                    |v| {
                        v.parse::<f64>()
                            .ok()
                            .filter(|x| x.is_finite() && *x > 0.0 && *x <= 3600.0)
                            .map(Duration::from_secs_f64)
                    },
                )?,
                metrics_token: vars
                    .secret_list("METRICS_TOKEN", "one token without spaces or a 'Bearer ' prefix")?
                    .into_iter()
                    .next(),
                session_ttl: vars.parse("WEBHOOK_SESSION_TTL", SECONDS, Duration::from_secs(12 * 3600), parse_positive_seconds)?,
                alert_interval: vars.parse("WEBHOOK_ALERT_INTERVAL", SECONDS, Duration::from_secs(15), parse_positive_seconds)?,
                alert_window: vars.parse("WEBHOOK_ALERT_WINDOW", SECONDS, Duration::from_secs(300), parse_positive_seconds)?,
                alert_min_sample: vars.parse(
                    "WEBHOOK_ALERT_MIN_SAMPLE",
                    "a whole number of requests, at least 1",
                    20,
                    |v| v.parse::<u64>().ok().filter(|n| *n > 0),
                )?,
                security_spike_per_minute: vars.parse(
                    "WEBHOOK_SECURITY_SPIKE_PER_MINUTE",
                    "a whole number of requests per minute, at least 1",
                    60,
                    |v| v.parse::<u64>().ok().filter(|n| *n > 0),
                )?,
                snapshot_stall_after: vars.parse("WEBHOOK_SNAPSHOT_STALL_AFTER", SECONDS, Duration::from_secs(3600), parse_positive_seconds)?,
                delivery_stale_after: vars.parse("WEBHOOK_DELIVERY_STALE_AFTER", SECONDS, Duration::from_secs(86_400), parse_positive_seconds)?,
                retention_interval: vars.parse("WEBHOOK_RETENTION_INTERVAL", SECONDS, Duration::from_secs(60), parse_positive_seconds)?,
            },
            ngrok: NgrokConfig {
                enabled: vars.parse("NGROK_ENABLED", BOOL, false, parse_bool)?,
                auth_token: vars
                    .secret_list("NGROK_AUTH_TOKEN", "an ngrok auth token without spaces")?
                    .into_iter()
                    .next(),
                subdomain: vars.optional(
                    "NGROK_SUBDOMAIN",
                    "a DNS label: lowercase letters, digits and inner hyphens, at most 63 characters",
                    parse_dns_label,
                )?,
                region: vars.parse(
                    "NGROK_REGION",
                    "one of us, eu, ap, au, sa, jp, in",
                    NgrokRegion::Us,
                    NgrokRegion::parse,
                )?,
                bin: vars.optional("NGROK_BIN", "a path to the ngrok executable", |v| {
                    Some(PathBuf::from(v))
                })?,
                api_url: vars.parse(
                    "NGROK_API_URL",
                    "an absolute http URL, e.g. http://127.0.0.1:4040",
                    Url::parse("http://127.0.0.1:4040").expect("a valid URL"),
                    parse_base_url,
                )?,
            },
            brightdata: BrightDataApiConfig {
                api_url: vars.parse(
                    "BRIGHTDATA_API_URL",
                    "an absolute http(s) URL, e.g. https://api.brightdata.com",
                    Url::parse("https://api.brightdata.com").expect("a valid URL"),
                    parse_base_url,
                )?,
                api_token: vars
                    .secret_list(
                        "BRIGHTDATA_API_TOKEN",
                        "one BrightData API key without spaces or a 'Bearer ' prefix",
                    )?
                    .into_iter()
                    .next(),
                pinned_spki_sha256: vars.parse(
                    "BRIGHTDATA_PINNED_SPKI_SHA256",
                    "comma-separated base64 SHA-256 hashes (44 characters each) of public keys",
                    Vec::new(),
                    parse_spki_pins,
                )?,
                timeout: vars.parse(
                    "BRIGHTDATA_API_TIMEOUT",
                    SECONDS,
                    Duration::from_secs(60),
                    parse_positive_seconds,
                )?,
            },
            logging: LoggingConfig {
                filter: vars.parse(
                    "RUST_LOG",
                    "tracing filter directives, e.g. info or server=debug,tower_http=info",
                    if debug { "debug" } else { "info" }.to_owned(),
                    |v| {
                        tracing_subscriber::EnvFilter::try_new(v)
                            .ok()
                            .map(|_| v.to_owned())
                    },
                )?,
                debug,
                format: vars.parse("LOG_FORMAT", "text or json", LogFormat::Text, |v| {
                    match v.to_ascii_lowercase().as_str() {
                        "text" => Some(LogFormat::Text),
                        "json" => Some(LogFormat::Json),
                        _ => None,
                    }
                })?,
                dir: vars.parse("LOG_DIR", "a directory path", PathBuf::from("logs"), |v| {
                    Some(PathBuf::from(v))
                })?,
                max_file_bytes: vars.parse("LOG_MAX_FILE_BYTES", BYTES, 10 << 20, parse_bytes)?,
                keep_files: vars.parse("LOG_KEEP_FILES", "a whole number from 1 to 100", 5, |v| {
                    v.parse().ok().filter(|n| (1..=100).contains(n))
                })?,
            },
        };
        // Pinning that pins nothing would let every certificate through: refuse to start.
        if config.security.cert_pinning && config.brightdata.pinned_spki_sha256.is_empty() {
            return Err(ConfigError {
                var: "BRIGHTDATA_PINNED_SPKI_SHA256",
                value: None,
                expected: "at least one pin when WEBHOOK_ENABLE_CERT_PINNING is on",
            });
        }
        Ok(config)
    }
}

const BOOL: &str = "true or false (also 1/0, yes/no, on/off)";
const SECONDS: &str = "a whole number of seconds, at least 1";
const BYTES: &str = "a size of at least 1 KiB, like 1073741824, 512MiB or 1GiB";

/// `1048576`, `512KiB`, `64MiB`, `1GiB`, `1GB` (decimal units: KB, MB, GB). At least 1 KiB.
pub fn parse_bytes(value: &str) -> Option<u64> {
    let value = value.trim();
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor).filter(|bytes| *bytes >= 1024)
}

/// Typed access to the variables, all going through one lookup function.
struct Vars<'a> {
    lookup: &'a dyn Fn(&str) -> Option<OsString>,
}

impl Vars<'_> {
    /// The trimmed value, or `None` when unset or blank. Non-UTF-8 values are an error.
    fn raw(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
        let Some(value) = (self.lookup)(var) else {
            return Ok(None);
        };
        let value = value.into_string().map_err(|_| ConfigError {
            var,
            value: None,
            expected: "valid UTF-8 text",
        })?;
        let trimmed = value.trim();
        Ok((!trimmed.is_empty()).then(|| trimmed.to_owned()))
    }

    fn optional<T>(
        &self,
        var: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.raw(var)? {
            None => Ok(None),
            Some(value) => parse(&value).map(Some).ok_or(ConfigError {
                var,
                value: Some(value),
                expected,
            }),
        }
    }

    fn parse<T>(
        &self,
        var: &'static str,
        expected: &'static str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        Ok(self.optional(var, expected, parse)?.unwrap_or(default))
    }

    /// A comma-separated list of secrets. Errors never echo the value.
    fn secret_list(
        &self,
        var: &'static str,
        expected: &'static str,
    ) -> Result<Vec<Secret>, ConfigError> {
        let Some(value) = self.raw(var)? else {
            return Ok(Vec::new());
        };
        let invalid = || ConfigError {
            var,
            value: None,
            expected,
        };
        value
            .split(',')
            .map(str::trim)
            .map(|token| {
                let bad = token.is_empty()
                    || token.chars().any(|c| c.is_whitespace() || c.is_control())
                    || token.to_ascii_lowercase().starts_with("bearer");
                if bad {
                    Err(invalid())
                } else {
                    Ok(Secret::new(token))
                }
            })
            .collect()
    }
}

impl Vars<'_> {
    /// `WEBHOOK_SIGNING_SECRET`: comma-separated; unlike tokens a secret may contain spaces (GitHub's
    /// documented example does).
    fn signing_secrets(&self) -> Result<Vec<Secret>, ConfigError> {
        let Some(value) = self.raw("WEBHOOK_SIGNING_SECRET")? else {
            return Ok(Vec::new());
        };
        value
            .split(',')
            .map(str::trim)
            .map(|secret| {
                if secret.is_empty() || secret.chars().any(char::is_control) {
                    Err(ConfigError {
                        var: "WEBHOOK_SIGNING_SECRET",
                        value: None,
                        expected: "one or more comma-separated secrets (no empty ones)",
                    })
                } else {
                    Ok(Secret::new(secret))
                }
            })
            .collect()
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_positive_seconds(value: &str) -> Option<Duration> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_secs)
}

fn parse_base_url(value: &str) -> Option<Url> {
    let url = Url::parse(value).ok()?;
    let usable = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.query().is_none()
        && url.fragment().is_none();
    usable.then_some(url)
}

/// `1.2.3.4`, `10.0.0.0/8`, `::1`, `2001:db8::/32`, comma-separated. A bare address is a /32 or /128.
pub fn parse_ip_list(value: &str) -> Option<Vec<IpNet>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            if item.contains('/') {
                IpNet::from_str(item).ok()
            } else {
                item.parse::<IpAddr>().ok().map(IpNet::from)
            }
        })
        .collect()
}

/// `base64,base64`: each the standard base64 of a 32-byte SHA-256 digest.
fn parse_spki_pins(value: &str) -> Option<Vec<[u8; 32]>> {
    use base64::Engine;
    value
        .split(',')
        .map(str::trim)
        .filter(|pin| !pin.is_empty())
        .map(|pin| {
            base64::engine::general_purpose::STANDARD
                .decode(pin)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        })
        .collect()
}

fn parse_dns_label(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-';
    valid.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
}
