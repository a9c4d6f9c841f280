//! What the page and the server agree on outside the server functions' signatures: where the
//! functions live, the CSRF rule's header, how often the live stream sends (what it carries is
//! `types::LiveUpdate`).

/// The header a state-changing call made with the session cookie must carry (a cross-site form
/// cannot set it), and its value: the REST API's rule, which the dashboard's writes follow too.
pub const CSRF_HEADER: &str = "x-requested-with";
pub const CSRF_VALUE: &str = "track-futura";

/// Where the server functions live (outside `/api`, whose unknown paths are JSON 404s). The
/// `#[server]` attributes in `functions` spell it out, as the macro takes only a literal.
pub const PREFIX: &str = "/dashboard/api";

/// The live stream sends what changed at most this often.
pub const COALESCE_MS: u64 = 200;

/// The overview's time windows: the selector's choices, and the only ones `overview` takes.
pub const WINDOWS: [&str; 4] = ["5m", "1h", "24h", "7d"];
