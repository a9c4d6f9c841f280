//! `server trigger` and `server progress`: BrightData's dataset API (`brightdata_api`). A trigger sends the
//! URLs and token BrightData needs to deliver here, and records the snapshot as `triggered` so the
//! dashboard's tracker shows it before BrightData says anything.

use std::path::PathBuf;

use serde_json::Value;

use super::{EXIT_USAGE, Failure, failed, failure};
use crate::brightdata_api::{BrightDataApi, valid_snapshot_id};
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

/// The API client with every secret a command could hold blanked from its answers.
fn api(config: &Config) -> Result<BrightDataApi, Failure> {
    BrightDataApi::new(config, super::secrets(config))
        .map_err(|e| failure(EXIT_USAGE, e.to_string()))
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
    let api = api(config)?;
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
    let text = api.trigger(&query, &inputs).await.map_err(failed)?;
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
/// `error_message` when failed; `records` and `errors` once ready).
pub async fn progress(config: &Config, snapshot_id: &str) -> Result<Value, Failure> {
    if !valid_snapshot_id(snapshot_id) {
        return Err(failure(
            EXIT_USAGE,
            format!("{snapshot_id:?} is not a snapshot id"),
        ));
    }
    api(config)?.progress(snapshot_id).await.map_err(failed)
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
