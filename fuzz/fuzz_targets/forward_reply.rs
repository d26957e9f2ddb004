//! forward's handling of an upstream's reply, on arbitrary upstream bytes,
//! for a fixed real client query: the checks the UDP reader makes before it
//! takes a reply (length, the ID it sent, `same_question`, QR, the 4096-byte
//! read), then what the byte relay of a forward-only block does with it
//! (`wire::edns::relay_reply`), and where that says no, the full path the
//! dispatcher takes instead (the reply parsed, or cut to a bare TC reply by
//! `forward::cut_reply`, then `size_and_do`, `encode_fitting`,
//! `mirror_small_udp_size`), in the order forward's relay runs them
//! (plugins/forward/relay.rs).
//!
//! The first input byte picks the client's query (bits 0-1) and whether the
//! reply is given the ID forward sent (bit 2; otherwise it must carry it
//! already); the rest is the upstream's datagram.
//!
//! Asserted: nothing panics; `relay_reply` leaves the reply untouched when
//! it says no; any reply that goes to the client is a response carrying
//! the client's ID and question, fits the client's size, has an OPT when
//! the client sent one (with the client's size, version 0 and at least its
//! DO bit); from the relay, it reads through to its last byte and has no
//! OPT when the client sent none (the full path keeps an upstream's OPT
//! then, as CoreDNS does); it parses with hickory, from the full path
//! always, from the relay whenever the upstream's reply did (the relay
//! checks the data of the common types only, so a reply with, say, a
//! broken TXT or OPT option goes on as the upstream sent it, where the
//! full path asks again); and when both the relay and the full path answer, they answer
//! the same message (header, sections, OPT), as `relay_reply` promises.

#![no_main]

use ferrodns::plugins::forward::{cut_reply, same_question, Question};
use ferrodns::wire::edns;
use ferrodns::wire::fast::{layout, Opt, Simple};
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

/// The ID forward put on the query it sent upstream.
const SENT_ID: u16 = 0xBEEF;
/// What the UDP reader reads of a datagram (forward's `MAX_REPLY`); a
/// longer one is marked cut and left to the chain.
const MAX_REPLY: usize = 4096;

fn query(id: u16, flags: u16, qname: &[&str], qtype: u16, opt: Option<(u16, u16)>) -> Vec<u8> {
    let mut q = Vec::new();
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&flags.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(opt.is_some())]);
    for l in qname {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    if let Some((size, f)) = opt {
        q.extend_from_slice(&[0, 0, 41]);
        q.extend_from_slice(&size.to_be_bytes());
        q.extend_from_slice(&[0, 0]);
        q.extend_from_slice(&f.to_be_bytes());
        q.extend_from_slice(&[0, 0]);
    }
    q
}

/// Real client queries a forward-only block relays: plain, mixed case
/// with EDNS and DO, a small EDNS size (mirrored as sent), a large one.
fn queries() -> &'static [Vec<u8>; 4] {
    static Q: OnceLock<[Vec<u8>; 4]> = OnceLock::new();
    Q.get_or_init(|| {
        [
            query(0x1234, 0x0100, &["example", "org"], 1, None),
            query(
                0xABCD,
                0x0120,
                &["wWw", "Example", "ORG"],
                28,
                Some((1232, 0x8000)),
            ),
            query(0x0001, 0x0110, &["example", "org"], 16, Some((100, 0))),
            query(
                0xFFFF,
                0x0100,
                &["mail", "example", "net"],
                15,
                Some((4096, 0x8100)),
            ),
        ]
    })
}

/// The client's OPT as the reply mirrors it and the largest reply it
/// takes over UDP (`server::fastpath::sizes`, no bufsize).
fn sizes(q: &Simple<'_>) -> (Option<Opt>, usize) {
    let Some(o) = q.opt else {
        return (None, 512);
    };
    let payload = o.size.max(512);
    let size = if o.size < 512 { o.size } else { payload };
    (Some(Opt { size, ..o }), usize::from(payload))
}

/// What any reply to the client must be, read from its bytes: at most
/// `limit` long, the client's ID and question, QR set.
fn check_bytes(out: &[u8], q: &[u8], question: &Option<Question>, limit: usize, path: &str) {
    assert!(
        out.len() <= limit,
        "{path}: {} bytes over a limit of {limit}",
        out.len()
    );
    assert_eq!(out[0..2], q[0..2], "{path}: not the client's ID");
    assert!(out[2] & 0x80 != 0, "{path}: QR clear");
    assert!(
        same_question(out, question),
        "{path}: not the client's question"
    );
}

/// The relay's reply reads through (as `wire::fast::layout` reads) to its
/// end and has an OPT exactly when the client sent one, with the client's
/// size as sent, version 0 and at least its DO bit.
fn check_relayed(out: &[u8], opt: Option<Opt>) {
    let l = layout(out).unwrap_or_else(|| panic!("relay: does not read through: {out:02x?}"));
    assert_eq!(l.end, out.len(), "relay: bytes after the last record");
    assert_eq!(out[3] & 0x40, 0, "relay: Z bit relayed");
    match (opt, l.opt) {
        (None, None) => {}
        (Some(o), Some(at)) => {
            let size = u16::from_be_bytes([out[at + 2], out[at + 3]]);
            assert_eq!(size, o.size, "relay: OPT size");
            assert_eq!(out[at + 5], 0, "relay: EDNS version");
            assert!(!o.do_bit() || out[at + 6] & 0x80 != 0, "relay: DO lost");
        }
        (o, at) => panic!("relay: client OPT {o:?}, reply OPT at {at:?}"),
    }
}

/// The full path's reply has an OPT when the client sent one, with the
/// client's size (as hickory reads it: at least 512), version 0 and at
/// least its DO bit. To a client that sent none it may carry the
/// upstream's OPT: CoreDNS's SizeAndDo leaves it, and so does the full
/// path (the relay hands such a reply to the full path).
fn check_full(m: &Message, opt: Option<Opt>) {
    if let Some(o) = opt {
        let e = m.edns.as_ref().expect("full path: the client's OPT lost");
        assert_eq!(e.max_payload(), o.size.max(512), "full path: OPT size");
        assert_eq!(e.version(), 0, "full path: EDNS version");
        assert!(!o.do_bit() || e.flags().dnssec_ok, "full path: DO lost");
    }
}

/// The reply as hickory reads it.
fn parse(out: &[u8], path: &str) -> Message {
    match Message::from_vec(out) {
        Ok(m) => m,
        Err(e) => panic!("{path}: the reply does not parse: {e}\nreply: {out:02x?}"),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let q = &queries()[usize::from(mode & 3)];
    let simple = Simple::parse(q).expect("the client query is simple");
    let (opt, limit) = sizes(&simple);
    let client_id = u16::from_be_bytes([q[0], q[1]]);
    let question = Question::of(q);
    assert!(question.is_some());

    // The UDP reader.
    let cut_read = data.len() > MAX_REPLY;
    let mut r = data[..data.len().min(MAX_REPLY)].to_vec();
    if r.len() < 12 {
        return;
    }
    if mode & 4 != 0 {
        r[0..2].copy_from_slice(&SENT_ID.to_be_bytes());
    } else if u16::from_be_bytes([r[0], r[1]]) != SENT_ID {
        return;
    }
    if !same_question(&r, &question) {
        return;
    }
    // forward::relay: a cut datagram or a non-response goes to the chain.
    if cut_read || r[2] & 0x80 == 0 {
        return;
    }

    // forward's relay, `finish`.
    let original = r.clone();
    let cut = r.len() > limit;
    let relayed = if !cut && edns::relay_reply(&mut r, client_id, opt, limit) {
        check_bytes(&r, q, &question, limit, "relay");
        check_relayed(&r, opt);
        // The relay checks the data of the common types only (see
        // `wire::fast::layout`): what hickory cannot read as it came from
        // the upstream goes on as it came. What it can read must still
        // read after the patching.
        Message::from_vec(&original)
            .is_ok()
            .then(|| parse(&r, "relay"))
    } else {
        assert_eq!(r, original, "relay_reply said no but changed the reply");
        None
    };

    // The full path (what the relay stands for when it says yes).
    let qm = Message::from_vec(q).expect("the client query parses");
    let parsed = if cut {
        cut_reply(&original).ok()
    } else {
        Message::from_vec(&original).ok()
    };
    let Some(mut reply) = parsed else {
        // The chain asks again; the relay must not have answered with
        // bytes hickory cannot read (checked in check_out).
        return;
    };
    let tc_before = reply.metadata.truncation;
    reply.metadata.id = client_id;
    edns::size_and_do(&qm, &mut reply);
    let mut out = Vec::with_capacity(512);
    if edns::encode_fitting(&mut reply, limit, &mut out).is_err() {
        return;
    }
    edns::mirror_small_udp_size(&mut out, edns::raw_udp_size(q));
    check_bytes(&out, q, &question, limit, "full path");
    let full = parse(&out, "full path");
    check_full(&full, opt);

    if let Some(relayed) = relayed {
        // encode_fitting may have dropped records the relay could keep
        // (hickory compresses differently): compare only whole replies.
        if full.metadata.truncation != tc_before {
            return;
        }
        assert_eq!(
            relayed.metadata, full.metadata,
            "relay and full path: header"
        );
        assert_eq!(
            relayed.queries, full.queries,
            "relay and full path: question"
        );
        assert_eq!(
            relayed.answers, full.answers,
            "relay and full path: answers"
        );
        assert_eq!(
            relayed.authorities, full.authorities,
            "relay and full path: authority"
        );
        assert_eq!(
            relayed.additionals, full.additionals,
            "relay and full path: additional"
        );
        assert_eq!(relayed.edns, full.edns, "relay and full path: OPT");
    }
});
