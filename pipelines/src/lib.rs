//! The v6fwd transform pipeline: security policies, states and the bundles that stack
//! transforms on a packet's way out and in.
//!
//! This crate knows packets and keys, not ports or routes. It holds no transform yet: the
//! forwarder runs without one.
