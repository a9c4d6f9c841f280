//! The live link's rules, apart from the socket itself so they can be tested natively: when to
//! reload the overview, how long to wait before reconnecting.

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

/// Whether an update changes what the overview shows (so it is reloaded, at most every
/// [`REFRESH_AFTER_MS`]); a `Hello` only says the link is up.
pub fn changes_overview(update: &LiveUpdate) -> bool {
    !matches!(update, LiveUpdate::Hello { .. })
}

/// Updates arriving together are folded into one reload this long after the first (the server
/// already sends at most one update per `api::COALESCE_MS`).
pub const REFRESH_AFTER_MS: u64 = 50;

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
    fn changes_reload_the_overview_hellos_do_not() {
        assert!(!changes_overview(&LiveUpdate::Hello { now_ms: 1 }));
        assert!(changes_overview(&LiveUpdate::Changes {
            events: 0,
            alerts: 1
        }));
    }
}
