//! A packet as the transforms see it: an IPv6 packet inside a buffer, with the buffer's
//! room before and after it to grow into, as an mbuf's headroom and tailroom are.

/// The buffer has no room for what a transform adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoRoom;

/// An IPv6 packet at `buf[start..end]`.
#[derive(Debug)]
pub struct Packet<'a> {
    buf: &'a mut [u8],
    start: usize,
    end: usize,
}

impl<'a> Packet<'a> {
    /// The `len` bytes at `start` of `buf`.
    ///
    /// # Panics
    /// If they do not lie inside `buf`.
    pub fn new(buf: &'a mut [u8], start: usize, len: usize) -> Packet<'a> {
        assert!(
            start + len <= buf.len(),
            "the packet lies inside its buffer"
        );
        Packet {
            buf,
            start,
            end: start + len,
        }
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Where the packet starts in its buffer.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Room before the packet.
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Room after the packet.
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.end
    }

    /// Grows the packet by `n` bytes in front; returns them (their content is whatever
    /// the buffer held).
    ///
    /// # Errors
    /// The headroom is smaller than `n`.
    pub fn prepend(&mut self, n: usize) -> Result<&mut [u8], NoRoom> {
        if n > self.start {
            return Err(NoRoom);
        }
        self.start -= n;
        Ok(&mut self.buf[self.start..self.start + n])
    }

    /// Grows the packet by `n` bytes at the end; returns them.
    ///
    /// # Errors
    /// The tailroom is smaller than `n`.
    pub fn append(&mut self, n: usize) -> Result<&mut [u8], NoRoom> {
        if n > self.tailroom() {
            return Err(NoRoom);
        }
        self.end += n;
        Ok(&mut self.buf[self.end - n..self.end])
    }

    /// Drops `n` bytes from the front.
    ///
    /// # Panics
    /// If the packet is shorter than `n`.
    pub fn strip_front(&mut self, n: usize) {
        assert!(n <= self.len());
        self.start += n;
    }

    /// Drops `n` bytes from the end.
    ///
    /// # Panics
    /// If the packet is shorter than `n`.
    pub fn strip_back(&mut self, n: usize) {
        assert!(n <= self.len());
        self.end -= n;
    }

    /// Opens a gap of `n` bytes after the first `at` bytes, moving those forward into the
    /// headroom; returns the gap.
    ///
    /// # Errors
    /// The headroom is smaller than `n`, or the packet shorter than `at`.
    pub fn insert(&mut self, at: usize, n: usize) -> Result<&mut [u8], NoRoom> {
        if n > self.start || at > self.len() {
            return Err(NoRoom);
        }
        let old = self.start;
        self.start -= n;
        self.buf.copy_within(old..old + at, self.start);
        Ok(&mut self.buf[self.start + at..self.start + at + n])
    }

    /// Closes the `n` bytes after the first `at` bytes, moving those back over them.
    ///
    /// # Panics
    /// If the packet is shorter than `at + n`.
    pub fn remove(&mut self, at: usize, n: usize) {
        assert!(at + n <= self.len());
        self.buf
            .copy_within(self.start..self.start + at, self.start + n);
        self.start += n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_shrinks_within_its_buffer() {
        let mut buf = [0u8; 16];
        buf[4..8].copy_from_slice(b"abcd");
        let mut p = Packet::new(&mut buf, 4, 4);
        assert_eq!(p.prepend(5), Err(NoRoom));
        p.prepend(2).unwrap().copy_from_slice(b"xy");
        p.append(2).unwrap().copy_from_slice(b"zz");
        assert_eq!(p.data(), b"xyabcdzz");
        assert_eq!(p.append(7), Err(NoRoom));
        p.strip_front(2);
        p.strip_back(2);
        assert_eq!(p.data(), b"abcd");
        p.insert(2, 3).unwrap().copy_from_slice(b"123");
        assert_eq!(p.data(), b"ab123cd");
        p.remove(2, 3);
        assert_eq!(p.data(), b"abcd");
        assert_eq!((p.headroom(), p.tailroom()), (4, 8));
    }
}
