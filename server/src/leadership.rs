//! Several instances on one PostgreSQL act as one service. The rounds that must run once per
//! service (alert evaluation, retention, completeness checks, drift judging) run only on the
//! instance holding the `leader` lease. The holder renews it every third of `CLUSTER_LEASE`; if it
//! dies, its lease runs out and the next instance to ask takes it over (within `CLUSTER_LEASE` and a
//! third). A holder that stops gives it up, so the handover is then immediate. On SQLite the
//! process is the only one on its file and always leads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::RngCore;
use sea_orm::DatabaseConnection;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::log_file::LogFile;
use crate::store::leases;

/// The lease's name in the `leases` table.
pub const LEADER: &str = "leader";

/// This process among the instances: a name of its own (host, process id and a random part, since
/// a restarted container may reuse both), and how long the leases it takes last unrenewed.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: Arc<str>,
    pub lease: Duration,
}

impl Instance {
    pub fn new(lease: Duration) -> Self {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        let id = format!(
            "{host}:{}:{:08x}",
            std::process::id(),
            rand::rng().next_u32()
        );
        Self {
            id: id.into(),
            lease,
        }
    }

    /// When a lease taken or renewed at `now` runs out.
    pub fn lease_until(&self, now: i64) -> i64 {
        now + self.lease.as_millis() as i64
    }
}

#[derive(Clone)]
pub struct Leadership(Arc<Inner>);

struct Inner {
    instance: Instance,
    /// `None`: the only instance (SQLite), always the leader.
    db: Option<DatabaseConnection>,
    held: AtomicBool,
    /// One question to the database at a time: the renewals and the rounds ask concurrently, and
    /// two first asks would race each other for the row (the loser would read "another leads").
    asking: tokio::sync::Mutex<()>,
    log: LogFile,
}

impl Leadership {
    /// The only instance on its database: it always leads.
    pub fn sole(instance: Instance, log: LogFile) -> Self {
        Self(Arc::new(Inner {
            instance,
            db: None,
            held: AtomicBool::new(true),
            asking: Default::default(),
            log,
        }))
    }

    /// One of possibly several instances on `db`: it leads while it holds the lease.
    pub fn leased(instance: Instance, db: DatabaseConnection, log: LogFile) -> Self {
        Self(Arc::new(Inner {
            instance,
            db: Some(db),
            held: AtomicBool::new(false),
            asking: Default::default(),
            log,
        }))
    }

    /// Whether this instance led at the last renewal.
    pub fn holds(&self) -> bool {
        self.0.held.load(Ordering::Relaxed)
    }

    /// Whether this instance leads now: asks the database, taking the lead if it is free. A round
    /// begins only after this said yes. When the database cannot be reached the answer stays what
    /// it was: nobody can take the lead meanwhile, and the leader goes on evaluating, so the
    /// outage itself is alerted on once.
    pub async fn confirm(&self) -> bool {
        let Some(db) = &self.0.db else {
            return true;
        };
        let _asking = self.0.asking.lock().await;
        let now = chrono::Utc::now().timestamp_millis();
        let until = self.0.instance.lease_until(now);
        match leases::hold(db, LEADER, &self.0.instance.id, now, until).await {
            Ok(held) => {
                self.set(held);
                held
            }
            Err(error) => {
                tracing::warn!(%error, "cannot renew the leadership; it stands as it was");
                self.holds()
            }
        }
    }

    fn set(&self, held: bool) {
        if self.0.held.swap(held, Ordering::Relaxed) == held {
            return;
        }
        let instance = self.0.instance.id.to_string();
        if held {
            tracing::info!(%instance, "this instance leads (alerts, retention, completeness, drift)");
            self.0.log.write(
                "leadership_taken",
                serde_json::json!({"instance": instance}),
            );
        } else {
            tracing::info!(%instance, "another instance leads now");
            self.0
                .log
                .write("leadership_lost", serde_json::json!({"instance": instance}));
        }
    }

    /// Renews (or asks for) the lease every third of its length until `stop`.
    pub fn spawn(&self, stop: CancellationToken) -> JoinHandle<()> {
        let leadership = self.clone();
        tokio::spawn(async move {
            if leadership.0.db.is_none() {
                return;
            }
            let every = leadership.0.instance.lease / 3;
            loop {
                leadership.confirm().await;
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.cancelled() => break,
                }
            }
        })
    }

    /// Gives the lead up (a stopping instance, once its rounds are over): the next instance to ask
    /// takes it at once.
    pub async fn release(&self) {
        let Some(db) = &self.0.db else {
            return;
        };
        let _asking = self.0.asking.lock().await;
        if !self.0.held.swap(false, Ordering::Relaxed) {
            return;
        }
        match leases::release(db, LEADER, &self.0.instance.id).await {
            Ok(()) => tracing::info!("gave up the leadership"),
            Err(error) => tracing::warn!(%error, "cannot give up the leadership; it runs out"),
        }
    }
}
