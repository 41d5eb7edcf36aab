//! Ethernet II frames (IEEE 802.3 with an EtherType), as IPv6 uses them (RFC 2464).
//!
//! ```text
//!  0                   6                  12        14
//! +-------------------+------------------+---------+----------
//! | destination       | source           | type    | payload
//! +-------------------+------------------+---------+----------
//! ```

use std::fmt;
use std::str::FromStr;

/// EtherType of IPv6 (RFC 2464 section 3).
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Length of the Ethernet header without VLAN tags.
pub const HEADER_LEN: usize = 14;

/// A 48-bit MAC address. Prints as `02:00:00:00:00:01`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// Whether the group bit (I/G) is set: multicast or broadcast.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// The Ethernet group address for an IPv6 multicast address (RFC 2464 section 7):
    /// 33:33 and the last four bytes of the IPv6 address.
    pub fn ipv6_multicast(addr: &std::net::Ipv6Addr) -> MacAddr {
        let o = addr.octets();
        MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A MAC address that does not read as six colon-separated hex bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address (want six hex bytes like 02:00:5e:10:00:01)")]
pub struct BadMacAddr(pub String);

impl FromStr for MacAddr {
    type Err = BadMacAddr;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 6];
        let mut parts = s.split([':', '-']);
        for b in &mut out {
            let p = parts.next().ok_or_else(|| BadMacAddr(s.into()))?;
            if p.is_empty() || p.len() > 2 {
                return Err(BadMacAddr(s.into()));
            }
            *b = u8::from_str_radix(p, 16).map_err(|_| BadMacAddr(s.into()))?;
        }
        if parts.next().is_some() {
            return Err(BadMacAddr(s.into()));
        }
        Ok(MacAddr(out))
    }
}

/// A view of an Ethernet frame; at least [`HEADER_LEN`] bytes long.
pub struct EthernetFrame<T> {
    buf: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buf`, or `None` if it is shorter than the header.
    #[inline]
    pub fn new(buf: T) -> Option<Self> {
        (buf.as_ref().len() >= HEADER_LEN).then_some(EthernetFrame { buf })
    }

    #[inline]
    pub fn destination(&self) -> MacAddr {
        let b = self.buf.as_ref();
        MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    #[inline]
    pub fn source(&self) -> MacAddr {
        let b = self.buf.as_ref();
        MacAddr([b[6], b[7], b[8], b[9], b[10], b[11]])
    }

    #[inline]
    pub fn ethertype(&self) -> u16 {
        let b = self.buf.as_ref();
        u16::from_be_bytes([b[12], b[13]])
    }
}

impl<T: AsMut<[u8]> + AsRef<[u8]>> EthernetFrame<T> {
    #[inline]
    pub fn set_destination(&mut self, mac: MacAddr) {
        self.buf.as_mut()[0..6].copy_from_slice(&mac.0);
    }

    #[inline]
    pub fn set_source(&mut self, mac: MacAddr) {
        self.buf.as_mut()[6..12].copy_from_slice(&mac.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_header_fields() {
        let frame = crate::testvec::ECHO_REQUEST_FRAME;
        let eth = EthernetFrame::new(&frame[..]).unwrap();
        assert_eq!(eth.destination().to_string(), "02:00:00:00:01:01");
        assert_eq!(eth.source().to_string(), "02:00:00:00:01:02");
        assert_eq!(eth.ethertype(), ETHERTYPE_IPV6);
    }

    #[test]
    fn short_buffer_is_refused() {
        assert!(EthernetFrame::new(&[0u8; 13][..]).is_none());
    }

    #[test]
    fn mac_parse_and_print() {
        let m: MacAddr = "02:00:5E:10:00:01".parse().unwrap();
        assert_eq!(m.to_string(), "02:00:5e:10:00:01");
        assert!(!m.is_multicast());
        assert!(
            "33:33:00:00:00:01"
                .parse::<MacAddr>()
                .unwrap()
                .is_multicast()
        );
        for bad in [
            "",
            "02:00:5e:10:00",
            "02:00:5e:10:00:01:02",
            "0g:00:00:00:00:00",
            "123:0:0:0:0:0",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_multicast_mapping() {
        // RFC 2464 section 7: ff02::1:ff00:1 maps to 33:33:ff:00:00:01.
        let a: std::net::Ipv6Addr = "ff02::1:ff00:1".parse().unwrap();
        assert_eq!(MacAddr::ipv6_multicast(&a).to_string(), "33:33:ff:00:00:01");
    }
}
