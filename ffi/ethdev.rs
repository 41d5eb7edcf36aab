//! Ethernet ports: configuration with N rx/tx queues and RSS, start and stop, counters.

use std::ffi::CString;
use std::fmt;
use std::mem::MaybeUninit;

use super::{DpdkError, Eal, Mempool, check, sys};

/// A DPDK ethdev port id. Prints as `port0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortId(pub u16);

impl fmt::Display for PortId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "port{}", self.0)
    }
}

/// A queue index on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId(pub u16);

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "q{}", self.0)
    }
}

/// The right to poll one rx queue. Made once per queue when its port is configured and
/// neither copied nor cloned; polling takes it by `&mut`, so one thread at a time polls a
/// queue, as DPDK requires.
#[derive(Debug)]
pub struct RxQueue {
    pub(crate) port: PortId,
    pub(crate) queue: QueueId,
}

/// The right to send on one tx queue, as [`RxQueue`] is for receiving.
#[derive(Debug)]
pub struct TxQueue {
    pub(crate) port: PortId,
    pub(crate) queue: QueueId,
}

impl fmt::Display for RxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/rxq{}", self.port, self.queue.0)
    }
}

impl fmt::Display for TxQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/txq{}", self.port, self.queue.0)
    }
}

/// How to set a port up.
#[derive(Debug, Clone)]
pub struct PortConfig {
    pub rx_queues: u16,
    pub tx_queues: u16,
    pub rx_descriptors: u16,
    pub tx_descriptors: u16,
    /// The IP MTU; `None` leaves the device's own.
    pub mtu: Option<u16>,
}

/// What a configured port reports about itself, and the handles of its queues.
#[derive(Debug)]
pub struct PortInfo {
    pub mac: [u8; 6],
    pub driver: String,
    pub socket: i32,
    /// The MTU the device runs with, after configuration.
    pub mtu: u16,
    pub rx_queues: Vec<RxQueue>,
    pub tx_queues: Vec<TxQueue>,
}

/// A port's hardware (or driver) counters, as `rte_eth_stats_get` gives them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PortStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_missed: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_nombuf: u64,
}

/// Link state, as `rte_eth_link_get_nowait` gives it.
#[derive(Debug, Clone, Copy)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
}

impl PortId {
    /// Finds a port by its device name: a vdev name (`net_af_packet0`) or a PCI address.
    ///
    /// # Errors
    /// Fails if no probed device has that name.
    pub fn by_name(_eal: &Eal, name: &str) -> Result<PortId, DpdkError> {
        let c = CString::new(name)
            .map_err(|_| DpdkError::new("rte_eth_dev_get_port_by_name", name, libc::EINVAL))?;
        let mut id = 0u16;
        // SAFETY: `c` is a valid C string and `id` a valid out-pointer, both live across
        // the call.
        let ret = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
        check("rte_eth_dev_get_port_by_name", name, ret)?;
        Ok(PortId(id))
    }

    /// Configures the port (`rte_eth_dev_configure`, MTU, queue setup) with `pool` feeding
    /// its rx queues. RSS over IPv6 addresses and ports is asked for when there is more
    /// than one rx queue, limited to the hash types the device offers.
    ///
    /// # Errors
    /// Fails if the device has fewer queues than asked for, or refuses a step.
    pub fn configure(
        self,
        _eal: &Eal,
        conf: &PortConfig,
        pool: &Mempool,
    ) -> Result<PortInfo, DpdkError> {
        let mut info = MaybeUninit::<sys::rte_eth_dev_info>::zeroed();
        // SAFETY: `info` is a writable rte_eth_dev_info; DPDK fills it for a valid port.
        let ret = unsafe { sys::rte_eth_dev_info_get(self.0, info.as_mut_ptr()) };
        check("rte_eth_dev_info_get", self, ret)?;
        // SAFETY: rte_eth_dev_info_get succeeded, so `info` is initialised (and zeroed
        // before, so every field is a valid value anyway).
        let info = unsafe { info.assume_init() };
        if conf.rx_queues > info.max_rx_queues || conf.tx_queues > info.max_tx_queues {
            return Err(DpdkError::new(
                "rte_eth_dev_configure",
                format_args!(
                    "{self}: {} rx and {} tx queues asked, device has {} and {}",
                    conf.rx_queues, conf.tx_queues, info.max_rx_queues, info.max_tx_queues
                ),
                libc::EINVAL,
            ));
        }

        let mut eth_conf = sys::rte_eth_conf::default();
        if conf.rx_queues > 1 {
            // The RTE_ETH_RSS_* masks are function-like macros that bindgen cannot
            // expand; each is the bit of its RTE_ETH_FLOW_* type.
            let wanted = [
                sys::RTE_ETH_FLOW_IPV6,
                sys::RTE_ETH_FLOW_FRAG_IPV6,
                sys::RTE_ETH_FLOW_NONFRAG_IPV6_TCP,
                sys::RTE_ETH_FLOW_NONFRAG_IPV6_UDP,
            ]
            .iter()
            .fold(0u64, |m, flow| m | 1u64 << flow);
            let offered = info.flow_type_rss_offloads & wanted;
            if offered != 0 {
                eth_conf.rxmode.mq_mode = sys::RTE_ETH_MQ_RX_RSS;
                eth_conf.rx_adv_conf.rss_conf.rss_hf = offered;
            }
        }
        // SAFETY: `eth_conf` is a valid configuration that outlives the call.
        let ret = unsafe {
            sys::rte_eth_dev_configure(self.0, conf.rx_queues, conf.tx_queues, &eth_conf)
        };
        check("rte_eth_dev_configure", self, ret)?;

        if let Some(mtu) = conf.mtu {
            // SAFETY: plain call on a configured port.
            let ret = unsafe { sys::rte_eth_dev_set_mtu(self.0, mtu) };
            // A virtual device that cannot change its MTU keeps its own; the caller reads
            // the MTU back below and decides.
            if ret < 0 && ret != -libc::ENOTSUP {
                return Err(DpdkError::new("rte_eth_dev_set_mtu", self, ret));
            }
        }

        let mut nb_rx = conf.rx_descriptors;
        let mut nb_tx = conf.tx_descriptors;
        // SAFETY: both pointers are valid for the call.
        let ret = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.0, &mut nb_rx, &mut nb_tx) };
        check("rte_eth_dev_adjust_nb_rx_tx_desc", self, ret)?;

        // SAFETY: plain query on a valid port.
        let socket = unsafe { sys::rte_eth_dev_socket_id(self.0) };
        let queue_socket = if socket < 0 {
            sys::SOCKET_ID_ANY
        } else {
            socket
        };
        for q in 0..conf.rx_queues {
            // SAFETY: the port is configured with this many queues; a null rxconf asks for
            // the defaults; `pool` is a live mbuf pool that outlives the port's use of it
            // (the caller stops the port before dropping the pool).
            let ret = unsafe {
                sys::rte_eth_rx_queue_setup(
                    self.0,
                    q,
                    nb_rx,
                    queue_socket as u32,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            check("rte_eth_rx_queue_setup", format_args!("{self}/rxq{q}"), ret)?;
        }
        for q in 0..conf.tx_queues {
            // SAFETY: as above, with a null txconf for the defaults.
            let ret = unsafe {
                sys::rte_eth_tx_queue_setup(self.0, q, nb_tx, queue_socket as u32, std::ptr::null())
            };
            check("rte_eth_tx_queue_setup", format_args!("{self}/txq{q}"), ret)?;
        }

        let mut mac = MaybeUninit::<sys::rte_ether_addr>::zeroed();
        // SAFETY: `mac` is a writable rte_ether_addr.
        let ret = unsafe { sys::rte_eth_macaddr_get(self.0, mac.as_mut_ptr()) };
        check("rte_eth_macaddr_get", self, ret)?;
        // SAFETY: filled by the successful call above (and zeroed before).
        let mac = unsafe { mac.assume_init() }.addr_bytes;

        let mut mtu = 0u16;
        // SAFETY: `mtu` is a valid out-pointer.
        let ret = unsafe { sys::rte_eth_dev_get_mtu(self.0, &mut mtu) };
        check("rte_eth_dev_get_mtu", self, ret)?;

        let driver = if info.driver_name.is_null() {
            String::from("unknown")
        } else {
            // SAFETY: DPDK's driver name is a static C string.
            unsafe { std::ffi::CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(PortInfo {
            mac,
            driver,
            socket,
            mtu,
            rx_queues: (0..conf.rx_queues)
                .map(|q| RxQueue {
                    port: self,
                    queue: QueueId(q),
                })
                .collect(),
            tx_queues: (0..conf.tx_queues)
                .map(|q| TxQueue {
                    port: self,
                    queue: QueueId(q),
                })
                .collect(),
        })
    }

    /// Receives every frame: a router must see frames for its own MAC and the multicast
    /// groups of Neighbor Discovery, and filters the rest itself.
    pub fn promiscuous_enable(self) -> Result<(), DpdkError> {
        // SAFETY: plain call on a valid port.
        let ret = unsafe { sys::rte_eth_promiscuous_enable(self.0) };
        if ret == -libc::ENOTSUP {
            // SAFETY: plain call on a valid port.
            let ret = unsafe { sys::rte_eth_allmulticast_enable(self.0) };
            return check("rte_eth_allmulticast_enable", self, ret);
        }
        check("rte_eth_promiscuous_enable", self, ret)
    }

    /// Starts the port (`rte_eth_dev_start`).
    pub fn start(self) -> Result<(), DpdkError> {
        // SAFETY: plain call on a configured port.
        let ret = unsafe { sys::rte_eth_dev_start(self.0) };
        check("rte_eth_dev_start", self, ret)
    }

    /// Stops the port (`rte_eth_dev_stop`). Once stopped, DPDK points the port's burst
    /// functions at stubs that move nothing, so a queue handle used afterwards is harmless.
    ///
    /// # Safety
    /// No thread may be polling or sending on the port's queues during the call: DPDK's
    /// stop is not synchronised with the data path.
    pub unsafe fn stop(self) -> Result<(), DpdkError> {
        // SAFETY: the caller guarantees that no thread uses the port's queues meanwhile.
        let ret = unsafe { sys::rte_eth_dev_stop(self.0) };
        check("rte_eth_dev_stop", self, ret)
    }

    /// Closes the port (`rte_eth_dev_close`), releasing its queues and their mbufs.
    ///
    /// # Safety
    /// As for [`PortId::stop`]; also, the mempool feeding the port must still be alive.
    pub unsafe fn close(self) -> Result<(), DpdkError> {
        // SAFETY: the caller guarantees that no thread uses the port and that its pool
        // is alive.
        let ret = unsafe { sys::rte_eth_dev_close(self.0) };
        check("rte_eth_dev_close", self, ret)
    }

    /// The port's basic counters.
    pub fn stats(self) -> Result<PortStats, DpdkError> {
        let mut s = MaybeUninit::<sys::rte_eth_stats>::zeroed();
        // SAFETY: `s` is a writable rte_eth_stats; DPDK reads the counters without
        // disturbing the queues, so any thread may call it.
        let ret = unsafe { sys::rte_eth_stats_get(self.0, s.as_mut_ptr()) };
        check("rte_eth_stats_get", self, ret)?;
        // SAFETY: filled by the successful call above (and zeroed before).
        let s = unsafe { s.assume_init() };
        Ok(PortStats {
            rx_packets: s.ipackets,
            tx_packets: s.opackets,
            rx_bytes: s.ibytes,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        })
    }

    /// The driver's extended statistics, by name.
    pub fn xstats(self) -> Result<Vec<(String, u64)>, DpdkError> {
        // SAFETY: a null array of size 0 asks only for the count.
        let n = unsafe { sys::rte_eth_xstats_get_names(self.0, std::ptr::null_mut(), 0) };
        check("rte_eth_xstats_get_names", self, n.min(0))?;
        let n = n as usize;
        let mut names = vec![sys::rte_eth_xstat_name::default(); n];
        let mut values = vec![sys::rte_eth_xstat::default(); n];
        // SAFETY: both arrays hold `n` writable elements, the size passed.
        let got = unsafe { sys::rte_eth_xstats_get_names(self.0, names.as_mut_ptr(), n as u32) };
        check("rte_eth_xstats_get_names", self, got.min(0))?;
        // SAFETY: as above.
        let vals = unsafe { sys::rte_eth_xstats_get(self.0, values.as_mut_ptr(), n as u32) };
        check("rte_eth_xstats_get", self, vals.min(0))?;
        // A count that grew between the calls leaves the rest out.
        let n = n.min(got as usize).min(vals as usize);
        Ok(values[..n]
            .iter()
            .filter_map(|v| {
                let bytes: Vec<u8> = names
                    .get(v.id as usize)?
                    .name
                    .iter()
                    .map(|c| *c as u8)
                    .collect();
                let text = std::ffi::CStr::from_bytes_until_nul(&bytes).ok()?;
                Some((text.to_string_lossy().into_owned(), v.value))
            })
            .collect())
    }

    /// The link state, without waiting for negotiation.
    pub fn link(self) -> Result<LinkStatus, DpdkError> {
        let mut l = MaybeUninit::<sys::rte_eth_link>::zeroed();
        // SAFETY: `l` is a writable rte_eth_link.
        let ret = unsafe { sys::rte_eth_link_get_nowait(self.0, l.as_mut_ptr()) };
        check("rte_eth_link_get_nowait", self, ret)?;
        // SAFETY: filled by the successful call above (and zeroed before).
        let l = unsafe { l.assume_init() };
        Ok(LinkStatus {
            up: l.link_status() != 0,
            speed_mbps: l.link_speed,
        })
    }
}
