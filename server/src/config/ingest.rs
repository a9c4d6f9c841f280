//! What a delivery may be: its size on the wire and inflated, what is kept for replay, the memory
//! of inline deliveries, and the dataset ids' platforms.

use super::ConfigError;
use super::vars::{BYTES, Vars, parse_bytes};

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

impl IngestConfig {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        Ok(Self {
            max_body_bytes: vars.parse("WEBHOOK_MAX_BODY_BYTES", BYTES, 1 << 30, parse_bytes)?,
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
                delivery::platforms::parse_pairs,
            )?,
        })
    }
}
