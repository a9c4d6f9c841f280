//! The live hub: an in-process broadcast of what happens (events now; alerts and metrics later). The
//! dashboard subscribes to it; a subscriber that falls behind is told how much it missed and should
//! ask for a fresh snapshot instead of replaying.

use app::types::LiveMessage;
use tokio::sync::broadcast;

const CAPACITY: usize = 4096;

#[derive(Clone)]
pub struct LiveHub {
    sender: broadcast::Sender<LiveMessage>,
}

impl Default for LiveHub {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl LiveHub {
    /// Publishes to whoever listens; with no subscriber the message is simply dropped.
    pub fn publish(&self, message: LiveMessage) {
        let _ = self.sender.send(message);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<LiveMessage> {
        self.sender.subscribe()
    }
}
