//! Events (`/webhook-monitor/events`): every request to the ingestion endpoints, newest first,
//! filtered by the URL's query and paged by the cursor; live on the first page. One event in
//! full (`/webhook-monitor/events/{id}`): its headers, timing, reason, delivery, posts and body,
//! and a replay.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::{self, Replay};
use crate::charts::thousands;
use crate::live::use_live;
use crate::pretty;
use crate::shell::BASE;
use crate::types::{DeliveryView, EventDetailView, EventFilter, HeaderView, PostView};
use crate::ui::{
    Choice, Columns, EventTable, FilterForm, LocalTime, MaybeTime, OUTCOMES, PLATFORMS,
    SearchField, SnapshotLink, bytes, count, latency, loaded, outcome_class, query_param,
};

/// The export's path in the monitor API (the session cookie authorises a GET).
const EXPORT: &str = "/api/brightdata/webhook/export-events/";

/// The filter a URL query asks for.
fn filter_from(query: &leptos_router::params::ParamsMap) -> EventFilter {
    let get = |name| query_param(query, name);
    EventFilter {
        outcome: get("outcome"),
        endpoint: get("endpoint"),
        platform: get("platform"),
        snapshot: get("snapshot"),
        ip: get("ip"),
        q: get("q"),
        cursor: get("cursor"),
        ..EventFilter::default()
    }
}

/// Rows above this id slide in: those that arrived since the table was last shown with the same
/// filter. `None` (nothing slides) on the first showing and whenever the filter changed.
fn slide_in_after(shown: &Option<(EventFilter, i64)>, filter: &EventFilter) -> Option<i64> {
    shown
        .as_ref()
        .filter(|(before, _)| before == filter)
        .map(|(_, newest)| *newest)
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let live = use_live();
    let query = use_query_map();
    let filter = Memo::new(move |_| query.with(filter_from));
    // Live on the first page only: an older page stays as it is while new events arrive.
    let page = crate::codec::data(
        move || {
            let filter = filter.get();
            let tick = live.events_unless(filter.cursor.is_some());
            (filter, tick)
        },
        |(filter, _)| api::events(filter),
    );
    // What the table showed last: its filter and newest id.
    let shown = StoredValue::new(None::<(EventFilter, i64)>);
    view! {
        <div class="section-head">
            <h2>"Events"</h2>
            <ExportLinks filter />
        </div>
        <EventFilters filter />
        {loaded(
            page,
            move |page| {
                let current = filter.get_untracked();
                let fresh_after = slide_in_after(&shown.get_value(), &current);
                if let Some(newest) = page.events.first().map(|e| e.id) {
                    let keep = fresh_after.map_or(newest, |seen| seen.max(newest));
                    shown.set_value(Some((current.clone(), keep)));
                }
                view! { <EventList page filter=current fresh_after /> }
            },
        )}
    }
}

#[component]
fn EventList(
    page: crate::types::EventPage,
    filter: EventFilter,
    fresh_after: Option<i64>,
) -> impl IntoView {
    if page.events.is_empty() {
        let text = if filter.narrows() {
            "No event matches these filters. Clear them to see every event."
        } else {
            "No events yet: every request to the data or notify endpoint appears here, accepted or refused. The Setup section says what to give BrightData."
        };
        return view! {
            <p class="empty-state" data-testid="events-empty">
                {text}
            </p>
        }
        .into_any();
    }
    let older = page.next_cursor.map(|cursor| {
        let next = EventFilter {
            cursor: Some(cursor),
            ..filter.clone()
        };
        format!("{BASE}/events?{}", next.query())
    });
    let newest = filter.cursor.is_some().then(|| {
        let first = EventFilter {
            cursor: None,
            ..filter.clone()
        };
        format!("{BASE}/events?{}", first.query())
    });
    view! {
        {newest
            .clone()
            .map(|href| {
                view! {
                    <p class="paused" role="status">
                        "Older events: new ones are not added here. "
                        <a href=href>"Back to the newest"</a>
                    </p>
                }
            })}
        <EventTable events=page.events fresh_after testid="events-table" />
        <nav class="pager" aria-label="Pages">
            {newest.map(|href| view! { <a href=href>"← Newest"</a> })}
            {older.map(|href| view! { <a href=href data-testid="older">"Older →"</a> })}
        </nav>
    }
    .into_any()
}

/// The filters, as a GET form: the URL holds them (shareable, the back button works).
#[component]
fn EventFilters(filter: Memo<EventFilter>) -> impl IntoView {
    let text = move |name: &'static str,
                     label: &'static str,
                     placeholder: &'static str,
                     pick: fn(&EventFilter) -> Option<String>| {
        let current = Signal::derive(move || pick(&filter.get()));
        view! { <SearchField name label placeholder current /> }
    };
    view! {
        <FilterForm action=format!("{BASE}/events")>
            <fieldset class="filters" data-testid="event-filters">
                <legend>"Filter events"</legend>
                <Choice
                    name="outcome"
                    label="Outcome"
                    choices=&OUTCOMES
                    current=Signal::derive(move || filter.get().outcome)
                />
                <Choice
                    name="endpoint"
                    label="Endpoint"
                    choices=&["webhook", "notify"]
                    current=Signal::derive(move || filter.get().endpoint)
                />
                <Choice
                    name="platform"
                    label="Platform"
                    choices=&PLATFORMS
                    current=Signal::derive(move || filter.get().platform)
                />
                {text("snapshot", "Snapshot", "s_…", |f| f.snapshot.clone())}
                {text("ip", "Client IP", "203.0.113.9", |f| f.ip.clone())}
                {text("q", "Text", "reason, user agent…", |f| f.q.clone())}
                <div class="filter-actions">
                    <button type="submit">"Apply"</button>
                    <a href=format!("{BASE}/events")>"Clear"</a>
                </div>
            </fieldset>
        </FilterForm>
    }
}

/// CSV and JSON downloads of every event the filter matches (the streaming export).
#[component]
fn ExportLinks(filter: Memo<EventFilter>) -> impl IntoView {
    let href = move |format: &'static str| {
        move || {
            let export = EventFilter {
                cursor: None,
                format: Some(format.to_owned()),
                ..filter.get()
            };
            format!("{EXPORT}?{}", export.query())
        }
    };
    view! {
        <span class="export">
            "Export: " <a href=href("csv") download="webhook_events.csv" data-testid="export-csv">
                "CSV"
            </a> " · "
            <a href=href("json") download="webhook_events.json" data-testid="export-json">
                "JSON"
            </a>
        </span>
    }
}

#[component]
pub fn EventDetailPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())));
    let replay = ServerAction::<Replay>::new();
    let detail = crate::codec::data(
        move || (id.get(), replay.version().get()),
        |(id, _)| async move {
            match id {
                Some(id) => api::event(id).await,
                None => Err(api::DashboardError::new(
                    api::ErrorKind::NotFound,
                    "an event id is a number".to_owned(),
                )),
            }
        },
    );
    view! {
        <p class="crumbs">
            <a href=format!("{BASE}/events")>"← Events"</a>
        </p>
        {loaded(detail, move |detail| view! { <EventDetail detail replay /> })}
    }
}

#[component]
fn EventDetail(detail: EventDetailView, replay: ServerAction<Replay>) -> impl IntoView {
    let EventDetailView {
        event,
        headers,
        delivery,
        body,
        posts,
    } = detail;
    let pill = format!("pill {}", outcome_class(&event.outcome));
    let title = format!("Event {}", event.id);
    let format = delivery
        .as_ref()
        .map(|d| d.format.clone())
        .unwrap_or_default();
    view! {
        <div class="section-head">
            <h2>{title}</h2>
            <span class=pill data-testid="event-outcome">
                {event.outcome.clone()}
            </span>
        </div>
        {event
            .error
            .clone()
            .map(|reason| {
                view! {
                    <section class="callout" data-testid="event-reason">
                        <h3>"Why it was refused"</h3>
                        <p>{reason}</p>
                    </section>
                }
            })}
        <section class="panel" aria-labelledby="request-title">
            <h3 id="request-title">"Request"</h3>
            <dl class="facts">
                <dt>"Received"</dt>
                <dd>
                    <LocalTime at_ms=event.at_ms />
                </dd>
                <dt>"Endpoint"</dt>
                <dd>{event.endpoint.clone()}</dd>
                <dt>"Answer"</dt>
                <dd class="mono">{event.status}</dd>
                <dt>"Response time"</dt>
                <dd>{latency(event.latency_us)}</dd>
                <dt>"Body size"</dt>
                <dd>{bytes(event.bytes)}</dd>
                <dt>"Client IP"</dt>
                <dd class="mono">{event.client_ip.clone().unwrap_or_else(|| "–".into())}</dd>
                <dt>"User agent"</dt>
                <dd>{event.user_agent.clone().unwrap_or_else(|| "–".into())}</dd>
                <dt>"Snapshot"</dt>
                <dd>
                    <SnapshotLink id=event.snapshot_id.clone() />
                </dd>
                <dt>"Platform"</dt>
                <dd>{event.platform.clone().unwrap_or_else(|| "–".into())}</dd>
                <dt>"Records"</dt>
                <dd>{count(event.records)}</dd>
            </dl>
        </section>
        <Headers headers />
        {delivery.map(|d| view! { <Delivery delivery=d event_id=event.id replay /> })}
        <Posts posts />
        {body
            .map(|body| {
                let shown = pretty::body(&format, &body.text);
                let note = match (body.readable, body.truncated) {
                    (false, _) => "The stored gzip could not be inflated: what could be read is shown.",
                    (true, true) => "The first MiB, inflated.",
                    (true, false) => "",
                };
                let size = format!(
                    "{} stored ({})",
                    bytes(body.stored_bytes as i64),
                    body.encoding,
                );
                view! {
                    <section class="panel" aria-labelledby="body-title">
                        <h3 id="body-title">"Body"</h3>
                        <p class="muted">{size} " " {note}</p>
                        // Text, never markup: a record's `<script>` is shown, not run.
                        <pre class="body" data-testid="event-body" tabindex="0">
                            {shown}
                        </pre>
                    </section>
                }
            })}
    }
}

#[component]
fn Headers(headers: Option<Vec<HeaderView>>) -> impl IntoView {
    let rows: Vec<(String, String)> = headers
        .unwrap_or_default()
        .into_iter()
        .flat_map(|HeaderView { name, values }| values.into_iter().map(move |v| (name.clone(), v)))
        .collect();
    view! {
        <section class="panel" aria-labelledby="headers-title">
            <h3 id="headers-title">"Headers"</h3>
            <p class="muted">"Secrets (the token, signatures, cookies) are stored as [redacted]."</p>
            <div class="table-scroll">
                <table class="plain" data-testid="event-headers">
                    <tbody>
                        {rows
                            .into_iter()
                            .map(|(name, value)| {
                                view! {
                                    <tr>
                                        <th scope="row" class="mono">
                                            {name}
                                        </th>
                                        <td class="mono wrap">{value}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </tbody>
                </table>
            </div>
        </section>
    }
}

#[component]
fn Delivery(delivery: DeliveryView, event_id: i64, replay: ServerAction<Replay>) -> impl IntoView {
    let can_replay = delivery.body_kept;
    let outcome = move || match replay.value().get() {
        Some(Ok(queued)) => Some(format!(
            "Queued: delivery {} is being extracted again.",
            queued.delivery_id
        )),
        Some(Err(error)) => Some(format!("Not replayed: {error}")),
        None => None,
    };
    view! {
        <section class="panel" aria-labelledby="delivery-title">
            <h3 id="delivery-title">"Delivery " {delivery.id}</h3>
            <dl class="facts">
                <dt>"State"</dt>
                <dd data-testid="delivery-state">{delivery.state}</dd>
                <dt>"File"</dt>
                <dd class="mono">{delivery.filename.unwrap_or_else(|| "–".into())}</dd>
                <dt>"Format"</dt>
                <dd>
                    {delivery.format} {if delivery.compressed { ", gzip" } else { "" }}
                </dd>
                <dt>"Size"</dt>
                <dd>
                    {bytes(delivery.wire_bytes)} " on the wire, " {bytes(delivery.inflated_bytes)}
                    " inflated"
                </dd>
                <dt>"Posts stored"</dt>
                <dd data-testid="delivery-records">{thousands(delivery.records)}</dd>
                <dt>"Already stored before"</dt>
                <dd>{count(delivery.duplicates)}</dd>
                <dt>"Input errors"</dt>
                <dd>{thousands(delivery.input_errors)}</dd>
                <dt>"Malformed records"</dt>
                <dd>{thousands(delivery.malformed)}</dd>
                <dt>"Received"</dt>
                <dd>
                    <LocalTime at_ms=delivery.received_ms />
                </dd>
                <dt>"Extracted"</dt>
                <dd>
                    <MaybeTime at_ms=delivery.processed_ms />
                </dd>
                <dt>"Error"</dt>
                <dd>{delivery.error.unwrap_or_else(|| "–".into())}</dd>
            </dl>
            <div class="actions">
                <button
                    type="button"
                    data-testid="replay"
                    disabled=move || !can_replay || replay.pending().get()
                    on:click=move |_| {
                        replay.dispatch(Replay { id: event_id });
                    }
                >
                    "Replay extraction"
                </button>
                <span class="muted">
                    {if can_replay {
                        "Extracts the stored body again: posts are updated, never duplicated."
                    } else {
                        "The body was not kept (larger than WEBHOOK_MAX_STORED_BODY_BYTES): nothing to replay."
                    }}
                </span>
                <p role="status" data-testid="replay-result">
                    {outcome}
                </p>
            </div>
        </section>
    }
}

#[component]
fn Posts(posts: Vec<PostView>) -> impl IntoView {
    if posts.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="panel" aria-labelledby="posts-title">
            <h3 id="posts-title">"Posts it stored"</h3>
            <PostTable posts />
        </section>
    }
    .into_any()
}

/// Stored posts: platform, id, author, when posted, counters, and how often BrightData sent it.
#[component]
pub fn PostTable(posts: Vec<PostView>) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="plain" data-testid="posts">
                <Columns columns=&[("Platform", ""), ("Post", ""), ("Author", ""), ("Posted", ""), ("Likes", "num"), ("Comments", "num"), ("Shares", "num"), ("Views", "num"), ("Deliveries", "num")] />
                <tbody>
                    {posts
                        .into_iter()
                        .map(|p| {
                            let id = p.post_id.clone();
                            // A link only to the platform's own web address, never another scheme.
                            let link = p
                                .url
                                .clone()
                                .filter(|u| u.starts_with("https://") || u.starts_with("http://"));
                            view! {
                                <tr>
                                    <td>{p.platform}</td>
                                    <td class="mono">
                                        {match link {
                                            Some(url) => {
                                                view! {
                                                    <a href=url rel="noopener noreferrer" target="_blank">
                                                        {id}
                                                    </a>
                                                }
                                                    .into_any()
                                            }
                                            None => id.into_any(),
                                        }}
                                    </td>
                                    <td>{p.author.unwrap_or_default()}</td>
                                    <td>
                                        <MaybeTime at_ms=p.posted_ms />
                                    </td>
                                    <td class="num">{count(p.likes)}</td>
                                    <td class="num">{count(p.comments)}</td>
                                    <td class="num">{count(p.shares)}</td>
                                    <td class="num">{count(p.views)}</td>
                                    <td class="num">{p.times_delivered}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_query_becomes_the_filter_and_empty_fields_mean_any() {
        let query = leptos_router::params::ParamsMap::from_iter([
            ("outcome".to_owned(), "rejected_auth".to_owned()),
            ("snapshot".to_owned(), "".to_owned()),
            ("q".to_owned(), "bad token".to_owned()),
        ]);
        let filter = filter_from(&query);
        assert_eq!(filter.outcome.as_deref(), Some("rejected_auth"));
        assert_eq!(filter.snapshot, None);
        assert!(filter.narrows());
        assert_eq!(filter.query(), "outcome=rejected_auth&q=bad%20token");
        let paged = EventFilter {
            cursor: Some("40".into()),
            ..EventFilter::default()
        };
        assert!(!paged.narrows(), "a cursor pages, it does not filter");
    }

    #[test]
    fn only_rows_that_arrived_since_the_last_showing_of_the_same_filter_slide_in() {
        let all = EventFilter::default();
        let refused = EventFilter {
            outcome: Some("rejected_auth".into()),
            ..EventFilter::default()
        };
        assert_eq!(slide_in_after(&None, &all), None, "the first showing");
        let shown = Some((all.clone(), 41));
        assert_eq!(slide_in_after(&shown, &all), Some(41));
        assert_eq!(
            slide_in_after(&shown, &refused),
            None,
            "a new filter is a new table"
        );
    }
}
