//! Any IPv6 packet's extension header chain and options: walked without a panic, and the
//! upper layer found inside the packet.

#![no_main]

use libfuzzer_sys::fuzz_target;
use v6fwd::wire::exthdr;

fuzz_target!(|packet: &[u8]| {
    if let Ok(chain) = exthdr::walk(packet, 16) {
        assert!(chain.upper_offset <= packet.len());
        for at in [chain.hop_by_hop, chain.destination_options]
            .into_iter()
            .flatten()
        {
            let _ = exthdr::check_options(packet, at, |t| t == exthdr::OPT_ROUTER_ALERT);
        }
    }
});
