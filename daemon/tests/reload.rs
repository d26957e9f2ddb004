//! Reloading the Corefile: SIGUSR1, the reload plugin, a broken Corefile
//! keeping the old one serving, and no query lost across reloads.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get_metrics(port: u16) -> String {
    let (status, _, body) = http_get(port, "/metrics");
    assert_eq!(status, 200);
    body
}

fn any_answers(s: &Server) -> bool {
    s.udp("x.test.", RecordType::ANY).answers.len() == 1
}

#[test]
fn sigusr1_reloads_and_a_broken_corefile_keeps_the_old_one() {
    let mp = free_port();
    let s = Server::start(
        &format!(".:{{PORT}} {{\n    prometheus 127.0.0.1:{mp}\n    whoami\n}}\n"),
        &[],
    );
    assert!(!any_answers(&s));
    let corefile = s.path("Corefile");
    write_file(
        &corefile,
        &format!(
            ".:{} {{\n    prometheus 127.0.0.1:{mp}\n    any\n    whoami\n}}\n",
            s.port
        ),
    );
    s.signal(libc::SIGUSR1);
    until("the reload", 5, || any_answers(&s));
    let out = s.wait_log("Reloading complete");
    assert!(out.contains("[INFO] SIGUSR1: Reloading\n"), "{out}");
    assert!(out.contains("[INFO] Reloading complete\n"), "{out}");

    // A broken Corefile: the error is logged and the old config serves on.
    assert!(!get_metrics(mp).contains("coredns_reload_failed_total 1"));
    write_file(
        &corefile,
        &format!(
            ".:{} {{\n    prometheus 127.0.0.1:{mp}\n    any\n    bogus\n}}\n",
            s.port
        ),
    );
    s.signal(libc::SIGUSR1);
    let out = s.wait_log("[ERROR] SIGUSR1:");
    assert!(
        out.contains("[ERROR] SIGUSR1: ") && out.contains("Corefile:4: Unknown directive 'bogus'"),
        "{out}"
    );
    assert!(any_answers(&s));
    assert_eq!(s.tcp("x.test.", RecordType::A).additionals.len(), 2);
    let body = get_metrics(mp);
    assert!(
        body.lines().any(|l| l == "coredns_reload_failed_total 1"),
        "{body}"
    );
}

#[test]
fn reload_plugin_notices_a_changed_corefile() {
    let s = Server::start(".:{PORT} {\n    reload 2s 0\n    whoami\n}\n", &[]);
    let out = s.wait_log("Running configuration SHA512 = ");
    assert!(
        out.contains("[INFO] plugin/reload: Running configuration SHA512 = "),
        "{out}"
    );
    // Layout and comments alone do not count as a change.
    write_file(
        &s.path("Corefile"),
        &format!(
            "# a comment\n.:{}   {{\n reload 2s 0\n whoami\n}}\n",
            s.port
        ),
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(!s.stdout().contains("Reloading"), "{}", s.stdout());
    write_file(
        &s.path("Corefile"),
        &format!(
            ".:{} {{\n    reload 2s 0\n    any\n    whoami\n}}\n",
            s.port
        ),
    );
    until("the reload plugin", 10, || any_answers(&s));
    let out = s.wait_log("Reloading complete");
    assert!(
        out.matches("Running configuration SHA512 = ").count() >= 2,
        "{out}"
    );
}

#[test]
fn reload_moves_to_a_new_port() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let port = free_port();
    write_file(&s.path("Corefile"), &format!(".:{port} {{\n    any\n}}\n"));
    s.signal(libc::SIGUSR1);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    until("the new listener", 5, || {
        udp_raw(
            addr,
            &query("x.test.", RecordType::ANY).to_vec().unwrap(),
            Duration::from_millis(200),
        )
        .is_some()
    });
    assert_eq!(
        udp(addr, &query("x.test.", RecordType::ANY)).answers.len(),
        1
    );
    // the old port is closed
    until("the old listener to close", 5, || {
        udp_raw(
            s.addr(),
            &query("x.test.", RecordType::A).to_vec().unwrap(),
            Duration::from_millis(200),
        )
        .is_none()
    });
}

#[test]
fn no_query_lost_across_reloads() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let addr = s.addr();
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let (mut sent, mut lost) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                let q = query("during.reload.test.", RecordType::A);
                sent += 1;
                match udp_raw(addr, &q.to_vec().unwrap(), Duration::from_secs(2)) {
                    Some(r) => {
                        let m = Message::from_vec(&r).unwrap();
                        assert_eq!(m.metadata.id, q.metadata.id);
                        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
                    }
                    None => lost += 1,
                }
            }
            (sent, lost)
        })
    };
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(150));
        let extra = if i % 2 == 0 { "    any\n" } else { "" };
        write_file(
            &s.path("Corefile"),
            &format!(".:{} {{\n{extra}    whoami\n}}\n", s.port),
        );
        s.signal(libc::SIGUSR1);
    }
    // Queries keep going until the last reload is done (a loaded machine
    // can take longer than the signals' spacing).
    until("5 reloads", 10, || {
        s.stdout().matches("Reloading complete").count() >= 5
    });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (sent, lost) = client.join().unwrap();
    assert!(sent > 50, "only {sent} queries sent");
    assert_eq!(lost, 0, "{lost} of {sent} queries lost");
    assert_eq!(
        s.stdout().matches("Reloading complete").count(),
        5,
        "{}",
        s.stdout()
    );
}

#[test]
fn sigterm_exits_cleanly() {
    let mut s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait_exit(10), Some(0));
    assert!(
        s.stdout().contains("[INFO] SIGTERM: Shutting down"),
        "{}",
        s.stdout()
    );
}

/// dnsperf, as an operator would run it, keeps querying through reloads.
#[test]
fn dnsperf_during_reloads_loses_no_query() {
    let s = Server::start(".:{PORT} {\n    any\n    whoami\n}\n", &[]);
    let text = "www.example.org A\nexample.org ANY\nmail.example.org AAAA\n";
    dnsperf_through_reloads(&s, text, &|i| {
        let extra = if i % 2 == 0 { "    chaos\n" } else { "" };
        format!(".:{} {{\n{extra}    any\n    whoami\n}}\n", s.port)
    });
}

/// The same with the cache fast path and forward's waiting replies in the
/// way, on both UDP I/O paths.
#[test]
fn dnsperf_through_reloads_with_cache_and_forward_on_both_io_paths() {
    let up = Server::start(
        "example.org:{PORT} {\n    file db.example.org\n}\n",
        &[(
            "db.example.org",
            "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1.example.org. h.example.org. 1 7200 3600 1209600 60\n  IN NS ns1.example.org.\n* IN A 192.0.2.7\n",
        )],
    );
    let names: String = (0..200).map(|i| format!("h{i}.example.org A\n")).collect();
    for io in ["mmsg", "uring"] {
        let corefile = |extra: &str, port: &str| {
            format!(
                ".:{port} {{\n{extra}    cache 30\n    forward . 127.0.0.1:{}\n}}\n",
                up.port
            )
        };
        let s = Server::start_args(&corefile("", "{PORT}"), &[], &["-io", io]);
        // The uring run is io_uring's, not recvmmsg's fallback.
        assert!(
            !s.stdout().contains("io_uring unavailable"),
            "{}",
            s.stdout()
        );
        dnsperf_through_reloads(&s, &names, &|i| {
            let extra = if i % 2 == 0 { "    any\n" } else { "" };
            corefile(extra, &s.port.to_string())
        });
    }
}

/// Runs dnsperf for 3 s against `s` while its Corefile is rewritten (the
/// `i`th time by `corefile(i)`) and reloaded six times; no query may be lost.
fn dnsperf_through_reloads(s: &Server, queries_text: &str, corefile: &dyn Fn(usize) -> String) {
    if std::process::Command::new("dnsperf")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED dnsperf through reloads: dnsperf is not installed (cargo xtask test installs it)");
        return;
    }
    let queries = s.path("queries.txt");
    write_file(&queries, queries_text);
    let perf = std::process::Command::new("dnsperf")
        .args([
            "-s",
            "127.0.0.1",
            "-p",
            &s.port.to_string(),
            "-l",
            "3",
            "-Q",
            "3000",
            "-t",
            "2",
            "-d",
        ])
        .arg(&queries)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    for i in 0..6 {
        std::thread::sleep(Duration::from_millis(400));
        write_file(&s.path("Corefile"), &corefile(i));
        s.signal(libc::SIGUSR1);
    }
    let out = perf.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("{name}?\n{text}"));
        line.split(':')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (sent, lost) = (field("Queries sent"), field("Queries lost"));
    assert!(sent > 3000, "dnsperf sent only {sent}:\n{text}");
    assert_eq!(lost, 0, "{text}");
    assert_eq!(
        s.stdout().matches("Reloading complete").count(),
        6,
        "{}",
        s.stdout()
    );
}

/// Open descriptors of process `pid`.
fn descriptors(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// A reload gives forward new per-worker state; the old state's sockets to
/// the upstream must close, not pile up.
#[test]
fn reloads_do_not_leak_upstream_sockets() {
    let up = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let corefile = |extra: &str, port: &str| {
        format!(
            ".:{port} {{\n{extra}    forward . 127.0.0.1:{}\n}}\n",
            up.port
        )
    };
    let s = Server::start(&corefile("", "{PORT}"), &[]);
    let ask = |s: &Server| {
        for i in 0..20 {
            let m = s.udp(&format!("q{i}.example."), RecordType::A);
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        }
    };
    ask(&s);
    let before = descriptors(s.pid());
    for i in 0..8 {
        let extra = if i % 2 == 0 { "    errors\n" } else { "" };
        write_file(&s.path("Corefile"), &corefile(extra, &s.port.to_string()));
        s.signal(libc::SIGUSR1);
        until("the reload", 5, || {
            s.stdout().matches("Reloading complete").count() > i
        });
        ask(&s);
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = descriptors(s.pid());
    assert!(
        after <= before + 2,
        "descriptors {before} before 8 reloads, {after} after"
    );
}

/// Reloads that add and remove a listener keep the listeners that stay:
/// dnsperf on the kept one loses nothing, and a TCP connection opened to it
/// before the reloads still answers after them. The listener that comes
/// and goes answers while it is there.
#[test]
fn dnsperf_through_reloads_that_add_and_remove_listeners() {
    for io in ["mmsg", "uring"] {
        let other = free_port();
        let corefile = |with_other: bool, port: &str| {
            let extra = if with_other {
                format!("example.net:{other} {{\n    whoami\n}}\n")
            } else {
                String::new()
            };
            format!(".:{port} {{\n    any\n    whoami\n}}\n{extra}")
        };
        let s = Server::start_args(&corefile(false, "{PORT}"), &[], &["-io", io]);
        let mut conn = std::net::TcpStream::connect(s.addr()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let ask_tcp = |conn: &mut std::net::TcpStream| {
            let q = query("kept.tcp.test.", RecordType::A);
            tcp_send(conn, &q.to_vec().unwrap());
            let r = tcp_recv(conn).expect("the kept TCP connection answers");
            assert_eq!(Message::from_vec(&r).unwrap().metadata.id, q.metadata.id);
        };
        ask_tcp(&mut conn);
        let port = s.port.to_string();
        let text = "www.example.org A\nexample.org ANY\nmail.example.org AAAA\n";
        dnsperf_through_reloads(&s, text, &|i| corefile(i % 2 == 0, &port));
        // The last Corefile (i = 5) has no second listener; before it, the
        // fifth (i = 4) did: both a bind and a close happened under load.
        ask_tcp(&mut conn);
        write_file(&s.path("Corefile"), &corefile(true, &port));
        s.signal(libc::SIGUSR1);
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], other));
        until("the added listener", 5, || {
            udp_raw(
                addr,
                &query("a.example.net.", RecordType::A).to_vec().unwrap(),
                Duration::from_millis(200),
            )
            .is_some()
        });
        ask_tcp(&mut conn);
    }
}

/// A reload keeps the cache of a block whose `cache` settings did not
/// change, and starts one with new settings empty.
#[test]
fn reload_keeps_the_cache_when_its_settings_stay() {
    let up = Server::start(
        "example.org:{PORT} {\n    file db.example.org\n}\n",
        &[(
            "db.example.org",
            "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1.example.org. h.example.org. 1 7200 3600 1209600 60\n  IN NS ns1.example.org.\n* IN A 192.0.2.7\n",
        )],
    );
    let up_port = up.port;
    let corefile = |extra: &str, cache: &str, port: &str| {
        format!(".:{port} {{\n{extra}    {cache}\n    forward . 127.0.0.1:{up_port}\n}}\n")
    };
    let s = Server::start(&corefile("", "cache 60", "{PORT}"), &[]);
    let port = s.port.to_string();
    let names: Vec<String> = (0..20).map(|i| format!("k{i}.example.org.")).collect();
    for n in &names {
        assert_eq!(answers(&s.udp(n, RecordType::A)).len(), 1, "{n}");
    }
    drop(up);
    // Another plugin in the block, the same cache settings: kept.
    write_file(
        &s.path("Corefile"),
        &corefile("    any\n", "cache 60", &port),
    );
    s.signal(libc::SIGUSR1);
    until("the reload", 5, || {
        s.stdout().matches("Reloading complete").count() == 1
    });
    for n in &names {
        let m = s.udp(n, RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{n}");
        assert_eq!(answers(&m).len(), 1, "{n} from the kept cache");
    }
    // Other settings: a new, empty cache (and the upstream is gone).
    write_file(
        &s.path("Corefile"),
        &corefile("    any\n", "cache 30", &port),
    );
    s.signal(libc::SIGUSR1);
    until("the reload", 5, || {
        s.stdout().matches("Reloading complete").count() == 2
    });
    let m = s.udp(&names[0], RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

/// Reloads that change the number of workers (`multisocket`): the new
/// workers take over the old ones' sockets (only those of workers past the
/// new count close), and where the build steers, the program is loaded
/// again for the new set before the old one stops. dnsperf loses nothing,
/// steered or spread by the kernel's flow hash (`-steer=false`).
#[test]
fn dnsperf_through_reloads_that_change_the_workers() {
    let corefile = |n: usize, port: &str| {
        format!(".:{port} {{\n    multisocket {n}\n    any\n    whoami\n}}\n")
    };
    for steer in [true, false] {
        let flag = format!("-steer={steer}");
        let s = Server::start_args(&corefile(2, "{PORT}"), &[], &[&flag]);
        let port = s.port.to_string();
        let text = "www.example.org A\nexample.org ANY\nmail.example.org AAAA\n";
        // 2, 3, 2, 3...: every reload grows or shrinks the set.
        dnsperf_through_reloads(&s, text, &|i| corefile(3 - i % 2, &port));
        let out = s.stdout();
        // Asked for in a build without the feature, steering is off with a
        // warning that says so.
        if !steer || cfg!(feature = "steer") {
            assert!(!out.contains("[WARNING] steer"), "{out}");
        }
        if steer && cfg!(feature = "steer") {
            assert!(
                out.contains("steer: UDP queries steered by question to 2 workers"),
                "{out}"
            );
        }
    }
}
