//! Packet buffers, owned: an [`Mbuf`] is freed exactly once, by being dropped, sent, or
//! handed to a batch that sends or frees it.

use std::ptr::NonNull;

use super::{PortId, QueueId, sys};

/// The most packets one burst moves.
pub const BURST_MAX: usize = 64;

/// One owned packet buffer. Dropping it returns it to its pool.
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an mbuf is plain memory owned by whoever holds the pointer; moving that
// ownership to another thread is how DPDK pipelines work.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Allocates a buffer from `pool`, or `None` if the pool is empty.
    pub fn alloc(pool: &super::Mempool) -> Option<Mbuf> {
        // SAFETY: the pool is alive for the call.
        NonNull::new(unsafe { sys::v6fwd_pktmbuf_alloc(pool.as_ptr()) }).map(Mbuf)
    }

    /// The mbuf header. Its fields are read here in Rust, as DPDK's own inline accessors
    /// (`rte_pktmbuf_mtod`, `rte_pktmbuf_data_len`, ...) read them in C: the layout comes
    /// from bindgen over the same headers and flags the C side is built with, and a call
    /// into the shim per field would cost more than the read on the per-packet path.
    #[inline]
    fn header(&self) -> &sys::rte_mbuf {
        // SAFETY: the pointer is a valid mbuf owned by self for as long as self lives.
        unsafe { self.0.as_ref() }
    }

    /// The bytes of the first segment.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let h = self.header();
        // SAFETY: the segment's buffer holds data_len initialised bytes from buf_addr +
        // data_off (rte_pktmbuf_mtod), and the mbuf is owned by self.
        unsafe {
            std::slice::from_raw_parts(
                h.buf_addr.cast::<u8>().add(usize::from(h.data_off)),
                usize::from(h.data_len),
            )
        }
    }

    /// The first segment's data and tailroom: `len()` of the data are the packet, the rest
    /// is free space a reply may grow into (then [`Mbuf::set_len`]).
    #[inline]
    pub fn buffer_mut(&mut self) -> &mut [u8] {
        let h = self.header();
        let start = usize::from(h.data_off);
        // The buffer runs buf_len bytes from buf_addr; the data starts data_off into it
        // (rte_pktmbuf_tailroom is what lies past data_len).
        let len = usize::from(h.buf_len).saturating_sub(start);
        let base = h.buf_addr.cast::<u8>();
        // SAFETY: the mbuf is owned by self and borrowed mutably, so nothing else reads or
        // writes its buffer; [data_off, buf_len) lies inside the buffer. The bytes past
        // the data are memory DPDK allocated for packets, treated as plain bytes.
        unsafe { std::slice::from_raw_parts_mut(base.add(start), len) }
    }

    /// Length of the first segment.
    #[inline]
    pub fn len(&self) -> usize {
        usize::from(self.header().data_len)
    }

    /// Whether the first segment is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length of the whole packet, all segments.
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.header().pkt_len as usize
    }

    /// Number of segments.
    #[inline]
    pub fn segments(&self) -> u16 {
        self.header().nb_segs
    }

    /// Sets the length of a single-segment packet, cutting or growing into the tailroom.
    /// Returns false, changing nothing, if the packet has several segments or the tailroom
    /// is too small.
    #[inline]
    pub fn set_len(&mut self, len: usize) -> bool {
        if self.segments() != 1 {
            return false;
        }
        let cur = self.len();
        let m = self.0.as_ptr();
        if len < cur {
            // SAFETY: trimming an owned single-segment mbuf by less than its length.
            unsafe { sys::v6fwd_pktmbuf_trim(m, (cur - len) as u16) == 0 }
        } else if len > cur {
            let Ok(grow) = u16::try_from(len - cur) else {
                return false;
            };
            // SAFETY: append checks the tailroom and returns null when it is too small.
            !unsafe { sys::v6fwd_pktmbuf_append(m, grow) }.is_null()
        } else {
            true
        }
    }

    /// Cuts the packet to `len` bytes in all, when the excess lies in the last segment
    /// (Ethernet padding). Returns false, changing nothing, otherwise.
    #[inline]
    pub fn trim_to(&mut self, len: usize) -> bool {
        let total = self.pkt_len();
        if len >= total {
            return len == total;
        }
        if self.segments() == 1 {
            return self.set_len(len);
        }
        let Ok(cut) = u16::try_from(total - len) else {
            return false;
        };
        // SAFETY: rte_pktmbuf_trim checks that the last segment holds `cut` bytes and
        // returns -1, changing nothing, otherwise.
        unsafe { sys::v6fwd_pktmbuf_trim(self.0.as_ptr(), cut) == 0 }
    }

    /// Gives up ownership without freeing.
    #[inline]
    pub fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for Mbuf {
    fn drop(&mut self) {
        // SAFETY: the mbuf is owned by self and freed here once.
        unsafe { sys::v6fwd_pktmbuf_free(self.0.as_ptr()) };
    }
}

/// The packets of one receive burst. Iterating takes them out as owned [`Mbuf`]s; any left
/// in it when it is reused or dropped are freed.
pub struct RxBurst {
    pkts: [*mut sys::rte_mbuf; BURST_MAX],
    next: usize,
    len: usize,
}

impl Default for RxBurst {
    fn default() -> Self {
        RxBurst {
            pkts: [std::ptr::null_mut(); BURST_MAX],
            next: 0,
            len: 0,
        }
    }
}

impl RxBurst {
    /// Receives up to `max` (at most [`BURST_MAX`]) packets from `port`'s rx queue `queue`;
    /// returns how many came.
    ///
    /// The caller must be the only thread polling that queue (DPDK queues are not
    /// thread-safe); the worker layout gives each queue one owner.
    #[inline]
    pub fn rx(&mut self, port: PortId, queue: QueueId, max: usize) -> usize {
        self.free_rest();
        let n = max.min(BURST_MAX) as u16;
        // SAFETY: `pkts` has room for `n` pointers; the queue is polled by this thread
        // only (worker layout); DPDK writes `ret` valid owned mbuf pointers.
        let ret = unsafe { sys::v6fwd_rx_burst(port.0, queue.0, self.pkts.as_mut_ptr(), n) };
        self.next = 0;
        self.len = usize::from(ret);
        self.len
    }

    fn free_rest(&mut self) {
        if self.next < self.len {
            let rest = &mut self.pkts[self.next..self.len];
            // SAFETY: the pointers in next..len are owned and not yet handed out.
            unsafe { sys::v6fwd_pktmbuf_free_bulk(rest.as_mut_ptr(), rest.len() as u32) };
        }
        self.next = 0;
        self.len = 0;
    }
}

impl Iterator for RxBurst {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        if self.next == self.len {
            return None;
        }
        let p = self.pkts[self.next];
        self.next += 1;
        // SAFETY: DPDK returned non-null pointers for the first `len` slots.
        Some(Mbuf(unsafe { NonNull::new_unchecked(p) }))
    }
}

impl Drop for RxBurst {
    fn drop(&mut self) {
        self.free_rest();
    }
}

/// Packets gathered for one transmit queue, or for freeing together.
pub struct MbufBatch {
    pkts: [*mut sys::rte_mbuf; BURST_MAX],
    len: usize,
}

impl Default for MbufBatch {
    fn default() -> Self {
        MbufBatch {
            pkts: [std::ptr::null_mut(); BURST_MAX],
            len: 0,
        }
    }
}

impl MbufBatch {
    /// Adds a packet. Returns it back if the batch is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST_MAX {
            return Err(m);
        }
        self.pkts[self.len] = m.into_raw();
        self.len += 1;
        Ok(())
    }

    /// How many packets wait in the batch.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Sends the batch on `port`'s tx queue `queue`. What the queue does not take is freed.
    /// Returns how many were sent; `len() - sent` were dropped. The batch is empty after.
    ///
    /// The caller must be the only thread using that tx queue.
    #[inline]
    pub fn tx(&mut self, port: PortId, queue: QueueId) -> usize {
        if self.len == 0 {
            return 0;
        }
        // SAFETY: the first `len` pointers are owned mbufs; DPDK takes ownership of the
        // first `sent` of them; the queue is used by this thread only (worker layout).
        let sent = usize::from(unsafe {
            sys::v6fwd_tx_burst(port.0, queue.0, self.pkts.as_mut_ptr(), self.len as u16)
        });
        if sent < self.len {
            let rest = &mut self.pkts[sent..self.len];
            // SAFETY: the pointers not taken by the driver are still owned here.
            unsafe { sys::v6fwd_pktmbuf_free_bulk(rest.as_mut_ptr(), rest.len() as u32) };
        }
        self.len = 0;
        sent
    }

    /// Frees every packet in the batch.
    #[inline]
    pub fn free(&mut self) {
        if self.len > 0 {
            // SAFETY: the first `len` pointers are owned mbufs, freed once here.
            unsafe { sys::v6fwd_pktmbuf_free_bulk(self.pkts.as_mut_ptr(), self.len as u32) };
        }
        self.len = 0;
    }
}

impl Drop for MbufBatch {
    fn drop(&mut self) {
        self.free();
    }
}

// SAFETY: the batches hold owned mbufs, which may move between threads like `Mbuf`.
unsafe impl Send for MbufBatch {}
// SAFETY: as above.
unsafe impl Send for RxBurst {}
