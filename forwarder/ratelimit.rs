//! A token bucket, as RFC 4443 section 2.4 (f) suggests for limiting the rate of ICMPv6
//! error messages: `burst` tokens at most, refilled at `rate` tokens per second, one
//! token per message. Each worker core owns its own bucket, so no state is shared.
//!
//! Time is a number of nanoseconds from any fixed origin, given by the caller, so the
//! bucket is tested with a virtual clock.

/// Nanoseconds per second.
const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Nanoseconds per token; 0 means the bucket never refills.
    interval_ns: u64,
    burst: u32,
    tokens: u32,
    /// The time the last whole token was added.
    refilled_at: u64,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilled at `rate` per second. A rate of 0 allows
    /// the burst once and then nothing.
    pub fn new(rate: u32, burst: u32, now: u64) -> TokenBucket {
        TokenBucket {
            interval_ns: if rate == 0 {
                0
            } else {
                NS_PER_SEC / u64::from(rate)
            },
            burst,
            tokens: burst,
            refilled_at: now,
        }
    }

    /// Takes a token if there is one at time `now`.
    pub fn take(&mut self, now: u64) -> bool {
        if self.tokens < self.burst && self.interval_ns > 0 {
            // The division runs only when a token is asked for, that is per ICMPv6 error,
            // never per forwarded packet.
            let elapsed = now.saturating_sub(self.refilled_at);
            let earned = elapsed / self.interval_ns;
            if earned > 0 {
                let room = u64::from(self.burst - self.tokens);
                self.tokens += earned.min(room) as u32;
                // Keep the fraction of a token already earned, unless the bucket filled up.
                self.refilled_at = if earned >= room {
                    now
                } else {
                    self.refilled_at + earned * self.interval_ns
                };
            }
        }
        if self.tokens == 0 {
            return false;
        }
        if self.tokens == self.burst {
            // A full bucket starts earning again from the first token it gives.
            self.refilled_at = now;
        }
        self.tokens -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn burst_then_rate() {
        let mut b = TokenBucket::new(100, 5, 0);
        assert_eq!((0..10).filter(|_| b.take(0)).count(), 5);
        // 100 per second: one token every 10 ms.
        assert!(!b.take(9 * MS));
        assert!(b.take(10 * MS));
        assert!(!b.take(15 * MS));
        assert!(b.take(20 * MS));
    }

    #[test]
    fn never_holds_more_than_the_burst() {
        let mut b = TokenBucket::new(1000, 3, 0);
        assert!(b.take(0));
        assert_eq!((0..10).filter(|_| b.take(10_000 * MS)).count(), 3);
    }

    #[test]
    fn fractions_of_tokens_are_kept() {
        let mut b = TokenBucket::new(100, 2, 0);
        assert!(b.take(0));
        assert!(b.take(0));
        assert!(!b.take(6 * MS));
        assert!(b.take(12 * MS), "one token earned at 10 ms");
        assert!(b.take(20 * MS), "the next at 20 ms, not 22 ms");
    }

    #[test]
    fn rate_zero_allows_only_the_burst() {
        let mut b = TokenBucket::new(0, 2, 0);
        assert!(b.take(0));
        assert!(b.take(0));
        assert!(!b.take(u64::MAX / 2));
    }

    #[test]
    fn long_run_rate_is_kept() {
        let mut b = TokenBucket::new(50, 10, 0);
        // One attempt per millisecond for ten seconds: the burst plus 50 per second.
        let sent = (0..10_000).filter(|ms| b.take(ms * MS)).count();
        assert!((500..=511).contains(&sent), "{sent}");
    }
}
