//! Layer 3: `WEBHOOK_RATE_LIMIT` requests per minute per client IP (tower-governor, a GCRA token
//! bucket), with `WEBHOOK_RATE_BURST` allowed at once. Keys are the resolved client IP, so a flood from
//! one address never spends the budget of another, and a forged `X-Forwarded-For` buys nothing. An
//! IPv6 client is keyed by its /64: one host usually holds a whole /64 and could otherwise take a
//! fresh budget with every address in it.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, Response};
use axum::response::IntoResponse;
use governor::middleware::NoOpMiddleware;
use tokio_util::sync::CancellationToken;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use super::ClientIp;
use super::outcome::Rejection;
use crate::rate_key::rate_key;
use crate::store::outcome::Outcome;

#[derive(Debug, Clone, Copy)]
pub struct ClientIpKey;

impl KeyExtractor for ClientIpKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        request
            .extensions()
            .get::<ClientIp>()
            .map(|ClientIp(ip)| rate_key(*ip))
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

type Config = GovernorConfig<ClientIpKey, NoOpMiddleware>;

#[derive(Clone)]
pub struct RateLimit {
    config: Arc<Config>,
    per_minute: u32,
}

impl RateLimit {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        // One request is replenished every minute / rate.
        let period = Duration::from_nanos((60_000_000_000 / u64::from(per_minute.max(1))).max(1));
        let config = GovernorConfigBuilder::default()
            .key_extractor(ClientIpKey)
            .period(period)
            .burst_size(burst.max(1))
            .finish()
            .expect("period and burst are positive");
        Self {
            config: Arc::new(config),
            per_minute,
        }
    }

    pub fn layer(&self) -> GovernorLayer<ClientIpKey, NoOpMiddleware, Body> {
        let per_minute = self.per_minute;
        GovernorLayer::new(self.config.clone())
            .error_handler(move |error| refusal(error, per_minute))
    }

    /// Forgets idle clients now and then, so a scan from many addresses cannot grow memory forever.
    pub fn spawn_cleanup(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let config = self.config.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        config.limiter().retain_recent();
                        config.limiter().shrink_to_fit();
                    }
                    _ = stop.cancelled() => break,
                }
            }
        })
    }
}

fn refusal(error: GovernorError, per_minute: u32) -> Response<Body> {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            let wait = wait_time.max(1);
            let mut rejection = Rejection::new(
                Outcome::RateLimited,
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {per_minute} requests per minute from this address; retry in {wait} s"
                ),
            );
            rejection.retry_after_secs = Some(wait);
            rejection.into_response()
        }
        GovernorError::UnableToExtractKey | GovernorError::Other { .. } => {
            Rejection::internal("rate limit", "client IP was not resolved").into_response()
        }
    }
}
