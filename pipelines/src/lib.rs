//! The v6fwd transform pipeline: security policies, states and the bundles that stack
//! transforms on a packet's way out and in, as the reference paper's stackable
//! destinations do.
//!
//! - [`transform::Transform`] is what every transform is: one stage with its own state,
//!   an output step that adds its headers and an input step that takes them off. A new
//!   transform is one more type implementing it.
//! - [`esp::Esp`] (RFC 4303, AEAD through `ring`) and [`tunnel::Ip6Ip6`] (RFC 2473) are
//!   the transforms.
//! - [`sad::Sad`] holds the states, [`spd::Spd`] the policies; a protecting policy's
//!   templates resolve to a [`spd::Bundle`], kept until a state comes or goes.
//!
//! This crate knows packets ([`packet::Packet`], an IPv6 packet in a buffer with room
//! around it) and keys, not ports or routes.

pub mod esp;
pub mod packet;
pub mod replay;
pub mod sad;
pub mod spd;
pub mod transform;
pub mod tunnel;
