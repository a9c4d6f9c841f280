//! A snapshot's lifecycle: (`triggered`, when `server trigger` started it) -> `running` -> `ready`
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

#[cfg(test)]
mod tests {
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
}
