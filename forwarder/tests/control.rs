//! The management plane of a running v6fwd: the control socket and its commands, reloads,
//! and the Prometheus metrics, scraped by a real Prometheus server.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};

use super::*;

/// `v6fwd --socket <the lab's> args...`
fn ctl(lab: &Lab, args: &[&str]) -> std::process::Output {
    let socket = lab.topo.control_socket();
    Command::new(EXE)
        .arg("--socket")
        .arg(&socket)
        .args(args)
        .output()
        .expect("v6fwd runs")
}

/// Runs a command that must succeed; returns what it printed.
fn ctl_ok(lab: &Lab, args: &[&str]) -> String {
    let out = ctl(lab, args);
    assert!(
        out.status.success(),
        "v6fwd {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must be refused (exit status 2); returns its message.
fn ctl_refused(lab: &Lab, args: &[&str]) -> String {
    let out = ctl(lab, args);
    assert_eq!(
        out.status.code(),
        Some(2),
        "v6fwd {args:?} was not refused: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Pings `to` from `host` once; what ping printed, and whether it was answered.
fn ping_once(host: &lab::Host, to: &str) -> (bool, String) {
    let out = host
        .exec(&["ping", "-6", "-c", "1", "-W", "2", to])
        .expect("ping runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Gives the host `addr` too, so that it answers for a remote prefix.
fn add_address(host: &lab::Host, addr: &str) {
    host_output(
        host,
        &["ip", "-6", "addr", "add", addr, "dev", "eth0", "nodad"],
    );
}

const REMOTE: &str = "2001:db8:99::1";

#[test]
fn routes_changed_through_the_cli_steer_traffic() {
    let lab = Lab::start('r', &[1500, 1500, 1500], &[1], "", &[]);
    let [h1, h2, h3] = [&lab.topo.hosts[0], &lab.topo.hosts[1], &lab.topo.hosts[2]];
    for h in [h2, h3] {
        add_address(h, &format!("{REMOTE}/128"));
    }

    // No route yet: the router says so.
    let (ok, said) = ping_once(h1, REMOTE);
    assert!(!ok && said.contains("No route"), "{said}");

    let added = ctl_ok(
        &lab,
        &[
            "route",
            "add",
            "2001:db8:99::/64",
            "via",
            &h2.addr.to_string(),
        ],
    );
    assert!(added.contains("added 2001:db8:99::/64 via"), "{added}");
    let before = rx_packets(h2, "eth0");
    ping(h1, REMOTE.parse().unwrap(), 3);
    assert!(
        rx_packets(h2, "eth0") >= before + 3,
        "the pings did not go to h2"
    );

    let shown: Value = serde_json::from_str(&ctl_ok(&lab, &["-j", "route", "show"])).unwrap();
    let ours: Vec<&Value> = shown["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["prefix"] == "2001:db8:99::/64")
        .collect();
    assert_eq!(ours.len(), 1, "{shown}");
    assert_eq!(ours[0]["proto"], "api");
    assert_eq!(ours[0]["dev"], "port1");

    // Replaced by a path through h3: the traffic follows.
    ctl_ok(
        &lab,
        &[
            "route",
            "replace",
            "2001:db8:99::/64",
            "via",
            &h3.addr.to_string(),
        ],
    );
    let got = ctl_ok(&lab, &["route", "get", REMOTE]);
    assert!(
        got.contains(&format!("via {} dev port2 selected", h3.addr)),
        "{got}"
    );
    let before = rx_packets(h3, "eth0");
    ping(h1, REMOTE.parse().unwrap(), 3);
    assert!(
        rx_packets(h3, "eth0") >= before + 3,
        "the pings did not go to h3"
    );

    // The neighbors the traffic needed were resolved, each by one core.
    let neigh = ctl_ok(&lab, &["neigh", "show"]);
    for h in [h1, h2, h3] {
        assert!(
            neigh.contains(&format!("{} dev ", h.addr)) && neigh.contains(&h.mac.to_string()),
            "{} missing from:\n{neigh}",
            h.addr
        );
    }

    // Mistakes are named, and change nothing.
    let e = ctl_refused(
        &lab,
        &[
            "route",
            "add",
            "2001:db8:98::/64",
            "via",
            &h2.addr.to_string(),
            "dev",
            "nope",
        ],
    );
    assert!(e.contains("no port is called \"nope\""), "{e}");
    let e = ctl_refused(
        &lab,
        &["route", "add", "2001:db8:98::/64", "via", "2001:db8:77::1"],
    );
    assert!(e.contains("is on no port's subnet"), "{e}");
    let e = ctl_refused(&lab, &["route", "del", "2001:db8:97::/64"]);
    assert!(e.contains("no route for 2001:db8:97::/64"), "{e}");
    let e = ctl_refused(&lab, &["route", "del", "2001:db8:1::/64"]);
    assert!(e.contains("is the subnet of port port0"), "{e}");
    let e = ctl_refused(
        &lab,
        &[
            "route",
            "add",
            "2001:db8:99::1/64",
            "via",
            &h2.addr.to_string(),
        ],
    );
    assert!(e.contains("host bits"), "{e}");
    let e = ctl_refused(&lab, &["link", "set", "port0", "down"]);
    assert!(e.contains("only link show"), "{e}");

    // Deleted: no route again.
    ctl_ok(&lab, &["route", "del", "2001:db8:99::/64"]);
    let (ok, said) = ping_once(h1, REMOTE);
    assert!(!ok && said.contains("No route"), "{said}");

    let stats: Value = serde_json::from_str(&ctl_ok(&lab, &["-j", "stats"])).unwrap();
    let st = &stats["stats"];
    assert!(n(&st["drops"]["no_route"]) >= 2, "{st}");
    assert_eq!(n(&st["control_errors"]), 5, "{st}");
    assert_eq!(st["links"].as_array().unwrap().len(), 3);

    let report = stop_and_report(lab.fwd);
    assert!(n(&report["drops"]["no_route"]) >= 2);
    assert_eq!(
        report["mempool"]["in_use_at_exit"],
        report["mempool"]["in_use_at_start"]
    );
}

/// Sends `lines` on one connection to `socket`, reading an answer after each.
fn raw_session(socket: &Path, lines: &[&[u8]]) -> Vec<String> {
    let mut s = UnixStream::connect(socket).expect("the control socket");
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut answers = Vec::new();
    for line in lines {
        s.write_all(line).unwrap();
        s.write_all(b"\n").unwrap();
        let mut a = String::new();
        reader.read_line(&mut a).unwrap();
        answers.push(a);
    }
    answers
}

#[test]
fn bad_requests_on_the_control_socket_change_nothing() {
    let lab = Lab::start('q', &[1500, 1500], &[1], "", &[]);
    let socket = lab.topo.control_socket();
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the control socket is its owner's alone");
    let routes_before = ctl_ok(&lab, &["route", "show"]);

    let answers = raw_session(
        &socket,
        &[
            b"\x00\xff garbage",
            br#"{"version":9,"request":"route_show"}"#,
            br#"{"version":1,"request":{"route_add":{"prefix":12,"via":"2001:db8:2::2"}}}"#,
            br#"{"version":1,"request":{"route_add":{"prefix":"2001:db8:5::/64","via":["x"]}}}"#,
            br#"{"version":1,"request":{"route_add":{"prefix":"2001:db8:5::/64","via":"2001:db8:2::2","colour":1}}}"#,
            br#"{"version":1,"request":{"route_replace":{"prefix":"2001:db8:5::/64","paths":[]}}}"#,
            br#"{"version":1,"request":"self_destruct"}"#,
        ],
    );
    for (a, want) in answers.iter().zip([
        "not JSON",
        "version 9 is not spoken",
        "invalid type",
        "invalid type",
        "unknown field",
        "at least one path",
        "unknown variant",
    ]) {
        assert!(
            a.contains("\"error\"") && a.contains(want),
            "{a:?} lacks {want:?}"
        );
    }

    // A line over the limit is refused unread, and the connection closed.
    let mut s = UnixStream::connect(&socket).unwrap();
    let huge = vec![b'x'; 2 << 20];
    let _ = s.write_all(&huge);
    let mut answer = String::new();
    let _ = BufReader::new(&s).read_to_string(&mut answer);
    assert!(answer.contains("a request is at most"), "{answer:?}");

    assert_eq!(ctl_ok(&lab, &["route", "show"]), routes_before);

    // Two clients adding at once: every change lands, whole.
    let h2 = lab.topo.hosts[1].addr.to_string();
    std::thread::scope(|scope| {
        for c in 0..2 {
            let (socket, h2) = (&socket, &h2);
            scope.spawn(move || {
                let mut s = UnixStream::connect(socket).unwrap();
                let mut reader = BufReader::new(s.try_clone().unwrap());
                for i in 0..50 {
                    let req = format!(
                        "{{\"version\":1,\"request\":{{\"route_add\":{{\"prefix\":\"2001:db8:{:x}::/48\",\"via\":\"{h2}\"}}}}}}\n",
                        0x1000 + c * 100 + i
                    );
                    s.write_all(req.as_bytes()).unwrap();
                    let mut a = String::new();
                    reader.read_line(&mut a).unwrap();
                    assert!(a.contains("\"ok\""), "{a}");
                }
            });
        }
    });
    let shown: Value = serde_json::from_str(&ctl_ok(&lab, &["-j", "route", "show"])).unwrap();
    let api = shown["routes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["proto"] == "api")
        .count();
    assert_eq!(api, 100);

    let stats: Value = serde_json::from_str(&ctl_ok(&lab, &["-j", "stats"])).unwrap();
    assert_eq!(n(&stats["stats"]["control_errors"]), 8);
    assert_eq!(n(&stats["stats"]["routes"]["api"]), 100);
    let report = stop_and_report(lab.fwd);
    assert_eq!(
        report["mempool"]["in_use_at_exit"],
        report["mempool"]["in_use_at_start"]
    );
    assert!(!socket.exists(), "the socket file is removed at exit");
}

/// Pings `to` from `host` `count` times, 50 ms apart, in the background.
fn ping_in_background(host: &lab::Host, to: &str, count: u32) -> Child {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &host.netns,
            "ping",
            "-6",
            "-i",
            "0.05",
            "-W",
            "2",
        ])
        .args(["-c", &count.to_string(), to])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ping runs")
}

#[test]
fn reload_moves_a_route_while_a_ping_runs_without_loss() {
    let route =
        |via: Ipv6Addr| format!("\n[[route]]\nprefix = \"2001:db8:99::/64\"\nvia = \"{via}\"\n");
    let tag = tag('u');
    let topo = Topology::create(&tag, &[1500, 1500, 1500]).expect("namespaces");
    let [h1, h2, h3] = [0, 1, 2].map(|i| topo.hosts[i].clone());
    for h in [&h2, &h3] {
        add_address(h, &format!("{REMOTE}/128"));
    }
    let base = lab::router_config(&topo, &[1]);
    let config = TempFile::new(
        &format!("{tag}.toml"),
        (base.clone() + &route(h2.addr)).as_bytes(),
    )
    .unwrap();
    let mut args = lab::eal_args(&tag);
    args.push(lab::lcore_map(&[1]));
    let fwd = Forwarder::start(Path::new(EXE), &config.0, &["--json"], &args, START_TIMEOUT)
        .expect("v6fwd starts");
    let lab = Lab {
        topo,
        fwd,
        _config: config,
    };
    ping(&h1, REMOTE.parse().unwrap(), 2);

    let pinger = ping_in_background(&h1, REMOTE, 60);
    std::thread::sleep(Duration::from_millis(700));

    // A configuration that does not validate changes nothing, and says why.
    std::fs::write(
        &lab._config.0,
        base.clone() + "\n[[route]]\nprefix = \"2001:db8:99::/64\"\nvia = \"nowhere\"\n",
    )
    .unwrap();
    let e = ctl_refused(&lab, &["reload"]);
    assert!(e.contains("route[0].via"), "{e}");
    assert!(e.contains("nothing changed"), "{e}");
    // Nor does one that changes what only a restart can.
    std::fs::write(
        &lab._config.0,
        base.replace("mtu = 1500", "mtu = 1400") + &route(h3.addr),
    )
    .unwrap();
    let e = ctl_refused(&lab, &["reload"]);
    assert!(
        e.contains("port[0].mtu") && e.contains("only by a restart"),
        "{e}"
    );
    let got = ctl_ok(&lab, &["route", "get", REMOTE]);
    assert!(got.contains(&format!("via {}", h2.addr)), "{got}");

    // The route moves to h3, by SIGHUP, while the ping runs.
    std::fs::write(&lab._config.0, base.clone() + &route(h3.addr)).unwrap();
    let before = rx_packets(&h3, "eth0");
    let pid = lab.fwd.pid().to_string();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    let out = pinger.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains(" 0% packet loss"), "{said}");
    assert!(
        rx_packets(&h3, "eth0") > before,
        "no echo request went to h3"
    );
    let got = ctl_ok(&lab, &["route", "get", REMOTE]);
    assert!(got.contains(&format!("via {}", h3.addr)), "{got}");

    // `v6fwd reload` with the route gone.
    std::fs::write(&lab._config.0, &base).unwrap();
    let said = ctl_ok(&lab, &["reload"]);
    assert!(said.contains("route 2001:db8:99::/64 removed"), "{said}");
    let (ok, said) = ping_once(&h1, REMOTE);
    assert!(!ok && said.contains("No route"), "{said}");

    let (status, _, err) = lab.fwd.stop().unwrap();
    assert!(status.success());
    assert!(err.contains("SIGHUP: reloading"), "{err}");
}

/// GET `path` from `addr` over HTTP/1.0; the body.
fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).expect("the metrics endpoint");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let (head, body) = all.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_owned()
}

/// A Prometheus server scraping `target` every second, on a port of its own.
struct Prometheus {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Prometheus {
    fn start(tag: &str, target: &str) -> Prometheus {
        let dir = std::env::temp_dir().join(format!("{tag}-prometheus"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: v6fwd\n    static_configs:\n      - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        // A free port: taken, then given back for Prometheus to take.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("log")).unwrap())
            .spawn()
            .expect("prometheus runs (the test script installs it)");
        Prometheus { child, addr, dir }
    }

    /// The value of an instant query's single sample, once it has one.
    fn query(&self, expr: &str) -> Option<f64> {
        let out = Command::new("promtool")
            .args(["query", "instant", "-o", "json"])
            .arg(format!("http://{}", self.addr))
            .arg(expr)
            .output()
            .ok()?;
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        v.as_array()?.first()?["value"][1].as_str()?.parse().ok()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn prometheus_scrapes_what_was_sent() {
    let lab = Lab::start('p', &[1500, 1500], &[1], "", &[]);
    let target = lab
        .fwd
        .metrics_addr()
        .expect("v6fwd says where its metrics are");
    let h1 = &lab.topo.hosts[0];

    // 25 packets to nowhere: each dropped for want of a route.
    udp_to(h1, "2001:db8:77::1", 25);

    let scrape = http_get(&target, "/metrics");
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    for family in [
        "v6fwd_port_rx_packets_total{port=\"port0\"}",
        "v6fwd_core_poll_seconds_total{core=\"1\",state=\"busy\"}",
        "v6fwd_dropped_packets_total{core=\"1\",reason=\"no_route\"} 25",
        "v6fwd_routes{source=\"connected\"} 2",
        "v6fwd_nd_messages_total{direction=\"in\",type=\"neighbor_solicitation\"}",
        "v6fwd_neighbors{state=\"reachable\"}",
    ] {
        assert!(
            scrape.contains(family),
            "the scrape lacks {family}:\n{scrape}"
        );
    }

    let prom = Prometheus::start(&tag('p'), &target);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while std::time::Instant::now() < deadline {
        seen = prom.query("sum(v6fwd_dropped_packets_total{reason=\"no_route\"})");
        if seen.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        seen,
        Some(25.0),
        "Prometheus did not see the 25 drops; its log:\n{}",
        std::fs::read_to_string(prom.dir.join("log")).unwrap_or_default()
    );
    drop(prom);
    let report = stop_and_report(lab.fwd);
    assert_eq!(n(&report["drops"]["no_route"]), 25);
}

#[test]
fn neighbors_and_addresses_change_while_forwarding() {
    // Two workers, so that the entries are owned by both and every change reaches each.
    let lab = Lab::start('n', &[1500, 1500], &[1, 2], "", &[]);
    let [h1, h2] = [&lab.topo.hosts[0], &lab.topo.hosts[1]];
    ping(h1, h2.addr, 2);

    // Flushed, the entries Neighbor Discovery made go; traffic finds them again.
    let listed = ctl_ok(&lab, &["neigh", "show"]);
    assert!(
        listed.contains(&format!("{} dev port1", h2.addr)),
        "{listed}"
    );
    ctl_ok(&lab, &["neigh", "flush"]);
    let listed = ctl_ok(&lab, &["neigh", "show"]);
    assert!(!listed.contains(&format!("{} dev", h2.addr)), "{listed}");
    ping(h1, h2.addr, 2);

    // A configured neighbor with a wrong MAC takes h2's traffic away; deleted, Neighbor
    // Discovery finds h2 again.
    let h2a = h2.addr.to_string();
    ctl_ok(
        &lab,
        &[
            "neigh",
            "add",
            &h2a,
            "lladdr",
            "02:00:00:00:02:99",
            "dev",
            "port1",
        ],
    );
    let listed = ctl_ok(&lab, &["neigh", "show"]);
    assert!(
        listed.contains(&format!(
            "{h2a} dev port1 lladdr 02:00:00:00:02:99 PERMANENT"
        )),
        "{listed}"
    );
    let (ok, _) = ping_once(h1, &h2a);
    assert!(!ok, "h2 answered through a wrong link-layer address");
    let e = ctl_refused(
        &lab,
        &[
            "neigh",
            "add",
            &h2a,
            "lladdr",
            "02:00:00:00:02:98",
            "dev",
            "port1",
        ],
    );
    assert!(e.contains("configured already"), "{e}");
    let e = ctl_refused(
        &lab,
        &[
            "neigh",
            "add",
            "2001:db8:9::1",
            "lladdr",
            "02:00:00:00:02:98",
        ],
    );
    assert!(e.contains("is on no port's subnet"), "{e}");
    ctl_ok(&lab, &["neigh", "del", &h2a]);
    ping(h1, h2.addr, 2);
    let e = ctl_refused(&lab, &["neigh", "del", "2001:db8:2::77"]);
    assert!(e.contains("no neighbor 2001:db8:2::77"), "{e}");

    // A new address, after Duplicate Address Detection: its subnet is routed, and the
    // router answers on it.
    let added = ctl_ok(&lab, &["addr", "add", "2001:db8:5::1/64", "dev", "port1"]);
    assert!(added.contains("added 2001:db8:5::1/64 to port1"), "{added}");
    host_output(
        h2,
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:5::2/64",
            "dev",
            "eth0",
            "nodad",
        ],
    );
    ping(h1, "2001:db8:5::2".parse().unwrap(), 2);
    ping(h1, "2001:db8:5::1".parse().unwrap(), 2);
    let routes = ctl_ok(&lab, &["route", "show"]);
    assert!(
        routes.contains("2001:db8:5::/64 dev port1 proto connected"),
        "{routes}"
    );

    // An address h2 holds already is refused when the probe finds it.
    host_output(
        h2,
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "2001:db8:6::2/64",
            "dev",
            "eth0",
            "nodad",
        ],
    );
    let e = ctl_refused(&lab, &["addr", "add", "2001:db8:6::2/64", "dev", "port1"]);
    assert!(
        e.contains("held by another node on the link of port1 (duplicate address detection)"),
        "{e}"
    );
    let shown = ctl_ok(&lab, &["addr", "show"]);
    assert!(shown.contains("2001:db8:6::2 dadfailed"), "{shown}");
    let routes = ctl_ok(&lab, &["route", "show"]);
    assert!(!routes.contains("2001:db8:6::/64"), "{routes}");

    // Taken away: the subnet is no longer routed.
    ctl_ok(&lab, &["addr", "del", "2001:db8:5::1", "dev", "port1"]);
    let (ok, said) = ping_once(h1, "2001:db8:5::2");
    assert!(!ok && said.contains("No route"), "{said}");
    let e = ctl_refused(&lab, &["addr", "del", "2001:db8:2::7", "dev", "port1"]);
    assert!(e.contains("port1 has no address 2001:db8:2::7"), "{e}");
    let e = ctl_refused(&lab, &["addr", "add", "2001:db8:1::9/64", "dev", "port1"]);
    assert!(
        e.contains("subnet 2001:db8:1::/64 is already on port0"),
        "{e}"
    );

    let report = stop_and_report(lab.fwd);
    assert_eq!(
        report["mempool"]["in_use_at_exit"],
        report["mempool"]["in_use_at_start"]
    );
}
