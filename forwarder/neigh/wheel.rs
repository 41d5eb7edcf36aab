//! A timing wheel: the timers of one core's neighbor entries.
//!
//! Time is cut into ticks; a timer due at tick `t` waits in slot `t mod SLOTS`. Setting a
//! timer is a push onto its slot, firing the due ones visits only the slots of the ticks
//! that passed, so the cost is per timer event and never per entry: a table of a million
//! idle entries costs nothing here. A timer is cancelled by forgetting it: each holder
//! keeps the generation of its one live timer and ignores a fired one of another
//! generation. A timer more than a turn of the wheel away is visited once per turn and
//! put back until it is due.
//!
//! Why not a crate: the wheel is per core and read on every poll round; it has to take
//! virtual time from the caller (so that the neighbor state machine is tested on a
//! virtual clock), allocate nothing once its slots have grown, and cancel by generation
//! without searching. That is a few dozen lines.

/// A timer: what it is for (an index its owner chooses), the generation it was set with,
/// and the tick it is due at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Timer {
    id: u32,
    generation: u32,
    due: u64,
}

/// Slots of the wheel: a power of two.
const SLOTS: usize = 4096;

#[derive(Debug)]
pub struct Wheel {
    slots: Box<[Vec<Timer>]>,
    tick_ns: u64,
    /// The last tick whose timers have fired.
    done: u64,
    /// Timers set and not yet fired (cancelled ones included, until their slot is visited).
    pending: usize,
}

impl Wheel {
    /// A wheel of ticks of `tick_ns` nanoseconds, starting at time `now`.
    pub fn new(tick_ns: u64, now: u64) -> Wheel {
        let tick_ns = tick_ns.max(1);
        Wheel {
            slots: (0..SLOTS).map(|_| Vec::new()).collect(),
            tick_ns,
            done: now / tick_ns,
            pending: 0,
        }
    }

    /// Sets timer (`id`, `generation`) to fire at time `at`, or on the next tick if `at`
    /// has passed. A timer fires at the first tick at or after its time, never before it.
    pub fn set(&mut self, id: u32, generation: u32, at: u64) {
        let due = at.div_ceil(self.tick_ns).max(self.done + 1);
        self.slots[due as usize & (SLOTS - 1)].push(Timer {
            id,
            generation,
            due,
        });
        self.pending += 1;
    }

    /// Fires every timer due at or before time `now`: calls `fire(id, generation, due)` for
    /// each, in the order of their ticks, `due` being the time of its tick (so that a timer
    /// set again from it keeps its interval however late the call).
    pub fn advance(&mut self, now: u64, mut fire: impl FnMut(u32, u32, u64)) {
        let now_tick = now / self.tick_ns;
        if self.pending == 0 {
            self.done = self.done.max(now_tick);
            return;
        }
        // After a long pause, a turn of the wheel visits every slot once.
        let first = self.done + 1;
        let last = now_tick.min(self.done + SLOTS as u64);
        for tick in first..=last {
            let slot = &mut self.slots[tick as usize & (SLOTS - 1)];
            let mut i = 0;
            while i < slot.len() {
                if slot[i].due <= now_tick {
                    let t = slot.swap_remove(i);
                    self.pending -= 1;
                    fire(t.id, t.generation, t.due * self.tick_ns);
                } else {
                    i += 1;
                }
            }
        }
        self.done = self.done.max(now_tick);
    }

    /// The time of the next tick at which a timer may fire, if any timer is set: when a
    /// core that sleeps between polls must be awake.
    pub fn next_due(&self) -> Option<u64> {
        if self.pending == 0 {
            return None;
        }
        (self.done + 1..=self.done + SLOTS as u64)
            .find_map(|tick| {
                self.slots[tick as usize & (SLOTS - 1)]
                    .iter()
                    .map(|t| t.due)
                    .min()
            })
            .map(|due| due * self.tick_ns)
    }

    /// Timers set and not yet fired or visited.
    pub fn pending(&self) -> usize {
        self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn fired(w: &mut Wheel, now: u64) -> Vec<(u32, u32)> {
        let mut v = Vec::new();
        w.advance(now, |id, g, _| v.push((id, g)));
        v
    }

    #[test]
    fn timers_fire_at_their_tick_not_before() {
        let mut w = Wheel::new(MS, 0);
        w.set(1, 0, 10 * MS);
        w.set(2, 0, 10 * MS + 1);
        w.set(3, 0, 3 * MS);
        assert_eq!(fired(&mut w, 2 * MS), []);
        assert_eq!(fired(&mut w, 9 * MS + MS / 2), [(3, 0)]);
        assert_eq!(fired(&mut w, 10 * MS), [(1, 0)]);
        assert_eq!(fired(&mut w, 11 * MS), [(2, 0)]);
        assert_eq!(w.pending(), 0);
        assert_eq!(w.next_due(), None);
    }

    #[test]
    fn a_timer_in_the_past_fires_on_the_next_tick() {
        let mut w = Wheel::new(MS, 50 * MS);
        w.set(7, 3, 0);
        assert_eq!(w.next_due(), Some(51 * MS));
        assert_eq!(fired(&mut w, 50 * MS), []);
        assert_eq!(fired(&mut w, 51 * MS), [(7, 3)]);
    }

    #[test]
    fn timers_beyond_a_turn_wait_their_turn() {
        let mut w = Wheel::new(MS, 0);
        let far = (SLOTS as u64 * 3 + 5) * MS;
        w.set(1, 0, far);
        w.set(2, 0, 5 * MS);
        assert_eq!(w.next_due(), Some(5 * MS));
        let mut t = 0;
        let mut got = Vec::new();
        while t < far + 2 * MS {
            t += 7 * MS;
            for (id, _) in fired(&mut w, t) {
                got.push((id, t));
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (2, 7 * MS));
        assert_eq!(got[1].0, 1);
        assert!(got[1].1 >= far && got[1].1 < far + 7 * MS);
    }

    #[test]
    fn a_long_pause_fires_everything_due_once() {
        let mut w = Wheel::new(MS, 0);
        for i in 0..100 {
            w.set(i, 1, u64::from(i) * 100 * MS);
        }
        let mut ids: Vec<u32> = fired(&mut w, 1_000_000 * MS).iter().map(|f| f.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..100).collect::<Vec<_>>());
        assert_eq!(fired(&mut w, 2_000_000 * MS), []);
    }

    proptest::proptest! {
        /// Every timer fires exactly once, at the first advance at or past its time.
        #[test]
        fn every_timer_fires_once_on_time(
            sets in proptest::collection::vec(0u64..20_000, 1..200),
            steps in proptest::collection::vec(1u64..3_000, 1..200),
        ) {
            let mut w = Wheel::new(MS, 0);
            for (i, at) in sets.iter().enumerate() {
                w.set(i as u32, 0, at * MS);
            }
            let mut now = 0;
            let mut when = vec![None; sets.len()];
            let ends = steps.iter().cycle().take(400).map(|s| s * MS).chain([30_000 * MS]);
            for step in ends {
                let before = now;
                now = (now + step).min(30_000 * MS);
                w.advance(now, |id, _, due| {
                    assert_eq!(due, sets[id as usize].max(1) * MS);
                    assert!(when[id as usize].is_none(), "fired twice");
                    when[id as usize] = Some((before, now));
                });
            }
            for (i, at) in sets.iter().enumerate() {
                let (before, fired_at) = when[i].expect("every timer fires");
                proptest::prop_assert!(fired_at >= at * MS, "timer {} early", i);
                proptest::prop_assert!(before < at * MS || *at == 0, "timer {} late", i);
            }
        }
    }
}
