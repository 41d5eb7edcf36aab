//! The Security Policy Database: what to do with a packet of given addresses, protocol
//! and ports, in each direction (bypass it, discard it, or protect it with an ordered
//! list of templates), and the bundles the templates resolve to.
//!
//! Policies are kept in order of priority (lower first, as Linux orders them) and looked
//! up by a scan: the first whose selector matches wins. That costs one comparison per
//! policy, which suits the tens of policies of a gateway; a table of thousands would
//! want an index by destination.

use std::net::Ipv6Addr;

use crate::packet::Packet;
use crate::sad::{Sad, StateId};
use crate::transform::{Drop, Expiry, StateKey};

/// An IPv6 prefix, for selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Net {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Net {
    /// Every address.
    pub const ANY: Net = Net {
        addr: Ipv6Addr::UNSPECIFIED,
        len: 0,
    };

    pub fn contains(&self, a: &Ipv6Addr) -> bool {
        let mask = if self.len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.len.min(128)))
        };
        u128::from(*a) & mask == u128::from(self.addr) & mask
    }
}

/// What a packet offers to selectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    /// The upper-layer protocol.
    pub proto: u8,
    /// Ports for TCP, UDP and SCTP; ICMPv6's type and code otherwise (as Linux puts them).
    pub sport: u16,
    pub dport: u16,
}

/// Which packets a policy applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selector {
    pub src: Net,
    pub dst: Net,
    pub proto: Option<u8>,
    /// Inclusive port ranges.
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
}

impl Selector {
    pub fn matches(&self, f: &Flow) -> bool {
        let port = |r: Option<(u16, u16)>, p: u16| r.is_none_or(|(lo, hi)| (lo..=hi).contains(&p));
        self.src.contains(&f.src)
            && self.dst.contains(&f.dst)
            && self.proto.is_none_or(|p| p == f.proto)
            && port(self.sport, f.sport)
            && port(self.dport, f.dport)
    }
}

/// Which traffic a policy is for: leaving the router's own stack, arriving for it, or
/// forwarded through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
    Fwd,
}

/// One transform a protected packet goes through, as the state that does it is found:
/// its protocol and addresses, and its SPI if the policy names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    pub proto: u8,
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub spi: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Bypass,
    Discard,
    /// Through these transforms, the first innermost.
    Protect(Vec<Template>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub selector: Selector,
    pub direction: Direction,
    /// Lower first.
    pub priority: u32,
    pub action: Action,
}

/// The states a protecting policy's templates resolve to, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub states: Vec<StateId>,
}

impl Bundle {
    /// Runs `p` through every state, the first innermost.
    ///
    /// # Errors
    /// The first refusal, with the state that refused.
    pub fn output(
        &self,
        sad: &mut Sad,
        p: &mut Packet<'_>,
        now_ns: u64,
    ) -> Result<(), (StateId, Drop)> {
        for &id in &self.states {
            let state = sad.get_mut(id).ok_or((id, Drop::Expired))?;
            state.output(p, now_ns).map_err(|d| (id, d))?;
        }
        Ok(())
    }

    /// The most bytes the bundle adds to a packet of `len` bytes, in front and behind.
    pub fn overhead(&self, sad: &Sad, len: usize) -> (usize, usize) {
        let (mut head, mut tail) = (0, 0);
        for &id in &self.states {
            if let Some(s) = sad.get(id) {
                let (h, t) = s.overhead(len + head + tail);
                head += h;
                tail += t;
            }
        }
        (head, tail)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpdError {
    #[error("no state for template {0} of the policy (protocol {1}, {2} to {3})")]
    Unresolved(usize, u8, Ipv6Addr, Ipv6Addr),
    #[error("no policy {0}")]
    NotFound(usize),
}

/// The policies, and the bundle each protecting one resolved to.
#[derive(Debug, Default)]
pub struct Spd {
    policies: Vec<(Policy, Option<(u64, Bundle)>)>,
}

impl Spd {
    pub fn new() -> Spd {
        Spd::default()
    }

    /// Adds a policy after those of the same or lower priority; returns its place.
    pub fn add(&mut self, policy: Policy) -> usize {
        let at = self
            .policies
            .iter()
            .position(|(p, _)| p.priority > policy.priority)
            .unwrap_or(self.policies.len());
        self.policies.insert(at, (policy, None));
        at
    }

    /// Removes the policy at `index`.
    ///
    /// # Errors
    /// There is none.
    pub fn remove(&mut self, index: usize) -> Result<Policy, SpdError> {
        if index >= self.policies.len() {
            return Err(SpdError::NotFound(index));
        }
        Ok(self.policies.remove(index).0)
    }

    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.policies.iter().map(|(p, _)| p)
    }

    pub fn len(&self) -> usize {
        self.policies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// The first policy of `direction` whose selector matches `flow`.
    pub fn lookup(&self, direction: Direction, flow: &Flow) -> Option<(usize, &Policy)> {
        self.policies
            .iter()
            .enumerate()
            .find(|(_, (p, _))| p.direction == direction && p.selector.matches(flow))
            .map(|(i, (p, _))| (i, p))
    }

    /// The bundle of the policy at `index`: resolved again if a state came or went since
    /// it was last.
    ///
    /// # Errors
    /// A template has no state, or there is no such policy.
    pub fn bundle(&mut self, index: usize, sad: &Sad) -> Result<&Bundle, SpdError> {
        let (policy, cached) = self
            .policies
            .get_mut(index)
            .ok_or(SpdError::NotFound(index))?;
        let stale = cached
            .as_ref()
            .is_none_or(|(generation, _)| *generation != sad.generation());
        if stale {
            let templates = match &policy.action {
                Action::Protect(t) => t.as_slice(),
                Action::Bypass | Action::Discard => &[],
            };
            let mut states = Vec::with_capacity(templates.len());
            for (i, t) in templates.iter().enumerate() {
                states.push(resolve(sad, t).ok_or(SpdError::Unresolved(i, t.proto, t.src, t.dst))?);
            }
            *cached = Some((sad.generation(), Bundle { states }));
        }
        Ok(&cached.as_ref().expect("resolved above").1)
    }

    /// Whether a packet that came in through the states `path` (outermost last, as they
    /// were taken off) and matches `flow` may go on: as its inbound or forward policy
    /// requires. A packet no policy covers goes on only if it came in unprotected.
    pub fn check_inbound(
        &mut self,
        direction: Direction,
        flow: &Flow,
        path: &[StateId],
        sad: &Sad,
    ) -> bool {
        let Some((index, policy)) = self.lookup(direction, flow) else {
            return path.is_empty();
        };
        match policy.action {
            Action::Discard => false,
            Action::Bypass => path.is_empty(),
            Action::Protect(_) => match self.bundle(index, sad) {
                // The bundle lists the states innermost first; the path has them in the
                // order they were taken off, outermost first.
                Ok(b) => b.states.iter().rev().eq(path.iter()),
                Err(_) => false,
            },
        }
    }
}

/// The state a template names.
fn resolve(sad: &Sad, t: &Template) -> Option<StateId> {
    match t.spi {
        Some(spi) => sad.find(&StateKey {
            proto: t.proto,
            dst: t.dst,
            spi,
            src: None,
        }),
        // A state past its hard lifetime carries nothing; one past its soft lifetime
        // gives way to a live one, its replacement.
        None => sad
            .iter()
            .filter(|(_, s)| {
                let k = s.key();
                k.proto == t.proto
                    && k.dst == t.dst
                    && k.src.is_none_or(|src| src == t.src)
                    && s.expiry() != Expiry::Hard
            })
            .min_by_key(|(id, s)| (s.expiry() == Expiry::Soft, *id))
            .map(|(id, _)| id),
    }
}

#[cfg(test)]
mod tests;
