//! Why a server function did not answer, as the page reads it: a kind the page acts on (the login
//! form for `Unauthorized`) and a message for people.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub struct DashboardError {
    pub kind: ErrorKind,
    /// Empty for the kinds that need no detail.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, miniserde::Deserialize)]
pub enum ErrorKind {
    /// No valid admin session or token: the dashboard shows the login form.
    Unauthorized,
    /// A write carried the session cookie without the proof that it came from this page.
    Forbidden,
    /// The admin token given at login is wrong.
    InvalidToken,
    /// Too many login attempts from this address.
    RateLimited,
    /// A parameter the server does not accept.
    Invalid,
    /// No such event, snapshot or alert (any more).
    NotFound,
    /// The thing cannot do that now (e.g. a replay of a delivery whose body was not kept).
    Conflict,
    /// The server failed; the details are in its log.
    Internal,
    /// A service the server calls for this (BrightData's API) refused or failed; the message
    /// says what it answered.
    Upstream,
    /// The call did not reach the server, or its answer could not be read.
    Transport,
}

impl DashboardError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized, "")
    }

    pub fn is_unauthorized(&self) -> bool {
        self.kind == ErrorKind::Unauthorized
    }
}

impl fmt::Display for DashboardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = &self.message;
        match self.kind {
            ErrorKind::Unauthorized => write!(f, "log in with the admin token"),
            ErrorKind::Forbidden => write!(f, "refused: {why}"),
            ErrorKind::InvalidToken => write!(f, "that is not the admin token"),
            ErrorKind::RateLimited => write!(f, "too many login attempts; wait a minute"),
            ErrorKind::Invalid | ErrorKind::NotFound | ErrorKind::Conflict => write!(f, "{why}"),
            ErrorKind::Internal => write!(f, "the server failed: {why}"),
            ErrorKind::Upstream => write!(f, "{why}"),
            ErrorKind::Transport => write!(f, "could not reach the server: {why}"),
        }
    }
}

impl std::error::Error for DashboardError {}
