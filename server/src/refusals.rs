//! Refusals before authentication (wrong token, address not allowed, rate limited, declared body
//! too large) cost a sender almost nothing. Recorded as one event row and one security-log line
//! each, one address could take the writer's capacity from BrightData's deliveries and fill the
//! disk. So each address (an IPv6 client by its /64) and reason gets a few full records a minute,
//! and the service a few hundred in all; the rest are only counted here. Once a second those
//! counts go to the rollups in one write (so metrics, health and alerts count every refusal
//! exactly) and to the security log as one summary line per address and reason.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::log_file::LogFile;
use crate::rate_key::rate_key;
use crate::store::Writer;
use crate::store::events::NewEvent;
use crate::store::outcome::Outcome;
use crate::store::rollups::{Granularity, Rollup};

/// Full records (an event row, a log line) per address and reason per minute.
pub const FULL_PER_ADDRESS_MINUTE: u32 = 20;
/// Full records of such refusals per minute, all addresses together.
pub const FULL_PER_MINUTE: u32 = 600;
/// Addresses (with their reason) tracked per minute, apart from the full-record budget: each gets
/// its own summary line; refusals from further addresses are summed into one `other` line. This
/// bounds the security log when refusals are sprayed from many addresses (IPv6 /64s behind a
/// trusted proxy): at most this many named lines a second, plus the full records.
const ADDRESSES: usize = 256;
/// How often the counted refusals are written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct RefusalSampler {
    state: Mutex<Minute>,
}

/// What one minute has seen so far.
#[derive(Default)]
struct Minute {
    bucket_ms: i64,
    full_given: u32,
    per_address: HashMap<(IpAddr, Outcome), u32>,
    /// Counted, not yet written: per rollup key (minute, endpoint, outcome)...
    counted: HashMap<(i64, &'static str, Outcome), Rollup>,
    /// ... and per address and reason, for the log's summary.
    by_address: HashMap<(Option<IpAddr>, Outcome), u64>,
}

/// Counted refusals taken for writing.
#[derive(Debug, Default)]
pub struct Counted {
    /// Minute rollup rows (`platform` empty).
    pub rows: Vec<Rollup>,
    /// (address or `None` for addresses past the tracked number, outcome, refusals).
    pub by_address: Vec<(Option<IpAddr>, Outcome, u64)>,
}

impl RefusalSampler {
    /// `true`: record this refusal in full. `false`: it was counted here instead.
    pub fn admit(&self, ip: IpAddr, outcome: Outcome, event: &NewEvent) -> bool {
        let address = rate_key(ip);
        let bucket_ms = Granularity::Minute.floor(event.at_ms);
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let minute = &mut *guard;
        if bucket_ms > minute.bucket_ms {
            minute.bucket_ms = bucket_ms;
            minute.full_given = 0;
            minute.per_address.clear();
        }
        let tracked = minute.per_address.len() < ADDRESSES
            || minute.per_address.contains_key(&(address, outcome));
        if tracked {
            // Tracked whether or not the full-record budget is left: the address cap must hold
            // after the budget is spent too.
            let given = minute.per_address.entry((address, outcome)).or_default();
            if *given < FULL_PER_ADDRESS_MINUTE && minute.full_given < FULL_PER_MINUTE {
                *given += 1;
                minute.full_given += 1;
                return true;
            }
        }
        let row = minute
            .counted
            .entry((bucket_ms, event.endpoint, outcome))
            .or_insert_with(|| Rollup::empty_minute(bucket_ms, event.endpoint, outcome.as_str()));
        row.add(event.bytes, event.latency_us);
        let key = (tracked.then_some(address), outcome);
        *minute.by_address.entry(key).or_default() += 1;
        false
    }

    /// Everything counted since the last call.
    pub fn take(&self) -> Counted {
        let mut minute = self.state.lock().unwrap_or_else(|p| p.into_inner());
        Counted {
            rows: minute.counted.drain().map(|(_, row)| row).collect(),
            by_address: minute
                .by_address
                .drain()
                .map(|((ip, outcome), n)| (ip, outcome, n))
                .collect(),
        }
    }

    /// Writes the counted refusals once a second, and once more when stopped.
    pub fn spawn(
        self: Arc<Self>,
        writer: Writer,
        security_log: LogFile,
        stop: CancellationToken,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = tokio::time::sleep(FLUSH_EVERY) => false,
                    _ = stop.cancelled() => true,
                };
                self.write(&writer, &security_log).await;
                if stopping {
                    break;
                }
            }
        })
    }

    async fn write(&self, writer: &Writer, security_log: &LogFile) {
        let counted = self.take();
        if counted.rows.is_empty() {
            return;
        }
        for (ip, outcome, refusals) in &counted.by_address {
            security_log.write(
                "requests_rejected_counted",
                serde_json::json!({
                    "ip": ip.map_or_else(|| "other".to_owned(), |ip| ip.to_string()),
                    "outcome": outcome.as_str(),
                    "count": refusals,
                    "note": format!(
                        "past {FULL_PER_ADDRESS_MINUTE} logged per address and reason per minute, \
                         refusals are counted in the metrics and summed here"
                    ),
                }),
            );
        }
        if let Err(error) = writer.add_counts(counted.rows).await {
            tracing::error!(%error, "counted refusals could not be added to the rollups");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(at_ms: i64) -> NewEvent {
        NewEvent {
            at_ms,
            endpoint: "webhook",
            outcome: "rejected_auth",
            status: 401,
            latency_us: 100,
            bytes: 2,
            client_ip: None,
            user_agent: None,
            snapshot_id: None,
            platform: None,
            records: None,
            delivery_id: None,
            error: None,
            headers: None,
        }
    }

    #[test]
    fn a_few_in_full_per_address_and_minute_the_rest_counted_exactly() {
        let sampler = RefusalSampler::default();
        let one: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        let minute = 60_000 * 1000;
        let full = (0..100)
            .filter(|_| sampler.admit(one, Outcome::RejectedAuth, &refusal(minute + 5)))
            .count();
        assert_eq!(full, FULL_PER_ADDRESS_MINUTE as usize);
        // Another reason, another address: budgets of their own.
        assert!(sampler.admit(one, Outcome::RateLimited, &refusal(minute + 6)));
        assert!(sampler.admit(other, Outcome::RejectedAuth, &refusal(minute + 7)));
        // A new minute starts afresh.
        assert!(sampler.admit(one, Outcome::RejectedAuth, &refusal(minute + 60_000)));

        let counted = sampler.take();
        assert_eq!(counted.rows.len(), 1);
        let row = &counted.rows[0];
        assert_eq!(row.requests, 80);
        assert_eq!(row.bytes, 160);
        assert_eq!(row.latency_sum_us, 8000);
        assert_eq!(row.key.bucket_ms, minute);
        assert_eq!(row.key.outcome, "rejected_auth");
        assert_eq!(
            counted.by_address,
            vec![(Some(one), Outcome::RejectedAuth, 80)]
        );
        assert!(sampler.take().rows.is_empty());
    }

    #[test]
    fn an_ipv6_client_is_one_address_per_64() {
        let sampler = RefusalSampler::default();
        let full = (0..100u16)
            .filter(|n| {
                let ip: IpAddr = format!("2001:db8:0:1::{n:x}").parse().unwrap();
                sampler.admit(ip, Outcome::RejectedAuth, &refusal(0))
            })
            .count();
        assert_eq!(full, FULL_PER_ADDRESS_MINUTE as usize);
    }

    #[test]
    fn all_addresses_together_get_a_bounded_number_of_full_records() {
        let sampler = RefusalSampler::default();
        // 100 addresses, 10 refusals each: within every per-address allowance, over the total.
        let full = (0..1000u32)
            .filter(|n| {
                let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n % 100));
                sampler.admit(ip, Outcome::RejectedAuth, &refusal(0))
            })
            .count();
        assert_eq!(full, FULL_PER_MINUTE as usize);
        let counted = sampler.take();
        assert_eq!(counted.rows[0].requests, 1000 - FULL_PER_MINUTE as i64);
    }

    #[test]
    fn refusals_sprayed_from_many_addresses_name_a_bounded_number_of_them() {
        let sampler = RefusalSampler::default();
        let sent = 5_000u32;
        let full = (0..sent)
            .filter(|n| {
                let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + n));
                sampler.admit(ip, Outcome::RejectedAuth, &refusal(0))
            })
            .count();
        assert_eq!(full, ADDRESSES, "one full record per tracked address");
        let counted = sampler.take();
        // One summary line per tracked address that was counted (none: each sent once and got
        // its full record), and one `other` line for the rest.
        assert_eq!(
            counted.by_address.len(),
            1,
            "{:?}",
            &counted.by_address[..1]
        );
        assert_eq!(counted.by_address[0].0, None);
        let summed: u64 = counted.by_address.iter().map(|(_, _, n)| n).sum();
        assert_eq!(
            summed,
            u64::from(sent) - full as u64,
            "the counts stay exact"
        );
        assert_eq!(counted.rows[0].requests, i64::from(sent) - full as i64);
    }
}
