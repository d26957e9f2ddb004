//! The forward plugin, through the real binary, against upstreams this test
//! runs on loopback ports.

mod common;

use common::*;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// (transport, lowercased question name, type) of each query received.
type Log = Mutex<Vec<(&'static str, String, RecordType)>>;

/// How the test upstream behaves; changed while it runs.
#[derive(Clone)]
struct Mode {
    /// The address in every A answer (tells upstreams apart).
    ip: Ipv4Addr,
    /// Drop queries other than health probes.
    drop_queries: bool,
    /// Drop health probes (`. NS`).
    drop_probes: bool,
}

/// A DNS responder on UDP and TCP. By question name:
/// `nx.*` NXDOMAIN; `slow.*` answers after 1s; `tc.*` over UDP a bare TC
/// reply; `spoof-id.*` first a reply with another ID; `spoof-q.*` first a
/// reply to another question; anything else an A record.
struct Upstream {
    port: u16,
    mode: Arc<Mutex<Mode>>,
    /// (transport, lowercased question name, type) of what came in.
    log: Arc<Log>,
    /// (source port, query ID) of each UDP query that came in.
    udp_from: Arc<Mutex<Vec<(u16, u16)>>>,
    stop: Arc<AtomicBool>,
}

impl Upstream {
    fn start(ip: [u8; 4]) -> Upstream {
        Self::start_on(free_port(), ip)
    }

    fn start_on(port: u16, ip: [u8; 4]) -> Upstream {
        let u = Upstream {
            port,
            mode: Arc::new(Mutex::new(Mode {
                ip: Ipv4Addr::from(ip),
                drop_queries: false,
                drop_probes: false,
            })),
            log: Arc::default(),
            udp_from: Arc::default(),
            stop: Arc::default(),
        };
        let udp = UdpSocket::bind(("127.0.0.1", port)).expect("bind upstream udp");
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let tcp = TcpListener::bind(("127.0.0.1", port)).expect("bind upstream tcp");
        tcp.set_nonblocking(true).unwrap();
        let (mode, log, stop) = (u.mode.clone(), u.log.clone(), u.stop.clone());
        let udp_from = u.udp_from.clone();
        thread::spawn(move || {
            let udp = Arc::new(udp);
            let mut buf = vec![0u8; 65535];
            while !stop.load(Ordering::Relaxed) {
                let Ok((n, from)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                let q = buf[..n].to_vec();
                if n >= 2 {
                    udp_from
                        .lock()
                        .unwrap()
                        .push((from.port(), u16::from_be_bytes([q[0], q[1]])));
                }
                let (udp, mode, log) = (udp.clone(), mode.clone(), log.clone());
                thread::spawn(move || {
                    for r in respond(&q, "udp", &mode, &log) {
                        let _ = udp.send_to(&r, from);
                    }
                });
            }
        });
        let (mode, log, stop) = (u.mode.clone(), u.log.clone(), u.stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match tcp.accept() {
                    Ok((s, _)) => {
                        let (mode, log, stop) = (mode.clone(), log.clone(), stop.clone());
                        thread::spawn(move || serve_tcp(s, &mode, &log, &stop));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        thread::sleep(Duration::from_millis(10))
                    }
                    Err(_) => return,
                }
            }
        });
        u
    }

    fn set(&self, f: impl FnOnce(&mut Mode)) {
        f(&mut self.mode.lock().unwrap());
    }

    /// What came in other than health probes.
    fn queries(&self) -> Vec<(&'static str, String)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n, t)| !(n == "." && *t == RecordType::NS))
            .map(|(p, n, _)| (*p, n.clone()))
            .collect()
    }

    fn probes(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, n, t)| n == "." && *t == RecordType::NS)
            .count()
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_tcp(mut s: TcpStream, mode: &Mutex<Mode>, log: &Log, stop: &AtomicBool) {
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while !stop.load(Ordering::Relaxed) {
        let q = match tcp_recv(&mut s) {
            Some(q) => q,
            None => {
                // A read timeout leaves the connection open; EOF ends it.
                let mut probe = [0u8; 1];
                match s.peek(&mut probe) {
                    Ok(0) => return,
                    Ok(_) => continue,
                    Err(e)
                        if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut =>
                    {
                        continue
                    }
                    Err(_) => return,
                }
            }
        };
        for r in respond(&q, "tcp", mode, log) {
            tcp_send(&mut s, &r);
        }
    }
}

/// The replies to one query, in the order to send them.
fn respond(wire: &[u8], proto: &'static str, mode: &Mutex<Mode>, log: &Log) -> Vec<Vec<u8>> {
    let Ok(q) = Message::from_vec(wire) else {
        return Vec::new();
    };
    let Some(question) = q.queries.first().cloned() else {
        return Vec::new();
    };
    let name = question.name().to_lowercase().to_string();
    let qtype = question.query_type();
    log.lock().unwrap().push((proto, name.clone(), qtype));
    let mode = mode.lock().unwrap().clone();
    let probe = name == "." && qtype == RecordType::NS;
    if (probe && mode.drop_probes) || (!probe && mode.drop_queries) {
        return Vec::new();
    }
    let mut r = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    r.metadata.recursion_desired = q.metadata.recursion_desired;
    r.metadata.recursion_available = true;
    r.queries.push(question.clone());
    let mut out = Vec::new();
    if name.starts_with("nx.") {
        r.metadata.response_code = ResponseCode::NXDomain;
        return vec![r.to_vec().unwrap()];
    }
    if name.starts_with("slow.") {
        thread::sleep(Duration::from_secs(1));
    }
    if name.starts_with("tc.") && proto == "udp" {
        r.metadata.truncation = true;
        return vec![r.to_vec().unwrap()];
    }
    if qtype == RecordType::A {
        r.answers.push(Record::from_rdata(
            question.name().clone(),
            60,
            RData::A(A(mode.ip)),
        ));
    }
    if name.starts_with("spoof-id.") {
        let mut bad = r.clone();
        bad.metadata.id = q.metadata.id.wrapping_add(1);
        bad.answers[0] =
            Record::from_rdata(question.name().clone(), 60, RData::A(A::new(6, 6, 6, 6)));
        out.push(bad.to_vec().unwrap());
    }
    if name.starts_with("spoof-q.") {
        let mut bad = r.clone();
        let other = Name::from_ascii("evil.example.").unwrap();
        bad.queries[0].set_name(other.clone());
        bad.answers[0] = Record::from_rdata(other, 60, RData::A(A::new(6, 6, 6, 6)));
        out.push(bad.to_vec().unwrap());
    }
    out.push(r.to_vec().unwrap());
    out
}

/// The A answers' addresses.
fn ips(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// Polls `f` every 50ms until it is true; false after `secs`.
fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn forwards_over_udp_and_tcp() {
    let up = Upstream::start([10, 0, 0, 1]);
    let s = Server::start(
        &format!(".:{{PORT}} {{\n    forward . {}\n}}\n", up.addr()),
        &[],
    );
    let [u, t] = s.both("WwW.Example.ORG.", RecordType::A);
    for m in [&u, &t] {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(answers(m), ["WwW.Example.ORG. 60 A 10.0.0.1"]);
        assert_eq!(m.queries[0].name().to_string(), "WwW.Example.ORG.");
        assert!(m.metadata.recursion_available);
    }
    assert_eq!(
        up.queries(),
        [
            ("udp", "www.example.org.".to_string()),
            ("tcp", "www.example.org.".to_string())
        ]
    );
    // Several in a row reuse connections and still match replies.
    for i in 0..5 {
        let m = s.udp(&format!("n{i}.example."), RecordType::A);
        assert_eq!(ips(&m), ["10.0.0.1"]);
        let m = s.tcp(&format!("t{i}.example."), RecordType::A);
        assert_eq!(ips(&m), ["10.0.0.1"]);
    }
    // NXDOMAIN comes back as it is.
    let m = s.udp("nx.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn dns_scheme_and_force_tcp() {
    let up = Upstream::start([10, 0, 0, 2]);
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . dns://{} {{\n        force_tcp\n    }}\n}}\n",
            up.addr()
        ),
        &[],
    );
    let m = s.udp("a.example.", RecordType::A);
    assert_eq!(ips(&m), ["10.0.0.2"]);
    assert_eq!(up.queries(), [("tcp", "a.example.".to_string())]);
}

#[test]
fn truncated_reply_passed_on_or_retried_over_tcp_with_prefer_udp() {
    let up = Upstream::start([10, 0, 0, 3]);
    // Without prefer_udp the client gets the TC reply and retries itself.
    let s = Server::start(
        &format!(".:{{PORT}} {{\n    forward . {}\n}}\n", up.addr()),
        &[],
    );
    let m = s.udp("tc.example.", RecordType::A);
    assert!(m.metadata.truncation);
    assert!(m.answers.is_empty());
    assert_eq!(up.queries(), [("udp", "tc.example.".to_string())]);
    drop(s);

    let up = Upstream::start([10, 0, 0, 3]);
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . {} {{\n        prefer_udp\n    }}\n}}\n",
            up.addr()
        ),
        &[],
    );
    let m = s.udp("tc.example.", RecordType::A);
    assert!(!m.metadata.truncation);
    assert_eq!(ips(&m), ["10.0.0.3"]);
    // A TCP client too is forwarded over UDP first.
    let m = s.tcp("tc.example.", RecordType::A);
    assert_eq!(ips(&m), ["10.0.0.3"]);
    assert_eq!(
        up.queries(),
        [
            ("udp", "tc.example.".to_string()),
            ("tcp", "tc.example.".to_string()),
            ("udp", "tc.example.".to_string()),
            ("tcp", "tc.example.".to_string())
        ]
    );
}

#[test]
fn failing_upstream_is_marked_down_skipped_and_used_again() {
    let a = Upstream::start([10, 0, 0, 10]);
    let b = Upstream::start([10, 0, 0, 20]);
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . {} {} {{\n        policy sequential\n        health_check 100ms\n        read_timeout 300ms\n    }}\n}}\n",
            a.addr(),
            b.addr()
        ),
        &[],
    );
    assert_eq!(ips(&s.udp("one.example.", RecordType::A)), ["10.0.0.10"]);
    assert_eq!(a.probes(), 0, "no probe while all is well");

    // A stops answering: the query times out there and B answers.
    a.set(|m| {
        m.drop_queries = true;
        m.drop_probes = true;
    });
    assert_eq!(ips(&s.udp("two.example.", RecordType::A)), ["10.0.0.20"]);
    // A answers queries again but not probes: once more than 2 probes
    // failed it is down, and queries go to B without reaching A.
    a.set(|m| m.drop_queries = false);
    assert!(
        eventually(15, || {
            let before = a.queries().len();
            let m = s.udp("three.example.", RecordType::A);
            ips(&m) == ["10.0.0.20"] && a.queries().len() == before
        }),
        "A never marked down"
    );
    assert!(a.probes() >= 3);
    // Probes get answers again: A is up and first in line.
    a.set(|m| m.drop_probes = false);
    assert!(
        eventually(10, || ips(&s.udp("four.example.", RecordType::A))
            == ["10.0.0.10"]),
        "A never back up"
    );
}

#[test]
fn all_upstreams_down_is_servfail() {
    let dead = free_port();
    let mp = free_port();
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    errors\n    prometheus 127.0.0.1:{mp}\n    forward . 127.0.0.1:{dead} {{\n        health_check 100ms\n    }}\n}}\n"
        ),
        &[],
    );
    let m = s.udp("a.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let out = s.wait_log("a.example. A");
    assert!(
        out.contains("[ERROR] plugin/errors: 2 a.example. A:"),
        "{out}"
    );
    // Down by now or soon: a random upstream is still tried.
    thread::sleep(Duration::from_millis(500));
    let m = s.tcp("b.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    // Failed probes are counted per upstream; a query with every upstream
    // down counts as a broken health check.
    let (_, _, body) = http_get(mp, "/metrics");
    let failures = format!(
        "coredns_proxy_healthcheck_failures_total{{proxy_name=\"forward\",to=\"127.0.0.1:{dead}\"}} "
    );
    assert!(
        body.lines().any(|l| l
            .strip_prefix(&failures)
            .is_some_and(|v| v.parse::<f64>().unwrap() >= 2.0)),
        "{body}"
    );
    assert!(
        body.lines()
            .any(|l| l.starts_with("coredns_forward_healthcheck_broken_total ")),
        "{body}"
    );

    // With failfast, once down, no upstream is tried at all.
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    errors\n    forward . 127.0.0.1:{dead} {{\n        health_check 100ms\n        failfast_all_unhealthy_upstreams\n    }}\n}}\n"
        ),
        &[],
    );
    let m = s.udp("c.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(
        eventually(5, || {
            let m = s.udp("d.example.", RecordType::A);
            m.metadata.response_code == ResponseCode::ServFail
                && s.stdout()
                    .contains("d.example. A: plugin/forward: no healthy proxies")
        }),
        "{}",
        s.stdout()
    );
}

#[test]
fn max_concurrent_refuses_over_the_limit() {
    let up = Upstream::start([10, 0, 0, 4]);
    let mp = free_port();
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    prometheus 127.0.0.1:{mp}\n    forward . {} {{\n        max_concurrent 1\n    }}\n}}\n",
            up.addr()
        ),
        &[],
    );
    let addr = s.addr();
    let slow = thread::spawn(move || udp(addr, &query("slow.example.", RecordType::A)));
    assert!(eventually(3, || !up.queries().is_empty()));
    let m = s.udp("fast.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    let m = slow.join().unwrap();
    assert_eq!(ips(&m), ["10.0.0.4"]);
    // The slot is free again.
    assert_eq!(ips(&s.udp("fast.example.", RecordType::A)), ["10.0.0.4"]);
    let (_, _, body) = http_get(mp, "/metrics");
    assert!(
        body.lines()
            .any(|l| l == "coredns_forward_max_concurrent_rejects_total 1"),
        "{body}"
    );
}

#[test]
fn replies_with_another_id_are_skipped() {
    let up = Upstream::start([10, 0, 0, 5]);
    let s = Server::start(
        &format!(".:{{PORT}} {{\n    forward . {}\n}}\n", up.addr()),
        &[],
    );
    for m in s.both("spoof-id.example.", RecordType::A) {
        assert_eq!(ips(&m), ["10.0.0.5"]);
    }
    // A reply with the right ID to another question is dropped too (CoreDNS
    // would take it and answer FORMERR; see docs/compat.md): the real reply
    // that follows is the answer.
    for m in s.both("spoof-q.example.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(ips(&m), ["10.0.0.5"]);
        assert_eq!(m.queries[0].name().to_string(), "spoof-q.example.");
    }
}

#[test]
fn next_passes_only_to_another_forward() {
    let first = Upstream::start([10, 0, 0, 6]);
    let second = Upstream::start([10, 0, 0, 7]);
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . {} {{\n        next NXDOMAIN\n    }}\n    forward . {}\n}}\n",
            first.addr(),
            second.addr()
        ),
        &[],
    );
    let m = s.udp("nx.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(first.queries().len(), 1);
    assert_eq!(second.queries().len(), 1);
    assert_eq!(ips(&s.udp("ok.example.", RecordType::A)), ["10.0.0.6"]);

    // A next plugin that is not a forward: the NXDOMAIN is the answer.
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . {} {{\n        next NXDOMAIN\n    }}\n    whoami\n}}\n",
            first.addr()
        ),
        &[],
    );
    let m = s.udp("nx.example.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.additionals.is_empty());
}

#[test]
fn except_and_from_leave_names_to_the_next_plugin() {
    let up = Upstream::start([10, 0, 0, 8]);
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward example.org {} {{\n        except private.example.org\n    }}\n    whoami\n}}\n",
            up.addr()
        ),
        &[],
    );
    assert_eq!(ips(&s.udp("www.example.org.", RecordType::A)), ["10.0.0.8"]);
    // Under an except zone, or outside FROM: whoami answers.
    for name in [
        "db.private.example.org.",
        "private.example.org.",
        "example.net.",
    ] {
        let m = s.udp(name, RecordType::A);
        assert!(m.answers.is_empty(), "{name}");
        assert_eq!(m.additionals.len(), 2, "{name}");
    }
    assert_eq!(up.queries().len(), 1);
}

#[test]
fn proxy_is_read_as_forward_with_a_warning() {
    let up = Upstream::start([10, 0, 0, 9]);
    let s = Server::start(
        &format!(".:{{PORT}} {{\n    proxy . {}\n}}\n", up.addr()),
        &[],
    );
    assert_eq!(ips(&s.udp("p.example.", RecordType::A)), ["10.0.0.9"]);
    let out = s.wait_log("[WARNING] plugin/proxy:");
    assert!(
        out.contains("[WARNING] plugin/proxy:") && out.contains("use forward"),
        "{out}"
    );
}

#[test]
fn resolv_conf_names_the_upstreams() {
    // resolv.conf has no ports: its nameservers are on port 53. Take
    // 127.0.0.53? No: a loopback address of our own, where we may bind 53.
    let ns = Ipv4Addr::new(127, 0, 0, 77);
    let bound = UdpSocket::bind((ns, 53)).is_ok() && TcpListener::bind((ns, 53)).is_ok();
    let s = Server::start(
        ".:{PORT} {\n    forward . resolv.conf {\n        max_fails 0\n    }\n}\n",
        &[(
            "resolv.conf",
            "# a resolv.conf\nsearch example.org\nnameserver 127.0.0.77\noptions ndots:2\n",
        )],
    );
    if !bound {
        eprintln!("cannot bind 127.0.0.77:53 here: only checking the setup");
        let m = s.udp("r.example.", RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        return;
    }
    let up = upstream_at(ns, 53);
    assert_eq!(ips(&s.udp("r.example.", RecordType::A)), ["10.0.0.77"]);
    drop(up);
}

/// An upstream on a given address (port 53 for resolv.conf).
fn upstream_at(ip: Ipv4Addr, port: u16) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let udp = UdpSocket::bind(SocketAddr::from((ip, port))).unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mode = Arc::new(Mutex::new(Mode {
        ip: Ipv4Addr::new(10, 0, 0, 77),
        drop_queries: false,
        drop_probes: false,
    }));
    let log = Arc::new(Mutex::new(Vec::new()));
    let st = stop.clone();
    thread::spawn(move || {
        let mut buf = vec![0u8; 65535];
        while !st.load(Ordering::Relaxed) {
            if let Ok((n, from)) = udp.recv_from(&mut buf) {
                for r in respond(&buf[..n], "udp", &mode, &log) {
                    let _ = udp.send_to(&r, from);
                }
            }
        }
    });
    stop
}

#[test]
fn setup_errors_stop_the_server() {
    for (conf, want) in [
        (".:{PORT} {\n    forward\n}\n", "Wrong argument count"),
        (".:{PORT} {\n    forward .\n}\n", "Wrong argument count"),
        (
            ".:{PORT} {\n    forward . 127.0.0.1 {\n        policy best\n    }\n}\n",
            "unknown policy 'best'",
        ),
        (
            ".:{PORT} {\n    forward . 127.0.0.1 {\n        bogus\n    }\n}\n",
            "unknown property 'bogus'",
        ),
        (
            ".:{PORT} {\n    forward . 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6 127.0.0.7 127.0.0.8 127.0.0.9 127.0.0.10 127.0.0.11 127.0.0.12 127.0.0.13 127.0.0.14 127.0.0.15 127.0.0.16\n}\n",
            "more than 15 TOs configured: 16",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Corefile");
        std::fs::write(&path, conf.replace("{PORT}", &free_port().to_string())).unwrap();
        let out = std::process::Command::new(BIN)
            .arg("-conf")
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{conf}");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("plugin/forward: "), "{conf}: {text}");
        assert!(text.contains(want), "{conf}: {text}");
    }
}

#[test]
fn host_name_upstream_resolved_with_resolver() {
    // The upstream answers every A query with 127.0.0.1, its own address.
    let up = Upstream::start([127, 0, 0, 1]);
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    forward . upstream.example:{} {{\n        resolver {}\n    }}\n}}\n",
            up.port,
            up.addr()
        ),
        &[],
    );
    assert_eq!(ips(&s.udp("h.example.", RecordType::A)), ["127.0.0.1"]);
    let q = up.queries();
    assert_eq!(q[0], ("udp", "upstream.example.".to_string()));
    assert_eq!(q.last().unwrap(), &("udp", "h.example.".to_string()));
}

#[test]
fn udp_exchanges_have_random_ids_and_rotating_source_ports() {
    let up = Upstream::start([10, 0, 0, 8]);
    let s = Server::start(
        &format!(".:{{PORT}} {{\n    forward . {}\n}}\n", up.addr()),
        &[],
    );
    for i in 0..600 {
        assert_eq!(
            ips(&s.udp(&format!("q{i}.example."), RecordType::A)),
            ["10.0.0.8"]
        );
    }
    let seen = up.udp_from.lock().unwrap().clone();
    assert!(seen.len() >= 600, "{seen:?}");
    let ids: std::collections::HashSet<u16> = seen.iter().map(|(_, id)| *id).collect();
    // Random IDs: about 2.7 pairs repeat by chance among 600 (the birthday
    // bound); more than 15 has odds near 1e-7.
    assert!(ids.len() + 15 >= seen.len(), "IDs reused: {seen:?}");
    // ... and not a counter: one ID following another by one is rare.
    let steps = seen
        .windows(2)
        .filter(|w| w[1].1 == w[0].1.wrapping_add(1))
        .count();
    assert!(steps < 10, "sequential IDs: {seen:?}");
    // A socket carries at most 128 exchanges, then a new one (a new random
    // port) takes over.
    let mut per_port = std::collections::HashMap::<u16, usize>::new();
    for (port, _) in &seen {
        *per_port.entry(*port).or_default() += 1;
    }
    assert!(per_port.values().all(|n| *n <= 128), "{per_port:?}");
    assert!(per_port.len() >= 4, "{per_port:?}");
}

#[test]
fn a_query_waiting_on_the_upstream_is_answered_across_sigterm() {
    let up = Upstream::start([10, 0, 0, 9]);
    let mut s = Server::start(
        &format!(".:{{PORT}} {{\n    forward . {}\n}}\n", up.addr()),
        &[],
    );
    let addr = s.addr();
    let slow = thread::spawn(move || udp(addr, &query("slow.example.", RecordType::A)));
    assert!(eventually(3, || !up.queries().is_empty()));
    s.signal(libc::SIGTERM);
    // The upstream answers a second later; the worker has stopped reading
    // by then, but the reply still goes out before the process exits.
    assert_eq!(ips(&slow.join().unwrap()), ["10.0.0.9"]);
    assert_eq!(s.wait_exit(5), Some(0));
}

/// serve_stale with an upstream that stops answering (a black hole: no
/// reply, no ICMP error): the stale answer comes without waiting for the
/// upstream (RFC 8767, CoreDNS's `immediate`); in `verify` mode the client
/// waits at most the verify timeout, or, without one, only the first time:
/// a name whose refresh is failing is not waited on again. One worker, so
/// every query sees the same cache.
#[test]
fn serve_stale_answers_at_once_when_the_upstream_black_holes() {
    let up = Upstream::start([192, 0, 2, 53]);
    for (mode, first_waits) in [
        ("immediate", false),
        ("verify", true),
        ("verify 100ms", false),
    ] {
        up.set(|m| m.drop_queries = false);
        let s = Server::start_args(
            &format!(
                ".:{{PORT}} {{\n    cache 1 {{\n        serve_stale 1h {mode}\n    }}\n    forward . {}\n}}\n",
                up.addr()
            ),
            &[],
            &["-workers", "1"],
        );
        let name = format!("stale-{}.example.", mode.replace(' ', "-"));
        let fresh = s.udp(&name, RecordType::A);
        assert_eq!(ips(&fresh), ["192.0.2.53"], "{mode}");
        up.set(|m| m.drop_queries = true);
        std::thread::sleep(Duration::from_millis(1300));
        let mut waits = Vec::new();
        for i in 0..8 {
            let q = query(&name, RecordType::A);
            let t = Instant::now();
            let r = udp_raw(s.addr(), &q.to_vec().unwrap(), Duration::from_secs(10))
                .unwrap_or_else(|| panic!("{mode}: query {i} unanswered"));
            let took = t.elapsed();
            waits.push(took);
            let m = Message::from_vec(&r).unwrap();
            assert_eq!(
                m.metadata.response_code,
                ResponseCode::NoError,
                "{mode} {i}"
            );
            assert_eq!(ips(&m), ["192.0.2.53"], "{mode} {i}: the stale answer");
            assert_eq!(m.answers[0].ttl, 0, "{mode} {i}");
            if !(i == 0 && first_waits) {
                assert!(
                    took < Duration::from_millis(500),
                    "{mode}: query {i} waited {took:?} for the stale answer"
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("serve_stale {mode}: stale answers after {waits:?}");
    }
}

/// One cache for the server, filled once: with 4 workers, 50 clients
/// asking the same 100 names at once (each query from a new source port,
/// so spread over the workers), the upstream sees each name once: misses
/// for a name another worker is already fetching wait for that exchange.
/// Spread by the kernel's flow hash (the default), so the misses of a name
/// really are on different workers; steered by question (`-steer`, where
/// built in) they are on one worker.
#[test]
fn concurrent_misses_on_every_worker_reach_the_upstream_once() {
    for steer in ["-steer=false", "-steer=true"] {
        concurrent_misses_reach_the_upstream_once(steer);
    }
}

fn concurrent_misses_reach_the_upstream_once(steer: &str) {
    let up = Upstream::start([192, 0, 2, 77]);
    let s = Server::start_args(
        &format!(
            ".:{{PORT}} {{\n    cache 60\n    forward . {}\n}}\n",
            up.addr()
        ),
        &[],
        &["-workers", "4", steer],
    );
    let addr = s.addr();
    // `slow.` names are answered after a second, so that the clients of a
    // group all miss while the first exchange is under way.
    let names: Vec<String> = (0..100).map(|i| format!("slow.n{i}.example.")).collect();
    let clients: Vec<_> = (0..50)
        .map(|t| {
            let names = names.clone();
            std::thread::spawn(move || {
                let start = (t % 20) * 5;
                for j in 0..names.len() {
                    let name = &names[(start + j) % names.len()];
                    let m = udp(addr, &query(name, RecordType::A));
                    assert_eq!(ips(&m), ["192.0.2.77"], "{name}");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let seen = up.queries();
    for name in &names {
        let n = seen.iter().filter(|(_, q)| q == name).count();
        assert_eq!(n, 1, "{name} reached the upstream {n} times ({steer})");
    }
}

/// A flood of names asked once does not empty the cache of the names
/// clients keep asking: 100 hot names asked throughout 10,000 unique ones,
/// with room for 1,000 answers, are answered from the cache at least 95%
/// of the time (counted at the upstream: a hot name it sees is a miss).
#[test]
fn a_random_name_flood_does_not_evict_the_hot_names() {
    let up = Upstream::start([192, 0, 2, 99]);
    let s = Server::start_args(
        &format!(
            ".:{{PORT}} {{\n    cache 3600 {{\n        success 1000\n        denial 1000\n    }}\n    forward . {}\n}}\n",
            up.addr()
        ),
        &[],
        &["-workers", "2"],
    );
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let ask = |name: &str| {
        let q = query(name, RecordType::A);
        sock.send_to(&q.to_vec().unwrap(), s.addr()).unwrap();
        let mut buf = [0u8; 1500];
        let (n, _) = sock.recv_from(&mut buf).expect("an answer");
        assert_eq!(
            Message::from_vec(&buf[..n]).unwrap().metadata.id,
            q.metadata.id
        );
    };
    let hot: Vec<String> = (0..100).map(|i| format!("hot{i}.example.")).collect();
    for h in &hot {
        ask(h);
    }
    let before = up.queries().len();
    let mut hot_asked = 0;
    for i in 0..10_000 {
        ask(&format!("flood{i}.example."));
        if i % 10 == 0 {
            ask(&hot[(i / 10) % hot.len()]);
            hot_asked += 1;
        }
    }
    let hot_misses = up.queries()[before..]
        .iter()
        .filter(|(_, n)| n.starts_with("hot"))
        .count();
    let ratio = 1.0 - hot_misses as f64 / f64::from(hot_asked);
    eprintln!("hot names: {hot_asked} asked, {hot_misses} misses, hit ratio {ratio:.3}");
    assert!(ratio >= 0.95, "hot names' hit ratio {ratio:.3}");
}

/// Misses waiting on another worker's exchange with a dead upstream get
/// its SERVFAIL when it comes (within forward's 5 s), not a second wait of
/// their own after it: nothing is cached (`servfail 0`). Spread by flow
/// (`-steer=false`), so the misses are on different workers.
#[test]
fn misses_waiting_on_a_dead_upstream_get_its_servfail() {
    let up = Upstream::start([192, 0, 2, 88]);
    up.set(|m| m.drop_queries = true);
    let s = Server::start_args(
        &format!(
            ".:{{PORT}} {{\n    cache 60 {{\n        servfail 0\n    }}\n    forward . {}\n}}\n",
            up.addr()
        ),
        &[],
        &["-workers", "4", "-steer=false"],
    );
    let addr = s.addr();
    let start = Instant::now();
    let clients: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let q = query("dead.example.", RecordType::A);
                let r = udp_raw(addr, &q.to_vec().unwrap(), Duration::from_secs(12))
                    .expect("an answer");
                (
                    Message::from_vec(&r).unwrap().metadata.response_code,
                    start.elapsed(),
                )
            })
        })
        .collect();
    for c in clients {
        let (rcode, took) = c.join().unwrap();
        assert_eq!(rcode, ResponseCode::ServFail);
        assert!(took < Duration::from_secs(8), "answered after {took:?}");
    }
    let asked = up
        .queries()
        .iter()
        .filter(|(_, n)| n == "dead.example.")
        .count();
    // forward tries the upstream twice within its deadline.
    assert!(asked <= 2, "the upstream was asked {asked} times");
}
