//! The anti-replay window of an inbound state (RFC 4303 section 3.4.3 and Appendix A),
//! with 64-bit extended sequence numbers: the receiver infers the high 32 bits the wire
//! does not carry from where its window stands (Appendix A2.2).
//!
//! A packet is checked before it is authenticated and recorded only after, so a forged
//! packet can neither move the window nor mark a number seen.

/// Why a sequence number is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Seen already.
    Replayed,
    /// Left of the window: too old to tell.
    TooOld,
    /// Sequence number 0, which no sender uses.
    Zero,
}

/// The window: the highest number authenticated, and which of the `size` numbers at and
/// below it were seen.
#[derive(Debug, Clone)]
pub struct Window {
    size: u64,
    /// The highest sequence number recorded (0: none yet).
    top: u64,
    /// Bit `n % size` says whether `n` was seen, for `n` in the window.
    bits: Vec<u64>,
    esn: bool,
}

/// The largest window: 65,536 packets, 8 KiB of bits. Far larger than any reordering a
/// path shows, and small enough that extended sequence numbers stay unambiguous and a
/// slide stays cheap.
pub const MAX_SIZE: u32 = 1 << 16;

impl Window {
    /// A window of `size` packets (rounded up to a multiple of 64, at least 64, at most
    /// [`MAX_SIZE`]), for a state with extended sequence numbers or not.
    pub fn new(size: u32, esn: bool) -> Window {
        let size = u64::from(size.clamp(64, MAX_SIZE)).div_ceil(64) * 64;
        Window {
            size,
            top: 0,
            bits: vec![0; (size / 64) as usize],
            esn,
        }
    }

    /// The window's size in packets.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The highest sequence number recorded.
    pub fn top(&self) -> u64 {
        self.top
    }

    /// The full sequence number of a packet whose low 32 bits are `low`, as the window
    /// places it (Appendix A2.2): in the current 2^32 block, or the next one if `low` is
    /// below the window, or the previous one if the window straddles a block boundary and
    /// `low` lies above it. Without extended numbers, `low` itself.
    pub fn infer(&self, low: u32) -> u64 {
        if !self.esn {
            return u64::from(low);
        }
        let w = self.size;
        let (th, tl) = (self.top >> 32, self.top & 0xffff_ffff);
        let low = u64::from(low);
        let high = if tl >= w - 1 {
            // The window lies inside one block.
            if low >= tl - (w - 1) { th } else { th + 1 }
        } else {
            // The window reaches back into the previous block.
            let bottom = (tl + (1 << 32) - (w - 1)) & 0xffff_ffff;
            if low >= bottom {
                th.wrapping_sub(1)
            } else {
                th
            }
        };
        (high << 32) | low
    }

    /// Whether `seq` may be taken, before authentication.
    ///
    /// # Errors
    /// Why not.
    pub fn check(&self, seq: u64) -> Result<(), Refused> {
        if seq == 0 {
            return Err(Refused::Zero);
        }
        if seq > self.top {
            return Ok(());
        }
        if self.top - seq >= self.size {
            return Err(Refused::TooOld);
        }
        if self.seen(seq) {
            return Err(Refused::Replayed);
        }
        Ok(())
    }

    /// Records `seq`, after the packet was authenticated: the window slides forward if it
    /// is the highest yet.
    ///
    /// # Errors
    /// As [`Window::check`]: a packet of the same number may have been authenticated
    /// between the check and now.
    pub fn record(&mut self, seq: u64) -> Result<(), Refused> {
        self.check(seq)?;
        if seq > self.top {
            let ahead = seq - self.top;
            if ahead >= self.size {
                self.bits.fill(0);
            } else {
                // Clear the slots of the numbers the window moves past, a word at a time
                // where whole words go.
                let mut n = self.top + 1;
                while n < seq {
                    let i = n % self.size;
                    if i.is_multiple_of(64) && seq - n >= 64 {
                        self.bits[(i / 64) as usize] = 0;
                        n += 64;
                    } else {
                        self.clear(n);
                        n += 1;
                    }
                }
            }
            self.top = seq;
        }
        self.mark(seq);
        Ok(())
    }

    fn slot(&self, n: u64) -> (usize, u64) {
        let i = n % self.size;
        ((i / 64) as usize, 1 << (i % 64))
    }

    fn seen(&self, n: u64) -> bool {
        let (w, b) = self.slot(n);
        self.bits[w] & b != 0
    }

    fn mark(&mut self, n: u64) {
        let (w, b) = self.slot(n);
        self.bits[w] |= b;
    }

    fn clear(&mut self, n: u64) {
        let (w, b) = self.slot(n);
        self.bits[w] &= !b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_duplicates_and_the_left_edge() {
        let mut w = Window::new(64, false);
        assert_eq!(w.check(0), Err(Refused::Zero));
        for n in 1..=100 {
            assert_eq!(w.record(n), Ok(()));
        }
        assert_eq!(w.check(100), Err(Refused::Replayed));
        assert_eq!(
            w.check(37),
            Err(Refused::Replayed),
            "the oldest in the window"
        );
        assert_eq!(w.check(36), Err(Refused::TooOld), "just left of the window");
        assert_eq!(w.check(101), Ok(()));
    }

    #[test]
    fn out_of_order_inside_the_window() {
        let mut w = Window::new(64, false);
        w.record(10).unwrap();
        w.record(5).unwrap();
        assert_eq!(w.check(5), Err(Refused::Replayed));
        assert_eq!(w.check(7), Ok(()));
        w.record(7).unwrap();
        assert_eq!(w.record(7), Err(Refused::Replayed));
        assert_eq!(w.top(), 10);
    }

    #[test]
    fn a_far_jump_clears_the_window() {
        let mut w = Window::new(1024, false);
        for n in 1..=1024 {
            w.record(n).unwrap();
        }
        w.record(1_000_000).unwrap();
        // Everything below the new window is too old; inside it, nothing was seen but the
        // top.
        assert_eq!(w.check(1024), Err(Refused::TooOld));
        assert_eq!(w.check(1_000_000 - 1023), Ok(()));
        assert_eq!(w.check(1_000_000), Err(Refused::Replayed));
        // A jump of less than the window keeps what is still inside it.
        w.record(1_000_000 + 10).unwrap();
        assert_eq!(w.check(1_000_000), Err(Refused::Replayed));
        assert_eq!(w.check(1_000_005), Ok(()));
    }

    #[test]
    fn a_slide_by_whole_words_clears_them() {
        let mut w = Window::new(256, false);
        for n in 1..=256 {
            w.record(n).unwrap();
        }
        // 200 ahead: the slots of 257..=456 are cleared, three whole words among them.
        w.record(456).unwrap();
        for n in 257..456 {
            assert_eq!(w.check(n), Ok(()), "{n}");
        }
        for n in 201..=256 {
            assert_eq!(w.check(n), Err(Refused::Replayed), "{n}");
        }
        assert_eq!(w.check(200), Err(Refused::TooOld));
    }

    #[test]
    fn slots_reused_after_sliding_are_clear() {
        let mut w = Window::new(64, false);
        w.record(1).unwrap();
        w.record(3).unwrap();
        // 65 and 67 share slots with 1 and 3; sliding to 70 clears them.
        w.record(70).unwrap();
        assert_eq!(w.check(65), Ok(()));
        assert_eq!(w.check(67), Ok(()));
        assert_eq!(w.check(70), Err(Refused::Replayed));
    }

    #[test]
    fn sizes_round_up_to_whole_words() {
        assert_eq!(Window::new(u32::MAX, true).size(), u64::from(MAX_SIZE));
        assert_eq!(Window::new(0, false).size(), 64);
        assert_eq!(Window::new(1000, true).size(), 1024);
        assert_eq!(Window::new(4096, true).size(), 4096);
    }

    #[test]
    fn extended_numbers_cross_a_block_boundary() {
        let mut w = Window::new(64, true);
        let edge = (1u64 << 32) - 10;
        for n in edge - 100..=edge {
            w.record(n).unwrap();
        }
        // Low bits past the top: this block; low bits that wrapped: the next one.
        assert_eq!(w.infer((edge + 5) as u32), edge + 5);
        assert_eq!(w.infer(3), (1 << 32) | 3);
        w.record(w.infer(3)).unwrap();
        assert_eq!(w.top(), (1 << 32) | 3);
        // Now the window straddles the boundary: a late packet of the old block is placed
        // in it, and was seen.
        assert_eq!(w.infer((edge - 2) as u32), edge - 2);
        assert_eq!(w.check(w.infer((edge - 2) as u32)), Err(Refused::Replayed));
        assert_eq!(w.check(w.infer((edge + 3) as u32)), Ok(()));
        // Low bits below the window on the new side belong to the block after.
        assert_eq!(w.infer(2), (1 << 32) | 2);
        assert_eq!(w.check(w.infer(2)), Ok(()));
    }

    #[test]
    fn without_extended_numbers_the_low_bits_are_all() {
        let w = Window::new(64, false);
        assert_eq!(w.infer(u32::MAX), u64::from(u32::MAX));
    }
}
