//! What every request handler can reach.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;

use crate::brightdata_api::{BrightDataApi, Unavailable};
use crate::config::Config;
use crate::credentials::Credentials;
use crate::events::EventRecorder;
use crate::http_server::ConnectionStats;
use crate::ingest::Ingest;
use crate::ingest::rate_limit::RateLimit;
use crate::leadership::{Instance, Leadership};
use crate::live::LiveHub;
use crate::log_file::AuditLogs;
use crate::monitor::Thresholds;
use crate::public_url::PublicUrl;
use crate::sessions::Sessions;
use crate::store::Writer;
use crate::views::monitor::Service;
use crate::views::snapshots::Destination;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    /// Where BrightData reaches the service, found at start-up (`public_url::in_effect`).
    pub public: Arc<PublicUrl>,
    pub db: DatabaseConnection,
    pub credentials: Arc<Credentials>,
    pub logs: AuditLogs,
    pub leptos_options: LeptosOptions,
    pub started_at: Instant,
    pub writer: Writer,
    pub hub: LiveHub,
    pub events: EventRecorder,
    pub ingest: Arc<Ingest>,
    pub rate_limit: RateLimit,
    pub sessions: Arc<Sessions>,
    pub thresholds: Thresholds,
    pub connections: Arc<ConnectionStats>,
    /// BrightData's API, or why it cannot be called (no API key).
    pub brightdata: Arc<Result<BrightDataApi, Unavailable>>,
    /// This process among the instances on its database.
    pub instance: Instance,
    /// Whether it runs the once-per-service rounds now.
    pub leadership: Leadership,
}

impl AppState {
    /// Where a redelivery is sent: this service's data and notify URLs, with its webhook token.
    pub fn redelivery_destination(&self) -> Destination {
        Destination {
            endpoint: self.public.data_url(),
            notify: self.public.notify_url(),
            auth_header: format!("Bearer {}", self.credentials.webhook_tokens[0].expose()),
        }
    }

    pub fn brightdata(&self) -> Result<&BrightDataApi, &Unavailable> {
        self.brightdata.as_ref().as_ref()
    }

    /// What the health view reads besides the database.
    pub fn service(&self) -> Service<'_> {
        Service {
            thresholds: &self.thresholds,
            data_dir: &self.config.storage.data_dir,
            uptime_s: self.started_at.elapsed().as_secs(),
        }
    }
}

impl FromRef<AppState> for Arc<Ingest> {
    fn from_ref(state: &AppState) -> Self {
        state.ingest.clone()
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
