#!/usr/bin/env python3
"""Forwarding rate of v6fwd on one or more worker cores, beside DPDK testpmd's I/O
ceiling and DPDK's l3fwd example routing the same traffic.

Every peer runs with the same EAL options and the same two virtual ports: a pcap file of
small IPv6/UDP frames replayed forever on port 0 (net_pcap) and a sink on port 1
(net_null). With N workers, each port has N rx and N tx queues and each worker polls its
own rx queue of each port and sends on its own tx queues. Counters are read from outside
through each process's telemetry socket, so every peer is measured the same way and none
has to print anything. Peers and worker counts are interleaved round by round, so slow
drifts of the machine fall on all of them alike. l3fwd is built from the sources Debian's
dpdk-doc ships, patched for virtual devices.

    python3 benches/mpps.py --v6fwd target/release/v6fwd --rounds 3 --window 5
    python3 benches/mpps.py --workers 1,2 --rounds 2 --window 5
"""

import argparse
import hashlib
import ipaddress
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

MAIN_LCORE = 0
MEMORY_MB = 1024
# Pool sizes with one worker. Every rx queue of the source holds a copy of the whole
# capture (see PCAP_BUDGET_BYTES), so each further worker adds one capture to the pool
# and the mbufs left for forwarding stay the same at every worker count.
TESTPMD_MBUFS = 16384
V6FWD_MBUFS = 16383
# net_pcap makes at most this many queues per device (RTE_PMD_PCAP_MAX_QUEUES).
MAX_WORKERS = 16

SOURCE_DEVICE = "net_pcap0"
SINK_DEVICE = "net_null0"
SINK_DEVICE_ARGS = f"{SINK_DEVICE},no-rx=1"
# EAL probes virtual devices in the order of their --vdev options, and the peers given
# --vdev get the source first. l3fwd names ports by id in its routes and queue map.
SOURCE_PORT_ID = 0
SINK_PORT_ID = 1

# net_pcap names its ports 02:'p':'c':'a':'p':<n>, n counting the pcap ports created in
# the process; the source is the only one, so its address ends in 00.
SOURCE_PORT_MAC = "02:70:63:61:70:00"
SENDER_MAC = "02:00:00:00:01:02"
SENDER_ADDRESS = ipaddress.IPv6Address("2001:db8:1::2")
SOURCE_PORT_ADDRESS = "2001:db8:1::1/64"
SINK_PORT_ADDRESS = "2001:db8:2::1/64"
NEXT_HOP = ipaddress.IPv6Address("2001:db8:2::2")
NEXT_HOP_MAC = "02:00:00:00:02:02"
DESTINATION_PREFIX = ipaddress.IPv6Network("2001:db8:100::/40")
DOCUMENTATION_PREFIX = ipaddress.IPv6Network("2001:db8::/32")

ETHERTYPE_IPV6 = 0x86DD
NEXT_HEADER_UDP = 17
HOP_LIMIT = 64
ETHERNET_HEADER_LEN = 14
IPV6_HEADER_LEN = 40
UDP_HEADER_LEN = 8
MIN_FRAME_SIZE = 64
# Sizes count the frame as it sits in an mbuf, without the 4-byte FCS of the wire. 1514
# is the largest frame whose IPv6 packet fits the 1500-byte Ethernet MTU: anything longer
# a router must refuse to forward, which would measure drops rather than forwarding.
MAX_FRAME_SIZE = 1514

# A /40 holds 256 /48s, so 1024 destinations put four in each, one per /64.
DESTINATIONS = 1024
# net_pcap's infinite_rx loads every frame of the file into an mbuf of the rx queue's pool
# and holds it for the whole run (one segment each: it refuses chained mbufs), so the
# file stays small beside the 16k-mbuf pools the peers get.
PCAP_BUDGET_BYTES = 320 * 1024
MAX_FRAMES = 4096
PCAP_RECORD_HEADER_LEN = 16

DPDK_EXAMPLES = Path("/usr/share/dpdk/examples")
L3FWD_BUILD_DIR = REPO_ROOT / "target" / "l3fwd"
L3FWD_BUILD_TIMEOUT_S = 900
# l3fwd 22.11 creates its IPv6 LPM table for this many rules.
L3FWD_MAX_IPV6_ROUTES = 1024
# l3fwd reads neither route file unless both are given, and rejects a file without a
# route; this IPv4 one, in TEST-NET-1 (RFC 5737), matches nothing the benchmark sends.
L3FWD_IPV4_ROUTE = ipaddress.IPv4Network("192.0.2.0/24")

TELEMETRY_SOCKET = "dpdk_telemetry.v2"
TELEMETRY_TIMEOUT_S = 2.0
POLL_INTERVAL_S = 0.1
STOP_GRACE_S = 5.0
LOG_TAIL_LINES = 20


class BenchError(Exception):
    """A failure that ends the benchmark; the message is what the user reads."""


@dataclass
class Window:
    """One measured interval of one peer run, from two counter samples."""

    seconds: float
    tx_packets: int
    rx_packets: int

    @property
    def mpps(self):
        """Millions of packets sent on the sink per second: forwarded, not received."""
        return self.tx_packets / self.seconds / 1e6


def cycles_per_packet(hz, mpps):
    """The clock's cycles between two forwarded packets. A worker that polls without
    ever sleeping spends them all on packets or on empty polls, so under full load this
    is what a packet costs; a worker that sleeps would look cheaper than it is."""
    if not hz or mpps <= 0:
        return None
    return hz / (mpps * 1e6)


@dataclass(frozen=True)
class Layout:
    """Where one peer's lcores run with a given number of workers: the main lcore on the
    first CPU this script may use, worker lcores 1 to N on the following CPUs in turn.
    Every peer gets the same layout for the same N. Once the workers outnumber the other
    CPUs, the mapping wraps around: a worker then shares its CPU with the main lcore,
    DPDK's control threads and this script, or with another worker, and gets only what
    they leave it."""

    workers: int
    cpus: tuple

    @property
    def worker_lcores(self):
        return [MAIN_LCORE + 1 + i for i in range(self.workers)]

    def cpu(self, lcore):
        return self.cpus[(lcore - MAIN_LCORE) % len(self.cpus)]

    @property
    def lcores(self):
        """EAL's --lcores value, lcore@cpu for the main lcore and every worker."""
        return ",".join(f"{lcore}@{self.cpu(lcore)}"
                        for lcore in [MAIN_LCORE, *self.worker_lcores])

    def shared(self):
        """Worker lcores whose CPU also runs another lcore, with that CPU."""
        taken = {self.cpu(MAIN_LCORE): MAIN_LCORE}
        shared = []
        for lcore in self.worker_lcores:
            cpu = self.cpu(lcore)
            if cpu in taken:
                shared.append((lcore, cpu, taken[cpu]))
            taken.setdefault(cpu, lcore)
        return shared

    def describe(self):
        """One line for the output and results.json; says plainly when a worker does not
        have a CPU of its own, since that caps what the count can show."""
        text = (f"{self.workers} worker{'s' if self.workers > 1 else ''}: --lcores "
                f"{self.lcores} on {len(self.cpus)} CPUs")
        for lcore, cpu, other in self.shared():
            whom = "the main lcore, DPDK's control threads and this script" \
                if other == MAIN_LCORE else f"worker lcore {other}"
            text += (f"; worker lcore {lcore} shares CPU {cpu} with {whom}, "
                     "which caps it")
        return text


def pool_mbufs(base, workers, frames):
    """A pool of base mbufs plus one capture for every rx queue of the source beyond the
    first, since net_pcap holds a copy of the capture per queue for the whole run."""
    return base + (workers - 1) * frames


@dataclass
class Run:
    """One start-to-stop life of one peer, with its raw samples."""

    peer: str
    workers: int
    round: int
    file_prefix: str
    command: list
    log: str
    samples: list = field(default_factory=list)
    windows: list = field(default_factory=list)


def parse_args(argv):
    """Reads the command line. The defaults give each peer six 10 s windows over three
    restarts, enough for a median that one noisy window cannot move."""
    parser = argparse.ArgumentParser(
        description="Measure v6fwd's forwarding rate against testpmd's I/O ceiling "
                    "and DPDK's l3fwd.")
    parser.add_argument("--v6fwd", default=str(REPO_ROOT / "target/release/v6fwd"),
                        help="v6fwd binary (default: %(default)s)")
    parser.add_argument("--testpmd", default="dpdk-testpmd",
                        help="testpmd binary (default: %(default)s)")
    parser.add_argument("--dpdk-examples", type=Path, default=DPDK_EXAMPLES,
                        help="DPDK's example sources, l3fwd's among them, as the dpdk-doc "
                             "package installs them (default: %(default)s)")
    parser.add_argument("--peers", default="testpmd,l3fwd,v6fwd",
                        help="comma-separated peers, in the order each round runs them "
                             f"({', '.join(PEERS)}; default: %(default)s)")
    parser.add_argument("--workers", default="1",
                        help="worker lcores per peer, each polling its own queue of each "
                             "port; a comma-separated list (1,2) measures every count in "
                             "every round and reports how each peer scales "
                             "(default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of each peer at each worker count")
    parser.add_argument("--window", type=float, default=10.0,
                        help="seconds per measured window")
    parser.add_argument("--windows", type=int, default=2,
                        help="back-to-back windows per run")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds between the first forwarded packet and the first window")
    parser.add_argument("--start-timeout", type=float, default=10.0,
                        help="seconds a peer gets to start forwarding")
    parser.add_argument("--frame-size", type=int, default=MIN_FRAME_SIZE,
                        help=f"frame bytes without FCS, {MIN_FRAME_SIZE}..{MAX_FRAME_SIZE}")
    parser.add_argument("--routes", type=int, default=0,
                        help="extra /48 routes in v6fwd's table beside the /40")
    parser.add_argument("--out", type=Path,
                        help="results folder (default: target/bench-results/<timestamp>)")
    args = parser.parse_args(argv)

    args.peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = sorted(set(args.peers) - set(PEERS))
    if unknown or not args.peers:
        parser.error(f"--peers takes a list of {', '.join(PEERS)}")
    if len(set(args.peers)) != len(args.peers):
        parser.error("--peers names a peer twice")
    try:
        args.workers = [int(n) for n in args.workers.split(",") if n.strip()]
    except ValueError:
        parser.error("--workers takes a comma-separated list of whole numbers")
    if not args.workers or not all(1 <= n <= MAX_WORKERS for n in args.workers):
        parser.error(f"--workers must be within 1..{MAX_WORKERS} (net_pcap's queues per device)")
    if len(set(args.workers)) != len(args.workers):
        parser.error("--workers names a count twice")
    if not MIN_FRAME_SIZE <= args.frame_size <= MAX_FRAME_SIZE:
        parser.error(f"--frame-size must be within {MIN_FRAME_SIZE}..{MAX_FRAME_SIZE}")
    if args.rounds < 1 or args.windows < 1 or args.window <= 0 or args.start_timeout <= 0:
        parser.error("--rounds, --windows, --window and --start-timeout must be positive")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if not 0 <= args.routes <= MAX_EXTRA_ROUTES:
        parser.error(f"--routes must be within 0..{MAX_EXTRA_ROUTES}")
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        args.out = REPO_ROOT / "target" / "bench-results" / stamp
    args.out = args.out.resolve()
    if "," in str(args.out):
        parser.error("--out must not contain a comma: EAL device strings split on it")
    return args


# Traffic


def destination(index):
    """The index-th destination: consecutive indexes fall in different /48s of the /40,
    so back-to-back packets do not share a route."""
    per_48 = 1 << (48 - DESTINATION_PREFIX.prefixlen)
    slash48 = index % per_48
    subnet = index // per_48
    base = int(DESTINATION_PREFIX.network_address)
    return ipaddress.IPv6Address(base | slash48 << 80 | subnet << 64 | 0x10)


def internet_checksum(data):
    """RFC 1071 ones' complement sum, folded and complemented."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_datagram(src, dst, sport, dport, payload):
    """A UDP datagram with its checksum, which IPv6 makes mandatory (RFC 8200 8.1)."""
    length = UDP_HEADER_LEN + len(payload)
    pseudo = src.packed + dst.packed + struct.pack("!IxxxB", length, NEXT_HEADER_UDP)
    header = struct.pack("!HHHH", sport, dport, length, 0)
    checksum = internet_checksum(pseudo + header + payload)
    # RFC 768: a computed zero is sent as all ones, zero meaning "no checksum".
    header = struct.pack("!HHHH", sport, dport, length, checksum or 0xFFFF)
    return header + payload


def mac_bytes(text):
    """Six bytes from a colon-separated MAC address."""
    return bytes(int(octet, 16) for octet in text.split(":"))


def ipv6_frame(dst, sport, dport, frame_size):
    """An Ethernet/IPv6/UDP frame of exactly frame_size bytes, addressed to port 0."""
    payload_len = frame_size - ETHERNET_HEADER_LEN - IPV6_HEADER_LEN - UDP_HEADER_LEN
    payload = bytes(i & 0xFF for i in range(payload_len))
    udp = udp_datagram(SENDER_ADDRESS, dst, sport, dport, payload)
    ipv6 = struct.pack("!IHBB", 6 << 28, len(udp), NEXT_HEADER_UDP, HOP_LIMIT)
    ipv6 += SENDER_ADDRESS.packed + dst.packed
    ethernet = mac_bytes(SOURCE_PORT_MAC) + mac_bytes(SENDER_MAC)
    ethernet += struct.pack("!H", ETHERTYPE_IPV6)
    return ethernet + ipv6 + udp


def frame_count(frame_size):
    """As many frames as fit the pcap budget, never more than MAX_FRAMES."""
    return min(MAX_FRAMES, PCAP_BUDGET_BYTES // (PCAP_RECORD_HEADER_LEN + frame_size))


def write_pcap(path, frames):
    """Classic pcap, microsecond timestamps, linktype 1 (Ethernet). net_pcap replays
    the frames back to back, so the timestamps are only there to look sane in tcpdump."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate(frames):
            f.write(struct.pack("<IIII", i // 1_000_000, i % 1_000_000,
                                len(frame), len(frame)))
            f.write(frame)


def generate_traffic(path, frame_size):
    """Writes the replayed capture; frame i goes to destination i mod the destination
    count, with ports that change every frame so no two frames share a flow."""
    count = frame_count(frame_size)
    destinations = min(DESTINATIONS, count)
    frames = [
        ipv6_frame(destination(i % destinations),
                   49152 + i % 16384,
                   1024 + (i * 7919) % 64512,
                   frame_size)
        for i in range(count)
    ]
    write_pcap(path, frames)
    return {
        "path": str(path),
        "frames": count,
        "frame_size": frame_size,
        "destinations": destinations,
        "bytes": path.stat().st_size,
    }


# v6fwd configuration


def extra_routes(count):
    """The first count /48s for --routes: those of the /40 that hold the destinations
    come first, so traffic matches the longer routes; then the rest of 2001:db8::/32
    above the /40, which only grow the table. The /48s below the /40 are left out:
    they hold the ports' own subnets."""
    inside = DESTINATION_PREFIX.subnets(new_prefix=48)
    above = range(int(DESTINATION_PREFIX.broadcast_address) + 1,
                  int(DOCUMENTATION_PREFIX.broadcast_address) + 1, 1 << 80)
    outside = (ipaddress.IPv6Network((address, 48)) for address in above)
    return list(itertools.islice(itertools.chain(inside, outside), count))


# The /48s from the start of the /40 to the end of the /32.
MAX_EXTRA_ROUTES = (
    (int(DOCUMENTATION_PREFIX.broadcast_address) - int(DESTINATION_PREFIX.network_address) + 1)
    >> 80
)


def toml_string(text):
    """A TOML basic string; JSON's escapes are a subset of TOML's."""
    return json.dumps(text)


def v6fwd_config(pcap_path, extra_routes_count, layout, frames, socket_path,
                 polling="adaptive"):
    """The TOML v6fwd reads: the layout's workers, the two ports, the /40 and any extra
    routes, all through the one next hop on port1 whose link-layer address is fixed up
    front, so no neighbor discovery runs while measuring. v6fwd gives every port one rx
    and one tx queue per worker. Its control socket is the benchmark's own and it serves
    no metrics, so that a v6fwd already running on the machine is left alone."""
    lines = [
        f"workers = [{', '.join(map(str, layout.worker_lcores))}]",
        f"mbufs = {pool_mbufs(V6FWD_MBUFS, layout.workers, frames)}",
        f"control = {{ socket = {toml_string(str(socket_path))} }}",
        'metrics = { listen = "" }',
        "",
        "[[port]]",
        'name = "port0"',
        f"device = {toml_string(source_device(pcap_path, layout.workers))}",
        f"addresses = [{toml_string(SOURCE_PORT_ADDRESS)}]",
        "",
        "[[port]]",
        'name = "port1"',
        f"device = {toml_string(SINK_DEVICE_ARGS)}",
        f"addresses = [{toml_string(SINK_PORT_ADDRESS)}]",
    ]
    for prefix in [DESTINATION_PREFIX, *extra_routes(extra_routes_count)]:
        lines += ["", "[[route]]", f'prefix = "{prefix}"', f'via = "{NEXT_HOP}"']
    lines += [
        "",
        "[[neighbor]]",
        f'address = "{NEXT_HOP}"',
        f'lladdr = "{NEXT_HOP_MAC}"',
        'port = "port1"',
        "",
        "[polling]",
        f'mode = "{polling}"',
    ]
    return "\n".join(lines) + "\n"


def l3fwd_routes(extra_routes_count):
    """l3fwd's two route files, IPv4 then IPv6: the routes v6fwd gets, each straight out
    of the sink port, since l3fwd knows ports and not next hops."""
    ipv4 = [f"R{L3FWD_IPV4_ROUTE} {SINK_PORT_ID}"]
    ipv6 = [f"R{prefix} {SINK_PORT_ID}"
            for prefix in [DESTINATION_PREFIX, *extra_routes(extra_routes_count)]]
    return "\n".join(ipv4) + "\n", "\n".join(ipv6) + "\n"


# Peers


def source_device(pcap_path, queues):
    """The vdev string of the replaying source port. net_pcap makes one rx queue per
    rx_pcap argument, each replaying its own copy of the file forever, and, with no tx
    argument, one tx queue that drops for each rx queue."""
    captures = ",".join([f"rx_pcap={pcap_path}"] * queues)
    return f"{SOURCE_DEVICE},{captures},infinite_rx=1"


def eal_options(file_prefix, layout):
    """EAL options every peer gets, byte for byte for the same layout."""
    return [
        "--no-huge", "-m", str(MEMORY_MB), "--no-pci", f"--file-prefix={file_prefix}",
        "--lcores", layout.lcores, "--main-lcore", str(MAIN_LCORE),
    ]


def testpmd_command(binary, file_prefix, paths, layout):
    """testpmd in io mode: the cost of moving packets between the two ports, nothing
    else. With N queues and N cores, its streams go to cores in order, so each core gets
    queue q of both ports and sends on tx queue q, as v6fwd's workers do.
    --stats-period keeps it running with stdin closed; its period is long so it prints
    once, at start."""
    n = layout.workers
    mbufs = pool_mbufs(TESTPMD_MBUFS, n, paths["frames"])
    return [
        binary, *eal_options(file_prefix, layout),
        "--vdev", source_device(paths["pcap"], n), "--vdev", SINK_DEVICE_ARGS,
        "--",
        "--forward-mode=io", f"--nb-cores={n}", f"--rxq={n}", f"--txq={n}",
        f"--total-num-mbufs={mbufs}", "--stats-period=86400", "--no-flush-rx",
    ]


def v6fwd_command(binary, file_prefix, paths, layout):
    """v6fwd adds the vdevs itself from its config, so EAL gets no --vdev here. Its
    workers poll adaptively, as by default."""
    return [binary, "run", "--config", str(paths["config"][layout.workers]), "--",
            *eal_options(file_prefix, layout)]


def v6fwd_poll_command(binary, file_prefix, paths, layout):
    """v6fwd with workers that never sleep: under full load it should match the
    adaptive default."""
    return [binary, "run", "--config", str(paths["config_poll"][layout.workers]), "--",
            *eal_options(file_prefix, layout)]


def l3fwd_command(binary, file_prefix, paths, layout):
    """l3fwd in LPM mode: worker q polls rx queue q of both ports, like the other peers',
    rewrites the Ethernet header to the next hop's address on the sink and sends there on
    a tx queue of its own (see L3FWD_PATCHES). l3fwd sizes its own pool from its queues
    and lcores, and it is left so: with two workers 8832 mbufs, 640 of them free beside
    the two captures, and a pool 4096 larger forwarded no faster. Virtual devices set no
    packet type, so --parse-ptype has l3fwd find it in software; that is part of its cost
    here."""
    queues = ",".join(f"({port},{queue},{lcore})"
                      for queue, lcore in enumerate(layout.worker_lcores)
                      for port in (SOURCE_PORT_ID, SINK_PORT_ID))
    return [
        binary, *eal_options(file_prefix, layout),
        "--vdev", source_device(paths["pcap"], layout.workers), "--vdev", SINK_DEVICE_ARGS,
        "--",
        "-p", f"{1 << SOURCE_PORT_ID | 1 << SINK_PORT_ID:x}",
        "--lookup=lpm",
        "--config", queues,
        f"--eth-dest={SINK_PORT_ID},{NEXT_HOP_MAC}",
        "--parse-ptype",
        f"--rule_ipv4={paths['l3fwd_ipv4']}", f"--rule_ipv6={paths['l3fwd_ipv6']}",
    ]


PEERS = {"testpmd": testpmd_command, "l3fwd": l3fwd_command, "v6fwd": v6fwd_command,
         "v6fwd-poll": v6fwd_poll_command}
# Peers that name ports by id on their command line rather than by device.
FIXED_PORT_IDS = {"l3fwd"}


# l3fwd, built from DPDK's example sources

# Two things stop l3fwd 22.11 on these virtual devices and a third skews it beside the
# other peers; a copy of its sources is patched for all three, and forwarding itself is
# left as it is.
#
# It asks every port for rx checksum offloads, which neither device offers, so
# rte_eth_dev_configure refuses. The copy asks only for what the port reports it can do,
# at the port and at the queue (which l3fwd fills from its global configuration, not the
# port's). l3fwd never reads the checksum flags that offload would have set.
#
# It sets up one tx queue on every port for every lcore, the main lcore included, and
# net_pcap offers one per rx queue. Only lcores that poll rx queues ever send, so the
# copy gives tx queues to those alone, numbered in lcore order: one per worker on every
# port, as testpmd and v6fwd do.
#
# Its main lcore, which polls nothing, waits for the workers in rte_eal_mp_wait_lcore,
# which spins. Once a worker shares the main lcore's CPU (two workers on two CPUs), that
# spin takes half the worker's CPU, where testpmd's and v6fwd's main threads sleep. The
# copy has the main lcore sleep until the signal that stops the workers, then wait.
L3FWD_PATCHES = [
    ("main.c",
     "\t\tlocal_port_conf.rx_adv_conf.rss_conf.rss_hf &=\n"
     "\t\t\tdev_info.flow_type_rss_offloads;\n",
     "\t\tlocal_port_conf.rx_adv_conf.rss_conf.rss_hf &=\n"
     "\t\t\tdev_info.flow_type_rss_offloads;\n"
     "\t\t/* Only the rx offloads the port has. */\n"
     "\t\tlocal_port_conf.rxmode.offloads &= dev_info.rx_offload_capa;\n"),
    ("main.c",
     "\t\t\trxq_conf.offloads = port_conf.rxmode.offloads;\n",
     "\t\t\t/* Only the rx offloads the port has. */\n"
     "\t\t\trxq_conf.offloads = port_conf.rxmode.offloads &\n"
     "\t\t\t\tdev_info.rx_offload_capa;\n"),
    ("main.c",
     "\tnb_lcores = rte_lcore_count();\n",
     "\t/* Only lcores that poll rx queues send, and get tx queues. */\n"
     "\tnb_lcores = 0;\n"
     "\tfor (lcore_id = 0; lcore_id < RTE_MAX_LCORE; lcore_id++)\n"
     "\t\tif (rte_lcore_is_enabled(lcore_id) &&\n"
     "\t\t    lcore_conf[lcore_id].n_rx_queue > 0)\n"
     "\t\t\tnb_lcores++;\n"),
    ("main.c",
     "\t\t/* init one TX queue per couple (lcore,port) */\n"
     "\t\tqueueid = 0;\n"
     "\t\tfor (lcore_id = 0; lcore_id < RTE_MAX_LCORE; lcore_id++) {\n"
     "\t\t\tif (rte_lcore_is_enabled(lcore_id) == 0)\n",
     "\t\t/* init one TX queue per couple (lcore,port) */\n"
     "\t\tqueueid = 0;\n"
     "\t\tfor (lcore_id = 0; lcore_id < RTE_MAX_LCORE; lcore_id++) {\n"
     "\t\t\tif (rte_lcore_is_enabled(lcore_id) == 0 ||\n"
     "\t\t\t    lcore_conf[lcore_id].n_rx_queue == 0)\n"),
    ("main.c",
     "\t} else {\n"
     "\t\trte_eal_mp_wait_lcore();\n",
     "\t} else {\n"
     "\t\t/* Sleep, not spin, on a CPU a worker may share. */\n"
     "\t\twhile (!force_quit)\n"
     "\t\t\trte_delay_us_sleep(100000);\n"
     "\t\trte_eal_mp_wait_lcore();\n"),
]


class BuildError(Exception):
    """Why l3fwd could not be built; the benchmark goes on without it."""


def tool_output(command):
    """A build tool's stdout, or BuildError saying which tool failed."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as error:
        raise BuildError(f"{command[0]}: {error.strerror}") from None
    if done.returncode != 0:
        raise BuildError(f"{' '.join(command)} failed: "
                         f"{done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def l3fwd_fingerprint(sources, common):
    """A digest of what the binary is built from: the sources, the patches, the
    compiler and flags make takes from the environment, and the installed DPDK. A build
    whose digest matches is reused."""
    digest = hashlib.sha256()
    for variable in ("CC", "CFLAGS", "LDFLAGS"):
        digest.update(f"{variable}={os.environ.get(variable, '')}\0".encode())
    for folder in (sources, common):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(folder.parent)).encode() + b"\0")
            digest.update(path.read_bytes())
    digest.update(repr(L3FWD_PATCHES).encode())
    # pkg-config prints only the version when --modversion is among its options.
    for query in (["--modversion"], ["--cflags", "--libs"]):
        digest.update(tool_output(["pkg-config", *query, "libdpdk"]).encode())
    return digest.hexdigest()


def patch_l3fwd(folder):
    """Applies L3FWD_PATCHES to the copy; each must match exactly once, or these are
    not the sources the patches were written for."""
    for name, old, new in L3FWD_PATCHES:
        path = folder / name
        text = path.read_text()
        if text.count(old) != 1:
            raise BuildError(f"{name}: the lines to patch occur {text.count(old)} times, "
                             "not once; these are not DPDK 22.11's l3fwd sources")
        path.write_text(text.replace(old, new))


def build_l3fwd(examples, build_dir):
    """Builds the patched copy in build_dir with the example's own Makefile, or reuses
    the binary a previous build left there from the same sources. Returns the binary
    and what was done; raises BuildError with the reason it cannot. Two benchmarks
    started at once would build in the same folder; they are not meant to run together,
    as they would share the two cores too."""
    sources, common = examples / "l3fwd", examples / "common"
    if not (sources / "main.c").is_file() or not common.is_dir():
        raise BuildError(f"no l3fwd sources in {examples} (Debian package dpdk-doc)")
    for tool in ("make", "pkg-config", os.environ.get("CC", "cc").split()[0]):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} not found")
    if subprocess.run(["pkg-config", "--exists", "libdpdk"], check=False).returncode != 0:
        raise BuildError("pkg-config does not know libdpdk (Debian package libdpdk-dev)")

    fingerprint = l3fwd_fingerprint(sources, common)
    stamp = build_dir / "fingerprint"
    binary = build_dir / "l3fwd" / "build" / "l3fwd-shared"
    try:
        if stamp.read_text() == fingerprint and os.access(binary, os.X_OK):
            return binary, "reused"
    except OSError:
        pass

    # The example's Makefile takes headers from ../common, so both folders are copied
    # side by side; a half-finished build is wiped rather than trusted.
    shutil.rmtree(build_dir, ignore_errors=True)
    shutil.copytree(sources, build_dir / "l3fwd")
    shutil.copytree(common, build_dir / "common")
    patch_l3fwd(build_dir / "l3fwd")
    log = build_dir / "build.log"
    with open(log, "wb") as out:
        try:
            done = subprocess.run(["make", "-C", str(build_dir / "l3fwd")], stdout=out,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=L3FWD_BUILD_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise BuildError(f"make ran over {L3FWD_BUILD_TIMEOUT_S} s; see {log}") from None
    if done.returncode != 0 or not os.access(binary, os.X_OK):
        raise BuildError(f"make failed with status {done.returncode}; {log} ends:\n"
                         f"{log_tail(log)}")
    stamp.write_text(fingerprint)
    return binary, "built"


def prepare_l3fwd(args):
    """The l3fwd binary, or None with the reason printed; either way a record for
    results.json. l3fwd is skipped, not fatal: the other peers are still measured."""
    record = {"sources": str(args.dpdk_examples / "l3fwd"), "build_dir": str(L3FWD_BUILD_DIR),
              "patches": [{"file": name, "replaced": old, "by": new}
                          for name, old, new in L3FWD_PATCHES]}
    if args.routes + 1 > L3FWD_MAX_IPV6_ROUTES:
        record["error"] = (f"it holds {L3FWD_MAX_IPV6_ROUTES} IPv6 routes, and --routes "
                           f"{args.routes} makes {args.routes + 1}")
    else:
        print(f"l3fwd: sources {record['sources']}, build in {L3FWD_BUILD_DIR}")
        started = time.monotonic()
        try:
            binary, record["status"] = build_l3fwd(args.dpdk_examples, L3FWD_BUILD_DIR)
        except (BuildError, OSError) as error:
            record["error"] = str(error)
        else:
            record["binary"] = str(binary)
            record["seconds"] = time.monotonic() - started
            print(f"l3fwd: {record['status']} {binary} ({record['seconds']:.0f} s)")
            return str(binary), record
    record["status"] = "skipped"
    print(f"l3fwd: skipped: {record['error']}")
    return None, record


def resolve_binary(name):
    """The binary's path, or None when it is missing: a peer not built yet is skipped."""
    if os.sep in name:
        path = Path(name)
        return str(path.resolve()) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(name)


def runtime_dir(file_prefix):
    """Where EAL puts this process's sockets and files: /var/run/dpdk for root,
    else under XDG_RUNTIME_DIR or /tmp."""
    if os.geteuid() == 0:
        base = Path("/var/run")
    else:
        base = Path(os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    return base / "dpdk" / file_prefix


def log_tail(path):
    """The last lines a peer wrote, to show why it failed."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return "(no output)"
    return "\n".join(lines[-LOG_TAIL_LINES:]) or "(no output)"


def stop(process):
    """SIGINT lets the peer close its ports; SIGTERM then SIGKILL if it hangs. The
    signals go to this child's PID only, and only while it is unreaped."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout=STOP_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()


# Telemetry


class Telemetry:
    """A client of one EAL process's telemetry v2 socket (SOCK_SEQPACKET, one JSON
    reply per command)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(TELEMETRY_TIMEOUT_S)
        try:
            self.sock.connect(str(path))
            greeting = json.loads(self.sock.recv(4096))
        except (OSError, ValueError):
            self.sock.close()
            raise
        # A reply longer than the receive buffer would be cut silently.
        self.max_len = int(greeting.get("max_output_len", 16384)) + 1024

    def query(self, command):
        """The value the process returns for one command; None for an unknown
        command or a bad parameter. A peer that stops answering ends the benchmark."""
        try:
            self.sock.send(command.encode())
            reply = json.loads(self.sock.recv(self.max_len))
        except (OSError, ValueError) as error:
            raise BenchError(f"telemetry {command}: {error}") from None
        return reply.get(command.split(",")[0])

    def close(self):
        """Frees this client's slot: EAL serves a bounded number of telemetry clients."""
        self.sock.close()


def connect_telemetry(process, file_prefix, deadline, log):
    """Waits for the peer's telemetry socket to accept; the socket appears during EAL
    start-up, so its absence at the deadline means start-up failed."""
    path = runtime_dir(file_prefix) / TELEMETRY_SOCKET
    while True:
        check_alive(process, log)
        if path.exists():
            try:
                return Telemetry(path)
            except (OSError, ValueError):
                pass
        if time.monotonic() > deadline:
            raise BenchError(f"no telemetry socket at {path}\n{log_tail(log)}")
        time.sleep(POLL_INTERVAL_S)


def port_ids(telemetry, process, deadline, log):
    """Port ids of the source and the sink found by device name, so a peer that
    creates its ports in another order is still read right."""
    while True:
        check_alive(process, log)
        found = {}
        for port in telemetry.query("/ethdev/list") or []:
            info = telemetry.query(f"/ethdev/info,{port}") or {}
            found[info.get("name")] = port
        if SOURCE_DEVICE in found and SINK_DEVICE in found:
            return found[SOURCE_DEVICE], found[SINK_DEVICE]
        if time.monotonic() > deadline:
            raise BenchError(f"ports {SOURCE_DEVICE} and {SINK_DEVICE} not both present, "
                             f"found {sorted(map(str, found))}\n{log_tail(log)}")
        time.sleep(POLL_INTERVAL_S)


def check_alive(process, log):
    """Fails the benchmark at once if the peer has exited."""
    code = process.poll()
    if code is not None:
        raise BenchError(f"exited with status {code}\n{log_tail(log)}")


def sample(telemetry, source, sink):
    """Packets received on the source and sent on the sink, stamped with the midpoint
    of the two queries."""
    before = time.monotonic()
    rx = telemetry.query(f"/ethdev/stats,{source}")
    tx = telemetry.query(f"/ethdev/stats,{sink}")
    after = time.monotonic()
    if rx is None or tx is None:
        raise BenchError("telemetry returned no port statistics")
    return {"t": (before + after) / 2, "rx": rx["ipackets"], "tx": tx["opackets"]}


def wait_for_forwarding(telemetry, ports, process, deadline, log):
    """Returns once the sink's tx counter grows: the peer is forwarding."""
    first = sample(telemetry, *ports)
    while True:
        check_alive(process, log)
        time.sleep(POLL_INTERVAL_S)
        now = sample(telemetry, *ports)
        if now["tx"] > first["tx"]:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"nothing sent on {SINK_DEVICE} within the start timeout "
                             f"({now['rx'] - first['rx']} packets received meanwhile)\n"
                             f"{log_tail(log)}")


def measure(run, process, args):
    """Waits until the started peer forwards, lets it settle, then takes back-to-back
    windows; consecutive windows share a sample, so no traffic goes unmeasured."""
    deadline = time.monotonic() + args.start_timeout
    telemetry = connect_telemetry(process, run.file_prefix, deadline, run.log)
    try:
        ports = port_ids(telemetry, process, deadline, run.log)
        if run.peer in FIXED_PORT_IDS and ports != (SOURCE_PORT_ID, SINK_PORT_ID):
            raise BenchError(f"{SOURCE_DEVICE} is port {ports[0]} and {SINK_DEVICE} port "
                             f"{ports[1]}, but the command line names them "
                             f"{SOURCE_PORT_ID} and {SINK_PORT_ID}")
        wait_for_forwarding(telemetry, ports, process, deadline, run.log)
        time.sleep(args.warmup)
        run.samples.append(sample(telemetry, *ports))
        for _ in range(args.windows):
            time.sleep(args.window)
            check_alive(process, run.log)
            run.samples.append(sample(telemetry, *ports))
            start, end = run.samples[-2], run.samples[-1]
            run.windows.append(Window(end["t"] - start["t"], end["tx"] - start["tx"],
                                      end["rx"] - start["rx"]))
    finally:
        telemetry.close()


def run_peer(peer, binary, layout, round_number, paths, args):
    """One life of one peer: start, measure, stop, and remove EAL's runtime folder."""
    name = f"{peer}-{layout.workers}w"
    file_prefix = f"v6fwd-bench-{os.getpid()}-{name}-{round_number}"
    rundir = runtime_dir(file_prefix)
    if rundir.exists():
        raise BenchError(f"{rundir} already exists; it is not this run's to remove")
    command = PEERS[peer](binary, file_prefix, paths, layout)
    log = paths["out"] / f"{name}-round{round_number}.log"
    run = Run(peer, layout.workers, round_number, file_prefix, command, str(log))

    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        measure(run, process, args)
    except BenchError as error:
        raise BenchError(f"{peer} with {layout.workers} worker(s) (round {round_number}): "
                         f"{error}") from None
    finally:
        stop(process)
        shutil.rmtree(rundir, ignore_errors=True)
    return run


# Reporting


def cpu_hz():
    """The clock /proc/cpuinfo reports for the first CPU, or None. With constant_tsc
    this is close to the TSC rate; it is read, not measured."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return float(line.split(":")[1]) * 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average():
    """The 1-minute load average: a busy machine skews every peer, so it is recorded."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def summarize(runs, peers, workers, hz):
    """Median, min and max Mpps per peer over all its windows, cycles per packet at the
    median rate, and the forwarded share of received packets, which tells a fast peer
    from one that drops."""
    summary = {}
    for peer in peers:
        windows = [w for run in runs if run.peer == peer and run.workers == workers
                   for w in run.windows]
        if not windows:
            continue
        rates = [w.mpps for w in windows]
        summary[peer] = {
            "windows": len(windows),
            "median_mpps": statistics.median(rates),
            "min_mpps": min(rates),
            "max_mpps": max(rates),
            # Cycles per packet are one CPU's clock over the rate: a packet's cost only
            # when one worker has one CPU. Several workers, some sharing a CPU, have no
            # such single clock, so none is given.
            "cycles_per_packet": cycles_per_packet(hz, statistics.median(rates))
            if workers == 1 else None,
            "forwarded": sum(w.tx_packets for w in windows)
            / max(1, sum(w.rx_packets for w in windows)),
        }
    return summary


def comparison(summary):
    """Each forwarder beside the ceiling: the ratio of medians, and the nanoseconds each
    packet costs above it, the figure that carries best to other machines; then v6fwd
    beside l3fwd the same way, and adaptive beside poll mode."""
    medians = {peer: s["median_mpps"] for peer, s in summary.items()}
    compared = {}
    if "testpmd" in medians:
        ceiling = medians["testpmd"]
        compared["over_testpmd"] = {
            peer: {"ratio": mpps / ceiling, "ns_above": 1000 / mpps - 1000 / ceiling}
            for peer, mpps in medians.items() if peer != "testpmd"
        } or None
    if "v6fwd" in medians and "l3fwd" in medians:
        compared["v6fwd_over_l3fwd"] = {
            "ratio": medians["v6fwd"] / medians["l3fwd"],
            "ns_above": 1000 / medians["v6fwd"] - 1000 / medians["l3fwd"],
        }
    if "v6fwd" in medians and "v6fwd-poll" in medians:
        compared["adaptive_over_poll"] = medians["v6fwd"] / medians["v6fwd-poll"]
    return {k: v for k, v in compared.items() if v is not None} or None


def print_report(summary, compared, hz, workers):
    """The table a reader wants first, for one worker count."""
    print()
    print(f"{'peer':<10} {'windows':>7} {'median':>8} {'min':>8} {'max':>8} "
          f"{'cycles/pkt':>10} {'forwarded':>9}")
    for peer, s in summary.items():
        cycles = s["cycles_per_packet"]
        cycles = f"{cycles:.0f}" if cycles is not None else "-"
        print(f"{peer:<10} {s['windows']:>7} {s['median_mpps']:>8.3f} {s['min_mpps']:>8.3f} "
              f"{s['max_mpps']:>8.3f} {cycles:>10} {s['forwarded']:>9.2%}")
    print("rates in Mpps sent on the sink port")
    if hz and workers == 1:
        print(f"cycles/pkt = CPU clock / median rate, with the {hz / 1e6:.0f} MHz "
              "that /proc/cpuinfo reports; derived, not counted, and only a packet's "
              "cost if the worker polls without sleeping")
    compared = compared or {}
    for peer, c in (compared.get("over_testpmd") or {}).items():
        print(f"{peer}/testpmd (medians): {c['ratio']:.3f}, "
              f"{c['ns_above']:.2f} ns per packet above the I/O ceiling")
    if "v6fwd_over_l3fwd" in compared:
        c = compared["v6fwd_over_l3fwd"]
        print(f"v6fwd/l3fwd (medians): {c['ratio']:.3f}, "
              f"{c['ns_above']:.2f} ns per packet above l3fwd")
    if "adaptive_over_poll" in compared:
        print(f"v6fwd adaptive/poll (medians): {compared['adaptive_over_poll']:.3f}")


def scaling(summaries):
    """Per peer, its median at every worker count and the ratio of each to the median at
    the first count: 2.0 for twice the rate. Only counts measured in the same run are
    compared, as everything else here."""
    counts = list(summaries)
    if len(counts) < 2:
        return None
    scaled = {}
    for peer in dict.fromkeys(p for summary in summaries.values() for p in summary):
        medians = {n: summaries[n][peer]["median_mpps"] for n in counts
                   if peer in summaries[n]}
        base = medians.get(counts[0])
        scaled[peer] = {
            "median_mpps": medians,
            "over_first": {n: m / base for n, m in medians.items() if base and n != counts[0]},
        }
    return scaled


def print_scaling(scaled, counts, peers):
    """The scaling table: a column of medians per worker count, then the ratios."""
    print()
    print(f"scaling, median Mpps ({counts[0]} worker{'s' if counts[0] > 1 else ''} = 1.0)")
    ratios = [f"{n}/{counts[0]}" for n in counts[1:]]
    print(f"{'peer':<10} " + " ".join(f"{f'{n}w':>8}" for n in counts) + " "
          + " ".join(f"{r:>6}" for r in ratios))
    for peer in peers:
        if peer not in scaled:
            continue
        s = scaled[peer]
        rates = " ".join(f"{s['median_mpps'][n]:>8.3f}" if n in s["median_mpps"]
                         else f"{'-':>8}" for n in counts)
        over = " ".join(f"{s['over_first'][n]:>6.2f}" if n in s["over_first"]
                        else f"{'-':>6}" for n in counts[1:])
        print(f"{peer:<10} {rates} {over}")


def write_plot(summaries, path):
    """A bar per peer and worker count at its median, whiskers to min and max; skipped
    without matplotlib, which is not part of the standard library."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot")
        return
    counts = list(summaries)
    peers = list(dict.fromkeys(p for summary in summaries.values() for p in summary))
    width = 0.8 / len(counts)
    colors = ["#4878a8", "#e0904a", "#5a9e6f", "#b05a7a"]
    fig, ax = plt.subplots(figsize=(4 + len(counts) - 1, 3.5))
    for i, n in enumerate(counts):
        summary = summaries[n]
        shown = [p for p in peers if p in summary]
        x = [peers.index(p) + (i - (len(counts) - 1) / 2) * width for p in shown]
        medians = [summary[p]["median_mpps"] for p in shown]
        below = [summary[p]["median_mpps"] - summary[p]["min_mpps"] for p in shown]
        above = [summary[p]["max_mpps"] - summary[p]["median_mpps"] for p in shown]
        ax.bar(x, medians, width, yerr=[below, above], capsize=4,
               color=colors[i % len(colors)], label=f"{n} worker{'s' if n > 1 else ''}")
    ax.set_xticks(range(len(peers)), peers)
    if len(counts) > 1:
        ax.set_ylabel("Mpps")
        ax.legend(fontsize="small")
    else:
        ax.set_ylabel(f"Mpps, {counts[0]} worker core{'s' if counts[0] > 1 else ''}")
    ax.set_title("median of all windows, min to max")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot: {path}")


def write_results(path, args, traffic, layouts, hz, load, builds, runs, summaries, compared,
                  scaled, error):
    """Everything needed to recompute or question the figures, even after a failure.
    Summaries and comparisons are keyed by worker count."""
    results = {
        "command": [sys.executable, *sys.argv],
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "workers": args.workers,
        "layouts": {layout.workers: {"cpus": list(layout.cpus), "lcores": layout.lcores,
                                     "worker_lcores": layout.worker_lcores,
                                     "shared": [{"lcore": lcore, "cpu": cpu, "with": other}
                                                for lcore, cpu, other in layout.shared()],
                                     "description": layout.describe()}
                    for layout in layouts},
        "traffic": traffic,
        "cpu_hz": hz,
        "cpu_hz_source": "/proc/cpuinfo cpu MHz",
        "cycles_per_packet": "cpu_hz / packets sent on the sink per second; a packet's "
                             "cost only while the worker polls without sleeping; given "
                             "for one worker only",
        "load_average_1m_at_start": load,
        "builds": builds,
        "runs": [
            {
                "peer": run.peer,
                "workers": run.workers,
                "round": run.round,
                "file_prefix": run.file_prefix,
                "command": run.command,
                "log": run.log,
                "samples": run.samples,
                "windows": [
                    {"seconds": w.seconds, "tx_packets": w.tx_packets,
                     "rx_packets": w.rx_packets, "mpps": w.mpps,
                     "cycles_per_packet": cycles_per_packet(hz, w.mpps)
                     if run.workers == 1 else None}
                    for w in run.windows
                ],
            }
            for run in runs
        ],
        "summary": summaries,
        "comparison": compared,
        "scaling": scaled,
        "error": error,
    }
    path.write_text(json.dumps(results, indent=2) + "\n")


def usable_cpus():
    """The CPUs this script may run on, in order: the lcores are laid out over these."""
    try:
        return tuple(sorted(os.sched_getaffinity(0)))
    except OSError:
        return tuple(range(os.cpu_count() or 1))


def pin_to_main_lcore(cpu):
    """Keeps this script's wake-ups on the main lcore's CPU, off the first workers'.
    Children inherit the mask; EAL pins every lcore to its CPU explicitly, so that is
    harmless."""
    try:
        os.sched_setaffinity(0, {cpu})
    except OSError:
        pass


def main(argv):
    """Runs every round and writes results.json even when a peer fails, so the samples
    taken up to the failure are not lost; the exit status says whether it failed."""
    args = parse_args(argv)
    binaries, builds = {}, {}
    for peer in args.peers:
        if peer == "l3fwd":
            binaries[peer], builds[peer] = prepare_l3fwd(args)
            continue
        name = args.testpmd if peer == "testpmd" else args.v6fwd
        binaries[peer] = resolve_binary(name)
        if binaries[peer] is None:
            print(f"{peer}: {name} not found or not executable, skipped")
    peers = [p for p in args.peers if binaries[p]]
    if not peers:
        print("no peer to measure", file=sys.stderr)
        return 2

    args.out.mkdir(parents=True, exist_ok=True)
    paths = {"out": args.out, "pcap": args.out / "in.pcap", "config": {}, "config_poll": {},
             "l3fwd_ipv4": args.out / "l3fwd-routes-ipv4.cfg",
             "l3fwd_ipv6": args.out / "l3fwd-routes-ipv6.cfg"}
    traffic = generate_traffic(paths["pcap"], args.frame_size)
    paths["frames"] = traffic["frames"]
    cpus = usable_cpus()
    layouts = [Layout(n, cpus) for n in args.workers]
    for layout in layouts:
        n = layout.workers
        for key, polling in (("config", "adaptive"), ("config_poll", "poll")):
            name = "v6fwd" if polling == "adaptive" else "v6fwd-poll"
            paths[key][n] = args.out / f"{name}-{n}w.toml"
            # A short path: Unix socket paths end at 107 bytes, and --out may be deep.
            socket_path = Path(tempfile.gettempdir()) / f"v6fwd-bench-{os.getpid()}-{name}-{n}w.sock"
            paths[key][n].write_text(v6fwd_config(paths["pcap"], args.routes, layout,
                                                  traffic["frames"], socket_path, polling))
    if "l3fwd" in peers:
        ipv4, ipv6 = l3fwd_routes(args.routes)
        paths["l3fwd_ipv4"].write_text(ipv4)
        paths["l3fwd_ipv6"].write_text(ipv6)
    print(f"traffic: {traffic['frames']} frames of {traffic['frame_size']} bytes to "
          f"{traffic['destinations']} destinations, {traffic['bytes']} bytes in {paths['pcap']}")
    for layout in layouts:
        print(layout.describe())

    pin_to_main_lcore(layouts[0].cpu(MAIN_LCORE))
    hz = cpu_hz()
    load = load_average()
    if load is not None:
        print(f"load average {load:.2f} before the first run")

    runs, error = [], None
    try:
        for round_number in range(1, args.rounds + 1):
            # Every other round takes the worker counts backwards, so that no count
            # always runs first, or right after another.
            order = layouts if round_number % 2 else layouts[::-1]
            for layout in order:
                for peer in peers:
                    run = run_peer(peer, binaries[peer], layout, round_number, paths, args)
                    runs.append(run)
                    rates = " ".join(f"{w.mpps:.3f}" for w in run.windows)
                    print(f"round {round_number}/{args.rounds} {peer} "
                          f"{layout.workers}w: {rates} Mpps")
    except BenchError as failure:
        error = str(failure)
    except KeyboardInterrupt:
        error = "interrupted"

    summaries = {n: summarize(runs, peers, n, hz) for n in args.workers}
    compared = {n: comparison(summary) for n, summary in summaries.items()}
    scaled = scaling(summaries)
    write_results(args.out / "results.json", args, traffic, layouts, hz, load, builds, runs,
                  summaries, compared, scaled, error)
    if error:
        print(f"error: {error}", file=sys.stderr)
        print(f"partial results: {args.out / 'results.json'}", file=sys.stderr)
        return 1

    for layout in layouts:
        n = layout.workers
        if len(layouts) > 1:
            print(f"\n{layout.describe()}")
        print_report(summaries[n], compared[n], hz, n)
    if scaled:
        print_scaling(scaled, args.workers, peers)
        if any(layout.shared() for layout in layouts):
            print("a worker shares a CPU (see above): these ratios are below what a CPU "
                  "per worker would give")
    write_plot(summaries, args.out / "mpps.png")
    print(f"results: {args.out / 'results.json'}")
    return 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
