//! The TCP header as far as a reset needs it,
//! [RFC 9293 section 3.1](https://www.rfc-editor.org/rfc/rfc9293#section-3.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

/// Length of the header without options.
pub const HEADER_LEN: usize = 20;
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// A view of a TCP segment whose header (options included) lies inside the buffer.
pub struct TcpSegment<'a> {
    buf: &'a [u8],
    header_len: usize,
}

impl<'a> TcpSegment<'a> {
    /// Wraps `buf`, or `None` if it is shorter than the header its data offset claims, or
    /// the data offset is below 5 words.
    pub fn new(buf: &'a [u8]) -> Option<Self> {
        let header_len = usize::from(*buf.get(12)? >> 4) * 4;
        (header_len >= HEADER_LEN && buf.len() >= header_len)
            .then_some(TcpSegment { buf, header_len })
    }

    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.buf[0], self.buf[1]])
    }

    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.buf[2], self.buf[3]])
    }

    pub fn seq(&self) -> u32 {
        u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]])
    }

    pub fn ack(&self) -> u32 {
        u32::from_be_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]])
    }

    pub fn flags(&self) -> u8 {
        self.buf[13]
    }

    /// Bytes of data after the header.
    pub fn data_len(&self) -> usize {
        self.buf.len() - self.header_len
    }
}

/// The fields of a reset segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

/// The reset that answers `seg` when no connection exists (RFC 9293 section 3.10.7.1):
/// if the segment has ACK, `<SEQ=SEG.ACK><CTL=RST>`; otherwise
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`, where SYN and FIN count in SEG.LEN.
pub fn reset_for(seg: &TcpSegment<'_>) -> Reset {
    let (seq, ack, flags) = if seg.flags() & ACK != 0 {
        (seg.ack(), 0, RST)
    } else {
        let f = seg.flags();
        let len = seg.data_len() as u32 + u32::from(f & SYN != 0) + u32::from(f & FIN != 0);
        (0, seg.seq().wrapping_add(len), RST | ACK)
    };
    Reset {
        src_port: seg.dst_port(),
        dst_port: seg.src_port(),
        seq,
        ack,
        flags,
    }
}

/// Writes `reset` as a 20-byte header, checksum zero, at the start of `buf`. Returns its
/// length.
pub fn write_reset(buf: &mut [u8], reset: &Reset) -> usize {
    let h = &mut buf[..HEADER_LEN];
    h[0..2].copy_from_slice(&reset.src_port.to_be_bytes());
    h[2..4].copy_from_slice(&reset.dst_port.to_be_bytes());
    h[4..8].copy_from_slice(&reset.seq.to_be_bytes());
    h[8..12].copy_from_slice(&reset.ack.to_be_bytes());
    h[12] = (HEADER_LEN as u8 / 4) << 4;
    h[13] = reset.flags;
    h[14..20].copy_from_slice(&[0; 6]);
    HEADER_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN from port 40000 to 22, sequence 1000, no options.
    const SYN_SEGMENT: [u8; 20] = [
        0x9c, 0x40, 0x00, 0x16, 0x00, 0x00, 0x03, 0xe8, 0, 0, 0, 0, 0x50, SYN, 0xff, 0xff, 0, 0, 0,
        0,
    ];

    #[test]
    fn reset_for_a_syn_acknowledges_it() {
        let seg = TcpSegment::new(&SYN_SEGMENT).unwrap();
        assert_eq!(
            (seg.src_port(), seg.dst_port(), seg.seq()),
            (40000, 22, 1000)
        );
        let r = reset_for(&seg);
        assert_eq!(
            r,
            Reset {
                src_port: 22,
                dst_port: 40000,
                seq: 0,
                ack: 1001,
                flags: RST | ACK
            }
        );
        let mut out = [0xaa; 24];
        assert_eq!(write_reset(&mut out, &r), 20);
        assert_eq!(
            &out[..20],
            &[
                0,
                22,
                0x9c,
                0x40,
                0,
                0,
                0,
                0,
                0,
                0,
                0x03,
                0xe9,
                0x50,
                RST | ACK,
                0,
                0,
                0,
                0,
                0,
                0
            ]
        );
    }

    #[test]
    fn reset_for_an_ack_takes_its_sequence() {
        let mut s = SYN_SEGMENT.to_vec();
        s[8..12].copy_from_slice(&77u32.to_be_bytes());
        s[13] = ACK;
        s.extend_from_slice(b"data");
        let r = reset_for(&TcpSegment::new(&s).unwrap());
        assert_eq!((r.seq, r.ack, r.flags), (77, 0, RST));
    }

    #[test]
    fn bad_data_offset_is_refused() {
        let mut s = SYN_SEGMENT;
        s[12] = 0x40;
        assert!(TcpSegment::new(&s).is_none());
        s[12] = 0x60;
        assert!(TcpSegment::new(&s).is_none(), "24-byte header in 20 bytes");
        assert!(TcpSegment::new(&s[..12]).is_none());
    }
}
