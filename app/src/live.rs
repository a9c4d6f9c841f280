//! The live link's rules, apart from the socket itself so they can be tested natively: what an
//! update asks the page to reload, how often at most, how long to wait before reconnecting.

use crate::api::LiveUpdate;

/// The indicator's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Server-rendered, not yet hydrated, or no session.
    Offline,
    Connecting,
    Live,
    Reconnecting,
}

impl LinkState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Offline => "Offline",
            Self::Connecting => "Connecting",
            Self::Live => "Live",
            Self::Reconnecting => "Reconnecting",
        }
    }

    /// The state as the page's `data-state` names it: `label()` in lower case, spelled out
    /// (`to_lowercase` would bring Unicode's case tables into the WASM).
    pub fn key(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Connecting => "connecting",
            Self::Live => "live",
            Self::Reconnecting => "reconnecting",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Self::Offline => "is-offline",
            Self::Connecting | Self::Reconnecting => "is-reconnecting",
            Self::Live => "is-live",
        }
    }
}

/// Reconnection with exponential backoff: 0.5 s, 1 s, 2 s, ... at most 10 s.
#[derive(Debug, Default)]
pub struct Reconnect {
    failures: u32,
    /// Whether the page has been connected before: a later connection follows a gap.
    was_connected: bool,
}

pub const FIRST_DELAY_MS: u32 = 500;
pub const MAX_DELAY_MS: u32 = 10_000;

impl Reconnect {
    /// The link is up. True when this ends a gap, so the page must reload what it missed.
    pub fn connected(&mut self) -> bool {
        self.failures = 0;
        std::mem::replace(&mut self.was_connected, true)
    }

    /// The link failed or closed: how long to wait before the next try.
    pub fn failed(&mut self) -> u32 {
        let delay = FIRST_DELAY_MS.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        delay.min(MAX_DELAY_MS)
    }
}

/// What an update asks the page to reload: views of events (the overview's figures, the event
/// and snapshot lists), views of alerts (the overview's, the alert list, the health badge), and
/// the pages of the snapshots it names. A `Hello` only says the link is up.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changed {
    pub events: bool,
    pub alerts: bool,
    /// The snapshots whose pages must reload; `Touched::All` when not known.
    pub snapshots: Touched,
}

/// Snapshots touched by events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Touched {
    #[default]
    None,
    Some(Vec<String>),
    All,
}

impl Touched {
    pub fn includes(&self, id: &str) -> bool {
        match self {
            Touched::None => false,
            Touched::Some(ids) => ids.iter().any(|touched| touched == id),
            Touched::All => true,
        }
    }

    /// Both together (what a reload folded from several updates must cover).
    pub fn merge(&mut self, other: Touched) {
        *self = match (std::mem::take(self), other) {
            (Touched::All, _) | (_, Touched::All) => Touched::All,
            (Touched::None, other) | (other, Touched::None) => other,
            (Touched::Some(mut ids), Touched::Some(more)) => {
                for id in more {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Touched::Some(ids)
            }
        };
    }
}

impl Changed {
    /// Everything: after a gap in the link, the page reloads all it shows.
    pub fn everything() -> Self {
        Self {
            events: true,
            alerts: true,
            snapshots: Touched::All,
        }
    }
}

pub fn changed(update: &LiveUpdate) -> Changed {
    match update {
        LiveUpdate::Hello { .. } => Changed::default(),
        LiveUpdate::Changes {
            events,
            alerts,
            snapshots,
        } => Changed {
            events: *events > 0,
            alerts: *alerts > 0,
            snapshots: match snapshots {
                _ if *events == 0 => Touched::None,
                Some(ids) => Touched::Some(ids.clone()),
                None => Touched::All,
            },
        },
    }
}

/// Updates arriving together are folded into one reload this long after the first (the server
/// already sends at most one update per `api::COALESCE_MS`).
pub const REFRESH_AFTER_MS: u64 = 50;
/// A view reloads at most this often under steady traffic: every open page reloading its figures
/// at the stream's pace (five times a second) was most of the database's work with a few
/// dashboards open, for changes nobody reads that fast. (At 1 s the database did a quarter of
/// the work, but a delivery in a steady stream then took up to 1.3 s to show.)
pub const REFRESH_EVERY_MS: u64 = 500;

/// When a kind of view reloads: the first change after a quiet spell at once (after
/// [`REFRESH_AFTER_MS`]), later ones folded into one reload per [`REFRESH_EVERY_MS`].
#[derive(Debug, Default)]
pub struct Throttle {
    last_ms: Option<u64>,
    pending: bool,
}

impl Throttle {
    /// A change at `now_ms`: how long until the reload, or `None` when one is already due.
    pub fn change(&mut self, now_ms: u64) -> Option<u64> {
        if self.pending {
            return None;
        }
        self.pending = true;
        let earliest = self.last_ms.map_or(0, |last| last + REFRESH_EVERY_MS);
        Some(earliest.saturating_sub(now_ms).max(REFRESH_AFTER_MS))
    }

    /// The reload happened at `now_ms`.
    pub fn fired(&mut self, now_ms: u64) {
        self.pending = false;
        self.last_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling_and_resets_once_connected() {
        let mut link = Reconnect::default();
        let delays: Vec<u32> = (0..8).map(|_| link.failed()).collect();
        assert_eq!(
            delays,
            [500, 1_000, 2_000, 4_000, 8_000, 10_000, 10_000, 10_000]
        );
        link.connected();
        assert_eq!(link.failed(), 500);
        for _ in 0..100 {
            assert!(link.failed() <= MAX_DELAY_MS);
        }
    }

    #[test]
    fn only_a_connection_after_a_gap_asks_for_a_resync() {
        let mut link = Reconnect::default();
        assert!(
            !link.connected(),
            "the first connection follows the page's own load"
        );
        link.failed();
        assert!(link.connected(), "a reconnection follows a gap");
        assert!(link.connected());
    }

    #[test]
    fn an_update_reloads_what_it_changed_and_hellos_nothing() {
        assert_eq!(
            changed(&LiveUpdate::Hello { now_ms: 1 }),
            Changed::default()
        );
        let alerts_only = changed(&LiveUpdate::Changes {
            events: 0,
            alerts: 1,
            snapshots: None,
        });
        assert_eq!(
            (
                alerts_only.events,
                alerts_only.alerts,
                alerts_only.snapshots
            ),
            (false, true, Touched::None)
        );
        let events = changed(&LiveUpdate::Changes {
            events: 3,
            alerts: 0,
            snapshots: Some(vec!["s_1".into()]),
        });
        assert!(events.events && !events.alerts);
        assert!(events.snapshots.includes("s_1") && !events.snapshots.includes("s_2"));
        let unknown = changed(&LiveUpdate::Changes {
            events: 3,
            alerts: 0,
            snapshots: None,
        });
        assert!(
            unknown.snapshots.includes("s_2"),
            "not known: every snapshot page reloads"
        );
    }

    #[test]
    fn touches_merge_into_one_reload() {
        let mut touched = Touched::None;
        touched.merge(Touched::Some(vec!["a".into()]));
        touched.merge(Touched::Some(vec!["b".into(), "a".into()]));
        assert_eq!(touched, Touched::Some(vec!["a".into(), "b".into()]));
        touched.merge(Touched::All);
        assert_eq!(touched, Touched::All);
        touched.merge(Touched::None);
        assert_eq!(touched, Touched::All);
    }

    #[test]
    fn reloads_come_at_once_after_a_quiet_spell_then_at_most_twice_a_second() {
        let mut throttle = Throttle::default();
        assert_eq!(throttle.change(10_000), Some(REFRESH_AFTER_MS));
        assert_eq!(throttle.change(10_010), None, "folded into the one due");
        throttle.fired(10_050);
        // Steady traffic: the next reload waits for its turn.
        assert_eq!(throttle.change(10_250), Some(300));
        throttle.fired(10_550);
        // A quiet spell: at once again.
        assert_eq!(throttle.change(20_000), Some(REFRESH_AFTER_MS));
    }
}
