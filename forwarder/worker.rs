//! The polling worker: the one place where DPDK and the packet logic meet.
//!
//! A worker runs on its own lcore, polls its own rx queue on every port in bursts, runs each
//! packet through the [`Dataplane`] to completion, and sends on its own tx queue of each
//! port. It never blocks, takes no lock and allocates nothing per packet; its counters are
//! its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::counters::{CoreCounters, DropReason};
use crate::dataplane::{Core, Dataplane, IcmpLimits, Verdict};
use crate::ffi::{self, LcoreId, MbufBatch, RxBurst, RxQueue, TxQueue};

/// What one worker needs to run.
pub struct Worker {
    pub lcore: LcoreId,
    /// The worker's own rx and tx queue on each port, by configuration index.
    pub queues: Vec<(RxQueue, TxQueue)>,
    pub burst: usize,
    pub dataplane: Arc<Dataplane>,
    pub counters: Arc<CoreCounters>,
    pub icmp_limits: IcmpLimits,
    /// The time-stamp counter's frequency, for the worker's clock.
    pub tsc_hz: u64,
    pub stop: Arc<AtomicBool>,
}

impl Worker {
    /// Polls until `stop` is set. Returns 0, for `rte_eal_wait_lcore`.
    pub fn run(mut self) -> i32 {
        let mut rx = RxBurst::default();
        let mut tx: Vec<MbufBatch> = self.queues.iter().map(|_| MbufBatch::default()).collect();
        let mut queues = std::mem::take(&mut self.queues);
        let mut drops = MbufBatch::default();
        let mut core = Core::new(self.icmp_limits, Arc::clone(&self.counters));
        let ns_per_tick = 1e9 / self.tsc_hz.max(1) as f64;
        let start = ffi::rdtsc();
        let c = &*self.counters;

        while !self.stop.load(Ordering::Relaxed) {
            let mut received = 0;
            for index in 0..queues.len() {
                let n = rx.rx(&mut queues[index].0, self.burst);
                if n == 0 {
                    continue;
                }
                received += n;
                c.rx.add(n as u64);
                // The clock is read once per burst: ICMPv6 error pacing needs no finer time.
                core.now_ns = ((ffi::rdtsc() - start) as f64 * ns_per_tick) as u64;
                self.handle_burst(&mut core, index as u16, &mut rx, &mut tx, &mut drops);
                self.send(&mut queues, &mut tx);
            }
            if received == 0 {
                c.idle_polls.add(1);
            }
        }
        0
    }

    /// Runs one received burst through the dataplane, gathering what is to be sent in the
    /// per-port batches and freeing what is dropped.
    #[inline]
    fn handle_burst(
        &self,
        core: &mut Core,
        in_port: u16,
        rx: &mut RxBurst,
        tx: &mut [MbufBatch],
        drops: &mut MbufBatch,
    ) {
        let c = &*self.counters;
        let (mut forwarded, mut replied, mut errors) = (0u64, 0u64, 0u64);
        for mut m in rx.by_ref() {
            let seg_len = m.len();
            let pkt_len = m.pkt_len();
            let verdict = match m.buffer_mut() {
                Some(buf) => self.dataplane.handle(core, in_port, buf, seg_len, pkt_len),
                None => Verdict::Drop(DropReason::SharedBuffer),
            };
            let (out, len) = match verdict {
                Verdict::Forward { port, len } => (port, len),
                Verdict::Reply { len } => (in_port, len),
                Verdict::Error { port, len, reason } => {
                    c.drop_packet(reason);
                    (port, len)
                }
                Verdict::Drop(reason) => {
                    c.drop_packet(reason);
                    if let Err(m) = drops.push(m) {
                        drop(m);
                    }
                    continue;
                }
            };
            // Forwarded frames only shrink (padding); replies and errors may grow into the
            // tailroom, which the dataplane measured before writing.
            let resized = if len <= pkt_len {
                m.trim_to(len)
            } else {
                m.set_len(len)
            };
            if !resized {
                // An error that cannot be sent leaves its packet counted under its reason.
                if !matches!(verdict, Verdict::Error { .. }) {
                    c.drop_packet(DropReason::NoBufferRoom);
                }
                continue;
            }
            match verdict {
                Verdict::Forward { .. } => forwarded += 1,
                Verdict::Reply { .. } => replied += 1,
                _ => errors += 1,
            }
            if let Err(m) = tx[usize::from(out)].push(m) {
                // A batch holds a whole burst; this cannot happen while bursts are no
                // larger than BURST_MAX, which the configuration ensures.
                c.drop_packet(DropReason::TxFull);
                drop(m);
            }
        }
        c.forwarded.add(forwarded);
        c.replied.add(replied);
        c.icmp_errors.add(errors);
        drops.free();
    }

    /// Sends every gathered batch on this worker's tx queue of its port.
    #[inline]
    fn send(&self, queues: &mut [(RxQueue, TxQueue)], tx: &mut [MbufBatch]) {
        let c = &*self.counters;
        for ((_, queue), batch) in queues.iter_mut().zip(tx.iter_mut()) {
            let queued = batch.len();
            if queued == 0 {
                continue;
            }
            let sent = batch.tx(queue);
            c.tx.add(sent as u64);
            // Packets the queue refused were counted as forwarded, replied or sent as
            // errors; they are also counted here.
            if sent < queued {
                c.drop_packets(DropReason::TxFull, (queued - sent) as u64);
            }
        }
    }
}
