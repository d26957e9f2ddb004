//! systemd's side of `Type=notify` played for real: a datagram socket in
//! `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` set, the real binary started, reloaded
//! with SIGUSR1 and stopped with SIGTERM; and a worker made to hang (a
//! debug build's `$FERRODNS_TEST_HANG` name) stops the watchdog's pings.
//! Socket activation with systemd's own `systemd-socket-activate`, and the
//! unit files through `systemd-analyze verify`.

mod common;

use common::*;
use hickory_proto::rr::RecordType;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

const COREFILE: &str = ".:{PORT} {\n    whoami\n}\n";

/// systemd's end of the notification socket.
struct Systemd {
    socket: UnixDatagram,
    path: String,
    _dir: tempfile::TempDir,
}

impl Systemd {
    fn new() -> Systemd {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Systemd {
            socket,
            path: path.to_str().unwrap().to_string(),
            _dir: dir,
        }
    }

    /// The notifications that come within `wait`.
    fn read_for(&self, wait: Duration) -> Vec<String> {
        let end = Instant::now() + wait;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.socket.recv(&mut buf) {
                out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        out
    }

    /// Reads until a notification starting with `what` comes (within 10 s);
    /// returns everything read, it last.
    fn read_until(&self, what: &str) -> Vec<String> {
        let end = Instant::now() + Duration::from_secs(10);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while Instant::now() < end {
            if let Ok(n) = self.socket.recv(&mut buf) {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = m.starts_with(what);
                out.push(m);
                if done {
                    return out;
                }
            }
        }
        panic!("no {what} within 10 s; got {out:?}");
    }
}

fn firsts(ms: &[String]) -> Vec<&str> {
    ms.iter().map(|m| m.lines().next().unwrap_or("")).collect()
}

#[test]
fn start_reload_and_stop_are_told_in_order_with_watchdog_pings() {
    let sd = Systemd::new();
    let mut s = Server::start_with(
        COREFILE,
        &[],
        &[("NOTIFY_SOCKET", &sd.path), ("WATCHDOG_USEC", "400000")],
    );
    let ready = sd.read_until("READY=1");
    let first = ready.last().unwrap();
    assert!(
        first.contains("\nSTATUS=Serving 1 server block on "),
        "{first}"
    );
    // Pinged twice per interval (every 200 ms) while the workers run.
    let pings = sd.read_for(Duration::from_millis(1100));
    let n = pings.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(n >= 3, "{pings:?}");
    s.signal(libc::SIGUSR1);
    let reload = sd.read_until("READY=1");
    let at = firsts(&reload)
        .iter()
        .position(|m| *m == "RELOADING=1")
        .expect("RELOADING=1");
    let r = &reload[at];
    assert!(r.contains("\nMONOTONIC_USEC="), "{r}");
    let usec: u64 = r
        .lines()
        .find_map(|l| l.strip_prefix("MONOTONIC_USEC="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(usec > 0);
    s.udp("whoami.example.", RecordType::A);
    s.signal(libc::SIGTERM);
    let stop = sd.read_until("STOPPING=1");
    assert!(stop.iter().all(|m| !m.starts_with("READY=1")), "{stop:?}");
    assert_eq!(s.wait_exit(10), Some(0));
    // Nothing after STOPPING=1.
    let after = sd.read_for(Duration::from_millis(300));
    assert!(after.is_empty(), "{after:?}");
}

#[test]
fn a_hung_worker_stops_the_watchdog_pings() {
    if !cfg!(debug_assertions) {
        eprintln!(
            "SKIPPED a_hung_worker_stops_the_watchdog_pings: FERRODNS_TEST_HANG is a debug build's"
        );
        return;
    }
    let sd = Systemd::new();
    let mut s = Server::start_with(
        COREFILE,
        &[],
        &[
            ("NOTIFY_SOCKET", &sd.path),
            ("WATCHDOG_USEC", "400000"),
            ("FERRODNS_TEST_HANG", "hang.example."),
        ],
    );
    sd.read_until("READY=1");
    sd.read_until("WATCHDOG=1");
    // The query never gets an answer: its worker hangs.
    let q = query("hang.example.", RecordType::A);
    let _ = udp_raw(s.addr(), &q.to_vec().unwrap(), Duration::from_millis(300));
    s.wait_log("this worker hangs now");
    // A ping may already be on its way; then none.
    let soon = sd.read_for(Duration::from_millis(400));
    let later = sd.read_for(Duration::from_millis(1200));
    assert!(later.iter().all(|m| m != "WATCHDOG=1"), "{later:?}");
    assert!(
        soon.iter()
            .chain(&later)
            .any(|m| m.starts_with("STATUS=worker ")),
        "{soon:?} {later:?}"
    );
    s.wait_log("made no progress");
    s.signal(libc::SIGKILL);
    s.wait_exit(10);
}

#[test]
fn without_notify_socket_nothing_is_sent_and_commands_do_not_inherit_it() {
    // `on startup` runs a command with the server's environment: systemd's
    // variables are gone from it.
    let sd = Systemd::new();
    let corefile = ".:{PORT} {\n    whoami\n    on startup env\n}\n";
    let s = Server::start_with(
        corefile,
        &[],
        &[("NOTIFY_SOCKET", &sd.path), ("WATCHDOG_USEC", "400000")],
    );
    sd.read_until("READY=1");
    let env = s.wait_log("PATH=");
    assert!(env.contains("PATH="), "the command ran: {env}");
    assert!(
        !env.contains("NOTIFY_SOCKET") && !env.contains("WATCHDOG_USEC"),
        "{env}"
    );
    drop(s);
    // No socket at all: the server runs as before.
    let s = Server::start(COREFILE, &[]);
    assert_eq!(s.udp("whoami.example.", RecordType::A).additionals.len(), 2);
}

#[test]
fn the_unit_file_verifies() {
    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("SKIPPED the_unit_file_verifies: no systemd-analyze on this machine");
        return;
    };
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../systemd/ferrodns.service"
    ))
    .unwrap();
    assert!(
        unit.contains("Type=notify") && unit.contains("WatchdogSec="),
        "{unit}"
    );
    let socket = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../systemd/ferrodns.socket"
    ))
    .unwrap();
    assert!(
        socket.contains("ListenDatagram=53") && socket.contains("ReusePort=yes"),
        "{socket}"
    );
    // The binary where the unit expects it: the one built here.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrodns.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/ferrodns", BIN)).unwrap();
    std::fs::write(dir.path().join("ferrodns.socket"), socket).unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(dir.path().join("ferrodns.socket"))
        .arg(&path)
        .current_dir(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !text.contains("ferrodns.s"),
        "{text}"
    );
}

/// Socket activation: systemd-socket-activate (systemd's tool playing a
/// `.socket` unit) binds a TCP and a UDP socket and starts ferrodns on the
/// first query to each; ferrodns serves them as its listeners, so the
/// queries that arrived before it ran are answered, and so are later ones,
/// with two workers sharing the sockets (passed without SO_REUSEPORT).
#[test]
fn socket_activation_serves_the_passed_sockets() {
    let Ok(activate) = which("systemd-socket-activate") else {
        eprintln!("SKIPPED socket_activation_serves_the_passed_sockets: no systemd-socket-activate on this machine");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let corefile = dir.path().join("Corefile");
    std::fs::write(
        &corefile,
        format!(".:{port} {{\n    bind 127.0.0.1\n    whoami\n}}\n"),
    )
    .unwrap();
    let listen = format!("127.0.0.1:{port}");
    let log = dir.path().join("log");
    // The first waits for a TCP connection, then starts the second with
    // its socket; the second adds a UDP one and waits for a datagram.
    let mut chain = std::process::Command::new(&activate)
        .args(["-l", &listen])
        .arg(&activate)
        .args(["-d", "-l", &listen])
        .arg(BIN)
        .args(["-workers", "2", "-conf"])
        .arg(&corefile)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.path().join("err")).unwrap())
        .spawn()
        .unwrap();
    let addr: std::net::SocketAddr = listen.parse().unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match std::net::TcpStream::connect(addr) {
            Ok(c) => break c,
            Err(_) if Instant::now() < end => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("systemd-socket-activate does not listen: {e}"),
        }
    };
    // A query on the connection, read once ferrodns runs.
    let q = query("tcp.example.", RecordType::A).to_vec().unwrap();
    use std::io::{Read, Write};
    conn.write_all(&[(q.len() >> 8) as u8, q.len() as u8])
        .unwrap();
    conn.write_all(&q).unwrap();
    // The datagram that starts ferrodns is answered by it.
    let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    u.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let first = query("first.example.", RecordType::A).to_vec().unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 512];
    let mut sent = 0;
    let n = loop {
        // Sent again while the second tool has not bound its socket yet.
        u.send_to(&first, addr).unwrap();
        sent += 1;
        match u.recv_from(&mut buf) {
            Ok((n, _)) => break n,
            Err(_) if Instant::now() < end => {}
            Err(e) => panic!(
                "no answer over UDP: {e}; ferrodns's log:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            ),
        }
    };
    let m = hickory_proto::op::Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(
        m.queries[0].name().to_ascii(),
        "first.example.",
        "{sent} sent"
    );
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut len = [0u8; 2];
    conn.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
    conn.read_exact(&mut reply).unwrap();
    let m = hickory_proto::op::Message::from_vec(&reply).unwrap();
    assert_eq!(m.queries[0].name().to_ascii(), "tcp.example.");
    assert_eq!(m.additionals.len(), 2, "whoami's records");
    // Later queries, over both, many times (each worker serves them).
    for i in 0..20 {
        let name = format!("n{i}.example.");
        assert_eq!(udp(addr, &query(&name, RecordType::A)).additionals.len(), 2);
        assert_eq!(tcp(addr, &query(&name, RecordType::A)).additionals.len(), 2);
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains(&format!(
            "socket activation: serving {listen} with the sockets systemd passed (no SO_REUSEPORT: the workers share them)"
        )),
        "{text}"
    );
    // SAFETY: our child (systemd-socket-activate exec'd into ferrodns).
    unsafe { libc::kill(chain.id() as i32, libc::SIGTERM) };
    assert!(chain.wait().unwrap().success());
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
