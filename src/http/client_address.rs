//! Who is calling: the client address (for rate limits and audit logs), taking
//! `X-Forwarded-For` into account only when the direct peer is a configured trusted proxy.

use std::{net::IpAddr, str::FromStr};

use ipnet::IpNet;

/// Addresses and CIDR ranges of reverse proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|i| !i.is_empty())
            .map(parse_net)
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
}

/// A CIDR range, or a bare address as a range of one.
fn parse_net(item: &str) -> Result<IpNet, String> {
    let (addr, prefix) = match item.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (item, None),
    };
    let addr: IpAddr = addr
        .parse()
        .map_err(|_| format!("{item:?} is not an IP address or CIDR range"))?;
    match prefix {
        None => Ok(addr.into()),
        Some(_) => item
            .parse()
            .map_err(|_| format!("{item:?} has an invalid prefix length")),
    }
}

impl TrustedProxies {
    fn contains(&self, ip: IpAddr) -> bool {
        // A dual-stack socket reports IPv4 peers as `::ffff:a.b.c.d`; match them as IPv4.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether the direct peer is one of our proxies, whose forwarded headers are believed.
    pub fn is_trusted(&self, peer: Option<IpAddr>) -> bool {
        peer.is_some_and(|ip| self.contains(ip))
    }

    /// The nearest address in `X-Forwarded-For` that is not one of our proxies, when the peer
    /// is one; otherwise the peer itself. `lines` are the header's lines in the order received:
    /// a proxy may add its own line rather than extend the client's, so they are read as one
    /// list (RFC 9110 §5.3), never the first line alone. Hops are walked from the right while
    /// they are trusted; a hop that is not an address stops the walk at the last one believed,
    /// so nothing written to its left (by whoever wrote the bad hop) can be taken.
    pub fn client_ip<'a>(
        &self,
        peer: Option<IpAddr>,
        lines: impl IntoIterator<Item = &'a str>,
    ) -> Option<IpAddr> {
        let mut client = peer?;
        if !self.contains(client) {
            return Some(client);
        }
        let lines: Vec<&str> = lines.into_iter().collect();
        let hops = lines
            .iter()
            .rev()
            .flat_map(|line| line.rsplit(','))
            .map(str::trim)
            // Empty list elements are allowed and mean nothing.
            .filter(|hop| !hop.is_empty());
        for hop in hops {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        Some(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_behind_trusted_proxies() {
        let none = TrustedProxies::default();
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(none.client_ip(Some(peer), ["1.2.3.4"]), Some(peer));

        let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            proxies.client_ip(Some(proxy), ["6.6.6.6, 1.2.3.4, 10.9.9.9"]),
            Some("1.2.3.4".parse().unwrap()),
            "a spoofed left-most entry is ignored"
        );
        assert_eq!(proxies.client_ip(Some(proxy), []), Some(proxy));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("nonsense".parse::<TrustedProxies>().is_err());
    }

    #[test]
    fn every_forwarded_for_line_counts_in_order() {
        let proxies: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let balancer: IpAddr = "127.0.0.1".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // A client's own header line first, the balancer's line (the real peer) after it.
        assert_eq!(
            proxies.client_ip(Some(balancer), ["198.51.100.7", "127.0.0.2"]),
            ip("127.0.0.2")
        );
        assert_eq!(
            proxies.client_ip(
                Some(balancer),
                ["6.6.6.6, 10.0.0.5", "10.1.1.1, 203.0.113.4"]
            ),
            ip("203.0.113.4")
        );
        assert_eq!(
            proxies.client_ip(Some(balancer), ["203.0.113.4, 10.0.0.5", "10.1.1.1"]),
            ip("203.0.113.4"),
            "trusted hops are passed over, across lines"
        );
        assert_eq!(
            proxies.client_ip(Some(balancer), ["6.6.6.6", ", ,", "203.0.113.4,"]),
            ip("203.0.113.4"),
            "empty elements mean nothing"
        );
    }

    #[test]
    fn an_unparsable_hop_ends_the_walk() {
        let proxies: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let balancer: IpAddr = "127.0.0.1".parse().unwrap();
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // Whoever wrote the bad hop wrote what lies left of it too: none of it is taken.
        assert_eq!(
            proxies.client_ip(Some(balancer), ["6.6.6.6, not-an-ip, 10.0.0.5"]),
            ip("10.0.0.5")
        );
        assert_eq!(
            proxies.client_ip(Some(balancer), ["6.6.6.6", "unknown"]),
            ip("127.0.0.1"),
            "nothing believable: the peer"
        );
        assert_eq!(
            proxies.client_ip(Some(balancer), ["6.6.6.6, 1.2.3.4:80"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn ranges_match_by_prefix_and_family() {
        let proxies: TrustedProxies = "10.0.0.0/8, 2001:db8::/32, 192.0.2.7".parse().unwrap();
        let trusted = |ip: &str| proxies.contains(ip.parse().unwrap());
        assert!(trusted("10.255.0.1"));
        assert!(!trusted("11.0.0.1"));
        assert!(trusted("2001:db8:1::9"));
        assert!(!trusted("2001:db9::1"));
        assert!(trusted("192.0.2.7"));
        assert!(!trusted("192.0.2.8"), "a bare address is a range of one");
        assert!(
            trusted("::ffff:10.1.2.3"),
            "an IPv4-mapped peer matches its IPv4 range"
        );
        let all: TrustedProxies = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert!(
            !all.contains("2001:db8::1".parse().unwrap()),
            "an IPv4 range never matches an IPv6 peer"
        );
    }

    #[test]
    fn errors_name_the_bad_entry_and_what_is_wrong() {
        let err = |s: &str| s.parse::<TrustedProxies>().unwrap_err();
        assert_eq!(
            err("10.0.0.1, 10.0.0.0/33"),
            r#""10.0.0.0/33" has an invalid prefix length"#
        );
        assert_eq!(err("::1/129"), r#""::1/129" has an invalid prefix length"#);
        assert_eq!(
            err("10.0.0.0/x"),
            r#""10.0.0.0/x" has an invalid prefix length"#
        );
        assert_eq!(
            err("proxy.local"),
            r#""proxy.local" is not an IP address or CIDR range"#
        );
        assert_eq!(
            err("10.0.0/8"),
            r#""10.0.0/8" is not an IP address or CIDR range"#
        );
        assert_eq!("".parse::<TrustedProxies>(), Ok(TrustedProxies::default()));
    }
}
