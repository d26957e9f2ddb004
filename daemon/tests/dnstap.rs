//! The dnstap plugin checked with a real reader: golang-dnstap's `dnstap`
//! command (built by `cargo xtask dnstap`, which `cargo xtask test` runs
//! and hands over in FERRODNS_DNSTAP) listens on a unix socket or a TCP
//! address and prints what it decodes as YAML; the real ferrodns binary
//! sends it the messages of real queries. Without the reader the tests
//! say SKIPPED.

mod common;

use common::{free_port, pki, query, tcp_recv, tcp_send, Pki, Server};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The reader: FERRODNS_DNSTAP, else where `cargo xtask dnstap` caches it.
fn reader_binary(test: &str) -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cached = env("FERRODNS_CACHE")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("ferrodns")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/ferrodns")))
        .map(|d| d.join("dnstap-v0.4.0/dnstap"));
    let found = env("FERRODNS_DNSTAP").or(cached).filter(|p| p.is_file());
    if found.is_none() {
        eprintln!(
            "SKIPPED {test}: the dnstap reader is not built (`cargo xtask dnstap` builds it with Go; \
             or set FERRODNS_DNSTAP)"
        );
    }
    found
}

/// A running `dnstap` reader printing YAML into a file.
struct Reader {
    child: Child,
    out: PathBuf,
}

impl Reader {
    /// `dnstap ARGS -y`, its output in `dir`.
    fn start(bin: &Path, args: &[&str], dir: &Path) -> Reader {
        let out = dir.join("dnstap.yaml");
        let child = Command::new(bin)
            .args(args)
            .arg("-y")
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(dir.join("dnstap.err")).unwrap())
            .spawn()
            .expect("spawn the dnstap reader");
        Reader { child, out }
    }

    /// On a unix socket, once it is there.
    fn unix(bin: &Path, sock: &Path, dir: &Path) -> Reader {
        let r = Reader::start(bin, &["-u", sock.to_str().unwrap()], dir);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(sock.exists(), "the reader made no socket");
        r
    }

    /// The messages decoded so far.
    fn messages(&self) -> Vec<Tap> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.split("---\n")
            .filter(|d| d.contains("type: MESSAGE"))
            .map(Tap::parse)
            .collect()
    }

    /// Waits until at least `n` messages are decoded.
    fn wait(&self, n: usize) -> Vec<Tap> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > deadline {
                return m;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One decoded message: its fields, and its DNS messages as text.
#[derive(Debug, Default, Clone)]
struct Tap {
    fields: Vec<(String, String)>,
    query_message: String,
    response_message: String,
}

impl Tap {
    fn parse(doc: &str) -> Tap {
        let mut t = Tap::default();
        let mut block: Option<&mut String> = None;
        for line in doc.lines() {
            if let Some(text) = line.strip_prefix("    ") {
                if let Some(b) = block.as_deref_mut() {
                    b.push_str(text);
                    b.push('\n');
                }
                continue;
            }
            block = None;
            let Some((k, v)) = line.trim().split_once(':') else {
                continue;
            };
            match k {
                "query_message" => block = Some(&mut t.query_message),
                "response_message" => block = Some(&mut t.response_message),
                _ => t.fields.push((k.to_string(), v.trim().to_string())),
            }
        }
        t
    }

    /// A field's value; `type` is the message's (the envelope's is MESSAGE).
    fn get(&self, k: &str) -> &str {
        self.fields
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// One UDP query from a socket of our own: the reply and our port.
fn udp_from(server: SocketAddr, name: &str, qtype: RecordType) -> (Message, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let q = query(name, qtype);
    s.send_to(&q.to_vec().unwrap(), server).unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = s.recv_from(&mut buf).expect("udp reply");
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.metadata.id, q.metadata.id);
    (m, s.local_addr().unwrap().port())
}

/// One TCP query: the reply and our port.
fn tcp_from(server: SocketAddr, name: &str, qtype: RecordType) -> (Message, u16) {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    tcp_send(&mut s, &query(name, qtype).to_vec().unwrap());
    let m = Message::from_vec(&tcp_recv(&mut s).expect("tcp reply")).unwrap();
    (m, s.local_addr().unwrap().port())
}

/// Asks `probe` until the reader has decoded something: ferrodns is
/// connected (a frame sent before that is dropped, as in CoreDNS). The
/// number of messages the probing left.
fn connected(s: &Server, r: &Reader) -> usize {
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.messages().is_empty() {
        assert!(
            Instant::now() < deadline,
            "ferrodns never reached the reader"
        );
        s.udp("probe.example.", RecordType::A);
        std::thread::sleep(Duration::from_millis(100));
    }
    // What is on its way lands within a moment; then the count is still.
    let mut n = r.messages().len();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = r.messages().len();
        if now == n {
            return n;
        }
        n = now;
    }
}

const VERSION: &str = concat!("\"ferrodns-", env!("CARGO_PKG_VERSION"), "\"");

#[test]
fn unix_socket_full_messages_over_udp_and_tcp() {
    let Some(bin) = reader_binary("unix_socket_full_messages_over_udp_and_tcp") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tap.sock");
    let reader = Reader::unix(&bin, &sock, dir.path());
    let corefile = format!(
        ".:{{PORT}} {{
    dnstap unix://{} full {{
        identity test-identity
    }}
    whoami
}}
",
        sock.display()
    );
    let s = Server::start(&corefile, &[]);
    let skip = connected(&s, &reader);
    let (udp_reply, udp_port) = udp_from(s.addr(), "example.org.", RecordType::A);
    let (tcp_reply, tcp_port) = tcp_from(s.addr(), "example.net.", RecordType::AAAA);
    let all = reader.wait(skip + 4);
    let got = &all[skip..];
    assert_eq!(got.len(), 4, "{got:#?}");
    for t in got {
        assert_eq!(t.get("identity"), "\"test-identity\"");
        assert_eq!(t.get("version"), VERSION);
        assert_eq!(t.get("socket_family"), "INET");
        assert_eq!(t.get("query_address"), "127.0.0.1");
    }
    let types: Vec<&str> = got.iter().map(|t| t.get("type")).collect();
    assert_eq!(
        types,
        [
            "CLIENT_QUERY",
            "CLIENT_RESPONSE",
            "CLIENT_QUERY",
            "CLIENT_RESPONSE"
        ]
    );
    let (uq, ur, tq, tr) = (&got[0], &got[1], &got[2], &got[3]);
    assert_eq!(uq.get("socket_protocol"), "UDP");
    assert_eq!(uq.get("query_port"), udp_port.to_string());
    assert_eq!(tq.get("socket_protocol"), "TCP");
    assert_eq!(tr.get("query_port"), tcp_port.to_string());
    // The query's bytes, and the reply's as the client got it.
    assert!(uq.query_message.contains(";example.org.\tIN\t A"), "{uq:?}");
    assert!(uq
        .query_message
        .contains(&format!("id: {}", udp_reply.metadata.id)));
    assert!(uq.response_message.is_empty() && ur.query_message.is_empty());
    assert!(ur.response_message.contains("flags: qr aa rd"), "{ur:?}");
    assert!(ur
        .response_message
        .contains(&format!("_udp.example.org.\t0\tIN\tSRV\t0 0 {udp_port} .")));
    assert!(
        tq.query_message.contains(";example.net.\tIN\t AAAA"),
        "{tq:?}"
    );
    assert!(tr
        .response_message
        .contains(&format!("id: {}", tcp_reply.metadata.id)));
    assert!(tr
        .response_message
        .contains(&format!("_tcp.example.net.\t0\tIN\tSRV\t0 0 {tcp_port} .")));
    // The query time is the same in both; the response's comes after.
    assert_eq!(uq.get("query_time"), ur.get("query_time"));
    assert!(ur.get("response_time") >= ur.get("query_time"));
    assert!(uq.get("response_time").is_empty());
}

#[test]
fn tcp_collector_sees_the_client_and_forward_sides() {
    let Some(bin) = reader_binary("tcp_collector_sees_the_client_and_forward_sides") else {
        return;
    };
    let upstream = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let reader = Reader::start(&bin, &["-l", &format!("127.0.0.1:{port}")], dir.path());
    let corefile = format!(
        ".:{{PORT}} {{
    dnstap tcp://127.0.0.1:{port}
    forward . 127.0.0.1:{}
}}
",
        upstream.port
    );
    let s = Server::start(&corefile, &[]);
    let skip = connected(&s, &reader);
    let (reply, client_port) = udp_from(s.addr(), "www.example.org.", RecordType::A);
    assert_eq!(reply.additionals.len(), 2, "whoami's answer came back");
    let all = reader.wait(skip + 4);
    let got = &all[skip..];
    let types: Vec<&str> = got.iter().map(|t| t.get("type")).collect();
    assert_eq!(
        types,
        [
            "CLIENT_QUERY",
            "FORWARDER_QUERY",
            "FORWARDER_RESPONSE",
            "CLIENT_RESPONSE"
        ],
        "{got:#?}"
    );
    for t in got {
        // Without `full`, no DNS messages.
        assert!(t.query_message.is_empty() && t.response_message.is_empty());
        assert_eq!(t.get("socket_protocol"), "UDP");
        assert_eq!(t.get("query_address"), "127.0.0.1");
    }
    let (cq, fq, fr) = (&got[0], &got[1], &got[2]);
    assert_eq!(cq.get("query_port"), client_port.to_string());
    assert_eq!(cq.get("response_address"), "");
    for f in [fq, fr] {
        // ferrodns's side of the upstream socket, and the upstream.
        assert_eq!(f.get("response_address"), "127.0.0.1");
        assert_eq!(f.get("response_port"), upstream.port.to_string());
        assert_ne!(f.get("query_port"), client_port.to_string());
        assert!(!f.get("query_port").is_empty());
    }
    assert!(!fr.get("response_time").is_empty());
}

#[test]
fn cache_hits_on_the_raw_path_are_tapped_too() {
    let Some(bin) = reader_binary("cache_hits_on_the_raw_path_are_tapped_too") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tap.sock");
    let reader = Reader::unix(&bin, &sock, dir.path());
    let metrics = free_port();
    let corefile = format!(
        ".:{{PORT}} {{
    prometheus 127.0.0.1:{metrics}
    dnstap {} full
    cache
    hosts {{
        192.0.2.10 www.example.org
    }}
}}
",
        sock.display()
    );
    let s = Server::start(&corefile, &[]);
    let skip = connected(&s, &reader);
    let (first, _) = udp_from(s.addr(), "www.example.org.", RecordType::A);
    let (second, port) = udp_from(s.addr(), "www.example.org.", RecordType::A);
    assert_eq!(common::answers(&first).len(), 1);
    assert_eq!(common::answers(&second).len(), 1);
    let (_, _, body) = common::http_get(metrics, "/metrics");
    assert!(
        body.lines()
            .any(|l| l.starts_with("ferrodns_cache_fast_hits_total") && !l.ends_with(" 0")),
        "the second answer came from the raw path:\n{body}"
    );
    let all = reader.wait(skip + 4);
    let got = &all[skip..];
    assert_eq!(got.len(), 4, "{got:#?}");
    let (q, r) = (&got[2], &got[3]);
    assert_eq!(q.get("type"), "CLIENT_QUERY");
    assert_eq!(r.get("type"), "CLIENT_RESPONSE");
    assert_eq!(q.get("query_port"), port.to_string());
    assert!(q
        .query_message
        .contains(&format!("id: {}", second.metadata.id)));
    assert!(
        r.response_message
            .contains("www.example.org.\t3600\tIN\tA\t192.0.2.10"),
        "{r:?}"
    );
}

#[test]
fn a_late_or_restarted_collector_is_reconnected() {
    let Some(bin) = reader_binary("a_late_or_restarted_collector_is_reconnected") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("tap.sock");
    let corefile = format!(
        ".:{{PORT}} {{\n    dnstap {}\n    whoami\n}}\n",
        sock.display()
    );
    let s = Server::start(&corefile, &[]);
    let log = s.wait_log("No connection to dnstap endpoint");
    assert!(
        log.contains(&format!(
            "[ERROR] plugin/dnstap: No connection to dnstap endpoint: dial unix {}: connect: no such file or directory",
            sock.display()
        )),
        "{log}"
    );
    // Answers go on without a collector.
    assert_eq!(s.udp("example.org.", RecordType::A).additionals.len(), 2);
    let rdir = tempfile::tempdir().unwrap();
    let mut reader = Reader::unix(&bin, &sock, rdir.path());
    connected(&s, &reader);
    reader.stop();
    let _ = std::fs::remove_file(&sock);
    // Gone: queries are still answered.
    assert_eq!(s.udp("example.org.", RecordType::A).additionals.len(), 2);
    let rdir = tempfile::tempdir().unwrap();
    let reader = Reader::unix(&bin, &sock, rdir.path());
    connected(&s, &reader);
}

/// Copies bytes both ways between `a` and `b` (their sockets' read
/// timeouts short) until either side ends.
fn pipe(mut a: impl Read + Write + Send + 'static, mut b: impl Read + Write + Send + 'static) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        // Whether a read made progress, ended the stream, or timed out.
        fn step(from: &mut impl Read, to: &mut impl Write, buf: &mut [u8]) -> Option<bool> {
            match from.read(buf) {
                Ok(0) => None,
                Ok(n) => {
                    to.write_all(&buf[..n]).ok()?;
                    to.flush().ok()?;
                    Some(true)
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    Some(false)
                }
                Err(_) => None,
            }
        }
        loop {
            let (Some(_), Some(_)) = (
                step(&mut a, &mut b, &mut buf),
                step(&mut b, &mut a, &mut buf),
            ) else {
                return;
            };
        }
    });
}

fn short_reads(t: &TcpStream) {
    t.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
}

fn tls_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS collector: TLS ends here, and the bytes go on to the reader
/// listening on `reader` (plain TCP). Its address.
fn tls_terminator(p: &Pki, reader: u16) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(tls_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![p.cert.clone()], p.key.clone_key())
        .unwrap();
    let config = Arc::new(config);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in l.incoming() {
            let Ok(tcp) = tcp else { continue };
            let Ok(plain) = TcpStream::connect(("127.0.0.1", reader)) else {
                continue;
            };
            short_reads(&tcp);
            short_reads(&plain);
            let c = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            pipe(rustls::StreamOwned::new(c, tcp), plain);
        }
    });
    addr
}

#[test]
fn tls_collector_with_skipverify() {
    let Some(bin) = reader_binary("tls_collector_with_skipverify") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let reader = Reader::start(&bin, &["-l", &format!("127.0.0.1:{port}")], dir.path());
    let p = pki("collector.test");
    let tls = tls_terminator(&p, port);
    let corefile = format!(
        ".:{{PORT}} {{\n    dnstap tls://{tls} full {{\n        skipverify\n    }}\n    whoami\n}}\n"
    );
    let s = Server::start(&corefile, &[]);
    let skip = connected(&s, &reader);
    let (_, client_port) = udp_from(s.addr(), "tls.example.org.", RecordType::TXT);
    let all = reader.wait(skip + 2);
    let got = &all[skip..];
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].get("type"), "CLIENT_QUERY");
    assert_eq!(got[0].get("query_port"), client_port.to_string());
    assert!(got[0].query_message.contains(";tls.example.org.\tIN\t TXT"));
    assert_eq!(got[1].get("type"), "CLIENT_RESPONSE");
    // Without skipverify the certificate (of a private CA) is refused.
    let corefile = format!(".:{{PORT}} {{\n    dnstap tls://{tls}\n    whoami\n}}\n");
    let s = Server::start(&corefile, &[]);
    let log = s.wait_log("No connection to dnstap endpoint");
    assert!(
        log.contains("[ERROR] plugin/dnstap: No connection to dnstap endpoint: "),
        "{log}"
    );
}

#[test]
fn tls_listener_serves_a_sink_with_a_certificate_of_its_ca() {
    let Some(bin) = reader_binary("tls_listener_serves_a_sink_with_a_certificate_of_its_ca") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let reader_port = free_port();
    let reader = Reader::start(
        &bin,
        &["-l", &format!("127.0.0.1:{reader_port}")],
        dir.path(),
    );
    let server = pki("localhost");
    let client = pki("sink.test");
    let listen = free_port();
    let corefile = format!(
        ".:{{PORT}} {{
    dnstap listen tls://127.0.0.1:{listen} full {{
        tls server.pem server.key ca.pem
    }}
    whoami
}}
"
    );
    let s = Server::start(
        &corefile,
        &[
            ("server.pem", &server.cert_pem),
            ("server.key", &server.key_pem),
            ("ca.pem", &client.ca_pem),
        ],
    );
    // The sink: TLS to ferrodns with the client certificate, the bytes on
    // to the reader.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(server.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(tls_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![client.cert.clone()], client.key.clone_key())
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let (tls, plain) = loop {
        let both = (
            TcpStream::connect(("127.0.0.1", listen)),
            TcpStream::connect(("127.0.0.1", reader_port)),
        );
        match both {
            (Ok(t), Ok(p)) => break (t, p),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => panic!("neither the listener nor the reader is there"),
        }
    };
    short_reads(&tls);
    short_reads(&plain);
    let name = ServerName::try_from("localhost").unwrap();
    let c = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    pipe(rustls::StreamOwned::new(c, tls), plain);
    let skip = connected(&s, &reader);
    let (_, client_port) = udp_from(s.addr(), "sink.example.org.", RecordType::A);
    let all = reader.wait(skip + 2);
    let got = &all[skip..];
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].get("type"), "CLIENT_QUERY");
    assert_eq!(got[0].get("query_port"), client_port.to_string());
    assert!(got[1].response_message.contains("sink.example.org."));
}

/// No reader needed: without a collector every message is dropped, and
/// the count is logged every 10 s, as CoreDNS logs it.
#[test]
fn drops_are_counted_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let corefile = format!(
        ".:{{PORT}} {{\n    dnstap {}\n    whoami\n}}\n",
        dir.path().join("nobody.sock").display()
    );
    let s = Server::start(&corefile, &[]);
    for _ in 0..3 {
        s.udp("example.org.", RecordType::A);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut log = s.stdout();
    while !log.contains("Dropped dnstap messages") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        log = s.stdout();
    }
    // A query and its reply for each of the three queries.
    assert!(
        log.contains("[WARNING] plugin/dnstap: Dropped dnstap messages: 6\n"),
        "{log}"
    );
}
