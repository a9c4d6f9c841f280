//! `/webhook-monitor`: the live dashboard. For now the page shell: header, live indicator, empty state.

use leptos::prelude::*;

use crate::PRODUCT_NAME;

#[component]
pub fn Dashboard() -> impl IntoView {
    view! {
        <header class="topbar">
            <h1 class="brand">{PRODUCT_NAME}</h1>
            <LiveIndicator />
        </header>
        <main class="page">
            <EmptyState />
        </main>
    }
}

/// Shows whether the page is hydrated and connected. The server always renders "offline"; only the
/// browser, once the WASM app has taken over the page, switches it to "live" and starts the clock. So
/// the badge reading "Live" is proof that hydration worked.
#[component]
fn LiveIndicator() -> impl IntoView {
    let (live, set_live) = signal(false);
    let (seconds, set_seconds) = signal(0u64);
    Effect::new(move |_| {
        set_live.set(true);
        set_interval(
            move || set_seconds.update(|s| *s += 1),
            std::time::Duration::from_secs(1),
        );
    });
    view! {
        <div
            class="live-indicator"
            class:is-live=live
            data-testid="live-indicator"
            data-hydrated=move || live.get().to_string()
        >
            <span class="dot" aria-hidden="true"></span>
            <span class="label">{move || if live.get() { "Live" } else { "Offline" }}</span>
            <span class="uptime" data-testid="live-seconds">
                {move || if live.get() { format!("{}s", seconds.get()) } else { String::new() }}
            </span>
        </div>
    }
}

#[component]
fn EmptyState() -> impl IntoView {
    view! {
        <section class="empty-state" data-testid="empty-state">
            <h2>"No deliveries yet"</h2>
            <p>
                "When BrightData delivers a snapshot, its requests, records and alerts appear here live."
            </p>
            <p>"Point your BrightData collection at this service:"</p>
            <dl class="endpoints">
                <dt>"Data ("<code>"endpoint"</code>")"</dt>
                <dd>
                    <code>"/api/brightdata/webhook/"</code>
                </dd>
                <dt>"Status ("<code>"notify"</code>")"</dt>
                <dd>
                    <code>"/api/brightdata/notify/"</code>
                </dd>
                <dt>"Header ("<code>"auth_header"</code>")"</dt>
                <dd>
                    <code>"Bearer <your webhook token>"</code>
                </dd>
            </dl>
        </section>
    }
}
