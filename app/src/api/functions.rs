//! The dashboard's server functions: its only door to the server. On the server each one asks the
//! [`Backend`](super::backend::Backend) the server put into context, which checks the admin
//! credential exactly as the REST monitor API does and answers from the same product views.

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, JsonEncoding};
use leptos::server_fn::{BoxedStream, Websocket};

use crate::codec::{ViewEncoding, ViewJson};
use crate::error::DashboardError;
use crate::types::LiveUpdate;
use crate::types::{
    AlertFilter, AlertList, AlertView, CoverageHistoryView, DriftView, EventDetailView,
    EventFilter, EventPage, HealthView, OverviewView, PostFilter, PostPage, RedeliveryView,
    ReplayView, SelfTestReport, SetupView, SnapshotDetailView, SnapshotFilter, SnapshotPage,
    StorageView,
};

/// The overview of `window` (`5m`, `1h`, `24h` or `7d`).
#[server(prefix = "/dashboard/api", endpoint = "overview", output = ViewJson, input = GetUrl)]
pub async fn overview(window: String) -> Result<OverviewView, DashboardError> {
    let (backend, parts) = super::backend::context()?;
    let refuse = |error| super::backend::refuse(&parts, error);
    backend.authorize(&parts).map_err(refuse)?;
    let windows = super::protocol::WINDOWS;
    if !windows.contains(&window.as_str()) {
        return Err(refuse(DashboardError::new(
            crate::error::ErrorKind::Invalid,
            format!("window must be one of {windows:?}"),
        )));
    }
    no_store();
    backend.overview(&window).await.map_err(refuse)
}

/// Logs in with the admin token: sets the session cookie (the same as `POST /api/auth/login`).
#[server(prefix = "/dashboard/api", endpoint = "login", output = ViewJson)]
pub async fn login(token: String) -> Result<(), DashboardError> {
    let (backend, parts) = super::backend::context()?;
    let cookie = backend
        .login(&parts, &token)
        .map_err(|error| super::backend::refuse(&parts, error))?;
    expect_context::<leptos_axum::ResponseOptions>()
        .insert_header(http::header::SET_COOKIE, cookie);
    Ok(())
}

/// Ends the session: a copy of its cookie is refused from now on, and the cookie is cleared.
#[server(prefix = "/dashboard/api", endpoint = "logout", output = ViewJson)]
pub async fn logout() -> Result<(), DashboardError> {
    let (backend, parts) = super::backend::context()?;
    let cleared = backend.logout(&parts).await;
    expect_context::<leptos_axum::ResponseOptions>()
        .insert_header(http::header::SET_COOKIE, cleared);
    Ok(())
}

/// The live stream: what the hub publishes, pushed over a websocket. The page sends nothing.
#[server(protocol = Websocket<JsonEncoding, ViewEncoding>, prefix = "/dashboard/api", endpoint = "live")]
pub async fn live(
    input: BoxedStream<(), DashboardError>,
) -> Result<BoxedStream<LiveUpdate, DashboardError>, DashboardError> {
    let (backend, parts) = super::backend::context()?;
    backend
        .authorize(&parts)
        .map_err(|error| super::backend::refuse(&parts, error))?;
    Ok(backend.live(&parts, input))
}

/// Checks the session and says how the service is: the page's frame (login or not, the health
/// badge) reads this.
#[server(prefix = "/dashboard/api", endpoint = "status", output = ViewJson, input = GetUrl)]
pub async fn status() -> Result<HealthView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .health()
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// One page of events, newest first (the monitor API's `GET events/`).
#[server(prefix = "/dashboard/api", endpoint = "events", output = ViewJson, input = GetUrl)]
pub async fn events(#[server(default)] filter: EventFilter) -> Result<EventPage, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .events(filter)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// One event in full (`GET events/{id}/`).
#[server(prefix = "/dashboard/api", endpoint = "event", output = ViewJson, input = GetUrl)]
pub async fn event(id: i64) -> Result<EventDetailView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .event(id)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Extracts an event's stored delivery again (`POST events/{id}/replay/`).
#[server(prefix = "/dashboard/api", endpoint = "replay", output = ViewJson, client = super::client::PageClient)]
pub async fn replay(id: i64) -> Result<ReplayView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    backend
        .replay(id)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Snapshots, most recently active first (`GET snapshots/`).
#[server(prefix = "/dashboard/api", endpoint = "snapshots", output = ViewJson, input = GetUrl)]
pub async fn snapshots(
    #[server(default)] filter: SnapshotFilter,
) -> Result<SnapshotPage, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .snapshots(filter)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// One snapshot with its deliveries, notifications, input errors and posts (`GET snapshots/{id}/`).
#[server(prefix = "/dashboard/api", endpoint = "snapshot", output = ViewJson, input = GetUrl)]
pub async fn snapshot(id: String) -> Result<SnapshotDetailView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .snapshot(id)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// One page of the collected posts, most recently stored first (`GET posts/`).
#[server(prefix = "/dashboard/api", endpoint = "posts", output = ViewJson, input = GetUrl)]
pub async fn posts(#[server(default)] filter: PostFilter) -> Result<PostPage, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .posts(filter)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Asks BrightData to deliver a snapshot again (`POST snapshots/{id}/redeliver/`).
#[server(prefix = "/dashboard/api", endpoint = "redeliver", output = ViewJson, client = super::client::PageClient)]
pub async fn redeliver(id: String) -> Result<RedeliveryView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    backend
        .redeliver(id)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Per platform, the key fields' coverage over recent snapshots (`GET snapshots/coverage/`).
#[server(prefix = "/dashboard/api", endpoint = "field_coverage", output = ViewJson, input = GetUrl)]
pub async fn field_coverage() -> Result<Vec<CoverageHistoryView>, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .field_coverage()
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Takes a drifted snapshot's fields as the new normal (`POST snapshots/{id}/fields/accept/`).
#[server(prefix = "/dashboard/api", endpoint = "accept_fields", output = ViewJson, client = super::client::PageClient)]
pub async fn accept_fields(id: String) -> Result<DriftView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    backend
        .accept_fields(id)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Alerts (`GET alerts/`).
#[server(prefix = "/dashboard/api", endpoint = "alerts", output = ViewJson, input = GetUrl)]
pub async fn alerts(#[server(default)] filter: AlertFilter) -> Result<AlertList, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .alerts(filter)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Acknowledges an alert (`POST alerts/{id}/ack/`).
#[server(prefix = "/dashboard/api", endpoint = "acknowledge", output = ViewJson, client = super::client::PageClient)]
pub async fn acknowledge(id: i64, by: String) -> Result<AlertView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    backend
        .acknowledge(id, by)
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// What the data takes (`GET storage/`).
#[server(prefix = "/dashboard/api", endpoint = "storage", output = ViewJson, input = GetUrl)]
pub async fn storage() -> Result<StorageView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    backend
        .storage()
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// Runs the security self-test (`POST test/`).
#[server(prefix = "/dashboard/api", endpoint = "self_test", output = ViewJson, client = super::client::PageClient)]
pub async fn self_test() -> Result<SelfTestReport, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    backend
        .self_test()
        .await
        .map_err(|error| super::backend::refuse(&parts, error))
}

/// What to paste into BrightData and the configuration in effect (`GET config/`).
#[server(prefix = "/dashboard/api", endpoint = "setup", output = ViewJson, input = GetUrl)]
pub async fn setup() -> Result<SetupView, DashboardError> {
    let (backend, parts) = super::backend::authorized()?;
    no_store();
    Ok(backend.setup(&parts))
}

/// Figures of one moment, for one admin: no cache may keep or replay them (this also marks the
/// server-rendered page that calls it).
#[cfg(feature = "ssr")]
fn no_store() {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.insert_header(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-store"),
        );
    }
}
