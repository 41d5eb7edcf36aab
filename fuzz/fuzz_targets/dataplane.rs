//! Any frame, from any port, with any room after it, through the whole packet path: no
//! panic, and an answer never outgrows its buffer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use v6fwd::dataplane::{Core, IcmpLimits, Verdict};
use v6fwd::testvec;

fuzz_target!(|input: &[u8]| {
    let Some((&[port, room], frame)) = input.split_first_chunk::<2>() else {
        return;
    };
    let dp = testvec::two_port_router();
    let mut core = Core::new(
        IcmpLimits {
            rate: 1000,
            burst: 1000,
        },
        Default::default(),
        dp.fib_reader(),
    );
    let mut buf = frame.to_vec();
    buf.resize(frame.len() + usize::from(room) * 8, 0);
    let len = frame.len();
    let verdict = dp.handle(&mut core, u16::from(port % 3), &mut buf, len, len);
    if let Verdict::Forward { len, .. } | Verdict::Reply { len } | Verdict::Error { len, .. } =
        verdict
    {
        assert!(len <= buf.len());
    }
});
