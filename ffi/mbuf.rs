//! Packet buffers, owned: an [`Mbuf`] is freed exactly once, by being dropped, sent, or
//! handed to a batch that sends or frees it.

use std::ptr::NonNull;

use super::{RxQueue, TxQueue, sys};

/// The most packets one burst moves.
pub const BURST_MAX: usize = 64;

/// `RTE_MBUF_F_EXTERNAL`: the data lives in a buffer attached from outside the pool.
/// (DPDK's offload flag macros are shifts bindgen does not expand.)
const MBUF_F_EXTERNAL: u64 = 1 << 61;
/// `RTE_MBUF_F_INDIRECT`: the mbuf points at another mbuf's data.
const MBUF_F_INDIRECT: u64 = 1 << 62;

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

    /// The first segment's data and tailroom, to read and write in place: `len()` of the
    /// data are the packet, the rest free space a reply may grow into (then
    /// [`Mbuf::set_len`]). `None` when the buffer is shared (an indirect mbuf, an external
    /// buffer, or more than one reference), where writing would change what others see.
    #[inline]
    pub fn buffer_mut(&mut self) -> Option<&mut [u8]> {
        let h = self.header();
        if h.refcnt != 1 || h.ol_flags & (MBUF_F_INDIRECT | MBUF_F_EXTERNAL) != 0 {
            return None;
        }
        let start = usize::from(h.data_off);
        // The buffer runs buf_len bytes from buf_addr; the data starts data_off into it
        // (rte_pktmbuf_tailroom is what lies past data_len).
        let len = usize::from(h.buf_len).saturating_sub(start);
        let base = h.buf_addr.cast::<u8>();
        // SAFETY: the mbuf is owned by self, borrowed mutably, and its buffer is its own
        // (direct, one reference: checked above), so nothing else reads or writes it;
        // [data_off, buf_len) lies inside the buffer. The bytes past the data are memory
        // DPDK allocated for packets, treated as plain bytes.
        Some(unsafe { std::slice::from_raw_parts_mut(base.add(start), len) })
    }

    /// The first segment's data, to read.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let h = self.header();
        // SAFETY: the mbuf is owned by self and borrowed for the slice's life; its first
        // segment holds data_len bytes from data_off into its buffer (for an indirect mbuf,
        // into the buffer it refers to, which its reference keeps alive). Shared buffers
        // are only read here.
        unsafe {
            std::slice::from_raw_parts(
                h.buf_addr.cast::<u8>().add(usize::from(h.data_off)),
                usize::from(h.data_len),
            )
        }
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
    /// Receives up to `max` (at most [`BURST_MAX`]) packets from `queue`; returns how many
    /// came.
    #[inline]
    pub fn rx(&mut self, queue: &mut RxQueue, max: usize) -> usize {
        self.free_rest();
        let n = max.min(BURST_MAX) as u16;
        // SAFETY: `pkts` has room for `n` pointers. The queue exists: an RxQueue is only
        // made for a configured queue; and no other thread polls it, since it is borrowed
        // mutably here. DPDK writes `ret` valid mbuf pointers whose ownership passes to us.
        let ret =
            unsafe { sys::v6fwd_rx_burst(queue.port.0, queue.queue.0, self.pkts.as_mut_ptr(), n) };
        self.next = 0;
        self.len = usize::from(ret);
        self.len
    }

    /// The packets not yet taken out, to read.
    #[inline]
    pub fn pending(&self) -> impl Iterator<Item = &[u8]> {
        self.pkts[self.next..self.len].iter().map(|p| {
            // SAFETY: the pointers in next..len are valid mbufs this burst owns; the
            // ManuallyDrop view neither frees them nor outlives the borrow of self.
            let m = std::mem::ManuallyDrop::new(Mbuf(unsafe { NonNull::new_unchecked(*p) }));
            let data = m.data();
            // SAFETY: the data lives in the mbuf's buffer, not in the view, and stays
            // valid while self holds the mbuf, which the borrow of self ensures.
            unsafe { std::slice::from_raw_parts(data.as_ptr(), data.len()) }
        })
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

    /// Sends the batch on `queue`. What the queue does not take is freed. Returns how many
    /// were sent; `len() - sent` were dropped. The batch is empty after.
    #[inline]
    pub fn tx(&mut self, queue: &mut TxQueue) -> usize {
        if self.len == 0 {
            return 0;
        }
        // SAFETY: the first `len` pointers are owned mbufs; DPDK takes ownership of the
        // first `sent` of them. The queue exists and no other thread sends on it, as for
        // RxBurst::rx.
        let sent = usize::from(unsafe {
            sys::v6fwd_tx_burst(
                queue.port.0,
                queue.queue.0,
                self.pkts.as_mut_ptr(),
                self.len as u16,
            )
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
