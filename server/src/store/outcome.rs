//! The outcome of a request to an ingestion endpoint, as stored on its event and counted in the
//! rollups (the names are the API's vocabulary).

use serde::Serialize;

/// The outcome of one request, as stored on its event (the names are the API's vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    Duplicate,
    RejectedAuth,
    RejectedSignature,
    RejectedTimestamp,
    RejectedIp,
    RateLimited,
    TooLarge,
    BadPayload,
    Error,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Self::Accepted,
        Self::Duplicate,
        Self::RejectedAuth,
        Self::RejectedSignature,
        Self::RejectedTimestamp,
        Self::RejectedIp,
        Self::RateLimited,
        Self::TooLarge,
        Self::BadPayload,
        Self::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Duplicate => "duplicate",
            Self::RejectedAuth => "rejected_auth",
            Self::RejectedSignature => "rejected_signature",
            Self::RejectedTimestamp => "rejected_timestamp",
            Self::RejectedIp => "rejected_ip",
            Self::RateLimited => "rate_limited",
            Self::TooLarge => "too_large",
            Self::BadPayload => "bad_payload",
            Self::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }

    /// A refusal made before the caller proved it holds the webhook token (a 413 on the declared
    /// length and a 429 come before the token check): anyone can cause these, so they are sampled
    /// (`refusals`) and left out of the service's own error rate.
    pub fn is_before_authentication(self) -> bool {
        matches!(
            self,
            Self::RejectedAuth | Self::RejectedIp | Self::RateLimited | Self::TooLarge
        )
    }

    /// Whether the request was refused by a security check (logged to `webhook_security.log`).
    pub fn is_security_rejection(self) -> bool {
        matches!(
            self,
            Self::RejectedAuth
                | Self::RejectedSignature
                | Self::RejectedTimestamp
                | Self::RejectedIp
                | Self::RateLimited
                | Self::TooLarge
        )
    }
}
