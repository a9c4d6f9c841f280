//! The monitor API (JSON, admin only), the session endpoints, Prometheus and the OpenAPI document.
//! Paths are the original guide's: `/api/brightdata/webhook/<what>/`, with or without the slash.

pub mod alerts;
pub mod auth;
pub mod events;
pub mod monitor;
pub mod openapi;
pub mod posts;
pub mod setup;
pub mod snapshots;

use axum::Router;
use axum::middleware;
use axum::routing::{MethodRouter, get, post};

use crate::paths::both_slashes;
use crate::state::AppState;

/// Under `/api`.
pub fn routes(state: &AppState) -> Router<AppState> {
    let endpoints: [(&str, MethodRouter<AppState>); 19] = [
        ("/brightdata/webhook/metrics/", get(monitor::metrics)),
        ("/brightdata/webhook/health/", get(monitor::health)),
        ("/brightdata/webhook/analytics/", get(monitor::analytics)),
        ("/brightdata/webhook/test/", post(monitor::self_test)),
        ("/brightdata/webhook/config/", get(setup::config)),
        ("/brightdata/webhook/storage/", get(setup::storage)),
        ("/brightdata/webhook/events/", get(events::list)),
        ("/brightdata/webhook/events/{id}/", get(events::detail)),
        (
            "/brightdata/webhook/events/{id}/replay/",
            post(events::replay),
        ),
        ("/brightdata/webhook/export-events/", get(events::export)),
        ("/brightdata/webhook/alerts/", get(alerts::list)),
        (
            "/brightdata/webhook/alerts/{id}/ack/",
            post(alerts::acknowledge),
        ),
        ("/brightdata/webhook/snapshots/", get(snapshots::list)),
        (
            "/brightdata/webhook/snapshots/coverage/",
            get(snapshots::coverage),
        ),
        ("/brightdata/webhook/posts/", get(posts::list)),
        ("/brightdata/webhook/export-posts/", get(posts::export)),
        (
            "/brightdata/webhook/snapshots/{id}/",
            get(snapshots::detail),
        ),
        (
            "/brightdata/webhook/snapshots/{id}/redeliver/",
            post(snapshots::redeliver),
        ),
        (
            "/brightdata/webhook/snapshots/{id}/fields/accept/",
            post(snapshots::accept_fields),
        ),
    ];
    let mut monitor = Router::new();
    for (path, handler) in endpoints {
        for path in both_slashes(path) {
            monitor = monitor.route(&path, handler.clone());
        }
    }
    let monitor = monitor.route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_admin,
    ));

    Router::new()
        .merge(monitor)
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::end_session))
        .route("/auth/session", get(auth::session))
        .route("/openapi.json", get(openapi::document))
        .layer(crate::compression::layer())
}

/// At the root: `GET /metrics` for Prometheus.
pub fn prometheus_routes() -> Router<AppState> {
    Router::new().route("/metrics", get(monitor::prometheus))
}
