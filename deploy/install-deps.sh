#!/usr/bin/env bash
# Installs what v6fwd needs to build, test and run its demo on Debian 12 (or newer):
# DPDK 22.11 and its virtual-device drivers, pkg-config and libclang for the bindings,
# iproute2, ping, ndisc6 and radvd for the network-namespace tests, Prometheus (server and
# promtool) for the metrics test, testpmd, the example sources and matplotlib (the plot) for
# the benchmarks. Installs only what is missing, so running it again changes nothing.
set -euo pipefail

packages=(
	libdpdk-dev
	dpdk-dev
	dpdk-doc
	pkg-config
	libclang-dev
	clang
	gcc
	make
	iproute2
	iputils-ping
	traceroute
	ethtool
	ndisc6
	radvd
	prometheus
	tcpdump
	python3
	python3-matplotlib
	procps
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if [ "${#missing[@]}" -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing ${missing[*]}; run as root (or: sudo $0)" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

# The package starts a Prometheus server of its own where systemd runs; the tests start
# theirs, and the machine did not ask for one.
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
	systemctl disable --now prometheus >/dev/null 2>&1 || true
fi
