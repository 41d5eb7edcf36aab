//! The lookup structure: a direct-indexed root over the first 20 bits of the address, and
//! under each of its slots that holds longer prefixes a compressed multibit trie of 6-bit
//! strides in the manner of Poptrie (Asai and Ohara, SIGCOMM 2015).
//!
//! A trie node covers 6 bits of the address with two 64-bit maps: `vector` marks the slots
//! that lead to a child node, `leafvec` the slots where a run of equal leaves begins. The
//! children of a node lie next to each other from `base1`, its leaves from `base0`, so a
//! step is a shift, a bit test and a population count, and a node is 24 bytes whatever the
//! number of routes under it. Leaves are pushed down: every slot holds the answer for the
//! whole of the address space it covers, so a lookup never backtracks. The root and 18
//! strides cover the 128 bits exactly: a /48 takes 5 nodes, a /32 two.
//!
//! Why not a crate or DPDK's rte_fib6: the table is read by every packet, it must be
//! shared between cores without locks and replaced in parts while they read it, and its
//! memory must stay small at a full internet table (rte_fib6's 8-bit strides take a
//! kilobyte or more per group of 256 slots, most of them copies of one leaf).
//!
//! Each root slot's trie (a chunk) is built on its own from the prefixes inside that /20,
//! so a change rebuilds one chunk, and a new version of the table shares every other
//! chunk with the old one. The root itself is in pages of 4096 slots (a /8 each), shared
//! the same way: a version copies only the pages whose slots changed. Prefixes of 20 bits
//! or fewer live in the root slots themselves, as the fallback a lookup returns when the
//! chunk holds nothing more specific: a change of the default route repaints root slots
//! and rebuilds no chunk.
//!
//! A lookup is a chain of dependent loads, and past the caches each one misses:
//! [`Trie::lookup_many`] walks several addresses side by side, one step of each in turn,
//! so that their misses overlap.

use std::sync::Arc;

/// A leaf: 0 for no route, else a next-hop group's index plus one.
pub type Leaf = u32;

/// Bits resolved by the root table.
pub const ROOT_BITS: u32 = 20;
/// Bits of the root index that pick a page.
const PAGE_BITS: u32 = 8;
/// Root slots per page.
const PAGE_SLOTS: usize = 1 << (ROOT_BITS - PAGE_BITS);
/// Bits resolved by each trie node.
const STRIDE: u32 = 6;
/// Addresses [`Trie::lookup_many`] walks side by side.
pub const LANES: usize = 8;

/// One trie node: 6 bits of the address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Node {
    /// Bit v: slot v leads to a child node.
    vector: u64,
    /// Bit v: slot v is a leaf whose value differs from the previous leaf slot's.
    leafvec: u64,
    /// Index of the first child in the chunk's nodes.
    base1: u32,
    /// Index of the first leaf in the chunk's leaves.
    base0: u32,
}

/// The 6 bits of `key` at bit offset `off` (from the most significant).
#[inline(always)]
fn slot(key: u128, off: u32) -> u32 {
    (key >> (128 - STRIDE - off)) as u32 & 63
}

/// The index of `bit`'s leaf among a node's leaves: the runs that begin at or before it.
#[inline(always)]
fn leaf_index(node: &Node, bit: u64) -> u32 {
    // The slot's own run begins at or before it, so the count is at least one.
    node.base0 + (node.leafvec & (bit | (bit - 1))).count_ones() - 1
}

/// The index of `bit`'s child among a node's children.
#[inline(always)]
fn child_index(node: &Node, bit: u64) -> u32 {
    node.base1 + (node.vector & (bit - 1)).count_ones()
}

/// The trie under one root slot: every prefix longer than 20 bits inside that /20.
#[derive(Debug, Default)]
pub struct Chunk {
    nodes: Box<[Node]>,
    leaves: Box<[Leaf]>,
}

impl Chunk {
    /// Builds the trie of `prefixes`: (network address, length, leaf), sorted by address
    /// then length, all inside one /20 and longer than 20 bits.
    pub fn build(prefixes: &[(u128, u8, Leaf)]) -> Chunk {
        debug_assert!(
            prefixes
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
        debug_assert!(prefixes.iter().all(|p| u32::from(p.1) > ROOT_BITS));
        let mut b = Builder {
            nodes: vec![Node::default()],
            leaves: Vec::new(),
        };
        b.fill(0, ROOT_BITS, prefixes, 0);
        Chunk {
            nodes: b.nodes.into_boxed_slice(),
            leaves: b.leaves.into_boxed_slice(),
        }
    }

    /// The most specific leaf for `key`, 0 if no prefix of the chunk holds it.
    #[inline]
    pub fn lookup(&self, key: u128) -> Leaf {
        let mut node = self.nodes[0];
        // The bits still to resolve, at the top.
        let mut k = key << ROOT_BITS;
        loop {
            let bit = 1u64 << (k >> (128 - STRIDE)) as u32;
            if node.vector & bit == 0 {
                return self.leaves[leaf_index(&node, bit) as usize];
            }
            node = self.nodes[child_index(&node, bit) as usize];
            k <<= STRIDE;
        }
    }

    /// Bytes the chunk's arrays take.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.nodes) + std::mem::size_of_val(&*self.leaves)
    }
}

struct Builder {
    nodes: Vec<Node>,
    leaves: Vec<Leaf>,
}

impl Builder {
    /// Fills node `at`, which covers the 6 bits at offset `off`, from `prefixes` (all
    /// longer than `off` and inside the node's space, sorted), with `inherited` the leaf of
    /// the longest prefix that covers the whole node.
    fn fill(&mut self, at: usize, off: u32, prefixes: &[(u128, u8, Leaf)], inherited: Leaf) {
        let end = off + STRIDE;
        let mut leaf = [inherited; 64];
        let mut leaf_len = [0u8; 64];
        // Per slot, the range of `prefixes` that goes deeper. Prefixes are sorted by
        // address, so those of one slot are contiguous, and one that ends in this node
        // sorts before every deeper one of its first slot.
        let mut deep = [(0usize, 0usize); 64];
        let mut vector = 0u64;
        for (i, &(key, len, value)) in prefixes.iter().enumerate() {
            let v = slot(key, off) as usize;
            if u32::from(len) <= end {
                let span = 1usize << (end - u32::from(len));
                for s in v..v + span {
                    if len > leaf_len[s] {
                        leaf[s] = value;
                        leaf_len[s] = len;
                    }
                }
            } else {
                if vector & (1 << v) == 0 {
                    deep[v].0 = i;
                    vector |= 1 << v;
                }
                deep[v].1 = i + 1;
            }
        }

        let base1 = self.nodes.len() as u32;
        self.nodes.resize(
            self.nodes.len() + vector.count_ones() as usize,
            Node::default(),
        );
        let base0 = self.leaves.len() as u32;
        let mut leafvec = 0u64;
        let mut last: Option<Leaf> = None;
        for (v, &value) in leaf.iter().enumerate() {
            if vector & (1 << v) != 0 {
                continue;
            }
            if last != Some(value) {
                self.leaves.push(value);
                leafvec |= 1 << v;
                last = Some(value);
            }
        }
        self.nodes[at] = Node {
            vector,
            leafvec,
            base1,
            base0,
        };

        let mut child = base1 as usize;
        for (v, &(from, to)) in deep.iter().enumerate() {
            if vector & (1 << v) != 0 {
                self.fill(child, end, &prefixes[from..to], leaf[v]);
                child += 1;
            }
        }
    }
}

/// A root slot: the chunk of longer prefixes inside its /20, if any, and the leaf of the
/// longest prefix of 20 bits or fewer that covers it.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    pub chunk: Option<Arc<Chunk>>,
    pub fallback: Leaf,
}

type Page = Arc<[Slot]>;

/// The whole table: the root slots, in pages.
#[derive(Debug, Clone)]
pub struct Trie {
    pages: Box<[Page]>,
}

impl Default for Trie {
    fn default() -> Trie {
        let empty: Page = vec![Slot::default(); PAGE_SLOTS].into();
        Trie {
            pages: vec![empty; 1 << PAGE_BITS].into_boxed_slice(),
        }
    }
}

impl Trie {
    #[inline(always)]
    fn slot(&self, key: u128) -> &Slot {
        let page = &self.pages[(key >> (128 - PAGE_BITS)) as usize];
        &page[(key >> (128 - ROOT_BITS)) as usize & (PAGE_SLOTS - 1)]
    }

    /// The leaf of the longest prefix that holds `key`, 0 if none does.
    #[inline]
    pub fn lookup(&self, key: u128) -> Leaf {
        let slot = self.slot(key);
        if let Some(chunk) = &slot.chunk {
            let leaf = chunk.lookup(key);
            if leaf != 0 {
                return leaf;
            }
        }
        slot.fallback
    }

    /// [`Trie::lookup`] of every key, up to [`LANES`] at a time side by side.
    pub fn lookup_many(&self, keys: &[u128], leaves: &mut [Leaf]) {
        for (keys, leaves) in keys.chunks(LANES).zip(leaves.chunks_mut(LANES)) {
            self.lookup_lanes(keys, leaves);
        }
    }

    #[inline]
    fn lookup_lanes(&self, keys: &[u128], leaves: &mut [Leaf]) {
        let n = keys.len().min(leaves.len()).min(LANES);
        let mut chunk: [Option<&Chunk>; LANES] = [None; LANES];
        let mut node = [Node::default(); LANES];
        let mut k = [0u128; LANES];
        for i in 0..n {
            let slot = self.slot(keys[i]);
            leaves[i] = slot.fallback;
            if let Some(c) = slot.chunk.as_deref() {
                node[i] = c.nodes[0];
                chunk[i] = Some(c);
                k[i] = keys[i] << ROOT_BITS;
            }
        }
        // One step of each lane in turn: the loads of one round do not depend on each
        // other, so their misses are in flight together.
        let mut walking = chunk.iter().any(Option::is_some);
        while walking {
            walking = false;
            for i in 0..n {
                let Some(c) = chunk[i] else { continue };
                let bit = 1u64 << (k[i] >> (128 - STRIDE)) as u32;
                if node[i].vector & bit == 0 {
                    let leaf = c.leaves[leaf_index(&node[i], bit) as usize];
                    if leaf != 0 {
                        leaves[i] = leaf;
                    }
                    chunk[i] = None;
                } else {
                    node[i] = c.nodes[child_index(&node[i], bit) as usize];
                    k[i] <<= STRIDE;
                    walking = true;
                }
            }
        }
    }

    /// Replaces the chunk of root slot `index`.
    pub fn set_chunk(&mut self, index: usize, chunk: Option<Arc<Chunk>>) {
        let page = &mut self.pages[index >> (ROOT_BITS - PAGE_BITS)];
        make_mut(page)[index & (PAGE_SLOTS - 1)].chunk = chunk;
    }

    /// The chunk of root slot `index`.
    #[cfg(test)]
    pub fn chunk(&self, index: usize) -> Option<&Arc<Chunk>> {
        self.pages[index >> (ROOT_BITS - PAGE_BITS)][index & (PAGE_SLOTS - 1)]
            .chunk
            .as_ref()
    }

    /// Repaints every root slot's fallback from `short`: the prefixes of 20 bits or
    /// fewer, as (network address, length, leaf). Only the pages where a fallback changes
    /// are copied.
    pub fn paint_fallbacks(&mut self, short: &[(u128, u8, Leaf)]) {
        let mut by_len: Vec<&(u128, u8, Leaf)> = short.iter().collect();
        by_len.sort_unstable_by_key(|p| p.1);
        let mut want: Vec<Leaf> = vec![0; 1 << ROOT_BITS];
        for &&(key, len, leaf) in &by_len {
            let first = (key >> (128 - ROOT_BITS)) as usize;
            let span = 1usize << (ROOT_BITS - u32::from(len));
            want[first..first + span].fill(leaf);
        }
        for (page, want) in self.pages.iter_mut().zip(want.chunks(PAGE_SLOTS)) {
            if page.iter().zip(want).any(|(s, w)| s.fallback != *w) {
                for (s, w) in make_mut(page).iter_mut().zip(want) {
                    s.fallback = *w;
                }
            }
        }
    }

    /// Bytes the root pages and every chunk take, a page shared within the table counted
    /// once.
    pub fn bytes(&self) -> usize {
        let mut pages: Vec<*const Slot> = self.pages.iter().map(|p| p.as_ptr()).collect();
        pages.sort_unstable();
        pages.dedup();
        pages.len() * PAGE_SLOTS * std::mem::size_of::<Slot>()
            + std::mem::size_of_val(&*self.pages)
            + self
                .slots()
                .filter_map(|s| s.chunk.as_ref())
                .map(|c| c.bytes() + std::mem::size_of::<Chunk>())
                .sum::<usize>()
    }

    /// Root slots that hold a chunk.
    pub fn chunks(&self) -> usize {
        self.slots().filter(|s| s.chunk.is_some()).count()
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.pages.iter().flat_map(|p| p.iter())
    }
}

/// The page, made this table's own first if another version shares it.
fn make_mut(page: &mut Page) -> &mut [Slot] {
    if Arc::get_mut(page).is_none() {
        *page = page.iter().cloned().collect();
    }
    Arc::get_mut(page).expect("a page just copied has one holder")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Prefix;

    /// A table built straight from `(prefix, leaf)` pairs, as the routing table does it.
    fn trie(routes: &[(&str, Leaf)]) -> Trie {
        let mut all: Vec<(u128, u8, Leaf)> = routes
            .iter()
            .map(|(p, l)| {
                let p: Prefix = p.parse().unwrap();
                (u128::from(p.network().addr), p.len, *l)
            })
            .collect();
        all.sort_unstable();
        all.dedup_by_key(|p| (p.0, p.1));
        build(&all)
    }

    fn build(all: &[(u128, u8, Leaf)]) -> Trie {
        let mut t = Trie::default();
        let short: Vec<_> = all
            .iter()
            .copied()
            .filter(|p| u32::from(p.1) <= ROOT_BITS)
            .collect();
        t.paint_fallbacks(&short);
        let mut long: Vec<_> = all
            .iter()
            .copied()
            .filter(|p| u32::from(p.1) > ROOT_BITS)
            .collect();
        long.sort_unstable();
        let root = |k: u128| (k >> (128 - ROOT_BITS)) as usize;
        for group in long.chunk_by(|a, b| root(a.0) == root(b.0)) {
            t.set_chunk(root(group[0].0), Some(Arc::new(Chunk::build(group))));
        }
        t
    }

    fn at(t: &Trie, a: &str) -> Leaf {
        t.lookup(u128::from(a.parse::<std::net::Ipv6Addr>().unwrap()))
    }

    #[test]
    fn node_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 24);
    }

    #[test]
    fn strides_cover_the_address() {
        assert_eq!((128 - ROOT_BITS) % STRIDE, 0);
        assert_eq!(slot(u128::MAX, 122), 63);
        assert_eq!(slot(1u128 << 107, 20), 0b100000);
        assert_eq!(slot(1, 122), 1);
    }

    #[test]
    fn longest_match_at_every_depth() {
        let t = trie(&[
            ("::/0", 1),
            ("2001::/16", 2),
            ("2001:1000::/20", 8),
            ("2001:db8::/32", 3),
            ("2001:db8:5::/48", 4),
            ("2001:db8:5::7/128", 5),
            ("2001:db8:5::6/127", 6),
            ("2001:db8:5:0:8000::/65", 7),
        ]);
        assert_eq!(at(&t, "2001:db8:5::7"), 5);
        assert_eq!(at(&t, "2001:db8:5::6"), 6);
        assert_eq!(at(&t, "2001:db8:5::8"), 4);
        assert_eq!(at(&t, "2001:db8:5:0:8000::1"), 7);
        assert_eq!(at(&t, "2001:db8:6::1"), 3);
        assert_eq!(at(&t, "2001:db9::1"), 2);
        assert_eq!(at(&t, "2001:1db8::1"), 8);
        assert_eq!(at(&t, "2002::1"), 1);
        assert_eq!(at(&t, "::"), 1);
    }

    #[test]
    fn an_empty_table_answers_nothing() {
        let t = Trie::default();
        assert_eq!(at(&t, "2001:db8::1"), 0);
        let t = trie(&[("2001:db8::/32", 9)]);
        assert_eq!(at(&t, "2001:db9::1"), 0);
        assert_eq!(at(&t, "2001:db8::1"), 9);
    }

    #[test]
    fn leaf_runs_are_shared() {
        // 64 /26s inside one /20, alternating two leaves in runs of four.
        let routes: Vec<(u128, u8, Leaf)> = (0..64u128)
            .map(|i| {
                (
                    (0x20010u128 << 108) | (i << 102),
                    26,
                    1 + (i / 4 % 2) as Leaf,
                )
            })
            .collect();
        let c = Chunk::build(&routes);
        assert_eq!(c.leaves.len(), 16);
        assert_eq!(c.nodes.len(), 1);
        for (key, _, leaf) in &routes {
            assert_eq!(c.lookup(*key | 0xffff), *leaf);
        }
    }

    /// The longest prefix in `all` holding `key`, by a scan.
    fn reference(all: &[(u128, u8, Leaf)], key: u128) -> Leaf {
        all.iter()
            .filter(|(net, len, _)| key & Prefix::mask(*len) == *net)
            .max_by_key(|p| p.1)
            .map_or(0, |p| p.2)
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_a_linear_scan(
            raw in proptest::collection::vec((proptest::num::u128::ANY, 0u8..=128, 1u32..1000), 1..60),
            probes in proptest::collection::vec(proptest::num::u128::ANY, 1..60),
            // Most random prefixes share no bits; squeezing them under a few /20s makes
            // them nest and overlap as real tables do.
            squeeze in proptest::bool::ANY,
        ) {
            let mut all: Vec<(u128, u8, Leaf)> = raw
                .iter()
                .map(|&(a, len, leaf)| {
                    let a = if squeeze { (0x2001u128 << 112) | (a >> 18) } else { a };
                    (a & Prefix::mask(len), len, leaf)
                })
                .collect();
            all.sort_unstable();
            all.dedup_by_key(|p| (p.0, p.1));
            let t = build(&all);
            let keys = probes.iter().copied().chain(all.iter().flat_map(|p| {
                [p.0, p.0 | !Prefix::mask(p.1), p.0.wrapping_sub(1), p.0 | (!Prefix::mask(p.1) >> 1)]
            }));
            let keys: Vec<u128> = keys
                .map(|k| if squeeze && k >> 112 != 0x2001 { (0x2001u128 << 112) | (k >> 18) } else { k })
                .collect();
            for &k in &keys {
                proptest::prop_assert_eq!(t.lookup(k), reference(&all, k), "key {:x}", k);
            }
            // Side by side, in groups of every size, the same answers.
            let mut many = vec![u32::MAX; keys.len()];
            t.lookup_many(&keys, &mut many);
            for (k, leaf) in keys.iter().zip(&many) {
                proptest::prop_assert_eq!(*leaf, reference(&all, *k), "key {:x} side by side", k);
            }
        }
    }
}
