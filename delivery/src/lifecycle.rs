//! The lifecycles of what the service stores: a snapshot's status and a delivery's state.
//!
//! A snapshot: (`triggered`, when `server trigger` started it) -> `running` -> `ready`
//! (data available at BrightData) -> `delivered` (records received here), or `failed` /
//! `cancelled` with BrightData's error text.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// Started by `server trigger`; BrightData has said nothing yet.
    Triggered,
    Running,
    Ready,
    Delivered,
    Failed,
    Cancelled,
}

impl SnapshotStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triggered => "triggered",
            Self::Running => "running",
            Self::Ready => "ready",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Triggered,
            Self::Running,
            Self::Ready,
            Self::Delivered,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// A status as BrightData notifies it. `ready`, `done` and `completed` all mean the data is
    /// available (not "still processing").
    pub fn from_notified(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "running" | "pending" | "building" | "collecting" | "in_progress" | "processing"
            | "started" | "queued" => Some(Self::Running),
            "ready" | "done" | "completed" | "complete" | "success" | "succeeded" => {
                Some(Self::Ready)
            }
            "delivered" => Some(Self::Delivered),
            "failed" | "failure" | "error" => Some(Self::Failed),
            "cancelled" | "canceled" | "aborted" => Some(Self::Cancelled),
            _ => None,
        }
    }

    fn progress(self) -> u8 {
        match self {
            Self::Triggered => 1,
            Self::Running => 2,
            Self::Ready => 3,
            Self::Delivered => 4,
            Self::Failed | Self::Cancelled => 0,
        }
    }

    /// The status after `incoming` arrives. Progress never goes back (a late `running` does not undo
    /// `ready`), received data wins over everything, and a delivered snapshot stays delivered.
    pub fn next(current: Option<Self>, incoming: Self) -> Self {
        let Some(current) = current else {
            return incoming;
        };
        match (current, incoming) {
            (_, Self::Delivered) | (Self::Delivered, _) => Self::Delivered,
            (_, Self::Failed | Self::Cancelled) => incoming,
            (Self::Failed | Self::Cancelled, _) => incoming,
            _ if incoming.progress() > current.progress() => incoming,
            _ => current,
        }
    }
}

/// Where a delivery is: `receiving` (its body is arriving) -> `queued` (stored whole, waiting for
/// extraction) -> `processing` -> `stored` (its records extracted), or `failed`. A replay puts a
/// finished delivery back to `queued`; a restart puts an interrupted `processing` back too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Receiving,
    Queued,
    Processing,
    Stored,
    Failed,
}

impl DeliveryState {
    pub const ALL: [Self; 5] = [
        Self::Receiving,
        Self::Queued,
        Self::Processing,
        Self::Stored,
        Self::Failed,
    ];

    /// The name stored in `deliveries.state` and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Receiving => "receiving",
            Self::Queued => "queued",
            Self::Processing => "processing",
            Self::Stored => "stored",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Extraction is over (well or not): the delivery may be replayed.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Stored | Self::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryState;
    use super::SnapshotStatus::{self, *};

    #[test]
    fn notified_names() {
        assert_eq!(SnapshotStatus::from_notified("ready"), Some(Ready));
        assert_eq!(SnapshotStatus::from_notified("DONE"), Some(Ready));
        assert_eq!(SnapshotStatus::from_notified("completed"), Some(Ready));
        assert_eq!(SnapshotStatus::from_notified("running"), Some(Running));
        assert_eq!(SnapshotStatus::from_notified("canceled"), Some(Cancelled));
        assert_eq!(SnapshotStatus::from_notified("failed"), Some(Failed));
        assert_eq!(SnapshotStatus::from_notified("exploded"), None);
    }

    #[test]
    fn transitions() {
        let next = SnapshotStatus::next;
        assert_eq!(next(None, Running), Running);
        assert_eq!(next(Some(Running), Ready), Ready);
        assert_eq!(next(Some(Ready), Running), Ready, "no going back");
        assert_eq!(next(Some(Ready), Delivered), Delivered);
        assert_eq!(next(Some(Delivered), Ready), Delivered);
        assert_eq!(next(Some(Delivered), Failed), Delivered);
        assert_eq!(next(Some(Running), Failed), Failed);
        assert_eq!(next(Some(Failed), Delivered), Delivered, "data wins");
        assert_eq!(next(Some(Cancelled), Running), Running, "a new run");
        assert_eq!(next(None, Delivered), Delivered);
        assert_eq!(next(Some(Triggered), Running), Running);
        assert_eq!(next(Some(Triggered), Ready), Ready);
        assert_eq!(next(Some(Triggered), Failed), Failed);
        assert_eq!(next(Some(Running), Triggered), Running, "no going back");
        assert_eq!(SnapshotStatus::parse("triggered"), Some(Triggered));
    }

    #[test]
    fn delivery_states_read_back_from_their_names() {
        for state in DeliveryState::ALL {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DeliveryState::parse("done"), None);
        let finished: Vec<_> = DeliveryState::ALL
            .into_iter()
            .filter(|s| s.is_finished())
            .collect();
        assert_eq!(finished, [DeliveryState::Stored, DeliveryState::Failed]);
    }
}
