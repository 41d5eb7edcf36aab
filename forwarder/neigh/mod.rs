//! Neighbors: what the router knows of the nodes on its links.
//!
//! [`NeighborTable`] holds the static entries of the configuration, built once and then
//! only read by every worker; it is what the packet path resolves next hops with today.
//! [`cache`] is Neighbor Discovery's per-core Neighbor Cache, its state machine and its
//! timers ([`wheel`]), which is not yet joined to the packet path.

pub mod cache;
pub mod wheel;

use std::net::Ipv6Addr;

use rustc_hash::FxHashMap;

use crate::wire::MacAddr;

/// What the routing table knows of a gateway's reachability, as Neighbor Discovery
/// reports it (RFC 4861 section 6.3.6 and RFC 4191 section 3.2 rank routers by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reachability {
    /// No neighbor entry, or one still INCOMPLETE: reachability unknown.
    #[default]
    Unknown,
    /// REACHABLE, STALE, DELAY or PROBE, or a static entry: probably reachable.
    Probable,
    /// Address resolution or unreachability detection gave up on it.
    Unreachable,
}

/// One configured neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbor {
    pub port: u16,
    pub addr: Ipv6Addr,
    pub lladdr: MacAddr,
}

/// Neighbors by (port, address).
#[derive(Debug, Default)]
pub struct NeighborTable {
    entries: FxHashMap<(u16, Ipv6Addr), MacAddr>,
}

impl NeighborTable {
    pub fn new(neighbors: &[Neighbor]) -> NeighborTable {
        NeighborTable {
            entries: neighbors
                .iter()
                .map(|n| ((n.port, n.addr), n.lladdr))
                .collect(),
        }
    }

    /// The link-layer address of `addr` on `port`.
    #[inline]
    pub fn lookup(&self, port: u16, addr: &Ipv6Addr) -> Option<MacAddr> {
        self.entries.get(&(port, *addr)).copied()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_per_port() {
        let a: Ipv6Addr = "fe80::1".parse().unwrap();
        let m: MacAddr = "02:00:00:00:00:01".parse().unwrap();
        let t = NeighborTable::new(&[Neighbor {
            port: 1,
            addr: a,
            lladdr: m,
        }]);
        assert_eq!(t.lookup(1, &a), Some(m));
        assert_eq!(t.lookup(0, &a), None);
        assert_eq!(t.len(), 1);
    }
}
