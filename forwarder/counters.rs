//! Per-core packet counters and the named reasons a packet is dropped.
//!
//! Each worker owns one [`CoreCounters`] and is its only writer: it adds with a plain
//! load and store (no locked instruction), and the management thread reads at any time
//! with relaxed loads. A reader may see a burst's counts a moment late, never torn.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Why a packet was dropped. Every drop on the packet path is counted under one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum DropReason {
            $(#[doc = $doc] $variant,)*
        }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];

            /// The reason's name in reports and metrics.
            pub fn name(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $name,)*
                }
            }

            /// What the reason means, for reports and documentation.
            pub fn help(self) -> &'static str {
                match self {
                    $(DropReason::$variant => $doc,)*
                }
            }
        }
    };
}

drop_reasons! {
    NotIpv6 => "not_ipv6", "The EtherType is not IPv6 (0x86dd).";
    Truncated => "truncated", "The frame is shorter than the Ethernet and IPv6 headers.";
    BadVersion => "bad_version", "The IP version field is not 6.";
    BadLength => "bad_length", "The payload length runs past the end of the frame (or is 0 with a Hop-by-Hop header: a jumbogram, not supported).";
    OtherHost => "other_host", "The frame is addressed to another unicast MAC address, or a packet to forward came to a link-layer group address.";
    BadDestination => "bad_destination", "The destination is the unspecified address.";
    BadSource => "bad_source", "The source address is multicast or loopback, or unspecified on a packet to forward.";
    MulticastDestination => "multicast_destination", "A multicast destination the router does not listen to; multicast is not forwarded.";
    ScopeViolation => "scope", "A link-local source or destination, or a loopback destination, would cross links.";
    HopLimitExceeded => "hop_limit_exceeded", "The hop limit ran out (0 or 1 on a packet to forward).";
    NoRoute => "no_route", "No route matches the destination.";
    Blackhole => "blackhole", "A route of type blackhole discards the packet, silently.";
    Unreachable => "unreachable", "A route of type unreachable refuses the packet (answered with Destination Unreachable, code 0).";
    Prohibited => "prohibited", "A route of type prohibit refuses the packet (answered with Destination Unreachable, code 1).";
    NoNeighbor => "no_neighbor", "Address resolution of the next hop failed (answered with Destination Unreachable, code 3).";
    NdQueueOverflow => "nd_queue_overflow", "A packet waiting for address resolution gave its place to a newer one (RFC 4861 7.2.2).";
    NdIncompleteLimit => "nd_incomplete_limit", "The egress port had as many addresses being resolved as it may (RFC 6583).";
    NdSolicitRate => "nd_solicit_rate", "Starting a resolution would have sent solicitations faster than allowed (RFC 6583).";
    NdTableFull => "nd_table_full", "The neighbor cache of the entry's owner core was full.";
    NdHandoffFull => "nd_handoff_full", "The inbox of the core that owns the next hop's neighbor entry was full.";
    NdAbandoned => "nd_abandoned", "A packet still waiting for address resolution when the forwarder stopped or its neighbor entry was flushed.";
    TooBig => "too_big", "The packet is larger than the egress port's MTU.";
    TxFull => "tx_full", "The egress queue did not take the packet (also counted as forwarded, replied or sent as an ICMPv6 error).";
    TcpChecksum => "tcp_bad_checksum", "A TCP segment to the router has a wrong checksum.";
    IcmpChecksum => "icmp_bad_checksum", "An ICMPv6 message to the router has a wrong checksum.";
    NdInvalid => "nd_invalid", "A Neighbor Solicitation failed the checks of RFC 4861 section 7.1.1.";
    NdOtherTarget => "nd_other_target", "A Neighbor Solicitation for an address the port does not have.";
    LocalUnsupported => "local_unsupported", "A packet to the router that it does not answer: ICMPv6 other than Echo Requests and the Neighbor Discovery messages it takes (a Redirect among them: routers ignore those), multicast Echo Requests, ESP, AH, No Next Header, TCP resets and TCP to a multicast group.";
    MultiSegment => "multi_segment", "A frame spanning several buffers (buffers are sized for the largest MTU, and frames are not chained).";
    BadExtensionHeader => "bad_extension_header", "An extension header or option runs past the packet or is malformed.";
    UnknownOption => "unknown_option", "An unrecognised Hop-by-Hop or Destination option whose type says to discard the packet.";
    UnknownNextHeader => "unknown_next_header", "A packet to the router with a protocol it does not know (answered with Parameter Problem).";
    PortUnreachable => "port_unreachable", "UDP to the router, which has no UDP service (answered with Destination Unreachable, port unreachable).";
    BadFragment => "bad_fragment", "A fragment to the router that is not the last yet not a multiple of 8 bytes long, or that runs past 65,535 bytes (both answered with Parameter Problem), or whose packet's parts disagree on its length.";
    FragmentOverlap => "fragment_overlap", "A fragment to the router that overlaps another: the whole packet is discarded (RFC 5722).";
    ReassemblyFull => "reassembly_full", "A fragment to the router arrived while every reassembly slot held a younger packet.";
    MempoolEmpty => "mempool_empty", "No buffer could be had from the pool for an answer sent in fragments.";
    RoutingHeader => "routing_header", "A packet to the router with a Routing header it would have to process (RFC 5095: type 0 included).";
    SharedBuffer => "shared_buffer", "A received buffer shared with another holder (indirect, external or referenced twice), which the router does not write in place.";
    NoBufferRoom => "no_buffer_room", "A reply did not fit in the buffer of the packet it answers.";
}

/// The Neighbor Discovery messages, by ICMPv6 type from 133 on, as metrics name them.
pub const ND_TYPES: [&str; 5] = [
    "router_solicitation",
    "router_advertisement",
    "neighbor_solicitation",
    "neighbor_advertisement",
    "redirect",
];

/// Number of drop reasons.
pub const DROP_REASONS: usize = DropReason::ALL.len();

/// A counter with one writer (the owning core) and any number of readers.
#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`. Only the owning core may call this: a load and a store, not an atomic
    /// read-modify-write, because no other thread writes.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Sets it to `n`: for a gauge. Only the owning core may call this.
    #[inline]
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// The current value, from any thread.
    #[inline]
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The counters of one worker core, on cache lines of their own so that no two cores
/// write the same line.
#[repr(align(128))]
#[derive(Default)]
pub struct CoreCounters {
    /// Packets received from the core's rx queues.
    pub rx: Counter,
    /// Packets forwarded to an egress port's queue (sent or not: see `tx_full`).
    pub forwarded: Counter,
    /// Replies the router made itself (Neighbor Advertisements, Echo Replies).
    pub replied: Counter,
    /// Packets the tx queues took.
    pub tx: Counter,
    /// Fragments to the router taken into reassembly, but the one that completed a packet
    /// (counted with its answer or drop).
    pub fragments_held: Counter,
    /// Frames beyond the first of the router's answers sent in fragments (the answer
    /// itself counts once, as replied or as an ICMPv6 error).
    pub answer_fragments: Counter,
    /// Fragmented packets to the router abandoned after 60 s incomplete.
    pub reassembly_expired: Counter,
    /// ICMPv6 errors sent.
    pub icmp_errors: Counter,
    /// Neighbor Advertisements and Router Solicitations taken in.
    pub nd_consumed: Counter,
    /// Neighbor Solicitations the router sent to resolve or probe a neighbor.
    pub solicitations: Counter,
    /// Router Advertisements the router sent.
    pub router_adverts: Counter,
    /// Redirects the router sent.
    pub redirects: Counter,
    /// Neighbor Discovery messages not sent for want of a buffer, and events between cores
    /// lost to a full inbox.
    pub nd_messages_lost: Counter,
    /// Neighbor Advertisements the router sent, answering solicitations.
    pub advertisements: Counter,
    /// Neighbor Discovery messages received with a good checksum, valid or not, by type
    /// (in the order of [`ND_TYPES`]).
    pub nd_received: [Counter; ND_TYPES.len()],
    /// The core's neighbor entries by state (in the order of
    /// [`crate::neigh::cache::State::ALL`]): a gauge, as of the core's last pass over
    /// them.
    pub neighbors: [Counter; crate::neigh::cache::STATES],
    /// ICMPv6 errors not sent because the core's error rate limit was reached.
    pub icmp_rate_limited: Counter,
    /// Time-stamp counter cycles spent in poll rounds that found packets.
    pub busy_cycles: Counter,
    /// Cycles spent in poll rounds that found none.
    pub empty_cycles: Counter,
    /// Cycles spent asleep.
    pub sleep_cycles: Counter,
    /// Poll rounds that found no packet on any queue.
    pub idle_polls: Counter,
    drops: DropCounters,
}

/// One counter per drop reason.
struct DropCounters([Counter; DROP_REASONS]);

impl Default for DropCounters {
    fn default() -> Self {
        DropCounters(std::array::from_fn(|_| Counter::default()))
    }
}

impl CoreCounters {
    /// Counts one dropped packet.
    #[inline]
    pub fn drop_packet(&self, reason: DropReason) {
        self.drops.0[reason as usize].add(1);
    }

    /// Counts `n` dropped packets.
    #[inline]
    pub fn drop_packets(&self, reason: DropReason, n: u64) {
        self.drops.0[reason as usize].add(n);
    }

    /// Packets dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops.0[reason as usize].get()
    }

    /// All drops, every reason.
    pub fn dropped_total(&self) -> u64 {
        self.drops.0.iter().map(Counter::get).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_snake_case() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.name()).collect();
        assert!(names.iter().all(|n| {
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DROP_REASONS);
    }

    #[test]
    fn readme_lists_every_reason() {
        let readme = include_str!("../README.md");
        for r in DropReason::ALL {
            let row = format!("| `{}` | {} |", r.name(), r.help());
            assert!(readme.contains(&row), "README.md lacks the row {row}");
        }
    }

    #[test]
    fn counts_per_reason() {
        let c = CoreCounters::default();
        c.drop_packet(DropReason::NoRoute);
        c.drop_packets(DropReason::TxFull, 3);
        assert_eq!(c.dropped(DropReason::NoRoute), 1);
        assert_eq!(c.dropped(DropReason::TxFull), 3);
        assert_eq!(c.dropped(DropReason::NotIpv6), 0);
        assert_eq!(c.dropped_total(), 4);
    }
}
