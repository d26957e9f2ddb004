//! Entries checked against a model of what the program writes: for any
//! query of an entry's variant, the reply is the userspace cache's (its
//! stored reply with ID, flags, TTLs and the client's OPT patched in, as
//! `plugins/cache/fast.rs` does), and the checksum the program adds up
//! from the entry is the reply's own.

use super::*;
use crate::wire::fast::{set_ttls, Opt};
use ferrodns_ebpf_common::xdp::{csum_byte, csum_ttls, fold, udp_sizes};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{rdata, Name, RData, Record, RecordType};

const SEC: u64 = 1_000_000_000;

/// A cache item's stored reply: header (flags as the cache sets them for
/// the filling query), question as `qname`, a CNAME and two A records, an
/// SOA in authority; no OPT. TTLs as stored (any: the hit rewrites them).
pub(crate) fn item_wire(qname: &str, flags: u16) -> Vec<u8> {
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    let q = Name::from_ascii(qname).unwrap();
    m.queries.push(Query::query(q.clone(), RecordType::A));
    let target = Name::from_ascii("web.example.org.").unwrap();
    m.answers.push(Record::from_rdata(
        q,
        300,
        RData::CNAME(rdata::CNAME(target.clone())),
    ));
    for last in [1, 2] {
        m.answers.push(Record::from_rdata(
            target.clone(),
            300,
            RData::A(rdata::A::new(192, 0, 2, last)),
        ));
    }
    let soa = rdata::SOA::new(
        Name::from_ascii("ns.example.org.").unwrap(),
        Name::from_ascii("admin.example.org.").unwrap(),
        1,
        2,
        3,
        4,
        5,
    );
    m.authorities.push(Record::from_rdata(
        Name::from_ascii("example.org.").unwrap(),
        300,
        RData::SOA(soa),
    ));
    let mut w = m.to_vec().unwrap();
    w[2..4].copy_from_slice(&flags.to_be_bytes());
    w
}

/// The userspace hit's reply for a query: the item's wire with the
/// query's ID, `flags` with the query's RD, TTL `ttl`, the query's OPT.
pub(crate) fn userspace(item: &[u8], query: &[u8], flags: u16, ttl: u32) -> Vec<u8> {
    let q = Simple::parse(query).unwrap();
    let mut out = item.to_vec();
    out[0..2].copy_from_slice(&query[0..2]);
    let f = flags | (q.header.flags & flag::RD);
    out[2..4].copy_from_slice(&f.to_be_bytes());
    assert!(set_ttls(&mut out, ttl));
    if let Some(o) = q.opt {
        let (size, _) = udp_sizes(Some(o.size), NO_CAP);
        Opt { size, ..o }.push(&mut out);
    }
    out
}

pub(crate) fn query(id: u16, flags: u16, qname: &str, opt: Option<(u16, u16)>) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&flags.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(opt.is_some())]);
    for l in qname.split('.').filter(|l| !l.is_empty()) {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some((size, f)) = opt {
        let [s0, s1] = size.to_be_bytes();
        let [f0, f1] = f.to_be_bytes();
        q.extend_from_slice(&[0, 0, 41, s0, s1, 0, 0, f0, f1, 0, 0]);
    }
    q
}

/// What the program writes for `query` from `e` at `now`, the DNS message
/// only, and the checksum it computes over it (less the UDP and pseudo
/// headers); None where it passes.
fn program(query: &[u8], e: &Entry, now: u64) -> Option<(Vec<u8>, u16)> {
    let q = Simple::parse(query)?;
    // The entry's name, in the same case, byte for byte.
    if q.qname != e.name() {
        return None;
    }
    let ttl = e.ttl(now)?;
    let (size, limit) = udp_sizes(q.opt.map(|o| o.size), e.size_cap);
    let qend = HEADER_LEN + q.qname.len() + 4;
    let body = e.body();
    if qend + body.len() > usize::from(limit) {
        return None;
    }
    let flags = e.flags | (q.header.flags & flag::RD);
    let mut out = query[..2].to_vec();
    for w in [flags, 1, e.ancount, e.nscount, e.arcount] {
        out.extend_from_slice(&w.to_be_bytes());
    }
    out.extend_from_slice(&e.reply[..qend - HEADER_LEN]);
    out.extend_from_slice(body);
    for i in 0..usize::from(e.ttl_count) {
        let at = qend + usize::from(e.ttl_at(i));
        out[at..at + 4].copy_from_slice(&ttl.to_be_bytes());
    }
    let mut sum = u64::from(e.csum)
        + u64::from(u16::from_be_bytes([out[0], out[1]]))
        + u64::from(q.header.flags & flag::RD)
        + csum_ttls(ttl, u32::from(e.ttl_even), u32::from(e.ttl_count));
    if let Some(o) = q.opt {
        let at = qend + usize::from(e.opt_at) + 3;
        let [s0, s1] = size.to_be_bytes();
        let hi = (o.flags >> 8) as u8;
        out[at..at + 2].copy_from_slice(&[s0, s1]);
        out[at + 4] = hi;
        sum += u64::from(csum_byte(s0, at) + csum_byte(s1, at + 1) + csum_byte(hi, at + 4));
    }
    Some((out, fold(sum)))
}

fn timing(ttl: u32) -> Timing {
    Timing {
        stored_ns: 100 * SEC,
        orig_ttl: ttl,
        keep_ttl: false,
        expires_ns: u64::MAX,
    }
}

pub(crate) const QR_AA_RA: u16 = 0x8000 | 0x0400 | 0x0080;

#[test]
fn answers_every_query_of_its_variant_as_userspace() {
    // Names of odd and even length: the body's words fall differently.
    for qname in ["www.Example.org.", "wwww.Example.org.", "WWW.EXAMPLE.ORG."] {
        for (opt, do_bit) in [(None, false), (Some(1232), false), (Some(4096), true)] {
            let v = Variant {
                opt: opt.is_some(),
                do_bit,
                ..Variant::default()
            };
            let flags_of = |do_bit: bool| opt.map_or(0, |_| if do_bit { 0x8000 } else { 0 });
            let item = item_wire(qname, QR_AA_RA);
            // The sample: what userspace wrote for one query of the variant.
            let sample_q = query(1, 0x0100, qname, opt.map(|s| (s, flags_of(do_bit))));
            let sample = userspace(&item, &sample_q, QR_AA_RA, 300);
            let (k, e) = build(7, &sample, v, &timing(300), None).unwrap();
            assert_eq!(k, query_key(7, &sample_q).unwrap());
            assert_eq!(e.reply_len as usize, sample.len());
            // Other queries of the variant: other IDs, RD, OPT sizes (under
            // 512 too) and Z bits, at other ages.
            for (id, rd, size, z, age) in [
                (0xBEEF, 0, 512, 0, 0),
                (2, 0x0100, 100, 0x4000, 1),
                (3, 0x0100, 65535, 0x0001, 299),
            ] {
                let q = query(id, rd, qname, opt.map(|_| (size, flags_of(do_bit) | z)));
                assert_eq!(query_key(7, &q).unwrap(), k);
                let now = 100 * SEC + age * SEC + SEC / 2;
                let (got, check) = program(&q, &e, now).unwrap();
                let want = userspace(&item, &q, QR_AA_RA, 300 - age as u32);
                assert_eq!(got, want, "{qname} {opt:?} id {id}");
                assert_eq!(check, fold(sum_bytes(0, &want, 0)), "checksum of {qname}");
            }
            assert!(program(&sample_q, &e, 400 * SEC).is_none(), "expired");
        }
    }
}

#[test]
fn other_case_and_small_buffers_pass() {
    let item = item_wire("Www.example.org.", QR_AA_RA);
    let q = query(1, 0, "Www.example.org.", None);
    let (_, e) = build(
        0,
        &userspace(&item, &q, QR_AA_RA, 60),
        Variant::default(),
        &timing(60),
        None,
    )
    .unwrap();
    assert!(program(&q, &e, 100 * SEC).is_some());
    assert!(program(&query(1, 0, "www.example.org.", None), &e, 100 * SEC).is_none());
    assert!(program(&query(1, 0, "WWW.example.org.", None), &e, 100 * SEC).is_none());
    // A reply over 512 bytes without EDNS, or over the client's size.
    let mut big = e.clone();
    big.body_len = 600;
    assert!(program(&q, &big, 100 * SEC).is_none());
    // bufsize's cap lowers what the client takes.
    let v = Variant {
        opt: true,
        ..Variant::default()
    };
    let q = query(1, 0, "Www.example.org.", Some((4096, 0)));
    let reply = userspace(&item, &q, QR_AA_RA, 60);
    let (_, e) = build(0, &reply, v, &timing(60), Some(100)).unwrap();
    assert!(program(&q, &e, 100 * SEC).is_none());
}

#[test]
fn keep_ttl_writes_the_original() {
    let item = item_wire("a.example.org.", QR_AA_RA);
    let q = query(9, 0, "a.example.org.", None);
    let t = Timing {
        keep_ttl: true,
        ..timing(30)
    };
    let (_, e) = build(
        0,
        &userspace(&item, &q, QR_AA_RA, 30),
        Variant::default(),
        &t,
        None,
    )
    .unwrap();
    let (got, _) = program(&q, &e, 120 * SEC).unwrap();
    assert_eq!(got, userspace(&item, &q, QR_AA_RA, 30));
}

#[test]
fn refuses_what_it_cannot_answer_alike() {
    let item = item_wire("a.example.org.", QR_AA_RA);
    let plain = query(1, 0, "a.example.org.", None);
    let reply = userspace(&item, &plain, QR_AA_RA, 30);
    let t = timing(30);
    let with_opt = Variant {
        opt: true,
        ..Variant::default()
    };
    assert_eq!(
        build(0, &reply, with_opt, &t, None).unwrap_err(),
        EntryError::OptMismatch { reply: false }
    );
    let cd = Variant {
        cd: true,
        ..Variant::default()
    };
    assert_eq!(build(0, &reply, cd, &t, None).unwrap_err(), EntryError::Cd);
    let mut tc = reply.clone();
    tc[2] |= 0x02;
    assert_eq!(
        build(0, &tc, Variant::default(), &t, None).unwrap_err(),
        EntryError::NotReply
    );
    assert_eq!(
        build(0, &plain, Variant::default(), &t, None).unwrap_err(),
        EntryError::NotReply
    );
    let mut cut = reply.clone();
    cut.pop();
    assert_eq!(
        build(0, &cut, Variant::default(), &t, None).unwrap_err(),
        EntryError::Records
    );
    // An OPT with an option (NSID) is not what the raw path writes.
    let opt_q = query(1, 0, "a.example.org.", Some((1232, 0)));
    let mut nsid = userspace(&item, &opt_q, QR_AA_RA, 30);
    let n = nsid.len();
    nsid[n - 2..].copy_from_slice(&[0, 4]);
    nsid.extend_from_slice(&[0, 3, 0, 0]);
    assert_eq!(
        build(0, &nsid, with_opt, &t, None).unwrap_err(),
        EntryError::OptForm
    );
    // What the raw path leaves to the chain: other classes, AXFR, DS.
    for (at, value, qtype, qclass) in [(2, 3, 1, 3), (0, 252, 252, 1), (0, 43, 43, 1)] {
        let mut r = reply.clone();
        let q = HEADER_LEN + "a.example.org.".len() + 1;
        r[q + at + 1] = value;
        assert_eq!(
            build(0, &r, Variant::default(), &t, None).unwrap_err(),
            EntryError::NotRawPath { qtype, qclass }
        );
    }
    // Too many bytes after the question.
    let mut long = reply.clone();
    let rec = [0xC0, 12, 0, 16, 0, 1, 0, 0, 0, 1, 0, 200];
    for _ in 0..6 {
        long.extend_from_slice(&rec);
        long.extend_from_slice(&[b'x'; 200]);
    }
    long[10..12].copy_from_slice(&6u16.to_be_bytes());
    assert!(matches!(
        build(0, &long, Variant::default(), &t, None).unwrap_err(),
        EntryError::BodyTooLong(_)
    ));
}

#[test]
fn keys() {
    let v = Variant {
        opt: true,
        do_bit: true,
        cd: true,
        ad: true,
    };
    assert_eq!(v.bits(), bits::OPT | bits::DO | bits::CD | bits::AD);
    let k = key(3, b"\x03WwW\x07example\x00", 28, 1, v).unwrap();
    assert_eq!(k.hash, name::hash(b"\x03www\x07example\x00"));
    assert_eq!((k.group, k.qtype, k.qclass, k._pad), (3, 28, 1, 0));
    assert_eq!(key(0, b"\xc0\x0c", 1, 1, v).unwrap_err(), EntryError::Name);
    assert_eq!(key(0, b"\x03www", 1, 1, v).unwrap_err(), EntryError::Name);
    let q = query(1, 0x0130, "a.b.", Some((512, 0x8000)));
    let k = query_key(0, &q).unwrap();
    assert_eq!(k.bits, v.bits());
    // What the raw path does not take has no key.
    let mut two = query(1, 0, "a.b.", None);
    two[5] = 2;
    assert!(query_key(0, &two).is_none());
}

#[test]
fn monotonic_is_the_kernels_clock() {
    let now = Instant::now();
    let a = monotonic(now);
    let b = super::super::link::monotonic_ns();
    assert!(b >= a && b - a < SEC, "{a} {b}");
    let later = monotonic(now + std::time::Duration::from_secs(5));
    assert!((later - a).abs_diff(5 * SEC) < SEC / 100);
}
