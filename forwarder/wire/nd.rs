//! Neighbor Solicitation and Advertisement bodies and the link-layer address options,
//! [RFC 4861 sections 4.3, 4.4 and 4.6.1](https://www.rfc-editor.org/rfc/rfc4861#section-4.3).
//!
//! ```text
//! Neighbor Solicitation / Advertisement (after the 4-byte ICMPv6 header):
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|S|O|                     Reserved                            |   (NA flags; NS: 0)
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Target Address (128 bits)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Options ...
//!
//! Source/Target Link-layer Address option (Ethernet):
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |    Length     |    Link-Layer Address ...     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv6Addr;

use super::MacAddr;
use super::icmpv6;

/// Length of an NS or NA message without options, ICMPv6 header included.
pub const MESSAGE_LEN: usize = 24;
/// Option type: Source Link-layer Address.
pub const OPT_SOURCE_LLADDR: u8 = 1;
/// Option type: Target Link-layer Address.
pub const OPT_TARGET_LLADDR: u8 = 2;
/// Length of a link-layer address option for Ethernet: one unit of 8 bytes.
pub const LLADDR_OPT_LEN: usize = 8;
/// Hop limit that ND messages carry and receivers require (RFC 4861 sections 7.1.1, 7.1.2).
pub const ND_HOP_LIMIT: u8 = 255;

/// NA flag: the sender is a router.
pub const FLAG_ROUTER: u8 = 0x80;
/// NA flag: sent in response to a solicitation.
pub const FLAG_SOLICITED: u8 = 0x40;
/// NA flag: the advertisement should override a cached link-layer address.
pub const FLAG_OVERRIDE: u8 = 0x20;

/// Why a Neighbor Solicitation fails the validity checks of RFC 4861 section 7.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NsError {
    #[error("hop limit is not 255")]
    HopLimit,
    #[error("ICMP code is not 0")]
    Code,
    #[error("message shorter than 24 bytes")]
    Short,
    #[error("target is a multicast address")]
    MulticastTarget,
    #[error("an option has length zero or runs past the message")]
    BadOption,
    #[error("unspecified source to a non-solicited-node destination")]
    UnspecifiedSourceDestination,
    #[error("unspecified source with a source link-layer address option")]
    UnspecifiedSourceWithLladdr,
}

/// A Neighbor Solicitation that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solicitation {
    pub target: Ipv6Addr,
    pub source_lladdr: Option<MacAddr>,
}

/// Validates a Neighbor Solicitation as RFC 4861 section 7.1.1 requires, except for the
/// checksum, which the caller has verified. `msg` is the ICMPv6 message, header included,
/// cut to the IPv6 payload length.
pub fn parse_solicitation(
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
    hop_limit: u8,
    msg: &[u8],
) -> Result<Solicitation, NsError> {
    // RFC 4861 7.1.1: the IP Hop Limit field has a value of 255.
    if hop_limit != ND_HOP_LIMIT {
        return Err(NsError::HopLimit);
    }
    // RFC 4861 7.1.1: ICMP Code is 0; ICMP length is 24 or more octets.
    if msg.len() < MESSAGE_LEN {
        return Err(NsError::Short);
    }
    if msg[1] != 0 {
        return Err(NsError::Code);
    }
    let mut t = [0u8; 16];
    t.copy_from_slice(&msg[8..24]);
    let target = Ipv6Addr::from(t);
    // RFC 4861 7.1.1: Target Address is not a multicast address.
    if target.is_multicast() {
        return Err(NsError::MulticastTarget);
    }

    let mut source_lladdr = None;
    let mut has_source_lladdr = false;
    let mut opts = &msg[MESSAGE_LEN..];
    while !opts.is_empty() {
        // RFC 4861 7.1.1: all included options have a length that is greater than zero.
        if opts.len() < 2 || opts[1] == 0 {
            return Err(NsError::BadOption);
        }
        let len = usize::from(opts[1]) * 8;
        if len > opts.len() {
            return Err(NsError::BadOption);
        }
        // RFC 4861 4.6.1: the Ethernet address fills the 6 bytes after type and length.
        if opts[0] == OPT_SOURCE_LLADDR {
            has_source_lladdr = true;
            if len == LLADDR_OPT_LEN {
                source_lladdr = Some(MacAddr([
                    opts[2], opts[3], opts[4], opts[5], opts[6], opts[7],
                ]));
            }
        }
        opts = &opts[len..];
    }

    if src.is_unspecified() {
        // RFC 4861 7.1.1: if the IP source address is the unspecified address, the IP
        // destination address is a solicited-node multicast address, and there is no
        // source link-layer address option in the message.
        if !super::ipv6::is_solicited_node(dst) {
            return Err(NsError::UnspecifiedSourceDestination);
        }
        if has_source_lladdr {
            return Err(NsError::UnspecifiedSourceWithLladdr);
        }
    }
    Ok(Solicitation {
        target,
        source_lladdr,
    })
}

/// Why a Neighbor Advertisement fails the validity checks of RFC 4861 section 7.1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NaError {
    #[error("hop limit is not 255")]
    HopLimit,
    #[error("ICMP code is not 0")]
    Code,
    #[error("message shorter than 24 bytes")]
    Short,
    #[error("target is a multicast address")]
    MulticastTarget,
    #[error("solicited flag set on an advertisement to a multicast address")]
    SolicitedToMulticast,
    #[error("an option has length zero or runs past the message")]
    BadOption,
}

/// A Neighbor Advertisement that passed validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertisement {
    pub target: Ipv6Addr,
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
    pub target_lladdr: Option<MacAddr>,
}

/// Validates a Neighbor Advertisement as RFC 4861 section 7.1.2 requires, except for the
/// checksum, which the caller has verified. `msg` is the ICMPv6 message, header included,
/// cut to the IPv6 payload length.
pub fn parse_advertisement(
    dst: &Ipv6Addr,
    hop_limit: u8,
    msg: &[u8],
) -> Result<Advertisement, NaError> {
    if hop_limit != ND_HOP_LIMIT {
        return Err(NaError::HopLimit);
    }
    if msg.len() < MESSAGE_LEN {
        return Err(NaError::Short);
    }
    if msg[1] != 0 {
        return Err(NaError::Code);
    }
    let mut t = [0u8; 16];
    t.copy_from_slice(&msg[8..24]);
    let target = Ipv6Addr::from(t);
    if target.is_multicast() {
        return Err(NaError::MulticastTarget);
    }
    let flags = msg[4];
    let solicited = flags & FLAG_SOLICITED != 0;
    // RFC 4861 7.1.2: if the IP destination is a multicast address, the Solicited flag is
    // zero.
    if dst.is_multicast() && solicited {
        return Err(NaError::SolicitedToMulticast);
    }
    let mut target_lladdr = None;
    let mut opts = &msg[MESSAGE_LEN..];
    while !opts.is_empty() {
        if opts.len() < 2 || opts[1] == 0 {
            return Err(NaError::BadOption);
        }
        let len = usize::from(opts[1]) * 8;
        if len > opts.len() {
            return Err(NaError::BadOption);
        }
        if opts[0] == OPT_TARGET_LLADDR && len == LLADDR_OPT_LEN {
            target_lladdr = Some(MacAddr([
                opts[2], opts[3], opts[4], opts[5], opts[6], opts[7],
            ]));
        }
        opts = &opts[len..];
    }
    Ok(Advertisement {
        target,
        router: flags & FLAG_ROUTER != 0,
        solicited,
        override_: flags & FLAG_OVERRIDE != 0,
        target_lladdr,
    })
}

/// Writes a Neighbor Solicitation for `target` with a Source Link-layer Address option
/// carrying `lladdr` into `buf`, checksum field zero. Returns its length, or `None` if
/// `buf` is too small.
pub fn write_solicitation(buf: &mut [u8], target: &Ipv6Addr, lladdr: MacAddr) -> Option<usize> {
    let len = MESSAGE_LEN + LLADDR_OPT_LEN;
    let out = buf.get_mut(..len)?;
    out[0] = icmpv6::NEIGHBOR_SOLICIT;
    out[1] = 0;
    out[2..8].copy_from_slice(&[0; 6]);
    out[8..24].copy_from_slice(&target.octets());
    out[24] = OPT_SOURCE_LLADDR;
    out[25] = 1;
    out[26..32].copy_from_slice(&lladdr.0);
    Some(len)
}

/// Option type: Prefix Information.
pub const OPT_PREFIX_INFO: u8 = 3;
/// Option type: MTU.
pub const OPT_MTU: u8 = 5;
/// Length of a Router Advertisement before its options.
pub const RA_LEN: usize = 16;
/// Length of a Router Solicitation before its options.
pub const RS_LEN: usize = 8;
/// Prefix Information flags: on-link, and autonomous address configuration.
pub const PREFIX_ON_LINK: u8 = 0x80;
pub const PREFIX_AUTONOMOUS: u8 = 0x40;
/// Router Advertisement flags: managed, and other configuration.
pub const RA_MANAGED: u8 = 0x80;
pub const RA_OTHER: u8 = 0x40;

/// Why a Router Solicitation fails the validity checks of RFC 4861 section 6.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RsError {
    #[error("hop limit is not 255")]
    HopLimit,
    #[error("ICMP code is not 0")]
    Code,
    #[error("message shorter than 8 bytes")]
    Short,
    #[error("an option has length zero or runs past the message")]
    BadOption,
    #[error("unspecified source with a source link-layer address option")]
    UnspecifiedSourceWithLladdr,
}

/// Validates a Router Solicitation as RFC 4861 section 6.1.1 requires, except for the
/// checksum, which the caller has verified; returns its Source Link-layer Address option,
/// if any.
pub fn parse_router_solicitation(
    src: &Ipv6Addr,
    hop_limit: u8,
    msg: &[u8],
) -> Result<Option<MacAddr>, RsError> {
    if hop_limit != ND_HOP_LIMIT {
        return Err(RsError::HopLimit);
    }
    if msg.len() < RS_LEN {
        return Err(RsError::Short);
    }
    if msg[1] != 0 {
        return Err(RsError::Code);
    }
    let mut lladdr = None;
    let mut has_lladdr = false;
    let mut opts = &msg[RS_LEN..];
    while !opts.is_empty() {
        if opts.len() < 2 || opts[1] == 0 {
            return Err(RsError::BadOption);
        }
        let len = usize::from(opts[1]) * 8;
        if len > opts.len() {
            return Err(RsError::BadOption);
        }
        if opts[0] == OPT_SOURCE_LLADDR {
            has_lladdr = true;
            if len == LLADDR_OPT_LEN {
                lladdr = Some(MacAddr([
                    opts[2], opts[3], opts[4], opts[5], opts[6], opts[7],
                ]));
            }
        }
        opts = &opts[len..];
    }
    if src.is_unspecified() && has_lladdr {
        return Err(RsError::UnspecifiedSourceWithLladdr);
    }
    Ok(lladdr)
}

/// Option type: Redirected Header.
pub const OPT_REDIRECTED_HEADER: u8 = 4;
/// Length of a Redirect before its options.
pub const REDIRECT_LEN: usize = 40;

/// Writes a Redirect (RFC 4861 4.5) into `buf`, checksum field zero: `target` is the
/// better first hop for `destination` (the destination itself when it is on-link), with
/// its link-layer address if known, and as much of the redirected `packet` as keeps the
/// whole IPv6 packet within 1280 bytes. Returns its length, or `None` if `buf` is too
/// small.
pub fn write_redirect(
    buf: &mut [u8],
    target: &Ipv6Addr,
    destination: &Ipv6Addr,
    target_lladdr: Option<MacAddr>,
    packet: &[u8],
) -> Option<usize> {
    let fixed = REDIRECT_LEN
        + if target_lladdr.is_some() {
            LLADDR_OPT_LEN
        } else {
            0
        };
    // RFC 4861 8.2: the Redirect, IPv6 header included, fits the minimum MTU; the
    // redirected packet is cut to whole 8-byte units.
    let room = (icmpv6::ERROR_MAX_PACKET - super::ipv6::HEADER_LEN - fixed - 8) / 8 * 8;
    let carried = packet.len().min(room);
    let padded = carried.div_ceil(8) * 8;
    let len = fixed + 8 + padded;
    let out = buf.get_mut(..len)?;
    out.fill(0);
    out[0] = icmpv6::REDIRECT;
    out[8..24].copy_from_slice(&target.octets());
    out[24..40].copy_from_slice(&destination.octets());
    let mut at = REDIRECT_LEN;
    if let Some(mac) = target_lladdr {
        out[at] = OPT_TARGET_LLADDR;
        out[at + 1] = 1;
        out[at + 2..at + 8].copy_from_slice(&mac.0);
        at += LLADDR_OPT_LEN;
    }
    out[at] = OPT_REDIRECTED_HEADER;
    out[at + 1] = (1 + padded / 8) as u8;
    out[at + 8..at + 8 + carried].copy_from_slice(&packet[..carried]);
    Some(len)
}

/// Option type: Route Information (RFC 4191).
pub const OPT_ROUTE_INFO: u8 = 24;
/// The most Route Information options of one advertisement that are taken.
pub const MAX_ROUTES: usize = 8;

/// Why a Router Advertisement fails the validity checks of RFC 4861 section 6.1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RaError {
    #[error("source is not a link-local address")]
    Source,
    #[error("hop limit is not 255")]
    HopLimit,
    #[error("ICMP code is not 0")]
    Code,
    #[error("message shorter than 16 bytes")]
    Short,
    #[error("an option has length zero or runs past the message")]
    BadOption,
}

/// A route a Router Advertisement offers: a Route Information option (RFC 4191 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RouteInfo {
    pub prefix: u128,
    pub len: u8,
    /// The 2-bit Prf field.
    pub prf: u8,
    pub lifetime_s: u32,
}

/// What the router takes from a valid Router Advertisement of an upstream router.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedAdvert {
    /// Router Lifetime: 0 says the sender is no default router.
    pub lifetime_s: u16,
    /// The default router preference's 2-bit Prf field.
    pub prf: u8,
    pub lladdr: Option<MacAddr>,
    /// The first [`MAX_ROUTES`] valid Route Information options.
    pub routes: [RouteInfo; MAX_ROUTES],
    pub route_count: usize,
}

/// Validates a Router Advertisement as RFC 4861 section 6.1.2 requires, except for the
/// checksum, which the caller has verified, and reads what a router needs of it.
pub fn parse_router_advert(
    src: &Ipv6Addr,
    hop_limit: u8,
    msg: &[u8],
) -> Result<ReceivedAdvert, RaError> {
    if !src.is_unicast_link_local() {
        return Err(RaError::Source);
    }
    if hop_limit != ND_HOP_LIMIT {
        return Err(RaError::HopLimit);
    }
    if msg.len() < RA_LEN {
        return Err(RaError::Short);
    }
    if msg[1] != 0 {
        return Err(RaError::Code);
    }
    let mut ra = ReceivedAdvert {
        lifetime_s: u16::from_be_bytes([msg[6], msg[7]]),
        prf: (msg[5] >> 3) & 0b11,
        lladdr: None,
        routes: [RouteInfo::default(); MAX_ROUTES],
        route_count: 0,
    };
    let mut opts = &msg[RA_LEN..];
    while !opts.is_empty() {
        if opts.len() < 2 || opts[1] == 0 {
            return Err(RaError::BadOption);
        }
        let len = usize::from(opts[1]) * 8;
        if len > opts.len() {
            return Err(RaError::BadOption);
        }
        let o = &opts[..len];
        match o[0] {
            OPT_SOURCE_LLADDR if len == LLADDR_OPT_LEN => {
                ra.lladdr = Some(MacAddr([o[2], o[3], o[4], o[5], o[6], o[7]]));
            }
            // RFC 4191 2.3: the option is 8, 16 or 24 bytes as the prefix needs; one too
            // short for its prefix length is ignored, as is the reserved preference.
            OPT_ROUTE_INFO if len <= 24 && ra.route_count < MAX_ROUTES => {
                let plen = o[2];
                let prf = (o[3] >> 3) & 0b11;
                let fits = match len {
                    8 => plen == 0,
                    16 => plen <= 64,
                    _ => plen <= 128,
                };
                if fits && prf != 0b10 {
                    let mut p = [0u8; 16];
                    p[..len - 8].copy_from_slice(&o[8..len]);
                    let mask = if plen == 0 {
                        0
                    } else {
                        u128::MAX << (128 - u32::from(plen))
                    };
                    ra.routes[ra.route_count] = RouteInfo {
                        prefix: u128::from_be_bytes(p) & mask,
                        len: plen,
                        prf,
                        lifetime_s: u32::from_be_bytes([o[4], o[5], o[6], o[7]]),
                    };
                    ra.route_count += 1;
                }
            }
            _ => {}
        }
        opts = &opts[len..];
    }
    Ok(ra)
}

/// The fixed fields of a Router Advertisement the router sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouterAdvert {
    pub cur_hop_limit: u8,
    /// The flags byte: M, O and RFC 4191's Prf in bits 4 and 3.
    pub flags: u8,
    pub lifetime_s: u16,
    pub lladdr: MacAddr,
    /// The MTU option's value, if one is to be sent.
    pub mtu: Option<u32>,
}

/// A Prefix Information option: prefix, length, flags, valid and preferred lifetimes.
pub type PrefixInfo = (Ipv6Addr, u8, u8, u32, u32);

/// Writes a Router Advertisement with a Source Link-layer Address option, an MTU option if
/// asked, and a Prefix Information option per prefix into `buf`, checksum field zero
/// (RFC 4861 4.2, 4.6). Returns its length, or `None` if `buf` is too small.
pub fn write_router_advert(
    buf: &mut [u8],
    ra: &RouterAdvert,
    prefixes: &[PrefixInfo],
) -> Option<usize> {
    let len = RA_LEN + LLADDR_OPT_LEN + if ra.mtu.is_some() { 8 } else { 0 } + 32 * prefixes.len();
    let out = buf.get_mut(..len)?;
    out.fill(0);
    out[0] = icmpv6::ROUTER_ADVERT;
    out[4] = ra.cur_hop_limit;
    out[5] = ra.flags;
    out[6..8].copy_from_slice(&ra.lifetime_s.to_be_bytes());
    // Reachable Time and Retrans Timer stay 0: unspecified, the hosts keep their own.
    let mut at = RA_LEN;
    out[at] = OPT_SOURCE_LLADDR;
    out[at + 1] = 1;
    out[at + 2..at + 8].copy_from_slice(&ra.lladdr.0);
    at += LLADDR_OPT_LEN;
    if let Some(mtu) = ra.mtu {
        out[at] = OPT_MTU;
        out[at + 1] = 1;
        out[at + 4..at + 8].copy_from_slice(&mtu.to_be_bytes());
        at += 8;
    }
    for &(prefix, plen, flags, valid, preferred) in prefixes {
        out[at] = OPT_PREFIX_INFO;
        out[at + 1] = 4;
        out[at + 2] = plen;
        out[at + 3] = flags;
        out[at + 4..at + 8].copy_from_slice(&valid.to_be_bytes());
        out[at + 8..at + 12].copy_from_slice(&preferred.to_be_bytes());
        out[at + 16..at + 32].copy_from_slice(&prefix.octets());
        at += 32;
    }
    Some(len)
}

/// Writes a Neighbor Advertisement for `target` with `flags` and a Target Link-layer
/// Address option carrying `lladdr` into `buf`, checksum field zero. Returns its length,
/// or `None` if `buf` is too small.
pub fn write_advertisement(
    buf: &mut [u8],
    target: &Ipv6Addr,
    flags: u8,
    lladdr: MacAddr,
) -> Option<usize> {
    let len = MESSAGE_LEN + LLADDR_OPT_LEN;
    let out = buf.get_mut(..len)?;
    out[0] = icmpv6::NEIGHBOR_ADVERT;
    out[1] = 0;
    out[2..4].copy_from_slice(&[0, 0]);
    out[4..8].copy_from_slice(&[flags, 0, 0, 0]);
    out[8..24].copy_from_slice(&target.octets());
    out[24] = OPT_TARGET_LLADDR;
    out[25] = 1;
    out[26..32].copy_from_slice(&lladdr.0);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testvec;
    use crate::wire::ipv6;

    fn ns_parts(frame: &[u8]) -> (Ipv6Addr, Ipv6Addr, u8, &[u8]) {
        let ip = super::super::Ipv6Packet::new(&frame[14..]).unwrap();
        let plen = usize::from(ip.payload_len());
        (ip.src(), ip.dst(), ip.hop_limit(), &frame[54..54 + plen])
    }

    #[test]
    fn multicast_solicitation_with_lladdr() {
        let (s, d, hl, msg) = ns_parts(&testvec::NS_MULTICAST_FRAME);
        let ns = parse_solicitation(&s, &d, hl, msg).unwrap();
        assert_eq!(ns.target, "2001:db8:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ns.source_lladdr, Some("02:00:00:00:01:02".parse().unwrap()));
    }

    #[test]
    fn advertisements_checked_as_7_1_2_says() {
        let target: Ipv6Addr = "fe80::1".parse().unwrap();
        let mac: MacAddr = "02:00:00:00:00:01".parse().unwrap();
        let mut msg = [0u8; 32];
        write_advertisement(&mut msg, &target, FLAG_SOLICITED | FLAG_OVERRIDE, mac).unwrap();
        let unicast: Ipv6Addr = "fe80::2".parse().unwrap();
        let na = parse_advertisement(&unicast, 255, &msg).unwrap();
        assert_eq!(
            na,
            Advertisement {
                target,
                router: false,
                solicited: true,
                override_: true,
                target_lladdr: Some(mac)
            }
        );
        assert_eq!(
            parse_advertisement(&unicast, 64, &msg),
            Err(NaError::HopLimit)
        );
        assert_eq!(
            parse_advertisement(&unicast, 255, &msg[..20]),
            Err(NaError::Short)
        );
        assert_eq!(
            parse_advertisement(&ipv6::ALL_NODES, 255, &msg),
            Err(NaError::SolicitedToMulticast)
        );
        let mut m = msg;
        m[1] = 3;
        assert_eq!(parse_advertisement(&unicast, 255, &m), Err(NaError::Code));
        let mut m = msg;
        m[25] = 0;
        assert_eq!(
            parse_advertisement(&unicast, 255, &m),
            Err(NaError::BadOption)
        );
        let mut m = msg;
        m[8] = 0xff;
        assert_eq!(
            parse_advertisement(&unicast, 255, &m),
            Err(NaError::MulticastTarget)
        );
        // Without the option: valid, no address.
        let na = parse_advertisement(&unicast, 255, &msg[..24]).unwrap();
        assert_eq!(na.target_lladdr, None);
    }

    #[test]
    fn router_solicitations_checked_as_6_1_1_says() {
        let src: Ipv6Addr = "fe80::2".parse().unwrap();
        let mut msg = vec![icmpv6::ROUTER_SOLICIT, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse_router_solicitation(&src, 255, &msg), Ok(None));
        msg.extend_from_slice(&[OPT_SOURCE_LLADDR, 1, 2, 0, 0, 0, 0, 7]);
        assert_eq!(
            parse_router_solicitation(&src, 255, &msg),
            Ok(Some(MacAddr([2, 0, 0, 0, 0, 7])))
        );
        assert_eq!(
            parse_router_solicitation(&src, 1, &msg),
            Err(RsError::HopLimit)
        );
        assert_eq!(
            parse_router_solicitation(&Ipv6Addr::UNSPECIFIED, 255, &msg),
            Err(RsError::UnspecifiedSourceWithLladdr)
        );
        assert_eq!(
            parse_router_solicitation(&src, 255, &msg[..7]),
            Err(RsError::Short)
        );
        let mut m = msg.clone();
        m[9] = 0;
        assert_eq!(
            parse_router_solicitation(&src, 255, &m),
            Err(RsError::BadOption)
        );
        let mut m = msg.clone();
        m[1] = 1;
        assert_eq!(parse_router_solicitation(&src, 255, &m), Err(RsError::Code));
    }

    #[test]
    fn advertisements_of_upstream_routers_are_read() {
        let ra = RouterAdvert {
            cur_hop_limit: 64,
            flags: 0b0000_1000,
            lifetime_s: 900,
            lladdr: MacAddr([2, 0, 0, 0, 0, 9]),
            mtu: None,
        };
        let mut buf = [0u8; 128];
        let mut len = write_router_advert(&mut buf, &ra, &[]).unwrap();
        // Route Information: 2001:db8:abc::/48, low preference, 600 s; then /0 in 8 bytes;
        // then one with the reserved preference, ignored.
        let rio = [
            24, 2, 48, 0x18, 0, 0, 2, 0x58, 0x20, 0x01, 0x0d, 0xb8, 0x0a, 0xbc, 0, 0,
        ];
        buf[len..len + 16].copy_from_slice(&rio);
        len += 16;
        buf[len..len + 8].copy_from_slice(&[24, 1, 0, 0x08, 0, 0, 0, 30]);
        len += 8;
        buf[len..len + 8].copy_from_slice(&[24, 1, 0, 0x10, 0, 0, 0, 30]);
        len += 8;
        let src: Ipv6Addr = "fe80::9".parse().unwrap();
        let got = parse_router_advert(&src, 255, &buf[..len]).unwrap();
        assert_eq!(
            (got.lifetime_s, got.prf, got.lladdr),
            (900, 0b01, Some(ra.lladdr))
        );
        assert_eq!(got.route_count, 2);
        let p: Ipv6Addr = "2001:db8:abc::".parse().unwrap();
        assert_eq!(
            got.routes[0],
            RouteInfo {
                prefix: u128::from(p),
                len: 48,
                prf: 0b11,
                lifetime_s: 600
            }
        );
        assert_eq!(
            (
                got.routes[1].len,
                got.routes[1].prf,
                got.routes[1].lifetime_s
            ),
            (0, 0b01, 30)
        );
        let global: Ipv6Addr = "2001:db8::9".parse().unwrap();
        assert_eq!(
            parse_router_advert(&global, 255, &buf[..len]),
            Err(RaError::Source)
        );
        assert_eq!(
            parse_router_advert(&src, 64, &buf[..len]),
            Err(RaError::HopLimit)
        );
        assert_eq!(
            parse_router_advert(&src, 255, &buf[..15]),
            Err(RaError::Short)
        );
        let mut bad = buf;
        bad[17] = 0;
        assert_eq!(
            parse_router_advert(&src, 255, &bad[..len]),
            Err(RaError::BadOption)
        );
    }

    #[test]
    fn redirect_layout_and_its_size_bound() {
        let t: Ipv6Addr = "fe80::7".parse().unwrap();
        let d: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let mac = MacAddr([2, 0, 0, 0, 0, 7]);
        let mut buf = [0u8; 1500];
        let len = write_redirect(&mut buf, &t, &d, Some(mac), &[0xab; 61]).unwrap();
        assert_eq!(len, 40 + 8 + 8 + 64);
        assert_eq!((buf[0], buf[1]), (icmpv6::REDIRECT, 0));
        assert_eq!(&buf[8..24], &t.octets());
        assert_eq!(&buf[24..40], &d.octets());
        assert_eq!(&buf[40..48], &[2, 1, 2, 0, 0, 0, 0, 7]);
        assert_eq!(&buf[48..50], &[4, 9]);
        assert_eq!(&buf[56..117], &[0xab; 61][..]);
        assert_eq!(&buf[117..120], &[0, 0, 0]);
        // A large packet is cut so that the Redirect and its IPv6 header fit 1280 bytes.
        let len = write_redirect(&mut buf, &t, &d, None, &[1; 1400]).unwrap();
        assert!(len + 40 <= 1280 && len + 40 > 1270, "{len}");
        assert_eq!(len % 8, 0);
        assert!(write_redirect(&mut buf[..100], &t, &d, None, &[1; 200]).is_none());
    }

    #[test]
    fn router_advertisement_layout() {
        let ra = RouterAdvert {
            cur_hop_limit: 64,
            flags: RA_MANAGED | 0b0000_1000,
            lifetime_s: 1800,
            lladdr: MacAddr([2, 0, 0, 0, 0, 1]),
            mtu: Some(1500),
        };
        let prefix: Ipv6Addr = "2001:db8:1::".parse().unwrap();
        let mut buf = [0xaau8; 128];
        let len = write_router_advert(
            &mut buf,
            &ra,
            &[(
                prefix,
                64,
                PREFIX_ON_LINK | PREFIX_AUTONOMOUS,
                2_592_000,
                604_800,
            )],
        )
        .unwrap();
        assert_eq!(len, 16 + 8 + 8 + 32);
        let m = &buf[..len];
        assert_eq!(&m[..8], &[134, 0, 0, 0, 64, 0x88, 0x07, 0x08]);
        assert_eq!(&m[8..16], &[0; 8]);
        assert_eq!(&m[16..24], &[1, 1, 2, 0, 0, 0, 0, 1]);
        assert_eq!(&m[24..32], &[5, 1, 0, 0, 0, 0, 0x05, 0xdc]);
        assert_eq!(&m[32..36], &[3, 4, 64, 0xc0]);
        assert_eq!(&m[36..40], &2_592_000u32.to_be_bytes());
        assert_eq!(&m[40..44], &604_800u32.to_be_bytes());
        assert_eq!(&m[44..48], &[0; 4]);
        assert_eq!(&m[48..64], &prefix.octets());
        assert!(write_router_advert(&mut buf[..63], &ra, &[(prefix, 64, 0, 0, 0)]).is_none());
    }

    #[test]
    fn solicitation_written_parses_back() {
        let target: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let mac: MacAddr = "02:00:00:00:00:09".parse().unwrap();
        let mut msg = [0u8; 32];
        let len = write_solicitation(&mut msg, &target, mac).unwrap();
        let src: Ipv6Addr = "fe80::1".parse().unwrap();
        let ns =
            parse_solicitation(&src, &ipv6::solicited_node(&target), 255, &msg[..len]).unwrap();
        assert_eq!(ns.target, target);
        assert_eq!(ns.source_lladdr, Some(mac));
        assert!(write_solicitation(&mut msg[..31], &target, mac).is_none());
    }

    #[test]
    fn validity_checks_of_7_1_1() {
        let (s, d, _, msg) = ns_parts(&testvec::NS_MULTICAST_FRAME);
        assert_eq!(parse_solicitation(&s, &d, 254, msg), Err(NsError::HopLimit));
        assert_eq!(
            parse_solicitation(&s, &d, 255, &msg[..23]),
            Err(NsError::Short)
        );

        let mut m = msg.to_vec();
        m[1] = 1;
        assert_eq!(parse_solicitation(&s, &d, 255, &m), Err(NsError::Code));

        let mut m = msg.to_vec();
        m[8] = 0xff;
        assert_eq!(
            parse_solicitation(&s, &d, 255, &m),
            Err(NsError::MulticastTarget)
        );

        let mut m = msg.to_vec();
        m[25] = 0;
        assert_eq!(parse_solicitation(&s, &d, 255, &m), Err(NsError::BadOption));

        let mut m = msg.to_vec();
        m[25] = 2;
        assert_eq!(parse_solicitation(&s, &d, 255, &m), Err(NsError::BadOption));

        let u = Ipv6Addr::UNSPECIFIED;
        assert_eq!(
            parse_solicitation(&u, &d, 255, msg),
            Err(NsError::UnspecifiedSourceWithLladdr)
        );
        assert_eq!(
            parse_solicitation(&u, &"2001:db8:1::1".parse().unwrap(), 255, &msg[..24]),
            Err(NsError::UnspecifiedSourceDestination)
        );
        assert!(parse_solicitation(&u, &d, 255, &msg[..24]).is_ok());
        // Any Source Link-layer Address option counts, whatever its length.
        let mut long = msg[..24].to_vec();
        long.extend_from_slice(&[
            OPT_SOURCE_LLADDR,
            2,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
        ]);
        assert_eq!(
            parse_solicitation(&u, &d, 255, &long),
            Err(NsError::UnspecifiedSourceWithLladdr)
        );
    }

    #[test]
    fn advertisement_layout() {
        let mut buf = [0xaau8; 40];
        let t: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let mac: MacAddr = "02:00:00:00:01:01".parse().unwrap();
        let len = write_advertisement(&mut buf, &t, FLAG_ROUTER | FLAG_SOLICITED, mac).unwrap();
        assert_eq!(len, 32);
        assert_eq!(&buf[..8], &[136, 0, 0, 0, 0xc0, 0, 0, 0]);
        assert_eq!(&buf[8..24], &t.octets());
        assert_eq!(&buf[24..32], &[2, 1, 2, 0, 0, 0, 1, 1]);
        assert!(write_advertisement(&mut buf[..31], &t, 0, mac).is_none());
    }
}
