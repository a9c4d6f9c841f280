//! The HTTP server: where it binds, where it is reached from outside, its assets and limits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use super::ConfigError;
use super::vars::{SECONDS, Vars, parse_base_url, parse_positive_seconds};

/// The variables of the hosting platforms (Upsun / Platform.sh, Railway, Heroku) that say the
/// service's public address; `public_url::detect` reads them.
pub const PLATFORM_VARIABLES: [&str; 6] = [
    "PLATFORM_APPLICATION_NAME",
    "PLATFORM_ROUTES",
    "RAILWAY_PUBLIC_DOMAIN",
    "RAILWAY_STATIC_URL",
    "HEROKU_APP_DEFAULT_DOMAIN_NAME",
    "HEROKU_APP_NAME",
];

#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `HOST`: the address to bind (default `0.0.0.0`: BrightData must be able to reach us).
    pub host: IpAddr,
    /// `PORT` (default 8000; platforms set it).
    pub port: u16,
    /// `BRIGHTDATA_BASE_URL`: the public URL BrightData calls, when configured.
    pub public_url: Option<Url>,
    /// The hosting platforms' variables that say where the service is reachable (see
    /// [`PLATFORM_VARIABLES`]), as set. Start-up turns them into the public URL in effect.
    pub platform_vars: Vec<(&'static str, String)>,
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

impl HttpConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
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
        // Read as they are: `public_url::detect` judges them (a bad one is a warning, not a stop).
        let platform_vars = PLATFORM_VARIABLES
            .iter()
            .filter_map(|&name| Some((name, vars.raw(name).ok()??)))
            .collect();
        Ok(Self {
            host,
            port,
            public_url,
            platform_vars,
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
                header_timeout: vars.parse(
                    "HTTP_HEADER_TIMEOUT",
                    SECONDS,
                    HttpLimits::default().header_timeout,
                    parse_positive_seconds,
                )?,
                body_idle_timeout: vars.parse(
                    "HTTP_BODY_IDLE_TIMEOUT",
                    SECONDS,
                    HttpLimits::default().body_idle_timeout,
                    parse_positive_seconds,
                )?,
                max_connections: vars.parse(
                    "HTTP_MAX_CONNECTIONS",
                    "a whole number of connections, at least 1 (e.g. 1024)",
                    HttpLimits::default().max_connections,
                    |v| {
                        v.parse::<usize>()
                            .ok()
                            .filter(|n| (1..=1_000_000).contains(n))
                    },
                )?,
                max_connections_per_peer: vars.parse(
                    "HTTP_MAX_CONNECTIONS_PER_PEER",
                    "a whole number of connections, at least 1 (e.g. 128)",
                    HttpLimits::default().max_connections_per_peer,
                    |v| {
                        v.parse::<usize>()
                            .ok()
                            .filter(|n| (1..=1_000_000).contains(n))
                    },
                )?,
                write_timeout: vars.parse(
                    "HTTP_WRITE_TIMEOUT",
                    SECONDS,
                    HttpLimits::default().write_timeout,
                    parse_positive_seconds,
                )?,
                shutdown_timeout: vars.parse(
                    "HTTP_SHUTDOWN_TIMEOUT",
                    SECONDS,
                    HttpLimits::default().shutdown_timeout,
                    parse_positive_seconds,
                )?,
            },
        })
    }
}
