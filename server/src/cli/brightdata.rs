//! `server trigger` and `server progress`: BrightData's dataset API (`BRIGHTDATA_API_URL`, default
//! `https://api.brightdata.com`) with the API key of `BRIGHTDATA_API_TOKEN`. A trigger sends the
//! URLs and token BrightData needs to deliver here, and records the snapshot as `triggered` so the
//! dashboard's tracker shows it before BrightData says anything.

use std::path::PathBuf;

use serde_json::Value;

use super::{EXIT_USAGE, Failure, failed, failure};
use crate::config::Config;
use crate::credentials::Credentials;
use crate::public_url::PublicUrl;
use delivery::platforms::DatasetPlatforms;

pub struct TriggerOptions {
    pub dataset_id: String,
    /// A JSON array of inputs, or NDJSON (one input object per line).
    pub input: Option<PathBuf>,
    /// Each becomes `{"url": ...}`.
    pub urls: Vec<String>,
    /// `json`, `ndjson`, `jsonl` or `csv`.
    pub format: String,
}

/// What was sent and what BrightData answered.
pub struct Triggered {
    pub snapshot_id: String,
    pub inputs: usize,
    /// Whether the snapshot row was created (false: BrightData's notify came first).
    pub recorded: bool,
}

/// The client for BrightData's API: pinned when `WEBHOOK_ENABLE_CERT_PINNING` is on.
fn api_client(config: &Config) -> Result<reqwest::Client, Failure> {
    let pins = config
        .security
        .cert_pinning
        .then_some(config.brightdata.pinned_spki_sha256.as_slice());
    crate::outbound::client(pins, config.brightdata.timeout).map_err(|e| failure(EXIT_USAGE, e))
}

fn api_key(config: &Config) -> Result<&str, Failure> {
    config
        .brightdata
        .api_token
        .as_ref()
        .map(|t| t.expose())
        .ok_or_else(|| failure(EXIT_USAGE, "BRIGHTDATA_API_TOKEN is not set: it is the API key of your BrightData account (Account settings -> API key)"))
}

fn endpoint(config: &Config, path: &str) -> String {
    format!(
        "{}/{}",
        config.brightdata.api_url.as_str().trim_end_matches('/'),
        path
    )
}

/// The inputs to send: the file's, else one `{"url"}` per `--url`.
pub fn inputs(options: &TriggerOptions) -> Result<Vec<Value>, Failure> {
    let inputs = match &options.input {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| failure(EXIT_USAGE, format!("reading {}: {e}", path.display())))?;
            parse_inputs(&text)
                .map_err(|e| failure(EXIT_USAGE, format!("{}: {e}", path.display())))?
        }
        None => options
            .urls
            .iter()
            .map(|url| serde_json::json!({ "url": url }))
            .collect(),
    };
    if inputs.is_empty() {
        return Err(failure(
            EXIT_USAGE,
            "no inputs: give --input FILE or --url URL",
        ));
    }
    Ok(inputs)
}

/// A JSON array of objects, or NDJSON: one object per non-empty line.
fn parse_inputs(text: &str) -> Result<Vec<Value>, String> {
    let trimmed = text.trim_start();
    let values: Vec<Value> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(|e| format!("not a JSON array of inputs ({e})"))?
    } else {
        trimmed
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str(line).map_err(|e| format!("line {}: not JSON ({e})", i + 1))
            })
            .collect::<Result<_, _>>()?
    };
    match values.iter().position(|v| !v.is_object()) {
        Some(i) => Err(format!("input {} is not a JSON object", i + 1)),
        None => Ok(values),
    }
}

pub async fn trigger(
    config: &Config,
    public: &PublicUrl,
    options: &TriggerOptions,
) -> Result<Triggered, Failure> {
    if !matches!(options.format.as_str(), "json" | "ndjson" | "jsonl" | "csv") {
        return Err(failure(
            EXIT_USAGE,
            "--format must be json, ndjson, jsonl or csv",
        ));
    }
    let inputs = inputs(options)?;
    let key = api_key(config)?;
    let credentials = Credentials::existing(&config.security, &config.storage.data_dir)
        .map_err(|e| failure(EXIT_USAGE, format!("reading the webhook token: {e}")))?;
    if !public.reachable() {
        eprintln!(
            "warning: {} is not reachable from BrightData ({}); the data will not arrive",
            public.url,
            public.describe()
        );
    }
    let auth_header = format!("Bearer {}", credentials.webhook_tokens[0].expose());
    let query = [
        ("dataset_id", options.dataset_id.as_str()),
        ("endpoint", &public.data_url()),
        ("auth_header", &auth_header),
        ("notify", &public.notify_url()),
        ("format", &options.format),
        ("uncompressed_webhook", "true"),
        ("include_errors", "true"),
    ];
    let url = endpoint(config, "datasets/v3/trigger");
    let request = api_client(config)?.post(&url).query(&query).json(&inputs);
    let text = call(config, request, key, &url).await?;
    let snapshot_id = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("snapshot_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|id| !id.is_empty() && id.len() <= 128)
        .ok_or_else(|| {
            failed(format!(
                "BrightData's answer has no snapshot_id: {}",
                text.trim()
            ))
        })?;

    let db = super::open_database(config).await?;
    let platforms = DatasetPlatforms::new(&config.ingest.dataset_platforms);
    let recorded = crate::store::ingestion::snapshot_triggered(
        &db,
        &snapshot_id,
        &options.dataset_id,
        platforms.platform(&options.dataset_id),
        chrono::Utc::now().timestamp_millis(),
    )
    .await
    .map_err(|e| failed(format!("recording snapshot {snapshot_id}: {e}")))?;
    let _ = db.close().await;
    Ok(Triggered {
        snapshot_id,
        inputs: inputs.len(),
        recorded,
    })
}

/// BrightData's progress of a snapshot: its answer (`status`: running, ready or failed, with
/// `error_message` when failed).
pub async fn progress(config: &Config, snapshot_id: &str) -> Result<Value, Failure> {
    let valid = !snapshot_id.is_empty()
        && snapshot_id.len() <= 128
        && snapshot_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid {
        return Err(failure(
            EXIT_USAGE,
            format!("{snapshot_id:?} is not a snapshot id"),
        ));
    }
    let key = api_key(config)?;
    let url = endpoint(config, &format!("datasets/v3/progress/{snapshot_id}"));
    let text = call(config, api_client(config)?.get(&url), key, &url).await?;
    serde_json::from_str(&text)
        .map_err(|_| failed(format!("BrightData's answer is not JSON: {}", text.trim())))
}

/// Sends a call with the API `key`; BrightData's answer text, or why there is none. `url` is the
/// endpoint without its query (the trigger's query carries the webhook token), and reqwest's error
/// is taken without its URL. Failures are redacted where every command's are (`main`); the answer
/// text, which a command may print as it came, is redacted here (an answer can echo what it was
/// sent).
async fn call(
    config: &Config,
    request: reqwest::RequestBuilder,
    key: &str,
    url: &str,
) -> Result<String, Failure> {
    let answer = request
        .bearer_auth(key)
        .send()
        .await
        .map_err(|e| failed(format!("{url}: {}", error_chain(&e.without_url()))))?;
    let status = answer.status();
    let text = super::redact(
        &answer.text().await.unwrap_or_default(),
        &super::secrets(config),
    );
    if status.is_success() {
        Ok(text)
    } else {
        Err(failed(format!(
            "BrightData answered {status}: {}",
            text.trim()
        )))
    }
}

/// reqwest's error with its causes (a TLS refusal says why only in its source).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_a_json_array_or_ndjson_of_objects() {
        assert_eq!(
            parse_inputs(
                r#" [{"url": "https://www.instagram.com/a"}, {"url": "b", "num_of_posts": 10}]"#
            )
            .unwrap()
            .len(),
            2
        );
        assert_eq!(
            parse_inputs("{\"url\": \"a\"}\n\n{\"url\": \"b\"}\n")
                .unwrap()
                .len(),
            2
        );
        assert!(
            parse_inputs("[1, 2]")
                .unwrap_err()
                .contains("input 1 is not a JSON object")
        );
        assert!(
            parse_inputs("{\"url\": \"a\"}\nnope")
                .unwrap_err()
                .contains("line 2")
        );
        assert!(parse_inputs("[").unwrap_err().contains("not a JSON array"));
    }
}
