//! The live hub: an in-process broadcast of what happens (events and alert changes), and running
//! counts of both. A subscriber to the broadcast that falls behind is told how much it missed. The
//! dashboard's live stream only needs to know that something changed: it watches the counts,
//! which costs the hub one update per publication however many pages are connected.

use app::types::LiveMessage;
use tokio::sync::{broadcast, watch};

const CAPACITY: usize = 4096;

/// Everything published since start: events and alert changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    pub events: u64,
    pub alerts: u64,
}

#[derive(Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<LiveMessage>,
    counts: watch::Sender<LiveCounts>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            counts: watch::Sender::new(LiveCounts::default()),
        }
    }
}

impl LiveHub {
    /// Counts it and publishes it to whoever listens; with no subscriber it is simply dropped.
    pub fn publish(&self, message: LiveMessage) {
        self.counts.send_modify(|counts| match &message {
            LiveMessage::Event(_) => counts.events += 1,
            LiveMessage::Alert(_) => counts.alerts += 1,
        });
        let _ = self.sender.send(message);
    }

    /// Counts `n` events without publishing them (nobody subscribes to the messages).
    pub fn count_events(&self, n: u64) {
        self.counts.send_modify(|counts| counts.events += n);
    }

    /// Whether anyone subscribes to the messages themselves (then they are worth building).
    pub fn has_subscribers(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveMessage> {
        self.sender.subscribe()
    }

    /// The running counts; `changed()` wakes on each publication, the latest value is read.
    pub fn watch_counts(&self) -> watch::Receiver<LiveCounts> {
        self.counts.subscribe()
    }
}
