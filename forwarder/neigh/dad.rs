//! Duplicate Address Detection of the router's own addresses (RFC 4862 section 5.4): the
//! solicitation that asks whether anyone holds an address, and the frames that say
//! someone does.
//!
//! The router runs it once for every address of every port when it starts, before any
//! worker forwards: an address another node answers for is refused.

use std::net::Ipv6Addr;

use crate::wire::ethernet::{self, ETHERTYPE_IPV6};
use crate::wire::icmpv6;
use crate::wire::ipv6;
use crate::wire::nd;
use crate::wire::{EthernetFrame, Ipv6Packet, MacAddr, checksum};

const L3: usize = ethernet::HEADER_LEN;
const L4: usize = L3 + ipv6::HEADER_LEN;

/// Writes into `buf` the Neighbor Solicitation that probes `target` from a port of
/// link-layer address `mac`: from the unspecified address, to the target's
/// solicited-node group, with no link-layer address option (RFC 4862 5.4.2). Returns the
/// frame's length, or `None` if `buf` is too small.
pub fn write_probe(buf: &mut [u8], mac: MacAddr, target: &Ipv6Addr) -> Option<usize> {
    let len = L4 + nd::MESSAGE_LEN;
    let out = buf.get_mut(..len)?;
    out.fill(0);
    let group = ipv6::solicited_node(target);
    let msg = &mut out[L4..];
    msg[0] = icmpv6::NEIGHBOR_SOLICIT;
    msg[8..24].copy_from_slice(&target.octets());
    let sum = checksum::upper_layer(&Ipv6Addr::UNSPECIFIED, &group, 58, msg);
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut ip = Ipv6Packet::new(&mut out[L3..])?;
    ip.set_version_class_flow();
    ip.set_payload_len(nd::MESSAGE_LEN as u16);
    ip.set_next_header(58);
    ip.set_hop_limit(nd::ND_HOP_LIMIT);
    ip.set_src(&Ipv6Addr::UNSPECIFIED);
    ip.set_dst(&group);
    let mut eth = EthernetFrame::new(&mut out[..L3])?;
    eth.set_destination(MacAddr::ipv6_multicast(&group));
    eth.set_source(mac);
    out[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    Some(len)
}

/// The address of `tentative` that `frame` says another node holds, if it does: a valid
/// Neighbor Advertisement for it, or another node's probe for it (RFC 4862 5.4.3, 5.4.4).
/// `mac` is the port's own link-layer address, whose own probes do not count.
pub fn conflict(frame: &[u8], tentative: &[Ipv6Addr], mac: MacAddr) -> Option<Ipv6Addr> {
    let eth = EthernetFrame::new(frame)?;
    if eth.ethertype() != ETHERTYPE_IPV6 || eth.source() == mac {
        return None;
    }
    let ip = Ipv6Packet::new(&frame[L3..])?;
    let end = L4 + usize::from(ip.payload_len());
    let msg = frame.get(L4..end)?;
    if ip.next_header() != 58 || !checksum::verify_upper_layer(&ip.src(), &ip.dst(), 58, msg) {
        return None;
    }
    let target = match *msg.first()? {
        icmpv6::NEIGHBOR_ADVERT => {
            nd::parse_advertisement(&ip.dst(), ip.hop_limit(), msg)
                .ok()?
                .target
        }
        icmpv6::NEIGHBOR_SOLICIT if ip.src().is_unspecified() => {
            nd::parse_solicitation(&ip.src(), &ip.dst(), ip.hop_limit(), msg)
                .ok()?
                .target
        }
        _ => return None,
    };
    tentative.contains(&target).then_some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: MacAddr = MacAddr([2, 0, 0, 0, 0, 1]);
    const THEIRS: MacAddr = MacAddr([2, 0, 0, 0, 0, 2]);

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn the_probe_is_a_valid_solicitation_from_nobody() {
        let mut buf = [0u8; 128];
        let len = write_probe(&mut buf, OURS, &a("2001:db8::1")).unwrap();
        let f = &buf[..len];
        let ip = Ipv6Packet::new(&f[L3..]).unwrap();
        assert_eq!(ip.src(), Ipv6Addr::UNSPECIFIED);
        assert_eq!(ip.dst(), ipv6::solicited_node(&a("2001:db8::1")));
        let ns = nd::parse_solicitation(&ip.src(), &ip.dst(), ip.hop_limit(), &f[L4..]).unwrap();
        assert_eq!((ns.target, ns.source_lladdr), (a("2001:db8::1"), None));
        assert!(checksum::verify_upper_layer(
            &ip.src(),
            &ip.dst(),
            58,
            &f[L4..]
        ));
        assert!(write_probe(&mut buf[..70], OURS, &a("2001:db8::1")).is_none());
    }

    #[test]
    fn another_nodes_probe_or_advertisement_is_a_conflict() {
        let tentative = [a("2001:db8::1"), a("fe80::1")];
        let mut buf = [0u8; 128];
        let len = write_probe(&mut buf, THEIRS, &a("2001:db8::1")).unwrap();
        assert_eq!(
            conflict(&buf[..len], &tentative, OURS),
            Some(a("2001:db8::1"))
        );
        // Our own probe, or one for another address, is none.
        assert_eq!(conflict(&buf[..len], &tentative, THEIRS), None);
        let len = write_probe(&mut buf, THEIRS, &a("2001:db8::2")).unwrap();
        assert_eq!(conflict(&buf[..len], &tentative, OURS), None);

        // An advertisement to all-nodes, as a node defending its address sends.
        let mut f = vec![0u8; L4 + 32];
        let n = nd::write_advertisement(&mut f[L4..], &a("fe80::1"), nd::FLAG_OVERRIDE, THEIRS)
            .unwrap();
        let sum = checksum::upper_layer(&a("fe80::9"), &ipv6::ALL_NODES, 58, &f[L4..L4 + n]);
        f[L4 + 2..L4 + 4].copy_from_slice(&sum.to_be_bytes());
        {
            let mut ip = Ipv6Packet::new(&mut f[L3..]).unwrap();
            ip.set_version_class_flow();
            ip.set_payload_len(n as u16);
            ip.set_next_header(58);
            ip.set_hop_limit(255);
            ip.set_src(&a("fe80::9"));
            ip.set_dst(&ipv6::ALL_NODES);
        }
        let mut eth = EthernetFrame::new(&mut f[..L3]).unwrap();
        eth.set_source(THEIRS);
        f[12..14].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        assert_eq!(conflict(&f, &tentative, OURS), Some(a("fe80::1")));
        // A broken checksum is no word at all.
        f[L4 + 2] ^= 1;
        assert_eq!(conflict(&f, &tentative, OURS), None);
    }
}
