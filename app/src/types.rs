//! Data shared by the server and the browser: what the live stream and the API carry.

use serde::{Deserialize, Serialize};

/// One request to an ingestion endpoint, as the monitor shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub id: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// `webhook` or `notify`.
    pub endpoint: String,
    /// `accepted`, `duplicate`, `rejected_auth`, `rejected_signature`, `rejected_timestamp`,
    /// `rejected_ip`, `rate_limited`, `too_large`, `bad_payload` or `error`.
    pub outcome: String,
    pub status: u16,
    pub latency_us: i64,
    pub bytes: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub snapshot_id: Option<String>,
    pub platform: Option<String>,
    pub records: Option<i64>,
    pub delivery_id: Option<i64>,
    pub error: Option<String>,
}

/// What the live hub publishes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    Event(EventView),
}
