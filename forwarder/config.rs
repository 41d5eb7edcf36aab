//! The configuration file (TOML): ports, worker cores, routes and static neighbors, with
//! validation that names the file, line and field of every error it finds.
//!
//! ```toml
//! workers = [1]                   # lcores that poll; each polls one rx queue per port
//!
//! [[port]]
//! name = "lan"                    # optional, default port0, port1, ...
//! device = "net_af_packet0,iface=veth0"   # a vdev string, or a device name (PCI address)
//! mtu = 1500                      # optional, default 1500
//! addresses = ["2001:db8:1::1/64"]
//! accept_ra = false               # optional: take default routes from routers' advertisements
//!
//! [port.nd]                       # optional: Neighbor Discovery's timers on the port above
//! reachable_time_ms = 30000       # BaseReachableTime
//! retrans_timer_ms = 1000         # RetransTimer
//! dad_transmits = 1               # Duplicate Address Detection probes; 0: none
//!
//! [port.ra]                       # optional: send Router Advertisements on the port above
//! max_interval_s = 600
//! lifetime_s = 1800               # 0: not a default router
//! preference = "medium"
//!
//! [[route]]
//! prefix = "::/0"
//! via = "2001:db8:1::ff"          # gateway; or `port` alone for an on-link prefix
//!
//! [[neighbor]]
//! address = "2001:db8:1::ff"
//! lladdr = "02:00:00:00:00:ff"
//!
//! [icmp]
//! error_rate = 100                # ICMPv6 errors per second per worker core
//! error_burst = 10
//!
//! [polling]
//! mode = "adaptive"               # or "poll": never sleep
//! idle_polls = 256                # empty polls before the first sleep
//! max_sleep_us = 100              # the longest sleep
//!
//! [control]
//! socket = "/run/v6fwd.sock"      # the control socket, mode 0600
//!
//! [metrics]
//! listen = "127.0.0.1:9469"       # Prometheus metrics over HTTP; "" serves none
//! ```

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::advert::RaConf;
use crate::dataplane::IcmpLimits;
use crate::neigh::Neighbor;
use crate::neigh::cache::Timers;
use crate::polling::PollMode;
use crate::route::{DEFAULT_METRIC, NextHop, Preference, Prefix, Reject, Route, Source};
use crate::wire::MacAddr;
use crate::wire::ipv6::MIN_MTU;

/// The default port MTU: Ethernet's.
pub const DEFAULT_MTU: u16 = 1500;
/// The largest MTU a port may have: a jumbo frame fits one mbuf.
pub const MAX_MTU: u16 = 9600;
/// The default burst size.
pub const DEFAULT_BURST: u16 = 32;
/// The default number of mbufs in the pool.
pub const DEFAULT_MBUFS: u32 = 16383;
/// The default number of rx and tx descriptors per queue.
pub const DEFAULT_DESCRIPTORS: u16 = 1024;
/// The default ICMPv6 error rate per worker core, per second.
pub const DEFAULT_ICMP_ERROR_RATE: u32 = 100;
/// The default number of ICMPv6 errors a core may send back to back.
pub const DEFAULT_ICMP_ERROR_BURST: u32 = 10;
/// Empty poll rounds before an adaptive worker first sleeps.
pub const DEFAULT_IDLE_POLLS: u32 = 256;
/// The longest sleep of an adaptive worker, in microseconds: what a first packet after
/// idle may wait.
pub const DEFAULT_MAX_SLEEP_US: u32 = 100;
/// Mbufs each lcore keeps in its mempool cache.
pub const MEMPOOL_CACHE: u32 = 256;
/// The highest lcore id DPDK accepts (its RTE_MAX_LCORE is 128 in the packaged builds).
pub const MAX_LCORE: u32 = 127;

/// A port's device: a virtual device to create (`net_...,args`), or an existing device's
/// name (a PCI address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Device {
    Vdev(String),
    Name(String),
}

impl Device {
    fn parse(s: &str) -> Device {
        if s.starts_with("net_") {
            Device::Vdev(s.to_owned())
        } else {
            Device::Name(s.to_owned())
        }
    }

    /// The name DPDK knows the device by: a vdev's name is what comes before its first
    /// comma.
    pub fn name(&self) -> &str {
        match self {
            Device::Vdev(s) => s.split(',').next().unwrap_or(s),
            Device::Name(s) => s,
        }
    }
}

/// One validated port.
#[derive(Debug, Clone)]
pub struct PortConf {
    pub name: String,
    pub device: Device,
    pub mtu: u16,
    /// The port's addresses, with the prefix length of their subnet.
    pub addresses: Vec<Prefix>,
    /// Neighbor Discovery's timers on the port.
    pub nd: Timers,
    /// What the port advertises, if it sends Router Advertisements.
    pub ra: Option<RaConf>,
    /// Whether the port takes routes from the Router Advertisements of routers on its
    /// link: an upstream port.
    pub accept_ra: bool,
}

/// A validated configuration: everything in it was checked and is consistent.
#[derive(Debug, Clone)]
pub struct Config {
    pub workers: Vec<u32>,
    pub burst: u16,
    pub mbufs: u32,
    pub rx_descriptors: u16,
    pub tx_descriptors: u16,
    pub ports: Vec<PortConf>,
    /// Static routes and, first, the connected routes of the ports' subnets.
    pub routes: Vec<Route>,
    pub neighbors: Vec<Neighbor>,
    /// How fast each worker core may send ICMPv6 errors (RFC 4443 section 2.4 (f)).
    pub icmp: IcmpLimits,
    /// Whether workers sleep when idle.
    pub polling: PollMode,
    /// Where the control socket listens.
    pub control_socket: PathBuf,
    /// Where Prometheus metrics are served over HTTP; `None`: they are not.
    pub metrics: Option<SocketAddr>,
}

/// Where the control socket listens unless the configuration says otherwise.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/v6fwd.sock";
/// Where metrics are served unless the configuration says otherwise: loopback, on the
/// port the README documents.
pub const DEFAULT_METRICS: &str = "127.0.0.1:9469";

/// One error in a configuration file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column; 0 when the error has no place in the file.
    pub line: usize,
    pub column: usize,
    /// The field, like `route[2].via`; empty for a syntax error.
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every error found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    workers: Option<Spanned<Vec<u32>>>,
    burst: Option<Spanned<u16>>,
    mbufs: Option<Spanned<u32>>,
    rx_descriptors: Option<Spanned<u16>>,
    tx_descriptors: Option<Spanned<u16>>,
    #[serde(default, rename = "port")]
    ports: Vec<Spanned<RawPort>>,
    #[serde(default, rename = "route")]
    routes: Vec<Spanned<RawRoute>>,
    #[serde(default, rename = "neighbor")]
    neighbors: Vec<Spanned<RawNeighbor>>,
    #[serde(default)]
    icmp: RawIcmp,
    #[serde(default)]
    polling: RawPolling,
    #[serde(default)]
    control: RawControl,
    #[serde(default)]
    metrics: RawMetrics,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawControl {
    socket: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolling {
    mode: Option<Spanned<String>>,
    idle_polls: Option<Spanned<u32>>,
    max_sleep_us: Option<Spanned<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawIcmp {
    error_rate: Option<Spanned<u32>>,
    error_burst: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPort {
    name: Option<Spanned<String>>,
    device: Spanned<String>,
    mtu: Option<Spanned<u16>>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    #[serde(default)]
    nd: RawNd,
    ra: Option<RawRa>,
    accept_ra: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawNd {
    reachable_time_ms: Option<Spanned<u32>>,
    retrans_timer_ms: Option<Spanned<u32>>,
    dad_transmits: Option<Spanned<u8>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRa {
    min_interval_s: Option<Spanned<u32>>,
    max_interval_s: Option<Spanned<u32>>,
    lifetime_s: Option<Spanned<u32>>,
    preference: Option<Spanned<String>>,
    managed: Option<bool>,
    other: Option<bool>,
    mtu: Option<bool>,
    valid_lifetime_s: Option<Spanned<u32>>,
    preferred_lifetime_s: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: Spanned<String>,
    via: Option<Spanned<String>>,
    port: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
    metric: Option<Spanned<u32>>,
    preference: Option<Spanned<String>>,
}

/// A route as the control API gives it: the fields of a `[[route]]` table, checked the
/// same way.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<String>,
}

impl RouteSpec {
    fn raw(&self) -> RawRoute {
        let at = |s: &String| Spanned::new(0..0, s.clone());
        RawRoute {
            prefix: at(&self.prefix),
            via: self.via.as_ref().map(at),
            port: self.port.as_ref().map(at),
            action: self.action.as_ref().map(at),
            metric: self.metric.map(|m| Spanned::new(0..0, m)),
            preference: self.preference.as_ref().map(at),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNeighbor {
    address: Spanned<String>,
    lladdr: Spanned<String>,
    port: Option<Spanned<String>>,
}

/// Collects errors with their positions while a file is validated.
struct Checker<'a> {
    file: &'a Path,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Checker<'_> {
    fn error(&mut self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) {
        let (line, column) = line_column(self.text, span.start);
        self.errors.push(ConfigError {
            file: self.file.to_owned(),
            line,
            column,
            field: field.into(),
            message: message.into(),
        });
    }
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

impl Config {
    /// Reads and validates the file at `path`.
    ///
    /// # Errors
    /// Every problem found, each with the file, line and field.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                file: path.to_owned(),
                line: 0,
                column: 0,
                field: String::new(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Config::parse(&text, path)
    }

    /// Validates `text`; `file` names it in errors.
    ///
    /// # Errors
    /// Every problem found, each with the file, line and field.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigErrors> {
        let mut ck = Checker {
            file,
            text,
            errors: Vec::new(),
        };
        let raw: RawConfig = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                ck.error(span, "", e.message().trim_end().to_owned());
                return Err(ConfigErrors(ck.errors));
            }
        };
        let config = validate(&mut ck, raw);
        if ck.errors.is_empty() {
            Ok(config)
        } else {
            Err(ConfigErrors(ck.errors))
        }
    }

    /// The index of the port called `name`.
    pub fn port_index(&self, name: &str) -> Option<usize> {
        self.ports.iter().position(|p| p.name == name)
    }

    /// Checks `text` (address/length) as a new address of port `port`, as the
    /// configuration's addresses are checked.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn address(&self, port: usize, text: &str) -> Result<Prefix, String> {
        let held: Vec<(usize, Prefix, &str)> = self
            .ports
            .iter()
            .enumerate()
            .flat_map(|(q, p)| p.addresses.iter().map(move |x| (q, *x, p.name.as_str())))
            .collect();
        check_address(text, port, &held)
    }

    /// Checks a neighbor given through the control API as a `[[neighbor]]` of this
    /// configuration would be.
    ///
    /// # Errors
    /// Each problem as `field: message`, joined.
    pub fn neighbor(
        &self,
        address: &str,
        lladdr: &str,
        port: Option<&str>,
    ) -> Result<Neighbor, String> {
        let at = |s: &str| Spanned::new(0..0, s.to_owned());
        let raw = RawNeighbor {
            address: at(address),
            lladdr: at(lladdr),
            port: port.map(at),
        };
        check_request(|ck| validate_neighbor(ck, "neighbor", raw, &self.ports))
    }

    /// Checks a route given through the control API as a `[[route]]` of this
    /// configuration would be: its prefix, its gateway on a port's subnet, its port.
    ///
    /// # Errors
    /// Each problem as `field: message`, joined.
    pub fn route(&self, spec: &RouteSpec) -> Result<Route, String> {
        check_request(|ck| validate_route(ck, "route", spec.raw(), &self.ports))
    }
}

/// Runs one of the file's checks on what a control request gave: its value, or every
/// problem as `field: message`, joined.
fn check_request<T>(check: impl FnOnce(&mut Checker<'_>) -> Option<T>) -> Result<T, String> {
    let mut ck = Checker {
        file: Path::new("request"),
        text: "",
        errors: Vec::new(),
    };
    match check(&mut ck) {
        Some(v) if ck.errors.is_empty() => Ok(v),
        _ => Err(ck
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; ")),
    }
}

fn validate(ck: &mut Checker<'_>, raw: RawConfig) -> Config {
    let workers = match raw.workers {
        Some(w) => {
            let span = w.span();
            let list = w.into_inner();
            if list.is_empty() {
                ck.error(
                    span.clone(),
                    "workers",
                    "at least one worker lcore is needed",
                );
            }
            let mut seen = HashSet::new();
            for l in &list {
                if *l > MAX_LCORE {
                    ck.error(
                        span.clone(),
                        "workers",
                        format!("lcore {l} is above {MAX_LCORE}"),
                    );
                }
                if !seen.insert(*l) {
                    ck.error(
                        span.clone(),
                        "workers",
                        format!("lcore {l} is listed twice"),
                    );
                }
            }
            list
        }
        None => vec![1],
    };

    // Vector rx paths of several drivers return nothing for bursts below 4.
    let burst = in_range(
        ck,
        raw.burst,
        "burst",
        DEFAULT_BURST,
        4,
        crate::ffi::BURST_MAX as u16,
    );
    let rx_descriptors = in_range(
        ck,
        raw.rx_descriptors,
        "rx_descriptors",
        DEFAULT_DESCRIPTORS,
        32,
        16384,
    );
    let tx_descriptors = in_range(
        ck,
        raw.tx_descriptors,
        "tx_descriptors",
        DEFAULT_DESCRIPTORS,
        32,
        16384,
    );
    let mbufs_span = raw.mbufs.as_ref().map_or(0..0, Spanned::span);
    let mbufs = in_range(
        ck,
        raw.mbufs,
        "mbufs",
        DEFAULT_MBUFS,
        1023,
        16 * 1024 * 1024,
    );
    let icmp = IcmpLimits {
        rate: in_range(
            ck,
            raw.icmp.error_rate,
            "icmp.error_rate",
            DEFAULT_ICMP_ERROR_RATE,
            0,
            1_000_000,
        ),
        burst: in_range(
            ck,
            raw.icmp.error_burst,
            "icmp.error_burst",
            DEFAULT_ICMP_ERROR_BURST,
            0,
            1_000_000,
        ),
    };

    let polling = validate_polling(ck, raw.polling);
    let control_socket = match raw.control.socket {
        Some(s) if s.get_ref().is_empty() => {
            ck.error(s.span(), "control.socket", "the path is empty");
            PathBuf::new()
        }
        Some(s) => PathBuf::from(s.into_inner()),
        None => PathBuf::from(DEFAULT_CONTROL_SOCKET),
    };
    let metrics = match raw.metrics.listen {
        Some(s) if s.get_ref().is_empty() => None,
        Some(s) => match s.get_ref().parse::<SocketAddr>() {
            Ok(a) => Some(a),
            Err(_) => {
                ck.error(
                    s.span(),
                    "metrics.listen",
                    format!(
                        "{:?} is not address:port (like 127.0.0.1:9469 or [::1]:9469; \"\" \
                         serves no metrics)",
                        s.get_ref()
                    ),
                );
                None
            }
        },
        None => DEFAULT_METRICS.parse().ok(),
    };

    if raw.ports.is_empty() {
        ck.error(0..0, "port", "no [[port]] is configured");
    }
    let ports = validate_ports(ck, raw.ports);

    // Every rx and tx descriptor of every queue may hold an mbuf, each lcore caches some,
    // and each worker has a burst in flight: a smaller pool starves a queue.
    let queues = (ports.len() * workers.len()) as u64;
    let needed = queues * (u64::from(rx_descriptors) + u64::from(tx_descriptors))
        + workers.len() as u64 * (u64::from(MEMPOOL_CACHE) + u64::from(burst))
        + u64::from(MEMPOOL_CACHE);
    if u64::from(mbufs) < needed {
        ck.error(
            mbufs_span,
            "mbufs",
            format!(
                "{mbufs} mbufs cannot fill {queues} rx and tx queue pairs of {rx_descriptors} and \
                 {tx_descriptors} descriptors with caches and bursts: {needed} at least"
            ),
        );
    }

    let mut routes: Vec<Route> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        // Link-local subnets get no route: nothing is forwarded to them. Two addresses
        // of one subnet give it one route.
        for a in &p.addresses {
            let known = routes
                .iter()
                .any(|r| r.prefix == a.network() && r.port == i as u16);
            if a.len < 128 && !a.addr.is_unicast_link_local() && !known {
                routes.push(Route {
                    source: Source::Connected,
                    ..Route::new(a.network(), i as u16, NextHop::OnLink)
                });
            }
        }
    }
    let connected = routes.len();
    for (i, r) in raw.routes.into_iter().enumerate() {
        let field = format!("route[{i}]");
        let span = r.span();
        if let Some(route) = validate_route(ck, &field, r.into_inner(), &ports) {
            // Several routes of one prefix are its paths: equal ones share the load, a
            // higher metric stands by.
            let same_prefix = |x: &&Route| x.prefix == route.prefix;
            if let Some(dup) = routes[..connected].iter().find(same_prefix) {
                ck.error(
                    span,
                    format!("{field}.prefix"),
                    format!(
                        "{} is the connected subnet of {}",
                        route.prefix,
                        ports[usize::from(dup.port)].name
                    ),
                );
            } else if routes
                .iter()
                .any(|x| x.prefix == route.prefix && x.same_path(&route))
            {
                ck.error(
                    span,
                    format!("{field}.prefix"),
                    format!(
                        "{} is routed twice {}",
                        route.prefix,
                        crate::fib::PathText(&route)
                    ),
                );
            } else if let Some(other) = routes.iter().filter(same_prefix).find(|x| {
                x.metric == route.metric
                    && (matches!(x.next_hop, NextHop::Reject(_))
                        != matches!(route.next_hop, NextHop::Reject(_)))
            }) {
                ck.error(
                    span,
                    format!("{field}.metric"),
                    format!(
                        "{} has a route {} of the same metric: a reject route and a path \
                         cannot share the load (give one a higher metric)",
                        route.prefix,
                        crate::fib::PathText(other)
                    ),
                );
            }
            routes.push(route);
        }
    }

    let mut neighbors: Vec<Neighbor> = Vec::new();
    for (i, n) in raw.neighbors.into_iter().enumerate() {
        let field = format!("neighbor[{i}]");
        let span = n.span();
        if let Some(nb) = validate_neighbor(ck, &field, n.into_inner(), &ports) {
            if neighbors
                .iter()
                .any(|x| x.port == nb.port && x.addr == nb.addr)
            {
                ck.error(
                    span,
                    format!("{field}.address"),
                    format!(
                        "{} is configured twice on {}",
                        nb.addr,
                        ports[usize::from(nb.port)].name
                    ),
                );
            }
            neighbors.push(nb);
        }
    }

    Config {
        workers,
        burst,
        mbufs,
        rx_descriptors,
        tx_descriptors,
        ports,
        routes,
        neighbors,
        icmp,
        polling,
        control_socket,
        metrics,
    }
}

fn validate_polling(ck: &mut Checker<'_>, raw: RawPolling) -> PollMode {
    let idle_polls = in_range(
        ck,
        raw.idle_polls,
        "polling.idle_polls",
        DEFAULT_IDLE_POLLS,
        1,
        1 << 30,
    );
    let max_sleep_us = in_range(
        ck,
        raw.max_sleep_us,
        "polling.max_sleep_us",
        DEFAULT_MAX_SLEEP_US,
        10,
        100_000,
    );
    let adaptive = PollMode::Adaptive {
        idle_polls,
        max_sleep_ns: u64::from(max_sleep_us) * 1000,
    };
    let Some(mode) = raw.mode else {
        return adaptive;
    };
    match mode.get_ref().as_str() {
        "adaptive" => adaptive,
        "poll" => PollMode::Poll,
        other => {
            ck.error(
                mode.span(),
                "polling.mode",
                format!("{other:?}: the modes are adaptive and poll"),
            );
            adaptive
        }
    }
}

fn in_range<T>(
    ck: &mut Checker<'_>,
    v: Option<Spanned<T>>,
    field: &str,
    default: T,
    min: T,
    max: T,
) -> T
where
    T: Copy + PartialOrd + fmt::Display,
{
    let Some(v) = v else { return default };
    let span = v.span();
    let x = v.into_inner();
    if x < min || x > max {
        ck.error(span, field, format!("{x} is out of range {min} to {max}"));
        return default;
    }
    x
}

fn validate_ports(ck: &mut Checker<'_>, raw: Vec<Spanned<RawPort>>) -> Vec<PortConf> {
    let mut ports: Vec<PortConf> = Vec::new();
    for (i, p) in raw.into_iter().enumerate() {
        let p = p.into_inner();
        let field = format!("port[{i}]");
        let name = match p.name {
            Some(n) => {
                let span = n.span();
                let n = n.into_inner();
                if n.is_empty()
                    || !n
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                {
                    ck.error(
                        span.clone(),
                        format!("{field}.name"),
                        format!("{n:?}: use letters, digits, - and _"),
                    );
                }
                if ports.iter().any(|q| q.name == n) {
                    ck.error(
                        span,
                        format!("{field}.name"),
                        format!("{n:?} names two ports"),
                    );
                }
                n
            }
            None => {
                let n = format!("port{i}");
                if ports.iter().any(|q| q.name == n) {
                    ck.error(
                        p.device.span(),
                        format!("{field}.name"),
                        format!(
                            "the default name {n:?} is taken by an earlier port: name this one"
                        ),
                    );
                }
                n
            }
        };

        let dspan = p.device.span();
        let device = Device::parse(p.device.get_ref());
        if device.name().is_empty() {
            ck.error(dspan.clone(), format!("{field}.device"), "empty device");
        }
        if ports.iter().any(|q| q.device.name() == device.name()) {
            ck.error(
                dspan,
                format!("{field}.device"),
                format!("{:?} is used by two ports", device.name()),
            );
        }

        let mtu = match p.mtu {
            Some(m) => {
                let span = m.span();
                let m = m.into_inner();
                // RFC 8200 5: every link carries packets of at least 1280 bytes.
                if !(MIN_MTU..=MAX_MTU).contains(&m) {
                    ck.error(
                        span,
                        format!("{field}.mtu"),
                        format!("{m} is out of range {MIN_MTU} to {MAX_MTU}"),
                    );
                }
                m
            }
            None => DEFAULT_MTU,
        };

        let mut addresses: Vec<Prefix> = Vec::new();
        for (j, a) in p.addresses.into_iter().enumerate() {
            let held: Vec<(usize, Prefix, &str)> = ports
                .iter()
                .enumerate()
                .flat_map(|(q, port)| {
                    port.addresses
                        .iter()
                        .map(move |x| (q, *x, port.name.as_str()))
                })
                .chain(addresses.iter().map(|x| (i, *x, name.as_str())))
                .collect();
            match check_address(a.get_ref(), i, &held) {
                Ok(prefix) => addresses.push(prefix),
                Err(e) => ck.error(a.span(), format!("{field}.addresses[{j}]"), e),
            }
        }
        let nd = Timers {
            // RFC 4861 10: BaseReachableTime at most an hour.
            base_reachable_ms: in_range(
                ck,
                p.nd.reachable_time_ms,
                &format!("{field}.nd.reachable_time_ms"),
                Timers::default().base_reachable_ms,
                1_000,
                3_600_000,
            ),
            retrans_ms: in_range(
                ck,
                p.nd.retrans_timer_ms,
                &format!("{field}.nd.retrans_timer_ms"),
                Timers::default().retrans_ms,
                100,
                60_000,
            ),
            dad_transmits: in_range(
                ck,
                p.nd.dad_transmits,
                &format!("{field}.nd.dad_transmits"),
                Timers::default().dad_transmits,
                0,
                10,
            ),
            ..Timers::default()
        };
        let ra = p.ra.map(|r| validate_ra(ck, &field, r));
        ports.push(PortConf {
            name,
            device,
            mtu,
            addresses,
            nd,
            ra,
            accept_ra: p.accept_ra.unwrap_or(false),
        });
    }
    ports
}

/// What a port advertises, checked against RFC 4861 6.2.1.
fn validate_ra(ck: &mut Checker<'_>, field: &str, r: RawRa) -> RaConf {
    let d = RaConf::default();
    let f = |name: &str| format!("{field}.ra.{name}");
    let max = in_range(
        ck,
        r.max_interval_s,
        &f("max_interval_s"),
        d.max_interval_s,
        4,
        1800,
    );
    // MinRtrAdvInterval: 3 s to 0.75 of the maximum; by default a third of it.
    let min_default = if max >= 9 { max / 3 } else { max * 3 / 4 };
    let min = in_range(
        ck,
        r.min_interval_s,
        &f("min_interval_s"),
        min_default.max(3),
        3,
        (max * 3 / 4).max(3),
    );
    // AdvDefaultLifetime: 0, or the maximum interval to 9000 s; by default 3 times it.
    let lifetime = match r.lifetime_s {
        None => (3 * max).min(9000),
        Some(l) => {
            let span = l.span();
            let l = l.into_inner();
            if l != 0 && !(max..=9000).contains(&l) {
                ck.error(
                    span,
                    f("lifetime_s"),
                    format!("{l}: 0, or {max} (max_interval_s) to 9000"),
                );
            }
            l.min(9000)
        }
    };
    let preference = match r
        .preference
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        None | Some(("medium", _)) => Preference::Medium,
        Some(("high", _)) => Preference::High,
        Some(("low", _)) => Preference::Low,
        Some((other, span)) => {
            ck.error(
                span,
                f("preference"),
                format!("{other:?}: the preferences are high, medium and low"),
            );
            Preference::Medium
        }
    };
    let valid = in_range(
        ck,
        r.valid_lifetime_s,
        &f("valid_lifetime_s"),
        d.valid_lifetime_s,
        0,
        u32::MAX,
    );
    let preferred_span = r.preferred_lifetime_s.as_ref().map(|p| p.span());
    let preferred = in_range(
        ck,
        r.preferred_lifetime_s,
        &f("preferred_lifetime_s"),
        d.preferred_lifetime_s.min(valid),
        0,
        u32::MAX,
    );
    if preferred > valid {
        ck.error(
            preferred_span.unwrap_or(0..0),
            f("preferred_lifetime_s"),
            format!("{preferred} is longer than valid_lifetime_s ({valid})"),
        );
    }
    RaConf {
        min_interval_s: min,
        max_interval_s: max,
        lifetime_s: lifetime as u16,
        preference,
        managed: r.managed.unwrap_or(false),
        other: r.other.unwrap_or(false),
        mtu: r.mtu.unwrap_or(true),
        valid_lifetime_s: valid,
        preferred_lifetime_s: preferred,
    }
}

/// Checks `text` as an address of port `i`, given the addresses the ports hold already as
/// (port, address, port name).
fn check_address(text: &str, i: usize, held: &[(usize, Prefix, &str)]) -> Result<Prefix, String> {
    let prefix = text.parse::<Prefix>().map_err(|e| e.to_string())?;
    let addr = prefix.addr;
    if addr.is_multicast() || addr.is_unspecified() || addr.is_loopback() {
        return Err(format!("{addr} is not a unicast address"));
    }
    if prefix.len == 128 && addr.is_unicast_link_local() {
        return Err(format!("{addr}: a link-local address takes its /64"));
    }
    // Link-local addresses may repeat on different ports (fe80::1 on every link is
    // common); any other address belongs to one port.
    if held
        .iter()
        .any(|(q, x, _)| x.addr == addr && (!addr.is_unicast_link_local() || *q == i))
    {
        return Err(format!("{addr} is configured twice"));
    }
    // A subnet lives on one link: the same one on two ports would route it twice.
    if prefix.len < 128 && !addr.is_unicast_link_local() {
        let subnet = prefix.network();
        if let Some((_, _, name)) = held
            .iter()
            .find(|(q, x, _)| *q != i && x.len == subnet.len && x.network() == subnet)
        {
            return Err(format!("subnet {subnet} is already on {name}"));
        }
    }
    Ok(prefix)
}

/// Finds the port by name, reporting an unknown one.
fn port_by_name(
    ck: &mut Checker<'_>,
    field: &str,
    name: &Spanned<String>,
    ports: &[PortConf],
) -> Option<u16> {
    let found = ports.iter().position(|p| &p.name == name.get_ref());
    if found.is_none() {
        let known: Vec<_> = ports.iter().map(|p| p.name.as_str()).collect();
        ck.error(
            name.span(),
            field,
            format!(
                "no port is called {:?} (ports: {})",
                name.get_ref(),
                known.join(", ")
            ),
        );
    }
    found.map(|i| i as u16)
}

/// The ports whose subnets contain `addr`.
fn on_link_ports(addr: &Ipv6Addr, ports: &[PortConf]) -> Vec<u16> {
    ports
        .iter()
        .enumerate()
        .filter(|(_, p)| p.addresses.iter().any(|a| a.len < 128 && a.contains(addr)))
        .map(|(i, _)| i as u16)
        .collect()
}

/// Checks a neighbor or gateway address and finds its port: the one named, or else the
/// one whose subnet holds it.
fn neighbor_port(
    ck: &mut Checker<'_>,
    field: &str,
    addr: &Spanned<String>,
    port: Option<&Spanned<String>>,
    ports: &[PortConf],
) -> Option<(Ipv6Addr, u16)> {
    let a = match addr.get_ref().parse::<Ipv6Addr>() {
        Ok(a) => a,
        Err(_) => {
            ck.error(
                addr.span(),
                field,
                format!("{:?} is not an IPv6 address", addr.get_ref()),
            );
            return None;
        }
    };
    if a.is_multicast() || a.is_unspecified() || a.is_loopback() {
        ck.error(addr.span(), field, format!("{a} is not a unicast address"));
        return None;
    }
    let port_field = format!("{}.port", field.rsplit_once('.').map_or(field, |(f, _)| f));
    let on_link = on_link_ports(&a, ports);
    match port {
        Some(name) => {
            let p = port_by_name(ck, &port_field, name, ports)?;
            if !a.is_unicast_link_local() && !on_link.contains(&p) {
                ck.error(
                    addr.span(),
                    field,
                    format!("{a} is not on a subnet of {}", ports[usize::from(p)].name),
                );
                return None;
            }
            Some((a, p))
        }
        None if a.is_unicast_link_local() => {
            ck.error(
                addr.span(),
                field,
                format!("{a} is link-local: name its port"),
            );
            None
        }
        None => match on_link.as_slice() {
            [p] => Some((a, *p)),
            [] => {
                ck.error(addr.span(), field, format!("{a} is on no port's subnet"));
                None
            }
            _ => {
                ck.error(
                    addr.span(),
                    field,
                    format!("{a} is on the subnets of several ports: name one"),
                );
                None
            }
        },
    }
}

fn validate_route(
    ck: &mut Checker<'_>,
    field: &str,
    r: RawRoute,
    ports: &[PortConf],
) -> Option<Route> {
    let metric = r.metric.as_ref().map_or(DEFAULT_METRIC, |m| *m.get_ref());
    let preference = match r
        .preference
        .as_ref()
        .map(|p| (p.get_ref().as_str(), p.span()))
    {
        None | Some(("medium", _)) => Preference::Medium,
        Some(("high", _)) => Preference::High,
        Some(("low", _)) => Preference::Low,
        Some((other, span)) => {
            ck.error(
                span,
                format!("{field}.preference"),
                format!("{other:?}: the preferences are high, medium and low"),
            );
            return None;
        }
    };
    let route = validate_path(ck, field, r, ports)?;
    Some(Route {
        metric,
        preference,
        ..route
    })
}

/// The prefix and path of a route.
fn validate_path(
    ck: &mut Checker<'_>,
    field: &str,
    r: RawRoute,
    ports: &[PortConf],
) -> Option<Route> {
    let prefix = match r.prefix.get_ref().parse::<Prefix>() {
        Ok(p) => p,
        Err(e) => {
            ck.error(r.prefix.span(), format!("{field}.prefix"), e.to_string());
            return None;
        }
    };
    if prefix.network() != prefix {
        ck.error(
            r.prefix.span(),
            format!("{field}.prefix"),
            format!(
                "{prefix} has host bits set (the prefix is {})",
                prefix.network()
            ),
        );
        return None;
    }
    if prefix.addr.is_multicast() {
        ck.error(
            r.prefix.span(),
            format!("{field}.prefix"),
            "multicast is not routed",
        );
        return None;
    }
    if let Some(action) = &r.action {
        let reject = match action.get_ref().as_str() {
            "blackhole" => Reject::Blackhole,
            "unreachable" => Reject::Unreachable,
            "prohibit" => Reject::Prohibit,
            other => {
                ck.error(
                    action.span(),
                    format!("{field}.action"),
                    format!("{other:?}: the actions are blackhole, unreachable and prohibit"),
                );
                return None;
            }
        };
        if r.via.is_some() || r.port.is_some() {
            ck.error(
                action.span(),
                format!("{field}.action"),
                "a route with an action has no `via` or `port`",
            );
            return None;
        }
        return Some(Route::new(prefix, 0, NextHop::Reject(reject)));
    }
    match (&r.via, &r.port) {
        (Some(via), port) => {
            let (gw, p) = neighbor_port(ck, &format!("{field}.via"), via, port.as_ref(), ports)?;
            Some(Route::new(prefix, p, NextHop::Gateway(gw)))
        }
        (None, Some(port)) => {
            let p = port_by_name(ck, &format!("{field}.port"), port, ports)?;
            Some(Route::new(prefix, p, NextHop::OnLink))
        }
        (None, None) => {
            ck.error(
                r.prefix.span(),
                field,
                "a route needs `via`, `port`, both, or an `action`",
            );
            None
        }
    }
}

fn validate_neighbor(
    ck: &mut Checker<'_>,
    field: &str,
    n: RawNeighbor,
    ports: &[PortConf],
) -> Option<Neighbor> {
    let lladdr = match n.lladdr.get_ref().parse::<MacAddr>() {
        Ok(m) if m.is_multicast() || m == MacAddr::default() => {
            ck.error(
                n.lladdr.span(),
                format!("{field}.lladdr"),
                format!("{m} is not a unicast MAC address"),
            );
            None
        }
        Ok(m) => Some(m),
        Err(e) => {
            ck.error(n.lladdr.span(), format!("{field}.lladdr"), e.to_string());
            None
        }
    };
    let (addr, port) = neighbor_port(
        ck,
        &format!("{field}.address"),
        &n.address,
        n.port.as_ref(),
        ports,
    )?;
    Some(Neighbor {
        port,
        addr,
        lladdr: lladdr?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
workers = [1, 2]

[[port]]
name = "lan"
device = "net_af_packet0,iface=veth0"
addresses = ["2001:db8:1::1/64", "fe80::1/64"]

[[port]]
device = "0000:03:00.0"
mtu = 9000
addresses = ["2001:db8:2::1/64"]

[[route]]
prefix = "::/0"
via = "2001:db8:2::ff"

[[route]]
prefix = "2001:db8:100::/48"
via = "fe80::2"
port = "lan"

[[route]]
prefix = "2001:db8:200::/48"
port = "port1"

[[neighbor]]
address = "2001:db8:2::ff"
lladdr = "02:00:00:00:00:ff"
"#;

    fn errors(text: &str) -> Vec<String> {
        match Config::parse(text, Path::new("r.toml")) {
            Ok(_) => panic!("expected errors"),
            Err(e) => e.0.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn good_config() {
        let c = Config::parse(GOOD, Path::new("r.toml")).unwrap();
        assert_eq!(c.workers, [1, 2]);
        assert_eq!(c.ports[0].name, "lan");
        assert_eq!(
            c.ports[0].device,
            Device::Vdev("net_af_packet0,iface=veth0".into())
        );
        assert_eq!(c.ports[0].device.name(), "net_af_packet0");
        assert_eq!(c.ports[1].name, "port1");
        assert_eq!(c.ports[1].device, Device::Name("0000:03:00.0".into()));
        assert_eq!((c.ports[0].mtu, c.ports[1].mtu), (DEFAULT_MTU, 9000));
        // Two connected subnets (not fe80::/64), then the three static routes.
        assert_eq!(c.routes.len(), 5);
        let default = c.routes.iter().find(|r| r.prefix.len == 0).unwrap();
        assert_eq!(default.port, 1);
        assert_eq!(
            default.next_hop,
            NextHop::Gateway("2001:db8:2::ff".parse().unwrap())
        );
        assert_eq!(c.neighbors[0].port, 1);
        assert_eq!(c.burst, DEFAULT_BURST);
        assert_eq!(
            c.icmp,
            IcmpLimits {
                rate: DEFAULT_ICMP_ERROR_RATE,
                burst: DEFAULT_ICMP_ERROR_BURST
            }
        );
        assert_eq!(
            c.polling,
            PollMode::Adaptive {
                idle_polls: DEFAULT_IDLE_POLLS,
                max_sleep_ns: 100_000
            }
        );
        let poll = Config::parse(
            &format!("{GOOD}\n[polling]\nmode = \"poll\"\n"),
            Path::new("r.toml"),
        )
        .unwrap();
        assert_eq!(poll.polling, PollMode::Poll);
        let e = errors(&format!(
            "{GOOD}\n[polling]\nmode = \"busy\"\nmax_sleep_us = 1\n"
        ));
        assert!(
            e.iter()
                .any(|m| m.ends_with("polling.mode: \"busy\": the modes are adaptive and poll")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.ends_with("polling.max_sleep_us: 1 is out of range 10 to 100000")),
            "{e:?}"
        );
        let limited = Config::parse(
            &format!("{GOOD}\n[icmp]\nerror_rate = 5\nerror_burst = 1\n"),
            Path::new("r.toml"),
        )
        .unwrap();
        assert_eq!(limited.icmp, IcmpLimits { rate: 5, burst: 1 });
        assert_eq!(c.port_index("port1"), Some(1));
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = errors("workers = [1\n[[port]]\n");
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("r.toml:2:"), "{}", e[0]);
    }

    #[test]
    fn unknown_field_is_refused() {
        let e = errors("[[port]]\ndevice = \"x\"\nmtuu = 1500\n");
        assert!(e[0].starts_with("r.toml:3:1: "), "{}", e[0]);
        assert!(e[0].contains("mtuu"), "{}", e[0]);
    }

    #[test]
    fn each_error_names_file_line_and_field() {
        let text = GOOD
            .replace("\"2001:db8:1::1/64\"", "\"2001:db8:1::1/129\"")
            .replace("mtu = 9000", "mtu = 1000")
            .replace("via = \"2001:db8:2::ff\"", "via = \"2001:db8:9::ff\"")
            .replace("port = \"port1\"", "port = \"wan\"")
            .replace("02:00:00:00:00:ff", "01:00:00:00:00:ff");
        let e = errors(&text);
        let expect = [
            "r.toml:7:14: port[0].addresses[0]: \"2001:db8:1::1/129\": the length must be 0 to 128",
            "r.toml:11:7: port[1].mtu: 1000 is out of range 1280 to 9600",
            "r.toml:16:7: route[0].via: 2001:db8:9::ff is on no port's subnet",
            "r.toml:25:8: route[2].port: no port is called \"wan\" (ports: lan, port1)",
            "r.toml:29:10: neighbor[0].lladdr: 01:00:00:00:00:ff is not a unicast MAC address",
        ];
        assert_eq!(e, expect);
    }

    #[test]
    fn semantic_errors() {
        let base = "[[port]]\ndevice = \"net_null0\"\naddresses = [\"2001:db8:1::1/64\"]\n";
        let cases = [
            (
                "workers = []\n",
                "workers: at least one worker lcore is needed",
            ),
            ("workers = [1, 1]\n", "workers: lcore 1 is listed twice"),
            ("workers = [500]\n", "workers: lcore 500 is above 127"),
            ("burst = 2\n", "burst: 2 is out of range 4 to 64"),
            (
                "[[route]]\nprefix = \"2001:db8::1/32\"\nport = \"port0\"\n",
                "has host bits set (the prefix is 2001:db8::/32)",
            ),
            (
                "[[route]]\nprefix = \"2001:db8:1::/64\"\nport = \"port0\"\n",
                "2001:db8:1::/64 is the connected subnet of port0",
            ),
            (
                "[[route]]\nprefix = \"::/0\"\n",
                "a route needs `via`, `port`, both, or an `action`",
            ),
            (
                "[[route]]\nprefix = \"::/0\"\nvia = \"fe80::1\"\n",
                "fe80::1 is link-local: name its port",
            ),
            (
                "[[route]]\nprefix = \"ff00::/8\"\nport = \"port0\"\n",
                "multicast is not routed",
            ),
            (
                "[[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:1::9\"\n[[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:1::9\"\n",
                "::/0 is routed twice via 2001:db8:1::9 port 0 metric 1024",
            ),
            (
                "[[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:1::9\"\n[[route]]\nprefix = \"::/0\"\naction = \"blackhole\"\n",
                "route[1].metric: ::/0 has a route via 2001:db8:1::9 port 0 metric 1024 of the same metric",
            ),
            (
                "[[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:1::9\"\npreference = \"top\"\n",
                "route[0].preference: \"top\": the preferences are high, medium and low",
            ),
            (
                "[port.ra]\nmax_interval_s = 3\n",
                "port[0].ra.max_interval_s: 3 is out of range 4 to 1800",
            ),
            (
                "[port.ra]\nlifetime_s = 100\n",
                "port[0].ra.lifetime_s: 100: 0, or 600 (max_interval_s) to 9000",
            ),
            (
                "[port.ra]\npreferred_lifetime_s = 7200\nvalid_lifetime_s = 3600\n",
                "port[0].ra.preferred_lifetime_s: 7200 is longer than valid_lifetime_s (3600)",
            ),
            (
                "[port.nd]\nretrans_timer_ms = 5\n",
                "port[0].nd.retrans_timer_ms: 5 is out of range 100 to 60000",
            ),
            (
                "[[neighbor]]\naddress = \"2001:db8:1::9\"\nlladdr = \"02:00:00:00:00:01\"\n[[neighbor]]\naddress = \"2001:db8:1::9\"\nlladdr = \"02:00:00:00:00:02\"\n",
                "2001:db8:1::9 is configured twice on port0",
            ),
            (
                "[[neighbor]]\naddress = \"ff02::1\"\nlladdr = \"02:00:00:00:00:01\"\n",
                "ff02::1 is not a unicast address",
            ),
            (
                "[[neighbor]]\naddress = \"2001:db8:1::9\"\nlladdr = \"02:00:00:00:00\"\n",
                "is not a MAC address",
            ),
        ];
        for (extra, want) in cases {
            let text = if extra.starts_with('[') {
                format!("{base}{extra}")
            } else {
                format!("{extra}{base}")
            };
            let e = errors(&text);
            assert!(
                e.iter().any(|m| m.contains(want)),
                "{extra:?}: wanted {want:?}, got {e:?}"
            );
        }
    }

    #[test]
    fn port_errors() {
        let two = "[[port]]\ndevice = \"net_null0\"\naddresses = [\"2001:db8:1::1/64\"]\n[[port]]\ndevice = \"net_null0\"\naddresses = [\"2001:db8:1::1/64\", \"ff02::1/64\", \"nope\"]\n";
        let e = errors(two);
        assert!(
            e.iter()
                .any(|m| m.contains("port[1].device: \"net_null0\" is used by two ports")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("port[1].addresses[0]: 2001:db8:1::1 is configured twice")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("port[1].addresses[1]: ff02::1 is not a unicast address")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.contains("port[1].addresses[2]: \"nope\" is not address/length")),
            "{e:?}"
        );
        assert_eq!(
            errors("workers = [1]\n"),
            ["r.toml:1:1: port: no [[port]] is configured"]
        );
    }

    #[test]
    fn ports_do_not_share_names_or_subnets() {
        let text = "[[port]]\nname = \"port1\"\ndevice = \"net_null0\"\naddresses = [\"2001:db8:1::1/64\"]\n[[port]]\ndevice = \"net_null1\"\naddresses = [\"2001:db8:1::2/64\"]\n";
        let e = errors(text);
        assert!(
            e.iter()
                .any(|m| m.contains("port[1].name: the default name \"port1\" is taken")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m
                    .contains("port[1].addresses[0]: subnet 2001:db8:1::/64 is already on port1")),
            "{e:?}"
        );
    }

    #[test]
    fn pool_must_fill_the_queues() {
        let text = "workers = [1, 2]\nmbufs = 2000\n[[port]]\ndevice = \"net_null0\"\n[[port]]\ndevice = \"net_null1\"\n";
        let e = errors(text);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("r.toml:2:9: mbufs: 2000 mbufs cannot fill 4 rx and tx queue pairs"),
            "{e:?}"
        );
        assert!(e[0].ends_with(": 9024 at least"), "{e:?}");
    }

    #[test]
    fn several_paths_to_one_prefix() {
        let text = "[[port]]\ndevice = \"net_null0\"\naddresses = [\"2001:db8:1::1/64\"]\n\
            [[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:1::8\"\npreference = \"high\"\n\
            [[route]]\nprefix = \"::/0\"\nvia = \"2001:db8:1::9\"\n\
            [[route]]\nprefix = \"::/0\"\naction = \"unreachable\"\nmetric = 4000\n";
        let c = Config::parse(text, Path::new("r.toml")).unwrap();
        let defaults: Vec<&Route> = c.routes.iter().filter(|r| r.prefix.len == 0).collect();
        assert_eq!(defaults.len(), 3);
        assert_eq!(defaults[0].preference, Preference::High);
        assert_eq!(defaults[1].preference, Preference::Medium);
        assert_eq!(defaults[1].metric, DEFAULT_METRIC);
        assert_eq!(defaults[2].metric, 4000);
        assert_eq!(c.routes[0].source, Source::Connected);
    }

    #[test]
    fn reject_routes() {
        let base = "[[port]]\ndevice = \"net_null0\"\naddresses = [\"2001:db8:1::1/64\"]\n";
        for (action, reject) in [
            ("blackhole", Reject::Blackhole),
            ("unreachable", Reject::Unreachable),
            ("prohibit", Reject::Prohibit),
        ] {
            let text =
                format!("{base}[[route]]\nprefix = \"2001:db8:9::/48\"\naction = \"{action}\"\n");
            let c = Config::parse(&text, Path::new("r.toml")).unwrap();
            assert_eq!(c.routes.last().unwrap().next_hop, NextHop::Reject(reject));
        }
        let e = errors(&format!(
            "{base}[[route]]\nprefix = \"::/0\"\naction = \"drop\"\n"
        ));
        assert_eq!(
            e,
            [
                "r.toml:6:10: route[0].action: \"drop\": the actions are blackhole, unreachable and prohibit"
            ]
        );
        let e = errors(&format!(
            "{base}[[route]]\nprefix = \"::/0\"\naction = \"prohibit\"\nport = \"port0\"\n"
        ));
        assert!(
            e[0].ends_with("route[0].action: a route with an action has no `via` or `port`"),
            "{e:?}"
        );
    }

    #[test]
    fn link_local_may_repeat_across_ports() {
        let text = "[[port]]\ndevice = \"net_null0\"\naddresses = [\"fe80::1/64\"]\n[[port]]\ndevice = \"net_null1\"\naddresses = [\"fe80::1/64\"]\n";
        assert!(Config::parse(text, Path::new("r.toml")).is_ok());
    }

    #[test]
    fn the_example_configurations_are_valid() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/examples");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                if let Err(e) = Config::load(&path) {
                    panic!("{e}");
                }
                seen += 1;
            }
        }
        assert!(seen >= 3, "{seen} examples in {}", dir.display());
    }

    #[test]
    fn unreadable_file() {
        let e = Config::load(Path::new("/nonexistent/v6fwd.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/v6fwd.toml: cannot read:"),
            "{e}"
        );
    }
}
