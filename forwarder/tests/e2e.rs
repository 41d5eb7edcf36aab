//! End-to-end tests of the `v6fwd` binary with real DPDK virtual devices: Linux hosts in
//! network namespaces pinging across it through af_packet, and crafted bad input replayed
//! through the pcap driver. They need root, iproute2 and ping (the test script installs
//! them); each starts v6fwd as a subprocess, since DPDK's EAL starts once per process.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use v6fwd::lab::{self, Forwarder, TempFile, Topology};
use v6fwd::testvec;
use v6fwd::wire::Ipv6Packet;

mod control;
mod floods;

const EXE: &str = env!("CARGO_BIN_EXE_v6fwd");
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Hosts in network namespaces around a running v6fwd, removed when dropped.
struct Lab {
    topo: Topology,
    fwd: Forwarder,
    _config: TempFile,
}

impl Lab {
    /// Hosts on links of `mtus`, v6fwd between them with `workers`, `extra` appended to
    /// its configuration and `eal` to its EAL arguments.
    fn start(letter: char, mtus: &[u16], workers: &[u32], extra: &str, eal: &[&str]) -> Lab {
        let tag = tag(letter);
        let topo = Topology::create(&tag, mtus).expect("namespaces (are we root?)");
        let text = lab::router_config(&topo, workers) + extra;
        let config = TempFile::new(&format!("{tag}.toml"), text.as_bytes()).unwrap();
        let mut args = lab::eal_args(&tag);
        args.push(lab::lcore_map(workers));
        args.extend(eal.iter().map(|a| a.to_string()));
        let fwd = Forwarder::start(Path::new(EXE), &config.0, &["--json"], &args, START_TIMEOUT)
            .expect("v6fwd starts");
        Lab {
            topo,
            fwd,
            _config: config,
        }
    }
}

/// A tag unique to this test process and test, short enough for interface names.
fn tag(letter: char) -> String {
    format!("v6{letter}{}", std::process::id() % 100_000)
}

fn stop_and_report(fwd: Forwarder) -> Value {
    let (status, out, err) = fwd.stop().expect("v6fwd stops");
    assert!(status.success(), "v6fwd exited with {status}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{out}\n{err}"))
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a counter: {v}"))
}

fn ping(host: &lab::Host, to: Ipv6Addr, count: u32) {
    ping_sized(host, to, count, 56);
}

fn ping_sized(host: &lab::Host, to: Ipv6Addr, count: u32, size: usize) {
    let (count, size, to_text) = (count.to_string(), size.to_string(), to.to_string());
    let out = host
        .exec(&[
            "ping", "-6", "-c", &count, "-s", &size, "-i", "0.2", "-W", "2", &to_text,
        ])
        .expect("ping runs");
    assert!(
        out.status.success(),
        "{} could not ping {to}:\n{}{}",
        host.netns,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn hosts_ping_across_both_ways_and_counters_agree() {
    let lab = Lab::start('p', &[1500, 1500], &[1], "", &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);

    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    ping(h1, h2.addr, 5);
    ping(h2, h1.addr, 5);
    ping(h1, h1.gateway, 3);
    ping(h2, h1.gateway, 2);
    // Larger than the link MTU: the hosts fragment, the router forwards the fragments
    // untouched, reassembles those addressed to it, and answers in fragments.
    ping_sized(h1, h2.addr, 2, 3000);
    ping_sized(h1, h1.gateway, 2, 3000);
    let r = stop_and_report(fwd);

    let core = &r["cores"][0];
    // Each ping across is a request and a reply through the router: 2 x (5 + 5), and
    // 2 x (3 + 3) fragments of the large ones.
    assert_eq!(n(&core["forwarded"]), 32, "{r:#}");
    // Three fragments of each large request to the router: two held, one answered.
    assert_eq!(n(&core["fragments_held"]), 4, "{r:#}");
    assert_eq!(n(&core["answer_fragments"]), 4, "{r:#}");
    // Echo replies from the router, plus its answers to the hosts' solicitations.
    assert!(n(&core["replied"]) >= 5, "{r:#}");

    let ports = r["ports"].as_array().unwrap();
    let port_rx: u64 = ports.iter().map(|p| n(&p["stats"]["rx_packets"])).sum();
    let port_tx: u64 = ports.iter().map(|p| n(&p["stats"]["tx_packets"])).sum();
    assert_eq!(
        port_rx,
        n(&core["rx"]) + n(&r["received_before_forwarding"]),
        "what the ports received, the core handled (or the address probes before it)"
    );
    assert_eq!(
        port_tx,
        n(&core["tx"]) + n(&r["address_probes"]),
        "what the core sent (and the address probes before it), the ports sent"
    );
    assert_eq!(
        n(&core["tx"]),
        n(&core["forwarded"])
            + n(&core["replied"])
            + n(&core["icmp_errors"])
            + n(&core["answer_fragments"])
            + n(&core["solicitations"])
            + n(&core["router_adverts"])
            + n(&core["redirects"])
    );
    assert_eq!(
        n(&core["rx"]),
        n(&core["forwarded"])
            + n(&core["replied"])
            + n(&core["dropped"])
            + n(&core["fragments_held"])
            + n(&core["nd_consumed"])
    );
    // The hosts were found by Neighbor Discovery, with no static entry: from their own
    // solicitations to the router, or from the router's, answered.
    assert!(n(&core["solicitations"]) >= 1, "{r:#}");
    assert!(n(&core["nd_consumed"]) >= 1, "{r:#}");
    assert_eq!(n(&core["nd_messages_lost"]), 0, "{r:#}");
    // The hosts' own chatter (MLD reports, router solicitations) is all the router drops.
    for (reason, count) in r["drops"].as_object().unwrap() {
        if !["multicast_destination", "local_unsupported"].contains(&reason.as_str()) {
            assert_eq!(n(count), 0, "unexpected drops for {reason}: {r:#}");
        }
    }
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

/// The pcap driver's first port's MAC (the driver numbers its ports 02:70:63:61:70:NN).
const PCAP0_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x00];
const PCAP1_MAC: [u8; 6] = [0x02, 0x70, 0x63, 0x61, 0x70, 0x01];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 1, 2];
const GW_MAC: [u8; 6] = [0x02, 0, 0, 0, 2, 2];

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn udp(dst: &str, hop_limit: u8) -> Vec<u8> {
    testvec::udp_frame(
        PCAP0_MAC,
        HOST_MAC,
        a("2001:db8:1::2"),
        a(dst),
        hop_limit,
        (4000, 5000),
        18,
    )
}

struct PcapRun {
    report: Value,
    sent_port0: Vec<Vec<u8>>,
    sent_port1: Vec<Vec<u8>>,
}

/// Replays `frames` into port 0 through the pcap driver and returns the report and what
/// each port sent.
fn replay(tag: &str, frames: &[Vec<u8>]) -> PcapRun {
    let dir = std::env::temp_dir().join(format!("{tag}-pcap"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| -> PathBuf { dir.join(name) };
    testvec::write_pcap(std::fs::File::create(path("in.pcap")).unwrap(), frames).unwrap();
    testvec::write_pcap(std::fs::File::create(path("empty.pcap")).unwrap(), &[]).unwrap();
    let config = format!(
        r#"workers = [1]
mbufs = 2047
rx_descriptors = 128
tx_descriptors = 128
control = {{ socket = "{socket}" }}
metrics = {{ listen = "" }}

[[port]]
device = "net_pcap0,rx_pcap={in_pcap},tx_pcap={out0}"
addresses = ["2001:db8:1::1/64"]
nd = {{ dad_transmits = 0 }}

[[port]]
device = "net_pcap1,rx_pcap={empty},tx_pcap={out1}"
addresses = ["2001:db8:2::1/64"]
nd = {{ dad_transmits = 0 }}

[[route]]
prefix = "2001:db8:100::/40"
via = "2001:db8:2::2"

[[neighbor]]
address = "2001:db8:2::2"
lladdr = "02:00:00:00:02:02"
"#,
        in_pcap = path("in.pcap").display(),
        empty = path("empty.pcap").display(),
        out0 = path("out0.pcap").display(),
        out1 = path("out1.pcap").display(),
        socket = path("v6fwd.sock").display(),
    );
    let config = TempFile::new(&format!("{tag}.toml"), config.as_bytes()).unwrap();
    let fwd = Forwarder::start(
        Path::new(EXE),
        &config.0,
        &["--json"],
        &lab::eal_args(tag),
        START_TIMEOUT,
    )
    .expect("v6fwd starts");
    // The pcap driver hands the file over in the first polls; wait until the port has
    // delivered every frame, with a bound.
    std::thread::sleep(Duration::from_millis(1500));
    let report = stop_and_report(fwd);
    let read = |name: &str| testvec::read_pcap(std::fs::File::open(path(name)).unwrap()).unwrap();
    let run = PcapRun {
        report,
        sent_port0: read("out0.pcap"),
        sent_port1: read("out1.pcap"),
    };
    std::fs::remove_dir_all(&dir).unwrap();
    run
}

#[test]
fn bad_input_is_dropped_counted_and_freed() {
    let good = udp("2001:db8:100::7", 64);

    let mut ipv4 = good.clone();
    ipv4[12..14].copy_from_slice(&[0x08, 0x00]);
    let mut arp = good.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    let mut vlan = good.clone();
    vlan[12..14].copy_from_slice(&[0x81, 0x00]);
    let mut version4 = good.clone();
    version4[14] = 0x45;
    let mut lying = good.clone();
    lying[18..20].copy_from_slice(&1000u16.to_be_bytes());
    let mut other_host = good.clone();
    other_host[0..6].copy_from_slice(&[0x02, 0, 0, 0, 9, 9]);
    let multicast_src = testvec::udp_frame(
        PCAP0_MAC,
        HOST_MAC,
        a("ff02::1"),
        a("2001:db8:100::7"),
        64,
        (1, 2),
        8,
    );
    let echo = testvec::echo_request_frame(
        PCAP0_MAC,
        HOST_MAC,
        a("2001:db8:1::2"),
        a("2001:db8:1::1"),
        56,
    );
    let mut ns = testvec::NS_MULTICAST_FRAME.to_vec();
    // The solicitation asks for 2001:db8:1::1, port 0's address.
    assert_eq!(&ns[62..78], &a("2001:db8:1::1").octets());

    let frames = vec![
        good.clone(),
        good[..10].to_vec(),
        good[..40].to_vec(),
        ipv4,
        arp,
        vlan,
        version4,
        lying,
        udp("2001:db8:100::7", 0),
        udp("2001:db8:100::7", 1),
        other_host,
        multicast_src,
        udp("2001:db9::1", 64),
        echo.clone(),
        std::mem::take(&mut ns),
        good.clone(),
        udp("2001:db8:100::8", 2),
    ];
    let run = replay(&tag('b'), &frames);
    let r = &run.report;

    let core = &r["cores"][0];
    assert_eq!(n(&core["rx"]), frames.len() as u64, "{r:#}");
    assert_eq!(n(&core["forwarded"]), 3, "{r:#}");
    assert_eq!(n(&core["replied"]), 2, "{r:#}");
    let drops = &r["drops"];
    for (reason, count) in [
        ("truncated", 2),
        ("not_ipv6", 3),
        ("bad_version", 1),
        ("bad_length", 1),
        ("hop_limit_exceeded", 2),
        ("other_host", 1),
        ("bad_source", 1),
        ("no_route", 1),
    ] {
        assert_eq!(n(&drops[reason]), count, "{reason}: {r:#}");
    }
    assert_eq!(n(&core["dropped"]), 12, "{r:#}");
    // Hop limits 0 and 1 get Time Exceeded, no route Destination Unreachable; none of the
    // others may be answered (RFC 4443 2.4 (e)) or is worth an answer.
    assert_eq!(n(&core["icmp_errors"]), 3, "{r:#}");
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );

    // What went out of port 1: the three forwarded packets, rewritten for the gateway.
    assert_eq!(run.sent_port1.len(), 3);
    for (sent, original) in run
        .sent_port1
        .iter()
        .zip([&frames[0], &frames[15], &frames[16]])
    {
        assert_eq!(&sent[0..6], &GW_MAC);
        assert_eq!(&sent[6..12], &PCAP1_MAC);
        assert_eq!(sent[21], original[21] - 1, "hop limit decremented");
        assert_eq!(&sent[22..], &original[22..]);
    }
    // What went back out of port 0, in order: two Time Exceeded, a Destination
    // Unreachable, the Echo Reply and the Neighbor Advertisement, all to the host.
    let sent: Vec<(u8, u8)> = run.sent_port0.iter().map(|f| (f[54], f[55])).collect();
    assert_eq!(sent, [(3, 0), (3, 0), (1, 0), (129, 0), (136, 0)]);
    for f in &run.sent_port0 {
        assert_eq!(&f[0..6], &HOST_MAC);
        let ip = Ipv6Packet::new(&f[14..]).unwrap();
        assert_eq!(
            (ip.src(), ip.dst()),
            (a("2001:db8:1::1"), a("2001:db8:1::2"))
        );
    }
    // The Time Exceeded carries the packet that ran out of hops.
    assert_eq!(&run.sent_port0[0][62..], &frames[8][14..]);
}

fn v6fwd(args: &[&str]) -> std::process::Output {
    Command::new(EXE).args(args).output().expect("v6fwd runs")
}

#[test]
fn check_explains_a_bad_config() {
    let bad = TempFile::new(
        "bad-check.toml",
        b"workers = [1]\n\n[[port]]\ndevice = \"net_null0\"\naddresses = [\"2001:db8::1/64\"]\n\n[[route]]\nprefix = \"::/0\"\nvia = \"2001:db9::1\"\n",
    )
    .unwrap();
    let out = v6fwd(&["check", "--config", bad.0.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "{}:9:7: route[0].via: 2001:db9::1 is on no port's subnet",
        bad.0.display()
    );
    assert!(err.contains(&want), "{err}");

    let good = TempFile::new(
        "good-check.toml",
        b"[[port]]\ndevice = \"net_null0\"\naddresses = [\"2001:db8::1/64\"]\n",
    )
    .unwrap();
    let out = v6fwd(&["check", "--config", good.0.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: 1 port(s)"));
}

#[test]
fn run_refuses_bad_config_and_bad_arguments_without_starting() {
    let bad = TempFile::new(
        "bad-run.toml",
        b"[[port]]\ndevice = \"net_null0\"\nmtu = 99\n",
    )
    .unwrap();
    let out = v6fwd(&[
        "run",
        "--config",
        bad.0.to_str().unwrap(),
        "--",
        "--no-huge",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("port[0].mtu: 99 is out of range"));

    let out = v6fwd(&["run", "--confg", "x.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--confg"));
}

#[test]
fn missing_device_is_named() {
    let tag = tag('m');
    let cfg = TempFile::new(
        &format!("{tag}-missing.toml"),
        b"metrics = { listen = \"\" }\n[[port]]\ndevice = \"0000:99:00.0\"\naddresses = [\"2001:db8::1/64\"]\n",
    )
    .unwrap();
    let socket = std::env::temp_dir().join(format!("{tag}.sock"));
    let mut args = vec![
        "run".to_string(),
        "--config".into(),
        cfg.0.display().to_string(),
        "--socket".into(),
        socket.display().to_string(),
        "--".into(),
    ];
    args.extend(lab::eal_args(&tag));
    let out = Command::new(EXE).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("port port0: device \"0000:99:00.0\" was not found"),
        "{err}"
    );
    assert!(
        !socket.exists(),
        "the control socket goes with the run that failed"
    );
}

/// Runs a command in a host and returns its standard output, failing on a non-zero exit.
fn host_output(host: &lab::Host, args: &[&str]) -> String {
    let out = host.exec(args).expect("command runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{text}{}",
        host.netns,
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

#[test]
fn traceroute_hop_limit_and_path_mtu_through_the_router() {
    let lab = Lab::start('t', &[1500, 1280], &[1], "", &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    let target = h2.addr.to_string();

    // UDP and ICMP traceroute both show the router, by the address of the port the error
    // leaves by, as the first hop, and the host behind it as the second.
    for mode in [&[][..], &["-I"][..]] {
        let mut args = vec!["traceroute", "-6", "-n", "-q", "1", "-w", "2", "-m", "4"];
        args.extend_from_slice(mode);
        args.push(&target);
        let out = host_output(h1, &args);
        let hops: Vec<&str> = out
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        assert_eq!(
            hops,
            [h1.gateway.to_string(), target.clone()],
            "traceroute {mode:?}:\n{out}"
        );
    }

    // Hop limit 1: the router answers with Time Exceeded.
    let out = h1
        .exec(&["ping", "-6", "-c", "1", "-t", "1", "-W", "2", &target])
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "From {} icmp_seq=1 Time exceeded: Hop limit",
            h1.gateway
        )),
        "{text}"
    );

    // A packet larger than the second link: Packet Too Big, and the host learns the path
    // MTU, fragments, and gets through.
    let _ = h1
        .exec(&["ping", "-6", "-c", "1", "-s", "1400", "-W", "2", &target])
        .unwrap();
    let route = host_output(h1, &["ip", "-6", "route", "get", &target]);
    assert!(
        route.contains("mtu 1280"),
        "h1 did not learn the path MTU: {route}"
    );
    ping(h1, h2.addr, 1);
    let out = host_output(
        h1,
        &[
            "ping", "-6", "-c", "2", "-i", "0.2", "-s", "1400", "-W", "2", &target,
        ],
    );
    assert!(out.contains("2 received"), "{out}");

    let r = stop_and_report(fwd);
    let drops = &r["drops"];
    assert!(n(&drops["too_big"]) >= 1, "{r:#}");
    assert!(n(&drops["hop_limit_exceeded"]) >= 3, "{r:#}");
    // Every packet that ran out of hops or did not fit was answered.
    let core = &r["cores"][0];
    assert_eq!(n(&core["icmp_rate_limited"]), 0, "{r:#}");
    assert!(
        n(&core["icmp_errors"]) >= n(&drops["too_big"]) + n(&drops["hop_limit_exceeded"]),
        "{r:#}"
    );
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

#[test]
fn a_burst_of_errors_is_rate_limited() {
    let lab = Lab::start(
        'r',
        &[1500, 1500],
        &[1],
        "\n[icmp]\nerror_rate = 10\nerror_burst = 5\n",
        &[],
    );
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);

    // 100 packets that run out of hops at the router, in about half a second.
    let started = std::time::Instant::now();
    let _ = h1
        .exec(&[
            "ping",
            "-6",
            "-c",
            "100",
            "-i",
            "0.005",
            "-t",
            "1",
            "-W",
            "1",
            &h2.addr.to_string(),
        ])
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let r = stop_and_report(fwd);

    let core = &r["cores"][0];
    let errors = n(&core["icmp_errors"]);
    let limited = n(&core["icmp_rate_limited"]);
    assert_eq!(
        n(&r["drops"]["hop_limit_exceeded"]),
        100,
        "every one is counted: {r:#}"
    );
    assert_eq!(errors + limited, 100, "{r:#}");
    // The burst, then 10 per second, over the time the pings took.
    let allowed = 5 + (10.0 * seconds).ceil() as u64 + 1;
    assert!(
        errors <= allowed,
        "{errors} errors in {seconds:.2} s, at most {allowed} allowed: {r:#}"
    );
    assert!(errors >= 5, "{r:#}");
}

#[test]
fn two_workers_share_the_ports() {
    let lab = Lab::start('w', &[1500, 1500], &[1, 2], "", &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    ping(h1, h2.addr, 5);
    ping(h2, h1.addr, 5);
    ping(h1, h1.gateway, 2);
    let r = stop_and_report(fwd);

    let cores = r["cores"].as_array().unwrap();
    assert_eq!(cores.len(), 2, "{r:#}");
    let total = |field: &str| cores.iter().map(|c| n(&c[field])).sum::<u64>();
    assert_eq!(total("forwarded"), 20, "{r:#}");
    assert!(total("replied") >= 2, "{r:#}");
    let port_rx: u64 = r["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| n(&p["stats"]["rx_packets"]))
        .sum();
    assert_eq!(
        port_rx,
        total("rx") + n(&r["received_before_forwarding"]),
        "{r:#}"
    );
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

/// CPU seconds a process has used, user and system, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the process runs");
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // SAFETY: sysconf reads a constant of the system.
    #[allow(unsafe_code)]
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks as f64 / hz
}

/// The cores a process keeps busy over `seconds`.
fn cores_used(pid: u32, seconds: f64) -> f64 {
    let (cpu, wall) = (cpu_seconds(pid), std::time::Instant::now());
    std::thread::sleep(Duration::from_secs_f64(seconds));
    (cpu_seconds(pid) - cpu) / wall.elapsed().as_secs_f64()
}

#[test]
fn idle_workers_sleep_in_adaptive_mode_and_spin_in_poll_mode() {
    // Two workers, one on each CPU of a two-CPU machine (the second beside the main
    // lcore), or both on the one CPU of a one-CPU guest.
    let cpus = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(2) as f64;

    let lab = Lab::start('a', &[1500, 1500], &[1, 2], "", &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    std::thread::sleep(Duration::from_millis(500));
    let adaptive = cores_used(fwd.pid(), 3.0);
    // Traffic after the idle spell is forwarded at once and without loss.
    ping(&topo.hosts[0], topo.hosts[1].addr, 5);
    let r = stop_and_report(fwd);
    let slept: f64 = r["cores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sleep_seconds"].as_f64().unwrap())
        .sum();
    // Each wake-up costs some 15 us of CPU on a virtual machine, so two workers that wake
    // every 100 us use about a third of a core; on bare metal less.
    assert!(
        adaptive < 0.5,
        "two idle adaptive workers used {adaptive:.2} cores"
    );
    assert!(slept > 1.0, "{r:#}");

    let lab = Lab::start(
        'b',
        &[1500, 1500],
        &[1, 2],
        "\n[polling]\nmode = \"poll\"\n",
        &[],
    );
    std::thread::sleep(Duration::from_millis(500));
    let poll = cores_used(lab.fwd.pid(), 3.0);
    let r = stop_and_report(lab.fwd);
    assert!(
        poll > 0.75 * cpus,
        "idle polling workers used {poll:.2} cores"
    );
    for c in r["cores"].as_array().unwrap() {
        assert_eq!(c["sleep_seconds"].as_f64(), Some(0.0), "{r:#}");
    }
}

#[test]
fn doctor_says_what_to_fix() {
    let good = TempFile::new("doctor-good.toml", b"[[port]]\ndevice = \"net_null0\"\n").unwrap();
    let out = v6fwd(&["doctor", "--config", good.0.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with("v6fwd ") && text.contains(" on DPDK "),
        "{text}"
    );
    assert!(
        text.contains("polling    adaptive (sleeps after 256 empty polls, 100 us at most)"),
        "{text}"
    );
    assert!(text.contains("port0: virtual device net_null0"), "{text}");

    let bad = TempFile::new("doctor-bad.toml", b"[[port]]\ndevice = \"0000:99:00.0\"\n").unwrap();
    let out = v6fwd(&["doctor", "--config", bad.0.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL  port       port0: no PCI device 0000:99:00.0"),
        "{text}"
    );
}

#[test]
fn an_address_nobody_holds_gets_address_unreachable_after_three_solicitations() {
    let lab = Lab::start('u', &[1500, 1500], &[1], "", &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    // On h2's link, held by no one.
    let absent = Ipv6Addr::from(u128::from(h2.addr) ^ 0x55);
    let out = h1
        .exec(&["ping", "-6", "-c", "1", "-W", "6", &absent.to_string()])
        .expect("ping runs");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.contains("Address unreachable"),
        "ping to {absent} through the router:\n{out}"
    );
    // The hosts themselves are still reached.
    ping(h1, h2.addr, 2);
    let r = stop_and_report(fwd);
    let core = &r["cores"][0];
    assert_eq!(n(&r["drops"]["no_neighbor"]), 1, "{r:#}");
    // Three for the absent address, and at least one for h2.
    assert!(n(&core["solicitations"]) >= 4, "{r:#}");
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

/// Polls `cmd` in `host` for up to `secs` seconds until its output satisfies `want`.
fn wait_for(host: &lab::Host, cmd: &[&str], secs: u64, want: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let out = host_output(host, cmd);
        if want(&out) || std::time::Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn router_advertisements_answer_rdisc6_and_the_last_one_withdraws_the_router() {
    // [port.ra] belongs to the last [[port]]: h2's link advertises, h1's does not.
    let ra = "\n[port.ra]\nmax_interval_s = 30\nlifetime_s = 1800\npreference = \"high\"\n";
    let lab = Lab::start('r', &[1500, 1400], &[1], ra, &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);

    let out = host_output(h2, &["rdisc6", "-1", "-w", "2000", "eth0"]);
    let line = |key: &str| {
        out.lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key:?} in rdisc6's output:\n{out}"))
            .to_owned()
    };
    assert!(line("Router preference").contains("high"), "{out}");
    assert!(line("Router lifetime").contains("1800"), "{out}");
    assert!(line("MTU").contains("1400"), "{out}");
    let s = h2.addr.segments();
    let subnet = format!("{:x}:{:x}:{:x}::/64", s[0], s[1], s[2]);
    assert!(line("Prefix").contains(&subnet), "{out}");
    assert!(line("Autonomous").contains("Yes"), "{out}");

    let quiet = h1
        .exec(&["rdisc6", "-1", "-r", "1", "-w", "1000", "eth0"])
        .expect("rdisc6 runs");
    assert!(
        !quiet.status.success(),
        "h1's link does not advertise:\n{}",
        String::from_utf8_lossy(&quiet.stdout)
    );

    // The Linux host took the router as a default router of high preference.
    let route = ["ip", "-6", "route", "show", "default", "proto", "ra"];
    let learned = wait_for(h2, &route, 5, |o| o.contains("pref high"));
    assert!(learned.contains("pref high"), "{learned}");

    let r = stop_and_report(fwd);
    assert!(n(&r["cores"][0]["router_adverts"]) >= 2, "{r:#}");
    // The last advertisement, with a lifetime of 0, withdrew it.
    let after = wait_for(h2, &route, 5, |o| o.trim().is_empty());
    assert!(after.trim().is_empty(), "still a default router:\n{after}");
}

/// Neighbor Discovery's timers made short for tests: REACHABLE for 0.5 to 1.5 s, 100 ms
/// between solicitations. `[port.nd]` follows a `[[port]]`, so this is for the last one.
const FAST_ND: &str = "\n[port.nd]\nreachable_time_ms = 1000\nretrans_timer_ms = 100\n";

#[test]
fn a_host_that_changes_its_mac_is_reached_at_the_new_one() {
    let lab = Lab::start('m', &[1500, 1500], &[1], FAST_ND, &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    ping(h1, h2.addr, 2);
    // A new MAC, announced by an unsolicited advertisement with the Override flag, as
    // Linux sends with ndisc_notify set.
    host_output(
        h2,
        &["sysctl", "-q", "-w", "net.ipv6.conf.eth0.ndisc_notify=1"],
    );
    host_output(
        h2,
        &["ip", "link", "set", "eth0", "address", "02:00:00:00:77:77"],
    );
    ping(h1, h2.addr, 3);
    // And without an announcement: the host changes again and says nothing; the
    // router's entry goes STALE, probes the old address in vain and resolves anew.
    host_output(
        h2,
        &["sysctl", "-q", "-w", "net.ipv6.conf.eth0.ndisc_notify=0"],
    );
    host_output(
        h2,
        &["ip", "link", "set", "eth0", "address", "02:00:00:00:88:88"],
    );
    let out = h1
        .exec(&[
            "ping",
            "-6",
            "-c",
            "20",
            "-i",
            "0.5",
            "-W",
            "1",
            &h2.addr.to_string(),
        ])
        .expect("ping runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let last = text
        .lines()
        .rfind(|l| l.contains("bytes from"))
        .map(str::to_owned);
    assert!(
        last.as_deref().is_some_and(|l| l.contains("icmp_seq=20")),
        "the last pings get through again:\n{text}"
    );
    let r = stop_and_report(fwd);
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

#[test]
fn a_host_that_disappears_is_found_unreachable() {
    let lab = Lab::start('g', &[1500, 1500], &[1], FAST_ND, &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    ping(h1, h2.addr, 2);
    host_output(h2, &["ip", "link", "set", "eth0", "down"]);
    // The entry goes STALE, DELAY for 5 s, three probes, unreachable; the next packet
    // resolves anew, in vain, and its source hears so.
    let out = h1
        .exec(&[
            "ping",
            "-6",
            "-c",
            "16",
            "-i",
            "0.5",
            "-W",
            "1",
            &h2.addr.to_string(),
        ])
        .expect("ping runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("Address unreachable"), "{text}");
    let r = stop_and_report(fwd);
    assert!(n(&r["drops"]["no_neighbor"]) >= 1, "{r:#}");
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

#[test]
fn a_scan_of_a_subnet_leaves_an_established_neighbor_alone() {
    let lab = Lab::start('s', &[1500, 1500], &[1], "", &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    ping(h1, h2.addr, 2);
    let s = h2.addr.segments();
    // 3000 UDP packets to as many addresses of h2's /64, 10 to a millisecond (faster, the
    // kernel drops what overflows the af_packet ring before v6fwd sees it), while a ping
    // to h2 runs beside them.
    let scan = format!(
        "import socket, time\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         for i in range(3000):\n    s.sendto(b'x', ('{:x}:{:x}:{:x}:0:1:%x:%x:1' % (i // 65536, i % 65536), 9))\n\
         \x20   if i % 10 == 9:\n        time.sleep(0.001)\n",
        s[0], s[1], s[2]
    );
    let started = std::time::Instant::now();
    let scanner = std::process::Command::new("ip")
        .args(["netns", "exec", &h1.netns, "python3", "-c", &scan])
        .spawn()
        .expect("python3 runs");
    let out = host_output(
        h1,
        &[
            "ping",
            "-6",
            "-c",
            "10",
            "-i",
            "0.2",
            "-W",
            "2",
            &h2.addr.to_string(),
        ],
    );
    assert!(
        out.contains(" 0% packet loss"),
        "the ping lost packets:\n{out}"
    );
    let status = { scanner }.wait().expect("the scan ends");
    assert!(status.success());
    let seconds = started.elapsed().as_secs_f64().ceil() as u64 + 1;
    let r = stop_and_report(fwd);
    let drops = &r["drops"];
    let refused = n(&drops["nd_incomplete_limit"]) + n(&drops["nd_solicit_rate"]);
    assert!(refused > 1000, "the scan was refused: {r:#}");
    // Resolutions started no faster than the limit (a burst of 100, then 100 a second),
    // each with three solicitations at most.
    let bound = 3 * (100 + 100 * seconds);
    assert!(
        n(&r["cores"][0]["solicitations"]) <= bound,
        "above {bound}: {r:#}"
    );
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

/// radvd running in a host's namespace on `iface`, stopped (with its final advertisement)
/// when dropped.
struct Radvd {
    child: std::process::Child,
    _config: TempFile,
}

impl Radvd {
    fn start(host: &lab::Host, iface: &str, tag: &str, body: &str) -> Radvd {
        let text = format!(
            "interface {iface} {{\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n {body}\n}};\n"
        );
        let config = TempFile::new(&format!("{tag}-{iface}.radvd.conf"), text.as_bytes()).unwrap();
        let pid = std::env::temp_dir().join(format!("{tag}-{iface}.radvd.pid"));
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &host.netns,
                "radvd",
                "-n",
                "-m",
                "stderr",
                "-C",
            ])
            .arg(&config.0)
            .arg("-p")
            .arg(&pid)
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("radvd runs (deploy/install-deps.sh installs it)");
        Radvd {
            child,
            _config: config,
        }
    }

    /// Stops it with SIGTERM, on which it sends a last advertisement of lifetime 0.
    fn stop(mut self) {
        // kill(1) by the PID of the child this test started.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Radvd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Packets `iface` in `host`'s namespace has received.
fn rx_packets(host: &lab::Host, iface: &str) -> u64 {
    let out = host_output(
        host,
        &[
            "cat",
            &format!("/sys/class/net/{iface}/statistics/rx_packets"),
        ],
    );
    out.trim().parse().expect("a counter")
}

/// Sends `count` UDP packets from `host` to `dst`, 10 ms apart.
fn udp_to(host: &lab::Host, dst: &str, count: u32) {
    let code = format!(
        "import socket, time\ns = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         for i in range({count}):\n    s.sendto(b'x', ('{dst}', 9))\n    time.sleep(0.01)\n"
    );
    host_output(host, &["python3", "-c", &code]);
}

#[test]
fn default_routes_from_two_upstream_routers_with_failover() {
    // Port 1 is upstream: on h2's link, two routers on macvlans of its eth0, A (high
    // preference) and B (low, and a route to 2001:db8:abc::/48 of its own). Each has its
    // own counters, so where the router sends a packet shows which one it chose.
    // `accept_ra` lands in the last [[port]], then its [port.nd].
    let extra = format!("accept_ra = true\n{FAST_ND}");
    let lab = Lab::start('a', &[1500, 1500], &[1], &extra, &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    host_output(
        h2,
        &["sysctl", "-q", "-w", "net.ipv6.conf.all.forwarding=1"],
    );
    for (mv, mac) in [("mva", "02:00:00:00:aa:01"), ("mvb", "02:00:00:00:bb:01")] {
        host_output(
            h2,
            &[
                "ip", "link", "add", "link", "eth0", "name", mv, "address", mac, "type", "macvlan",
                "mode", "bridge",
            ],
        );
        host_output(
            h2,
            &[
                "sysctl",
                "-q",
                "-w",
                &format!("net.ipv6.conf.{mv}.accept_dad=0"),
            ],
        );
        host_output(h2, &["ip", "link", "set", mv, "up"]);
    }
    // What reaches the routers goes no further.
    for p in ["2001:db8:f00::/48", "2001:db8:abc::/48"] {
        host_output(h2, &["ip", "-6", "route", "add", "blackhole", p]);
    }
    let tag = tag('a');
    let _a = Radvd::start(
        h2,
        "mva",
        &tag,
        "AdvDefaultPreference high;\n AdvDefaultLifetime 30;",
    );
    let b_conf = "AdvDefaultPreference low;\n AdvDefaultLifetime 30;\n \
                  route 2001:db8:abc::/48 { AdvRoutePreference medium; AdvRouteLifetime 30; };";
    let b = Radvd::start(h2, "mvb", &tag, b_conf);
    std::thread::sleep(Duration::from_secs(2));

    // Sends 50 packets to `dst` and says which router took them.
    let via = |dst: &str| {
        let (a0, b0) = (rx_packets(h2, "mva"), rx_packets(h2, "mvb"));
        udp_to(h1, dst, 50);
        let (a1, b1) = (rx_packets(h2, "mva"), rx_packets(h2, "mvb"));
        match (a1 - a0 >= 50, b1 - b0 >= 50) {
            (true, false) => "A",
            (false, true) => "B",
            _ => "neither",
        }
    };
    assert_eq!(
        via("2001:db8:f00::1"),
        "A",
        "the default route of high preference"
    );
    assert_eq!(via("2001:db8:abc::1"), "B", "the more specific route");

    // B stops, and its last advertisement takes its routes away: A carries all.
    b.stop();
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(via("2001:db8:abc::1"), "A", "B's route withdrawn");

    // B is back; A dies without a word. Neighbor Unreachability Detection finds it out
    // (STALE, 5 s of DELAY, three probes) and B takes over.
    let _b = Radvd::start(h2, "mvb", &tag, b_conf);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(via("2001:db8:abc::1"), "B", "B's route is back");
    host_output(h2, &["ip", "link", "set", "mva", "down"]);
    udp_to(h1, "2001:db8:f00::1", 800);
    assert_eq!(via("2001:db8:f00::1"), "B", "A failed, B took over");

    let r = stop_and_report(fwd);
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

#[test]
fn an_address_a_host_already_holds_is_refused_at_start() {
    // The router is given h1's own address on h1's link, beside its gateway address.
    let tag = tag('d');
    let topo = Topology::create(&tag, &[1500, 1500]).expect("namespaces (are we root?)");
    let h1 = &topo.hosts[0];
    let text = lab::router_config(&topo, &[1]).replacen(
        &format!("\"{}/64\"", h1.gateway),
        &format!("\"{}/64\", \"{}/64\"", h1.gateway, h1.addr),
        1,
    );
    assert!(text.contains(&h1.addr.to_string()), "{text}");
    let config = TempFile::new(&format!("{tag}.toml"), text.as_bytes()).unwrap();
    let mut args = lab::eal_args(&tag);
    args.push(lab::lcore_map(&[1]));
    let fwd = Forwarder::start(Path::new(EXE), &config.0, &["--json"], &args, START_TIMEOUT)
        .expect("v6fwd starts");
    // The router does not answer for the address: h1 still reaches its gateway and h2.
    ping(h1, h1.gateway, 2);
    ping(h1, topo.hosts[1].addr, 2);
    let r = stop_and_report(fwd);
    let refused = &r["ports"][0]["refused_addresses"];
    assert_eq!(refused, &serde_json::json!([h1.addr.to_string()]), "{r:#}");
    assert_eq!(
        r["ports"][1]["refused_addresses"],
        serde_json::json!([]),
        "{r:#}"
    );
}

#[test]
fn a_host_sent_the_long_way_round_gets_a_redirect() {
    // h3 sits on h1's link (a macvlan of h1's eth0 in a namespace of its own) in another
    // subnet, which the router also has on that port: h1 reaches it through the router
    // until the router tells it that h3 is on its link.
    let tag = tag('x');
    let topo = Topology::create(&tag, &[1500, 1500]).expect("namespaces (are we root?)");
    let h1 = &topo.hosts[0];
    let text = lab::router_config(&topo, &[1]).replacen(
        &format!("\"{}/64\"", h1.gateway),
        &format!("\"{}/64\", \"2001:db8:1:ffff::1/64\"", h1.gateway),
        1,
    );
    let ns3 = format!("{tag}h3");
    let sh = |args: &[&str]| {
        let out = Command::new("ip").args(args).output().expect("ip runs");
        assert!(
            out.status.success(),
            "ip {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(&["netns", "add", &ns3]);
    struct Gone(String);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }
    let _ns3 = Gone(ns3.clone());
    sh(&[
        "-n", &h1.netns, "link", "add", "link", "eth0", "name", "h3", "type", "macvlan", "mode",
        "bridge",
    ]);
    sh(&["-n", &h1.netns, "link", "set", "h3", "netns", &ns3]);
    sh(&[
        "netns",
        "exec",
        &ns3,
        "sysctl",
        "-q",
        "-w",
        "net.ipv6.conf.h3.accept_dad=0",
    ]);
    sh(&[
        "-n",
        &ns3,
        "addr",
        "add",
        "2001:db8:1:ffff::3/64",
        "dev",
        "h3",
        "nodad",
    ]);
    sh(&["-n", &ns3, "link", "set", "h3", "up"]);
    sh(&[
        "-n",
        &ns3,
        "route",
        "add",
        "default",
        "via",
        "2001:db8:1:ffff::1",
    ]);
    // h1 reaches h3's subnet through the router's link-local address, the address a
    // Redirect comes from (RFC 4861 8.1: hosts take it only from their first hop).
    let mac = std::fs::read_to_string(format!("/sys/class/net/{}/address", h1.router_if))
        .expect("the router's interface");
    let mac: v6fwd::wire::MacAddr = mac.trim().parse().expect("a MAC address");
    let router_ll = v6fwd::wire::ipv6::link_local_from_mac(&mac).to_string();
    sh(&[
        "-n",
        &h1.netns,
        "-6",
        "route",
        "add",
        "2001:db8:1:ffff::/64",
        "via",
        &router_ll,
        "dev",
        "eth0",
    ]);

    let config = TempFile::new(&format!("{tag}.toml"), text.as_bytes()).unwrap();
    let mut args = lab::eal_args(&tag);
    args.push(lab::lcore_map(&[1]));
    let fwd = Forwarder::start(Path::new(EXE), &config.0, &["--json"], &args, START_TIMEOUT)
        .expect("v6fwd starts");
    let h3 = "2001:db8:1:ffff::3";
    let before = host_output(h1, &["ip", "-6", "route", "get", h3]);
    assert!(
        before.contains(" via "),
        "first through the router: {before}"
    );
    ping(h1, h3.parse().unwrap(), 3);
    // Linux keeps the redirect as a route exception: straight to h3 on eth0.
    let after = host_output(h1, &["ip", "-6", "route", "get", h3]);
    assert!(!after.contains(" via "), "redirected: {after}");
    let r = stop_and_report(fwd);
    assert!(n(&r["cores"][0]["redirects"]) >= 1, "{r:#}");
}

/// An ICMPv6 message `msg` from the host to `dst` on port 0, with a right checksum unless
/// `good_checksum` is false.
fn icmp_frame(
    src: &str,
    dst: &str,
    hop_limit: u8,
    mut msg: Vec<u8>,
    good_checksum: bool,
) -> Vec<u8> {
    let (src, dst) = (a(src), a(dst));
    msg[2..4].copy_from_slice(&[0, 0]);
    let mut sum = v6fwd::wire::checksum::upper_layer(&src, &dst, 58, &msg);
    if !good_checksum {
        sum ^= 0x0101;
    }
    msg[2..4].copy_from_slice(&sum.to_be_bytes());
    let mut f = Vec::new();
    if dst.is_multicast() {
        f.extend_from_slice(&v6fwd::wire::MacAddr::ipv6_multicast(&dst).0);
    } else {
        f.extend_from_slice(&PCAP0_MAC);
    }
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&[0x86, 0xdd, 0x60, 0, 0, 0]);
    f.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, hop_limit]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&msg);
    f
}

/// A Neighbor Advertisement or Solicitation message for `target` with `flags` and the
/// option (type, length in units of 8, bytes) given.
fn nd_msg(kind: u8, flags: u8, target: &str, option: Option<(u8, u8, [u8; 6])>) -> Vec<u8> {
    let mut m = vec![kind, 0, 0, 0, flags, 0, 0, 0];
    m.extend_from_slice(&a(target).octets());
    if let Some((t, len, bytes)) = option {
        m.extend_from_slice(&[t, len]);
        m.extend_from_slice(&bytes);
    }
    m
}

#[test]
fn malformed_neighbor_discovery_is_dropped_and_counted() {
    use v6fwd::wire::nd::{FLAG_OVERRIDE, FLAG_SOLICITED};
    const NA: u8 = 136;
    const NS: u8 = 135;
    let host = "2001:db8:1::2";
    let router = "2001:db8:1::1";
    let tlla = Some((2, 1, HOST_MAC));
    let slla = Some((1, 1, HOST_MAC));
    let good_na = nd_msg(NA, FLAG_SOLICITED | FLAG_OVERRIDE, host, tlla);
    let mut short = good_na.clone();
    short.truncate(20);
    let frames = vec![
        // Taken in.
        icmp_frame(host, router, 255, good_na.clone(), true),
        // Each against a rule of RFC 4861 7.1.1 or 7.1.2.
        icmp_frame(host, router, 64, good_na.clone(), true),
        icmp_frame(host, router, 255, short, true),
        icmp_frame(
            host,
            router,
            255,
            nd_msg(NA, FLAG_SOLICITED, host, Some((2, 0, HOST_MAC))),
            true,
        ),
        icmp_frame(
            host,
            router,
            255,
            nd_msg(NA, FLAG_SOLICITED, "ff02::1", tlla),
            true,
        ),
        icmp_frame(
            host,
            "ff02::1",
            255,
            nd_msg(NA, FLAG_SOLICITED, host, tlla),
            true,
        ),
        icmp_frame(
            host,
            "ff02::1:ff00:1",
            254,
            nd_msg(NS, 0, router, slla),
            true,
        ),
        icmp_frame(
            "::",
            "ff02::1:ff00:1",
            255,
            nd_msg(NS, 0, router, slla),
            true,
        ),
        // For an address the router does not have.
        icmp_frame(
            host,
            router,
            255,
            nd_msg(NS, 0, "2001:db8:1::9", slla),
            true,
        ),
        // A wrong checksum.
        icmp_frame(host, router, 255, good_na, false),
        // A Router Solicitation and a Router Advertisement on a port that neither sends
        // nor takes them, and a Redirect, which a router ignores.
        icmp_frame(
            "fe80::2",
            "ff02::2",
            255,
            vec![133, 0, 0, 0, 0, 0, 0, 0],
            true,
        ),
        icmp_frame(
            "fe80::2",
            "ff02::1",
            255,
            vec![134, 0, 0, 0, 64, 0, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0],
            true,
        ),
        icmp_frame(
            "fe80::2",
            router,
            255,
            [
                vec![137, 0, 0, 0, 0, 0, 0, 0],
                a("fe80::3").octets().to_vec(),
                a("2001:db8:5::1").octets().to_vec(),
            ]
            .concat(),
            true,
        ),
    ];
    let run = replay(&tag('n'), &frames);
    let r = &run.report;
    let core = &r["cores"][0];
    assert_eq!(n(&core["rx"]), frames.len() as u64, "{r:#}");
    assert_eq!(n(&core["nd_consumed"]), 1, "{r:#}");
    let drops = &r["drops"];
    for (reason, count) in [
        ("nd_invalid", 7),
        ("nd_other_target", 1),
        ("icmp_bad_checksum", 1),
        ("local_unsupported", 3),
    ] {
        assert_eq!(n(&drops[reason]), count, "{reason}: {r:#}");
    }
    assert_eq!(n(&core["dropped"]), 12, "{r:#}");
    // Nothing is answered.
    assert!(run.sent_port0.is_empty(), "{:?}", run.sent_port0);
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

#[test]
fn timers_keep_time_and_traffic_gets_through_while_workers_sleep() {
    // Adaptive mode, the default: after a second of nothing the worker sleeps between
    // polls, and the solicitations of a resolution must still go out a RetransTimer
    // (1 s) apart, and traffic after the idle get through whole.
    let lab = Lab::start('t', &[1500, 1500], &[1], "", &[]);
    let (topo, fwd) = (&lab.topo, lab.fwd);
    let (h1, h2) = (&topo.hosts[0], &topo.hosts[1]);
    let absent = Ipv6Addr::from(u128::from(h2.addr) ^ 0x77);
    let mut dump = Command::new("ip")
        .args([
            "netns", "exec", &h2.netns, "tcpdump", "-i", "eth0", "-n", "-l", "-tt", "icmp6",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("tcpdump runs");
    std::thread::sleep(Duration::from_secs(2));
    let _ = h1.exec(&["ping", "-6", "-c", "1", "-W", "5", &absent.to_string()]);
    let out = host_output(
        h1,
        &["ping", "-6", "-c", "5", "-i", "0.3", &h2.addr.to_string()],
    );
    assert!(out.contains(" 0% packet loss"), "after the idle:\n{out}");
    let _ = Command::new("kill")
        .args(["-INT", &dump.id().to_string()])
        .status();
    let text = {
        use std::io::Read;
        let mut s = String::new();
        dump.stdout
            .take()
            .expect("piped")
            .read_to_string(&mut s)
            .expect("tcpdump's output");
        let _ = dump.wait();
        s
    };
    let who_has = format!("who has {absent}");
    let times: Vec<f64> = text
        .lines()
        .filter(|l| l.contains(&who_has))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(times.len(), 3, "three solicitations:\n{text}");
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (0.95..=1.1).contains(&gap),
            "solicitations {gap:.3} s apart:\n{text}"
        );
    }
    let r = stop_and_report(fwd);
    // The worker did sleep meanwhile.
    let slept = r["cores"][0]["sleep_seconds"].as_f64().expect("seconds");
    assert!(slept > 0.5, "slept {slept} s: {r:#}");
}
