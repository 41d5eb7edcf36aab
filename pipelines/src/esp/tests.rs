//! ESP against the published vectors (RFC 7634 Appendix A; the AES-GCM ESP test cases of
//! draft-mcgrew-gcm-test-01), then in and out through whole packets: tunnel and
//! transport mode, extended sequence numbers, and every refusal.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Vector {
    source: &'static str,
    aead: Aead,
    key_and_salt: &'static str,
    spi: u32,
    seq: u64,
    esn: bool,
    iv: &'static str,
    plaintext: &'static str,
    sealed: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector {
        source: "RFC 7634 Appendix A",
        aead: Aead::ChaCha20Poly1305,
        key_and_salt: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3",
        spi: 0x0102_0304,
        seq: 5,
        esn: false,
        iv: "1011121314151617",
        plaintext: "45000054a6f200004001e778c6336405c000020508005b7a3a080000553bec100007362708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363701020204",
        sealed: "24039428b97f417e3c13753a4f05087b67c352e6a7fab1b982d466ef407ae5c614ee8099d52844eb61aa95dfab4c02f72aa71e7c4c4f64c9befe2facc638e8f3cbec163fac469b502773f6fb94e664da9165b82829f641e076aaa8266b7fb0f7b11b369907e1ad43",
    },
    Vector {
        source: "draft-mcgrew-gcm-test-01 case 1 (ESN)",
        aead: Aead::Aes128Gcm,
        key_and_salt: "4c80cdefbb5d10da906ac73c3613a6342e443b68",
        spi: 0x4321,
        seq: 0x8765_4321_0000_0000,
        esn: true,
        iv: "4956ed7e3b244cfe",
        plaintext: "45000048699a000080114db7c0a80102c0a801010a9bf15638d301000001000000000000045f736970045f756470037369700963796265726369747902646b000021000101020201",
        sealed: "fecf537e729d5b07dc30df528dd22b768d1b98736696a6fd348509fa13ceac34cfa2436f14a3f3cf65925bf1f4a13c5d15b21e1884f5ff6247aeabb786b93bce61bc17d768fd9732459018148f6cbe722fd04796562dfdb4",
    },
    Vector {
        source: "draft-mcgrew-gcm-test-01 case 2",
        aead: Aead::Aes128Gcm,
        key_and_salt: "feffe9928665731c6d6a8f9467308308cafebabe",
        spi: 0xa5f8,
        seq: 0xa,
        esn: false,
        iv: "facedbaddecaf888",
        plaintext: "4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d001000001000000000000037369700963796265726369747902646b00000100010001",
        sealed: "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd183b70d3aa8bc6ee4c309e9d85a41ad4a",
    },
    Vector {
        source: "draft-mcgrew-gcm-test-01 case 3",
        aead: Aead::Aes256Gcm,
        key_and_salt: "abbccddef00112233445566778899aababbccddef00112233445566778899aab11223344",
        spi: 0x4a2c_bfe3,
        seq: 2,
        esn: false,
        iv: "0102030405060708",
        plaintext: "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee0000000007002400020bf0000020405b40101040201020201",
        sealed: "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763748a637985771d347f0545659f14e99def842d8eb335f4eecfdbf831824b4c4915956c96",
    },
    Vector {
        source: "draft-mcgrew-gcm-test-01 case 9 (ESN)",
        aead: Aead::Aes256Gcm,
        key_and_salt: "abbccddef00112233445566778899aababbccddef00112233445566778899aab73616c74",
        spi: 0x1740_5e67,
        seq: 0x156f_3126_dd0d_b99b,
        esn: true,
        iv: "616e640169766563",
        plaintext: "45080028732c00004006e9f90a0106120a01038f06b88023dd6bafbecb71260250101f646d540001",
        sealed: "f2d69ecdbd5a0d5b8d5ef38bad4da58d1f278fde98ef67549d524a3018d9a57ff4d3a31ce673119e451626c2415771e3b7eebca614c89b35",
    },
    Vector {
        source: "draft-mcgrew-gcm-test-01 case 17 (ESN)",
        aead: Aead::Aes128Gcm,
        key_and_salt: "4c80cdefbb5d10da906ac73c3613a63422433c64",
        spi: 0x4321,
        seq: 0x8765_4321_0000_0007,
        esn: true,
        iv: "4855ec7d3a234bfd",
        plaintext: "0800c6cd020007006162636465666768696a6b6c6d6e6f707172737401020201",
        sealed: "74752e8aeb5d873cd7c0f4acc36c4bff84b7d7b98f0ca8b6acda6894bc619069ef9cbc28fe1b56a7c4e0d58c86cd2bc0",
    },
];

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn config(aead: Aead, key: Vec<u8>, spi: u32, esn: bool, mode: Mode) -> EspConfig {
    EspConfig {
        spi,
        src: a("2001:db8:f::1"),
        dst: a("2001:db8:f::2"),
        mode,
        aead,
        key,
        esn,
        replay_window: 1024,
        lifetime: Lifetime::default(),
    }
}

#[test]
fn the_published_vectors_seal_and_open() {
    for v in VECTORS {
        let esp = Esp::new(
            &config(v.aead, hex(v.key_and_salt), v.spi, v.esn, Mode::Tunnel),
            0,
        )
        .unwrap();
        let iv: [u8; 8] = hex(v.iv).try_into().unwrap();
        let mut buf = hex(v.plaintext);
        let icv = esp.seal(v.seq, &iv, &mut buf).unwrap();
        buf.extend_from_slice(&icv);
        assert_eq!(buf, hex(v.sealed), "{}: sealed", v.source);
        let n = esp.open(v.seq, &iv, &mut buf).unwrap();
        assert_eq!(buf[..n], hex(v.plaintext)[..], "{}: opened", v.source);
        // One bit changed anywhere fails the check.
        let mut bad = hex(v.sealed);
        bad[7] ^= 0x10;
        assert_eq!(
            esp.open(v.seq, &iv, &mut bad),
            Err(Drop::AuthFailed),
            "{}",
            v.source
        );
        // So does another sequence number, which the AAD carries.
        let mut other = hex(v.sealed);
        assert_eq!(
            esp.open(v.seq + 1, &iv, &mut other),
            Err(Drop::AuthFailed),
            "{}",
            v.source
        );
    }
}

/// An IPv6 packet from 2001:db8:1::2 to 2001:db8:2::2 with `len` bytes of UDP payload,
/// in a buffer with room around it.
fn packet(len: usize) -> (Vec<u8>, usize, usize) {
    let total = 40 + 8 + len;
    let mut buf = vec![0u8; 128 + total + 128];
    let p = &mut buf[128..128 + total];
    p[0] = 0x60 | 0x0b;
    p[1] = 0x80 | 0x0a;
    p[2] = 0xbc;
    p[3] = 0xde;
    p[4..6].copy_from_slice(&((8 + len) as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 63;
    p[8..24].copy_from_slice(&a("2001:db8:1::2").octets());
    p[24..40].copy_from_slice(&a("2001:db8:2::2").octets());
    for (i, b) in p[40..].iter_mut().enumerate() {
        *b = i as u8;
    }
    (buf, 128, total)
}

fn pair(aead: Aead, esn: bool, mode: Mode) -> (Esp, Esp) {
    let key_len = match aead {
        Aead::Aes128Gcm => 20,
        _ => 36,
    };
    let key: Vec<u8> = (0..key_len).map(|i| i as u8 * 7).collect();
    let c = config(aead, key, 0x1000, esn, mode);
    (Esp::new(&c, 0).unwrap(), Esp::new(&c, 0).unwrap())
}

#[test]
fn tunnel_mode_round_trips_every_size_and_algorithm() {
    for aead in [Aead::Aes128Gcm, Aead::Aes256Gcm, Aead::ChaCha20Poly1305] {
        for esn in [false, true] {
            let (mut tx, mut rx) = pair(aead, esn, Mode::Tunnel);
            for len in [0, 1, 2, 3, 64, 512, 1400] {
                let (mut buf, start, total) = packet(len);
                let original = buf[start..start + total].to_vec();
                let mut p = Packet::new(&mut buf, start, total);
                tx.output(&mut p, 0).unwrap();
                let out = p.data().to_vec();
                let new_start = p.start();
                // Outer header: ESP from the state's source to its destination, the
                // inner traffic class and flow label kept.
                assert_eq!(out[6], PROTO_ESP);
                assert_eq!(out[7], HOP_LIMIT);
                assert_eq!(out[..4], [0x6b, 0x8a, 0xbc, 0xde]);
                assert_eq!(out[8..24], a("2001:db8:f::1").octets());
                assert_eq!(out[24..40], a("2001:db8:f::2").octets());
                assert_eq!(
                    usize::from(u16::from_be_bytes([out[4], out[5]])),
                    out.len() - 40
                );
                assert_eq!((out.len() - 40 - 16 - 16) % 4, 0, "the trailer aligns to 4");
                let (head, tail) = tx.overhead(total);
                assert_eq!(out.len(), total + head + tail);
                // The inner packet does not show.
                assert!(!out.windows(16).any(|w| w == &original[8..24]));

                let mut p = Packet::new(&mut buf, new_start, out.len());
                rx.input(&mut p, 40, 0).unwrap();
                assert_eq!(p.data(), &original[..], "{aead:?} esn {esn} len {len}");
            }
            assert_eq!(tx.counters().packets, 7);
            assert_eq!(rx.counters().packets, 7);
            assert_eq!(rx.sequence().1, 7);
        }
    }
}

#[test]
fn transport_mode_keeps_the_header_and_protects_the_payload() {
    let (mut tx, mut rx) = pair(Aead::Aes256Gcm, false, Mode::Transport);
    let (mut buf, start, total) = packet(100);
    let original = buf[start..start + total].to_vec();
    let mut p = Packet::new(&mut buf, start, total);
    tx.output(&mut p, 0).unwrap();
    let out = p.data().to_vec();
    let new_start = p.start();
    assert_eq!(out[..4], original[..4]);
    assert_eq!(out[6], PROTO_ESP);
    assert_eq!(out[8..40], original[8..40]);
    assert_eq!(
        usize::from(u16::from_be_bytes([out[4], out[5]])),
        out.len() - 40
    );
    let mut p = Packet::new(&mut buf, new_start, out.len());
    rx.input(&mut p, 40, 0).unwrap();
    assert_eq!(p.data(), &original[..]);

    // A packet with a Hop-by-Hop header is not sent in transport mode.
    let (mut buf, start, total) = packet(10);
    buf[start + 6] = 0;
    let mut p = Packet::new(&mut buf, start, total);
    assert_eq!(tx.output(&mut p, 0), Err(Drop::Unsupported));
}

/// One packet out of `tx`, as bytes.
fn sealed(tx: &mut Esp, len: usize) -> Vec<u8> {
    let (mut buf, start, total) = packet(len);
    let mut p = Packet::new(&mut buf, start, total);
    tx.output(&mut p, 0).unwrap();
    p.data().to_vec()
}

/// Gives `bytes` to `rx`, in a buffer of their own.
fn open(rx: &mut Esp, bytes: &[u8]) -> Result<(), Drop> {
    let mut buf = bytes.to_vec();
    let n = buf.len();
    rx.input(&mut Packet::new(&mut buf, 0, n), 40, 0)
}

#[test]
fn replayed_tampered_and_truncated_packets_are_refused_and_counted() {
    let (mut tx, mut rx) = pair(Aead::Aes128Gcm, false, Mode::Tunnel);
    let first = sealed(&mut tx, 64);
    assert_eq!(open(&mut rx, &first), Ok(()));
    assert_eq!(open(&mut rx, &first), Err(Drop::Replayed));

    let mut tampered = sealed(&mut tx, 64);
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert_eq!(open(&mut rx, &tampered), Err(Drop::AuthFailed));
    // A forged packet does not take its number: the genuine one still gets in.
    tampered[last] ^= 1;
    assert_eq!(open(&mut rx, &tampered), Ok(()));

    let short = sealed(&mut tx, 64);
    assert_eq!(
        open(&mut rx, &short[..40 + 16 + 2 + 15]),
        Err(Drop::Truncated)
    );

    // Far ahead, then an old one.
    for _ in 0..2000 {
        tx.next_sequence().unwrap();
    }
    let ahead = sealed(&mut tx, 64);
    assert_eq!(open(&mut rx, &ahead), Ok(()));
    assert_eq!(open(&mut rx, &short), Err(Drop::TooOld));

    let c = rx.counters();
    assert_eq!(
        (c.packets, c.replayed, c.auth_failed, c.too_old),
        (3, 1, 1, 1)
    );
}

#[test]
fn with_extended_numbers_a_packet_below_the_window_fails_authentication() {
    // RFC 4303 A2.2: low bits below the window are taken for the next 2^32 block, where
    // the packet's ICV does not hold; it is refused and moves nothing.
    let (mut tx, mut rx) = pair(Aead::Aes128Gcm, true, Mode::Tunnel);
    let old = sealed(&mut tx, 64);
    for _ in 0..2000 {
        tx.next_sequence().unwrap();
    }
    assert_eq!(open(&mut rx, &sealed(&mut tx, 64)), Ok(()));
    assert_eq!(open(&mut rx, &old), Err(Drop::AuthFailed));
    assert_eq!(rx.sequence().1, 2002);
}

#[test]
fn extended_sequence_numbers_carry_on_past_32_bits() {
    let (mut tx, mut rx) = pair(Aead::ChaCha20Poly1305, true, Mode::Tunnel);
    let start = (1u64 << 32) - 3;
    tx.sent = start - 1;
    rx.window.record(start - 1).unwrap();
    for _ in 0..6 {
        let pkt = sealed(&mut tx, 32);
        assert_eq!(open(&mut rx, &pkt), Ok(()));
    }
    assert_eq!(rx.sequence().1, (1 << 32) + 2);
}

#[test]
fn a_sequence_counter_never_wraps() {
    let (mut tx, _) = pair(Aead::Aes128Gcm, false, Mode::Tunnel);
    tx.sent = u64::from(u32::MAX) - 1;
    let (mut buf, start, total) = packet(8);
    let mut p = Packet::new(&mut buf, start, total);
    assert_eq!(tx.output(&mut p, 0), Ok(()));
    let (mut buf, start, total) = packet(8);
    let mut p = Packet::new(&mut buf, start, total);
    assert_eq!(tx.output(&mut p, 0), Err(Drop::SequenceExhausted));
    assert_eq!(tx.counters().exhausted, 1);
}

#[test]
fn a_hard_lifetime_stops_the_state() {
    let key: Vec<u8> = (0..20).collect();
    let mut c = config(Aead::Aes128Gcm, key, 0x2000, false, Mode::Tunnel);
    c.lifetime.hard.packets = 2;
    c.lifetime.soft.packets = 1;
    let mut tx = Esp::new(&c, 0).unwrap();
    assert_eq!(tx.expiry(), Expiry::Live);
    sealed(&mut tx, 8);
    sealed(&mut tx, 8);
    assert_eq!(tx.expiry(), Expiry::Soft, "checked before each packet");
    let (mut buf, start, total) = packet(8);
    assert_eq!(
        tx.output(&mut Packet::new(&mut buf, start, total), 0),
        Err(Drop::Expired)
    );
    assert_eq!(tx.expiry(), Expiry::Hard);
}

#[test]
fn bad_keys_and_spis_are_named() {
    let e = Aead::from_name("rfc4106(gcm(aes))", 16).unwrap_err();
    assert!(e.to_string().contains("invalid key length"), "{e}");
    assert_eq!(
        Aead::from_name("rfc4106(gcm(aes))", 36),
        Ok(Aead::Aes256Gcm)
    );
    assert!(Aead::from_name("cbc(aes)", 16).is_err());
    let c = config(Aead::Aes128Gcm, vec![0; 20], 7, false, Mode::Tunnel);
    assert_eq!(Esp::new(&c, 0).unwrap_err(), EspError::Spi);
    let c = config(
        Aead::ChaCha20Poly1305,
        vec![0; 20],
        0x1000,
        false,
        Mode::Tunnel,
    );
    assert!(matches!(Esp::new(&c, 0), Err(EspError::KeyLength { .. })));
    // The key never shows.
    let c = config(Aead::Aes128Gcm, vec![0xab; 20], 0x1000, false, Mode::Tunnel);
    assert!(!format!("{c:?}").contains("ab, ab") && !format!("{c:?}").contains("171"));
    assert!(!format!("{:?}", Esp::new(&c, 0).unwrap()).contains("171"));
}
