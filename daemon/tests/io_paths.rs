//! Both UDP I/O paths of the workers, recvmmsg/sendmmsg and io_uring,
//! answer the same, byte for byte, and keep serving after bad input.

mod common;

use common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use std::net::UdpSocket;
use std::time::Duration;

const ZONE: &str = concat!(
    "$ORIGIN example.org.
$TTL 300
@ IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60
  IN NS ns1.example.org.
ns1 IN A 192.0.2.1
www IN A 192.0.2.80
",
    include_str!("common/big_txt.zone"),
);

const COREFILE: &str =
    "example.org:{PORT} {\n    file db.example.org\n}\n.:{PORT} {\n    whoami\n}\n";

fn server(io: &str) -> Server {
    Server::start_args(COREFILE, &[("db.example.org", ZONE)], &["-io", io])
}

/// The replies to a fixed set of queries, IDs fixed so the bytes compare.
fn replies(s: &Server) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, (name, qtype, edns)) in [
        ("www.example.org.", RecordType::A, None),
        ("WWW.Example.ORG.", RecordType::A, Some(1232)),
        ("nope.example.org.", RecordType::A, None),
        ("big.example.org.", RecordType::TXT, None),
        ("big.example.org.", RecordType::TXT, Some(4096)),
        ("example.org.", RecordType::SOA, Some(512)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut q = query(name, qtype);
        if let Some(size) = edns {
            q = with_edns(q, size, false);
        }
        q.metadata.id = 1000 + i as u16;
        out.push(udp_raw(s.addr(), &q.to_vec().unwrap(), Duration::from_secs(3)).expect("a reply"));
    }
    out
}

#[test]
fn mmsg_and_io_uring_answer_byte_for_byte_alike() {
    let a = server("mmsg");
    let b = server("uring");
    assert!(
        !b.stdout().contains("io_uring unavailable"),
        "{}",
        b.stdout()
    );
    let (ra, rb) = (replies(&a), replies(&b));
    assert_eq!(ra, rb);
    // and they are real answers
    let m = Message::from_vec(&rb[0]).unwrap();
    assert_eq!(answers(&m), ["www.example.org. 300 A 192.0.2.80"]);
    assert!(Message::from_vec(&rb[3]).unwrap().metadata.truncation);
}

#[test]
fn io_uring_serves_a_burst_and_survives_garbage() {
    burst_and_garbage("uring");
}

#[test]
fn recvmmsg_serves_a_burst_and_survives_garbage() {
    burst_and_garbage("mmsg");
}

fn burst_and_garbage(io: &str) {
    let s = server(io);
    // A burst larger than the provided-buffer ring, from one socket, read
    // while it is sent. The client's receive buffer holds the whole burst's
    // replies: on a loaded machine its reader thread may fall behind, and
    // what is tested is the server's side.
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    {
        use std::os::fd::AsRawFd;
        let size: libc::c_int = 8 << 20;
        // SAFETY: setsockopt on our own socket with a c_int value.
        unsafe {
            libc::setsockopt(
                c.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let n = 2000u16;
    let reader = {
        let c = c.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut got = 0u16;
            let mut buf = [0u8; 4096];
            while let Ok((len, _)) = c.recv_from(&mut buf) {
                assert!(Message::from_vec(&buf[..len]).is_ok());
                got += 1;
                if got == n {
                    break;
                }
            }
            got
        })
    };
    for i in 0..n {
        let mut q = query("www.example.org.", RecordType::A);
        q.metadata.id = i;
        c.send_to(&q.to_vec().unwrap(), s.addr()).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let got = reader.join().unwrap();
    assert!(got >= n * 9 / 10, "only {got} of {n} answered");
    for junk in [
        &[0u8; 3][..],
        &[0xff; 40][..],
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07exam",
    ] {
        c.send_to(junk, s.addr()).unwrap();
    }
    assert_eq!(
        s.udp("a.test.", RecordType::A).additionals.len(),
        2,
        "still serving"
    );
}

#[test]
fn both_paths_send_replies_that_waited_on_an_upstream() {
    let upstream = Server::start(
        "example.org:{PORT} {\n    file db.example.org\n}\n",
        &[("db.example.org", "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1.example.org. h.example.org. 1 7200 3600 1209600 60\n  IN NS ns1.example.org.\n* IN A 192.0.2.99\n")],
    );
    for io in ["mmsg", "uring"] {
        let s = Server::start_args(
            &format!(
                ".:{{PORT}} {{\n    cache 300\n    forward . 127.0.0.1:{}\n}}\n",
                upstream.port
            ),
            &[],
            &["-io", io],
        );
        // The uring run is io_uring's, not recvmmsg's fallback.
        assert!(
            !s.stdout().contains("io_uring unavailable"),
            "{}",
            s.stdout()
        );
        // Twice: first every reply waits on the upstream (sent from the
        // worker's outbox), then every one is a cache hit.
        for round in 0..2 {
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            // Room for the whole burst of replies.
            let _ = socket2::SockRef::from(&c).set_recv_buffer_size(4 << 20);
            let n = 500u16;
            let reader = {
                let c = c.try_clone().unwrap();
                std::thread::spawn(move || {
                    let mut seen = std::collections::HashSet::new();
                    let mut buf = [0u8; 4096];
                    while let Ok((len, _)) = c.recv_from(&mut buf) {
                        let m = Message::from_vec(&buf[..len]).unwrap();
                        let id = m.metadata.id;
                        assert_eq!(
                            m.queries[0].name().to_string(),
                            format!("h{id}.example.org."),
                            "the reply answers its query"
                        );
                        assert!(answers(&m)[0].ends_with(" 192.0.2.99"), "{m:?}");
                        seen.insert(id);
                        if seen.len() == usize::from(n) {
                            break;
                        }
                    }
                    seen
                })
            };
            for i in 0..n {
                let mut q = query(&format!("h{i}.example.org."), RecordType::A);
                q.metadata.id = i;
                c.send_to(&q.to_vec().unwrap(), s.addr()).unwrap();
                if i % 100 == 99 {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            let seen = reader.join().unwrap();
            assert!(
                seen.len() >= usize::from(n) * 9 / 10,
                "{io} round {round}: only {} of {n} answered",
                seen.len()
            );
        }
    }
}
