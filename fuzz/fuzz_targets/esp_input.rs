//! ESP input with a valid state, so that fuzzing reaches past the SPI: any bytes where
//! the ESP header goes are refused without a panic, and any plaintext sealed under the
//! state's own key (a trailer of any padding, length and next header included) is
//! opened and its trailer judged without a panic.

#![no_main]

use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use v6fwd_pipelines::esp::{Aead, Esp, EspConfig, Mode};
use v6fwd_pipelines::packet::Packet;
use v6fwd_pipelines::transform::{Lifetime, Transform};

fn state(mode: Mode, esn: bool) -> Esp {
    Esp::new(
        &EspConfig {
            spi: 0x1000,
            src: Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 1),
            dst: Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 2),
            mode,
            aead: Aead::Aes128Gcm,
            key: (0..20).collect(),
            esn,
            replay_window: 64,
            lifetime: Lifetime::default(),
        },
        0,
    )
    .unwrap()
}

fuzz_target!(|input: &[u8]| {
    let Some((&flags, rest)) = input.split_first() else {
        return;
    };
    let mode = if flags & 1 == 0 { Mode::Tunnel } else { Mode::Transport };
    let esn = flags & 2 != 0;

    // The bytes as they came: an IPv6 header's worth, then whatever follows.
    let mut rx = state(mode, esn);
    let mut buf = rest.to_vec();
    let n = buf.len();
    let _ = rx.input(&mut Packet::new(&mut buf, 0, n), 40, 0);

    // The bytes as a packet the peer sent: sealed by a sender of the same key, then
    // opened. A plaintext that is no packet of the mode is refused, not trusted.
    let mut tx = state(mode, esn);
    let mut buf = vec![0u8; 128 + rest.len().max(40) + 64];
    let len = rest.len().max(40);
    buf[128..128 + rest.len()].copy_from_slice(rest);
    buf[128] = 0x60 | (buf[128] & 0x0f);
    // The inner packet's length as it is: one that lies is refused on the way in.
    buf[132..134].copy_from_slice(&((len - 40) as u16).to_be_bytes());
    let mut p = Packet::new(&mut buf, 128, len);
    if tx.output(&mut p, 0).is_ok() {
        let (start, len) = (p.start(), p.len());
        let mut rx = state(mode, esn);
        let opened = rx.input(&mut Packet::new(&mut buf, start, len), 40, 0);
        assert!(opened.is_ok(), "a packet sealed under the key opens: {opened:?}");
    }
});
