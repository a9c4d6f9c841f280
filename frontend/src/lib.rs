//! The browser entry point: hydrates the server-rendered dashboard. Everything else lives in `app`.

// The overview's view type is deep enough to pass the default query depth when its layout is
// computed for hydration.
#![recursion_limit = "256"]

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
