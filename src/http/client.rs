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

    /// The nearest address in `X-Forwarded-For` that is not one of our proxies, when the peer
    /// is one; otherwise the peer itself.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.contains(peer) {
            return Some(peer);
        }
        let hops: Vec<IpAddr> = forwarded_for
            .unwrap_or_default()
            .split(',')
            .filter_map(|h| h.trim().parse().ok())
            .collect();
        hops.iter()
            .rev()
            .find(|ip| !self.contains(**ip))
            .or(hops.first())
            .copied()
            .or(Some(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_counts_only_behind_trusted_proxies() {
        let none = TrustedProxies::default();
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(none.client_ip(Some(peer), Some("1.2.3.4")), Some(peer));

        let proxies: TrustedProxies = "10.0.0.0/8, 127.0.0.1".parse().unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        assert_eq!(
            proxies.client_ip(Some(proxy), Some("6.6.6.6, 1.2.3.4, 10.9.9.9")),
            Some("1.2.3.4".parse().unwrap()),
            "a spoofed left-most entry is ignored"
        );
        assert_eq!(proxies.client_ip(Some(proxy), None), Some(proxy));
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
        assert!("nonsense".parse::<TrustedProxies>().is_err());
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
