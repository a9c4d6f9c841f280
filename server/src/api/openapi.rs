//! `GET /api/openapi.json`: the OpenAPI 3.1 document of the monitor API and the ingestion endpoints.
//! Written by hand next to the routes it describes; a test checks that every route is in it.

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::views::export::EXPORT_COLUMNS;
use crate::views::posts::CSV_COLUMNS as POST_COLUMNS;

fn op(summary: &str, params: Vec<Value>, ok: &str) -> Value {
    json!({
        "summary": summary,
        "security": [{"bearer": []}, {"session": []}],
        "parameters": params,
        "responses": {
            "200": {"description": ok, "content": {"application/json": {}}},
            "401": {"$ref": "#/components/responses/Unauthorized"},
        }
    })
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}})
}

fn path_id(description: &str) -> Value {
    json!({"name": "id", "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

fn event_filters() -> Vec<Value> {
    vec![
        query(
            "outcome",
            "comma-separated outcomes: accepted, duplicate, rejected_auth, rejected_signature, rejected_timestamp, rejected_ip, rate_limited, too_large, bad_payload, error",
        ),
        query("endpoint", "webhook or notify"),
        query("platform", "instagram, facebook, linkedin, tiktok, ..."),
        query("snapshot", "snapshot id"),
        query("ip", "client IP"),
        query("from", "Unix milliseconds or RFC 3339 (inclusive)"),
        query("to", "Unix milliseconds or RFC 3339 (exclusive)"),
        query("q", "free text in error, user agent, snapshot, IP"),
        query("cursor", "next_cursor of the previous page"),
        query("limit", "1 to 500, default 50"),
    ]
}

pub fn spec() -> Value {
    let base = "/api/brightdata/webhook";
    let mut export_params = event_filters();
    export_params.push(query("format", "csv (default) or json"));
    let post_filters = || {
        vec![
            query("snapshot", "snapshot id"),
            query("platform", "platform"),
            query("author", "author, exactly"),
            query("from", "posted at or after: Unix milliseconds or RFC 3339"),
            query("to", "posted before: Unix milliseconds or RFC 3339"),
            query("q", "text anywhere in the record"),
            query("delivery", "delivery id"),
        ]
    };
    let mut list_params = post_filters();
    list_params.push(query("cursor", "next_cursor of the previous page"));
    list_params.push(query("limit", "1 to 500, default 50"));
    let posts_list = json!({"get": op("Stored posts, most recently stored first, cursor-paginated; each with its columns, its text and its record as BrightData sent it", list_params, "{posts: [PostRecordView], next_cursor}")});
    let mut export_post_params = post_filters();
    export_post_params.push(query(
        "format",
        "csv (default), ndjson, or parquet (typed columns, Snappy row groups)",
    ));
    export_post_params.push(query(
        "bom",
        "true: a UTF-8 byte order mark first (CSV, for Excel)",
    ));
    let posts_export = json!({"get": {
        "summary": "Every matching post, streamed: CSV (one row per post, spreadsheet-safe) or NDJSON (the records as BrightData sent them, one per line); compressed when the client accepts gzip or br",
        "description": format!("CSV columns, in order: {}", POST_COLUMNS.join(", ")),
        "security": [{"bearer": []}, {"session": []}],
        "parameters": export_post_params,
        "responses": {"200": {"description": "text/csv or application/x-ndjson", "content": {"text/csv": {}, "application/x-ndjson": {}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}
    }});
    let mut spec = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Track-Futura webhook service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Receives BrightData deliveries and monitors itself. Rates are fractions 0..1; times are Unix milliseconds; latencies are milliseconds. Every path also works without its trailing slash.",
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "the admin token (WEBHOOK_ADMIN_TOKEN)"},
                "session": {"type": "apiKey", "in": "cookie", "name": "tf_session", "description": "dashboard session from POST /api/auth/login; writes also need X-Requested-With: track-futura"},
                "webhook": {"type": "http", "scheme": "bearer", "description": "the webhook token (BRIGHTDATA_WEBHOOK_TOKEN)"},
            },
            "responses": {
                "Unauthorized": {"description": "no or wrong credential: {\"error\": \"unauthorized\", \"message\": ...}"},
            },
        },
        "paths": {
            format!("{base}/"): {"post": {
                "summary": "A BrightData data delivery (JSON array or NDJSON, optionally gzip)",
                "security": [{"webhook": []}],
                "responses": {
                    "200": {"description": "stored: {status, delivery_id, snapshot_id, records, input_errors, duplicates, malformed}, or {duplicate: true}"},
                    "202": {"description": "large or chunked body stored raw; records extracted in the background"},
                    "400": {"description": "bad payload"}, "401": {"description": "token, signature or timestamp refused"},
                    "403": {"description": "IP not allowed"}, "413": {"description": "too large"},
                    "415": {"description": "unsupported media type"}, "429": {"description": "rate limited, with Retry-After"},
                }
            }},
            "/api/brightdata/notify/": {"post": {
                "summary": "A snapshot status notification (JSON or form)",
                "security": [{"webhook": []}],
                "responses": {"200": {"description": "{status, snapshot_id, notified_status, snapshot_status}"}, "422": {"description": "unknown status"}}
            }},
            format!("{base}/metrics/"): {"get": op("Metrics over a window", vec![query("window", "5m, 1h (default), 24h, 7d")], "MetricsView")},
            format!("{base}/health/"): {"get": op("Health with every check's reason", vec![], "HealthView")},
            format!("{base}/analytics/"): {"get": op("Time series, top errors and clients, per platform and snapshot", vec![query("range", "1h, 24h (default), 7d, 30d")], "AnalyticsView")},
            format!("{base}/events/"): {"get": op("Events, newest first, cursor-paginated", event_filters(), "{events: [EventView], next_cursor}")},
            format!("{base}/events/{{id}}/"): {"get": op("One event with redacted headers, its delivery, stored body and the posts it stored", vec![path_id("event id")], "{event, headers, delivery, body, posts}")},
            format!("{base}/events/{{id}}/replay/"): {"post": op("Extract the event's stored delivery again (idempotent)", vec![path_id("event id")], "202 {status: queued, delivery_id}")},
            format!("{base}/export-events/"): {"get": {
                "summary": "Every matching event, streamed",
                "description": format!("CSV columns, in order: {}", EXPORT_COLUMNS.join(", ")),
                "security": [{"bearer": []}, {"session": []}],
                "parameters": export_params,
                "responses": {"200": {"description": "text/csv or a JSON array", "content": {"text/csv": {}, "application/json": {}}}, "401": {"$ref": "#/components/responses/Unauthorized"}}
            }},
            format!("{base}/alerts/"): {"get": op("Alerts", vec![query("status", "active (default), resolved, all"), query("severity", "warning or critical")], "{alerts: [AlertView]}")},
            format!("{base}/alerts/{{id}}/ack/"): {"post": op("Acknowledge an alert; body {\"by\": name} optional", vec![path_id("alert id")], "AlertView")},
            format!("{base}/snapshots/"): {"get": op("Snapshots, most recently active first", vec![query("status", "running, ready, delivered, failed, cancelled"), query("platform", "platform"), query("cursor", "next_cursor"), query("limit", "1 to 500")], "{snapshots, next_cursor}")},
            format!("{base}/snapshots/{{id}}/"): {"get": op("One snapshot with deliveries, notifications, input errors and posts", vec![path_id("snapshot id")], "snapshot detail; snapshot.completeness says whether it arrived whole: verdict complete, incomplete, unverified or pending, expected_records and expected_errors (BrightData's progress API), received_records, missing, note (the numbers, or why it is unverified); can_redeliver; snapshot.drift {verdict: normal, drift, learning, not_judged, accepted or pending, fields: drifted platform:field, checked_ms}; coverage: per platform {platform, records, verdict, note, baseline_snapshots, fields: [{field, coverage, baseline, kind, baseline_kind, key, change: emptied, vanished, type_changed or new, note}]}")},
            format!("{base}/config/"): {"get": op("The public URL in effect, the data and notify URLs and auth_header form for BrightData, and every setting (secrets masked)", vec![], "SetupView")},
            format!("{base}/test/"): {"post": op("Security self-test of the running configuration", vec![], "{passed, checks: [{name, expected, actual, passed}], warnings}")},
            "/api/auth/login": {"post": {"summary": "Log in with {\"token\": admin token}; sets the session cookie", "responses": {"200": {"description": "{authenticated, expires_ms}"}, "401": {"description": "wrong token"}, "429": {"description": "too many attempts"}}}},
            "/api/auth/logout": {"post": {"summary": "Clear the session cookie", "responses": {"200": {"description": "{authenticated: false}"}}}},
            "/api/auth/session": {"get": {"summary": "Whether this browser is logged in", "responses": {"200": {"description": "{authenticated, expires_ms}"}}}},
            "/api/health/": {"get": {"summary": "Liveness for platform health checks (no credential)", "responses": {"200": {"description": "healthy"}, "503": {"description": "unhealthy"}}}},
            "/metrics": {"get": {"summary": "Prometheus text exposition", "security": [{"bearer": []}], "responses": {"200": {"description": "text/plain; version=0.0.4"}}}},
        }
    });
    // Beside the others: one more entry in the literal above exceeds the macro's recursion limit.
    spec["paths"][format!("{base}/posts/")] = posts_list;
    spec["paths"][format!("{base}/export-posts/")] = posts_export;
    spec["paths"][format!("{base}/storage/")] = json!({"get": op(
        "How much room each kind of data takes (per table with its indexes, largest first; SQLite reads every page to say) and what arrived in the last 24 h",
        vec![],
        "{tables: [{name, holds, bytes}], total_bytes, events_24h, deliveries_24h, posts_24h, body_bytes_24h, body_retention_s, note}",
    )});
    let mut redeliver = op(
        "Ask BrightData to deliver a ready snapshot again, to this service (needs BRIGHTDATA_API_TOKEN); the files are deduplicated as they arrive",
        vec![path_id("snapshot id")],
        "{snapshot_id, delivery_id, asked_ms}",
    );
    redeliver["responses"]["409"] =
        json!({"description": "not ready yet, or no API key (code not_ready or no_api_key)"});
    redeliver["responses"]["502"] = json!({"description": "BrightData refused or failed (code upstream_failed), with its answer"});
    spec["paths"][format!("{base}/snapshots/{{id}}/redeliver/")] = json!({"post": redeliver});
    spec["paths"][format!("{base}/snapshots/coverage/")] = json!({"get": op(
        "Scraper drift at a glance: per platform, the key fields' coverage (share of records filled, 0 to 1) over its last 20 judged snapshots, oldest first",
        vec![],
        "[{platform, fields: [name], snapshots: [{snapshot_id, created_ms, verdict, coverage: [share per field]}]}]",
    )});
    let mut accept = op(
        "Take a drifted snapshot's fields as the platform's new normal: its scraper_drift alerts resolve and later snapshots are judged against a baseline starting from it",
        vec![path_id("snapshot id")],
        "DriftView {verdict: accepted, fields, checked_ms}",
    );
    accept["responses"]["409"] =
        json!({"description": "the snapshot has not drifted (code not_drifted)"});
    spec["paths"][format!("{base}/snapshots/{{id}}/fields/accept/")] = json!({"post": accept});
    spec
}

pub async fn document() -> Response {
    Json(spec()).into_response()
}
