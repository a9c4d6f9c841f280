//! Admin access to the monitor API and the dashboard.
//!
//! Two credentials: `Authorization: Bearer <admin token>` (scripts, the original guide's curl
//! examples) or the dashboard's session cookie, obtained by logging in with the admin token. The
//! cookie is HttpOnly, SameSite=Strict, signed (HMAC-SHA256 with a key derived from the admin token,
//! so rotating the token ends every session) and expires. State-changing calls made with the cookie
//! must also carry `X-Requested-With: track-futura`: a cross-site form cannot set that header, and
//! no CORS is offered, so cookie-authenticated writes cannot be forged from another site.

use std::net::{IpAddr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;
use delivery::secret::Secret;

/// The CSRF rule's header, shared with the dashboard's client.
pub use app::api::{CSRF_HEADER, CSRF_VALUE};

/// Whether the request carries the admin token as a bearer (or bare) credential.
pub fn has_bearer(headers: &HeaderMap, token: &Secret) -> bool {
    headers.get_all(header::AUTHORIZATION).iter().any(|value| {
        let value = value.as_bytes();
        let candidate = match value.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case(b"bearer ") => value[7..].trim_ascii(),
            _ => value.trim_ascii(),
        };
        token.matches(candidate)
    })
}

/// A 401 of the monitor API, naming the scheme it wants.
fn unauthorized(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// The one admin check, for the monitor API and the dashboard's server functions: the admin token,
/// or a session (plus the CSRF header for writes).
pub fn check_admin(state: &AppState, headers: &HeaderMap, method: &Method) -> Result<(), ApiError> {
    if has_bearer(headers, &state.credentials.admin_token) {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_millis();
    if state.sessions.from_headers(headers, now).is_none() {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "send Authorization: Bearer <admin token>, or log in to the dashboard",
        ));
    }
    let safe = matches!(*method, Method::GET | Method::HEAD);
    let marked = headers
        .get(CSRF_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(CSRF_VALUE.as_bytes()));
    if !safe && !marked {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "csrf",
            format!(
                "state-changing calls with the session cookie need the header {CSRF_HEADER}: {CSRF_VALUE}"
            ),
        ));
    }
    Ok(())
}

/// Guards the monitor API with [`check_admin`].
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    match check_admin(&state, request.headers(), request.method()) {
        Ok(()) => next.run(request).await,
        Err(error) if error.status == StatusCode::UNAUTHORIZED => unauthorized(error),
        Err(error) => error.into_response(),
    }
}

/// Checks an admin token offered at login from `peer` (rate-limited per client address, every
/// failure in the security log): the session cookie to set, and when it expires (Unix ms).
pub fn attempt_login(
    state: &AppState,
    peer: IpAddr,
    headers: &HeaderMap,
    token: &str,
) -> Result<(HeaderValue, i64), ApiError> {
    let ip = state.ingest.client_ip.resolve(peer, headers);
    if !state.sessions.allow_attempt(ip) {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many login attempts from this address; wait a minute",
        ));
    }
    if !state
        .credentials
        .admin_token
        .matches(token.trim().as_bytes())
    {
        state.logs.security.write(
            "login_failed",
            json!({"ip": ip.to_string(), "path": "/api/auth/login", "reason": "wrong admin token"}),
        );
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the admin token is not valid",
        ));
    }
    let now = chrono::Utc::now().timestamp_millis();
    let (value, expires_ms) = state.sessions.issue(now);
    state.logs.security.write(
        "login",
        json!({"ip": ip.to_string(), "expires_ms": expires_ms}),
    );
    Ok((
        state
            .sessions
            .cookie(&value, state.sessions.ttl().as_secs()),
        expires_ms,
    ))
}

/// Ends the request's session on the server side too (in the database, so on every instance and
/// after a restart); the cookie that clears it in the browser.
pub async fn logout(state: &AppState, headers: &HeaderMap) -> HeaderValue {
    let now = chrono::Utc::now().timestamp_millis();
    if let Err(error) = state.sessions.end(&state.db, headers, now).await {
        // Still ended in this process; another instance or a restart may accept a copy of the
        // cookie until it expires.
        tracing::error!(%error, "recording a logout in the database");
    }
    // The other instances read it now rather than at their next sync.
    state.hub.session_ended();
    state.sessions.cookie("", 0)
}

#[derive(Deserialize)]
pub struct Login {
    token: String,
}

/// `POST /api/auth/login` `{"token": "<admin token>"}`: sets the session cookie.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Json(login): Json<Login>,
) -> Response {
    match attempt_login(&state, peer.ip(), &headers, &login.token) {
        Ok((cookie, expires_ms)) => {
            let mut response =
                Json(json!({"authenticated": true, "expires_ms": expires_ms})).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Err(error) => error.into_response(),
    }
}

/// `POST /api/auth/logout`: ends the session (a copy of its cookie is refused from now on) and
/// clears the cookie.
pub async fn end_session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cookie = logout(&state, &headers).await;
    let mut response = Json(json!({"authenticated": false})).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    response
}

/// `GET /api/auth/session`: whether the request is logged in, and until when.
pub async fn session(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let now = chrono::Utc::now().timestamp_millis();
    let expires = state.sessions.from_headers(&headers, now);
    Json(json!({"authenticated": expires.is_some(), "expires_ms": expires})).into_response()
}
