//! What the router does with one packet: validate it, answer it when it is for the router,
//! forward it (hop limit, route, neighbor, Ethernet rewrite), or turn it into the ICMPv6
//! error RFC 4443 asks for. Plain code over a byte buffer, time and ids: no DPDK, no I/O.
//!
//! Ports here are indexes into the configuration's port list; the worker maps them to
//! devices. Replies and errors are written over the packet that caused them, in its own
//! buffer, so no buffer is allocated on this path.

mod icmp_error;
mod local;
mod reassemble;

use std::hash::{BuildHasher, RandomState};
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use rustc_hash::FxHashSet;

use crate::advert::RaConf;
use crate::counters::{CoreCounters, DropReason};
use crate::fib::{FibCell, FibReader, Leaf, flow_hash};
use crate::neigh::cache::State;
use crate::neigh::{Event, NeighborTable, NeighborView, Seen};
use crate::ratelimit::TokenBucket;
use crate::reassembly::Reassembler;
use crate::route::{NextHop, Reject, Resolved};
use crate::wire::ethernet::{self, ETHERTYPE_IPV6};
use crate::wire::exthdr::{self, OptionsVerdict, UnknownOption};
use crate::wire::icmpv6;
use crate::wire::ipv6;
use crate::wire::{EthernetFrame, Ipv6Packet, MacAddr, checksum, nd};
use icmp_error::IcmpError;

/// Offset of the IPv6 header in a frame.
const L3_OFFSET: usize = ethernet::HEADER_LEN;
/// Offset of what follows the IPv6 fixed header.
const L4_OFFSET: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
/// Hop limit of the router's own Echo Replies, TCP resets and ICMPv6 errors.
const HOP_LIMIT: u8 = 64;
/// The most extension headers the walk steps over before it stops reading.
const MAX_EXTENSION_HEADERS: usize = 16;

/// A port as the packet path sees it.
#[derive(Debug, Clone)]
pub struct PortView {
    pub mac: MacAddr,
    /// The IP MTU: the largest IPv6 packet (header included) the port sends.
    pub mtu: u16,
    /// The port's addresses, link-local included.
    pub addresses: Vec<Ipv6Addr>,
    /// Multicast groups the port listens to: all-nodes, all-routers, and the solicited-node
    /// group of each address.
    pub groups: Vec<Ipv6Addr>,
    /// The subnet prefixes of the port's addresses (address, length).
    pub subnets: Vec<(Ipv6Addr, u8)>,
    /// What the port advertises, if it sends Router Advertisements.
    pub ra: Option<RaConf>,
    /// Whether routers' advertisements on the port give routes.
    pub accept_ra: bool,
    /// Addresses being probed by Duplicate Address Detection: not yet the port's, but
    /// watched for another node that wants or holds them.
    pub tentative: Vec<Ipv6Addr>,
}

impl PortView {
    /// A port with `addresses` and the prefix length of each (a link-local address is
    /// added from the MAC if none is given).
    pub fn new(mac: MacAddr, mtu: u16, addresses: &[(Ipv6Addr, u8)]) -> PortView {
        let mut subnets = addresses.to_vec();
        if !subnets.iter().any(|(a, _)| a.is_unicast_link_local()) {
            subnets.push((ipv6::link_local_from_mac(&mac), 64));
        }
        let addrs: Vec<Ipv6Addr> = subnets.iter().map(|(a, _)| *a).collect();
        let mut groups = vec![ipv6::ALL_NODES, ipv6::ALL_ROUTERS];
        for a in &addrs {
            let g = ipv6::solicited_node(a);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        PortView {
            mac,
            mtu,
            addresses: addrs,
            groups,
            subnets,
            ra: None,
            accept_ra: false,
            tentative: Vec::new(),
        }
    }

    /// The port probing for `tentative` as well: it listens to their solicited-node
    /// groups.
    pub fn with_tentative(mut self, tentative: Vec<Ipv6Addr>) -> PortView {
        for a in &tentative {
            let g = ipv6::solicited_node(a);
            if !self.groups.contains(&g) {
                self.groups.push(g);
            }
        }
        self.tentative = tentative;
        self
    }

    /// The port's link-local address.
    pub fn link_local(&self) -> Option<Ipv6Addr> {
        self.addresses
            .iter()
            .copied()
            .find(Ipv6Addr::is_unicast_link_local)
    }

    /// The port's first address of wider scope than link-local.
    pub fn global(&self) -> Option<Ipv6Addr> {
        self.addresses
            .iter()
            .copied()
            .find(|a| !a.is_unicast_link_local())
    }
}

/// What to do with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the rewritten frame, `len` bytes long, out of port `port`.
    Forward { port: u16, len: usize },
    /// Send the reply written over the packet, `len` bytes long, back out of the port it
    /// came in on.
    Reply { len: usize },
    /// The packet is dropped for `reason`, and the ICMPv6 error written over it, `len`
    /// bytes long, goes out of port `port`.
    Error {
        port: u16,
        len: usize,
        reason: DropReason,
    },
    /// Drop it, counted under the reason.
    Drop(DropReason),
    /// The packet, `len` bytes long, is to go out of `port` to a next hop whose link-layer
    /// address is not known: it is to wait for address resolution, unchanged. The next
    /// hop is in [`Core::unresolved`].
    Unresolved { port: u16, len: usize },
    /// A Neighbor Discovery message the neighbor layer takes in (its event is in
    /// [`Core::nd_events`]); its buffer can be freed.
    Consumed,
    /// The packet was a fragment, copied into reassembly; its buffer can be freed.
    Held,
    /// The packet completed a fragmented packet to the router, whose answer (a reply, or
    /// an error when `reason` is given) is in the core's reassembly slot that
    /// [`Core::answer`] names, and may be larger than the port's MTU: the worker sends it
    /// out of `port` in fragments, then releases the slot. (Where the answer lies is kept
    /// in the core rather than here, so that a verdict stays two registers wide.)
    Reassembled {
        port: u16,
        reason: Option<DropReason>,
    },
}

/// Where the answer to a reassembled packet lies: reassembly slot `slot`, bytes
/// `start..start + len` of its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerAt {
    pub slot: usize,
    pub start: usize,
    pub len: usize,
}

/// The state of one worker core that the packet path changes: its clock, its ICMPv6
/// error budget, its reassembly slots and the identification of the fragments it sends.
/// Owned by that core alone.
pub struct Core {
    /// Nanoseconds from a fixed origin, set by the worker once per burst.
    pub now_ns: u64,
    pub icmp_errors: TokenBucket,
    pub reassembly: Reassembler,
    /// Set with each [`Verdict::Reassembled`].
    pub answer: Option<AnswerAt>,
    fragment_ids: RandomState,
    fragments_sent: u64,
    pub counters: Arc<CoreCounters>,
    /// The forwarding table, refreshed by the worker once per burst.
    pub fib: FibReader,
    /// The routing table's answer for the next packet's destination, looked up with the
    /// rest of its burst: (destination, leaf). Taken only for that destination.
    pub route_hint: (u128, Leaf),
    /// This core's copies of the neighbor entries.
    pub neighbors: NeighborView,
    /// What packets told of neighbors, for their entries' owners; the worker empties it.
    pub nd_events: Vec<Event>,
    /// The next hop of the last packet given [`Verdict::Unresolved`].
    pub unresolved: Ipv6Addr,
    /// When the worker next collects idle neighbor entries.
    pub next_collect: u64,
    /// The latest listing of neighbor entries this core answered, and the request it
    /// is listing for and the cache slot it goes on from.
    pub listed: u64,
    pub listing: Option<(u64, usize)>,
    /// A Redirect the last forwarded packet calls for, for the worker to send.
    pub redirect: Option<Redirect>,
    /// Router Advertisements of routers on upstream ports, for the routing table: (port,
    /// router, what it said). The worker empties it.
    pub router_adverts: Vec<(u16, Ipv6Addr, nd::ReceivedAdvert)>,
}

/// A Redirect to send (RFC 4861 4.5): out of `port`, to `to` at `to_mac`, saying that
/// `target` (at `target_mac`, if known) is the better first hop for `destination`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect {
    pub port: u16,
    pub to: Ipv6Addr,
    pub to_mac: MacAddr,
    pub target: Ipv6Addr,
    pub destination: Ipv6Addr,
    pub target_mac: Option<MacAddr>,
}

/// A route hint that matches no packet to forward: the destination is multicast.
const NO_HINT: (u128, Leaf) = (u128::MAX, 0);

/// The destination address of a frame, as the key of a routing-table lookup: read before
/// the frame is validated, so that a burst's lookups can be done together. Any frame too
/// short to hold one gets a key no forwarded packet has.
#[inline]
pub fn destination_key(frame: &[u8]) -> u128 {
    match frame.get(L3_OFFSET + 24..L3_OFFSET + 40) {
        Some(d) => u128::from_be_bytes(d.try_into().expect("16 bytes")),
        None => NO_HINT.0,
    }
}

/// Packets to the router that each core reassembles at a time.
const REASSEMBLY_SLOTS: usize = 4;

/// How fast each core may send ICMPv6 errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpLimits {
    /// Errors per second.
    pub rate: u32,
    /// Errors sent back to back before the rate applies.
    pub burst: u32,
}

impl Core {
    pub fn new(limits: IcmpLimits, counters: Arc<CoreCounters>, fib: FibReader) -> Core {
        Core {
            fib,
            route_hint: NO_HINT,
            neighbors: NeighborView::default(),
            nd_events: Vec::with_capacity(64),
            unresolved: Ipv6Addr::UNSPECIFIED,
            next_collect: 0,
            listed: 0,
            listing: None,
            router_adverts: Vec::new(),
            redirect: None,
            now_ns: 0,
            icmp_errors: TokenBucket::new(limits.rate, limits.burst, 0),
            reassembly: Reassembler::new(REASSEMBLY_SLOTS),
            answer: None,
            fragment_ids: RandomState::new(),
            fragments_sent: 0,
            counters,
        }
    }

    /// The identification for the next packet this core sends in fragments: a count
    /// hashed with a key drawn at random when the core starts, so that one identification
    /// seen tells nothing of the next (RFC 7739 5).
    pub fn next_fragment_id(&mut self) -> u32 {
        self.fragments_sent += 1;
        self.fragment_ids.hash_one(self.fragments_sent) as u32
    }
}

/// Where a received frame stands: fixed facts the steps below share.
#[derive(Debug, Clone, Copy)]
struct Rx {
    in_port: u16,
    /// Bytes of the frame, link padding cut: the IPv6 packet ends here.
    frame_len: usize,
    /// Whether the frame is a packet put back together from fragments.
    reassembled: bool,
}

/// A set of addresses that every forwarded packet is checked against. A router has a
/// handful: comparing 128-bit integers in a row costs less than hashing the address, so a
/// small set is a plain list, and only a large one a hash set.
#[derive(Debug)]
enum AddressSet {
    Few(Vec<u128>),
    Many(FxHashSet<u128>),
}

/// The most addresses kept as a plain list.
const FEW_ADDRESSES: usize = 16;

impl AddressSet {
    fn new(addresses: impl Iterator<Item = Ipv6Addr>) -> AddressSet {
        let mut all: Vec<u128> = addresses.map(u128::from).collect();
        all.sort_unstable();
        all.dedup();
        if all.len() <= FEW_ADDRESSES {
            AddressSet::Few(all)
        } else {
            AddressSet::Many(all.into_iter().collect())
        }
    }

    #[inline]
    fn contains(&self, addr: &Ipv6Addr) -> bool {
        let a = u128::from(*addr);
        match self {
            AddressSet::Few(list) => list.contains(&a),
            AddressSet::Many(set) => set.contains(&a),
        }
    }
}

/// The forwarding state every worker reads: ports, local addresses, neighbors, and where
/// the routing table is published.
#[derive(Debug)]
pub struct Dataplane {
    ports: Vec<PortView>,
    /// Global (non-link-local) addresses of the router. Link-local addresses are per port
    /// and live in `PortView::addresses`.
    global_addresses: AddressSet,
    /// The Subnet-Router anycast address of each of the ports' subnets (RFC 4291 2.6.1).
    anycast: Vec<Ipv6Addr>,
    /// Every address a packet to which is for the router: the global addresses and the
    /// anycast ones, in one set so that a forwarded packet is checked once.
    delivered: AddressSet,
    fib: Arc<FibCell>,
    neighbors: NeighborTable,
}

/// Where the management thread publishes the [`Dataplane`]: a new one replaces the old
/// whole when addresses or static neighbors change, and each worker takes it between
/// poll rounds after one atomic load of the version.
pub struct DataplaneCell {
    current: ArcSwap<Dataplane>,
    version: AtomicU64,
}

impl DataplaneCell {
    pub fn new(dataplane: Dataplane) -> DataplaneCell {
        DataplaneCell {
            current: ArcSwap::from_pointee(dataplane),
            version: AtomicU64::new(0),
        }
    }

    pub fn load(&self) -> Arc<Dataplane> {
        self.current.load_full()
    }

    /// Changes whenever a new dataplane is published.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Publishes `dataplane`; returns the one it replaces, for the publisher to free once
    /// no worker holds it, so that no worker frees one between its polls.
    pub fn publish(&self, dataplane: Dataplane) -> Arc<Dataplane> {
        let old = self.current.swap(Arc::new(dataplane));
        self.version.fetch_add(1, Ordering::Release);
        old
    }
}

impl Dataplane {
    pub fn new(ports: Vec<PortView>, fib: Arc<FibCell>, neighbors: NeighborTable) -> Dataplane {
        let global_addresses = AddressSet::new(
            ports
                .iter()
                .flat_map(|p| &p.addresses)
                .filter(|a| !a.is_unicast_link_local())
                .copied(),
        );
        let anycast: Vec<Ipv6Addr> = ports
            .iter()
            .flat_map(|p| &p.subnets)
            .filter(|(_, len)| *len < 127)
            .map(|(a, len)| crate::route::Prefix::new(*a, *len).network().addr)
            .collect();
        let delivered = AddressSet::new(
            ports
                .iter()
                .flat_map(|p| &p.addresses)
                .filter(|a| !a.is_unicast_link_local())
                .chain(&anycast)
                .copied(),
        );
        Dataplane {
            ports,
            global_addresses,
            anycast,
            delivered,
            fib,
            neighbors,
        }
    }

    pub fn ports(&self) -> &[PortView] {
        &self.ports
    }

    /// A reader of the routing table, for a worker's core.
    pub fn fib_reader(&self) -> FibReader {
        FibReader::new(Arc::clone(&self.fib))
    }

    /// Where the routing table is published.
    pub fn fib_cell(&self) -> Arc<FibCell> {
        Arc::clone(&self.fib)
    }

    pub fn neighbors(&self) -> &NeighborTable {
        &self.neighbors
    }

    /// Handles one received frame. `buf` is the first buffer segment: its first `seg_len`
    /// bytes are received data, the rest free room a reply may use. `pkt_len` is the length
    /// of the whole frame, all segments. On anything but `Drop`, the frame in `buf` has
    /// been rewritten in place.
    #[inline]
    pub fn handle(
        &self,
        core: &mut Core,
        in_port: u16,
        buf: &mut [u8],
        seg_len: usize,
        pkt_len: usize,
    ) -> Verdict {
        let Some(port) = self.ports.get(usize::from(in_port)) else {
            return Verdict::Drop(DropReason::OtherHost);
        };
        let seg_len = seg_len.min(buf.len());

        let Some(eth) = EthernetFrame::new(&buf[..seg_len]) else {
            return Verdict::Drop(DropReason::Truncated);
        };
        if eth.ethertype() != ETHERTYPE_IPV6 {
            return Verdict::Drop(DropReason::NotIpv6);
        }
        let eth_dst = eth.destination();
        if !eth_dst.is_multicast() && eth_dst != port.mac {
            return Verdict::Drop(DropReason::OtherHost);
        }
        // Buffers are sized for the largest MTU, so a frame that spans several is one the
        // port should not have taken; the path below reads and writes one segment only.
        if seg_len < pkt_len {
            return Verdict::Drop(DropReason::MultiSegment);
        }
        if seg_len < L4_OFFSET {
            return Verdict::Drop(DropReason::Truncated);
        }

        let ip = Ipv6Packet::new(&buf[L3_OFFSET..seg_len]).expect("seg_len is at least L4_OFFSET");
        // RFC 8200 3: the version field is 6.
        if ip.version() != 6 {
            return Verdict::Drop(DropReason::BadVersion);
        }
        let payload_len = usize::from(ip.payload_len());
        // A zero payload length with a Hop-by-Hop header announces a jumbogram
        // (RFC 2675), which no supported link carries.
        if payload_len == 0 && ip.next_header() == exthdr::HOP_BY_HOP {
            return Verdict::Drop(DropReason::BadLength);
        }
        // RFC 8200 3: the payload length counts every byte after the fixed header; a frame
        // shorter than it claims is damaged. A longer one carries link padding, cut here.
        let frame_len = L4_OFFSET + payload_len;
        if frame_len > pkt_len {
            return Verdict::Drop(DropReason::BadLength);
        }
        let rx = Rx {
            in_port,
            frame_len,
            reassembled: false,
        };

        let src = ip.src();
        let dst = ip.dst();
        // RFC 4291 2.7: multicast addresses must not be used as source addresses; 2.5.3:
        // the loopback address never arrives from a link.
        if src.is_multicast() || src.is_loopback() {
            return Verdict::Drop(DropReason::BadSource);
        }

        if dst.is_multicast() {
            if port.groups.contains(&dst) {
                return self.deliver_local(core, port, buf, &rx);
            }
            return Verdict::Drop(DropReason::MulticastDestination);
        }
        if dst.is_unicast_link_local() {
            if port.addresses.contains(&dst) {
                return self.deliver_local(core, port, buf, &rx);
            }
            // RFC 4291 2.5.6: packets with link-local destinations must not be forwarded.
            return Verdict::Drop(DropReason::ScopeViolation);
        }
        // RFC 4291 2.6.1: a router takes packets to the Subnet-Router anycast address of
        // each of its subnets as its own.
        if self.delivered.contains(&dst) {
            return self.deliver_local(core, port, buf, &rx);
        }
        self.forward(core, buf, &rx, &src, &dst, eth_dst)
    }

    /// Forwards a packet that is not for the router.
    #[inline]
    fn forward(
        &self,
        core: &mut Core,
        buf: &mut [u8],
        rx: &Rx,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        eth_dst: MacAddr,
    ) -> Verdict {
        // A unicast packet sent to a link-layer group was not sent to this router.
        if eth_dst.is_multicast() {
            return Verdict::Drop(DropReason::OtherHost);
        }
        // RFC 4291 2.5.2: the unspecified address is never a source of a packet to forward,
        // nor any packet's destination; 2.5.3: nor is the loopback address.
        if src.is_unspecified() {
            return Verdict::Drop(DropReason::BadSource);
        }
        if dst.is_unspecified() {
            return Verdict::Drop(DropReason::BadDestination);
        }
        if dst.is_loopback() {
            return Verdict::Drop(DropReason::ScopeViolation);
        }

        let (hop_limit, next_header) = {
            let ip = Ipv6Packet::new(&buf[L3_OFFSET..rx.frame_len])
                .expect("frames past handle() hold both headers");
            (ip.hop_limit(), ip.next_header())
        };
        // RFC 8200 4: the Hop-by-Hop Options header is the one extension header a router
        // reads; its unrecognised options are handled as their type says.
        if next_header == exthdr::HOP_BY_HOP
            && let Some(v) = self.check_hop_by_hop(core, buf, rx)
        {
            return v;
        }
        // RFC 8200 3 and RFC 4443 3.3: a packet whose hop limit reaches zero is discarded
        // and the source told with Time Exceeded, code 0.
        if hop_limit <= 1 {
            return self.icmp_error(
                core,
                buf,
                rx,
                IcmpError::time_exceeded(DropReason::HopLimitExceeded),
            );
        }

        let fib = core.fib.fib();
        let leaf = match std::mem::replace(&mut core.route_hint, NO_HINT) {
            (key, leaf) if key == u128::from(*dst) => leaf,
            _ => fib.leaf(dst),
        };
        let route = fib.choices(leaf).map(|c| {
            *c.pick(|seed| {
                let ip = Ipv6Packet::new(&buf[L3_OFFSET..rx.frame_len])
                    .expect("frames past handle() hold both headers");
                flow_hash(
                    seed,
                    src,
                    dst,
                    ip.flow_label(),
                    next_header,
                    ports(buf, rx, next_header),
                )
            })
        });
        let Some(route) = route else {
            return self.icmp_error(
                core,
                buf,
                rx,
                IcmpError::unreachable(icmpv6::UNREACHABLE_NO_ROUTE, DropReason::NoRoute),
            );
        };
        if let NextHop::Reject(reject) = route.next_hop {
            let (code, reason) = match reject {
                Reject::Blackhole => return Verdict::Drop(DropReason::Blackhole),
                Reject::Unreachable => (icmpv6::UNREACHABLE_NO_ROUTE, DropReason::Unreachable),
                Reject::Prohibit => (icmpv6::UNREACHABLE_PROHIBITED, DropReason::Prohibited),
            };
            return self.icmp_error(core, buf, rx, IcmpError::unreachable(code, reason));
        }
        // RFC 4291 2.5.6 and RFC 4443 3.1: a link-local source never leaves its link; the
        // source is told the destination is beyond its scope.
        if src.is_unicast_link_local() && route.port != rx.in_port {
            return self.icmp_error(
                core,
                buf,
                rx,
                IcmpError::unreachable(
                    icmpv6::UNREACHABLE_BEYOND_SCOPE,
                    DropReason::ScopeViolation,
                ),
            );
        }
        let out = &self.ports[usize::from(route.port)];
        // RFC 8200 5 and RFC 4443 3.2: routers do not fragment; a packet larger than the
        // link MTU is answered with Packet Too Big, carrying that MTU.
        if rx.frame_len - L3_OFFSET > usize::from(out.mtu) {
            return self.icmp_error(core, buf, rx, IcmpError::too_big(out.mtu));
        }
        let hop = match route.next_hop {
            NextHop::Gateway(gw) => gw,
            _ => *dst,
        };
        let mac = match route
            .gateway_mac
            .or_else(|| self.neighbors.lookup(route.port, &hop))
        {
            Some(mac) => mac,
            None => match core.neighbors.get(route.port, &hop, core.now_ns) {
                Seen::Send(mac) => mac,
                Seen::SendAndTell(mac) => {
                    core.nd_events.push(Event::Used {
                        port: route.port,
                        addr: hop,
                    });
                    mac
                }
                Seen::Resolve => {
                    core.unresolved = hop;
                    return Verdict::Unresolved {
                        port: route.port,
                        len: rx.frame_len,
                    };
                }
            },
        };
        if route.port == rx.in_port {
            self.consider_redirect(core, buf, rx, &route, hop, mac);
        }
        self.finish_forward(buf, route.port, mac);
        Verdict::Forward {
            port: route.port,
            len: rx.frame_len,
        }
    }

    /// A packet about to leave by the port it came in on: if its source is on this link
    /// and a better first hop is too, the source is to be told so with a Redirect (RFC
    /// 4861 8.2), which [`Core::redirect`] asks the worker to send. The better first hop
    /// is the destination itself when it is on-link, or the gateway when its address is
    /// link-local (a Redirect names a router by that address only). Redirects share the
    /// core's ICMPv6 error budget.
    #[cold]
    #[inline(never)]
    fn consider_redirect(
        &self,
        core: &mut Core,
        buf: &[u8],
        rx: &Rx,
        route: &Resolved,
        hop: Ipv6Addr,
        hop_mac: MacAddr,
    ) {
        let Some(port) = self.ports.get(usize::from(rx.in_port)) else {
            return;
        };
        let Some(ip) = Ipv6Packet::new(&buf[L3_OFFSET..rx.frame_len]) else {
            return;
        };
        let (src, dst) = (ip.src(), ip.dst());
        let on_link = |a: &Ipv6Addr| {
            a.is_unicast_link_local()
                || port
                    .subnets
                    .iter()
                    .any(|&(net, len)| crate::route::Prefix::new(net, len).contains(a))
        };
        let target = match route.next_hop {
            NextHop::OnLink => dst,
            NextHop::Gateway(gw) if gw.is_unicast_link_local() => gw,
            _ => return,
        };
        if !on_link(&src) || target == src {
            return;
        }
        // RFC 4861 8.2: not for a packet with a Routing header.
        if exthdr::walk(&buf[L3_OFFSET..rx.frame_len], MAX_EXTENSION_HEADERS)
            .map_or(true, |c| c.routing.is_some())
        {
            return;
        }
        if !core.icmp_errors.take(core.now_ns) {
            core.counters.icmp_rate_limited.add(1);
            return;
        }
        let sender = EthernetFrame::new(&buf[..L3_OFFSET]).map_or(MacAddr([0; 6]), |e| e.source());
        core.redirect = Some(Redirect {
            port: rx.in_port,
            to: src,
            to_mac: sender,
            target,
            destination: dst,
            target_mac: (target == hop).then_some(hop_mac),
        });
    }

    /// Writes into `buf` the Redirect `r` asks for, carrying `packet` (the IPv6 packet it
    /// is about), from the port's link-local address. Returns the frame's length.
    pub fn write_redirect(&self, buf: &mut [u8], r: &Redirect, packet: &[u8]) -> Option<usize> {
        let view = self.ports.get(usize::from(r.port))?;
        let src = view.link_local()?;
        let len = nd::write_redirect(
            buf.get_mut(L4_OFFSET..)?,
            &r.target,
            &r.destination,
            r.target_mac,
            packet,
        )?;
        let c = checksum::upper_layer(
            &src,
            &r.to,
            exthdr::ICMPV6,
            &buf[L4_OFFSET..L4_OFFSET + len],
        );
        icmpv6::Icmpv6Message::new(&mut buf[L4_OFFSET..])?.set_checksum(c);
        local::write_ipv6_header(buf, len, exthdr::ICMPV6, nd::ND_HOP_LIMIT, &src, &r.to);
        let mut eth = EthernetFrame::new(&mut buf[..])?;
        eth.set_destination(r.to_mac);
        eth.set_source(view.mac);
        buf[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        Some(L4_OFFSET + len)
    }

    /// The link-layer address of the next hop towards `dst` by `route`, if known, from the
    /// static entries or `view`, changing nothing: for errors, which do not count as a use.
    fn next_hop_mac(
        &self,
        route: &Resolved,
        dst: &Ipv6Addr,
        view: &NeighborView,
        now: u64,
    ) -> Option<MacAddr> {
        let hop = match route.next_hop {
            NextHop::Gateway(gw) => gw,
            NextHop::OnLink => *dst,
            NextHop::Reject(_) => return None,
        };
        route
            .gateway_mac
            .or_else(|| self.neighbors.lookup(route.port, &hop))
            .or_else(|| {
                view.peek(route.port, &hop, now)
                    .filter(|(_, s)| !matches!(s, State::Incomplete | State::Failed))
                    .map(|(mac, _)| mac)
            })
    }

    /// Makes a packet that passed every check of forwarding ready to go out of `port` to
    /// `lladdr`: its hop limit decremented, its Ethernet addresses rewritten.
    #[inline]
    pub fn finish_forward(&self, buf: &mut [u8], port: u16, lladdr: MacAddr) {
        let Some(out) = self.ports.get(usize::from(port)) else {
            return;
        };
        if let Some(mut ip) = buf.get_mut(L3_OFFSET..).and_then(Ipv6Packet::new) {
            let h = ip.hop_limit();
            ip.set_hop_limit(h.saturating_sub(1));
        }
        if let Some(mut eth) = buf.get_mut(..L3_OFFSET).and_then(EthernetFrame::new) {
            eth.set_destination(lladdr);
            eth.set_source(out.mac);
        }
    }

    /// Answers a packet, `len` bytes long, that came in on `in_port` and waited for an
    /// address resolution that failed: Destination Unreachable, code 3 (RFC 4861 7.2.2,
    /// RFC 4443 3.1), written over it.
    pub fn address_unreachable(
        &self,
        core: &mut Core,
        buf: &mut [u8],
        in_port: u16,
        len: usize,
    ) -> Verdict {
        let rx = Rx {
            in_port,
            frame_len: len.min(buf.len()),
            reassembled: false,
        };
        self.icmp_error(
            core,
            buf,
            &rx,
            IcmpError::unreachable(icmpv6::UNREACHABLE_ADDRESS, DropReason::NoNeighbor),
        )
    }

    /// Writes into `buf` a Router Advertisement for `port` to all-nodes, from its
    /// link-local address (RFC 4861 6.2.3): its configured flags and lifetime (or
    /// `lifetime_s`, for the last one when it stops), its link-layer address and MTU, and
    /// its subnets as prefixes, autonomous where they are /64s. Returns the frame's length,
    /// or `None` if the port does not advertise.
    pub fn write_router_advert(
        &self,
        buf: &mut [u8],
        port: u16,
        lifetime_s: Option<u16>,
    ) -> Option<usize> {
        let view = self.ports.get(usize::from(port))?;
        let conf = view.ra.as_ref()?;
        let src = view.link_local()?;
        let lifetime = lifetime_s.unwrap_or(conf.lifetime_s);
        // RFC 4191 2.2: a router that is no default router advertises medium.
        let prf = if lifetime == 0 {
            0
        } else {
            conf.preference.to_prf()
        };
        let ra = nd::RouterAdvert {
            cur_hop_limit: HOP_LIMIT,
            flags: if conf.managed { nd::RA_MANAGED } else { 0 }
                | if conf.other { nd::RA_OTHER } else { 0 }
                | (prf << 3),
            lifetime_s: lifetime,
            lladdr: view.mac,
            mtu: conf.mtu.then_some(u32::from(view.mtu)),
        };
        let prefixes: Vec<nd::PrefixInfo> = view
            .subnets
            .iter()
            .filter(|(a, len)| !a.is_unicast_link_local() && *len < 128)
            .map(|&(a, len)| {
                let flags = nd::PREFIX_ON_LINK | if len == 64 { nd::PREFIX_AUTONOMOUS } else { 0 };
                let net = crate::route::Prefix::new(a, len).network().addr;
                (
                    net,
                    len,
                    flags,
                    conf.valid_lifetime_s,
                    conf.preferred_lifetime_s,
                )
            })
            .collect();
        let len = nd::write_router_advert(buf.get_mut(L4_OFFSET..)?, &ra, &prefixes)?;
        let dst = ipv6::ALL_NODES;
        let c = checksum::upper_layer(&src, &dst, exthdr::ICMPV6, &buf[L4_OFFSET..L4_OFFSET + len]);
        icmpv6::Icmpv6Message::new(&mut buf[L4_OFFSET..])?.set_checksum(c);
        local::write_ipv6_header(buf, len, exthdr::ICMPV6, nd::ND_HOP_LIMIT, &src, &dst);
        let mut eth = EthernetFrame::new(&mut buf[..])?;
        eth.set_destination(MacAddr::ipv6_multicast(&dst));
        eth.set_source(view.mac);
        buf[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        Some(L4_OFFSET + len)
    }

    /// Writes into `buf` a Neighbor Solicitation for `target` out of `port`: to its
    /// solicited-node group, or to `to` when given (a unicast probe), from the port's
    /// link-local address with its link-layer address (RFC 4861 7.2.2, 7.3.3). Returns the
    /// frame's length.
    pub fn write_solicitation(
        &self,
        buf: &mut [u8],
        port: u16,
        target: &Ipv6Addr,
        to: Option<MacAddr>,
    ) -> Option<usize> {
        let view = self.ports.get(usize::from(port))?;
        let src = view.link_local()?;
        let (dst, dst_mac) = match to {
            Some(mac) => (*target, mac),
            None => {
                let group = ipv6::solicited_node(target);
                (group, MacAddr::ipv6_multicast(&group))
            }
        };
        let len = nd::write_solicitation(buf.get_mut(L4_OFFSET..)?, target, view.mac)?;
        let c = checksum::upper_layer(&src, &dst, exthdr::ICMPV6, &buf[L4_OFFSET..L4_OFFSET + len]);
        icmpv6::Icmpv6Message::new(&mut buf[L4_OFFSET..])?.set_checksum(c);
        local::write_ipv6_header(buf, len, exthdr::ICMPV6, nd::ND_HOP_LIMIT, &src, &dst);
        let mut eth = EthernetFrame::new(&mut buf[..])?;
        eth.set_destination(dst_mac);
        eth.set_source(view.mac);
        buf[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        Some(L4_OFFSET + len)
    }

    /// Reads the Hop-by-Hop Options header of a packet; returns what to do with the packet
    /// if it is not to go on.
    #[inline(never)]
    fn check_hop_by_hop(&self, core: &mut Core, buf: &mut [u8], rx: &Rx) -> Option<Verdict> {
        let packet = &buf[L3_OFFSET..rx.frame_len];
        match exthdr::walk(packet, 1) {
            Ok(_) => {}
            Err(_) => {
                return Some(self.bad_header(
                    core,
                    buf,
                    rx,
                    HEADER_POINTER_HOP_BY_HOP,
                    DropReason::BadExtensionHeader,
                ));
            }
        }
        self.check_options(core, buf, rx, L3_OFFSET + ipv6::HEADER_LEN, |t| {
            t == exthdr::OPT_ROUTER_ALERT
        })
    }

    /// Applies the options of the options header at `offset` (in the frame); returns what
    /// to do with the packet if an option stops it.
    fn check_options(
        &self,
        core: &mut Core,
        buf: &mut [u8],
        rx: &Rx,
        offset: usize,
        known: impl Fn(u8) -> bool,
    ) -> Option<Verdict> {
        let packet = &buf[L3_OFFSET..rx.frame_len];
        match exthdr::check_options(packet, offset - L3_OFFSET, known) {
            OptionsVerdict::Accept => None,
            OptionsVerdict::Malformed { pointer } => {
                Some(self.bad_header(core, buf, rx, pointer, DropReason::BadExtensionHeader))
            }
            // RFC 8200 4.2: the two high-order bits of the option type say what to do.
            OptionsVerdict::Unknown { action, pointer } => Some(match action {
                UnknownOption::Skip | UnknownOption::Discard => {
                    Verdict::Drop(DropReason::UnknownOption)
                }
                UnknownOption::DiscardAndReport | UnknownOption::DiscardAndReportUnicast => self
                    .icmp_error(
                        core,
                        buf,
                        rx,
                        IcmpError::parameter(
                            icmpv6::PARAMETER_UNRECOGNIZED_OPTION,
                            pointer,
                            DropReason::UnknownOption,
                        )
                        .to_multicast_if(action == UnknownOption::DiscardAndReport),
                    ),
            }),
        }
    }

    /// Parameter Problem, code 0, for a malformed header field at `pointer` (from the IPv6
    /// header's start), the packet dropped for `reason`.
    fn bad_header(
        &self,
        core: &mut Core,
        buf: &mut [u8],
        rx: &Rx,
        pointer: usize,
        reason: DropReason,
    ) -> Verdict {
        let e = IcmpError::parameter(icmpv6::PARAMETER_ERRONEOUS_FIELD, pointer, reason);
        self.icmp_error(core, buf, rx, e)
    }
}

/// The source and destination ports of a TCP or UDP packet whose transport header follows
/// the IPv6 header, as one number; 0 for any other packet.
#[inline]
fn ports(buf: &[u8], rx: &Rx, next_header: u8) -> u32 {
    match buf.get(L4_OFFSET..(L4_OFFSET + 4).min(rx.frame_len)) {
        Some(&[a, b, c, d]) if next_header == exthdr::TCP || next_header == exthdr::UDP => {
            u32::from_be_bytes([a, b, c, d])
        }
        _ => 0,
    }
}

/// Offset of the Hop-by-Hop Options header from the start of the IPv6 header.
const HEADER_POINTER_HOP_BY_HOP: usize = ipv6::HEADER_LEN;

#[cfg(test)]
mod tests;
