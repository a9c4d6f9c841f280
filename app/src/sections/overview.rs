//! The overview (`/webhook-monitor`): health, the key figures against the previous window, the
//! charts, the latest events and the open alerts, for a time range in the URL (`?window=24h`).
//! The server renders it with real numbers; once hydrated it reloads on every live change.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{self, WINDOWS};
use crate::charts::{self, Frame};
use crate::live::use_live;
use crate::types::{AlertView, MetricsView, OverviewView};
use crate::ui::{EventTable, loaded};

#[component]
pub fn OverviewPage() -> impl IntoView {
    let live = use_live();
    let query = use_query_map();
    let window = Memo::new(move |_| {
        query
            .read()
            .get("window")
            .filter(|w| WINDOWS.contains(&w.as_str()))
            .unwrap_or_else(|| "1h".to_owned())
    });
    let overview = crate::codec::data(
        move || (window.get(), live.events.get(), live.alerts.get()),
        |(window, _, _)| api::overview(window),
    );
    let utc_offset = live.utc_offset;
    view! {
        <div class="section-head">
            <h2>"Overview"</h2>
            <RangeSelector window />
        </div>
        // A transition: a reload keeps the figures on screen until the new ones are there.
        {loaded(overview, move |o| view! { <Overview overview=o utc_offset /> })}
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
                title="Error rate (authenticated)"
                legend=vec![("refused", "failed share"), ("threshold", "alert threshold")]
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
        {(!latest_events.is_empty())
            .then(|| {
                view! {
                    <section class="latest" aria-labelledby="latest-title">
                        <div class="section-head">
                            <h2 id="latest-title">"Latest events"</h2>
                            <a href="/webhook-monitor/events">"All events →"</a>
                        </div>
                        <EventTable events=latest_events fresh_after=None testid="latest-events" />
                    </section>
                }
            })}
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
                                            charts::local_date_time(first, utc_offset.get()),
                                            charts::local_date_time(last, utc_offset.get()),
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
pub fn Chart(
    #[prop(into)] title: String,
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
                <span class="chart-title">{title.clone()}</span>
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
    // The error rate that health and the alert judge: of the requests that passed the token
    // check. Wrong-token and other outsiders' refusals are counted on their own card.
    let had_authenticated = p.authenticated > 0 && m.authenticated > 0;
    let error_delta = pp(m.authenticated_error_rate, p.authenticated_error_rate);
    let (error_change, error_tone) = if had_authenticated {
        (
            Some(format!(
                "{} {:.1} pp",
                arrow(error_delta),
                error_delta.abs()
            )),
            tone(error_delta, Better::Down),
        )
    } else {
        (None, "neutral")
    };
    let outsiders = m.requests - m.authenticated;
    let outsiders_before = p.requests - p.authenticated;
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
            label: "Error rate (authenticated)",
            value: percent(m.authenticated_error_rate, m.authenticated),
            change: error_change,
            tone: error_tone,
        },
        Card {
            id: "outsiders",
            label: "Refused without the token",
            value: charts::thousands(outsiders),
            change: Some(count_change(outsiders, outsiders_before)),
            // Not the service's failure, and not judged by health: information, not alarm (the
            // security_spike alert watches bursts of them).
            tone: "neutral",
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
            // All of them passed the token check unless a test says otherwise.
            authenticated: requests,
            authenticated_error_rate: if requests == 0 {
                0.0
            } else {
                rejected as f64 / requests as f64
            },
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
    fn the_error_rate_card_judges_authenticated_traffic_and_outsiders_have_their_own() {
        // 100 requests: 10 authenticated (1 failed), 90 wrong-token refusals.
        let mut now = metrics(100, 91, 5.0, 27);
        now.authenticated = 10;
        now.authenticated_error_rate = 0.1;
        let cards = cards(&now, &metrics(0, 0, 0.0, 0), 0);
        assert_eq!(card(&cards, "error-rate").value, "10.0%");
        let outsiders = card(&cards, "outsiders");
        assert_eq!(
            (outsiders.value.as_str(), outsiders.tone),
            ("90", "neutral")
        );
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
