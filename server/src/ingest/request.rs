//! What an ingestion request says about itself in its headers: which snapshot and file it carries,
//! its replay key, its content type and encoding. Also the redacted copy of its headers kept on its
//! event.

use axum::http::HeaderMap;

use super::outcome::Rejection;
use crate::store::outcome::Outcome;
use axum::http::StatusCode;
use delivery::decode::Declared;

const SNAPSHOT_HEADERS: [&str; 3] = ["snapshot-id", "dca-collection-id", "x-snapshot-id"];
const DELIVERY_ID_HEADERS: [&str; 3] = ["webhook-id", "svix-id", "x-brightdata-id"];

/// Headers whose values are never stored or shown.
const SECRET_HEADERS: [&str; 9] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-brightdata-signature",
    "webhook-signature",
    "svix-signature",
    "x-hub-signature-256",
    "x-api-key",
];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryHeaders {
    pub snapshot_id: Option<String>,
    pub filename: Option<String>,
    /// Names one delivery across retries: `webhook-id`, `X-BrightData-ID`, or snapshot + file name.
    pub replay_key: Option<String>,
}

impl DeliveryHeaders {
    pub fn parse(headers: &HeaderMap, endpoint: &str) -> Result<Self, Rejection> {
        let snapshot_id = one_value(headers, &SNAPSHOT_HEADERS, "snapshot id")?
            .map(|id| validated(&id, "snapshot id", 128, is_id_char))
            .transpose()?;
        let filename = one_value(headers, &["dca-filename"], "Dca-Filename")?
            .map(|name| validated(&name, "Dca-Filename", 255, |c| !c.is_control()))
            .transpose()?;
        let delivery_id = one_value(headers, &DELIVERY_ID_HEADERS, "delivery id")?
            .map(|id| validated(&id, "delivery id", 255, |c| c.is_ascii_graphic()))
            .transpose()?;
        let replay_key = match (&delivery_id, &snapshot_id, &filename) {
            (Some(id), _, _) => Some(format!("{endpoint}:id:{id}")),
            (None, Some(snapshot), Some(file)) => {
                Some(format!("{endpoint}:file:{snapshot}/{file}"))
            }
            _ => None,
        };
        Ok(Self {
            snapshot_id,
            filename,
            replay_key,
        })
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The value of a header that may come under several names; all occurrences must agree.
fn one_value(headers: &HeaderMap, names: &[&str], what: &str) -> Result<Option<String>, Rejection> {
    let mut found: Option<String> = None;
    for name in names {
        for value in headers.get_all(*name) {
            let value = value
                .to_str()
                .map_err(|_| bad(format!("the {what} header is not readable text")))?
                .trim()
                .to_owned();
            match &found {
                Some(previous) if *previous != value => {
                    return Err(bad(format!(
                        "conflicting {what} headers: {previous:?} and {value:?}"
                    )));
                }
                _ => found = Some(value),
            }
        }
    }
    Ok(found)
}

fn validated(
    value: &str,
    what: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<String, Rejection> {
    if value.is_empty() || value.len() > max || !value.chars().all(allowed) {
        return Err(bad(format!(
            "the {what} header is empty, longer than {max} characters or has characters that are not allowed"
        )));
    }
    Ok(value.to_owned())
}

fn bad(message: String) -> Rejection {
    Rejection::bad_payload("invalid_header", message)
}

/// Which bodies an endpoint takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// Deliveries: JSON, NDJSON or CSV.
    Records,
    /// Notifications: JSON or a form.
    Notification,
}

/// Checks the declared media type and encoding; returns what they declare.
pub fn declared_body(headers: &HeaderMap, accepts: Accepts) -> Result<Declared, Rejection> {
    let mut declared = Declared::default();
    if headers.get_all("content-type").iter().count() > 1 {
        return Err(unsupported("more than one Content-Type header"));
    }
    if let Some(value) = headers.get("content-type") {
        let value = value
            .to_str()
            .map_err(|_| unsupported("the Content-Type header is not readable text"))?
            .to_ascii_lowercase();
        let mut parts = value.split(';');
        let media = parts.next().unwrap_or_default().trim();
        let accepted = matches!(
            media,
            "application/json"
                | "application/x-ndjson"
                | "application/ndjson"
                | "application/jsonl"
                | "application/x-jsonlines"
                | "application/json-lines"
                | "application/gzip"
                | "application/x-gzip"
                | "application/octet-stream"
                | "text/plain"
                | ""
        );
        let csv = matches!(media, "text/csv" | "application/csv");
        let accepted = match accepts {
            Accepts::Records => accepted || csv,
            Accepts::Notification => accepted || media == "application/x-www-form-urlencoded",
        };
        if !accepted {
            let formats = match accepts {
                Accepts::Records => "JSON, NDJSON or CSV",
                Accepts::Notification => "JSON or a form",
            };
            return Err(unsupported(&format!(
                "Content-Type {media} is not accepted: send {formats} (optionally gzip)"
            )));
        }
        declared.csv = csv;
        for parameter in parts {
            if let Some((key, charset)) = parameter.split_once('=') {
                let charset = charset.trim().trim_matches('"');
                if key.trim() == "charset" && !matches!(charset, "utf-8" | "utf8" | "us-ascii") {
                    return Err(unsupported(&format!(
                        "charset {charset} is not accepted: bodies must be UTF-8"
                    )));
                }
            }
        }
    }
    for value in headers.get_all("content-encoding") {
        for coding in value.to_str().unwrap_or("?").split(',') {
            match coding.trim().to_ascii_lowercase().as_str() {
                "gzip" | "x-gzip" => declared.gzip = true,
                "identity" | "" => {}
                other => {
                    return Err(unsupported(&format!(
                        "Content-Encoding {other} is not supported: use gzip or none"
                    )));
                }
            }
        }
    }
    Ok(declared)
}

/// A delivery file named `*.csv` or `*.csv.gz` (`Dca-Filename`) holds CSV whatever its media type:
/// gzip deliveries are sent as `application/gzip`.
pub fn is_csv_file_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name.ends_with(".csv") || name.ends_with(".csv.gz")
}

fn unsupported(message: &str) -> Rejection {
    Rejection::new(
        Outcome::BadPayload,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        message,
    )
}

/// The request's headers as a JSON object, names sorted, secrets replaced by `[redacted]`; a
/// repeated header is an array of its values.
///
/// Written straight into the text: building a `serde_json::Value` first was 5% of the request
/// threads' time under load.
pub fn redacted_headers(headers: &HeaderMap) -> String {
    let mut names: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
    names.sort_unstable();
    let mut out: Vec<u8> = Vec::with_capacity(64 * names.len() + 2);
    out.push(b'{');
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_json_string(&mut out, name);
        out.push(b':');
        let secret = SECRET_HEADERS.contains(&name);
        let values = headers.get_all(name);
        let many = values.iter().nth(1).is_some();
        if many {
            out.push(b'[');
        }
        for (j, value) in values.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            if secret {
                push_json_string(&mut out, "[redacted]");
            } else {
                push_json_string(&mut out, &String::from_utf8_lossy(value.as_bytes()));
            }
        }
        if many {
            out.push(b']');
        }
    }
    out.push(b'}');
    String::from_utf8(out).expect("JSON written from strings is UTF-8")
}

/// A JSON string literal, escaped by serde_json.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("writing to a Vec cannot fail");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn snapshot_file_and_replay_key() {
        let h = headers(&[
            ("snapshot-id", "s_abc"),
            ("dca-collection-id", "s_abc"),
            ("dca-filename", "s_abc.json.gz"),
        ]);
        let d = DeliveryHeaders::parse(&h, "webhook").unwrap();
        assert_eq!(d.snapshot_id.as_deref(), Some("s_abc"));
        assert_eq!(
            d.replay_key.as_deref(),
            Some("webhook:file:s_abc/s_abc.json.gz")
        );
        let h = headers(&[("webhook-id", "msg_1"), ("snapshot-id", "s_abc")]);
        let d = DeliveryHeaders::parse(&h, "webhook").unwrap();
        assert_eq!(d.replay_key.as_deref(), Some("webhook:id:msg_1"));
        let d = DeliveryHeaders::parse(&headers(&[("snapshot-id", "s_abc")]), "webhook").unwrap();
        assert_eq!(
            d.replay_key, None,
            "a snapshot without a file name is not one delivery"
        );
    }

    #[test]
    fn conflicting_or_bad_ids_are_400() {
        for h in [
            headers(&[("snapshot-id", "s_a"), ("x-snapshot-id", "s_b")]),
            headers(&[("snapshot-id", "s_a"), ("snapshot-id", "s_b")]),
            headers(&[("snapshot-id", "s a")]),
            headers(&[("snapshot-id", "")]),
            headers(&[("webhook-id", "a"), ("x-brightdata-id", "b")]),
        ] {
            let r = DeliveryHeaders::parse(&h, "webhook").unwrap_err();
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn media_types_and_encodings() {
        use Accepts::{Notification, Records};
        let plain = Declared::default();
        assert_eq!(declared_body(&headers(&[]), Records).unwrap(), plain);
        let ok = headers(&[
            ("content-type", "application/json; charset=utf-8"),
            ("content-encoding", "gzip"),
        ]);
        let gzip = Declared {
            gzip: true,
            csv: false,
        };
        assert_eq!(declared_body(&ok, Records).unwrap(), gzip);
        let csv = headers(&[("content-type", "text/csv; charset=utf-8")]);
        let declared = declared_body(&csv, Records).unwrap();
        assert!(declared.csv && !declared.gzip);
        for (bad, accepts) in [
            (headers(&[("content-type", "text/csv")]), Notification),
            (headers(&[("content-type", "application/xml")]), Records),
            (
                headers(&[("content-type", "multipart/form-data; boundary=x")]),
                Records,
            ),
            (
                headers(&[("content-type", "application/json; charset=latin-1")]),
                Records,
            ),
            (headers(&[("content-encoding", "br")]), Records),
            (
                headers(&[("content-type", "application/x-www-form-urlencoded")]),
                Records,
            ),
            (
                headers(&[
                    ("content-type", "application/json"),
                    ("content-type", "text/csv"),
                ]),
                Records,
            ),
        ] {
            let r = declared_body(&bad, accepts).unwrap_err();
            assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{bad:?}");
        }
        let form = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        assert!(declared_body(&form, Notification).is_ok());
    }

    #[test]
    fn csv_file_names() {
        for name in ["s_1.csv", "s_1.CSV.gz", "a.b.csv"] {
            assert!(is_csv_file_name(name), "{name}");
        }
        for name in ["s_1.json", "s_1.json.gz", "csv", "s_1.csv.zip"] {
            assert!(!is_csv_file_name(name), "{name}");
        }
    }

    #[test]
    fn secrets_never_reach_the_stored_headers() {
        let h = headers(&[
            ("authorization", "Bearer topsecret"),
            ("webhook-signature", "v1,abc"),
            ("user-agent", "BRD dca-ds-delivery-worker/1.0"),
        ]);
        let text = redacted_headers(&h);
        assert!(!text.contains("topsecret") && !text.contains("v1,abc"));
        assert!(text.contains("dca-ds-delivery-worker"));
    }

    #[test]
    fn stored_headers_are_json_sorted_with_repeats_as_arrays() {
        let h = headers(&[
            ("x-b", "two \"quoted\" \\ words"),
            ("authorization", "Bearer topsecret"),
            ("x-a", "1"),
            ("x-a", "2"),
            ("cookie", "a=1"),
            ("cookie", "b=2"),
        ]);
        let text = redacted_headers(&h);
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "authorization": "[redacted]",
                "cookie": ["[redacted]", "[redacted]"],
                "x-a": ["1", "2"],
                "x-b": "two \"quoted\" \\ words",
            })
        );
        assert!(text.starts_with(r#"{"authorization":"#), "sorted: {text}");
        assert_eq!(redacted_headers(&HeaderMap::new()), "{}");
    }
}
