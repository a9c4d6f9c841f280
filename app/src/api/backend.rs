//! What the server provides to the server functions (in context, as `Arc<dyn Backend>`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use http::HeaderValue;
use http::request::Parts;
use leptos::prelude::*;
use leptos::server_fn::BoxedStream;

use crate::error::{DashboardError, ErrorKind};
use crate::types::LiveUpdate;
use crate::types::{
    AlertFilter, AlertList, AlertView, CoverageHistoryView, DriftView, EventDetailView,
    EventFilter, EventPage, HealthView, OverviewView, PostFilter, PostPage, RedeliveryView,
    ReplayView, SelfTestReport, SetupView, SnapshotDetailView, SnapshotFilter, SnapshotPage,
    StorageView,
};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait Backend: Send + Sync + 'static {
    /// Whether the request carries the admin credential (token or session cookie); writes made
    /// with the cookie must also prove they come from the page (the CSRF rule).
    fn authorize(&self, request: &Parts) -> Result<(), DashboardError>;
    /// Checks the admin token (rate-limited per address); the session cookie to set.
    fn login(&self, request: &Parts, token: &str) -> Result<HeaderValue, DashboardError>;
    /// Ends the request's session (on the server side too): the cookie that clears it.
    fn logout<'a>(&'a self, request: &'a Parts) -> BoxFuture<'a, HeaderValue>;
    fn overview<'a>(
        &'a self,
        window: &'a str,
    ) -> BoxFuture<'a, Result<OverviewView, DashboardError>>;
    fn health(&self) -> BoxFuture<'_, Result<HealthView, DashboardError>>;
    fn events(&self, filter: EventFilter) -> BoxFuture<'_, Result<EventPage, DashboardError>>;
    fn event(&self, id: i64) -> BoxFuture<'_, Result<EventDetailView, DashboardError>>;
    fn replay(&self, id: i64) -> BoxFuture<'_, Result<ReplayView, DashboardError>>;
    fn snapshots(
        &self,
        filter: SnapshotFilter,
    ) -> BoxFuture<'_, Result<SnapshotPage, DashboardError>>;
    fn snapshot(&self, id: String) -> BoxFuture<'_, Result<SnapshotDetailView, DashboardError>>;
    fn posts(&self, filter: PostFilter) -> BoxFuture<'_, Result<PostPage, DashboardError>>;
    fn redeliver(&self, id: String) -> BoxFuture<'_, Result<RedeliveryView, DashboardError>>;
    fn field_coverage(&self) -> BoxFuture<'_, Result<Vec<CoverageHistoryView>, DashboardError>>;
    fn accept_fields(&self, id: String) -> BoxFuture<'_, Result<DriftView, DashboardError>>;
    fn alerts(&self, filter: AlertFilter) -> BoxFuture<'_, Result<AlertList, DashboardError>>;
    fn acknowledge(&self, id: i64, by: String) -> BoxFuture<'_, Result<AlertView, DashboardError>>;
    fn storage(&self) -> BoxFuture<'_, Result<StorageView, DashboardError>>;
    fn self_test(&self) -> BoxFuture<'_, Result<SelfTestReport, DashboardError>>;
    /// The setup as seen from this request (its host, when no public URL is configured).
    fn setup(&self, request: &Parts) -> SetupView;
    /// The live hub's messages from now on. `input` is the page's half of the socket: it
    /// sends nothing, but it must be read for as long as the stream runs. The request's
    /// credential is checked again at every heartbeat: a session that expired or was ended
    /// (here or on another instance) ends the stream with `Unauthorized`.
    fn live(
        &self,
        request: &Parts,
        input: BoxedStream<(), DashboardError>,
    ) -> BoxedStream<LiveUpdate, DashboardError>;
}

pub type SharedBackend = Arc<dyn Backend>;

/// The backend and the request being served.
pub fn context() -> Result<(SharedBackend, Parts), DashboardError> {
    let backend = use_context::<SharedBackend>().ok_or_else(|| {
        DashboardError::new(ErrorKind::Internal, "no dashboard backend in context")
    })?;
    let parts = use_context::<Parts>()
        .ok_or_else(|| DashboardError::new(ErrorKind::Internal, "no request in context"))?;
    Ok((backend, parts))
}

/// The backend and the request, once the request is known to carry the admin credential.
pub fn authorized() -> Result<(SharedBackend, Parts), DashboardError> {
    let (backend, parts) = context()?;
    backend
        .authorize(&parts)
        .map_err(|error| refuse(&parts, error))?;
    Ok((backend, parts))
}

/// Sets the answer's status for an error (401, 403, 429, 400, 500) and passes it on; only
/// when answering a call of the function itself: a page rendered on the server that shows the
/// login form instead of data is still a page, answered 200.
pub fn refuse(request: &Parts, error: DashboardError) -> DashboardError {
    if !request.uri.path().starts_with(super::protocol::PREFIX) {
        return error;
    }
    let status = match error.kind {
        ErrorKind::Unauthorized | ErrorKind::InvalidToken => 401,
        ErrorKind::Forbidden => 403,
        ErrorKind::RateLimited => 429,
        ErrorKind::Invalid => 400,
        ErrorKind::NotFound => 404,
        ErrorKind::Conflict => 409,
        ErrorKind::Upstream => 502,
        ErrorKind::Internal | ErrorKind::Transport => 500,
    };
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::from_u16(status).expect("a valid status"));
    }
    error
}
