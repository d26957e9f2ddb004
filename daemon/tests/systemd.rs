//! systemd's side of `Type=notify` played for real: a datagram socket in
//! `$NOTIFY_SOCKET`, `$WATCHDOG_USEC` set, the real binary started, reloaded
//! with SIGUSR1 and stopped with SIGTERM; and a worker made to hang (a
//! debug build's `$FERRODNS_TEST_HANG` name) stops the watchdog's pings.

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
    // The binary where the unit expects it: the one built here.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferrodns.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/ferrodns", BIN)).unwrap();
    let out = std::process::Command::new(analyze)
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !text.contains("ferrodns.service:"),
        "{text}"
    );
}

fn which(program: &str) -> Result<std::path::PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .ok_or(())
}
