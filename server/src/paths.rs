//! Where the service answers: the dashboard's path, and the rule that every API path is served with
//! and without its trailing slash.

/// Where the dashboard lives; `/` redirects there.
pub const DASHBOARD_PATH: &str = "/webhook-monitor";

/// Registers `path` both with and without its trailing slash: callers use both forms.
pub fn both_slashes(path: &str) -> [String; 2] {
    let bare = path.trim_end_matches('/');
    [bare.to_owned(), format!("{bare}/")]
}
