//! The forwarding table: what the workers look destinations up in, and how the management
//! thread changes it while they do.
//!
//! The management thread owns the routing table ([`Rib`]): every prefix with its set of
//! routes, next-hop groups, and the reachability of gateways. It applies changes in batches
//! and publishes each result as an immutable [`Fib`] through a [`FibCell`]. A worker holds
//! a [`FibReader`]: once per burst it reads one atomic version counter, and only when that
//! moved does it take the new snapshot. Readers never write shared state per packet and
//! never wait for the writer.
//!
//! Old snapshots are freed by the management thread alone, once no reader holds them (it
//! keeps each retired one until its reference count shows it is the last holder), so a
//! worker never pays for freeing a million-route table on its packet path.
//!
//! A prefix's routes become one next-hop group: the paths that carry traffic after
//! selection (best metric, probably reachable next hops first, then the highest RFC 4191
//! preference). Prefixes with the same routes share a group, so a million prefixes
//! through two upstream routers are two groups, and a change of reachability republishes
//! the groups without rebuilding any part of the trie.

mod rib;
mod trie;

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::route::Resolved;
pub use rib::{PathText, Reachability, Rib, RibError, RouteLookup};
pub use trie::{LANES, Leaf};

/// The paths each next-hop group selects, flattened.
#[derive(Debug, Default)]
struct Groups {
    /// Per group id: its first path in `paths` and how many it has (at least one).
    spans: Vec<(u32, u32)>,
    paths: Vec<Resolved>,
}

/// One version of the forwarding table, as the workers read it.
#[derive(Debug)]
pub struct Fib {
    trie: trie::Trie,
    groups: Arc<Groups>,
    /// The key of the flow hash, drawn when the routing table is made, so that routers in
    /// a row do not all split flows alike.
    seed: u64,
    version: u64,
    /// Prefixes in the table.
    prefixes: usize,
}

/// Prefixes from which a burst's lookups are walked together in prefetched rounds
/// ([`Fib::lookup_many`]): a smaller table stays in the caches, where setting the rounds
/// up costs more than the misses they would overlap (with one route, 10 ns of the
/// forwarding cost per packet, `benches/mpps.py`).
pub const ROUNDS_FROM_PREFIXES: usize = 10_000;

impl Fib {
    /// A table with no route.
    pub fn empty() -> Fib {
        Fib {
            trie: trie::Trie::default(),
            groups: Arc::default(),
            seed: 0,
            version: 0,
            prefixes: 0,
        }
    }

    /// Whether a burst's lookups should be walked together ([`Fib::lookup_many`]) rather
    /// than one packet at a time: whether the table is large enough to miss the caches.
    #[inline]
    pub fn walk_in_rounds(&self) -> bool {
        self.prefixes >= ROUNDS_FROM_PREFIXES
    }

    /// The paths of the longest prefix that holds `dst`.
    #[inline]
    pub fn lookup(&self, dst: &Ipv6Addr) -> Option<Choices<'_>> {
        self.choices(self.trie.lookup(u128::from(*dst)))
    }

    /// The leaf of the longest prefix that holds `dst`, for [`Fib::choices`].
    #[inline]
    pub fn leaf(&self, dst: &Ipv6Addr) -> Leaf {
        self.trie.lookup(u128::from(*dst))
    }

    /// The leaf of each destination, for [`Fib::choices`]: a burst looked up side by
    /// side, so that the misses of its lookups overlap.
    #[inline]
    pub fn lookup_many(&self, dsts: &[u128], leaves: &mut [Leaf]) {
        self.trie.lookup_many(dsts, leaves);
    }

    /// The paths a leaf of this table names; `None` for no route.
    #[inline]
    pub fn choices(&self, leaf: Leaf) -> Option<Choices<'_>> {
        if leaf == 0 {
            return None;
        }
        let &(first, count) = self.groups.spans.get(leaf as usize - 1)?;
        if count == 0 {
            return None;
        }
        Some(Choices {
            paths: &self.groups.paths[first as usize..(first + count) as usize],
            seed: self.seed,
        })
    }

    /// The version: 1 for the first table published, one more for each after it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Bytes the table takes: the trie's root and chunks, and the groups.
    pub fn bytes(&self) -> usize {
        self.trie.bytes()
            + self.groups.spans.len() * std::mem::size_of::<(u32, u32)>()
            + self.groups.paths.len() * std::mem::size_of::<Resolved>()
    }

    /// Sub-tries: /26s that hold longer prefixes.
    pub fn subs(&self) -> usize {
        self.trie.subs()
    }
}

/// The paths a lookup found: one, or several among which flows are spread.
#[derive(Debug, Clone, Copy)]
pub struct Choices<'a> {
    paths: &'a [Resolved],
    seed: u64,
}

impl<'a> Choices<'a> {
    /// The path for a packet. `flow` hashes the packet's flow with the key it is given
    /// (see [`flow_hash`]); it is called only when there are several paths.
    #[inline]
    pub fn pick(&self, flow: impl FnOnce(u64) -> u64) -> &'a Resolved {
        if self.paths.len() == 1 {
            return &self.paths[0];
        }
        // The high 32 bits of the hash scaled to the number of paths: no division, and
        // each path gets an equal share of the hash space, to within one part in 2^32.
        let h = flow(self.seed) >> 32;
        &self.paths[((h * self.paths.len() as u64) >> 32) as usize]
    }

    /// Every path.
    pub fn all(&self) -> &'a [Resolved] {
        self.paths
    }
}

/// The hash that keeps a flow on one path: source, destination, flow label, next header
/// and the transport ports (0 when the packet has none the router reads).
#[inline]
pub fn flow_hash(
    seed: u64,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    flow_label: u32,
    next_header: u8,
    ports: u32,
) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let (s, d) = (u128::from(*src), u128::from(*dst));
    let words = [
        (s >> 64) as u64,
        s as u64,
        (d >> 64) as u64,
        d as u64,
        u64::from(flow_label) << 40 | u64::from(next_header) << 32 | u64::from(ports),
    ];
    let mut h = seed;
    for w in words {
        h = (h ^ w).wrapping_mul(K);
        h ^= h >> 29;
    }
    h
}

/// Where the management thread publishes forwarding tables for the workers.
#[derive(Debug)]
pub struct FibCell {
    current: ArcSwap<Fib>,
    /// Moves after each publication; what readers poll.
    version: AtomicU64,
}

impl FibCell {
    pub fn new(fib: Arc<Fib>) -> FibCell {
        FibCell {
            version: AtomicU64::new(fib.version),
            current: ArcSwap::new(fib),
        }
    }

    /// The table published last.
    pub fn load(&self) -> Arc<Fib> {
        self.current.load_full()
    }

    /// Publishes `fib`; returns the table it replaces.
    fn store(&self, fib: Arc<Fib>) -> Arc<Fib> {
        let v = fib.version;
        let old = self.current.swap(fib);
        // Release: a reader that sees the new version then loads the new table (or a
        // newer one).
        self.version.store(v, Ordering::Release);
        old
    }
}

/// A worker's view of the forwarding table.
#[derive(Debug)]
pub struct FibReader {
    cell: Arc<FibCell>,
    seen: u64,
    fib: Arc<Fib>,
}

impl FibReader {
    pub fn new(cell: Arc<FibCell>) -> FibReader {
        let seen = cell.version.load(Ordering::Acquire);
        let fib = cell.load();
        FibReader { cell, seen, fib }
    }

    /// A reader of a table that never changes, for tests and benchmarks.
    pub fn fixed(fib: Fib) -> FibReader {
        FibReader::new(Arc::new(FibCell::new(Arc::new(fib))))
    }

    /// Takes the newest table if one was published since the last call: one atomic load
    /// when nothing changed.
    #[inline]
    pub fn refresh(&mut self) {
        let v = self.cell.version.load(Ordering::Acquire);
        if v != self.seen {
            self.fib = self.cell.load();
            self.seen = v;
        }
    }

    /// The table this reader holds.
    #[inline]
    pub fn fib(&self) -> &Fib {
        &self.fib
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::NextHop;

    fn path(port: u16) -> Resolved {
        Resolved {
            port,
            next_hop: NextHop::OnLink,
            gateway_mac: None,
        }
    }

    #[test]
    fn one_path_needs_no_hash() {
        let paths = [path(3)];
        let c = Choices {
            paths: &paths,
            seed: 1,
        };
        assert_eq!(c.pick(|_| panic!("hashed a single path")).port, 3);
    }

    #[test]
    fn flows_spread_evenly_and_stick() {
        let paths = [path(0), path(1), path(2)];
        let c = Choices {
            paths: &paths,
            seed: 77,
        };
        let src: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8:9::1".parse().unwrap();
        let mut count = [0u32; 3];
        for port in 0..3000u32 {
            let p = c.pick(|k| flow_hash(k, &src, &dst, 0, 17, 1000 << 16 | port));
            let again = c.pick(|k| flow_hash(k, &src, &dst, 0, 17, 1000 << 16 | port));
            assert_eq!(p.port, again.port);
            count[usize::from(p.port)] += 1;
        }
        // 1000 each expected; a fair hash stays well within 15 %.
        assert!(count.iter().all(|&n| (850..1150).contains(&n)), "{count:?}");
    }

    #[test]
    fn readers_see_a_new_table_at_refresh() {
        let cell = Arc::new(FibCell::new(Arc::new(Fib::empty())));
        let mut r = FibReader::new(Arc::clone(&cell));
        assert_eq!(r.fib().version(), 0);
        let mut next = Fib::empty();
        next.version = 1;
        let old = cell.store(Arc::new(next));
        assert_eq!(r.fib().version(), 0);
        // The reader still holds the old table, so it is not the last holder.
        assert_eq!(Arc::strong_count(&old), 2);
        r.refresh();
        assert_eq!(r.fib().version(), 1);
        assert_eq!(Arc::strong_count(&old), 1);
    }
}
