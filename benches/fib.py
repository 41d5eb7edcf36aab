#!/usr/bin/env python3
"""The routing table against DPDK's rte_fib6, on the same prefixes and addresses.

Generates a table shaped like today's IPv6 internet table (lengths mostly /32 to /48,
some /56 to /64, a few /128, clustered under RIR-style allocations as real tables are),
and addresses inside its prefixes, then runs, interleaved for --rounds rounds, pinned to
the same core:

- dpdk-test-fib (dpdk-dev) with rte_fib6's trie, 4-byte next hops;
- benches/fib.rs, v6fwd's table (cargo bench --bench fib).

It prints cycles per lookup, bytes per route, build time and update rates per peer,
with the ratios, and writes results.json (and fib.png with matplotlib) under --out.

rte_fib6's memory is counted from its structure: a 2^24-entry first table and the
256-entry groups it must be given to take the table, all allocated when it is made (see
rte_fib6_groups). That rule gives an upper bound; the script then searches, with the
library itself, for the fewest groups (to within 1 %) with which test-fib takes the whole
table, and counts those.
"""

import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Share of each prefix length, in per mille, after public summaries of the IPv6 table.
LENGTHS = {
    28: 5, 29: 40, 30: 8, 31: 6, 32: 140, 33: 12, 34: 12, 35: 8, 36: 35, 37: 6, 38: 10,
    39: 7, 40: 65, 41: 6, 42: 12, 43: 5, 44: 85, 45: 13, 46: 28, 47: 25, 48: 430,
    50: 2, 52: 3, 54: 2, 56: 15, 60: 3, 64: 10, 128: 4,
}
# The /12s the registries allocate from, and how much of the table each holds.
BLOCKS = {0x200: 15, 0x240: 22, 0x260: 25, 0x280: 8, 0x2A0: 27, 0x2C0: 3}


def generate(n, addresses, seed):
    """n distinct prefixes and `addresses` addresses inside them."""
    rng = random.Random(seed)
    blocks = list(BLOCKS)
    weights = [BLOCKS[b] for b in blocks]
    # Allocations of /29 to /32; a few hold many routes, most hold few.
    allocs = []
    for _ in range(max(n // 25, 16)):
        length = rng.choice([29, 32, 32, 32, 32, 31, 30])
        block = rng.choices(blocks, weights)[0]
        bits = (block << 116) | (rng.getrandbits(116) & ~((1 << (128 - length)) - 1) & ((1 << 116) - 1))
        allocs.append((bits, length))
    alloc_cum = list(itertools.accumulate(rng.paretovariate(1.2) for _ in allocs))
    lengths = list(LENGTHS)
    length_cum = list(itertools.accumulate(LENGTHS[x] for x in lengths))
    seen = set()
    routes = []
    while len(routes) < n:
        base, alen = rng.choices(allocs, cum_weights=alloc_cum)[0]
        length = rng.choices(lengths, cum_weights=length_cum)[0]
        if length <= alen:
            net = base & ~((1 << (128 - length)) - 1)
        else:
            net = base | (rng.getrandbits(128 - alen) & ~((1 << (128 - length)) - 1))
        if (net, length) in seen:
            continue
        seen.add((net, length))
        routes.append((net, length, len(routes) % 1000 + 1))
    ips = []
    for _ in range(addresses):
        net, length, _ = routes[rng.randrange(len(routes))]
        ips.append(net | (rng.getrandbits(128 - length) if length < 128 else 0))
    return routes, ips


def fmt(a):
    return ":".join(f"{(a >> (112 - 16 * i)) & 0xFFFF:04x}" for i in range(8))


def rte_fib6_groups(routes):
    """The tbl8 groups rte_fib6's trie must be given to take `routes` in file order.

    It reserves groups as routes come rather than counting those in use: a route longer
    than /24 with no other route inside its 8-bit-aligned block reserves one group per
    8-bit level between the longest route above it (or /24) and its own length, and an
    add that would reserve past the configured number fails with ENOSPC. The groups are
    allocated in full when the table is made, so this is the memory it needs.
    """
    def ceil8(x):
        return (x + 7) // 8 * 8

    inserted = set()
    # Per 8-bit-aligned level L: the top L bits of every route longer than L bits.
    blocks = {level: set() for level in range(0, 129, 8)}
    reserved = 0
    for net, length, _ in routes:
        if length > 24:
            floor = length // 8 * 8
            if net >> (128 - floor) not in blocks[floor]:
                parent = 24
                for d in range(length - 1, 24, -1):
                    if (net & ~((1 << (128 - d)) - 1), d) in inserted:
                        parent = d
                        break
                reserved += (ceil8(length) - ceil8(parent)) // 8
        inserted.add((net, length))
        for level in range(0, length, 8):
            blocks[level].add(net >> (128 - level))
    return reserved


def least_groups(args, routes_file, out, upper):
    """The fewest tbl8 groups, to within 1 %, with which test-fib takes the table: a
    binary search from `upper` down, each try with a few lookups only."""
    few = out / "few-ips.txt"
    few.write_text("".join(routes_file.read_text().splitlines(True)[i].split("/")[0] + "\n"
                           for i in range(64)))
    def takes(g):
        return run_test_fib(args, routes_file, few, g, f"s{g}")["ok"]
    hi = upper
    while not takes(hi):
        hi *= 2
    lo = 0
    while hi - lo > max(hi // 100, 1):
        mid = (lo + hi) // 2
        if takes(mid):
            hi = mid
        else:
            lo = mid
    return hi


def run_test_fib(args, routes_file, ips_file, groups, tag):
    mem_mb = 64 + groups // 1024 + 3 * 1024
    cmd = ["taskset", "-c", str(args.core), "dpdk-test-fib", "--no-huge", "-m", str(mem_mb),
           "--no-pci", f"--file-prefix=fibbench{os.getpid()}{tag}", "-l", str(args.core), "--",
           "-6", "-b", "trie", "-e", "4", "-g", str(groups), "-f", str(routes_file),
           "-t", str(ips_file)]
    t = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    took = time.monotonic() - t
    out = p.stdout + p.stderr
    lookup = re.search(r"AVG FIB lookup ([0-9.]+)", out)
    adds = [float(x) for x in re.findall(r"AVG FIB add ([0-9]+)", out)]
    deletes = [float(x) for x in re.findall(r"AVG FIB delete ([0-9]+)", out)]
    if p.returncode != 0 or lookup is None:
        return {"ok": False, "returncode": p.returncode, "tail": out[-2000:], "seconds": took}
    return {"ok": True, "lookup_cycles": float(lookup.group(1)),
            "add_cycles": statistics.mean(adds), "delete_cycles": statistics.mean(deletes),
            "seconds": took, "command": cmd}


def run_v6fwd(args, routes_file, ips_file):
    runner = [args.bench] if args.bench else ["cargo", "bench", "--quiet", "--bench", "fib", "--"]
    cmd = runner + ["--routes", str(routes_file), "--addresses", str(ips_file),
                    "--cpu", str(args.core), "--writer-cpu", str(args.writer_core), "--json"]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).parent.parent)
    if p.returncode != 0:
        return {"ok": False, "returncode": p.returncode, "tail": (p.stdout + p.stderr)[-2000:]}
    line = [x for x in p.stdout.splitlines() if x.startswith("{")][-1]
    r = json.loads(line)
    r["ok"] = True
    r["command"] = cmd
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--routes", type=int, default=1_000_000, help="prefixes in the table")
    ap.add_argument("--addresses", type=int, default=2_000_000, help="addresses looked up")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--core", type=int, default=1, help="the CPU both peers run on")
    ap.add_argument("--writer-core", type=int, default=0,
                    help="the CPU v6fwd's writer takes while a reader runs on --core")
    ap.add_argument("--bench", default=None,
                    help="a built benches/fib.rs binary (default: cargo bench --bench fib)")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()

    out = Path(args.out or f"target/bench-results/fib-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    print(f"fib: load average {os.getloadavg()[0]:.2f}; generating {args.routes} prefixes")
    routes, ips = generate(args.routes, args.addresses, args.seed)
    routes_file, ips_file = out / "routes.txt", out / "ips.txt"
    routes_file.write_text("".join(f"{fmt(n)}/{l} {h}\n" for n, l, h in routes))
    ips_file.write_text("".join(fmt(a) + "\n" for a in ips))
    estimate = rte_fib6_groups(routes)
    groups = least_groups(args, routes_file, out, estimate)
    print(f"fib: rte_fib6 takes the table with {groups} tbl8 groups "
          f"(to within 1 %; its reservation rule estimates {estimate})")
    rte_bytes = (1 << 24) * 4 + groups * 256 * 4
    hist = {}
    for _, l, _ in routes:
        hist[l] = hist.get(l, 0) + 1
    print("fib: lengths " + " ".join(f"/{l}:{c}" for l, c in sorted(hist.items())))

    results = {"options": vars(args), "routes": len(routes), "rte_fib6_groups": groups,
               "rte_fib6_bytes": rte_bytes, "lengths": hist, "rounds": []}
    for i in range(args.rounds):
        for name, run in (("rte_fib6", lambda: run_test_fib(args, routes_file, ips_file, groups, i)),
                          ("v6fwd", lambda: run_v6fwd(args, routes_file, ips_file))):
            r = run()
            r["peer"], r["round"] = name, i
            results["rounds"].append(r)
            if not r["ok"]:
                print(f"fib: {name} failed (status {r.get('returncode')}):\n{r.get('tail')}")
                (out / "results.json").write_text(json.dumps(results, indent=1))
                sys.exit(1)
            print(f"fib: round {i} {name}: {r['lookup_cycles']:.1f} cycles per lookup")

    def med(peer, key):
        vals = [r[key] for r in results["rounds"] if r["peer"] == peer]
        return statistics.median(vals), min(vals), max(vals)

    ours = [r for r in results["rounds"] if r["peer"] == "v6fwd"]
    hz = statistics.median(r["tsc_hz"] for r in ours)
    rte_lookup, v_lookup = med("rte_fib6", "lookup_cycles"), med("v6fwd", "lookup_cycles")
    rte_add = med("rte_fib6", "add_cycles")[0]
    ours_bytes = statistics.median(r["bytes"] for r in ours)
    summary = {
        "lookup_cycles": {"rte_fib6": rte_lookup, "v6fwd": v_lookup},
        "lookup_rate_ratio": rte_lookup[0] / v_lookup[0],
        "bytes_per_route": {"rte_fib6": rte_bytes / len(routes), "v6fwd": ours_bytes / len(routes)},
        "memory_ratio": ours_bytes / rte_bytes,
        "rte_fib6_adds_per_s": hz / rte_add,
        "v6fwd_update_routes_per_s": med("v6fwd", "update_routes_per_s"),
        "v6fwd_single_update_us": med("v6fwd", "single_update_us"),
        "v6fwd_build_s": med("v6fwd", "build_s"),
        "v6fwd_lookup_one_cycles": med("v6fwd", "lookup_one_cycles"),
        "v6fwd_reader_burst_us": {
            "beside_update": {q: med("v6fwd", f"reader_burst_{q}_us")[0] for q in ("median", "p999", "max")},
            "beside_idle_writer": {q: med("v6fwd", f"idle_reader_burst_{q}_us")[0] for q in ("median", "p999", "max")},
            "beside_spinning_writer": {q: med("v6fwd", f"spin_reader_burst_{q}_us")[0] for q in ("median", "p999", "max")},
        },
        "rte_fib6_build_s": hz and len(routes) * rte_add / hz,
    }
    results["summary"] = summary
    (out / "results.json").write_text(json.dumps(results, indent=1))

    print(f"\n{len(routes)} prefixes, {len(ips)} addresses, {args.rounds} rounds, "
          f"TSC {hz / 1e9:.2f} GHz, both on CPU {args.core}, 4 KiB pages on both sides")
    print(f"{'':26}{'rte_fib6 trie':>18}{'v6fwd':>18}")
    print(f"{'cycles per lookup (med)':26}{rte_lookup[0]:>18.1f}{v_lookup[0]:>18.1f}"
          f"   (min-max {rte_lookup[1]:.1f}-{rte_lookup[2]:.1f} / {v_lookup[1]:.1f}-{v_lookup[2]:.1f})")
    print(f"{'lookup bytes per route':26}{rte_bytes / len(routes):>18.1f}{ours_bytes / len(routes):>18.1f}")
    print(f"{'build, s':26}{summary['rte_fib6_build_s']:>18.2f}{summary['v6fwd_build_s'][0]:>18.2f}")
    print(f"{'updates per s':26}{hz / rte_add:>18.0f}{summary['v6fwd_update_routes_per_s'][0]:>18.0f}"
          "   (rte: one add at a time; v6fwd: batches of 10,000, each published)")
    print(f"one v6fwd change published alone: {summary['v6fwd_single_update_us'][0]:.0f} us (median)")
    print(f"v6fwd one address at a time: {summary['v6fwd_lookup_one_cycles'][0]:.1f} cycles per lookup")
    rb = summary["v6fwd_reader_burst_us"]
    for what, key in (("beside a half-table update", "beside_update"),
                      ("beside an idle writer     ", "beside_idle_writer"),
                      ("beside a spinning writer  ", "beside_spinning_writer")):
        r = rb[key]
        print(f"a reader's bursts of 64 lookups {what}: median {r['median']:.2f} us, "
              f"99.9th percentile {r['p999']:.2f} us, longest {r['max']:.1f} us")
    print(f"ratios v6fwd/rte_fib6: lookup rate {summary['lookup_rate_ratio']:.2f}, "
          f"memory {summary['memory_ratio']:.3f}")
    print(f"results in {out}/results.json")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
        ax[0].bar(["rte_fib6", "v6fwd"], [rte_lookup[0], v_lookup[0]])
        ax[0].set_ylabel("cycles per lookup")
        ax[1].bar(["rte_fib6", "v6fwd"], [rte_bytes / len(routes), ours_bytes / len(routes)])
        ax[1].set_ylabel("bytes per route")
        fig.suptitle(f"{len(routes)} prefixes")
        fig.tight_layout()
        fig.savefig(out / "fib.png")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
