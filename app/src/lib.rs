//! The dashboard: pages, components and server functions, shared by the server (feature `ssr`) and
//! the browser (feature `hydrate`). Nothing here touches the database: the server functions ask the
//! `api::backend::Backend` the server provides.

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{ParentRoute, Route, Router, Routes},
};

pub mod api;
pub mod charts;
pub mod codec;
pub mod error;
pub mod live;
pub mod pretty;
mod sections;
mod shell;
pub mod types;
mod ui;

use sections::{alerts, events, overview, posts, setup, snapshots};

/// The product's name as shown to users.
pub const PRODUCT_NAME: &str = "Track-Futura Webhook Monitor";

/// The HTML document the server renders around the app.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/track-futura.css" />
        <Title text=PRODUCT_NAME />
        // Async everywhere: the server waits for each section's data, so the first paint carries
        // real numbers even before (or without) any script.
        <Router>
            <Routes fallback=NotFound>
                <ParentRoute path=StaticSegment("webhook-monitor") view=shell::Monitor ssr=SsrMode::Async>
                    <Route path=StaticSegment("") view=overview::OverviewPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("events") view=events::EventsPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment("events"), ParamSegment("id"))
                        view=events::EventDetailPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("snapshots") view=snapshots::SnapshotsPage ssr=SsrMode::Async />
                    <Route
                        path=(StaticSegment("snapshots"), ParamSegment("id"))
                        view=snapshots::SnapshotDetailPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("posts") view=posts::PostsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("alerts") view=alerts::AlertsPage ssr=SsrMode::Async />
                    <Route path=StaticSegment("setup") view=setup::SetupPage ssr=SsrMode::Async />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <main class="page">
            <h1>"Page not found"</h1>
            <p>
                <a href="/webhook-monitor">"Go to the webhook monitor"</a>
            </p>
        </main>
    }
}
