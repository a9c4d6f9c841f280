//! The HTTP surface: one router assembled from the areas below.

mod health;

use axum::Router;
use axum::response::Redirect;
use axum::routing::get;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::state::AppState;

/// Where the dashboard lives; `/` redirects there.
pub const DASHBOARD_PATH: &str = "/webhook-monitor";

pub fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    // What the dashboard's server functions reach (the app crate knows only the trait).
    let backend = crate::dashboard::backend(state.clone());
    let api = Router::new()
        .merge(health::routes())
        .merge(crate::ingest::routes(&state))
        .merge(crate::api::routes(&state))
        .fallback(|| async { ApiError::not_found("no such API endpoint") });

    Router::new()
        .route("/", get(|| async { Redirect::temporary(DASHBOARD_PATH) }))
        .nest("/api", api)
        .merge(crate::api::prometheus_routes())
        .leptos_routes_with_context(
            &state,
            generate_route_list(app::App),
            move || provide_context(backend.clone()),
            move || app::shell(leptos_options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Registers `path` both with and without its trailing slash: callers use both forms.
pub fn both_slashes(path: &str) -> [String; 2] {
    let bare = path.trim_end_matches('/');
    [bare.to_owned(), format!("{bare}/")]
}
