//! Fragments addressed to the router: checked as RFC 8200 section 4.5 asks, gathered by
//! the core's [`Reassembler`](crate::reassembly::Reassembler), and the complete packet
//! handled like any other packet to the router.

use super::{AnswerAt, Core, Dataplane, L3_OFFSET, PortView, Rx, Verdict};
use crate::counters::DropReason;
use crate::reassembly::{Added, Fragment, FragmentKey, MAX_PAYLOAD, Refused};
use crate::wire::exthdr::Chain;
use crate::wire::fragment::{self, FragmentHeader};
use crate::wire::{Ipv6Packet, ethernet, ipv6};

impl Dataplane {
    /// Takes a fragment to the router, whose Fragment header the chain walk found.
    pub(super) fn reassemble(
        &self,
        core: &mut Core,
        port: &PortView,
        buf: &mut [u8],
        rx: &Rx,
        chain: &Chain,
    ) -> Verdict {
        let at = chain
            .fragment
            .expect("called for a packet with a Fragment header");
        let packet = &buf[L3_OFFSET..rx.frame_len];
        let header = FragmentHeader::parse(&packet[at..]).expect("the walk checked its length");
        let data = &packet[at + fragment::HEADER_LEN..];

        // RFC 8200 4.5: a fragment other than the last whose length is not a multiple of 8
        // gets Parameter Problem, code 0, pointing at the Payload Length field; one that
        // would end past 65,535 bytes, pointing at the Fragment Offset field.
        if header.more && !data.len().is_multiple_of(8) {
            return self.bad_header(core, buf, rx, 4, DropReason::BadFragment);
        }
        // The reassembled payload also holds the headers before the Fragment header.
        let unfragmentable = at - ipv6::HEADER_LEN;
        if unfragmentable + header.offset + data.len() > MAX_PAYLOAD {
            return self.bad_header(core, buf, rx, at + 2, DropReason::BadFragment);
        }

        // RFC 6946 4: an atomic fragment (offset 0, no more to come) is handled alone, as
        // the packet it carries, without waiting on any other.
        if header.offset == 0 && !header.more {
            return self.unwrap_atomic(core, port, buf, rx, at, chain.fragment_pointer);
        }

        let ip = Ipv6Packet::new(packet).expect("frames past handle() hold both headers");
        let fragment = Fragment {
            key: FragmentKey {
                src: ip.src(),
                dst: ip.dst(),
                id: header.id,
            },
            unfragmentable: &packet[..at],
            next_header_at: chain.fragment_pointer,
            next_header: header.next_header,
            offset: header.offset,
            more: header.more,
            data,
        };
        let expired = core.reassembly.expired;
        let added = core.reassembly.add(core.now_ns, &fragment);
        core.counters
            .reassembly_expired
            .add(core.reassembly.expired - expired);
        let (slot, start, len) = match added {
            Ok(Added::Held) => return Verdict::Held,
            Ok(Added::Complete { slot, start, len }) => (slot, start, len),
            Err(Refused::Overlap) => return Verdict::Drop(DropReason::FragmentOverlap),
            Err(Refused::TooLong) => return Verdict::Drop(DropReason::BadFragment),
            Err(Refused::Full) => return Verdict::Drop(DropReason::ReassemblyFull),
        };

        // The packet is whole in the slot; it takes this frame's Ethernet header and is
        // handled as if it had come so. Its buffer is lent out of the core meanwhile, so
        // the core stays free for the handling.
        let mut whole = core.reassembly.take_buffer(slot);
        whole[start..start + ethernet::HEADER_LEN].copy_from_slice(&buf[..ethernet::HEADER_LEN]);
        let inner = Rx {
            in_port: rx.in_port,
            frame_len: len,
            reassembled: true,
        };
        let verdict = self.deliver_local(core, port, &mut whole[start..], &inner);
        core.reassembly.put_buffer(slot, whole);
        let (port, len, reason) = match verdict {
            Verdict::Reply { len } => (rx.in_port, len, None),
            Verdict::Error { port, len, reason } => (port, len, Some(reason)),
            other => {
                core.reassembly.release(slot);
                return other;
            }
        };
        core.answer = Some(AnswerAt { slot, start, len });
        Verdict::Reassembled { port, reason }
    }

    /// Takes the Fragment header, at `at` in the IPv6 packet, out of an atomic fragment,
    /// and handles what is left as a reassembled packet.
    fn unwrap_atomic(
        &self,
        core: &mut Core,
        port: &PortView,
        buf: &mut [u8],
        rx: &Rx,
        at: usize,
        next_header_at: usize,
    ) -> Verdict {
        let next_header = buf[L3_OFFSET + at];
        let after = L3_OFFSET + at + fragment::HEADER_LEN;
        buf.copy_within(after..rx.frame_len, L3_OFFSET + at);
        buf[L3_OFFSET + next_header_at] = next_header;
        let frame_len = rx.frame_len - fragment::HEADER_LEN;
        let payload = (frame_len - L3_OFFSET - ipv6::HEADER_LEN) as u16;
        Ipv6Packet::new(&mut buf[L3_OFFSET..frame_len])
            .expect("frames past handle() hold both headers")
            .set_payload_len(payload);
        let inner = Rx {
            in_port: rx.in_port,
            frame_len,
            reassembled: true,
        };
        self.deliver_local(core, port, buf, &inner)
    }
}
