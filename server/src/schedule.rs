//! Background rounds on a schedule (completeness checks, drift judging, alert evaluation,
//! retention): one round now, then one every interval until the service stops. They run once per
//! service: on the instance that leads (`leadership`), the others skip theirs.

use std::time::Duration;

use tokio::time::{Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::leadership::Leadership;

pub struct Rounds {
    tick: Interval,
    stop: CancellationToken,
    leadership: Leadership,
}

impl Rounds {
    /// A round that overruns its interval delays the next instead of bursting to catch up.
    pub fn every(every: Duration, stop: CancellationToken, leadership: Leadership) -> Self {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self {
            tick,
            stop,
            leadership,
        }
    }

    /// Waits for the next round this instance leads: `false` once the service stops.
    pub async fn next(&mut self) -> bool {
        loop {
            tokio::select! {
                _ = self.tick.tick() => {}
                _ = self.stop.cancelled() => return false,
            }
            if self.leadership.confirm().await {
                return true;
            }
        }
    }
}
