//! One core's Neighbor Cache (RFC 4861 sections 5.1, 7.2, 7.3 and Appendix C).
//!
//! Every entry is its own object: its state moves only on events for it (a packet to
//! send through it, an advertisement or solicitation about it) and on its own timer, set
//! on the core's [`Wheel`]. No periodic task walks the table to change states. REACHABLE
//! needs no timer at all: the entry keeps the time its reachability was confirmed until,
//! and is STALE from then on, which the next packet through it finds out (RFC 4861 7.3.3
//! asks for nothing more: STALE does nothing until a packet is sent). So a table of a
//! million quiet neighbors costs no work per second. The one sweep, [`Cache::collect`],
//! frees a bounded number of STALE or failed entries unused for long, and touches nothing
//! else.
//!
//! The cache decides; it does not send. What is to be sent (solicitations, queued packets,
//! errors for packets that could not be delivered) and what the routing table should hear
//! (a neighbor found or lost) come out as [`Action`]s for the core to carry out. Queued
//! packets are of any type `P`: the core's packet buffers, or plain bytes in tests.
//!
//! Against a flood of packets to addresses nobody holds (a scan of a /64, RFC 6583), the
//! number of INCOMPLETE entries per port is bounded and solicitations are rate limited:
//! what does not fit is refused, counted by the caller, and never displaces an entry that
//! has been resolved.

use std::hash::{BuildHasher, RandomState};
use std::net::Ipv6Addr;

use rustc_hash::FxHashMap;

use super::Reachability;
use super::wheel::Wheel;
use crate::ratelimit::TokenBucket;
use crate::wire::MacAddr;

const MS: u64 = 1_000_000;

/// How often ReachableTime is drawn again (RFC 4861 6.3.2: "at least every few hours").
const REDRAW_REACHABLE_NS: u64 = 2 * 3600 * 1000 * MS;

/// The protocol's timers and counts for one port (RFC 4861 section 10), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    pub base_reachable_ms: u32,
    pub retrans_ms: u32,
    pub delay_first_probe_ms: u32,
    pub max_multicast_solicit: u8,
    pub max_unicast_solicit: u8,
    /// Duplicate Address Detection probes per address at start (RFC 4862 5.1); 0 skips
    /// it.
    pub dad_transmits: u8,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            base_reachable_ms: 30_000,
            retrans_ms: 1_000,
            delay_first_probe_ms: 5_000,
            max_multicast_solicit: 3,
            max_unicast_solicit: 3,
            dad_transmits: 1,
        }
    }
}

/// Bounds that keep one core's cache from being exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Entries in all.
    pub entries: usize,
    /// INCOMPLETE entries per port: addresses being resolved at once.
    pub incomplete_per_port: usize,
    /// Packets queued per INCOMPLETE entry; a new one displaces the oldest (RFC 4861 7.2.2).
    pub queue: usize,
    /// Solicitations per second that start a resolution, and the burst allowed.
    pub solicit_rate: u32,
    pub solicit_burst: u32,
    /// A STALE or failed entry unused for this long may be freed.
    pub gc_after_ms: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            entries: 65_536,
            incomplete_per_port: 256,
            queue: 3,
            solicit_rate: 100,
            solicit_burst: 100,
            gc_after_ms: 60_000,
        }
    }
}

/// The reachability state of an entry (RFC 4861 7.3.2), with the two a router adds:
/// entries from the configuration, and entries whose resolution or probing gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    /// Resolution or unreachability detection failed. The entry remembers it for the
    /// routing table; the next packet for it starts a resolution again.
    Failed,
    /// Configured: never probed, never changed by Neighbor Discovery.
    Static,
}

impl State {
    /// What the routing table is told of a neighbor in this state.
    pub fn reachability(self) -> Reachability {
        match self {
            State::Incomplete => Reachability::Unknown,
            State::Failed => Reachability::Unreachable,
            _ => Reachability::Probable,
        }
    }
}

/// What the core is to do for the cache.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<P> {
    /// Send a Neighbor Solicitation for `target` out of `port`: to its solicited-node
    /// group when `to` is `None`, else to that link-layer address (a unicast probe).
    Solicit {
        port: u16,
        target: Ipv6Addr,
        to: Option<MacAddr>,
    },
    /// Send a packet that waited for resolution to `lladdr` out of `port`.
    Send {
        port: u16,
        lladdr: MacAddr,
        packet: P,
    },
    /// Resolution failed: answer the source of a packet that waited for it with
    /// Destination Unreachable, code 3 (RFC 4861 7.2.2).
    Unreachable { port: u16, packet: P },
    /// The entry's link-layer address or state changed: what the other cores, which read
    /// copies of the entry, are to take. `reachable_until` says when REACHABLE turns STALE.
    Publish {
        port: u16,
        addr: Ipv6Addr,
        lladdr: MacAddr,
        state: State,
        reachable_until: u64,
    },
    /// The entry was freed.
    Forget { port: u16, addr: Ipv6Addr },
    /// What is known of a neighbor changed in a way the routing table cares about.
    Reachability {
        port: u16,
        addr: Ipv6Addr,
        reachability: Reachability,
        router: bool,
    },
}

/// What became of a packet given to [`Cache::output`].
#[derive(Debug, PartialEq, Eq)]
pub enum Output<P> {
    /// Send it to this link-layer address now.
    Send(MacAddr, P),
    /// It waits for resolution; a packet it displaced from the full queue, if any, is to
    /// be freed.
    Queued(Option<P>),
    /// Not resolved and not queued: free it, counted under the reason.
    Refused(P, Refusal),
}

/// Why a packet that needed a resolution was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The port has as many addresses being resolved as it may.
    TooManyIncomplete,
    /// Solicitations are sent as fast as they may be.
    SolicitRateLimited,
    /// The cache holds as many entries as it may.
    Full,
}

/// The flags and option of a valid Neighbor Advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    pub target: Ipv6Addr,
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
    /// The Target Link-Layer Address option, if present.
    pub lladdr: Option<MacAddr>,
}

/// Which message gave a neighbor's link-layer address in a Source Link-Layer Address
/// option: it decides what becomes of the IsRouter flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Neighbor Solicitation: a new entry is not a router, an existing one keeps its flag
    /// (RFC 4861 7.2.3).
    Solicitation,
    /// A Router Solicitation: the sender is a host (6.2.6).
    RouterSolicitation,
    /// A Router Advertisement: the sender is a router (6.3.4).
    RouterAdvertisement,
}

#[derive(Debug)]
struct Entry<P> {
    port: u16,
    addr: Ipv6Addr,
    state: State,
    lladdr: MacAddr,
    router: bool,
    /// Solicitations sent in this round of resolution or probing.
    probes: u8,
    /// A REACHABLE entry is STALE from this time on.
    reachable_until: u64,
    /// When a packet last went through it, or it was created.
    used: u64,
    queue: Vec<P>,
    /// The generation of the entry's live timer; a fired timer of another is ignored.
    timer: u32,
    live: bool,
}

/// One core's neighbors.
pub struct Cache<P> {
    entries: Vec<Entry<P>>,
    free: Vec<u32>,
    index: FxHashMap<(u16, Ipv6Addr), u32>,
    wheel: Wheel,
    timers: Vec<Timers>,
    limits: Limits,
    /// INCOMPLETE entries per port.
    incomplete: Vec<usize>,
    solicits: TokenBucket,
    /// ReachableTime per port, and when it was drawn.
    reachable_ns: Vec<(u64, u64)>,
    random: RandomState,
    draws: u64,
    actions: Vec<Action<P>>,
    /// Timers fired by the wheel, kept for its room.
    due: Vec<(u32, u32, u64)>,
    /// Where the next [`Cache::collect`] starts.
    hand: usize,
    /// Live entries by state seen by [`Cache::collect`] in its pass so far, and in its
    /// last whole pass.
    tally: [u64; STATES],
    census: [u64; STATES],
}

/// Number of [`State`]s.
pub const STATES: usize = 7;

impl State {
    /// Every state, in the order of [`Cache::census`].
    pub const ALL: [State; STATES] = [
        State::Incomplete,
        State::Reachable,
        State::Stale,
        State::Delay,
        State::Probe,
        State::Failed,
        State::Static,
    ];

    /// The state's name as `ip neigh` shows it (a configured entry is PERMANENT).
    pub fn name(self) -> &'static str {
        match self {
            State::Incomplete => "INCOMPLETE",
            State::Reachable => "REACHABLE",
            State::Stale => "STALE",
            State::Delay => "DELAY",
            State::Probe => "PROBE",
            State::Failed => "FAILED",
            State::Static => "PERMANENT",
        }
    }
}

/// One entry, as [`Cache::list`] gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    pub port: u16,
    pub addr: Ipv6Addr,
    /// None while INCOMPLETE.
    pub lladdr: Option<MacAddr>,
    pub state: State,
    pub router: bool,
}

impl<P> Cache<P> {
    /// A cache for ports with these timers, at time `now` (nanoseconds).
    pub fn new(timers: Vec<Timers>, limits: Limits, now: u64) -> Cache<P> {
        let ports = timers.len();
        let mut c = Cache {
            entries: Vec::new(),
            free: Vec::new(),
            index: FxHashMap::default(),
            wheel: Wheel::new(MS, now),
            timers,
            limits,
            incomplete: vec![0; ports],
            solicits: TokenBucket::new(limits.solicit_rate, limits.solicit_burst, now),
            reachable_ns: vec![(0, 0); ports],
            random: RandomState::new(),
            draws: 0,
            actions: Vec::new(),
            due: Vec::new(),
            hand: 0,
            tally: [0; STATES],
            census: [0; STATES],
        };
        for port in 0..ports {
            c.draw_reachable(port, now);
        }
        c
    }

    /// ReachableTime of a port: uniformly between 0.5 and 1.5 times BaseReachableTime
    /// (RFC 4861 6.3.2), drawn again every few hours.
    fn reachable_time(&mut self, port: u16, now: u64) -> u64 {
        let p = usize::from(port);
        if now.saturating_sub(self.reachable_ns[p].1) >= REDRAW_REACHABLE_NS {
            self.draw_reachable(p, now);
        }
        self.reachable_ns[p].0
    }

    fn draw_reachable(&mut self, port: usize, now: u64) {
        self.draws += 1;
        let base = u64::from(self.timers[port].base_reachable_ms) * MS;
        let r = self.random.hash_one(self.draws) % 1_000_001;
        // base * (0.5 + r / 1e6), in integers.
        let t = base / 2 + (u128::from(base) * u128::from(r) / 1_000_000) as u64;
        self.reachable_ns[port] = (t, now);
    }

    /// The link-layer address and state of `addr` on `port`, as of `now`, without
    /// changing anything.
    pub fn lookup(&self, port: u16, addr: &Ipv6Addr, now: u64) -> Option<(MacAddr, State)> {
        let e = &self.entries[*self.index.get(&(port, *addr))? as usize];
        let state = match e.state {
            State::Reachable if now >= e.reachable_until => State::Stale,
            s => s,
        };
        Some((e.lladdr, state))
    }

    /// Every entry, as of `now`.
    pub fn list(&self, now: u64) -> Vec<Listed> {
        self.list_from(0, usize::MAX, now).0
    }

    /// The entries in the slots from `start` on, `slots` slots of them at most, as of
    /// `now`; and the slot to go on from, unless that was the last. A core lists its cache
    /// a part per round this way, so that a listing never holds up its queues for long.
    pub fn list_from(&self, start: usize, slots: usize, now: u64) -> (Vec<Listed>, Option<usize>) {
        let end = start.saturating_add(slots).min(self.entries.len());
        let listed = self.entries[start.min(end)..end]
            .iter()
            .filter(|e| e.live)
            .map(|e| Listed {
                port: e.port,
                addr: e.addr,
                lladdr: (e.state != State::Incomplete).then_some(e.lladdr),
                state: match e.state {
                    State::Reachable if now >= e.reachable_until => State::Stale,
                    s => s,
                },
                router: e.router,
            })
            .collect();
        (listed, (end < self.entries.len()).then_some(end))
    }

    /// Entries by state (in the order of [`State::ALL`]) as the last whole pass of
    /// [`Cache::collect`] found them: counted on the way, at no cost of its own, and so
    /// as old as one pass.
    pub fn census(&self) -> [u64; STATES] {
        self.census
    }

    /// Entries in the cache.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Timers set and not yet fired.
    pub fn timers_pending(&self) -> usize {
        self.wheel.pending()
    }

    /// When [`Cache::advance`] next has something to do, if ever.
    pub fn next_due(&self) -> Option<u64> {
        self.wheel.next_due()
    }

    /// What the core is to do, oldest first.
    pub fn actions(&mut self) -> std::vec::Drain<'_, Action<P>> {
        self.actions.drain(..)
    }

    /// A configured neighbor: it stays, is never probed, and Neighbor Discovery does not
    /// change it.
    pub fn set_static(&mut self, port: u16, addr: Ipv6Addr, lladdr: MacAddr, now: u64) {
        let i = match self.index.get(&(port, addr)) {
            Some(&i) => i,
            None => match self.create(port, addr, now) {
                Some(i) => i,
                None => return,
            },
        };
        self.leave_incomplete(i);
        let e = &mut self.entries[i as usize];
        e.timer += 1;
        e.state = State::Static;
        e.lladdr = lladdr;
        let queued = std::mem::take(&mut e.queue);
        self.publish(i);
        for packet in queued {
            self.actions.push(Action::Send {
                port,
                lladdr,
                packet,
            });
        }
    }

    /// A core sent a packet through the STALE entry of `addr` on its copy: the first use
    /// of a STALE entry starts the delay before probing (RFC 4861 7.3.3).
    pub fn touch(&mut self, port: u16, addr: Ipv6Addr, now: u64) {
        let Some(&i) = self.index.get(&(port, addr)) else {
            return;
        };
        let delay = u64::from(self.timers[usize::from(port)].delay_first_probe_ms) * MS;
        let e = &mut self.entries[i as usize];
        e.used = now;
        let stale = match e.state {
            State::Stale => true,
            State::Reachable => now >= e.reachable_until,
            _ => false,
        };
        if stale {
            e.state = State::Delay;
            e.timer += 1;
            self.wheel.set(i, e.timer, now + delay);
            self.publish(i);
        }
    }

    /// A packet to send to neighbor `addr` on `port` at time `now` (RFC 4861 7.2.2, 7.3.3).
    pub fn output(&mut self, port: u16, addr: Ipv6Addr, now: u64, packet: P) -> Output<P> {
        let Some(&i) = self.index.get(&(port, addr)) else {
            return self.resolve(None, port, addr, now, packet);
        };
        let delay = u64::from(self.timers[usize::from(port)].delay_first_probe_ms) * MS;
        let e = &mut self.entries[i as usize];
        e.used = now;
        match e.state {
            State::Static | State::Delay | State::Probe => Output::Send(e.lladdr, packet),
            State::Reachable if now < e.reachable_until => Output::Send(e.lladdr, packet),
            State::Reachable | State::Stale => {
                // The first packet through a STALE entry starts the delay before probing.
                e.state = State::Delay;
                e.timer += 1;
                self.wheel.set(i, e.timer, now + delay);
                let lladdr = e.lladdr;
                self.publish(i);
                Output::Send(lladdr, packet)
            }
            State::Incomplete => {
                let displaced = if e.queue.len() >= self.limits.queue.max(1) {
                    Some(e.queue.remove(0))
                } else {
                    None
                };
                e.queue.push(packet);
                Output::Queued(displaced)
            }
            State::Failed => self.resolve(Some(i), port, addr, now, packet),
        }
    }

    /// Starts resolving `addr`: a new entry, or the failed entry `at`.
    fn resolve(
        &mut self,
        at: Option<u32>,
        port: u16,
        addr: Ipv6Addr,
        now: u64,
        packet: P,
    ) -> Output<P> {
        let p = usize::from(port);
        if p >= self.timers.len() {
            return Output::Refused(packet, Refusal::Full);
        }
        if self.incomplete[p] >= self.limits.incomplete_per_port {
            return Output::Refused(packet, Refusal::TooManyIncomplete);
        }
        if at.is_none() && self.index.len() >= self.limits.entries {
            return Output::Refused(packet, Refusal::Full);
        }
        if !self.solicits.take(now) {
            return Output::Refused(packet, Refusal::SolicitRateLimited);
        }
        let i = match at {
            Some(i) => i,
            None => match self.create(port, addr, now) {
                Some(i) => i,
                None => return Output::Refused(packet, Refusal::Full),
            },
        };
        self.incomplete[p] += 1;
        let retrans = u64::from(self.timers[p].retrans_ms) * MS;
        let e = &mut self.entries[i as usize];
        e.state = State::Incomplete;
        e.probes = 1;
        e.used = now;
        e.queue.push(packet);
        e.timer += 1;
        self.wheel.set(i, e.timer, now + retrans);
        self.actions.push(Action::Solicit {
            port,
            target: addr,
            to: None,
        });
        Output::Queued(None)
    }

    /// A new entry, in no state yet; `None` when the cache is full.
    fn create(&mut self, port: u16, addr: Ipv6Addr, now: u64) -> Option<u32> {
        if self.index.len() >= self.limits.entries {
            return None;
        }
        let fresh = Entry {
            port,
            addr,
            state: State::Stale,
            lladdr: MacAddr([0; 6]),
            router: false,
            probes: 0,
            reachable_until: 0,
            used: now,
            queue: Vec::new(),
            timer: 0,
            live: true,
        };
        let i = match self.free.pop() {
            Some(i) => {
                let e = &mut self.entries[i as usize];
                // The slot keeps its queue's room and its timer generation, so that a
                // timer of the entry it held before never fires for this one.
                let (queue, timer) = (std::mem::take(&mut e.queue), e.timer + 1);
                *e = Entry {
                    queue,
                    timer,
                    ..fresh
                };
                i
            }
            None => {
                self.entries.push(fresh);
                (self.entries.len() - 1) as u32
            }
        };
        self.index.insert((port, addr), i);
        Some(i)
    }

    fn leave_incomplete(&mut self, i: u32) {
        let e = &self.entries[i as usize];
        if e.state == State::Incomplete {
            self.incomplete[usize::from(e.port)] -= 1;
        }
    }

    /// Sends what waited for entry `i`, now that its link-layer address is known.
    fn flush(&mut self, i: u32) {
        let e = &mut self.entries[i as usize];
        let (port, lladdr) = (e.port, e.lladdr);
        for packet in e.queue.drain(..) {
            self.actions.push(Action::Send {
                port,
                lladdr,
                packet,
            });
        }
    }

    /// Tells the copies of entry `i` what it is now.
    fn publish(&mut self, i: u32) {
        let e = &self.entries[i as usize];
        self.actions.push(Action::Publish {
            port: e.port,
            addr: e.addr,
            lladdr: e.lladdr,
            state: e.state,
            reachable_until: e.reachable_until,
        });
    }

    fn report(&mut self, i: u32) {
        let e = &self.entries[i as usize];
        self.actions.push(Action::Reachability {
            port: e.port,
            addr: e.addr,
            reachability: e.state.reachability(),
            router: e.router,
        });
    }

    /// A valid Neighbor Advertisement received on `port` (RFC 4861 7.2.5).
    pub fn on_advert(&mut self, port: u16, na: &Advert, now: u64) {
        let Some(&i) = self.index.get(&(port, na.target)) else {
            // No entry: the advertisement is not for a resolution of ours.
            return;
        };
        let reachable = self.reachable_time(port, now);
        let e = &mut self.entries[i as usize];
        match e.state {
            State::Static => {}
            State::Incomplete | State::Failed => {
                // Without the target's link-layer address the advertisement says nothing
                // an INCOMPLETE entry can use.
                let Some(lladdr) = na.lladdr else { return };
                let was = e.state;
                e.lladdr = lladdr;
                e.router = na.router;
                e.timer += 1;
                if na.solicited {
                    e.state = State::Reachable;
                    e.reachable_until = now + reachable;
                } else {
                    e.state = State::Stale;
                }
                if was == State::Incomplete {
                    self.incomplete[usize::from(port)] -= 1;
                }
                self.publish(i);
                self.flush(i);
                self.report(i);
            }
            State::Reachable | State::Stale | State::Delay | State::Probe => {
                let differs = na.lladdr.is_some_and(|l| l != e.lladdr);
                if !na.override_ && differs {
                    // Another address, not to override ours: a REACHABLE entry is no
                    // longer sure (STALE, nothing else updated); any other ignores it.
                    if e.state == State::Reachable && now < e.reachable_until {
                        e.state = State::Stale;
                        self.publish(i);
                    }
                    return;
                }
                let was_router = e.router;
                if let Some(l) = na.lladdr {
                    e.lladdr = l;
                }
                if na.solicited {
                    e.state = State::Reachable;
                    e.reachable_until = now + reachable;
                    e.timer += 1;
                } else if differs {
                    e.state = State::Stale;
                    e.timer += 1;
                }
                e.router = na.router;
                self.publish(i);
                if was_router != na.router {
                    self.report(i);
                }
            }
        }
    }

    /// A link-layer address given by a neighbor for itself, in the Source Link-Layer
    /// Address option of a solicitation or advertisement from `addr` (RFC 4861 7.2.3,
    /// 6.2.6, 6.3.4, and Appendix C).
    pub fn on_source(
        &mut self,
        port: u16,
        addr: Ipv6Addr,
        lladdr: MacAddr,
        from: Source,
        now: u64,
    ) {
        if usize::from(port) >= self.timers.len() {
            return;
        }
        let i = match self.index.get(&(port, addr)) {
            Some(&i) => i,
            None => {
                let Some(i) = self.create(port, addr, now) else {
                    return;
                };
                let e = &mut self.entries[i as usize];
                e.lladdr = lladdr;
                e.state = State::Stale;
                e.router = from == Source::RouterAdvertisement;
                self.publish(i);
                self.report(i);
                return;
            }
        };
        let e = &mut self.entries[i as usize];
        let was_router = e.router;
        match from {
            Source::Solicitation => {}
            Source::RouterSolicitation => e.router = false,
            Source::RouterAdvertisement => e.router = true,
        }
        match e.state {
            State::Static => return,
            State::Incomplete | State::Failed => {
                let was = e.state;
                e.lladdr = lladdr;
                e.state = State::Stale;
                e.timer += 1;
                if was == State::Incomplete {
                    self.incomplete[usize::from(port)] -= 1;
                }
                self.publish(i);
                self.flush(i);
                self.report(i);
                return;
            }
            _ if e.lladdr != lladdr => {
                e.lladdr = lladdr;
                e.state = State::Stale;
                e.timer += 1;
                let router = e.router;
                self.publish(i);
                if was_router != router {
                    self.report(i);
                }
                return;
            }
            _ => {}
        }
        if was_router != e.router {
            self.report(i);
        }
    }

    /// Fires the timers due at `now`: retransmissions, the end of DELAY, probes, and the
    /// failures when they run out (RFC 4861 7.2.2, 7.3.3).
    pub fn advance(&mut self, now: u64) {
        let mut due = std::mem::take(&mut self.due);
        self.wheel
            .advance(now, |id, generation, at| due.push((id, generation, at)));
        for &(i, generation, at) in &due {
            let e = &self.entries[i as usize];
            if e.live && e.timer == generation {
                self.fire(i, at);
            }
        }
        due.clear();
        self.due = due;
    }

    /// Entry `i`'s timer, due at `now`, fires.
    fn fire(&mut self, i: u32, now: u64) {
        let e = &mut self.entries[i as usize];
        let t = self.timers[usize::from(e.port)];
        let retrans = u64::from(t.retrans_ms) * MS;
        match e.state {
            State::Incomplete if e.probes < t.max_multicast_solicit => {
                e.probes += 1;
                e.timer += 1;
                self.wheel.set(i, e.timer, now + retrans);
                self.actions.push(Action::Solicit {
                    port: e.port,
                    target: e.addr,
                    to: None,
                });
            }
            State::Incomplete => {
                e.state = State::Failed;
                let port = e.port;
                self.incomplete[usize::from(port)] -= 1;
                for packet in e.queue.drain(..) {
                    self.actions.push(Action::Unreachable { port, packet });
                }
                self.publish(i);
                self.report(i);
            }
            State::Delay => {
                e.state = State::Probe;
                e.probes = 1;
                e.timer += 1;
                self.wheel.set(i, e.timer, now + retrans);
                self.actions.push(Action::Solicit {
                    port: e.port,
                    target: e.addr,
                    to: Some(e.lladdr),
                });
                self.publish(i);
            }
            State::Probe if e.probes < t.max_unicast_solicit => {
                e.probes += 1;
                e.timer += 1;
                self.wheel.set(i, e.timer, now + retrans);
                self.actions.push(Action::Solicit {
                    port: e.port,
                    target: e.addr,
                    to: Some(e.lladdr),
                });
            }
            State::Probe => {
                e.state = State::Failed;
                self.publish(i);
                self.report(i);
            }
            State::Reachable | State::Stale | State::Failed | State::Static => {}
        }
    }

    /// Frees the entries of `port` (of every port if `None`), or only the one of `addr`:
    /// what `ip neigh flush` and `ip neigh del` do. Configured entries stay. Returns the
    /// packets that waited for a resolution of a freed entry, and how many were freed.
    pub fn forget_entries(&mut self, port: Option<u16>, addr: Option<Ipv6Addr>) -> (Vec<P>, usize) {
        let mut waiting = Vec::new();
        let mut freed = 0;
        for i in 0..self.entries.len() {
            let e = &mut self.entries[i];
            if !e.live
                || e.state == State::Static
                || port.is_some_and(|p| p != e.port)
                || addr.is_some_and(|a| a != e.addr)
            {
                continue;
            }
            if e.state == State::Incomplete {
                self.incomplete[usize::from(e.port)] -= 1;
            }
            e.live = false;
            e.timer += 1;
            waiting.append(&mut e.queue);
            let (key, router) = ((e.port, e.addr), e.router);
            self.index.remove(&key);
            self.free.push(i as u32);
            self.actions.push(Action::Forget {
                port: key.0,
                addr: key.1,
            });
            if router {
                self.actions.push(Action::Reachability {
                    port: key.0,
                    addr: key.1,
                    reachability: Reachability::Unknown,
                    router,
                });
            }
            freed += 1;
        }
        (waiting, freed)
    }

    /// Takes every packet waiting for a resolution out of the cache: when the core stops.
    pub fn take_queued(&mut self) -> Vec<P> {
        self.entries
            .iter_mut()
            .flat_map(|e| e.queue.drain(..))
            .collect()
    }

    /// Frees up to `budget` entries' worth of the table: STALE and failed entries that no
    /// packet used for the configured time. Other entries are not touched. Returns the
    /// entries freed.
    pub fn collect(&mut self, now: u64, budget: usize) -> usize {
        let after = u64::from(self.limits.gc_after_ms) * MS;
        let mut freed = 0;
        if self.entries.is_empty() {
            self.census = [0; STATES];
        }
        for _ in 0..budget.min(self.entries.len()) {
            self.hand = (self.hand + 1) % self.entries.len();
            let i = self.hand;
            if i == 0 {
                self.census = std::mem::take(&mut self.tally);
            }
            let e = &self.entries[i];
            if e.live {
                let state = match e.state {
                    State::Reachable if now >= e.reachable_until => State::Stale,
                    s => s,
                };
                self.tally[state as usize] += 1;
            }
            let idle = match e.state {
                State::Stale | State::Failed => true,
                State::Reachable => now >= e.reachable_until,
                _ => false,
            };
            if e.live && idle && now.saturating_sub(e.used) >= after {
                let e = &mut self.entries[i];
                e.live = false;
                e.timer += 1;
                let key = (e.port, e.addr);
                self.index.remove(&key);
                self.free.push(i as u32);
                self.actions.push(Action::Forget {
                    port: key.0,
                    addr: key.1,
                });
                freed += 1;
            }
        }
        freed
    }
}

#[cfg(test)]
mod tests;
