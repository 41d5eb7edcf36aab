#!/usr/bin/env python3
"""Latency that adaptive polling adds to the first packet after idle.

Runs `v6fwd demo` (two Linux hosts in network namespaces, v6fwd between them on
af_packet) in adaptive and in poll mode, interleaved round by round, with echo requests
spaced far enough apart that an adaptive worker is asleep when each arrives. The demo's
pings cross the router and go to its addresses; their round-trip times, as ping reports
them, are compared between the modes. Needs root.

    python3 benches/wake_latency.py --v6fwd target/release/v6fwd --rounds 3
"""

import argparse
import re
import statistics
import subprocess
import sys

RTT_LINE = re.compile(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")
MODES = ("adaptive", "poll")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--v6fwd", default="target/release/v6fwd", help="v6fwd binary")
    parser.add_argument("--rounds", type=int, default=3, help="demo runs per mode")
    parser.add_argument("--count", type=int, default=10, help="echo requests per ping")
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between echo requests: longer than the worker's idle run")
    return parser.parse_args()


def demo_rtts(args, mode):
    """The average round-trip times, in microseconds, of each ping of one demo run."""
    command = [args.v6fwd, "demo", "--polling", mode, "--count", str(args.count),
               "--interval", str(args.interval)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({run.returncode}):\n{run.stdout[-2000:]}{run.stderr[-2000:]}")
    return [float(m.group(2)) * 1000 for m in RTT_LINE.finditer(run.stdout)]


def main():
    args = parse_args()
    rtts = {mode: [] for mode in MODES}
    for r in range(1, args.rounds + 1):
        for mode in MODES:
            got = demo_rtts(args, mode)
            rtts[mode] += got
            print(f"round {r}/{args.rounds} {mode}: " + " ".join(f"{x:.0f}" for x in got) + " us")
    print(f"\n{'mode':<10} {'pings':>6} {'median':>8} {'min':>8} {'max':>8}  (average RTT per ping, us)")
    for mode in MODES:
        xs = rtts[mode]
        print(f"{mode:<10} {len(xs):>6} {statistics.median(xs):>8.0f} {min(xs):>8.0f} {max(xs):>8.0f}")
    added = statistics.median(rtts["adaptive"]) - statistics.median(rtts["poll"])
    print(f"\nadded by adaptive polling at the first packet after idle: {added:.0f} us "
          "(median of average RTTs; a round trip crosses the router twice)")


if __name__ == "__main__":
    main()
