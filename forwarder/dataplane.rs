//! What the router does with one packet: validate it, answer it when it is for the router
//! (Neighbor Solicitations and Echo Requests), or forward it (hop limit, route, neighbor,
//! Ethernet rewrite). Plain code over a byte buffer: no DPDK, no I/O, no time.
//!
//! Ports here are indexes into the configuration's port list; the worker maps them to
//! devices.

use std::net::Ipv6Addr;

use rustc_hash::FxHashMap;

use crate::counters::DropReason;
use crate::neigh::NeighborTable;
use crate::route::{NextHop, RouteTable};
use crate::wire::ethernet::{self, ETHERTYPE_IPV6};
use crate::wire::icmpv6::{self, Icmpv6Message};
use crate::wire::ipv6::{self, NEXT_HEADER_ICMPV6};
use crate::wire::{EthernetFrame, Ipv6Packet, MacAddr, checksum, nd};

/// Ethernet and IPv6 fixed headers together.
const L3_OFFSET: usize = ethernet::HEADER_LEN;
const L4_OFFSET: usize = ethernet::HEADER_LEN + ipv6::HEADER_LEN;
/// Next Header value of the Hop-by-Hop Options header (RFC 8200 section 4.3).
const NEXT_HEADER_HOP_BY_HOP: u8 = 0;
/// Hop limit of the router's own Echo Replies.
const REPLY_HOP_LIMIT: u8 = 64;

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
}

impl PortView {
    /// A port with `addresses` (a link-local one is added from the MAC if none is given).
    pub fn new(mac: MacAddr, mtu: u16, addresses: &[Ipv6Addr]) -> PortView {
        let mut addrs = addresses.to_vec();
        if !addrs.iter().any(Ipv6Addr::is_unicast_link_local) {
            addrs.push(ipv6::link_local_from_mac(&mac));
        }
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
        }
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
    /// Drop it, counted under the reason.
    Drop(DropReason),
}

/// The forwarding state every worker reads: ports, local addresses, routes, neighbors.
#[derive(Debug)]
pub struct Dataplane {
    ports: Vec<PortView>,
    /// Global (non-link-local) addresses of the router and the port that holds each.
    /// Link-local addresses are per port and live in `PortView::addresses`.
    global_addresses: FxHashMap<Ipv6Addr, u16>,
    routes: RouteTable,
    neighbors: NeighborTable,
}

impl Dataplane {
    pub fn new(ports: Vec<PortView>, routes: RouteTable, neighbors: NeighborTable) -> Dataplane {
        let global_addresses = ports
            .iter()
            .enumerate()
            .flat_map(|(i, p)| {
                p.addresses
                    .iter()
                    .filter(|a| !a.is_unicast_link_local())
                    .map(move |a| (*a, i as u16))
            })
            .collect();
        Dataplane {
            ports,
            global_addresses,
            routes,
            neighbors,
        }
    }

    pub fn ports(&self) -> &[PortView] {
        &self.ports
    }

    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    pub fn neighbors(&self) -> &NeighborTable {
        &self.neighbors
    }

    /// Handles one received frame. `buf` is the first buffer segment: its first `seg_len`
    /// bytes are received data, the rest free room a reply may use. `pkt_len` is the length
    /// of the whole frame, all segments. On `Forward` and `Reply`, the frame in `buf` has
    /// been rewritten in place.
    #[inline]
    pub fn handle(&self, in_port: u16, buf: &mut [u8], seg_len: usize, pkt_len: usize) -> Verdict {
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
        if seg_len < L4_OFFSET {
            return Verdict::Drop(if pkt_len >= L4_OFFSET {
                DropReason::MultiSegment
            } else {
                DropReason::Truncated
            });
        }

        let ip = Ipv6Packet::new(&buf[L3_OFFSET..seg_len]).expect("seg_len checked above");
        // RFC 8200 3: the version field is 6.
        if ip.version() != 6 {
            return Verdict::Drop(DropReason::BadVersion);
        }
        let payload_len = usize::from(ip.payload_len());
        // A zero payload length with a Hop-by-Hop header announces a jumbogram
        // (RFC 2675), which no supported link carries.
        if payload_len == 0 && ip.next_header() == NEXT_HEADER_HOP_BY_HOP {
            return Verdict::Drop(DropReason::BadLength);
        }
        // RFC 8200 3: the payload length counts every byte after the fixed header; a frame
        // shorter than it claims is damaged. A longer one carries link padding, cut here.
        let frame_len = L4_OFFSET + payload_len;
        if frame_len > pkt_len {
            return Verdict::Drop(DropReason::BadLength);
        }

        let src = ip.src();
        let dst = ip.dst();
        // RFC 4291 2.7: multicast addresses must not be used as source addresses.
        if src.is_multicast() {
            return Verdict::Drop(DropReason::BadSource);
        }

        if dst.is_multicast() {
            if port.groups.contains(&dst) {
                return self.deliver_local(port, buf, seg_len, pkt_len, frame_len);
            }
            return Verdict::Drop(DropReason::MulticastDestination);
        }
        if dst.is_unicast_link_local() {
            if port.addresses.contains(&dst) {
                return self.deliver_local(port, buf, seg_len, pkt_len, frame_len);
            }
            // RFC 4291 2.5.6: packets with link-local destinations must not be forwarded.
            return Verdict::Drop(DropReason::ScopeViolation);
        }
        if self.global_addresses.contains_key(&dst) {
            return self.deliver_local(port, buf, seg_len, pkt_len, frame_len);
        }
        self.forward(buf, frame_len, &src, &dst)
    }

    /// Forwards a packet that is not for the router.
    #[inline]
    fn forward(&self, buf: &mut [u8], frame_len: usize, src: &Ipv6Addr, dst: &Ipv6Addr) -> Verdict {
        // RFC 4291 2.5.2 and 2.5.3: the unspecified and loopback addresses never leave a
        // node, and 2.5.6: neither do link-local sources.
        if src.is_unspecified() || src.is_loopback() {
            return Verdict::Drop(DropReason::BadSource);
        }
        if src.is_unicast_link_local() || dst.is_loopback() {
            return Verdict::Drop(DropReason::ScopeViolation);
        }

        let mut ip = Ipv6Packet::new(&mut buf[L3_OFFSET..frame_len]).expect("length checked");
        // RFC 8200 3: a packet whose hop limit reaches zero on decrement is discarded.
        let hop_limit = ip.hop_limit();
        if hop_limit <= 1 {
            return Verdict::Drop(DropReason::HopLimitExceeded);
        }

        let Some(route) = self.routes.lookup(dst) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        let out = &self.ports[usize::from(route.port)];
        if frame_len - L3_OFFSET > usize::from(out.mtu) {
            return Verdict::Drop(DropReason::TooBig);
        }
        let mac = match route.next_hop {
            NextHop::Gateway(gw) => route
                .gateway_mac
                .or_else(|| self.neighbors.lookup(route.port, &gw)),
            NextHop::OnLink => self.neighbors.lookup(route.port, dst),
        };
        let Some(mac) = mac else {
            return Verdict::Drop(DropReason::NoNeighbor);
        };

        ip.set_hop_limit(hop_limit - 1);
        let mut eth = EthernetFrame::new(&mut buf[..L3_OFFSET]).expect("length checked");
        eth.set_destination(mac);
        eth.set_source(out.mac);
        Verdict::Forward {
            port: route.port,
            len: frame_len,
        }
    }

    /// Handles a packet addressed to the router on `port`.
    fn deliver_local(
        &self,
        port: &PortView,
        buf: &mut [u8],
        seg_len: usize,
        pkt_len: usize,
        frame_len: usize,
    ) -> Verdict {
        if pkt_len != seg_len {
            return Verdict::Drop(DropReason::MultiSegment);
        }
        let ip = Ipv6Packet::new(&buf[L3_OFFSET..frame_len]).expect("length checked");
        let (src, dst, hop_limit) = (ip.src(), ip.dst(), ip.hop_limit());
        if ip.next_header() != NEXT_HEADER_ICMPV6 {
            return Verdict::Drop(DropReason::LocalUnsupported);
        }
        let icmp = &buf[L4_OFFSET..frame_len];
        let Some(msg) = Icmpv6Message::new(icmp) else {
            return Verdict::Drop(DropReason::Truncated);
        };
        // RFC 4443 2.3: a message with a wrong checksum is discarded.
        if !checksum::verify_upper_layer(&src, &dst, NEXT_HEADER_ICMPV6, icmp) {
            return Verdict::Drop(DropReason::IcmpChecksum);
        }
        match msg.msg_type() {
            icmpv6::NEIGHBOR_SOLICIT => {
                self.answer_solicitation(port, buf, frame_len, &src, &dst, hop_limit)
            }
            icmpv6::ECHO_REQUEST if !dst.is_multicast() => {
                if src.is_unspecified() {
                    return Verdict::Drop(DropReason::BadSource);
                }
                answer_echo(port, buf, frame_len, &src, &dst)
            }
            _ => Verdict::Drop(DropReason::LocalUnsupported),
        }
    }

    /// Answers a Neighbor Solicitation for one of the port's addresses with a Neighbor
    /// Advertisement written over it (RFC 4861 section 7.2.4).
    fn answer_solicitation(
        &self,
        port: &PortView,
        buf: &mut [u8],
        frame_len: usize,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
        hop_limit: u8,
    ) -> Verdict {
        let ns = match nd::parse_solicitation(src, dst, hop_limit, &buf[L4_OFFSET..frame_len]) {
            Ok(ns) => ns,
            Err(_) => return Verdict::Drop(DropReason::NdInvalid),
        };
        if !port.addresses.contains(&ns.target) {
            return Verdict::Drop(DropReason::NdOtherTarget);
        }

        // RFC 4861 7.2.4: to a solicitation from the unspecified address, advertise to
        // all-nodes with the Solicited flag clear; otherwise answer the source, Solicited
        // set. Override is set: the target is never an anycast address here. The link-layer
        // destination is the solicitation's Source Link-layer Address option, or else the
        // frame's source: with no neighbor cache yet, that is where the sender listens.
        let eth_src = EthernetFrame::new(&buf[..])
            .expect("length checked")
            .source();
        let (reply_dst, reply_mac, solicited) = if src.is_unspecified() {
            (
                ipv6::ALL_NODES,
                MacAddr::ipv6_multicast(&ipv6::ALL_NODES),
                0,
            )
        } else {
            (
                *src,
                ns.source_lladdr.unwrap_or(eth_src),
                nd::FLAG_SOLICITED,
            )
        };
        let flags = nd::FLAG_ROUTER | nd::FLAG_OVERRIDE | solicited;

        let Some(len) = nd::write_advertisement(&mut buf[L4_OFFSET..], &ns.target, flags, port.mac)
        else {
            return Verdict::Drop(DropReason::NoBufferRoom);
        };
        let c = checksum::upper_layer(
            &ns.target,
            &reply_dst,
            NEXT_HEADER_ICMPV6,
            &buf[L4_OFFSET..L4_OFFSET + len],
        );
        Icmpv6Message::new(&mut buf[L4_OFFSET..])
            .expect("written above")
            .set_checksum(c);

        let mut ip = Ipv6Packet::new(&mut buf[L3_OFFSET..]).expect("length checked");
        ip.set_version_class_flow();
        ip.set_payload_len(len as u16);
        ip.set_next_header(NEXT_HEADER_ICMPV6);
        ip.set_hop_limit(nd::ND_HOP_LIMIT);
        ip.set_src(&ns.target);
        ip.set_dst(&reply_dst);

        let mut eth = EthernetFrame::new(&mut buf[..]).expect("length checked");
        eth.set_destination(reply_mac);
        eth.set_source(port.mac);
        Verdict::Reply {
            len: L4_OFFSET + len,
        }
    }
}

/// Turns an Echo Request to one of the router's addresses into the Echo Reply (RFC 4443
/// section 4.2): same identifier, sequence and data, from the address that was pinged,
/// back to the link-layer source it came from.
fn answer_echo(
    port: &PortView,
    buf: &mut [u8],
    frame_len: usize,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
) -> Verdict {
    // Swapping the addresses leaves the pseudo-header sum unchanged, so only the type
    // byte's change enters the checksum.
    let mut msg = Icmpv6Message::new(&mut buf[L4_OFFSET..frame_len]).expect("length checked");
    let old = u16::from_be_bytes([icmpv6::ECHO_REQUEST, msg.code()]);
    let new = u16::from_be_bytes([icmpv6::ECHO_REPLY, msg.code()]);
    let c = checksum::update(msg.checksum(), old, new);
    msg.set_msg_type(icmpv6::ECHO_REPLY);
    msg.set_checksum(c);

    let mut ip = Ipv6Packet::new(&mut buf[L3_OFFSET..frame_len]).expect("length checked");
    ip.set_src(dst);
    ip.set_dst(src);
    ip.set_hop_limit(REPLY_HOP_LIMIT);

    let mut eth = EthernetFrame::new(&mut buf[..frame_len]).expect("length checked");
    let requester = eth.source();
    eth.set_destination(requester);
    eth.set_source(port.mac);
    Verdict::Reply { len: frame_len }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neigh::Neighbor;
    use crate::route::Route;
    use crate::testvec;

    const R0_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
    const H1_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];
    const R1_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
    const H2_MAC: [u8; 6] = [2, 0, 0, 0, 2, 2];

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    /// Two ports: port0 2001:db8:1::1/64 with host ::2 on it, port1 2001:db8:2::1/64 (MTU
    /// 1280) with gateway ::2 on it, which reaches 2001:db8:100::/40.
    fn router() -> Dataplane {
        let ports = vec![
            PortView::new(MacAddr(R0_MAC), 1500, &[a("2001:db8:1::1")]),
            PortView::new(MacAddr(R1_MAC), 1280, &[a("2001:db8:2::1")]),
        ];
        let routes = [
            Route {
                prefix: "2001:db8:1::/64".parse().unwrap(),
                port: 0,
                next_hop: NextHop::OnLink,
            },
            Route {
                prefix: "2001:db8:2::/64".parse().unwrap(),
                port: 1,
                next_hop: NextHop::OnLink,
            },
            Route {
                prefix: "2001:db8:100::/40".parse().unwrap(),
                port: 1,
                next_hop: NextHop::Gateway(a("2001:db8:2::2")),
            },
        ];
        let neighbors = NeighborTable::new(&[
            Neighbor {
                port: 0,
                addr: a("2001:db8:1::2"),
                lladdr: MacAddr(H1_MAC),
            },
            Neighbor {
                port: 1,
                addr: a("2001:db8:2::2"),
                lladdr: MacAddr(H2_MAC),
            },
        ]);
        let routes = RouteTable::build(&routes, |p, g| neighbors.lookup(p, g));
        Dataplane::new(ports, routes, neighbors)
    }

    fn udp(dst: &str, hop_limit: u8, payload: usize) -> Vec<u8> {
        testvec::udp_frame(
            R0_MAC,
            H1_MAC,
            a("2001:db8:1::2"),
            a(dst),
            hop_limit,
            (1000, 2000),
            payload,
        )
    }

    /// Runs a frame through the router from port0, with room for a reply to grow into.
    fn run(dp: &Dataplane, frame: &[u8]) -> (Verdict, Vec<u8>) {
        let mut buf = frame.to_vec();
        buf.resize(frame.len() + 128, 0);
        let v = dp.handle(0, &mut buf, frame.len(), frame.len());
        (v, buf)
    }

    fn dropped(dp: &Dataplane, frame: &[u8]) -> DropReason {
        match run(dp, frame).0 {
            Verdict::Drop(r) => r,
            v => panic!("expected a drop, got {v:?}"),
        }
    }

    #[test]
    fn forwards_through_gateway() {
        let dp = router();
        let frame = udp("2001:db8:100::5", 64, 20);
        let (v, out) = run(&dp, &frame);
        assert_eq!(
            v,
            Verdict::Forward {
                port: 1,
                len: frame.len()
            }
        );
        assert_eq!(&out[0..6], &H2_MAC);
        assert_eq!(&out[6..12], &R1_MAC);
        assert_eq!(out[21], 63);
        // Nothing but the hop limit changed in the IPv6 packet, so the UDP checksum holds.
        assert_eq!(&out[14..21], &frame[14..21]);
        assert_eq!(&out[22..frame.len()], &frame[22..]);
    }

    #[test]
    fn forwards_on_link_and_cuts_padding() {
        let dp = router();
        let frame = udp("2001:db8:2::2", 2, 0);
        let mut padded = frame.clone();
        padded.extend_from_slice(&[0; 10]);
        let (v, out) = run(&dp, &padded);
        assert_eq!(
            v,
            Verdict::Forward {
                port: 1,
                len: frame.len()
            }
        );
        assert_eq!(&out[0..6], &H2_MAC);
        assert_eq!(out[21], 1);
    }

    #[test]
    fn drops_what_cannot_be_forwarded() {
        let dp = router();
        assert_eq!(
            dropped(&dp, &udp("2001:db8:100::5", 1, 8)),
            DropReason::HopLimitExceeded
        );
        assert_eq!(
            dropped(&dp, &udp("2001:db8:100::5", 0, 8)),
            DropReason::HopLimitExceeded
        );
        assert_eq!(
            dropped(&dp, &udp("2001:db9::1", 64, 8)),
            DropReason::NoRoute
        );
        assert_eq!(
            dropped(&dp, &udp("2001:db8:2::99", 64, 8)),
            DropReason::NoNeighbor
        );
        assert_eq!(
            dropped(&dp, &udp("2001:db8:100::5", 64, 1300)),
            DropReason::TooBig
        );
        assert_eq!(
            dropped(&dp, &udp("ff0e::1", 64, 8)),
            DropReason::MulticastDestination
        );
        assert_eq!(
            dropped(&dp, &udp("fe80::99", 64, 8)),
            DropReason::ScopeViolation
        );
        assert_eq!(dropped(&dp, &udp("::1", 64, 8)), DropReason::ScopeViolation);
        assert_eq!(
            dropped(&dp, &udp("2001:db8:1::1", 64, 8)),
            DropReason::LocalUnsupported
        );
    }

    #[test]
    fn drops_bad_sources() {
        let dp = router();
        for (src, reason) in [
            ("ff02::1", DropReason::BadSource),
            ("::", DropReason::BadSource),
            ("::1", DropReason::BadSource),
            ("fe80::2", DropReason::ScopeViolation),
        ] {
            let f = testvec::udp_frame(R0_MAC, H1_MAC, a(src), a("2001:db8:100::5"), 64, (1, 2), 8);
            assert_eq!(dropped(&dp, &f), reason, "{src}");
        }
    }

    #[test]
    fn drops_malformed_frames() {
        let dp = router();
        let good = udp("2001:db8:100::5", 64, 20);

        assert_eq!(dropped(&dp, &good[..13]), DropReason::Truncated);
        assert_eq!(dropped(&dp, &good[..53]), DropReason::Truncated);

        let mut ipv4 = good.clone();
        ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
        assert_eq!(dropped(&dp, &ipv4), DropReason::NotIpv6);

        let mut v4 = good.clone();
        v4[14] = 0x45;
        assert_eq!(dropped(&dp, &v4), DropReason::BadVersion);

        let mut lies = good.clone();
        lies[18..20].copy_from_slice(&500u16.to_be_bytes());
        assert_eq!(dropped(&dp, &lies), DropReason::BadLength);

        let mut jumbo = good.clone();
        jumbo[18..21].copy_from_slice(&[0, 0, 0]);
        assert_eq!(dropped(&dp, &jumbo), DropReason::BadLength);

        let mut other = good.clone();
        other[0..6].copy_from_slice(&[2, 0, 0, 0, 9, 9]);
        assert_eq!(dropped(&dp, &other), DropReason::OtherHost);
    }

    #[test]
    fn headers_split_across_segments() {
        let dp = router();
        let frame = udp("2001:db8:100::5", 64, 100);
        let mut buf = frame.clone();
        assert_eq!(
            dp.handle(0, &mut buf, 40, frame.len()),
            Verdict::Drop(DropReason::MultiSegment)
        );
        let echo = testvec::ECHO_REQUEST_FRAME;
        let mut buf = echo.to_vec();
        assert_eq!(
            dp.handle(0, &mut buf, 60, echo.len() + 100),
            Verdict::Drop(DropReason::MultiSegment)
        );
    }

    #[test]
    fn answers_echo_request() {
        let dp = router();
        let req = testvec::ECHO_REQUEST_FRAME;
        let (v, out) = run(&dp, &req);
        assert_eq!(v, Verdict::Reply { len: req.len() });
        let out = &out[..req.len()];
        assert_eq!(&out[0..6], &H1_MAC);
        assert_eq!(&out[6..12], &R0_MAC);
        let ip = Ipv6Packet::new(&out[14..]).unwrap();
        assert_eq!(ip.src(), a("2001:db8:1::1"));
        assert_eq!(ip.dst(), a("2001:db8:1::2"));
        assert_eq!(ip.hop_limit(), REPLY_HOP_LIMIT);
        assert_eq!(out[54], icmpv6::ECHO_REPLY);
        assert_eq!(
            &out[58..],
            &req[58..],
            "identifier, sequence and data are kept"
        );
        assert!(checksum::verify_upper_layer(
            &ip.src(),
            &ip.dst(),
            58,
            &out[54..]
        ));
    }

    #[test]
    fn answers_echo_to_the_other_ports_address_and_link_local() {
        let dp = router();
        for dst in ["2001:db8:2::1", "fe80::ff:fe00:101"] {
            let f = testvec::echo_request_frame(R0_MAC, H1_MAC, a("2001:db8:1::2"), a(dst), 100);
            let (v, out) = run(&dp, &f);
            assert_eq!(v, Verdict::Reply { len: f.len() }, "{dst}");
            let ip = Ipv6Packet::new(&out[14..f.len()]).unwrap();
            assert_eq!(ip.src(), a(dst));
            assert!(checksum::verify_upper_layer(
                &ip.src(),
                &ip.dst(),
                58,
                &out[54..f.len()]
            ));
        }
    }

    #[test]
    fn echo_with_bad_checksum_is_dropped() {
        let dp = router();
        let mut req = testvec::ECHO_REQUEST_FRAME;
        req[60] ^= 1;
        assert_eq!(dropped(&dp, &req), DropReason::IcmpChecksum);
    }

    #[test]
    fn answers_neighbor_solicitation() {
        let dp = router();
        let ns = testvec::NS_MULTICAST_FRAME;
        let (v, out) = run(&dp, &ns);
        assert_eq!(v, Verdict::Reply { len: 86 });
        let out = &out[..86];
        assert_eq!(
            &out[0..6],
            &H1_MAC,
            "to the solicitation's source link-layer address"
        );
        assert_eq!(&out[6..12], &R0_MAC);
        let ip = Ipv6Packet::new(&out[14..]).unwrap();
        assert_eq!(
            (ip.version(), ip.payload_len(), ip.hop_limit()),
            (6, 32, 255)
        );
        assert_eq!(ip.src(), a("2001:db8:1::1"));
        assert_eq!(ip.dst(), a("2001:db8:1::2"));
        assert_eq!(out[54], icmpv6::NEIGHBOR_ADVERT);
        assert_eq!(
            out[58],
            nd::FLAG_ROUTER | nd::FLAG_SOLICITED | nd::FLAG_OVERRIDE
        );
        assert_eq!(&out[62..78], &a("2001:db8:1::1").octets());
        assert_eq!(&out[78..86], &[2, 1, 2, 0, 0, 0, 1, 1]);
        assert!(checksum::verify_upper_layer(
            &ip.src(),
            &ip.dst(),
            58,
            &out[54..]
        ));
    }

    #[test]
    fn answers_duplicate_address_detection_to_all_nodes() {
        let dp = router();
        // The solicitation of a node checking 2001:db8:1::1 before using it: from the
        // unspecified address, with no link-layer address option.
        let mut ns = testvec::NS_MULTICAST_FRAME[..78].to_vec();
        ns[18..20].copy_from_slice(&24u16.to_be_bytes());
        ns[22..38].copy_from_slice(&[0; 16]);
        ns[56..58].copy_from_slice(&[0, 0]);
        let c = checksum::upper_layer(&Ipv6Addr::UNSPECIFIED, &a("ff02::1:ff00:1"), 58, &ns[54..]);
        ns[56..58].copy_from_slice(&c.to_be_bytes());

        let (v, out) = run(&dp, &ns);
        assert_eq!(v, Verdict::Reply { len: 86 });
        assert_eq!(&out[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
        let ip = Ipv6Packet::new(&out[14..86]).unwrap();
        assert_eq!(ip.dst(), ipv6::ALL_NODES);
        assert_eq!(
            out[58],
            nd::FLAG_ROUTER | nd::FLAG_OVERRIDE,
            "Solicited is clear"
        );
    }

    #[test]
    fn ignores_solicitations_for_other_targets() {
        let dp = router();
        let mut ns = testvec::NS_MULTICAST_FRAME;
        // Target 2001:db8:2::1 belongs to port1, not to port0 where this arrives.
        ns[62..78].copy_from_slice(&a("2001:db8:2::1").octets());
        ns[56..58].copy_from_slice(&[0, 0]);
        let c = checksum::upper_layer(&a("2001:db8:1::2"), &a("ff02::1:ff00:1"), 58, &ns[54..]);
        ns[56..58].copy_from_slice(&c.to_be_bytes());
        assert_eq!(dropped(&dp, &ns), DropReason::NdOtherTarget);

        let mut bad = testvec::NS_MULTICAST_FRAME;
        bad[21] = 64;
        assert_eq!(dropped(&dp, &bad), DropReason::NdInvalid);
    }

    #[test]
    fn no_reply_room_is_a_counted_drop() {
        let dp = router();
        let ns = testvec::NS_MULTICAST_FRAME;
        let mut buf = ns[..].to_vec();
        assert_eq!(
            dp.handle(0, &mut buf[..80], 80, 80),
            Verdict::Drop(DropReason::BadLength)
        );
        let mut short = ns[..78].to_vec();
        short[18..20].copy_from_slice(&24u16.to_be_bytes());
        short[56..58].copy_from_slice(&[0, 0]);
        let c = checksum::upper_layer(&a("2001:db8:1::2"), &a("ff02::1:ff00:1"), 58, &short[54..]);
        short[56..58].copy_from_slice(&c.to_be_bytes());
        assert_eq!(
            dp.handle(0, &mut short, 78, 78),
            Verdict::Drop(DropReason::NoBufferRoom)
        );
    }

    proptest::proptest! {
        /// Whatever the bytes, handling never panics and a frame only grows into the room
        /// it was given.
        #[test]
        fn any_bytes_are_handled(frame in proptest::collection::vec(proptest::num::u8::ANY, 0..200), room in 0usize..64) {
            let dp = router();
            let mut buf = frame.clone();
            buf.resize(frame.len() + room, 0);
            match dp.handle(0, &mut buf, frame.len(), frame.len()) {
                Verdict::Forward { len, .. } | Verdict::Reply { len } => {
                    proptest::prop_assert!(len <= frame.len() + room)
                }
                Verdict::Drop(_) => {}
            }
        }
    }
}
