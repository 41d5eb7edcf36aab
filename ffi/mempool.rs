//! Packet buffer pools.

use std::ffi::CString;
use std::ptr::NonNull;

use super::{DpdkError, Eal, sys};

/// An mbuf pool (`rte_pktmbuf_pool_create`), freed when dropped.
pub struct Mempool {
    ptr: NonNull<sys::rte_mempool>,
    size: u32,
}

// SAFETY: a DPDK mempool is built for concurrent use: EAL lcores use their own per-lcore
// caches and other threads the pool's multi-producer/multi-consumer ring.
unsafe impl Send for Mempool {}
// SAFETY: as above; every operation through `&Mempool` is thread-safe in DPDK.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `size` mbufs with `data_room` bytes each (headroom included), a
    /// per-lcore cache of `cache` mbufs, on NUMA `socket`.
    ///
    /// # Errors
    /// Fails if the name holds a NUL byte or is taken, or memory runs out (under
    /// `--no-huge`, large pools do).
    pub fn create(
        _eal: &Eal,
        name: &str,
        size: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Mempool, DpdkError> {
        let c = CString::new(name)
            .map_err(|_| DpdkError::new("rte_pktmbuf_pool_create", name, libc::EINVAL))?;
        // SAFETY: `c` is a valid C string for the call; the other arguments are plain values
        // that DPDK validates.
        let ptr =
            unsafe { sys::rte_pktmbuf_pool_create(c.as_ptr(), size, cache, 0, data_room, socket) };
        let ptr = NonNull::new(ptr).ok_or_else(|| {
            DpdkError::from_errno(
                "rte_pktmbuf_pool_create",
                format_args!("{name}, {size} mbufs"),
            )
        })?;
        Ok(Mempool { ptr, size })
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.ptr.as_ptr()
    }

    /// How many mbufs the pool was made with.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// How many mbufs are out of the pool: in rx rings, in flight, or in per-lcore caches.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is alive (owned by self); counting only reads its counters.
        unsafe { sys::v6fwd_mempool_in_use(self.ptr.as_ptr()) }
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: the pool is no longer used: the ports fed by it were closed before (the
        // owner orders it so) and every Mbuf borrowed from it has been freed.
        unsafe { sys::rte_mempool_free(self.ptr.as_ptr()) };
    }
}
