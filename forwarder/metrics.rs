//! Prometheus metrics over HTTP: `GET /metrics` in the text exposition format.
//!
//! A thread of its own serves the scrapes. Each asks the management thread for
//! [`Stats`], the same counters `v6fwd stats` shows, and renders them with the
//! `prometheus` crate. The counters are read with plain loads from the cores' own
//! cache lines, so a scrape costs the workers nothing.
//!
//! Names follow Prometheus's conventions: a `v6fwd_` prefix, base units (bytes,
//! seconds), `_total` on counters, and labels for the port, core, reason, state and type.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, bounded};
use prometheus::{CounterVec, Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use tracing::{debug, warn};

use crate::control::server::Call;
use crate::control::{Outcome, Reply, Request, Stats};
use crate::counters::{DropReason, ND_TYPES};

/// The longest request head read; a scrape's is a few hundred bytes.
const MAX_HEAD: usize = 8192;
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The metrics endpoint; dropping it stops serving.
pub struct Exporter {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Exporter {
    /// Listens on `addr` (port 0: one the system picks), answering scrapes with what
    /// `calls` gives.
    ///
    /// # Errors
    /// Fails if the address cannot be listened on.
    pub fn bind(addr: SocketAddr, calls: Sender<Call>) -> io::Result<Exporter> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| io::Error::new(e.kind(), format!("{addr}: {e}")))?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::Builder::new()
                .name("v6fwd-metrics".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        match listener.accept() {
                            Ok((stream, _)) => {
                                if let Err(e) = serve(stream, &calls) {
                                    debug!("metrics client: {e}");
                                }
                            }
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            Err(e) => {
                                warn!("metrics: accept: {e}");
                                std::thread::sleep(Duration::from_millis(100));
                            }
                        }
                    }
                })?
        };
        Ok(Exporter {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address served, with the port the system picked if 0 was asked.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Answers one HTTP request and closes.
fn serve(mut stream: TcpStream, calls: &Sender<Call>) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    // One deadline for the whole head: a client that trickles it holds the endpoint, which
    // serves one scrape at a time, for IO_TIMEOUT at most.
    let deadline = Instant::now() + IO_TIMEOUT;
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        stream.set_read_timeout(Some(left))?;
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                b"request head too large\n",
            );
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut words = line.split(|b| *b == b' ');
    let (method, target) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or_default(),
    );
    let path = target.split(|b| *b == b'?').next().unwrap_or_default();
    match (method, path) {
        (b"GET", b"/metrics") => match stats(calls) {
            Ok(s) => {
                let body = render(&s);
                respond(&mut stream, "200 OK", prometheus::TEXT_FORMAT, &body)
            }
            Err(e) => respond(
                &mut stream,
                "503 Service Unavailable",
                "text/plain",
                format!("{e}\n").as_bytes(),
            ),
        },
        (b"GET", b"/") => respond(
            &mut stream,
            "200 OK",
            "text/html",
            b"<html><body><a href=\"/metrics\">v6fwd metrics</a></body></html>\n",
        ),
        (b"GET", _) => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"only /metrics is here\n",
        ),
        _ => respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET\n",
        ),
    }
}

fn respond(stream: &mut TcpStream, status: &str, kind: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

fn stats(calls: &Sender<Call>) -> Result<Stats, String> {
    let (reply, answer) = bounded(1);
    calls
        .send(Call {
            request: Request::Stats,
            reply,
        })
        .map_err(|_| "the forwarder is stopping".to_owned())?;
    match answer.recv_timeout(Duration::from_secs(10)) {
        Ok(r) => match r.outcome {
            Outcome::Ok(Reply::Stats(s)) => Ok(*s),
            Outcome::Ok(_) => Err("unexpected answer".into()),
            Outcome::Error(e) => Err(e),
        },
        Err(_) => Err("the forwarder did not answer in time".into()),
    }
}

/// The metric families of `s`, in the text exposition format.
pub fn render(s: &Stats) -> Vec<u8> {
    let r = Registry::new();
    let counter = |name: &str, help: &str, labels: &[&str]| {
        let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric name");
        r.register(Box::new(c.clone())).expect("registered once");
        c
    };
    let seconds = |name: &str, help: &str, labels: &[&str]| {
        let c = CounterVec::new(Opts::new(name, help), labels).expect("valid metric name");
        r.register(Box::new(c.clone())).expect("registered once");
        c
    };
    let gauge = |name: &str, help: &str, labels: &[&str]| {
        let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric name");
        r.register(Box::new(g.clone())).expect("registered once");
        g
    };

    let info = gauge(
        "v6fwd_build_info",
        "The version of v6fwd running: always 1.",
        &["version"],
    );
    info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
    gauge(
        "v6fwd_uptime_seconds",
        "Seconds since the forwarder started.",
        &[],
    )
    .with_label_values::<&str>(&[])
    .set(s.uptime_s as i64);

    let port = |name: &str, help: &str| counter(name, help, &["port"]);
    let rx_packets = port(
        "v6fwd_port_rx_packets_total",
        "Packets the port received (driver counter).",
    );
    let tx_packets = port(
        "v6fwd_port_tx_packets_total",
        "Packets the port sent (driver counter).",
    );
    let rx_bytes = port(
        "v6fwd_port_rx_bytes_total",
        "Bytes the port received (driver counter).",
    );
    let tx_bytes = port(
        "v6fwd_port_tx_bytes_total",
        "Bytes the port sent (driver counter).",
    );
    let missed = port(
        "v6fwd_port_rx_missed_total",
        "Packets the port dropped for want of room in its rx queues.",
    );
    let rx_errors = port(
        "v6fwd_port_rx_errors_total",
        "Erroneous packets the port received.",
    );
    let tx_errors = port(
        "v6fwd_port_tx_errors_total",
        "Packets the port failed to send.",
    );
    let nombuf = port(
        "v6fwd_port_rx_nombuf_total",
        "Receive buffer allocation failures.",
    );
    let xstats = counter(
        "v6fwd_port_xstats_total",
        "The driver's extended statistics, by name.",
        &["port", "stat"],
    );
    let up = gauge("v6fwd_port_up", "Whether the port's link is up.", &["port"]);
    let speed = gauge(
        "v6fwd_port_speed_bytes",
        "The link's speed in bytes per second.",
        &["port"],
    );
    let mtu = gauge("v6fwd_port_mtu_bytes", "The port's IP MTU.", &["port"]);
    for l in &s.links {
        let p = [l.name.as_str()];
        rx_packets.with_label_values(&p).inc_by(l.stats.rx_packets);
        tx_packets.with_label_values(&p).inc_by(l.stats.tx_packets);
        rx_bytes.with_label_values(&p).inc_by(l.stats.rx_bytes);
        tx_bytes.with_label_values(&p).inc_by(l.stats.tx_bytes);
        missed.with_label_values(&p).inc_by(l.stats.rx_missed);
        rx_errors.with_label_values(&p).inc_by(l.stats.rx_errors);
        tx_errors.with_label_values(&p).inc_by(l.stats.tx_errors);
        nombuf.with_label_values(&p).inc_by(l.stats.rx_nombuf);
        for (stat, v) in &l.xstats {
            xstats
                .with_label_values(&[l.name.as_str(), stat])
                .inc_by(*v);
        }
        up.with_label_values(&p).set(i64::from(l.up));
        speed
            .with_label_values(&p)
            .set(i64::from(l.speed_mbps) * 125_000);
        mtu.with_label_values(&p).set(i64::from(l.mtu));
    }

    let core = |name: &str, help: &str| counter(name, help, &["core"]);
    let c_rx = core(
        "v6fwd_core_rx_packets_total",
        "Packets the core took from its rx queues.",
    );
    let c_fwd = core(
        "v6fwd_core_forwarded_packets_total",
        "Packets the core forwarded.",
    );
    let c_rep = core(
        "v6fwd_core_replied_packets_total",
        "Replies the core made itself (Echo Replies, Neighbor Advertisements).",
    );
    let c_tx = core(
        "v6fwd_core_tx_packets_total",
        "Packets the core's tx queues took.",
    );
    let c_err = core(
        "v6fwd_core_icmp_errors_total",
        "ICMPv6 errors the core sent.",
    );
    let c_lim = core(
        "v6fwd_core_icmp_rate_limited_total",
        "ICMPv6 errors the core did not send for its rate limit.",
    );
    let c_poll = seconds(
        "v6fwd_core_poll_seconds_total",
        "Seconds the core spent in poll rounds that found packets (busy), in rounds that found none (idle), and asleep.",
        &["core", "state"],
    );
    let drops = counter(
        "v6fwd_dropped_packets_total",
        "Packets dropped, by core and reason.",
        &["core", "reason"],
    );
    let nd = counter(
        "v6fwd_nd_messages_total",
        "Neighbor Discovery messages received (with a good checksum) and sent, by type.",
        &["direction", "type"],
    );
    let nd_lost = counter(
        "v6fwd_nd_messages_lost_total",
        "Neighbor Discovery messages not sent for want of a buffer, and events lost between cores.",
        &[],
    );
    let mut received = [0u64; ND_TYPES.len()];
    let (mut ns, mut na, mut ra, mut redirects, mut lost) = (0, 0, 0, 0, 0);
    for c in &s.cores {
        let id = c.lcore.to_string();
        let k = [id.as_str()];
        c_rx.with_label_values(&k).inc_by(c.rx);
        c_fwd.with_label_values(&k).inc_by(c.forwarded);
        c_rep.with_label_values(&k).inc_by(c.replied);
        c_tx.with_label_values(&k).inc_by(c.tx);
        c_err.with_label_values(&k).inc_by(c.icmp_errors);
        c_lim.with_label_values(&k).inc_by(c.icmp_rate_limited);
        for (state, secs) in [
            ("busy", c.busy_seconds),
            ("idle", c.empty_seconds),
            ("sleep", c.sleep_seconds),
        ] {
            c_poll.with_label_values(&[id.as_str(), state]).inc_by(secs);
        }
        for reason in DropReason::ALL {
            let n = c.drops.get(reason.name()).copied().unwrap_or(0);
            drops
                .with_label_values(&[id.as_str(), reason.name()])
                .inc_by(n);
        }
        for (i, t) in ND_TYPES.iter().enumerate() {
            received[i] += c.nd_received.get(*t).copied().unwrap_or(0);
        }
        ns += c.solicitations;
        na += c.advertisements;
        ra += c.router_adverts;
        redirects += c.redirects;
        lost += c.nd_messages_lost;
    }
    for (t, n) in ND_TYPES.iter().zip(received) {
        nd.with_label_values(&["in", t]).inc_by(n);
    }
    for (t, n) in [
        ("neighbor_solicitation", ns),
        ("neighbor_advertisement", na),
        ("router_advertisement", ra),
        ("redirect", redirects),
    ] {
        nd.with_label_values(&["out", t]).inc_by(n);
    }
    nd_lost.with_label_values::<&str>(&[]).inc_by(lost);

    let routes = gauge(
        "v6fwd_routes",
        "Routes in the routing table, by where they came from.",
        &["source"],
    );
    for (source, n) in &s.routes {
        routes.with_label_values(&[source.as_str()]).set(*n as i64);
    }
    gauge("v6fwd_prefixes", "Prefixes in the routing table.", &[])
        .with_label_values::<&str>(&[])
        .set(s.prefixes as i64);
    let neighbors = gauge("v6fwd_neighbors", "Neighbor entries by state.", &["state"]);
    for (state, n) in &s.neighbors {
        neighbors
            .with_label_values(&[state.to_lowercase().as_str()])
            .set(*n as i64);
    }
    counter(
        "v6fwd_control_errors_total",
        "Control API requests refused.",
        &[],
    )
    .with_label_values::<&str>(&[])
    .inc_by(s.control_errors);

    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&r.gather(), &mut out)
        .expect("text encoding of valid families");
    out
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::control::LinkRow;
    use crate::counters::CoreCounters;
    use crate::report::CoreReport;

    fn stats() -> Stats {
        let c = CoreCounters::default();
        c.rx.add(10);
        c.drop_packets(DropReason::NoRoute, 3);
        c.nd_received[2].add(4);
        Stats {
            uptime_s: 1.0,
            tsc_hz: 1_000_000_000,
            links: vec![LinkRow {
                name: "lan".into(),
                device: "net_null0".into(),
                port_id: 0,
                mac: "02:00:00:00:00:01".into(),
                mtu: 1500,
                up: true,
                speed_mbps: 10_000,
                stats: Default::default(),
                xstats: BTreeMap::from([("rx_good_packets".into(), 7)]),
            }],
            cores: vec![CoreReport::new(1, &c, 1_000_000_000)],
            drops: BTreeMap::new(),
            routes: BTreeMap::from([("static".into(), 2)]),
            prefixes: 2,
            neighbors: BTreeMap::from([("REACHABLE".into(), 1)]),
            control_errors: 0,
        }
    }

    /// The families of a scrape: the names its `# TYPE` lines give.
    fn families(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_scrape_holds_what_was_counted() {
        let text = String::from_utf8(render(&stats())).unwrap();
        for line in [
            "v6fwd_core_rx_packets_total{core=\"1\"} 10",
            "v6fwd_dropped_packets_total{core=\"1\",reason=\"no_route\"} 3",
            "v6fwd_dropped_packets_total{core=\"1\",reason=\"not_ipv6\"} 0",
            "v6fwd_nd_messages_total{direction=\"in\",type=\"neighbor_solicitation\"} 4",
            "v6fwd_port_xstats_total{port=\"lan\",stat=\"rx_good_packets\"} 7",
            "v6fwd_port_speed_bytes{port=\"lan\"} 1250000000",
            "v6fwd_routes{source=\"static\"} 2",
            "v6fwd_neighbors{state=\"reachable\"} 1",
        ] {
            assert!(text.contains(line), "the scrape lacks {line}:\n{text}");
        }
    }

    #[test]
    fn the_dashboard_graphs_only_metrics_that_exist() {
        let served = families(&String::from_utf8(render(&stats())).unwrap());
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../deploy/grafana-dashboard.json")).unwrap();
        let mut used = 0;
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                for name in expr
                    .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .filter(|w| w.starts_with("v6fwd_"))
                {
                    assert!(
                        served.contains(name),
                        "{:?} graphs {name}, which v6fwd does not serve",
                        panel["title"]
                    );
                    used += 1;
                }
            }
        }
        assert!(used >= 12, "the dashboard graphs {used} metrics");
    }
}
