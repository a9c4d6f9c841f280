//! Credentials, signatures and timestamps of an ingestion request.
//!
//! Checked in this order: the token (headers only), then any signatures over the raw body bytes as
//! received (fed chunk by chunk while the body streams in, before anything is parsed), then the
//! timestamp. A request that carries no signature has its timestamp checked before the body is read.
//! Every failure is a [`Refused`] (the server answers it with 401): a malformed header is never a 500.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Which check refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Token,
    Signature,
    Timestamp,
}

/// A refused request: the check that failed, a machine code and a message for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub check: Check,
    pub code: &'static str,
    pub message: String,
}

/// The headers a timestamp may come in; each one present must be fresh.
const TIMESTAMP_HEADERS: [&str; 4] = [
    "x-brightdata-timestamp",
    "x-timestamp",
    "webhook-timestamp",
    "svix-timestamp",
];

#[derive(Debug, Clone)]
pub struct Verifier {
    tokens: Vec<Secret>,
    signing_secrets: Vec<Secret>,
    require_signature: bool,
    max_timestamp_age: Duration,
}

/// Signature and timestamp checks that need the body: feed it with [`BodyChecks::update`], then
/// call [`BodyChecks::finish`].
pub struct BodyChecks {
    signatures: Vec<PendingSignature>,
    timestamps: Vec<i64>,
    max_timestamp_age: Duration,
    /// When the headers arrived (Unix seconds): freshness is judged against this, not against the
    /// end of the body, so an upload slower than `WEBHOOK_MAX_TIMESTAMP_AGE` is not refused for
    /// its own length (and every retry with it).
    headers_at: i64,
}

enum PendingSignature {
    /// `X-BrightData-Signature: sha256=<hex>`: one MAC per configured secret, compared to `expected`.
    BodyHex {
        macs: Vec<HmacSha256>,
        expected: [u8; 32],
    },
    /// Standard Webhooks / Svix: MACs over `{id}.{timestamp}.{body}`; any listed `v1` may match.
    StandardWebhooks {
        macs: Vec<HmacSha256>,
        candidates: Vec<[u8; 32]>,
    },
}

impl Verifier {
    pub fn new(
        tokens: Vec<Secret>,
        signing_secrets: Vec<Secret>,
        require_signature: bool,
        max_timestamp_age: Duration,
    ) -> Self {
        Self {
            tokens,
            signing_secrets,
            require_signature,
            max_timestamp_age,
        }
    }

    /// Everything that can be decided from the headers alone.
    pub fn check_headers(&self, headers: &HeaderMap, now: i64) -> Result<BodyChecks, Refused> {
        self.check_token(headers)?;
        let signatures = self.parse_signatures(headers)?;
        let timestamps = parse_timestamps(headers)?;
        let checks = BodyChecks {
            signatures,
            timestamps,
            max_timestamp_age: self.max_timestamp_age,
            headers_at: now,
        };
        if checks.signatures.is_empty() {
            checks.check_timestamps()?;
        }
        Ok(checks)
    }

    fn check_token(&self, headers: &HeaderMap) -> Result<(), Refused> {
        let mut values = headers.get_all("authorization").iter();
        let Some(value) = values.next() else {
            return Err(auth(
                "missing_token",
                "no Authorization header: send `Authorization: Bearer <token>`",
            ));
        };
        if values.next().is_some() {
            return Err(auth("invalid_token", "more than one Authorization header"));
        }
        let value = value.as_bytes();
        let token = match value.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => value.trim_ascii(),
        };
        // Compare against every configured token, without stopping at the first match.
        let matched = self
            .tokens
            .iter()
            .fold(false, |found, secret| secret.matches(token) | found);
        if matched {
            Ok(())
        } else {
            Err(auth("invalid_token", "the token is not valid"))
        }
    }

    fn parse_signatures(&self, headers: &HeaderMap) -> Result<Vec<PendingSignature>, Refused> {
        let mut pending = Vec::new();

        if let Some(value) = single_header(headers, &["x-brightdata-signature"])? {
            let expected = value
                .strip_prefix("sha256=")
                .and_then(|hex_text| decode_hex_32(hex_text.trim()))
                .ok_or_else(|| {
                    signature(
                        "malformed_signature",
                        "X-BrightData-Signature must be sha256=<64 hex digits>",
                    )
                })?;
            pending.push(PendingSignature::BodyHex {
                macs: self.macs(|secret| Some(secret.expose().as_bytes().to_vec()), &[]),
                expected,
            });
        }

        if let Some(value) = single_header(headers, &["webhook-signature", "svix-signature"])? {
            let id = single_header(headers, &["webhook-id", "svix-id"])?;
            let timestamp = single_header(headers, &["webhook-timestamp", "svix-timestamp"])?;
            let (Some(id), Some(timestamp)) = (id, timestamp) else {
                return Err(signature(
                    "malformed_signature",
                    "webhook-signature needs webhook-id and webhook-timestamp headers",
                ));
            };
            if timestamp.parse::<i64>().is_err() {
                return Err(signature(
                    "malformed_signature",
                    "webhook-timestamp must be whole Unix seconds",
                ));
            }
            let mut listed = 0;
            let mut candidates = Vec::new();
            for entry in value.split_ascii_whitespace() {
                let Some((version, mac)) = entry.split_once(',') else {
                    continue;
                };
                if version != "v1" {
                    continue;
                }
                listed += 1;
                // A bare `v1,` or a truncated MAC decodes to fewer than 32 bytes: it can never match.
                if let Some(mac) = BASE64
                    .decode(mac)
                    .ok()
                    .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                {
                    candidates.push(mac);
                }
            }
            if listed == 0 {
                return Err(signature(
                    "malformed_signature",
                    "webhook-signature lists no v1,<base64> signature",
                ));
            }
            let prefix = format!("{id}.{timestamp}.");
            pending.push(PendingSignature::StandardWebhooks {
                macs: self.macs(standard_webhooks_key, prefix.as_bytes()),
                candidates,
            });
        }

        if pending.is_empty() && self.require_signature {
            return Err(signature(
                "signature_required",
                "a signature is required (X-BrightData-Signature or webhook-signature)",
            ));
        }
        if !pending.is_empty() && self.signing_secrets.is_empty() {
            return Err(signature(
                "signature_unverifiable",
                "the request is signed but WEBHOOK_SIGNING_SECRET is not configured",
            ));
        }
        Ok(pending)
    }

    /// One MAC per configured secret whose key can be derived, each already fed `prefix`.
    fn macs(&self, key: impl Fn(&Secret) -> Option<Vec<u8>>, prefix: &[u8]) -> Vec<HmacSha256> {
        self.signing_secrets
            .iter()
            .filter_map(key)
            .filter_map(|key| HmacSha256::new_from_slice(&key).ok())
            .map(|mut mac| {
                mac.update(prefix);
                mac
            })
            .collect()
    }
}

impl BodyChecks {
    pub fn update(&mut self, chunk: &[u8]) {
        for pending in &mut self.signatures {
            let macs = match pending {
                PendingSignature::BodyHex { macs, .. } => macs,
                PendingSignature::StandardWebhooks { macs, .. } => macs,
            };
            for mac in macs {
                mac.update(chunk);
            }
        }
    }

    pub fn is_signed(&self) -> bool {
        !self.signatures.is_empty()
    }

    /// Call once the whole body has been fed: every signature present must match, then the timestamp
    /// must have been fresh when the headers arrived.
    pub fn finish(self) -> Result<(), Refused> {
        for pending in &self.signatures {
            let valid = match pending {
                PendingSignature::BodyHex { macs, expected } => macs
                    .iter()
                    .any(|mac| bool::from(mac.clone().finalize().into_bytes().ct_eq(expected))),
                PendingSignature::StandardWebhooks { macs, candidates } => macs.iter().any(|mac| {
                    let computed = mac.clone().finalize().into_bytes();
                    candidates
                        .iter()
                        .any(|candidate| bool::from(computed.ct_eq(candidate)))
                }),
            };
            if !valid {
                return Err(signature(
                    "invalid_signature",
                    "the signature does not match the body",
                ));
            }
        }
        self.check_timestamps()
    }

    fn check_timestamps(&self) -> Result<(), Refused> {
        let now = self.headers_at;
        // In i128: `now - timestamp` of a hostile i64 (say `now - 2^63`) overflows i64, and a
        // wrapped difference could pass the check.
        let tolerance = i128::from(self.max_timestamp_age.as_secs());
        for &timestamp in &self.timestamps {
            let skew = i128::from(now) - i128::from(timestamp);
            if skew > tolerance {
                return Err(stale(format!(
                    "the timestamp is {skew} s old; at most {tolerance} s is accepted"
                )));
            }
            if -skew > tolerance {
                return Err(stale(format!(
                    "the timestamp is {} s in the future; at most {tolerance} s is accepted",
                    -skew
                )));
            }
        }
        Ok(())
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The value of the one header among `names` (alternative spellings) that is present. The header
/// given twice, or under two spellings, is ambiguous and rejected.
fn single_header<'a>(headers: &'a HeaderMap, names: &[&str]) -> Result<Option<&'a str>, Refused> {
    let mut values = names.iter().flat_map(|name| headers.get_all(*name).iter());
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(signature(
            "malformed_signature",
            format!("{} is given more than once", names[0]),
        ));
    }
    first.to_str().map(Some).map_err(|_| {
        signature(
            "malformed_signature",
            format!("{} is not readable text", names[0]),
        )
    })
}

fn parse_timestamps(headers: &HeaderMap) -> Result<Vec<i64>, Refused> {
    let mut timestamps = Vec::new();
    for name in TIMESTAMP_HEADERS {
        let mut values = headers.get_all(name).iter();
        let Some(value) = values.next() else { continue };
        if values.next().is_some() {
            return Err(stale(format!("{name} is repeated")));
        }
        let parsed = value
            .to_str()
            .ok()
            .and_then(parse_timestamp)
            .ok_or_else(|| {
                stale(format!(
                    "{name} must be Unix seconds or an ISO-8601 time with a zone"
                ))
            })?;
        timestamps.push(parsed);
    }
    Ok(timestamps)
}

/// Unix seconds (`1700000000`) or ISO-8601 with a zone (`2026-11-29T12:00:00Z`).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return Some(seconds);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp())
}

/// Standard Webhooks secrets are `whsec_` + base64 of the key.
fn standard_webhooks_key(secret: &Secret) -> Option<Vec<u8>> {
    let text = secret.expose();
    BASE64
        .decode(text.strip_prefix("whsec_").unwrap_or(text))
        .ok()
}

fn decode_hex_32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn auth(code: &'static str, message: &str) -> Refused {
    refused(Check::Token, code, message)
}

fn signature(code: &'static str, message: impl Into<String>) -> Refused {
    refused(Check::Signature, code, message)
}

fn stale(message: String) -> Refused {
    refused(Check::Timestamp, "invalid_timestamp", message)
}

fn refused(check: Check, code: &'static str, message: impl Into<String>) -> Refused {
    Refused {
        check,
        code,
        message: message.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn verifier(secrets: &[&str], require: bool) -> Verifier {
        Verifier::new(
            vec![Secret::new("tok-1"), Secret::new("tok-2")],
            secrets.iter().map(|s| Secret::new(*s)).collect(),
            require,
            Duration::from_secs(300),
        )
    }

    fn headers(lines: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn run(v: &Verifier, h: &HeaderMap, body: &[u8], now: i64) -> Result<(), Refused> {
        let mut checks = v.check_headers(h, now)?;
        // Feed in uneven pieces, as a network would.
        for piece in body.chunks(3) {
            checks.update(piece);
        }
        checks.finish()
    }

    fn code(result: Result<(), Refused>) -> &'static str {
        result.expect_err("should be rejected").code
    }

    #[test]
    fn bearer_or_bare_token_any_configured() {
        let v = verifier(&[], false);
        for value in ["Bearer tok-1", "bearer tok-2", "tok-1", "BEARER  tok-2 "] {
            assert!(
                run(&v, &headers(&[("authorization", value)]), b"", NOW).is_ok(),
                "{value}"
            );
        }
    }

    #[test]
    fn missing_wrong_and_duplicated_tokens_are_401() {
        let v = verifier(&[], false);
        assert_eq!(code(run(&v, &headers(&[]), b"", NOW)), "missing_token");
        for value in [
            "Bearer tok-3",
            "Bearer tok-1x",
            "Bearer tok-",
            "Basic dG9rLTE=",
            "",
        ] {
            let r = run(&v, &headers(&[("authorization", value)]), b"", NOW);
            assert_eq!(code(r), "invalid_token", "{value:?}");
        }
        let twice = headers(&[
            ("authorization", "Bearer tok-1"),
            ("authorization", "Bearer tok-1"),
        ]);
        assert_eq!(code(run(&v, &twice, b"", NOW)), "invalid_token");
        let rejection = run(&v, &headers(&[]), b"", NOW).unwrap_err();
        assert_eq!(rejection.check, Check::Token);
    }

    #[test]
    fn github_hex_vector() {
        let v = verifier(&["It's a Secret to Everybody"], false);
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let h = headers(&[("authorization", "tok-1"), ("x-brightdata-signature", good)]);
        assert!(run(&v, &h, b"Hello, World!", NOW).is_ok());
        assert_eq!(
            code(run(&v, &h, b"Hello, World?", NOW)),
            "invalid_signature"
        );
        let upper = good.to_uppercase().replace("SHA256=", "sha256=");
        let h = headers(&[
            ("authorization", "tok-1"),
            ("x-brightdata-signature", &upper),
        ]);
        assert!(
            run(&v, &h, b"Hello, World!", NOW).is_ok(),
            "hex is case-insensitive"
        );
    }

    #[test]
    fn malformed_hex_signatures_are_401() {
        let v = verifier(&["k"], false);
        for value in [
            "sha256=",
            "sha256=zz",
            "sha1=757107ea",
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e",
        ] {
            let h = headers(&[
                ("authorization", "tok-1"),
                ("x-brightdata-signature", value),
            ]);
            assert_eq!(
                code(run(&v, &h, b"x", NOW)),
                "malformed_signature",
                "{value}"
            );
        }
    }

    fn standard(secret: &str, id: &str, ts: i64, sig: &str) -> (Verifier, HeaderMap) {
        let v = Verifier::new(
            vec![Secret::new("tok-1")],
            vec![Secret::new(secret)],
            false,
            Duration::from_secs(300),
        );
        let ts = ts.to_string();
        let h = headers(&[
            ("authorization", "Bearer tok-1"),
            ("webhook-id", id),
            ("webhook-timestamp", &ts),
            ("webhook-signature", sig),
        ]);
        (v, h)
    }

    #[test]
    fn standard_webhooks_vectors() {
        let (v, h) = standard(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        );
        assert!(run(&v, &h, br#"{"test": 2432232314}"#, 1614265330).is_ok());
        assert_eq!(
            code(run(&v, &h, br#"{"test": 2432232315}"#, 1614265330)),
            "invalid_signature"
        );

        let (v, h) = standard(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        );
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert!(run(&v, &h, body, 1649367553).is_ok());
        // The same signature is stale ten minutes later: the timestamp is signed and checked.
        assert_eq!(
            code(run(&v, &h, body, 1649367553 + 600)),
            "invalid_timestamp"
        );
    }

    #[test]
    fn truncated_bare_and_multiple_signatures() {
        let body = br#"{"test": 2432232314}"#;
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1614265330;
        for bad in [
            "v1,",
            "v1,g0hM9SsE+OTPJTGt",
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
            "v1,!!!notbase64",
        ] {
            let (v, h) = standard(secret, id, ts, bad);
            assert_eq!(code(run(&v, &h, body, ts)), "invalid_signature", "{bad}");
        }
        for malformed in ["", "v2,abc", "garbage", "v1"] {
            let (v, h) = standard(secret, id, ts, malformed);
            assert_eq!(
                code(run(&v, &h, body, ts)),
                "malformed_signature",
                "{malformed:?}"
            );
        }
        let several = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,xyz v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let (v, h) = standard(secret, id, ts, several);
        assert!(run(&v, &h, body, ts).is_ok());
    }

    #[test]
    fn svix_header_names_work_too() {
        let v = Verifier::new(
            vec![Secret::new("tok-1")],
            vec![Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")],
            false,
            Duration::from_secs(300),
        );
        let h = headers(&[
            ("authorization", "tok-1"),
            ("svix-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
            ("svix-timestamp", "1614265330"),
            (
                "svix-signature",
                "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            ),
        ]);
        assert!(run(&v, &h, br#"{"test": 2432232314}"#, 1614265330).is_ok());
    }

    #[test]
    fn standard_webhooks_need_their_id_and_timestamp() {
        let v = verifier(&["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], false);
        let h = headers(&[("authorization", "tok-1"), ("webhook-signature", "v1,abc")]);
        assert_eq!(code(run(&v, &h, b"", NOW)), "malformed_signature");
        let h = headers(&[
            ("authorization", "tok-1"),
            ("webhook-id", "m"),
            ("webhook-timestamp", "2026-01-01T00:00:00Z"),
            ("webhook-signature", "v1,abc"),
        ]);
        assert_eq!(code(run(&v, &h, b"", NOW)), "malformed_signature");
    }

    #[test]
    fn require_signature_and_unverifiable_signatures() {
        let required = verifier(&["k"], true);
        let h = headers(&[("authorization", "tok-1")]);
        assert_eq!(code(run(&required, &h, b"{}", NOW)), "signature_required");
        let no_secret = verifier(&[], false);
        let h = headers(&[
            ("authorization", "tok-1"),
            (
                "x-brightdata-signature",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
        ]);
        assert_eq!(
            code(run(&no_secret, &h, b"x", NOW)),
            "signature_unverifiable"
        );
    }

    #[test]
    fn rotated_signing_secrets() {
        let v = verifier(&["old-secret", "It's a Secret to Everybody"], false);
        let h = headers(&[
            ("authorization", "tok-1"),
            (
                "x-brightdata-signature",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
        ]);
        assert!(run(&v, &h, b"Hello, World!", NOW).is_ok());
    }

    #[test]
    fn timestamps_in_both_directions_and_both_forms() {
        let v = verifier(&[], false);
        let check = |name: &'static str, value: String| {
            run(
                &v,
                &headers(&[("authorization", "tok-1"), (name, &value)]),
                b"",
                NOW,
            )
        };
        assert!(check("x-brightdata-timestamp", (NOW - 299).to_string()).is_ok());
        assert!(check("x-timestamp", (NOW + 299).to_string()).is_ok());
        assert_eq!(
            code(check("x-timestamp", (NOW - 301).to_string())),
            "invalid_timestamp"
        );
        assert_eq!(
            code(check("x-timestamp", (NOW + 301).to_string())),
            "invalid_timestamp"
        );
        let iso = chrono::DateTime::from_timestamp(NOW - 10, 0)
            .unwrap()
            .to_rfc3339();
        assert!(check("x-brightdata-timestamp", iso).is_ok());
        let old_iso = chrono::DateTime::from_timestamp(NOW - 3600, 0)
            .unwrap()
            .to_rfc3339();
        assert_eq!(
            code(check("x-brightdata-timestamp", old_iso)),
            "invalid_timestamp"
        );
        for junk in ["yesterday", "2026-11-29 12:00:00", "", "1.5e9"] {
            assert_eq!(
                code(check("x-timestamp", junk.to_owned())),
                "invalid_timestamp",
                "{junk}"
            );
        }
        let twice = headers(&[
            ("authorization", "tok-1"),
            ("x-timestamp", &NOW.to_string()),
            ("x-timestamp", &NOW.to_string()),
        ]);
        assert_eq!(code(run(&v, &twice, b"", NOW)), "invalid_timestamp");
    }

    #[test]
    fn extreme_timestamps_are_refused_never_wrapped_into_range() {
        let v = verifier(&[], false);
        for extreme in [
            i64::MIN + NOW, // now - 2^63: the difference is 2^63, one past i64::MAX
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            i64::MAX - 1,
            -1,
        ] {
            let headers = headers(&[
                ("authorization", "tok-1"),
                ("x-timestamp", &extreme.to_string()),
            ]);
            assert_eq!(
                code(run(&v, &headers, b"", NOW)),
                "invalid_timestamp",
                "{extreme}"
            );
        }
    }

    #[test]
    fn a_signature_is_checked_before_the_timestamp() {
        let v = verifier(&["It's a Secret to Everybody"], false);
        let h = headers(&[
            ("authorization", "tok-1"),
            ("x-timestamp", &(NOW - 10_000).to_string()),
            (
                "x-brightdata-signature",
                "sha256=0000000000000000000000000000000000000000000000000000000000000000",
            ),
        ]);
        assert_eq!(
            code(run(&v, &h, b"Hello, World!", NOW)),
            "invalid_signature"
        );
    }
}
