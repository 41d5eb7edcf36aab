#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 20) from its seeds, with cargo-fuzz and
# libFuzzer. cargo-fuzz needs nightly compiler flags (the sanitizers); the only toolchain
# here is stable, so RUSTC_BOOTSTRAP lets it take them. A crash stops the run, and its
# input is left under fuzz/artifacts/ to become a regression test.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"

command -v cargo-fuzz >/dev/null || cargo install --locked --quiet cargo-fuzz

export RUSTC_BOOTSTRAP=1
targets=(dataplane extension_headers neighbor_solicitation neighbor_discovery reassembly config control_request esp_input)
cargo fuzz build -O
for t in "${targets[@]}"; do
	mkdir -p "corpus/$t"
	echo "fuzz $t: ${seconds} s"
	if ! cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$seconds" \
		-rss_limit_mb=4096 >"corpus/$t.log" 2>&1; then
		grep -E "panicked|ERROR|SUMMARY|Test unit written" "corpus/$t.log" >&2
		exit 1
	fi
	grep -E "^Done" "corpus/$t.log"
done
