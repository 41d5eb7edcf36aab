//! The management thread's state and work: the one writer of the control state.
//!
//! [`Management`] owns the configuration and the routing table. It applies the control
//! API's requests one at a time, each whole or not at all; it takes what the workers
//! report (routers' advertisements, gateways' reachability), ends routes whose lifetime
//! is over, and publishes the routing table the workers read. It reads the workers'
//! counters and asks them for their neighbor entries, and never waits on a worker: what a
//! worker has not answered in time is reported as missing. It knows nothing of DPDK: the
//! ports' own counters come through [`Links`].

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use tracing::{error, info, warn};

use crate::config::{Config, ConfigErrors, RouteSpec};
use crate::control::cli::route_line;
use crate::control::server::Call;
use crate::control::{
    AddressRow, LinkRow, NeighborRow, Reply, Request, Response, RouteGot, RouteMatch, RouteRow,
    SelectedPath, Stats,
};
use crate::counters::{CoreCounters, DropReason};
use crate::dataplane::{Dataplane, DataplaneCell, PortView};
use crate::ffi::PortStats;
use crate::fib::{PathText, Rib};
use crate::neigh::cache::State;
use crate::neigh::{Exchange, Message, Neighbor, NeighborTable, RouterReport};
use crate::report::CoreReport;
use crate::route::{NextHop, Preference, Prefix, Reject, Route, Source};

/// How long `neigh show` waits for every worker to list its entries, which each does a
/// part per millisecond.
const LISTING_WAIT: Duration = Duration::from_secs(2);

/// A port as its driver sees it.
#[derive(Debug, Clone, Default)]
pub struct LinkState {
    pub port_id: u16,
    pub up: bool,
    pub speed_mbps: u32,
    pub stats: PortStats,
    pub xstats: BTreeMap<String, u64>,
}

/// The ports' drivers, as the management thread reads them.
pub trait Links {
    fn link(&self, port: usize) -> LinkState;
}

/// A worker core, for the management thread: its lcore and its counters.
pub struct WorkerCounters {
    pub lcore: u32,
    pub counters: Arc<CoreCounters>,
}

/// The management thread's state.
pub struct Management<P> {
    /// The configuration as it is now, with what the control API changed.
    config: Config,
    /// The file as last read, against which a reload finds what changed in it.
    file: Config,
    path: PathBuf,
    rib: Rib,
    /// The configured neighbors, which Neighbor Discovery does not report.
    statics: HashSet<(u16, Ipv6Addr)>,
    /// Addresses refused at start, as (port, address).
    refused: Vec<(usize, Ipv6Addr)>,
    dataplane: Arc<DataplaneCell>,
    exchange: Arc<Exchange<P>>,
    workers: Vec<WorkerCounters>,
    tsc_hz: u64,
    started: Instant,
    /// Requests refused: by the socket (malformed) and here (invalid).
    refused_requests: u64,
    /// Addresses under Duplicate Address Detection.
    probing: Vec<Probing>,
    /// Dataplanes replaced but perhaps still held by a worker.
    retired: Vec<Arc<Dataplane>>,
}

/// An address being probed before it is added to its port.
struct Probing {
    port: usize,
    prefix: Prefix,
    /// Probes still to send, and when the next one goes (RFC 4862 5.4.2: RetransTimer
    /// apart); after the last, RetransTimer more of listening.
    left: u8,
    next: Instant,
    retrans: Duration,
    /// Where the answer to `addr add` goes when the probing ends.
    reply: Option<Sender<Response>>,
}

impl<P> Management<P> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: Config,
        path: PathBuf,
        rib: Rib,
        refused: Vec<(usize, Ipv6Addr)>,
        dataplane: Arc<DataplaneCell>,
        exchange: Arc<Exchange<P>>,
        workers: Vec<WorkerCounters>,
        tsc_hz: u64,
    ) -> Management<P> {
        let statics = config.neighbors.iter().map(|n| (n.port, n.addr)).collect();
        Management {
            file: config.clone(),
            config,
            path,
            rib,
            statics,
            refused,
            dataplane,
            exchange,
            workers,
            tsc_hz,
            started: Instant::now(),
            refused_requests: 0,
            probing: Vec::new(),
            retired: Vec::new(),
        }
    }

    /// The dataplane the workers forward with now.
    fn dp(&self) -> Arc<Dataplane> {
        self.dataplane.load()
    }

    /// Publishes the ports `views` and the configured neighbors to the workers.
    fn publish_dataplane(&mut self, views: Vec<PortView>) {
        let views = views
            .into_iter()
            .enumerate()
            .map(|(p, v)| {
                let tentative = self
                    .probing
                    .iter()
                    .filter(|x| x.port == p)
                    .map(|x| x.prefix.addr)
                    .collect();
                v.with_tentative(tentative)
            })
            .collect();
        let old = self.dataplane.publish(Dataplane::new(
            views,
            self.rib.cell(),
            NeighborTable::new(&self.config.neighbors),
        ));
        self.retired.push(old);
    }

    /// The ports as configured now, rebuilt: their addresses, their link-local ones, and
    /// what they advertise.
    fn views(&self) -> Vec<PortView> {
        let dp = self.dp();
        self.config
            .ports
            .iter()
            .zip(dp.ports())
            .enumerate()
            .map(|(p, (conf, old))| {
                let addrs: Vec<(Ipv6Addr, u8)> = conf
                    .addresses
                    .iter()
                    .filter(|a| !self.refused.contains(&(p, a.addr)))
                    .map(|a| (a.addr, a.len))
                    .collect();
                let mut view = PortView::new(old.mac, old.mtu, &addrs);
                view.ra = old.ra.clone();
                view.accept_ra = old.accept_ra;
                view
            })
            .collect()
    }

    /// Serves one call: answers it, or, for an address that must be probed first, keeps
    /// its answer for when the probing ends.
    pub fn serve(&mut self, call: Call, links: &dyn Links, socket_refused: u64) {
        if let Request::AddrAdd { address, port } = &call.request {
            match self.addr_add(port, address, Some(call.reply.clone())) {
                Ok(None) => {}
                Ok(Some(reply)) => {
                    let _ = call.reply.send(Response::ok(reply));
                }
                Err(e) => {
                    self.refused_requests += 1;
                    let _ = call.reply.send(Response::error(e));
                }
            }
            return;
        }
        let answer = self.handle(call.request, links, socket_refused);
        let _ = call.reply.send(answer);
    }

    fn port_index(&self, name: &str) -> Result<usize, String> {
        self.config.port_index(name).ok_or_else(|| {
            format!(
                "no port is called {name:?} (ports: {})",
                self.port_names().join(", ")
            )
        })
    }

    /// Starts adding `text` to port `name`: at once if the port probes no address,
    /// else once Duplicate Address Detection has found no other holder. Returns the
    /// answer, or `None` when it comes later, through `reply`.
    fn addr_add(
        &mut self,
        name: &str,
        text: &str,
        reply: Option<Sender<Response>>,
    ) -> Result<Option<Reply>, String> {
        let port = self.port_index(name)?;
        let prefix = self.config.address(port, text)?;
        if self.probing.iter().any(|x| x.prefix.addr == prefix.addr) {
            return Err(format!("{} is being probed already", prefix.addr));
        }
        let subnet = prefix.network();
        let routed = prefix.len < 128 && !prefix.addr.is_unicast_link_local();
        // An address under probation holds its subnet for its port already.
        if let Some(other) = self.probing.iter().find(|x| {
            routed && x.port != port && x.prefix.len < 128 && x.prefix.network() == subnet
        }) {
            return Err(format!(
                "subnet {subnet} is being added to {} ({} under duplicate address detection)",
                self.port_name(other.port as u16),
                other.prefix.addr
            ));
        }
        if routed {
            let other = self
                .rib
                .get(&subnet)
                .unwrap_or_default()
                .iter()
                .find(|r| !(r.source == Source::Connected && usize::from(r.port) == port))
                .copied();
            if let Some(r) = other {
                return Err(format!(
                    "{subnet} has a route {}: delete it before the subnet is made a port's",
                    route_line(&self.row(&r))
                ));
            }
        }
        let conf = &self.config.ports[port];
        let transmits = conf.nd.dad_transmits;
        if transmits == 0 {
            self.assign(port, prefix)?;
            return Ok(Some(Reply::Done(format!("added {prefix} to {name}"))));
        }
        // The first worker sends the probes, one each RetransTimer, as the management
        // thread asks; every worker watches for another node that wants the address.
        let retrans = Duration::from_millis(u64::from(conf.nd.retrans_ms));
        self.probing.push(Probing {
            port,
            prefix,
            left: transmits - 1,
            next: Instant::now() + retrans,
            retrans,
            reply,
        });
        self.publish_dataplane(self.views());
        let probe = Message::Probe {
            port: port as u16,
            addr: prefix.addr,
            count: 1,
        };
        if self.exchange.send(0, probe).is_err() {
            self.probing.retain(|x| x.prefix != prefix);
            self.publish_dataplane(self.views());
            return Err("the first worker's inbox is full: try again".into());
        }
        info!(port = name, address = %prefix, "probing a new address");
        Ok(None)
    }

    /// Adds `prefix` to port `port`, with the route of its subnet.
    ///
    /// # Errors
    /// What came in the way while it was probed: the address or its subnet taken by
    /// another port, or a route of another source made for the subnet.
    fn assign(&mut self, port: usize, prefix: Prefix) -> Result<(), String> {
        self.config.address(port, &prefix.to_string())?;
        let subnet = prefix.network();
        let other = self.rib.get(&subnet).unwrap_or_default().iter().find(|r| {
            prefix.len < 128
                && !prefix.addr.is_unicast_link_local()
                && !(r.source == Source::Connected && usize::from(r.port) == port)
        });
        if let Some(r) = other {
            return Err(format!(
                "{subnet} got a route {} meanwhile: not added",
                route_line(&self.row(r))
            ));
        }
        self.config.ports[port].addresses.push(prefix);
        self.refused.retain(|x| *x != (port, prefix.addr));
        if prefix.len < 128
            && !prefix.addr.is_unicast_link_local()
            && self.rib.get(&subnet).is_none()
        {
            let route = Route {
                source: Source::Connected,
                ..Route::new(subnet, port as u16, NextHop::OnLink)
            };
            if let Err(e) = self.rib.add(route) {
                warn!(%subnet, "connected route refused: {e}");
            }
            if !self.config.routes.contains(&route) {
                self.config.routes.push(route);
            }
        }
        self.rib.publish();
        self.publish_dataplane(self.views());
        info!(port = %self.port_name(port as u16), address = %prefix, "address added");
        Ok(())
    }

    /// Ends the probing of addresses: refused if another node answered for one, added if
    /// its time is up.
    fn probes(&mut self) {
        let mut changed = false;
        while let Some((port, addr)) = self.exchange.duplicate() {
            let Some(i) = self
                .probing
                .iter()
                .position(|x| x.port == usize::from(port) && x.prefix.addr == addr)
            else {
                continue;
            };
            let p = self.probing.remove(i);
            changed = true;
            let e = format!(
                "{addr} is held by another node on the link of {} (duplicate address \
                 detection): not added",
                self.port_name(port)
            );
            error!("{e}");
            if !self.refused.contains(&(p.port, addr)) {
                self.refused.push((p.port, addr));
            }
            if let Some(r) = p.reply {
                let _ = r.send(Response::error(e));
            }
        }
        let now = Instant::now();
        for p in self
            .probing
            .iter_mut()
            .filter(|x| x.left > 0 && x.next <= now)
        {
            let probe = Message::Probe {
                port: p.port as u16,
                addr: p.prefix.addr,
                count: 1,
            };
            // A probe the inbox has no room for goes a round later.
            if self.exchange.send(0, probe).is_ok() {
                p.left -= 1;
                p.next = now + p.retrans;
            }
        }
        while let Some(i) = self
            .probing
            .iter()
            .position(|x| x.left == 0 && x.next <= now)
        {
            let p = self.probing.remove(i);
            let name = self.port_name(p.port as u16);
            // The publication that adds it carries the refusals above too.
            let answer = match self.assign(p.port, p.prefix) {
                Ok(()) => {
                    changed = false;
                    Response::ok(Reply::Done(format!("added {} to {name}", p.prefix)))
                }
                Err(e) => {
                    warn!("address {} on {name}: {e}", p.prefix);
                    changed = true;
                    Response::error(e)
                }
            };
            if let Some(r) = p.reply {
                let _ = r.send(answer);
            }
        }
        if changed {
            self.publish_dataplane(self.views());
        }
    }

    fn addr_del(&mut self, name: &str, text: &str) -> Result<Reply, String> {
        let port = self.port_index(name)?;
        let addr: Ipv6Addr = text
            .split('/')
            .next()
            .unwrap_or_default()
            .parse()
            .map_err(|_| format!("{text:?} is not an IPv6 address"))?;
        if let Some(i) = self
            .probing
            .iter()
            .position(|x| x.port == port && x.prefix.addr == addr)
        {
            let p = self.probing.remove(i);
            if let Some(r) = p.reply {
                let _ = r.send(Response::error(format!(
                    "{addr}: deleted while it was probed"
                )));
            }
            self.publish_dataplane(self.views());
            return Ok(Reply::Done(format!("stopped probing {addr} on {name}")));
        }
        let dp = self.dp();
        let mac = dp.ports()[port].mac;
        if addr == crate::wire::ipv6::link_local_from_mac(&mac) {
            return Err(format!(
                "{addr}: a port keeps the link-local address of its MAC address"
            ));
        }
        let conf = &self.config.ports[port];
        let Some(prefix) = conf.addresses.iter().find(|a| a.addr == addr).copied() else {
            return Err(format!("{name} has no address {addr}"));
        };
        let subnet = prefix.network();
        // Another address of the port in the subnet, now or being probed, keeps it.
        let still = conf
            .addresses
            .iter()
            .chain(
                self.probing
                    .iter()
                    .filter(|x| x.port == port)
                    .map(|x| &x.prefix),
            )
            .any(|a| a.addr != addr && a.len < 128 && a.network() == subnet);
        if prefix.len < 128 && !prefix.addr.is_unicast_link_local() && !still {
            let through = self.rib.routes().find(|r| {
                usize::from(r.port) == port
                    && matches!(r.next_hop, NextHop::Gateway(g) if subnet.contains(&g))
            });
            if let Some(r) = through {
                return Err(format!(
                    "the route {} goes through {subnet}: delete it first",
                    route_line(&self.row(r))
                ));
            }
            let connected: Vec<Route> = self
                .rib
                .get(&subnet)
                .unwrap_or_default()
                .iter()
                .filter(|r| r.source == Source::Connected && usize::from(r.port) == port)
                .copied()
                .collect();
            for r in connected {
                let _ = self
                    .rib
                    .delete_path(subnet, r.port, r.next_hop, Some(r.metric));
            }
            self.config.routes.retain(|r| {
                !(r.source == Source::Connected
                    && r.prefix == subnet
                    && usize::from(r.port) == port)
            });
        }
        self.config.ports[port].addresses.retain(|a| a.addr != addr);
        self.rib.publish();
        self.publish_dataplane(self.views());
        info!(port = name, address = %prefix, "address deleted");
        Ok(Reply::Done(format!("deleted {prefix} from {name}")))
    }

    fn neigh_add(
        &mut self,
        address: &str,
        lladdr: &str,
        port: Option<&str>,
    ) -> Result<Reply, String> {
        let n = self.config.neighbor(address, lladdr, port)?;
        if self.statics.contains(&(n.port, n.addr)) {
            return Err(format!(
                "{} on {} is configured already: delete it first",
                n.addr,
                self.port_name(n.port)
            ));
        }
        self.add_static(n)?;
        Ok(Reply::Done(format!(
            "added {} dev {} lladdr {} PERMANENT",
            n.addr,
            self.port_name(n.port),
            n.lladdr
        )))
    }

    /// Makes `n` a configured neighbor, taking the place of Neighbor Discovery's entry.
    fn add_static(&mut self, n: Neighbor) -> Result<(), String> {
        let owner = self.exchange.owner(n.port, &n.addr);
        let forget = Message::Flush {
            port: Some(n.port),
            addr: Some(n.addr),
        };
        if self.exchange.send(owner, forget).is_err() {
            return Err("the owner core's inbox is full: try again".into());
        }
        self.config.neighbors.push(n);
        self.statics.insert((n.port, n.addr));
        self.rib.set_neighbor(
            n.port,
            n.addr,
            crate::neigh::Reachability::Probable,
            Some(n.lladdr),
        );
        self.rib.publish();
        self.publish_dataplane(self.views());
        info!(port = n.port, neighbor = %n.addr, lladdr = %n.lladdr, "neighbor configured");
        Ok(())
    }

    /// Takes a configured neighbor away: Neighbor Discovery finds it again if it is used.
    fn remove_static(&mut self, port: u16, addr: Ipv6Addr) {
        self.config
            .neighbors
            .retain(|n| (n.port, n.addr) != (port, addr));
        self.statics.remove(&(port, addr));
        self.rib
            .set_neighbor(port, addr, crate::neigh::Reachability::Unknown, None);
        self.rib.publish();
        self.publish_dataplane(self.views());
        info!(port, neighbor = %addr, "configured neighbor removed");
    }

    fn neigh_del(&mut self, address: &str, port: Option<&str>) -> Result<Reply, String> {
        let addr: Ipv6Addr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IPv6 address"))?;
        let port = match port {
            Some(name) => Some(self.port_index(name)? as u16),
            None => None,
        };
        let statics: Vec<(u16, Ipv6Addr)> = self
            .statics
            .iter()
            .filter(|(p, a)| *a == addr && port.is_none_or(|q| q == *p))
            .copied()
            .collect();
        if let [(p, a)] = statics.as_slice() {
            self.remove_static(*p, *a);
            return Ok(Reply::Done(format!(
                "deleted {a} dev {}",
                self.port_name(*p)
            )));
        }
        if statics.len() > 1 {
            return Err(format!(
                "{addr} is configured on several ports: name one with dev"
            ));
        }
        // An entry of Neighbor Discovery's: its owner frees it.
        let Reply::Neighbors(rows) = self.neigh_show()? else {
            return Err("no listing".into());
        };
        let found: Vec<u16> = rows
            .iter()
            .filter(|r| r.address == addr && r.core.is_some())
            .filter_map(|r| self.config.port_index(&r.dev).map(|p| p as u16))
            .filter(|p| port.is_none_or(|q| q == *p))
            .collect();
        if found.is_empty() {
            return Err(format!("no neighbor {addr}"));
        }
        for p in &found {
            let owner = self.exchange.owner(*p, &addr);
            let forget = Message::Flush {
                port: Some(*p),
                addr: Some(addr),
            };
            if self.exchange.send(owner, forget).is_err() {
                return Err("the owner core's inbox is full: try again".into());
            }
        }
        Ok(Reply::Done(format!("deleted {addr}")))
    }

    fn neigh_flush(&mut self, port: Option<&str>) -> Result<Reply, String> {
        let port = match port {
            Some(name) => Some(self.port_index(name)? as u16),
            None => None,
        };
        // Every inbox must have room, so that the flush reaches all cores or none; a core
        // could still fill its inbox between the look and the send, which is then said.
        if let Some(core) = (0..self.exchange.cores()).find(|&c| self.exchange.is_full(c)) {
            return Err(format!("worker {core}'s inbox is full: try again"));
        }
        for core in 0..self.exchange.cores() {
            let flush = Message::Flush { port, addr: None };
            if self.exchange.send(core, flush).is_err() {
                return Err(format!(
                    "worker {core}'s inbox filled up meanwhile: the workers before it \
                     flushed, the others did not; try again"
                ));
            }
        }
        Ok(Reply::Done(match port {
            Some(p) => format!("flushed the neighbor entries of {}", self.port_name(p)),
            None => "flushed the neighbor entries of every port".into(),
        }))
    }

    pub fn rib(&self) -> &Rib {
        &self.rib
    }

    /// Nanoseconds since start: the clock of route lifetimes.
    fn now(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    /// The periodic work: routes learned from advertisements, gateways' reachability,
    /// lifetimes ended; then the table is published if it changed, and tables no worker
    /// holds any longer are freed.
    pub fn tick(&mut self) {
        let now = self.now();
        for r in self.rib.expire(now) {
            info!(prefix = %r.prefix, path = %PathText(&r), "route expired");
        }
        while let Some(ra) = self.exchange.router_advert() {
            learn_routes(&mut self.rib, &ra, now);
        }
        // Static neighbors are the configuration's; hosts that are no router nor gateway
        // do not concern the routing table.
        while let Some(ch) = self.exchange.reachability() {
            if self.statics.contains(&(ch.port, ch.addr)) {
                continue;
            }
            if ch.router || self.rib.has_gateway(ch.port, &ch.addr) {
                info!(port = ch.port, neighbor = %ch.addr, reachability = ?ch.reachability, "neighbor");
                self.rib
                    .set_neighbor(ch.port, ch.addr, ch.reachability, None);
            }
        }
        self.probes();
        self.rib.publish();
        self.rib.reclaim();
        self.retired.retain(|d| Arc::strong_count(d) > 1);
    }

    /// Applies or answers one request. A change is published before the answer, so a
    /// client that is told it is done may count on the workers using it.
    pub fn handle(&mut self, request: Request, links: &dyn Links, socket_refused: u64) -> Response {
        let result = match request {
            Request::RouteShow => Ok(Reply::Routes(
                self.rib.routes().map(|r| self.row(r)).collect(),
            )),
            Request::RouteShowWithin { prefix } => match prefix.parse::<Prefix>() {
                Ok(p) => Ok(Reply::Routes(
                    self.rib.routes_within(&p).map(|r| self.row(r)).collect(),
                )),
                Err(e) => Err(format!("prefix: {e}")),
            },
            Request::RouteGet { address } => self.route_get(address),
            Request::RouteAdd(spec) => self.route_add(&spec),
            Request::RouteReplace { prefix, paths } => self.route_replace(&prefix, &paths),
            Request::RouteDel(m) => self.route_del(&m),
            Request::NeighShow => self.neigh_show(),
            Request::NeighAdd {
                address,
                lladdr,
                port,
            } => self.neigh_add(&address, &lladdr, port.as_deref()),
            Request::NeighDel { address, port } => self.neigh_del(&address, port.as_deref()),
            Request::NeighFlush { port } => self.neigh_flush(port.as_deref()),
            Request::AddrShow => Ok(Reply::Addresses(self.addresses())),
            Request::AddrAdd { address, port } => match self.addr_add(&port, &address, None) {
                Ok(Some(reply)) => Ok(reply),
                Ok(None) => Ok(Reply::Done(format!("probing {address} on {port}"))),
                Err(e) => Err(e),
            },
            Request::AddrDel { address, port } => self.addr_del(&port, &address),
            Request::LinkShow => Ok(Reply::Links(self.links(links))),
            Request::Stats => Ok(Reply::Stats(Box::new(self.stats(links, socket_refused)))),
            Request::Reload => self.reload(),
        };
        match result {
            Ok(reply) => {
                self.rib.publish();
                Response::ok(reply)
            }
            Err(e) => {
                self.refused_requests += 1;
                Response::error(e)
            }
        }
    }

    fn port_name(&self, port: u16) -> String {
        self.config
            .ports
            .get(usize::from(port))
            .map_or_else(|| format!("port{port}"), |p| p.name.clone())
    }

    fn row(&self, r: &Route) -> RouteRow {
        let now = self.now();
        let (kind, via, dev) = match r.next_hop {
            NextHop::Gateway(g) => ("unicast", Some(g), Some(self.port_name(r.port))),
            NextHop::OnLink => ("unicast", None, Some(self.port_name(r.port))),
            NextHop::Reject(j) => (reject_name(j), None, None),
        };
        RouteRow {
            prefix: r.prefix.to_string(),
            kind: kind.to_owned(),
            via,
            dev,
            metric: r.metric,
            preference: r.preference.to_string(),
            proto: r.source.to_string(),
            expires_s: r
                .expires
                .map(|t| t.saturating_sub(now).div_ceil(1_000_000_000)),
        }
    }

    fn route_get(&self, address: Ipv6Addr) -> Result<Reply, String> {
        let found = self
            .rib
            .lookup(&address)
            .ok_or_else(|| format!("no route to {address}"))?;
        Ok(Reply::Route(RouteGot {
            address,
            routes: found.routes.iter().map(|r| self.row(r)).collect(),
            selected: found
                .selected
                .iter()
                .map(|s| match s.next_hop {
                    NextHop::Reject(j) => SelectedPath {
                        dev: None,
                        via: None,
                        kind: reject_name(j).to_owned(),
                    },
                    NextHop::Gateway(g) => SelectedPath {
                        dev: Some(self.port_name(s.port)),
                        via: Some(g),
                        kind: "unicast".into(),
                    },
                    NextHop::OnLink => SelectedPath {
                        dev: Some(self.port_name(s.port)),
                        via: None,
                        kind: "unicast".into(),
                    },
                })
                .collect(),
        }))
    }

    /// A route the API gives, checked as the configuration's are; it must not touch a
    /// port's own subnet.
    fn api_route(&self, spec: &RouteSpec) -> Result<Route, String> {
        let route = self.config.route(spec)?;
        self.not_connected(&route.prefix)?;
        Ok(Route {
            source: Source::Api,
            ..route
        })
    }

    fn not_connected(&self, prefix: &Prefix) -> Result<(), String> {
        if let Some(p) = self
            .probing
            .iter()
            .find(|x| x.prefix.len < 128 && x.prefix.network() == *prefix)
        {
            return Err(format!(
                "{prefix} is being made the subnet of port {} ({} under duplicate address \
                 detection)",
                self.port_name(p.port as u16),
                p.prefix.addr
            ));
        }
        let routes = self.rib.get(prefix).unwrap_or_default();
        match routes.iter().find(|r| r.source == Source::Connected) {
            Some(r) => Err(format!(
                "{prefix} is the subnet of port {}: change the port's addresses instead",
                self.port_name(r.port)
            )),
            None => Ok(()),
        }
    }

    fn route_add(&mut self, spec: &RouteSpec) -> Result<Reply, String> {
        let route = self.api_route(spec)?;
        let paths = self.rib.get(&route.prefix).unwrap_or_default();
        check_mix(paths.iter().chain([&route]))?;
        self.rib.add(route).map_err(|e| e.to_string())?;
        let line = route_line(&self.row(&route));
        info!("route added: {line}");
        Ok(Reply::Done(format!("added {line}")))
    }

    fn route_replace(&mut self, prefix: &str, paths: &[RouteSpec]) -> Result<Reply, String> {
        let prefix: Prefix = prefix.parse().map_err(|e| format!("prefix: {e}"))?;
        if paths.is_empty() {
            return Err(format!("{prefix}: a replace needs at least one path"));
        }
        let mut routes = Vec::new();
        for (i, spec) in paths.iter().enumerate() {
            let r = self
                .api_route(spec)
                .map_err(|e| format!("path {}: {e}", i + 1))?;
            if r.prefix != prefix {
                return Err(format!(
                    "path {}: its prefix {} is not {prefix}",
                    i + 1,
                    r.prefix
                ));
            }
            routes.push(r);
        }
        check_mix(routes.iter())?;
        self.rib
            .replace(prefix, routes.clone())
            .map_err(|e| e.to_string())?;
        info!(%prefix, paths = routes.len(), "route replaced");
        Ok(Reply::Done(format!(
            "replaced {prefix} with {} path(s)",
            routes.len()
        )))
    }

    fn route_del(&mut self, m: &RouteMatch) -> Result<Reply, String> {
        let prefix: Prefix = m.prefix.parse().map_err(|e| format!("prefix: {e}"))?;
        if prefix.network() != prefix {
            return Err(format!(
                "{prefix} has host bits set (the prefix is {})",
                prefix.network()
            ));
        }
        self.not_connected(&prefix)?;
        let routes = self
            .rib
            .get(&prefix)
            .ok_or_else(|| format!("no route for {prefix}"))?
            .to_vec();
        let via: Option<Ipv6Addr> = match &m.via {
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("via: {v:?} is not an IPv6 address"))?,
            ),
            None => None,
        };
        let port = match &m.port {
            Some(name) => Some(self.config.port_index(name).ok_or_else(|| {
                format!(
                    "no port is called {name:?} (ports: {})",
                    self.port_names().join(", ")
                )
            })? as u16),
            None => None,
        };
        let matches = |r: &Route| {
            via.is_none_or(|g| r.next_hop == NextHop::Gateway(g))
                && port.is_none_or(|p| r.port == p && !matches!(r.next_hop, NextHop::Reject(_)))
                && m.metric.is_none_or(|x| x == r.metric)
        };
        let (gone, kept): (Vec<Route>, Vec<Route>) = routes.iter().partition(|r| matches(r));
        if gone.is_empty() {
            return Err(format!("{prefix} has no route that matches"));
        }
        if kept.is_empty() {
            self.rib.delete(prefix).map_err(|e| e.to_string())?;
        } else {
            self.rib.replace(prefix, kept).map_err(|e| e.to_string())?;
        }
        let lines: Vec<String> = gone.iter().map(|r| route_line(&self.row(r))).collect();
        for line in &lines {
            info!("route deleted: {line}");
        }
        Ok(Reply::Done(format!("deleted {}", lines.join("\ndeleted "))))
    }

    fn port_names(&self) -> Vec<&str> {
        self.config.ports.iter().map(|p| p.name.as_str()).collect()
    }

    /// Every neighbor entry: the configured ones, and the entries each worker lists when
    /// asked. A worker that does not answer within [`LISTING_WAIT`] fails the request
    /// rather than giving a partial list.
    fn neigh_show(&mut self) -> Result<Reply, String> {
        let dp = self.dp();
        let mut rows: Vec<NeighborRow> = dp
            .neighbors()
            .iter()
            .map(|n| NeighborRow {
                dev: self.port_name(n.port),
                address: n.addr,
                lladdr: Some(n.lladdr.to_string()),
                state: State::Static.name().to_owned(),
                router: false,
                core: None,
            })
            .collect();
        let asked = self.exchange.ask_listing();
        let deadline = Instant::now() + LISTING_WAIT;
        let mut answered = vec![false; self.workers.len()];
        while answered.iter().any(|a| !a) {
            match self.exchange.take_listing() {
                Some(l) if l.asked == asked && l.core < answered.len() => {
                    answered[l.core] |= l.last;
                    let lcore = self.workers[l.core].lcore;
                    rows.extend(l.entries.into_iter().map(|e| NeighborRow {
                        dev: self.port_name(e.port),
                        address: e.addr,
                        lladdr: e.lladdr.map(|m| m.to_string()),
                        state: e.state.name().to_owned(),
                        router: e.router,
                        core: Some(lcore),
                    }));
                }
                Some(_) => {}
                None if Instant::now() >= deadline => {
                    let missing: Vec<String> = answered
                        .iter()
                        .zip(&self.workers)
                        .filter(|(a, _)| !**a)
                        .map(|(_, w)| w.lcore.to_string())
                        .collect();
                    return Err(format!(
                        "worker lcore(s) {} did not list their neighbors in time",
                        missing.join(", ")
                    ));
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
        rows.sort_by(|a, b| (&a.dev, a.address).cmp(&(&b.dev, b.address)));
        Ok(Reply::Neighbors(rows))
    }

    fn addresses(&self) -> Vec<AddressRow> {
        let dp = self.dp();
        self.config
            .ports
            .iter()
            .zip(dp.ports())
            .enumerate()
            .map(|(p, (conf, view))| AddressRow {
                dev: conf.name.clone(),
                addresses: view
                    .subnets
                    .iter()
                    .map(|(a, len)| format!("{a}/{len}"))
                    .collect(),
                tentative: view.tentative.iter().map(ToString::to_string).collect(),
                refused: self
                    .refused
                    .iter()
                    .filter(|(q, _)| *q == p)
                    .map(|(_, a)| a.to_string())
                    .collect(),
            })
            .collect()
    }

    fn links(&self, links: &dyn Links) -> Vec<LinkRow> {
        let dp = self.dp();
        self.config
            .ports
            .iter()
            .zip(dp.ports())
            .enumerate()
            .map(|(p, (conf, view))| {
                let l = links.link(p);
                LinkRow {
                    name: conf.name.clone(),
                    device: conf.device.name().to_owned(),
                    port_id: l.port_id,
                    mac: view.mac.to_string(),
                    mtu: view.mtu,
                    up: l.up,
                    speed_mbps: l.speed_mbps,
                    stats: l.stats,
                    xstats: l.xstats,
                }
            })
            .collect()
    }

    /// Every counter, read without stopping a worker.
    pub fn stats(&self, links: &dyn Links, socket_refused: u64) -> Stats {
        let cores: Vec<CoreReport> = self
            .workers
            .iter()
            .map(|w| CoreReport::new(w.lcore, &w.counters, self.tsc_hz))
            .collect();
        let mut drops: BTreeMap<String, u64> = DropReason::ALL
            .iter()
            .map(|r| (r.name().to_owned(), 0))
            .collect();
        let mut neighbors: BTreeMap<String, u64> = State::ALL
            .iter()
            .map(|s| (s.name().to_owned(), 0))
            .collect();
        for c in &cores {
            for (name, n) in &c.drops {
                *drops.entry(name.clone()).or_default() += n;
            }
            for (name, n) in &c.neighbors {
                *neighbors.entry(name.clone()).or_default() += n;
            }
        }
        *neighbors
            .entry(State::Static.name().to_owned())
            .or_default() += self.dp().neighbors().len() as u64;
        let mut routes: BTreeMap<String, u64> = [
            Source::Connected,
            Source::Static,
            Source::RouterAdvertisement,
            Source::RouteInformation,
            Source::Api,
        ]
        .iter()
        .map(|s| (s.to_string(), 0))
        .collect();
        for r in self.rib.routes() {
            *routes.entry(r.source.to_string()).or_default() += 1;
        }
        Stats {
            uptime_s: self.started.elapsed().as_secs_f64(),
            tsc_hz: self.tsc_hz,
            links: self.links(links),
            cores,
            drops,
            routes,
            prefixes: self.rib.len() as u64,
            neighbors,
            control_errors: self.refused_requests + socket_refused,
        }
    }

    /// Reads the configuration file again and applies what changed while the workers
    /// forward: the configured routes, neighbors and addresses (a new address after
    /// Duplicate Address Detection, as `addr add`). A change to anything else (ports,
    /// cores, pools, timers, sockets) is refused with the field named, and then nothing
    /// changes; so is a file that does not validate, or a change that would leave a
    /// route of another source without its subnet.
    pub fn reload(&mut self) -> Result<Reply, String> {
        let not = |e: String| format!("{e}: not reloaded, nothing changed");
        let fresh = Config::load(&self.path).map_err(|e: ConfigErrors| {
            format!(
                "{e}\n{}: not reloaded; nothing changed",
                self.path.display()
            )
        })?;
        let fixed = restart_only(&self.file, &fresh);
        if !fixed.is_empty() {
            return Err(format!(
                "{}: {} can change only by a restart; not reloaded, nothing changed",
                self.path.display(),
                fixed.join(", ")
            ));
        }

        // Routes: every prefix's routes after the change, checked before any is applied.
        let is_static = |r: &&Route| r.source == Source::Static;
        let old: Vec<Route> = self.file.routes.iter().filter(is_static).copied().collect();
        let new: Vec<Route> = fresh.routes.iter().filter(is_static).copied().collect();
        let mut prefixes: Vec<Prefix> = old.iter().chain(&new).map(|r| r.prefix).collect();
        prefixes.sort_by_key(|p| (u128::from(p.addr), p.len));
        prefixes.dedup();
        let mut plan: Vec<(Prefix, Vec<Route>)> = Vec::new();
        let mut said = Vec::new();
        for prefix in prefixes {
            let wanted: Vec<Route> = new.iter().filter(|r| r.prefix == prefix).copied().collect();
            let had: Vec<Route> = old.iter().filter(|r| r.prefix == prefix).copied().collect();
            if same_paths(&wanted, &had) {
                continue;
            }
            let mut routes: Vec<Route> = self
                .rib
                .get(&prefix)
                .unwrap_or_default()
                .iter()
                .filter(|r| r.source != Source::Static)
                .copied()
                .collect();
            if let Some(clash) = routes
                .iter()
                .find(|r| wanted.iter().any(|w| w.same_path(r)))
            {
                return Err(not(format!(
                    "{prefix} {} is also a route of source {}",
                    PathText(clash),
                    clash.source
                )));
            }
            routes.extend(&wanted);
            check_mix(routes.iter()).map_err(not)?;
            said.push(match (had.is_empty(), wanted.is_empty()) {
                (true, _) => format!("route {prefix} added"),
                (_, true) => format!("route {prefix} removed"),
                _ => format!("route {prefix} changed"),
            });
            plan.push((prefix, routes));
        }

        // Addresses: those gone must not leave a route of another source without its
        // subnet.
        let mut gone: Vec<(usize, Prefix)> = Vec::new();
        let mut added: Vec<(usize, Prefix)> = Vec::new();
        for (p, (a, b)) in self.file.ports.iter().zip(&fresh.ports).enumerate() {
            let now = &self.config.ports[p].addresses;
            gone.extend(
                a.addresses
                    .iter()
                    .filter(|x| !b.addresses.contains(x) && now.contains(x))
                    .map(|x| (p, *x)),
            );
            added.extend(
                b.addresses
                    .iter()
                    .filter(|x| !a.addresses.contains(x) && !now.contains(x))
                    .map(|x| (p, *x)),
            );
        }
        for &(p, prefix) in &gone {
            let subnet = prefix.network();
            let kept = self.config.ports[p]
                .addresses
                .iter()
                .chain(&fresh.ports[p].addresses)
                .any(|a| *a != prefix && a.len < 128 && a.network() == subnet);
            if prefix.len < 128 && !kept {
                let through = self.rib.routes().find(|r| {
                    r.source != Source::Static
                        && r.source != Source::Connected
                        && usize::from(r.port) == p
                        && matches!(r.next_hop, NextHop::Gateway(g) if subnet.contains(&g))
                });
                if let Some(r) = through {
                    return Err(not(format!(
                        "the route {} goes through {subnet}, which port {} would lose",
                        route_line(&self.row(r)),
                        self.port_name(p as u16)
                    )));
                }
            }
        }

        // Neighbors: what the file no longer has, if it is still there; what it has
        // anew, in place of any entry of the same address.
        let old_n = &self.file.neighbors;
        let lost: Vec<Neighbor> = old_n
            .iter()
            .filter(|n| !fresh.neighbors.contains(n) && self.config.neighbors.contains(n))
            .copied()
            .collect();
        let new_n: Vec<Neighbor> = fresh
            .neighbors
            .iter()
            .filter(|n| !old_n.contains(n) && !self.config.neighbors.contains(n))
            .copied()
            .collect();

        // Everything checked: applied.
        for n in &lost {
            self.remove_static(n.port, n.addr);
            said.push(format!("neighbor {} removed", n.addr));
        }
        for (prefix, routes) in plan {
            let applied = if routes.is_empty() {
                self.rib.delete(prefix).map(|_| ())
            } else {
                self.rib.replace(prefix, routes)
            };
            if let Err(e) = applied {
                // Checked above; a refusal here is a fault of the checks.
                warn!(%prefix, "reload: {e}");
            }
        }
        // An address whose subnet the port keeps (a new address in it, say) goes after
        // the new ones come, so that the subnet's route stays; the others go first, so
        // that an address or subnet moving to another port is free when it gets there.
        let keeps = |p: usize, prefix: &Prefix| {
            fresh.ports[p].addresses.iter().any(|a| {
                a != prefix && a.len < 128 && prefix.len < 128 && a.network() == prefix.network()
            })
        };
        type Addresses = Vec<(usize, Prefix)>;
        let (later, first): (Addresses, Addresses) =
            gone.iter().partition(|(p, prefix)| keeps(*p, prefix));
        for &(p, prefix) in &first {
            self.reload_remove(p, prefix, &mut said);
        }
        let statics: Vec<Route> = fresh.routes.iter().filter(is_static).copied().collect();
        self.config.routes.retain(|r| r.source != Source::Static);
        self.config.routes.extend(statics);
        for &(p, prefix) in &added {
            let name = self.config.ports[p].name.clone();
            match self.addr_add(&name, &prefix.to_string(), None) {
                Ok(Some(_)) => said.push(format!("address {prefix} added to {name}")),
                Ok(None) => said.push(format!(
                    "address {prefix} probed on {name}, added if no other node holds it"
                )),
                Err(e) => said.push(format!("address {prefix} not added to {name}: {e}")),
            }
        }
        for &(p, prefix) in &later {
            self.reload_remove(p, prefix, &mut said);
        }
        for n in new_n {
            if self.statics.contains(&(n.port, n.addr)) {
                self.remove_static(n.port, n.addr);
            }
            match self.add_static(n) {
                Ok(()) => said.push(format!("neighbor {} added", n.addr)),
                Err(e) => said.push(format!("neighbor {} not added: {e}", n.addr)),
            }
        }
        self.file = fresh;
        self.rib.publish();
        for s in &said {
            info!("reload: {s}");
        }
        info!(changes = said.len(), "configuration reloaded");
        Ok(Reply::Reloaded(said))
    }
}

impl<P> Management<P> {
    /// Takes an address the file no longer has off its port, saying what became of it.
    fn reload_remove(&mut self, port: usize, prefix: Prefix, said: &mut Vec<String>) {
        let name = self.config.ports[port].name.clone();
        match self.addr_del(&name, &prefix.addr.to_string()) {
            Ok(_) => said.push(format!("address {prefix} removed from {name}")),
            Err(e) => {
                warn!("reload: {e}");
                said.push(format!("address {prefix} not removed from {name}: {e}"));
            }
        }
    }
}

/// The fields of `old` and `new` that differ and that only a restart changes.
fn restart_only(old: &Config, new: &Config) -> Vec<String> {
    let mut fields = Vec::new();
    let mut differ = |same: bool, field: &str| {
        if !same {
            fields.push(field.to_owned());
        }
    };
    differ(old.workers == new.workers, "workers");
    differ(old.burst == new.burst, "burst");
    differ(old.mbufs == new.mbufs, "mbufs");
    differ(old.rx_descriptors == new.rx_descriptors, "rx_descriptors");
    differ(old.tx_descriptors == new.tx_descriptors, "tx_descriptors");
    differ(old.icmp == new.icmp, "icmp");
    differ(old.polling == new.polling, "polling");
    differ(old.control_socket == new.control_socket, "control.socket");
    differ(old.metrics == new.metrics, "metrics.listen");
    differ(old.ports.len() == new.ports.len(), "the number of ports");
    for (i, (a, b)) in old.ports.iter().zip(&new.ports).enumerate() {
        let f = |name: &str| format!("port[{i}].{name}");
        differ(a.name == b.name, &f("name"));
        differ(a.device == b.device, &f("device"));
        differ(a.mtu == b.mtu, &f("mtu"));
        differ(a.nd == b.nd, &f("nd"));
        differ(a.ra == b.ra, &f("ra"));
        differ(a.accept_ra == b.accept_ra, &f("accept_ra"));
    }
    fields
}

/// Whether two lists hold the same routes, in any order.
fn same_paths(a: &[Route], b: &[Route]) -> bool {
    a.len() == b.len() && a.iter().all(|r| b.contains(r))
}

/// A reject route and a path of the same metric cannot share a prefix's traffic: the
/// configuration refuses it, and so does the API.
fn check_mix<'a>(mut routes: impl Iterator<Item = &'a Route> + Clone) -> Result<(), String> {
    let all: Vec<&Route> = routes.clone().collect();
    match routes.find(|r| {
        all.iter().any(|o| {
            o.metric == r.metric
                && matches!(o.next_hop, NextHop::Reject(_))
                    != matches!(r.next_hop, NextHop::Reject(_))
        })
    }) {
        Some(r) => Err(format!(
            "{}: a reject route and a path of metric {} cannot share the load (give one a \
             higher metric)",
            r.prefix, r.metric
        )),
        None => Ok(()),
    }
}

fn reject_name(j: Reject) -> &'static str {
    match j {
        Reject::Blackhole => "blackhole",
        Reject::Unreachable => "unreachable",
        Reject::Prohibit => "prohibit",
    }
}

/// Takes the routes a router on an upstream port advertises: the default route through
/// it for its router lifetime, at its preference (RFC 4861 6.3.4, RFC 4191 3.1; the
/// default route is an ordinary route, `::/0`), and one per Route Information option. A
/// lifetime of 0 takes the route away.
fn learn_routes(rib: &mut Rib, ra: &RouterReport, now: u64) {
    let a = &ra.advert;
    let offers = std::iter::once((
        0u128,
        0u8,
        a.prf,
        u32::from(a.lifetime_s),
        Source::RouterAdvertisement,
    ))
    .chain(a.routes[..a.route_count].iter().map(|r| {
        (
            r.prefix,
            r.len,
            r.prf,
            r.lifetime_s,
            Source::RouteInformation,
        )
    }));
    for (prefix, len, prf, lifetime_s, source) in offers {
        let prefix = Prefix::new(Ipv6Addr::from(prefix), len).network();
        let hop = NextHop::Gateway(ra.router);
        if lifetime_s == 0 {
            if rib.delete_path(prefix, ra.port, hop, None).is_ok() {
                info!(%prefix, router = %ra.router, port = ra.port, "route withdrawn");
            }
            continue;
        }
        let route = Route {
            preference: Preference::from_prf(prf),
            source,
            // RFC 4191 3.1: the largest lifetime means for ever.
            expires: (lifetime_s != u32::MAX).then(|| now + u64::from(lifetime_s) * 1_000_000_000),
            ..Route::new(prefix, ra.port, hop)
        };
        match rib.upsert(route) {
            Ok(true) => {
                info!(%prefix, router = %ra.router, port = ra.port, preference = %route.preference, "route learned")
            }
            Ok(false) => {}
            Err(e) => warn!(%prefix, router = %ra.router, "route refused: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataplane::PortView;
    use crate::neigh::NeighborTable;
    use crate::wire::MacAddr;

    struct NoLinks;

    impl Links for NoLinks {
        fn link(&self, _: usize) -> LinkState {
            LinkState::default()
        }
    }

    const BASE: &str = "workers = [1]\n\
        [[port]]\nname = \"a\"\ndevice = \"net_null0\"\naddresses = [\"2001:db8:1::1/64\"]\n\
        [[port]]\nname = \"b\"\ndevice = \"net_null1\"\naddresses = [\"2001:db8:2::1/64\"]\n";

    fn route(prefix: &str, via: &str) -> String {
        format!("[[route]]\nprefix = \"{prefix}\"\nvia = \"{via}\"\n")
    }

    /// A manager of the configuration `text`, kept in a file of its own to reload.
    fn manager(name: &str, text: &str) -> (Management<()>, PathBuf) {
        let path =
            std::env::temp_dir().join(format!("v6fwd-manage-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let config = Config::load(&path).unwrap();
        let rib = Rib::with_routes(2, &config.routes, &config.neighbors).unwrap();
        let views = config
            .ports
            .iter()
            .map(|p| {
                let a: Vec<_> = p.addresses.iter().map(|x| (x.addr, x.len)).collect();
                PortView::new(MacAddr([2, 0, 0, 0, 0, 1]), p.mtu, &a)
            })
            .collect();
        let dataplane = Arc::new(DataplaneCell::new(Dataplane::new(
            views,
            rib.cell(),
            NeighborTable::new(&[]),
        )));
        let m = Management::new(
            config,
            path.clone(),
            rib,
            Vec::new(),
            dataplane,
            Arc::new(Exchange::new(1, 16)),
            Vec::new(),
            1,
        );
        (m, path)
    }

    fn spec(prefix: &str, via: &str) -> RouteSpec {
        RouteSpec {
            prefix: prefix.into(),
            via: Some(via.into()),
            ..RouteSpec::default()
        }
    }

    fn paths(m: &Management<()>, prefix: &str) -> Vec<(Option<Ipv6Addr>, Source)> {
        let p: Prefix = prefix.parse().unwrap();
        m.rib()
            .get(&p)
            .unwrap_or_default()
            .iter()
            .map(|r| match r.next_hop {
                NextHop::Gateway(g) => (Some(g), r.source),
                _ => (None, r.source),
            })
            .collect()
    }

    fn a(s: &str) -> Option<Ipv6Addr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn reload_applies_the_routes_that_changed_and_keeps_the_apis() {
        let (mut m, path) = manager(
            "diff",
            &(BASE.to_owned()
                + &route("2001:db8:10::/48", "2001:db8:1::2")
                + &route("2001:db8:11::/48", "2001:db8:1::3")),
        );
        let ok =
            |r: Response| assert!(matches!(r.outcome, crate::control::Outcome::Ok(_)), "{r:?}");
        ok(m.handle(
            Request::RouteAdd(spec("2001:db8:10::/48", "2001:db8:2::9")),
            &NoLinks,
            0,
        ));

        std::fs::write(
            &path,
            BASE.to_owned()
                + &route("2001:db8:10::/48", "2001:db8:1::2")
                + &route("2001:db8:12::/48", "2001:db8:2::2"),
        )
        .unwrap();
        let Ok(Reply::Reloaded(said)) = m.reload() else {
            panic!("not reloaded");
        };
        assert_eq!(
            said,
            [
                "route 2001:db8:11::/48 removed",
                "route 2001:db8:12::/48 added"
            ]
        );
        assert_eq!(
            paths(&m, "2001:db8:10::/48"),
            [
                (a("2001:db8:1::2"), Source::Static),
                (a("2001:db8:2::9"), Source::Api)
            ]
        );
        assert!(paths(&m, "2001:db8:11::/48").is_empty());
        assert_eq!(
            paths(&m, "2001:db8:12::/48"),
            [(a("2001:db8:2::2"), Source::Static)]
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_reload_that_cannot_apply_changes_nothing() {
        let (mut m, path) = manager(
            "refuse",
            &(BASE.to_owned() + &route("2001:db8:10::/48", "2001:db8:1::2")),
        );
        let before: Vec<Route> = m.rib().routes().copied().collect();

        // A static route of the same path as one the API added.
        m.handle(
            Request::RouteAdd(spec("2001:db8:20::/48", "2001:db8:2::5")),
            &NoLinks,
            0,
        );
        let with_api: Vec<Route> = m.rib().routes().copied().collect();
        assert_eq!(with_api.len(), before.len() + 1);
        std::fs::write(
            &path,
            BASE.to_owned() + &route("2001:db8:20::/48", "2001:db8:2::5"),
        )
        .unwrap();
        let e = m.reload().unwrap_err();
        assert!(e.contains("is also a route of source api"), "{e}");

        // Something only a restart changes.
        std::fs::write(&path, BASE.replace("net_null1", "net_null2")).unwrap();
        let e = m.reload().unwrap_err();
        assert!(e.contains("port[1].device"), "{e}");

        // A file that does not validate.
        std::fs::write(
            &path,
            BASE.to_owned() + "[[route]]\nprefix = \"2001:db8::/200\"\nport = \"a\"\n",
        )
        .unwrap();
        let e = m.reload().unwrap_err();
        assert!(
            e.contains("route[0].prefix") && e.contains("nothing changed"),
            "{e}"
        );

        let after: Vec<Route> = m.rib().routes().copied().collect();
        assert_eq!(after, with_api);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn reload_applies_addresses_and_neighbors_and_keeps_the_apis() {
        let base = BASE.to_owned() + "[port.nd]\ndad_transmits = 0\n";
        let with =
            |addrs: &str, neighbor: &str| base.replace("[\"2001:db8:2::1/64\"]", addrs) + neighbor;
        let nb = "[[neighbor]]\naddress = \"2001:db8:7::9\"\nlladdr = \"02:00:00:00:00:09\"\n";
        let (mut m, path) = manager("addrs", &base);
        let ok =
            |r: Response| assert!(matches!(r.outcome, crate::control::Outcome::Ok(_)), "{r:?}");
        ok(m.handle(
            Request::AddrAdd {
                address: "2001:db8:8::1/64".into(),
                port: "b".into(),
            },
            &NoLinks,
            0,
        ));

        std::fs::write(
            &path,
            with("[\"2001:db8:2::1/64\", \"2001:db8:7::1/64\"]", nb),
        )
        .unwrap();
        let Ok(Reply::Reloaded(said)) = m.reload() else {
            panic!("not reloaded");
        };
        assert_eq!(
            said,
            [
                "address 2001:db8:7::1/64 added to b",
                "neighbor 2001:db8:7::9 added"
            ]
        );
        let b = |m: &Management<()>| m.dp().ports()[1].addresses.clone();
        assert!(b(&m).contains(&"2001:db8:7::1".parse().unwrap()));
        assert!(
            b(&m).contains(&"2001:db8:8::1".parse().unwrap()),
            "the API's address stays"
        );
        assert_eq!(paths(&m, "2001:db8:7::/64"), [(None, Source::Connected)]);
        assert_eq!(m.dp().neighbors().len(), 1);

        std::fs::write(&path, &base).unwrap();
        let Ok(Reply::Reloaded(said)) = m.reload() else {
            panic!("not reloaded");
        };
        assert_eq!(
            said,
            [
                "neighbor 2001:db8:7::9 removed",
                "address 2001:db8:7::1/64 removed from b"
            ]
        );
        assert!(!b(&m).contains(&"2001:db8:7::1".parse().unwrap()));
        assert!(b(&m).contains(&"2001:db8:8::1".parse().unwrap()));
        assert!(paths(&m, "2001:db8:7::/64").is_empty());
        assert!(m.dp().neighbors().is_empty());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_reload_that_renumbers_within_a_subnet_keeps_its_route() {
        let base = BASE.to_owned() + "[port.nd]\ndad_transmits = 0\n";
        let file = |addr: &str| {
            base.replace("2001:db8:2::1/64", addr) + &route("2001:db8:30::/48", "2001:db8:2::fe")
        };
        let (mut m, path) = manager("renumber", &file("2001:db8:2::1/64"));
        std::fs::write(&path, file("2001:db8:2::2/64")).unwrap();
        let Ok(Reply::Reloaded(said)) = m.reload() else {
            panic!("not reloaded");
        };
        assert_eq!(
            said,
            [
                "address 2001:db8:2::2/64 added to b",
                "address 2001:db8:2::1/64 removed from b"
            ]
        );
        let b = m.dp().ports()[1].addresses.clone();
        assert!(b.contains(&"2001:db8:2::2".parse().unwrap()));
        assert!(!b.contains(&"2001:db8:2::1".parse().unwrap()));
        assert_eq!(paths(&m, "2001:db8:2::/64"), [(None, Source::Connected)]);
        assert_eq!(paths(&m, "2001:db8:30::/48").len(), 1);
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_subnet_under_probation_is_its_ports() {
        let (mut m, path) = manager("probation", BASE);
        let add = |m: &mut Management<()>, addr: &str, port: &str| m.addr_add(port, addr, None);
        // Port a probes (one transmit by default): the answer comes later.
        assert_eq!(add(&mut m, "2001:db8:5::1/64", "a"), Ok(None));
        let e = add(&mut m, "2001:db8:5::2/64", "b").unwrap_err();
        assert!(e.contains("being added to a"), "{e}");
        let e = add(&mut m, "2001:db8:5::1/64", "a").unwrap_err();
        assert!(e.contains("being probed already"), "{e}");
        let r = m.handle(
            Request::RouteAdd(spec("2001:db8:5::/64", "2001:db8:1::9")),
            &NoLinks,
            0,
        );
        assert!(
            matches!(r.outcome, crate::control::Outcome::Error(ref e) if e.contains("under duplicate address detection")),
            "{r:?}"
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn route_del_takes_the_paths_that_match() {
        let (mut m, path) = manager("del", BASE);
        for via in ["2001:db8:1::2", "2001:db8:1::3", "2001:db8:2::2"] {
            m.handle(
                Request::RouteAdd(spec("2001:db8:30::/48", via)),
                &NoLinks,
                0,
            );
        }
        let del =
            |m: &mut Management<()>, mm: RouteMatch| m.handle(Request::RouteDel(mm), &NoLinks, 0);
        let r = del(
            &mut m,
            RouteMatch {
                prefix: "2001:db8:30::/48".into(),
                port: Some("a".into()),
                ..RouteMatch::default()
            },
        );
        assert!(matches!(r.outcome, crate::control::Outcome::Ok(_)), "{r:?}");
        assert_eq!(
            paths(&m, "2001:db8:30::/48"),
            [(a("2001:db8:2::2"), Source::Api)]
        );
        let r = del(
            &mut m,
            RouteMatch {
                prefix: "2001:db8:30::/48".into(),
                via: Some("2001:db8:1::2".into()),
                ..RouteMatch::default()
            },
        );
        assert!(
            matches!(r.outcome, crate::control::Outcome::Error(ref e) if e.contains("no route that matches")),
            "{r:?}"
        );
        let r = del(
            &mut m,
            RouteMatch {
                prefix: "2001:db8:30::/48".into(),
                ..RouteMatch::default()
            },
        );
        assert!(matches!(r.outcome, crate::control::Outcome::Ok(_)), "{r:?}");
        assert!(paths(&m, "2001:db8:30::/48").is_empty());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_reject_route_and_a_path_of_one_metric_are_refused_together() {
        let (mut m, path) = manager("mix", BASE);
        m.handle(
            Request::RouteAdd(spec("2001:db8:40::/48", "2001:db8:1::2")),
            &NoLinks,
            0,
        );
        let r = m.handle(
            Request::RouteAdd(RouteSpec {
                prefix: "2001:db8:40::/48".into(),
                action: Some("blackhole".into()),
                ..RouteSpec::default()
            }),
            &NoLinks,
            0,
        );
        assert!(
            matches!(r.outcome, crate::control::Outcome::Error(ref e) if e.contains("cannot share the load")),
            "{r:?}"
        );
        let _ = std::fs::remove_file(&path);
    }
}
