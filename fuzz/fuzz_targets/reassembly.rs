//! Any sequence of fragments into one core's reassembly slots: no panic, and a complete
//! packet lies inside its slot's buffer.

#![no_main]

use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use v6fwd::reassembly::{Added, Fragment, FragmentKey, Reassembler};

fuzz_target!(|input: &[u8]| {
    let mut r = Reassembler::new(2);
    let mut header = [0u8; 40];
    header[0] = 0x60;
    header[6] = 44;
    let data = [0xabu8; 2048];
    for (i, f) in input.chunks_exact(6).enumerate() {
        let offset = usize::from(u16::from_be_bytes([f[0], f[1]]) & 0xfff8);
        let len = usize::from(u16::from_be_bytes([f[2], f[3]])) % data.len();
        let fragment = Fragment {
            key: FragmentKey {
                src: Ipv6Addr::LOCALHOST,
                dst: Ipv6Addr::LOCALHOST,
                id: u32::from(f[4] % 3),
            },
            unfragmentable: &header,
            next_header_at: 6,
            next_header: 58,
            offset,
            more: f[5] & 1 == 1,
            data: &data[..len],
        };
        if let Ok(Added::Complete { slot, start, len }) = r.add(i as u64 * 1_000_000_000, &fragment)
        {
            assert!(start + len <= r.buffer_mut(slot).len());
            r.release(slot);
        }
    }
});
