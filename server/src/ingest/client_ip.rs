//! Who is calling: the TCP peer, unless the peer is one of our own trusted proxies, in which case the
//! forwarding header the proxy appends is walked from the right (the entries a proxy we trust wrote)
//! to the first address that is not a trusted proxy. Entries left of that were written by the client
//! and are never believed: taking the first `X-Forwarded-For` entry lets anyone pick their own IP.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// Which header the trusted proxies write (`WEBHOOK_PROXY_HEADER`). Only that one is read: honouring a
/// header the proxy merely passes through would let the client choose its address.
pub use crate::config::ProxyHeader;

#[derive(Debug, Clone)]
pub struct ClientIpResolver {
    trusted_proxies: Vec<IpNet>,
    header: ProxyHeader,
}

impl ClientIpResolver {
    pub fn new(trusted_proxies: Vec<IpNet>, header: ProxyHeader) -> Self {
        Self {
            trusted_proxies,
            header,
        }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }

    pub fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.is_trusted(peer) {
            return peer;
        }
        // Every header line, in order: a list split over several lines is one list.
        let hops: Vec<Option<IpAddr>> = match self.header {
            ProxyHeader::XForwardedFor => headers
                .get_all("x-forwarded-for")
                .iter()
                .flat_map(|value| value.to_str().unwrap_or("").split(','))
                .map(|entry| parse_address(entry.trim()))
                .collect(),
            ProxyHeader::Forwarded => headers
                .get_all("forwarded")
                .iter()
                .flat_map(|value| value.to_str().unwrap_or("").split(','))
                .map(forwarded_for)
                .collect(),
        };
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(ip) if self.is_trusted(*ip) => client = *ip,
                Some(ip) => return *ip,
                // Unreadable entry: we cannot see past it, so the last trusted hop stands.
                None => return client,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a dual-stack socket reports) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// `1.2.3.4`, `1.2.3.4:567`, `2001:db8::1`, `[2001:db8::1]:567`, optionally quoted.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = text.strip_prefix('[') {
        let inner = rest.split(']').next()?;
        return inner.parse::<IpAddr>().ok().map(canonical);
    }
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The `for=` parameter of one `Forwarded` element (RFC 7239).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_address(value))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn resolver(trusted: &[&str]) -> ClientIpResolver {
        ClientIpResolver::new(
            trusted.iter().map(|n| n.parse().unwrap()).collect(),
            ProxyHeader::XForwardedFor,
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let r = resolver(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "1.1.1.1")]);
        assert_eq!(r.resolve(ip("203.0.113.9"), &h), ip("203.0.113.9"));
        assert_eq!(
            resolver(&[]).resolve(ip("203.0.113.9"), &h),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_wins() {
        let r = resolver(&["10.0.0.0/8"]);
        // The client forged "6.6.6.6"; our proxy appended the real peer 198.51.100.7.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7")]);
        assert_eq!(r.resolve(ip("10.1.2.3"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn chains_of_trusted_proxies_are_walked() {
        let r = resolver(&["10.0.0.0/8", "192.168.0.0/16"]);
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6, 198.51.100.7"),
            ("x-forwarded-for", "192.168.1.1"),
        ]);
        assert_eq!(r.resolve(ip("10.1.2.3"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let r = resolver(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "198.51.100.7, not-an-ip, 10.9.9.9")]);
        assert_eq!(r.resolve(ip("10.1.2.3"), &h), ip("10.9.9.9"));
        let empty = headers(&[]);
        assert_eq!(r.resolve(ip("10.1.2.3"), &empty), ip("10.1.2.3"));
    }

    #[test]
    fn ports_brackets_and_ipv6() {
        let r = resolver(&["10.0.0.0/8", "fd00::/8"]);
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:443, 10.0.0.2:8080")]);
        assert_eq!(r.resolve(ip("fd00::1"), &h), ip("2001:db8::7"));
        let h = headers(&[("x-forwarded-for", "198.51.100.7:1234")]);
        assert_eq!(r.resolve(ip("::ffff:10.0.0.1"), &h), ip("198.51.100.7"));
    }

    #[test]
    fn forwarded_header_when_configured() {
        let r = ClientIpResolver::new(vec!["10.0.0.0/8".parse().unwrap()], ProxyHeader::Forwarded);
        let h = headers(&[
            (
                "forwarded",
                "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https",
            ),
            ("x-forwarded-for", "7.7.7.7"),
        ]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("2001:db8:cafe::17"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(r.resolve(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn mapped_ipv4_peers_are_plain_ipv4() {
        let r = resolver(&[]);
        assert_eq!(
            r.resolve(ip("::ffff:203.0.113.9"), &headers(&[])),
            ip("203.0.113.9")
        );
    }
}
