//! The live hub: an in-process broadcast of what happens (events and alert changes), and running
//! counts of both. A subscriber to the broadcast that falls behind is told how much it missed. The
//! dashboard's live stream only needs to know that something changed: it watches the counts,
//! which costs the hub one update per publication however many pages are connected, and asks
//! which snapshots the new events touched (so a snapshot's page reloads only for its own).
//!
//! With several instances on one PostgreSQL, what a hub counts is also put in its outbox, sent
//! to the other instances and merged into their hubs (`live_feed`): a page connected to any
//! instance follows them all.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use app::types::LiveMessage;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};

const CAPACITY: usize = 4096;
/// Snapshot touches remembered (the newest); an update reaching further back says "unknown".
const TOUCHES: usize = 1024;
/// Snapshots named in one update at most; more say "unknown" (the page then reloads).
pub const TOUCHED_PER_UPDATE: usize = 32;

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
    /// (the events count once this event was counted, its snapshot), oldest first.
    touches: Arc<Mutex<VecDeque<(u64, String)>>>,
    /// Events up to this count were counted while no live stream watched: their snapshots were
    /// not kept (the ingest path does not pay for what nobody reads).
    unknown_upto: Arc<AtomicU64>,
    /// With several instances: what this one published, for the others (`live_feed`).
    outbox: Option<Arc<Outbox>>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            counts: watch::Sender::new(LiveCounts::default()),
            touches: Arc::default(),
            unknown_upto: Arc::default(),
            outbox: None,
        }
    }
}

/// A change to tell the other instances' hubs: events counted (and the snapshots they touched,
/// unless there were too many to name), alert changes, and whether a session was ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    #[serde(default)]
    pub events: u64,
    #[serde(default)]
    pub alerts: u64,
    #[serde(default)]
    pub snapshots: Vec<String>,
    /// The snapshots are not all named (more than [`TOUCHED_PER_UPDATE`], or some were lost).
    #[serde(default)]
    pub unknown: bool,
    #[serde(default)]
    pub sessions_ended: bool,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        *self == Change::default()
    }

    /// Messages from the other instances were lost (the connection dropped): something may have
    /// happened, nobody knows what, so the pages reload everything.
    pub fn lost() -> Self {
        Self {
            events: 1,
            unknown: true,
            ..Self::default()
        }
    }

    fn touch(&mut self, snapshot: &str) {
        if self.unknown || self.snapshots.iter().any(|s| s == snapshot) {
            return;
        }
        if self.snapshots.len() == TOUCHED_PER_UPDATE {
            self.unknown = true;
            self.snapshots.clear();
        } else {
            self.snapshots.push(snapshot.to_owned());
        }
    }
}

/// What this instance published since the last message to the others, and a wake-up for the task
/// that sends it.
#[derive(Default)]
pub struct Outbox {
    pending: Mutex<Change>,
    pub ready: tokio::sync::Notify,
}

impl Outbox {
    fn add(&self, change: impl FnOnce(&mut Change)) {
        change(&mut self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        self.ready.notify_one();
    }

    /// What is pending, leaving nothing.
    pub fn take(&self) -> Change {
        std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl LiveHub {
    /// A hub that also tells the other instances what it publishes, through `outbox`.
    pub fn relayed(outbox: Arc<Outbox>) -> Self {
        Self {
            outbox: Some(outbox),
            ..Self::default()
        }
    }

    fn relay(&self, change: impl FnOnce(&mut Change)) {
        if let Some(outbox) = &self.outbox {
            outbox.add(change);
        }
    }

    /// Counts it and publishes it to whoever listens; with no subscriber it is simply dropped.
    pub fn publish(&self, message: LiveMessage) {
        self.counts.send_modify(|counts| match &message {
            LiveMessage::Event(_) => counts.events += 1,
            LiveMessage::Alert(_) => counts.alerts += 1,
        });
        self.relay(|change| match &message {
            LiveMessage::Event(_) => change.events += 1,
            LiveMessage::Alert(_) => change.alerts += 1,
        });
        let _ = self.sender.send(message);
    }

    /// Counts `n` events without publishing them (nobody subscribes to the messages).
    pub fn count_events(&self, n: u64) {
        self.counts.send_modify(|counts| counts.events += n);
        self.relay(|change| change.events += n);
    }

    /// A session was ended here: the other instances read the revocations at once.
    pub fn session_ended(&self) {
        self.relay(|change| change.sessions_ended = true);
    }

    /// What another instance published: counted here as if published here (the pages connected
    /// to this instance reload what it touched), and not sent on again.
    pub fn merge(&self, change: &Change) {
        if change.unknown {
            let counted = self.counts.borrow().events;
            self.unknown_upto
                .fetch_max(counted + change.events, Ordering::Relaxed);
        } else {
            self.keep_touches(change.snapshots.iter().map(|s| Some(s.as_str())));
        }
        self.counts.send_modify(|counts| {
            counts.events += change.events;
            counts.alerts += change.alerts;
        });
    }

    /// Remembers the snapshots of the next events to be counted (`None`: an event without one),
    /// in the order they will be counted. Called before they are counted, so a reader that has
    /// seen the count finds their touches.
    pub fn touch<'a>(&self, snapshots: impl IntoIterator<Item = Option<&'a str>> + Clone) {
        self.relay(|change| {
            for snapshot in snapshots.clone().into_iter().flatten() {
                change.touch(snapshot);
            }
        });
        self.keep_touches(snapshots);
    }

    fn keep_touches<'a>(&self, snapshots: impl IntoIterator<Item = Option<&'a str>>) {
        let counted = self.counts.borrow().events;
        if self.counts.receiver_count() == 0 {
            let events = snapshots.into_iter().count() as u64;
            self.unknown_upto.store(counted + events, Ordering::Relaxed);
            return;
        }
        let mut touches = self.touches.lock().unwrap_or_else(|p| p.into_inner());
        for (n, snapshot) in (counted + 1..).zip(snapshots) {
            if let Some(snapshot) = snapshot {
                if touches.len() == TOUCHES {
                    touches.pop_front();
                }
                touches.push_back((n, snapshot.to_owned()));
            }
        }
    }

    /// The snapshots touched by events `after + 1 ..= upto` (at most [`TOUCHED_PER_UPDATE`],
    /// each once); `None` when that is not known (forgotten already, or too many).
    pub fn touched(&self, after: u64, upto: u64) -> Option<Vec<String>> {
        if after < self.unknown_upto.load(Ordering::Relaxed) {
            return None;
        }
        let touches = self.touches.lock().unwrap_or_else(|p| p.into_inner());
        // Every event up to `after` must still be within memory, or some touches may be gone.
        if touches.len() == TOUCHES && touches.front().is_some_and(|(n, _)| *n > after + 1) {
            return None;
        }
        let mut found: Vec<String> = Vec::new();
        for (_, snapshot) in touches.iter().filter(|(n, _)| *n > after && *n <= upto) {
            if !found.contains(snapshot) {
                if found.len() == TOUCHED_PER_UPDATE {
                    return None;
                }
                found.push(snapshot.clone());
            }
        }
        Some(found)
    }

    /// A verdict on these snapshots changed (completeness, drift): their pages and the lists reload
    /// as for new events touching them (the counter the pages follow counts changes to show, not
    /// only requests).
    pub fn snapshots_judged(&self, ids: &[String]) {
        if ids.is_empty() {
            return;
        }
        self.touch(ids.iter().map(|id| Some(id.as_str())));
        self.count_events(ids.len() as u64);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshots_touched_between_two_counts_are_named_once_each() {
        let hub = LiveHub::default();
        let _watching = hub.watch_counts();
        hub.touch([Some("s_a"), None, Some("s_b"), Some("s_a")]);
        hub.count_events(4);
        hub.touch([Some("s_c")]);
        hub.count_events(1);
        assert_eq!(hub.touched(0, 4), Some(vec!["s_a".into(), "s_b".into()]));
        assert_eq!(
            hub.touched(2, 5),
            Some(vec!["s_b".into(), "s_a".into(), "s_c".into()])
        );
        assert_eq!(hub.touched(5, 5), Some(vec![]));
    }

    #[test]
    fn forgotten_or_too_many_touches_are_unknown() {
        let hub = LiveHub::default();
        let _watching = hub.watch_counts();
        let ids: Vec<String> = (0..TOUCHES + 10).map(|i| format!("s_{i}")).collect();
        hub.touch(ids.iter().map(|id| Some(id.as_str())));
        hub.count_events(ids.len() as u64);
        assert_eq!(
            hub.touched(0, ids.len() as u64),
            None,
            "the oldest are forgotten"
        );
        let last = ids.len() as u64;
        assert_eq!(
            hub.touched(last - 3, last).map(|v| v.len()),
            Some(3),
            "recent ones are known"
        );
        assert_eq!(
            hub.touched(last - 40, last),
            None,
            "more than one update names"
        );
    }

    #[test]
    fn without_a_live_stream_no_touch_is_kept_and_what_came_then_is_unknown() {
        let hub = LiveHub::default();
        hub.touch([Some("s_a"), Some("s_b")]);
        hub.count_events(2);
        assert!(hub.touches.lock().unwrap().is_empty(), "nothing kept");
        let watching = hub.watch_counts();
        assert_eq!(hub.touched(0, 2), None, "counted unwatched: not known");
        hub.touch([Some("s_c")]);
        hub.count_events(1);
        assert_eq!(hub.touched(2, 3), Some(vec!["s_c".into()]));
        drop(watching);
    }
}
