//! Small pieces every section uses: times in the viewer's zone, the outcome and status pills,
//! the events table, number formats.
//!
//! Everything a client or BrightData sent (reasons, user agents, bodies, ids) is put on the page
//! as text nodes or attribute values, never as markup: Leptos escapes both.

use leptos::prelude::*;

use crate::api::DashboardError;
use crate::charts;
use crate::live::use_live;
use crate::shell::{BASE, Problem};
use crate::types::EventView;

/// The colour class of an outcome (the same meaning everywhere: accepted blue, duplicate sky,
/// refused orange, failed vermillion); the pill always carries the word too.
pub fn outcome_class(outcome: &str) -> &'static str {
    match outcome {
        "accepted" => "outcome-accepted",
        "duplicate" => "outcome-duplicate",
        "error" => "outcome-error",
        _ => "outcome-refused",
    }
}

/// Every outcome an event can have, as the filters offer them.
pub const OUTCOMES: [&str; 10] = [
    "accepted",
    "duplicate",
    "rejected_auth",
    "rejected_signature",
    "rejected_timestamp",
    "rejected_ip",
    "rate_limited",
    "too_large",
    "bad_payload",
    "error",
];

/// The platforms records are stored for.
pub const PLATFORMS: [&str; 4] = ["instagram", "facebook", "linkedin", "tiktok"];

/// A time in the viewer's zone (`2026-12-02 14:05:09`, or only the time of day when `short`),
/// with the UTC time on hover.
#[component]
pub fn LocalTime(at_ms: i64, #[prop(optional)] short: bool) -> impl IntoView {
    let offset = use_live().utc_offset;
    view! {
        <time title=charts::utc_date_time(at_ms)>
            {move || {
                if short {
                    charts::time_of_day(at_ms, offset.get())
                } else {
                    charts::local_date_time(at_ms, offset.get())
                }
            }}
        </time>
    }
}

/// An optional time: the time, or a dash.
#[component]
pub fn MaybeTime(at_ms: Option<i64>) -> impl IntoView {
    match at_ms {
        Some(at_ms) => view! { <LocalTime at_ms /> }.into_any(),
        None => "–".into_any(),
    }
}

/// `1.2 MiB`, `512 B`.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Microseconds as milliseconds: `12.3 ms`.
pub fn latency(us: i64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// A count, or a dash when there is none.
pub fn count(value: Option<i64>) -> String {
    value.map(charts::thousands).unwrap_or_else(|| "–".into())
}

/// A URL query's parameter, unless it is missing or blank (an unset field of a filter form).
pub fn query_param(query: &leptos_router::params::ParamsMap, name: &str) -> Option<String> {
    query.get(name).filter(|v| !v.trim().is_empty())
}

/// Where one event's detail is.
pub fn event_href(id: i64) -> String {
    format!("{BASE}/events/{id}")
}

/// Where one snapshot's detail is (its id percent-encoded: it came from a request header).
pub fn snapshot_href(id: &str) -> String {
    format!("{BASE}/snapshots/{}", crate::types::url_encode(id))
}

/// A snapshot id as a link to its detail.
#[component]
pub fn SnapshotLink(id: Option<String>) -> impl IntoView {
    id.map(|id| {
        let href = snapshot_href(&id);
        view! {
            <a class="mono" href=href>
                {id}
            </a>
        }
    })
}

/// A labelled choice of a GET filter form (`<select name=…>`): "any" or one of `choices`, showing
/// the filter's `current` value.
#[component]
pub fn Choice(
    name: &'static str,
    label: &'static str,
    choices: &'static [&'static str],
    current: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("filter-{name}");
    view! {
        <span class="field">
            <label for=id.clone()>{label}</label>
            <select id=id name=name prop:value=move || current.get().unwrap_or_default()>
                <option value="">"any"</option>
                {choices
                    .iter()
                    .map(|choice| {
                        view! {
                            <option
                                value=*choice
                                selected=move || current.get().as_deref() == Some(*choice)
                            >
                                {*choice}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </span>
    }
}

/// A labelled free-text field of a GET filter form (`<input type=search name=…>`), showing the
/// filter's `current` value.
#[component]
pub fn SearchField(
    name: &'static str,
    label: &'static str,
    placeholder: &'static str,
    current: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("filter-{name}");
    let value = move || current.get().unwrap_or_default();
    view! {
        <span class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type="search"
                placeholder=placeholder
                value=value
                prop:value=value
            />
        </span>
    }
}

/// A table's header row: each column's name and the class of its cells (`num` right-aligns,
/// `wide-only` hides it on narrow screens).
#[component]
pub fn Columns(columns: &'static [(&'static str, &'static str)]) -> impl IntoView {
    view! {
        <thead>
            <tr>
                {columns
                    .iter()
                    .map(|(name, class)| {
                        view! {
                            <th scope="col" class=*class>
                                {*name}
                            </th>
                        }
                    })
                    .collect_view()}
            </tr>
        </thead>
    }
}

/// A filter form. Before the script runs the browser submits it (a GET of `action` with the
/// fields as its query); after, the router goes there without reloading the page.
#[component]
pub fn FilterForm(action: String, children: Children) -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let target = action.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        if let Some(query) = form_query(&ev) {
            ev.prevent_default();
            navigate(&format!("{target}?{query}"), Default::default());
        }
    };
    view! {
        <form method="get" action=action on:submit=submit>
            {children()}
        </form>
    }
}

/// The submitted form's fields as a query string, as the browser would send them.
#[cfg(feature = "hydrate")]
fn form_query(ev: &leptos::ev::SubmitEvent) -> Option<String> {
    use leptos::wasm_bindgen::JsCast;
    let form = ev.target()?.dyn_into::<web_sys::HtmlFormElement>().ok()?;
    let fields = web_sys::FormData::new_with_form(&form).ok()?;
    let query = web_sys::UrlSearchParams::new_with_str_sequence_sequence(&fields).ok()?;
    Some(query.to_string().into())
}

/// Only the browser submits forms.
#[cfg(not(feature = "hydrate"))]
fn form_query(_: &leptos::ev::SubmitEvent) -> Option<String> {
    None
}

/// A section's data as it loads: "Loading…" the first time, then the data, which stays on screen
/// while it reloads (a transition: no flicker, no jump); a failure said in words.
pub fn loaded<T, V>(
    resource: crate::codec::Data<Result<T, DashboardError>>,
    show: impl Fn(T) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + miniserde::Deserialize + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let show = show.clone();
                resource
                    .get()
                    .map(move |answer| match answer {
                        Ok(value) => show(value).into_any(),
                        Err(error) => view! { <Problem error /> }.into_any(),
                    })
            }}
        </Transition>
    }
}

/// Events, newest first. Rows whose id is above `fresh_after` arrived since the table was last
/// shown: they slide in.
#[component]
pub fn EventTable(
    events: Vec<EventView>,
    fresh_after: Option<i64>,
    testid: &'static str,
) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="events" data-testid=testid>
                <Columns columns=&[("Time", ""), ("Outcome", ""), ("Status", ""), ("Endpoint", ""), ("Snapshot", ""), ("Records", "num"), ("Platform", "wide-only"), ("Client IP", "wide-only"), ("Reason", "")] />
                <tbody>
                    {events
                        .into_iter()
                        .map(|e| {
                            let fresh = fresh_after.is_some_and(|after| e.id > after);
                            let pill = format!("pill {}", outcome_class(&e.outcome));
                            let outcome = e.outcome.clone();
                            let label = format!("event {} details", e.id);
                            view! {
                                <tr
                                    data-outcome=outcome
                                    data-id=e.id
                                    class=if fresh { "is-new" } else { "" }
                                >
                                    <td>
                                        <a href=event_href(e.id) aria-label=label>
                                            <LocalTime at_ms=e.at_ms short=true />
                                        </a>
                                    </td>
                                    <td>
                                        <span class=pill>{e.outcome}</span>
                                    </td>
                                    <td class="mono">{e.status}</td>
                                    <td class="endpoint">{e.endpoint}</td>
                                    <td>
                                        <SnapshotLink id=e.snapshot_id />
                                    </td>
                                    <td class="num">
                                        {e.records.map(charts::thousands).unwrap_or_default()}
                                    </td>
                                    <td class="wide-only">{e.platform.unwrap_or_default()}</td>
                                    <td class="wide-only mono">{e.client_ip.unwrap_or_default()}</td>
                                    <td class="reason-text">{e.error.unwrap_or_default()}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// A button that copies `text` to the clipboard and says whether it did.
#[component]
pub fn CopyButton(text: String, label: String) -> impl IntoView {
    let said = RwSignal::new("");
    #[cfg(feature = "hydrate")]
    let on_click = move |_| {
        let text = text.clone();
        leptos::task::spawn_local(async move {
            let copied = crate::shell::browser::copy(text).await;
            said.set(if copied {
                "Copied"
            } else {
                "Copy refused: select the text"
            });
        });
    };
    // The server renders the button; only the browser can copy.
    #[cfg(not(feature = "hydrate"))]
    let on_click = {
        drop(text);
        |_| {}
    };
    view! {
        <button type="button" class="copy" on:click=on_click aria-label=label>
            "Copy"
        </button>
        <span class="copy-said" role="status">
            {move || said.get()}
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 << 20), "3.0 MiB");
    }

    #[test]
    fn snapshot_links_encode_what_came_from_a_header() {
        assert_eq!(snapshot_href("s_1"), "/webhook-monitor/snapshots/s_1");
        assert_eq!(
            snapshot_href("a/b?c"),
            "/webhook-monitor/snapshots/a%2Fb%3Fc"
        );
    }

    #[test]
    fn every_outcome_has_a_colour_with_one_meaning() {
        assert_eq!(outcome_class("accepted"), "outcome-accepted");
        assert_eq!(outcome_class("error"), "outcome-error");
        for refused in &OUTCOMES[2..9] {
            assert_eq!(outcome_class(refused), "outcome-refused");
        }
    }
}
