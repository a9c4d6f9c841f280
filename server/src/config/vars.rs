//! Reading the variables: one lookup, typed parsers, and errors that name the variable.

use std::ffi::OsString;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

use delivery::secret::Secret;
use ipnet::IpNet;
use url::Url;

use super::ConfigError;

pub(super) const BOOL: &str = "true or false (also 1/0, yes/no, on/off)";
pub(super) const SECONDS: &str = "a whole number of seconds, at least 1";
pub(super) const BYTES: &str = "a size of at least 1 KiB, like 1073741824, 512MiB or 1GiB";

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
pub(super) struct Vars<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<OsString>,
}

impl Vars<'_> {
    /// The trimmed value, or `None` when unset or blank. Non-UTF-8 values are an error.
    pub(super) fn raw(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
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

    pub(super) fn optional<T>(
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

    pub(super) fn parse<T>(
        &self,
        var: &'static str,
        expected: &'static str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, ConfigError> {
        Ok(self.optional(var, expected, parse)?.unwrap_or(default))
    }

    /// A comma-separated list of secrets. Errors never echo the value.
    pub(super) fn secret_list(
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
    pub(super) fn signing_secrets(&self) -> Result<Vec<Secret>, ConfigError> {
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

pub(super) fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub(super) fn parse_positive_seconds(value: &str) -> Option<Duration> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_secs)
}

pub(super) fn parse_base_url(value: &str) -> Option<Url> {
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
pub(super) fn parse_spki_pins(value: &str) -> Option<Vec<[u8; 32]>> {
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

pub(super) fn parse_dns_label(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let valid = (1..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-';
    valid.then(|| value.to_owned())
}
