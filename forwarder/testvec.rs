//! Packet vectors and builders shared by the unit tests, the end-to-end tests and the
//! benches, with a minimal pcap reader and writer for the tests that drive DPDK's pcap
//! driver. Each vector's comment says what its headers hold.
//!
//! The fixed vectors were built field by field from RFC 8200, 4443 and 4861 layouts, with
//! their checksums computed independently of this crate's checksum code.

use std::io::{self, Read, Write};
use std::net::Ipv6Addr;

use crate::dataplane::{Dataplane, PortView};
use crate::fib::Rib;
use crate::neigh::{Neighbor, NeighborTable};
use crate::route::{NextHop, Reject, Route};
use crate::wire::{MacAddr, checksum};

/// Echo Request from host 2001:db8:1::2 (02:00:00:00:01:02) to the router's 2001:db8:1::1
/// (02:00:00:00:01:01): hop limit 64, flow label 0x51c7a, id 0x1234, sequence 1, 8 data bytes.
pub const ECHO_REQUEST_FRAME: [u8; 70] = [
    0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x86, 0xdd, 0x60, 0x05,
    0x1c, 0x7a, 0x00, 0x10, 0x3a, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x80, 0x00, 0xd1, 0x38, 0x12, 0x34, 0x00, 0x01, 0x76, 0x36,
    0x66, 0x77, 0x64, 0x21, 0x00, 0x01,
];

/// Neighbor Solicitation from 2001:db8:1::2 (02:00:00:00:01:02) for the router's 2001:db8:1::1,
/// to its solicited-node group ff02::1:ff00:1, with a Source Link-layer Address option.
pub const NS_MULTICAST_FRAME: [u8; 86] = [
    0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x86, 0xdd, 0x60, 0x00,
    0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x1b, 0x25, 0x00, 0x00, 0x00, 0x00, 0x20, 0x01,
    0x0d, 0xb8, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x01,
    0x02, 0x00, 0x00, 0x00, 0x01, 0x02,
];

/// Builds an Ethernet + IPv6 + UDP frame with a valid UDP checksum and `payload_len` bytes
/// of payload.
pub fn udp_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    ports: (u16, u16),
    payload_len: usize,
) -> Vec<u8> {
    let udp_len = 8 + payload_len;
    let mut f = Vec::with_capacity(54 + udp_len);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[17, hop_limit]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&ports.0.to_be_bytes());
    f.extend_from_slice(&ports.1.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend((0..payload_len).map(|i| i as u8));
    let c = checksum::upper_layer(&src, &dst, 17, &f[54..]);
    // RFC 8200 8.1: a computed UDP checksum of zero is sent as all ones.
    let c = if c == 0 { 0xffff } else { c };
    f[60..62].copy_from_slice(&c.to_be_bytes());
    f
}

/// Builds an Echo Request frame with a valid checksum and `data_len` bytes of data.
pub fn echo_request_frame(
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    data_len: usize,
) -> Vec<u8> {
    let icmp_len = 8 + data_len;
    let mut f = Vec::with_capacity(54 + icmp_len);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&src_mac);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp_len as u16).to_be_bytes());
    f.extend_from_slice(&[58, 64]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&[128, 0, 0, 0, 0xbe, 0xef, 0, 1]);
    f.extend((0..data_len).map(|i| i as u8));
    let c = checksum::upper_layer(&src, &dst, 58, &f[54..]);
    f[56..58].copy_from_slice(&c.to_be_bytes());
    f
}

/// The router's MAC on port 0, its host's, the router's on port 1 and its gateway's.
pub const R0_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
pub const H1_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];
pub const R1_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
pub const H2_MAC: [u8; 6] = [2, 0, 0, 0, 2, 2];

fn addr(s: &str) -> Ipv6Addr {
    s.parse().expect("a literal address")
}

/// A router for tests, benches and fuzzing: port0 2001:db8:1::1/64 with host ::2 on it,
/// port1 2001:db8:2::1/64 (MTU 1280) with gateway ::2 on it, which reaches
/// 2001:db8:100::/40 but for three /64s inside it routed to a blackhole (`:dead::`), as
/// unreachable (`:ffff::`) and as prohibited (`:bad::`).
pub fn two_port_router() -> Dataplane {
    let ports = vec![
        PortView::new(MacAddr(R0_MAC), 1500, &[(addr("2001:db8:1::1"), 64)]),
        PortView::new(MacAddr(R1_MAC), 1280, &[(addr("2001:db8:2::1"), 64)]),
    ];
    let routes = [
        Route::new(
            "2001:db8:1::/64".parse().expect("a literal prefix"),
            0,
            NextHop::OnLink,
        ),
        Route::new(
            "2001:db8:2::/64".parse().expect("a literal prefix"),
            1,
            NextHop::OnLink,
        ),
        Route::new(
            "2001:db8:100::/40".parse().expect("a literal prefix"),
            1,
            NextHop::Gateway(addr("2001:db8:2::2")),
        ),
        Route::new(
            "2001:db8:100:dead::/64".parse().expect("a literal prefix"),
            0,
            NextHop::Reject(Reject::Blackhole),
        ),
        Route::new(
            "2001:db8:100:ffff::/64".parse().expect("a literal prefix"),
            0,
            NextHop::Reject(Reject::Unreachable),
        ),
        Route::new(
            "2001:db8:100:bad::/64".parse().expect("a literal prefix"),
            0,
            NextHop::Reject(Reject::Prohibit),
        ),
    ];
    let neighbors = [
        Neighbor {
            port: 0,
            addr: addr("2001:db8:1::2"),
            lladdr: MacAddr(H1_MAC),
        },
        Neighbor {
            port: 1,
            addr: addr("2001:db8:2::2"),
            lladdr: MacAddr(H2_MAC),
        },
    ];
    let rib = Rib::with_routes(2, &routes, &neighbors).expect("routes on the router's ports");
    Dataplane::new(ports, rib.cell(), NeighborTable::new(&neighbors))
}

const PCAP_MAGIC: u32 = 0xa1b2_c3d4;
const LINKTYPE_ETHERNET: u32 = 1;

/// Writes `frames` as a classic pcap file (microsecond timestamps, Ethernet).
pub fn write_pcap(mut w: impl Write, frames: &[Vec<u8>]) -> io::Result<()> {
    w.write_all(&PCAP_MAGIC.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0u8; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&LINKTYPE_ETHERNET.to_le_bytes())?;
    for (i, f) in frames.iter().enumerate() {
        w.write_all(&(i as u32).to_le_bytes())?;
        w.write_all(&0u32.to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(&(f.len() as u32).to_le_bytes())?;
        w.write_all(f)?;
    }
    Ok(())
}

/// Reads the frames of a classic little-endian pcap file (as DPDK's pcap driver writes).
pub fn read_pcap(mut r: impl Read) -> io::Result<Vec<Vec<u8>>> {
    let mut all = Vec::new();
    r.read_to_end(&mut all)?;
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
    let magic = all.get(0..4).ok_or_else(|| bad("short pcap header"))?;
    let magic = u32::from_le_bytes([magic[0], magic[1], magic[2], magic[3]]);
    // 0xa1b23c4d is the nanosecond-timestamp variant; the record layout is the same.
    if magic != PCAP_MAGIC && magic != 0xa1b2_3c4d {
        return Err(bad("not a little-endian pcap file"));
    }
    let mut at = 24;
    let mut frames = Vec::new();
    while at < all.len() {
        let hdr = all
            .get(at..at + 16)
            .ok_or_else(|| bad("short record header"))?;
        let caplen = u32::from_le_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]) as usize;
        let data = all
            .get(at + 16..at + 16 + caplen)
            .ok_or_else(|| bad("short record"))?;
        frames.push(data.to_vec());
        at += 16 + caplen;
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_vectors_have_valid_checksums() {
        for f in [&ECHO_REQUEST_FRAME[..], &NS_MULTICAST_FRAME[..]] {
            let ip = crate::wire::Ipv6Packet::new(&f[14..]).unwrap();
            assert!(checksum::verify_upper_layer(
                &ip.src(),
                &ip.dst(),
                58,
                &f[54..]
            ));
        }
    }

    #[test]
    fn pcap_round_trip() {
        let frames = vec![
            ECHO_REQUEST_FRAME.to_vec(),
            NS_MULTICAST_FRAME.to_vec(),
            vec![1, 2, 3],
        ];
        let mut file = Vec::new();
        write_pcap(&mut file, &frames).unwrap();
        assert_eq!(read_pcap(&file[..]).unwrap(), frames);
        assert!(read_pcap(&file[..30]).is_err());
    }
}
