//! Setup (`/webhook-monitor/setup`): the exact values to paste into BrightData, the configuration
//! in effect (secrets masked), and the security self-test.

use leptos::prelude::*;

use crate::api::{self, SelfTest};
use crate::charts::thousands;
use crate::shell::Problem;
use crate::types::{SelfTestReport, SetupView, StorageView};
use crate::ui::{Columns, CopyButton, bytes, loaded};

#[component]
pub fn SetupPage() -> impl IntoView {
    let setup = crate::codec::data(|| (), |_| api::setup());
    let storage = crate::codec::data(|| (), |_| api::storage());
    let self_test = ServerAction::<SelfTest>::new();
    view! {
        <div class="section-head">
            <h2>"Setup"</h2>
        </div>
        {loaded(setup, move |setup| view! { <Setup setup /> })}
        {loaded(storage, move |storage| view! { <Storage storage /> })}
        <section class="panel" aria-labelledby="self-test-title">
            <h3 id="self-test-title">"Security self-test"</h3>
            <p class="muted">
                "Sends crafted requests through the real checks (nothing is stored): a good token, a wrong one, a bad signature, a stale timestamp, a refused address, an oversize body, gzip, a gzip bomb and a burst past the rate limit."
            </p>
            <button
                type="button"
                data-testid="run-self-test"
                disabled=move || self_test.pending().get()
                on:click=move |_| {
                    self_test.dispatch(SelfTest {});
                }
            >
                {move || if self_test.pending().get() { "Running…" } else { "Run the self-test" }}
            </button>
            {move || {
                self_test
                    .value()
                    .get()
                    .map(|answer| match answer {
                        Ok(report) => view! { <Report report /> }.into_any(),
                        Err(error) => view! { <Problem error /> }.into_any(),
                    })
            }}
        </section>
    }
}

/// What each kind of data takes, and what a day brought.
#[component]
fn Storage(storage: StorageView) -> impl IntoView {
    let retention = match storage.body_retention_s {
        Some(s) => format!(
            "raw bodies are kept {} days, then dropped (the posts stay)",
            s / 86_400
        ),
        None => "raw bodies are kept for ever (WEBHOOK_BODY_RETENTION=0)".to_owned(),
    };
    view! {
        <section class="panel" aria-labelledby="storage-title" data-testid="storage">
            <h3 id="storage-title">"Storage"</h3>
            <p class="muted">
                {format!(
                    "The last 24 hours brought {} requests, {} delivery files with {} posts, and {} of raw bodies; {retention}.",
                    thousands(storage.events_24h),
                    thousands(storage.deliveries_24h),
                    thousands(storage.posts_24h),
                    bytes(storage.body_bytes_24h),
                )}
            </p>
            {storage.note.map(|note| view! { <p class="muted">{note}</p> })}
            <div class="table-scroll">
                <table class="plain" data-testid="storage-tables">
                    <Columns columns=&[("Table", ""), ("Holds", ""), ("Size", "num"), ("Share", "num")] />
                    <tbody>
                        {storage
                            .tables
                            .into_iter()
                            .map(|t| {
                                let share = if storage.total_bytes > 0 {
                                    format!("{:.0}%", 100.0 * t.bytes as f64 / storage.total_bytes as f64)
                                } else {
                                    "–".into()
                                };
                                let name = t.name.clone();
                                view! {
                                    <tr data-table=name>
                                        <td class="mono">{t.name}</td>
                                        <td>{t.holds}</td>
                                        <td class="num">{bytes(t.bytes)}</td>
                                        <td class="num">{share}</td>
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
fn Setup(setup: SetupView) -> impl IntoView {
    let SetupView {
        base_url,
        base_url_source,
        base_url_warnings,
        reachable,
        data_url,
        notify_url,
        auth_header,
        token_source,
        dashboard_url,
        settings,
    } = setup;
    let rows = [
        ("Data URL (endpoint)", "setup-data-url", data_url),
        ("Status URL (notify)", "setup-notify-url", notify_url),
        ("Header (auth_header)", "setup-auth-header", auth_header),
    ];
    view! {
        <section class="panel" aria-labelledby="brightdata-title">
            <h3 id="brightdata-title">"Paste into BrightData"</h3>
            <p class="muted">
                "In the collection's delivery settings (or the trigger API's "
                <code>"endpoint"</code> ", " <code>"notify"</code> " and " <code>"auth_header"</code>
                " parameters). The token itself is in " {token_source} "."
            </p>
            <dl class="paste">
                {rows
                    .into_iter()
                    .map(|(label, testid, value)| {
                        let copy_label = format!("Copy {label}");
                        view! {
                            <dt>{label}</dt>
                            <dd>
                                <code data-testid=testid>{value.clone()}</code>
                                <CopyButton text=value label=copy_label />
                            </dd>
                        }
                    })
                    .collect_view()}
            </dl>
            <p data-testid="setup-base-url">
                "Public URL: " <code>{base_url}</code> " (" {base_url_source} ")."
            </p>
            {(!reachable)
                .then(|| {
                    view! {
                        <p class="callout" data-testid="setup-unreachable">
                            "BrightData cannot reach this address. Set BRIGHTDATA_BASE_URL to the service's public https URL, or run a tunnel in development ("
                            <code>"server ngrok start"</code> " with " <code>"NGROK_ENABLED=true"</code> ")."
                        </p>
                    }
                })}
            {base_url_warnings
                .into_iter()
                .map(|warning| {
                    view! { <p class="callout" data-testid="setup-url-warning">{warning}</p> }
                })
                .collect_view()}
            <p class="muted">"Dashboard: " <code>{dashboard_url}</code></p>
        </section>
        <section class="panel" aria-labelledby="settings-title">
            <h3 id="settings-title">"Configuration in effect"</h3>
            <div class="table-scroll">
                <table class="plain settings" data-testid="settings">
                    <tbody>
                        {settings
                            .into_iter()
                            .map(|s| {
                                view! {
                                    <tr>
                                        <th scope="row" class="mono">
                                            {s.name}
                                        </th>
                                        <td class="wrap">{s.value}</td>
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
fn Report(report: SelfTestReport) -> impl IntoView {
    let verdict = if report.passed {
        "Every check gave the expected answer."
    } else {
        "Some checks did not give the expected answer: see below."
    };
    view! {
        <p
            class=if report.passed { "verdict is-good" } else { "verdict is-bad" }
            data-testid="self-test-verdict"
            role="status"
        >
            {verdict}
        </p>
        <div class="table-scroll">
            <table class="plain" data-testid="self-test-checks">
                <Columns columns=&[("Check", ""), ("What was sent", ""), ("Expected", ""), ("Got", ""), ("Result", "")] />
                <tbody>
                    {report
                        .checks
                        .into_iter()
                        .map(|c| {
                            let check = c.name.clone();
                            view! {
                                <tr data-check=check>
                                    <td class="mono">{c.name}</td>
                                    <td class="reason-text">{c.description}</td>
                                    <td class="mono">{c.expected}</td>
                                    <td class="mono">{c.actual}</td>
                                    <td>
                                        <span class=if c.passed {
                                            "pill outcome-accepted"
                                        } else {
                                            "pill outcome-error"
                                        }>{if c.passed { "pass" } else { "FAIL" }}</span>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        {(!report.warnings.is_empty())
            .then(|| {
                view! {
                    <h4>"Settings to look at"</h4>
                    <ul class="warnings" data-testid="self-test-warnings">
                        {report
                            .warnings
                            .into_iter()
                            .map(|w| {
                                let pill = format!("pill severity-{}", w.severity);
                                view! {
                                    <li>
                                        <span class=pill>{w.severity}</span>
                                        " "
                                        <code>{w.setting}</code>
                                        " "
                                        {w.message}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
            })}
    }
}
