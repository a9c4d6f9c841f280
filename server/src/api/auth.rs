//! Admin access to the monitor API and the dashboard.
//!
//! Two credentials: `Authorization: Bearer <admin token>` (scripts, the original guide's curl
//! examples) or the dashboard's session cookie, obtained by logging in with the admin token. The
//! cookie is HttpOnly, SameSite=Strict, signed (HMAC-SHA256 with a key derived from the admin token,
//! so rotating the token ends every session) and expires. State-changing calls made with the cookie
//! must also carry `X-Requested-With: track-futura`: a cross-site form cannot set that header, and
//! no CORS is offered, so cookie-authenticated writes cannot be forged from another site.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::secret::Secret;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "tf_session";
/// The CSRF rule's header, shared with the dashboard's client.
pub use app::api::{CSRF_HEADER, CSRF_VALUE};

type HmacSha256 = Hmac<Sha256>;

pub struct Sessions {
    key: [u8; 32],
    ttl: Duration,
    secure: bool,
    /// Login attempts per client address: 10 a minute, 5 at once.
    attempts: Mutex<LoginLimiter>,
    /// Sessions ended by a logout before they expired (the SHA-256 of their signed payload, and
    /// when they would have expired, Unix ms): refused from then on. Each entry goes once its
    /// session would have expired anyway. A copy of the database's `revoked_sessions`: loaded at
    /// start and every [`SYNC_EVERY`], so a logout holds across restarts and on every instance.
    revoked: Mutex<HashMap<String, i64>>,
    /// Revocations recorded from this time on (Unix ms) are yet to be read from the database.
    synced_from_ms: Mutex<i64>,
}

/// How often revocations made by other instances are read from the database; a live stream
/// checks its session as often (its heartbeat), so a logout elsewhere ends it within about this.
pub const SYNC_EVERY: Duration = Duration::from_secs(5);
/// Read back this far before the last read: instances' clocks and commits need not agree exactly.
const SYNC_OVERLAP_MS: i64 = 60_000;
/// How often revocations of sessions that expired anyway are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// The key a revocation is kept under: the signed payload's SHA-256 (the cookie is never stored).
fn revocation_key(payload: &str) -> String {
    hex::encode(Sha256::digest(payload.as_bytes()))
}

/// The login limiter's memory: the addresses it counts, pruned of those it no longer needs.
struct LoginLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
    last_pruned: Instant,
}

/// Addresses the login limiter remembers at most: past this it starts over (whoever sends from
/// that many addresses is not slowed by a per-address limit anyway).
const LIMITER_KEYS: usize = 10_000;
/// How often addresses whose allowance is full again are forgotten.
const LIMITER_PRUNE_EVERY: Duration = Duration::from_secs(60);

fn login_limiter() -> DefaultKeyedRateLimiter<IpAddr> {
    let quota = Quota::per_minute(NonZeroU32::new(10).expect("non-zero"))
        .allow_burst(NonZeroU32::new(5).expect("non-zero"));
    RateLimiter::keyed(quota)
}

impl Sessions {
    /// `secure`: mark the cookie `Secure` (the public URL is https).
    pub fn new(admin_token: &Secret, ttl: Duration, secure: bool) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"track-futura session key v1\0");
        hasher.update(admin_token.expose().as_bytes());
        Self {
            key: hasher.finalize().into(),
            ttl,
            secure,
            attempts: Mutex::new(LoginLimiter {
                limiter: login_limiter(),
                last_pruned: Instant::now(),
            }),
            revoked: Mutex::new(HashMap::new()),
            synced_from_ms: Mutex::new(0),
        }
    }

    fn mac(&self, payload: &str) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length");
        mac.update(payload.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }

    /// A new session value and when it expires (Unix ms).
    pub fn issue(&self, now_ms: i64) -> (String, i64) {
        let expires = now_ms + self.ttl.as_millis() as i64;
        let mut nonce = [0u8; 16];
        rand::rng().fill_bytes(&mut nonce);
        let payload = format!("v1.{expires}.{}", URL_SAFE_NO_PAD.encode(nonce));
        let mac = URL_SAFE_NO_PAD.encode(self.mac(&payload));
        (format!("{payload}.{mac}"), expires)
    }

    /// When the session ends, if `value` is a valid, unexpired session.
    pub fn verify(&self, value: &str, now_ms: i64) -> Option<i64> {
        let (payload, mac) = value.rsplit_once('.')?;
        let mac = URL_SAFE_NO_PAD.decode(mac).ok()?;
        if !bool::from(self.mac(payload).ct_eq(&mac)) {
            return None;
        }
        let mut parts = payload.split('.');
        (parts.next()? == "v1").then_some(())?;
        let expires: i64 = parts.next()?.parse().ok()?;
        (expires > now_ms).then_some(())?;
        let revoked = self.revoked.lock().expect("not poisoned");
        (revoked.is_empty() || !revoked.contains_key(&revocation_key(payload))).then_some(expires)
    }

    /// Ends every valid session the request's cookies carry, in this process: a copy of the
    /// cookie kept elsewhere is refused from now on. Returns what ended (key, expiry) for the
    /// database ([`Sessions::end`] does both).
    pub fn revoke(&self, headers: &HeaderMap, now_ms: i64) -> Vec<(String, i64)> {
        let ended: Vec<(String, i64)> = session_values(headers)
            .filter_map(|value| {
                let expires = self.verify(value, now_ms)?;
                let (payload, _) = value.rsplit_once('.')?;
                Some((revocation_key(payload), expires))
            })
            .collect();
        self.remember(ended.iter().cloned(), now_ms);
        ended
    }

    fn remember(&self, ended: impl IntoIterator<Item = (String, i64)>, now_ms: i64) {
        let mut revoked = self.revoked.lock().expect("not poisoned");
        revoked.retain(|_, expires| *expires > now_ms);
        revoked.extend(ended);
    }

    /// Ends the request's sessions here and in the database, for every instance and restart.
    pub async fn end(
        &self,
        db: &sea_orm::DatabaseConnection,
        headers: &HeaderMap,
        now_ms: i64,
    ) -> Result<(), sea_orm::DbErr> {
        for (key, expires) in self.revoke(headers, now_ms) {
            crate::store::sessions::revoke(db, &key, expires, now_ms).await?;
        }
        Ok(())
    }

    /// Reads the revocations recorded since the last read (by any instance).
    pub async fn sync(&self, db: &sea_orm::DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        let now = chrono::Utc::now().timestamp_millis();
        let from = *self.synced_from_ms.lock().expect("not poisoned");
        let found = crate::store::sessions::revoked_since(db, from - SYNC_OVERLAP_MS, now).await?;
        self.remember(found, now);
        *self.synced_from_ms.lock().expect("not poisoned") = now;
        Ok(())
    }

    /// Reads revocations every [`SYNC_EVERY`] and deletes expired ones every [`PRUNE_EVERY`].
    pub fn spawn_sync(
        self: Arc<Self>,
        db: sea_orm::DatabaseConnection,
        stop: tokio_util::sync::CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut pruned = Instant::now();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(SYNC_EVERY) => {}
                    () = stop.cancelled() => break,
                }
                if let Err(error) = self.sync(&db).await {
                    tracing::warn!(%error, "reading revoked sessions");
                }
                if pruned.elapsed() >= PRUNE_EVERY {
                    pruned = Instant::now();
                    let now = chrono::Utc::now().timestamp_millis();
                    if let Err(error) = crate::store::sessions::prune(&db, now).await {
                        tracing::warn!(%error, "pruning revoked sessions");
                    }
                }
            }
        })
    }

    /// Sessions ended early and still remembered.
    #[cfg(test)]
    fn revoked_count(&self) -> usize {
        self.revoked.lock().expect("not poisoned").len()
    }

    /// Counts a login attempt from `ip`: false when it is over the limit. Once a minute the
    /// limiter forgets addresses whose allowance is full again, and it never remembers more than
    /// [`LIMITER_KEYS`]: a stream of addresses cannot grow it without bound.
    fn allow_attempt(&self, ip: IpAddr) -> bool {
        let mut attempts = self.attempts.lock().expect("not poisoned");
        let allowed = attempts.limiter.check_key(&ip).is_ok();
        if attempts.last_pruned.elapsed() >= LIMITER_PRUNE_EVERY {
            attempts.limiter.retain_recent();
            attempts.limiter.shrink_to_fit();
            attempts.last_pruned = Instant::now();
        }
        if attempts.limiter.len() > LIMITER_KEYS {
            attempts.limiter = login_limiter();
        }
        allowed
    }

    /// Addresses the login limiter remembers now.
    #[cfg(test)]
    fn remembered_addresses(&self) -> usize {
        self.attempts.lock().expect("not poisoned").limiter.len()
    }

    fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ))
        .expect("cookie text is ASCII")
    }

    /// The session (its expiry) carried by the request's cookie, if valid.
    pub fn from_headers(&self, headers: &HeaderMap, now_ms: i64) -> Option<i64> {
        session_values(headers).find_map(|value| self.verify(value, now_ms))
    }
}

/// The values of the session cookie in the request (HTTP/2 may split cookies over headers).
fn session_values(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

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
        state.sessions.cookie(&value, state.sessions.ttl.as_secs()),
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

pub type SharedSessions = Arc<Sessions>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_signed_expire_and_die_with_the_token() {
        let sessions = Sessions::new(&Secret::new("admin-1"), Duration::from_secs(60), false);
        let (value, expires) = sessions.issue(1_000);
        assert_eq!(expires, 61_000);
        assert_eq!(sessions.verify(&value, 2_000), Some(61_000));
        assert_eq!(sessions.verify(&value, 61_000), None, "expired");
        let tampered = value.replace("v1.61000", "v1.99999999");
        assert_eq!(sessions.verify(&tampered, 2_000), None);
        let rotated = Sessions::new(&Secret::new("admin-2"), Duration::from_secs(60), false);
        assert_eq!(rotated.verify(&value, 2_000), None);
        assert_eq!(sessions.verify("garbage", 2_000), None);
        assert_eq!(sessions.verify("", 2_000), None);
    }

    fn cookie_headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=1; {SESSION_COOKIE}={value}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_session_ended_by_logout_is_refused_and_forgotten_once_it_would_have_expired() {
        let sessions = Sessions::new(&Secret::new("admin-1"), Duration::from_secs(60), false);
        let (ended, _) = sessions.issue(1_000);
        let (other, _) = sessions.issue(1_000);
        sessions.revoke(&cookie_headers(&ended), 2_000);
        assert_eq!(sessions.verify(&ended, 3_000), None, "ended by logout");
        assert_eq!(sessions.verify(&other, 3_000), Some(61_000), "others go on");
        assert_eq!(sessions.revoked_count(), 1);
        // A forged or expired cookie is not remembered.
        sessions.revoke(&cookie_headers("v1.99999999.x.y"), 3_000);
        assert_eq!(sessions.revoked_count(), 1);
        // Past its expiry the entry goes at the next logout.
        sessions.revoke(&cookie_headers(&other), 61_001);
        assert_eq!(sessions.revoked_count(), 0);
    }

    #[test]
    fn the_login_limiter_forgets_addresses_it_no_longer_needs() {
        let sessions = Sessions::new(&Secret::new("admin-1"), Duration::from_secs(60), false);
        for i in 0..(3 * LIMITER_KEYS as u32) {
            assert!(sessions.allow_attempt(IpAddr::from(i.to_be_bytes())));
            assert!(sessions.remembered_addresses() <= LIMITER_KEYS);
        }
        // Limiting still works for an address that keeps trying.
        let guesser = IpAddr::from([203, 0, 113, 9]);
        let allowed = (0..8).filter(|_| sessions.allow_attempt(guesser)).count();
        assert_eq!(allowed, 5);
    }
}
