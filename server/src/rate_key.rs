//! Whose budget a client spends, for the rate limit, the connection limit and the refusals'
//! sampler alike.

use std::net::IpAddr;

/// Whose budget a request spends: the IPv4 address (also when written IPv4-mapped, `::ffff:a.b.c.d`),
/// or the /64 network of an IPv6 address.
pub fn rate_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_64_and_ipv4_per_address() {
        assert_eq!(
            rate_key(ip("2001:db8:1:2:aaaa::1")),
            rate_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
        );
        assert_eq!(rate_key(ip("2001:db8:1:2::7")), ip("2001:db8:1:2::"));
        assert_ne!(
            rate_key(ip("2001:db8:1:2::1")),
            rate_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_ne!(rate_key(ip("203.0.113.9")), rate_key(ip("203.0.113.10")));
        assert_eq!(rate_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }
}
