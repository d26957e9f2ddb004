//! Signals are handled the same whatever the plugins: plugins that start
//! threads while the Corefile loads (hosts' and file's reload threads)
//! must not take SIGUSR1, SIGHUP or SIGTERM with the default action, which
//! kills the process.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

const ZONE: &str = "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1.example.org. h.example.org. 1 7200 3600 1209600 60\n  IN NS ns1.example.org.\nwww IN A 192.0.2.80\n";

/// A Corefile under test: the plugin it is about, its text, its files.
type Case = (&'static str, String, Vec<(&'static str, &'static str)>);

/// The Corefiles under test: one with `hosts`, one with `file`, each
/// answering `www.example.org A`.
fn corefiles() -> [Case; 2] {
    [
        (
            "hosts",
            ".:{PORT} {\n    hosts hosts.txt\n}\n".to_string(),
            vec![("hosts.txt", "192.0.2.80 www.example.org\n")],
        ),
        (
            "file",
            "example.org:{PORT} {\n    file db.example.org\n}\n".to_string(),
            vec![("db.example.org", ZONE)],
        ),
    ]
}

fn answers_www(s: &Server) -> bool {
    let m = s.udp("www.example.org.", RecordType::A);
    m.metadata.response_code == ResponseCode::NoError && answers(&m).len() == 1
}

fn alive(s: &mut Server) -> bool {
    s.wait_exit(0).is_none()
}

#[test]
fn sigusr1_and_sighup_keep_the_process_alive_with_hosts_and_file() {
    for (plugin, corefile, files) in corefiles() {
        let mut s = Server::start(&corefile, &files);
        assert!(answers_www(&s), "{plugin}");
        // Let the plugin's reload thread start and wait in its sleep.
        std::thread::sleep(Duration::from_millis(200));
        s.signal(libc::SIGUSR1);
        let out = s.wait_log("Reloading complete");
        assert!(
            out.contains("[INFO] SIGUSR1: Reloading\n")
                && out.contains("[INFO] Reloading complete\n"),
            "{plugin}: {out}"
        );
        assert!(alive(&mut s), "{plugin}: SIGUSR1 killed the process");
        assert!(answers_www(&s), "{plugin}");
        for _ in 0..3 {
            s.signal(libc::SIGHUP);
        }
        std::thread::sleep(Duration::from_millis(300));
        assert!(alive(&mut s), "{plugin}: SIGHUP killed the process");
        assert!(answers_www(&s), "{plugin}");
    }
}

#[test]
fn sigterm_sigint_and_sigquit_shut_down_gracefully_with_hosts_and_file() {
    for (plugin, corefile, files) in corefiles() {
        // CoreDNS's lines (SIGQUIT, which CoreDNS obeys at once, shuts
        // down like SIGTERM).
        for (sig, name, line) in [
            (
                libc::SIGTERM,
                "SIGTERM",
                "Shutting down servers then terminating",
            ),
            (libc::SIGINT, "SIGINT", "Shutting down"),
            (
                libc::SIGQUIT,
                "SIGQUIT",
                "Shutting down servers then terminating",
            ),
        ] {
            let mut s = Server::start(&corefile, &files);
            assert!(answers_www(&s));
            std::thread::sleep(Duration::from_millis(100));
            s.signal(sig);
            assert_eq!(s.wait_exit(10), Some(0), "{plugin} {name}: {}", s.stdout());
            assert!(
                s.stdout().contains(&format!("[INFO] {name}: {line}\n")),
                "{plugin} {name}: {}",
                s.stdout()
            );
        }
    }
}

/// SIGQUIT waits out health's lameduck like SIGTERM, still answering.
#[test]
fn sigquit_waits_out_lameduck() {
    let hp = free_port();
    let mut s = Server::start(
        &format!(".:{{PORT}} {{\n    health 127.0.0.1:{hp} {{\n        lameduck 1s\n    }}\n    hosts hosts.txt\n}}\n"),
        &[("hosts.txt", "192.0.2.80 www.example.org\n")],
    );
    let t = Instant::now();
    s.signal(libc::SIGQUIT);
    s.wait_log("Going into lameduck mode");
    assert!(answers_www(&s), "no answer during lameduck");
    assert_eq!(s.wait_exit(10), Some(0), "{}", s.stdout());
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert!(
        s.stdout()
            .contains("[INFO] plugin/health: Going into lameduck mode for 1s"),
        "{}",
        s.stdout()
    );
}

/// A second SIGINT during the lameduck quits at once, as CoreDNS's does.
#[test]
fn a_second_sigint_forces_the_quit() {
    let hp = free_port();
    let mut s = Server::start(
        &format!(".:{{PORT}} {{\n    health 127.0.0.1:{hp} {{\n        lameduck 5s\n    }}\n    hosts hosts.txt\n}}\n"),
        &[("hosts.txt", "192.0.2.80 www.example.org\n")],
    );
    let t = Instant::now();
    s.signal(libc::SIGINT);
    s.wait_log("Going into lameduck mode");
    s.signal(libc::SIGINT);
    assert_eq!(s.wait_exit(10), Some(2), "{}", s.stdout());
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert!(
        s.stdout().contains("[INFO] SIGINT: Force quit\n"),
        "{}",
        s.stdout()
    );
}

/// Every thread of the process (workers, hosts' and file's reload threads,
/// forward's health checks, the HTTP endpoints, the reload plugin's ticker)
/// has the five signals blocked: only the signal thread's sigwait takes
/// them.
#[test]
fn every_thread_blocks_the_control_signals() {
    let (hp, mp) = (free_port(), free_port());
    let up = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let s = Server::start(
        &format!(
            "example.org:{{PORT}} {{\n    file db.example.org\n}}\n\
             .:{{PORT}} {{\n    reload 2s\n    health 127.0.0.1:{hp}\n    prometheus 127.0.0.1:{mp}\n    hosts hosts.txt {{\n        fallthrough\n    }}\n    forward . 127.0.0.1:{} {{\n        health_check 100ms\n    }}\n}}\n",
            up.port
        ),
        &[
            ("db.example.org", ZONE),
            ("hosts.txt", "192.0.2.80 www.example.net\n"),
        ],
    );
    assert!(answers_www(&s));
    std::thread::sleep(Duration::from_millis(300));
    let wanted = [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGTERM,
    ]
    .iter()
    .fold(0u64, |m, &sig| m | 1 << (sig - 1));
    let tasks = std::fs::read_dir(format!("/proc/{}/task", s.pid())).unwrap();
    let mut threads = 0;
    for t in tasks {
        let status = std::fs::read_to_string(t.unwrap().path().join("status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or_default()
                .to_string()
        };
        let blocked = u64::from_str_radix(&field("SigBlk:"), 16).unwrap();
        if field("Name:") == "signals" {
            // The one place that takes them: sigwait unblocks what it waits
            // for while it waits.
            continue;
        }
        assert_eq!(
            blocked & wanted,
            wanted,
            "thread {} does not block the control signals (SigBlk {blocked:x})",
            field("Name:")
        );
        threads += 1;
    }
    // Main, signals, reload ticker, workers, HTTP, reload threads, probes.
    assert!(threads >= 6, "only {threads} threads");
}

/// `on`: startup commands run once the server serves and again after each
/// reload, shutdown commands on SIGTERM before it stops; a command that
/// fails is logged as caddy logs a failed hook and the others still run.
/// Single quotes keep a shell command together: the Corefile's lexer
/// leaves them be and the command line is split as a shell would.
#[test]
fn on_runs_commands_at_startup_reload_and_shutdown() {
    let mut s = Server::start(
        ".:{PORT} {
    on startup sh -c 'echo up >> events'
    on startup false
    on shutdown sh -c 'echo down >> events'
    whoami
}
",
        &[],
    );
    let events = s.path("events");
    let lines = |n: usize| {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let t = std::fs::read_to_string(&events).unwrap_or_default();
            if t.lines().count() >= n || Instant::now() > deadline {
                return t;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    assert_eq!(lines(1), "up\n");
    let log = s.wait_log("hook: exit status 1");
    assert!(
        log.contains("[INFO] Blocking Command \"sh -c echo up >> events\" with ID "),
        "{log}"
    );
    assert!(
        log.contains("[INFO] Blocking Command \"false \" with ID "),
        "{log}"
    );
    let failed = log
        .lines()
        .find(|l| l.starts_with("error on 'on-"))
        .unwrap_or_else(|| panic!("no failed hook in\n{log}"));
    assert!(failed.ends_with("' hook: exit status 1"), "{failed}");
    s.signal(libc::SIGUSR1);
    assert_eq!(lines(2), "up\nup\n", "startup again after the reload");
    s.signal(libc::SIGTERM);
    assert_eq!(s.wait_exit(10), Some(0));
    assert_eq!(lines(3), "up\nup\ndown\n");
}
