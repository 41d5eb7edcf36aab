//! The Fragment header, [RFC 8200 section 4.5](https://www.rfc-editor.org/rfc/rfc8200#section-4.5),
//! and the splitting of a packet the router sends itself into fragments.
//!
//! ```text
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Identification                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::exthdr::FRAGMENT;
use super::ipv6::HEADER_LEN as IPV6_HEADER_LEN;

/// Length of the Fragment header.
pub const HEADER_LEN: usize = 8;

/// The fields of a Fragment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentHeader {
    pub next_header: u8,
    /// Offset of the fragment's data in the fragmentable part, in bytes.
    pub offset: usize,
    pub more: bool,
    pub id: u32,
}

impl FragmentHeader {
    /// Reads a Fragment header from the first 8 bytes of `b`, or `None` if `b` is shorter.
    pub fn parse(b: &[u8]) -> Option<FragmentHeader> {
        let b = b.get(..HEADER_LEN)?;
        let field = u16::from_be_bytes([b[2], b[3]]);
        Some(FragmentHeader {
            next_header: b[0],
            offset: usize::from(field & 0xfff8),
            more: field & 1 != 0,
            id: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }

    /// Writes the header into the first 8 bytes of `b`.
    pub fn write(&self, b: &mut [u8]) {
        b[0] = self.next_header;
        b[1] = 0;
        let field = (self.offset as u16 & 0xfff8) | u16::from(self.more);
        b[2..4].copy_from_slice(&field.to_be_bytes());
        b[4..8].copy_from_slice(&self.id.to_be_bytes());
    }
}

/// How a packet without extension headers is cut to fit `mtu`: each fragment carries the
/// IPv6 header, a Fragment header and a run of the payload whose length is a multiple of 8
/// but for the last (RFC 8200 section 4.5). Yields (header for the fragment, payload
/// range); the fragment's IPv6 header is the packet's with its payload length and next
/// header changed.
pub fn split(
    packet: &[u8],
    mtu: usize,
    id: u32,
) -> impl Iterator<Item = ([u8; IPV6_HEADER_LEN + HEADER_LEN], std::ops::Range<usize>)> + '_ {
    let payload = packet.len().saturating_sub(IPV6_HEADER_LEN);
    let chunk = (mtu.saturating_sub(IPV6_HEADER_LEN + HEADER_LEN) / 8 * 8).max(8);
    let next_header = packet.get(6).copied().unwrap_or(0);
    (0..payload).step_by(chunk).map(move |offset| {
        let end = (offset + chunk).min(payload);
        let mut h = [0u8; IPV6_HEADER_LEN + HEADER_LEN];
        h[..IPV6_HEADER_LEN].copy_from_slice(&packet[..IPV6_HEADER_LEN]);
        h[4..6].copy_from_slice(&((HEADER_LEN + end - offset) as u16).to_be_bytes());
        h[6] = FRAGMENT;
        FragmentHeader {
            next_header,
            offset,
            more: end < payload,
            id,
        }
        .write(&mut h[IPV6_HEADER_LEN..]);
        (h, IPV6_HEADER_LEN + offset..IPV6_HEADER_LEN + end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let b = [58, 0, 0x05, 0x39, 0xde, 0xad, 0xbe, 0xef];
        let h = FragmentHeader::parse(&b).unwrap();
        assert_eq!(
            h,
            FragmentHeader {
                next_header: 58,
                offset: 0x538,
                more: true,
                id: 0xdead_beef
            }
        );
        let mut out = [0u8; 8];
        h.write(&mut out);
        assert_eq!(out, [58, 0, 0x05, 0x39, 0xde, 0xad, 0xbe, 0xef]);
        assert!(FragmentHeader::parse(&b[..7]).is_none());
    }

    #[test]
    fn split_to_the_mtu() {
        // An IPv6 packet with 3000 bytes of ICMPv6 payload, cut for a 1280-byte MTU.
        let mut packet = vec![0x60, 0, 0, 0, 0x0b, 0xb8, 58, 64];
        packet.extend_from_slice(&[0; 32]);
        packet.extend((0..3000).map(|i| i as u8));
        let frags: Vec<_> = split(&packet, 1280, 7).collect();
        assert_eq!(frags.len(), 3);
        let mut rebuilt = Vec::new();
        for (i, (h, range)) in frags.iter().enumerate() {
            assert!(40 + 8 + range.len() <= 1280);
            let f = FragmentHeader::parse(&h[40..]).unwrap();
            assert_eq!(
                (f.next_header, f.id, f.more, f.offset),
                (58, 7, i < 2, rebuilt.len())
            );
            assert_eq!(h[6], FRAGMENT);
            assert_eq!(
                usize::from(u16::from_be_bytes([h[4], h[5]])),
                8 + range.len()
            );
            if f.more {
                assert_eq!(range.len() % 8, 0);
            }
            rebuilt.extend_from_slice(&packet[range.clone()]);
        }
        assert_eq!(rebuilt, &packet[40..]);
    }
}
