//! Scraper drift as the dashboard shows it: on a snapshot's page, each platform's field coverage
//! against the usual (drifted fields named in words, not only in colour) and the one action a
//! drifted snapshot offers; on the Snapshots view, a chart per platform of the key fields' coverage
//! over recent snapshots.

use leptos::prelude::*;

use super::overview::Chart;
use crate::api::{self, AcceptFields};
use crate::charts::{self, thousands};
use crate::live::use_live;
use crate::types::{DriftView, FieldCoverageView, PlatformCoverageView};
use crate::ui::{MaybeTime, loaded};

/// The colour class of a drift verdict (the word is always shown too).
pub fn drift_class(verdict: &str) -> &'static str {
    match verdict {
        "normal" | "accepted" => "pill outcome-accepted",
        "drift" => "pill outcome-error",
        _ => "pill outcome-duplicate",
    }
}

/// A share as a percentage; a share above zero never shows as `0%`.
fn percent(share: f64) -> String {
    if share > 0.0 && share < 0.005 {
        "<1%".into()
    } else {
        format!("{:.0}%", share * 100.0)
    }
}

/// How a field drifted, in words.
fn change_words(change: &str) -> &'static str {
    match change {
        "emptied" => "went empty",
        "vanished" => "vanished",
        "type_changed" => "changed type",
        "new" => "new field",
        _ => "changed",
    }
}

/// A snapshot's fields: per platform, the coverage table; drifted fields first and in words.
#[component]
pub fn FieldCoverage(
    id: String,
    drift: DriftView,
    coverage: Vec<PlatformCoverageView>,
    accept: ServerAction<AcceptFields>,
) -> impl IntoView {
    let verdict = drift.verdict.clone();
    let drifted = verdict == "drift";
    let outcome = move || match accept.value().get() {
        Some(Ok(_)) => Some(
            "Accepted: later snapshots are judged against this shape (learning again first)."
                .to_owned(),
        ),
        Some(Err(error)) => Some(format!("Not accepted: {error}")),
        None => None,
    };
    view! {
        <section
            class=if drifted { "panel callout" } else { "panel" }
            aria-labelledby="fields-title"
            data-testid="field-coverage"
            data-verdict=verdict.clone()
        >
            <h3 id="fields-title">
                "Fields as usual? " <span class=drift_class(&verdict)>{verdict.clone()}</span>
            </h3>
            {coverage
                .is_empty()
                .then(|| {
                    view! {
                        <p class="muted" data-testid="coverage-pending">
                            "Judged once the snapshot has settled (after BrightData's ready, or 10 minutes after its last file) and its files are extracted: each field's share of filled records against the platform's last normal snapshots."
                        </p>
                    }
                })}
            {coverage
                .into_iter()
                .map(|platform| view! { <PlatformFields platform /> })
                .collect_view()}
            <p class="muted">"Judged " <MaybeTime at_ms=drift.checked_ms /></p>
            {drifted
                .then(|| {
                    view! {
                        <div class="actions">
                            <button
                                type="button"
                                data-testid="accept-fields"
                                disabled=move || accept.pending().get()
                                on:click={
                                    let id = id.clone();
                                    move |_| {
                                        accept.dispatch(AcceptFields { id: id.clone() });
                                    }
                                }
                            >
                                "Accept this shape as the new normal"
                            </button>
                            <span class="muted">
                                "When the platform changed for good: its alerts resolve, and later snapshots are judged against this one."
                            </span>
                            <p role="status" data-testid="accept-result">
                                {outcome}
                            </p>
                        </div>
                    }
                })}
        </section>
    }
}

#[component]
fn PlatformFields(platform: PlatformCoverageView) -> impl IntoView {
    let PlatformCoverageView {
        platform,
        records,
        verdict,
        note,
        baseline_snapshots,
        fields,
    } = platform;
    let drifted: Vec<FieldCoverageView> = fields
        .iter()
        .filter(|f| f.change.is_some())
        .cloned()
        .collect();
    // Drifted and key fields in the table; the rest folded away.
    let (shown, rest): (Vec<_>, Vec<_>) = fields
        .into_iter()
        .partition(|f| f.change.is_some() || f.key);
    let more = rest.len();
    let name = platform.clone();
    view! {
        <div class="platform-fields" data-platform=name data-verdict=verdict.clone()>
            <h4>
                {platform} " · " {thousands(records)} " records · "
                <span class=drift_class(&verdict)>{verdict.clone()}</span>
            </h4>
            <p data-testid="coverage-note">
                {note} {(baseline_snapshots > 0)
                    .then(|| format!(" (baseline: median of {baseline_snapshots} snapshots)"))}
            </p>
            {(!drifted.is_empty())
                .then(|| {
                    view! {
                        <ul class="drifted" data-testid="drifted-fields">
                            {drifted
                                .into_iter()
                                .map(|f| {
                                    let change = f.change.clone().unwrap_or_default();
                                    view! {
                                        <li data-field=f.field.clone() data-change=change.clone()>
                                            <strong>{change_words(&change)}</strong>
                                            ": "
                                            {f.note.clone().unwrap_or_default()}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                })}
            <FieldTable fields=shown testid="coverage-table" />
            {(more > 0)
                .then(|| {
                    view! {
                        <details>
                            <summary>{format!("{more} more fields")}</summary>
                            <FieldTable fields=rest testid="coverage-table-rest" />
                        </details>
                    }
                })}
        </div>
    }
}

#[component]
fn FieldTable(fields: Vec<FieldCoverageView>, testid: &'static str) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="plain" data-testid=testid>
                <thead>
                    <tr>
                        <th scope="col">"Field"</th>
                        <th scope="col" class="num">"Filled"</th>
                        <th scope="col" class="num">"Usually"</th>
                        <th scope="col">"Type"</th>
                        <th scope="col">"Usual type"</th>
                        <th scope="col">"Drift"</th>
                    </tr>
                </thead>
                <tbody>
                    {fields
                        .into_iter()
                        .map(|f| {
                            let change = f.change.clone();
                            let row_class = if change.is_some() { "is-drifted" } else { "" };
                            view! {
                                <tr
                                    class=row_class
                                    data-field=f.field.clone()
                                >
                                    <td class="mono">
                                        {f.field.clone()}
                                        {f
                                            .key
                                            .then(|| {
                                                view! {
                                                    <span class="muted" title="a field the service reads">
                                                        " · read"
                                                    </span>
                                                }
                                            })}
                                    </td>
                                    <td class="num">{percent(f.coverage)}</td>
                                    <td class="num">
                                        {f.baseline.map(percent).unwrap_or_else(|| "–".into())}
                                    </td>
                                    <td>
                                        {if f.kind.is_empty() { "null".to_owned() } else { f.kind.clone() }}
                                    </td>
                                    <td>{f.baseline_kind.clone().unwrap_or_else(|| "–".into())}</td>
                                    <td>
                                        {change
                                            .map(|c| {
                                                view! {
                                                    <span class="pill outcome-error">{change_words(&c)}</span>
                                                }
                                                    .into_any()
                                            })
                                            .unwrap_or_else(|| view! { "as usual" }.into_any())}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// Per platform, the key fields' coverage over its recent snapshots.
#[component]
pub fn CoverageCharts() -> impl IntoView {
    let live = use_live();
    let history = crate::codec::data(move || live.events_unless(false), |_| api::field_coverage());
    let utc_offset = live.utc_offset;
    view! {
        {loaded(
            history,
            move |history| {
                (!history.is_empty())
                    .then(|| {
                        view! {
                            <section class="charts" aria-label="Fields over recent snapshots" data-testid="coverage-charts">
                                {history
                                    .into_iter()
                                    .map(|h| {
                                        let title = format!(
                                            "{}: key fields filled, last {} snapshots",
                                            h.platform,
                                            h.snapshots.len(),
                                        );
                                        view! {
                                            <Chart
                                                title
                                                legend=vec![
                                                    ("coverage-low", "none filled"),
                                                    ("coverage-high", "all filled"),
                                                    ("drifted", "drifted snapshot"),
                                                ]
                                                draw=move |w| charts::field_coverage(&h, w, utc_offset.get())
                                            />
                                        }
                                    })
                                    .collect_view()}
                            </section>
                        }
                    })
            },
        )}
    }
}
