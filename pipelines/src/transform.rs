//! What every transform is: one stage with its own state, which a packet goes through
//! on its way out (adding its headers) and on its way in (taking them off), with the
//! lifetime limits and the counters every state keeps.

use std::fmt;
use std::net::Ipv6Addr;

use crate::packet::{NoRoom, Packet};

/// Why a transform refused a packet; the packet is to be dropped and counted under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Drop {
    /// Shorter than the headers the transform takes off.
    Truncated,
    /// A sequence number already received (anti-replay).
    Replayed,
    /// A sequence number left of the anti-replay window.
    TooOld,
    /// The integrity check failed: the packet was altered, or is not the peer's.
    AuthFailed,
    /// The decrypted trailer is malformed (padding, length, next header).
    BadTrailer,
    /// The state sent every sequence number it has: it needs new keys.
    SequenceExhausted,
    /// The state's hard lifetime is over.
    Expired,
    /// The buffer has no room for the headers to add.
    NoRoom,
    /// A packet whose headers the transform does not handle (an extension header before
    /// where transport mode would go, an inner packet of another protocol).
    Unsupported,
    /// Not the transform's packet: other addresses or protocol.
    NotMine,
}

impl From<NoRoom> for Drop {
    fn from(_: NoRoom) -> Drop {
        Drop::NoRoom
    }
}

/// Which state a packet on the way in belongs to: its protocol, the destination (the
/// state's local address), and the SPI or, for a tunnel without one, the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateKey {
    pub proto: u8,
    pub dst: Ipv6Addr,
    pub spi: u32,
    pub src: Option<Ipv6Addr>,
}

/// Limits of a state's life; 0 is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub bytes: u64,
    pub packets: u64,
    pub seconds: u64,
}

/// When a state should be replaced (soft) and when it stops (hard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifetime {
    pub soft: Limits,
    pub hard: Limits,
}

/// Where a state is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    #[default]
    Live,
    /// A soft limit was reached: it still carries traffic, and should be replaced.
    Soft,
    /// A hard limit was reached: it carries nothing more.
    Hard,
}

/// A state's counters, in both directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
    pub replayed: u64,
    pub too_old: u64,
    pub auth_failed: u64,
    pub bad_trailer: u64,
    pub expired: u64,
    pub exhausted: u64,
}

impl Counters {
    /// Counts a refusal under its reason.
    pub fn refused(&mut self, d: Drop) {
        match d {
            Drop::Replayed => self.replayed += 1,
            Drop::TooOld => self.too_old += 1,
            Drop::AuthFailed => self.auth_failed += 1,
            Drop::BadTrailer => self.bad_trailer += 1,
            Drop::Expired => self.expired += 1,
            Drop::SequenceExhausted => self.exhausted += 1,
            Drop::Truncated | Drop::NoRoom | Drop::Unsupported | Drop::NotMine => {}
        }
    }
}

/// A state's use against its lifetime: packets and bytes it carried since `created`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Use {
    pub created_ns: u64,
    pub expiry: Expiry,
}

impl Use {
    /// Where `counters` and `now` put a state of `lifetime`; it never goes back.
    pub fn update(&mut self, lifetime: &Lifetime, counters: &Counters, now_ns: u64) -> Expiry {
        let secs = now_ns.saturating_sub(self.created_ns) / 1_000_000_000;
        let over = |l: &Limits| {
            (l.bytes != 0 && counters.bytes >= l.bytes)
                || (l.packets != 0 && counters.packets >= l.packets)
                || (l.seconds != 0 && secs >= l.seconds)
        };
        if over(&lifetime.hard) {
            self.expiry = Expiry::Hard;
        } else if self.expiry == Expiry::Live && over(&lifetime.soft) {
            self.expiry = Expiry::Soft;
        }
        self.expiry
    }
}

/// One stage of a bundle: ESP, a tunnel, ... Each holds its own state and runs on its
/// own; a bundle stacks them.
pub trait Transform: fmt::Debug + Send {
    /// The transform's name, as `ip xfrm` would show its protocol.
    fn name(&self) -> &'static str;

    /// How a packet on the way in finds this state.
    fn key(&self) -> StateKey;

    /// The most bytes it adds to a packet of `len` bytes, in front and behind.
    fn overhead(&self, len: usize) -> (usize, usize);

    /// Adds its headers to `p`, at time `now_ns`.
    ///
    /// # Errors
    /// Why the packet cannot go out through it.
    fn output(&mut self, p: &mut Packet<'_>, now_ns: u64) -> Result<(), Drop>;

    /// Takes its headers off `p`, which starts with the IPv6 header whose payload (at
    /// `at` bytes from the start) is this transform's; what remains is the packet within.
    ///
    /// # Errors
    /// Why the packet is refused.
    fn input(&mut self, p: &mut Packet<'_>, at: usize, now_ns: u64) -> Result<(), Drop>;

    fn counters(&self) -> &Counters;

    fn expiry(&self) -> Expiry;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_then_hard_and_never_back() {
        let life = Lifetime {
            soft: Limits {
                packets: 10,
                ..Limits::default()
            },
            hard: Limits {
                bytes: 1000,
                seconds: 60,
                ..Limits::default()
            },
        };
        let mut u = Use::default();
        let mut c = Counters::default();
        assert_eq!(u.update(&life, &c, 0), Expiry::Live);
        c.packets = 10;
        assert_eq!(u.update(&life, &c, 0), Expiry::Soft);
        c.bytes = 1000;
        assert_eq!(u.update(&life, &c, 0), Expiry::Hard);
        c.bytes = 0;
        assert_eq!(u.update(&life, &c, 0), Expiry::Hard);
        let mut u = Use::default();
        assert_eq!(
            u.update(&life, &Counters::default(), 60_000_000_000),
            Expiry::Hard
        );
    }
}
