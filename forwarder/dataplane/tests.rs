use super::*;
use crate::testvec;
use crate::wire::{checksum, nd};

use crate::testvec::{H1_MAC, H2_MAC, R0_MAC, R1_MAC};

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn router() -> Dataplane {
    testvec::two_port_router()
}

fn udp(dst: &str, hop_limit: u8, payload: usize) -> Vec<u8> {
    testvec::udp_frame(
        R0_MAC,
        H1_MAC,
        a("2001:db8:1::2"),
        a(dst),
        hop_limit,
        (1000, 2000),
        payload,
    )
}

fn core(dp: &Dataplane) -> Core {
    Core::new(
        IcmpLimits {
            rate: 10,
            burst: 100,
        },
        Arc::default(),
        dp.fib_reader(),
    )
}

/// Runs a frame through the router from port0, with room for a reply to grow into.
fn run(dp: &Dataplane, frame: &[u8]) -> (Verdict, Vec<u8>) {
    let mut buf = frame.to_vec();
    buf.resize(frame.len() + 128, 0);
    let v = dp.handle(&mut core(dp), 0, &mut buf, frame.len(), frame.len());
    (v, buf)
}

fn dropped(dp: &Dataplane, frame: &[u8]) -> DropReason {
    match run(dp, frame).0 {
        Verdict::Drop(r) => r,
        Verdict::Error { reason, .. } => reason,
        v => panic!("expected a drop, got {v:?}"),
    }
}

#[test]
fn forwards_through_gateway() {
    let dp = router();
    let frame = udp("2001:db8:100::5", 64, 20);
    let (v, out) = run(&dp, &frame);
    assert_eq!(
        v,
        Verdict::Forward {
            port: 1,
            len: frame.len()
        }
    );
    assert_eq!(&out[0..6], &H2_MAC);
    assert_eq!(&out[6..12], &R1_MAC);
    assert_eq!(out[21], 63);
    // Nothing but the hop limit changed in the IPv6 packet, so the UDP checksum holds.
    assert_eq!(&out[14..21], &frame[14..21]);
    assert_eq!(&out[22..frame.len()], &frame[22..]);
}

#[test]
fn forwards_on_link_and_cuts_padding() {
    let dp = router();
    let frame = udp("2001:db8:2::2", 2, 0);
    let mut padded = frame.clone();
    padded.extend_from_slice(&[0; 10]);
    let (v, out) = run(&dp, &padded);
    assert_eq!(
        v,
        Verdict::Forward {
            port: 1,
            len: frame.len()
        }
    );
    assert_eq!(&out[0..6], &H2_MAC);
    assert_eq!(out[21], 1);
}

#[test]
fn drops_what_cannot_be_forwarded() {
    let dp = router();
    for (dst, hop_limit, payload, reason) in [
        ("2001:db8:100::5", 1, 8, DropReason::HopLimitExceeded),
        ("2001:db8:100::5", 0, 8, DropReason::HopLimitExceeded),
        ("2001:db9::1", 64, 8, DropReason::NoRoute),
        ("2001:db8:100::5", 64, 1300, DropReason::TooBig),
        ("ff0e::1", 64, 8, DropReason::MulticastDestination),
        ("fe80::99", 64, 8, DropReason::ScopeViolation),
        ("::1", 64, 8, DropReason::ScopeViolation),
        ("2001:db8:1::1", 64, 8, DropReason::PortUnreachable),
    ] {
        assert_eq!(dropped(&dp, &udp(dst, hop_limit, payload)), reason, "{dst}");
    }
}

#[test]
fn drops_bad_sources() {
    let dp = router();
    for (src, reason) in [
        ("ff02::1", DropReason::BadSource),
        ("::", DropReason::BadSource),
        ("::1", DropReason::BadSource),
        ("fe80::2", DropReason::ScopeViolation),
    ] {
        let f = testvec::udp_frame(R0_MAC, H1_MAC, a(src), a("2001:db8:100::5"), 64, (1, 2), 8);
        assert_eq!(dropped(&dp, &f), reason, "{src}");
    }
}

#[test]
fn drops_malformed_frames() {
    let dp = router();
    let good = udp("2001:db8:100::5", 64, 20);

    assert_eq!(dropped(&dp, &good[..13]), DropReason::Truncated);
    assert_eq!(dropped(&dp, &good[..53]), DropReason::Truncated);

    let mut ipv4 = good.clone();
    ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
    assert_eq!(dropped(&dp, &ipv4), DropReason::NotIpv6);

    let mut v4 = good.clone();
    v4[14] = 0x45;
    assert_eq!(dropped(&dp, &v4), DropReason::BadVersion);

    let mut lies = good.clone();
    lies[18..20].copy_from_slice(&500u16.to_be_bytes());
    assert_eq!(dropped(&dp, &lies), DropReason::BadLength);

    let mut jumbo = good.clone();
    jumbo[18..21].copy_from_slice(&[0, 0, 0]);
    assert_eq!(dropped(&dp, &jumbo), DropReason::BadLength);

    let mut other = good.clone();
    other[0..6].copy_from_slice(&[2, 0, 0, 0, 9, 9]);
    assert_eq!(dropped(&dp, &other), DropReason::OtherHost);
}

#[test]
fn headers_split_across_segments() {
    let dp = router();
    let frame = udp("2001:db8:100::5", 64, 100);
    let mut buf = frame.clone();
    assert_eq!(
        dp.handle(&mut core(&dp), 0, &mut buf, 40, frame.len()),
        Verdict::Drop(DropReason::MultiSegment)
    );
    let echo = testvec::ECHO_REQUEST_FRAME;
    let mut buf = echo.to_vec();
    assert_eq!(
        dp.handle(&mut core(&dp), 0, &mut buf, 60, echo.len() + 100),
        Verdict::Drop(DropReason::MultiSegment)
    );
}

#[test]
fn answers_echo_request() {
    let dp = router();
    let req = testvec::ECHO_REQUEST_FRAME;
    let (v, out) = run(&dp, &req);
    assert_eq!(v, Verdict::Reply { len: req.len() });
    let out = &out[..req.len()];
    assert_eq!(&out[0..6], &H1_MAC);
    assert_eq!(&out[6..12], &R0_MAC);
    let ip = Ipv6Packet::new(&out[14..]).unwrap();
    assert_eq!(ip.src(), a("2001:db8:1::1"));
    assert_eq!(ip.dst(), a("2001:db8:1::2"));
    assert_eq!(ip.hop_limit(), HOP_LIMIT);
    assert_eq!(out[54], icmpv6::ECHO_REPLY);
    assert_eq!(
        &out[58..],
        &req[58..],
        "identifier, sequence and data are kept"
    );
    assert!(checksum::verify_upper_layer(
        &ip.src(),
        &ip.dst(),
        58,
        &out[54..]
    ));
}

#[test]
fn answers_echo_to_the_other_ports_address_and_link_local() {
    let dp = router();
    for dst in ["2001:db8:2::1", "fe80::ff:fe00:101"] {
        let f = testvec::echo_request_frame(R0_MAC, H1_MAC, a("2001:db8:1::2"), a(dst), 100);
        let (v, out) = run(&dp, &f);
        assert_eq!(v, Verdict::Reply { len: f.len() }, "{dst}");
        let ip = Ipv6Packet::new(&out[14..f.len()]).unwrap();
        assert_eq!(ip.src(), a(dst));
        assert!(checksum::verify_upper_layer(
            &ip.src(),
            &ip.dst(),
            58,
            &out[54..f.len()]
        ));
    }
}

#[test]
fn echo_with_bad_checksum_is_dropped() {
    let dp = router();
    let mut req = testvec::ECHO_REQUEST_FRAME;
    req[60] ^= 1;
    assert_eq!(dropped(&dp, &req), DropReason::IcmpChecksum);
}

#[test]
fn answers_neighbor_solicitation() {
    let dp = router();
    let ns = testvec::NS_MULTICAST_FRAME;
    let (v, out) = run(&dp, &ns);
    assert_eq!(v, Verdict::Reply { len: 86 });
    let out = &out[..86];
    assert_eq!(
        &out[0..6],
        &H1_MAC,
        "to the solicitation's source link-layer address"
    );
    assert_eq!(&out[6..12], &R0_MAC);
    let ip = Ipv6Packet::new(&out[14..]).unwrap();
    assert_eq!(
        (ip.version(), ip.payload_len(), ip.hop_limit()),
        (6, 32, 255)
    );
    assert_eq!(ip.src(), a("2001:db8:1::1"));
    assert_eq!(ip.dst(), a("2001:db8:1::2"));
    assert_eq!(out[54], icmpv6::NEIGHBOR_ADVERT);
    assert_eq!(
        out[58],
        nd::FLAG_ROUTER | nd::FLAG_SOLICITED | nd::FLAG_OVERRIDE
    );
    assert_eq!(&out[62..78], &a("2001:db8:1::1").octets());
    assert_eq!(&out[78..86], &[2, 1, 2, 0, 0, 0, 1, 1]);
    assert!(checksum::verify_upper_layer(
        &ip.src(),
        &ip.dst(),
        58,
        &out[54..]
    ));
}

#[test]
fn answers_duplicate_address_detection_to_all_nodes() {
    let dp = router();
    // The solicitation of a node checking 2001:db8:1::1 before using it: from the
    // unspecified address, with no link-layer address option.
    let mut ns = testvec::NS_MULTICAST_FRAME[..78].to_vec();
    ns[18..20].copy_from_slice(&24u16.to_be_bytes());
    ns[22..38].copy_from_slice(&[0; 16]);
    ns[56..58].copy_from_slice(&[0, 0]);
    let c = checksum::upper_layer(&Ipv6Addr::UNSPECIFIED, &a("ff02::1:ff00:1"), 58, &ns[54..]);
    ns[56..58].copy_from_slice(&c.to_be_bytes());

    let (v, out) = run(&dp, &ns);
    assert_eq!(v, Verdict::Reply { len: 86 });
    assert_eq!(&out[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    let ip = Ipv6Packet::new(&out[14..86]).unwrap();
    assert_eq!(ip.dst(), ipv6::ALL_NODES);
    assert_eq!(
        out[58],
        nd::FLAG_ROUTER | nd::FLAG_OVERRIDE,
        "Solicited is clear"
    );
}

#[test]
fn ignores_solicitations_for_other_targets() {
    let dp = router();
    let mut ns = testvec::NS_MULTICAST_FRAME;
    // Target 2001:db8:2::1 belongs to port1, not to port0 where this arrives.
    ns[62..78].copy_from_slice(&a("2001:db8:2::1").octets());
    ns[56..58].copy_from_slice(&[0, 0]);
    let c = checksum::upper_layer(&a("2001:db8:1::2"), &a("ff02::1:ff00:1"), 58, &ns[54..]);
    ns[56..58].copy_from_slice(&c.to_be_bytes());
    assert_eq!(dropped(&dp, &ns), DropReason::NdOtherTarget);

    let mut bad = testvec::NS_MULTICAST_FRAME;
    bad[21] = 64;
    assert_eq!(dropped(&dp, &bad), DropReason::NdInvalid);
}

#[test]
fn no_reply_room_is_a_counted_drop() {
    let dp = router();
    let ns = testvec::NS_MULTICAST_FRAME;
    let mut buf = ns[..].to_vec();
    assert_eq!(
        dp.handle(&mut core(&dp), 0, &mut buf[..80], 80, 80),
        Verdict::Drop(DropReason::BadLength)
    );
    let mut short = ns[..78].to_vec();
    short[18..20].copy_from_slice(&24u16.to_be_bytes());
    short[56..58].copy_from_slice(&[0, 0]);
    let c = checksum::upper_layer(&a("2001:db8:1::2"), &a("ff02::1:ff00:1"), 58, &short[54..]);
    short[56..58].copy_from_slice(&c.to_be_bytes());
    assert_eq!(
        dp.handle(&mut core(&dp), 0, &mut short, 78, 78),
        Verdict::Drop(DropReason::NoBufferRoom)
    );
}

proptest::proptest! {
    /// Whatever the bytes, handling never panics and a frame only grows into the room
    /// it was given.
    #[test]
    fn any_bytes_are_handled(frame in proptest::collection::vec(proptest::num::u8::ANY, 0..200), room in 0usize..64) {
        let dp = router();
        let mut buf = frame.clone();
        buf.resize(frame.len() + room, 0);
        let v = dp.handle(&mut core(&dp), 0, &mut buf, frame.len(), frame.len());
        proptest::prop_assert!(fits(v, frame.len() + room));
    }

    /// Packets with valid Ethernet and IPv6 headers but any next header, destination and
    /// payload: the same holds, deeper in the code.
    #[test]
    fn any_ipv6_payload_is_handled(
        nh in proptest::sample::select(vec![0u8, 6, 17, 43, 44, 50, 58, 59, 60, 135, 253]),
        dst in proptest::sample::select(vec!["2001:db8:1::1", "fe80::ff:fe00:101", "ff02::1", "2001:db8:100::1", "2001:db9::1"]),
        hop_limit in proptest::sample::select(vec![0u8, 1, 2, 64, 255]),
        payload in proptest::collection::vec(proptest::num::u8::ANY, 0..120),
        room in 0usize..1400,
    ) {
        let dp = router();
        let frame = ip_frame(R0_MAC, "2001:db8:1::2", dst, hop_limit, nh, &payload);
        let mut buf = frame.clone();
        buf.resize(frame.len() + room, 0);
        let v = dp.handle(&mut core(&dp), 0, &mut buf, frame.len(), frame.len());
        proptest::prop_assert!(fits(v, frame.len() + room));
    }
}

fn fits(v: Verdict, room: usize) -> bool {
    match v {
        Verdict::Forward { len, .. } | Verdict::Reply { len } | Verdict::Error { len, .. } => {
            len <= room
        }
        Verdict::Unresolved { len, .. } => len <= room,
        Verdict::Drop(_) | Verdict::Held | Verdict::Consumed | Verdict::Reassembled { .. } => true,
    }
}

/// An Ethernet + IPv6 frame from host 1 with `payload` after the fixed header.
fn ip_frame(
    dst_mac: [u8; 6],
    src: &str,
    dst: &str,
    hop_limit: u8,
    nh: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&H1_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    f.extend_from_slice(&[nh, hop_limit]);
    f.extend_from_slice(&a(src).octets());
    f.extend_from_slice(&a(dst).octets());
    f.extend_from_slice(payload);
    f
}

/// A frame from host 1 to the router's 2001:db8:1::1 with `payload` after the fixed header.
fn to_router(hop_limit: u8, nh: u8, payload: &[u8]) -> Vec<u8> {
    ip_frame(
        R0_MAC,
        "2001:db8:1::2",
        "2001:db8:1::1",
        hop_limit,
        nh,
        payload,
    )
}

/// Fills in the checksum of the upper-layer message at `at` (in the frame), field at
/// `at + field`.
fn fix_checksum(f: &mut [u8], at: usize, field: usize, proto: u8) {
    let ip = Ipv6Packet::new(&f[14..]).unwrap();
    let (src, dst) = (ip.src(), ip.dst());
    f[at + field..at + field + 2].copy_from_slice(&[0, 0]);
    let c = checksum::upper_layer(&src, &dst, proto, &f[at..]);
    f[at + field..at + field + 2].copy_from_slice(&c.to_be_bytes());
}

/// Checks an ICMPv6 error verdict and returns (type, code, param, invoking packet).
fn error_fields(v: Verdict, out: &[u8]) -> (u8, u8, u32, Vec<u8>) {
    let Verdict::Error { len, .. } = v else {
        panic!("expected an error, got {v:?}");
    };
    let out = &out[..len];
    let ip = Ipv6Packet::new(&out[14..]).unwrap();
    assert_eq!(usize::from(ip.payload_len()), len - 54);
    assert_eq!(ip.next_header(), 58);
    assert_eq!(ip.hop_limit(), HOP_LIMIT);
    assert!(
        checksum::verify_upper_layer(&ip.src(), &ip.dst(), 58, &out[54..]),
        "checksum"
    );
    let param = u32::from_be_bytes([out[58], out[59], out[60], out[61]]);
    (out[54], out[55], param, out[62..].to_vec())
}

#[test]
fn time_exceeded_goes_back_to_the_source() {
    let dp = router();
    let frame = udp("2001:db8:100::5", 1, 30);
    let (v, out) = run(&dp, &frame);
    assert!(
        matches!(
            v,
            Verdict::Error {
                port: 0,
                reason: DropReason::HopLimitExceeded,
                ..
            }
        ),
        "{v:?}"
    );
    let (t, c, p, invoking) = error_fields(v, &out);
    assert_eq!((t, c, p), (icmpv6::TIME_EXCEEDED, 0, 0));
    assert_eq!(
        invoking,
        &frame[14..],
        "the whole invoking packet, unchanged"
    );
    assert_eq!(&out[0..6], &H1_MAC, "to the source's neighbor entry");
    assert_eq!(&out[6..12], &R0_MAC);
    let ip = Ipv6Packet::new(&out[14..]).unwrap();
    assert_eq!(
        (ip.src(), ip.dst()),
        (a("2001:db8:1::1"), a("2001:db8:1::2"))
    );
}

#[test]
fn destination_unreachable_codes() {
    let dp = router();
    for (dst, code, reason) in [
        (
            "2001:db9::1",
            icmpv6::UNREACHABLE_NO_ROUTE,
            DropReason::NoRoute,
        ),
        (
            "2001:db8:100:ffff::1",
            icmpv6::UNREACHABLE_NO_ROUTE,
            DropReason::Unreachable,
        ),
        (
            "2001:db8:100:bad::1",
            icmpv6::UNREACHABLE_PROHIBITED,
            DropReason::Prohibited,
        ),
    ] {
        let (v, out) = run(&dp, &udp(dst, 64, 8));
        assert!(
            matches!(v, Verdict::Error { reason: r, .. } if r == reason),
            "{dst}: {v:?}"
        );
        let (t, c, _, _) = error_fields(v, &out);
        assert_eq!((t, c), (icmpv6::DEST_UNREACHABLE, code), "{dst}");
    }
}

#[test]
fn link_local_source_leaving_its_link_is_beyond_scope() {
    let dp = router();
    let f = testvec::udp_frame(
        R0_MAC,
        H1_MAC,
        a("fe80::2"),
        a("2001:db8:100::5"),
        64,
        (1, 2),
        8,
    );
    let (v, out) = run(&dp, &f);
    let (t, c, _, _) = error_fields(v, &out);
    assert_eq!(
        (t, c),
        (icmpv6::DEST_UNREACHABLE, icmpv6::UNREACHABLE_BEYOND_SCOPE)
    );
    let ip = Ipv6Packet::new(&out[14..]).unwrap();
    assert_eq!(
        ip.src(),
        a("fe80::ff:fe00:101"),
        "from the port's link-local address"
    );
    assert_eq!(ip.dst(), a("fe80::2"));
    assert_eq!(&out[0..6], &H1_MAC, "back to the frame's sender");
}

#[test]
fn packet_too_big_carries_the_mtu_and_fits_1280() {
    let dp = router();
    let frame = udp("2001:db8:100::5", 64, 1400);
    let (v, out) = run(&dp, &frame);
    let Verdict::Error { len, .. } = v else {
        panic!("{v:?}")
    };
    assert_eq!(
        len,
        14 + 1280,
        "as much of the packet as fits in the minimum MTU"
    );
    let (t, c, mtu, invoking) = error_fields(v, &out);
    assert_eq!((t, c, mtu), (icmpv6::PACKET_TOO_BIG, 0, 1280));
    assert_eq!(invoking, &frame[14..14 + 1280 - 48]);
}

#[test]
fn no_error_about_errors_multicast_or_unnamed_sources() {
    let dp = router();
    // A Destination Unreachable in transit with its hop limit run out.
    let mut err = ip_frame(
        R0_MAC,
        "2001:db8:1::2",
        "2001:db8:100::5",
        1,
        58,
        &[1, 0, 0, 0, 0, 0, 0, 0],
    );
    fix_checksum(&mut err, 54, 2, 58);
    assert_eq!(
        run(&dp, &err).0,
        Verdict::Drop(DropReason::HopLimitExceeded)
    );
    // An Echo Request in transit is not an error: it gets one.
    let mut echo = ip_frame(
        R0_MAC,
        "2001:db8:1::2",
        "2001:db8:100::5",
        1,
        58,
        &[128, 0, 0, 0, 0, 1, 0, 1],
    );
    fix_checksum(&mut echo, 54, 2, 58);
    assert!(matches!(run(&dp, &echo).0, Verdict::Error { .. }));
    // The Subnet-Router anycast address of port0's subnet does not name one node.
    let any = testvec::udp_frame(
        R0_MAC,
        H1_MAC,
        a("2001:db8:1::"),
        a("2001:db9::1"),
        64,
        (1, 2),
        8,
    );
    assert_eq!(run(&dp, &any).0, Verdict::Drop(DropReason::NoRoute));
    // UDP to all-nodes: no port unreachable for a multicast destination.
    let mcast = ip_frame(
        [0x33, 0x33, 0, 0, 0, 1],
        "2001:db8:1::2",
        "ff02::1",
        1,
        17,
        &[0, 1, 0, 2, 0, 8, 0, 0],
    );
    assert_eq!(
        run(&dp, &mcast).0,
        Verdict::Drop(DropReason::PortUnreachable)
    );
}

#[test]
fn errors_are_rate_limited_per_core() {
    let dp = router();
    let mut c = Core::new(
        IcmpLimits { rate: 1, burst: 2 },
        Arc::default(),
        dp.fib_reader(),
    );
    let frame = udp("2001:db8:100::5", 1, 8);
    let mut verdicts = Vec::new();
    for _ in 0..3 {
        let mut buf = frame.clone();
        buf.resize(300, 0);
        verdicts.push(dp.handle(&mut c, 0, &mut buf, frame.len(), frame.len()));
    }
    assert!(matches!(verdicts[0], Verdict::Error { .. }));
    assert!(matches!(verdicts[1], Verdict::Error { .. }));
    assert_eq!(verdicts[2], Verdict::Drop(DropReason::HopLimitExceeded));
    assert_eq!(c.counters.icmp_rate_limited.get(), 1);
    // A second later the bucket has a token again.
    c.now_ns = 1_000_000_000;
    let mut buf = frame.clone();
    buf.resize(300, 0);
    assert!(matches!(
        dp.handle(&mut c, 0, &mut buf, frame.len(), frame.len()),
        Verdict::Error { .. }
    ));
}

#[test]
fn udp_tcp_and_unknown_protocols_to_the_router() {
    let dp = router();
    let (v, out) = run(&dp, &udp("2001:db8:1::1", 64, 8));
    let (t, c, _, _) = error_fields(v, &out);
    assert_eq!((t, c), (icmpv6::DEST_UNREACHABLE, icmpv6::UNREACHABLE_PORT));

    let (v, out) = run(&dp, &to_router(64, 253, &[0; 8]));
    let (t, c, pointer, _) = error_fields(v, &out);
    assert_eq!(
        (t, c, pointer),
        (
            icmpv6::PARAMETER_PROBLEM,
            icmpv6::PARAMETER_UNRECOGNIZED_NEXT_HEADER,
            6
        )
    );

    // A SYN to port 22 gets a reset that acknowledges it.
    let mut syn = to_router(
        64,
        6,
        &[
            0x9c, 0x40, 0, 22, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ],
    );
    fix_checksum(&mut syn, 54, 16, 6);
    let (v, out) = run(&dp, &syn);
    assert_eq!(v, Verdict::Reply { len: 74 });
    let ip = Ipv6Packet::new(&out[14..74]).unwrap();
    assert_eq!(
        (ip.src(), ip.dst(), ip.next_header()),
        (a("2001:db8:1::1"), a("2001:db8:1::2"), 6)
    );
    assert!(checksum::verify_upper_layer(
        &ip.src(),
        &ip.dst(),
        6,
        &out[54..74]
    ));
    assert_eq!(&out[54..58], &[0, 22, 0x9c, 0x40]);
    assert_eq!(&out[62..66], &1001u32.to_be_bytes());
    assert_eq!(out[67], 0x14, "RST and ACK");
    // A reset is never answered, and a bad checksum is dropped.
    let mut rst = syn.clone();
    rst[67] = 0x04;
    fix_checksum(&mut rst, 54, 16, 6);
    assert_eq!(dropped(&dp, &rst), DropReason::LocalUnsupported);
    syn[60] ^= 1;
    assert_eq!(dropped(&dp, &syn), DropReason::TcpChecksum);
}

/// A Hop-by-Hop header (8 bytes) with one 4-byte option of `option_type`, then UDP.
fn hop_by_hop(option_type: u8, dst: &str) -> Vec<u8> {
    let mut payload = vec![17, 0, option_type, 2, 0, 0, 1, 0];
    payload.extend_from_slice(&[0x0f, 0xa0, 0x13, 0x88, 0, 8, 0, 0]);
    ip_frame(R0_MAC, "2001:db8:1::2", dst, 64, 0, &payload)
}

#[test]
fn hop_by_hop_options_in_transit() {
    let dp = router();
    let to = "2001:db8:100::5";
    assert!(matches!(
        run(&dp, &hop_by_hop(exthdr::OPT_ROUTER_ALERT, to)).0,
        Verdict::Forward { .. }
    ));
    assert!(
        matches!(run(&dp, &hop_by_hop(0x1e, to)).0, Verdict::Forward { .. }),
        "00: skip"
    );
    assert_eq!(
        run(&dp, &hop_by_hop(0x5e, to)).0,
        Verdict::Drop(DropReason::UnknownOption),
        "01: discard"
    );
    for t in [0x9e, 0xde] {
        let (v, out) = run(&dp, &hop_by_hop(t, to));
        let (ty, c, pointer, _) = error_fields(v, &out);
        assert_eq!(
            (ty, c, pointer),
            (
                icmpv6::PARAMETER_PROBLEM,
                icmpv6::PARAMETER_UNRECOGNIZED_OPTION,
                42
            ),
            "{t:#x}"
        );
    }
    // An option running past its header.
    let mut bad = hop_by_hop(0x1e, to);
    bad[57] = 9;
    let (v, out) = run(&dp, &bad);
    let (ty, c, pointer, _) = error_fields(v, &out);
    assert_eq!(
        (ty, c, pointer),
        (
            icmpv6::PARAMETER_PROBLEM,
            icmpv6::PARAMETER_ERRONEOUS_FIELD,
            43
        )
    );
}

#[test]
fn unknown_option_to_multicast_reports_only_when_its_type_asks() {
    let dp = router();
    let mcast = |t| {
        let mut f = hop_by_hop(t, "ff02::1");
        f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
        f
    };
    assert!(
        matches!(run(&dp, &mcast(0x9e)).0, Verdict::Error { .. }),
        "10: even to multicast"
    );
    assert_eq!(
        run(&dp, &mcast(0xde)).0,
        Verdict::Drop(DropReason::UnknownOption),
        "11: not to multicast"
    );
}

#[test]
fn extension_headers_to_the_router() {
    let dp = router();
    let echo = [128u8, 0, 0, 0, 0x12, 0x34, 0, 7, b'h', b'i'];

    // Destination options before an Echo Request: answered, without them.
    let mut payload = vec![58, 0, 1, 4, 0, 0, 0, 0];
    payload.extend_from_slice(&echo);
    let mut f = to_router(64, 60, &payload);
    fix_checksum(&mut f, 62, 2, 58);
    let (v, out) = run(&dp, &f);
    assert_eq!(
        v,
        Verdict::Reply {
            len: 54 + echo.len()
        }
    );
    assert_eq!(out[20], 58, "the reply carries no extension header");
    assert_eq!(out[54], icmpv6::ECHO_REPLY);
    assert!(checksum::verify_upper_layer(
        &a("2001:db8:1::1"),
        &a("2001:db8:1::2"),
        58,
        &out[54..54 + echo.len()]
    ));

    // A type 0 Routing header with segments left: Parameter Problem at its type.
    let mut rh0 = vec![58, 2, 0, 1, 0, 0, 0, 0];
    rh0.extend_from_slice(&a("2001:db8:9::9").octets());
    rh0.extend_from_slice(&echo);
    let (v, out) = run(&dp, &to_router(64, 43, &rh0));
    let (t, c, pointer, _) = error_fields(v, &out);
    assert_eq!((t, c, pointer), (icmpv6::PARAMETER_PROBLEM, 0, 42));
    assert!(matches!(
        run(&dp, &to_router(64, 43, &rh0)).0,
        Verdict::Error {
            reason: DropReason::RoutingHeader,
            ..
        }
    ));

    // With no segments left it is ignored, and the Echo Request behind it answered.
    rh0[3] = 0;
    let mut f = to_router(64, 43, &rh0);
    fix_checksum(&mut f, 78, 2, 58);
    assert!(matches!(run(&dp, &f).0, Verdict::Reply { .. }));

    // A fragment that is not the last must carry a multiple of 8 bytes.
    let mut frag = vec![58, 0, 0, 1, 0, 0, 0, 9];
    frag.extend_from_slice(&echo);
    let (v, out) = run(&dp, &to_router(64, 44, &frag));
    assert!(
        matches!(
            v,
            Verdict::Error {
                reason: DropReason::BadFragment,
                ..
            }
        ),
        "{v:?}"
    );
    let (t, c, pointer, _) = error_fields(v, &out);
    assert_eq!((t, c, pointer), (icmpv6::PARAMETER_PROBLEM, 0, 4));

    // A chain that runs past the packet.
    let (v, out) = run(&dp, &to_router(64, 60, &[58, 3, 1, 4, 0, 0, 0, 0]));
    let (t, c, pointer, _) = error_fields(v, &out);
    assert_eq!((t, c, pointer), (icmpv6::PARAMETER_PROBLEM, 0, 40));
}

#[test]
fn fragments_in_transit_are_forwarded_untouched() {
    let dp = router();
    let frag = [17u8, 0, 0, 9, 0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8];
    let f = ip_frame(R0_MAC, "2001:db8:1::2", "2001:db8:100::5", 64, 44, &frag);
    let (v, out) = run(&dp, &f);
    assert_eq!(
        v,
        Verdict::Forward {
            port: 1,
            len: f.len()
        }
    );
    assert_eq!(&out[54..f.len()], &frag);
}

/// An Echo Request to the router with `data_len` bytes of data, cut into fragments of at
/// most `chunk` data bytes each, as the frames a host would send.
fn fragmented_echo(data_len: usize, chunk: usize, id: u32) -> (Vec<u8>, Vec<Vec<u8>>) {
    let mut icmp = vec![128u8, 0, 0, 0, 0x42, 0x42, 0, 1];
    icmp.extend((0..data_len).map(|i| (i * 7) as u8));
    let whole = to_router(64, 58, &icmp);
    let mut whole = whole;
    fix_checksum(&mut whole, 54, 2, 58);
    let icmp = whole[54..].to_vec();
    let frames = icmp
        .chunks(chunk)
        .enumerate()
        .map(|(i, part)| {
            let offset = i * chunk;
            let more = offset + part.len() < icmp.len();
            let mut payload = vec![0u8; 8];
            crate::wire::fragment::FragmentHeader {
                next_header: 58,
                offset,
                more,
                id,
            }
            .write(&mut payload);
            payload.extend_from_slice(part);
            to_router(64, 44, &payload)
        })
        .collect();
    (whole, frames)
}

#[test]
fn fragmented_echo_request_is_reassembled_and_answered() {
    let dp = router();
    let mut c = core(&dp);
    let (whole, frames) = fragmented_echo(3000, 1232, 77);
    assert_eq!(frames.len(), 3);
    // Out of order: last, first, middle.
    let mut verdicts = Vec::new();
    for f in [&frames[2], &frames[0], &frames[1]] {
        let mut buf = f.clone();
        buf.resize(f.len() + 64, 0);
        verdicts.push(dp.handle(&mut c, 0, &mut buf, f.len(), f.len()));
    }
    assert_eq!(&verdicts[..2], &[Verdict::Held, Verdict::Held]);
    assert_eq!(
        verdicts[2],
        Verdict::Reassembled {
            port: 0,
            reason: None
        }
    );
    let AnswerAt { slot, start, len } = c.answer.take().expect("the answer's place");
    assert_eq!(len, whole.len());
    let reply = &c.reassembly.buffer_mut(slot)[start..start + len];
    assert_eq!(&reply[0..6], &H1_MAC);
    let ip = Ipv6Packet::new(&reply[14..]).unwrap();
    assert_eq!(
        (ip.src(), ip.dst(), ip.next_header()),
        (a("2001:db8:1::1"), a("2001:db8:1::2"), 58)
    );
    assert_eq!(reply[54], icmpv6::ECHO_REPLY);
    assert_eq!(
        &reply[58..],
        &whole[58..],
        "identifier, sequence and data are kept"
    );
    assert!(checksum::verify_upper_layer(
        &ip.src(),
        &ip.dst(),
        58,
        &reply[54..]
    ));
    c.reassembly.release(slot);
}

#[test]
fn fragment_faults_to_the_router() {
    let dp = router();
    let mut c = core(&dp);
    let (_, frames) = fragmented_echo(100, 48, 5);
    let mut handle = |f: &[u8]| {
        let mut buf = f.to_vec();
        buf.resize(f.len() + 64, 0);
        dp.handle(&mut c, 0, &mut buf, f.len(), f.len())
    };
    assert_eq!(handle(&frames[0]), Verdict::Held);
    // The same first fragment again overlaps itself: the packet is discarded.
    assert_eq!(
        handle(&frames[0]),
        Verdict::Drop(DropReason::FragmentOverlap)
    );
    // RFC 5722 4: the fragments still to come are discarded too.
    assert_eq!(
        handle(&frames[1]),
        Verdict::Drop(DropReason::FragmentOverlap)
    );

    // A fragment ending past 65,535 bytes: Parameter Problem at its Fragment Offset.
    let mut payload = vec![0u8; 8];
    crate::wire::fragment::FragmentHeader {
        next_header: 58,
        offset: 65528,
        more: true,
        id: 9,
    }
    .write(&mut payload);
    payload.extend_from_slice(&[0; 16]);
    let (v, out) = run(&dp, &to_router(64, 44, &payload));
    let (t, code, pointer, _) = error_fields(v, &out);
    assert_eq!((t, code, pointer), (icmpv6::PARAMETER_PROBLEM, 0, 42));
}

#[test]
fn reject_routes() {
    let dp = router();
    assert_eq!(
        run(&dp, &udp("2001:db8:100:dead::1", 64, 8)).0,
        Verdict::Drop(DropReason::Blackhole)
    );
    for (dst, code, reason) in [
        (
            "2001:db8:100:ffff::1",
            icmpv6::UNREACHABLE_NO_ROUTE,
            DropReason::Unreachable,
        ),
        (
            "2001:db8:100:bad::1",
            icmpv6::UNREACHABLE_PROHIBITED,
            DropReason::Prohibited,
        ),
    ] {
        let (v, out) = run(&dp, &udp(dst, 64, 8));
        assert!(
            matches!(v, Verdict::Error { port: 0, reason: r, .. } if r == reason),
            "{dst}: {v:?}"
        );
        let (t, c, _, _) = error_fields(v, &out);
        assert_eq!((t, c), (icmpv6::DEST_UNREACHABLE, code), "{dst}");
    }
}

/// Found by fuzzing: a fragment whose Fragment header names another Fragment header, with
/// the same identification. Put back together it is a fragment again, of the packet whose
/// slot is being handled.
#[test]
fn nested_fragment_headers_are_refused() {
    let dp = router();
    let input: [u8; 73] = [
        0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 0x86,
        0xdd, 0x60, 0x00, 0x00, 0x00, 0x00, 0x10, 0x2c, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x01,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0a, 0x20, 0x01, 0x0d, 0xb8, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x7a,
    ];
    // The fuzz target's first two bytes pick the port and the room.
    let frame = &input[2..];
    let mut buf = frame.to_vec();
    let mut c = core(&dp);
    let v = dp.handle(&mut c, 0, &mut buf, frame.len(), frame.len());
    assert_eq!(v, Verdict::Drop(DropReason::BadFragment));
}

#[test]
fn errors_about_packets_to_the_router_come_from_the_address_they_went_to() {
    let dp = router();
    // UDP to port1's address, arriving on port0.
    let (v, out) = run(&dp, &udp("2001:db8:2::1", 64, 8));
    let (t, c, _, _) = error_fields(v, &out);
    assert_eq!((t, c), (icmpv6::DEST_UNREACHABLE, icmpv6::UNREACHABLE_PORT));
    assert_eq!(
        Ipv6Packet::new(&out[14..]).unwrap().src(),
        a("2001:db8:2::1")
    );
}

#[test]
fn echo_to_anycast_and_multicast_is_answered_from_a_unicast_address() {
    let dp = router();
    for (dst, dst_mac, from) in [
        ("2001:db8:1::", R0_MAC, "2001:db8:1::1"),
        ("ff02::1", [0x33, 0x33, 0, 0, 0, 1], "fe80::ff:fe00:101"),
    ] {
        let mut f = ip_frame(
            dst_mac,
            "2001:db8:1::2",
            dst,
            64,
            58,
            &[128, 0, 0, 0, 0, 9, 0, 1, 7, 7],
        );
        fix_checksum(&mut f, 54, 2, 58);
        let (v, out) = run(&dp, &f);
        assert_eq!(v, Verdict::Reply { len: f.len() }, "{dst}");
        let ip = Ipv6Packet::new(&out[14..f.len()]).unwrap();
        assert_eq!(ip.src(), a(from), "{dst}");
        assert!(
            checksum::verify_upper_layer(&ip.src(), &ip.dst(), 58, &out[54..f.len()]),
            "{dst}"
        );
    }
}

#[test]
fn a_reset_never_goes_to_the_unspecified_address() {
    let dp = router();
    let mut syn = ip_frame(
        R0_MAC,
        "::",
        "2001:db8:1::1",
        64,
        6,
        &[
            0x9c, 0x40, 0, 22, 0, 0, 0x03, 0xe8, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ],
    );
    fix_checksum(&mut syn, 54, 16, 6);
    assert_eq!(dropped(&dp, &syn), DropReason::BadSource);
}

/// `message` to the router behind a Fragment header of offset 0 with no more to come.
fn atomic_fragment(message: &[u8]) -> Vec<u8> {
    let mut payload = vec![58, 0, 0, 0, 0, 0, 0, 42];
    payload.extend_from_slice(message);
    let mut f = to_router(255, 44, &payload);
    fix_checksum(&mut f, 62, 2, 58);
    f
}

#[test]
fn atomic_fragments_are_handled_alone() {
    let dp = router();
    let mut c = core(&dp);
    // A reassembly of the same identification in progress is left alone.
    let (_, frames) = fragmented_echo(100, 48, 42);
    let mut buf = frames[0].clone();
    let len = buf.len();
    assert_eq!(dp.handle(&mut c, 0, &mut buf, len, len), Verdict::Held);

    let f = atomic_fragment(&[128, 0, 0, 0, 0, 5, 0, 1, 1, 2, 3, 4]);
    let mut buf = f.clone();
    buf.resize(f.len() + 64, 0);
    let v = dp.handle(&mut c, 0, &mut buf, f.len(), f.len());
    assert_eq!(v, Verdict::Reply { len: 54 + 12 });
    assert_eq!(buf[20], 58, "the reply carries no Fragment header");
    assert!(checksum::verify_upper_layer(
        &a("2001:db8:1::1"),
        &a("2001:db8:1::2"),
        58,
        &buf[54..66]
    ));
}

#[test]
fn fragmented_neighbor_discovery_is_ignored() {
    let dp = router();
    let ns = &testvec::NS_MULTICAST_FRAME[54..];
    let mut f = atomic_fragment(ns);
    // To the router's address rather than its solicited-node group, so that the frame
    // is for the router whatever its checks.
    fix_checksum(&mut f, 62, 2, 58);
    assert_eq!(dropped(&dp, &f), DropReason::NdInvalid);
}

#[test]
fn reassembled_length_counts_the_headers_before_the_fragment_header() {
    let dp = router();
    // Destination options (8 bytes) before a fragment that, alone, ends at 65,535.
    let mut payload = vec![44, 0, 1, 4, 0, 0, 0, 0];
    let mut header = vec![0u8; 8];
    crate::wire::fragment::FragmentHeader {
        next_header: 58,
        offset: 65528,
        more: false,
        id: 3,
    }
    .write(&mut header);
    payload.extend_from_slice(&header);
    payload.extend_from_slice(&[0; 7]);
    let (v, out) = run(&dp, &to_router(64, 60, &payload));
    let (t, c, pointer, _) = error_fields(v, &out);
    assert_eq!((t, c, pointer), (icmpv6::PARAMETER_PROBLEM, 0, 50));
}

#[test]
fn first_fragment_without_the_whole_chain_gets_parameter_problem_code_3() {
    let dp = router();
    let payload = [60u8, 0, 0, 1, 0, 0, 0, 7, 58, 1, 0, 0, 0, 0, 0, 0];
    let (v, out) = run(&dp, &to_router(64, 44, &payload));
    let (t, c, pointer, _) = error_fields(v, &out);
    assert_eq!(
        (t, c, pointer),
        (
            icmpv6::PARAMETER_PROBLEM,
            icmpv6::PARAMETER_INCOMPLETE_CHAIN,
            0
        )
    );
}

#[test]
fn a_route_hint_counts_for_its_own_destination_once() {
    let dp = router();
    let frame = udp("2001:db8:100::5", 64, 20);
    assert_eq!(destination_key(&frame), u128::from(a("2001:db8:100::5")));
    assert_eq!(destination_key(&frame[..50]), NO_HINT.0);
    let mut c = core(&dp);
    let send = |c: &mut Core| {
        let mut buf = frame.clone();
        buf.resize(frame.len() + 128, 0);
        dp.handle(c, 0, &mut buf, frame.len(), frame.len())
    };

    // A hint for another destination is not taken.
    c.route_hint = (u128::from(a("2001:db8:100::6")), 0);
    assert!(matches!(send(&mut c), Verdict::Forward { port: 1, .. }));
    // One for this destination is: leaf 0 says there is no route.
    c.route_hint = (u128::from(a("2001:db8:100::5")), 0);
    assert!(matches!(
        send(&mut c),
        Verdict::Error {
            reason: DropReason::NoRoute,
            ..
        }
    ));
    // Once.
    assert_eq!(c.route_hint, NO_HINT);
    assert!(matches!(send(&mut c), Verdict::Forward { port: 1, .. }));
}

#[test]
fn an_unresolved_next_hop_leaves_the_packet_unchanged_for_resolution() {
    let dp = router();
    let frame = udp("2001:db8:2::99", 64, 8);
    let mut c = core(&dp);
    let mut buf = frame.clone();
    buf.resize(frame.len() + 128, 0);
    let v = dp.handle(&mut c, 0, &mut buf, frame.len(), frame.len());
    assert_eq!(
        v,
        Verdict::Unresolved {
            port: 1,
            len: frame.len()
        }
    );
    assert_eq!(c.unresolved, a("2001:db8:2::99"));
    assert_eq!(&buf[..frame.len()], &frame[..]);

    // Resolved: hop limit down by one, Ethernet addresses rewritten.
    let mut sent = buf.clone();
    dp.finish_forward(&mut sent, 1, MacAddr([2, 0, 0, 0, 9, 9]));
    assert_eq!(&sent[0..6], &[2, 0, 0, 0, 9, 9]);
    assert_eq!(&sent[6..12], &R1_MAC);
    assert_eq!(sent[21], 63);

    // Failed: Destination Unreachable, code 3, back to the source.
    let v = dp.address_unreachable(&mut c, &mut buf, 0, frame.len());
    assert!(
        matches!(
            v,
            Verdict::Error {
                port: 0,
                reason: DropReason::NoNeighbor,
                ..
            }
        ),
        "{v:?}"
    );
    let (t, code, _, _) = error_fields(v, &buf);
    assert_eq!(
        (t, code),
        (icmpv6::DEST_UNREACHABLE, icmpv6::UNREACHABLE_ADDRESS)
    );
}

#[test]
fn a_copy_of_a_neighbor_entry_resolves_and_a_stale_one_is_told_once() {
    use crate::neigh::cache::State;
    let dp = router();
    let frame = udp("2001:db8:2::99", 64, 8);
    let mut c = core(&dp);
    let mac = MacAddr([2, 0, 0, 0, 9, 9]);
    let send = |c: &mut Core| {
        let mut buf = frame.clone();
        let v = dp.handle(c, 0, &mut buf, frame.len(), frame.len());
        (v, buf)
    };
    c.neighbors
        .publish(1, a("2001:db8:2::99"), mac, State::Reachable, u64::MAX);
    let (v, out) = send(&mut c);
    assert!(matches!(v, Verdict::Forward { port: 1, .. }), "{v:?}");
    assert_eq!(&out[0..6], &mac.0);
    assert!(c.nd_events.is_empty());

    c.neighbors
        .publish(1, a("2001:db8:2::99"), mac, State::Stale, 0);
    for _ in 0..3 {
        assert!(matches!(send(&mut c).0, Verdict::Forward { port: 1, .. }));
    }
    assert_eq!(
        c.nd_events,
        [Event::Used {
            port: 1,
            addr: a("2001:db8:2::99")
        }]
    );

    c.neighbors
        .publish(1, a("2001:db8:2::99"), mac, State::Failed, 0);
    assert!(matches!(
        send(&mut c).0,
        Verdict::Unresolved { port: 1, .. }
    ));
}

#[test]
fn advertisements_and_solicitations_tell_the_neighbor_layer() {
    let dp = router();
    // A solicitation with a source link-layer address is answered, and the address
    // recorded.
    let mut c = core(&dp);
    let ns = testvec::NS_MULTICAST_FRAME;
    let mut buf = ns.to_vec();
    buf.resize(ns.len() + 128, 0);
    assert_eq!(
        dp.handle(&mut c, 0, &mut buf, ns.len(), ns.len()),
        Verdict::Reply { len: 86 }
    );
    assert_eq!(
        c.nd_events,
        [Event::Source {
            port: 0,
            addr: a("2001:db8:1::2"),
            lladdr: "02:00:00:00:01:02".parse().unwrap(),
            from: crate::neigh::cache::Source::Solicitation,
        }]
    );

    // An advertisement to the router is taken in.
    let answer = buf[..86].to_vec();
    let mut na = answer.clone();
    // Turn the router's own answer around: from the host, to the router.
    na[0..6].copy_from_slice(&R0_MAC);
    na[6..12].copy_from_slice(&H1_MAC);
    na[22..38].copy_from_slice(&a("2001:db8:1::2").octets());
    na[38..54].copy_from_slice(&a("2001:db8:1::1").octets());
    na[62..78].copy_from_slice(&a("2001:db8:1::2").octets());
    na[80..86].copy_from_slice(&H1_MAC[..]);
    na[56..58].copy_from_slice(&[0, 0]);
    let sum = checksum::upper_layer(&a("2001:db8:1::2"), &a("2001:db8:1::1"), 58, &na[54..86]);
    na[56..58].copy_from_slice(&sum.to_be_bytes());
    let mut c = core(&dp);
    let mut buf = na.clone();
    assert_eq!(
        dp.handle(&mut c, 0, &mut buf, na.len(), na.len()),
        Verdict::Consumed
    );
    match c.nd_events[..] {
        [Event::Advert { port: 0, advert }] => {
            assert_eq!(advert.target, a("2001:db8:1::2"));
            assert_eq!(advert.lladdr, Some(MacAddr(H1_MAC)));
            assert!(advert.solicited && advert.override_ && advert.router);
        }
        ref other => panic!("{other:?}"),
    }
    // With a hop limit other than 255 it is refused.
    let mut bad = na.clone();
    bad[21] = 64;
    assert_eq!(
        dp.handle(&mut core(&dp), 0, &mut bad, na.len(), na.len()),
        Verdict::Drop(DropReason::NdInvalid)
    );
}

#[test]
fn solicitations_the_router_sends() {
    let dp = router();
    let mut buf = vec![0u8; 128];
    let target = a("2001:db8:2::99");
    let len = dp.write_solicitation(&mut buf, 1, &target, None).unwrap();
    let f = &buf[..len];
    let group = ipv6::solicited_node(&target);
    assert_eq!(&f[0..6], &MacAddr::ipv6_multicast(&group).0);
    assert_eq!(&f[6..12], &R1_MAC);
    let ip = Ipv6Packet::new(&f[14..]).unwrap();
    assert_eq!((ip.hop_limit(), ip.dst()), (255, group));
    assert!(ip.src().is_unicast_link_local());
    assert!(checksum::verify_upper_layer(
        &ip.src(),
        &ip.dst(),
        58,
        &f[54..]
    ));
    let ns = nd::parse_solicitation(&ip.src(), &ip.dst(), 255, &f[54..]).unwrap();
    assert_eq!(ns.target, target);
    assert_eq!(ns.source_lladdr, Some(MacAddr(R1_MAC)));
    // A unicast probe goes to the cached address.
    let mac = MacAddr([2, 0, 0, 0, 9, 9]);
    let len = dp
        .write_solicitation(&mut buf, 1, &target, Some(mac))
        .unwrap();
    let ip = Ipv6Packet::new(&buf[14..len]).unwrap();
    assert_eq!((&buf[0..6], ip.dst()), (&mac.0[..], target));
}

#[test]
fn router_solicitations_and_advertisements() {
    let mut lan = PortView::new(MacAddr(R0_MAC), 1500, &[(a("2001:db8:1::1"), 64)]);
    lan.ra = Some(crate::advert::RaConf {
        preference: crate::route::Preference::High,
        ..Default::default()
    });
    let wan = PortView::new(MacAddr(R1_MAC), 1280, &[(a("2001:db8:2::1"), 64)]);
    let rib = crate::fib::Rib::with_routes(2, &[], &[]).unwrap();
    let dp = Dataplane::new(vec![lan, wan], rib.cell(), NeighborTable::default());

    // The advertisement: to all-nodes from the link-local address, high preference,
    // the /64 as an autonomous prefix.
    let mut buf = vec![0u8; 256];
    let len = dp.write_router_advert(&mut buf, 0, None).unwrap();
    let f = &buf[..len];
    let ip = Ipv6Packet::new(&f[14..]).unwrap();
    assert_eq!((ip.dst(), ip.hop_limit()), (ipv6::ALL_NODES, 255));
    assert!(ip.src().is_unicast_link_local());
    assert!(checksum::verify_upper_layer(
        &ip.src(),
        &ip.dst(),
        58,
        &f[54..]
    ));
    assert_eq!(
        (f[54], f[59] & 0x18, &f[60..62]),
        (134, 0x08, &1800u16.to_be_bytes()[..])
    );
    // After the 16-byte header, the link-layer address and MTU options, 8 bytes each.
    assert_eq!(&f[54 + 48..54 + 64], &a("2001:db8:1::").octets());
    // The last one, with lifetime 0, says medium (RFC 4191 2.2).
    let len = dp.write_router_advert(&mut buf, 0, Some(0)).unwrap();
    assert_eq!((buf[59] & 0x18, &buf[60..62]), (0, &[0u8, 0][..]));
    assert!(len > 54);
    // A port that does not advertise makes none.
    assert!(dp.write_router_advert(&mut buf, 1, None).is_none());

    // A solicitation with a source link-layer address, to all-routers.
    let rs = || {
        let src = a("fe80::2");
        let mut icmp = vec![133, 0, 0, 0, 0, 0, 0, 0, 1, 1];
        icmp.extend_from_slice(&H1_MAC);
        let sum = checksum::upper_layer(&src, &ipv6::ALL_ROUTERS, 58, &icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut f = Vec::new();
        f.extend_from_slice(&MacAddr::ipv6_multicast(&ipv6::ALL_ROUTERS).0);
        f.extend_from_slice(&H1_MAC);
        f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0, 0, 16, 58, 255]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&ipv6::ALL_ROUTERS.octets());
        f.extend_from_slice(&icmp);
        f
    };
    let frame = rs();
    let mut c = core(&dp);
    let mut b = frame.clone();
    assert_eq!(
        dp.handle(&mut c, 0, &mut b, frame.len(), frame.len()),
        Verdict::Consumed
    );
    assert_eq!(
        c.nd_events,
        [
            Event::Source {
                port: 0,
                addr: a("fe80::2"),
                lladdr: MacAddr(H1_MAC),
                from: crate::neigh::cache::Source::RouterSolicitation,
            },
            Event::RouterSolicit { port: 0 }
        ]
    );
    // On a port that does not advertise, it is not answered.
    let mut c = core(&dp);
    let mut b = frame.clone();
    assert_eq!(
        dp.handle(&mut c, 1, &mut b, frame.len(), frame.len()),
        Verdict::Drop(DropReason::LocalUnsupported)
    );
    assert!(c.nd_events.is_empty());
}

#[test]
fn a_packet_back_out_of_its_own_link_gets_its_source_a_redirect() {
    use crate::neigh::cache::State;
    let dp = router();
    let mut c = core(&dp);
    let mac = MacAddr([2, 0, 0, 0, 1, 5]);
    c.neighbors
        .publish(0, a("2001:db8:1::5"), mac, State::Reachable, u64::MAX);
    // From host 1 to a neighbor on its own link, through the router.
    let frame = testvec::udp_frame(
        R0_MAC,
        H1_MAC,
        a("2001:db8:1::2"),
        a("2001:db8:1::5"),
        64,
        (1, 2),
        8,
    );
    let mut buf = frame.clone();
    let v = dp.handle(&mut c, 0, &mut buf, frame.len(), frame.len());
    assert!(
        matches!(v, Verdict::Forward { port: 0, .. }),
        "still forwarded: {v:?}"
    );
    let r = c.redirect.take().expect("a redirect");
    assert_eq!(
        r,
        Redirect {
            port: 0,
            to: a("2001:db8:1::2"),
            to_mac: MacAddr(H1_MAC),
            target: a("2001:db8:1::5"),
            destination: a("2001:db8:1::5"),
            target_mac: Some(mac),
        }
    );
    let mut out = vec![0u8; 1514];
    let len = dp
        .write_redirect(&mut out, &r, &buf[14..frame.len()])
        .unwrap();
    let ip = Ipv6Packet::new(&out[14..len]).unwrap();
    assert!(ip.src().is_unicast_link_local());
    assert_eq!((ip.dst(), ip.hop_limit()), (a("2001:db8:1::2"), 255));
    assert!(checksum::verify_upper_layer(
        &ip.src(),
        &ip.dst(),
        58,
        &out[54..len]
    ));
    assert_eq!(out[54], icmpv6::REDIRECT);
    assert_eq!(&out[0..6], &H1_MAC);

    // Between the router's two links, or from a source not on the link: none.
    let mut c = core(&dp);
    let mut buf = udp("2001:db8:100::5", 64, 8);
    let len = buf.len();
    dp.handle(&mut c, 0, &mut buf, len, len);
    assert_eq!(c.redirect, None);
    c.neighbors
        .publish(0, a("2001:db8:1::5"), mac, State::Reachable, u64::MAX);
    let mut buf = testvec::udp_frame(
        R0_MAC,
        H1_MAC,
        a("2001:db8:77::2"),
        a("2001:db8:1::5"),
        64,
        (1, 2),
        8,
    );
    let len = buf.len();
    assert!(matches!(
        dp.handle(&mut c, 0, &mut buf, len, len),
        Verdict::Forward { port: 0, .. }
    ));
    assert_eq!(c.redirect, None);
}
