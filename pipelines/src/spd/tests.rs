use super::*;
use crate::esp::{Aead, Esp, EspConfig, Mode, PROTO_ESP, PROTO_IPV6};
use crate::transform::{Lifetime, Transform};
use crate::tunnel::Ip6Ip6;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn net(s: &str) -> Net {
    let (addr, len) = s.split_once('/').unwrap();
    Net {
        addr: a(addr),
        len: len.parse().unwrap(),
    }
}

fn flow(src: &str, dst: &str, proto: u8, dport: u16) -> Flow {
    Flow {
        src: a(src),
        dst: a(dst),
        proto,
        sport: 40000,
        dport,
    }
}

fn policy(src: &str, dst: &str, direction: Direction, priority: u32, action: Action) -> Policy {
    Policy {
        selector: Selector {
            src: net(src),
            dst: net(dst),
            proto: None,
            sport: None,
            dport: None,
        },
        direction,
        priority,
        action,
    }
}

const LEFT: &str = "2001:db8:f::1";
const RIGHT: &str = "2001:db8:f::2";

fn esp(spi: u32, src: &str, dst: &str, mode: Mode) -> Box<Esp> {
    Box::new(
        Esp::new(
            &EspConfig {
                spi,
                src: a(src),
                dst: a(dst),
                mode,
                aead: Aead::Aes128Gcm,
                key: (0..20).collect(),
                esn: true,
                replay_window: 1024,
                lifetime: Lifetime::default(),
            },
            0,
        )
        .unwrap(),
    )
}

fn template(proto: u8, src: &str, dst: &str) -> Template {
    Template {
        proto,
        src: a(src),
        dst: a(dst),
        spi: None,
    }
}

#[test]
fn the_first_match_in_priority_order_wins() {
    let mut spd = Spd::new();
    spd.add(policy(
        "::/0",
        "2001:db8:2::/48",
        Direction::Out,
        10,
        Action::Bypass,
    ));
    spd.add(policy(
        "::/0",
        "2001:db8:2:5::/64",
        Direction::Out,
        5,
        Action::Discard,
    ));
    spd.add(policy("::/0", "::/0", Direction::Fwd, 1, Action::Discard));
    let f = flow("2001:db8:1::2", "2001:db8:2:5::9", 17, 53);
    assert_eq!(
        spd.lookup(Direction::Out, &f).unwrap().1.action,
        Action::Discard
    );
    let g = flow("2001:db8:1::2", "2001:db8:2:6::9", 17, 53);
    assert_eq!(
        spd.lookup(Direction::Out, &g).unwrap().1.action,
        Action::Bypass
    );
    assert!(spd.lookup(Direction::In, &g).is_none());
    assert_eq!(spd.remove(0).unwrap().action, Action::Discard);
    assert_eq!(spd.len(), 2);
    assert!(spd.remove(5).is_err());
}

#[test]
fn selectors_match_protocol_and_port_ranges() {
    let mut s = policy("2001:db8:1::/64", "::/0", Direction::Out, 0, Action::Bypass).selector;
    s.proto = Some(6);
    s.dport = Some((22, 23));
    assert!(s.matches(&flow("2001:db8:1::2", "2001:db8:9::1", 6, 22)));
    assert!(!s.matches(&flow("2001:db8:1::2", "2001:db8:9::1", 17, 22)));
    assert!(!s.matches(&flow("2001:db8:1::2", "2001:db8:9::1", 6, 24)));
    assert!(!s.matches(&flow("2001:db8:2::2", "2001:db8:9::1", 6, 22)));
}

#[test]
fn bundles_resolve_and_follow_the_states() {
    let mut sad = Sad::new();
    let mut spd = Spd::new();
    let i = spd.add(policy(
        "2001:db8:1::/48",
        "2001:db8:2::/48",
        Direction::Out,
        0,
        Action::Protect(vec![template(PROTO_ESP, LEFT, RIGHT)]),
    ));
    assert_eq!(
        spd.bundle(i, &sad),
        Err(SpdError::Unresolved(0, PROTO_ESP, a(LEFT), a(RIGHT)))
    );
    let id = sad.add(esp(0x1001, LEFT, RIGHT, Mode::Tunnel)).unwrap();
    assert_eq!(spd.bundle(i, &sad).unwrap().states, [id]);
    // A state replaced under the same key: the bundle follows.
    let key = sad.get(id).unwrap().key();
    sad.remove(&key).unwrap();
    assert!(spd.bundle(i, &sad).is_err());
    sad.add(esp(0x2002, LEFT, RIGHT, Mode::Tunnel)).unwrap();
    let b = spd.bundle(i, &sad).unwrap().clone();
    assert_eq!(sad.get(b.states[0]).unwrap().key().spi, 0x2002);
    assert!(sad.add(esp(0x2002, LEFT, RIGHT, Mode::Tunnel)).is_err());
}

#[test]
fn a_template_without_an_spi_takes_a_live_state() {
    let mut sad = Sad::new();
    let mut old = esp(0x4004, LEFT, RIGHT, Mode::Tunnel);
    let mut c = EspConfig {
        spi: 0x4004,
        src: a(LEFT),
        dst: a(RIGHT),
        mode: Mode::Tunnel,
        aead: Aead::Aes128Gcm,
        key: (0..20).collect(),
        esn: true,
        replay_window: 1024,
        lifetime: Lifetime::default(),
    };
    c.lifetime.hard.packets = 1;
    *old = Esp::new(&c, 0).unwrap();
    let (mut buf, start, len) = packet();
    old.output(&mut Packet::new(&mut buf, start, len), 0)
        .unwrap();
    let (mut buf, start, len) = packet();
    assert_eq!(
        old.output(&mut Packet::new(&mut buf, start, len), 0),
        Err(Drop::Expired)
    );
    let expired = sad.add(old).unwrap();
    let fresh = sad.add(esp(0x5005, LEFT, RIGHT, Mode::Tunnel)).unwrap();
    assert_ne!(expired, fresh);
    let mut spd = Spd::new();
    let i = spd.add(policy(
        "::/0",
        "::/0",
        Direction::Out,
        0,
        Action::Protect(vec![template(PROTO_ESP, LEFT, RIGHT)]),
    ));
    assert_eq!(spd.bundle(i, &sad).unwrap().states, [fresh]);
}

/// An IPv6 packet from h1 to h2 in a buffer with room.
fn packet() -> (Vec<u8>, usize, usize) {
    let mut buf = vec![0u8; 400];
    let p = &mut buf[200..260];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&20u16.to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&a("2001:db8:1::2").octets());
    p[24..40].copy_from_slice(&a("2001:db8:2::2").octets());
    (buf, 200, 60)
}

#[test]
fn a_tunnel_under_esp_stacks_and_unstacks() {
    // This side's outbound states, and the peer's inbound ones (the same keys).
    let mut out = Sad::new();
    let tunnel = out
        .add(Box::new(Ip6Ip6::new(a(LEFT), a(RIGHT), 64)))
        .unwrap();
    let esp_out = out.add(esp(0x3003, LEFT, RIGHT, Mode::Transport)).unwrap();
    let mut spd = Spd::new();
    let i = spd.add(policy(
        "2001:db8:1::/48",
        "2001:db8:2::/48",
        Direction::Out,
        0,
        Action::Protect(vec![
            template(PROTO_IPV6, LEFT, RIGHT),
            Template {
                spi: Some(0x3003),
                ..template(PROTO_ESP, LEFT, RIGHT)
            },
        ]),
    ));
    let bundle = spd.bundle(i, &out).unwrap().clone();
    assert_eq!(bundle.states, [tunnel, esp_out]);
    let (mut buf, start, len) = packet();
    let original = buf[start..start + len].to_vec();
    let (head, tail) = bundle.overhead(&out, len);
    let mut p = Packet::new(&mut buf, start, len);
    bundle.output(&mut out, &mut p, 0).unwrap();
    assert_eq!(p.len(), len + head + tail);
    assert_eq!(p.data()[6], PROTO_ESP, "ESP is outermost");

    let mut inn = Sad::new();
    let e = inn.add(esp(0x3003, LEFT, RIGHT, Mode::Transport)).unwrap();
    let t = inn
        .add(Box::new(Ip6Ip6::new(a(LEFT), a(RIGHT), 64)))
        .unwrap();
    inn.get_mut(e).unwrap().input(&mut p, 40, 0).unwrap();
    assert_eq!(p.data()[6], PROTO_IPV6);
    inn.get_mut(t).unwrap().input(&mut p, 40, 0).unwrap();
    assert_eq!(p.data(), &original[..]);

    // The peer's inbound policy asks for the same stack: taken off ESP first, then the
    // tunnel.
    let mut peer = Spd::new();
    peer.add(policy(
        "2001:db8:1::/48",
        "2001:db8:2::/48",
        Direction::Fwd,
        0,
        Action::Protect(vec![
            template(PROTO_IPV6, LEFT, RIGHT),
            template(PROTO_ESP, LEFT, RIGHT),
        ]),
    ));
    let f = flow("2001:db8:1::2", "2001:db8:2::2", 17, 9);
    assert!(peer.check_inbound(Direction::Fwd, &f, &[e, t], &inn));
    // Arrived through the tunnel alone, or in clear: refused.
    assert!(!peer.check_inbound(Direction::Fwd, &f, &[t], &inn));
    assert!(!peer.check_inbound(Direction::Fwd, &f, &[], &inn));
    // Traffic no policy covers goes on in clear, not protected.
    let g = flow("2001:db8:7::2", "2001:db8:2::2", 17, 9);
    assert!(peer.check_inbound(Direction::Fwd, &g, &[], &inn));
    assert!(!peer.check_inbound(Direction::Fwd, &g, &[e], &inn));
}
