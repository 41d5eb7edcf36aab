//! The Router Advertisements the router sends on a port: what they say, and when they go
//! (RFC 4861 sections 6.2.1 to 6.2.6, RFC 4191 section 2.2).
//!
//! Time is a number of nanoseconds given by the caller, and the random intervals come
//! from a seed, so the schedule is tested on a virtual clock.

use std::hash::{BuildHasher, RandomState};

use crate::route::Preference;

const SEC: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

/// RFC 4861 10: the first advertisements go out faster, at most this far apart.
const MAX_INITIAL_RTR_ADVERT_INTERVAL: u64 = 16 * SEC;
const MAX_INITIAL_RTR_ADVERTISEMENTS: u8 = 3;
/// The most an answer to a solicitation is delayed, and the least time between two
/// multicast advertisements.
const MAX_RA_DELAY_TIME: u64 = 500 * MS;
const MIN_DELAY_BETWEEN_RAS: u64 = 3 * SEC;

/// What a port advertises (RFC 4861 6.2.1, with RFC 4191's preference).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RaConf {
    pub min_interval_s: u32,
    pub max_interval_s: u32,
    /// Router Lifetime: how long hosts may use the router as a default router; 0 says
    /// it is none.
    pub lifetime_s: u16,
    pub preference: Preference,
    /// The Managed and Other configuration flags.
    pub managed: bool,
    pub other: bool,
    /// Whether the MTU option carries the port's MTU.
    pub mtu: bool,
    /// Valid and preferred lifetimes of the prefixes advertised: the port's subnets.
    pub valid_lifetime_s: u32,
    pub preferred_lifetime_s: u32,
}

impl Default for RaConf {
    fn default() -> RaConf {
        RaConf {
            min_interval_s: 198,
            max_interval_s: 600,
            lifetime_s: 1800,
            preference: Preference::Medium,
            managed: false,
            other: false,
            mtu: true,
            valid_lifetime_s: 2_592_000,
            preferred_lifetime_s: 604_800,
        }
    }
}

/// When a port's next advertisement is due.
#[derive(Debug)]
pub struct Schedule {
    min_ns: u64,
    max_ns: u64,
    next: u64,
    initial_left: u8,
    last_sent: Option<u64>,
    random: RandomState,
    draws: u64,
}

impl Schedule {
    /// A schedule whose first advertisement is due at `now`.
    pub fn new(conf: &RaConf, now: u64) -> Schedule {
        Schedule {
            min_ns: u64::from(conf.min_interval_s) * SEC,
            max_ns: u64::from(conf.max_interval_s).max(u64::from(conf.min_interval_s)) * SEC,
            next: now,
            initial_left: MAX_INITIAL_RTR_ADVERTISEMENTS,
            last_sent: None,
            random: RandomState::new(),
            draws: 0,
        }
    }

    /// A uniformly drawn time in `lo..=hi`.
    fn draw(&mut self, lo: u64, hi: u64) -> u64 {
        self.draws += 1;
        lo + self.random.hash_one(self.draws) % (hi - lo + 1)
    }

    /// When the next advertisement is due.
    pub fn next(&self) -> u64 {
        self.next
    }

    pub fn due(&self, now: u64) -> bool {
        now >= self.next
    }

    /// An advertisement went out at `now`: the next one is due a random interval later
    /// (RFC 4861 6.2.4), the first few sooner.
    pub fn sent(&mut self, now: u64) {
        let mut interval = self.draw(self.min_ns, self.max_ns);
        if self.initial_left > 0 {
            self.initial_left -= 1;
            interval = interval.min(MAX_INITIAL_RTR_ADVERT_INTERVAL);
        }
        self.last_sent = Some(now);
        self.next = now + interval;
    }

    /// A Router Solicitation came at `now`: the answer is the next multicast
    /// advertisement, brought forward to a random delay of at most 500 ms, but no sooner
    /// than 3 s after the last one (RFC 4861 6.2.6).
    pub fn solicited(&mut self, now: u64) {
        let mut at = now + self.draw(0, MAX_RA_DELAY_TIME);
        if let Some(last) = self.last_sent {
            at = at.max(last + MIN_DELAY_BETWEEN_RAS);
        }
        self.next = self.next.min(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_go_out_fast_then_between_min_and_max() {
        let conf = RaConf::default();
        let mut s = Schedule::new(&conf, 0);
        assert!(s.due(0));
        let mut now = 0;
        for i in 0..10 {
            s.sent(now);
            let gap = s.next() - now;
            if i < 3 {
                assert!(gap <= 16 * SEC, "initial {i}: {gap}");
            } else {
                assert!((198 * SEC..=600 * SEC).contains(&gap), "{i}: {gap}");
            }
            assert!(!s.due(s.next() - 1));
            now = s.next();
        }
    }

    #[test]
    fn a_solicitation_brings_the_next_one_forward_but_not_too_close() {
        let conf = RaConf::default();
        let mut s = Schedule::new(&conf, 0);
        for _ in 0..4 {
            let now = s.next();
            s.sent(now);
        }
        // Long after the last one: within half a second.
        let now = s.next() - 100 * SEC;
        s.solicited(now);
        assert!(s.next() >= now && s.next() <= now + MAX_RA_DELAY_TIME);
        // Right after one went out: not before 3 s have passed.
        let mut s = Schedule::new(&conf, 0);
        s.sent(1000 * SEC);
        s.solicited(1000 * SEC + MS);
        assert!(s.next() >= 1003 * SEC);
        assert!(s.next() <= 1003 * SEC + MAX_RA_DELAY_TIME);
        // A solicitation never puts the next one later.
        let mut s = Schedule::new(&conf, 0);
        s.sent(0);
        let before = s.next();
        s.solicited(before - 1);
        assert!(s.next() <= before);
    }
}
