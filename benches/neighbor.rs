//! What a worker's neighbor entries cost it while nothing happens: the time its neighbor
//! work takes per second with 1,000 REACHABLE entries and with 1,000,000.
//!
//! ```text
//! cargo bench --bench neighbor [-- --entries 1000,1000000 --seconds 60]
//! ```
//!
//! Each worker round runs the neighbor cache's timers, and once a millisecond a bounded
//! step of the collection of idle entries; the figure is the time those take per
//! simulated second at one round every 10 µs (a busy poll loop runs faster; an idle
//! adaptive one sleeps up to 100 µs between rounds). The
//! entries are made REACHABLE first, and the clock then runs past their ReachableTime:
//! a table that scanned its entries, or set a timer per REACHABLE entry, would cost in
//! proportion to them. Virtual time, real CPU time.

use std::hint::black_box;
use std::net::Ipv6Addr;
use std::time::Instant;

use v6fwd::neigh::cache::{Advert, Cache, Limits, Source, Timers};
use v6fwd::wire::MacAddr;

const MS: u64 = 1_000_000;
const SEC: u64 = 1_000 * MS;
/// Virtual time between two rounds.
const ROUND_NS: u64 = 10_000;
/// Entries the collection looks at per millisecond, as the worker does.
const COLLECT_PER_MS: usize = 16;

/// A cache of `n` REACHABLE neighbors on one port, as of time 0.
fn reachable(n: u32) -> Cache<u32> {
    let limits = Limits {
        entries: n as usize + 1,
        ..Limits::default()
    };
    let mut c = Cache::new(vec![Timers::default()], limits, 0);
    let mac = MacAddr([2, 0, 0, 0, 0, 1]);
    for i in 0..n {
        let addr = Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(i));
        c.on_source(0, addr, mac, Source::Solicitation, 0);
        let advert = Advert {
            target: addr,
            router: false,
            solicited: true,
            override_: false,
            lladdr: None,
        };
        c.on_advert(0, &advert, 0);
    }
    c.actions().for_each(drop);
    c
}

/// Runs `seconds` of virtual rounds over `c`; returns the real seconds they took per
/// virtual second.
fn idle_cost(c: &mut Cache<u32>, seconds: u64) -> f64 {
    let start = Instant::now();
    let mut now = 0;
    while now < seconds * SEC {
        now += ROUND_NS;
        c.advance(now);
        if now % MS < ROUND_NS {
            c.collect(now, COLLECT_PER_MS);
        }
        black_box(c.actions().count());
    }
    start.elapsed().as_secs_f64() / seconds as f64
}

fn main() {
    let mut sizes = vec![1_000u32, 1_000_000];
    let mut seconds = 60u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--entries" => {
                if let Some(list) = it.next() {
                    sizes = list.split(',').filter_map(|x| x.parse().ok()).collect();
                }
            }
            "--seconds" => seconds = it.next().and_then(|x| x.parse().ok()).unwrap_or(seconds),
            // What cargo passes to every bench target.
            "--bench" => {}
            other => {
                eprintln!("neighbor: unknown argument {other:?}");
                std::process::exit(2);
            }
        }
    }
    // Under `cargo test`, a short run that checks the benchmark works.
    if cfg!(debug_assertions) {
        sizes = vec![100, 10_000];
        seconds = 2;
    }
    let mut results = Vec::new();
    for &n in &sizes {
        let mut c = reachable(n);
        let per_second = idle_cost(&mut c, seconds);
        println!(
            "{n} REACHABLE entries: neighbor work {:.3} ms of CPU per second \
             ({:.2} % of a core), {} entries left, {} timers pending",
            per_second * 1e3,
            per_second * 100.0,
            c.len(),
            c.timers_pending()
        );
        results.push(per_second);
    }
    if let [small, .., large] = results[..] {
        println!(
            "ratio {} to {} entries: {:.2}",
            sizes[sizes.len() - 1],
            sizes[0],
            large / small
        );
    }
}
