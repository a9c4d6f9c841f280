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

use crate::paths::DASHBOARD_PATH;

pub fn router(state: AppState) -> Router {
    let leptos_options = state.leptos_options.clone();
    // What the dashboard's server functions reach (the app crate knows only the trait).
    let backend = crate::dashboard::backend(state.clone());
    let api = Router::new()
        .merge(health::routes())
        .merge(crate::ingest::routes(
            state.ingest.clone(),
            &state.rate_limit,
        ))
        .merge(crate::api::routes(&state))
        .fallback(|| async { ApiError::not_found("no such API endpoint") });

    // The dashboard's pages and server functions, compressed; its JS, WASM and CSS are served
    // pre-compressed by the file handler below (`scripts/build-site` writes `.br` and `.gz`).
    let dashboard = Router::new()
        .leptos_routes_with_context(
            &state,
            generate_route_list(app::App),
            move || provide_context(backend.clone()),
            move || app::shell(leptos_options.clone()),
        )
        .layer(crate::compression::layer());

    Router::new()
        .route("/", get(|| async { Redirect::temporary(DASHBOARD_PATH) }))
        .nest("/api", api)
        .merge(crate::api::prometheus_routes())
        .merge(dashboard)
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
