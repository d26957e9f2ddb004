//! Starts the real ferrodns binary on free ports and talks DNS to it over
//! real UDP and TCP sockets.
#![allow(dead_code)] // each test binary uses part of this

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrodns");

/// A port free for both UDP and TCP right now. Ports are handed out from a
/// per-process sequence (not the kernel's ephemeral range), so two tests of
/// one run never get the same port: ferrodns binds with SO_REUSEPORT, and a
/// second server on a port would silently share it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Above the kernel's ephemeral range (32768-60999 here): a port the OS
    // hands out for a connection or a forward's source port must not take
    // the one a test server is about to bind (seen once: "listen
    // [::]:48218: Address already in use", and every query unanswered);
    // and clear of the torture run's (10000-18999) and conformance's
    // (20000-49999) servers, which run right after these tests in CI.
    let base = 61_000 + (std::process::id() % 45) as u16 * 100;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 100;
        let free = UdpSocket::bind(("::", port)).is_ok() && TcpListener::bind(("::", port)).is_ok();
        if free {
            return port;
        }
    }
}

pub struct Server {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    stdout: PathBuf,
}

impl Server {
    /// Writes `corefile` and `files` (with `{PORT}` replaced) into a fresh
    /// directory, starts ferrodns there and waits until it answers.
    pub fn start(corefile: &str, files: &[(&str, &str)]) -> Server {
        Self::start_with(corefile, files, &[])
    }

    pub fn start_with(corefile: &str, files: &[(&str, &str)], env: &[(&str, &str)]) -> Server {
        Self::launch(corefile, files, env, None, &[])
    }

    /// With extra command-line flags (e.g. `-io uring`).
    pub fn start_args(corefile: &str, files: &[(&str, &str)], args: &[&str]) -> Server {
        Self::launch(corefile, files, &[], None, args)
    }

    /// A server whose Corefile names its own addresses: ready once
    /// `ready` accepts TCP connections.
    pub fn start_at(corefile: &str, files: &[(&str, &str)], ready: SocketAddr) -> Server {
        Self::launch(corefile, files, &[], Some(ready), &[])
    }

    /// [`Server::start_at`] with extra command-line flags.
    pub fn start_at_args(
        corefile: &str,
        files: &[(&str, &str)],
        ready: SocketAddr,
        args: &[&str],
    ) -> Server {
        Self::launch(corefile, files, &[], Some(ready), args)
    }

    fn launch(
        corefile: &str,
        files: &[(&str, &str)],
        env: &[(&str, &str)],
        ready: Option<SocketAddr>,
        args: &[&str],
    ) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        for (name, body) in files {
            let p = dir.path().join(name);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).unwrap();
            }
            std::fs::write(p, body.replace("{PORT}", &port.to_string())).unwrap();
        }
        let conf = dir.path().join("Corefile");
        std::fs::write(&conf, corefile.replace("{PORT}", &port.to_string())).unwrap();
        let stdout = dir.path().join("stdout.log");
        let child = Command::new(BIN)
            .arg("-conf")
            .arg(&conf)
            .args(args)
            .current_dir(dir.path())
            .envs(env.iter().copied())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ferrodns");
        let mut s = Server {
            child,
            port,
            dir,
            stdout,
        };
        s.wait_ready(ready.unwrap_or(SocketAddr::from(([127, 0, 0, 1], port))));
        s
    }

    fn wait_ready(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("ferrodns exited early: {status}\n{}", self.stdout());
            }
            if TcpStream::connect(addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("ferrodns did not start listening on {addr}");
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig` to the server.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Waits up to `secs` for the server to exit; its exit code.
    pub fn wait_exit(&mut self, secs: u64) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Waits until the server's standard output holds `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.stdout();
            if out.contains(needle) || Instant::now() > deadline {
                return out;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn udp(&self, name: &str, qtype: RecordType) -> Message {
        udp(self.addr(), &query(name, qtype))
    }

    pub fn tcp(&self, name: &str, qtype: RecordType) -> Message {
        tcp(self.addr(), &query(name, qtype))
    }

    /// The same question over UDP and over TCP; both replies.
    pub fn both(&self, name: &str, qtype: RecordType) -> [Message; 2] {
        [self.udp(name, qtype), self.tcp(name, qtype)]
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A recursive-desired query with a random ID and no EDNS.
pub fn query(name: &str, qtype: RecordType) -> Message {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.queries
        .push(Query::query(Name::from_ascii(name).unwrap(), qtype));
    m
}

pub fn with_class(mut m: Message, class: DNSClass) -> Message {
    m.queries[0].set_query_class(class);
    m
}

pub fn with_edns(mut m: Message, size: u16, dnssec_ok: bool) -> Message {
    let mut e = Edns::new();
    e.set_max_payload(size);
    e.set_dnssec_ok(dnssec_ok);
    m.edns = Some(e);
    m
}

fn rand_id() -> u16 {
    rand::random()
}

/// Sends raw bytes over UDP; the reply's bytes, or None after `wait`.
pub fn udp_raw(addr: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(bytes, addr).unwrap();
    let mut buf = vec![0u8; 65535];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

/// One query over UDP; asked twice, as a stub resolver would, before the
/// test gives up (a loaded CI machine may drop a datagram).
pub fn udp(addr: SocketAddr, q: &Message) -> Message {
    let wire = q.to_vec().unwrap();
    let bytes = udp_raw(addr, &wire, Duration::from_secs(3))
        .or_else(|| udp_raw(addr, &wire, Duration::from_secs(3)))
        .expect("udp reply");
    let m = Message::from_vec(&bytes).expect("reply parses");
    assert_eq!(m.metadata.id, q.metadata.id, "reply ID matches");
    m
}

/// One message over a fresh TCP connection.
pub fn tcp(addr: SocketAddr, q: &Message) -> Message {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    tcp_send(&mut s, &q.to_vec().unwrap());
    let m = Message::from_vec(&tcp_recv(&mut s).expect("tcp reply")).expect("reply parses");
    assert_eq!(m.metadata.id, q.metadata.id);
    m
}

pub fn tcp_send(s: &mut TcpStream, bytes: &[u8]) {
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).unwrap();
}

pub fn tcp_recv(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).ok()?;
    Some(buf)
}

/// The answer section as `name ttl type rdata` lines.
pub fn answers(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

pub fn section(rs: &[hickory_proto::rr::Record]) -> Vec<String> {
    rs.iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

pub fn write_file(p: &Path, body: &str) {
    std::fs::write(p, body).unwrap();
}

/// GET `path` from 127.0.0.1:`port`: status, head and body.
pub fn http_get(port: u16, path: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a head");
    let status = head[9..12].parse().unwrap();
    (status, head.to_string(), body.to_string())
}

/// A private CA and a certificate it signed for a name (and 127.0.0.1).
pub struct Pki {
    pub ca_pem: String,
    pub cert: rustls::pki_types::CertificateDer<'static>,
    pub key: rustls::pki_types::PrivateKeyDer<'static>,
    pub cert_pem: String,
    pub key_pem: String,
}

pub fn pki(name: &str) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string(), "127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        cert: cert.der().clone(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// The OPTs raw-path tests ask with (UDP size, DO): none, the classic
/// size, a common one with DO, and one smaller than most answers.
pub const RAW_OPTS: [Option<(u16, bool)>; 4] = [
    None,
    Some((512, false)),
    Some((1232, true)),
    Some((300, true)),
];

/// The raw bytes of a query: `opt` (UDP size, DO).
pub fn raw_query(id: u16, name: &str, qtype: RecordType, opt: Option<(u16, bool)>) -> Vec<u8> {
    let mut q = query(name, qtype);
    q.metadata.id = id;
    if let Some((size, dnssec)) = opt {
        q = with_edns(q, size, dnssec);
    }
    let mut b = q.to_vec().unwrap();
    // Hickory raises a UDP size under 512 when it writes; put it back.
    if let Some((size, _)) = opt.filter(|(s, _)| *s < 512) {
        let at = b.len() - 8;
        b[at..at + 2].copy_from_slice(&size.to_be_bytes());
    }
    b
}

/// A question to a server under test.
pub fn ask(
    s: &Server,
    name: &str,
    qtype: hickory_proto::rr::RecordType,
) -> hickory_proto::op::Message {
    udp(s.addr(), &query(name, qtype))
}

/// Asks until `ok` holds for the reply, for at most `within`; the last reply.
pub fn until(
    s: &Server,
    name: &str,
    qtype: hickory_proto::rr::RecordType,
    within: std::time::Duration,
    ok: impl Fn(&hickory_proto::op::Message) -> bool,
) -> hickory_proto::op::Message {
    let start = std::time::Instant::now();
    loop {
        let m = ask(s, name, qtype);
        if ok(&m) {
            return m;
        }
        assert!(
            start.elapsed() < within,
            "{name} {qtype}: not as expected within {within:?}: {:?} {:?}",
            m.metadata.response_code,
            answers(&m)
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
