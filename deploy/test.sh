#!/usr/bin/env bash
# Installs what is missing, then runs every check v6fwd has: formatting, lints, the
# benchmark script once briefly (that it works, not how fast), each fuzz target for 20
# seconds, and all tests: unit tests, and end-to-end tests that start v6fwd on DPDK
# virtual devices between Linux hosts in network namespaces. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings

cargo build --release --quiet
python3 benches/mpps.py --v6fwd target/release/v6fwd --rounds 1 --windows 1 --window 1 --warmup 0.5 \
	--out target/bench-results/smoke

# Every parser that reads bytes from the wire, and the configuration's, under libFuzzer
# for a short while: a crash fails the run.
fuzz/run.sh 20

# One closing line for the whole run: cargo prints a result per test binary, and the last
# binary it runs is not the one that holds the most tests.
# One test at a time: the end-to-end tests measure CPU use and run pollers on both CPUs.
RUST_TEST_THREADS=1 cargo test --workspace --all-targets 2>&1 | tee target/test.log
awk '/^test result:/ { passed += $4; failed += $6 }
	END { printf "tests: %d passed, %d failed\n", passed, failed }' target/test.log
