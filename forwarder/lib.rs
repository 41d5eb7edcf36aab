//! v6fwd: an IPv6 router dataplane on DPDK.
//!
//! The crate reads in one direction:
//! - [`ffi`] binds DPDK and knows nothing of IPv6;
//! - [`wire`], [`route`], [`fib`], [`neigh`] and [`dataplane`] are the packet logic, plain code over
//!   bytes and ids that knows nothing of DPDK;
//! - [`worker`] is the one place where the two meet: polling cores that run the logic on
//!   bursts of mbufs;
//! - [`router`] starts and stops it all from a [`config`], on the management thread, whose
//!   state and work are [`manage`]'s; [`control`] and [`metrics`] serve it to operators.

#![deny(unsafe_code)]

#[allow(unsafe_code)]
#[path = "../ffi/mod.rs"]
pub mod ffi;

pub mod advert;
pub mod config;
pub mod control;
pub mod counters;
pub mod dataplane;
pub mod doctor;
pub mod fib;
pub mod lab;
pub mod manage;
pub mod metrics;
pub mod neigh;
pub mod polling;
pub mod ratelimit;
pub mod reassembly;
pub mod report;
pub mod route;
pub mod router;
pub mod testvec;
pub mod wire;
pub mod worker;
