//! Logging: stdout's filter and format, and the audit log files.

use std::path::PathBuf;

use super::ConfigError;
use super::vars::{BOOL, BYTES, Vars, parse_bool, parse_bytes};

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

impl LoggingConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let debug = vars.parse("DEBUG", BOOL, false, parse_bool)?;
        Ok(Self {
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
        })
    }
}
