//! Snapshots (`/webhook-monitor/snapshots`): every BrightData collection and where it is in its
//! lifecycle; one snapshot (`/webhook-monitor/snapshots/{id}`) with its notifications,
//! deliveries, input errors and posts.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::events::PostTable;
use super::fields::{CoverageCharts, FieldCoverage, drift_class};
use super::posts::Downloads;
use crate::api;
use crate::api::{AcceptFields, Redeliver};
use crate::charts::thousands;
use crate::live::use_live;
use crate::shell::BASE;
use crate::types::{
    CompletenessView, DeliveryView, EventFilter, InputErrorView, NotificationView, PostFilter,
    SnapshotDetailView, SnapshotFilter, SnapshotPage, SnapshotView,
};
use crate::ui::{
    Choice, Columns, FilterForm, LocalTime, MaybeTime, PLATFORMS, SnapshotLink, bytes, count,
    loaded, query_param,
};

/// The statuses a snapshot can have, in lifecycle order.
const STATUSES: [&str; 6] = [
    "triggered",
    "running",
    "ready",
    "delivered",
    "failed",
    "cancelled",
];

/// The colour class of a snapshot's status (the word is always shown too).
fn status_class(status: &str) -> &'static str {
    match status {
        "delivered" => "pill outcome-accepted",
        "ready" | "running" | "triggered" => "pill outcome-duplicate",
        _ => "pill outcome-error",
    }
}

/// The colour class of a completeness verdict (the word is always shown too).
fn completeness_class(verdict: &str) -> &'static str {
    match verdict {
        "complete" => "pill outcome-accepted",
        "incomplete" => "pill outcome-error",
        _ => "pill outcome-duplicate",
    }
}

/// One step of a snapshot's lifecycle as the detail shows it.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    name: &'static str,
    /// When it was reached; `None` when not (yet).
    at_ms: Option<i64>,
    /// Whether the snapshot has reached this step.
    reached: bool,
}

/// running → ready → delivered, or running → failed / cancelled (then with its time). A
/// snapshot `server trigger` started begins at `triggered`, until BrightData says it runs.
fn lifecycle(s: &SnapshotView) -> Vec<Step> {
    let ended = matches!(s.status.as_str(), "failed" | "cancelled");
    let rank = |status: &str| STATUSES.iter().position(|x| *x == status).unwrap_or(0);
    let now = rank(&s.status);
    let mut steps = Vec::new();
    if s.status == "triggered" {
        steps.push(Step {
            name: "triggered",
            at_ms: Some(s.created_ms),
            reached: true,
        });
    }
    steps.push(Step {
        name: "running",
        at_ms: (s.status != "triggered").then_some(s.created_ms),
        reached: s.status != "triggered",
    });
    steps.push(Step {
        name: "ready",
        at_ms: s.ready_ms,
        reached: s.ready_ms.is_some() || (!ended && now >= rank("ready")),
    });
    if ended {
        steps.push(Step {
            name: if s.status == "failed" {
                "failed"
            } else {
                "cancelled"
            },
            at_ms: s.finished_ms,
            reached: true,
        });
    } else {
        steps.push(Step {
            name: "delivered",
            at_ms: s.delivered_ms,
            reached: now >= rank("delivered"),
        });
    }
    steps
}

fn filter_from(query: &leptos_router::params::ParamsMap) -> SnapshotFilter {
    let get = |name| query_param(query, name);
    SnapshotFilter {
        status: get("status"),
        platform: get("platform"),
        cursor: get("cursor"),
        limit: None,
    }
}

fn snapshots_href(filter: &SnapshotFilter) -> String {
    format!("{BASE}/snapshots?{}", filter.query())
}

#[component]
pub fn SnapshotsPage() -> impl IntoView {
    let live = use_live();
    let query = use_query_map();
    let filter = Memo::new(move |_| query.with(filter_from));
    let page = crate::codec::data(
        move || {
            let filter = filter.get();
            let tick = live.events_unless(filter.cursor.is_some());
            (filter, tick)
        },
        |(filter, _)| api::snapshots(filter),
    );
    view! {
        <div class="section-head">
            <h2>"Snapshots"</h2>
        </div>
        <FilterForm action=format!("{BASE}/snapshots")>
            <fieldset class="filters" data-testid="snapshot-filters">
                <legend>"Filter snapshots"</legend>
                <Choice
                    name="status"
                    label="Status"
                    choices=&STATUSES
                    current=Signal::derive(move || filter.get().status)
                />
                <Choice
                    name="platform"
                    label="Platform"
                    choices=&PLATFORMS
                    current=Signal::derive(move || filter.get().platform)
                />
                <div class="filter-actions">
                    <button type="submit">"Apply"</button>
                    <a href=format!("{BASE}/snapshots")>"Clear"</a>
                </div>
            </fieldset>
        </FilterForm>
        {loaded(page, move |page| view! { <SnapshotList page filter=filter.get_untracked() /> })}
        <CoverageCharts />
    }
}

#[component]
fn SnapshotList(page: SnapshotPage, filter: SnapshotFilter) -> impl IntoView {
    if page.snapshots.is_empty() {
        return view! {
            <p class="empty-state" data-testid="snapshots-empty">
                "No snapshots yet. A snapshot appears here when BrightData notifies its status or delivers its first file (the Snapshot-Id header)."
            </p>
        }
        .into_any();
    }
    let older = page.next_cursor.map(|cursor| {
        snapshots_href(&SnapshotFilter {
            cursor: Some(cursor),
            ..filter.clone()
        })
    });
    view! {
        <div class="table-scroll">
            <table class="plain" data-testid="snapshots-table">
                <Columns columns=&[("Snapshot", ""), ("Status", ""), ("Arrived whole?", ""), ("Fields as usual?", ""), ("Platform", ""), ("Records", "num"), ("Input errors", "num"), ("Deliveries", "num"), ("Last activity", ""), ("Error", "")] />
                <tbody>
                    {page
                        .snapshots
                        .into_iter()
                        .map(|s| {
                            let status = s.status.clone();
                            let pill = status_class(&s.status);
                            let verdict = s.completeness.verdict.clone();
                            let whole = completeness_class(&verdict);
                            let drift = s.drift.verdict.clone();
                            let drifted = s.drift.fields.join(", ");
                            view! {
                                <tr data-status=status>
                                    <td>
                                        <SnapshotLink id=Some(s.id) />
                                    </td>
                                    <td>
                                        <span class=pill>{s.status}</span>
                                    </td>
                                    <td title=s.completeness.note.clone()>
                                        <span class=whole data-testid="completeness-pill">
                                            {verdict}
                                        </span>
                                    </td>
                                    <td title=drifted>
                                        <span class=drift_class(&drift) data-testid="drift-pill">
                                            {drift.clone()}
                                        </span>
                                    </td>
                                    <td>{s.platform.unwrap_or_default()}</td>
                                    <td class="num">{thousands(s.records)}</td>
                                    <td class="num">{thousands(s.input_errors)}</td>
                                    <td class="num">{thousands(s.deliveries)}</td>
                                    <td>
                                        <LocalTime at_ms=s.updated_ms />
                                    </td>
                                    <td class="reason-text">{s.error.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pager" aria-label="Pages">
            {filter
                .cursor
                .is_some()
                .then(|| {
                    let first = snapshots_href(&SnapshotFilter {
                        cursor: None,
                        ..filter.clone()
                    });
                    view! { <a href=first>"← Most recent"</a> }
                })}
            {older.map(|href| view! { <a href=href>"Older →"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
pub fn SnapshotDetailPage() -> impl IntoView {
    let live = use_live();
    let params = use_params_map();
    let id = Memo::new(move |_| params.with(|p| p.get("id").unwrap_or_default()));
    // Reloaded only when new events touched this snapshot, not on any event anywhere, and after
    // a redelivery was asked for.
    let changes = live.snapshot_changes(id);
    let redeliver = ServerAction::<Redeliver>::new();
    let accept = ServerAction::<AcceptFields>::new();
    let detail = crate::codec::data(
        move || {
            (
                id.get(),
                changes.get(),
                redeliver.version().get(),
                accept.version().get(),
            )
        },
        |(id, ..)| api::snapshot(id),
    );
    view! {
        <p class="crumbs">
            <a href=format!("{BASE}/snapshots")>"← Snapshots"</a>
        </p>
        {loaded(detail, move |detail| view! { <SnapshotDetail detail redeliver accept /> })}
    }
}

#[component]
fn SnapshotDetail(
    detail: SnapshotDetailView,
    redeliver: ServerAction<Redeliver>,
    accept: ServerAction<AcceptFields>,
) -> impl IntoView {
    let SnapshotDetailView {
        snapshot,
        stored_posts,
        deliveries,
        notifications,
        input_errors,
        posts,
        can_redeliver,
        coverage,
    } = detail;
    let steps = lifecycle(&snapshot);
    let events = format!(
        "{BASE}/events?{}",
        EventFilter {
            snapshot: Some(snapshot.id.clone()),
            ..EventFilter::default()
        }
        .query()
    );
    view! {
        <div class="section-head">
            <h2 class="mono">{snapshot.id.clone()}</h2>
            <span class=status_class(&snapshot.status) data-testid="snapshot-status">
                {snapshot.status.clone()}
            </span>
            <a href=events>"Its events →"</a>
        </div>
        <ol class="lifecycle" aria-label="Lifecycle" data-testid="lifecycle">
            {steps
                .into_iter()
                .map(|step| {
                    view! {
                        <li
                            class=if step.reached { "is-reached" } else { "" }
                            data-step=step.name
                        >
                            <span class="step-name">{step.name}</span>
                            <MaybeTime at_ms=step.at_ms />
                        </li>
                    }
                })
                .collect_view()}
        </ol>
        {snapshot
            .error
            .clone()
            .map(|error| {
                view! {
                    <section class="callout" data-testid="snapshot-error">
                        <h3>"BrightData reported"</h3>
                        <p>{error}</p>
                    </section>
                }
            })}
        <section class="cards" aria-label="Snapshot figures">
            <div class="card">
                <div class="card-label">"Records"</div>
                <div class="card-value" data-testid="snapshot-records">
                    {thousands(snapshot.records)}
                </div>
                <div class="card-change">{format!("{} posts stored", thousands(stored_posts as i64))}</div>
            </div>
            <div class="card">
                <div class="card-label">"Input errors"</div>
                <div class="card-value">{thousands(snapshot.input_errors)}</div>
                <div class="card-change">"inputs that produced no post"</div>
            </div>
            <div class="card">
                <div class="card-label">"Deliveries"</div>
                <div class="card-value">{thousands(snapshot.deliveries)}</div>
                <div class="card-change">"files received"</div>
            </div>
            <div class="card">
                <div class="card-label">"Platform"</div>
                <div class="card-value">{snapshot.platform.clone().unwrap_or_else(|| "–".into())}</div>
                <div class="card-change mono">{snapshot.dataset_id.clone().unwrap_or_default()}</div>
            </div>
        </section>
        <Completeness
            id=snapshot.id.clone()
            completeness=snapshot.completeness.clone()
            can_redeliver
            redeliver
        />
        <FieldCoverage id=snapshot.id.clone() drift=snapshot.drift.clone() coverage accept />
        <section class="panel" aria-labelledby="snapshot-download">
            <h3 id="snapshot-download">"Its posts"</h3>
            <p>
                <Downloads
                    filter=Signal::derive({
                        let id = snapshot.id.clone();
                        move || PostFilter {
                            snapshot: Some(id.clone()),
                            ..PostFilter::default()
                        }
                    })
                    file=snapshot.id.clone()
                />
                " (CSV for spreadsheets, NDJSON: the records as BrightData sent them, Parquet: typed columns for pandas, polars, R, DuckDB) · "
                <a href=format!(
                    "{BASE}/posts?{}",
                    PostFilter {
                        snapshot: Some(snapshot.id.clone()),
                        ..PostFilter::default()
                    }
                        .query(),
                )>"Browse them →"</a>
            </p>
        </section>
        <Notifications notifications />
        <Deliveries deliveries />
        <InputErrors input_errors />
        {(!posts.is_empty())
            .then(|| {
                view! {
                    <section class="panel" aria-labelledby="snapshot-posts">
                        <h3 id="snapshot-posts">"Posts (newest 20)"</h3>
                        <PostTable posts />
                    </section>
                }
            })}
    }
}

/// Whether the snapshot arrived whole: BrightData's count beside what arrived, and the one action
/// an incomplete snapshot offers.
#[component]
fn Completeness(
    id: String,
    completeness: CompletenessView,
    can_redeliver: bool,
    redeliver: ServerAction<Redeliver>,
) -> impl IntoView {
    let verdict = completeness.verdict.clone();
    let incomplete = verdict == "incomplete";
    let number = |n: Option<i64>| n.map(thousands).unwrap_or_else(|| "–".into());
    let outcome = move || match redeliver.value().get() {
        Some(Ok(asked)) => Some(format!(
            "Asked: BrightData will deliver the snapshot again{}. The files are deduplicated as they arrive, and the next check counts them.",
            asked
                .delivery_id
                .map(|d| format!(" (delivery {d})"))
                .unwrap_or_default()
        )),
        Some(Err(error)) => Some(format!("Not asked: {error}")),
        None => None,
    };
    view! {
        <section
            class=if incomplete { "panel callout" } else { "panel" }
            aria-labelledby="completeness-title"
            data-testid="completeness"
            data-verdict=verdict.clone()
        >
            <h3 id="completeness-title">
                "Arrived whole? " <span class=completeness_class(&verdict)>{verdict.clone()}</span>
            </h3>
            <dl class="facts">
                <dt>"BrightData counted"</dt>
                <dd data-testid="expected-records">
                    {number(completeness.expected_records)} " records"
                    {completeness
                        .expected_errors
                        .map(|e| format!(" ({} errors)", thousands(e)))}
                </dd>
                <dt>"Received"</dt>
                <dd data-testid="received-records">
                    {number(completeness.received_records)} " records and input errors"
                </dd>
                {completeness
                    .missing
                    .map(|missing| {
                        view! {
                            <dt>"Missing"</dt>
                            <dd data-testid="missing-records">{thousands(missing)}</dd>
                        }
                    })}
                <dt>"Why"</dt>
                <dd data-testid="completeness-note">{completeness.note.clone()}</dd>
                <dt>"Checked"</dt>
                <dd>
                    <MaybeTime at_ms=completeness.checked_ms />
                </dd>
                {completeness
                    .redelivery_ms
                    .map(|at| {
                        view! {
                            <dt>"Redelivery asked"</dt>
                            <dd>
                                <LocalTime at_ms=at />
                            </dd>
                        }
                    })}
            </dl>
            {incomplete
                .then(|| {
                    view! {
                        <div class="actions">
                            <button
                                type="button"
                                data-testid="redeliver"
                                disabled=move || !can_redeliver || redeliver.pending().get()
                                on:click={
                                    let id = id.clone();
                                    move |_| {
                                        redeliver.dispatch(Redeliver { id: id.clone() });
                                    }
                                }
                            >
                                "Ask BrightData to deliver it again"
                            </button>
                            <span class="muted">
                                {if can_redeliver {
                                    "Files already stored are recognised and not stored twice."
                                } else {
                                    "Needs BRIGHTDATA_API_TOKEN (the API key of the BrightData account)."
                                }}
                            </span>
                            <p role="status" data-testid="redeliver-result">
                                {outcome}
                            </p>
                        </div>
                    }
                })}
        </section>
    }
}

#[component]
fn Notifications(notifications: Vec<NotificationView>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="notifications-title">
            <h3 id="notifications-title">"Notifications"</h3>
            {if notifications.is_empty() {
                view! { <p class="muted">"BrightData has not notified a status for this snapshot."</p> }
                    .into_any()
            } else {
                view! {
                    <div class="table-scroll">
                        <table class="plain" data-testid="notifications">
                            <Columns columns=&[("Received", ""), ("Sent", ""), ("Meaning", ""), ("Error", "")] />
                            <tbody>
                                {notifications
                                    .into_iter()
                                    .map(|n| {
                                        view! {
                                            <tr>
                                                <td>
                                                    <LocalTime at_ms=n.received_ms />
                                                </td>
                                                <td class="mono">{n.notified_status}</td>
                                                <td>{n.status}</td>
                                                <td class="reason-text">{n.error.unwrap_or_default()}</td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
        </section>
    }
}

#[component]
fn Deliveries(deliveries: Vec<DeliveryView>) -> impl IntoView {
    if deliveries.is_empty() {
        return view! {
            <section class="panel">
                <h3>"Deliveries"</h3>
                <p class="muted">"No file has arrived for this snapshot yet."</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="panel" aria-labelledby="deliveries-title">
            <h3 id="deliveries-title">"Deliveries"</h3>
            <div class="table-scroll">
                <table class="plain" data-testid="deliveries">
                    <Columns columns=&[("Received", ""), ("File", ""), ("State", ""), ("Format", ""), ("Size", "num"), ("Posts", "num"), ("Seen before", "num"), ("Input errors", "num"), ("Malformed", "num")] />
                    <tbody>
                        {deliveries
                            .into_iter()
                            .map(|d| {
                                view! {
                                    <tr>
                                        <td>
                                            <LocalTime at_ms=d.received_ms />
                                        </td>
                                        <td class="mono">{d.filename.unwrap_or_default()}</td>
                                        <td>{d.state}</td>
                                        <td>{d.format} {if d.compressed { " (gzip)" } else { "" }}</td>
                                        <td class="num">{bytes(d.wire_bytes)}</td>
                                        <td class="num">{thousands(d.records)}</td>
                                        <td class="num">{count(d.duplicates)}</td>
                                        <td class="num">{thousands(d.input_errors)}</td>
                                        <td class="num">{thousands(d.malformed)}</td>
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
fn InputErrors(input_errors: Vec<InputErrorView>) -> impl IntoView {
    if input_errors.is_empty() {
        return ().into_any();
    }
    view! {
        <section class="panel" aria-labelledby="input-errors-title">
            <h3 id="input-errors-title">"Input errors"</h3>
            <p class="muted">"Inputs BrightData could not turn into a post (dead pages, private profiles, …)."</p>
            <div class="table-scroll">
                <table class="plain" data-testid="input-errors">
                    <Columns columns=&[("Kind", ""), ("Code", ""), ("Input", ""), ("Message", "")] />
                    <tbody>
                        {input_errors
                            .into_iter()
                            .map(|e| {
                                view! {
                                    <tr>
                                        <td>{e.kind}</td>
                                        <td class="mono">{e.code.unwrap_or_default()}</td>
                                        <td class="mono wrap">{e.input_url.unwrap_or_default()}</td>
                                        <td class="reason-text">{e.message}</td>
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

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(status: &str) -> SnapshotView {
        SnapshotView {
            id: "s_1".into(),
            dataset_id: None,
            platform: None,
            status: status.into(),
            error: None,
            records: 0,
            input_errors: 0,
            deliveries: 0,
            created_ms: 1_000,
            updated_ms: 1_000,
            notified_ms: None,
            ready_ms: None,
            delivered_ms: None,
            finished_ms: None,
            completeness: CompletenessView::default(),
            drift: Default::default(),
        }
    }

    fn reached(steps: &[Step]) -> Vec<(&str, bool)> {
        steps.iter().map(|s| (s.name, s.reached)).collect()
    }

    #[test]
    fn a_delivered_snapshot_went_through_every_step() {
        let mut s = snapshot("delivered");
        s.ready_ms = Some(2_000);
        s.delivered_ms = Some(3_000);
        let steps = lifecycle(&s);
        assert_eq!(
            reached(&steps),
            [("running", true), ("ready", true), ("delivered", true)]
        );
        assert_eq!(steps[2].at_ms, Some(3_000));
    }

    #[test]
    fn a_running_snapshot_has_its_next_steps_ahead() {
        assert_eq!(
            reached(&lifecycle(&snapshot("running"))),
            [("running", true), ("ready", false), ("delivered", false)]
        );
    }

    #[test]
    fn a_failed_snapshot_ends_in_failure_with_its_time() {
        let mut s = snapshot("failed");
        s.finished_ms = Some(5_000);
        let steps = lifecycle(&s);
        assert_eq!(
            reached(&steps),
            [("running", true), ("ready", false), ("failed", true)]
        );
        assert_eq!(
            reached(&lifecycle(&snapshot("triggered"))),
            [
                ("triggered", true),
                ("running", false),
                ("ready", false),
                ("delivered", false)
            ]
        );
        assert_eq!(steps[2].at_ms, Some(5_000));
        assert_eq!(
            reached(&lifecycle(&snapshot("cancelled")))[2],
            ("cancelled", true)
        );
    }

    #[test]
    fn list_links_keep_the_filter() {
        let filter = SnapshotFilter {
            status: Some("failed".into()),
            cursor: Some("12:s_b".into()),
            ..SnapshotFilter::default()
        };
        assert_eq!(
            snapshots_href(&filter),
            "/webhook-monitor/snapshots?status=failed&cursor=12%3As_b"
        );
    }
}
