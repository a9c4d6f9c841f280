//! BrightData's dataset API (`BRIGHTDATA_API_URL`, default `https://api.brightdata.com`), called
//! with the API key of `BRIGHTDATA_API_TOKEN`: trigger a collection, read a snapshot's progress
//! (its status and, once ready, how many records and errors it produced), ask for a snapshot to be
//! delivered again. Used by the CLI (`server trigger`, `server progress`) and by the service
//! (completeness checks, the redelivery action).

use serde_json::Value;
use url::Url;

use crate::config::Config;
use crate::credentials::redact;
use delivery::secret::Secret;

/// A client for the API; none without an API key.
#[derive(Clone)]
pub struct BrightDataApi {
    client: reqwest::Client,
    base: Url,
    key: Secret,
    /// What an answer or an error must never show (the key, the webhook tokens...).
    secrets: Vec<String>,
}

/// Why there is no client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// `BRIGHTDATA_API_TOKEN` is not set.
    NoKey,
    /// The HTTP client could not be built (a TLS setting).
    Client(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoKey => f.write_str("BRIGHTDATA_API_TOKEN is not set: it is the API key of your BrightData account (Account settings -> API key)"),
            Self::Client(e) => write!(f, "the client for BrightData's API: {e}"),
        }
    }
}

/// A snapshot's progress as BrightData reports it. Only `status` is documented for every answer;
/// `records` and `errors` come with a finished snapshot (absent: the API does not say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// `running`, `ready`, `failed`... as sent.
    pub status: String,
    pub records: Option<i64>,
    pub errors: Option<i64>,
    pub error_message: Option<String>,
}

impl Progress {
    /// Reads BrightData's answer; counts that are not non-negative integers are taken as absent.
    pub fn read(answer: &Value) -> Self {
        let count = |name: &str| answer.get(name).and_then(Value::as_i64).filter(|n| *n >= 0);
        Self {
            status: answer
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            records: count("records"),
            errors: count("errors"),
            error_message: answer
                .get("error_message")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// Whether `id` can be put in an API path as it is.
pub fn valid_snapshot_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl BrightDataApi {
    /// The client `config` describes, pinned when `WEBHOOK_ENABLE_CERT_PINNING` is on. `secrets`
    /// are blanked from every answer and error (the key always is).
    pub fn new(config: &Config, mut secrets: Vec<String>) -> Result<Self, Unavailable> {
        let key = config
            .brightdata
            .api_token
            .clone()
            .ok_or(Unavailable::NoKey)?;
        let pins = config
            .security
            .cert_pinning
            .then_some(config.brightdata.pinned_spki_sha256.as_slice());
        let client = crate::outbound::client(pins, config.brightdata.timeout)
            .map_err(Unavailable::Client)?;
        secrets.push(key.expose().to_owned());
        Ok(Self {
            client,
            base: config.brightdata.api_url.clone(),
            key,
            secrets,
        })
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{}", self.base.as_str().trim_end_matches('/'), path)
    }

    /// `POST datasets/v3/trigger` with `query` and the `inputs`: BrightData's answer text.
    pub async fn trigger(
        &self,
        query: &[(&str, &str)],
        inputs: &[Value],
    ) -> Result<String, String> {
        let url = self.endpoint("datasets/v3/trigger");
        self.call(self.client.post(&url).query(query).json(inputs), &url)
            .await
    }

    /// `GET datasets/v3/progress/{id}`: the answer as JSON.
    pub async fn progress(&self, snapshot_id: &str) -> Result<Value, String> {
        if !valid_snapshot_id(snapshot_id) {
            return Err(format!("{snapshot_id:?} is not a snapshot id"));
        }
        let url = self.endpoint(&format!("datasets/v3/progress/{snapshot_id}"));
        let text = self.call(self.client.get(&url), &url).await?;
        serde_json::from_str(&text)
            .map_err(|_| format!("BrightData's answer is not JSON: {}", text.trim()))
    }

    /// `POST datasets/v3/deliver/{id}`: deliver the snapshot again to `endpoint` (gzip, with the
    /// webhook's `Authorization` value), and tell `notify` when done. The answer as JSON (its
    /// `delivery_id`), or `{}` when it is not JSON.
    pub async fn deliver(
        &self,
        snapshot_id: &str,
        endpoint: &str,
        auth_header: &str,
        notify: &str,
    ) -> Result<Value, String> {
        if !valid_snapshot_id(snapshot_id) {
            return Err(format!("{snapshot_id:?} is not a snapshot id"));
        }
        let url = self.endpoint(&format!("datasets/v3/deliver/{snapshot_id}"));
        // The webhook delivery's settings as the trigger names them; `auth_header` is the one
        // credential BrightData sends back.
        let body = serde_json::json!({
            "deliver": {
                "type": "webhook",
                "endpoint": endpoint,
                "auth_header": auth_header,
                "filename": {"template": snapshot_id, "extension": "json"},
            },
            "compress": true,
        });
        let request = self
            .client
            .post(&url)
            .query(&[("notify", notify)])
            .json(&body);
        let text = self.call(request, &url).await?;
        Ok(serde_json::from_str(&text).unwrap_or_else(|_| Value::Object(Default::default())))
    }

    /// Sends a call with the API key; BrightData's answer text, or why there is none. `url` is the
    /// endpoint without its query (a query can carry the webhook token), and reqwest's error is
    /// taken without its URL. The answer is redacted: it can echo what it was sent.
    async fn call(&self, request: reqwest::RequestBuilder, url: &str) -> Result<String, String> {
        let answer = request
            .bearer_auth(self.key.expose())
            .send()
            .await
            .map_err(|e| {
                redact(
                    &format!("{url}: {}", error_chain(&e.without_url())),
                    &self.secrets,
                )
            })?;
        let status = answer.status();
        let text = redact(&answer.text().await.unwrap_or_default(), &self.secrets);
        if status.is_success() {
            Ok(text)
        } else {
            Err(format!("BrightData answered {status}: {}", text.trim()))
        }
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
    fn progress_counts_are_read_when_they_are_counts() {
        let read = Progress::read(&serde_json::json!({
            "snapshot_id": "s_1", "status": "ready", "records": 120, "errors": 3
        }));
        assert_eq!(read.status, "ready");
        assert_eq!((read.records, read.errors), (Some(120), Some(3)));
        let odd = Progress::read(&serde_json::json!({
            "status": "ready", "records": "120", "errors": -1
        }));
        assert_eq!((odd.records, odd.errors), (None, None));
        let failed = Progress::read(&serde_json::json!({
            "status": "failed", "error_message": "no inputs"
        }));
        assert_eq!(failed.error_message.as_deref(), Some("no inputs"));
        assert_eq!(Progress::read(&Value::Null), Progress::default());
    }

    #[test]
    fn snapshot_ids_are_checked_before_they_go_in_a_path() {
        assert!(valid_snapshot_id("s_m4x7enmven8djfqak"));
        for bad in ["", "../etc/passwd", "s 1", "s/1", &"s".repeat(129)] {
            assert!(!valid_snapshot_id(bad), "{bad}");
        }
    }
}
