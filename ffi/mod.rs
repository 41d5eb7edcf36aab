//! The DPDK binding layer: the generated bindings (`sys`), and above them the only `unsafe`
//! DPDK code of the project, as small safe wrappers named after the C calls they make.
//!
//! Nothing here knows about IPv6 or routing: it speaks of ports, queues, lcores, mempools
//! and mbufs. Every DPDK return code is turned into a [`DpdkError`] at the call site.

pub mod sys;

mod eal;
mod ethdev;
mod mbuf;
mod mempool;

use std::fmt;

pub use eal::{Eal, LcoreId};
pub use ethdev::{LinkStatus, PortConfig, PortId, PortInfo, PortStats, QueueId, RxQueue, TxQueue};
pub use mbuf::{BURST_MAX, Mbuf, MbufBatch, RxBurst};
pub use mempool::Mempool;

/// A failed DPDK call: which call, on what, and the error code DPDK gave.
#[derive(Debug, thiserror::Error)]
#[error("{call}({what}): {message} ({code})")]
pub struct DpdkError {
    pub call: &'static str,
    pub what: String,
    pub code: i32,
    pub message: String,
}

impl DpdkError {
    /// Builds the error for a call that returned a negative errno (or set `rte_errno` and
    /// returned a negative sentinel, in which case `code` is that `rte_errno`).
    pub(crate) fn new(call: &'static str, what: impl fmt::Display, code: i32) -> Self {
        let code = code.abs();
        // SAFETY: rte_strerror returns a pointer to a static or thread-local string for any
        // error number, valid until the next call on this thread; it is copied at once.
        let message = unsafe { std::ffi::CStr::from_ptr(sys::rte_strerror(code)) }
            .to_string_lossy()
            .into_owned();
        DpdkError {
            call,
            what: what.to_string(),
            code: -code,
            message,
        }
    }

    /// The error for a call that reports failure through `rte_errno`.
    pub(crate) fn from_errno(call: &'static str, what: impl fmt::Display) -> Self {
        // SAFETY: reading the per-lcore rte_errno has no preconditions.
        let code = unsafe { sys::v6fwd_errno() };
        Self::new(call, what, code)
    }
}

/// Turns a DPDK status return (0 or a negative errno) into a result.
pub(crate) fn check(
    call: &'static str,
    what: impl fmt::Display,
    ret: i32,
) -> Result<(), DpdkError> {
    if ret < 0 {
        Err(DpdkError::new(call, what, ret))
    } else {
        Ok(())
    }
}

/// The version of the DPDK v6fwd runs with, as DPDK names it (`DPDK 22.11.11`).
pub fn version() -> String {
    // SAFETY: rte_version formats a static string once and returns it; it needs no EAL.
    let v = unsafe { std::ffi::CStr::from_ptr(sys::rte_version()) };
    v.to_string_lossy().into_owned()
}

/// Reads the CPU's time-stamp counter.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: rte_rdtsc reads a CPU register and touches no memory.
    unsafe { sys::v6fwd_rdtsc() }
}
