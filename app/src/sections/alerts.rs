//! Alerts (`/webhook-monitor/alerts`): open and resolved, with their severity, count and first
//! and last sighting; acknowledging one records who and when.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{self, Acknowledge};
use crate::live::use_live;
use crate::shell::BASE;
use crate::types::{AlertFilter, AlertView};
use crate::ui::{LocalTime, MaybeTime, loaded};

/// The lists the tabs offer: (status parameter, label).
const LISTS: [(&str, &str); 3] = [("active", "Open"), ("resolved", "Resolved"), ("all", "All")];

#[component]
pub fn AlertsPage() -> impl IntoView {
    let live = use_live();
    let query = use_query_map();
    let status = Memo::new(move |_| {
        query
            .read()
            .get("status")
            .filter(|s| LISTS.iter().any(|(name, _)| name == s))
            .unwrap_or_else(|| "active".to_owned())
    });
    let acknowledge = ServerAction::<Acknowledge>::new();
    let list = crate::codec::data(
        move || (status.get(), live.alerts.get(), acknowledge.version().get()),
        |(status, _, _)| {
            api::alerts(AlertFilter {
                status: Some(status),
                ..AlertFilter::default()
            })
        },
    );
    let problem = move || match acknowledge.value().get() {
        Some(Err(error)) => Some(format!("Not acknowledged: {error}")),
        _ => None,
    };
    view! {
        <div class="section-head">
            <h2>"Alerts"</h2>
            <nav class="range" aria-label="Which alerts">
                {LISTS
                    .into_iter()
                    .map(|(name, label)| {
                        view! {
                            <a
                                href=format!("{BASE}/alerts?status={name}")
                                class=move || if status.get() == name { "is-current" } else { "" }
                                aria-current=move || (status.get() == name).then_some("true")
                            >
                                {label}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
        </div>
        {move || {
            problem()
                .map(|text| {
                    view! {
                        <p class="problem" role="alert">
                            {text}
                        </p>
                    }
                })
        }}
        {loaded(
            list,
            move |list| {
                if list.alerts.is_empty() {
                    let text = if status.get_untracked() == "active" {
                        "No open alert: the error rate, response time, refusals and snapshots are within their limits."
                    } else {
                        "No alert in this list."
                    };
                    return view! {
                        <p class="empty-state" data-testid="alerts-empty">
                            {text}
                        </p>
                    }
                    .into_any();
                }
                view! {
                    <ul class="alert-list" data-testid="alerts">
                        {list
                            .alerts
                            .into_iter()
                            .map(|alert| view! { <AlertItem alert acknowledge /> })
                            .collect_view()}
                    </ul>
                }
                .into_any()
            },
        )}
    }
}

#[component]
fn AlertItem(alert: AlertView, acknowledge: ServerAction<Acknowledge>) -> impl IntoView {
    let id = alert.id;
    let pill = format!("pill severity-{}", alert.severity);
    let name = RwSignal::new("admin".to_owned());
    let field = format!("ack-by-{id}");
    let subject = (!alert.subject.is_empty()).then(|| alert.subject.clone());
    let snapshot_rule = alert.rule.starts_with("snapshot_");
    view! {
        <li data-testid="alert" data-rule=alert.rule.clone() data-status=alert.status.clone()>
            <div class="alert-head">
                <span class=pill>{alert.severity.clone()}</span>
                <strong>{alert.rule.clone()}</strong>
                {subject
                    .map(|subject| {
                        if snapshot_rule {
                            let href = crate::ui::snapshot_href(&subject);
                            view! {
                                <a class="mono" href=href>
                                    {subject}
                                </a>
                            }
                                .into_any()
                        } else {
                            view! { <span class="mono">{subject}</span> }.into_any()
                        }
                    })}
                <span class="pill">{alert.status.clone()}</span>
            </div>
            <p>{alert.message.clone()}</p>
            <dl class="facts compact">
                <dt>"Seen"</dt>
                <dd>{format!("{} times", alert.count)}</dd>
                <dt>"First"</dt>
                <dd>
                    <LocalTime at_ms=alert.first_seen_ms />
                </dd>
                <dt>"Last"</dt>
                <dd>
                    <LocalTime at_ms=alert.last_seen_ms />
                </dd>
                <dt>"Resolved"</dt>
                <dd>
                    <MaybeTime at_ms=alert.resolved_ms />
                </dd>
            </dl>
            {match (alert.acknowledged_by.clone(), alert.acknowledged_ms) {
                (Some(by), Some(at_ms)) => {
                    view! {
                        <p class="acknowledged" data-testid="acknowledged">
                            "Acknowledged by " <strong>{by}</strong> " at " <LocalTime at_ms />
                        </p>
                    }
                        .into_any()
                }
                _ => {
                    view! {
                        <form
                            class="ack"
                            on:submit=move |ev| {
                                ev.prevent_default();
                                acknowledge
                                    .dispatch(Acknowledge {
                                        id,
                                        by: name.get_untracked(),
                                    });
                            }
                        >
                            <label for=field.clone()>"Your name"</label>
                            <input
                                id=field
                                type="text"
                                maxlength="128"
                                prop:value=move || name.get()
                                on:input=move |ev| name.set(event_target_value(&ev))
                            />
                            <button type="submit" disabled=move || acknowledge.pending().get()>
                                "Acknowledge"
                            </button>
                        </form>
                    }
                        .into_any()
                }
            }}
        </li>
    }
}
