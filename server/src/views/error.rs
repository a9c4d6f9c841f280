//! Why a question or an action of the product could not be answered, in the product's terms. Each
//! door says it in its own: the REST API as a status and JSON (`error::ApiError`), the dashboard as a
//! `DashboardError`, the CLI as an exit code.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ViewError {
    /// The question is malformed (a filter's value, a cursor). `code` is a machine code.
    Invalid { code: &'static str, message: String },
    /// What was asked for does not exist.
    NotFound(String),
    /// The action cannot be done in the current state of what it acts on.
    Conflict { code: &'static str, message: String },
    /// Our failure (the database, mostly). The cause is logged where it happens; the message says
    /// only what was being done.
    Internal(String),
    /// A service the action relies on (BrightData's API) refused or failed: what it answered.
    Upstream(String),
}

pub type ViewResult<T> = Result<T, ViewError>;

impl ViewError {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// Logs `error` with what was being done (`context`); the caller learns no internals.
    pub fn internal(context: &str, error: impl fmt::Display) -> Self {
        tracing::error!(%error, "{context}");
        Self::Internal(context.to_owned())
    }

    /// The text for whoever asked.
    pub fn message(&self) -> &str {
        match self {
            Self::Invalid { message, .. } | Self::Conflict { message, .. } => message,
            Self::NotFound(message) | Self::Upstream(message) => message,
            Self::Internal(_) => "the server could not complete the request; the error is logged",
        }
    }
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ViewError {}
