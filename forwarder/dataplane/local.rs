//! Packets addressed to the router: Neighbor Solicitations and Echo Requests are answered,
//! Neighbor Advertisements and the link-layer addresses solicitations give are handed to
//! the neighbor layer as events, TCP gets a reset, UDP and unknown protocols get the ICMPv6 errors of RFC 4443, and
//! extension headers are read as RFC 8200 section 4 asks of a destination.

use std::net::Ipv6Addr;

use super::icmp_error::IcmpError;
use super::{
    Core, Dataplane, HOP_LIMIT, L3_OFFSET, L4_OFFSET, MAX_EXTENSION_HEADERS, PortView, Rx, Verdict,
};
use crate::counters::DropReason;
use crate::neigh::cache::{Advert, Source};
use crate::neigh::{Event, dad};
use crate::wire::exthdr::{self, ChainError};
use crate::wire::icmpv6::{self, Icmpv6Message};
use crate::wire::{EthernetFrame, Ipv6Packet, MacAddr, checksum, ipv6, nd, tcp};

impl Dataplane {
    /// Handles a packet addressed to the router on `port`. Kept out of line: the
    /// forwarding path around it is the one that must stay small.
    #[inline(never)]
    pub(super) fn deliver_local(
        &self,
        core: &mut Core,
        port: &PortView,
        buf: &mut [u8],
        rx: &Rx,
    ) -> Verdict {
        let (src, dst) = {
            let ip = Ipv6Packet::new(&buf[L3_OFFSET..rx.frame_len])
                .expect("frames past handle() hold both headers");
            (ip.src(), ip.dst())
        };

        let chain = match exthdr::walk(&buf[L3_OFFSET..rx.frame_len], MAX_EXTENSION_HEADERS) {
            Ok(c) => c,
            Err(ChainError::Truncated { pointer }) => {
                return self.bad_header(core, buf, rx, pointer, DropReason::BadExtensionHeader);
            }
            // RFC 8200 4.1: a Hop-by-Hop header anywhere but first is an unrecognised
            // Next Header.
            // RFC 7112 5: a first fragment without the whole chain is discarded, with
            // Parameter Problem code 3 and pointer 0.
            Err(ChainError::IncompleteFirstFragment) => {
                let e = IcmpError::parameter(
                    icmpv6::PARAMETER_INCOMPLETE_CHAIN,
                    0,
                    DropReason::BadFragment,
                );
                return self.icmp_error(core, buf, rx, e);
            }
            Err(ChainError::MisplacedHopByHop { pointer }) => {
                return self.icmp_error(
                    core,
                    buf,
                    rx,
                    IcmpError::parameter(
                        icmpv6::PARAMETER_UNRECOGNIZED_NEXT_HEADER,
                        pointer,
                        DropReason::BadExtensionHeader,
                    ),
                );
            }
        };
        if let Some(at) = chain.hop_by_hop
            && let Some(v) = self.check_options(core, buf, rx, L3_OFFSET + at, |t| {
                t == exthdr::OPT_ROUTER_ALERT
            })
        {
            return v;
        }
        if let Some(at) = chain.destination_options
            && let Some(v) = self.check_options(core, buf, rx, L3_OFFSET + at, |_| false)
        {
            return v;
        }
        if let Some(at) = chain.routing {
            let segments_left = buf[L3_OFFSET + at + 3];
            // RFC 8200 4.4 and RFC 5095 3: no routing type is processed here (type 0 never
            // is), so a Routing header with segments left is discarded with Parameter
            // Problem, code 0, pointing at its type; one with none left is ignored.
            if segments_left != 0 {
                return self.icmp_error(
                    core,
                    buf,
                    rx,
                    IcmpError::parameter(
                        icmpv6::PARAMETER_ERRONEOUS_FIELD,
                        at + 2,
                        DropReason::RoutingHeader,
                    ),
                );
            }
        }
        if chain.fragment.is_some() {
            // A packet put back together that holds a Fragment header again is no packet
            // a sender makes (RFC 8200 4.5 fragments once, at the source).
            if rx.reassembled {
                return Verdict::Drop(DropReason::BadFragment);
            }
            return self.reassemble(core, port, buf, rx, &chain);
        }

        let upper = L3_OFFSET + chain.upper_offset;
        match chain.upper {
            exthdr::ICMPV6 => self.local_icmp(core, port, buf, rx, upper, &src, &dst),
            exthdr::TCP if !dst.is_multicast() => match self.reply_source(port, &dst) {
                Some(from) => tcp_reset(port, buf, rx, upper, &src, &dst, &from),
                None => Verdict::Drop(DropReason::LocalUnsupported),
            },
            exthdr::UDP => self.icmp_error(
                core,
                buf,
                rx,
                IcmpError::unreachable(icmpv6::UNREACHABLE_PORT, DropReason::PortUnreachable),
            ),
            exthdr::TCP | exthdr::NO_NEXT_HEADER | exthdr::ESP | exthdr::AH => {
                Verdict::Drop(DropReason::LocalUnsupported)
            }
            // RFC 8200 4 and RFC 4443 3.4: an unrecognised Next Header at the destination
            // gets Parameter Problem, code 1, pointing at the field that names it.
            _ => self.icmp_error(
                core,
                buf,
                rx,
                IcmpError::parameter(
                    icmpv6::PARAMETER_UNRECOGNIZED_NEXT_HEADER,
                    chain.upper_pointer,
                    DropReason::UnknownNextHeader,
                ),
            ),
        }
    }

    /// The address the router answers a packet to `dst` from (RFC 4443 2.2): `dst` itself
    /// when it is one of the router's unicast addresses; the port's link-local address for
    /// a (link-scoped) group; the port's global address for a Subnet-Router anycast one.
    pub(super) fn reply_source(&self, port: &PortView, dst: &Ipv6Addr) -> Option<Ipv6Addr> {
        if dst.is_multicast() {
            port.link_local()
        } else if self.anycast.contains(dst) {
            port.global()
        } else {
            Some(*dst)
        }
    }

    /// ICMPv6 to the router, the message starting at `at` in the frame.
    #[allow(clippy::too_many_arguments)]
    fn local_icmp(
        &self,
        core: &mut Core,
        port: &PortView,
        buf: &mut [u8],
        rx: &Rx,
        at: usize,
        src: &Ipv6Addr,
        dst: &Ipv6Addr,
    ) -> Verdict {
        let icmp = &buf[at..rx.frame_len];
        let Some(msg) = Icmpv6Message::new(icmp) else {
            return Verdict::Drop(DropReason::Truncated);
        };
        // RFC 4443 2.3: a message with a wrong checksum is discarded.
        if !checksum::verify_upper_layer(src, dst, exthdr::ICMPV6, icmp) {
            return Verdict::Drop(DropReason::IcmpChecksum);
        }
        let kind = msg.msg_type();
        if let Some(c) = kind
            .checked_sub(icmpv6::ROUTER_SOLICIT)
            .and_then(|i| core.counters.nd_received.get(usize::from(i)))
        {
            c.add(1);
        }
        // RFC 4862 5.4.3, 5.4.4: a probe from another node for an address the port probes
        // for, or an advertisement of it, makes it a duplicate.
        // (RFC 6980 5: not from messages that came in fragments.)
        if !port.tentative.is_empty()
            && !rx.reassembled
            && matches!(kind, icmpv6::NEIGHBOR_SOLICIT | icmpv6::NEIGHBOR_ADVERT)
            && let Some(addr) = dad::conflict(&buf[..rx.frame_len], &port.tentative, port.mac)
        {
            core.nd_events.push(Event::Duplicate {
                port: rx.in_port,
                addr,
            });
            return Verdict::Consumed;
        }
        match kind {
            // RFC 6980 5: Neighbor Discovery messages that came in fragments are ignored.
            icmpv6::NEIGHBOR_SOLICIT | icmpv6::NEIGHBOR_ADVERT if rx.reassembled => {
                Verdict::Drop(DropReason::NdInvalid)
            }
            icmpv6::NEIGHBOR_SOLICIT => {
                let hop_limit = Ipv6Packet::new(&buf[L3_OFFSET..])
                    .expect("frames past handle() hold both headers")
                    .hop_limit();
                let v = answer_solicitation(core, port, buf, rx, at, src, dst, hop_limit);
                if matches!(v, Verdict::Reply { .. }) {
                    core.counters.advertisements.add(1);
                }
                v
            }
            icmpv6::ROUTER_SOLICIT if port.ra.is_some() && !rx.reassembled => {
                let hop_limit = Ipv6Packet::new(&buf[L3_OFFSET..])
                    .expect("frames past handle() hold both headers")
                    .hop_limit();
                match nd::parse_router_solicitation(src, hop_limit, &buf[at..rx.frame_len]) {
                    Ok(lladdr) => {
                        // RFC 4861 6.2.6: the sender's address updates its neighbor entry,
                        // and the solicitation brings the next advertisement forward.
                        if let (Some(lladdr), false) = (lladdr, src.is_unspecified()) {
                            core.nd_events.push(Event::Source {
                                port: rx.in_port,
                                addr: *src,
                                lladdr,
                                from: Source::RouterSolicitation,
                            });
                        }
                        core.nd_events
                            .push(Event::RouterSolicit { port: rx.in_port });
                        Verdict::Consumed
                    }
                    Err(_) => Verdict::Drop(DropReason::NdInvalid),
                }
            }
            icmpv6::ROUTER_ADVERT if port.accept_ra && !rx.reassembled => {
                let hop_limit = Ipv6Packet::new(&buf[L3_OFFSET..])
                    .expect("frames past handle() hold both headers")
                    .hop_limit();
                match nd::parse_router_advert(src, hop_limit, &buf[at..rx.frame_len]) {
                    Ok(ra) => {
                        // RFC 4861 6.3.4: the sender is a router, at this link-layer
                        // address.
                        if let Some(lladdr) = ra.lladdr {
                            core.nd_events.push(Event::Source {
                                port: rx.in_port,
                                addr: *src,
                                lladdr,
                                from: Source::RouterAdvertisement,
                            });
                        }
                        // Rare, and bounded by the inbox the worker hands them to.
                        if core.router_adverts.len() < 64 {
                            core.router_adverts.push((rx.in_port, *src, ra));
                        }
                        Verdict::Consumed
                    }
                    Err(_) => Verdict::Drop(DropReason::NdInvalid),
                }
            }
            icmpv6::NEIGHBOR_ADVERT => {
                let hop_limit = Ipv6Packet::new(&buf[L3_OFFSET..])
                    .expect("frames past handle() hold both headers")
                    .hop_limit();
                match nd::parse_advertisement(dst, hop_limit, &buf[at..rx.frame_len]) {
                    Ok(na) => {
                        core.nd_events.push(Event::Advert {
                            port: rx.in_port,
                            advert: Advert {
                                target: na.target,
                                router: na.router,
                                solicited: na.solicited,
                                override_: na.override_,
                                lladdr: na.target_lladdr,
                            },
                        });
                        Verdict::Consumed
                    }
                    Err(_) => Verdict::Drop(DropReason::NdInvalid),
                }
            }
            icmpv6::ECHO_REQUEST => {
                if src.is_unspecified() {
                    return Verdict::Drop(DropReason::BadSource);
                }
                match self.reply_source(port, dst) {
                    Some(from) => answer_echo(port, buf, rx, at, src, dst, &from),
                    None => Verdict::Drop(DropReason::LocalUnsupported),
                }
            }
            _ => Verdict::Drop(DropReason::LocalUnsupported),
        }
    }
}

/// Answers a Neighbor Solicitation (at `at` in the frame) for one of the port's addresses
/// with a Neighbor Advertisement written over it (RFC 4861 section 7.2.4).
#[allow(clippy::too_many_arguments)]
fn answer_solicitation(
    core: &mut Core,
    port: &PortView,
    buf: &mut [u8],
    rx: &Rx,
    at: usize,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    hop_limit: u8,
) -> Verdict {
    let ns = match nd::parse_solicitation(src, dst, hop_limit, &buf[at..rx.frame_len]) {
        Ok(ns) => ns,
        Err(_) => return Verdict::Drop(DropReason::NdInvalid),
    };
    if !port.addresses.contains(&ns.target) {
        return Verdict::Drop(DropReason::NdOtherTarget);
    }
    // RFC 4861 7.2.3: the sender's link-layer address, given with a specified source,
    // creates or updates its neighbor entry.
    if let (Some(lladdr), false) = (ns.source_lladdr, src.is_unspecified()) {
        core.nd_events.push(Event::Source {
            port: rx.in_port,
            addr: *src,
            lladdr,
            from: Source::Solicitation,
        });
    }

    // RFC 4861 7.2.4: to a solicitation from the unspecified address, advertise to
    // all-nodes with the Solicited flag clear; otherwise answer the source, Solicited
    // set. Override is set: the target is never an anycast address here. The link-layer
    // destination is the solicitation's Source Link-layer Address option, or else the
    // frame's source: with no neighbor cache yet, that is where the sender listens.
    let eth_src = EthernetFrame::new(&buf[..])
        .expect("frames past handle() hold both headers")
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
        exthdr::ICMPV6,
        &buf[L4_OFFSET..L4_OFFSET + len],
    );
    Icmpv6Message::new(&mut buf[L4_OFFSET..])
        .expect("written above")
        .set_checksum(c);

    write_ipv6_header(
        buf,
        len,
        exthdr::ICMPV6,
        nd::ND_HOP_LIMIT,
        &ns.target,
        &reply_dst,
    );
    let mut eth = EthernetFrame::new(&mut buf[..]).expect("frames past handle() hold both headers");
    eth.set_destination(reply_mac);
    eth.set_source(port.mac);
    Verdict::Reply {
        len: L4_OFFSET + len,
    }
}

/// Turns an Echo Request (at `at` in the frame) to one of the router's addresses or groups
/// into the Echo Reply (RFC 4443 section 4.2): same identifier, sequence and data, from
/// `from`, back to the link-layer source it came from, without the request's extension
/// headers.
fn answer_echo(
    port: &PortView,
    buf: &mut [u8],
    rx: &Rx,
    at: usize,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    from: &Ipv6Addr,
) -> Verdict {
    let len = rx.frame_len - at;
    buf.copy_within(at..rx.frame_len, L4_OFFSET);
    let mut msg = Icmpv6Message::new(&mut buf[L4_OFFSET..L4_OFFSET + len])
        .expect("frames past handle() hold both headers");
    let old = u16::from_be_bytes([icmpv6::ECHO_REQUEST, msg.code()]);
    let new = u16::from_be_bytes([icmpv6::ECHO_REPLY, msg.code()]);
    let c = checksum::update(msg.checksum(), old, new);
    msg.set_msg_type(icmpv6::ECHO_REPLY);
    msg.set_checksum(c);
    // When the reply comes from the address pinged, the pseudo-header sum stays the same
    // and the type byte's change is all the checksum needs; from another address it is
    // summed again.
    if from != dst {
        msg.set_checksum(0);
        let c = checksum::upper_layer(from, src, exthdr::ICMPV6, &buf[L4_OFFSET..L4_OFFSET + len]);
        Icmpv6Message::new(&mut buf[L4_OFFSET..L4_OFFSET + len])
            .expect("frames past handle() hold both headers")
            .set_checksum(c);
    }

    write_ipv6_header(buf, len, exthdr::ICMPV6, HOP_LIMIT, from, src);
    reply_to_sender(port, buf);
    Verdict::Reply {
        len: L4_OFFSET + len,
    }
}

/// Answers a TCP segment (at `at` in the frame) to the router, which listens on no port,
/// with a reset (RFC 9293 section 3.10.7.1): it sends to its sender and carries nothing.
fn tcp_reset(
    port: &PortView,
    buf: &mut [u8],
    rx: &Rx,
    at: usize,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    from: &Ipv6Addr,
) -> Verdict {
    // RFC 4291 2.5.2: the unspecified address is never a destination.
    if src.is_unspecified() {
        return Verdict::Drop(DropReason::BadSource);
    }
    let segment = &buf[at..rx.frame_len];
    let Some(seg) = tcp::TcpSegment::new(segment) else {
        return Verdict::Drop(DropReason::Truncated);
    };
    if !checksum::verify_upper_layer(src, dst, exthdr::TCP, segment) {
        return Verdict::Drop(DropReason::TcpChecksum);
    }
    // RFC 9293 3.10.7.1: a reset is never answered.
    if seg.flags() & tcp::RST != 0 {
        return Verdict::Drop(DropReason::LocalUnsupported);
    }
    let reset = tcp::reset_for(&seg);
    let len = tcp::write_reset(&mut buf[L4_OFFSET..], &reset);
    let c = checksum::upper_layer(from, src, exthdr::TCP, &buf[L4_OFFSET..L4_OFFSET + len]);
    buf[L4_OFFSET + 16..L4_OFFSET + 18].copy_from_slice(&c.to_be_bytes());

    write_ipv6_header(buf, len, exthdr::TCP, HOP_LIMIT, from, src);
    reply_to_sender(port, buf);
    Verdict::Reply {
        len: L4_OFFSET + len,
    }
}

/// Writes an IPv6 header for a reply of `payload_len` bytes that follow it directly.
pub(super) fn write_ipv6_header(
    buf: &mut [u8],
    payload_len: usize,
    next_header: u8,
    hop_limit: u8,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
) {
    let mut ip =
        Ipv6Packet::new(&mut buf[L3_OFFSET..]).expect("frames past handle() hold both headers");
    ip.set_version_class_flow();
    ip.set_payload_len(payload_len as u16);
    ip.set_next_header(next_header);
    ip.set_hop_limit(hop_limit);
    ip.set_src(src);
    ip.set_dst(dst);
}

/// Addresses a reply's Ethernet header to the frame's sender, from the port.
fn reply_to_sender(port: &PortView, buf: &mut [u8]) {
    let mut eth =
        EthernetFrame::new(&mut buf[..L3_OFFSET]).expect("frames past handle() hold both headers");
    let requester = eth.source();
    eth.set_destination(requester);
    eth.set_source(port.mac);
}
