//! Recording events: every request to an ingestion endpoint becomes a row (through the writer), is
//! counted in memory, is published on the live hub once stored, and, when it was refused, is written
//! to `webhook_security.log`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use app::types::{EventView, LiveMessage};

use crate::ingest::outcome::Outcome;
use crate::live::LiveHub;
use crate::log_file::LogFile;
use crate::store::Writer;
use crate::store::entities::events;
use crate::store::events::NewEvent;
use crate::store::writer::EventsCommitted;

/// Requests per outcome since start.
#[derive(Default)]
pub struct OutcomeCounters([AtomicU64; Outcome::ALL.len()]);

impl OutcomeCounters {
    fn add(&self, outcome: Outcome) {
        let index = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.0[index].fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self, outcome: Outcome) -> u64 {
        let index = Outcome::ALL.iter().position(|o| *o == outcome).unwrap_or(0);
        self.0[index].load(Ordering::Relaxed)
    }
}

#[derive(Clone)]
pub struct EventRecorder {
    writer: Writer,
    security_log: LogFile,
    counters: Arc<OutcomeCounters>,
}

/// What the writer calls once events are committed: they go out on the live hub, with their ids.
pub fn publisher(hub: LiveHub) -> EventsCommitted {
    Arc::new(move |models: Vec<events::Model>| {
        for model in models {
            hub.publish(LiveMessage::Event(view(model)));
        }
    })
}

impl EventRecorder {
    pub fn new(writer: Writer, security_log: LogFile) -> Self {
        Self {
            writer,
            security_log,
            counters: Arc::default(),
        }
    }

    pub fn counters(&self) -> &OutcomeCounters {
        &self.counters
    }

    /// Counts and logs now; the writer stores it with the next batch and then publishes it (the
    /// answer does not wait).
    pub fn record(&self, outcome: Outcome, path: &str, event: NewEvent) {
        self.counters.add(outcome);
        if outcome != Outcome::Accepted && outcome != Outcome::Duplicate {
            self.security_log.write(
                "request_rejected",
                serde_json::json!({
                    "ip": event.client_ip,
                    "path": path,
                    "status": event.status,
                    "outcome": outcome.as_str(),
                    "reason": event.error,
                    "user_agent": event.user_agent,
                }),
            );
        }
        self.writer.record_event(event);
    }
}

pub fn view(model: events::Model) -> EventView {
    EventView {
        id: model.id,
        at_ms: model.at_ms,
        endpoint: model.endpoint,
        outcome: model.outcome,
        status: model.status as u16,
        latency_us: model.latency_us,
        bytes: model.bytes,
        client_ip: model.client_ip,
        user_agent: model.user_agent,
        snapshot_id: model.snapshot_id,
        platform: model.platform,
        records: model.records,
        delivery_id: model.delivery_id,
        error: model.error,
    }
}
