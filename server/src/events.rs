//! Recording events: every request to an ingestion endpoint is counted in memory and becomes a row
//! (through the writer), published on the live hub once stored, and, when it was refused, a line in
//! `webhook_security.log`; refusals before authentication beyond a few a minute per address are
//! counted into the rollups instead (`refusals`).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use app::types::{EventView, LiveMessage};

use crate::live::LiveHub;
use crate::log_file::LogFile;
use crate::refusals::RefusalSampler;
use crate::store::Writer;
use crate::store::entities::events;
use crate::store::events::NewEvent;
use crate::store::outcome::Outcome;
use crate::store::writer::EventsCommitted;

/// Prometheus buckets (seconds) of the response time histogram.
const LATENCY_BUCKETS_S: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Response times since start, in Prometheus buckets.
#[derive(Default)]
pub struct LatencyBuckets {
    counts: [AtomicU64; LATENCY_BUCKETS_S.len()],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl LatencyBuckets {
    fn record(&self, latency_us: i64) {
        let seconds = latency_us as f64 / 1e6;
        if let Some(i) = LATENCY_BUCKETS_S.iter().position(|le| seconds <= *le) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(latency_us.max(0) as u64, Ordering::Relaxed);
    }

    /// (upper bound in seconds, requests in that bucket only), ascending.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        LATENCY_BUCKETS_S
            .iter()
            .zip(&self.counts)
            .map(|(le, n)| (*le, n.load(Ordering::Relaxed)))
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn sum_seconds(&self) -> f64 {
        self.sum_us.load(Ordering::Relaxed) as f64 / 1e6
    }
}

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
    latency: Arc<LatencyBuckets>,
    refusals: Arc<RefusalSampler>,
}

/// What the writer calls once events are committed: they go out on the live hub, with their ids
/// (only counted when nobody subscribes to the messages: building their views would be wasted).
pub fn publisher(hub: LiveHub) -> EventsCommitted {
    Arc::new(move |models: Vec<events::Model>| {
        hub.touch(models.iter().map(|m| m.snapshot_id.as_deref()));
        if !hub.has_subscribers() {
            hub.count_events(models.len() as u64);
            return;
        }
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
            latency: Arc::default(),
            refusals: Arc::default(),
        }
    }

    /// Writes the refusals counted without an event row each, once a second (see `refusals`).
    pub fn spawn_refusal_counts(&self, stop: CancellationToken) -> JoinHandle<()> {
        self.refusals
            .clone()
            .spawn(self.writer.clone(), self.security_log.clone(), stop)
    }

    pub fn latency(&self) -> &LatencyBuckets {
        &self.latency
    }

    /// Events lost because the writer's queue was full.
    pub fn dropped(&self) -> u64 {
        self.writer.events_dropped()
    }

    pub fn counters(&self) -> &OutcomeCounters {
        &self.counters
    }

    /// Counts and logs now; the writer stores it with the next batch and then publishes it (the
    /// answer does not wait). A refusal before authentication past its address's few full records
    /// a minute is only counted (`refusals`).
    pub fn record(&self, outcome: Outcome, path: &str, ip: IpAddr, event: NewEvent) {
        self.counters.add(outcome);
        self.latency.record(event.latency_us);
        if outcome.is_before_authentication() && !self.refusals.admit(ip, outcome, &event) {
            return;
        }
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
