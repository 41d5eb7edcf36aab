//! The state machine on a virtual clock: every transition of RFC 4861 Appendix C, the
//! advertisement flag matrix of section 7.2.5, and the bounds of RFC 6583.

use super::*;

const SEC: u64 = 1_000 * MS;

fn a(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn mac(last: u8) -> MacAddr {
    MacAddr([2, 0, 0, 0, 0, last])
}

/// A cache over two ports with the RFC's timers.
fn cache() -> Cache<&'static str> {
    Cache::new(vec![Timers::default(); 2], Limits::default(), 0)
}

/// The actions, but what the copies of entries are told (tested on its own below).
fn actions<P>(c: &mut Cache<P>) -> Vec<Action<P>> {
    c.actions()
        .filter(|x| !matches!(x, Action::Publish { .. } | Action::Forget { .. }))
        .collect()
}

fn state<P>(c: &Cache<P>, addr: &str, now: u64) -> Option<State> {
    c.lookup(0, &a(addr), now).map(|(_, s)| s)
}

fn na(target: &str, solicited: bool, override_: bool, lladdr: Option<MacAddr>) -> Advert {
    Advert {
        target: a(target),
        router: false,
        solicited,
        override_,
        lladdr,
    }
}

fn solicit(target: &str, to: Option<MacAddr>) -> Action<&'static str> {
    Action::Solicit {
        port: 0,
        target: a(target),
        to,
    }
}

/// An entry of `addr` on port 0 brought to `want` at time `now`, with link-layer
/// address `mac(1)`; actions cleared.
fn entry_in(c: &mut Cache<&'static str>, addr: &str, want: State, now: u64) {
    match want {
        State::Incomplete => {
            assert_eq!(c.output(0, a(addr), now, "first"), Output::Queued(None));
        }
        State::Stale => c.on_source(0, a(addr), mac(1), Source::Solicitation, now),
        State::Reachable => {
            c.output(0, a(addr), now, "first");
            c.on_advert(0, &na(addr, true, true, Some(mac(1))), now);
        }
        State::Delay => {
            c.on_source(0, a(addr), mac(1), Source::Solicitation, now);
            assert!(matches!(c.output(0, a(addr), now, "p"), Output::Send(..)));
        }
        State::Probe => {
            c.on_source(0, a(addr), mac(1), Source::Solicitation, 0);
            c.output(0, a(addr), 0, "p");
            c.advance(5 * SEC);
            assert!(now >= 5 * SEC);
        }
        State::Failed | State::Static => unreachable!(),
    }
    assert_eq!(state(c, addr, now), Some(want));
    actions(c);
}

#[test]
fn a_packet_to_a_new_neighbor_starts_resolution() {
    let mut c = cache();
    assert_eq!(c.output(0, a("fe80::1"), 0, "p1"), Output::Queued(None));
    assert_eq!(state(&c, "fe80::1", 0), Some(State::Incomplete));
    assert_eq!(actions(&mut c), [solicit("fe80::1", None)]);
    // More packets wait with it; no second solicitation.
    assert_eq!(c.output(0, a("fe80::1"), 10, "p2"), Output::Queued(None));
    assert_eq!(actions(&mut c), []);
}

#[test]
fn solicitations_repeat_every_retrans_timer_then_resolution_fails() {
    let mut c = cache();
    c.output(0, a("fe80::1"), 0, "p1");
    c.output(0, a("fe80::1"), 0, "p2");
    actions(&mut c);
    // Nothing before RetransTimer; then one solicitation per RetransTimer.
    c.advance(SEC - 1);
    assert_eq!(actions(&mut c), []);
    c.advance(SEC);
    assert_eq!(actions(&mut c), [solicit("fe80::1", None)]);
    c.advance(2 * SEC - 1);
    assert_eq!(actions(&mut c), []);
    c.advance(2 * SEC);
    assert_eq!(actions(&mut c), [solicit("fe80::1", None)]);
    // MAX_MULTICAST_SOLICIT (3) sent: after one more RetransTimer, resolution fails and
    // the waiting packets are answered with Destination Unreachable.
    c.advance(3 * SEC);
    assert_eq!(
        actions(&mut c),
        [
            Action::Unreachable {
                port: 0,
                packet: "p1"
            },
            Action::Unreachable {
                port: 0,
                packet: "p2"
            },
            Action::Reachability {
                port: 0,
                addr: a("fe80::1"),
                reachability: Reachability::Unreachable,
                router: false
            },
        ]
    );
    assert_eq!(state(&c, "fe80::1", 3 * SEC), Some(State::Failed));
    assert_eq!(c.timers_pending(), 0);
    // The next packet tries again.
    assert_eq!(
        c.output(0, a("fe80::1"), 4 * SEC, "p3"),
        Output::Queued(None)
    );
    assert_eq!(actions(&mut c), [solicit("fe80::1", None)]);
    assert_eq!(state(&c, "fe80::1", 4 * SEC), Some(State::Incomplete));
}

#[test]
fn advertisement_completes_resolution_and_sends_the_queue() {
    for (solicited, want) in [(true, State::Reachable), (false, State::Stale)] {
        let mut c = cache();
        c.output(0, a("fe80::1"), 0, "p1");
        c.output(0, a("fe80::1"), 0, "p2");
        actions(&mut c);
        // Without the target's address it says nothing.
        c.on_advert(0, &na("fe80::1", solicited, false, None), 10);
        assert_eq!(state(&c, "fe80::1", 10), Some(State::Incomplete));
        c.on_advert(0, &na("fe80::1", solicited, false, Some(mac(1))), 10);
        assert_eq!(state(&c, "fe80::1", 10), Some(want));
        let send = |packet| Action::Send {
            port: 0,
            lladdr: mac(1),
            packet,
        };
        assert_eq!(
            actions(&mut c),
            [
                send("p1"),
                send("p2"),
                Action::Reachability {
                    port: 0,
                    addr: a("fe80::1"),
                    reachability: Reachability::Probable,
                    router: false
                }
            ]
        );
        // The retransmission timer is dead.
        c.advance(10 * SEC);
        assert!(
            !actions(&mut c)
                .iter()
                .any(|x| matches!(x, Action::Solicit { .. }))
        );
    }
}

#[test]
fn reachable_turns_stale_after_reachable_time_without_a_timer() {
    let mut c = cache();
    entry_in(&mut c, "fe80::1", State::Reachable, 0);
    // The resolution's retransmission timer, forgotten, goes at its tick; none follows.
    c.advance(2 * SEC);
    assert_eq!(c.timers_pending(), 0);
    let (t, _) = c.reachable_ns[0];
    assert_eq!(state(&c, "fe80::1", t - 1), Some(State::Reachable));
    assert_eq!(state(&c, "fe80::1", t), Some(State::Stale));
    // The packet that finds it STALE moves it to DELAY.
    assert_eq!(c.output(0, a("fe80::1"), t, "p"), Output::Send(mac(1), "p"));
    assert_eq!(state(&c, "fe80::1", t), Some(State::Delay));
}

#[test]
fn reachable_time_is_drawn_between_half_and_one_and_a_half_base() {
    for _ in 0..50 {
        let c = cache();
        let (t, _) = c.reachable_ns[1];
        assert!((15 * SEC..=45 * SEC).contains(&t), "{t}");
    }
    // And drawn again after a few hours.
    let mut c = cache();
    let first = c.reachable_time(0, 0);
    let later = (1..20)
        .map(|h| c.reachable_time(0, h * 3 * 3600 * SEC))
        .collect::<Vec<_>>();
    assert!(later.iter().any(|&t| t != first));
}

#[test]
fn stale_delay_probe_then_failure() {
    let mut c = cache();
    entry_in(&mut c, "fe80::1", State::Delay, 0);
    // DELAY_FIRST_PROBE_TIME (5 s) later: a unicast probe, PROBE.
    c.advance(5 * SEC - 1);
    assert_eq!(actions(&mut c), []);
    c.advance(5 * SEC);
    assert_eq!(actions(&mut c), [solicit("fe80::1", Some(mac(1)))]);
    assert_eq!(state(&c, "fe80::1", 5 * SEC), Some(State::Probe));
    // Packets still go out while probing.
    assert_eq!(
        c.output(0, a("fe80::1"), 5 * SEC, "p"),
        Output::Send(mac(1), "p")
    );
    c.advance(6 * SEC);
    assert_eq!(actions(&mut c), [solicit("fe80::1", Some(mac(1)))]);
    c.advance(7 * SEC);
    assert_eq!(actions(&mut c), [solicit("fe80::1", Some(mac(1)))]);
    // MAX_UNICAST_SOLICIT (3) unanswered: unreachable, and the routing table hears it.
    c.advance(8 * SEC);
    assert_eq!(
        actions(&mut c),
        [Action::Reachability {
            port: 0,
            addr: a("fe80::1"),
            reachability: Reachability::Unreachable,
            router: false
        }]
    );
    assert_eq!(state(&c, "fe80::1", 8 * SEC), Some(State::Failed));
}

#[test]
fn a_solicited_advertisement_ends_delay_and_probe() {
    for from in [State::Delay, State::Probe] {
        let mut c = cache();
        entry_in(&mut c, "fe80::1", from, 5 * SEC);
        c.on_advert(0, &na("fe80::1", true, false, Some(mac(1))), 5 * SEC);
        assert_eq!(state(&c, "fe80::1", 5 * SEC), Some(State::Reachable));
        c.advance(60 * SEC);
        assert_eq!(actions(&mut c), [], "from {from:?}");
    }
}

/// RFC 4861 7.2.5 for an entry that is not INCOMPLETE: every state, both flags, and a
/// Target Link-Layer Address option absent, the same as cached, or another.
#[test]
fn advertisement_flag_matrix() {
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Tlla {
        Absent,
        Same,
        Other,
    }
    // (state, S, O, option) -> (state after, link-layer address after), from the RFC's
    // text: O clear with another address makes REACHABLE STALE and is otherwise ignored;
    // else the address is taken, S makes it REACHABLE, a changed address without S STALE,
    // anything else leaves the state.
    let expect = |from: State, s: bool, o: bool, t: Tlla| -> (State, MacAddr) {
        match (o, t, s) {
            (false, Tlla::Other, _) if from == State::Reachable => (State::Stale, mac(1)),
            (false, Tlla::Other, _) => (from, mac(1)),
            (_, _, true) => (
                State::Reachable,
                if t == Tlla::Other { mac(2) } else { mac(1) },
            ),
            (true, Tlla::Other, false) => (State::Stale, mac(2)),
            _ => (from, mac(1)),
        }
    };
    let now = 5 * SEC;
    for from in [State::Reachable, State::Stale, State::Delay, State::Probe] {
        for s in [false, true] {
            for o in [false, true] {
                for t in [Tlla::Absent, Tlla::Same, Tlla::Other] {
                    let mut c = cache();
                    entry_in(&mut c, "fe80::1", from, now);
                    let lladdr = match t {
                        Tlla::Absent => None,
                        Tlla::Same => Some(mac(1)),
                        Tlla::Other => Some(mac(2)),
                    };
                    c.on_advert(0, &na("fe80::1", s, o, lladdr), now);
                    let got = c.lookup(0, &a("fe80::1"), now).map(|(m, st)| (st, m));
                    assert_eq!(
                        got,
                        Some(expect(from, s, o, t)),
                        "{from:?} S={s} O={o} {t:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_router_flag_follows_advertisements() {
    let mut c = cache();
    entry_in(&mut c, "fe80::1", State::Stale, 0);
    let mut adv = na("fe80::1", false, true, None);
    adv.router = true;
    c.on_advert(0, &adv, 0);
    assert_eq!(
        actions(&mut c),
        [Action::Reachability {
            port: 0,
            addr: a("fe80::1"),
            reachability: Reachability::Probable,
            router: true
        }]
    );
    // IsRouter updated, state not (RFC 4861 Appendix C: O=1 without an option).
    assert_eq!(state(&c, "fe80::1", 0), Some(State::Stale));
    adv.router = false;
    c.on_advert(0, &adv, 0);
    assert!(matches!(
        actions(&mut c)[..],
        [Action::Reachability { router: false, .. }]
    ));
    // A Router Advertisement's source is a router; a Router Solicitation's a host.
    c.on_source(0, a("fe80::1"), mac(1), Source::RouterAdvertisement, 0);
    assert!(matches!(
        actions(&mut c)[..],
        [Action::Reachability { router: true, .. }]
    ));
    c.on_source(0, a("fe80::1"), mac(1), Source::RouterSolicitation, 0);
    assert!(matches!(
        actions(&mut c)[..],
        [Action::Reachability { router: false, .. }]
    ));
}

#[test]
fn an_advertisement_without_an_entry_is_ignored() {
    let mut c = cache();
    c.on_advert(0, &na("fe80::9", true, true, Some(mac(9))), 0);
    assert!(c.is_empty());
    assert_eq!(actions(&mut c), []);
}

#[test]
fn source_addresses_create_and_update_stale_entries() {
    let mut c = cache();
    // NOSTATE: created STALE.
    c.on_source(0, a("fe80::1"), mac(1), Source::Solicitation, 0);
    assert_eq!(c.lookup(0, &a("fe80::1"), 0), Some((mac(1), State::Stale)));
    // INCOMPLETE: recorded, STALE, queue sent.
    c.output(0, a("fe80::2"), 0, "p");
    actions(&mut c);
    c.on_source(0, a("fe80::2"), mac(2), Source::Solicitation, 0);
    assert_eq!(c.lookup(0, &a("fe80::2"), 0), Some((mac(2), State::Stale)));
    assert!(actions(&mut c).contains(&Action::Send {
        port: 0,
        lladdr: mac(2),
        packet: "p"
    }));
    // Not INCOMPLETE, the same address: unchanged; another: updated, STALE.
    entry_in(&mut c, "fe80::3", State::Reachable, 0);
    c.on_source(0, a("fe80::3"), mac(1), Source::Solicitation, 0);
    assert_eq!(state(&c, "fe80::3", 0), Some(State::Reachable));
    c.on_source(0, a("fe80::3"), mac(3), Source::Solicitation, 0);
    assert_eq!(c.lookup(0, &a("fe80::3"), 0), Some((mac(3), State::Stale)));
    // A changed address ends probing too.
    entry_in(&mut c, "fe80::4", State::Probe, 5 * SEC);
    c.on_source(0, a("fe80::4"), mac(4), Source::Solicitation, 5 * SEC);
    assert_eq!(state(&c, "fe80::4", 5 * SEC), Some(State::Stale));
    c.advance(30 * SEC);
    assert!(
        !actions(&mut c)
            .iter()
            .any(|x| matches!(x, Action::Solicit { target, .. } if *target == a("fe80::4")))
    );
}

#[test]
fn static_entries_are_never_probed_or_changed() {
    let mut c = cache();
    c.set_static(0, a("fe80::1"), mac(1), 0);
    for t in 0..100 {
        assert_eq!(
            c.output(0, a("fe80::1"), t * SEC, "p"),
            Output::Send(mac(1), "p")
        );
    }
    c.on_advert(0, &na("fe80::1", true, true, Some(mac(2))), 0);
    c.on_source(0, a("fe80::1"), mac(3), Source::Solicitation, 0);
    c.advance(1000 * SEC);
    assert_eq!(c.lookup(0, &a("fe80::1"), 0), Some((mac(1), State::Static)));
    assert_eq!(c.collect(10_000 * SEC, 100), 0);
    assert_eq!(actions(&mut c), []);
    assert_eq!(c.timers_pending(), 0);
}

#[test]
fn a_full_queue_gives_up_its_oldest_packet() {
    let mut c = cache();
    c.output(0, a("fe80::1"), 0, "p1");
    c.output(0, a("fe80::1"), 0, "p2");
    c.output(0, a("fe80::1"), 0, "p3");
    assert_eq!(
        c.output(0, a("fe80::1"), 0, "p4"),
        Output::Queued(Some("p1"))
    );
    actions(&mut c);
    c.on_advert(0, &na("fe80::1", true, false, Some(mac(1))), 0);
    let sent: Vec<_> = actions(&mut c)
        .into_iter()
        .filter_map(|x| match x {
            Action::Send { packet, .. } => Some(packet),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["p2", "p3", "p4"]);
}

#[test]
fn a_scan_is_bounded_and_leaves_resolved_neighbors_alone() {
    let limits = Limits {
        incomplete_per_port: 10,
        solicit_rate: 1000,
        solicit_burst: 1000,
        ..Limits::default()
    };
    let mut c: Cache<u32> = Cache::new(vec![Timers::default(); 2], limits, 0);
    c.set_static(0, a("2001:db8::1"), mac(1), 0);
    c.on_source(0, a("2001:db8::2"), mac(2), Source::Solicitation, 0);
    let mut refused = 0;
    for i in 0..1000u32 {
        let addr = Ipv6Addr::from((0x2001_0db8u128 << 96) | 0x1000 | u128::from(i));
        if let Output::Refused(_, why) = c.output(0, addr, 0, i) {
            assert_eq!(why, Refusal::TooManyIncomplete);
            refused += 1;
        }
    }
    assert_eq!(refused, 990);
    // Another port has its own bound.
    assert_eq!(c.output(1, a("2001:db8::5"), 0, 0), Output::Queued(None));
    // The established neighbors are there and used.
    assert_eq!(c.output(0, a("2001:db8::1"), 0, 7), Output::Send(mac(1), 7));
    assert_eq!(c.output(0, a("2001:db8::2"), 0, 8), Output::Send(mac(2), 8));
    // Once the scan's resolutions fail, room is made again.
    for t in 1..=3 {
        c.advance(t * SEC);
    }
    assert_eq!(
        c.output(0, a("2001:db8::6"), 3 * SEC, 9),
        Output::Queued(None)
    );
}

#[test]
fn solicitations_that_start_resolution_are_rate_limited() {
    let limits = Limits {
        solicit_rate: 10,
        solicit_burst: 5,
        ..Limits::default()
    };
    let mut c: Cache<u32> = Cache::new(vec![Timers::default()], limits, 0);
    let out: Vec<_> = (0..8u32)
        .map(|i| c.output(0, Ipv6Addr::from(u128::from(i) + 1), 0, i))
        .collect();
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::Refused(_, Refusal::SolicitRateLimited)))
            .count(),
        3
    );
    // A tenth of a second later, one more.
    assert_eq!(
        c.output(0, Ipv6Addr::from(100u128), SEC / 10, 100),
        Output::Queued(None)
    );
}

#[test]
fn the_table_has_a_size_limit() {
    let limits = Limits {
        entries: 4,
        ..Limits::default()
    };
    let mut c: Cache<u32> = Cache::new(vec![Timers::default()], limits, 0);
    for i in 0..10u32 {
        c.on_source(
            0,
            Ipv6Addr::from(u128::from(i) + 1),
            mac(1),
            Source::Solicitation,
            0,
        );
    }
    assert_eq!(c.len(), 4);
    assert_eq!(
        c.output(0, a("fe80::99"), 0, 1),
        Output::Refused(1, Refusal::Full)
    );
}

#[test]
fn collection_frees_only_idle_stale_and_failed_entries() {
    let mut c = cache();
    let gc = u64::from(Limits::default().gc_after_ms) * MS;
    c.on_source(0, a("fe80::1"), mac(1), Source::Solicitation, 0); // STALE, idle
    c.set_static(0, a("fe80::2"), mac(2), 0);
    c.output(0, a("fe80::3"), 0, "p"); // INCOMPLETE, then failed
    for t in 1..=3 {
        c.advance(t * SEC);
    }
    c.on_source(0, a("fe80::4"), mac(4), Source::Solicitation, 0);
    c.output(0, a("fe80::4"), gc, "p"); // used recently: DELAY
    assert_eq!(c.collect(gc - 1, 100), 0);
    assert_eq!(c.collect(gc, 100), 2);
    assert_eq!(state(&c, "fe80::1", gc), None);
    assert_eq!(state(&c, "fe80::3", gc), None);
    assert_eq!(state(&c, "fe80::2", gc), Some(State::Static));
    assert_eq!(state(&c, "fe80::4", gc), Some(State::Delay));
    // A freed slot taken by another neighbor never sees the old entry's timer.
    actions(&mut c);
    c.on_source(0, a("fe80::5"), mac(5), Source::Solicitation, gc);
    c.on_source(0, a("fe80::6"), mac(6), Source::Solicitation, gc);
    c.advance(gc + 5 * SEC);
    let probes: Vec<_> = actions(&mut c)
        .into_iter()
        .filter(|x| matches!(x, Action::Solicit { .. }))
        .collect();
    assert_eq!(probes, [solicit("fe80::4", Some(mac(4)))]);
}

#[test]
fn quiet_neighbors_cost_no_timers() {
    let mut c: Cache<u32> = Cache::new(
        vec![Timers::default()],
        Limits {
            entries: 200_000,
            ..Limits::default()
        },
        0,
    );
    for i in 0..100_000u32 {
        let addr = Ipv6Addr::from((0xfe80u128 << 112) | u128::from(i));
        c.on_source(0, addr, mac(1), Source::Solicitation, 0);
        c.output(0, addr, 0, i);
        c.on_advert(
            0,
            &Advert {
                target: addr,
                router: false,
                solicited: true,
                override_: false,
                lladdr: None,
            },
            0,
        );
    }
    actions(&mut c);
    c.advance(10 * SEC);
    assert_eq!(c.timers_pending(), 0);
    assert_eq!(
        c.lookup(0, &Ipv6Addr::from(0xfe80u128 << 112), 10 * SEC)
            .unwrap()
            .1,
        State::Reachable
    );
}

#[test]
fn a_late_poll_does_not_stretch_the_retransmission_interval() {
    let mut c = cache();
    c.output(0, a("fe80::1"), 0, "p");
    actions(&mut c);
    // The core looks at its timers 400 ms late; the next solicitation is still due one
    // RetransTimer after the first was due, not after the late look.
    c.advance(SEC + 400 * MS);
    assert_eq!(actions(&mut c), [solicit("fe80::1", None)]);
    c.advance(2 * SEC);
    assert_eq!(actions(&mut c), [solicit("fe80::1", None)]);
    assert_eq!(c.next_due(), Some(3 * SEC));
}

use proptest::strategy::Strategy;

#[derive(Debug, Clone)]
enum Op {
    Output(u8),
    Advert(u8, bool, bool, Option<u8>),
    Source(u8, u8),
    Touch(u8),
    Wait(u16),
    Collect,
}

proptest::proptest! {
    /// A core's copies, fed only the published changes, agree with the owner's entries
    /// after any sequence of events: the same link-layer address and state for every entry
    /// that can be used, and none usable that the owner cannot use.
    #[test]
    fn copies_agree_with_the_owner(ops in proptest::collection::vec(
        proptest::prop_oneof![
            (0u8..6).prop_map(Op::Output),
            (0u8..6, proptest::bool::ANY, proptest::bool::ANY, proptest::option::of(1u8..4))
                .prop_map(|(n, s, o, l)| Op::Advert(n, s, o, l)),
            (0u8..6, 1u8..4).prop_map(|(n, l)| Op::Source(n, l)),
            (0u8..6).prop_map(Op::Touch),
            (1u16..8000).prop_map(Op::Wait),
            proptest::strategy::Just(Op::Collect),
        ],
        1..120,
    )) {
        use proptest::prelude::*;
        use crate::neigh::NeighborView;
        let limits = Limits { gc_after_ms: 20_000, ..Limits::default() };
        let mut c: Cache<u32> = Cache::new(vec![Timers::default()], limits, 0);
        let mut view = NeighborView::default();
        let addr = |n: u8| Ipv6Addr::from((0xfe80u128 << 112) | (u128::from(n) + 1));
        let mut now = 0u64;
        for (k, op) in ops.iter().enumerate() {
            match *op {
                Op::Output(n) => {
                    let _ = c.output(0, addr(n), now, k as u32);
                }
                Op::Advert(n, s, o, l) => c.on_advert(0, &Advert {
                    target: addr(n),
                    router: false,
                    solicited: s,
                    override_: o,
                    lladdr: l.map(mac),
                }, now),
                Op::Source(n, l) => c.on_source(0, addr(n), mac(l), Source::Solicitation, now),
                Op::Touch(n) => c.touch(0, addr(n), now),
                Op::Wait(ms) => {
                    now += u64::from(ms) * MS;
                    c.advance(now);
                }
                Op::Collect => {
                    c.collect(now, 3);
                }
            }
            for a in c.actions() {
                match a {
                    Action::Publish { port, addr, lladdr, state, reachable_until } =>
                        view.publish(port, addr, lladdr, state, reachable_until),
                    Action::Forget { port, addr } => view.forget(port, &addr),
                    _ => {}
                }
            }
            for n in 0..6 {
                let usable = |x: Option<(MacAddr, State)>| {
                    x.filter(|(_, s)| !matches!(s, State::Incomplete | State::Failed))
                };
                prop_assert_eq!(
                    usable(view.peek(0, &addr(n), now)),
                    usable(c.lookup(0, &addr(n), now)),
                    "neighbor {} after {:?}", n, op
                );
            }
        }
    }
}

#[test]
fn flush_frees_what_it_names_and_keeps_configured_entries() {
    let mut c = cache();
    entry_in(&mut c, "2001:db8::1", State::Incomplete, 0);
    entry_in(&mut c, "2001:db8::2", State::Reachable, 0);
    c.set_static(0, a("2001:db8::3"), mac(3), 0);
    c.on_source(1, a("2001:db8::4"), mac(4), Source::Solicitation, 0);
    c.actions().for_each(drop);

    // One entry on its own.
    let (waiting, freed) = c.forget_entries(Some(0), Some(a("2001:db8::2")));
    assert_eq!((waiting.len(), freed), (0, 1));
    assert_eq!(state(&c, "2001:db8::2", 0), None);
    assert!(c.actions().any(|x| x
        == Action::Forget {
            port: 0,
            addr: a("2001:db8::2")
        }));

    // A port: the resolution in progress gives back its packet, the configured entry stays.
    let (waiting, freed) = c.forget_entries(Some(0), None);
    assert_eq!((waiting, freed), (vec!["first"], 1));
    assert_eq!(state(&c, "2001:db8::1", 0), None);
    assert_eq!(state(&c, "2001:db8::3", 0), Some(State::Static));
    assert_eq!(
        c.lookup(1, &a("2001:db8::4"), 0).map(|x| x.1),
        Some(State::Stale)
    );
    // The port may start as many resolutions again as before.
    assert_eq!(
        c.output(0, a("2001:db8::5"), SEC, "again"),
        Output::Queued(None)
    );

    let (_, freed) = c.forget_entries(None, None);
    assert_eq!(freed, 2);
    assert_eq!(c.len(), 1);
}

#[test]
fn list_and_census_say_what_the_cache_holds() {
    let mut c = cache();
    entry_in(&mut c, "2001:db8::1", State::Incomplete, 0);
    entry_in(&mut c, "2001:db8::2", State::Reachable, 0);
    entry_in(&mut c, "2001:db8::3", State::Stale, 0);
    let mut listed = c.list(0);
    listed.sort_by_key(|l| l.addr);
    let states: Vec<(State, Option<MacAddr>)> =
        listed.iter().map(|l| (l.state, l.lladdr)).collect();
    assert_eq!(
        states,
        [
            (State::Incomplete, None),
            (State::Reachable, Some(mac(1))),
            (State::Stale, Some(mac(1)))
        ]
    );
    // Past ReachableTime the REACHABLE entry reads as STALE.
    assert!(
        c.list(100 * SEC)
            .iter()
            .all(|l| l.state != State::Reachable)
    );

    // Two whole passes of the collector make a census (none of these is idle long enough
    // to be freed).
    assert_eq!(c.census(), [0; STATES]);
    for _ in 0..2 {
        c.collect(SEC, 3);
    }
    let census = c.census();
    assert_eq!(census[State::Incomplete as usize], 1);
    assert_eq!(census[State::Reachable as usize], 1);
    assert_eq!(census[State::Stale as usize], 1);
    assert_eq!(census.iter().sum::<u64>(), 3);
}

#[test]
fn a_listing_in_parts_lists_every_entry_once() {
    let mut c = cache();
    for i in 1..=10u16 {
        c.on_source(
            0,
            Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i),
            mac(i as u8),
            Source::Solicitation,
            0,
        );
    }
    // Free two, so that the slots hold holes.
    c.forget_entries(Some(0), Some(a("2001:db8::3")));
    c.forget_entries(Some(0), Some(a("2001:db8::7")));
    let whole = c.list(0);
    assert_eq!(whole.len(), 8);
    let mut parts = Vec::new();
    let mut from = 0;
    loop {
        let (entries, next) = c.list_from(from, 3, 0);
        parts.extend(entries);
        match next {
            Some(n) => from = n,
            None => break,
        }
    }
    assert_eq!(parts, whole);
    assert_eq!(c.list_from(1000, 3, 0), (Vec::new(), None));
}
