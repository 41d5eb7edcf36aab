//! Routes: prefixes, next hops, and what tells the routes of one prefix apart. The table
//! that holds them and the lookup structure the workers read are in [`crate::fib`].

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NextHop {
    OnLink,
    Gateway(Ipv6Addr),
    Reject(Reject),
}

/// What a route that leads nowhere does with a packet, as the route types of Linux do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reject {
    /// Discard it silently.
    Blackhole,
    /// Discard it and answer Destination Unreachable, no route (code 0).
    Unreachable,
    /// Discard it and answer Destination Unreachable, administratively prohibited
    /// (code 1).
    Prohibit,
}

/// The metric a route gets when none is given: Linux's for IPv6 routes.
pub const DEFAULT_METRIC: u32 = 1024;

/// A route's preference, as RFC 4191 section 2.1 defines it for default routers and
/// more-specific routes. It is its own field, not folded into the metric: among the routes
/// of the best metric, the reachable ones of the highest preference carry the traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Preference {
    Low,
    #[default]
    Medium,
    High,
}

impl Preference {
    /// The preference a 2-bit Prf field carries. RFC 4191 2.1: the reserved value 10 is
    /// taken as medium.
    pub fn from_prf(bits: u8) -> Preference {
        match bits & 0b11 {
            0b01 => Preference::High,
            0b11 => Preference::Low,
            _ => Preference::Medium,
        }
    }

    /// The 2-bit Prf field for this preference.
    pub fn to_prf(self) -> u8 {
        match self {
            Preference::High => 0b01,
            Preference::Medium => 0b00,
            Preference::Low => 0b11,
        }
    }
}

impl fmt::Display for Preference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preference::Low => "low",
            Preference::Medium => "medium",
            Preference::High => "high",
        })
    }
}

/// Where a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Source {
    /// A port's own subnet.
    Connected,
    /// The configuration file.
    #[default]
    Static,
    /// A Router Advertisement's router lifetime: a default route through its sender.
    RouterAdvertisement,
    /// A Route Information Option of a Router Advertisement (RFC 4191).
    RouteInformation,
    /// The control API.
    Api,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Connected => "connected",
            Source::Static => "static",
            Source::RouterAdvertisement => "ra",
            Source::RouteInformation => "rio",
            Source::Api => "api",
        })
    }
}

/// One route: a prefix, the egress port (its index in the configuration; unused by a
/// reject route), the next hop, and what selection between the routes of a prefix uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub prefix: Prefix,
    pub port: u16,
    pub next_hop: NextHop,
    /// Lower is better; only the routes of a prefix with the lowest metric carry traffic.
    pub metric: u32,
    pub preference: Preference,
    pub source: Source,
    /// When the route ends, in nanoseconds of the management thread's clock; `None`: it
    /// does not.
    pub expires: Option<u64>,
}

impl Route {
    /// A static route of the default metric and medium preference, which does not expire.
    pub fn new(prefix: Prefix, port: u16, next_hop: NextHop) -> Route {
        Route {
            prefix,
            port,
            next_hop,
            metric: DEFAULT_METRIC,
            preference: Preference::Medium,
            source: Source::Static,
            expires: None,
        }
    }

    /// Whether `other` is the same path: one prefix may hold several routes, told apart by
    /// port, next hop and metric (as Linux tells them apart).
    pub fn same_path(&self, other: &Route) -> bool {
        self.port == other.port && self.next_hop == other.next_hop && self.metric == other.metric
    }
}

/// What a lookup returns: the egress port and the next hop, with the gateway's link-layer
/// address when the routing table knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub port: u16,
    pub next_hop: NextHop,
    pub gateway_mac: Option<MacAddr>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
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
    fn preference_from_the_prf_field() {
        // RFC 4191 2.1: 01 high, 00 medium, 11 low, 10 reserved (taken as medium).
        assert_eq!(Preference::from_prf(0b01), Preference::High);
        assert_eq!(Preference::from_prf(0b00), Preference::Medium);
        assert_eq!(Preference::from_prf(0b11), Preference::Low);
        assert_eq!(Preference::from_prf(0b10), Preference::Medium);
        assert!(Preference::High > Preference::Medium && Preference::Medium > Preference::Low);
    }
}
