//! Any Neighbor Solicitation body, from any source to any destination with any hop
//! limit: validated without a panic.

#![no_main]

use std::net::Ipv6Addr;

use libfuzzer_sys::fuzz_target;
use v6fwd::wire::nd;

fuzz_target!(|input: &[u8]| {
    let Some((head, msg)) = input.split_first_chunk::<33>() else {
        return;
    };
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&head[..16]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&head[16..32]).unwrap());
    if let Ok(ns) = nd::parse_solicitation(&src, &dst, head[32], msg) {
        assert!(!ns.target.is_multicast());
    }
});
