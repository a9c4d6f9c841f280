//! One live view across instances on one PostgreSQL: each instance tells the others what its hub
//! counted (`NOTIFY` on one channel, at most every [`COALESCE`]: counts, the snapshots touched, a
//! session ended), and merges what they tell into its own hub (`LISTEN`, on a connection of its
//! own). The payloads are small: the pages connected to an instance read the rest from the
//! database, as they do for what that instance handled itself. On SQLite there is one instance and
//! no feed.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::DatabaseUrl;
use crate::leadership::Instance;
use crate::live::{Change, LiveHub, Outbox};
use crate::sessions::Sessions;

/// The PostgreSQL channel.
pub const CHANNEL: &str = "track_futura_live";
/// What happens within this long goes out in one message.
const COALESCE: Duration = Duration::from_millis(50);
/// The wait before listening again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// One message: who sends it, and the change.
#[derive(Debug, Serialize, Deserialize)]
struct Message {
    from: String,
    #[serde(flatten)]
    change: Change,
}

pub struct LiveFeed {
    pub url: DatabaseUrl,
    pub db: DatabaseConnection,
    pub hub: LiveHub,
    pub outbox: Arc<Outbox>,
    pub instance: Instance,
    pub sessions: Arc<Sessions>,
}

impl LiveFeed {
    /// Sends and listens until `stop`.
    pub fn spawn(self, stop: CancellationToken) -> JoinHandle<()> {
        let feed = Arc::new(self);
        let listening = tokio::spawn(feed.clone().listen(stop.clone()));
        tokio::spawn(async move {
            feed.send(stop).await;
            let _ = listening.await;
        })
    }

    /// Sends what the hub counted, coalesced.
    async fn send(&self, stop: CancellationToken) {
        loop {
            tokio::select! {
                () = self.outbox.ready.notified() => {}
                () = stop.cancelled() => return,
            }
            tokio::time::sleep(COALESCE).await;
            let change = self.outbox.take();
            if change.is_empty() {
                continue;
            }
            let message = Message {
                from: self.instance.id.to_string(),
                change,
            };
            let payload = serde_json::to_string(&message).expect("a message serialises");
            let sent = self
                .db
                .execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [CHANNEL.into(), payload.into()],
                ))
                .await;
            if let Err(error) = sent {
                // The other instances' pages miss this change until the next one (they then
                // reload what it touched as unknown).
                tracing::warn!(%error, "cannot tell the other instances what happened here");
            }
        }
    }

    /// Merges what the other instances tell into the hub. A lost connection is listened to
    /// again; what was said meanwhile is lost, so the pages are told to reload everything.
    async fn listen(self: Arc<Self>, stop: CancellationToken) {
        loop {
            let listener = async {
                let mut listener = PgListener::connect(self.url.as_str()).await?;
                listener.listen(CHANNEL).await?;
                Ok::<_, sea_orm::sqlx::Error>(listener)
            };
            let mut listener = tokio::select! {
                listener = listener => match listener {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::warn!(%error, "cannot listen to the other instances; retrying");
                        tokio::select! {
                            () = tokio::time::sleep(RETRY) => continue,
                            () = stop.cancelled() => return,
                        }
                    }
                },
                () = stop.cancelled() => return,
            };
            loop {
                let next = tokio::select! {
                    next = listener.try_recv() => next,
                    () = stop.cancelled() => return,
                };
                match next {
                    Ok(Some(notification)) => self.merge(notification.payload()).await,
                    // Reconnected: what the others said meanwhile is unknown.
                    Ok(None) => self.hub.merge(&Change::lost()),
                    Err(error) => {
                        tracing::warn!(%error, "lost the other instances' feed; listening again");
                        self.hub.merge(&Change::lost());
                        break;
                    }
                }
            }
        }
    }

    async fn merge(&self, payload: &str) {
        let message = match serde_json::from_str::<Message>(payload) {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "an unreadable message from another instance");
                return;
            }
        };
        if message.from == *self.instance.id {
            return;
        }
        self.hub.merge(&message.change);
        if message.change.sessions_ended
            && let Err(error) = self.sessions.sync(&self.db).await
        {
            tracing::warn!(%error, "reading sessions ended on another instance");
        }
    }
}
