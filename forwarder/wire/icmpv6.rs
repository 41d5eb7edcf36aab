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
