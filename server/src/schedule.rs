//! Background rounds on a schedule (completeness checks, drift judging, alert evaluation,
//! retention): one round now, then one every interval until the service stops.

use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

pub struct Rounds {
    tick: Interval,
    stop: CancellationToken,
}

impl Rounds {
    /// A round that overruns its interval delays the next instead of bursting to catch up.
    pub fn every(every: Duration, stop: CancellationToken) -> Self {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self { tick, stop }
    }

    /// Waits for the next round: `false` once the service stops.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.tick.tick() => true,
            _ = self.stop.cancelled() => false,
        }
    }
}
