//! ICMPv6 error messages (RFC 4443 sections 2.4 and 3), written over the packet that
//! caused them and routed back to its source.

use std::net::Ipv6Addr;

use super::{Core, Dataplane, HOP_LIMIT, L3_OFFSET, L4_OFFSET, Rx, Verdict};
use crate::counters::DropReason;
use crate::route::NextHop;
use crate::wire::fragment::FragmentHeader;
use crate::wire::icmpv6::{self, ERROR_HEADER_LEN, ERROR_MAX_PACKET};
use crate::wire::{EthernetFrame, Ipv6Packet, MacAddr, checksum, exthdr, ipv6};

/// An ICMPv6 error to send about a packet, and the reason the packet is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IcmpError {
    msg_type: u8,
    code: u8,
    /// The 32-bit field after the checksum: unused, the MTU or the pointer.
    param: u32,
    reason: DropReason,
    /// Whether the error may answer a packet to a multicast address (RFC 4443 2.4 (e.3)).
    to_multicast: bool,
}

impl IcmpError {
    /// Time Exceeded, code 0: hop limit exceeded in transit (RFC 4443 3.3).
    pub(super) fn time_exceeded(reason: DropReason) -> IcmpError {
        IcmpError {
            msg_type: icmpv6::TIME_EXCEEDED,
            code: icmpv6::TIME_EXCEEDED_HOP_LIMIT,
            param: 0,
            reason,
            to_multicast: false,
        }
    }

    /// Destination Unreachable with `code` (RFC 4443 3.1).
    pub(super) fn unreachable(code: u8, reason: DropReason) -> IcmpError {
        IcmpError {
            msg_type: icmpv6::DEST_UNREACHABLE,
            code,
            param: 0,
            reason,
            to_multicast: false,
        }
    }

    /// Packet Too Big with the MTU of the next link (RFC 4443 3.2), the one error that
    /// always may answer a multicast destination.
    pub(super) fn too_big(mtu: u16) -> IcmpError {
        IcmpError {
            msg_type: icmpv6::PACKET_TOO_BIG,
            code: 0,
            param: u32::from(mtu),
            reason: DropReason::TooBig,
            to_multicast: true,
        }
    }

    /// Parameter Problem with `code`, pointing at byte `pointer` of the invoking packet
    /// (RFC 4443 3.4).
    pub(super) fn parameter(code: u8, pointer: usize, reason: DropReason) -> IcmpError {
        IcmpError {
            msg_type: icmpv6::PARAMETER_PROBLEM,
            code,
            param: pointer as u32,
            reason,
            to_multicast: false,
        }
    }

    /// The same error, allowed to answer a multicast destination when `allowed` (an
    /// unrecognised option whose type asks for it, RFC 8200 4.2).
    pub(super) fn to_multicast_if(self, allowed: bool) -> IcmpError {
        IcmpError {
            to_multicast: allowed,
            ..self
        }
    }
}

impl Dataplane {
    /// Drops the packet for the error's reason and, where RFC 4443 allows, answers its
    /// source with the error.
    #[cold]
    #[inline(never)]
    pub(super) fn icmp_error(
        &self,
        core: &mut Core,
        buf: &mut [u8],
        rx: &Rx,
        e: IcmpError,
    ) -> Verdict {
        let IcmpError {
            msg_type,
            code,
            param,
            reason,
            to_multicast,
        } = e;
        let dropped = Verdict::Drop(reason);
        let (src, dst, eth_src, eth_dst) = {
            let ip = Ipv6Packet::new(&buf[L3_OFFSET..L4_OFFSET])
                .expect("frames past handle() hold both headers");
            let eth = EthernetFrame::new(&buf[..L3_OFFSET])
                .expect("frames past handle() hold both headers");
            (ip.src(), ip.dst(), eth.source(), eth.destination())
        };

        // RFC 4443 2.4 (e): no error for an error, for a packet to a multicast address (or
        // link-layer multicast) but the exceptions, nor for a packet whose source does not
        // name one node: unspecified, multicast or anycast.
        if (dst.is_multicast() || eth_dst.is_multicast()) && !to_multicast {
            return dropped;
        }
        if src.is_unspecified() || src.is_multicast() || self.anycast.contains(&src) {
            return dropped;
        }
        if self.is_error_or_redirect(buf, rx) {
            return dropped;
        }
        // RFC 4443 2.4 (f): errors are rate-limited.
        if !core.icmp_errors.take(core.now_ns) {
            core.counters.icmp_rate_limited.add(1);
            return dropped;
        }

        let Some((out_port, mac)) = self.route_back(core, rx, &src, eth_src) else {
            return dropped;
        };
        let out = &self.ports[usize::from(out_port)];
        // RFC 4443 2.2: an error about a packet to one of the router's unicast addresses
        // comes from that address; any other from an address of the port it leaves by,
        // of the scope of the destination where the port has one.
        let to_router = self.global_addresses.contains(&dst)
            || self.ports[usize::from(rx.in_port)].addresses.contains(&dst);
        let from = if to_router {
            Some(dst)
        } else if src.is_unicast_link_local() {
            out.link_local()
        } else {
            out.global()
                .or_else(|| self.ports.iter().find_map(super::PortView::global))
        };
        let Some(from) = from else {
            return dropped;
        };

        // RFC 4443 2.4 (c): as much of the invoking packet as fits in the minimum MTU.
        let invoking =
            (rx.frame_len - L3_OFFSET).min(ERROR_MAX_PACKET - ipv6::HEADER_LEN - ERROR_HEADER_LEN);
        let body = L4_OFFSET + ERROR_HEADER_LEN;
        let len = body + invoking;
        if buf.len() < len {
            return dropped;
        }
        buf.copy_within(L3_OFFSET..L3_OFFSET + invoking, body);

        let message = &mut buf[L4_OFFSET..len];
        message[0] = msg_type;
        message[1] = code;
        message[2..4].copy_from_slice(&[0, 0]);
        message[4..8].copy_from_slice(&param.to_be_bytes());
        let c = checksum::upper_layer(&from, &src, exthdr::ICMPV6, message);
        message[2..4].copy_from_slice(&c.to_be_bytes());

        let mut ip = Ipv6Packet::new(&mut buf[L3_OFFSET..len])
            .expect("frames past handle() hold both headers");
        ip.set_version_class_flow();
        ip.set_payload_len((len - L4_OFFSET) as u16);
        ip.set_next_header(exthdr::ICMPV6);
        ip.set_hop_limit(HOP_LIMIT);
        ip.set_src(&from);
        ip.set_dst(&src);
        let mut eth = EthernetFrame::new(&mut buf[..L3_OFFSET])
            .expect("frames past handle() hold both headers");
        eth.set_destination(mac);
        eth.set_source(out.mac);
        Verdict::Error {
            port: out_port,
            len,
            reason,
        }
    }

    /// The port and next-hop link-layer address towards `src`, the source of a packet
    /// that came in on `rx.in_port` from `eth_src`.
    fn route_back(
        &self,
        core: &Core,
        rx: &Rx,
        src: &Ipv6Addr,
        eth_src: MacAddr,
    ) -> Option<(u16, MacAddr)> {
        // A link-local source is on the link the packet came from.
        if src.is_unicast_link_local() {
            return Some((rx.in_port, eth_src));
        }
        // The first path is enough: an error is not part of any flow worth keeping on one.
        let route = *core.fib.fib().lookup(src)?.all().first()?;
        if matches!(route.next_hop, NextHop::Reject(_)) {
            return None;
        }
        let mac = self.next_hop_mac(&route, src, &core.neighbors, core.now_ns);
        // Without a neighbor entry, the way back on the arrival link is the node that
        // sent the packet: its Ethernet source.
        match mac {
            Some(mac) => Some((route.port, mac)),
            None if route.port == rx.in_port => Some((route.port, eth_src)),
            None => None,
        }
    }

    /// Whether the invoking packet is an ICMPv6 error or a Redirect, which no error may
    /// answer (RFC 4443 2.4 (e.1)).
    fn is_error_or_redirect(&self, buf: &[u8], rx: &Rx) -> bool {
        let packet = &buf[L3_OFFSET..rx.frame_len];
        let Ok(c) = exthdr::walk(packet, super::MAX_EXTENSION_HEADERS) else {
            return false;
        };
        // A fragment other than the first carries no ICMPv6 header to tell.
        let later_fragment = c
            .fragment
            .is_some_and(|at| FragmentHeader::parse(&packet[at..]).is_some_and(|f| f.offset != 0));
        c.upper == exthdr::ICMPV6
            && !later_fragment
            && packet
                .get(c.upper_offset)
                .is_some_and(|t| icmpv6::is_error(*t) || *t == icmpv6::REDIRECT)
    }
}
