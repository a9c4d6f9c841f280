//! The JSON error answer shared by every API route: `{"error": <machine code>, "message": <text>}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ErrorBody {
    pub error: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: ErrorBody {
                error,
                message: message.into(),
            },
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// For failures that are our fault: the detail goes to the log, the caller gets no internals.
    pub fn internal(context: &str, error: impl std::fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server could not complete the request; the error is logged",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

/// A product question's refusal as the REST API says it.
impl From<crate::views::ViewError> for ApiError {
    fn from(error: crate::views::ViewError) -> Self {
        use crate::views::ViewError;
        match error {
            ViewError::Invalid { code, message } => {
                Self::new(StatusCode::BAD_REQUEST, code, message)
            }
            ViewError::NotFound(message) => Self::not_found(message),
            ViewError::Conflict { code, message } => Self::new(StatusCode::CONFLICT, code, message),
            ViewError::Upstream(message) => {
                Self::new(StatusCode::BAD_GATEWAY, "upstream_failed", message)
            }
            // Logged where it happened (`ViewError::internal`).
            ViewError::Internal(_) => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                error.message().to_owned(),
            ),
        }
    }
}
