//! The monitor's frame around every section: the top bar (live indicator, health badge, log out),
//! the section tabs, the login form for anonymous visitors, and the live link that tells every
//! section when something changed.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use crate::PRODUCT_NAME;
use crate::api::{self, DashboardError, Login, Logout};
use crate::charts;
use crate::live::{LinkState, Live, Touched};
use crate::types::HealthView;

/// Where the monitor lives; its sections are below it.
pub const BASE: &str = "/webhook-monitor";

/// The page's "is this visitor signed in?" check, in context: whatever learns that the session
/// ended (an `Unauthorized` answer) asks it again, and the page goes back to the login form.
#[derive(Clone, Copy)]
pub struct SessionCheck(pub crate::codec::Data<Result<HealthView, DashboardError>>);

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

/// The sections, as the tabs list them.
const SECTIONS: [(&str, &str); 6] = [
    ("", "Overview"),
    ("/events", "Events"),
    ("/snapshots", "Snapshots"),
    ("/posts", "Posts"),
    ("/alerts", "Alerts"),
    ("/setup", "Setup"),
];

#[component]
pub fn Monitor() -> impl IntoView {
    let live = Live {
        state: RwSignal::new(LinkState::Offline),
        last_ms: RwSignal::new(None),
        events: RwSignal::new(0),
        alerts: RwSignal::new(0),
        beats: RwSignal::new(0),
        snapshots: RwSignal::new((0, Touched::None)),
        utc_offset: RwSignal::new(initial_utc_offset()),
    };
    provide_context(live);
    // Whether this visitor is signed in. Not live: its answer decides between the login form and
    // the sections, which must not be rebuilt on every change.
    let session = crate::codec::data(|| (), |_| api::status());
    provide_context(SessionCheck(session));
    // The badge's health, live.
    let health = crate::codec::data(
        move || (live.alerts.get(), live.beats.get()),
        |_| api::status(),
    );
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    Effect::new(move |_| {
        if matches!(login.value().get(), Some(Ok(()))) {
            session.refetch();
            health.refetch();
        }
    });
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            if logout.version().get() > 0 {
                browser::reload();
            }
        });
        browser::start(session, live);
    }

    view! {
        <header class="topbar">
            <h1 class="brand">{PRODUCT_NAME}</h1>
            <LiveIndicator live />
            <Transition fallback=|| ()>
                {move || {
                    health
                        .get()
                        .and_then(Result::ok)
                        .map(|h| {
                            view! {
                                <HealthBadge health=h />
                                <form
                                    method="post"
                                    action={<Logout as leptos::server_fn::ServerFn>::url()}
                                    class="logout"
                                    on:submit=move |ev| {
                                        ev.prevent_default();
                                        logout.dispatch(Logout {});
                                    }
                                >
                                    <button type="submit">"Log out"</button>
                                </form>
                            }
                        })
                }}
            </Transition>
        </header>
        <Suspense fallback=|| view! { <p class="loading page">"Loading…"</p> }>
            {move || {
                session
                    .get()
                    .map(|answer| match answer {
                        Ok(_) => {
                            view! {
                                <Sections />
                                <main class="page">
                                    <Outlet />
                                </main>
                            }
                                .into_any()
                        }
                        Err(error) if error.is_unauthorized() => {
                            view! {
                                <main class="page">
                                    <LoginForm login />
                                </main>
                            }
                                .into_any()
                        }
                        Err(error) => {
                            view! {
                                <main class="page">
                                    <Problem error />
                                </main>
                            }
                                .into_any()
                        }
                    })
            }}
        </Suspense>
    }
}

#[component]
fn Sections() -> impl IntoView {
    view! {
        <nav class="sections" aria-label="Sections">
            {SECTIONS
                .into_iter()
                .map(|(path, name)| {
                    let href = format!("{BASE}{path}");
                    // The overview's tab is current on its own path only; the others on theirs
                    // and below (an event's detail is under Events).
                    view! {
                        <A href=href exact=path.is_empty()>
                            {name}
                        </A>
                    }
                })
                .collect_view()}
        </nav>
    }
}

/// A call that failed, said in words; a session that ended says how to log in again.
#[component]
pub fn Problem(error: DashboardError) -> impl IntoView {
    let text = match &error {
        error if error.is_unauthorized() => {
            // Back to the login form (in the browser): the session is asked for again.
            if let Some(SessionCheck(session)) = use_context::<SessionCheck>() {
                Effect::new(move |_| session.refetch());
            }
            "Your session has ended: log in again.".to_owned()
        }
        other => other.to_string(),
    };
    view! {
        <p class="problem" role="alert" data-testid="problem">
            {text}
        </p>
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
    let token = NodeRef::<leptos::html::Input>::new();
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
            // Before the script runs, the browser posts the form and the server function sends it
            // back to the page; after, the page dispatches the call itself and stays.
            <form
                method="post"
                action={<Login as leptos::server_fn::ServerFn>::url()}
                on:submit=move |ev| {
                    if let Some(input) = token.get() {
                        ev.prevent_default();
                        login.dispatch(Login { token: input.value() });
                    }
                }
            >
                <label for="admin-token">"Admin token"</label>
                <input
                    node_ref=token
                    id="admin-token"
                    name="token"
                    type="password"
                    autocomplete="current-password"
                    required
                />
                <button type="submit" disabled=move || login.pending().get()>
                    "Log in"
                </button>
            </form>
            <p class="problem" role="alert" data-testid="login-problem">
                {problem}
            </p>
        </section>
    }
}

#[component]
fn HealthBadge(health: HealthView) -> impl IntoView {
    let worst = health
        .reasons
        .first()
        .map(|r| r.message.clone())
        .unwrap_or_else(|| "every check passed".to_owned());
    let class = format!("health-badge health-{}", health.status);
    let label = format!("health: {}, {}", health.status, worst);
    view! {
        <a
            href=BASE
            class=class
            data-testid="health-badge"
            title=worst.clone()
            aria-label=label
        >
            {health.status}
        </a>
    }
}

#[component]
fn LiveIndicator(live: Live) -> impl IntoView {
    let state = live.state;
    // Empty until the link has heard from the server (so on the server's first paint too).
    let last = move || {
        live.last_ms
            .get()
            .map(|at| charts::time_of_day(at, live.utc_offset.get()))
            .unwrap_or_default()
    };
    view! {
        <div
            class=move || format!("live-indicator {}", state.get().class())
            data-testid="live-indicator"
            data-state=move || state.get().key()
            role="status"
        >
            <span class="dot" aria-hidden="true"></span>
            <span class="label">{move || state.get().label()}</span>
            <span class="last-update" data-testid="live-last">{last}</span>
        </div>
    }
}

/// What only the browser does: the live link, the viewer's clock and zone, the clipboard.
#[cfg(feature = "hydrate")]
pub mod browser {
    use leptos::prelude::*;
    use leptos::web_sys::js_sys;

    use super::TZ_COOKIE;
    use crate::api::DashboardError;
    use crate::live::Live;
    use crate::types::HealthView;

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

    /// Puts `text` on the clipboard (`navigator.clipboard.writeText`); false when the browser
    /// refuses (no permission, not a secure context).
    pub async fn copy(text: String) -> bool {
        let Some(window) = leptos::web_sys::window() else {
            return false;
        };
        let call = || -> Option<js_sys::Promise> {
            let navigator = js_sys::Reflect::get(&window, &"navigator".into()).ok()?;
            let clipboard = js_sys::Reflect::get(&navigator, &"clipboard".into()).ok()?;
            let write: js_sys::Function = js_sys::Reflect::get(&clipboard, &"writeText".into())
                .ok()?
                .dyn_into()
                .ok()?;
            write
                .call1(&clipboard, &text.as_str().into())
                .ok()?
                .dyn_into()
                .ok()
        };
        match call() {
            Some(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.is_ok(),
            None => false,
        }
    }

    use leptos::wasm_bindgen::JsCast;

    /// Starts the live link once the page is hydrated and signed in (effects run only in the
    /// browser), and puts the viewer's zone into the times shown and the cookie.
    pub fn start(session: crate::codec::Data<Result<HealthView, DashboardError>>, live: Live) {
        let offset = utc_offset_now();
        Effect::new(move |_| {
            if live.utc_offset.get_untracked() != offset {
                live.utc_offset.set(offset);
            }
            remember_offset(offset);
        });
        crate::live::socket::connect(session, live);
    }

    /// After logging out the page starts over: the live link belongs to the session that ended.
    pub fn reload() {
        if let Some(window) = leptos::web_sys::window() {
            let _ = window.location().reload();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_comes_from_its_cookie_among_others() {
        assert_eq!(offset_from_cookies("a=1; tf_tz=120; b=2"), Some(120));
        assert_eq!(offset_from_cookies("tf_tz=-300"), Some(-300));
        assert_eq!(offset_from_cookies("tf_tz=abc; x=1"), None);
        assert_eq!(offset_from_cookies(""), None);
    }
}
