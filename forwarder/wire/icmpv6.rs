//! ICMPv6 message header, [RFC 4443 section 2.1](https://www.rfc-editor.org/rfc/rfc4443#section-2.1),
//! and the Echo messages of section 4.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Message Body                          |
//! ```

/// Destination Unreachable (RFC 4443 section 3.1).
pub const DEST_UNREACHABLE: u8 = 1;
/// Packet Too Big (RFC 4443 section 3.2).
pub const PACKET_TOO_BIG: u8 = 2;
/// Time Exceeded (RFC 4443 section 3.3).
pub const TIME_EXCEEDED: u8 = 3;
/// Parameter Problem (RFC 4443 section 3.4).
pub const PARAMETER_PROBLEM: u8 = 4;

/// Destination Unreachable code 0: no route to destination.
pub const UNREACHABLE_NO_ROUTE: u8 = 0;
/// Destination Unreachable code 1: communication administratively prohibited.
pub const UNREACHABLE_PROHIBITED: u8 = 1;
/// Destination Unreachable code 2: beyond the scope of the source address.
pub const UNREACHABLE_BEYOND_SCOPE: u8 = 2;
/// Destination Unreachable code 3: address unreachable.
pub const UNREACHABLE_ADDRESS: u8 = 3;
/// Destination Unreachable code 4: port unreachable.
pub const UNREACHABLE_PORT: u8 = 4;
/// Time Exceeded code 0: hop limit exceeded in transit.
pub const TIME_EXCEEDED_HOP_LIMIT: u8 = 0;
/// Parameter Problem code 0: erroneous header field encountered.
pub const PARAMETER_ERRONEOUS_FIELD: u8 = 0;
/// Parameter Problem code 1: unrecognized Next Header type encountered.
pub const PARAMETER_UNRECOGNIZED_NEXT_HEADER: u8 = 1;
/// Parameter Problem code 2: unrecognized IPv6 option encountered.
pub const PARAMETER_UNRECOGNIZED_OPTION: u8 = 2;
/// Parameter Problem code 3: IPv6 first fragment has incomplete IPv6 header chain
/// (RFC 7112 section 6).
pub const PARAMETER_INCOMPLETE_CHAIN: u8 = 3;

/// Length of an error message's header: type, code, checksum and the 32-bit field
/// (unused, MTU or pointer) before the invoking packet (RFC 4443 sections 3.1 to 3.4).
pub const ERROR_HEADER_LEN: usize = 8;
/// The largest IPv6 packet an ICMPv6 error may make (RFC 4443 section 2.4 (c)): the
/// minimum MTU.
pub const ERROR_MAX_PACKET: usize = 1280;

/// Whether a message of this type is an error message (RFC 4443 section 2.1: types 0 to
/// 127).
pub fn is_error(msg_type: u8) -> bool {
    msg_type < 128
}

/// Echo Request (RFC 4443 section 4.1).
pub const ECHO_REQUEST: u8 = 128;
/// Echo Reply (RFC 4443 section 4.2).
pub const ECHO_REPLY: u8 = 129;
/// Router Solicitation (RFC 4861 section 4.1).
pub const ROUTER_SOLICIT: u8 = 133;
/// Router Advertisement (RFC 4861 section 4.2).
pub const ROUTER_ADVERT: u8 = 134;
/// Neighbor Solicitation (RFC 4861 section 4.3).
pub const NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbor Advertisement (RFC 4861 section 4.4).
pub const NEIGHBOR_ADVERT: u8 = 136;
/// Redirect (RFC 4861 section 4.5).
pub const REDIRECT: u8 = 137;

/// Length of the type, code and checksum fields.
pub const HEADER_LEN: usize = 4;

/// A view of an ICMPv6 message; at least [`HEADER_LEN`] bytes long.
pub struct Icmpv6Message<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> Icmpv6Message<T> {
    /// Wraps `buf`, or `None` if it is shorter than the header.
    #[inline]
    pub fn new(buf: T) -> Option<Self> {
        (buf.as_ref().len() >= HEADER_LEN).then_some(Icmpv6Message { buf })
    }

    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buf.as_ref()[0]
    }

    #[inline]
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[1]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[2], b[3]])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Message<T> {
    #[inline]
    pub fn set_msg_type(&mut self, t: u8) {
        self.buf.as_mut()[0] = t;
    }

    #[inline]
    pub fn set_code(&mut self, c: u8) {
        self.buf.as_mut()[1] = c;
    }

    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[2..4].copy_from_slice(&c.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testvec;

    #[test]
    fn reads_echo_request() {
        let frame = testvec::ECHO_REQUEST_FRAME;
        let m = Icmpv6Message::new(&frame[54..]).unwrap();
        assert_eq!(m.msg_type(), ECHO_REQUEST);
        assert_eq!(m.code(), 0);
        assert_eq!(m.checksum(), u16::from_be_bytes([frame[56], frame[57]]));
    }

    #[test]
    fn short_buffer_is_refused() {
        assert!(Icmpv6Message::new(&[128u8, 0, 0][..]).is_none());
    }
}
