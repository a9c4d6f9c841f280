//! The live link: what it tells the sections (`Live`), its rules (what an update asks the page to
//! reload, how often at most, how long to wait before reconnecting), tested natively, and the
//! socket that applies them in the browser (`socket`).

use leptos::prelude::*;

use crate::types::LiveUpdate;

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
    Changed {
        events: update.events > 0,
        alerts: update.alerts > 0,
        snapshots: match &update.snapshots {
            _ if update.events == 0 => Touched::None,
            Some(ids) => Touched::Some(ids.clone()),
            None => Touched::All,
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

/// What the live link tells the sections, in context.
#[derive(Clone, Copy)]
pub struct Live {
    pub state: RwSignal<LinkState>,
    /// When the link last heard from the server, Unix ms.
    pub last_ms: RwSignal<Option<i64>>,
    /// Go up when the server reported new events, or alert changes, and after every
    /// reconnection (a re-sync), at most twice a second each (`live::Throttle`): a section reads
    /// the ones its data depends on in its resource's source, so it reloads then and only then.
    pub events: RwSignal<u64>,
    pub alerts: RwSignal<u64>,
    /// Goes up with each heartbeat (every 5 s): the health badge follows it and the alerts, not
    /// every event (its level moves with error rates and alerts, not with each delivery).
    pub beats: RwSignal<u64>,
    /// Goes up with `events`, with the snapshots those events touched: a snapshot's page
    /// reloads only when its own snapshot is among them.
    pub snapshots: RwSignal<(u64, Touched)>,
    /// The viewer's offset from UTC in minutes.
    pub utc_offset: RwSignal<i32>,
}

impl Live {
    /// The events counter, read (so a resource's source follows it) unless `paused`: an older
    /// page of a list stays as it is while new rows arrive.
    pub fn events_unless(self, paused: bool) -> u64 {
        if paused { 0 } else { self.events.get() }
    }

    /// A counter that goes up only when new events touched snapshot `id` (or an update could
    /// not say which): the source of that snapshot's page.
    pub fn snapshot_changes(self, id: Memo<String>) -> Memo<u64> {
        Memo::new(move |previous: Option<&u64>| {
            let id = id.get();
            self.snapshots.with(|(seq, touched)| match previous {
                Some(previous) if !touched.includes(&id) => *previous,
                _ => *seq,
            })
        })
    }
}

pub fn use_live() -> Live {
    expect_context::<Live>()
}

/// The socket: connects once the page is signed in, reads updates, reconnects after a gap, and
/// turns each update into the reloads the rules above ask for.
#[cfg(feature = "hydrate")]
pub mod socket {
    use futures::StreamExt;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use leptos::web_sys::js_sys;

    use super::{Changed, LinkState, Live, Reconnect, Throttle, Touched, changed};
    use crate::api::{self, DashboardError};
    use crate::types::HealthView;

    /// Starts the link once the session is known to be signed in (effects run only in the
    /// browser); a logout or an expired session stops it, a login starts it again.
    pub fn connect(session: crate::codec::Data<Result<HealthView, DashboardError>>, live: Live) {
        // Owned by the page, not by the effect below: an effect's own values are disposed each
        // time it runs again, and the link outlives every run.
        let started = StoredValue::new(false);
        // When the event views and the alert views reload next, and the snapshots that the
        // event views' next reload covers.
        let events_due = StoredValue::new(Throttle::default());
        let alerts_due = StoredValue::new(Throttle::default());
        let touched = StoredValue::new(Touched::None);
        Effect::new(move |_| {
            let signed_in = matches!(session.get(), Some(Ok(_)));
            if !signed_in || started.get_value() {
                return;
            }
            started.set_value(true);
            // The server said the session is over: the link stops (a login starts it again) and
            // the page asks for the session, which brings back the login form.
            let signed_out = move || {
                started.set_value(false);
                live.state.set(LinkState::Offline);
                session.refetch();
            };
            let refresh = move |changed: Changed| {
                if changed.events {
                    touched.update_value(|t| t.merge(changed.snapshots));
                    throttled(events_due, move || {
                        let covered = touched
                            .try_update_value(std::mem::take)
                            .unwrap_or(Touched::All);
                        live.snapshots.update(|(seq, t)| {
                            *seq += 1;
                            *t = covered;
                        });
                        live.events.update(|n| *n += 1);
                    });
                }
                if changed.alerts {
                    throttled(alerts_due, move || live.alerts.update(|n| *n += 1));
                }
            };
            spawn_local(run(live, refresh, signed_out));
        });
    }

    /// Runs `reload` when `due` says (after a quiet spell at once, else at its next turn),
    /// unless a reload is due already.
    fn throttled(due: StoredValue<Throttle>, reload: impl FnOnce() + 'static) {
        let now = js_sys::Date::now() as u64;
        if let Some(delay) = due.try_update_value(|t| t.change(now)).flatten() {
            set_timeout(
                move || {
                    due.update_value(|t| t.fired(js_sys::Date::now() as u64));
                    reload();
                },
                std::time::Duration::from_millis(delay),
            );
        }
    }

    async fn sleep(ms: u32) {
        let (done, wait) = futures::channel::oneshot::channel::<()>();
        set_timeout(
            move || {
                let _ = done.send(());
            },
            std::time::Duration::from_millis(u64::from(ms)),
        );
        let _ = wait.await;
    }

    /// Connects, reads updates until the link drops, waits, reconnects: for as long as the page
    /// lives and the session holds. An `Unauthorized` answer, at connection or in the stream,
    /// ends the link and calls `signed_out` instead of reconnecting forever.
    async fn run(
        live: Live,
        refresh: impl Fn(Changed) + Copy + 'static,
        signed_out: impl Fn() + Copy + 'static,
    ) {
        let mut reconnect = Reconnect::default();
        loop {
            live.state.set(if live.last_ms.get_untracked().is_some() {
                LinkState::Reconnecting
            } else {
                LinkState::Connecting
            });
            // The page's half of the socket: it sends nothing, but keeping it open keeps the link.
            let (_keep_open, input) =
                futures::channel::mpsc::channel::<Result<(), DashboardError>>(1);
            // A refused or failed connection ends up below, like a dropped one: wait, retry.
            let mut updates = match api::live(input.into()).await {
                Ok(updates) => Some(updates),
                Err(error) if error.is_unauthorized() => return signed_out(),
                Err(_) => None,
            };
            if let Some(updates) = updates.as_mut() {
                let mut first = true;
                while let Some(item) = updates.next().await {
                    let update = match item {
                        Ok(update) => update,
                        Err(error) if error.is_unauthorized() => return signed_out(),
                        Err(_) => break,
                    };
                    if first {
                        first = false;
                        live.state.set(LinkState::Live);
                        if reconnect.connected() {
                            refresh(Changed::everything());
                        }
                    }
                    live.last_ms.set(Some(js_sys::Date::now() as i64));
                    if update.heartbeat {
                        live.beats.update(|n| *n += 1);
                    }
                    refresh(changed(&update));
                }
            }
            live.state.set(LinkState::Reconnecting);
            sleep(reconnect.failed()).await;
        }
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
    fn an_update_reloads_what_it_changed_and_heartbeats_nothing() {
        assert_eq!(changed(&LiveUpdate::heartbeat()), Changed::default());
        let alerts_only = changed(&LiveUpdate::changes(0, 1, None));
        assert_eq!(
            (
                alerts_only.events,
                alerts_only.alerts,
                alerts_only.snapshots
            ),
            (false, true, Touched::None)
        );
        let events = changed(&LiveUpdate::changes(3, 0, Some(vec!["s_1".into()])));
        assert!(events.events && !events.alerts);
        assert!(events.snapshots.includes("s_1") && !events.snapshots.includes("s_2"));
        let unknown = changed(&LiveUpdate::changes(3, 0, None));
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
