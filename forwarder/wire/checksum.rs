//! The Internet checksum (RFC 1071) and its incremental update (RFC 1624), with the IPv6
//! pseudo-header of RFC 8200 section 8.1.

use std::net::Ipv6Addr;

/// Adds `data` as big-endian 16-bit words to `sum`, an odd last byte padded with zero.
/// The result is not folded; 32 bits hold the sum of any packet below 128 KiB.
pub fn add(mut sum: u32, data: &[u8]) -> u32 {
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a 32-bit sum to 16 bits with end-around carry.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The unfolded sum of the IPv6 pseudo-header (RFC 8200 section 8.1) for an upper-layer
/// message of `len` bytes with next header `next_header`.
pub fn pseudo_header(src: &Ipv6Addr, dst: &Ipv6Addr, len: u32, next_header: u8) -> u32 {
    let mut sum = add(0, &src.octets());
    sum = add(sum, &dst.octets());
    sum += len >> 16;
    sum += len & 0xffff;
    sum + u32::from(next_header)
}

/// The checksum to write into an upper-layer message whose checksum field is zero.
pub fn upper_layer(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, message: &[u8]) -> u16 {
    let sum = pseudo_header(src, dst, message.len() as u32, next_header);
    !fold(add(sum, message))
}

/// Whether an upper-layer message, checksum field included, sums to all ones.
pub fn verify_upper_layer(src: &Ipv6Addr, dst: &Ipv6Addr, next_header: u8, message: &[u8]) -> bool {
    let sum = pseudo_header(src, dst, message.len() as u32, next_header);
    fold(add(sum, message)) == 0xffff
}

/// Updates checksum `hc` after one 16-bit word of the covered data changed from `old` to
/// `new`: RFC 1624 equation 3, `HC' = ~(~HC + ~m + m')`, which never yields 0x0000 from a
/// non-zero sum (the flaw of equation 2).
pub fn update(hc: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!hc) + u32::from(!old) + u32::from(new);
    !fold(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(0, &data)), 0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(fold(add(0, &[0x12, 0x34, 0x56])), 0x1234 + 0x5600);
    }

    #[test]
    fn incremental_matches_full_recompute() {
        let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let mut msg = vec![128u8, 0, 0, 0, 0x12, 0x34, 0, 1, b'a', b'b', b'c'];
        let c = upper_layer(&src, &dst, 58, &msg);
        msg[2..4].copy_from_slice(&c.to_be_bytes());
        assert!(verify_upper_layer(&src, &dst, 58, &msg));

        let updated = update(c, 0x8000, 0x8100);
        msg[0] = 129;
        msg[2..4].copy_from_slice(&[0, 0]);
        assert_eq!(updated, upper_layer(&src, &dst, 58, &msg));
    }
}
