//! How a request to an ingestion endpoint ended: the outcome recorded on its event, and the JSON
//! rejection answered to the caller.

use serde::Serialize;

use crate::store::StoreError;
use crate::store::outcome::Outcome;

/// The `Retry-After` of a 503 while the database cannot be reached.
const RETRY_AFTER_UNREACHABLE_S: u64 = 5;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A refused request: status, machine code and a message for humans. Its response carries the
/// outcome so the event recorder knows why.
#[derive(Debug, Clone)]
pub struct Rejection {
    pub outcome: Outcome,
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after_secs: Option<u64>,
}

/// A request refused by the token, signature or timestamp check: 401, with the check's outcome.
impl From<delivery::verify::Refused> for Rejection {
    fn from(refused: delivery::verify::Refused) -> Self {
        use delivery::verify::Check;
        let outcome = match refused.check {
            Check::Token => Outcome::RejectedAuth,
            Check::Signature => Outcome::RejectedSignature,
            Check::Timestamp => Outcome::RejectedTimestamp,
        };
        Self::new(
            outcome,
            StatusCode::UNAUTHORIZED,
            refused.code,
            refused.message,
        )
    }
}

impl Rejection {
    pub fn new(
        outcome: Outcome,
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            outcome,
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    pub fn bad_payload(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(Outcome::BadPayload, StatusCode::BAD_REQUEST, code, message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(
            Outcome::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            message,
        )
    }

    /// The body could not be read to its end: 408 when it stopped arriving (the connection is
    /// closed), 400 when the client broke it off or sent it malformed.
    pub fn unreadable(error: &(dyn std::error::Error + 'static)) -> Self {
        if crate::http_server::BodyIdleTimeout::caused(error) {
            Self::new(
                Outcome::BadPayload,
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!("the body stopped arriving: {error}"),
            )
        } else {
            Self::bad_payload(
                "body_unreadable",
                format!("the body could not be read completely: {error}"),
            )
        }
    }

    /// Deliveries and notifications are POSTed; anything else is refused once the token is known.
    pub fn unless_post(method: &axum::http::Method) -> Result<(), Self> {
        if method == axum::http::Method::POST {
            return Ok(());
        }
        Err(Self::new(
            Outcome::BadPayload,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("{method} is not accepted here: send deliveries and notifications with POST"),
        ))
    }

    /// Storing failed: 503 with a retry hint when the database cannot be reached (the sender
    /// retries and nothing is lost), 500 otherwise. Never a 2xx for what was not stored.
    pub fn storing(context: &str, error: impl Into<StoreError>) -> Self {
        match error.into() {
            StoreError::Unreachable(error) => {
                tracing::error!(%error, "{context}");
                let mut rejection = Self::new(
                    Outcome::Error,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "database_unavailable",
                    "the database cannot be reached: the delivery was not stored, please retry",
                );
                rejection.retry_after_secs = Some(RETRY_AFTER_UNREACHABLE_S);
                rejection
            }
            other => Self::internal(context, other),
        }
    }

    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::new(
            Outcome::Error,
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the delivery could not be stored; it was not acknowledged, please retry",
        )
    }
}

/// Attached to every ingestion response so the event recorder can classify it; handlers add detail.
#[derive(Debug, Clone, Default)]
pub struct EventDetail {
    pub outcome: Option<Outcome>,
    pub error: Option<String>,
    pub snapshot_id: Option<String>,
    pub platform: Option<String>,
    pub records: Option<i64>,
    pub delivery_id: Option<i64>,
    /// Body bytes actually read (the declared length is used when absent).
    pub bytes: Option<i64>,
}

impl EventDetail {
    /// An `error` event with this reason.
    pub fn failed(error: &str) -> Self {
        Self {
            outcome: Some(Outcome::Error),
            error: Some(error.to_owned()),
            ..Self::default()
        }
    }
}

#[derive(Serialize)]
struct RejectionBody<'a> {
    error: &'a str,
    message: &'a str,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(RejectionBody {
                error: self.code,
                message: &self.message,
            }),
        )
            .into_response();
        if self.status == StatusCode::REQUEST_TIMEOUT {
            // The rest of the body may still come; this connection cannot be reused.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(EventDetail {
            outcome: Some(self.outcome),
            error: Some(format!("{}: {}", self.code, self.message)),
            ..EventDetail::default()
        });
        response
    }
}

/// The answer of an ingestion handler, with what the handler learned attached for the event recorder.
/// A rejection brings its own outcome and error; the handler's detail (snapshot, bytes, ...) is kept.
pub fn answer(result: Result<Response, Rejection>, detail: EventDetail) -> Response {
    let mut response = match result {
        Ok(response) => response,
        Err(rejection) => rejection.into_response(),
    };
    let merged = match response.extensions_mut().remove::<EventDetail>() {
        Some(from_rejection) => EventDetail {
            outcome: from_rejection.outcome,
            error: from_rejection.error,
            ..detail
        },
        None => detail,
    };
    response.extensions_mut().insert(merged);
    response
}

#[cfg(test)]
mod tests {
    use delivery::verify::{Check, Refused};

    use super::*;

    #[test]
    fn a_refused_check_is_a_401_with_its_outcome() {
        for (check, outcome) in [
            (Check::Token, Outcome::RejectedAuth),
            (Check::Signature, Outcome::RejectedSignature),
            (Check::Timestamp, Outcome::RejectedTimestamp),
        ] {
            let rejection = Rejection::from(Refused {
                check,
                code: "some_code",
                message: "why".into(),
            });
            assert_eq!(rejection.status, StatusCode::UNAUTHORIZED);
            assert_eq!(rejection.outcome, outcome);
            assert_eq!(
                (rejection.code, rejection.message.as_str()),
                ("some_code", "why")
            );
        }
    }
}
