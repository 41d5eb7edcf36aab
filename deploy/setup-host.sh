#!/usr/bin/env bash
# Prepares a bare-metal host for v6fwd: DPDK's tools, hugepages, the vfio-pci driver and
# the NICs bound to it, then `v6fwd doctor` to say what is still missing. Run as root.
# Running it again changes nothing that is already in place.
#
#   deploy/setup-host.sh [--pages 1024] [--page-size 2M|1G] [--bind 0000:03:00.0 ...]
#
# Hugepages reserved here last until reboot; for 1 GiB pages, and for pages that survive
# a reboot, put them on the kernel command line (see docs/operations.md).
set -euo pipefail

pages=1024
size=2M
bind=()
while [ $# -gt 0 ]; do
	case "$1" in
	--pages) pages="$2"; shift 2 ;;
	--page-size) size="$2"; shift 2 ;;
	--bind) shift; while [ $# -gt 0 ] && [[ "$1" != --* ]]; do bind+=("$1"); shift; done ;;
	*) echo "setup-host: unknown argument $1 (--pages N, --page-size 2M|1G, --bind PCI...)" >&2; exit 2 ;;
	esac
done
case "$size" in
2M) kb=2048 ;;
1G) kb=1048576 ;;
*) echo "setup-host: --page-size is 2M or 1G, not $size" >&2; exit 2 ;;
esac
if [ "$(id -u)" -ne 0 ]; then
	echo "setup-host: run as root" >&2
	exit 1
fi

# dpdk-hugepages.py and dpdk-devbind.py come with Debian's dpdk package.
if ! command -v dpdk-devbind.py >/dev/null; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dpdk
fi

# Hugepages, spread over the NUMA nodes by the kernel, mounted where DPDK looks.
have=$(cat "/sys/kernel/mm/hugepages/hugepages-${kb}kB/nr_hugepages" 2>/dev/null || echo 0)
if [ "$have" -lt "$pages" ]; then
	dpdk-hugepages.py --pagesize "$size" --reserve "$((pages * kb / 1024))M"
fi
if ! mount | grep -q "type hugetlbfs"; then
	dpdk-hugepages.py --mount
fi
dpdk-hugepages.py --show

# vfio-pci needs the IOMMU on (intel_iommu=on or amd_iommu=on, with iommu=pt).
modprobe vfio-pci
if [ -z "$(ls -A /sys/kernel/iommu_groups 2>/dev/null)" ]; then
	echo "setup-host: no IOMMU groups: add intel_iommu=on iommu=pt (or amd_iommu=on) to the kernel command line and reboot" >&2
fi
for dev in "${bind[@]}"; do
	driver=$(basename "$(readlink "/sys/bus/pci/devices/$dev/driver" 2>/dev/null)" 2>/dev/null || true)
	if [ "$driver" != "vfio-pci" ]; then
		dpdk-devbind.py --bind=vfio-pci "$dev"
	fi
done
dpdk-devbind.py --status-dev net

if command -v v6fwd >/dev/null; then
	v6fwd doctor ${V6FWD_CONFIG:+--config "$V6FWD_CONFIG"} || true
fi
