//! The lookup structure: a direct-indexed root over the first 20 bits of the address, and
//! under each of its slots that holds longer prefixes a compressed multibit trie of 6-bit
//! strides in the manner of Poptrie (Asai and Ohara, SIGCOMM 2015).
//!
//! A trie node covers 6 bits of the address with two 64-bit maps: `vector` marks the slots
//! that lead to a child node, `leafvec` the slots where a run of equal leaves begins. The
//! children of a node lie next to each other from `base1`, its leaves from `base0`, so a
//! step is a shift, a bit test and a population count, and a node is 24 bytes whatever the
//! number of routes under it. Leaves are pushed down: every slot holds the answer for the
//! whole of the address space it covers, so a lookup never backtracks. The root, the entry
//! stride and 17 node strides cover the 128 bits exactly.
//!
//! Why not a crate or DPDK's rte_fib6: the table is read by every packet, it must be
//! shared between cores without locks and replaced in parts while they read it, and its
//! memory must stay small at a full internet table (rte_fib6's 8-bit strides take a
//! kilobyte or more per group of 256 slots, most of them copies of one leaf).
//!
//! Under each root slot that holds longer prefixes is one direct stride of 6 bits: 64
//! entries, each with the leaf of the longest prefix of 21 to 26 bits over it and the trie
//! (a sub-trie) of the longer prefixes inside its /26. A change rebuilds one sub-trie, or
//! repaints one slot's 64 entries, and a new version of the table shares everything else
//! with the old one: the root is in pages of 4096 slots (a /8 each), the entries and the
//! sub-tries are reference counted, all copied on write. Prefixes of 20 bits or fewer live
//! in the root slots themselves, as the fallback a lookup returns when nothing below holds
//! a more specific one: a change of the default route repaints root slots and rebuilds no
//! trie. A lookup reads the page, the slot, the entry (which holds its sub-trie's first
//! node), then one node per further 6 bits and the leaf: six reads for a /48.
//!
//! A lookup is a chain of dependent loads, and past the caches each one misses:
//! [`Trie::lookup_many`] walks a burst of addresses in rounds, one level of each per round,
//! prefetching in one round what the next reads, so that the misses of the whole burst
//! overlap (at a full table, a quarter of the cost of looking them up one at a time).

use std::collections::VecDeque;
use std::sync::Arc;

/// A leaf: 0 for no route, else a next-hop group's index plus one.
pub type Leaf = u32;

/// Bits resolved by the root table.
pub const ROOT_BITS: u32 = 20;
/// Bits resolved by the root and the entries under a slot.
pub const ENTRY_BITS: u32 = ROOT_BITS + STRIDE;
/// Bits of the root index that pick a page.
const PAGE_BITS: u32 = 8;
/// Root slots per page.
const PAGE_SLOTS: usize = 1 << (ROOT_BITS - PAGE_BITS);
/// Bits resolved by each trie node.
const STRIDE: u32 = 6;
/// Addresses [`Trie::lookup_many`] walks together: a burst.
pub const LANES: usize = 64;

/// One trie node: 6 bits of the address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Node {
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

/// The trie of the prefixes longer than 26 bits inside one /26.
#[derive(Debug, Clone)]
pub struct Sub {
    /// `nodes[0]`, kept here so that it comes with the entry.
    top: Node,
    nodes: Arc<[Node]>,
    leaves: Arc<[Leaf]>,
}

impl Sub {
    /// Builds the trie of `prefixes`: (network address, length, leaf), sorted by address
    /// then length, all inside one /26 and longer than 26 bits.
    pub fn build(prefixes: &[(u128, u8, Leaf)]) -> Sub {
        debug_assert!(
            prefixes
                .windows(2)
                .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1))
        );
        debug_assert!(prefixes.iter().all(|p| u32::from(p.1) > ENTRY_BITS));
        let mut b = Builder {
            nodes: vec![Node::default()],
            leaves: Vec::new(),
        };
        // Breadth first: the nodes of one depth lie together, so the upper ones, which
        // most lookups pass through, share cache lines.
        let mut queue = VecDeque::from([(0, ENTRY_BITS, 0, prefixes.len(), 0)]);
        while let Some((at, off, from, to, inherited)) = queue.pop_front() {
            b.fill(at, off, from, &prefixes[from..to], inherited, &mut queue);
        }
        Sub {
            top: b.nodes[0],
            nodes: b.nodes.into(),
            leaves: b.leaves.into(),
        }
    }

    /// The most specific leaf for `key`, 0 if no prefix of the trie holds it.
    #[inline]
    pub fn lookup(&self, key: u128) -> Leaf {
        let mut node = self.top;
        // The bits still to resolve, at the top.
        let mut k = key << ENTRY_BITS;
        loop {
            let bit = 1u64 << (k >> (128 - STRIDE)) as u32;
            if node.vector & bit == 0 {
                return self.leaves[leaf_index(&node, bit) as usize];
            }
            node = self.nodes[child_index(&node, bit) as usize];
            k <<= STRIDE;
        }
    }

    /// The trie's nodes.
    #[cfg(test)]
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Bytes the trie's arrays take.
    pub fn bytes(&self) -> usize {
        std::mem::size_of_val(&*self.nodes) + std::mem::size_of_val(&*self.leaves)
    }
}

/// A node to fill: its index, bit offset, range of prefixes and inherited leaf.
type Fill = (usize, u32, usize, usize, Leaf);

struct Builder {
    nodes: Vec<Node>,
    leaves: Vec<Leaf>,
}

impl Builder {
    /// Fills node `at`, which covers the 6 bits at offset `off`, from `prefixes` (all
    /// longer than `off` and inside the node's space, sorted; they start at `first` in the
    /// whole list), with `inherited` the leaf of the longest prefix that covers the whole
    /// node. Its children are allocated and queued, to be filled in turn.
    fn fill(
        &mut self,
        at: usize,
        off: u32,
        first: usize,
        prefixes: &[(u128, u8, Leaf)],
        inherited: Leaf,
        queue: &mut VecDeque<Fill>,
    ) {
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
                queue.push_back((child, end, first + from, first + to, leaf[v]));
                child += 1;
            }
        }
    }
}

/// One of the 64 entries under a root slot: the leaf of the longest prefix of 21 to 26
/// bits over its /26, and the trie of the longer ones inside it. Aligned to a cache line,
/// which it fills.
#[derive(Debug, Clone, Default)]
#[repr(align(64))]
pub struct Entry {
    leaf: Leaf,
    sub: Option<Sub>,
}

/// A root slot: the entries below it, if any prefix longer than 20 bits is inside its
/// /20, and the leaf of the longest prefix of 20 bits or fewer that covers it.
#[derive(Debug, Clone, Default)]
pub struct Slot {
    entries: Option<Arc<[Entry]>>,
    fallback: Leaf,
}

type Page = Arc<[Slot]>;

/// The whole table: the root slots, in pages.
#[derive(Debug, Clone)]
pub struct Trie {
    pages: Box<[Page]>,
    /// A trie with no prefix, for the idle walks of [`Trie::lookup_many`].
    empty: Sub,
}

impl Default for Trie {
    fn default() -> Trie {
        let empty: Page = vec![Slot::default(); PAGE_SLOTS].into();
        Trie {
            pages: vec![empty; 1 << PAGE_BITS].into_boxed_slice(),
            empty: Sub::build(&[]),
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
        let Some(entries) = &slot.entries else {
            return slot.fallback;
        };
        let e = &entries[entry_index(key)];
        if let Some(sub) = &e.sub {
            let leaf = sub.lookup(key);
            if leaf != 0 {
                return leaf;
            }
        }
        if e.leaf != 0 { e.leaf } else { slot.fallback }
    }

    /// [`Trie::lookup`] of every key, [`LANES`] at a time.
    pub fn lookup_many(&self, keys: &[u128], leaves: &mut [Leaf]) {
        for (keys, leaves) in keys.chunks(LANES).zip(leaves.chunks_mut(LANES)) {
            self.lookup_lanes(keys, leaves);
        }
    }

    /// The walk of up to [`LANES`] keys in rounds, one level of every key per round: each
    /// round reads what the round before prefetched and prefetches what the next one will
    /// read. A prefetch does not hold up the instructions after it as a load that misses
    /// does, so the misses of a whole burst are in flight together, not the few that fit
    /// in the processor's window.
    #[inline]
    fn lookup_lanes(&self, keys: &[u128], leaves: &mut [Leaf]) {
        let n = keys.len().min(leaves.len()).min(LANES);
        let mut slots: [Option<&Slot>; LANES] = [None; LANES];
        for (i, &key) in keys[..n].iter().enumerate() {
            let slot = self.slot(key);
            prefetch(slot);
            slots[i] = Some(slot);
        }
        let mut entries: [Option<&Entry>; LANES] = [None; LANES];
        for i in 0..n {
            let slot = slots[i].expect("every lane has its slot");
            leaves[i] = slot.fallback;
            if let Some(es) = &slot.entries {
                let e = &es[entry_index(keys[i])];
                prefetch(e);
                entries[i] = Some(e);
            }
        }
        let idle = Walk {
            lane: 0,
            sub: &self.empty,
            k: 0,
            at: 0,
            leaf: true,
        };
        let mut walks = [idle; LANES];
        let mut live = 0;
        for i in 0..n {
            let Some(e) = entries[i] else { continue };
            if e.leaf != 0 {
                leaves[i] = e.leaf;
            }
            if let Some(sub) = &e.sub {
                walks[live] = Walk::start(i, sub, keys[i]);
                live += 1;
            }
        }
        while live > 0 {
            let mut j = 0;
            while j < live {
                let w = &mut walks[j];
                if let Some(leaf) = w.step() {
                    if leaf != 0 {
                        leaves[w.lane] = leaf;
                    }
                    live -= 1;
                    walks[j] = walks[live];
                } else {
                    j += 1;
                }
            }
        }
    }

    fn slot_mut(&mut self, root: usize) -> &mut Slot {
        let page = &mut self.pages[root >> (ROOT_BITS - PAGE_BITS)];
        &mut make_mut(page)[root & (PAGE_SLOTS - 1)]
    }

    /// The entries of root slot `root`, made this table's own, created if it had none.
    fn entries_mut(&mut self, root: usize) -> &mut [Entry] {
        let slot = self.slot_mut(root);
        let entries = slot
            .entries
            .get_or_insert_with(|| vec![Entry::default(); 1 << STRIDE].into());
        make_mut(entries)
    }

    /// Drops the entries of root slot `root` if nothing is left in them.
    fn prune(&mut self, root: usize) {
        let slot = self.slot_mut(root);
        if slot
            .entries
            .as_ref()
            .is_some_and(|es| es.iter().all(|e| e.leaf == 0 && e.sub.is_none()))
        {
            slot.entries = None;
        }
    }

    /// Replaces the sub-trie of the /26 whose index (its top 26 bits) is `index`.
    pub fn set_sub(&mut self, index: usize, sub: Option<Sub>) {
        let root = index >> STRIDE;
        let empty = sub.is_none();
        if empty && self.sub(index).is_none() {
            return;
        }
        self.entries_mut(root)[index & 63].sub = sub;
        if empty {
            self.prune(root);
        }
    }

    /// The sub-trie of the /26 of index `index`.
    pub fn sub(&self, index: usize) -> Option<&Sub> {
        let slot =
            &self.pages[index >> (ENTRY_BITS - PAGE_BITS)][(index >> STRIDE) & (PAGE_SLOTS - 1)];
        slot.entries.as_ref()?[index & 63].sub.as_ref()
    }

    /// Repaints the 64 entries' leaves of root slot `root` from `mid`: the prefixes of 21
    /// to 26 bits inside its /20, as (network address, length, leaf).
    pub fn paint_entries(&mut self, root: usize, mid: &[(u128, u8, Leaf)]) {
        let mut want = [0 as Leaf; 1 << STRIDE];
        let mut by_len: Vec<&(u128, u8, Leaf)> = mid.iter().collect();
        by_len.sort_unstable_by_key(|p| p.1);
        for &&(key, len, leaf) in &by_len {
            let first = entry_index(key);
            let span = 1usize << (ENTRY_BITS - u32::from(len));
            want[first..first + span].fill(leaf);
        }
        let slot = &self.pages[root >> (ROOT_BITS - PAGE_BITS)][root & (PAGE_SLOTS - 1)];
        let now: Vec<Leaf> = match &slot.entries {
            Some(es) => es.iter().map(|e| e.leaf).collect(),
            None => vec![0; 1 << STRIDE],
        };
        if now[..] == want[..] {
            return;
        }
        for (e, w) in self.entries_mut(root).iter_mut().zip(want) {
            e.leaf = w;
        }
        self.prune(root);
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

    /// Bytes the root pages, the entries and the sub-tries take, a page shared within the
    /// table counted once.
    pub fn bytes(&self) -> usize {
        let mut pages: Vec<*const Slot> = self.pages.iter().map(|p| p.as_ptr()).collect();
        pages.sort_unstable();
        pages.dedup();
        let entries = self.slots().filter_map(|s| s.entries.as_ref());
        pages.len() * PAGE_SLOTS * std::mem::size_of::<Slot>()
            + std::mem::size_of_val(&*self.pages)
            + entries
                .map(|es| {
                    std::mem::size_of_val(&**es)
                        + es.iter()
                            .filter_map(|e| e.sub.as_ref())
                            .map(Sub::bytes)
                            .sum::<usize>()
                })
                .sum::<usize>()
    }

    /// Sub-tries in the table.
    pub fn subs(&self) -> usize {
        self.slots()
            .filter_map(|s| s.entries.as_ref())
            .map(|es| es.iter().filter(|e| e.sub.is_some()).count())
            .sum()
    }

    fn slots(&self) -> impl Iterator<Item = &Slot> {
        self.pages.iter().flat_map(|p| p.iter())
    }
}

/// One key's walk down a sub-trie in [`Trie::lookup_many`]: the node or the leaf it reads
/// next, already prefetched.
#[derive(Clone, Copy)]
struct Walk<'a> {
    lane: usize,
    sub: &'a Sub,
    /// The bits still to resolve, at the top.
    k: u128,
    /// The index of the next node, or of the leaf if `leaf`.
    at: u32,
    leaf: bool,
}

impl<'a> Walk<'a> {
    /// The walk of `key` from `sub`'s first node, which came with its entry.
    #[inline(always)]
    fn start(lane: usize, sub: &'a Sub, key: u128) -> Walk<'a> {
        let mut w = Walk {
            lane,
            sub,
            k: key << ENTRY_BITS,
            at: 0,
            leaf: false,
        };
        w.descend(&sub.top);
        w
    }

    /// Where `node` leads for the bits at the top of `k`, prefetched.
    #[inline(always)]
    fn descend(&mut self, node: &Node) {
        let bit = 1u64 << (self.k >> (128 - STRIDE)) as u32;
        if node.vector & bit != 0 {
            self.at = child_index(node, bit);
            self.k <<= STRIDE;
            if let Some(n) = self.sub.nodes.get(self.at as usize) {
                prefetch(n);
            }
        } else {
            self.at = leaf_index(node, bit);
            self.leaf = true;
            if let Some(l) = self.sub.leaves.get(self.at as usize) {
                prefetch(l);
            }
        }
    }

    /// Reads what the walk waits for: the leaf, which ends it, or the next node.
    #[inline(always)]
    fn step(&mut self) -> Option<Leaf> {
        if self.leaf {
            return Some(self.sub.leaves.get(self.at as usize).copied().unwrap_or(0));
        }
        let node = self
            .sub
            .nodes
            .get(self.at as usize)
            .copied()
            .unwrap_or_default();
        self.descend(&node);
        None
    }
}

/// Asks for the cache line that holds `p`, without waiting for it.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(p: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing into the program and never faults, and
    // SSE, which it needs, is part of every x86_64 processor.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>((p as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// The entry of `key` under its root slot.
#[inline(always)]
fn entry_index(key: u128) -> usize {
    (key >> (128 - ENTRY_BITS)) as usize & ((1 << STRIDE) - 1)
}

/// The array, made this table's own first if another version shares it.
fn make_mut<T: Clone>(shared: &mut Arc<[T]>) -> &mut [T] {
    if Arc::get_mut(shared).is_none() {
        *shared = shared.iter().cloned().collect();
    }
    Arc::get_mut(shared).expect("an array just copied has one holder")
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
        let index = |k: u128, bits: u32| (k >> (128 - bits)) as usize;
        let mid: Vec<_> = all
            .iter()
            .copied()
            .filter(|p| (ROOT_BITS + 1..=ENTRY_BITS).contains(&u32::from(p.1)))
            .collect();
        for group in mid.chunk_by(|a, b| index(a.0, ROOT_BITS) == index(b.0, ROOT_BITS)) {
            t.paint_entries(index(group[0].0, ROOT_BITS), group);
        }
        let long: Vec<_> = all
            .iter()
            .copied()
            .filter(|p| u32::from(p.1) > ENTRY_BITS)
            .collect();
        for group in long.chunk_by(|a, b| index(a.0, ENTRY_BITS) == index(b.0, ENTRY_BITS)) {
            t.set_sub(index(group[0].0, ENTRY_BITS), Some(Sub::build(group)));
        }
        t
    }

    fn at(t: &Trie, a: &str) -> Leaf {
        t.lookup(u128::from(a.parse::<std::net::Ipv6Addr>().unwrap()))
    }

    #[test]
    fn node_is_24_bytes_and_an_entry_one_cache_line() {
        assert_eq!(std::mem::size_of::<Node>(), 24);
        assert_eq!(std::mem::size_of::<Entry>(), 64);
    }

    #[test]
    fn emptied_slots_drop_their_entries() {
        let mut t = trie(&[("2001:db8::/32", 1), ("2001:db8::/24", 2)]);
        let root = 0x20010;
        t.set_sub(0x2001_0db8 >> 6, None);
        assert_eq!(at(&t, "2001:db8::1"), 2);
        t.paint_entries(root, &[]);
        assert!(t.slot(0x2001_0db8u128 << 96).entries.is_none());
        assert_eq!(at(&t, "2001:db8::1"), 0);
    }

    #[test]
    fn strides_cover_the_address() {
        assert_eq!((128 - ENTRY_BITS) % STRIDE, 0);
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
        // 64 /32s inside one /26, alternating two leaves in runs of four.
        let routes: Vec<(u128, u8, Leaf)> = (0..64u128)
            .map(|i| {
                (
                    (0x20010u128 << 108) | (i << 96),
                    32,
                    1 + (i / 4 % 2) as Leaf,
                )
            })
            .collect();
        let c = Sub::build(&routes);
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
