//! The dashboard's server functions: its only door to the server. On the server each one asks the
//! [`Backend`](backend::Backend) the server put into context, which checks the admin credential
//! exactly as the REST monitor API does and calls the same engine functions.

use std::fmt;

use leptos::prelude::*;
use leptos::server_fn::codec::{GetUrl, JsonEncoding};
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::{BoxedStream, Websocket};
use serde::{Deserialize, Serialize};

use crate::codec::{ViewEncoding, ViewJson};
use crate::types::{
    AlertFilter, AlertList, AlertView, EventDetailView, EventFilter, EventPage, HealthView,
    OverviewView, ReplayView, SelfTestReport, SetupView, SnapshotDetailView, SnapshotFilter,
    SnapshotPage,
};

/// The header a state-changing call made with the session cookie must carry (a cross-site form
/// cannot set it), and its value: the REST API's rule, which the dashboard's writes follow too.
pub const CSRF_HEADER: &str = "x-requested-with";
pub const CSRF_VALUE: &str = "track-futura";

/// Where the server functions live (outside `/api`, whose unknown paths are JSON 404s). The
/// `#[server]` attributes below spell it out, as the macro takes only a literal.
pub const PREFIX: &str = "/dashboard/api";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DashboardError {
    /// No valid admin session or token: the dashboard shows the login form.
    Unauthorized,
    /// A write carried the session cookie without the proof that it came from this page.
    Forbidden(String),
    /// The admin token given at login is wrong.
    InvalidToken,
    /// Too many login attempts from this address.
    RateLimited,
    /// A parameter the server does not accept.
    Invalid(String),
    /// No such event, snapshot or alert (any more).
    NotFound(String),
    /// The thing cannot do that now (e.g. a replay of a delivery whose body was not kept).
    Conflict(String),
    /// The server failed; the details are in its log.
    Internal(String),
    /// The call did not reach the server, or its answer could not be read.
    Transport(String),
}

impl fmt::Display for DashboardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unauthorized => write!(f, "log in with the admin token"),
            Self::Forbidden(why) => write!(f, "refused: {why}"),
            Self::InvalidToken => write!(f, "that is not the admin token"),
            Self::RateLimited => write!(f, "too many login attempts; wait a minute"),
            Self::Invalid(why) | Self::NotFound(why) | Self::Conflict(why) => write!(f, "{why}"),
            Self::Internal(why) => write!(f, "the server failed: {why}"),
            Self::Transport(why) => write!(f, "could not reach the server: {why}"),
        }
    }
}

impl std::error::Error for DashboardError {}

impl FromServerFnError for DashboardError {
    type Encoder = ViewEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        Self::Transport(value.to_string())
    }
}

/// What the live stream carries to the page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveUpdate {
    /// Sent first, and again every few seconds: the stream is up (the indicator's "last update").
    Hello { now_ms: i64 },
    /// What the hub published since the last update, counted: at most one of these per
    /// `COALESCE_MS` whatever the traffic, so a connected page costs the server little (sending
    /// every event to every page cut the ingest rate by ~45% with 50 pages connected). Counts
    /// cannot fall behind: the page reloads what it shows, so nothing is ever missed.
    /// `snapshots`: the snapshots the new events belong to (`None`: not known, e.g. too many),
    /// so a snapshot's page reloads only for its own.
    Changes {
        events: u64,
        alerts: u64,
        snapshots: Option<Vec<String>>,
    },
}

/// The page's reader of [`DashboardError`], serde's externally tagged form: `"Unauthorized"`, or
/// `{"NotFound":"no event 9"}`.
mod dashboard_error_reader {
    use miniserde::de::{Map, Visitor};
    use miniserde::{Deserialize, Error, Result, make_place};

    use super::DashboardError;

    make_place!(Place);

    impl Deserialize for DashboardError {
        fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
            Place::new(out)
        }
    }

    impl Visitor for Place<DashboardError> {
        fn string(&mut self, variant: &str) -> Result<()> {
            self.out = Some(match variant {
                "Unauthorized" => DashboardError::Unauthorized,
                "InvalidToken" => DashboardError::InvalidToken,
                "RateLimited" => DashboardError::RateLimited,
                _ => return Err(Error),
            });
            Ok(())
        }

        fn map(&mut self) -> Result<Box<dyn Map + '_>> {
            Ok(Box::new(Variant {
                out: &mut self.out,
                name: None,
                why: None,
            }))
        }
    }

    /// `{"Variant": "why"}`: exactly one key.
    struct Variant<'a> {
        out: &'a mut Option<DashboardError>,
        name: Option<String>,
        why: Option<String>,
    }

    impl Map for Variant<'_> {
        fn key(&mut self, key: &str) -> Result<&mut dyn Visitor> {
            if self.name.replace(key.to_owned()).is_some() {
                return Err(Error);
            }
            Ok(String::begin(&mut self.why))
        }

        fn finish(&mut self) -> Result<()> {
            let why = self.why.take().ok_or(Error)?;
            *self.out = Some(match self.name.as_deref() {
                Some("Forbidden") => DashboardError::Forbidden(why),
                Some("Invalid") => DashboardError::Invalid(why),
                Some("NotFound") => DashboardError::NotFound(why),
                Some("Conflict") => DashboardError::Conflict(why),
                Some("Internal") => DashboardError::Internal(why),
                Some("Transport") => DashboardError::Transport(why),
                _ => return Err(Error),
            });
            Ok(())
        }
    }
}

/// The page's reader of [`LiveUpdate`], serde's internally tagged form
/// (`{"kind":"changes","events":3,"alerts":0,"snapshots":["s_1"]}`); miniserde derives no enum
/// with data.
mod live_update_reader {
    use miniserde::de::{Map, Visitor};
    use miniserde::{Deserialize, Error, Result, make_place};

    use super::LiveUpdate;

    make_place!(Place);

    impl Deserialize for LiveUpdate {
        fn begin(out: &mut Option<Self>) -> &mut dyn Visitor {
            Place::new(out)
        }
    }

    impl Visitor for Place<LiveUpdate> {
        fn map(&mut self) -> Result<Box<dyn Map + '_>> {
            Ok(Box::new(Fields {
                out: &mut self.out,
                kind: None,
                now_ms: None,
                events: None,
                alerts: None,
                snapshots: None,
            }))
        }
    }

    struct Fields<'a> {
        out: &'a mut Option<LiveUpdate>,
        kind: Option<String>,
        now_ms: Option<i64>,
        events: Option<u64>,
        alerts: Option<u64>,
        snapshots: Option<Option<Vec<String>>>,
    }

    impl Map for Fields<'_> {
        fn key(&mut self, key: &str) -> Result<&mut dyn Visitor> {
            Ok(match key {
                "kind" => String::begin(&mut self.kind),
                "now_ms" => i64::begin(&mut self.now_ms),
                "events" => u64::begin(&mut self.events),
                "alerts" => u64::begin(&mut self.alerts),
                "snapshots" => Option::<Vec<String>>::begin(&mut self.snapshots),
                _ => <dyn Visitor>::ignore(),
            })
        }

        fn finish(&mut self) -> Result<()> {
            let update = match (self.kind.as_deref(), self.now_ms, self.events, self.alerts) {
                (Some("hello"), Some(now_ms), _, _) => LiveUpdate::Hello { now_ms },
                (Some("changes"), _, Some(events), Some(alerts)) => LiveUpdate::Changes {
                    events,
                    alerts,
                    // Missing reads as "not known": the page reloads rather than misses.
                    snapshots: self.snapshots.take().flatten(),
                },
                _ => return Err(Error),
            };
            *self.out = Some(update);
            Ok(())
        }
    }
}

/// The live stream sends what changed at most this often.
pub const COALESCE_MS: u64 = 200;

/// The overview's time windows: the selector's choices, and the only ones `overview` takes.
pub const WINDOWS: [&str; 4] = ["5m", "1h", "24h", "7d"];

/// The overview of `window` (`5m`, `1h`, `24h` or `7d`).
#[server(prefix = "/dashboard/api", endpoint = "overview", output = ViewJson, input = GetUrl)]
pub async fn overview(window: String) -> Result<OverviewView, DashboardError> {
    let (backend, parts) = backend::context()?;
    let refuse = |error| backend::refuse(&parts, error);
    backend.authorize(&parts).map_err(refuse)?;
    if !WINDOWS.contains(&window.as_str()) {
        return Err(refuse(DashboardError::Invalid(format!(
            "window must be one of {WINDOWS:?}"
        ))));
    }
    no_store();
    backend.overview(&window).await.map_err(refuse)
}

/// Logs in with the admin token: sets the session cookie (the same as `POST /api/auth/login`).
#[server(prefix = "/dashboard/api", endpoint = "login", output = ViewJson)]
pub async fn login(token: String) -> Result<(), DashboardError> {
    let (backend, parts) = backend::context()?;
    let cookie = backend
        .login(&parts, &token)
        .map_err(|error| backend::refuse(&parts, error))?;
    expect_context::<leptos_axum::ResponseOptions>()
        .insert_header(http::header::SET_COOKIE, cookie);
    Ok(())
}

/// Ends the session: a copy of its cookie is refused from now on, and the cookie is cleared.
#[server(prefix = "/dashboard/api", endpoint = "logout", output = ViewJson)]
pub async fn logout() -> Result<(), DashboardError> {
    let (backend, parts) = backend::context()?;
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
    let (backend, parts) = backend::context()?;
    backend
        .authorize(&parts)
        .map_err(|error| backend::refuse(&parts, error))?;
    Ok(backend.live(&parts, input))
}

/// Checks the session and says how the service is: the page's frame (login or not, the health
/// badge) reads this.
#[server(prefix = "/dashboard/api", endpoint = "status", output = ViewJson, input = GetUrl)]
pub async fn status() -> Result<HealthView, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    no_store();
    backend
        .health()
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// One page of events, newest first (the monitor API's `GET events/`).
#[server(prefix = "/dashboard/api", endpoint = "events", output = ViewJson, input = GetUrl)]
pub async fn events(#[server(default)] filter: EventFilter) -> Result<EventPage, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    no_store();
    backend
        .events(filter)
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// One event in full (`GET events/{id}/`).
#[server(prefix = "/dashboard/api", endpoint = "event", output = ViewJson, input = GetUrl)]
pub async fn event(id: i64) -> Result<EventDetailView, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    no_store();
    backend
        .event(id)
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// Extracts an event's stored delivery again (`POST events/{id}/replay/`).
#[server(prefix = "/dashboard/api", endpoint = "replay", output = ViewJson, client = client::PageClient)]
pub async fn replay(id: i64) -> Result<ReplayView, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    backend
        .replay(id)
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// Snapshots, most recently active first (`GET snapshots/`).
#[server(prefix = "/dashboard/api", endpoint = "snapshots", output = ViewJson, input = GetUrl)]
pub async fn snapshots(
    #[server(default)] filter: SnapshotFilter,
) -> Result<SnapshotPage, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    no_store();
    backend
        .snapshots(filter)
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// One snapshot with its deliveries, notifications, input errors and posts (`GET snapshots/{id}/`).
#[server(prefix = "/dashboard/api", endpoint = "snapshot", output = ViewJson, input = GetUrl)]
pub async fn snapshot(id: String) -> Result<SnapshotDetailView, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    no_store();
    backend
        .snapshot(id)
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// Alerts (`GET alerts/`).
#[server(prefix = "/dashboard/api", endpoint = "alerts", output = ViewJson, input = GetUrl)]
pub async fn alerts(#[server(default)] filter: AlertFilter) -> Result<AlertList, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    no_store();
    backend
        .alerts(filter)
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// Acknowledges an alert (`POST alerts/{id}/ack/`).
#[server(prefix = "/dashboard/api", endpoint = "acknowledge", output = ViewJson, client = client::PageClient)]
pub async fn acknowledge(id: i64, by: String) -> Result<AlertView, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    backend
        .acknowledge(id, by)
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// Runs the security self-test (`POST test/`).
#[server(prefix = "/dashboard/api", endpoint = "self_test", output = ViewJson, client = client::PageClient)]
pub async fn self_test() -> Result<SelfTestReport, DashboardError> {
    let (backend, parts) = backend::authorized()?;
    backend
        .self_test()
        .await
        .map_err(|error| backend::refuse(&parts, error))
}

/// What to paste into BrightData and the configuration in effect (`GET config/`).
#[server(prefix = "/dashboard/api", endpoint = "setup", output = ViewJson, input = GetUrl)]
pub async fn setup() -> Result<SetupView, DashboardError> {
    let (backend, parts) = backend::authorized()?;
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

/// The client of the dashboard's writes: the browser's, with the CSRF header added (the session
/// cookie alone does not authorise a write).
pub mod client {
    use leptos::server_fn::client::Client;
    use leptos::server_fn::client::browser::BrowserClient;
    use leptos::server_fn::error::FromServerFnError;
    use leptos::server_fn::request::browser::BrowserRequest;
    use leptos::server_fn::response::browser::BrowserResponse;

    pub struct PageClient;

    impl<E, IS, OS> Client<E, IS, OS> for PageClient
    where
        E: FromServerFnError,
        IS: FromServerFnError,
        OS: FromServerFnError,
    {
        type Request = BrowserRequest;
        type Response = BrowserResponse;

        fn send(req: BrowserRequest) -> impl Future<Output = Result<BrowserResponse, E>> + Send {
            // Only ever called in the browser: on the server a server function runs in-process.
            req.headers().set(super::CSRF_HEADER, super::CSRF_VALUE);
            <BrowserClient as Client<E, IS, OS>>::send(req)
        }

        #[allow(clippy::type_complexity)]
        fn open_websocket(
            path: &str,
        ) -> impl Future<
            Output = Result<
                (
                    impl futures::Stream<
                        Item = Result<leptos::server_fn::Bytes, leptos::server_fn::Bytes>,
                    > + Send
                    + 'static,
                    impl futures::Sink<leptos::server_fn::Bytes> + Send + 'static,
                ),
                E,
            >,
        > + Send {
            <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
        }

        fn spawn(future: impl Future<Output = ()> + Send + 'static) {
            <BrowserClient as Client<E, IS, OS>>::spawn(future)
        }
    }
}

/// What the server provides to the server functions (in context, as `Arc<dyn Backend>`).
#[cfg(feature = "ssr")]
pub mod backend {
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;

    use http::HeaderValue;
    use http::request::Parts;
    use leptos::prelude::*;
    use leptos::server_fn::BoxedStream;

    use super::{DashboardError, LiveUpdate};
    use crate::types::{
        AlertFilter, AlertList, AlertView, EventDetailView, EventFilter, EventPage, HealthView,
        OverviewView, ReplayView, SelfTestReport, SetupView, SnapshotDetailView, SnapshotFilter,
        SnapshotPage,
    };

    /// The header a state-changing call made with the session cookie must carry (a cross-site form
    /// cannot set it), and its value: the REST API's rule, which the dashboard's writes follow too.
    pub const CSRF_HEADER: &str = "x-requested-with";
    pub const CSRF_VALUE: &str = "track-futura";

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
        fn snapshot(&self, id: String)
        -> BoxFuture<'_, Result<SnapshotDetailView, DashboardError>>;
        fn alerts(&self, filter: AlertFilter) -> BoxFuture<'_, Result<AlertList, DashboardError>>;
        fn acknowledge(
            &self,
            id: i64,
            by: String,
        ) -> BoxFuture<'_, Result<AlertView, DashboardError>>;
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
        let backend = use_context::<SharedBackend>()
            .ok_or_else(|| DashboardError::Internal("no dashboard backend in context".into()))?;
        let parts = use_context::<Parts>()
            .ok_or_else(|| DashboardError::Internal("no request in context".into()))?;
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
        if !request.uri.path().starts_with(super::PREFIX) {
            return error;
        }
        let status = match &error {
            DashboardError::Unauthorized | DashboardError::InvalidToken => 401,
            DashboardError::Forbidden(_) => 403,
            DashboardError::RateLimited => 429,
            DashboardError::Invalid(_) => 400,
            DashboardError::NotFound(_) => 404,
            DashboardError::Conflict(_) => 409,
            DashboardError::Internal(_) | DashboardError::Transport(_) => 500,
        };
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(http::StatusCode::from_u16(status).expect("a valid status"));
        }
        error
    }
}
