//! The routing table: longest-prefix match over IPv6 prefixes.
//!
//! This table is built once from the configuration and then only read, by every worker.
//! It keeps one hash map per prefix length in use and probes them from the longest length
//! down: correct, simple, and as fast as the number of distinct lengths allows. A default
//! route (`::/0`) is an ordinary entry of length 0.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

use rustc_hash::FxHashMap;

use crate::wire::MacAddr;

/// An IPv6 prefix: an address and a length, with the host bits zero when used as a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prefix {
    pub addr: Ipv6Addr,
    pub len: u8,
}

/// A prefix that does not read as `address/length`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadPrefix {
    #[error("{0:?} is not address/length (like 2001:db8::/32)")]
    Syntax(String),
    #[error("{0:?}: the length must be 0 to 128")]
    Length(String),
}

impl Prefix {
    /// Makes a prefix; `len` above 128 is cut to 128.
    pub fn new(addr: Ipv6Addr, len: u8) -> Prefix {
        Prefix {
            addr,
            len: len.min(128),
        }
    }

    /// The network mask as a 128-bit integer.
    #[inline]
    pub fn mask(len: u8) -> u128 {
        if len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(len))
        }
    }

    /// The prefix with its host bits cleared.
    pub fn network(&self) -> Prefix {
        Prefix {
            addr: Ipv6Addr::from(u128::from(self.addr) & Self::mask(self.len)),
            len: self.len,
        }
    }

    /// Whether `addr` lies inside the prefix.
    #[inline]
    pub fn contains(&self, addr: &Ipv6Addr) -> bool {
        let m = Self::mask(self.len);
        u128::from(*addr) & m == u128::from(self.addr) & m
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl FromStr for Prefix {
    type Err = BadPrefix;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| BadPrefix::Syntax(s.into()))?;
        let addr: Ipv6Addr = a.parse().map_err(|_| BadPrefix::Syntax(s.into()))?;
        let len: u8 = l.parse().map_err(|_| BadPrefix::Syntax(s.into()))?;
        if len > 128 {
            return Err(BadPrefix::Length(s.into()));
        }
        Ok(Prefix { addr, len })
    }
}

/// Where a route sends a packet: to a gateway, straight to the destination on the link, or
/// nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextHop {
    OnLink,
    Gateway(Ipv6Addr),
    Reject(Reject),
}

/// What a route that leads nowhere does with a packet, as the route types of Linux do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// Discard it silently.
    Blackhole,
    /// Discard it and answer Destination Unreachable, no route (code 0).
    Unreachable,
    /// Discard it and answer Destination Unreachable, administratively prohibited
    /// (code 1).
    Prohibit,
}

/// One route: a prefix, the egress port (its index in the configuration; unused by a
/// reject route) and next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub prefix: Prefix,
    pub port: u16,
    pub next_hop: NextHop,
}

/// What a lookup returns: the egress port and the next hop, with the gateway's link-layer
/// address when it was known when the table was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub port: u16,
    pub next_hop: NextHop,
    pub gateway_mac: Option<MacAddr>,
}

/// An immutable longest-prefix-match table.
#[derive(Debug, Default)]
pub struct RouteTable {
    /// Prefix lengths in use, longest first, each with its map from masked address.
    levels: Vec<(u8, FxHashMap<u128, Resolved>)>,
    routes: Vec<Route>,
}

impl RouteTable {
    /// Builds the table. `gateway_mac` resolves a gateway on a port when it is statically
    /// known, so that forwarding through it needs no neighbor lookup. A later route for the
    /// same prefix replaces an earlier one.
    pub fn build(
        routes: &[Route],
        gateway_mac: impl Fn(u16, &Ipv6Addr) -> Option<MacAddr>,
    ) -> RouteTable {
        let mut by_len: FxHashMap<u8, FxHashMap<u128, Resolved>> = FxHashMap::default();
        for r in routes {
            let p = r.prefix.network();
            let mac = match r.next_hop {
                NextHop::Gateway(g) => gateway_mac(r.port, &g),
                NextHop::OnLink | NextHop::Reject(_) => None,
            };
            by_len.entry(p.len).or_default().insert(
                u128::from(p.addr),
                Resolved {
                    port: r.port,
                    next_hop: r.next_hop,
                    gateway_mac: mac,
                },
            );
        }
        let mut levels: Vec<_> = by_len.into_iter().collect();
        levels.sort_unstable_by_key(|l| std::cmp::Reverse(l.0));
        RouteTable {
            levels,
            routes: routes.to_vec(),
        }
    }

    /// The longest-prefix match for `dst`.
    #[inline]
    pub fn lookup(&self, dst: &Ipv6Addr) -> Option<&Resolved> {
        let d = u128::from(*dst);
        self.levels
            .iter()
            .find_map(|(len, map)| map.get(&(d & Prefix::mask(*len))))
    }

    /// The routes the table was built from.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn route(p: &str, port: u16, via: Option<&str>) -> Route {
        Route {
            prefix: p.parse().unwrap(),
            port,
            next_hop: via.map_or(NextHop::OnLink, |g| NextHop::Gateway(a(g))),
        }
    }

    #[test]
    fn prefix_parse_and_contains() {
        let p: Prefix = "2001:db8::/32".parse().unwrap();
        assert!(p.contains(&a("2001:db8:ffff::1")));
        assert!(!p.contains(&a("2001:db9::1")));
        assert_eq!(p.to_string(), "2001:db8::/32");
        assert!("2001:db8::".parse::<Prefix>().is_err());
        assert!("2001:db8::/129".parse::<Prefix>().is_err());
        assert!("2001:zz8::/32".parse::<Prefix>().is_err());
        let host: Prefix = "2001:db8::1/64".parse().unwrap();
        assert_eq!(host.network().to_string(), "2001:db8::/64");
        assert_eq!(Prefix::mask(0), 0);
        assert_eq!(Prefix::mask(128), u128::MAX);
    }

    #[test]
    fn longest_match_wins() {
        let t = RouteTable::build(
            &[
                route("::/0", 0, Some("2001:db8:1::ff")),
                route("2001:db8::/32", 1, Some("2001:db8:2::ff")),
                route("2001:db8:5::/48", 2, None),
                route("2001:db8:5::7/128", 3, None),
            ],
            |_, _| None,
        );
        assert_eq!(t.lookup(&a("2001:db8:5::7")).unwrap().port, 3);
        assert_eq!(t.lookup(&a("2001:db8:5::8")).unwrap().port, 2);
        assert_eq!(t.lookup(&a("2001:db8:6::1")).unwrap().port, 1);
        assert_eq!(t.lookup(&a("2001:db9::1")).unwrap().port, 0);
    }

    #[test]
    fn no_default_means_no_route() {
        let t = RouteTable::build(&[route("2001:db8::/32", 1, None)], |_, _| None);
        assert!(t.lookup(&a("2001:db9::1")).is_none());
        assert!(RouteTable::default().lookup(&a("::1")).is_none());
    }

    #[test]
    fn gateway_mac_is_resolved_at_build() {
        let mac: MacAddr = "02:00:00:00:00:09".parse().unwrap();
        let t = RouteTable::build(&[route("::/0", 1, Some("fe80::9"))], |port, g| {
            (port == 1 && *g == a("fe80::9")).then_some(mac)
        });
        assert_eq!(t.lookup(&a("2001:db8::1")).unwrap().gateway_mac, Some(mac));
    }

    proptest::proptest! {
        #[test]
        fn lookup_agrees_with_linear_scan(
            prefixes in proptest::collection::vec((proptest::num::u128::ANY, 0u8..=128), 1..40),
            probes in proptest::collection::vec(proptest::num::u128::ANY, 1..40),
        ) {
            let routes: Vec<Route> = prefixes
                .iter()
                .enumerate()
                .map(|(i, (addr, len))| Route {
                    prefix: Prefix::new(Ipv6Addr::from(*addr), *len).network(),
                    port: i as u16,
                    next_hop: NextHop::OnLink,
                })
                .collect();
            let t = RouteTable::build(&routes, |_, _| None);
            for p in probes.iter().map(|x| Ipv6Addr::from(*x)).chain(routes.iter().map(|r| r.prefix.addr)) {
                // The expected winner: the longest matching prefix, the last one given
                // when a prefix repeats.
                let expected = routes
                    .iter()
                    .filter(|r| r.prefix.contains(&p))
                    .max_by_key(|r| r.prefix.len)
                    .map(|best| routes.iter().rev().find(|r| r.prefix == best.prefix).unwrap().port);
                proptest::prop_assert_eq!(t.lookup(&p).map(|r| r.port), expected);
            }
        }
    }
}
