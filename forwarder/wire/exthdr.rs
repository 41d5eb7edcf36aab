//! IPv6 extension headers, [RFC 8200 section 4](https://www.rfc-editor.org/rfc/rfc8200#section-4):
//! the walk along the header chain to the upper layer, and the options of the Hop-by-Hop
//! and Destination Options headers (section 4.2).
//!
//! ```text
//! Generic extension header (Hop-by-Hop, Routing, Destination Options, ...):
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Header  |  Hdr Ext Len  |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//! |         (Hdr Ext Len + 1) x 8 octets in all                   |
//!
//! Fragment header (8 octets):
//! |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//! |                         Identification                        |
//!
//! Option (in Hop-by-Hop and Destination Options):
//! |  Option Type  |  Opt Data Len |  Option Data ...
//! ```

/// Hop-by-Hop Options (RFC 8200 section 4.3).
pub const HOP_BY_HOP: u8 = 0;
/// TCP.
pub const TCP: u8 = 6;
/// UDP.
pub const UDP: u8 = 17;
/// Routing header (RFC 8200 section 4.4).
pub const ROUTING: u8 = 43;
/// Fragment header (RFC 8200 section 4.5).
pub const FRAGMENT: u8 = 44;
/// Encapsulating Security Payload (RFC 4303).
pub const ESP: u8 = 50;
/// Authentication Header (RFC 4302).
pub const AH: u8 = 51;
/// ICMPv6.
pub const ICMPV6: u8 = 58;
/// No Next Header (RFC 8200 section 4.7).
pub const NO_NEXT_HEADER: u8 = 59;
/// Destination Options (RFC 8200 section 4.6).
pub const DESTINATION_OPTIONS: u8 = 60;
/// Mobility header (RFC 6275).
pub const MOBILITY: u8 = 135;
/// Host Identity Protocol (RFC 7401).
pub const HIP: u8 = 139;
/// Shim6 (RFC 5533).
pub const SHIM6: u8 = 140;

/// Option type Pad1: a single byte of padding, no length field.
pub const OPT_PAD1: u8 = 0;
/// Option type PadN.
pub const OPT_PADN: u8 = 1;
/// Option type Router Alert (RFC 2711).
pub const OPT_ROUTER_ALERT: u8 = 5;
/// Option type Jumbo Payload (RFC 2675).
pub const OPT_JUMBO: u8 = 0xc2;

/// Whether `nh` is an extension header that the chain walk steps over with the generic
/// length format (RFC 8200 section 4.8; the Fragment header has a fixed length).
pub fn is_extension(nh: u8) -> bool {
    matches!(
        nh,
        HOP_BY_HOP | ROUTING | FRAGMENT | DESTINATION_OPTIONS | AH | MOBILITY | HIP | SHIM6
    )
}

/// Where the chain walk stopped, or why it could not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainError {
    /// A header runs past the end of the packet; `pointer` is the offset, from the start
    /// of the IPv6 header, of the header's first byte.
    Truncated { pointer: usize },
    /// A Hop-by-Hop Options header somewhere but first (RFC 8200 section 4.1: it may
    /// only follow the IPv6 header); `pointer` is the Next Header field naming it.
    MisplacedHopByHop { pointer: usize },
    /// A first fragment whose header chain runs past its end (RFC 7112: the first
    /// fragment holds the whole chain).
    IncompleteFirstFragment,
}

/// The result of walking the chain: the upper-layer protocol, where it starts, and what
/// the walk saw on the way. Offsets count from the start of the IPv6 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Chain {
    /// The protocol after the last extension header, and its offset.
    pub upper: u8,
    pub upper_offset: usize,
    /// Offset of the Next Header field that names `upper` (6 when there is no extension).
    pub upper_pointer: usize,
    /// Offset of the Hop-by-Hop Options header, if present.
    pub hop_by_hop: Option<usize>,
    /// Offset of the first Routing header, if present.
    pub routing: Option<usize>,
    /// Offset of the Fragment header, if present, and of the Next Header field naming it.
    pub fragment: Option<usize>,
    pub fragment_pointer: usize,
    /// Offset of the Destination Options header seen before the upper layer (the last one).
    pub destination_options: Option<usize>,
}

/// Walks the extension header chain of the IPv6 packet `packet` (fixed header included,
/// cut to its payload length) to the upper layer. At most `limit` extension headers are
/// stepped over; a longer chain stops there and reports the header it stopped at as the
/// upper layer, so that no input makes the walk long.
pub fn walk(packet: &[u8], limit: usize) -> Result<Chain, ChainError> {
    let mut chain = Chain::default();
    if packet.len() < super::ipv6::HEADER_LEN {
        return Err(ChainError::Truncated { pointer: 0 });
    }
    let mut nh = packet[6];
    let mut pointer = 6;
    let mut at = super::ipv6::HEADER_LEN;
    for _ in 0..limit {
        if !is_extension(nh) {
            break;
        }
        match nh {
            // RFC 8200 4.1: the Hop-by-Hop Options header may only follow the IPv6 header.
            HOP_BY_HOP if at != super::ipv6::HEADER_LEN => {
                return Err(ChainError::MisplacedHopByHop { pointer });
            }
            HOP_BY_HOP => chain.hop_by_hop = Some(at),
            ROUTING => {
                chain.routing.get_or_insert(at);
            }
            FRAGMENT if chain.fragment.is_none() => {
                chain.fragment = Some(at);
                chain.fragment_pointer = pointer;
            }
            DESTINATION_OPTIONS => chain.destination_options = Some(at),
            _ => {}
        }
        // Past a first fragment's Fragment header, a chain cut short is RFC 7112's case.
        let cut_short = if chain.fragment.is_some_and(|f| f < at) {
            ChainError::IncompleteFirstFragment
        } else {
            ChainError::Truncated { pointer: at }
        };
        let header = packet.get(at..at + 2).ok_or(cut_short)?;
        let len = match nh {
            FRAGMENT => 8,
            // RFC 4302 2.2: AH's length counts 4-octet units, minus 2.
            AH => (usize::from(header[1]) + 2) * 4,
            _ => (usize::from(header[1]) + 1) * 8,
        };
        if at + len > packet.len() {
            return Err(cut_short);
        }
        // A fragment other than the first carries no upper-layer header (RFC 8200 4.5):
        // the walk ends at the Fragment header's payload.
        let later_fragment =
            nh == FRAGMENT && u16::from_be_bytes([packet[at + 2], packet[at + 3]]) & 0xfff8 != 0;
        pointer = at;
        nh = header[0];
        at += len;
        if later_fragment {
            break;
        }
    }
    chain.upper = nh;
    chain.upper_offset = at;
    chain.upper_pointer = pointer;
    Ok(chain)
}

/// What an option's type says to do when the option is not recognised (RFC 8200
/// section 4.2, the two high-order bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownOption {
    /// 00: skip over this option and go on.
    Skip,
    /// 01: discard the packet.
    Discard,
    /// 10: discard and send Parameter Problem code 2, even to a multicast destination.
    DiscardAndReport,
    /// 11: discard and send Parameter Problem code 2 unless the destination is multicast.
    DiscardAndReportUnicast,
}

impl UnknownOption {
    pub fn of(option_type: u8) -> UnknownOption {
        match option_type >> 6 {
            0 => UnknownOption::Skip,
            1 => UnknownOption::Discard,
            2 => UnknownOption::DiscardAndReport,
            _ => UnknownOption::DiscardAndReportUnicast,
        }
    }
}

/// The outcome of reading an options header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionsVerdict {
    /// Every option was understood or may be skipped.
    Accept,
    /// An unrecognised option asks for the packet to be dropped; `pointer` is the offset,
    /// from the start of the IPv6 header, of its type byte.
    Unknown {
        action: UnknownOption,
        pointer: usize,
    },
    /// An option runs past the header, or a known option is malformed; `pointer` is the
    /// offset of the offending byte.
    Malformed { pointer: usize },
}

/// Reads the options of the Hop-by-Hop or Destination Options header at `offset` in
/// `packet` (the walk has checked that the whole header lies inside it).
/// `known` says which option types the caller implements besides the padding options.
pub fn check_options(packet: &[u8], offset: usize, known: impl Fn(u8) -> bool) -> OptionsVerdict {
    let len = (usize::from(packet[offset + 1]) + 1) * 8;
    let end = offset + len;
    let mut at = offset + 2;
    while at < end {
        let t = packet[at];
        if t == OPT_PAD1 {
            at += 1;
            continue;
        }
        let Some(&data_len) = packet.get(at + 1).filter(|_| at + 1 < end) else {
            return OptionsVerdict::Malformed { pointer: at };
        };
        let next = at + 2 + usize::from(data_len);
        if next > end {
            return OptionsVerdict::Malformed { pointer: at + 1 };
        }
        if t != OPT_PADN && !known(t) {
            match UnknownOption::of(t) {
                UnknownOption::Skip => {}
                action => {
                    return OptionsVerdict::Unknown {
                        action,
                        pointer: at,
                    };
                }
            }
        }
        at = next;
    }
    OptionsVerdict::Accept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv6 header with next header `nh` followed by `rest`, payload length set.
    fn packet(nh: u8, rest: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(rest.len() as u16).to_be_bytes());
        p.extend_from_slice(&[nh, 64]);
        p.extend_from_slice(&[0; 32]);
        p.extend_from_slice(rest);
        p
    }

    #[test]
    fn no_extension_headers() {
        let p = packet(UDP, &[0; 8]);
        let c = walk(&p, 8).unwrap();
        assert_eq!((c.upper, c.upper_offset, c.upper_pointer), (UDP, 40, 6));
        assert_eq!(c.hop_by_hop, None);
    }

    #[test]
    fn walks_hop_by_hop_routing_fragment_destination() {
        let mut rest = vec![ROUTING, 0, OPT_PADN, 4, 0, 0, 0, 0];
        rest.extend_from_slice(&[FRAGMENT, 0, 0, 0, 0, 0, 0, 0]);
        rest.extend_from_slice(&[DESTINATION_OPTIONS, 0, 0, 0, 0, 0, 0, 1]);
        rest.extend_from_slice(&[ICMPV6, 0, OPT_PADN, 4, 0, 0, 0, 0]);
        rest.extend_from_slice(&[128, 0, 0, 0]);
        let p = packet(HOP_BY_HOP, &rest);
        let c = walk(&p, 8).unwrap();
        assert_eq!(c.upper, ICMPV6);
        assert_eq!(c.upper_offset, 72);
        assert_eq!(c.upper_pointer, 64);
        assert_eq!(
            (c.hop_by_hop, c.routing, c.fragment, c.destination_options),
            (Some(40), Some(48), Some(56), Some(64))
        );
    }

    #[test]
    fn later_fragment_stops_the_walk() {
        // Offset 8 (in 8-octet units: 1), so no upper-layer header follows.
        let p = packet(FRAGMENT, &[UDP, 0, 0, 8, 0, 0, 0, 1, 0xde, 0xad]);
        let c = walk(&p, 8).unwrap();
        assert_eq!((c.upper, c.upper_offset, c.fragment), (UDP, 48, Some(40)));
    }

    #[test]
    fn truncated_and_misplaced_headers() {
        let p = packet(ROUTING, &[UDP, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(walk(&p, 8), Err(ChainError::Truncated { pointer: 40 }));
        let p = packet(DESTINATION_OPTIONS, &[UDP]);
        assert_eq!(walk(&p, 8), Err(ChainError::Truncated { pointer: 40 }));
        let p = packet(
            DESTINATION_OPTIONS,
            &[HOP_BY_HOP, 0, 1, 4, 0, 0, 0, 0, UDP, 0, 1, 4, 0, 0, 0, 0],
        );
        assert_eq!(
            walk(&p, 8),
            Err(ChainError::MisplacedHopByHop { pointer: 40 })
        );
        assert_eq!(
            walk(&[0x60; 5], 8),
            Err(ChainError::Truncated { pointer: 0 })
        );
        // Shorter than the fixed header, though its Next Header byte names no extension.
        let short = [0xc1, 0x40, 0, 0, 0, 0xc1, 0x0a];
        assert_eq!(walk(&short, 8), Err(ChainError::Truncated { pointer: 0 }));
    }

    #[test]
    fn first_fragment_without_the_whole_chain() {
        // A first fragment (offset 0, more to come) whose Destination Options header runs
        // past its end.
        let p = packet(
            FRAGMENT,
            &[DESTINATION_OPTIONS, 0, 0, 1, 0, 0, 0, 1, UDP, 1, 0, 0],
        );
        assert_eq!(walk(&p, 8), Err(ChainError::IncompleteFirstFragment));
    }

    #[test]
    fn walk_is_bounded() {
        let mut rest = Vec::new();
        for _ in 0..20 {
            rest.extend_from_slice(&[DESTINATION_OPTIONS, 0, OPT_PADN, 4, 0, 0, 0, 0]);
        }
        let p = packet(DESTINATION_OPTIONS, &rest);
        let c = walk(&p, 8).unwrap();
        assert_eq!((c.upper, c.upper_offset), (DESTINATION_OPTIONS, 40 + 8 * 8));
    }

    #[test]
    fn options_and_their_action_bits() {
        let hbh = |opts: &[u8]| {
            let mut rest = vec![UDP, 0];
            rest.extend_from_slice(opts);
            packet(HOP_BY_HOP, &rest)
        };
        let none = |_| false;
        assert_eq!(
            check_options(&hbh(&[OPT_PADN, 4, 0, 0, 0, 0]), 40, none),
            OptionsVerdict::Accept
        );
        assert_eq!(
            check_options(&hbh(&[OPT_PAD1; 6]), 40, none),
            OptionsVerdict::Accept
        );
        // Router Alert, known to the caller.
        let ra = hbh(&[OPT_ROUTER_ALERT, 2, 0, 0, OPT_PAD1, OPT_PAD1]);
        assert_eq!(
            check_options(&ra, 40, |t| t == OPT_ROUTER_ALERT),
            OptionsVerdict::Accept
        );
        // Unknown options with each action.
        assert_eq!(
            check_options(&hbh(&[0x1e, 2, 0, 0, 0, 0]), 40, none),
            OptionsVerdict::Accept
        );
        for (t, action) in [
            (0x5e, UnknownOption::Discard),
            (0x9e, UnknownOption::DiscardAndReport),
            (0xde, UnknownOption::DiscardAndReportUnicast),
        ] {
            assert_eq!(
                check_options(&hbh(&[OPT_PAD1, t, 2, 0, 0, 0]), 40, none),
                OptionsVerdict::Unknown {
                    action,
                    pointer: 43
                }
            );
        }
        // An option whose length runs past the header.
        assert_eq!(
            check_options(&hbh(&[OPT_PADN, 5, 0, 0, 0, 0]), 40, none),
            OptionsVerdict::Malformed { pointer: 43 }
        );
        assert_eq!(
            check_options(
                &hbh(&[OPT_PAD1, OPT_PAD1, OPT_PAD1, OPT_PAD1, OPT_PAD1, OPT_PADN]),
                40,
                none
            ),
            OptionsVerdict::Malformed { pointer: 47 }
        );
    }

    proptest::proptest! {
        #[test]
        fn any_chain_is_walked_without_panic(nh in proptest::num::u8::ANY, rest in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let p = packet(nh, &rest);
            if let Ok(c) = walk(&p, 8) {
                proptest::prop_assert!(c.upper_offset <= p.len());
                for at in [c.hop_by_hop, c.destination_options].into_iter().flatten() {
                    let _ = check_options(&p, at, |_| false);
                }
            }
        }
    }
}
