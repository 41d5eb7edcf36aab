//! Zero-copy views over the wire formats the forwarder reads and writes.
//!
//! Each view checks its length once when it is made, then reads fields at fixed offsets
//! without further checks. These are written here rather than taken from a crate because
//! they run on every packet: a view must cost a bounds check and nothing else (no copy, no
//! allocation, no owned representation), and must write in place.

pub mod checksum;
pub mod ethernet;
pub mod exthdr;
pub mod fragment;
pub mod icmpv6;
pub mod ipv6;
pub mod nd;
pub mod tcp;

pub use ethernet::{EthernetFrame, MacAddr};
pub use ipv6::Ipv6Packet;
