//! shed under a flood, against the real binary: replies pile up on a UDP
//! socket past shed's bound when thousands of queries waiting on one
//! upstream answer are answered at once (the cache's single flight), the
//! oldest are dropped and counted (`reason="response"`), queries read while
//! the socket's queue is full are dropped and counted (`reason="query"`),
//! and the server keeps answering.

mod common;

use common::{free_port, http_get, query, Server};
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the upstream sits on each query before it answers.
const UPSTREAM_DELAY: Duration = Duration::from_millis(400);

/// An upstream on loopback that answers every A query with 192.0.2.1,
/// [`UPSTREAM_DELAY`] after it came; until `stop`.
fn slow_upstream(stop: Arc<AtomicBool>) -> u16 {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut waiting: Vec<(Instant, Vec<u8>, std::net::SocketAddr)> = Vec::new();
        let mut buf = [0u8; 512];
        while !stop.load(Ordering::Relaxed) {
            if let Ok((n, from)) = sock.recv_from(&mut buf) {
                waiting.push((Instant::now() + UPSTREAM_DELAY, buf[..n].to_vec(), from));
            }
            let now = Instant::now();
            waiting.retain(|(at, q, from)| {
                if *at > now {
                    return true;
                }
                if let Ok(q) = Message::from_vec(q) {
                    let mut r =
                        Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
                    r.metadata.recursion_desired = q.metadata.recursion_desired;
                    r.metadata.recursion_available = true;
                    r.queries = q.queries.clone();
                    if let Some(qq) = q.queries.first() {
                        r.answers.push(Record::from_rdata(
                            qq.name().clone(),
                            300,
                            RData::A(A::new(192, 0, 2, 1)),
                        ));
                    }
                    let _ = sock.send_to(&r.to_vec().unwrap(), from);
                }
                false
            });
        }
    });
    port
}

/// `coredns_shed_dropped_total` for `reason`, as the server shows it.
fn dropped(metrics_port: u16, server: &str, reason: &str) -> f64 {
    let (status, _, body) = http_get(metrics_port, "/metrics");
    assert_eq!(status, 200);
    let series = format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"{reason}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&series))
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
        .parse()
        .unwrap()
}

/// Sends queries for `name` at about 10,000 a second for `how_long`, from
/// a few sockets (their replies are not read).
fn flood(to: std::net::SocketAddr, name: &str, how_long: Duration) {
    let socks: Vec<UdpSocket> = (0..4)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    let bytes = query(name, hickory_proto::rr::RecordType::A)
        .to_vec()
        .unwrap();
    let end = Instant::now() + how_long;
    while Instant::now() < end {
        for s in &socks {
            for _ in 0..25 {
                let _ = s.send_to(&bytes, to);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn shed_drops_and_counts_under_a_flood_and_the_server_stays_up() {
    flooded(&[]);
}

/// The same through io_uring (recvmmsg where the kernel refuses rings).
#[test]
fn shed_under_a_flood_through_io_uring() {
    flooded(&["-io", "uring"]);
}

fn flooded(args: &[&str]) {
    let stop = Arc::new(AtomicBool::new(false));
    let upstream = slow_upstream(Arc::clone(&stop));
    let metrics = free_port();
    let corefile = format!(
        ".:{{PORT}} {{
    multisocket 1
    shed
    prometheus 127.0.0.1:{metrics}
    cache
    forward . 127.0.0.1:{upstream}
}}
"
    );
    let s = Server::start_args(&corefile, &[], args);
    let server = format!("dns://:{}", s.port);
    // Both series from the start (once the worker serves), at zero.
    let deadline = Instant::now() + Duration::from_secs(5);
    let up = || std::net::TcpStream::connect(("127.0.0.1", metrics)).is_ok();
    while !(up()
        && http_get(metrics, "/metrics")
            .2
            .contains("coredns_shed_dropped_total"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(dropped(metrics, &server, "query"), 0.0);
    assert_eq!(dropped(metrics, &server, "response"), 0.0);
    // Each round: a name nobody asked yet, so that every query for it
    // waits on the one upstream exchange and all their replies come at
    // once; the flood goes on meanwhile.
    let mut rounds = 0;
    while rounds < 8
        && (dropped(metrics, &server, "response") == 0.0
            || dropped(metrics, &server, "query") == 0.0)
    {
        rounds += 1;
        flood(
            s.addr(),
            &format!("r{rounds}.flood.test."),
            Duration::from_millis(800),
        );
    }
    let responses = dropped(metrics, &server, "response");
    let queries = dropped(metrics, &server, "query");
    assert!(responses > 0.0, "no reply dropped in {rounds} rounds");
    assert!(queries > 0.0, "no query dropped in {rounds} rounds");
    // The server is up and answers, over UDP and TCP.
    std::thread::sleep(Duration::from_millis(200));
    for m in s.both("after.flood.test.", hickory_proto::rr::RecordType::A) {
        let rdata: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        assert_eq!(rdata, ["192.0.2.1"]);
    }
    eprintln!("{rounds} rounds: {queries} queries and {responses} replies dropped");
    stop.store(true, Ordering::Relaxed);
}
