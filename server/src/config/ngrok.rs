//! The ngrok helper for local development.

use std::path::PathBuf;

use delivery::secret::Secret;
use url::Url;

use super::ConfigError;
use super::vars::{BOOL, Vars, parse_base_url, parse_bool, parse_dns_label};

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

impl NgrokConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
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
        })
    }
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
