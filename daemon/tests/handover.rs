//! Restarts and binary upgrades that lose no query: a server started with
//! `-handover` is sent SIGUSR2 while a client asks a steady stream of
//! questions; each time a new process (started from the binary's path,
//! replaced for the upgrades) takes the listening sockets over, and every
//! question gets its answer.

mod common;

use common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn pid_in(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` runs (a zombie, gone but not reaped, does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|st| {
            st.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// Starts `bin` on `dir`'s Corefile with `-handover dir/handover.sock`
/// and `-pidfile dir/pid`, its output to `log` (nowhere when None), and
/// waits for the pidfile.
fn spawn(bin: &Path, dir: &Path, log: Option<&Path>) -> std::process::Child {
    let out = |l: Option<&Path>| match l {
        Some(l) => Stdio::from(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(l)
                .unwrap(),
        ),
        None => Stdio::null(),
    };
    let child = Command::new(bin)
        .arg("-conf")
        .arg(dir.join("Corefile"))
        .arg("-handover")
        .arg(dir.join("handover.sock"))
        .arg("-pidfile")
        .arg(dir.join("pid"))
        .current_dir(dir)
        .stdout(out(log))
        .stderr(out(log))
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(10);
    while pid_in(&dir.join("pid")).is_none() {
        assert!(Instant::now() < end, "no pidfile");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// SIGUSR2 to the server serving now; waits until a new process took over
/// (its pid in the pidfile) and the old one is gone. `what` for failures.
fn hand_over(pidfile: &Path, what: impl Fn() -> String) {
    let old = pid_in(pidfile).unwrap();
    // SAFETY: the pid is our server's.
    unsafe { libc::kill(old, libc::SIGUSR2) };
    let end = Instant::now() + Duration::from_secs(15);
    while pid_in(pidfile) == Some(old) || alive(old) {
        assert!(Instant::now() < end, "no new process took over: {}", what());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops the server serving now (SIGTERM) and waits until it is gone.
fn stop_server(pidfile: &Path) {
    let last = pid_in(pidfile).unwrap();
    // SAFETY: our server's pid.
    unsafe { libc::kill(last, libc::SIGTERM) };
    let end = Instant::now() + Duration::from_secs(10);
    while alive(last) {
        assert!(Instant::now() < end, "the last process did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asks `name` at `rate` per second until `stop`; returns (sent, answered).
fn load(addr: std::net::SocketAddr, rate: u64, stop: Arc<AtomicBool>) -> (u64, u64) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    let mut answered = std::collections::HashSet::new();
    let mut sent = 0u64;
    let start = Instant::now();
    let mut buf = [0u8; 1500];
    let mut drain_until = None;
    loop {
        if stop.load(Ordering::Relaxed) && drain_until.is_none() {
            drain_until = Some(Instant::now() + Duration::from_secs(3));
        }
        if let Some(d) = drain_until {
            if Instant::now() > d || answered.len() as u64 == sent {
                break;
            }
        } else {
            while sent < start.elapsed().as_millis() as u64 * rate / 1000 {
                let mut q = query(&format!("q{sent}.example.org."), RecordType::A);
                q.metadata.id = (sent % 65536) as u16;
                s.send_to(&q.to_vec().unwrap(), addr).unwrap();
                sent += 1;
            }
        }
        while let Ok(n) = s.recv(&mut buf) {
            if let Ok(m) = Message::from_vec(&buf[..n]) {
                if let Some(q) = m.queries.first() {
                    answered.insert(q.name().to_ascii());
                }
            }
        }
    }
    (sent, answered.len() as u64)
}

#[test]
fn restarts_and_upgrades_lose_no_query() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bin = dir.path().join("ferrodns");
    std::fs::copy(BIN, &bin).unwrap();
    let corefile = dir.path().join("Corefile");
    std::fs::write(
        &corefile,
        format!(".:{port} {{\n    template IN A example.org {{\n        answer \"{{{{ .Name }}}} 60 IN A 192.0.2.1\"\n    }}\n    health 127.0.0.1:{}\n}}\n", free_port()),
    )
    .unwrap();
    let pidfile = dir.path().join("pid");
    let log = dir.path().join("log");
    let mut first = spawn(&bin, dir.path(), Some(&log));
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let asker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || load(addr, 2000, stop))
    };
    std::thread::sleep(Duration::from_millis(300));
    // Three restarts, then three upgrades (the binary's file replaced).
    for round in 0..6 {
        if round >= 3 {
            let fresh = dir.path().join("ferrodns.new");
            std::fs::copy(BIN, &fresh).unwrap();
            std::fs::rename(&fresh, &bin).unwrap();
        }
        hand_over(&pidfile, || {
            format!("round {round}: {}", std::fs::read_to_string(&log).unwrap())
        });
        std::thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    let (sent, answered) = asker.join().unwrap();
    // The first process has exited (it handed over); reap it.
    let _ = first.wait();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(sent > 1000, "{sent}");
    assert_eq!(
        sent,
        answered,
        "{} of {sent} lost:\n{text}",
        sent - answered
    );
    assert_eq!(text.matches("Took the listeners over").count(), 6, "{text}");
    stop_server(&pidfile);
}

#[test]
fn without_a_running_server_it_starts_and_offers_the_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("h.sock");
    // A socket file left by a process that is gone does not stop a start.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let s = Server::start_args(
        ".:{PORT} {\n    whoami\n}\n",
        &[],
        &["-handover", sock.to_str().unwrap()],
    );
    assert_eq!(s.udp("a.example.", RecordType::A).additionals.len(), 2);
    assert!(std::os::unix::net::UnixStream::connect(&sock).is_ok());
}

/// The cache passes along: an answer cached before the handover is a hit
/// in the new process, with the TTL it had counted down to.
#[test]
fn the_cache_passes_along() {
    let dir = tempfile::tempdir().unwrap();
    let (port, mport) = (free_port(), free_port());
    let corefile = dir.path().join("Corefile");
    std::fs::write(
        &corefile,
        format!(".:{port} {{\n    prometheus 127.0.0.1:{mport}\n    cache\n    template IN A example.org {{\n        answer \"{{{{ .Name }}}} 60 IN A 192.0.2.1\"\n    }}\n}}\n"),
    )
    .unwrap();
    let pidfile = dir.path().join("pid");
    let mut first = spawn(Path::new(BIN), dir.path(), None);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    for n in 0..50 {
        udp(addr, &query(&format!("n{n}.example.org."), RecordType::A));
    }
    std::thread::sleep(Duration::from_millis(1100));
    hand_over(&pidfile, String::new);
    let _ = first.wait();
    for n in 0..50 {
        let m = udp(addr, &query(&format!("n{n}.example.org."), RecordType::A));
        let ttl = m.answers[0].ttl;
        assert!(ttl < 60, "n{n}: TTL {ttl}: not the cached answer");
    }
    let (_, _, metrics) = http_get(mport, "/metrics");
    let series = |name: &str| {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert_eq!(series("coredns_cache_hits_total{"), 50.0, "{metrics}");
    assert_eq!(series("coredns_cache_misses_total{"), 0.0, "{metrics}");
    stop_server(&pidfile);
}

/// What the old process caches while the new one starts (after the first
/// state went) passes along too, once its workers have stopped: every name
/// answered during a handover is a hit afterwards, whichever process
/// answered it.
#[test]
fn answers_cached_during_the_handover_pass_along() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("Corefile"),
        format!(".:{port} {{\n    cache\n    template IN A example.org {{\n        answer \"{{{{ .Name }}}} 60 IN A 192.0.2.1\"\n    }}\n}}\n"),
    )
    .unwrap();
    let pidfile = dir.path().join("pid");
    let mut first = spawn(Path::new(BIN), dir.path(), None);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    // Many answers cached first, so the first state takes a while to go.
    for n in 0..3000 {
        udp(
            addr,
            &query(&format!("before{n}.example.org."), RecordType::A),
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    let asker = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut names = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let name = format!("during{}.example.org.", names.len());
                let m = udp(addr, &query(&name, RecordType::A));
                assert_eq!(m.answers.len(), 1, "{name}");
                names.push(name);
            }
            names
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    hand_over(&pidfile, String::new);
    stop.store(true, Ordering::Relaxed);
    let names = asker.join().unwrap();
    let _ = first.wait();
    assert!(names.len() > 50, "{} names asked", names.len());
    // Past the second the answers were cached in: a cached answer's TTL
    // has counted down, a fresh one says 60.
    std::thread::sleep(Duration::from_millis(1100));
    let fresh: Vec<&String> = names
        .iter()
        .filter(|n| udp(addr, &query(n, RecordType::A)).answers[0].ttl == 60)
        .collect();
    assert!(
        fresh.is_empty(),
        "{} of {} names answered during the handover were not cached in the new process: {:?}",
        fresh.len(),
        names.len(),
        &fresh[..fresh.len().min(5)]
    );
    stop_server(&pidfile);
}
