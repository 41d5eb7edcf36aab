//! The polling worker: the one place where DPDK and the packet logic meet.
//!
//! A worker runs on its own lcore, polls its own rx queue on every port in bursts, runs each
//! packet through the [`Dataplane`] to completion, and sends on its own tx queue of each
//! port. It never blocks, takes no lock and allocates nothing per packet; its counters are
//! its own. It owns a share of the neighbor entries (a [`Cache`]) and runs their timers;
//! between bursts it exchanges with the other workers what each needs of the others'
//! entries.

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::counters::{CoreCounters, DropReason};
use std::time::Duration;

use crate::advert::Schedule;
use crate::dataplane::{
    AnswerAt, Core, Dataplane, DataplaneCell, IcmpLimits, Verdict, destination_key,
};
use crate::ffi::{self, BURST_MAX, Mbuf, MbufBatch, Mempool, RxBurst, RxQueue, TxQueue};
use crate::fib::Leaf;
use crate::neigh::cache::{Action, Cache, Limits, Output as Resolution, Refusal, Timers};
use crate::neigh::{Event, Exchange, Listing, Message, ReachabilityChange, RouterReport, dad};
use crate::polling::{Backoff, PollMode};
use crate::wire::{ethernet, fragment};

/// What one worker needs to run.
pub struct Worker {
    /// The worker's own rx and tx queue on each port, by configuration index.
    pub queues: Vec<(RxQueue, TxQueue)>,
    pub burst: usize,
    /// The ports, addresses and static neighbors the worker forwards with: the latest
    /// that `published` holds, taken between poll rounds.
    pub dataplane: Arc<Dataplane>,
    pub published: Arc<DataplaneCell>,
    pub counters: Arc<CoreCounters>,
    pub icmp_limits: IcmpLimits,
    /// The time-stamp counter's frequency, for the worker's clock.
    pub tsc_hz: u64,
    pub polling: PollMode,
    /// The pool answers sent in fragments take their buffers from.
    pub pool: Arc<Mempool>,
    pub stop: Arc<AtomicBool>,
    /// This worker's index among the workers, and what they share of neighbors.
    pub index: usize,
    pub exchange: Arc<Exchange<Pending>>,
    /// Neighbor Discovery's timers per port, and the bounds of this worker's cache.
    pub nd_timers: Vec<Timers>,
    pub nd_limits: Limits,
}

/// A packet waiting for the link-layer address of its next hop: as it came in, on port
/// `in_port`, `len` bytes long.
pub struct Pending {
    m: Mbuf,
    in_port: u16,
    len: usize,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "packet from port {} of {} bytes", self.in_port, self.len)
    }
}

/// Messages a worker takes from its inbox per round, so that a flood from other cores
/// cannot keep it from its own queues.
const INBOX_PER_ROUND: usize = 256;
/// Neighbor entries the collection of idle ones looks at per millisecond: a million
/// entries are gone through in about a minute, and a round costs the same whatever
/// their number.
const COLLECT_PER_MS: usize = 16;
const MS: u64 = 1_000_000;
/// Neighbor cache slots a worker lists per millisecond when asked: a listing costs it a
/// few microseconds a round, and a full cache of 65,536 slots is listed in 64 ms.
const LIST_PER_MS: usize = 1024;

impl Worker {
    /// Polls until `stop` is set. Returns 0, for `rte_eal_wait_lcore`.
    pub fn run(mut self) -> i32 {
        let mut rx = RxBurst::default();
        let mut queues = std::mem::take(&mut self.queues);
        let mut out = Output {
            tx: queues.iter().map(|_| MbufBatch::default()).collect(),
            drops: MbufBatch::default(),
            // The most fragments a 65,535-byte answer takes at the 1280-byte minimum MTU.
            pieces: Vec::with_capacity(64),
        };
        let start = ffi::rdtsc();
        let mut core = Core::new(
            self.icmp_limits,
            Arc::clone(&self.counters),
            self.dataplane.fib_reader(),
        );
        let ns_per_tick = 1e9 / self.tsc_hz.max(1) as f64;
        let mut cache: Cache<Pending> =
            Cache::new(std::mem::take(&mut self.nd_timers), self.nd_limits, 0);
        // The first worker sends the Router Advertisements of every port that makes them.
        let mut adverts: Vec<Option<Schedule>> = self
            .dataplane
            .ports()
            .iter()
            .map(|p| {
                p.ra.as_ref()
                    .filter(|_| self.index == 0)
                    .map(|conf| Schedule::new(conf, 0))
            })
            .collect();
        let mut backoff = Backoff::new(self.polling);
        if matches!(self.polling, PollMode::Adaptive { .. }) {
            precise_sleeps();
        }
        let c = &*self.counters;
        let mut round_start = start;
        let mut seen = self.published.version();

        while !self.stop.load(Ordering::Relaxed) {
            // New addresses or static neighbors, if the management thread published any.
            let version = self.published.version();
            if version != seen {
                seen = version;
                self.dataplane = self.published.load();
            }
            let mut received = 0;
            for index in 0..queues.len() {
                let n = rx.rx(&mut queues[index].0, self.burst);
                if n == 0 {
                    continue;
                }
                received += n;
                c.rx.add(n as u64);
                // The clock is read once per burst: ICMPv6 error pacing and reassembly
                // timeouts need no finer time.
                core.now_ns = ((ffi::rdtsc() - start) as f64 * ns_per_tick) as u64;
                // A new routing table, if one was published, is taken between bursts.
                core.fib.refresh();
                self.handle_burst(
                    &mut core,
                    &mut cache,
                    index as u16,
                    &mut rx,
                    &mut queues,
                    &mut out,
                );
                out.drops.free();
                self.send(&mut queues, &mut out.tx);
            }
            core.now_ns = ((ffi::rdtsc() - start) as f64 * ns_per_tick) as u64;
            received +=
                self.neighbor_round(&mut core, &mut cache, &mut adverts, &mut queues, &mut out);
            out.drops.free();
            self.send(&mut queues, &mut out.tx);
            let now = ffi::rdtsc();
            if received == 0 {
                c.idle_polls.add(1);
                c.empty_cycles.add(now - round_start);
            } else {
                c.busy_cycles.add(now - round_start);
            }
            round_start = now;

            // Of the core's timers only the neighbors' must fire by themselves: reassembly
            // expiry and the error budget are brought up to date when the next packet comes.
            let ra_due = adverts.iter().flatten().map(Schedule::next).min();
            let due = match (cache.next_due(), ra_due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
            .map(|t| t.saturating_sub(core.now_ns));
            let sleep_ns = backoff.after_round(received, due);
            if sleep_ns > 0 {
                std::thread::sleep(Duration::from_nanos(sleep_ns));
                round_start = ffi::rdtsc();
                c.sleep_cycles.add(round_start - now);
            }
        }
        // What still waits for resolution here goes with the worker.
        let left = cache.take_queued().len() as u64;
        c.drop_packets(DropReason::NdAbandoned, left);
        // RFC 4861 6.2.5: a port that stops advertising says so, with a lifetime of 0.
        for (port, _) in adverts.iter().enumerate().filter(|(_, s)| s.is_some()) {
            self.send_router_advert(port as u16, Some(0), &mut queues, &mut out);
        }
        self.send(&mut queues, &mut out.tx);
        0
    }

    /// Sends the Redirect `r` about the packet in `m`, which is to be forwarded.
    #[cold]
    #[inline(never)]
    fn send_redirect(
        &self,
        r: &crate::dataplane::Redirect,
        m: &Mbuf,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) {
        let packet = m.data().get(ethernet::HEADER_LEN..).unwrap_or_default();
        let made = Mbuf::alloc(&self.pool).and_then(|mut n| {
            let len = self.dataplane.write_redirect(n.buffer_mut()?, r, packet)?;
            n.set_len(len).then_some(n)
        });
        match made {
            Some(n) => {
                self.counters.redirects.add(1);
                self.queue(r.port, n, queues, out);
            }
            None => self.counters.nd_messages_lost.add(1),
        }
    }

    /// Sends a Duplicate Address Detection probe for `addr` out of `port`.
    #[cold]
    fn send_probe(
        &self,
        port: u16,
        addr: Ipv6Addr,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) {
        let Some(mac) = self.dataplane.ports().get(usize::from(port)).map(|p| p.mac) else {
            return;
        };
        let made = Mbuf::alloc(&self.pool).and_then(|mut m| {
            let len = dad::write_probe(m.buffer_mut()?, mac, &addr)?;
            m.set_len(len).then_some(m)
        });
        match made {
            Some(m) => {
                self.counters.solicitations.add(1);
                self.queue(port, m, queues, out);
            }
            None => self.counters.nd_messages_lost.add(1),
        }
    }

    /// Sends port `port`'s Router Advertisement, with its lifetime or `lifetime_s`.
    fn send_router_advert(
        &self,
        port: u16,
        lifetime_s: Option<u16>,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) {
        let made = Mbuf::alloc(&self.pool).and_then(|mut m| {
            let len = self
                .dataplane
                .write_router_advert(m.buffer_mut()?, port, lifetime_s)?;
            m.set_len(len).then_some(m)
        });
        match made {
            Some(m) => {
                self.counters.router_adverts.add(1);
                self.queue(port, m, queues, out);
            }
            None => self.counters.nd_messages_lost.add(1),
        }
    }

    /// The neighbor work of one poll round: hands what the packets told of neighbors to
    /// the entries' owners, takes this worker's inbox, runs its entries' timers and
    /// carries out what they decided. Returns how many things it did, for the back-off.
    fn neighbor_round(
        &self,
        core: &mut Core,
        cache: &mut Cache<Pending>,
        adverts: &mut [Option<Schedule>],
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) -> usize {
        let c = &*self.counters;
        let ex = &*self.exchange;
        let now = core.now_ns;
        let mut work = core.nd_events.len();
        let mut events = std::mem::take(&mut core.nd_events);
        for ev in events.drain(..) {
            match ev {
                Event::RouterSolicit { port } => {
                    self.router_solicited(adverts, port, now);
                    continue;
                }
                Event::Duplicate { port, addr } => {
                    if !ex.report_duplicate(port, addr) {
                        c.nd_messages_lost.add(1);
                    }
                    continue;
                }
                _ => {}
            }
            let (port, addr) = ev.key();
            let owner = ex.owner(port, &addr);
            if owner == self.index {
                apply(cache, ev, now);
            } else if ex.send(owner, Message::Event(ev)).is_err() {
                c.nd_messages_lost.add(1);
            }
        }
        core.nd_events = events;
        for (port, router, advert) in core.router_adverts.drain(..) {
            work += 1;
            let report = RouterReport {
                port,
                router,
                advert,
            };
            if !ex.report_router(report) {
                c.nd_messages_lost.add(1);
            }
        }

        for _ in 0..INBOX_PER_ROUND {
            let Some(msg) = ex.receive(self.index) else {
                break;
            };
            work += 1;
            match msg {
                Message::Resolve { port, addr, packet } => {
                    self.resolve_here(cache, port, addr, now, packet, queues, out);
                }
                Message::Event(Event::RouterSolicit { port }) => {
                    self.router_solicited(adverts, port, now)
                }
                Message::Event(ev) => apply(cache, ev, now),
                Message::Publish {
                    port,
                    addr,
                    lladdr,
                    state,
                    reachable_until,
                } => core
                    .neighbors
                    .publish(port, addr, lladdr, state, reachable_until),
                Message::Forget { port, addr } => core.neighbors.forget(port, &addr),
                Message::Flush { port, addr } => {
                    let (waiting, _) = cache.forget_entries(port, addr);
                    c.drop_packets(DropReason::NdAbandoned, waiting.len() as u64);
                    for p in waiting {
                        out.free(p.m);
                    }
                }
                Message::Probe { port, addr, count } => {
                    for _ in 0..count {
                        self.send_probe(port, addr, queues, out);
                    }
                }
            }
        }

        for (port, schedule) in adverts.iter_mut().enumerate() {
            if let Some(s) = schedule.as_mut().filter(|s| s.due(now)) {
                s.sent(now);
                self.send_router_advert(port as u16, None, queues, out);
                work += 1;
            }
        }

        cache.advance(now);
        if now >= core.next_collect {
            cache.collect(now, COLLECT_PER_MS);
            core.next_collect = now + MS;
            for (gauge, n) in c.neighbors.iter().zip(cache.census()) {
                gauge.set(n);
            }
            // A listing the management thread asked for, a part per millisecond; a newer
            // request starts it again.
            let asked = ex.listing_asked();
            if asked != core.listed {
                let from = match core.listing {
                    Some((a, from)) if a == asked => from,
                    _ => 0,
                };
                let (entries, next) = cache.list_from(from, LIST_PER_MS, now);
                let part = Listing {
                    core: self.index,
                    asked,
                    entries,
                    last: next.is_none(),
                };
                // A part the queue has no room for is made again next time.
                core.listing = Some((asked, from));
                if ex.give_listing(part) {
                    match next {
                        Some(n) => core.listing = Some((asked, n)),
                        None => {
                            core.listed = asked;
                            core.listing = None;
                        }
                    }
                }
            }
        }
        let mut actions: Vec<Action<Pending>> = cache.actions().collect();
        work += actions.len();
        for action in actions.drain(..) {
            self.carry_out(core, action, queues, out);
        }
        work
    }

    /// A Router Solicitation on `port`: the first worker brings the port's next
    /// advertisement forward; another passes it on to the first.
    fn router_solicited(&self, adverts: &mut [Option<Schedule>], port: u16, now: u64) {
        if self.index == 0 {
            if let Some(Some(s)) = adverts.get_mut(usize::from(port)) {
                s.solicited(now);
            }
        } else if self
            .exchange
            .send(0, Message::Event(Event::RouterSolicit { port }))
            .is_err()
        {
            self.counters.nd_messages_lost.add(1);
        }
    }

    /// Carries out one decision of this worker's neighbor entries.
    fn carry_out(
        &self,
        core: &mut Core,
        action: Action<Pending>,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) {
        let c = &*self.counters;
        let ex = &*self.exchange;
        match action {
            Action::Solicit { port, target, to } => {
                let sent = Mbuf::alloc(&self.pool).and_then(|mut m| {
                    let len =
                        self.dataplane
                            .write_solicitation(m.buffer_mut()?, port, &target, to)?;
                    m.set_len(len).then_some(m)
                });
                match sent {
                    Some(m) => {
                        c.solicitations.add(1);
                        self.queue(port, m, queues, out);
                    }
                    None => c.nd_messages_lost.add(1),
                }
            }
            Action::Send {
                port,
                lladdr,
                packet,
            } => {
                let Pending { mut m, len, .. } = packet;
                match m.buffer_mut() {
                    Some(buf) => self.dataplane.finish_forward(buf, port, lladdr),
                    None => {
                        c.drop_packet(DropReason::SharedBuffer);
                        out.free(m);
                        return;
                    }
                }
                if !m.trim_to(len) {
                    c.drop_packet(DropReason::NoBufferRoom);
                    return;
                }
                c.forwarded.add(1);
                self.queue(port, m, queues, out);
            }
            Action::Unreachable { packet, .. } => {
                let Pending {
                    mut m,
                    in_port,
                    len,
                } = packet;
                let pkt_len = m.pkt_len();
                let verdict = match m.buffer_mut() {
                    Some(buf) => self.dataplane.address_unreachable(core, buf, in_port, len),
                    None => Verdict::Drop(DropReason::NoNeighbor),
                };
                match verdict {
                    Verdict::Error { port, len, reason } => {
                        c.drop_packet(reason);
                        let resized = if len <= pkt_len {
                            m.trim_to(len)
                        } else {
                            m.set_len(len)
                        };
                        if resized {
                            c.icmp_errors.add(1);
                            self.queue(port, m, queues, out);
                        }
                    }
                    Verdict::Drop(reason) => {
                        c.drop_packet(reason);
                        out.free(m);
                    }
                    _ => {
                        c.drop_packet(DropReason::NoNeighbor);
                        out.free(m);
                    }
                }
            }
            Action::Publish {
                port,
                addr,
                lladdr,
                state,
                reachable_until,
            } => {
                core.neighbors
                    .publish(port, addr, lladdr, state, reachable_until);
                for other in (0..ex.cores()).filter(|&k| k != self.index) {
                    let msg = Message::Publish {
                        port,
                        addr,
                        lladdr,
                        state,
                        reachable_until,
                    };
                    if ex.send(other, msg).is_err() {
                        c.nd_messages_lost.add(1);
                    }
                }
            }
            Action::Forget { port, addr } => {
                core.neighbors.forget(port, &addr);
                for other in (0..ex.cores()).filter(|&k| k != self.index) {
                    if ex.send(other, Message::Forget { port, addr }).is_err() {
                        c.nd_messages_lost.add(1);
                    }
                }
            }
            Action::Reachability {
                port,
                addr,
                reachability,
                router,
            } => {
                let change = ReachabilityChange {
                    port,
                    addr,
                    reachability,
                    router,
                };
                if !ex.report(change) {
                    c.nd_messages_lost.add(1);
                }
            }
        }
    }

    /// A packet whose next hop `addr` on `port` has no usable copy here: to the entry's
    /// owner, which may be this worker.
    #[allow(clippy::too_many_arguments)]
    fn resolve(
        &self,
        cache: &mut Cache<Pending>,
        port: u16,
        addr: std::net::Ipv6Addr,
        now: u64,
        packet: Pending,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) {
        let owner = self.exchange.owner(port, &addr);
        if owner == self.index {
            self.resolve_here(cache, port, addr, now, packet, queues, out);
        } else if let Err(Message::Resolve { packet, .. }) = self
            .exchange
            .send(owner, Message::Resolve { port, addr, packet })
        {
            self.counters.drop_packet(DropReason::NdHandoffFull);
            out.free(packet.m);
        }
    }

    /// A packet to `addr` on `port`, whose entry this worker owns.
    #[allow(clippy::too_many_arguments)]
    fn resolve_here(
        &self,
        cache: &mut Cache<Pending>,
        port: u16,
        addr: std::net::Ipv6Addr,
        now: u64,
        packet: Pending,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) {
        let c = &*self.counters;
        match cache.output(port, addr, now, packet) {
            Resolution::Send(lladdr, Pending { mut m, len, .. }) => {
                match m.buffer_mut() {
                    Some(buf) => self.dataplane.finish_forward(buf, port, lladdr),
                    None => {
                        c.drop_packet(DropReason::SharedBuffer);
                        out.free(m);
                        return;
                    }
                }
                if m.trim_to(len) {
                    c.forwarded.add(1);
                    self.queue(port, m, queues, out);
                } else {
                    c.drop_packet(DropReason::NoBufferRoom);
                }
            }
            Resolution::Queued(None) => {}
            Resolution::Queued(Some(old)) => {
                c.drop_packet(DropReason::NdQueueOverflow);
                out.free(old.m);
            }
            Resolution::Refused(p, why) => {
                c.drop_packet(match why {
                    Refusal::TooManyIncomplete => DropReason::NdIncompleteLimit,
                    Refusal::SolicitRateLimited => DropReason::NdSolicitRate,
                    Refusal::Full => DropReason::NdTableFull,
                });
                out.free(p.m);
            }
        }
    }

    /// Runs one received burst through the dataplane, gathering what is to be sent in the
    /// per-port batches and what is dropped in the drop batch.
    #[inline]
    fn handle_burst(
        &self,
        core: &mut Core,
        cache: &mut Cache<Pending>,
        in_port: u16,
        rx: &mut RxBurst,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) {
        let c = &*self.counters;
        let (mut forwarded, mut replied, mut errors) = (0u64, 0u64, 0u64);

        // A large table's lookups for the whole burst together, so that their cache misses
        // overlap. Otherwise the keys stay 0, the unspecified address, which no forwarded
        // packet has: each packet is looked up on its own.
        let mut keys = [0u128; BURST_MAX];
        let mut leaves = [0 as Leaf; BURST_MAX];
        if core.fib.fib().walk_in_rounds() {
            let mut n = 0;
            for (key, frame) in keys.iter_mut().zip(rx.pending()) {
                *key = destination_key(frame);
                n += 1;
            }
            core.fib.fib().lookup_many(&keys[..n], &mut leaves[..n]);
        }

        for (i, mut m) in rx.by_ref().enumerate() {
            core.route_hint = (keys[i], leaves[i]);
            let seg_len = m.len();
            let pkt_len = m.pkt_len();
            let verdict = match m.buffer_mut() {
                Some(buf) => self.dataplane.handle(core, in_port, buf, seg_len, pkt_len),
                None => Verdict::Drop(DropReason::SharedBuffer),
            };
            let (port, len) = match verdict {
                Verdict::Forward { port, len } => (port, len),
                Verdict::Reply { len } => (in_port, len),
                Verdict::Error { port, len, reason } => {
                    c.drop_packet(reason);
                    (port, len)
                }
                Verdict::Drop(reason) => {
                    c.drop_packet(reason);
                    out.free(m);
                    continue;
                }
                Verdict::Held => {
                    c.fragments_held.add(1);
                    out.free(m);
                    continue;
                }
                Verdict::Consumed => {
                    c.nd_consumed.add(1);
                    out.free(m);
                    continue;
                }
                Verdict::Unresolved { port, len } => {
                    let packet = Pending { m, in_port, len };
                    let (addr, now) = (core.unresolved, core.now_ns);
                    self.resolve(cache, port, addr, now, packet, queues, out);
                    continue;
                }
                Verdict::Reassembled { port, reason } => {
                    out.free(m);
                    let Some(AnswerAt { slot, start, len }) = core.answer.take() else {
                        continue;
                    };
                    if let Some(reason) = reason {
                        c.drop_packet(reason);
                    }
                    let id = core.next_fragment_id();
                    let frame = &core.reassembly.buffer_mut(slot)[start..start + len];
                    let sent = self.send_in_fragments(port, frame, id, queues, out);
                    core.reassembly.release(slot);
                    // An answer that could not be had leaves the packet counted once: under
                    // its reason, or as the buffers it lacked.
                    match (sent, reason) {
                        (true, Some(_)) => errors += 1,
                        (true, None) => replied += 1,
                        (false, Some(_)) => {}
                        (false, None) => c.drop_packet(DropReason::MempoolEmpty),
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
            if let Some(r) = core.redirect.take() {
                self.send_redirect(&r, &m, queues, out);
            }
            self.queue(port, m, queues, out);
        }
        c.forwarded.add(forwarded);
        c.replied.add(replied);
        c.icmp_errors.add(errors);
    }

    /// Adds a packet to its port's batch.
    #[inline(always)]
    fn queue(&self, port: u16, m: Mbuf, queues: &mut [(RxQueue, TxQueue)], out: &mut Output) {
        let p = usize::from(port);
        if let Err(m) = out.tx[p].push(m) {
            self.queue_full(p, m, queues, out);
        }
    }

    /// Sends a full batch, then adds the packet to it. Only answers sent in fragments fill
    /// a batch: a burst alone never does.
    #[cold]
    fn queue_full(&self, p: usize, m: Mbuf, queues: &mut [(RxQueue, TxQueue)], out: &mut Output) {
        self.send_one(&mut queues[p].1, &mut out.tx[p]);
        if let Err(m) = out.tx[p].push(m) {
            self.counters.drop_packet(DropReason::TxFull);
            drop(m);
        }
    }

    /// Sends a frame the router made itself, which may exceed the port's MTU, in new
    /// buffers: whole if it fits, else in fragments (RFC 8200 section 4.5). Every buffer is
    /// had before any is queued, so an answer goes out whole or not at all. Returns
    /// whether it went out.
    #[cold]
    #[inline(never)]
    fn send_in_fragments(
        &self,
        port: u16,
        frame: &[u8],
        id: u32,
        queues: &mut [(RxQueue, TxQueue)],
        out: &mut Output,
    ) -> bool {
        let Some(view) = self.dataplane.ports().get(usize::from(port)) else {
            return false;
        };
        let mtu = usize::from(view.mtu);
        let (eth, packet) = frame.split_at(ethernet::HEADER_LEN);
        let pieces = &mut out.pieces;
        pieces.clear();
        let whole = if packet.len() <= mtu {
            self.copy_out(&[eth, packet])
                .map(|m| pieces.push(m))
                .is_some()
        } else {
            fragment::split(packet, mtu, id).all(|(header, range)| {
                pieces.len() < pieces.capacity()
                    && self
                        .copy_out(&[eth, &header, &packet[range]])
                        .map(|m| pieces.push(m))
                        .is_some()
            })
        };
        if !whole {
            pieces.clear();
            return false;
        }
        self.counters
            .answer_fragments
            .add(out.pieces.len() as u64 - 1);
        let mut pieces = std::mem::take(&mut out.pieces);
        for m in pieces.drain(..) {
            self.queue(port, m, queues, out);
        }
        out.pieces = pieces;
        true
    }

    /// A new buffer holding `parts` end to end, or `None` if the pool is empty or the
    /// buffer too small.
    fn copy_out(&self, parts: &[&[u8]]) -> Option<Mbuf> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        let mut m = Mbuf::alloc(&self.pool)?;
        if !m.set_len(len) {
            return None;
        }
        let buf = m.buffer_mut()?;
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        Some(m)
    }

    /// Sends every gathered batch on this worker's tx queue of its port.
    #[inline]
    fn send(&self, queues: &mut [(RxQueue, TxQueue)], tx: &mut [MbufBatch]) {
        for ((_, queue), batch) in queues.iter_mut().zip(tx.iter_mut()) {
            self.send_one(queue, batch);
        }
    }

    #[inline]
    fn send_one(&self, queue: &mut TxQueue, batch: &mut MbufBatch) {
        let queued = batch.len();
        if queued == 0 {
            return;
        }
        let sent = batch.tx(queue);
        self.counters.tx.add(sent as u64);
        // Packets the queue refused were counted as forwarded, replied or sent as
        // errors; they are also counted here.
        if sent < queued {
            self.counters
                .drop_packets(DropReason::TxFull, (queued - sent) as u64);
        }
    }
}

/// A worker's outgoing batches: one per port, one of buffers to free, and room for the
/// pieces of an answer sent in fragments.
struct Output {
    tx: Vec<MbufBatch>,
    drops: MbufBatch,
    pieces: Vec<Mbuf>,
}

impl Output {
    /// Frees a buffer with the burst's others.
    #[inline]
    fn free(&mut self, m: Mbuf) {
        if let Err(m) = self.drops.push(m) {
            drop(m);
        }
    }
}

/// Lets the calling thread's short sleeps end on time: Linux stretches each sleep by the
/// thread's timer slack, 50 µs by default, which would double the back-off's bound.
fn precise_sleeps() {
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes a plain integer and changes only the calling
    // thread's timer slack; no memory is passed.
    #[allow(unsafe_code)]
    let ret = unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    if ret != 0 {
        tracing::warn!("worker timer slack stays at its default: sleeps may run 50 us long");
    }
}

/// Gives an event to the entry it is about, which this worker owns.
fn apply(cache: &mut Cache<Pending>, ev: Event, now: u64) {
    match ev {
        Event::Advert { port, advert } => cache.on_advert(port, &advert, now),
        Event::Source {
            port,
            addr,
            lladdr,
            from,
        } => cache.on_source(port, addr, lladdr, from, now),
        Event::Used { port, addr } => cache.touch(port, addr, now),
        // Handled before: neither is a neighbor entry's.
        Event::RouterSolicit { .. } | Event::Duplicate { .. } => {}
    }
}
