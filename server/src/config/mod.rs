//! Configuration: read once at start from environment variables into typed structs, validated.
//!
//! The variable names are the contract documented in the README. A value that is set but malformed
//! stops start-up with a one-line error naming the variable and the expected form: there is no silent
//! fallback to a default. A variable that is unset, or set to an empty string, takes its default.

//!
//! One reader per area (`http`, `storage`, `security`, `ingest`, `monitor`, `ngrok`, `brightdata`, `drift`,
//! `logging`), each with its struct; `vars` reads and parses the variables for all of them.

mod brightdata;
mod drift;
mod http;
mod ingest;
mod logging;
mod monitor;
mod ngrok;
mod security;
mod storage;
mod vars;

use std::ffi::OsString;

pub use brightdata::BrightDataApiConfig;
pub use drift::DriftConfig;
pub use http::{HttpConfig, HttpLimits, PLATFORM_VARIABLES};
pub use ingest::IngestConfig;
pub use logging::{LogFormat, LoggingConfig};
pub use monitor::MonitorConfig;
pub use ngrok::{NgrokConfig, NgrokRegion};
pub use security::{ProxyHeader, SecurityConfig};
pub use storage::{DatabaseUrl, PoolConfig, StorageConfig};
pub use vars::{parse_bytes, parse_ip_list};

use vars::Vars;

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
    pub drift: DriftConfig,
    pub logging: LoggingConfig,
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
        let config = Config {
            http: HttpConfig::read(&vars)?,
            storage: StorageConfig::read(&vars)?,
            security: SecurityConfig::read(&vars)?,
            ingest: IngestConfig::read(&vars)?,
            monitor: MonitorConfig::read(&vars)?,
            ngrok: NgrokConfig::read(&vars)?,
            brightdata: BrightDataApiConfig::read(&vars)?,
            drift: DriftConfig::read(&vars)?,
            logging: LoggingConfig::read(&vars)?,
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

#[cfg(test)]
mod tests;
