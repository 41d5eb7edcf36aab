//! Start-up and shut-down of the forwarder: EAL, mempool, ports and workers, built from a
//! validated configuration on the management thread (the EAL main lcore).

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, unbounded};
use tracing::{error, info, warn};

use crate::config::{Config, Device, MEMPOOL_CACHE, PortConf};
use crate::control::server::{Call, Server};
use crate::counters::CoreCounters;
use crate::dataplane::{Dataplane, DataplaneCell, PortView};
use crate::ffi::{
    BURST_MAX, DpdkError, Eal, LcoreId, Mbuf, MbufBatch, Mempool, PortConfig, PortId, RxBurst,
    RxQueue, TxQueue,
};
use crate::fib::{Rib, RibError};
use crate::manage::{LinkState, Links, Management, WorkerCounters};
use crate::metrics::Exporter;
use crate::neigh::cache::Limits;
use crate::neigh::{Exchange, NeighborTable, dad};
use crate::report::{CoreReport, MempoolReport, PortReport, Report};
use crate::route::{Prefix, Route, Source as RouteSource};
use crate::wire::{MacAddr, ethernet};
use crate::worker::{Pending, Worker};

/// Bytes before the packet data in each mbuf (DPDK's RTE_PKTMBUF_HEADROOM).
const MBUF_HEADROOM: u32 = 128;
/// Messages each worker's inbox of neighbor work holds.
const EXCHANGE_INBOX: usize = 4096;
/// The smallest mbuf data room: DPDK's default, 2 KiB after the headroom.
const MIN_DATA_ROOM: u32 = 2048;

/// Why the forwarder could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Dpdk(#[from] DpdkError),
    #[error("worker {0} is not an EAL lcore: give it to the EAL with -l (or leave -l out)")]
    LcoreDisabled(LcoreId),
    #[error("worker {0} is the EAL main lcore, which runs the management thread")]
    LcoreIsMain(LcoreId),
    #[error("port {name}: device {device:?} was not found ({source})")]
    PortNotFound {
        name: String,
        device: String,
        source: DpdkError,
    },
    #[error("port {name}: {source}")]
    Port { name: String, source: DpdkError },
    #[error("routes: {0}")]
    Routes(RibError),
    #[error("cannot catch SIGINT/SIGTERM/SIGHUP: {0}")]
    Signal(std::io::Error),
    #[error("control socket: {0}")]
    Control(std::io::Error),
    #[error("metrics: {0}")]
    Metrics(std::io::Error),
}

/// What the management thread serves besides the workers: the control socket's
/// requests, and SIGHUP's reloads of the configuration file at `path`.
struct ControlPlane {
    path: PathBuf,
    calls: Receiver<Call>,
    control: Server,
    reload: Arc<AtomicBool>,
}

/// The EAL arguments for `config`: the program name, a `--vdev` for each virtual device,
/// the user's arguments, and `-l` with the main lcore and the workers unless the user gave
/// a core list or a main lcore.
pub fn eal_args(config: &Config, user: &[String]) -> Vec<String> {
    let mut args = vec![String::from("v6fwd")];
    for p in &config.ports {
        if let Device::Vdev(v) = &p.device {
            args.push(format!("--vdev={v}"));
        }
    }
    args.extend(user.iter().cloned());
    let has_cores = user.iter().any(|a| {
        ["-l", "-c", "--lcores"]
            .iter()
            .any(|opt| a.starts_with(opt))
            || a.starts_with("--main-lcore")
    });
    if !has_cores {
        let main = (0..).find(|l| !config.workers.contains(l)).unwrap_or(0);
        let mut cores = vec![main.to_string()];
        cores.extend(config.workers.iter().map(u32::to_string));
        args.push("-l".into());
        args.push(cores.join(","));
        args.push(format!("--main-lcore={main}"));
    }
    args
}

/// Runs the forwarder until SIGINT or SIGTERM, then stops it and returns its counters.
///
/// # Errors
/// Fails, having started nothing that keeps running, if DPDK or a port refuses the
/// configuration.
pub fn run(config: &Config, path: &Path, user_eal_args: &[String]) -> Result<Report, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(RunError::Signal)?;
    }
    let reload = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload))
        .map_err(RunError::Signal)?;
    // The sockets first: a path or port that is taken stops the start before DPDK does
    // anything.
    let (caller, calls) = unbounded();
    let control =
        Server::bind(&config.control_socket, caller.clone()).map_err(RunError::Control)?;
    let exporter = match config.metrics {
        Some(addr) => Some(Exporter::bind(addr, caller).map_err(RunError::Metrics)?),
        None => None,
    };
    info!(socket = %control.path().display(), "control socket listening");
    if let Some(e) = &exporter {
        info!("metrics served at http://{}/metrics", e.local_addr());
    }
    let eal = Eal::init(&eal_args(config, user_eal_args))?;
    let control_plane = ControlPlane {
        path: path.to_owned(),
        calls,
        control,
        reload,
    };
    let result = run_on(&eal, config, &stop, control_plane);
    drop(exporter);
    // SAFETY: run_on has returned, so its guards have waited for every lcore it launched
    // and closed every port it configured, and its mempool is dropped.
    #[allow(unsafe_code)]
    unsafe {
        eal.cleanup()
    };
    result
}

/// Everything between EAL start and clean-up. The guards are declared so that they drop in
/// the only safe order, on every path out: workers stopped and waited for, then ports
/// stopped and closed, then the mempool freed.
fn run_on(
    eal: &Eal,
    config: &Config,
    stop: &Arc<AtomicBool>,
    control: ControlPlane,
) -> Result<Report, RunError> {
    let main = eal.main_lcore();
    let workers: Vec<LcoreId> = config.workers.iter().map(|l| LcoreId(*l)).collect();
    for &w in &workers {
        if w == main {
            return Err(RunError::LcoreIsMain(w));
        }
        if !eal.lcore_enabled(w) {
            return Err(RunError::LcoreDisabled(w));
        }
    }

    let largest_mtu = config
        .ports
        .iter()
        .map(|p| u32::from(p.mtu))
        .max()
        .unwrap_or(1500);
    let frame_room = largest_mtu + ethernet::HEADER_LEN as u32 + 4;
    let data_room = MBUF_HEADROOM + frame_room.max(MIN_DATA_ROOM);
    let socket = eal.lcore_socket(workers[0]).unwrap_or(-1);
    let pool = Arc::new(Mempool::create(
        eal,
        "v6fwd_mbufs",
        config.mbufs,
        MEMPOOL_CACHE.min(config.mbufs * 2 / 3),
        data_room as u16,
        socket,
    )?);

    let mut ports = Ports::default();
    let mut views = Vec::new();
    // queues[w][p]: worker w's rx and tx queue on port p.
    let mut queues: Vec<Vec<(RxQueue, TxQueue)>> = workers.iter().map(|_| Vec::new()).collect();
    for p in &config.ports {
        let (view, rx, tx) = ports.start(eal, config, p, &pool, workers.len() as u16)?;
        views.push(view);
        for (w, pair) in rx.into_iter().zip(tx).enumerate() {
            queues[w].push(pair);
        }
    }

    let probed = detect_duplicates(config, &mut views, &mut queues, &pool);
    let refused = &probed.refused;
    // A refused address's subnet is no longer connected, unless another address of the
    // port is in it.
    let routes: Vec<Route> = config
        .routes
        .iter()
        .filter(|r| {
            r.source != RouteSource::Connected
                || views[usize::from(r.port)]
                    .subnets
                    .iter()
                    .any(|&(a, len)| Prefix::new(a, len).network() == r.prefix)
        })
        .copied()
        .collect();
    let rib = Rib::with_routes(config.ports.len() as u16, &routes, &config.neighbors)
        .map_err(RunError::Routes)?;
    let cell = Arc::new(DataplaneCell::new(Dataplane::new(
        views,
        rib.cell(),
        NeighborTable::new(&config.neighbors),
    )));
    let dataplane = cell.load();
    for (conf, view) in config.ports.iter().zip(dataplane.ports()) {
        let addrs: Vec<String> = view.addresses.iter().map(ToString::to_string).collect();
        info!(mac = %view.mac, mtu = view.mtu, addresses = %addrs.join(" "), "port {} ready", conf.name);
    }
    info!(
        prefixes = rib.len(),
        routes = rib.routes().count(),
        groups = rib.groups(),
        neighbors = dataplane.neighbors().len(),
        "tables built"
    );

    let in_use_at_start = pool.in_use();
    let counters: Vec<Arc<CoreCounters>> = workers.iter().map(|_| Arc::default()).collect();
    let started = Instant::now();
    let mut launched = Launched {
        eal,
        stop: Arc::clone(stop),
        lcores: Vec::new(),
    };
    let exchange: Arc<Exchange<Pending>> = Arc::new(Exchange::new(workers.len(), EXCHANGE_INBOX));
    for (index, ((&lcore, queues), counters)) in
        workers.iter().zip(queues).zip(&counters).enumerate()
    {
        let w = Worker {
            index,
            exchange: Arc::clone(&exchange),
            nd_timers: config.ports.iter().map(|p| p.nd).collect(),
            nd_limits: Limits::default(),
            queues,
            burst: usize::from(config.burst),
            dataplane: cell.load(),
            published: Arc::clone(&cell),
            counters: Arc::clone(counters),
            icmp_limits: config.icmp,
            tsc_hz: eal.tsc_hz(),
            polling: config.polling,
            pool: Arc::clone(&pool),
            stop: Arc::clone(stop),
        };
        eal.remote_launch(lcore, move || w.run())?;
        launched.lcores.push(lcore);
    }
    info!("workers poll in mode {}", config.polling);
    let cores: Vec<String> = workers.iter().map(|l| l.0.to_string()).collect();
    let pool_mib = u64::from(pool.size()) * u64::from(data_room) / (1 << 20);
    info!(
        workers = workers.len(),
        ports = config.ports.len(),
        queues_per_port = workers.len(),
        lcores = %cores.join(","),
        main_lcore = main.0,
        mbufs = pool.size(),
        mbuf_bytes = data_room,
        pool_mib,
        hugepages = %hugepages(eal),
        "forwarding"
    );

    let mut manager = Management::new(
        config.clone(),
        control.path.clone(),
        rib,
        refused.clone(),
        Arc::clone(&cell),
        Arc::clone(&exchange),
        workers
            .iter()
            .zip(&counters)
            .map(|(l, c)| WorkerCounters {
                lcore: l.0,
                counters: Arc::clone(c),
            })
            .collect(),
        eal.tsc_hz(),
    );
    while !stop.load(Ordering::Relaxed) {
        if let Ok(call) = control.calls.recv_timeout(Duration::from_millis(50)) {
            manager.serve(call, &ports, control.control.refused());
        }
        if control.reload.swap(false, Ordering::Relaxed) {
            info!("SIGHUP: reloading {}", control.path.display());
            if let Err(e) = manager.reload() {
                error!("{e}");
            }
        }
        manager.tick();
    }
    info!("stopping");
    launched.wait();
    let seconds = started.elapsed().as_secs_f64();

    let in_use_at_exit = pool.in_use();
    let port_reports = config
        .ports
        .iter()
        .zip(&ports.ids)
        .zip(cell.load().ports())
        .enumerate()
        .map(|(p, ((conf, id), view))| PortReport {
            name: conf.name.clone(),
            device: conf.device.name().to_owned(),
            port_id: id.0,
            mac: view.mac.to_string(),
            refused_addresses: refused
                .iter()
                .filter(|(q, _)| *q == p)
                .map(|(_, a)| a.to_string())
                .collect(),
            stats: id.stats().unwrap_or_default(),
        })
        .collect();
    let core_reports = workers
        .iter()
        .zip(&counters)
        .map(|(l, c)| CoreReport::new(l.0, c, eal.tsc_hz()))
        .collect();
    Ok(Report::new(
        seconds,
        port_reports,
        core_reports,
        MempoolReport {
            size: pool.size(),
            in_use_at_start,
            in_use_at_exit,
        },
        probed.frames,
        probed.sent,
    ))
}

/// What the EAL runs on: hugepages in use of those reserved, or none.
fn hugepages(eal: &Eal) -> String {
    if !eal.has_hugepages() {
        return "none (--no-huge)".into();
    }
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name| crate::doctor::meminfo_field(&meminfo, name).unwrap_or(0);
    let (total, free, size) = (
        field("HugePages_Total"),
        field("HugePages_Free"),
        field("Hugepagesize"),
    );
    format!(
        "{} of {total} in use, {size} kB each",
        total.saturating_sub(free)
    )
}

/// The launched workers: dropping this stops and waits for them.
struct Launched<'a> {
    eal: &'a Eal,
    stop: Arc<AtomicBool>,
    lcores: Vec<LcoreId>,
}

impl Launched<'_> {
    fn wait(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for lcore in self.lcores.drain(..) {
            let ret = self.eal.wait_lcore(lcore);
            if ret != 0 {
                warn!(ret, "worker {lcore} ended with an error");
            }
        }
    }
}

impl Drop for Launched<'_> {
    fn drop(&mut self) {
        self.wait();
    }
}

/// The ports found so far: dropping this stops and closes them.
#[derive(Default)]
struct Ports {
    ids: Vec<PortId>,
}

impl Ports {
    /// Finds, configures and starts a port. Returns what the packet path sees of it and
    /// one rx and tx queue per worker.
    fn start(
        &mut self,
        eal: &Eal,
        config: &Config,
        p: &PortConf,
        pool: &Mempool,
        queues: u16,
    ) -> Result<(PortView, Vec<RxQueue>, Vec<TxQueue>), RunError> {
        let port_err = |source| RunError::Port {
            name: p.name.clone(),
            source,
        };
        let id =
            PortId::by_name(eal, p.device.name()).map_err(|source| RunError::PortNotFound {
                name: p.name.clone(),
                device: p.device.name().to_owned(),
                source,
            })?;
        // From here the port is closed on the way out, whatever step fails.
        self.ids.push(id);
        let info = id
            .configure(
                eal,
                &PortConfig {
                    rx_queues: queues,
                    tx_queues: queues,
                    rx_descriptors: config.rx_descriptors,
                    tx_descriptors: config.tx_descriptors,
                    mtu: Some(p.mtu),
                },
                pool,
            )
            .map_err(port_err)?;
        // A device that kept a smaller MTU than configured sends no more than that; one
        // that kept a larger one is held to the configured MTU.
        let mtu = p.mtu.min(info.mtu);
        if info.mtu != p.mtu {
            warn!(
                configured = p.mtu,
                device = info.mtu,
                used = mtu,
                "port {} keeps its device's mtu",
                p.name
            );
        }
        id.promiscuous_enable().map_err(port_err)?;
        id.start().map_err(port_err)?;
        if let Ok(link) = id.link() {
            info!(dpdk_port = id.0, driver = %info.driver, up = link.up, speed_mbps = link.speed_mbps, "port {} link", p.name);
        }
        let addrs: Vec<_> = p.addresses.iter().map(|a| (a.addr, a.len)).collect();
        let mut view = PortView::new(MacAddr(info.mac), mtu, &addrs);
        view.ra = p.ra.clone();
        view.accept_ra = p.accept_ra;
        Ok((view, info.rx_queues, info.tx_queues))
    }
}

impl Links for Ports {
    fn link(&self, port: usize) -> LinkState {
        let Some(&id) = self.ids.get(port) else {
            return LinkState::default();
        };
        let link = id.link().ok();
        LinkState {
            port_id: id.0,
            up: link.is_some_and(|l| l.up),
            speed_mbps: link.map_or(0, |l| l.speed_mbps),
            stats: id.stats().unwrap_or_default(),
            xstats: id.xstats().unwrap_or_default().into_iter().collect(),
        }
    }
}

impl Drop for Ports {
    fn drop(&mut self) {
        for id in self.ids.drain(..).rev() {
            // SAFETY: Ports is dropped after Launched (declared after it in run_on), so no
            // worker polls any port; the pool is declared before Ports and still alive.
            #[allow(unsafe_code)]
            let (stopped, closed) = unsafe { (id.stop(), id.close()) };
            for e in [stopped.err(), closed.err()].into_iter().flatten() {
                warn!(error = %e, "port {id} did not shut down cleanly");
            }
        }
    }
}

/// Duplicate Address Detection (RFC 4862 5.4) of every address of every port, once, before
/// the workers start, while this thread still holds all their queues: a probe for each
/// address, then RetransTimer of listening on every rx queue for a node that answers for
/// one or probes for it too. An address found held is refused: taken off its port, and
/// reported.
///
/// The probes go out at once rather than after the random delay of up to a second RFC
/// 4862 5.4.2 suggests against many nodes starting together; a router starts alone. A
/// refused link-local address made from the port's MAC stays, as the port has no other.
fn detect_duplicates(
    config: &Config,
    views: &mut [PortView],
    queues: &mut [Vec<(RxQueue, TxQueue)>],
    pool: &Mempool,
) -> Probed {
    let Some(first) = queues.first_mut() else {
        return Probed::default();
    };
    let probing = |p: usize| config.ports[p].nd.dad_transmits > 0;
    if !(0..views.len()).any(probing) {
        return Probed::default();
    }
    let transmits = config
        .ports
        .iter()
        .map(|p| p.nd.dad_transmits)
        .max()
        .unwrap_or(1);
    let mut sent_all = 0u64;
    for (p, view) in views.iter().enumerate().filter(|(p, _)| probing(*p)) {
        let mut batch = MbufBatch::default();
        let probes = view.addresses.len() * usize::from(config.ports[p].nd.dad_transmits);
        for addr in view.addresses.iter().cycle().take(probes) {
            let probe = Mbuf::alloc(pool).and_then(|mut m| {
                let len = dad::write_probe(m.buffer_mut()?, view.mac, addr)?;
                m.set_len(len).then_some(m)
            });
            if let Some(m) = probe {
                let _ = batch.push(m);
            }
        }
        let sent = batch.tx(&mut first[p].1);
        sent_all += sent as u64;
        if sent < probes {
            warn!(
                "port {}: {} of {probes} duplicate address probes not sent",
                config.ports[p].name,
                probes - sent,
            );
        }
    }
    // The probes go together rather than RetransTimer apart; the wait is as long as the
    // spaced ones would have taken.
    let wait = config
        .ports
        .iter()
        .map(|p| u64::from(p.nd.retrans_ms))
        .max()
        .unwrap_or(1000)
        * u64::from(transmits);
    let deadline = Instant::now() + Duration::from_millis(wait);
    let mut rx = RxBurst::default();
    let mut refused: Vec<(usize, Ipv6Addr)> = Vec::new();
    let mut frames = 0u64;
    while Instant::now() < deadline {
        for worker in queues.iter_mut() {
            // Only the probing ports' queues: the others' frames wait for the workers.
            for (p, (rxq, _)) in worker.iter_mut().enumerate().filter(|(p, _)| probing(*p)) {
                frames += rx.rx(rxq, BURST_MAX) as u64;
                for m in rx.by_ref() {
                    let view = &views[p];
                    if let Some(a) = dad::conflict(m.data(), &view.addresses, view.mac)
                        && !refused.contains(&(p, a))
                    {
                        refused.push((p, a));
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    if frames > 0 {
        info!(
            frames,
            "frames received while addresses were probed, before forwarding, dropped"
        );
    }
    for &(p, a) in &refused {
        let conf = &config.ports[p];
        error!(
            "port {}: address {a} is held by another node on the link (duplicate address \
             detection): refused",
            conf.name
        );
        let view = &mut views[p];
        let keep: Vec<(Ipv6Addr, u8)> = conf
            .addresses
            .iter()
            .filter(|x| !refused.contains(&(p, x.addr)))
            .map(|x| (x.addr, x.len))
            .collect();
        let mut fresh = PortView::new(view.mac, view.mtu, &keep);
        fresh.ra = view.ra.take();
        fresh.accept_ra = view.accept_ra;
        *view = fresh;
    }
    Probed {
        refused,
        frames,
        sent: sent_all,
    }
}

/// What Duplicate Address Detection found.
#[derive(Debug, Default)]
struct Probed {
    /// The refused addresses, as (port, address).
    refused: Vec<(usize, Ipv6Addr)>,
    /// Frames received meanwhile, dropped.
    frames: u64,
    /// Probes sent.
    sent: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = "workers = [1, 3]\n[[port]]\ndevice = \"net_null0,no-rx=1\"\n[[port]]\ndevice = \"0000:03:00.0\"\n";
        Config::parse(text, std::path::Path::new("t.toml")).unwrap()
    }

    #[test]
    fn eal_args_add_vdevs_and_cores() {
        let user: Vec<String> = vec!["--no-huge".into()];
        assert_eq!(
            eal_args(&config(), &user),
            [
                "v6fwd",
                "--vdev=net_null0,no-rx=1",
                "--no-huge",
                "-l",
                "0,1,3",
                "--main-lcore=0"
            ]
        );
    }

    #[test]
    fn eal_args_keep_the_users_cores() {
        for given in [
            "-l",
            "-l0-3",
            "-c0x3",
            "-c",
            "--lcores=0@0,1@1",
            "--main-lcore=2",
        ] {
            let args = eal_args(&config(), &[given.to_string()]);
            assert_eq!(args.last().unwrap(), given, "{given}");
        }
    }
}
