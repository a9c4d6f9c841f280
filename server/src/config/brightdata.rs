//! Outbound calls to BrightData's API.

use std::time::Duration;

use delivery::secret::Secret;
use url::Url;

use super::ConfigError;
use super::vars::{SECONDS, Vars, parse_base_url, parse_positive_seconds, parse_spki_pins};

/// Outbound calls to BrightData's API (`server trigger`, `server progress`, completeness checks,
/// redelivery).
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
    /// `BRIGHTDATA_VERIFY_INTERVAL` (default 60 s): how often snapshots are checked for
    /// completeness (an incomplete one is recounted each time; BrightData is asked once per
    /// snapshot, or every 15 min while it does not say).
    pub verify_interval: Duration,
    /// `BRIGHTDATA_VERIFY_SETTLE` (default 60 s): how long after BrightData's `ready` a snapshot
    /// is first judged (its last files can arrive after the notification).
    pub verify_settle: Duration,
}

impl BrightDataApiConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
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
            verify_interval: vars.parse(
                "BRIGHTDATA_VERIFY_INTERVAL",
                SECONDS,
                Duration::from_secs(60),
                parse_positive_seconds,
            )?,
            verify_settle: vars.parse(
                "BRIGHTDATA_VERIFY_SETTLE",
                SECONDS,
                Duration::from_secs(60),
                parse_positive_seconds,
            )?,
        })
    }
}
