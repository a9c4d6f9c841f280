//! The dashboard's sessions: the signed session cookie (HMAC-SHA256 with a key derived from the
//! admin token, so rotating the token ends every session), sessions ended early by a logout (kept
//! in the database, so a logout holds on every instance and after a restart), and the login
//! attempts each client address is allowed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use delivery::secret::Secret;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, header};
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "tf_session";
type HmacSha256 = Hmac<Sha256>;

/// The dashboard's sessions: signed cookies, their revocations, and the login attempts allowed.
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
    pub fn allow_attempt(&self, ip: IpAddr) -> bool {
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

    pub fn cookie(&self, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ))
        .expect("cookie text is ASCII")
    }

    /// The session (its expiry) carried by the request's cookie, if valid.
    /// How long a session lasts.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

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
