//! Start-up and shut-down of the forwarder: EAL, mempool, ports and workers, built from a
//! validated configuration on the management thread (the EAL main lcore).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use crate::config::{Config, Device, MEMPOOL_CACHE};
use crate::counters::CoreCounters;
use crate::dataplane::{Dataplane, PortView};
use crate::ffi::{DpdkError, Eal, LcoreId, Mempool, PortConfig, PortId, QueueId};
use crate::neigh::NeighborTable;
use crate::report::{CoreReport, MempoolReport, PortReport, Report};
use crate::route::RouteTable;
use crate::wire::{MacAddr, ethernet};
use crate::worker::Worker;

/// Bytes before the packet data in each mbuf (DPDK's RTE_PKTMBUF_HEADROOM).
const MBUF_HEADROOM: u32 = 128;
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
    #[error("cannot catch SIGINT/SIGTERM: {0}")]
    Signal(std::io::Error),
}

/// The EAL arguments for `config`: the program name, a `--vdev` for each virtual device,
/// the user's arguments, and `-l` with the main lcore and the workers unless the user gave
/// a core list.
pub fn eal_args(config: &Config, user: &[String]) -> Vec<String> {
    let mut args = vec![String::from("v6fwd")];
    for p in &config.ports {
        if let Device::Vdev(v) = &p.device {
            args.push(format!("--vdev={v}"));
        }
    }
    args.extend(user.iter().cloned());
    let has_cores = user.iter().any(|a| {
        a == "-l" || a == "-c" || a.starts_with("--lcores") || a.starts_with("-l") && a.len() > 2
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
pub fn run(config: &Config, user_eal_args: &[String]) -> Result<Report, RunError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(RunError::Signal)?;
    }

    let eal = Eal::init(&eal_args(config, user_eal_args))?;
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
    let socket = eal.lcore_socket(workers[0]);
    let pool = Mempool::create(
        &eal,
        "v6fwd_mbufs",
        config.mbufs,
        MEMPOOL_CACHE.min(config.mbufs * 2 / 3),
        data_room as u16,
        socket,
    )?;

    let (ports, views) = match start_ports(&eal, config, &pool, workers.len() as u16) {
        Ok(p) => p,
        Err(e) => {
            drop(pool);
            eal.cleanup();
            return Err(e);
        }
    };

    let routes = {
        let neighbors = NeighborTable::new(&config.neighbors);
        RouteTable::build(&config.routes, |p, g| neighbors.lookup(p, g))
    };
    let dataplane = Arc::new(Dataplane::new(
        views,
        routes,
        NeighborTable::new(&config.neighbors),
    ));
    for (conf, view) in config.ports.iter().zip(dataplane.ports()) {
        let addrs: Vec<String> = view.addresses.iter().map(ToString::to_string).collect();
        info!(port = %conf.name, mac = %view.mac, mtu = view.mtu, addresses = %addrs.join(" "), "port ready");
    }
    info!(
        routes = dataplane.routes().routes().len(),
        neighbors = dataplane.neighbors().len(),
        "tables built"
    );

    let in_use_at_start = pool.in_use();
    let counters: Vec<Arc<CoreCounters>> = workers.iter().map(|_| Arc::default()).collect();
    let started = Instant::now();
    let mut launched = Vec::new();
    for (i, &lcore) in workers.iter().enumerate() {
        let w = Worker {
            lcore,
            queue: QueueId(i as u16),
            ports: ports.clone(),
            burst: usize::from(config.burst),
            dataplane: Arc::clone(&dataplane),
            counters: Arc::clone(&counters[i]),
            icmp_limits: config.icmp,
            tsc_hz: eal.tsc_hz(),
            stop: Arc::clone(&stop),
        };
        match eal.remote_launch(lcore, move || w.run()) {
            Ok(()) => launched.push(lcore),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                warn!(%lcore, error = %e, "worker launch failed, stopping");
                break;
            }
        }
    }
    if launched.len() == workers.len() {
        info!(workers = workers.len(), ports = ports.len(), "forwarding");
    }

    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
    }
    info!("stopping");
    for &lcore in &launched {
        let ret = eal.wait_lcore(lcore);
        if ret != 0 {
            warn!(%lcore, ret, "worker ended with an error");
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let in_use_at_exit = pool.in_use();
    let port_reports = config
        .ports
        .iter()
        .zip(&ports)
        .zip(dataplane.ports())
        .map(|((conf, id), view)| PortReport {
            name: conf.name.clone(),
            device: conf.device.name().to_owned(),
            port_id: id.0,
            mac: view.mac.to_string(),
            stats: id.stats().unwrap_or_default(),
        })
        .collect();
    let core_reports = workers
        .iter()
        .zip(&counters)
        .map(|(l, c)| CoreReport::new(l.0, c))
        .collect();
    let report = Report::new(
        seconds,
        port_reports,
        core_reports,
        MempoolReport {
            size: pool.size(),
            in_use_at_start,
            in_use_at_exit,
        },
    );

    stop_ports(&ports);
    drop(pool);
    eal.cleanup();
    Ok(report)
}

/// Finds, configures and starts every port; on failure, closes those already started.
fn start_ports(
    eal: &Eal,
    config: &Config,
    pool: &Mempool,
    queues: u16,
) -> Result<(Vec<PortId>, Vec<PortView>), RunError> {
    let mut ids: Vec<PortId> = Vec::new();
    let mut views = Vec::new();
    for p in &config.ports {
        let result = start_port(eal, config, p, pool, queues);
        match result {
            Ok((id, view)) => {
                ids.push(id);
                views.push(view);
            }
            Err(e) => {
                stop_ports(&ids);
                return Err(e);
            }
        }
    }
    Ok((ids, views))
}

fn start_port(
    eal: &Eal,
    config: &Config,
    p: &crate::config::PortConf,
    pool: &Mempool,
    queues: u16,
) -> Result<(PortId, PortView), RunError> {
    let port_err = |source| RunError::Port {
        name: p.name.clone(),
        source,
    };
    let id = PortId::by_name(eal, p.device.name()).map_err(|source| RunError::PortNotFound {
        name: p.name.clone(),
        device: p.device.name().to_owned(),
        source,
    })?;
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
    if info.mtu != p.mtu {
        warn!(port = %p.name, configured = p.mtu, device = info.mtu, "device keeps its own mtu");
    }
    id.promiscuous_enable().map_err(port_err)?;
    id.start().map_err(port_err)?;
    if let Ok(link) = id.link() {
        info!(port = %p.name, dpdk_port = id.0, driver = %info.driver, up = link.up, speed_mbps = link.speed_mbps, "link");
    }
    let addrs: Vec<_> = p.addresses.iter().map(|a| (a.addr, a.len)).collect();
    Ok((id, PortView::new(MacAddr(info.mac), p.mtu, &addrs)))
}

fn stop_ports(ports: &[PortId]) {
    for id in ports {
        if let Err(e) = id.stop() {
            warn!(port = %id, error = %e, "stop failed");
        }
        if let Err(e) = id.close() {
            warn!(port = %id, error = %e, "close failed");
        }
    }
}
