//! The IPv6 fixed header, [RFC 8200 section 3](https://www.rfc-editor.org/rfc/rfc8200#section-3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version| Traffic Class |           Flow Label                  |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Payload Length        |  Next Header  |   Hop Limit   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Source Address (128 bits)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Destination Address (128 bits)           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::Ipv6Addr;

/// Length of the fixed header.
pub const HEADER_LEN: usize = 40;
/// Next Header value of ICMPv6 (RFC 4443).
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// The minimum link MTU IPv6 needs (RFC 8200 section 5).
pub const MIN_MTU: u16 = 1280;

mod field {
    pub const VERSION: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: usize = 8;
    pub const DST: usize = 24;
}

/// A view of an IPv6 packet; at least [`HEADER_LEN`] bytes long.
pub struct Ipv6Packet<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buf`, or `None` if it is shorter than the fixed header. Nothing else is
    /// checked: the caller validates version and length against its own rules.
    #[inline]
    pub fn new(buf: T) -> Option<Self> {
        (buf.as_ref().len() >= HEADER_LEN).then_some(Ipv6Packet { buf })
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buf.as_ref()[field::VERSION] >> 4
    }

    #[inline]
    pub fn flow_label(&self) -> u32 {
        let b = self.buf.as_ref();
        u32::from_be_bytes([0, b[1] & 0x0f, b[2], b[3]])
    }

    #[inline]
    pub fn payload_len(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[field::PAYLOAD_LEN], b[field::PAYLOAD_LEN + 1]])
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.buf.as_ref()[field::NEXT_HEADER]
    }

    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.buf.as_ref()[field::HOP_LIMIT]
    }

    #[inline]
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.addr_at(field::SRC))
    }

    #[inline]
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(self.addr_at(field::DST))
    }

    #[inline]
    fn addr_at(&self, at: usize) -> [u8; 16] {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buf.as_ref()[at..at + 16]);
        a
    }

    /// The bytes after the fixed header, as far as the buffer goes.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    #[inline]
    pub fn set_payload_len(&mut self, len: u16) {
        self.buf.as_mut()[field::PAYLOAD_LEN..field::PAYLOAD_LEN + 2]
            .copy_from_slice(&len.to_be_bytes());
    }

    #[inline]
    pub fn set_next_header(&mut self, nh: u8) {
        self.buf.as_mut()[field::NEXT_HEADER] = nh;
    }

    #[inline]
    pub fn set_hop_limit(&mut self, hl: u8) {
        self.buf.as_mut()[field::HOP_LIMIT] = hl;
    }

    #[inline]
    pub fn set_src(&mut self, a: &Ipv6Addr) {
        self.buf.as_mut()[field::SRC..field::SRC + 16].copy_from_slice(&a.octets());
    }

    #[inline]
    pub fn set_dst(&mut self, a: &Ipv6Addr) {
        self.buf.as_mut()[field::DST..field::DST + 16].copy_from_slice(&a.octets());
    }

    /// Writes version 6, traffic class 0 and flow label 0.
    #[inline]
    pub fn set_version_class_flow(&mut self) {
        self.buf.as_mut()[0..4].copy_from_slice(&[0x60, 0, 0, 0]);
    }

    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[HEADER_LEN..]
    }
}

/// The solicited-node multicast address of `addr`, ff02::1:ffXX:XXXX
/// (RFC 4291 section 2.7.1).
pub fn solicited_node(addr: &Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(o[13]),
        u16::from_be_bytes([o[14], o[15]]),
    )
}

/// Whether `addr` is a solicited-node multicast address.
pub fn is_solicited_node(addr: &Ipv6Addr) -> bool {
    let s = addr.segments();
    s[0..5] == [0xff02, 0, 0, 0, 0] && s[5] == 1 && s[6] & 0xff00 == 0xff00
}

/// The link-local address made from a MAC address by modified EUI-64
/// (RFC 4291 section 2.5.1 and appendix A; RFC 2464 section 5).
pub fn link_local_from_mac(mac: &super::MacAddr) -> Ipv6Addr {
    let m = mac.0;
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        m[0] ^ 0x02,
        m[1],
        m[2],
        0xff,
        0xfe,
        m[3],
        m[4],
        m[5],
    ])
}

/// The all-nodes link-local multicast address ff02::1 (RFC 4291 section 2.7.1).
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// The all-routers link-local multicast address ff02::2 (RFC 4291 section 2.7.1).
pub const ALL_ROUTERS: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 2);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testvec;

    #[test]
    fn reads_header_fields() {
        let frame = testvec::ECHO_REQUEST_FRAME;
        let ip = Ipv6Packet::new(&frame[14..]).unwrap();
        assert_eq!(ip.version(), 6);
        assert_eq!(ip.flow_label(), 0x5_1c7a);
        assert_eq!(ip.payload_len(), 16);
        assert_eq!(ip.next_header(), NEXT_HEADER_ICMPV6);
        assert_eq!(ip.hop_limit(), 64);
        assert_eq!(ip.src(), "2001:db8:1::2".parse::<Ipv6Addr>().unwrap());
        assert_eq!(ip.dst(), "2001:db8:1::1".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn writes_in_place() {
        let mut frame = testvec::ECHO_REQUEST_FRAME;
        let mut ip = Ipv6Packet::new(&mut frame[14..]).unwrap();
        ip.set_hop_limit(3);
        let a: Ipv6Addr = "2001:db8::99".parse().unwrap();
        ip.set_src(&a);
        assert_eq!(ip.hop_limit(), 3);
        assert_eq!(ip.src(), a);
        assert_eq!(ip.version(), 6);
    }

    #[test]
    fn short_buffer_is_refused() {
        assert!(Ipv6Packet::new(&[0x60u8; 39][..]).is_none());
    }

    #[test]
    fn solicited_node_addresses() {
        // RFC 4291 section 2.7.1: 4037::01:800:200e:8c6c -> ff02::1:ff0e:8c6c.
        let a: Ipv6Addr = "4037::01:800:200e:8c6c".parse().unwrap();
        let s = solicited_node(&a);
        assert_eq!(s, "ff02::1:ff0e:8c6c".parse::<Ipv6Addr>().unwrap());
        assert!(is_solicited_node(&s));
        assert!(!is_solicited_node(&ALL_NODES));
    }

    #[test]
    fn eui64_link_local() {
        // RFC 2464 section 4's example MAC 34-56-78-9A-BC-DE gives fe80::3656:78ff:fe9a:bcde.
        let mac: super::super::MacAddr = "34:56:78:9a:bc:de".parse().unwrap();
        assert_eq!(
            link_local_from_mac(&mac),
            "fe80::3656:78ff:fe9a:bcde".parse::<Ipv6Addr>().unwrap()
        );
    }
}
