//! What every request handler can reach.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::credentials::Credentials;
use crate::log_file::AuditLogs;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: DatabaseConnection,
    pub credentials: Arc<Credentials>,
    pub logs: AuditLogs,
    pub leptos_options: LeptosOptions,
    pub started_at: Instant,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
