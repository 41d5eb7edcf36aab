//! Neighbors: what the router knows of the nodes on its links.
//!
//! [`NeighborTable`] holds the static entries of the configuration, built once and then
//! only read by every worker. Every other neighbor is Neighbor Discovery's: its entry
//! lives in the [`cache`] of exactly one worker core, its owner (chosen by a hash of port
//! and address), which alone changes it, on its own timer ([`wheel`]). The other cores
//! forward with a [`NeighborView`]: their copy of each entry, as its owner published it
//! through the [`Exchange`], read with a plain hash lookup. What a core learns about an
//! entry it does not own (an advertisement, a solicitation's source address, a packet
//! waiting for resolution, a first use of a STALE entry) goes to the owner's inbox.

pub mod cache;
pub mod dad;
pub mod wheel;

use std::hash::{BuildHasher, Hash};
use std::net::Ipv6Addr;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_queue::ArrayQueue;
use rustc_hash::{FxBuildHasher, FxHashMap};

use crate::wire::MacAddr;
use cache::{Advert, Listed, Source, State};

/// What a core learned about a neighbor entry, for the entry's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A valid Neighbor Advertisement came in on `port`.
    Advert { port: u16, advert: Advert },
    /// A neighbor gave its link-layer address in a Source Link-layer Address option.
    Source {
        port: u16,
        addr: Ipv6Addr,
        lladdr: MacAddr,
        from: Source,
    },
    /// A packet went out through the copy of a STALE entry.
    Used { port: u16, addr: Ipv6Addr },
    /// A valid Router Solicitation came in on `port`, which advertises: not about a
    /// neighbor entry, but for the worker that sends the advertisements.
    RouterSolicit { port: u16 },
    /// Another node probes for, or holds, `addr`, which the port is probing for itself
    /// (RFC 4862 5.4.3, 5.4.4): for the management thread.
    Duplicate { port: u16, addr: Ipv6Addr },
}

impl Event {
    /// The entry the event is about.
    pub fn key(&self) -> (u16, Ipv6Addr) {
        match *self {
            Event::Advert { port, advert } => (port, advert.target),
            Event::Source { port, addr, .. } | Event::Used { port, addr } => (port, addr),
            Event::RouterSolicit { port } => (port, Ipv6Addr::UNSPECIFIED),
            Event::Duplicate { port, addr } => (port, addr),
        }
    }
}

/// What goes between cores: packets and events to an entry's owner, and an owner's
/// changes to the copies.
#[derive(Debug)]
pub enum Message<P> {
    /// A packet to `addr` on `port` that needs the entry's owner to resolve it.
    Resolve {
        port: u16,
        addr: Ipv6Addr,
        packet: P,
    },
    Event(Event),
    /// An entry changed; see [`cache::Action::Publish`].
    Publish {
        port: u16,
        addr: Ipv6Addr,
        lladdr: MacAddr,
        state: State,
        reachable_until: u64,
    },
    /// An entry was freed.
    Forget {
        port: u16,
        addr: Ipv6Addr,
    },
    /// Free the entries of `port` (every port if `None`), or only that of `addr`.
    Flush {
        port: Option<u16>,
        addr: Option<Ipv6Addr>,
    },
    /// Send `count` Duplicate Address Detection probes for `addr` out of `port`.
    Probe {
        port: u16,
        addr: Ipv6Addr,
        count: u8,
    },
}

/// A neighbor's reachability, for the management thread to give the routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReachabilityChange {
    pub port: u16,
    pub addr: Ipv6Addr,
    pub reachability: Reachability,
    pub router: bool,
}

/// A Router Advertisement of a router on an upstream port, for the routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterReport {
    pub port: u16,
    pub router: Ipv6Addr,
    pub advert: crate::wire::nd::ReceivedAdvert,
}

/// A core's list of its neighbor entries, made when the management thread asks.
#[derive(Debug)]
pub struct Listing {
    pub core: usize,
    /// The request it answers.
    pub asked: u64,
    /// A part of the core's entries; the last part says so.
    pub entries: Vec<Listed>,
    pub last: bool,
}

/// The cores' inboxes, one each, and the management thread's.
pub struct Exchange<P> {
    inboxes: Vec<ArrayQueue<Message<P>>>,
    routing: ArrayQueue<ReachabilityChange>,
    routers: ArrayQueue<RouterReport>,
    /// The latest listing of entries the management thread asked for, and the answers.
    asked: AtomicU64,
    listings: ArrayQueue<Listing>,
    /// Addresses being probed that another node turned out to want or hold.
    duplicates: ArrayQueue<(u16, Ipv6Addr)>,
    hasher: FxBuildHasher,
}

impl<P> Exchange<P> {
    /// Inboxes for `cores` worker cores, each holding up to `capacity` messages.
    pub fn new(cores: usize, capacity: usize) -> Exchange<P> {
        Exchange {
            inboxes: (0..cores.max(1))
                .map(|_| ArrayQueue::new(capacity.max(1)))
                .collect(),
            routing: ArrayQueue::new(capacity.max(1)),
            routers: ArrayQueue::new(256),
            asked: AtomicU64::new(0),
            listings: ArrayQueue::new(cores.max(1) * 64),
            duplicates: ArrayQueue::new(64),
            hasher: FxBuildHasher,
        }
    }

    pub fn cores(&self) -> usize {
        self.inboxes.len()
    }

    /// The core that owns the entry of `addr` on `port`.
    pub fn owner(&self, port: u16, addr: &Ipv6Addr) -> usize {
        let mut h = self.hasher.build_hasher();
        (port, addr).hash(&mut h);
        (std::hash::Hasher::finish(&h) % self.inboxes.len() as u64) as usize
    }

    /// Puts `message` in core `to`'s inbox; gives it back if the inbox is full.
    pub fn send(&self, to: usize, message: Message<P>) -> Result<(), Message<P>> {
        self.inboxes[to].push(message)
    }

    /// Whether core `core`'s inbox has no room.
    pub fn is_full(&self, core: usize) -> bool {
        self.inboxes[core].is_full()
    }

    /// The next message in core `core`'s inbox.
    pub fn receive(&self, core: usize) -> Option<Message<P>> {
        self.inboxes[core].pop()
    }

    /// Tells the management thread of a change of reachability; `false` if its inbox is
    /// full.
    pub fn report(&self, change: ReachabilityChange) -> bool {
        self.routing.push(change).is_ok()
    }

    /// The next change of reachability, for the management thread.
    pub fn reachability(&self) -> Option<ReachabilityChange> {
        self.routing.pop()
    }

    /// Hands a router's advertisement to the management thread; `false` if its inbox is
    /// full.
    pub fn report_router(&self, report: RouterReport) -> bool {
        self.routers.push(report).is_ok()
    }

    /// The next router's advertisement, for the management thread.
    pub fn router_advert(&self) -> Option<RouterReport> {
        self.routers.pop()
    }

    /// Tells the management thread that another node wants or holds `addr`, which `port`
    /// probes for; `false` if its inbox is full.
    pub fn report_duplicate(&self, port: u16, addr: Ipv6Addr) -> bool {
        self.duplicates.push((port, addr)).is_ok()
    }

    /// The next address found duplicate, for the management thread.
    pub fn duplicate(&self) -> Option<(u16, Ipv6Addr)> {
        self.duplicates.pop()
    }

    /// Asks every core to list its entries; returns the request's number, which the
    /// answers carry.
    pub fn ask_listing(&self) -> u64 {
        self.asked.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The latest listing asked for: a core whose last answer was to an older one is to
    /// answer this one.
    pub fn listing_asked(&self) -> u64 {
        self.asked.load(Ordering::Relaxed)
    }

    /// A core's answer; `false` if the answers' queue is full (the asker gave up on
    /// older ones and has not taken them).
    pub fn give_listing(&self, listing: Listing) -> bool {
        self.listings.push(listing).is_ok()
    }

    /// The next core's answer, for the management thread.
    pub fn take_listing(&self) -> Option<Listing> {
        self.listings.pop()
    }
}

/// What a core's copy says to do with a packet to a neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Send it to this link-layer address.
    Send(MacAddr),
    /// Send it, and tell the owner: the entry is STALE and this is its first use here.
    SendAndTell(MacAddr),
    /// The address is not resolved: the owner is to resolve it.
    Resolve,
}

#[derive(Debug, Clone, Copy)]
struct Copied {
    lladdr: MacAddr,
    state: State,
    reachable_until: u64,
    /// Whether a use of it as STALE was told to the owner since it was published.
    told: bool,
}

/// One core's copies of the neighbor entries, as their owners published them.
#[derive(Debug, Default)]
pub struct NeighborView {
    copies: FxHashMap<(u16, Ipv6Addr), Copied>,
}

impl NeighborView {
    /// What to do with a packet to `addr` on `port` at time `now`.
    #[inline]
    pub fn get(&mut self, port: u16, addr: &Ipv6Addr, now: u64) -> Seen {
        let Some(c) = self.copies.get_mut(&(port, *addr)) else {
            return Seen::Resolve;
        };
        match c.state {
            State::Incomplete | State::Failed => Seen::Resolve,
            State::Static | State::Delay | State::Probe => Seen::Send(c.lladdr),
            State::Reachable if now < c.reachable_until => Seen::Send(c.lladdr),
            State::Reachable | State::Stale if c.told => Seen::Send(c.lladdr),
            State::Reachable | State::Stale => {
                c.told = true;
                Seen::SendAndTell(c.lladdr)
            }
        }
    }

    /// Takes what an owner published of an entry.
    pub fn publish(
        &mut self,
        port: u16,
        addr: Ipv6Addr,
        lladdr: MacAddr,
        state: State,
        reachable_until: u64,
    ) {
        self.copies.insert(
            (port, addr),
            Copied {
                lladdr,
                state,
                reachable_until,
                told: false,
            },
        );
    }

    pub fn forget(&mut self, port: u16, addr: &Ipv6Addr) {
        self.copies.remove(&(port, *addr));
    }

    /// The link-layer address and state of the copy of `addr` on `port` at time `now`.
    pub fn peek(&self, port: u16, addr: &Ipv6Addr, now: u64) -> Option<(MacAddr, State)> {
        self.copies.get(&(port, *addr)).map(|c| {
            let state = match c.state {
                State::Reachable if now >= c.reachable_until => State::Stale,
                s => s,
            };
            (c.lladdr, state)
        })
    }

    pub fn len(&self) -> usize {
        self.copies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.copies.is_empty()
    }
}

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

    /// Every entry.
    pub fn iter(&self) -> impl Iterator<Item = Neighbor> + '_ {
        self.entries
            .iter()
            .map(|(&(port, addr), &lladdr)| Neighbor { port, addr, lladdr })
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
