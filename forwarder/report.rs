//! The counters a run ends with: per port, per core and per drop reason, and the mempool's
//! balance. Printed as text on exit, or as JSON for scripts and tests.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::counters::{CoreCounters, DropReason, ND_TYPES};
use crate::ffi::PortStats;
use crate::neigh::cache::State;

#[derive(Debug, Clone, Serialize)]
pub struct PortReport {
    pub name: String,
    pub device: String,
    pub port_id: u16,
    pub mac: String,
    /// Addresses configured on the port that another node on its link holds, found by
    /// Duplicate Address Detection at start: not used.
    pub refused_addresses: Vec<String>,
    pub stats: PortStats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreReport {
    pub lcore: u32,
    pub rx: u64,
    pub forwarded: u64,
    pub replied: u64,
    pub tx: u64,
    pub icmp_errors: u64,
    pub icmp_rate_limited: u64,
    pub fragments_held: u64,
    pub answer_fragments: u64,
    pub reassembly_expired: u64,
    pub nd_consumed: u64,
    pub solicitations: u64,
    pub router_adverts: u64,
    pub redirects: u64,
    pub nd_messages_lost: u64,
    /// Neighbor Advertisements sent.
    pub advertisements: u64,
    /// Neighbor Discovery messages received, by type.
    pub nd_received: BTreeMap<String, u64>,
    /// The core's neighbor entries by state, as of its last pass over them.
    pub neighbors: BTreeMap<String, u64>,
    pub idle_polls: u64,
    /// Seconds spent in poll rounds that found packets, in rounds that found none, and
    /// asleep.
    pub busy_seconds: f64,
    pub empty_seconds: f64,
    pub sleep_seconds: f64,
    pub dropped: u64,
    /// Drops by reason; reasons with no drop are left out.
    pub drops: BTreeMap<String, u64>,
}

impl CoreReport {
    pub fn new(lcore: u32, c: &CoreCounters, tsc_hz: u64) -> CoreReport {
        let seconds = |cycles: u64| cycles as f64 / tsc_hz.max(1) as f64;
        CoreReport {
            lcore,
            rx: c.rx.get(),
            forwarded: c.forwarded.get(),
            replied: c.replied.get(),
            tx: c.tx.get(),
            icmp_errors: c.icmp_errors.get(),
            icmp_rate_limited: c.icmp_rate_limited.get(),
            fragments_held: c.fragments_held.get(),
            answer_fragments: c.answer_fragments.get(),
            reassembly_expired: c.reassembly_expired.get(),
            nd_consumed: c.nd_consumed.get(),
            solicitations: c.solicitations.get(),
            router_adverts: c.router_adverts.get(),
            redirects: c.redirects.get(),
            nd_messages_lost: c.nd_messages_lost.get(),
            advertisements: c.advertisements.get(),
            nd_received: ND_TYPES
                .iter()
                .zip(&c.nd_received)
                .map(|(t, n)| ((*t).to_owned(), n.get()))
                .collect(),
            neighbors: State::ALL
                .iter()
                .zip(&c.neighbors)
                .map(|(s, n)| (s.name().to_owned(), n.get()))
                .collect(),
            idle_polls: c.idle_polls.get(),
            busy_seconds: seconds(c.busy_cycles.get()),
            empty_seconds: seconds(c.empty_cycles.get()),
            sleep_seconds: seconds(c.sleep_cycles.get()),
            dropped: c.dropped_total(),
            drops: DropReason::ALL
                .iter()
                .map(|r| (r.name().to_owned(), c.dropped(*r)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }
}

/// Mbufs out of the pool when forwarding started and when it stopped. They differ only if
/// a packet was lost without being freed.
#[derive(Debug, Clone, Serialize)]
pub struct MempoolReport {
    pub size: u32,
    pub in_use_at_start: u32,
    pub in_use_at_exit: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub seconds: f64,
    pub ports: Vec<PortReport>,
    pub cores: Vec<CoreReport>,
    /// Drops by reason over all cores, every reason listed.
    pub drops: BTreeMap<&'static str, u64>,
    pub mempool: MempoolReport,
    /// Frames the ports received while the router probed its addresses, before the
    /// workers started: dropped, and counted by no core.
    pub received_before_forwarding: u64,
    /// Duplicate Address Detection probes sent, by no core.
    pub address_probes: u64,
}

impl Report {
    pub fn new(
        seconds: f64,
        ports: Vec<PortReport>,
        cores: Vec<CoreReport>,
        mempool: MempoolReport,
        received_before_forwarding: u64,
        address_probes: u64,
    ) -> Report {
        let mut drops: BTreeMap<&'static str, u64> =
            DropReason::ALL.iter().map(|r| (r.name(), 0)).collect();
        for c in &cores {
            for (name, n) in &c.drops {
                if let Some(total) = drops.get_mut(name.as_str()) {
                    *total += n;
                }
            }
        }
        Report {
            seconds,
            ports,
            cores,
            drops,
            mempool,
            received_before_forwarding,
            address_probes,
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "v6fwd ran {:.1} s", self.seconds)?;
        writeln!(
            f,
            "{:<10} {:<20} {:>12} {:>12} {:>14} {:>14} {:>8} {:>8} {:>8}",
            "port",
            "mac",
            "rx_packets",
            "tx_packets",
            "rx_bytes",
            "tx_bytes",
            "missed",
            "rx_err",
            "tx_err"
        )?;
        for p in &self.ports {
            let s = &p.stats;
            writeln!(
                f,
                "{:<10} {:<20} {:>12} {:>12} {:>14} {:>14} {:>8} {:>8} {:>8}",
                p.name,
                p.mac,
                s.rx_packets,
                s.tx_packets,
                s.rx_bytes,
                s.tx_bytes,
                s.rx_missed,
                s.rx_errors,
                s.tx_errors
            )?;
        }
        writeln!(
            f,
            "{:<10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
            "core", "rx", "forwarded", "replied", "tx", "dropped", "icmp_errors", "rate_limited"
        )?;
        for c in &self.cores {
            writeln!(
                f,
                "{:<10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}",
                format!("lcore{}", c.lcore),
                c.rx,
                c.forwarded,
                c.replied,
                c.tx,
                c.dropped,
                c.icmp_errors,
                c.icmp_rate_limited
            )?;
        }
        writeln!(
            f,
            "{:<10} {:>12} {:>12} {:>12}",
            "core", "busy_s", "empty_s", "asleep_s"
        )?;
        for c in &self.cores {
            writeln!(
                f,
                "{:<10} {:>12.3} {:>12.3} {:>12.3}",
                format!("lcore{}", c.lcore),
                c.busy_seconds,
                c.empty_seconds,
                c.sleep_seconds
            )?;
        }
        writeln!(f, "drops by reason:")?;
        for (name, n) in self.drops.iter().filter(|(_, n)| **n > 0) {
            writeln!(f, "  {name:<24} {n:>12}")?;
        }
        if self.drops.values().all(|n| *n == 0) {
            writeln!(f, "  none")?;
        }
        if self.received_before_forwarding > 0 {
            writeln!(
                f,
                "received while the addresses were probed, before forwarding: {}",
                self.received_before_forwarding
            )?;
        }
        write!(
            f,
            "mempool: {} mbufs, {} in use at start, {} at exit",
            self.mempool.size, self.mempool.in_use_at_start, self.mempool.in_use_at_exit
        )
    }
}
