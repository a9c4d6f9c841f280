//! `/webhook-monitor`: the live dashboard. The server renders the first paint with real numbers
//! (the overview server function runs in-process); once hydrated, the page opens the live link
//! and reloads the overview whenever the hub reports something new.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::PRODUCT_NAME;
use crate::api::{self, DashboardError, Login, Logout, WINDOWS};
use crate::charts::{self, Frame};
use crate::live::LinkState;
use crate::types::{AlertView, EventView, MetricsView, OverviewView};

/// What the live link tells the page.
#[derive(Clone, Copy)]
struct Link {
    state: RwSignal<LinkState>,
    /// When the link last heard from the server, Unix ms.
    last_ms: RwSignal<Option<i64>>,
}

/// The viewer's offset from UTC in minutes, known to the server from the `tf_tz` cookie the page
/// sets (so the first paint is in the viewer's zone from the second visit on).
const TZ_COOKIE: &str = "tf_tz";

/// The offset in a `Cookie` header's text (`a=1; tf_tz=120`), the same on server and browser.
fn offset_from_cookies(cookies: &str) -> Option<i32> {
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TZ_COOKIE)
        .and_then(|(_, value)| value.parse().ok())
}

#[component]
pub fn Dashboard() -> impl IntoView {
    let query = use_query_map();
    let window = Memo::new(move |_| {
        query
            .read()
            .get("window")
            .filter(|w| WINDOWS.contains(&w.as_str()))
            .unwrap_or_else(|| "1h".to_owned())
    });
    let overview = Resource::new(move || window.get(), api::overview);
    let link = Link {
        state: RwSignal::new(LinkState::Offline),
        last_ms: RwSignal::new(None),
    };
    let utc_offset = RwSignal::new(initial_utc_offset());
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if matches!(login.value().get(), Some(Ok(()))) {
            overview.refetch();
        }
    });
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            if logout.version().get() > 0 {
                browser::reload();
            }
        });
        browser::start(overview, link, utc_offset);
    }

    view! {
        <header class="topbar">
            <h1 class="brand">{PRODUCT_NAME}</h1>
            <LiveIndicator link utc_offset />
            // Read inside Suspense, like the page below: the server renders it once the overview is
            // there, so the hydrating browser finds the same markup.
            <Suspense fallback=|| ()>
                {move || {
                    overview
                        .get()
                        .and_then(Result::ok)
                        .map(|o| {
                            view! {
                                <HealthBadge overview=o />
                                <RangeSelector window />
                                <ActionForm action=logout attr:class="logout">
                                    <button type="submit">"Log out"</button>
                                </ActionForm>
                            }
                        })
                }}
            </Suspense>
        </header>
        <main class="page">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    overview
                        .get()
                        .map(|answer| match answer {
                            Ok(o) => view! { <Overview overview=o utc_offset /> }.into_any(),
                            Err(DashboardError::Unauthorized) => {
                                view! { <LoginForm login /> }.into_any()
                            }
                            Err(error) => {
                                view! {
                                    <p class="problem" role="alert">
                                        {error.to_string()}
                                    </p>
                                }
                                    .into_any()
                            }
                        })
                }}
            </Suspense>
        </main>
    }
}

/// The offset the page starts with: the cookie's, on the server and (so hydration matches) in the
/// browser; the browser then corrects it from its own clock.
fn initial_utc_offset() -> i32 {
    #[cfg(feature = "ssr")]
    let cookies = use_context::<http::request::Parts>().map(|parts| {
        // HTTP/2 may split cookies over several headers.
        let all: Vec<&str> = parts
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        all.join("; ")
    });
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    let cookies = browser::cookies();
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let cookies: Option<String> = None;
    cookies
        .as_deref()
        .and_then(offset_from_cookies)
        .unwrap_or(0)
}

#[component]
fn LoginForm(login: ServerAction<Login>) -> impl IntoView {
    let problem = move || match login.value().get() {
        Some(Err(error)) => Some(error.to_string()),
        _ => None,
    };
    view! {
        <section class="login" data-testid="login">
            <h2>"Log in"</h2>
            <p>
                "Enter the admin token (" <code>"WEBHOOK_ADMIN_TOKEN"</code>
                ", or the file " <code>"data/admin_token"</code>
                " written at the first start)."
            </p>
            <ActionForm action=login>
                <label for="admin-token">"Admin token"</label>
                <input
                    id="admin-token"
                    name="token"
                    type="password"
                    autocomplete="current-password"
                    required
                />
                <button type="submit" disabled=move || login.pending().get()>
                    "Log in"
                </button>
            </ActionForm>
            <p class="problem" role="alert" data-testid="login-problem">
                {problem}
            </p>
        </section>
    }
}

#[component]
fn HealthBadge(overview: OverviewView) -> impl IntoView {
    let health = overview.health;
    let worst = health
        .reasons
        .first()
        .map(|r| r.message.clone())
        .unwrap_or_else(|| "every check passed".to_owned());
    let class = format!("health-badge health-{}", health.status);
    let label = format!("health: {}, {}", health.status, worst);
    view! {
        <span
            class=class
            data-testid="health-badge"
            title=worst.clone()
            aria-label=label
        >
            {health.status}
        </span>
    }
}

#[component]
fn LiveIndicator(link: Link, utc_offset: RwSignal<i32>) -> impl IntoView {
    let state = link.state;
    // Empty until the link has heard from the server (so on the server's first paint too).
    let last = move || {
        link.last_ms
            .get()
            .map(|at| charts::time_of_day(at, utc_offset.get()))
            .unwrap_or_default()
    };
    view! {
        <div
            class=move || format!("live-indicator {}", state.get().class())
            data-testid="live-indicator"
            data-state=move || state.get().label().to_lowercase()
            role="status"
        >
            <span class="dot" aria-hidden="true"></span>
            <span class="label">{move || state.get().label()}</span>
            <span class="last-update" data-testid="live-last">{last}</span>
        </div>
    }
}

#[component]
fn RangeSelector(window: Memo<String>) -> impl IntoView {
    view! {
        <nav class="range" aria-label="Time range">
            {WINDOWS
                .into_iter()
                .map(|w| {
                    view! {
                        // A plain link: the router navigates without a reload, and the
                        // range is in the URL (shareable, the back button works).
                        <a
                            href=format!("?window={w}")
                            class=move || if window.get() == w { "is-current" } else { "" }
                            aria-current=move || (window.get() == w).then_some("true")
                        >
                            {w}
                        </a>
                    }
                })
                .collect_view()}
        </nav>
    }
}

#[component]
fn Overview(overview: OverviewView, utc_offset: RwSignal<i32>) -> impl IntoView {
    let OverviewView {
        metrics,
        previous,
        health,
        open_alerts,
        error_threshold,
        buckets,
        latest_events,
        alerts,
        ..
    } = overview;
    let empty = metrics.requests == 0 && health.last_accepted_ms.is_none();
    let cards = cards(&metrics, &previous, open_alerts);
    let (from_ms, to_ms) = (metrics.from_ms, metrics.to_ms);
    let frame = move |width| Frame {
        from_ms,
        to_ms,
        width,
        utc_offset_min: utc_offset.get(),
    };
    let threshold = error_threshold;
    let platforms = metrics.by_platform;
    let reasons = health.reasons;
    view! {
        <Show when=move || empty>
            <EmptyState />
        </Show>
        <section class="cards" aria-label="Key figures" data-testid="cards">
            {cards.into_iter().map(|card| view! { <StatCard card /> }).collect_view()}
        </section>
        <section class="charts" aria-label="Charts">
            <Chart
                title="Requests"
                legend=vec![("accepted", "accepted"), ("refused", "refused")]
                draw={
                    let buckets = buckets.clone();
                    move |w| charts::volume(&buckets, &frame(w))
                }
            />
            <Chart
                title="Response time"
                legend=vec![("p50", "p50"), ("p95", "p95"), ("p99", "p99")]
                draw={
                    let buckets = buckets.clone();
                    move |w| charts::latency(&buckets, &frame(w))
                }
            />
            <Chart
                title="Error rate"
                legend=vec![("refused", "refused share"), ("threshold", "threshold")]
                draw={
                    let buckets = buckets.clone();
                    move |w| charts::error_rate(&buckets, threshold, &frame(w))
                }
            />
            <Chart
                title="Records per platform"
                legend=vec![("accepted", "records stored")]
                draw=move |w| charts::records_per_platform(&platforms, w)
            />
        </section>
        <LatestEvents events=latest_events utc_offset />
        <OpenAlerts alerts utc_offset />
        <section class="reasons" aria-label="Health checks">
            <h2>"Health checks"</h2>
            <ul>
                {reasons
                    .into_iter()
                    .map(|r| {
                        let pill = format!("pill health-{}", r.status);
                        view! {
                            <li class="reason">
                                <span class=pill>{r.status}</span>
                                <strong>{r.check}</strong>
                                " "
                                {r.message}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}

/// The colour class of an outcome (the same meaning everywhere: accepted blue, duplicate sky,
/// refused orange, failed vermillion); the pill always carries the word too.
fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "accepted" => "outcome-accepted",
        "duplicate" => "outcome-duplicate",
        "error" => "outcome-error",
        _ => "outcome-refused",
    }
}

#[component]
fn LatestEvents(events: Vec<EventView>, utc_offset: RwSignal<i32>) -> impl IntoView {
    if events.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="latest" aria-labelledby="latest-title">
            <h2 id="latest-title">"Latest events"</h2>
            <div class="table-scroll">
                <table class="events" data-testid="latest-events">
                    <thead>
                        <tr>
                            <th scope="col">"Time"</th>
                            <th scope="col">"Outcome"</th>
                            <th scope="col">"Status"</th>
                            <th scope="col">"Endpoint"</th>
                            <th scope="col">"Snapshot"</th>
                            <th scope="col" class="num">
                                "Records"
                            </th>
                            <th scope="col">"Reason"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {events
                            .into_iter()
                            .map(|e| {
                                let at = e.at_ms;
                                let pill = format!("pill {}", outcome_class(&e.outcome));
                                let outcome = e.outcome.clone();
                                // Text nodes only: whatever a client sent is shown, never run.
                                view! {
                                    <tr data-outcome=outcome>
                                        <td title=charts::utc_date_time(at)>
                                            {move || charts::time_of_day(at, utc_offset.get())}
                                        </td>
                                        <td>
                                            <span class=pill>{e.outcome}</span>
                                        </td>
                                        <td class="mono">{e.status}</td>
                                        <td class="endpoint">{e.endpoint}</td>
                                        <td class="mono">{e.snapshot_id.unwrap_or_default()}</td>
                                        <td class="num">
                                            {e.records.map(charts::thousands).unwrap_or_default()}
                                        </td>
                                        <td class="reason-text">{e.error.unwrap_or_default()}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
    .into_any()
}

#[component]
fn OpenAlerts(alerts: Vec<AlertView>, utc_offset: RwSignal<i32>) -> impl IntoView {
    if alerts.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="open-alerts" aria-labelledby="alerts-title" data-testid="open-alerts">
            <h2 id="alerts-title">"Open alerts"</h2>
            <ul>
                {alerts
                    .into_iter()
                    .map(|a| {
                        let pill = format!("pill severity-{}", a.severity);
                        let (first, last) = (a.first_seen_ms, a.last_seen_ms);
                        view! {
                            <li>
                                <span class=pill>{a.severity}</span>
                                <strong>{a.rule}</strong>
                                " "
                                <span class="mono">{a.subject}</span>
                                " "
                                {a.message}
                                <span class="seen">
                                    {move || {
                                        format!(
                                            "×{} · first {} · last {}",
                                            a.count,
                                            charts::time_of_day(first, utc_offset.get()),
                                            charts::time_of_day(last, utc_offset.get()),
                                        )
                                    }}
                                </span>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
    .into_any()
}

/// One chart: drawn at its container's width (measured once hydrated), a fixed height.
#[component]
fn Chart(
    title: &'static str,
    legend: Vec<(&'static str, &'static str)>,
    draw: impl Fn(u32) -> String + Send + Sync + 'static,
) -> impl IntoView {
    let width = RwSignal::new(DEFAULT_CHART_WIDTH);
    let container = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(element) = container.get() {
            let measured = element.client_width();
            if measured > 0 {
                width.set(measured as u32);
            }
        }
    });
    view! {
        <figure class="chart">
            <figcaption>
                <span class="chart-title">{title}</span>
                <span class="legend">
                    {legend
                        .into_iter()
                        .map(|(class, name)| {
                            view! {
                                <span class=format!("key key-{class}")>
                                    <span class="swatch" aria-hidden="true"></span>
                                    {name}
                                </span>
                            }
                        })
                        .collect_view()}
                </span>
            </figcaption>
            <div
                class="chart-svg"
                node_ref=container
                role="img"
                aria-label=title
                inner_html=move || draw(width.get())
            ></div>
        </figure>
    }
}

const DEFAULT_CHART_WIDTH: u32 = 560;

/// A stat card: a figure, and its change against the previous window with whether that is good.
#[derive(Debug, Clone, PartialEq)]
struct Card {
    id: &'static str,
    label: &'static str,
    value: String,
    /// e.g. `▲ 12%`, `▼ 1.5 pp`; `None` when there is nothing to compare.
    change: Option<String>,
    /// `good`, `bad` or `neutral`.
    tone: &'static str,
}

/// Which way is good for a figure.
#[derive(Clone, Copy)]
enum Better {
    Up,
    Down,
}

fn tone(delta: f64, better: Better) -> &'static str {
    match better {
        _ if delta.abs() < 1e-9 => "neutral",
        Better::Up if delta > 0.0 => "good",
        Better::Down if delta < 0.0 => "good",
        _ => "bad",
    }
}

fn arrow(delta: f64) -> &'static str {
    if delta > 0.0 {
        "▲"
    } else if delta < 0.0 {
        "▼"
    } else {
        "="
    }
}

/// The relative change of a count: `▲ 12%`, or `new` from zero.
fn count_change(now: i64, before: i64) -> String {
    if before == 0 {
        return if now == 0 { "= 0".into() } else { "new".into() };
    }
    let delta = (now - before) as f64 / before as f64 * 100.0;
    format!("{} {:.0}%", arrow(delta), delta.abs())
}

/// The overview's cards, with their changes computed against the previous window.
fn cards(m: &MetricsView, p: &MetricsView, open_alerts: i64) -> Vec<Card> {
    let pp = |now: f64, before: f64| 100.0 * (now - before);
    let had_traffic = p.requests > 0 && m.requests > 0;
    let rate_change = |now: f64, before: f64, better| {
        let delta = pp(now, before);
        (
            had_traffic.then(|| format!("{} {:.1} pp", arrow(delta), delta.abs())),
            if had_traffic {
                tone(delta, better)
            } else {
                "neutral"
            },
        )
    };
    let (success_change, success_tone) = rate_change(m.success_rate, p.success_rate, Better::Up);
    let (error_change, error_tone) = rate_change(m.error_rate, p.error_rate, Better::Down);
    let p95_delta = m.latency.p95_ms - p.latency.p95_ms;
    vec![
        Card {
            id: "requests",
            label: "Requests",
            value: charts::thousands(m.requests),
            change: Some(count_change(m.requests, p.requests)),
            tone: "neutral",
        },
        Card {
            id: "success-rate",
            label: "Success rate",
            value: percent(m.success_rate, m.requests),
            change: success_change,
            tone: success_tone,
        },
        Card {
            id: "error-rate",
            label: "Error rate",
            value: percent(m.error_rate, m.requests),
            change: error_change,
            tone: error_tone,
        },
        Card {
            id: "p95",
            label: "p95 latency",
            value: if m.requests > 0 {
                format!("{:.1} ms", m.latency.p95_ms)
            } else {
                "–".into()
            },
            change: had_traffic.then(|| format!("{} {:.1} ms", arrow(p95_delta), p95_delta.abs())),
            tone: if had_traffic {
                tone(p95_delta, Better::Down)
            } else {
                "neutral"
            },
        },
        Card {
            id: "records",
            label: "Records ingested",
            value: charts::thousands(m.records),
            change: Some(count_change(m.records, p.records)),
            tone: tone((m.records - p.records) as f64, Better::Up),
        },
        Card {
            id: "alerts",
            label: "Open alerts",
            value: charts::thousands(open_alerts),
            // Alerts are a state, not a flow: the card says whether any needs a look.
            change: Some(
                if open_alerts > 0 {
                    "needs a look"
                } else {
                    "none open"
                }
                .into(),
            ),
            tone: if open_alerts > 0 { "bad" } else { "good" },
        },
    ]
}

fn percent(rate: f64, requests: i64) -> String {
    if requests == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * rate)
    }
}

#[component]
fn StatCard(card: Card) -> impl IntoView {
    view! {
        <div class=format!("card tone-{}", card.tone) data-testid=format!("card-{}", card.id)>
            <div class="card-label">{card.label}</div>
            <div class="card-value" data-testid=format!("card-{}-value", card.id)>
                {card.value}
            </div>
            <div class="card-change">{card.change.unwrap_or_else(|| "–".into())}</div>
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
                <dt>"Data (" <code>"endpoint"</code> ")"</dt>
                <dd>
                    <code>"/api/brightdata/webhook/"</code>
                </dd>
                <dt>"Status (" <code>"notify"</code> ")"</dt>
                <dd>
                    <code>"/api/brightdata/notify/"</code>
                </dd>
                <dt>"Header (" <code>"auth_header"</code> ")"</dt>
                <dd>
                    <code>"Bearer <your webhook token>"</code>
                </dd>
            </dl>
        </section>
    }
}

/// What only the browser does: the live link, the viewer's clock and zone.
#[cfg(feature = "hydrate")]
mod browser {
    use futures::StreamExt;
    use leptos::prelude::*;
    use leptos::task::spawn_local;
    use leptos::web_sys::js_sys;

    use super::{Link, TZ_COOKIE};
    use crate::api::{self, DashboardError};
    use crate::live::{LinkState, REFRESH_AFTER_MS, Reconnect, changes_overview};
    use crate::types::OverviewView;

    /// Minutes east of UTC, now, by the browser's clock.
    fn utc_offset_now() -> i32 {
        -(js_sys::Date::new_0().get_timezone_offset() as i32)
    }

    fn document() -> Option<leptos::web_sys::Document> {
        leptos::web_sys::window().and_then(|w| w.document())
    }

    /// The page's cookies as `document.cookie` gives them.
    pub fn cookies() -> Option<String> {
        js_sys::Reflect::get(&document()?.into(), &"cookie".into())
            .ok()?
            .as_string()
    }

    fn remember_offset(offset: i32) {
        if let Some(document) = document() {
            let cookie = format!("{TZ_COOKIE}={offset}; path=/; max-age=31536000; samesite=strict");
            let _ = js_sys::Reflect::set(&document, &"cookie".into(), &cookie.into());
        }
    }

    async fn sleep(ms: u32) {
        let (done, wait) = futures::channel::oneshot::channel::<()>();
        set_timeout(
            move || {
                let _ = done.send(());
            },
            std::time::Duration::from_millis(u64::from(ms)),
        );
        let _ = wait.await;
    }

    /// Starts the live link once the page is hydrated and signed in (effects run only in the
    /// browser), and puts the viewer's zone into the charts and the cookie.
    pub fn start(
        overview: Resource<Result<OverviewView, DashboardError>>,
        link: Link,
        utc_offset: RwSignal<i32>,
    ) {
        let offset = utc_offset_now();
        Effect::new(move |_| {
            if utc_offset.get_untracked() != offset {
                utc_offset.set(offset);
            }
            remember_offset(offset);
        });
        // Owned by the page, not by the effect below: an effect's own values are disposed each
        // time it runs again, and the link outlives every run.
        let started = StoredValue::new(false);
        let pending = StoredValue::new(false);
        Effect::new(move |_| {
            let signed_in = matches!(overview.get(), Some(Ok(_)));
            if !signed_in || started.get_value() {
                return;
            }
            started.set_value(true);
            let refresh = move || {
                if pending.get_value() {
                    return;
                }
                pending.set_value(true);
                set_timeout(
                    move || {
                        pending.set_value(false);
                        overview.refetch();
                    },
                    std::time::Duration::from_millis(REFRESH_AFTER_MS),
                );
            };
            spawn_local(run(link, refresh));
        });
    }

    /// After logging out the page starts over: the live link belongs to the session that ended.
    pub fn reload() {
        if let Some(window) = leptos::web_sys::window() {
            let _ = window.location().reload();
        }
    }

    /// Connects, reads updates until the link drops, waits, reconnects: for as long as the page
    /// lives. Without a session the server refuses; the link retries slowly until a login.
    async fn run(link: Link, refresh: impl Fn() + Copy + 'static) {
        let mut reconnect = Reconnect::default();
        loop {
            link.state.set(if link.last_ms.get_untracked().is_some() {
                LinkState::Reconnecting
            } else {
                LinkState::Connecting
            });
            // The page's half of the socket: it sends nothing, but keeping it open keeps the link.
            let (_keep_open, input) =
                futures::channel::mpsc::channel::<Result<(), DashboardError>>(1);
            // A refused or failed connection ends up below, like a dropped one: wait, retry.
            if let Ok(mut updates) = api::live(input.into()).await {
                let mut first = true;
                while let Some(Ok(update)) = updates.next().await {
                    if first {
                        first = false;
                        link.state.set(LinkState::Live);
                        if reconnect.connected() {
                            refresh();
                        }
                    }
                    link.last_ms.set(Some(js_sys::Date::now() as i64));
                    if changes_overview(&update) {
                        refresh();
                    }
                }
            }
            link.state.set(LinkState::Reconnecting);
            sleep(reconnect.failed()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::LatencyView;

    fn metrics(requests: i64, rejected: i64, p95: f64, records: i64) -> MetricsView {
        let accepted = requests - rejected;
        MetricsView {
            requests,
            accepted,
            rejected,
            success_rate: if requests == 0 {
                1.0
            } else {
                accepted as f64 / requests as f64
            },
            error_rate: if requests == 0 {
                0.0
            } else {
                rejected as f64 / requests as f64
            },
            latency: LatencyView {
                p95_ms: p95,
                ..Default::default()
            },
            records,
            ..Default::default()
        }
    }

    fn card<'a>(cards: &'a [Card], id: &str) -> &'a Card {
        cards.iter().find(|c| c.id == id).unwrap()
    }

    #[test]
    fn cards_compare_with_the_previous_window_and_say_what_is_good() {
        let cards = cards(&metrics(200, 10, 8.0, 600), &metrics(100, 20, 10.0, 300), 0);
        let requests = card(&cards, "requests");
        assert_eq!(
            (requests.value.as_str(), requests.change.as_deref()),
            ("200", Some("▲ 100%"))
        );
        let errors = card(&cards, "error-rate");
        assert_eq!(errors.value, "5.0%");
        assert_eq!(errors.change.as_deref(), Some("▼ 15.0 pp"));
        assert_eq!(errors.tone, "good", "a falling error rate is good");
        let success = card(&cards, "success-rate");
        assert_eq!(
            (success.change.as_deref(), success.tone),
            (Some("▲ 15.0 pp"), "good")
        );
        let p95 = card(&cards, "p95");
        assert_eq!((p95.value.as_str(), p95.tone), ("8.0 ms", "good"));
        assert_eq!(card(&cards, "records").change.as_deref(), Some("▲ 100%"));
        assert_eq!(card(&cards, "alerts").tone, "good");
    }

    #[test]
    fn cards_without_earlier_traffic_have_nothing_to_compare() {
        let cards = cards(&metrics(3, 1, 5.0, 4), &metrics(0, 0, 0.0, 0), 2);
        assert_eq!(card(&cards, "requests").change.as_deref(), Some("new"));
        assert_eq!(card(&cards, "error-rate").change, None);
        assert_eq!(card(&cards, "error-rate").tone, "neutral");
        assert_eq!(card(&cards, "alerts").tone, "bad");
        let idle = super::cards(&metrics(0, 0, 0.0, 0), &metrics(0, 0, 0.0, 0), 0);
        assert_eq!(card(&idle, "success-rate").value, "–");
        assert_eq!(card(&idle, "requests").change.as_deref(), Some("= 0"));
    }
}
