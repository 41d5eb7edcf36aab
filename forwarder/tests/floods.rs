//! Floods from a host beside an established flow: Neighbor Solicitations, Router
//! Solicitations and packets that run out of hops, each counted under its name, while a
//! ping across the router keeps going.

use super::*;

/// Runs `code` (Python) in `host`'s namespace in the background.
fn python(host: &lab::Host, code: &str) -> std::process::Child {
    Command::new("ip")
        .args(["netns", "exec", &host.netns, "python3", "-c", code])
        .spawn()
        .expect("python3 runs")
}

const FLOOD: u32 = 2000;

#[test]
fn floods_are_counted_and_an_established_flow_goes_on() {
    // The table applies to the last [[port]]: port1, the link of h2, advertises.
    let lab = Lab::start(
        'f',
        &[1500, 1500],
        &[1],
        "\n[port.ra]\nmax_interval_s = 600\n",
        &[],
    );
    let (h1, h2) = (&lab.topo.hosts[0], &lab.topo.hosts[1]);
    ping(h1, h2.addr, 2);
    ping(h2, h1.addr, 1);

    // From h2 (the advertising port's link): Neighbor Solicitations for the router's
    // address, Router Solicitations to all-routers, and UDP to h1 with a hop limit of 1,
    // 30 of them a millisecond. Faster, the kernel drops what overflows the af_packet
    // ring before the router sees it, and af_packet does not count those drops.
    let gw = h2.gateway;
    let mac = h2.mac.to_string().replace(':', "");
    let flood = format!(
        "import socket, struct, time\n\
         ifindex = socket.if_nametoindex('eth0')\n\
         mac = bytes.fromhex('{mac}')\n\
         ns = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)\n\
         ns.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)\n\
         ns.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)\n\
         target = socket.inet_pton(socket.AF_INET6, '{gw}')\n\
         sol = struct.pack('!BBHI', 135, 0, 0, 0) + target + bytes([1, 1]) + mac\n\
         rs = struct.pack('!BBHI', 133, 0, 0, 0) + bytes([1, 1]) + mac\n\
         udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)\n\
         for i in range({FLOOD}):\n\
         \x20   ns.sendto(sol, ('{gw}', 0, 0, ifindex))\n\
         \x20   ns.sendto(rs, ('ff02::2', 0, 0, ifindex))\n\
         \x20   udp.sendto(b'x', ('{dst}', 9))\n\
         \x20   if i % 10 == 9:\n\
         \x20       time.sleep(0.001)\n",
        dst = h1.addr,
    );
    let started = std::time::Instant::now();
    let flooder = python(h2, &flood);
    let out = host_output(
        h1,
        &[
            "ping",
            "-6",
            "-c",
            "20",
            "-i",
            "0.1",
            "-W",
            "2",
            &h2.addr.to_string(),
        ],
    );
    let status = { flooder }.wait().expect("the flood ends");
    assert!(status.success());
    let seconds = started.elapsed().as_secs_f64().ceil() as u64 + 1;
    // The flow goes on: at most one echo of twenty lost to a machine this busy.
    let received: u32 = out
        .split(" received")
        .next()
        .and_then(|s| s.rsplit(", ").next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ping summary:\n{out}"));
    assert!(received >= 19, "the ping lost more than one echo:\n{out}");

    let r = stop_and_report(lab.fwd);
    let c = &r["cores"][0];
    // Every solicitation was taken and answered; every Router Solicitation taken, and
    // answered by advertisements no closer than 3 s apart (RFC 4861 6.2.6).
    assert!(
        n(&c["nd_received"]["neighbor_solicitation"]) >= u64::from(FLOOD),
        "{r:#}"
    );
    assert!(n(&c["advertisements"]) >= u64::from(FLOOD), "{r:#}");
    assert!(
        n(&c["nd_received"]["router_solicitation"]) >= u64::from(FLOOD),
        "{r:#}"
    );
    assert!(n(&c["router_adverts"]) <= 4 + seconds / 3, "{r:#}");
    // Every packet that ran out of hops is counted; the errors sent keep to the budget
    // (a burst of 10, then 100 a second), and each one not sent is counted too.
    let expired = n(&r["drops"]["hop_limit_exceeded"]);
    assert_eq!(expired, u64::from(FLOOD), "{r:#}");
    let (errors, limited) = (n(&c["icmp_errors"]), n(&c["icmp_rate_limited"]));
    assert!(errors <= 10 + 100 * seconds, "{r:#}");
    assert_eq!(errors + limited, expired, "{r:#}");
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
}

#[test]
fn sigterm_under_load_stops_cleanly_with_every_counter() {
    let lab = Lab::start('k', &[1500, 1500], &[1], "", &[]);
    let (h1, h2) = (&lab.topo.hosts[0], &lab.topo.hosts[1]);
    ping(h1, h2.addr, 1);
    // UDP from h1 to h2 through the router, until it is stopped.
    let load = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
         while True:\n\
         \x20   for i in range(30):\n\
         \x20       s.sendto(b'x' * 100, ('{}', 9))\n\
         \x20   time.sleep(0.001)\n",
        h2.addr
    );
    let mut sender = python(h1, &load);
    std::thread::sleep(Duration::from_secs(2));

    let started = std::time::Instant::now();
    let (status, out, err) = lab.fwd.stop().expect("v6fwd stops");
    let took = started.elapsed();
    let _ = sender.kill();
    let _ = sender.wait();
    assert!(status.success(), "v6fwd exited with {status}\n{err}");
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    let r: Value = serde_json::from_str(&out).expect("the report is JSON");
    assert!(n(&r["cores"][0]["forwarded"]) > 1000, "{r:#}");
    assert_eq!(
        r["mempool"]["in_use_at_exit"], r["mempool"]["in_use_at_start"],
        "{r:#}"
    );
    assert!(err.contains("stopping"), "{err}");
    assert!(
        !lab.topo.control_socket().exists(),
        "the control socket is removed"
    );
}
