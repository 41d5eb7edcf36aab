//! When a worker sleeps: after a run of empty polls it backs off with sleeps that double
//! up to a bound, and returns to full polling as soon as a burst arrives. Plain logic over
//! counts and nanoseconds; the worker does the sleeping.
//!
//! The sleeps rather than DPDK's rx interrupts: the virtual devices v6fwd runs on in tests
//! and demos (af_packet, pcap) offer no interrupts, and a sleep bounded at about 100 µs
//! costs a busy port little (it never sleeps while packets come) and an idle one almost
//! nothing.

use std::fmt;

/// The first sleep after a run of empty polls, in nanoseconds.
const FIRST_SLEEP_NS: u64 = 5_000;

/// How a worker polls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollMode {
    /// Never sleep: the lowest latency, and a whole core per worker.
    Poll,
    /// Sleep when idle.
    Adaptive {
        /// Empty poll rounds before the first sleep.
        idle_polls: u32,
        /// The longest sleep, in nanoseconds: the most a first packet after idle waits.
        max_sleep_ns: u64,
    },
}

impl fmt::Display for PollMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollMode::Poll => write!(f, "poll"),
            PollMode::Adaptive {
                idle_polls,
                max_sleep_ns,
            } => write!(
                f,
                "adaptive (sleeps after {idle_polls} empty polls, {} us at most)",
                max_sleep_ns / 1000
            ),
        }
    }
}

/// A worker's back-off state.
#[derive(Debug, Clone)]
pub struct Backoff {
    mode: PollMode,
    empty: u32,
    next_sleep_ns: u64,
}

impl Backoff {
    pub fn new(mode: PollMode) -> Backoff {
        Backoff {
            mode,
            empty: 0,
            next_sleep_ns: FIRST_SLEEP_NS,
        }
    }

    /// Records one poll round that found `received` packets; returns how long to sleep
    /// before the next round, never past `deadline_ns` from now (the next timer due), or
    /// 0 to poll again at once.
    #[inline]
    pub fn after_round(&mut self, received: usize, deadline_ns: Option<u64>) -> u64 {
        let PollMode::Adaptive {
            idle_polls,
            max_sleep_ns,
        } = self.mode
        else {
            return 0;
        };
        if received > 0 {
            self.empty = 0;
            self.next_sleep_ns = FIRST_SLEEP_NS;
            return 0;
        }
        if self.empty < idle_polls {
            self.empty += 1;
            return 0;
        }
        let sleep = self.next_sleep_ns.min(max_sleep_ns);
        self.next_sleep_ns = (self.next_sleep_ns * 2).min(max_sleep_ns);
        deadline_ns.map_or(sleep, |d| sleep.min(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADAPTIVE: PollMode = PollMode::Adaptive {
        idle_polls: 3,
        max_sleep_ns: 40_000,
    };

    #[test]
    fn poll_mode_never_sleeps() {
        let mut b = Backoff::new(PollMode::Poll);
        assert!((0..1000).all(|_| b.after_round(0, None) == 0));
    }

    #[test]
    fn sleeps_double_to_the_bound_after_the_idle_polls() {
        let mut b = Backoff::new(ADAPTIVE);
        let sleeps: Vec<u64> = (0..9).map(|_| b.after_round(0, None)).collect();
        assert_eq!(
            sleeps,
            [0, 0, 0, 5_000, 10_000, 20_000, 40_000, 40_000, 40_000]
        );
    }

    #[test]
    fn a_burst_resets_the_backoff() {
        let mut b = Backoff::new(ADAPTIVE);
        for _ in 0..6 {
            b.after_round(0, None);
        }
        assert_eq!(b.after_round(32, None), 0);
        let sleeps: Vec<u64> = (0..5).map(|_| b.after_round(0, None)).collect();
        assert_eq!(sleeps, [0, 0, 0, 5_000, 10_000]);
    }

    #[test]
    fn never_sleeps_past_the_next_timer() {
        let mut b = Backoff::new(ADAPTIVE);
        for _ in 0..8 {
            b.after_round(0, None);
        }
        assert_eq!(b.after_round(0, Some(7_000)), 7_000);
        assert_eq!(b.after_round(0, Some(0)), 0);
        assert_eq!(b.after_round(0, None), 40_000);
    }
}
