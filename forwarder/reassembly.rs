//! Reassembly of fragmented packets addressed to the router,
//! [RFC 8200 section 4.5](https://www.rfc-editor.org/rfc/rfc8200#section-4.5), with the
//! overlap rule of RFC 5722.
//!
//! Each worker core owns one `Reassembler` with a few slots whose buffers are allocated
//! when the core starts, so reassembly allocates nothing per packet. Fragments of one
//! packet reach one core: RSS hashes fragments on their addresses alone. A slot holds its
//! packet for at most [`REASSEMBLY_TIMEOUT_NS`] from its first fragment; it is found
//! expired when a fragment next needs a slot, so no timer walks the slots.
//!
//! Not done: the Time Exceeded (code 1, fragment reassembly time exceeded) that RFC 8200
//! says should go to the source when a packet whose first fragment arrived expires; the
//! expiry is counted instead.

use std::net::Ipv6Addr;

use crate::wire::ipv6;

/// RFC 8200 4.5: reassembly is abandoned 60 seconds after the first-arriving fragment.
pub const REASSEMBLY_TIMEOUT_NS: u64 = 60_000_000_000;
/// The largest payload an IPv6 packet without a Jumbo Payload option can have.
pub const MAX_PAYLOAD: usize = 65535;
/// Room kept before the fragmentable part for an Ethernet header and the unfragmentable
/// part (the IPv6 header and the extension headers before the Fragment header).
const HEAD_ROOM: usize = 14 + 1024;
/// A slot's buffer: head room, the largest fragmentable part, and as much again after it
/// for the answer to grow into.
const BUFFER_LEN: usize = HEAD_ROOM + MAX_PAYLOAD + 2048;
/// Blocks of 8 bytes in the largest fragmentable part.
const BLOCKS: usize = MAX_PAYLOAD.div_ceil(8);

/// Which packet a fragment belongs to (RFC 8200 4.5: source, destination, identification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentKey {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub id: u32,
}

/// One fragment, as the caller has read it.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    pub key: FragmentKey,
    /// The IPv6 header and the extension headers before the Fragment header; only the
    /// first fragment's is used.
    pub unfragmentable: &'a [u8],
    /// Offset, in `unfragmentable`, of the Next Header field that names the Fragment
    /// header: the reassembled packet's field takes the Fragment header's next header.
    pub next_header_at: usize,
    pub next_header: u8,
    pub offset: usize,
    pub more: bool,
    pub data: &'a [u8],
}

/// What became of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Kept; the packet is not complete yet.
    Held,
    /// The packet is complete in the slot: its frame (with 14 bytes for an Ethernet header
    /// first) starts at `start` in the slot's buffer and is `len` bytes long.
    Complete {
        slot: usize,
        start: usize,
        len: usize,
    },
}

/// Why a fragment was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The fragment overlaps one already held: the whole packet is discarded (RFC 5722).
    Overlap,
    /// The packet would be longer than 65,535 bytes, or its parts disagree on its length.
    TooLong,
    /// Every slot holds a packet younger than the timeout.
    Full,
}

struct Slot {
    key: Option<FragmentKey>,
    first_at: u64,
    buf: Box<[u8]>,
    have: Box<[u64]>,
    received: usize,
    /// The fragmentable part's length, known from the last fragment.
    end: Option<usize>,
    /// The unfragmentable part's length, known from the first fragment.
    unfragmentable: Option<usize>,
    /// The highest end of any fragment held.
    highest_end: usize,
    /// The packet is complete and waits for its caller to release the slot: no fragment
    /// joins it any more.
    complete: bool,
    /// The packet was refused (RFC 5722: overlapping fragments); its later fragments are
    /// dropped too until the slot times out or is needed for another packet.
    discarded: bool,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            key: None,
            first_at: 0,
            buf: vec![0u8; BUFFER_LEN].into_boxed_slice(),
            have: vec![0u64; BLOCKS.div_ceil(64)].into_boxed_slice(),
            received: 0,
            end: None,
            unfragmentable: None,
            highest_end: 0,
            complete: false,
            discarded: false,
        }
    }

    fn clear(&mut self) {
        self.key = None;
        self.have.fill(0);
        self.received = 0;
        self.end = None;
        self.unfragmentable = None;
        self.highest_end = 0;
        self.complete = false;
        self.discarded = false;
    }
}

/// The reassembly slots of one core.
pub struct Reassembler {
    slots: Vec<Slot>,
    /// Packets abandoned at the timeout.
    pub expired: u64,
}

impl Reassembler {
    /// A reassembler of `slots` packets at a time (about 66 KiB each).
    pub fn new(slots: usize) -> Reassembler {
        Reassembler {
            slots: (0..slots).map(|_| Slot::new()).collect(),
            expired: 0,
        }
    }

    /// Adds a fragment received at `now` (nanoseconds).
    pub fn add(&mut self, now: u64, f: &Fragment<'_>) -> Result<Added, Refused> {
        let i = self.slot_for(now, &f.key)?;
        let slot = &mut self.slots[i];
        if slot.discarded {
            return Err(Refused::Overlap);
        }
        let result = Self::fill(slot, f);
        // A refused packet is discarded whole, with the fragments of it still to come
        // (RFC 5722 4); a complete one stays in its slot until the caller releases it.
        if let Err(refused) = result {
            let (key, first_at) = (slot.key, slot.first_at);
            slot.clear();
            if refused == Refused::Overlap {
                slot.key = key;
                slot.first_at = first_at;
                slot.discarded = true;
            }
        }
        result.map(|a| match a {
            Added::Complete { start, len, .. } => Added::Complete {
                slot: i,
                start,
                len,
            },
            held => held,
        })
    }

    /// The buffer of `slot`, holding a complete packet until the slot is released.
    pub fn buffer_mut(&mut self, slot: usize) -> &mut [u8] {
        &mut self.slots[slot].buf
    }

    /// Lends out the buffer of `slot` (leaving an empty one, which allocates nothing), so
    /// that its packet can be handled while the reassembler is borrowed elsewhere.
    pub fn take_buffer(&mut self, slot: usize) -> Box<[u8]> {
        std::mem::take(&mut self.slots[slot].buf)
    }

    /// Gives back the buffer lent by [`Reassembler::take_buffer`].
    pub fn put_buffer(&mut self, slot: usize, buf: Box<[u8]>) {
        self.slots[slot].buf = buf;
    }

    /// Frees a slot whose complete packet has been handled.
    pub fn release(&mut self, slot: usize) {
        self.slots[slot].clear();
    }

    /// The slot that holds `key`, or a free one, or one whose packet has expired.
    fn slot_for(&mut self, now: u64, key: &FragmentKey) -> Result<usize, Refused> {
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| !s.complete && s.key.as_ref() == Some(key))
        {
            if now.saturating_sub(self.slots[i].first_at) < REASSEMBLY_TIMEOUT_NS {
                return Ok(i);
            }
            self.expired += 1;
            self.slots[i].clear();
        }
        for s in &mut self.slots {
            if s.key.is_some()
                && !s.complete
                && now.saturating_sub(s.first_at) >= REASSEMBLY_TIMEOUT_NS
            {
                self.expired += 1;
                s.clear();
            }
        }
        // A free slot, or else one that only remembers a discarded packet.
        let i = self
            .slots
            .iter()
            .position(|s| s.key.is_none())
            .or_else(|| self.slots.iter().position(|s| s.discarded))
            .ok_or(Refused::Full)?;
        self.slots[i].clear();
        self.slots[i].key = Some(*key);
        self.slots[i].first_at = now;
        Ok(i)
    }

    fn fill(slot: &mut Slot, f: &Fragment<'_>) -> Result<Added, Refused> {
        let end = f.offset + f.data.len();
        if end > MAX_PAYLOAD {
            return Err(Refused::TooLong);
        }
        // The last fragment gives the length; no fragment, held or to come, may end past it.
        if !f.more {
            if slot.end.is_some_and(|e| e != end) || slot.highest_end > end {
                return Err(Refused::TooLong);
            }
            slot.end = Some(end);
        }
        if slot.end.is_some_and(|e| end > e) {
            return Err(Refused::TooLong);
        }
        slot.highest_end = slot.highest_end.max(end);

        // RFC 5722: any overlap discards the packet. Blocks are 8 bytes; only the last
        // fragment may end inside one, and nothing may follow it.
        let first = f.offset / 8;
        let last = end.div_ceil(8);
        for b in first..last {
            if slot.have[b / 64] & (1 << (b % 64)) != 0 {
                return Err(Refused::Overlap);
            }
        }
        for b in first..last {
            slot.have[b / 64] |= 1 << (b % 64);
        }
        slot.buf[HEAD_ROOM + f.offset..HEAD_ROOM + end].copy_from_slice(f.data);
        slot.received += f.data.len();

        if f.offset == 0 {
            let u = f.unfragmentable.len();
            if !(ipv6::HEADER_LEN..=HEAD_ROOM - 14).contains(&u) || f.next_header_at >= u {
                return Err(Refused::TooLong);
            }
            slot.buf[HEAD_ROOM - u..HEAD_ROOM].copy_from_slice(f.unfragmentable);
            slot.buf[HEAD_ROOM - u + f.next_header_at] = f.next_header;
            slot.unfragmentable = Some(u);
        }

        // Fragments do not overlap and none ends past the end, so holding as many bytes as
        // the packet has means holding every one of them.
        match (slot.unfragmentable, slot.end) {
            (Some(u), Some(end)) if slot.received == end => {
                let payload = u - ipv6::HEADER_LEN + end;
                if payload > MAX_PAYLOAD {
                    return Err(Refused::TooLong);
                }
                let ip = HEAD_ROOM - u;
                slot.buf[ip + 4..ip + 6].copy_from_slice(&(payload as u16).to_be_bytes());
                slot.complete = true;
                Ok(Added::Complete {
                    slot: 0,
                    start: ip - 14,
                    len: 14 + u + end,
                })
            }
            _ => Ok(Added::Held),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn key(id: u32) -> FragmentKey {
        FragmentKey {
            src: "2001:db8:1::2".parse().unwrap(),
            dst: "2001:db8:1::1".parse().unwrap(),
            id,
        }
    }

    /// An IPv6 header whose next header (offset 6) names the Fragment header.
    fn header() -> [u8; 40] {
        let mut h = [0u8; 40];
        h[0] = 0x60;
        h[6] = 44;
        h
    }

    fn frag<'a>(id: u32, h: &'a [u8], offset: usize, more: bool, data: &'a [u8]) -> Fragment<'a> {
        Fragment {
            key: key(id),
            unfragmentable: h,
            next_header_at: 6,
            next_header: 58,
            offset,
            more,
            data,
        }
    }

    #[test]
    fn reassembles_out_of_order() {
        let h = header();
        let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let mut r = Reassembler::new(2);
        assert_eq!(
            r.add(0, &frag(1, &h, 2464, false, &data[2464..])),
            Ok(Added::Held)
        );
        assert_eq!(
            r.add(0, &frag(1, &h, 1232, true, &data[1232..2464])),
            Ok(Added::Held)
        );
        let Ok(Added::Complete { slot, start, len }) =
            r.add(1, &frag(1, &h, 0, true, &data[..1232]))
        else {
            panic!("not complete");
        };
        assert_eq!(len, 14 + 40 + 3000);
        let frame = &r.buffer_mut(slot)[start..start + len];
        assert_eq!(
            frame[14 + 6],
            58,
            "next header taken from the Fragment header"
        );
        assert_eq!(u16::from_be_bytes([frame[18], frame[19]]), 3000);
        assert_eq!(&frame[54..], &data[..]);
        r.release(slot);
        assert_eq!(
            r.add(2, &frag(1, &h, 0, true, &data[..8])),
            Ok(Added::Held),
            "slot free again"
        );
    }

    #[test]
    fn overlap_discards_the_packet() {
        let h = header();
        let data = [7u8; 64];
        let mut r = Reassembler::new(1);
        assert_eq!(
            r.add(0, &frag(2, &h, 0, true, &data[..32])),
            Ok(Added::Held)
        );
        assert_eq!(
            r.add(0, &frag(2, &h, 24, false, &data[..40])),
            Err(Refused::Overlap)
        );
        // The slot was freed with the packet.
        assert_eq!(
            r.add(0, &frag(3, &h, 0, true, &data[..32])),
            Ok(Added::Held)
        );
    }

    #[test]
    fn a_hole_is_never_complete() {
        let h = header();
        let data = [5u8; 64];
        let mut r = Reassembler::new(1);
        assert_eq!(
            r.add(0, &frag(10, &h, 0, true, &data[..8])),
            Ok(Added::Held)
        );
        assert_eq!(
            r.add(0, &frag(10, &h, 24, true, &data[..8])),
            Ok(Added::Held)
        );
        // A last fragment ending at 24 would hold 24 bytes, 8..16 missing and 24..32 past
        // its end: the packet is refused.
        assert_eq!(
            r.add(0, &frag(10, &h, 16, false, &data[..8])),
            Err(Refused::TooLong)
        );
    }

    #[test]
    fn after_an_overlap_the_packet_stays_discarded() {
        let h = header();
        let data = [6u8; 32];
        let mut r = Reassembler::new(2);
        assert_eq!(
            r.add(0, &frag(11, &h, 0, true, &data[..16])),
            Ok(Added::Held)
        );
        assert_eq!(
            r.add(0, &frag(11, &h, 8, true, &data[..16])),
            Err(Refused::Overlap)
        );
        assert_eq!(
            r.add(0, &frag(11, &h, 16, false, &data[..8])),
            Err(Refused::Overlap)
        );
        // Other packets still find a slot, the discarded one's if need be.
        assert_eq!(
            r.add(0, &frag(12, &h, 0, true, &data[..8])),
            Ok(Added::Held)
        );
        assert_eq!(
            r.add(0, &frag(13, &h, 0, true, &data[..8])),
            Ok(Added::Held)
        );
    }

    #[test]
    fn lengths_must_agree_and_fit() {
        let h = header();
        let data = [0u8; 64];
        let mut r = Reassembler::new(1);
        assert_eq!(
            r.add(0, &frag(4, &h, 65528, true, &data[..16])),
            Err(Refused::TooLong)
        );
        assert_eq!(
            r.add(0, &frag(4, &h, 64, false, &data[..8])),
            Ok(Added::Held)
        );
        assert_eq!(
            r.add(0, &frag(4, &h, 80, true, &data[..8])),
            Err(Refused::TooLong),
            "past the end"
        );
    }

    #[test]
    fn slots_expire_after_sixty_seconds() {
        let h = header();
        let data = [0u8; 16];
        let mut r = Reassembler::new(1);
        assert_eq!(r.add(0, &frag(5, &h, 0, true, &data)), Ok(Added::Held));
        assert_eq!(
            r.add(59 * SEC, &frag(6, &h, 0, true, &data)),
            Err(Refused::Full)
        );
        assert_eq!(
            r.add(60 * SEC, &frag(6, &h, 0, true, &data)),
            Ok(Added::Held)
        );
        assert_eq!(r.expired, 1);
        // The first packet's late fragment starts afresh and cannot complete it.
        assert_eq!(
            r.add(61 * SEC, &frag(5, &h, 16, false, &data)),
            Err(Refused::Full)
        );
    }

    proptest::proptest! {
        /// Any sequence of fragments, overlapping, out of order, too long or disagreeing,
        /// is taken without a panic; a packet completes only with every byte of it held
        /// once, and then holds the bytes that were sent.
        #[test]
        fn any_fragments(frags in proptest::collection::vec((0usize..80, 1usize..40, proptest::bool::ANY), 1..12)) {
            let h = header();
            let mut r = Reassembler::new(1);
            let mut held: Vec<(usize, usize)> = Vec::new();
            for (n, (block, len, more)) in frags.into_iter().enumerate() {
                let offset = block * 8;
                let len = if more { len * 8 } else { len };
                // Each fragment's bytes tell which fragment and which offset they are.
                let data: Vec<u8> = (offset..offset + len).map(|i| (i as u8) ^ (n as u8)).collect();
                match r.add(0, &frag(9, &h, offset, more, &data)) {
                    Ok(Added::Held) => held.push((offset, n)),
                    Ok(Added::Complete { slot, start, len: total }) => {
                        held.push((offset, n));
                        let payload = r.buffer_mut(slot)[start + 14 + 40..start + total].to_vec();
                        // Every byte comes from a fragment that was added, at its place.
                        for (i, b) in payload.iter().enumerate() {
                            let from = held.iter().filter(|(o, _)| *o <= i).max_by_key(|(o, _)| *o);
                            let (_, m) = from.expect("a fragment covers every byte");
                            proptest::prop_assert_eq!(*b, (i as u8) ^ (*m as u8));
                        }
                        r.release(slot);
                        held.clear();
                    }
                    Err(_) => held.clear(),
                }
            }
        }
    }

    #[test]
    fn a_complete_packet_takes_no_more_fragments() {
        let h = header();
        let data = [1u8; 16];
        let mut r = Reassembler::new(2);
        let Ok(Added::Complete { slot, .. }) = r.add(0, &frag(8, &h, 0, false, &data)) else {
            panic!("not complete");
        };
        // While the caller holds the complete packet, the same key starts a new one.
        assert_eq!(r.add(0, &frag(8, &h, 0, true, &data)), Ok(Added::Held));
        assert_eq!(r.buffer_mut(slot).len(), BUFFER_LEN);
    }

    #[test]
    fn a_single_atomic_fragment_completes_at_once() {
        let h = header();
        let data = [9u8; 20];
        let mut r = Reassembler::new(1);
        assert!(matches!(
            r.add(0, &frag(7, &h, 0, false, &data)),
            Ok(Added::Complete { len: 74, .. })
        ));
    }
}
