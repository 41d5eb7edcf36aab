//! What ESP costs a core per packet: encryption (tunnel mode, outbound) and decryption
//! with the anti-replay check (inbound), for 64-, 512- and 1400-byte payloads and each
//! AEAD, in the packet's own buffer as the worker will run it.
//!
//! ```text
//! cargo bench -p v6fwd-pipelines --bench esp
//! ```
//!
//! Throughput is reported in bytes of inner packet per second; packets per second is
//! one over the time per iteration. The inbound figures decrypt a supply of packets
//! sealed under successive sequence numbers, so the replay window takes every one.

use std::hint::black_box;
use std::net::Ipv6Addr;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use v6fwd_pipelines::esp::{Aead, Esp, EspConfig, Mode};
use v6fwd_pipelines::packet::Packet;
use v6fwd_pipelines::transform::{Lifetime, Transform};

const HEADROOM: usize = 128;
/// Sealed packets made ready for the decryption figures.
const SUPPLY: usize = 4096;

fn config(aead: Aead) -> EspConfig {
    let key_len = if aead == Aead::Aes128Gcm { 20 } else { 36 };
    EspConfig {
        spi: 0x1000,
        src: Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 1),
        dst: Ipv6Addr::new(0x2001, 0xdb8, 0xf, 0, 0, 0, 0, 2),
        mode: Mode::Tunnel,
        aead,
        key: (0..key_len).map(|i| i as u8).collect(),
        esn: true,
        replay_window: 1024,
        lifetime: Lifetime::default(),
    }
}

/// An IPv6/UDP packet with `payload` bytes, at HEADROOM in a buffer with room for ESP.
fn packet(payload: usize) -> (Vec<u8>, usize) {
    let len = 40 + 8 + payload;
    let mut buf = vec![0u8; HEADROOM + len + 64];
    let p = &mut buf[HEADROOM..HEADROOM + len];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    (buf, len)
}

fn esp(c: &mut Criterion) {
    for aead in [Aead::Aes128Gcm, Aead::Aes256Gcm, Aead::ChaCha20Poly1305] {
        let mut g = c.benchmark_group(format!("esp/{aead:?}"));
        for payload in [64usize, 512, 1400] {
            let (template, len) = packet(payload);
            g.throughput(Throughput::Bytes(len as u64));

            let mut tx = Esp::new(&config(aead), 0).unwrap();
            let mut buf = template.clone();
            g.bench_with_input(BenchmarkId::new("encrypt", payload), &payload, |b, _| {
                b.iter(|| {
                    buf[HEADROOM..HEADROOM + len]
                        .copy_from_slice(&template[HEADROOM..HEADROOM + len]);
                    let mut p = Packet::new(&mut buf, HEADROOM, len);
                    tx.output(&mut p, 0).unwrap();
                    black_box(p.len());
                })
            });

            let mut sender = Esp::new(&config(aead), 0).unwrap();
            let sealed: Vec<(Vec<u8>, usize, usize)> = (0..SUPPLY)
                .map(|_| {
                    let (mut b, l) = packet(payload);
                    let mut p = Packet::new(&mut b, HEADROOM, l);
                    sender.output(&mut p, 0).unwrap();
                    let (s, n) = (p.start(), p.len());
                    (b, s, n)
                })
                .collect();
            let mut rx = Esp::new(&config(aead), 0).unwrap();
            let mut work: Vec<Vec<u8>> = sealed.iter().map(|s| s.0.clone()).collect();
            let mut next = 0usize;
            g.bench_with_input(BenchmarkId::new("decrypt", payload), &payload, |b, _| {
                b.iter(|| {
                    if next == SUPPLY {
                        // The supply is used up: a new receiver takes it again.
                        rx = Esp::new(&config(aead), 0).unwrap();
                        next = 0;
                    }
                    let (orig, start, n) = &sealed[next];
                    let buf = &mut work[next];
                    buf[*start..start + n].copy_from_slice(&orig[*start..start + n]);
                    let mut p = Packet::new(buf, *start, *n);
                    rx.input(&mut p, 40, 0).unwrap();
                    black_box(p.len());
                    next += 1;
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, esp);
criterion_main!(benches);
