//! The command line, as a CoreDNS user types it.

mod common;

use common::*;
use hickory_proto::rr::RecordType;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(args: &[&str], dir: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wait_listening(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "never listened on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn version_and_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(&["-version"], dir.path());
    assert_eq!(code, 0);
    assert!(
        out.starts_with(&format!("ferrodns-{}\n", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    let (code, out, _) = run(&["-plugins"], dir.path());
    assert_eq!(code, 0);
    assert!(out.starts_with("Server types:\n  dns\n"), "{out}");
    let order: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("dns."))
        .collect();
    // Every plugin ferrodns has, in the registry's (plugin.cfg's) order.
    let expect: Vec<&str> =
        ferrodns::plugin::registry::available(ferrodns::plugins::ORDER).collect();
    assert_eq!(order, expect);
    let at = |name: &str| order.iter().position(|p| *p == name).unwrap();
    assert_eq!(at("root"), 0);
    assert!(at("log") < at("any") && at("any") < at("hosts") && at("hosts") < at("file"));
    assert!(at("file") < at("whoami"));
}

#[test]
fn bad_flags_print_usage_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["-bogus"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.starts_with("flag provided but not defined: -bogus\nUsage of ferrodns:"),
        "{err}"
    );
    let (code, _, err) = run(&["-conf", "x", "stray"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("extra command line arguments: [stray]"),
        "{err}"
    );
}

#[test]
fn bad_corefile_fails_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Corefile"),
        ".:1053 {\n    whoami\n    bogus\n}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["-conf", "Corefile"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "Corefile:3: Unknown directive 'bogus'");
    std::fs::write(
        dir.path().join("Corefile"),
        ".:1053 {\n    bufsize 100000\n}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["-validate", "-conf", "Corefile"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "Corefile:2: plugin/bufsize: plugin/bufsize: Wrong argument count or unexpected line ending after '100000'"
    );
    std::fs::write(
        dir.path().join("Corefile"),
        "a.org:1053 {\n whoami\n}\na.org:1053 {\n whoami\n}\n",
    )
    .unwrap();
    let (code, _, err) = run(&["-validate", "-conf", "Corefile"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "Corefile:4: cannot serve dns://a.org.:1053 - it is already defined"
    );
    std::fs::write(dir.path().join("Corefile"), ".:1053 {\n    etcd\n}\n").unwrap();
    let (code, _, err) = run(&["-validate", "-conf", "Corefile"], dir.path());
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "Corefile:2: plugin/etcd: this CoreDNS plugin is not available in ferrodns"
    );
    // Go's profiler and OpenTracing: refused, saying what ferrodns offers.
    for (directive, instead) in [
        ("pprof", "profile it with perf (perf record -g -p PID)"),
        ("trace zipkin localhost:9411", "show where the time goes"),
    ] {
        let name = directive.split(' ').next().unwrap();
        std::fs::write(
            dir.path().join("Corefile"),
            format!(".:1053 {{\n    whoami\n    {directive}\n}}\n"),
        )
        .unwrap();
        let (code, _, err) = run(&["-conf", "Corefile"], dir.path());
        assert_eq!(code, 1, "{err}");
        let head =
            format!("Corefile:3: plugin/{name}: this CoreDNS plugin is not part of ferrodns: ");
        assert!(err.starts_with(&head), "{err}");
        assert!(err.contains(instead), "{err}");
    }
    let (code, _, err) = run(&["-conf", "missing"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn validate_prints_what_would_be_served() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Corefile"),
        "example.org:1053 10.0.0.0/23:1053 {\n    whoami\n}\n.:1054 {\n    bind 127.0.0.1\n    whoami\n}\n",
    )
    .unwrap();
    let (code, out, _) = run(&["-validate", "-conf", "Corefile"], dir.path());
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "0.0.10.in-addr.arpa.:1053\n1.0.10.in-addr.arpa.:1053\nexample.org.:1053\n.:1054 on 127.0.0.1\n"
    );
}

#[test]
fn corefile_from_stdin_and_pidfile() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("ferrodns.pid");
    let mut child = Command::new(BIN)
        .args(["-conf", "stdin", "-quiet", "-pidfile"])
        .arg(&pidfile)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!(".:{port} {{\n whoami\n}}\n").as_bytes())
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(addr);
    assert_eq!(
        udp(addr, &query("a.b.", RecordType::A)).additionals.len(),
        2
    );
    let pid = std::fs::read_to_string(&pidfile).unwrap();
    assert_eq!(pid.trim(), child.id().to_string());
    // SIGTERM: clean exit, pidfile removed.
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!pidfile.exists());
}

#[test]
fn no_corefile_serves_the_builtin_default() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["-dns.port", &port.to_string()])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(addr);
    // whoami answers, and log writes a line
    assert_eq!(
        tcp(addr, &query("default.test.", RecordType::A))
            .additionals
            .len(),
        2
    );
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(out.starts_with(&format!(".:{port}\nferrodns-")), "{out}");
    assert!(out.contains("\"A IN default.test. tcp "), "{out}");
}

#[test]
fn a_second_server_on_the_same_port_fails() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Corefile"),
        format!(".:{} {{\n whoami\n}}\n", s.port),
    )
    .unwrap();
    let (code, _, err) = run(&["-conf", "Corefile"], dir.path());
    assert_eq!(code, 1);
    assert!(err.contains("Address already in use"), "{err}");
    // the first one still answers
    assert_eq!(s.udp("a.b.", RecordType::A).additionals.len(), 2);
}

#[test]
fn example_configs_validate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    for conf in ["config/Corefile", "config/edge-resolver.Corefile"] {
        let (code, out, err) = run(&["-validate", "-conf", conf], root);
        assert_eq!(code, 0, "{conf}: {err}");
        assert!(out.contains(".:"), "{conf}: {out}");
    }
}

/// The worker threads of process `pid`: (name, CPUs it may run on), once
/// `n` of them run pinned to one CPU each (or after 5 s, as they are).
fn workers(pid: u32, n: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let w = threads(pid);
        let pinned = w.iter().all(|(_, cpus)| !cpus.contains(['-', ',']));
        if (w.len() == n && pinned) || Instant::now() > deadline {
            return w;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn threads(pid: u32) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
                .unwrap_or_default()
        };
        let name = field("Name:");
        if name.starts_with("ferrodns-w") {
            out.push((name, field("Cpus_allowed_list:")));
        }
    }
    out.sort();
    out
}

#[test]
fn one_pinned_worker_per_allowed_cpu_or_as_many_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    std::fs::write(
        dir.path().join("Corefile"),
        format!(".:{port} {{\n    whoami\n}}\n"),
    )
    .unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // Under taskset: the CPUs the process may use decide, each worker
    // pinned to one of them.
    let mut child = Command::new("taskset")
        .args(["-c", "0", BIN, "-quiet"])
        .current_dir(dir.path())
        .spawn()
        .expect("taskset runs");
    wait_listening(addr);
    let w = workers(child.id(), 1);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(w, [("ferrodns-w0".to_string(), "0".to_string())]);
    // -workers when the Corefile has no multisocket.
    let mut child = Command::new(BIN)
        .args(["-quiet", "-workers", "3"])
        .current_dir(dir.path())
        .spawn()
        .unwrap();
    wait_listening(addr);
    let w = workers(child.id(), 3);
    let _ = child.kill();
    let _ = child.wait();
    let names: Vec<&str> = w.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["ferrodns-w0", "ferrodns-w1", "ferrodns-w2"]);
    // Each pinned to a single CPU.
    assert!(
        w.iter().all(|(_, cpus)| !cpus.contains(['-', ','])),
        "{w:?}"
    );
}
