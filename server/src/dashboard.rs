//! The dashboard's backend: what its server functions (`app::api`) reach through Leptos context.
//! The same admin check and the same product views (`views`) as the REST monitor API: one
//! implementation of every answer, two doors onto it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use app::api::backend::{Backend, BoxFuture, SharedBackend};
use app::api::{COALESCE_MS, DashboardError, ErrorKind};
use app::types::LiveUpdate;
use app::types::{
    AlertFilter, AlertList, AlertView, CoverageHistoryView, DriftView, EventDetailView,
    EventFilter, EventPage, HealthView, OverviewView, PostFilter, PostPage, RedeliveryView,
    ReplayView, SelfTestReport, SetupView, SnapshotDetailView, SnapshotFilter, SnapshotPage,
    StorageView,
};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, request::Parts};
use futures_util::StreamExt;
use leptos::server_fn::BoxedStream;

use crate::api::auth;
use crate::error::ApiError;
use crate::state::AppState;
use crate::views::{
    ViewError, ViewResult, alerts, drift, events, monitor, overview, posts, snapshots,
};

/// How often the live stream says it is still up when nothing happens.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Updates queued per connected page before the stream waits for the page.
const LIVE_QUEUE: usize = 64;

pub struct DashboardBackend {
    state: AppState,
}

pub fn backend(state: AppState) -> SharedBackend {
    Arc::new(DashboardBackend { state })
}

/// The monitor API's refusals in the dashboard's terms (login and session checks).
fn refusal(error: ApiError) -> DashboardError {
    let kind = match (error.status, error.body.error) {
        (StatusCode::UNAUTHORIZED, "invalid_token") => ErrorKind::InvalidToken,
        (StatusCode::UNAUTHORIZED, _) => ErrorKind::Unauthorized,
        (StatusCode::FORBIDDEN, _) => ErrorKind::Forbidden,
        (StatusCode::TOO_MANY_REQUESTS, _) => ErrorKind::RateLimited,
        _ => ErrorKind::Internal,
    };
    DashboardError::new(kind, error.body.message)
}

/// A product question's refusal in the dashboard's terms.
fn view_error(error: ViewError) -> DashboardError {
    let kind = match error {
        ViewError::Invalid { .. } => ErrorKind::Invalid,
        ViewError::NotFound(_) => ErrorKind::NotFound,
        ViewError::Conflict { .. } => ErrorKind::Conflict,
        ViewError::Internal(_) => ErrorKind::Internal,
        ViewError::Upstream(_) => ErrorKind::Upstream,
    };
    DashboardError::new(kind, error.message())
}

/// Answers with a view, or the dashboard's form of its refusal.
fn answer<'a, T: 'a>(
    view: impl Future<Output = ViewResult<T>> + Send + 'a,
) -> BoxFuture<'a, Result<T, DashboardError>> {
    Box::pin(async move { view.await.map_err(view_error) })
}

impl Backend for DashboardBackend {
    fn authorize(&self, request: &Parts) -> Result<(), DashboardError> {
        auth::check_admin(&self.state, &request.headers, &request.method).map_err(refusal)
    }

    fn login(&self, request: &Parts, token: &str) -> Result<HeaderValue, DashboardError> {
        // Served with connect info, so the peer is always there; unspecified only in unit tests.
        let peer = request
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        auth::attempt_login(&self.state, peer, &request.headers, token)
            .map(|(cookie, _)| cookie)
            .map_err(refusal)
    }

    fn logout<'a>(&'a self, request: &'a Parts) -> BoxFuture<'a, HeaderValue> {
        Box::pin(auth::logout(&self.state, &request.headers))
    }

    fn overview<'a>(
        &'a self,
        window_name: &'a str,
    ) -> BoxFuture<'a, Result<OverviewView, DashboardError>> {
        answer(async move {
            let service = self.state.service();
            overview::overview(&self.state.db, &service, window_name).await
        })
    }

    fn health(&self) -> BoxFuture<'_, Result<HealthView, DashboardError>> {
        Box::pin(async move {
            let service = self.state.service();
            Ok(monitor::health(&self.state.db, &service).await)
        })
    }

    fn events(&self, filter: EventFilter) -> BoxFuture<'_, Result<EventPage, DashboardError>> {
        answer(async move { events::list(&self.state.db, &filter).await })
    }

    fn event(&self, id: i64) -> BoxFuture<'_, Result<EventDetailView, DashboardError>> {
        answer(events::detail(&self.state.db, id))
    }

    fn replay(&self, id: i64) -> BoxFuture<'_, Result<ReplayView, DashboardError>> {
        let state = &self.state;
        answer(events::replay(
            &state.db,
            &state.writer,
            &state.ingest.processor,
            id,
        ))
    }

    fn snapshots(
        &self,
        filter: SnapshotFilter,
    ) -> BoxFuture<'_, Result<SnapshotPage, DashboardError>> {
        answer(async move { snapshots::list(&self.state.db, &filter).await })
    }

    fn snapshot(&self, id: String) -> BoxFuture<'_, Result<SnapshotDetailView, DashboardError>> {
        let can_redeliver = self.state.brightdata().is_ok();
        answer(async move { snapshots::detail(&self.state.db, &id, can_redeliver).await })
    }

    fn storage(&self) -> BoxFuture<'_, Result<StorageView, DashboardError>> {
        let state = &self.state;
        answer(crate::views::storage::usage(
            &state.db,
            state.config.monitor.body_retention,
        ))
    }

    fn posts(&self, filter: PostFilter) -> BoxFuture<'_, Result<PostPage, DashboardError>> {
        answer(async move { posts::list(&self.state.db, &filter).await })
    }

    fn field_coverage(&self) -> BoxFuture<'_, Result<Vec<CoverageHistoryView>, DashboardError>> {
        answer(async move { drift::history(&self.state.db).await })
    }

    fn accept_fields(&self, id: String) -> BoxFuture<'_, Result<DriftView, DashboardError>> {
        let state = &self.state;
        answer(
            async move { drift::accept(&state.db, &state.writer, &state.logs.monitor, &id).await },
        )
    }

    fn redeliver(&self, id: String) -> BoxFuture<'_, Result<RedeliveryView, DashboardError>> {
        let state = &self.state;
        answer(async move {
            let to = state.redelivery_destination();
            snapshots::redeliver(
                &state.db,
                &state.writer,
                &state.logs.monitor,
                state.brightdata(),
                &to,
                &id,
            )
            .await
        })
    }

    fn alerts(&self, filter: AlertFilter) -> BoxFuture<'_, Result<AlertList, DashboardError>> {
        answer(async move { alerts::list(&self.state.db, &filter).await })
    }

    fn acknowledge(&self, id: i64, by: String) -> BoxFuture<'_, Result<AlertView, DashboardError>> {
        let state = &self.state;
        answer(alerts::acknowledge(
            &state.writer,
            &state.logs,
            &state.hub,
            id,
            Some(by),
        ))
    }

    fn self_test(&self) -> BoxFuture<'_, Result<SelfTestReport, DashboardError>> {
        Box::pin(async move {
            let state = &self.state;
            Ok(crate::ingest::selftest::run(
                state.ingest.clone(),
                &state.config,
                &state.public,
                &state.credentials,
            )
            .await)
        })
    }

    fn setup(&self, request: &Parts) -> SetupView {
        crate::api::setup::setup_view(&self.state, &request.headers)
    }

    fn live(
        &self,
        request: &Parts,
        mut input: BoxedStream<(), DashboardError>,
    ) -> BoxedStream<LiveUpdate, DashboardError> {
        let mut counts = self.state.hub.watch_counts();
        let (sender, mut updates) = tokio::sync::mpsc::channel(LIVE_QUEUE);
        let state = self.state.clone();
        let headers = request.headers.clone();
        tokio::spawn(async move {
            let coalesce = Duration::from_millis(COALESCE_MS);
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            let mut seen = *counts.borrow_and_update();
            let mut last_sent = tokio::time::Instant::now() - coalesce;
            let mut input_open = true;
            loop {
                let update = tokio::select! {
                    changed = counts.changed() => {
                        if changed.is_err() {
                            break;
                        }
                        // At most one update per `coalesce`: what happens meanwhile is counted
                        // into it. The first change after a quiet spell goes out at once.
                        tokio::time::sleep_until(last_sent + coalesce).await;
                        let now = *counts.borrow_and_update();
                        let update = LiveUpdate::changes(
                            now.events - seen.events,
                            now.alerts - seen.alerts,
                            state.hub.touched(seen.events, now.events),
                        );
                        seen = now;
                        Ok(update)
                    }
                    // The first tick is immediate: the page learns at once that the link is up.
                    // Each tick also checks the credential again: a session that expired or was
                    // ended by a logout (here or on another instance) ends the stream.
                    _ = heartbeat.tick() => {
                        if auth::check_admin(&state, &headers, &axum::http::Method::GET).is_err() {
                            let _ = sender.send(Err(DashboardError::unauthorized())).await;
                            break;
                        }
                        Ok(LiveUpdate::heartbeat())
                    }
                    // The page sends nothing; reading its half notices nothing but keeps it open.
                    item = input.next(), if input_open => {
                        input_open = item.is_some();
                        continue;
                    }
                    // The page went away: the socket closed and dropped the stream.
                    () = sender.closed() => break,
                };
                if sender.send(update).await.is_err() {
                    break;
                }
                last_sent = tokio::time::Instant::now();
            }
        });
        BoxedStream::from(futures_util::stream::poll_fn(move |cx| {
            updates.poll_recv(cx)
        }))
    }
}
