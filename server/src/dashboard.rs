//! The dashboard's backend: what its server functions (`app::api`) reach through Leptos context.
//! The same admin check and the same engine functions as the REST monitor API: one implementation
//! of every number, two doors onto it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use app::api::backend::{Backend, BoxFuture, SharedBackend};
use app::api::{COALESCE_MS, DashboardError, LiveUpdate};
use app::types::{
    AlertFilter, AlertList, AlertView, EventDetailView, EventFilter, EventPage, HealthView,
    OverviewView, ReplayView, SelfTestReport, SetupView, SnapshotDetailView, SnapshotFilter,
    SnapshotPage,
};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, StatusCode, request::Parts};
use futures_util::StreamExt;
use leptos::server_fn::BoxedStream;
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::api::{self as rest, auth};
use crate::error::ApiError;
use crate::monitor::{analytics, health, metrics, now_ms, window};
use crate::state::AppState;
use crate::store::entities::alerts;

/// How often the live stream says it is still up when nothing happens.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Events and alerts the overview lists.
const LATEST: u64 = 10;
/// Updates queued per connected page before the stream waits for the page.
const LIVE_QUEUE: usize = 64;

pub struct DashboardBackend {
    state: AppState,
}

pub fn backend(state: AppState) -> SharedBackend {
    Arc::new(DashboardBackend { state })
}

/// The monitor API's refusals in the dashboard's terms.
fn dashboard_error(error: ApiError) -> DashboardError {
    match (error.status, error.body.error) {
        (StatusCode::UNAUTHORIZED, "invalid_token") => DashboardError::InvalidToken,
        (StatusCode::UNAUTHORIZED, _) => DashboardError::Unauthorized,
        (StatusCode::FORBIDDEN, _) => DashboardError::Forbidden(error.body.message),
        (StatusCode::TOO_MANY_REQUESTS, _) => DashboardError::RateLimited,
        (StatusCode::BAD_REQUEST, _) => DashboardError::Invalid(error.body.message),
        (StatusCode::NOT_FOUND, _) => DashboardError::NotFound(error.body.message),
        (StatusCode::CONFLICT, _) => DashboardError::Conflict(error.body.message),
        _ => DashboardError::Internal(error.body.message),
    }
}

fn internal(context: &str, error: impl std::fmt::Display) -> DashboardError {
    dashboard_error(ApiError::internal(context, error))
}

impl Backend for DashboardBackend {
    fn authorize(&self, request: &Parts) -> Result<(), DashboardError> {
        auth::check_admin(&self.state, &request.headers, &request.method).map_err(dashboard_error)
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
            .map_err(dashboard_error)
    }

    fn logout<'a>(&'a self, request: &'a Parts) -> BoxFuture<'a, HeaderValue> {
        Box::pin(auth::logout(&self.state, &request.headers))
    }

    fn overview<'a>(
        &'a self,
        window_name: &'a str,
    ) -> BoxFuture<'a, Result<OverviewView, DashboardError>> {
        Box::pin(async move {
            let state = &self.state;
            let db = &state.db;
            let window_ms = window::parse(window_name)
                .ok_or_else(|| DashboardError::Invalid(format!("no such window: {window_name}")))?
                .as_millis() as i64;
            let now = now_ms();
            // Independent reads, run at once on the pool's connections: the page waits for the
            // slowest of them, not for their sum.
            let (metrics, previous, series, open_alerts, alert_list, latest_events, health) = tokio::join!(
                metrics::compute(db, window_name, window_ms, now),
                metrics::compute(db, window_name, window_ms, now - window_ms),
                analytics::series(db, window_ms, now),
                alerts::Entity::find()
                    .filter(alerts::Column::Status.eq("active"))
                    .count(db),
                alerts::Entity::find()
                    .filter(alerts::Column::Status.eq("active"))
                    .order_by_desc(alerts::Column::LastSeenMs)
                    .limit(LATEST)
                    .all(db),
                crate::api::events::page(db, Condition::all(), None, LATEST),
                health::check(
                    db,
                    &state.thresholds,
                    &state.config.storage.data_dir,
                    state.started_at.elapsed().as_secs(),
                ),
            );
            let metrics = metrics.map_err(|e| internal("dashboard: metrics", e))?;
            let previous = previous.map_err(|e| internal("dashboard: previous metrics", e))?;
            let series = series.map_err(|e| internal("dashboard: series", e))?;
            let open_alerts = open_alerts.map_err(|e| internal("dashboard: open alerts", e))?;
            let alert_list = alert_list.map_err(|e| internal("dashboard: alerts", e))?;
            let latest_events =
                latest_events.map_err(|e| internal("dashboard: latest events", e))?;
            Ok(OverviewView {
                window: window_name.to_owned(),
                metrics,
                previous,
                health,
                open_alerts: open_alerts as i64,
                error_threshold: state.thresholds.error_rate,
                bucket: series.bucket.to_owned(),
                buckets: series.buckets,
                latest_events: latest_events.into_iter().map(crate::events::view).collect(),
                alerts: alert_list
                    .into_iter()
                    .map(crate::monitor::alerts::view)
                    .collect(),
            })
        })
    }

    fn health(&self) -> BoxFuture<'_, Result<HealthView, DashboardError>> {
        Box::pin(async move {
            let state = &self.state;
            Ok(health::check(
                &state.db,
                &state.thresholds,
                &state.config.storage.data_dir,
                state.started_at.elapsed().as_secs(),
            )
            .await)
        })
    }

    fn events(&self, filter: EventFilter) -> BoxFuture<'_, Result<EventPage, DashboardError>> {
        Box::pin(async move {
            rest::events::list_page(&self.state.db, &filter)
                .await
                .map_err(dashboard_error)
        })
    }

    fn event(&self, id: i64) -> BoxFuture<'_, Result<EventDetailView, DashboardError>> {
        Box::pin(async move {
            rest::events::detail_view(&self.state.db, id)
                .await
                .map_err(dashboard_error)
        })
    }

    fn replay(&self, id: i64) -> BoxFuture<'_, Result<ReplayView, DashboardError>> {
        Box::pin(async move {
            rest::events::replay_event(&self.state, id)
                .await
                .map_err(dashboard_error)
        })
    }

    fn snapshots(
        &self,
        filter: SnapshotFilter,
    ) -> BoxFuture<'_, Result<SnapshotPage, DashboardError>> {
        Box::pin(async move {
            rest::snapshots::list_page(&self.state.db, &filter)
                .await
                .map_err(dashboard_error)
        })
    }

    fn snapshot(&self, id: String) -> BoxFuture<'_, Result<SnapshotDetailView, DashboardError>> {
        Box::pin(async move {
            rest::snapshots::detail_view(&self.state.db, &id)
                .await
                .map_err(dashboard_error)
        })
    }

    fn alerts(&self, filter: AlertFilter) -> BoxFuture<'_, Result<AlertList, DashboardError>> {
        Box::pin(async move {
            rest::alerts::list_alerts(&self.state.db, &filter)
                .await
                .map_err(dashboard_error)
        })
    }

    fn acknowledge(&self, id: i64, by: String) -> BoxFuture<'_, Result<AlertView, DashboardError>> {
        Box::pin(async move {
            rest::alerts::acknowledge_alert(&self.state, id, Some(by))
                .await
                .map_err(dashboard_error)
        })
    }

    fn self_test(&self) -> BoxFuture<'_, Result<SelfTestReport, DashboardError>> {
        Box::pin(async move {
            let state = &self.state;
            Ok(crate::ingest::selftest::run(
                state.ingest.clone(),
                &state.config,
                &state.credentials,
            )
            .await)
        })
    }

    fn setup(&self, request: &Parts) -> SetupView {
        rest::setup::setup_view(&self.state, &request.headers)
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
            let hello = || Ok(LiveUpdate::Hello { now_ms: now_ms() });
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
                        let update = LiveUpdate::Changes {
                            events: now.events - seen.events,
                            alerts: now.alerts - seen.alerts,
                            snapshots: state.hub.touched(seen.events, now.events),
                        };
                        seen = now;
                        Ok(update)
                    }
                    // The first tick is immediate: the page learns at once that the link is up.
                    // Each tick also checks the credential again: a session that expired or was
                    // ended by a logout (here or on another instance) ends the stream.
                    _ = heartbeat.tick() => {
                        if auth::check_admin(&state, &headers, &axum::http::Method::GET).is_err() {
                            let _ = sender.send(Err(DashboardError::Unauthorized)).await;
                            break;
                        }
                        hello()
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
