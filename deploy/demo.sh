#!/usr/bin/env bash
# Installs what is missing, builds v6fwd, and runs its demo: two Linux hosts in network
# namespaces with v6fwd between them on DPDK's af_packet driver (no NIC, no hugepages),
# pinging across it both ways, then its counters. Run as root. Extra arguments go to
# `v6fwd demo` (for example --keep to go on forwarding until Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/install-deps.sh
cargo build --release --quiet
exec target/release/v6fwd demo "$@"
