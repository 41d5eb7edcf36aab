//! Any Neighbor Discovery message body, from any source to any destination with any hop
//! limit: each of the parsers the router runs (Neighbor Solicitation and Advertisement,
//! Router Solicitation and Advertisement) validates it without a panic, and what one
//! accepts keeps the invariants the router relies on.

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
    let hop_limit = head[32];
    if let Ok(ns) = nd::parse_solicitation(&src, &dst, hop_limit, msg) {
        assert!(!ns.target.is_multicast());
    }
    if let Ok(na) = nd::parse_advertisement(&dst, hop_limit, msg) {
        assert!(!na.target.is_multicast());
        // RFC 4861 7.1.2: a solicited advertisement is not sent to a group.
        assert!(!(na.solicited && dst.is_multicast()));
    }
    let _ = nd::parse_router_solicitation(&src, hop_limit, msg);
    if let Ok(ra) = nd::parse_router_advert(&src, hop_limit, msg) {
        assert!(src.is_unicast_link_local());
        assert!(ra.route_count <= ra.routes.len());
        for r in &ra.routes[..ra.route_count] {
            assert!(r.len <= 128);
        }
    }
});
