//! Process-wide logging to stdout (text or JSON lines), set up once by the binary.
//!
//! The two audit files of the original guide (`webhook_security.log`, `webhook_monitor.log`) are not
//! written through this global subscriber but by [`crate::log_file`], owned by each running
//! application, so that several instances in one test process keep separate files.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogFormat, LoggingConfig};

pub fn init(config: &LoggingConfig) {
    // The filter string was validated when the configuration was read.
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match config.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false),
            )
            .init(),
        // Colour only on a terminal: a file or a platform's log collector gets plain text, not
        // escape codes.
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_target(true)
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .init(),
    }
}
