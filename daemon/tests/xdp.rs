//! The XDP program in the real kernel (feature `xdp`; needs root): two
//! network namespaces joined by a veth pair, the real ferrodns binary in
//! one with a cache in front of a zone it forwards to, the program loaded
//! by `ferrodns::xdp` and attached to the server's end, queries from the
//! other namespace. For each query the map gets an entry made from the
//! reply userspace gave for one query of its kind; the kernel's answer to
//! another query of that kind must be byte for byte what userspace answers
//! that same query (TTLs within a second), with right checksums, counted
//! as the kernel's; what the entry does not cover, and anything malformed,
//! must pass to userspace. Native and generic mode both.
//!
//! Without root, `ip` or `ethtool`, each test says SKIPPED and why.
#![cfg(feature = "xdp")]

use ferrodns::wire::fast::{Cursor, Simple};
use ferrodns::xdp::{self, counter, Counters, Mode, Program, Timing, Variant};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrodns");
/// The listeners' group in the program's keys.
const GROUP: u32 = 1;
// The benchmarking ranges (RFC 2544, RFC 5180), inside our namespaces only.
const SRV4: &str = "198.18.0.1";
const CLI4: &str = "198.18.0.2";
const SRV6: &str = "2001:2::1";
const CLI6: &str = "2001:2::2";
/// The tag of queries sent as 802.1Q frames (raw: kernels without the
/// 8021q module have no VLAN interfaces, and the program reads the tag
/// from the frame either way).
const VLAN: u16 = 5;
const SRV4_53: &str = "198.18.0.1:53";
const SRV6_53: &str = "[2001:2::1]:53";

const ZONE: &str = "$ORIGIN example.org.
@       3600 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300
@       3600 IN NS  ns
ns       300 IN A   198.18.0.1
www      300 IN A   192.0.2.1
www      300 IN A   192.0.2.2
www      300 IN AAAA 2001:db8::1
alias    300 IN CNAME alias2
alias2   300 IN CNAME www
MiXeD    300 IN A   192.0.2.9
big      300 IN TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"
big      300 IN TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"
big      300 IN TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"
big      300 IN TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"
big      300 IN TXT \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"
big      300 IN TXT \"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"
";

/// Says why a test does not run: on stderr itself, which the test
/// harness does not capture, so that it shows in every run.
fn skipped(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Whether this machine can run the tests; else says so.
fn can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skipped(test, "not root (network namespaces, BPF)");
        return false;
    }
    for tool in ["ip", "ethtool"] {
        let found = Command::new(tool)
            .arg("-V")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            skipped(test, &format!("no `{tool}` command"));
            return false;
        }
    }
    true
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh_out(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces (server and client) joined by veth `s0` - `c0`, with
/// IPv4 and IPv6; deleted (and every interface in them)
/// when dropped, also after a failed assertion.
struct Net {
    srv: String,
    cli: String,
}

impl Net {
    fn new() -> Net {
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let net = Net {
            srv: format!("fdxdp-s-{id}"),
            cli: format!("fdxdp-c-{id}"),
        };
        sh(&["ip", "netns", "add", &net.srv]);
        sh(&["ip", "netns", "add", &net.cli]);
        let (srv, cli) = (net.srv.as_str(), net.cli.as_str());
        sh(&[
            "ip", "link", "add", "s0", "netns", srv, "type", "veth", "peer", "name", "c0", "netns",
            cli,
        ]);
        for (ns, dev, v4, v6) in [(srv, "s0", SRV4, SRV6), (cli, "c0", CLI4, CLI6)] {
            let ip = |args: &[&str]| sh(&[&["ip", "-n", ns], args].concat());
            ip(&["addr", "add", &format!("{v4}/24"), "dev", dev]);
            ip(&["addr", "add", &format!("{v6}/64"), "dev", dev, "nodad"]);
            for d in ["lo", dev] {
                ip(&["link", "set", d, "up"]);
            }
        }
        // The client's end: GRO on, so that it takes frames its peer sends
        // with XDP_TX (it runs no XDP program itself); checksums made and
        // checked in software, so that the program sees full checksums as
        // from a NIC and the client's kernel checks what the program wrote.
        sh(&[
            "ip", "netns", "exec", cli, "ethtool", "-K", "c0", "gro", "on", "rx", "off", "tx",
            "off",
        ]);
        net
    }

    fn mac(&self, ns: &str, dev: &str) -> [u8; 6] {
        let out = sh_out(&["ip", "-n", ns, "-o", "link", "show", "dev", dev]);
        let at = out.find("link/ether ").expect("a MAC") + "link/ether ".len();
        let mut mac = [0u8; 6];
        for (m, h) in mac.iter_mut().zip(out[at..at + 17].split(':')) {
            *m = u8::from_str_radix(h, 16).unwrap();
        }
        mac
    }

    /// Whether an XDP program is attached to the server's end.
    fn xdp_attached(&self) -> bool {
        sh_out(&["ip", "-n", &self.srv, "link", "show", "dev", "s0"]).contains("prog/xdp")
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.srv, &self.cli] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Runs `f` on a thread in network namespace `ns` (sockets and interfaces
/// it opens stay in that namespace).
fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns(2) on this thread with a namespace's descriptor.
        let r = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap()
}

/// ferrodns in the server namespace: a cache in front of the zone,
/// which a second block serves on loopback.
struct Server {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(ns: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let zone = dir.path().join("db.example.org");
        std::fs::write(&zone, ZONE).unwrap();
        let conf = dir.path().join("Corefile");
        std::fs::write(
            &conf,
            format!(
                ".:53 {{\n    cache\n    forward . 127.0.0.1:5300\n}}\nexample.org:5300 {{\n    bind 127.0.0.1\n    file {}\n}}\n",
                zone.display()
            ),
        )
        .unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", ns, BIN, "-conf"])
            .arg(&conf)
            .stdout(Stdio::null())
            .spawn()
            .expect("start ferrodns");
        Server { child, _dir: dir }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An AF_PACKET socket on the client's end: sends raw frames and reads
/// what arrives.
struct Capture(OwnedFd);

impl Capture {
    fn open(ns: &str) -> Capture {
        in_ns(ns, || {
            let all = (libc::ETH_P_ALL as u16).to_be();
            // SAFETY: socket(2) with constant arguments.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_NONBLOCK,
                    i32::from(all),
                )
            };
            assert!(
                fd >= 0,
                "packet socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: a descriptor we just opened.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: a NUL-terminated name.
            let ifindex = unsafe { libc::if_nametoindex(c"c0".as_ptr()) };
            // SAFETY: sockaddr_ll is plain data; all zeros is a value.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = all;
            sll.sll_ifindex = ifindex as i32;
            // SAFETY: bind(2) with the address above and its size.
            let r = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            assert_eq!(
                r,
                0,
                "bind packet socket: {}",
                std::io::Error::last_os_error()
            );
            let on: libc::c_int = 1;
            // SAFETY: setsockopt(2) with an int that lives across the call.
            let r = unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    libc::SOL_PACKET,
                    libc::PACKET_AUXDATA,
                    (&on as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as u32,
                )
            };
            assert_eq!(r, 0, "PACKET_AUXDATA: {}", std::io::Error::last_os_error());
            Capture(fd)
        })
    }

    /// Sends `frame`, waiting while the interface's queue is full.
    fn send_waiting(&self, frame: &[u8]) {
        loop {
            // SAFETY: send(2) of a buffer that lives across the call.
            let n =
                unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
            if n == frame.len() as isize {
                return;
            }
            let e = std::io::Error::last_os_error();
            let full = [libc::ENOBUFS, libc::EAGAIN].map(Some);
            assert!(full.contains(&e.raw_os_error()), "{e}");
            std::thread::yield_now();
        }
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: send(2) of a buffer that lives across the call.
        let n = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(
            n,
            frame.len() as isize,
            "{}",
            std::io::Error::last_os_error()
        );
    }

    /// The frames that arrived since the last call, each with the VLAN
    /// tag the receiving kernel took off it, if any.
    fn incoming(&self) -> Vec<(Vec<u8>, Option<u16>)> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 4096];
        let mut control = [0u64; 16];
        loop {
            // SAFETY: plain data; all zeros is a value.
            let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            };
            // SAFETY: as above.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control);
            // SAFETY: recvmsg(2) into the buffers above, all live and sized.
            let n = unsafe { libc::recvmsg(self.0.as_raw_fd(), &mut msg, 0) };
            if n < 0 {
                return out;
            }
            if sll.sll_pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let mut tag = None;
            // SAFETY: walking the control messages recvmsg wrote, with the
            // kernel's own macros; PACKET_AUXDATA's payload is a
            // tpacket_auxdata.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&msg);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_PACKET && (*c).cmsg_type == libc::PACKET_AUXDATA
                    {
                        let aux: libc::tpacket_auxdata =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                        if aux.tp_status & TP_STATUS_VLAN_VALID != 0 {
                            tag = Some(aux.tp_vlan_tci & 0x0FFF);
                        }
                    }
                    c = libc::CMSG_NXTHDR(&msg, c);
                }
            }
            out.push((buf[..n as usize].to_vec(), tag));
        }
    }

    /// The DNS replies (UDP from port 53) that arrived since the last
    /// call, their checksums checked, with their frames' VLAN tags.
    fn replies(&self) -> Vec<(Vec<u8>, Option<u16>)> {
        self.incoming()
            .into_iter()
            .filter_map(|(f, tag)| checked_payload(&f).map(|p| (p, tag)))
            .collect()
    }
}

/// linux/if_packet.h: the auxdata's VLAN fields are set.
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;

/// The one's complement sum of `b` as big-endian words.
fn sum(b: &[u8]) -> u32 {
    b.chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum()
}

fn folds_to_ones(mut s: u32) -> bool {
    while s >> 16 != 0 {
        s = (s & 0xFFFF) + (s >> 16);
    }
    s == 0xFFFF
}

/// A received frame's UDP payload from port 53, once its IPv4 header
/// checksum and UDP checksum (IPv4 or IPv6) are checked; None for frames
/// that are not UDP from port 53.
fn checked_payload(f: &[u8]) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut etype = u16::from_be_bytes([f[at], f[at + 1]]);
    if etype == 0x8100 {
        at += 4;
        etype = u16::from_be_bytes([f[at], f[at + 1]]);
    }
    let ip = at + 2;
    let (udp, pseudo) = match etype {
        0x0800 if f[ip + 9] == 17 => {
            assert!(folds_to_ones(sum(&f[ip..ip + 20])), "IPv4 header checksum");
            let len = u16::from_be_bytes([f[ip + 2], f[ip + 3]]) as usize - 20;
            (ip + 20, sum(&f[ip + 12..ip + 20]) + 17 + len as u32)
        }
        0x86DD if f[ip + 6] == 17 => {
            let len = u16::from_be_bytes([f[ip + 4], f[ip + 5]]) as u32;
            (ip + 40, sum(&f[ip + 8..ip + 40]) + 17 + len)
        }
        _ => return None,
    };
    if u16::from_be_bytes([f[udp], f[udp + 1]]) != 53 {
        return None;
    }
    let len = u16::from_be_bytes([f[udp + 4], f[udp + 5]]) as usize;
    let datagram = &f[udp..udp + len];
    assert!(
        folds_to_ones(pseudo + sum(datagram)),
        "UDP checksum of {datagram:02x?}"
    );
    Some(datagram[8..].to_vec())
}

/// How a query goes to the server.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    V4,
    V6,
    Vlan,
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for l in name.split('.').filter(|l| !l.is_empty()) {
        w.push(l.len() as u8);
        w.extend_from_slice(l.as_bytes());
    }
    w.push(0);
    w
}

/// A query's bytes: `flags` (RD, AD, CD), an OPT of `size` and `flags`.
fn query(id: u16, flags: u16, name: &str, qtype: u16, opt: Option<(u16, u16)>) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&flags.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(opt.is_some())]);
    q.extend(wire_name(name));
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    if let Some((size, f)) = opt {
        let [s0, s1] = size.to_be_bytes();
        let [f0, f1] = f.to_be_bytes();
        q.extend_from_slice(&[0, 0, 41, s0, s1, 0, 0, f0, f1, 0, 0]);
    }
    q
}

const RD: u16 = 0x0100;
const AD: u16 = 0x0020;
const CD: u16 = 0x0010;
const DO: u16 = 0x8000;
const A: u16 = 1;
const AAAA: u16 = 28;
const MX: u16 = 15;
const TXT: u16 = 16;

/// Everything one test needs: the namespaces, the server, the program
/// attached to the server's end, the client's sockets.
struct Env {
    prog: Program,
    _peer: Program,
    _server: Server,
    v4: UdpSocket,
    v6: UdpSocket,
    cap: Capture,
    /// A raw frame from the client's end to the server's.
    frame: Frame,
    mode: Mode,
    _net: Net,
}

impl Env {
    /// None (said loudly) where the tests cannot run here.
    fn new(test: &str, mode: Mode) -> Option<Env> {
        if !can_run(test) {
            return None;
        }
        let net = Net::new();
        let prog = match Program::load(64) {
            Ok(p) => p,
            Err(e) if e.to_string().contains("CAP_BPF") => {
                skipped(test, &e.to_string());
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        let (prog, used) = in_ns(&net.srv, move || {
            let mut prog = prog;
            let used = prog.attach("s0", mode).unwrap_or_else(|e| panic!("{e}"));
            (prog, used)
        });
        // veth hands frames sent with XDP_TX to its peer's queue, and runs
        // that queue at once only when the peer runs XDP too (GRO alone
        // leaves a reply waiting for the next packet): the program again,
        // with no listeners, so it passes everything.
        let peer = in_ns(&net.cli, move || {
            let mut p = Program::load(1).unwrap();
            p.attach("c0", Mode::Native)
                .unwrap_or_else(|e| panic!("{e}"));
            p
        });
        assert!(net.xdp_attached());
        let mut prog = prog;
        prog.set_listeners(&[
            ("0.0.0.0:53".parse().unwrap(), GROUP),
            ("[::]:53".parse().unwrap(), GROUP),
        ])
        .unwrap();
        let mut server = Server::start(&net.srv);
        let (v4, v6) = in_ns(&net.cli, || {
            let s = |a: &str| {
                let s = UdpSocket::bind(a).unwrap();
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
                s
            };
            (s(&format!("{CLI4}:0")), s(&format!("[{CLI6}]:0")))
        });
        // Ready once it answers on every way in.
        for (sock, to) in [(&v4, SRV4_53), (&v6, SRV6_53)] {
            let deadline = Instant::now() + Duration::from_secs(10);
            let to: SocketAddr = to.parse().unwrap();
            while ask(sock, to, &query(1, RD, "ns.example.org.", A, None)).is_none() {
                if let Some(st) = server.child.try_wait().unwrap() {
                    panic!("ferrodns exited: {st}");
                }
                assert!(
                    Instant::now() < deadline,
                    "ferrodns does not answer at {to}"
                );
            }
        }
        let cap = Capture::open(&net.cli);
        let frame = Frame::to_server(&net);
        Some(Env {
            prog,
            _peer: peer,
            _server: server,
            v4,
            v6,
            cap,
            frame,
            mode: used,
            _net: net,
        })
    }

    /// Sends `q` and waits for its reply: over UDP sockets, or as a raw
    /// 802.1Q frame whose reply must come back tagged alike.
    fn ask(&self, via: Via, q: &[u8]) -> Option<Vec<u8>> {
        let (s, to) = match via {
            Via::V4 => (&self.v4, SRV4_53),
            Via::V6 => (&self.v6, SRV6_53),
            Via::Vlan => {
                self.cap.incoming();
                let f = Frame {
                    vlan: Some(VLAN),
                    payload: q.to_vec(),
                    ..self.frame.clone()
                };
                self.cap.send(&f.bytes());
                let deadline = Instant::now() + Duration::from_secs(1);
                while Instant::now() < deadline {
                    for (reply, tag) in self.cap.replies() {
                        if reply[..2] == q[..2] {
                            assert_eq!(tag, Some(VLAN), "the reply's tag");
                            return Some(reply);
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                return None;
            }
        };
        ask(s, to.parse().unwrap(), q)
    }

    fn counters(&self) -> Counters {
        self.prog.counters().unwrap()
    }

    /// The key and entry for `q`'s kind from userspace's reply to it (a
    /// cache hit: `q` is asked twice, the first fills the cache).
    fn entry_from_userspace(&self, via: Via, q: &[u8]) -> (xdp::Key, Box<xdp::Entry>) {
        let via = userspace_way(via);
        self.ask(via, q).expect("userspace answers");
        let before = xdp::monotonic(Instant::now());
        let reply = self.ask(via, q).expect("userspace answers from its cache");
        let v = Variant::of(&Simple::parse(q).unwrap());
        let timing = Timing {
            stored_ns: before,
            orig_ttl: first_ttl(&reply),
            keep_ttl: false,
            expires_ns: u64::MAX,
        };
        xdp::build(GROUP, &reply, v, &timing, None).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Sends `q` to `to` and waits for the reply with its ID (a second at most).
fn ask(s: &UdpSocket, to: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    s.send_to(q, to).unwrap();
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            if from == to && n >= 2 && buf[..2] == q[..2] {
                return Some(buf[..n].to_vec());
            }
        }
    }
    None
}

/// How userspace is asked what the kernel answers `via`: tagged frames
/// (which a kernel without 8021q drops) as plain IPv4.
fn userspace_way(via: Via) -> Via {
    match via {
        Via::Vlan => Via::V4,
        v => v,
    }
}

/// The TTL of a reply's first record (every record has the same).
fn first_ttl(reply: &[u8]) -> u32 {
    let mut c = Cursor::new(reply, false).unwrap();
    let r = c.next(reply).expect("a record");
    u32::from_be_bytes(reply[r.at + 4..r.at + 8].try_into().unwrap())
}

/// Asserts `got` is `want` but for TTLs, which may differ by a second.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    let (mut g, mut w) = (got.to_vec(), want.to_vec());
    for (m, o) in [(&mut g, got), (&mut w, want)] {
        let mut c = Cursor::new(o, false).unwrap();
        while let Some(r) = c.next(o) {
            if r.rtype != 41 {
                m[r.at + 4..r.at + 8].fill(0);
            }
        }
    }
    assert_eq!(g, w, "{what}: kernel {got:02x?}\nuserspace {want:02x?}");
    let (mut cg, mut cw) = (
        Cursor::new(got, false).unwrap(),
        Cursor::new(want, false).unwrap(),
    );
    while let (Some(a), Some(b)) = (cg.next(got), cw.next(want)) {
        let ttl = |m: &[u8], at: usize| u32::from_be_bytes(m[at + 4..at + 8].try_into().unwrap());
        assert!(
            ttl(got, a.at).abs_diff(ttl(want, b.at)) <= 1,
            "{what}: TTL {} against {}",
            ttl(got, a.at),
            ttl(want, b.at)
        );
    }
}

/// Waits (two seconds at most) until counter `i` is past `before`'s; the
/// counters then.
fn wait_for(env: &Env, before: &Counters, i: u32) -> Counters {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let now = env.counters();
        if now.get(i) > before.get(i) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The counters that are not zero, by name (for failures).
fn named(c: &Counters) -> Vec<(&'static str, u64)> {
    c.named().filter(|(_, n)| *n > 0).collect()
}

fn delta(after: &Counters, before: &Counters, i: u32) -> u64 {
    after.get(i) - before.get(i)
}

/// One kind of query: asked once for the entry, then as another query of
/// the same kind (other ID, RD, OPT size and Z bits) of the kernel and,
/// the entry taken out, of userspace.
struct Case {
    name: &'static str,
    qtype: u16,
    flags: u16,
    opt: Option<(u16, u16)>,
    via: Via,
    what: &'static str,
}

fn kernel_answers_as_userspace(test: &str, mode: Mode) {
    let Some(mut env) = Env::new(test, mode) else {
        return;
    };
    assert_eq!(env.mode, mode);
    let cases = [
        Case {
            name: "www.example.org.",
            qtype: A,
            flags: RD,
            opt: None,
            via: Via::V4,
            what: "A",
        },
        Case {
            name: "www.example.org.",
            qtype: AAAA,
            flags: RD,
            opt: Some((1232, 0)),
            via: Via::V4,
            what: "AAAA with OPT",
        },
        Case {
            name: "alias.example.org.",
            qtype: A,
            flags: RD,
            opt: Some((1232, DO)),
            via: Via::V4,
            what: "CNAME chain, DO",
        },
        Case {
            name: "nope.example.org.",
            qtype: A,
            flags: RD,
            opt: Some((4096, 0)),
            via: Via::V4,
            what: "NXDOMAIN with SOA",
        },
        Case {
            name: "www.example.org.",
            qtype: MX,
            flags: 0,
            opt: None,
            via: Via::V4,
            what: "NODATA with SOA",
        },
        Case {
            name: "MiXeD.ExAmPlE.OrG.",
            qtype: A,
            flags: RD,
            opt: Some((1232, 0)),
            via: Via::V4,
            what: "mixed case",
        },
        Case {
            name: "www.example.org.",
            qtype: A,
            flags: RD | AD,
            opt: None,
            via: Via::V4,
            what: "AD",
        },
        Case {
            name: "www.example.org.",
            qtype: AAAA,
            flags: RD | CD,
            opt: Some((1232, DO)),
            via: Via::V4,
            what: "CD, DO",
        },
        Case {
            name: "www.example.org.",
            qtype: A,
            flags: RD,
            opt: Some((1232, 0)),
            via: Via::V6,
            what: "IPv6",
        },
        Case {
            name: "alias.example.org.",
            qtype: AAAA,
            flags: 0,
            opt: None,
            via: Via::V6,
            what: "IPv6 CNAME chain",
        },
        Case {
            name: "nope.example.org.",
            qtype: AAAA,
            flags: RD,
            opt: None,
            via: Via::V6,
            what: "IPv6 NXDOMAIN",
        },
        Case {
            name: "www.example.org.",
            qtype: A,
            flags: RD,
            opt: Some((1232, DO)),
            via: Via::Vlan,
            what: "VLAN",
        },
        Case {
            name: "big.example.org.",
            qtype: TXT,
            flags: RD,
            opt: Some((4096, 0)),
            via: Via::V4,
            what: "large TXT",
        },
    ];
    for (n, c) in cases.iter().enumerate() {
        let what = format!("{} ({mode})", c.what);
        let id = 1000 + 10 * n as u16;
        let (key, entry) =
            env.entry_from_userspace(c.via, &query(id, c.flags, c.name, c.qtype, c.opt));
        env.prog.insert(&key, &entry).unwrap();
        // Another query of the kind: RD flipped, another OPT size (one
        // under 512, mirrored as sent) and a Z bit.
        let size = if n % 2 == 0 { 300 } else { 4000 };
        let other = query(
            id + 1,
            c.flags ^ RD,
            c.name,
            c.qtype,
            c.opt
                .map(|(_, f)| (if c.qtype == TXT { 1400 } else { size }, f | 0x0100)),
        );
        let before = env.counters();
        env.cap.incoming();
        let kernel = env
            .ask(c.via, &other)
            .unwrap_or_else(|| panic!("{what}: no answer; {:?}", named(&env.counters())));
        let after = env.counters();
        if c.qtype == TXT && delta(&after, &before, counter::PASS_NO_ROOM) == 1 {
            // veth and generic mode copy a frame into a buffer its size:
            // past the 256 bytes of headroom the reply does not fit there,
            // and userspace answers. (NICs in native mode hand over pages.)
            println!(
                "{what}: a {}-byte reply has no room in a {mode} veth frame: passed to userspace",
                entry.reply_len
            );
            assert_eq!(delta(&after, &before, counter::ANSWERED), 0);
            assert!(env.prog.remove(&key).unwrap());
            continue;
        }
        assert_eq!(
            delta(&after, &before, counter::ANSWERED),
            1,
            "{what}: answered in the kernel; {:?}",
            named(&after)
        );
        let hits = env.prog.hits(&key).unwrap().unwrap();
        let v6 = c.via == Via::V6;
        assert_eq!(
            (hits.v4, hits.v6),
            (u64::from(!v6), u64::from(v6)),
            "{what}: hits"
        );
        if c.via != Via::Vlan {
            let replies: Vec<Vec<u8>> = env.cap.replies().into_iter().map(|(r, _)| r).collect();
            assert!(
                replies.contains(&kernel),
                "{what}: the kernel's frame, checksums checked"
            );
        }
        // The same query, the entry out: userspace's answer.
        assert!(env.prog.remove(&key).unwrap());
        let before = env.counters();
        let user = env
            .ask(userspace_way(c.via), &other)
            .unwrap_or_else(|| panic!("{what}: no answer from userspace"));
        let after = env.counters();
        assert_eq!(
            delta(&after, &before, counter::ANSWERED),
            0,
            "{what}: userspace answered"
        );
        assert_eq!(delta(&after, &before, counter::PASS_NO_ENTRY), 1, "{what}");
        assert_same(&kernel, &user, &what);
    }
    assert!(env.prog.is_empty());
}

#[test]
fn kernel_answers_as_userspace_native() {
    kernel_answers_as_userspace("kernel_answers_as_userspace_native", Mode::Native);
}

#[test]
fn kernel_answers_as_userspace_generic() {
    kernel_answers_as_userspace("kernel_answers_as_userspace_generic", Mode::Generic);
}

/// Expired entries, absent ones, another case of the name and replies
/// larger than the client takes pass to userspace, which answers.
#[test]
fn what_the_entry_does_not_cover_passes() {
    let test = "what_the_entry_does_not_cover_passes";
    let Some(mut env) = Env::new(test, Mode::Auto) else {
        return;
    };
    let q = query(7, RD, "MiXeD.example.org.", A, None);
    let (key, entry) = env.entry_from_userspace(Via::V4, &q);
    fn passes(env: &Env, q: &[u8], reason: u32, what: &str) -> Option<Vec<u8>> {
        let before = env.counters();
        let reply = env.ask(Via::V4, q);
        let after = wait_for(env, &before, reason);
        assert_eq!(delta(&after, &before, counter::ANSWERED), 0, "{what}");
        assert_eq!(delta(&after, &before, reason), 1, "{what}");
        reply
    }
    // Absent.
    assert!(passes(&env, &q, counter::PASS_NO_ENTRY, "absent").is_some());
    // Expired: stored longer ago than its TTL, or past its own bound.
    let mut old = entry.clone();
    old.stored_ns = xdp::monotonic(Instant::now()) - (u64::from(old.orig_ttl) + 1) * 1_000_000_000;
    env.prog.insert(&key, &old).unwrap();
    assert!(passes(&env, &q, counter::PASS_EXPIRED, "TTL ran out").is_some());
    let mut bounded = entry.clone();
    bounded.expires_ns = xdp::monotonic(Instant::now());
    env.prog.insert(&key, &bounded).unwrap();
    assert!(passes(&env, &q, counter::PASS_EXPIRED, "past its bound").is_some());
    // Another case: userspace's chain answers it.
    env.prog.insert(&key, &entry).unwrap();
    let lower = query(8, RD, "mixed.example.org.", A, None);
    assert!(passes(&env, &lower, counter::PASS_CASE, "another case").is_some());
    // The entry itself still answers.
    let before = env.counters();
    env.ask(Via::V4, &query(9, 0, "MiXeD.example.org.", A, None))
        .unwrap();
    assert_eq!(delta(&env.counters(), &before, counter::ANSWERED), 1);
    // A reply larger than the client's UDP size.
    let big = query(10, RD, "big.example.org.", TXT, Some((4096, 0)));
    let (bkey, bentry) = env.entry_from_userspace(Via::V4, &big);
    assert!(bentry.reply_len > 512);
    env.prog.insert(&bkey, &bentry).unwrap();
    passes(
        &env,
        &query(11, RD, "big.example.org.", TXT, Some((512, 0))),
        counter::PASS_TOO_BIG,
        "too big",
    );
    // Queries to an address that is no listener pass.
    env.prog
        .set_listeners(&[(SRV6_53.parse().unwrap(), GROUP)])
        .unwrap();
    assert!(passes(&env, &q, counter::PASS_NOT_LISTENER, "not a listener").is_some());
    // An entry of another group does not answer this one's queries.
    env.prog
        .set_listeners(&[("0.0.0.0:53".parse().unwrap(), GROUP + 1)])
        .unwrap();
    assert!(passes(&env, &q, counter::PASS_NO_ENTRY, "another group").is_some());
    env.prog.clear().unwrap();
    assert!(env.prog.is_empty());
}

/// A raw IPv4 or IPv6 frame from the client's end to the server's.
#[derive(Clone)]
struct Frame {
    dst: [u8; 6],
    src: [u8; 6],
    vlan: Option<u16>,
    v6: bool,
    proto: u8,
    dport: u16,
    payload: Vec<u8>,
    ip_options: bool,
    fragment: bool,
    bad_ip_checksum: bool,
    hop_by_hop: bool,
    /// Added to the UDP length field.
    udp_len_delta: i32,
    /// Bytes after the IP datagram (Ethernet padding, or junk).
    trailer: Vec<u8>,
    ethertype: Option<u16>,
}

impl Frame {
    /// A plain IPv4 UDP frame from the client's end to the server's
    /// port 53, without payload.
    fn to_server(net: &Net) -> Frame {
        Frame {
            dst: net.mac(&net.srv, "s0"),
            src: net.mac(&net.cli, "c0"),
            vlan: None,
            v6: false,
            proto: 17,
            dport: 53,
            payload: Vec::new(),
            ip_options: false,
            fragment: false,
            bad_ip_checksum: false,
            hop_by_hop: false,
            udp_len_delta: 0,
            trailer: Vec::new(),
            ethertype: None,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut f = self.dst.to_vec();
        f.extend_from_slice(&self.src);
        if let Some(v) = self.vlan {
            f.extend_from_slice(&[0x81, 0x00]);
            f.extend_from_slice(&v.to_be_bytes());
        }
        let etype = self
            .ethertype
            .unwrap_or(if self.v6 { 0x86DD } else { 0x0800 });
        f.extend_from_slice(&etype.to_be_bytes());
        let (sip, dip): (IpAddr, IpAddr) = if self.v6 {
            (CLI6.parse().unwrap(), SRV6.parse().unwrap())
        } else {
            (CLI4.parse().unwrap(), SRV4.parse().unwrap())
        };
        let octets = |a: IpAddr| match a {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        let (s, d) = (octets(sip), octets(dip));
        let mut udp = 40000u16.to_be_bytes().to_vec();
        udp.extend_from_slice(&self.dport.to_be_bytes());
        let udp_len = (8 + self.payload.len()) as i32 + self.udp_len_delta;
        udp.extend_from_slice(&(udp_len as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(&self.payload);
        let pseudo = sum(&s) + sum(&d) + u32::from(self.proto) + udp.len() as u32;
        let mut c = pseudo + sum(&udp);
        while c >> 16 != 0 {
            c = (c & 0xFFFF) + (c >> 16);
        }
        udp[6..8].copy_from_slice(&(!(c as u16)).to_be_bytes());
        if self.v6 {
            let ext = if self.hop_by_hop { 8 } else { 0 };
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&((udp.len() + ext) as u16).to_be_bytes());
            f.push(if self.hop_by_hop { 0 } else { self.proto });
            f.push(64);
            f.extend_from_slice(&s);
            f.extend_from_slice(&d);
            if self.hop_by_hop {
                f.extend_from_slice(&[self.proto, 0, 1, 4, 0, 0, 0, 0]);
            }
        } else {
            let opts = if self.ip_options { 4 } else { 0 };
            let mut ip = vec![0x45 + opts as u8 / 4, 0];
            ip.extend_from_slice(&((20 + opts + udp.len()) as u16).to_be_bytes());
            ip.extend_from_slice(&[0, 1]);
            ip.extend_from_slice(&(if self.fragment { 0x2000u16 } else { 0x4000 }).to_be_bytes());
            ip.extend_from_slice(&[64, self.proto, 0, 0]);
            ip.extend_from_slice(&s);
            ip.extend_from_slice(&d);
            if self.ip_options {
                ip.extend_from_slice(&[1, 1, 1, 0]);
            }
            let mut c = sum(&ip);
            while c >> 16 != 0 {
                c = (c & 0xFFFF) + (c >> 16);
            }
            let check = !(c as u16) ^ u16::from(self.bad_ip_checksum);
            ip[10..12].copy_from_slice(&check.to_be_bytes());
            f.extend_from_slice(&ip);
        }
        f.extend_from_slice(&udp);
        f.extend_from_slice(&self.trailer);
        f
    }
}

/// Malformed, truncated and oversized frames for a name the map answers
/// never get an answer from the kernel; each is counted under its reason.
/// The same frame well formed is answered (raw, tagged, padded).
#[test]
fn malformed_frames_pass() {
    let test = "malformed_frames_pass";
    let Some(mut env) = Env::new(test, Mode::Native) else {
        return;
    };
    let q = query(21, RD, "www.example.org.", A, Some((1232, 0)));
    let (key, entry) = env.entry_from_userspace(Via::V4, &q);
    env.prog.insert(&key, &entry).unwrap();
    let q6 = query(22, RD, "www.example.org.", A, None);
    let (key6, entry6) = env.entry_from_userspace(Via::V6, &q6);
    env.prog.insert(&key6, &entry6).unwrap();
    let base = Frame {
        payload: q.clone(),
        ..env.frame.clone()
    };
    let v6 = Frame {
        v6: true,
        payload: q6.clone(),
        ..base.clone()
    };
    // Well formed: answered, also tagged and with Ethernet padding after
    // a short datagram.
    for (f, what) in [
        (base.clone(), "IPv4"),
        (v6.clone(), "IPv6"),
        (
            Frame {
                trailer: vec![0; 6],
                ..base.clone()
            },
            "padded",
        ),
        (
            Frame {
                vlan: Some(VLAN),
                ..base.clone()
            },
            "VLAN tag",
        ),
    ] {
        let before = env.counters();
        env.cap.incoming();
        env.cap.send(&f.bytes());
        let after = wait_for(&env, &before, counter::ANSWERED);
        assert_eq!(
            delta(&after, &before, counter::ANSWERED),
            1,
            "{what}; {:?}",
            named(&after)
        );
        std::thread::sleep(Duration::from_millis(50));
        let answers = env.cap.replies();
        assert!(
            answers
                .iter()
                .any(|(a, tag)| a[..2] == f.payload[..2] && a[2] & 0x80 != 0 && *tag == f.vlan),
            "{what}: the reply frame arrives, tagged as the query, checksums right"
        );
    }
    // The query's bytes changed, each counted under its reason.
    type Edit = fn(&mut Vec<u8>);
    let edits: [(Edit, u32, &str); 15] = [
        (|p| p[2] |= 0x80, counter::PASS_NOT_QUERY, "QR set"),
        (|p| p[2] |= 2 << 3, counter::PASS_NOT_QUERY, "opcode STATUS"),
        (|p| p[5] = 2, counter::PASS_NOT_QUERY, "two questions"),
        (|p| p[7] = 1, counter::PASS_NOT_QUERY, "an answer record"),
        (
            |p| p[12..14].copy_from_slice(&[0xC0, 12]),
            counter::PASS_QUESTION,
            "compressed name",
        ),
        (|p| p[12] = 64, counter::PASS_QUESTION, "label of 64"),
        (
            |p| *p = query(23, RD, &format!("{}.", "a".repeat(63)).repeat(5), A, None),
            counter::PASS_QUESTION,
            "name over 255 bytes",
        ),
        (|p| p.truncate(20), counter::PASS_QUESTION, "name cut short"),
        (
            |p| p.truncate(p.len() - 13),
            counter::PASS_QUESTION,
            "type and class cut short",
        ),
        (|p| p.push(0), counter::PASS_RECORDS, "a byte after the OPT"),
        (
            |p| p.truncate(p.len() - 11),
            counter::PASS_RECORDS,
            "ARCOUNT 1 and no record",
        ),
        (
            |p| {
                let n = p.len();
                p[n - 1] = 4;
                p.extend_from_slice(&[0, 3, 0, 0]);
            },
            counter::PASS_RECORDS,
            "OPT with an option",
        ),
        (
            |p| {
                let n = p.len();
                p[n - 5] = 1
            },
            counter::PASS_RECORDS,
            "OPT version 1",
        ),
        (
            |p| p.extend(std::iter::repeat_n(0u8, 1200)),
            counter::PASS_RECORDS,
            "oversized: 1200 bytes of junk after the OPT",
        ),
        (
            |p| p.truncate(10),
            counter::PASS_LENGTH,
            "shorter than a header",
        ),
    ];
    // The frame changed.
    type Change = fn(&mut Frame);
    let changes: [(Change, u32, &str); 11] = [
        (|f| f.payload[11] = 2, counter::PASS_NOT_QUERY, "ARCOUNT 2"),
        (
            |f| f.udp_len_delta = 40,
            counter::PASS_LENGTH,
            "UDP length past the frame",
        ),
        (
            |f| f.udp_len_delta = -3,
            counter::PASS_LENGTH,
            "UDP length short of IP's",
        ),
        (|f| f.ip_options = true, counter::PASS_IP, "IPv4 options"),
        (|f| f.fragment = true, counter::PASS_IP, "IPv4 fragment"),
        (
            |f| f.bad_ip_checksum = true,
            counter::PASS_IP,
            "IPv4 header checksum",
        ),
        (|f| f.proto = 6, counter::PASS_NOT_UDP, "TCP"),
        (|f| f.dport = 54, counter::PASS_NOT_LISTENER, "another port"),
        (|f| f.dst = [0xFF; 6], counter::PASS_FRAME, "broadcast"),
        (
            |f| f.ethertype = Some(0x88B5),
            counter::PASS_FRAME,
            "another ethertype",
        ),
        (
            |f| {
                f.v6 = true;
                f.hop_by_hop = true;
            },
            counter::PASS_IP,
            "IPv6 hop-by-hop header",
        ),
    ];
    let mut frames: Vec<(Vec<u8>, u32, &str)> = Vec::new();
    for (edit, reason, what) in edits {
        let mut f = base.clone();
        edit(&mut f.payload);
        frames.push((f.bytes(), reason, what));
    }
    for (change, reason, what) in changes {
        let mut f = base.clone();
        change(&mut f);
        frames.push((f.bytes(), reason, what));
    }
    let mut cut = base.bytes();
    cut.truncate(cut.len() - 5);
    frames.push((
        cut,
        counter::PASS_LENGTH,
        "frame cut short of its IP length",
    ));
    for (f, reason, what) in frames {
        let before = env.counters();
        env.cap.send(&f);
        let after = wait_for(&env, &before, reason);
        // Other traffic (neighbour discovery) may pass at the same time.
        assert!(
            delta(&after, &before, reason) >= 1,
            "{what}: counted as {}",
            counter::NAMES[reason as usize]
        );
        assert_eq!(
            delta(&after, &before, counter::ANSWERED),
            0,
            "{what}: not answered"
        );
    }
    let c = env.counters();
    for e in [
        counter::PASS_NO_ROOM,
        counter::ERROR_ENTRY,
        counter::ERROR_WRITE,
        counter::ERROR_LAYOUT,
    ] {
        assert_eq!(c.get(e), 0, "{}", counter::NAMES[e as usize]);
    }
}

/// Dropping the loader takes the program off the interface; so does the
/// loader's process dying by SIGKILL (the link is its descriptor).
#[test]
fn detaches_on_drop_and_on_kill() {
    let test = "detaches_on_drop_and_on_kill";
    if !can_run(test) {
        return;
    }
    let net = Net::new();
    let prog = match Program::load(4) {
        Ok(p) => p,
        Err(e) if e.to_string().contains("CAP_BPF") => return skipped(test, &e.to_string()),
        Err(e) => panic!("{e}"),
    };
    let prog = in_ns(&net.srv, move || {
        let mut prog = prog;
        assert_eq!(prog.attach("s0", Mode::Auto).unwrap(), Mode::Native);
        let again = prog.attach("s0", Mode::Generic).unwrap_err();
        assert!(again.to_string().contains("attached already"), "{again}");
        let none = prog.attach("nonesuch0", Mode::Native).unwrap_err();
        assert!(none.to_string().contains("no such interface"), "{none}");
        prog
    });
    assert!(net.xdp_attached());
    drop(prog);
    // The kernel takes the program off as the link is released.
    let deadline = Instant::now() + Duration::from_secs(5);
    while net.xdp_attached() {
        assert!(Instant::now() < deadline, "still attached after drop");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Another process attaches, then is killed.
    let mut child = Command::new("ip")
        .args(["netns", "exec", &net.srv])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "attach_and_wait", "--ignored", "--nocapture"])
        .env("FERRODNS_XDP_ATTACH", "s0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        let n = std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert!(n > 0, "the helper exited before attaching");
        if line.starts_with("attached") {
            break;
        }
    }
    assert!(net.xdp_attached(), "attached by the helper");
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while net.xdp_attached() {
        assert!(Instant::now() < deadline, "still attached after SIGKILL");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Not a test: the process `detaches_on_drop_and_on_kill` starts and kills
/// (with FERRODNS_XDP_ATTACH set, in the server's namespace).
#[test]
#[ignore = "a helper of detaches_on_drop_and_on_kill"]
fn attach_and_wait() {
    let Ok(dev) = std::env::var("FERRODNS_XDP_ATTACH") else {
        return;
    };
    let mut prog = Program::load(4).unwrap();
    prog.attach(&dev, Mode::Generic).unwrap();
    println!("attached");
    loop {
        std::thread::sleep(Duration::from_secs(60));
    }
}

/// Reads `/metrics` of the server in namespace `ns` at 127.0.0.1:`port`.
fn metrics_in(ns: &str, port: u16) -> String {
    in_ns(ns, move || {
        use std::io::{Read, Write};
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
            return String::new();
        };
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    })
}

/// The value of the series whose line starts with `series` (0 if none).
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// The `xdp` directive end to end: the real server attaches the program
/// itself, hands a name over after `promote` raw-path hits, the kernel
/// answers it byte for byte as userspace did, and its answers show in the
/// metrics CoreDNS users read (requests, responses, cache hits) and in
/// `ferrodns_xdp_*`; on SIGTERM the program goes.
#[test]
fn the_directive_hands_hot_hits_to_the_kernel() {
    const TEST: &str = "the_directive_hands_hot_hits_to_the_kernel";
    if !can_run(TEST) {
        return;
    }
    let net = Net::new();
    // The client's end runs XDP too, so that veth delivers XDP_TX frames.
    let _peer = in_ns(&net.cli, move || {
        let mut p = Program::load(1).unwrap();
        p.attach("c0", Mode::Native)
            .unwrap_or_else(|e| panic!("{e}"));
        p
    });
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("db.example.org");
    std::fs::write(&zone, ZONE).unwrap();
    let conf = dir.path().join("Corefile");
    std::fs::write(
        &conf,
        format!(
            ".:53 {{\n    prometheus 127.0.0.1:9153\n    cache\n    xdp s0 {{\n        mode generic\n        promote 2\n    }}\n    forward . 127.0.0.1:5300\n}}\nexample.org:5300 {{\n    bind 127.0.0.1\n    file {}\n}}\n",
            zone.display()
        ),
    )
    .unwrap();
    let log = dir.path().join("log");
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &net.srv, BIN, "-conf"])
        .arg(&conf)
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    let sock = in_ns(&net.cli, || {
        let s = UdpSocket::bind(format!("{CLI4}:0")).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        s
    });
    let to: SocketAddr = SRV4_53.parse().unwrap();
    let q = query(7, RD, "www.example.org.", A, Some((1232, 0)));
    // Ready once it answers (AAAA: other series than the A queries
    // counted below).
    let deadline = Instant::now() + Duration::from_secs(10);
    let ready = query(6, RD, "ns.example.org.", AAAA, None);
    while ask(&sock, to, &ready).is_none() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "ferrodns exited: {}",
            std::fs::read_to_string(&log).unwrap()
        );
        assert!(Instant::now() < deadline, "no answer");
    }
    // A miss.
    ask(&sock, to, &q).expect("an answer");
    assert!(
        net.xdp_attached(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // Two hits in userspace; the second hands the answer over.
    let userspace = ask(&sock, to, &q).expect("a hit");
    ask(&sock, to, &q).expect("a hit");
    let metrics = |k: &str| metric(&metrics_in(&net.srv, 9153), k);
    let mut kernel = Vec::new();
    for _ in 0..5 {
        kernel.push(ask(&sock, to, &q).expect("an answer"));
    }
    for k in &kernel {
        assert_same(k, &userspace, "the kernel's answer");
    }
    // Folded within a second or two.
    let deadline = Instant::now() + Duration::from_secs(4);
    while metrics("ferrodns_xdp_answers_total") < 5.0 {
        assert!(Instant::now() < deadline, "{}", metrics_in(&net.srv, 9153));
        std::thread::sleep(Duration::from_millis(100));
    }
    let deadline = Instant::now() + Duration::from_secs(4);
    let req = "coredns_dns_requests_total{server=\"dns://:53\",zone=\".\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"}";
    while metrics(req) < 8.0 {
        assert!(Instant::now() < deadline, "{}", metrics_in(&net.srv, 9153));
        std::thread::sleep(Duration::from_millis(100));
    }
    let m = metrics_in(&net.srv, 9153);
    // Every query is counted once, whoever answered it.
    assert_eq!(metric(&m, req), 8.0, "{m}");
    assert_eq!(
        metric(
            &m,
            "coredns_cache_hits_total{server=\"dns://:53\",type=\"success\",zones=\".\",view=\"\"}"
        ),
        7.0,
        "{m}"
    );
    assert_eq!(metric(&m, "ferrodns_xdp_promoted_total"), 1.0, "{m}");
    assert!(metric(&m, "ferrodns_xdp_entries") >= 1.0, "{m}");
    // SIGTERM: the program goes with the process.
    // SAFETY: the child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while net.xdp_attached() {
        assert!(Instant::now() < deadline, "the program outlived the server");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The kernel's count of BPF programs' runs and the time they took
/// (`BPF_ENABLE_STATS` on while this lives), from their descriptors'
/// fdinfo.
struct RunStats {
    _on: OwnedFd,
}

impl RunStats {
    fn enable() -> RunStats {
        /// `BPF_ENABLE_STATS` of `enum bpf_cmd`; `BPF_STATS_RUN_TIME`.
        const BPF_ENABLE_STATS: libc::c_long = 32;
        let attr = [0u64; 2];
        // SAFETY: bpf(2) reads the attribute (type 0, run time), which
        // lives across the call; it returns a descriptor of ours.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_ENABLE_STATS,
                attr.as_ptr(),
                std::mem::size_of_val(&attr) as libc::c_uint,
            )
        };
        assert!(
            fd >= 0,
            "BPF_ENABLE_STATS: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: the kernel just handed it to us.
        RunStats {
            _on: unsafe { OwnedFd::from_raw_fd(fd as i32) },
        }
    }

    /// (runs, nanoseconds) of each XDP program this process holds, by
    /// descriptor (the first loaded first).
    fn programs(&self) -> Vec<(u64, u64)> {
        let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|fd| {
                std::fs::read_link(format!("/proc/self/fd/{fd}"))
                    .is_ok_and(|l| l.to_string_lossy() == "anon_inode:bpf-prog")
            })
            .collect();
        fds.sort_unstable();
        fds.iter()
            .filter_map(|fd| {
                let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok()?;
                let field = |k: &str| -> Option<u64> {
                    info.lines()
                        .find_map(|l| l.strip_prefix(k))?
                        .trim()
                        .parse()
                        .ok()
                };
                if field("prog_type:")? != 6 {
                    return None;
                }
                Some((field("run_cnt:")?, field("run_time_ns:")?))
            })
            .collect()
    }
}

/// Userspace's reply, as the cache holds it, to `q` (A, with an OPT): one
/// A record, TTL 3600, the OPT.
fn a_reply(q: &[u8], last: u8) -> Vec<u8> {
    let mut r = q[..q.len() - 11].to_vec();
    r[2..4].copy_from_slice(&0x8180u16.to_be_bytes());
    r[6..12].copy_from_slice(&[0, 1, 0, 0, 0, 1]);
    r.extend_from_slice(&[
        0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 198, 51, 100, last,
    ]);
    r.extend_from_slice(&[0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0]);
    r
}

/// Not a test: what the program costs per answer on veth, as the kernel
/// counts its runs (BPF_ENABLE_STATS), answering 100,000 A queries with
/// OPT for 10,000 names round robin (`COST_NAMES` names; entries in the
/// map as a promoted cache's), sent as raw frames from the client's end
/// (the program runs on the sending CPU). `cargo test --features xdp
/// --test xdp -- --ignored cost_on_veth --nocapture` (root).
#[test]
#[ignore = "a measurement, printed"]
fn cost_on_veth() {
    const TEST: &str = "cost_on_veth";
    let names: usize = std::env::var("COST_NAMES").map_or(10_000, |v| v.parse().unwrap());
    if !can_run(TEST) {
        return;
    }
    let net = Net::new();
    let prog = Program::load(2 * names as u32).unwrap();
    let mut prog = in_ns(&net.srv, move || {
        let mut prog = prog;
        prog.attach("s0", Mode::Native).unwrap();
        prog
    });
    let _peer = in_ns(&net.cli, move || {
        let mut p = Program::load(1).unwrap();
        p.attach("c0", Mode::Native).unwrap();
        p
    });
    prog.set_listeners(&[(SRV4_53.parse().unwrap(), GROUP)])
        .unwrap();
    let timing = Timing {
        stored_ns: xdp::monotonic(Instant::now()),
        orig_ttl: 3600,
        keep_ttl: false,
        expires_ns: u64::MAX,
    };
    let variant = Variant {
        opt: true,
        ..Variant::default()
    };
    let base = Frame::to_server(&net);
    let mut frames = Vec::new();
    for i in 0..names {
        let q = query(
            i as u16,
            RD,
            &format!("n{i}.cache.bench."),
            A,
            Some((1232, 0)),
        );
        let (key, entry) =
            xdp::build(GROUP, &a_reply(&q, i as u8), variant, &timing, None).unwrap();
        prog.insert(&key, &entry).unwrap();
        frames.push(
            Frame {
                payload: q,
                ..base.clone()
            }
            .bytes(),
        );
    }
    let cap = Capture::open(&net.cli);
    let stats = RunStats::enable();
    let (before, answered) = (stats.programs(), prog.counters().unwrap());
    for _ in 0..100_000 / names {
        for f in &frames {
            cap.send_waiting(f);
        }
        cap.incoming();
    }
    let after = stats.programs();
    let answered =
        prog.counters().unwrap().get(counter::ANSWERED) - answered.get(counter::ANSWERED);
    assert_eq!(
        answered,
        100_000 / names as u64 * names as u64,
        "every query answered"
    );
    let (runs, ns) = (after[0].0 - before[0].0, after[0].1 - before[0].1);
    println!(
        "{runs} runs of the server's program: {} ns a run ({answered} answers)",
        ns / runs
    );
}
