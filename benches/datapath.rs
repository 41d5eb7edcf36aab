//! Micro benchmarks of the packet logic on in-memory packets, without DPDK: header
//! parsing, route lookup, and the whole per-packet decision with its header rewrite, its
//! next hop's link-layer address had from a static entry or from the core's copy of a
//! Neighbor Discovery entry.
//!
//! `cargo bench --bench datapath`

use std::hint::black_box;
use std::net::Ipv6Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use v6fwd::dataplane::{Core, Dataplane, IcmpLimits, PortView, Verdict};
use v6fwd::fib::{FibReader, Rib};
use v6fwd::neigh::cache::State;
use v6fwd::neigh::{Neighbor, NeighborTable};
use v6fwd::route::{NextHop, Prefix, Route};
use v6fwd::testvec;
use v6fwd::wire::{EthernetFrame, Ipv6Packet, MacAddr};

const R0_MAC: [u8; 6] = [2, 0, 0, 0, 1, 1];
const R1_MAC: [u8; 6] = [2, 0, 0, 0, 2, 1];
const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 1, 2];

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// A /48 route for each of `count` prefixes inside 2001:db8::/32, all through one gateway.
fn routes(count: usize) -> Vec<Route> {
    let mut r = vec![
        Route::new("2001:db8:1::/64".parse().unwrap(), 0, NextHop::OnLink),
        Route::new("2001:db8:2::/64".parse().unwrap(), 1, NextHop::OnLink),
    ];
    r.extend((0..count).map(|i| {
        Route::new(
            Prefix::new(
                Ipv6Addr::new(0x2001, 0xdb8, 0x100 + i as u16, 0, 0, 0, 0, 0),
                48,
            ),
            1,
            NextHop::Gateway(a("2001:db8:2::2")),
        )
    }));
    r
}

fn router(route_count: usize) -> Dataplane {
    router_with(route_count, true)
}

/// The router, its gateway a static neighbor or (`statics` false) one Neighbor
/// Discovery is to find.
fn router_with(route_count: usize, statics: bool) -> Dataplane {
    let gateway = Neighbor {
        port: 1,
        addr: a("2001:db8:2::2"),
        lladdr: MacAddr([2, 0, 0, 0, 2, 2]),
    };
    let neighbors: Vec<Neighbor> = if statics { vec![gateway] } else { vec![] };
    let rib = Rib::with_routes(2, &routes(route_count), &neighbors).unwrap();
    Dataplane::new(
        vec![
            PortView::new(MacAddr(R0_MAC), 1500, &[(a("2001:db8:1::1"), 64)]),
            PortView::new(MacAddr(R1_MAC), 1500, &[(a("2001:db8:2::1"), 64)]),
        ],
        rib.cell(),
        NeighborTable::new(&neighbors),
    )
}

/// 64-byte frames (without FCS) to `count` destinations spread over the routed /48s.
fn frames(count: usize, route_count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| {
            let dst = Ipv6Addr::new(
                0x2001,
                0xdb8,
                0x100 + (i % route_count) as u16,
                i as u16,
                0,
                0,
                0,
                1,
            );
            testvec::udp_frame(
                R0_MAC,
                HOST_MAC,
                a("2001:db8:1::2"),
                dst,
                64,
                (1000, 2000 + i as u16),
                2,
            )
        })
        .collect()
}

fn parse(c: &mut Criterion) {
    let frame = frames(1, 1).remove(0);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ethernet_ipv6_fields", |b| {
        b.iter(|| {
            let f = black_box(&frame[..]);
            let eth = EthernetFrame::new(f).unwrap();
            let ip = Ipv6Packet::new(&f[14..]).unwrap();
            black_box((
                eth.ethertype(),
                eth.destination(),
                ip.version(),
                ip.payload_len(),
                ip.hop_limit(),
                ip.dst(),
            ))
        })
    });
    g.finish();
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("route_lookup");
    g.throughput(Throughput::Elements(1024));
    for count in [16usize, 1024, 60_000] {
        let rib = Rib::with_routes(2, &routes(count), &[]).unwrap();
        let reader = FibReader::new(rib.cell());
        let t = reader.fib();
        let dsts: Vec<Ipv6Addr> = (0..1024)
            .map(|i| {
                Ipv6Addr::new(
                    0x2001,
                    0xdb8,
                    0x100 + (i * 7 % count) as u16,
                    i as u16,
                    0,
                    0,
                    0,
                    1,
                )
            })
            .collect();
        g.bench_function(format!("{count}_routes"), |b| {
            b.iter(|| {
                for d in &dsts {
                    black_box(t.lookup(black_box(d)));
                }
            })
        });
    }
    g.finish();
}

fn forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("dataplane");
    let route_count = 256;
    let burst = frames(32, route_count);
    g.throughput(Throughput::Elements(burst.len() as u64));
    // The gateway as a static entry (its address is in the route: no neighbor step),
    // then as the core's copy of a REACHABLE Neighbor Discovery entry.
    for (name, statics) in [
        ("forward_burst_32x64B", true),
        ("forward_burst_32x64B_nd_copy", false),
    ] {
        let dp = router_with(route_count, statics);
        let mut bufs = burst.clone();
        let mut core = Core::new(
            IcmpLimits {
                rate: 100,
                burst: 10,
            },
            Default::default(),
            dp.fib_reader(),
        );
        core.neighbors.publish(
            1,
            a("2001:db8:2::2"),
            MacAddr([2, 0, 0, 0, 2, 2]),
            State::Reachable,
            u64::MAX,
        );
        // What is timed must be forwarding: check it once, outside the timing.
        for b in bufs.iter_mut() {
            let len = b.len();
            assert!(matches!(
                dp.handle(&mut core, 0, b, len, len),
                Verdict::Forward { .. }
            ));
        }
        g.bench_function(name, |b| {
            b.iter(|| {
                for (buf, orig) in bufs.iter_mut().zip(&burst) {
                    // Restore the hop limit the previous pass decremented.
                    buf[21] = orig[21];
                    let len = buf.len();
                    black_box(dp.handle(&mut core, 0, buf, len, len));
                }
            })
        });
        assert!(core.nd_events.is_empty(), "a REACHABLE copy asks nothing");
    }

    let dp = router(route_count);
    let mut core = Core::new(
        IcmpLimits {
            rate: 100,
            burst: 10,
        },
        Default::default(),
        dp.fib_reader(),
    );

    let echo = testvec::ECHO_REQUEST_FRAME;
    let mut buf = echo.to_vec();
    let len = buf.len();
    assert!(matches!(
        dp.handle(&mut core, 0, &mut buf, len, len),
        Verdict::Reply { .. }
    ));
    g.throughput(Throughput::Elements(1));
    g.bench_function("echo_reply", |b| {
        b.iter(|| {
            buf.copy_from_slice(&echo);
            let len = buf.len();
            black_box(dp.handle(&mut core, 0, &mut buf, len, len))
        })
    });
    g.finish();
}

criterion_group!(benches, parse, lookup, forward);
criterion_main!(benches);
