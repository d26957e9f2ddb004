//! Malformed packets get FORMERR (or NOTIMP, or nothing) and the server
//! keeps answering.

mod common;

use common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use std::net::TcpStream;
use std::time::Duration;

fn header(id: u16, flags: u16, qd: u16, an: u16, ns: u16, ar: u16) -> Vec<u8> {
    [id, flags, qd, an, ns, ar]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
}

/// (what, bytes, whether a reply is expected: Some(rcode) or None for silence, or "either")
fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let q = |name: &[u8]| {
        let mut b = header(0x0101, 0x0100, 1, 0, 0, 0);
        b.extend_from_slice(name);
        b.extend_from_slice(&[0, 1, 0, 1]);
        b
    };
    let mut v: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one byte", vec![0x42]),
        ("truncated header", vec![0x12, 0x34, 0x01, 0x00, 0x00]),
        ("header only, qdcount 1", header(7, 0x0100, 1, 0, 0, 0)),
        ("qdcount 0", header(8, 0x0100, 0, 0, 0, 0)),
        ("truncated question name", {
            let mut b = header(9, 0x0100, 1, 0, 0, 0);
            b.extend_from_slice(b"\x07exam");
            b
        }),
        ("missing type and class", {
            let mut b = header(10, 0x0100, 1, 0, 0, 0);
            b.extend_from_slice(b"\x03com\x00\x00");
            b
        }),
        ("compression loop in question", q(b"\xc0\x0c")),
        ("pointer past the end", q(b"\xc0\xff")),
        ("label overruns the message", q(b"\x3fabc")),
        ("reserved label type", q(b"\x80abc\x00")),
        (
            "name over 255 bytes",
            q(&[b"\x3f".as_slice(), &[b'a'; 63]]
                .concat()
                .repeat(5)
                .into_iter()
                .chain([0])
                .collect::<Vec<u8>>()),
        ),
        ("qdcount 2", {
            let mut b = header(11, 0x0100, 2, 0, 0, 0);
            for _ in 0..2 {
                b.extend_from_slice(b"\x03com\x00\x00\x01\x00\x01");
            }
            b
        }),
        ("answer record with compression loop", {
            let mut b = header(12, 0x0100, 1, 1, 0, 0);
            b.extend_from_slice(b"\x03com\x00\x00\x01\x00\x01");
            b.extend_from_slice(
                b"\xc0\x1d\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x01\x02\x03\x04",
            );
            b
        }),
        ("record count says more than there is", {
            let mut b = header(13, 0x0100, 1, 1, 0, 0);
            b.extend_from_slice(b"\x03com\x00\x00\x01\x00\x01");
            b
        }),
        ("rdlength past the end", {
            let mut b = header(14, 0x0100, 1, 0, 0, 1);
            b.extend_from_slice(b"\x03com\x00\x00\x01\x00\x01");
            b.extend_from_slice(b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\xff\xff");
            b
        }),
        ("a response, not a query", {
            let mut b = header(15, 0x8180, 1, 0, 0, 0);
            b.extend_from_slice(b"\x03com\x00\x00\x01\x00\x01");
            b
        }),
        ("opcode UPDATE", {
            let mut b = header(16, 5 << 11, 1, 0, 0, 0);
            b.extend_from_slice(b"\x03com\x00\x00\x06\x00\x01");
            b
        }),
        ("arcount 3", {
            let mut b = header(17, 0x0100, 1, 0, 0, 3);
            b.extend_from_slice(b"\x03com\x00\x00\x01\x00\x01");
            b
        }),
    ];
    // Deterministic garbage.
    let mut x: u32 = 0x1234_5678;
    for len in [12usize, 17, 33, 64, 300, 1500] {
        let bytes = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        v.push(("garbage", bytes));
    }
    v
}

/// FORMERR (1) or NOTIMP (4) with the query's ID, or silence.
fn check_reply(what: &str, sent: &[u8], reply: Option<Vec<u8>>) {
    let Some(r) = reply else { return };
    assert!(r.len() >= 12, "{what}: short reply {r:?}");
    assert_eq!(r[..2], sent[..2], "{what}: reply ID");
    assert!(r[2] & 0x80 != 0, "{what}: QR set");
    let rcode = r[3] & 0x0F;
    assert!(
        rcode == 1 || rcode == 4,
        "{what}: rcode {rcode}, reply {r:?}"
    );
    assert!(Message::from_vec(&r).is_ok(), "{what}: reply parses");
}

#[test]
fn malformed_udp_packets() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    for (what, bytes) in corpus() {
        let reply = udp_raw(s.addr(), &bytes, Duration::from_millis(300));
        if bytes.len() >= 2 {
            check_reply(what, &bytes, reply);
        } else {
            assert!(
                reply.is_none(),
                "{what}: no reply to a message without an ID"
            );
        }
        // still serving
        assert_eq!(
            s.udp("alive.test.", RecordType::A).additionals.len(),
            2,
            "after {what}"
        );
    }
    // Specific expectations, as CoreDNS (miekg's accept function) answers.
    let rcode = |b: &[u8]| udp_raw(s.addr(), b, Duration::from_millis(500)).map(|r| r[3] & 0xF);
    assert_eq!(
        rcode(&header(8, 0x0100, 0, 0, 0, 0)),
        Some(1),
        "qdcount 0: FORMERR"
    );
    assert_eq!(rcode(&corpus()[12].1), Some(1), "qdcount 2: FORMERR");
    assert_eq!(rcode(&corpus()[7].1), Some(1), "compression loop: FORMERR");
    assert_eq!(rcode(&corpus()[17].1), Some(4), "UPDATE: NOTIMP");
    assert_eq!(rcode(&corpus()[16].1), None, "a response is ignored");
}

#[test]
fn malformed_tcp_messages() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    for (what, bytes) in corpus() {
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        tcp_send(&mut c, &bytes);
        let reply = tcp_recv(&mut c);
        if bytes.len() >= 2 {
            check_reply(what, &bytes, reply);
        }
        assert_eq!(
            s.tcp("alive.test.", RecordType::A).additionals.len(),
            2,
            "after {what}"
        );
    }
    // A length prefix promising more than is sent, then a close: no crash.
    let mut c = TcpStream::connect(s.addr()).unwrap();
    std::io::Write::write_all(&mut c, &[0xff, 0xff, 1, 2, 3]).unwrap();
    drop(c);
    assert_eq!(s.tcp("alive.test.", RecordType::A).additionals.len(), 2);
}

/// A client that trickles its message a byte at a time gets the read
/// timeout for the whole message, length and body together (miekg's
/// `readTCP`), not a fresh timeout once the length is in.
#[test]
fn a_trickling_tcp_client_is_cut_off_at_the_read_timeout() {
    use std::io::{Read, Write};
    let s = Server::start(
        ".:{PORT} {\n    timeouts {\n        read 2s\n    }\n    whoami\n}\n",
        &[],
    );
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let q = query("slow.example.", RecordType::A).to_vec().unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    let t = std::time::Instant::now();
    // The length's first byte at once, the second just before the timeout,
    // then the body a byte every 300 ms.
    c.write_all(&framed[..1]).unwrap();
    std::thread::sleep(Duration::from_millis(1800));
    for b in &framed[1..] {
        if c.write_all(std::slice::from_ref(b)).is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
        if t.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty(), "the trickled query was answered");
    // Closed at 2 s (it was 3.8 s: 1.8 s for the length, then 2 s more).
    assert!(
        t.elapsed() < Duration::from_millis(3200),
        "the connection was held {:?}",
        t.elapsed()
    );
}
