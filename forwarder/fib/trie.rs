//! The lookup structure: a direct-indexed root over the first 16 bits of the address, and
//! under each of its slots that holds longer prefixes a compressed multibit trie of 6-bit
//! strides in the manner of Poptrie (Asai and Ohara, SIGCOMM 2015).
//!
//! A trie node covers 6 bits of the address with two 64-bit maps: `vector` marks the slots
//! that lead to a child node, `leafvec` the slots where a run of equal leaves begins. The
//! children of a node lie next to each other from `base1`, its leaves from `base0`, so a
//! step is a shift, a bit test and a population count, and a node is 24 bytes whatever the
//! number of routes under it. Leaves are pushed down: every slot holds the answer for the
//! whole of the address space it covers, so a lookup never backtracks.
//!
//! Why not a crate or DPDK's rte_fib6: the table is read by every packet, it must be
//! shared between cores without locks and replaced in parts while they read it, and its
//! memory must stay small at a full internet table (rte_fib6's 8-bit strides take a
//! kilobyte or more per group of 256 slots, most of them copies of one leaf).
//!
//! Each root slot's trie (a chunk) is built on its own from the prefixes inside that /16, so
//! a change rebuilds one chunk, and a new version of the table shares every other chunk
//! with the old one. Prefixes of 16 bits or fewer live in the root slots themselves, as the
//! fallback a lookup returns when the chunk holds nothing more specific: a change of the
//! default route repaints root slots and rebuilds no chunk.
//!
//! The address is read as 130 bits, the last two zero, so that the root and 19 strides of
//! 6 bits cover it exactly; a /128 then spans four slots of the last stride.

use std::sync::Arc;

/// A leaf: 0 for no route, else a next-hop group's index plus one.
pub type Leaf = u32;

/// Bits resolved by the root table.
pub const ROOT_BITS: u32 = 16;
/// Slots in the root table.
pub const ROOT_SLOTS: usize = 1 << ROOT_BITS;
/// Bits resolved by each trie node.
const STRIDE: u32 = 6;

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

/// The 6 bits of `key` at bit offset `off` (from the most significant), of the address
/// followed by two zero bits.
#[inline(always)]
fn slot(key: u128, off: u32) -> u32 {
    if off + STRIDE <= 128 {
        (key >> (128 - STRIDE - off)) as u32 & 63
    } else {
        (key << (off + STRIDE - 128)) as u32 & 63
    }
}

/// The trie under one root slot: every prefix longer than 16 bits inside that /16.
#[derive(Debug, Default)]
pub struct Chunk {
    nodes: Box<[Node]>,
    leaves: Box<[Leaf]>,
}

impl Chunk {
    /// Builds the trie of `prefixes`: (network address, length, leaf), sorted by address
    /// then length, all inside one /16 and longer than 16 bits.
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
        let mut off = ROOT_BITS;
        loop {
            let bit = 1u64 << slot(key, off);
            if node.vector & bit == 0 {
                // The slot's own run begins at or before it, so the count is at least one.
                let i = node.base0 + (node.leafvec & (bit | (bit - 1))).count_ones() - 1;
                return self.leaves[i as usize];
            }
            let i = node.base1 + (node.vector & (bit - 1)).count_ones();
            node = self.nodes[i as usize];
            off += STRIDE;
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

/// A root slot: the chunk of longer prefixes inside its /16, if any, and the leaf of the
/// longest prefix of 16 bits or fewer that covers it.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    pub chunk: Option<Arc<Chunk>>,
    pub fallback: Leaf,
}

/// The whole table: the root slots.
#[derive(Debug, Clone)]
pub struct Trie {
    slots: Box<[Slot]>,
}

impl Default for Trie {
    fn default() -> Trie {
        Trie {
            slots: vec![Slot::default(); ROOT_SLOTS].into_boxed_slice(),
        }
    }
}

impl Trie {
    /// The leaf of the longest prefix that holds `key`, 0 if none does.
    #[inline]
    pub fn lookup(&self, key: u128) -> Leaf {
        let slot = &self.slots[(key >> (128 - ROOT_BITS)) as usize];
        if let Some(chunk) = &slot.chunk {
            let leaf = chunk.lookup(key);
            if leaf != 0 {
                return leaf;
            }
        }
        slot.fallback
    }

    /// Replaces the chunk of root slot `index`.
    pub fn set_chunk(&mut self, index: usize, chunk: Option<Arc<Chunk>>) {
        self.slots[index].chunk = chunk;
    }

    /// The chunk of root slot `index`.
    #[cfg(test)]
    pub fn chunk(&self, index: usize) -> Option<&Arc<Chunk>> {
        self.slots[index].chunk.as_ref()
    }

    /// Repaints every root slot's fallback from `short`: the prefixes of 16 bits or
    /// fewer, as (network address, length, leaf).
    pub fn paint_fallbacks(&mut self, short: &[(u128, u8, Leaf)]) {
        let mut by_len: Vec<&(u128, u8, Leaf)> = short.iter().collect();
        by_len.sort_unstable_by_key(|p| p.1);
        for s in self.slots.iter_mut() {
            s.fallback = 0;
        }
        for &&(key, len, leaf) in &by_len {
            let first = (key >> (128 - ROOT_BITS)) as usize;
            let span = 1usize << (ROOT_BITS - u32::from(len));
            for s in &mut self.slots[first..first + span] {
                s.fallback = leaf;
            }
        }
    }

    /// Bytes the root and every chunk take (a chunk shared with another version counted
    /// here in full).
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
            + self
                .slots
                .iter()
                .filter_map(|s| s.chunk.as_ref())
                .map(|c| c.bytes() + std::mem::size_of::<Chunk>())
                .sum::<usize>()
    }

    /// Root slots that hold a chunk.
    pub fn chunks(&self) -> usize {
        self.slots.iter().filter(|s| s.chunk.is_some()).count()
    }
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
        for group in long.chunk_by(|a, b| a.0 >> 112 == b.0 >> 112) {
            t.set_chunk(
                (group[0].0 >> 112) as usize,
                Some(Arc::new(Chunk::build(group))),
            );
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
    fn slots_read_the_padded_address() {
        let key = u128::MAX;
        assert_eq!(slot(key, 16), 63);
        assert_eq!(slot(key, 118), 63);
        assert_eq!(slot(key, 124), 0b111100);
        assert_eq!(slot(1u128 << 111, 16), 0b100000);
    }

    #[test]
    fn longest_match_at_every_depth() {
        let t = trie(&[
            ("::/0", 1),
            ("2001::/16", 2),
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
        // 64 /22s inside one /16, alternating two leaves in runs of four.
        let routes: Vec<(u128, u8, Leaf)> = (0..64u128)
            .map(|i| {
                (
                    (0x2001u128 << 112) | (i << 106),
                    22,
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
            // Most random prefixes share no bits; squeezing them under a few /16s makes
            // them nest and overlap as real tables do.
            squeeze in proptest::bool::ANY,
        ) {
            let mut all: Vec<(u128, u8, Leaf)> = raw
                .iter()
                .map(|&(a, len, leaf)| {
                    let a = if squeeze { (0x2001u128 << 112) | (a >> 20) } else { a };
                    (a & Prefix::mask(len), len, leaf)
                })
                .collect();
            all.sort_unstable();
            all.dedup_by_key(|p| (p.0, p.1));
            let t = build(&all);
            let keys = probes.iter().copied().chain(all.iter().flat_map(|p| {
                [p.0, p.0 | !Prefix::mask(p.1), p.0.wrapping_sub(1), p.0 | (!Prefix::mask(p.1) >> 1)]
            }));
            for k in keys {
                let k = if squeeze && k >> 112 != 0x2001 { (0x2001u128 << 112) | (k >> 20) } else { k };
                proptest::prop_assert_eq!(t.lookup(k), reference(&all, k), "key {:x}", k);
            }
        }
    }
}
