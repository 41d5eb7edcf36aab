//! The routing table the management thread owns: every prefix with its routes, the
//! next-hop groups they make, and the reachability of gateways, from which it builds and
//! publishes the tables the workers read.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::net::Ipv6Addr;
use std::sync::Arc;

use super::trie::{ENTRY_BITS, Leaf, ROOT_BITS, Sub, Trie};
use super::{Fib, FibCell, Groups};
use crate::neigh::Neighbor;
use crate::route::{NextHop, Preference, Prefix, Resolved, Route};
use crate::wire::MacAddr;

pub use crate::neigh::Reachability;

/// Why a change to the routing table was refused; the table is as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("{0} has host bits set (the prefix is {net})", net = .0.network())]
    HostBits(Prefix),
    #[error("port {port} does not exist (the router has {ports})")]
    UnknownPort { port: u16, ports: u16 },
    #[error("{prefix} already has the route {path}")]
    Exists { prefix: Prefix, path: String },
    #[error("no route for {0}")]
    NoPrefix(Prefix),
    #[error("{prefix} has no route {path}")]
    NoPath { prefix: Prefix, path: String },
    #[error("{0}: a replace needs at least one route")]
    Empty(Prefix),
    #[error("a route for {route} given to replace {prefix}")]
    OtherPrefix { prefix: Prefix, route: Prefix },
}

/// A route's path, for messages and listings: `via 2001:db8::1 port 1 metric 1024`.
pub struct PathText<'a>(pub &'a Route);

impl fmt::Display for PathText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        match r.next_hop {
            NextHop::Gateway(g) => write!(f, "via {g} port {}", r.port)?,
            NextHop::OnLink => write!(f, "on-link port {}", r.port)?,
            NextHop::Reject(rej) => write!(f, "{}", format!("{rej:?}").to_lowercase())?,
        }
        write!(f, " metric {}", r.metric)
    }
}

/// What `route get` shows: the prefix that matched, its routes, and the paths that carry
/// its traffic now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLookup {
    pub prefix: Prefix,
    pub routes: Vec<Route>,
    pub selected: Vec<Resolved>,
}

/// What selection reads of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PathKey {
    metric: u32,
    preference: Preference,
    port: u16,
    next_hop: NextHop,
}

impl PathKey {
    fn gateway(&self) -> Option<(u16, Ipv6Addr)> {
        match self.next_hop {
            NextHop::Gateway(g) => Some((self.port, g)),
            NextHop::OnLink | NextHop::Reject(_) => None,
        }
    }
}

/// A next-hop group: the routes of one or more prefixes that have the same ones.
#[derive(Debug, Default)]
struct Group {
    /// Sorted by metric, then preference (highest first), port and next hop.
    key: Vec<PathKey>,
    /// Prefixes that use it; 0 when the id is free.
    refs: u32,
    /// Which candidate carries traffic while none is known to be reachable (RFC 4861
    /// 6.3.6's round robin); moved on when the one chosen fails.
    rotation: usize,
}

#[derive(Debug, Default)]
struct Gateway {
    reach: Reachability,
    lladdr: Option<MacAddr>,
    /// Groups with a route through this gateway.
    groups: Vec<u32>,
}

#[derive(Debug)]
struct Entry {
    routes: Vec<Route>,
    group: u32,
}

/// The management thread's routing table. Changes take effect in the workers at the next
/// [`Rib::publish`].
#[derive(Debug)]
pub struct Rib {
    ports: u16,
    prefixes: BTreeMap<(u128, u8), Entry>,
    /// The prefixes of 20 bits or fewer, which the trie keeps in its root.
    short: BTreeSet<(u128, u8)>,
    /// The prefixes of 21 to 26 bits, which it keeps in the entries under a root slot.
    mid: BTreeSet<(u128, u8)>,
    groups: Vec<Group>,
    group_ids: HashMap<Vec<PathKey>, u32>,
    free_groups: Vec<u32>,
    gateways: HashMap<(u16, Ipv6Addr), Gateway>,
    /// (when, prefix) for every route with a lifetime.
    expiries: BTreeSet<(u64, u128, u8)>,
    /// Sub-tries to build again, by /26; root slots whose entries to repaint, by /20.
    dirty_subs: BTreeSet<usize>,
    dirty_entries: BTreeSet<usize>,
    dirty_short: bool,
    dirty_groups: bool,
    trie: Trie,
    published_groups: Arc<Groups>,
    seed: u64,
    version: u64,
    cell: Arc<FibCell>,
    /// Tables replaced but perhaps still held by a worker.
    retired: Vec<Arc<Fib>>,
}

impl Rib {
    /// An empty table for a router of `ports` ports; its cell holds an empty table.
    pub fn new(ports: u16) -> Rib {
        Rib {
            ports,
            prefixes: BTreeMap::new(),
            short: BTreeSet::new(),
            mid: BTreeSet::new(),
            groups: Vec::new(),
            group_ids: HashMap::new(),
            free_groups: Vec::new(),
            gateways: HashMap::new(),
            expiries: BTreeSet::new(),
            dirty_subs: BTreeSet::new(),
            dirty_entries: BTreeSet::new(),
            dirty_short: false,
            dirty_groups: false,
            trie: Trie::default(),
            published_groups: Arc::default(),
            seed: RandomState::new().hash_one(0x7636_6677_u64),
            version: 0,
            cell: Arc::new(FibCell::new(Arc::new(Fib::empty()))),
            retired: Vec::new(),
        }
    }

    /// A table of `routes` with the static `neighbors` taken as probably reachable,
    /// published.
    ///
    /// # Errors
    /// A route that [`Rib::add`] refuses.
    pub fn with_routes(
        ports: u16,
        routes: &[Route],
        neighbors: &[Neighbor],
    ) -> Result<Rib, RibError> {
        let mut rib = Rib::new(ports);
        for n in neighbors {
            rib.set_neighbor(n.port, n.addr, Reachability::Probable, Some(n.lladdr));
        }
        for r in routes {
            rib.add(*r)?;
        }
        rib.publish();
        Ok(rib)
    }

    /// Where the tables are published, for the workers' readers.
    pub fn cell(&self) -> Arc<FibCell> {
        Arc::clone(&self.cell)
    }

    /// Adds a route: a new prefix, or one more path of a prefix that has routes.
    ///
    /// # Errors
    /// The prefix has host bits set, the port does not exist, or the prefix already has a
    /// route of the same port, next hop and metric.
    pub fn add(&mut self, route: Route) -> Result<(), RibError> {
        self.check(&route)?;
        let key = key_of(&route.prefix);
        let mut routes = self
            .prefixes
            .get(&key)
            .map_or(Vec::new(), |e| e.routes.clone());
        if routes.iter().any(|r| r.same_path(&route)) {
            return Err(RibError::Exists {
                prefix: route.prefix,
                path: PathText(&route).to_string(),
            });
        }
        routes.push(route);
        self.set_routes(key, routes);
        Ok(())
    }

    /// Adds a route, or updates the one of the same path (its preference, source and
    /// lifetime): what a refreshed Router Advertisement does. Returns whether it was new.
    ///
    /// # Errors
    /// The prefix has host bits set or the port does not exist.
    pub fn upsert(&mut self, route: Route) -> Result<bool, RibError> {
        self.check(&route)?;
        let key = key_of(&route.prefix);
        let mut routes = self
            .prefixes
            .get(&key)
            .map_or(Vec::new(), |e| e.routes.clone());
        let new = match routes.iter_mut().find(|r| r.same_path(&route)) {
            Some(r) => {
                *r = route;
                false
            }
            None => {
                routes.push(route);
                true
            }
        };
        self.set_routes(key, routes);
        Ok(new)
    }

    /// Replaces every route of `prefix` with `routes`.
    ///
    /// # Errors
    /// `routes` is empty, holds a route of another prefix or two of the same path, or one
    /// that [`Rib::add`] would refuse.
    pub fn replace(&mut self, prefix: Prefix, routes: Vec<Route>) -> Result<(), RibError> {
        if prefix.network() != prefix {
            return Err(RibError::HostBits(prefix));
        }
        if routes.is_empty() {
            return Err(RibError::Empty(prefix));
        }
        for (i, r) in routes.iter().enumerate() {
            if r.prefix != prefix {
                return Err(RibError::OtherPrefix {
                    prefix,
                    route: r.prefix,
                });
            }
            self.check(r)?;
            if routes[..i].iter().any(|o| o.same_path(r)) {
                return Err(RibError::Exists {
                    prefix,
                    path: PathText(r).to_string(),
                });
            }
        }
        self.set_routes(key_of(&prefix), routes);
        Ok(())
    }

    /// Deletes every route of `prefix`; returns them.
    ///
    /// # Errors
    /// The prefix has no route.
    pub fn delete(&mut self, prefix: Prefix) -> Result<Vec<Route>, RibError> {
        let key = key_of(&prefix);
        let Some(e) = self.prefixes.get(&key) else {
            return Err(RibError::NoPrefix(prefix));
        };
        let old = e.routes.clone();
        self.set_routes(key, Vec::new());
        Ok(old)
    }

    /// Deletes one path of `prefix`, the one of `port` and `next_hop` (and `metric`, if
    /// given); the prefix goes when its last path does. Returns the route.
    ///
    /// # Errors
    /// The prefix, or that path of it, does not exist.
    pub fn delete_path(
        &mut self,
        prefix: Prefix,
        port: u16,
        next_hop: NextHop,
        metric: Option<u32>,
    ) -> Result<Route, RibError> {
        let key = key_of(&prefix);
        let Some(e) = self.prefixes.get(&key) else {
            return Err(RibError::NoPrefix(prefix));
        };
        let mut routes = e.routes.clone();
        let Some(i) = routes.iter().position(|r| {
            r.port == port && r.next_hop == next_hop && metric.is_none_or(|m| m == r.metric)
        }) else {
            let mut probe = Route::new(prefix, port, next_hop);
            probe.metric = metric.unwrap_or(probe.metric);
            return Err(RibError::NoPath {
                prefix,
                path: PathText(&probe).to_string(),
            });
        };
        let gone = routes.remove(i);
        self.set_routes(key, routes);
        Ok(gone)
    }

    /// Removes every route whose lifetime has ended at `now` (nanoseconds of the
    /// management clock); returns them.
    pub fn expire(&mut self, now: u64) -> Vec<Route> {
        let mut gone = Vec::new();
        while let Some(&(when, addr, len)) = self.expiries.first() {
            if when > now {
                break;
            }
            self.expiries.pop_first();
            let Some(e) = self.prefixes.get(&(addr, len)) else {
                continue;
            };
            let (ended, kept): (Vec<Route>, Vec<Route>) = e
                .routes
                .iter()
                .partition(|r| r.expires.is_some_and(|t| t <= now));
            if !ended.is_empty() {
                gone.extend(ended);
                self.set_routes((addr, len), kept);
            }
        }
        gone
    }

    /// The earliest time a route expires, if any does.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiries.first().map(|e| e.0)
    }

    /// Whether some route goes through `addr` on `port`.
    pub fn has_gateway(&self, port: u16, addr: &Ipv6Addr) -> bool {
        self.gateways
            .get(&(port, *addr))
            .is_some_and(|g| !g.groups.is_empty())
    }

    /// Records what Neighbor Discovery (or the configuration, for a static entry) knows of
    /// `addr` on `port`. A gateway that fails while it is the one chosen for lack of any
    /// reachable router hands the traffic to the next (RFC 4861 6.3.6).
    pub fn set_neighbor(
        &mut self,
        port: u16,
        addr: Ipv6Addr,
        reach: Reachability,
        lladdr: Option<MacAddr>,
    ) {
        let g = self.gateways.entry((port, addr)).or_default();
        let changed = g.reach != reach || g.lladdr != lladdr;
        g.reach = reach;
        g.lladdr = lladdr;
        let users = g.groups.clone();
        if reach == Reachability::Unreachable {
            for id in &users {
                let group = &self.groups[*id as usize];
                let cands = candidates(&group.key);
                let none_reachable = !cands.iter().any(|p| self.probable(p));
                let chosen = cands[group.rotation % cands.len()].gateway();
                if none_reachable && chosen == Some((port, addr)) {
                    self.groups[*id as usize].rotation += 1;
                    self.dirty_groups = true;
                }
            }
        }
        if changed && !users.is_empty() {
            self.dirty_groups = true;
        }
        if reach == Reachability::Unknown && lladdr.is_none() && users.is_empty() {
            self.gateways.remove(&(port, addr));
        }
    }

    /// The routes of the longest prefix that holds `addr`, and the paths its traffic
    /// takes as of the last change (published or not).
    pub fn lookup(&self, addr: &Ipv6Addr) -> Option<RouteLookup> {
        let a = u128::from(*addr);
        (0..=128u8).rev().find_map(|len| {
            let e = self.prefixes.get(&(a & Prefix::mask(len), len))?;
            Some(RouteLookup {
                prefix: Prefix::new(Ipv6Addr::from(a & Prefix::mask(len)), len),
                routes: e.routes.clone(),
                selected: self.select(&self.groups[e.group as usize]),
            })
        })
    }

    /// The routes of `prefix`.
    pub fn get(&self, prefix: &Prefix) -> Option<&[Route]> {
        self.prefixes
            .get(&key_of(prefix))
            .map(|e| e.routes.as_slice())
    }

    /// Every route, by prefix.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.prefixes.values().flat_map(|e| &e.routes)
    }

    /// The routes of the prefixes that lie within `root` (itself included), in order.
    pub fn routes_within(&self, root: &Prefix) -> impl Iterator<Item = &Route> {
        let net = root.network();
        let low = u128::from(net.addr);
        let high = low | !Prefix::mask(net.len);
        self.prefixes
            .range((low, 0)..=(high, 128))
            .filter(move |((_, len), _)| *len >= net.len)
            .flat_map(|(_, e)| &e.routes)
    }

    /// Prefixes in the table.
    pub fn len(&self) -> usize {
        self.prefixes.len()
    }

    /// Whether the table has no route.
    pub fn is_empty(&self) -> bool {
        self.prefixes.is_empty()
    }

    /// Next-hop groups in use.
    pub fn groups(&self) -> usize {
        self.group_ids.len()
    }

    /// Whether changes wait for [`Rib::publish`].
    pub fn pending(&self) -> bool {
        self.dirty_groups
            || self.dirty_short
            || !self.dirty_subs.is_empty()
            || !self.dirty_entries.is_empty()
    }

    /// Builds a table from the changes since the last publication, if there were any, and
    /// publishes it; returns it. Only the sub-tries of the /26s whose prefixes changed are
    /// built again; the others are shared with the table before.
    pub fn publish(&mut self) -> Option<Arc<Fib>> {
        if !self.pending() {
            return None;
        }
        for index in std::mem::take(&mut self.dirty_entries) {
            let lo = (index as u128) << (128 - ROOT_BITS);
            let hi = lo | (u128::MAX >> ROOT_BITS);
            let inside: Vec<(u128, u8, Leaf)> = self
                .mid
                .range((lo, 0)..=(hi, 128))
                .map(|k| (k.0, k.1, self.prefixes[k].group + 1))
                .collect();
            self.trie.paint_entries(index, &inside);
        }
        for index in std::mem::take(&mut self.dirty_subs) {
            let lo = (index as u128) << (128 - ENTRY_BITS);
            let hi = lo | (u128::MAX >> ENTRY_BITS);
            // The prefixes of this range longer than 26 bits: a shorter one inside it
            // would start at `lo` and sort before (lo, 27).
            let inside: Vec<(u128, u8, Leaf)> = self
                .prefixes
                .range((lo, ENTRY_BITS as u8 + 1)..=(hi, 128))
                .map(|(&(a, l), e)| (a, l, e.group + 1))
                .collect();
            let sub = (!inside.is_empty()).then(|| Sub::build(&inside));
            self.trie.set_sub(index, sub);
        }
        if std::mem::take(&mut self.dirty_short) {
            let short: Vec<(u128, u8, Leaf)> = self
                .short
                .iter()
                .map(|k| (k.0, k.1, self.prefixes[k].group + 1))
                .collect();
            self.trie.paint_fallbacks(&short);
        }
        if std::mem::take(&mut self.dirty_groups) {
            self.published_groups = Arc::new(self.build_groups());
        }
        self.version += 1;
        let fib = Arc::new(Fib {
            trie: self.trie.clone(),
            groups: Arc::clone(&self.published_groups),
            seed: self.seed,
            version: self.version,
            prefixes: self.prefixes.len(),
        });
        let old = self.cell.store(Arc::clone(&fib));
        self.retired.push(old);
        self.reclaim();
        Some(fib)
    }

    /// Frees the replaced tables that no worker holds any more; returns how many are still
    /// held.
    pub fn reclaim(&mut self) -> usize {
        // A count of one is this list's own reference: no reader has it, and none can
        // take it again, since the cell holds a newer table.
        self.retired.retain(|f| Arc::strong_count(f) > 1);
        self.retired.len()
    }

    fn check(&self, route: &Route) -> Result<(), RibError> {
        if route.prefix.network() != route.prefix {
            return Err(RibError::HostBits(route.prefix));
        }
        if !matches!(route.next_hop, NextHop::Reject(_)) && route.port >= self.ports {
            return Err(RibError::UnknownPort {
                port: route.port,
                ports: self.ports,
            });
        }
        Ok(())
    }

    /// Makes `routes` the routes of the prefix `key` (none: the prefix goes), keeping the
    /// groups, expiries and what the next publication rebuilds up to date.
    fn set_routes(&mut self, key: (u128, u8), routes: Vec<Route>) {
        let old = self.prefixes.remove(&key);
        if let Some(e) = &old {
            for t in e.routes.iter().filter_map(|r| r.expires) {
                self.expiries.remove(&(t, key.0, key.1));
            }
        }
        let old_group = old.map(|e| e.group);
        let new_group = if routes.is_empty() {
            None
        } else {
            for t in routes.iter().filter_map(|r| r.expires) {
                self.expiries.insert((t, key.0, key.1));
            }
            let g = self.acquire(path_keys(&routes));
            self.prefixes.insert(key, Entry { routes, group: g });
            Some(g)
        };
        if let Some(g) = old_group {
            self.release(g);
        }
        if old_group != new_group {
            let len = u32::from(key.1);
            if len > ENTRY_BITS {
                self.dirty_subs
                    .insert((key.0 >> (128 - ENTRY_BITS)) as usize);
                return;
            }
            let (set, dirty_short) = if len <= ROOT_BITS {
                (&mut self.short, true)
            } else {
                self.dirty_entries
                    .insert((key.0 >> (128 - ROOT_BITS)) as usize);
                (&mut self.mid, false)
            };
            if new_group.is_some() {
                set.insert(key);
            } else {
                set.remove(&key);
            }
            self.dirty_short |= dirty_short;
        }
    }

    /// The group of `key`, made if no prefix has it yet, with one more user.
    fn acquire(&mut self, key: Vec<PathKey>) -> u32 {
        if let Some(&id) = self.group_ids.get(&key) {
            self.groups[id as usize].refs += 1;
            return id;
        }
        let id = match self.free_groups.pop() {
            Some(id) => id,
            None => {
                self.groups.push(Group::default());
                (self.groups.len() - 1) as u32
            }
        };
        for gw in key.iter().filter_map(PathKey::gateway) {
            let users = &mut self.gateways.entry(gw).or_default().groups;
            if !users.contains(&id) {
                users.push(id);
            }
        }
        self.group_ids.insert(key.clone(), id);
        self.groups[id as usize] = Group {
            key,
            refs: 1,
            rotation: 0,
        };
        self.dirty_groups = true;
        id
    }

    /// One user fewer for group `id`; the group goes with its last.
    fn release(&mut self, id: u32) {
        let g = &mut self.groups[id as usize];
        g.refs -= 1;
        if g.refs > 0 {
            return;
        }
        let key = std::mem::take(&mut g.key);
        for gw in key.iter().filter_map(PathKey::gateway) {
            if let Some(entry) = self.gateways.get_mut(&gw) {
                entry.groups.retain(|&u| u != id);
                if entry.groups.is_empty() && entry.reach == Reachability::Unknown {
                    self.gateways.remove(&gw);
                }
            }
        }
        self.group_ids.remove(&key);
        self.free_groups.push(id);
        self.dirty_groups = true;
    }

    fn probable(&self, p: &PathKey) -> bool {
        match p.gateway() {
            Some(gw) => self
                .gateways
                .get(&gw)
                .is_some_and(|g| g.reach == Reachability::Probable),
            None => true,
        }
    }

    /// The paths of a group that carry traffic: among the routes of the best metric, the
    /// probably reachable ones of the highest preference among them (RFC 4191 3.2); when
    /// none is probably reachable, one at a time in turn (RFC 4861 6.3.6).
    fn select(&self, group: &Group) -> Vec<Resolved> {
        let cands = candidates(&group.key);
        let reachable: Vec<&PathKey> = cands.iter().filter(|p| self.probable(p)).collect();
        let chosen: Vec<&PathKey> = match reachable.iter().map(|p| p.preference).max() {
            Some(top) => reachable
                .into_iter()
                .filter(|p| p.preference == top)
                .collect(),
            None => vec![&cands[group.rotation % cands.len()]],
        };
        chosen
            .into_iter()
            .map(|p| Resolved {
                port: p.port,
                next_hop: p.next_hop,
                gateway_mac: p
                    .gateway()
                    .and_then(|gw| self.gateways.get(&gw))
                    .and_then(|g| g.lladdr),
            })
            .collect()
    }

    fn build_groups(&self) -> Groups {
        let mut out = Groups {
            spans: Vec::with_capacity(self.groups.len()),
            paths: Vec::new(),
        };
        for g in &self.groups {
            if g.refs == 0 {
                out.spans.push((0, 0));
                continue;
            }
            let paths = self.select(g);
            out.spans.push((out.paths.len() as u32, paths.len() as u32));
            out.paths.extend(paths);
        }
        out
    }
}

fn key_of(p: &Prefix) -> (u128, u8) {
    (u128::from(p.addr), p.len)
}

fn path_keys(routes: &[Route]) -> Vec<PathKey> {
    let mut keys: Vec<PathKey> = routes
        .iter()
        .map(|r| PathKey {
            metric: r.metric,
            preference: r.preference,
            port: r.port,
            next_hop: r.next_hop,
        })
        .collect();
    keys.sort_unstable_by_key(|k| (k.metric, Reverse(k.preference), k.port, k.next_hop));
    keys.dedup();
    keys
}

/// The routes of the best metric (the key is sorted by metric: they come first).
fn candidates(key: &[PathKey]) -> &[PathKey] {
    let best = key[0].metric;
    let n = key.iter().take_while(|k| k.metric == best).count();
    &key[..n]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::fib::FibReader;
    use crate::route::{Reject, Source};
    use proptest::strategy::Strategy;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn p(s: &str) -> Prefix {
        s.parse().unwrap()
    }

    fn via(prefix: &str, port: u16, gw: &str) -> Route {
        Route::new(p(prefix), port, NextHop::Gateway(a(gw)))
    }

    fn ports_of(fib: &Fib, dst: &str) -> Vec<(u16, NextHop)> {
        fib.lookup(&a(dst))
            .map(|c| c.all().iter().map(|r| (r.port, r.next_hop)).collect())
            .unwrap_or_default()
    }

    fn gw(s: &str) -> NextHop {
        NextHop::Gateway(a(s))
    }

    fn reachable(rib: &mut Rib, port: u16, addr: &str) {
        rib.set_neighbor(port, a(addr), Reachability::Probable, None);
    }

    #[test]
    fn default_route_is_an_ordinary_prefix() {
        let mut rib = Rib::new(2);
        rib.add(Route::new(p("2001:db8::/32"), 1, NextHop::OnLink))
            .unwrap();
        let fib = rib.publish().unwrap();
        assert!(fib.lookup(&a("2001:db9::1")).is_none());

        // The first default route comes, and goes: nothing stands in for it before or after.
        rib.add(via("::/0", 0, "fe80::1")).unwrap();
        let fib = rib.publish().unwrap();
        assert_eq!(ports_of(&fib, "2001:db9::1"), [(0, gw("fe80::1"))]);
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(1, NextHop::OnLink)]);
        rib.delete(p("::/0")).unwrap();
        let fib = rib.publish().unwrap();
        assert!(fib.lookup(&a("2001:db9::1")).is_none());
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(1, NextHop::OnLink)]);
    }

    #[test]
    fn the_lowest_metric_wins_over_preference_and_reachability() {
        let mut rib = Rib::new(2);
        reachable(&mut rib, 1, "fe80::2");
        let mut backup = via("::/0", 1, "fe80::2");
        backup.metric = 2000;
        backup.preference = Preference::High;
        rib.add(backup).unwrap();
        rib.add(via("::/0", 0, "fe80::1")).unwrap();
        let fib = rib.publish().unwrap();
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(0, gw("fe80::1"))]);
        rib.delete_path(p("::/0"), 0, gw("fe80::1"), None).unwrap();
        let fib = rib.publish().unwrap();
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(1, gw("fe80::2"))]);
    }

    #[test]
    fn probably_reachable_routers_first_then_the_highest_preference() {
        let mut rib = Rib::new(2);
        let mut high = via("::/0", 0, "fe80::1");
        high.preference = Preference::High;
        let mut low = via("::/0", 1, "fe80::2");
        low.preference = Preference::Low;
        rib.add(high).unwrap();
        rib.add(low).unwrap();
        let mut medium = via("::/0", 1, "fe80::3");
        medium.source = Source::RouterAdvertisement;
        rib.add(medium).unwrap();

        // RFC 4191 3.2: a reachable router of low preference beats a high one whose
        // reachability is unknown.
        reachable(&mut rib, 1, "fe80::2");
        let fib = rib.publish().unwrap();
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(1, gw("fe80::2"))]);

        reachable(&mut rib, 1, "fe80::3");
        let fib = rib.publish().unwrap();
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(1, gw("fe80::3"))]);

        reachable(&mut rib, 0, "fe80::1");
        let fib = rib.publish().unwrap();
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(0, gw("fe80::1"))]);
        let got = rib.lookup(&a("2001:db8::1")).unwrap();
        assert_eq!(got.prefix, p("::/0"));
        assert_eq!(got.routes.len(), 3);
        assert_eq!(got.selected.len(), 1);
    }

    #[test]
    fn equal_routes_share_the_load() {
        let mut rib = Rib::new(2);
        for (port, g) in [(0, "fe80::1"), (1, "fe80::2"), (1, "fe80::3")] {
            reachable(&mut rib, port, g);
            rib.add(via("2001:db8::/32", port, g)).unwrap();
        }
        let fib = rib.publish().unwrap();
        let c = fib.lookup(&a("2001:db8::1")).unwrap();
        assert_eq!(c.all().len(), 3);
        let mut seen = [false; 3];
        for flow in 0..64u64 {
            let pick = c.pick(|k| k ^ (flow << 40).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let i = c.all().iter().position(|r| r == pick).unwrap();
            seen[i] = true;
        }
        assert_eq!(seen, [true; 3]);
    }

    #[test]
    fn without_a_reachable_router_they_take_turns_as_each_fails() {
        let mut rib = Rib::new(1);
        for g in ["fe80::1", "fe80::2", "fe80::3"] {
            rib.add(via("::/0", 0, g)).unwrap();
        }
        let first = ports_of(&rib.publish().unwrap(), "2001:db8::1");
        assert_eq!(first.len(), 1);
        let mut order = vec![first[0].1];
        for _ in 0..3 {
            let NextHop::Gateway(current) = *order.last().unwrap() else {
                unreachable!()
            };
            rib.set_neighbor(0, current, Reachability::Unreachable, None);
            let now = ports_of(&rib.publish().unwrap(), "2001:db8::1");
            assert_eq!(now.len(), 1);
            order.push(now[0].1);
        }
        // Each router had its turn, then the first came round again.
        let mut distinct = order[..3].to_vec();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3);
        assert_eq!(order[3], order[0]);

        // A failure of a router that is not the one chosen changes nothing.
        let NextHop::Gateway(other) = order[1] else {
            unreachable!()
        };
        rib.set_neighbor(0, other, Reachability::Unreachable, None);
        assert_eq!(
            ports_of(
                &rib.publish().unwrap_or_else(|| rib.cell().load()),
                "2001:db8::1"
            ),
            [(0, order[3])]
        );
    }

    #[test]
    fn routes_within_a_prefix() {
        let mut rib = Rib::new(1);
        let hop = NextHop::Gateway("fe80::1".parse().unwrap());
        for p in [
            "::/0",
            "2001:db8::/32",
            "2001:db8:5::/48",
            "2001:db8:5:1::/64",
            "2001:db9::/32",
        ] {
            rib.add(Route::new(p.parse().unwrap(), 0, hop)).unwrap();
        }
        let within = |root: &str| -> Vec<String> {
            rib.routes_within(&root.parse().unwrap())
                .map(|r| r.prefix.to_string())
                .collect()
        };
        assert_eq!(
            within("2001:db8::/32"),
            ["2001:db8::/32", "2001:db8:5::/48", "2001:db8:5:1::/64"]
        );
        assert_eq!(
            within("2001:db8:5::/48"),
            ["2001:db8:5::/48", "2001:db8:5:1::/64"]
        );
        assert_eq!(within("::/0").len(), 5);
        assert!(within("2001:db8:6::/48").is_empty());
        // Host bits in the root are ignored, as ip route show root does.
        assert_eq!(within("2001:db8:5::1/48").len(), 2);
    }

    #[test]
    fn prefixes_with_the_same_routes_share_a_group() {
        let mut rib = Rib::new(2);
        for i in 0..1000u16 {
            let prefix = Prefix::new(Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 0), 48);
            rib.add(Route::new(prefix, 1, gw("fe80::2"))).unwrap();
        }
        rib.add(via("::/0", 0, "fe80::1")).unwrap();
        assert_eq!(rib.groups(), 2);
        let before = rib.publish().unwrap();

        // A change of reachability republishes groups, and every trie is shared.
        rib.set_neighbor(1, a("fe80::2"), Reachability::Probable, None);
        let after = rib.publish().unwrap();
        let index = 0x2001_0db8 >> 6;
        assert!(std::ptr::eq(
            before.trie.sub(index).unwrap().nodes(),
            after.trie.sub(index).unwrap().nodes()
        ));
        assert!(!Arc::ptr_eq(&before.groups, &after.groups));
        assert_eq!(ports_of(&after, "2001:db8:3e7::1"), [(1, gw("fe80::2"))]);
        assert_eq!(ports_of(&after, "2001:db8:3e8::1"), [(0, gw("fe80::1"))]);
    }

    #[test]
    fn routes_expire_at_their_lifetime() {
        let mut rib = Rib::new(1);
        let mut ra = via("::/0", 0, "fe80::1");
        ra.expires = Some(1_000);
        rib.add(ra).unwrap();
        let mut other = via("::/0", 0, "fe80::2");
        other.expires = Some(5_000);
        rib.add(other).unwrap();
        rib.add(via("2001:db8::/32", 0, "fe80::3")).unwrap();
        assert_eq!(rib.next_expiry(), Some(1_000));
        assert!(rib.expire(999).is_empty());
        assert_eq!(rib.expire(1_000), [ra]);
        assert_eq!(rib.get(&p("::/0")).unwrap(), [other]);

        // A refresh moves the end.
        let mut refreshed = other;
        refreshed.expires = Some(9_000);
        assert!(!rib.upsert(refreshed).unwrap());
        assert!(rib.expire(5_000).is_empty());
        assert_eq!(rib.expire(9_000), [refreshed]);
        assert!(rib.get(&p("::/0")).is_none());
        assert_eq!(rib.next_expiry(), None);
        let fib = rib.publish().unwrap();
        assert!(fib.lookup(&a("2001:db9::1")).is_none());
        assert_eq!(ports_of(&fib, "2001:db8::1"), [(0, gw("fe80::3"))]);
    }

    #[test]
    fn refused_changes_leave_the_table_as_it_was() {
        let mut rib = Rib::new(2);
        rib.add(via("2001:db8::/32", 0, "fe80::1")).unwrap();
        let errors = [
            rib.add(via("2001:db8::1/32", 0, "fe80::1")).unwrap_err(),
            rib.add(via("2001:db8::/32", 2, "fe80::1")).unwrap_err(),
            rib.add(via("2001:db8::/32", 0, "fe80::1")).unwrap_err(),
            rib.delete(p("2001:db9::/32")).unwrap_err(),
            rib.delete_path(p("2001:db8::/32"), 1, gw("fe80::1"), None)
                .unwrap_err(),
            rib.replace(p("2001:db8::/32"), vec![]).unwrap_err(),
            rib.replace(p("2001:db8::/32"), vec![via("::/0", 0, "fe80::1")])
                .unwrap_err(),
        ];
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "2001:db8::1/32 has host bits set (the prefix is 2001:db8::/32)",
                "port 2 does not exist (the router has 2)",
                "2001:db8::/32 already has the route via fe80::1 port 0 metric 1024",
                "no route for 2001:db9::/32",
                "2001:db8::/32 has no route via fe80::1 port 1 metric 1024",
                "2001:db8::/32: a replace needs at least one route",
                "a route for ::/0 given to replace 2001:db8::/32",
            ]
        );
        assert_eq!(rib.routes().count(), 1);

        // Reject routes name no port.
        rib.add(Route::new(
            p("2001:db8:bad::/48"),
            9,
            NextHop::Reject(Reject::Prohibit),
        ))
        .unwrap();
    }

    #[test]
    fn replaced_tables_are_freed_once_no_reader_holds_them() {
        let mut rib = Rib::new(1);
        rib.add(via("::/0", 0, "fe80::1")).unwrap();
        rib.publish();
        let mut reader = FibReader::new(rib.cell());
        assert_eq!(reader.fib().version(), 1);
        rib.add(via("2001:db8::/32", 0, "fe80::1")).unwrap();
        rib.publish();
        assert_eq!(rib.reclaim(), 1, "the reader still holds version 1");
        reader.refresh();
        assert_eq!(reader.fib().version(), 2);
        assert_eq!(rib.reclaim(), 0);
    }

    /// One change the property test makes.
    #[derive(Debug, Clone)]
    enum Op {
        Add(usize, u16, u32),
        Delete(usize),
        DeletePath(usize, u16),
        Replace(usize, u16),
        Publish,
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn published_tables_agree_with_a_plain_longest_match(
            raw in proptest::collection::vec((proptest::num::u128::ANY, 0u8..=128), 1..24),
            ops in proptest::collection::vec(
                proptest::prop_oneof![
                    (0usize..64, 0u16..4, 1u32..3).prop_map(|(i, g, m)| Op::Add(i, g, m)),
                    (0usize..64).prop_map(Op::Delete),
                    (0usize..64, 0u16..4).prop_map(|(i, g)| Op::DeletePath(i, g)),
                    (0usize..64, 0u16..4).prop_map(|(i, g)| Op::Replace(i, g)),
                    proptest::strategy::Just(Op::Publish),
                ],
                1..80,
            ),
            probes in proptest::collection::vec(proptest::num::u128::ANY, 1..32),
        ) {
            use proptest::prelude::*;
            // Prefixes that nest and overlap: /0, /128 and random lengths, squeezed into
            // a few /20s.
            let mut pool: Vec<Prefix> = raw
                .iter()
                .map(|&(x, len)| Prefix::new(Ipv6Addr::from((0x2001u128 << 112) | (x >> 18)), len).network())
                .collect();
            pool.push(p("::/0"));
            pool.push(p("2001:db8::1/128"));
            // The gateway of (prefix i, path g): one address per pair, so that a lookup
            // tells which prefix answered.
            let gateway = |i: usize, g: u16| Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, i as u16, g);
            let mut rib = Rib::new(4);
            let mut model: BTreeMap<(u128, u8), Vec<Route>> = BTreeMap::new();
            for i in 0..pool.len() {
                for g in 0..4 {
                    rib.set_neighbor(g, gateway(i, g), Reachability::Probable, None);
                }
            }
            for op in ops.iter().cloned().chain([Op::Publish]) {
                match op {
                    Op::Add(i, g, metric) => {
                        let i = i % pool.len();
                        let mut r = Route::new(pool[i], g, NextHop::Gateway(gateway(i, g)));
                        r.metric = metric;
                        let routes = model.entry(key_of(&pool[i])).or_default();
                        let fresh = !routes.iter().any(|x| x.same_path(&r));
                        prop_assert_eq!(rib.add(r).is_ok(), fresh);
                        if fresh {
                            routes.push(r);
                        }
                    }
                    Op::Delete(i) => {
                        let i = i % pool.len();
                        let had = model.remove(&key_of(&pool[i])).is_some();
                        prop_assert_eq!(rib.delete(pool[i]).is_ok(), had);
                    }
                    Op::DeletePath(i, g) => {
                        let i = i % pool.len();
                        let hop = NextHop::Gateway(gateway(i, g));
                        let k = key_of(&pool[i]);
                        let at = model.get(&k).and_then(|rs| rs.iter().position(|r| r.port == g && r.next_hop == hop));
                        prop_assert_eq!(rib.delete_path(pool[i], g, hop, None).is_ok(), at.is_some());
                        if let Some(at) = at {
                            let rs = model.get_mut(&k).unwrap();
                            rs.remove(at);
                            if rs.is_empty() {
                                model.remove(&k);
                            }
                        }
                    }
                    Op::Replace(i, g) => {
                        let i = i % pool.len();
                        let r = Route::new(pool[i], g, NextHop::Gateway(gateway(i, g)));
                        rib.replace(pool[i], vec![r]).unwrap();
                        model.insert(key_of(&pool[i]), vec![r]);
                    }
                    Op::Publish => {
                        rib.publish();
                    }
                }
            }
            let fib = rib.cell().load();
            let keys = probes.iter().map(|x| (0x2001u128 << 112) | (x >> 18))
                .chain(probes.iter().copied())
                .chain(pool.iter().map(|p| u128::from(p.addr)))
                .chain(pool.iter().map(|p| u128::from(p.addr) | !Prefix::mask(p.len)));
            for k in keys {
                let addr = Ipv6Addr::from(k);
                let expected: Option<Vec<(u16, NextHop)>> = model
                    .iter()
                    .filter(|((net, len), _)| k & Prefix::mask(*len) == *net)
                    .max_by_key(|((_, len), _)| *len)
                    .map(|(_, routes)| {
                        let best = routes.iter().map(|r| r.metric).min().unwrap();
                        let mut v: Vec<_> = routes
                            .iter()
                            .filter(|r| r.metric == best)
                            .map(|r| (r.port, r.next_hop))
                            .collect();
                        v.sort();
                        v
                    });
                let got = fib.lookup(&addr).map(|c| {
                    let mut v: Vec<_> = c.all().iter().map(|r| (r.port, r.next_hop)).collect();
                    v.sort();
                    v
                });
                prop_assert_eq!(got, expected, "address {}", addr);
            }
            prop_assert_eq!(rib.len(), model.len());
        }
    }
}
