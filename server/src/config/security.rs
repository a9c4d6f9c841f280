//! Security of the ingestion endpoints: tokens, signatures, timestamps, rate limits, address
//! allow-lists and the proxies whose forwarding header is believed.

use std::time::Duration;

use delivery::secret::Secret;
use ipnet::IpNet;

use super::ConfigError;
use super::vars::{BOOL, Vars, parse_bool, parse_ip_list, parse_positive_seconds};

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

impl SecurityConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let rate_limit_per_minute = vars.parse(
            "WEBHOOK_RATE_LIMIT",
            "a whole number of requests per minute, at least 1 (e.g. 100)",
            100,
            |v| v.parse::<u32>().ok().filter(|n| *n > 0),
        )?;
        Ok(Self {
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
        })
    }
}
