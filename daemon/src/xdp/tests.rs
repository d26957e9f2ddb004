//! The loader against the kernel: the program through the verifier, its
//! maps, and the program run on frames (`BPF_PROG_TEST_RUN`).

use super::*;

/// The program as the kernel's verifier takes it; None (said) where
/// this process may not load BPF.
fn load(capacity: u32) -> Option<Program> {
    match Program::load(capacity) {
        Ok(p) => Some(p),
        Err(e) if caps(&e).is_empty() => panic!("{e}"),
        Err(e) => {
            // Past the harness's capture: a skip shows in every run.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED xdp::tests: cannot load BPF: {e}"
            );
            None
        }
    }
}

#[test]
fn loads_past_the_verifier_and_keeps_its_map() {
    let Some(mut p) = load(2) else {
        return;
    };
    assert_eq!(p.counters().unwrap().0, [0; counter::COUNT as usize]);
    let key = |n: u8| {
        let v = Variant::default();
        entry::key(1, &[1, b'a' + n, 0], 1, 1, v).unwrap()
    };
    let e = Entry::zeroed();
    p.insert(&key(0), &e).unwrap();
    p.insert(&key(1), &e).unwrap();
    // Replacing keeps its slot; a third key finds the map full.
    p.insert(&key(1), &e).unwrap();
    let full = p.insert(&key(2), &e).unwrap_err();
    assert_eq!(full.to_string(), "XDP map ENTRIES: full (2 entries)");
    assert_eq!(p.len(), 2);
    assert_eq!(p.hits(&key(0)).unwrap(), Some(Hits::default()));
    assert_eq!(p.hits(&key(2)).unwrap(), None);
    assert!(p.take_hits().unwrap().is_empty());
    assert!(p.remove(&key(0)).unwrap());
    assert!(!p.remove(&key(0)).unwrap());
    p.insert(&key(2), &e).unwrap();
    p.clear().unwrap();
    assert!(p.is_empty());
    let many: Vec<(SocketAddr, u32)> = (0..=c::MAX_LISTENERS as u16)
        .map(|port| (SocketAddr::from(([127, 0, 0, 1], port)), 0))
        .collect();
    assert!(matches!(
        p.set_listeners(&many).unwrap_err(),
        XdpError::TooManyListeners(257)
    ));
    p.set_listeners(&many[..3]).unwrap();
    p.set_listeners(&many[1..2]).unwrap();
    assert_eq!(p.listeners.keys().count(), 1);
    let none = p.attach("nonesuch0", Mode::Auto).unwrap_err();
    assert!(
        none.to_string()
            .starts_with("XDP on nonesuch0: no such interface"),
        "{none}"
    );
}

#[test]
fn names_the_capability_on_eperm() {
    let e = XdpError::Attach {
        interface: "eth0".into(),
        mode: Mode::Native,
        source: std::io::Error::from_raw_os_error(libc::EPERM),
    };
    assert_eq!(
        e.to_string(),
        "XDP on eth0: bpf(BPF_LINK_CREATE) in native mode: Operation not permitted (os error 1) (CAP_BPF and CAP_NET_ADMIN needed)"
    );
    assert_eq!(c::MAX_LISTENERS, 256, "the text of TooManyListeners");
}

use super::entry::tests::{item_wire, query, userspace, QR_AA_RA};
use ferrodns_ebpf_common::xdp::{fold, name};
use std::net::Ipv6Addr;

const XDP_PASS: u32 = 2;
const XDP_TX: u32 = 3;
const SEC: u64 = 1_000_000_000;

impl Program {
    /// The program run once (or `repeat` times) on `frame`.
    fn run(&self, frame: &[u8], repeat: u32) -> link::TestRun {
        let fd = self.prog().unwrap().fd().unwrap().as_fd();
        link::test_run(fd, frame, repeat).unwrap()
    }
}

/// How a test frame is sent.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    V4,
    V6,
    /// IPv4 with an 802.1Q tag.
    Vlan,
}

/// A frame from 198.18.0.2:40000 to 198.18.0.1:53 (IPv6: 2001:2::2 to
/// 2001:2::1) carrying `dns`.
fn frame(via: Via, dns: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    if via == Via::Vlan {
        f.extend([0x81, 0x00, 0x20, 0x05]);
    }
    let mut udp = 40000u16.to_be_bytes().to_vec();
    udp.extend(53u16.to_be_bytes());
    udp.extend(((8 + dns.len()) as u16).to_be_bytes());
    udp.extend([0, 0]);
    udp.extend(dns);
    if via == Via::V6 {
        f.extend([0x86, 0xDD, 0x60, 0, 0, 0]);
        f.extend((udp.len() as u16).to_be_bytes());
        f.extend([17, 64]);
        f.extend("2001:2::2".parse::<Ipv6Addr>().unwrap().octets());
        f.extend("2001:2::1".parse::<Ipv6Addr>().unwrap().octets());
    } else {
        let mut ip = vec![0x45, 0];
        ip.extend(((20 + udp.len()) as u16).to_be_bytes());
        ip.extend([0, 1, 0x40, 0, 64, 17, 0, 0, 198, 18, 0, 2, 198, 18, 0, 1]);
        let check = !fold(entry::sum_bytes(0, &ip, 0));
        ip[10..12].copy_from_slice(&check.to_be_bytes());
        f.extend([8, 0]);
        f.extend(ip);
    }
    f.extend(udp);
    f
}

/// The DNS message of `reply`, the program's answer to `query` (frames),
/// once its headers are checked: Ethernet and IP addresses and ports
/// swapped, the tag kept, lengths, IP TTL 64, DF, both checksums.
fn answered(query: &[u8], reply: &[u8]) -> Vec<u8> {
    assert_eq!(reply[..6], query[6..12], "destination MAC");
    assert_eq!(reply[6..12], query[..6], "source MAC");
    let l2 = if query[12..14] == [0x81, 0] { 18 } else { 14 };
    assert_eq!(reply[12..l2], query[12..l2], "tag and type");
    let ip = l2;
    let sum = |b: &[u8]| entry::sum_bytes(0, b, 0);
    let (udp, pseudo) = if query[l2 - 2..l2] == [0x86, 0xDD] {
        assert_eq!(reply[ip..ip + 4], [0x60, 0, 0, 0]);
        assert_eq!(reply[ip + 6..ip + 8], [17, 64]);
        assert_eq!(reply[ip + 8..ip + 24], query[ip + 24..ip + 40], "source");
        assert_eq!(
            reply[ip + 24..ip + 40],
            query[ip + 8..ip + 24],
            "destination"
        );
        let len = u16::from_be_bytes([reply[ip + 4], reply[ip + 5]]);
        assert_eq!(usize::from(len), reply.len() - ip - 40, "payload length");
        (ip + 40, sum(&reply[ip + 8..ip + 40]) + 17 + u64::from(len))
    } else {
        let h = &reply[ip..ip + 20];
        assert_eq!(fold(sum(h)), 0xFFFF, "IPv4 header checksum of {h:02x?}");
        assert_eq!(h[..2], [0x45, 0]);
        assert_eq!(h[4..10], [0, 0, 0x40, 0, 64, 17], "ID, DF, TTL, UDP");
        assert_eq!(h[12..16], query[ip + 16..ip + 20], "source");
        assert_eq!(h[16..20], query[ip + 12..ip + 16], "destination");
        let len = u16::from_be_bytes([h[2], h[3]]);
        assert_eq!(usize::from(len), reply.len() - ip, "total length");
        (
            ip + 20,
            sum(&reply[ip + 12..ip + 20]) + 17 + u64::from(len) - 20,
        )
    };
    assert_eq!(reply[udp..udp + 2], query[udp + 2..udp + 4], "source port");
    assert_eq!(
        reply[udp + 2..udp + 4],
        query[udp..udp + 2],
        "destination port"
    );
    let len = u16::from_be_bytes([reply[udp + 4], reply[udp + 5]]);
    assert_eq!(usize::from(len), reply.len() - udp, "UDP length");
    assert_eq!(fold(pseudo + sum(&reply[udp..])), 0xFFFF, "UDP checksum");
    reply[udp + 8..].to_vec()
}

/// A cache item's stored reply to `qname` A: one A record.
fn one_a(qname: &str) -> Vec<u8> {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{rdata, Name, RData, Record, RecordType};
    let mut m = Message::new(0, MessageType::Response, OpCode::Query);
    let q = Name::from_ascii(qname).unwrap();
    m.queries.push(Query::query(q.clone(), RecordType::A));
    m.answers.push(Record::from_rdata(
        q,
        300,
        RData::A(rdata::A::new(192, 0, 2, 1)),
    ));
    let mut w = m.to_vec().unwrap();
    w[2..4].copy_from_slice(&QR_AA_RA.to_be_bytes());
    w
}

/// Puts in `p` the entry for queries like `q` made from userspace's reply
/// to it (the item `item`), stored `age` seconds ago with TTL 300.
fn promote(p: &mut Program, item: &[u8], q: &[u8], age: u64) -> Key {
    let reply = userspace(item, q, QR_AA_RA, 300);
    let v = Variant::of(&crate::wire::fast::Simple::parse(q).unwrap());
    let t = Timing {
        stored_ns: link::monotonic_ns() - age * SEC,
        orig_ttl: 300,
        keep_ttl: false,
        expires_ns: u64::MAX,
    };
    let (k, e) = build(1, &reply, v, &t, None).unwrap();
    p.insert(&k, &e).unwrap();
    k
}

fn listening(capacity: u32) -> Option<Program> {
    let mut p = load(capacity)?;
    p.set_listeners(&[
        ("0.0.0.0:53".parse().unwrap(), 1),
        ("[::]:53".parse().unwrap(), 1),
    ])
    .unwrap();
    Some(p)
}

const RD: u16 = 0x0100;

/// Names of every length modulo 8 (how the last of its words falls), the
/// root, a short one, mixed case, and one of 255 bytes.
fn names() -> Vec<String> {
    let mut out: Vec<String> = (1..=8)
        .map(|i| format!("{}.example.org.", "x".repeat(i)))
        .collect();
    out.extend([".", "a.", "WwW.ExAmPlE.org."].map(String::from));
    let long = format!(
        "{}.{}.{}.{}.",
        "a".repeat(63),
        "b".repeat(63),
        "C".repeat(63),
        "d".repeat(61)
    );
    assert_eq!(long.len() + 1, 255);
    out.push(long);
    out
}

/// For every kind of query, the program's answer to another query of the
/// kind is userspace's reply to that query, byte for byte (the frame's
/// headers and checksums right).
#[test]
fn answers_as_userspace() {
    let Some(mut p) = listening(64) else {
        return;
    };
    for name in names() {
        for via in [Via::V4, Via::V6, Via::Vlan] {
            for opt in [None, Some((1232, 0)), Some((4096, 0x8000))] {
                let what = format!("{name} {via:?} {opt:?}");
                let item = item_wire(&name, QR_AA_RA);
                let sample = query(1, RD, &name, opt);
                let k = promote(&mut p, &item, &sample, 3);
                // Another ID, RD, UDP size (one under 512, mirrored) and
                // a Z bit.
                let other = query(
                    0xBEEF,
                    0,
                    &name,
                    opt.map(|(_, flags)| (300, flags | 0x0001)),
                );
                // Also after bytes past the datagram (Ethernet padding):
                // a frame longer than its reply shrinks at its end and
                // keeps its start, and the query's question.
                for trailer in [0, 1000] {
                    let mut f = frame(via, &other);
                    f.resize(f.len() + trailer, 0);
                    let r = p.run(&f, 1);
                    assert_eq!(r.action, XDP_TX, "{what}: {:?}", p.counters());
                    let got = answered(&f, &r.frame);
                    let want = userspace(&item, &other, QR_AA_RA, 297);
                    assert_eq!(got, want, "{what}, {trailer} bytes after");
                }
                assert!(p.remove(&k).unwrap());
            }
        }
    }
}

/// Counter `i` of `p`'s counters after `f` less before.
fn counted(p: &Program, i: u32, f: impl FnOnce()) -> u64 {
    let before = p.counters().unwrap().get(i);
    f();
    p.counters().unwrap().get(i) - before
}

/// Two names under one key (their names' hashes alike): the loader keeps
/// the first name's entry and refuses the second's, and the program,
/// given the entry of another name under a query's key, does not answer
/// with it (whatever name, length or case); the name in another case than
/// its entry's is left to userspace.
#[test]
fn a_name_is_answered_with_its_own_entry_only() {
    let Some(mut p) = listening(8) else {
        return;
    };
    let a = "www.example.org.";
    let (item_a, qa) = (item_wire(a, QR_AA_RA), query(1, RD, a, None));
    let ka = promote(&mut p, &item_a, &qa, 0);
    let reply_a = |p: &Program, q: &[u8]| {
        let f = frame(Via::V4, q);
        let r = p.run(&f, 1);
        (r.action == XDP_TX).then(|| answered(&f, &r.frame))
    };
    let answer_a = userspace(&item_a, &qa, QR_AA_RA, 300);
    assert_eq!(reply_a(&p, &qa).as_ref(), Some(&answer_a));
    let t = Timing {
        stored_ns: link::monotonic_ns(),
        orig_ttl: 300,
        keep_ttl: false,
        expires_ns: u64::MAX,
    };
    // Names beside a's: another of its length (its last word differs),
    // longer, shorter, and a's in another case.
    for b in [
        "www.example.orh.",
        "xyz.example.org.",
        "www.example.org.uk.",
        "ww.example.org.",
        "WWW.example.org.",
    ] {
        let qb = query(2, RD, b, None);
        let reply_b = userspace(&item_wire(b, QR_AA_RA), &qb, QR_AA_RA, 300);
        let (kb, eb) = build(1, &reply_b, Variant::default(), &t, None).unwrap();
        let collides = !b.eq_ignore_ascii_case(a);
        assert_eq!(kb == ka, !collides, "{b}");
        // As if b's name hashed as a's.
        let forged = Key {
            hash: ka.hash,
            ..kb
        };
        assert_eq!(forged, ka);
        if collides {
            assert!(matches!(p.insert(&forged, &eb), Err(XdpError::Collision)));
            assert_eq!(p.len(), 1, "{b}: a's entry stays");
            assert_eq!(reply_a(&p, &qa).as_ref(), Some(&answer_a), "{b}");
        }
        // b's entry under a's key behind the loader's back: a's queries
        // pass (no entry of their name), in any case; b's too.
        let mut e = *eb;
        e.slot = 0;
        p.entries.insert(PodKey(ka), PodEntry(e), 0).unwrap();
        let why = if collides {
            counter::PASS_NO_ENTRY
        } else {
            counter::PASS_CASE
        };
        let lower = query(3, RD, &a.to_ascii_lowercase(), None);
        for q in [&qa, &lower, &query(4, RD, &a.to_ascii_uppercase(), None)] {
            let n = counted(&p, why, || assert_eq!(reply_a(&p, q), None, "{b}"));
            assert_eq!(n, 1, "{b}: counted as {}", counter::NAMES[why as usize]);
        }
        if collides {
            let n = counted(&p, counter::PASS_NO_ENTRY, || {
                assert_eq!(reply_a(&p, &qb), None, "{b}")
            });
            assert_eq!(n, 1, "{b}: its own key is not in the map");
        } else {
            // The same name in another case is its own entry's (the
            // entry of an item refilled by a query in another case).
            assert_eq!(
                reply_a(&p, &qb),
                Some(reply_b.clone()),
                "{b}: the name in its entry's case"
            );
            p.insert(&kb, &eb).unwrap();
            assert_eq!(p.len(), 1, "{b}: replaces a's entry");
        }
        // a's entry back.
        assert!(p.remove(&ka).unwrap());
        promote(&mut p, &item_a, &qa, 0);
    }
}

/// Two names (wire form, one label of 15 bytes) of one hash. The hash is
/// no defence against names made to collide (a label's bytes may be any):
/// the loader and the program must take them.
fn colliding_names() -> (Vec<u8>, Vec<u8>) {
    let a: Vec<u8> = [&[15u8][..], &[b'a'; 15], &[0]].concat();
    let word = |n: &[u8], k: usize| u64::from_le_bytes(n[8 * k..8 * k + 8].try_into().unwrap());
    let after = |w: u64| name::step(name::START, name::lower(w));
    for x in b'b'..=b'z' {
        let mut b = a.clone();
        b[1..8].fill(x);
        // The second word that leaves the hash's state as a's does (a
        // lowercase one: the hash lowercases).
        let w1 = word(&a, 1) ^ after(word(&a, 0)) ^ after(word(&b, 0));
        if name::lower(w1) == w1 {
            b[8..16].copy_from_slice(&w1.to_le_bytes());
            return (a, b);
        }
    }
    unreachable!("no second word without upper-case letters")
}

/// A query for `name` (wire form), A, no OPT.
fn raw_query(id: u16, name: &[u8]) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend_from_slice(name);
    q.extend_from_slice(&[0, 1, 0, 1]);
    q
}

/// A cache item's stored reply for `name` (wire form): one A record.
fn raw_item(name: &[u8], last: u8) -> Vec<u8> {
    let mut r = raw_query(0, name);
    r[2..4].copy_from_slice(&QR_AA_RA.to_be_bytes());
    r[7] = 1;
    r.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 192, 0, 2, last]);
    r
}

#[test]
fn names_can_share_a_key() {
    let (a, b) = colliding_names();
    assert_ne!(a, b);
    assert_eq!(name::hash(&a), name::hash(&b));
    let v = Variant::default();
    assert_eq!(key(1, &a, 1, 1, v).unwrap(), key(1, &b, 1, 1, v).unwrap());
}

/// Two names of one hash, for real: the second is not promoted while the
/// first's entry is in (the loader keeps it), and the query for the
/// second, whose key finds the first's entry, is not answered with it.
#[test]
fn the_second_name_of_a_key_is_left_to_userspace() {
    let Some(mut p) = listening(8) else {
        return;
    };
    let (a, b) = colliding_names();
    let (item_a, item_b) = (raw_item(&a, 1), raw_item(&b, 2));
    let (qa, qb) = (raw_query(1, &a), raw_query(2, &b));
    let run = |p: &Program, q: &[u8]| {
        let f = frame(Via::V4, q);
        let r = p.run(&f, 1);
        (r.action == XDP_TX).then(|| answered(&f, &r.frame))
    };
    let entry = |item: &[u8], q: &[u8]| {
        let t = Timing {
            stored_ns: link::monotonic_ns(),
            orig_ttl: 300,
            keep_ttl: false,
            expires_ns: u64::MAX,
        };
        let reply = userspace(item, q, QR_AA_RA, 300);
        build(1, &reply, Variant::default(), &t, None).unwrap()
    };
    let ((ka, ea), (kb, eb)) = (entry(&item_a, &qa), entry(&item_b, &qb));
    assert_eq!(ka, kb);
    for (first, second) in [
        ((&ea, &qa, &item_a), (&eb, &qb)),
        ((&eb, &qb, &item_b), (&ea, &qa)),
    ] {
        let (e, q, item) = first;
        p.insert(&ka, e).unwrap();
        assert!(matches!(p.insert(&ka, second.0), Err(XdpError::Collision)));
        assert_eq!(p.len(), 1);
        assert_eq!(run(&p, q), Some(userspace(item, q, QR_AA_RA, 300)));
        let n = counted(&p, counter::PASS_NO_ENTRY, || {
            assert_eq!(run(&p, second.1), None)
        });
        assert_eq!(n, 1, "the second name's query passes: no entry of its name");
        assert!(p.remove(&ka).unwrap());
    }
}

/// `f` (IPv4, untagged) sent to `dst` instead.
fn to_v4(f: &[u8], dst: [u8; 4]) -> Vec<u8> {
    let mut f = f.to_vec();
    f[30..34].copy_from_slice(&dst);
    f[24..26].fill(0);
    let check = !fold(entry::sum_bytes(0, &f[14..34], 0));
    f[24..26].copy_from_slice(&check.to_be_bytes());
    f
}

/// Which listener a query is to, the program's own comparison of a few
/// and the map's lookup of many alike: the address and port, else the
/// wildcard of the family (not for multicast), the exact one first; and
/// a change of listeners takes effect.
#[test]
fn listeners_few_or_many_alike() {
    let Some(mut p) = listening(8) else {
        return;
    };
    let name = "www.example.org.";
    let item = item_wire(name, QR_AA_RA);
    for opt in [None, Some((1232, 0))] {
        promote(&mut p, &item, &query(1, RD, name, opt), 0);
    }
    let v4 = frame(Via::V4, &query(2, RD, name, None));
    let v6 = frame(Via::V6, &query(3, RD, name, Some((1232, 0))));
    let other_port = {
        let mut f = v4.clone();
        f[36..38].copy_from_slice(&54u16.to_be_bytes());
        f
    };
    let (answered, not_listener, no_entry) = (
        Some(counter::ANSWERED),
        Some(counter::PASS_NOT_LISTENER),
        Some(counter::PASS_NO_ENTRY),
    );
    type Case = (&'static [(&'static str, u32)], [Option<u32>; 5]);
    // Listeners, and how each of: IPv4, IPv6, another IPv4 address, a
    // multicast one, another port, goes.
    let cases: [Case; 5] = [
        (
            &[("0.0.0.0:53", 1), ("[::]:53", 1)],
            [answered, answered, answered, not_listener, not_listener],
        ),
        (
            &[("198.18.0.1:53", 1), ("[2001:2::1]:53", 1)],
            [answered, answered, not_listener, not_listener, not_listener],
        ),
        (
            &[("0.0.0.0:53", 2), ("198.18.0.1:53", 1)],
            [answered, not_listener, no_entry, not_listener, not_listener],
        ),
        (
            &[("198.18.0.1:53", 1), ("0.0.0.0:53", 2), ("[::]:54", 1)],
            [answered, not_listener, no_entry, not_listener, not_listener],
        ),
        (&[], [not_listener; 5]),
    ];
    for (listeners, want) in cases {
        for many in [false, true] {
            let mut l: Vec<(SocketAddr, u32)> = listeners
                .iter()
                .map(|&(a, g)| (a.parse().unwrap(), g))
                .collect();
            if many {
                // Past what the program compares itself: the map.
                l.extend((0..c::FEW as u16).map(|i| (([10, 0, 0, 1], 1000 + i).into(), 1)));
            }
            p.set_listeners(&l).unwrap();
            let frames = [
                v4.clone(),
                v6.clone(),
                to_v4(&v4, [198, 18, 0, 9]),
                to_v4(&v4, [224, 0, 0, 53]),
                other_port.clone(),
            ];
            for (i, (f, want)) in frames.iter().zip(want).enumerate() {
                let before = p.counters().unwrap();
                let r = p.run(f, 1);
                let after = p.counters().unwrap();
                let got = (0..counter::COUNT).find(|&c| after.get(c) != before.get(c));
                assert_eq!(got, want, "{listeners:?} (many: {many}), frame {i}");
                let tx = want == Some(counter::ANSWERED);
                assert_eq!(r.action, if tx { XDP_TX } else { XDP_PASS });
            }
        }
    }
}

/// Not a test: what the program costs per frame, as the kernel measures
/// a run (`BPF_PROG_TEST_RUN`, its clock's reading included, and a run
/// alone in its system call costs more than one of many), for a hit and a
/// miss, to listeners on the query's address or on the wildcard.
/// `cargo test --features xdp --lib -- --ignored xdp::tests::cost
/// --nocapture` (root).
#[test]
#[ignore = "a measurement, printed"]
fn cost() {
    let Some(mut p) = listening(16) else {
        return;
    };
    let name = "n1234.cache.bench.";
    let item = one_a(name);
    for (listeners, exact) in [
        (["0.0.0.0:53", "[::]:53"], "wildcard"),
        (["198.18.0.1:53", "[2001:2::1]:53"], "exact"),
    ] {
        let l = listeners.map(|a| (a.parse().unwrap(), 1));
        p.set_listeners(&l).unwrap();
        for (what, via, opt) in [
            ("IPv4, OPT", Via::V4, Some((1232, 0))),
            ("IPv4", Via::V4, None),
            ("IPv6, OPT", Via::V6, Some((1232, 0))),
        ] {
            let q = query(7, RD, name, opt);
            promote(&mut p, &item, &q, 10);
            let f = frame(via, &q);
            let mut ns: Vec<u32> = (0..50_000)
                .map(|_| {
                    let r = p.run(&f, 1);
                    assert_eq!(r.action, XDP_TX);
                    r.ns
                })
                .collect();
            ns.sort_unstable();
            let miss = frame(via, &query(7, RD, "n1235.cache.bench.", opt));
            let many = p.run(&miss, 1_000_000);
            assert_eq!(many.action, XDP_PASS);
            let alone: u64 = (0..50_000).map(|_| u64::from(p.run(&miss, 1).ns)).sum();
            println!(
                "{what}, {exact} listener: hit {} ns (median; p10 {} ns); \
                 miss {} ns alone, {} ns in a run of many",
                ns[ns.len() / 2],
                ns[ns.len() / 10],
                alone / 50_000,
                many.ns
            );
        }
    }
}
