#!/usr/bin/env python3
"""Forwarding rate of v6fwd on one worker core, beside DPDK testpmd's I/O ceiling.

Every peer runs with the same EAL options and the same two virtual ports: a pcap file of
small IPv6/UDP frames replayed forever on port 0 (net_pcap) and a sink on port 1
(net_null). Counters are read from outside through each process's telemetry socket, so
every peer is measured the same way and none has to print anything. Peers are
interleaved round by round, so slow drifts of the machine fall on all of them alike.

    python3 benches/mpps.py --v6fwd target/release/v6fwd --rounds 3 --window 5
"""

import argparse
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
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

MAIN_LCORE = 0
WORKER_LCORE = 1
MEMORY_MB = 1024
TESTPMD_MBUFS = 16384
V6FWD_MBUFS = 16383

SOURCE_DEVICE = "net_pcap0"
SINK_DEVICE = "net_null0"
SINK_DEVICE_ARGS = f"{SINK_DEVICE},no-rx=1"

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


@dataclass
class Run:
    """One start-to-stop life of one peer, with its raw samples."""

    peer: str
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
        description="Measure v6fwd's forwarding rate against testpmd's I/O ceiling.")
    parser.add_argument("--v6fwd", default=str(REPO_ROOT / "target/release/v6fwd"),
                        help="v6fwd binary (default: %(default)s)")
    parser.add_argument("--testpmd", default="dpdk-testpmd",
                        help="testpmd binary (default: %(default)s)")
    parser.add_argument("--peers", default="testpmd,v6fwd",
                        help="comma-separated peers, in the order each round runs them")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each peer")
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


def v6fwd_config(pcap_path, extra_routes_count, polling="adaptive"):
    """The TOML v6fwd reads: the two ports, the /40 and any extra routes, all through
    the one next hop on port1 whose link-layer address is fixed up front, so no
    neighbor discovery runs while measuring."""
    lines = [
        f"workers = [{WORKER_LCORE}]",
        f"mbufs = {V6FWD_MBUFS}",
        "",
        "[[port]]",
        'name = "port0"',
        f"device = {toml_string(source_device(pcap_path))}",
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


# Peers


def source_device(pcap_path):
    """The vdev string of the replaying source port."""
    return f"{SOURCE_DEVICE},rx_pcap={pcap_path},infinite_rx=1"


def eal_options(file_prefix):
    """EAL options every peer gets, byte for byte: the worker on its own core, the main
    lcore and DPDK's control threads on the other."""
    return [
        "--no-huge", "-m", str(MEMORY_MB), "--no-pci", f"--file-prefix={file_prefix}",
        "-l", f"{MAIN_LCORE},{WORKER_LCORE}", "--main-lcore", str(MAIN_LCORE),
    ]


def testpmd_command(binary, file_prefix, paths):
    """testpmd in io mode: the cost of moving packets between the two ports, nothing
    else. --stats-period keeps it running with stdin closed; its period is long so it
    prints once, at start."""
    return [
        binary, *eal_options(file_prefix),
        "--vdev", source_device(paths["pcap"]), "--vdev", SINK_DEVICE_ARGS,
        "--",
        "--forward-mode=io", "--nb-cores=1", f"--total-num-mbufs={TESTPMD_MBUFS}",
        "--stats-period=86400", "--no-flush-rx",
    ]


def v6fwd_command(binary, file_prefix, paths):
    """v6fwd adds the vdevs itself from its config, so EAL gets no --vdev here. Its
    workers poll adaptively, as by default."""
    return [binary, "run", "--config", str(paths["config"]), "--", *eal_options(file_prefix)]


def v6fwd_poll_command(binary, file_prefix, paths):
    """v6fwd with workers that never sleep: under full load it should match the
    adaptive default."""
    return [binary, "run", "--config", str(paths["config_poll"]), "--",
            *eal_options(file_prefix)]


PEERS = {"testpmd": testpmd_command, "v6fwd": v6fwd_command, "v6fwd-poll": v6fwd_poll_command}


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


def run_peer(peer, binary, round_number, paths, args):
    """One life of one peer: start, measure, stop, and remove EAL's runtime folder."""
    file_prefix = f"v6fwd-bench-{os.getpid()}-{peer}-{round_number}"
    rundir = runtime_dir(file_prefix)
    if rundir.exists():
        raise BenchError(f"{rundir} already exists; it is not this run's to remove")
    command = PEERS[peer](binary, file_prefix, paths)
    log = paths["out"] / f"{peer}-round{round_number}.log"
    run = Run(peer, round_number, file_prefix, command, str(log))

    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        measure(run, process, args)
    except BenchError as error:
        raise BenchError(f"{peer} (round {round_number}): {error}") from None
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


def summarize(runs, peers):
    """Median, min and max Mpps per peer over all its windows, and the forwarded share
    of received packets, which tells a fast peer from one that drops."""
    summary = {}
    for peer in peers:
        windows = [w for run in runs if run.peer == peer for w in run.windows]
        if not windows:
            continue
        rates = [w.mpps for w in windows]
        summary[peer] = {
            "windows": len(windows),
            "median_mpps": statistics.median(rates),
            "min_mpps": min(rates),
            "max_mpps": max(rates),
            "forwarded": sum(w.tx_packets for w in windows)
            / max(1, sum(w.rx_packets for w in windows)),
        }
    return summary


def comparison(summary):
    """v6fwd beside the ceiling: the ratio of medians, and the nanoseconds each packet
    costs above it, the figure that carries best to other machines."""
    compared = {}
    if "v6fwd" in summary and "v6fwd-poll" in summary:
        compared["adaptive_over_poll"] = (
            summary["v6fwd"]["median_mpps"] / summary["v6fwd-poll"]["median_mpps"])
    if "testpmd" not in summary or "v6fwd" not in summary:
        return compared or None
    ceiling = summary["testpmd"]["median_mpps"]
    v6fwd = summary["v6fwd"]["median_mpps"]
    compared["ratio"] = v6fwd / ceiling
    compared["ns_above_ceiling"] = 1000 / v6fwd - 1000 / ceiling
    return compared


def print_report(summary, compared, hz):
    """The table a reader wants first."""
    print()
    print(f"{'peer':<10} {'windows':>7} {'median':>8} {'min':>8} {'max':>8} "
          f"{'cycles/pkt':>10} {'forwarded':>9}")
    for peer, s in summary.items():
        cycles = f"{hz / (s['median_mpps'] * 1e6):.0f}" if hz else "-"
        print(f"{peer:<10} {s['windows']:>7} {s['median_mpps']:>8.3f} {s['min_mpps']:>8.3f} "
              f"{s['max_mpps']:>8.3f} {cycles:>10} {s['forwarded']:>9.2%}")
    print("rates in Mpps sent on the sink port")
    if hz:
        print(f"cycles/pkt = CPU clock / median rate, with the {hz / 1e6:.0f} MHz "
              "that /proc/cpuinfo reports; derived, not counted")
    if compared and "ratio" in compared:
        print(f"v6fwd/testpmd (medians): {compared['ratio']:.3f}")
        print(f"above the I/O ceiling: {compared['ns_above_ceiling']:.2f} ns per packet")
    if compared and "adaptive_over_poll" in compared:
        print(f"v6fwd adaptive/poll (medians): {compared['adaptive_over_poll']:.3f}")


def write_plot(summary, path):
    """A bar per peer at its median, whiskers to min and max; skipped without
    matplotlib, which is not part of the standard library."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not importable: no plot")
        return
    peers = list(summary)
    medians = [summary[p]["median_mpps"] for p in peers]
    below = [summary[p]["median_mpps"] - summary[p]["min_mpps"] for p in peers]
    above = [summary[p]["max_mpps"] - summary[p]["median_mpps"] for p in peers]
    fig, ax = plt.subplots(figsize=(4, 3.5))
    ax.bar(peers, medians, yerr=[below, above], capsize=6, color="#4878a8")
    ax.set_ylabel("Mpps, one worker core")
    ax.set_title("median of all windows, min to max")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot: {path}")


def write_results(path, args, traffic, hz, load, runs, summary, compared, error):
    """Everything needed to recompute or question the figures, even after a failure."""
    results = {
        "command": [sys.executable, *sys.argv],
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "traffic": traffic,
        "cpu_hz": hz,
        "cpu_hz_source": "/proc/cpuinfo cpu MHz",
        "load_average_1m_at_start": load,
        "runs": [
            {
                "peer": run.peer,
                "round": run.round,
                "file_prefix": run.file_prefix,
                "command": run.command,
                "log": run.log,
                "samples": run.samples,
                "windows": [
                    {"seconds": w.seconds, "tx_packets": w.tx_packets,
                     "rx_packets": w.rx_packets, "mpps": w.mpps}
                    for w in run.windows
                ],
            }
            for run in runs
        ],
        "summary": summary,
        "comparison": compared,
        "error": error,
    }
    path.write_text(json.dumps(results, indent=2) + "\n")


def pin_to_main_lcore():
    """Keeps this script's wake-ups off the worker core. Children inherit the mask;
    EAL pins its worker thread to its lcore explicitly, so that is harmless."""
    try:
        os.sched_setaffinity(0, {MAIN_LCORE})
    except OSError:
        pass


def main(argv):
    """Runs every round and writes results.json even when a peer fails, so the samples
    taken up to the failure are not lost; the exit status says whether it failed."""
    args = parse_args(argv)
    binaries = {}
    for peer in args.peers:
        name = args.testpmd if peer == "testpmd" else args.v6fwd
        binaries[peer] = resolve_binary(name)
        if binaries[peer] is None:
            print(f"{peer}: {name} not found or not executable, skipped")
    peers = [p for p in args.peers if binaries[p]]
    if not peers:
        print("no peer to measure", file=sys.stderr)
        return 2

    args.out.mkdir(parents=True, exist_ok=True)
    paths = {"out": args.out, "pcap": args.out / "in.pcap", "config": args.out / "v6fwd.toml",
             "config_poll": args.out / "v6fwd-poll.toml"}
    traffic = generate_traffic(paths["pcap"], args.frame_size)
    paths["config"].write_text(v6fwd_config(paths["pcap"], args.routes))
    paths["config_poll"].write_text(v6fwd_config(paths["pcap"], args.routes, "poll"))
    print(f"traffic: {traffic['frames']} frames of {traffic['frame_size']} bytes to "
          f"{traffic['destinations']} destinations, {traffic['bytes']} bytes in {paths['pcap']}")

    pin_to_main_lcore()
    hz = cpu_hz()
    load = load_average()
    if load is not None:
        print(f"load average {load:.2f} before the first run")

    runs, error = [], None
    try:
        for round_number in range(1, args.rounds + 1):
            for peer in peers:
                run = run_peer(peer, binaries[peer], round_number, paths, args)
                runs.append(run)
                rates = " ".join(f"{w.mpps:.3f}" for w in run.windows)
                print(f"round {round_number}/{args.rounds} {peer}: {rates} Mpps")
    except BenchError as failure:
        error = str(failure)
    except KeyboardInterrupt:
        error = "interrupted"

    summary = summarize(runs, peers)
    compared = comparison(summary)
    write_results(args.out / "results.json", args, traffic, hz, load, runs, summary, compared,
                  error)
    if error:
        print(f"error: {error}", file=sys.stderr)
        print(f"partial results: {args.out / 'results.json'}", file=sys.stderr)
        return 1

    print_report(summary, compared, hz)
    write_plot(summary, args.out / "mpps.png")
    print(f"results: {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
