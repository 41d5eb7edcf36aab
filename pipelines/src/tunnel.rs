//! IPv6-in-IPv6 tunnelling (RFC 2473): the packet goes inside an outer IPv6 header from
//! one tunnel end to the other. Alone, it is a plain tunnel; under ESP in transport mode
//! between the same ends, a protected one.

use std::net::Ipv6Addr;

use crate::esp::PROTO_IPV6;
use crate::packet::Packet;
use crate::transform::{Counters, Drop, Expiry, StateKey, Transform};

const IPV6_HEADER: usize = 40;

/// One direction of a tunnel: from `src` to `dst`.
#[derive(Debug)]
pub struct Ip6Ip6 {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    counters: Counters,
}

impl Ip6Ip6 {
    /// A tunnel from `src` to `dst`, whose outer headers start with `hop_limit`.
    pub fn new(src: Ipv6Addr, dst: Ipv6Addr, hop_limit: u8) -> Ip6Ip6 {
        Ip6Ip6 {
            src,
            dst,
            hop_limit,
            counters: Counters::default(),
        }
    }
}

impl Transform for Ip6Ip6 {
    fn name(&self) -> &'static str {
        "ip6ip6"
    }

    fn key(&self) -> StateKey {
        StateKey {
            proto: PROTO_IPV6,
            dst: self.dst,
            spi: 0,
            src: Some(self.src),
        }
    }

    fn overhead(&self, _len: usize) -> (usize, usize) {
        (IPV6_HEADER, 0)
    }

    fn output(&mut self, p: &mut Packet<'_>, _now_ns: u64) -> Result<(), Drop> {
        if p.len() < IPV6_HEADER {
            return Err(Drop::Truncated);
        }
        let len = p.len();
        let (traffic, flow) = {
            let h = p.data();
            (
                (h[0] & 0x0f) << 4 | h[1] >> 4,
                u32::from_be_bytes([0, h[1] & 0x0f, h[2], h[3]]),
            )
        };
        // RFC 2473 6.7: the outer header's payload length field holds at most 65,535.
        let payload = u16::try_from(len).map_err(|_| Drop::Unsupported)?;
        let h = p.prepend(IPV6_HEADER)?;
        h[0] = 0x60 | traffic >> 4;
        h[1] = traffic << 4 | (flow >> 16) as u8;
        h[2..4].copy_from_slice(&(flow as u16).to_be_bytes());
        h[4..6].copy_from_slice(&payload.to_be_bytes());
        h[6] = PROTO_IPV6;
        h[7] = self.hop_limit;
        h[8..24].copy_from_slice(&self.src.octets());
        h[24..40].copy_from_slice(&self.dst.octets());
        self.counters.packets += 1;
        self.counters.bytes += len as u64;
        Ok(())
    }

    fn input(&mut self, p: &mut Packet<'_>, at: usize, _now_ns: u64) -> Result<(), Drop> {
        let d = p.data();
        if d.len() < IPV6_HEADER * 2 || at < IPV6_HEADER {
            return Err(Drop::Truncated);
        }
        if d[8..24] != self.src.octets() || d[24..40] != self.dst.octets() {
            return Err(Drop::NotMine);
        }
        // Only the inner packet right after the outer fixed header.
        if at != IPV6_HEADER || d[6] != PROTO_IPV6 {
            return Err(Drop::Unsupported);
        }
        if d[at] >> 4 != 6 {
            return Err(Drop::Unsupported);
        }
        p.strip_front(at);
        self.counters.packets += 1;
        self.counters.bytes += p.len() as u64;
        Ok(())
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    fn expiry(&self) -> Expiry {
        Expiry::Live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn in_and_out() {
        let mut out = Ip6Ip6::new(a("2001:db8:f::1"), a("2001:db8:f::2"), 64);
        let mut inn = Ip6Ip6::new(a("2001:db8:f::1"), a("2001:db8:f::2"), 64);
        let mut buf = vec![0u8; 200];
        let inner: Vec<u8> = [0x6e, 0x51, 0x23, 0x45]
            .into_iter()
            .chain([0, 8, 17, 9])
            .chain([1u8; 32])
            .chain([2u8; 8])
            .collect();
        buf[100..148].copy_from_slice(&inner);
        let mut p = Packet::new(&mut buf, 100, 48);
        out.output(&mut p, 0).unwrap();
        let d = p.data();
        assert_eq!(
            d[..4],
            [0x6e, 0x51, 0x23, 0x45],
            "traffic class and flow label kept"
        );
        assert_eq!((d[6], d[7]), (PROTO_IPV6, 64));
        assert_eq!(u16::from_be_bytes([d[4], d[5]]), 48);
        assert_eq!(d[40..], inner[..]);
        inn.input(&mut p, 40, 0).unwrap();
        assert_eq!(p.data(), &inner[..]);

        // Another tunnel's packet is not taken.
        let mut other = Ip6Ip6::new(a("2001:db8:f::9"), a("2001:db8:f::2"), 64);
        let mut p = Packet::new(&mut buf, 100, 48);
        out.output(&mut p, 0).unwrap();
        assert_eq!(other.input(&mut p, 40, 0), Err(Drop::NotMine));
    }
}
