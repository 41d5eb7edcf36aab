//! The routing table on its own: build time, lookup cost, memory, update rate, and what a
//! reader sees while a whole table is replaced. It reads the same files as DPDK's
//! `dpdk-test-fib` (`ADDR/LEN NEXTHOP` per line; one address per line), so that
//! `benches/fib.py` can run both on the same prefixes and addresses.
//!
//! ```text
//! cargo bench --bench fib -- --routes routes.txt --addresses ips.txt [--json]
//! ```
//!
//! Without the files it runs on a small table it makes up, which `cargo test` does to
//! check that the benchmark works, and fails if a lookup misses.
//!
//! Lookups are timed like `dpdk-test-fib` times rte_fib6: one pass over the addresses in
//! bursts of 64, the TSC read around each burst, cycles per lookup reported. A lookup
//! here is the forwarder's: the trie, the next-hop group, and the path picked for a flow.

use std::hint::black_box;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use v6fwd::ffi::rdtsc;
use v6fwd::fib::{FibReader, Leaf, Rib, flow_hash};
use v6fwd::route::{NextHop, Prefix, Route};

/// Addresses per timed burst, as `dpdk-test-fib`'s.
const BURST: usize = 64;
/// Next hops the routes are spread over: the file's next-hop numbers modulo this.
const GATEWAYS: u64 = 16;
/// Routes changed per publication when the update rate is measured.
const BATCH: usize = 10_000;

struct Args {
    /// The route and address files; without them, a small table made up here (which is
    /// what `cargo test` runs, to check the benchmark works).
    files: Option<(String, String)>,
    json: bool,
    /// The CPU lookups run on, and the one the writer takes while a reader runs.
    cpu: Option<usize>,
    writer_cpu: Option<usize>,
}

fn args() -> Result<Args, String> {
    let mut routes = None;
    let mut addresses = None;
    let mut json = false;
    let (mut cpu, mut writer_cpu) = (None, None);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--routes" => routes = it.next(),
            "--addresses" => addresses = it.next(),
            "--json" => json = true,
            "--cpu" => cpu = it.next().and_then(|c| c.parse().ok()),
            "--writer-cpu" => writer_cpu = it.next().and_then(|c| c.parse().ok()),
            // What cargo bench passes to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let files = match (routes, addresses) {
        (Some(routes), Some(addresses)) => Some((routes, addresses)),
        (None, None) => None,
        _ => {
            return Err(
                "usage: fib [--routes FILE --addresses FILE] [--cpu N] [--writer-cpu M] [--json]"
                    .into(),
            );
        }
    };
    Ok(Args {
        files,
        json,
        cpu,
        writer_cpu,
    })
}

fn read_routes(path: &str) -> Result<Vec<Route>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let bad = |what: &str| format!("{path}:{}: {what}: {line:?}", i + 1);
            let (prefix, nh) = line.split_once(' ').ok_or_else(|| bad("no next hop"))?;
            let prefix: Prefix = prefix.parse().map_err(|_| bad("not a prefix"))?;
            let nh: u64 = nh.trim().parse().map_err(|_| bad("not a next hop"))?;
            let gw = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1 + (nh % GATEWAYS) as u16);
            Ok(Route::new(prefix.network(), 0, NextHop::Gateway(gw)))
        })
        .collect()
}

/// A small table of nested prefixes and addresses inside them, for a run without files.
fn made_up() -> (Vec<Route>, Vec<Ipv6Addr>) {
    let mut routes = Vec::new();
    let mut addresses = Vec::new();
    let gw =
        |i: u32| NextHop::Gateway(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1 + (i % 16) as u16));
    for i in 0..2000u32 {
        let (len, bits) = match i % 4 {
            0 => (32, u128::from(i) << 96),
            1 => (40, u128::from(i) << 88),
            _ => (48, u128::from(i) << 80),
        };
        let net = Ipv6Addr::from((0x2001u128 << 112) | bits);
        routes.push(Route::new(Prefix::new(net, len).network(), 0, gw(i)));
        addresses.push(Ipv6Addr::from(u128::from(net) | 0x1234));
    }
    routes.push(Route::new(
        "::/0".parse().expect("a literal prefix"),
        0,
        gw(0),
    ));
    (routes, addresses)
}

fn read_addresses(path: &str) -> Result<Vec<Ipv6Addr>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            l.trim()
                .parse()
                .map_err(|_| format!("{path}:{}: not an address: {l:?}", i + 1))
        })
        .collect()
}

/// Runs the calling thread on `cpu` alone.
fn pin(cpu: Option<usize>) {
    let Some(cpu) = cpu else { return };
    // SAFETY: cpu_set_t is plain data, zeroed is an empty set; CPU_SET writes within it
    // (cpu is checked against its size), and sched_setaffinity only reads it.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
            return;
        }
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    if !ok {
        eprintln!(
            "fib: cannot pin to cpu {cpu}: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// TSC ticks per second, from a 200 ms window.
fn tsc_hz() -> f64 {
    let (t0, c0) = (Instant::now(), rdtsc());
    std::thread::sleep(Duration::from_millis(200));
    (rdtsc() - c0) as f64 / t0.elapsed().as_secs_f64()
}

/// The peak resident set of this process, in bytes.
fn peak_rss() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn build(routes: &[Route]) -> Rib {
    let mut rib = Rib::new(1);
    for r in routes {
        // A file may repeat a prefix; the first route of it stands.
        let _ = rib.add(*r);
    }
    rib.publish();
    rib
}

/// One pass over `addresses` in bursts, cycles per lookup.
fn lookup_cycles(reader: &FibReader, addresses: &[Ipv6Addr]) -> (f64, usize) {
    let fib = reader.fib();
    let src: Ipv6Addr = "2001:db8:1::2".parse().expect("a literal address");
    let mut cycles = 0u64;
    let mut found = 0usize;
    let keys: Vec<u128> = addresses.iter().map(|a| u128::from(*a)).collect();
    let mut leaves = [0 as Leaf; BURST];
    for (burst, dsts) in keys.chunks(BURST).zip(addresses.chunks(BURST)) {
        let start = rdtsc();
        fib.lookup_many(black_box(burst), &mut leaves);
        for (leaf, dst) in leaves.iter().zip(dsts) {
            if let Some(c) = fib.choices(*leaf) {
                let path = c.pick(|k| flow_hash(k, &src, dst, 0, 17, 0));
                black_box(path);
                found += 1;
            }
        }
        cycles += rdtsc() - start;
    }
    (cycles as f64 / addresses.len().max(1) as f64, found)
}

/// The same pass, each address looked up on its own: what walking side by side saves.
fn lookup_one_cycles(reader: &FibReader, addresses: &[Ipv6Addr]) -> f64 {
    let fib = reader.fib();
    let mut cycles = 0u64;
    for dsts in addresses.chunks(BURST) {
        let start = rdtsc();
        for dst in dsts {
            black_box(
                fib.choices(fib.leaf(black_box(dst)))
                    .map(|c| c.all()[0].port),
            );
        }
        cycles += rdtsc() - start;
    }
    cycles as f64 / addresses.len().max(1) as f64
}

/// Deletes then adds back the last tenth of the table in batches, each batch published;
/// routes changed per second, publications included.
fn update_rate(rib: &mut Rib, routes: &[Route]) -> f64 {
    let tail = &routes[routes.len() - routes.len() / 10..];
    let start = Instant::now();
    for batch in tail.chunks(BATCH) {
        for r in batch {
            let _ = rib.delete(r.prefix);
        }
        rib.publish();
        rib.reclaim();
    }
    for batch in tail.chunks(BATCH) {
        for r in batch {
            let _ = rib.add(*r);
        }
        rib.publish();
        rib.reclaim();
    }
    (2 * tail.len()) as f64 / start.elapsed().as_secs_f64()
}

/// One route changed and published at a time: the time from the change to the workers
/// being able to see it, median over `n`.
fn single_update_us(rib: &mut Rib, routes: &[Route], n: usize) -> f64 {
    let mut times: Vec<f64> = routes
        .iter()
        .step_by((routes.len() / n).max(1))
        .take(n)
        .map(|r| {
            let t = Instant::now();
            let _ = rib.delete(r.prefix);
            rib.publish();
            let _ = rib.add(*r);
            rib.publish();
            rib.reclaim();
            t.elapsed().as_secs_f64() * 1e6 / 2.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// What a reader's bursts took, in microseconds, and the versions it saw.
struct ReaderTimes {
    max: f64,
    p999: f64,
    median: f64,
    versions: u64,
    /// How long the writer worked (or, for the baseline, stood by).
    seconds: f64,
}

/// What the writer's thread does while the reader looks up.
#[derive(Clone, Copy)]
enum Writer {
    /// Adds half the table, published in batches.
    Update,
    /// Sleeps this long: what the machine alone does to a reader.
    Sleep(Duration),
    /// Spins this long, touching no memory: what a busy neighbouring CPU does to it.
    Spin(Duration),
}

/// A reader on another thread looks bursts up while the writer does what `writer` says.
fn reader_beside_update(
    routes: &[Route],
    addresses: &[Ipv6Addr],
    hz: f64,
    cpus: (Option<usize>, Option<usize>),
    writer: Writer,
) -> ReaderTimes {
    let mut rib = build(&routes[..routes.len() / 2]);
    let cell = rib.cell();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            pin(cpus.0);
            let mut reader = FibReader::new(cell);
            // Room for every sample taken before the update ends, allocated and written
            // before it starts: a vector that grew while timing would time its own copies,
            // and a page first touched while timing would wait for the page-fault lock
            // that the writer's allocations take.
            let mut bursts: Vec<u64> = vec![1; 1 << 24];
            bursts.clear();
            let keys: Vec<u128> = addresses.iter().map(|a| u128::from(*a)).collect();
            let mut leaves = [0 as Leaf; BURST];
            let mut versions = 0u64;
            let mut last = reader.fib().version();
            // One pass at least, so that there are samples however soon the writer ends.
            loop {
                for burst in keys.chunks(BURST) {
                    let t = rdtsc();
                    reader.refresh();
                    reader.fib().lookup_many(burst, &mut leaves);
                    for leaf in &leaves {
                        black_box(reader.fib().choices(*leaf).map(|c| c.all()[0].port));
                    }
                    if bursts.len() < bursts.capacity() {
                        bursts.push(rdtsc() - t);
                    }
                }
                if reader.fib().version() != last {
                    last = reader.fib().version();
                    versions += 1;
                }
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
            bursts.sort_unstable();
            let at = |q: f64| bursts[((bursts.len() - 1) as f64 * q) as usize];
            (at(1.0), at(0.999), at(0.5), versions)
        });
        pin(cpus.1);
        let start = Instant::now();
        match writer {
            Writer::Sleep(d) => std::thread::sleep(d),
            Writer::Spin(d) => {
                let end = Instant::now() + d;
                let mut x = 0u64;
                while Instant::now() < end {
                    x = black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                }
            }
            Writer::Update => {
                for batch in routes[routes.len() / 2..].chunks(BATCH) {
                    for r in batch {
                        let _ = rib.add(*r);
                    }
                    rib.publish();
                    rib.reclaim();
                }
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (max, p999, median, versions) = reader.join().expect("the reader does not panic");
        let us = |c: u64| c as f64 / hz * 1e6;
        ReaderTimes {
            max: us(max),
            p999: us(p999),
            median: us(median),
            versions,
            seconds,
        }
    })
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fib: {e}");
            std::process::exit(2);
        }
    };
    let (routes, addresses) = match &args.files {
        None => made_up(),
        Some((routes, addresses)) => match (read_routes(routes), read_addresses(addresses)) {
            (Ok(r), Ok(a)) => (r, a),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("fib: {e}");
                std::process::exit(2);
            }
        },
    };
    pin(args.cpu);
    let hz = tsc_hz();

    let t = Instant::now();
    let mut rib = build(&routes);
    let build_s = t.elapsed().as_secs_f64();
    let reader = FibReader::new(rib.cell());
    let fib = reader.fib();
    let (bytes, subs, prefixes, groups) = (fib.bytes(), fib.subs(), rib.len(), rib.groups());
    // One pass to warm up, as the table is cold after its build; then the timed pass.
    lookup_cycles(&reader, &addresses);
    let (cycles, found) = lookup_cycles(&reader, &addresses);
    let one_cycles = lookup_one_cycles(&reader, &addresses);
    if args.files.is_none() && found != addresses.len() {
        eprintln!(
            "fib: {} of {} addresses found no route in a table with a default route",
            addresses.len() - found,
            addresses.len()
        );
        std::process::exit(1);
    }
    drop(reader);
    let rate = update_rate(&mut rib, &routes);
    let single = single_update_us(&mut rib, &routes, 200);
    let rss = peak_rss();
    drop(rib);
    let cpus = (args.cpu, args.writer_cpu);
    let busy = reader_beside_update(&routes, &addresses, hz, cpus, Writer::Update);
    let as_long = Duration::from_secs_f64(busy.seconds);
    let calm = reader_beside_update(&routes, &addresses, hz, cpus, Writer::Sleep(as_long));
    let spin = reader_beside_update(&routes, &addresses, hz, cpus, Writer::Spin(as_long));

    let per_route = bytes as f64 / prefixes.max(1) as f64;
    if args.json {
        println!(
            "{{\"prefixes\": {prefixes}, \"groups\": {groups}, \"subs\": {subs}, \
             \"addresses\": {}, \"found\": {found}, \"build_s\": {build_s:.3}, \
             \"lookup_cycles\": {cycles:.1}, \"lookup_one_cycles\": {one_cycles:.1}, \"tsc_hz\": {hz:.0}, \"bytes\": {bytes}, \
             \"bytes_per_route\": {per_route:.1}, \"peak_rss\": {rss}, \
             \"update_routes_per_s\": {rate:.0}, \"single_update_us\": {single:.1}, \
             \"reader_burst_max_us\": {:.1}, \"reader_burst_p999_us\": {:.2}, \
             \"reader_burst_median_us\": {:.2}, \"versions_seen\": {}, \
             \"update_s\": {:.2}, \"idle_reader_burst_max_us\": {:.1}, \
             \"idle_reader_burst_p999_us\": {:.2}, \"idle_reader_burst_median_us\": {:.2}, \
             \"spin_reader_burst_max_us\": {:.1}, \"spin_reader_burst_p999_us\": {:.2}, \
             \"spin_reader_burst_median_us\": {:.2}}}",
            addresses.len(),
            busy.max,
            busy.p999,
            busy.median,
            busy.versions,
            busy.seconds,
            calm.max,
            calm.p999,
            calm.median,
            spin.max,
            spin.p999,
            spin.median,
        );
    } else {
        println!("prefixes {prefixes} in {groups} next-hop groups, {subs} sub-tries");
        println!("build {build_s:.3} s");
        println!(
            "lookup {cycles:.1} cycles side by side, {one_cycles:.1} one at a time \
             ({} addresses, {found} matched)",
            addresses.len()
        );
        println!("lookup table {bytes} bytes, {per_route:.1} per route; peak rss {rss}");
        println!("updates {rate:.0} routes/s in batches of {BATCH}; one route {single:.1} us");
        println!(
            "reader beside a half-table update ({:.1} s, {} versions seen): bursts of {BURST} \
             took {:.2} us (median), {:.2} us (99.9th percentile), {:.1} us at most",
            busy.seconds, busy.versions, busy.median, busy.p999, busy.max
        );
        println!(
            "reader beside an idle writer, as long: {:.2} us (median), {:.2} us (99.9th \
             percentile), {:.1} us at most",
            calm.median, calm.p999, calm.max
        );
        println!(
            "reader beside a writer spinning, as long: {:.2} us (median), {:.2} us (99.9th \
             percentile), {:.1} us at most",
            spin.median, spin.p999, spin.max
        );
    }
}
