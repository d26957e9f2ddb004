//! The cache plugin, through the real binary, with hosts (reloaded every
//! 100 ms) or file behind it as the data the cache stores.
//!
//! These tests start ferrodns with a single CPU in its affinity mask (one
//! worker), so that what they count does not depend on how the kernel
//! spreads queries; tests/node_local.rs asks one cache from many workers.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use std::time::{Duration, Instant};

/// Starts ferrodns on one worker (see the module comment).
fn start(corefile: &str, files: &[(&str, &str)]) -> Server {
    // The child inherits this thread's CPU affinity.
    // SAFETY: plain libc calls on a zeroed, properly sized cpu_set_t.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        assert_eq!(libc::sched_getaffinity(0, size, &mut set), 0);
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&c| libc::CPU_ISSET(c, &set))
            .expect("a CPU");
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(first, &mut set);
        assert_eq!(libc::sched_setaffinity(0, size, &set), 0);
    }
    Server::start(corefile, files)
}

const HOSTS_COREFILE: &str = "example.org:{PORT} {
    cache CACHE_TTL
    hosts hosts.txt {
        ttl 60
        reload 100ms
    }
}
";

fn hosts_server(cache_ttl: &str, hosts: &str) -> Server {
    start(
        &HOSTS_COREFILE.replace("CACHE_TTL", cache_ttl),
        &[("hosts.txt", hosts)],
    )
}

/// Rewrites the hosts file and waits until hosts has surely reloaded it.
fn change_hosts(s: &Server, body: &str) {
    write_file(&s.path("hosts.txt"), body);
    std::thread::sleep(Duration::from_millis(400));
}

fn ip(m: &Message) -> String {
    match m.answers.first().map(|r| &r.data) {
        Some(RData::A(a)) => a.to_string(),
        other => format!("{other:?}"),
    }
}

fn ttl(m: &Message) -> u32 {
    m.answers
        .first()
        .or(m.authorities.first())
        .expect("a record")
        .ttl
}

#[test]
fn answers_from_cache_until_expiry() {
    // Cache for at most 2 s.
    let s = hosts_server("2", "192.0.2.1 www.example.org\n");
    let start = Instant::now();
    for m in s.both("www.example.org.", RecordType::A) {
        assert_eq!(ip(&m), "192.0.2.1");
        assert_eq!(ttl(&m), 2, "capped at the cache's TTL");
    }
    change_hosts(&s, "192.0.2.22 www.example.org\n");
    // hosts answers the new address now, the cache still the old one.
    for m in s.both("www.example.org.", RecordType::A) {
        assert_eq!(ip(&m), "192.0.2.1");
        assert!(m.metadata.authoritative);
    }
    std::thread::sleep(Duration::from_millis(2300).saturating_sub(start.elapsed()));
    for m in s.both("www.example.org.", RecordType::A) {
        assert_eq!(ip(&m), "192.0.2.22");
    }
}

#[test]
fn ttl_counts_down() {
    let s = hosts_server("", "192.0.2.1 www.example.org\n");
    assert_eq!(ttl(&s.udp("www.example.org.", RecordType::A)), 60);
    std::thread::sleep(Duration::from_millis(1100));
    for m in s.both("www.example.org.", RecordType::A) {
        assert_eq!(ttl(&m), 59);
        assert_eq!(ip(&m), "192.0.2.1");
    }
}

#[test]
fn client_spelling_and_id_kept() {
    let s = hosts_server("", "192.0.2.1 www.example.org\n");
    s.udp("www.example.org.", RecordType::A);
    let mut q = query("WwW.ExAmPlE.org.", RecordType::A);
    q.metadata.id = 777;
    for m in [udp(s.addr(), &q), tcp(s.addr(), &q)] {
        assert_eq!(m.metadata.id, 777);
        assert_eq!(m.queries[0].name().to_ascii(), "WwW.ExAmPlE.org.");
        assert_eq!(ip(&m), "192.0.2.1");
    }
}

#[test]
fn do_and_cd_are_cached_apart() {
    let s = hosts_server("", "192.0.2.1 www.example.org\n");
    assert_eq!(ip(&s.udp("www.example.org.", RecordType::A)), "192.0.2.1");
    change_hosts(&s, "192.0.2.22 www.example.org\n");
    // The plain question is cached; DO and CD ones are not yet.
    assert_eq!(ip(&s.udp("www.example.org.", RecordType::A)), "192.0.2.1");
    let m = udp(
        s.addr(),
        &with_edns(query("www.example.org.", RecordType::A), 1232, true),
    );
    assert_eq!(ip(&m), "192.0.2.22");
    assert!(m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok));
    let mut cd = query("www.example.org.", RecordType::A);
    cd.metadata.checking_disabled = true;
    let m = tcp(s.addr(), &cd);
    assert_eq!(ip(&m), "192.0.2.22");
    assert!(m.metadata.checking_disabled);
    // EDNS without DO shares the plain entry.
    let m = udp(
        s.addr(),
        &with_edns(query("www.example.org.", RecordType::A), 1232, false),
    );
    assert_eq!(ip(&m), "192.0.2.1");
    assert!(m.edns.is_some(), "the client's OPT is mirrored");
}

#[test]
fn empty_noerror_cached_five_seconds() {
    // hosts answers a name it has only as IPv4 with an empty NOERROR: the
    // cache keeps it for the minimum TTL, 5 s.
    let s = hosts_server("", "192.0.2.1 www.example.org\n");
    let m = s.udp("www.example.org.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    change_hosts(
        &s,
        "192.0.2.1 www.example.org\n2001:db8::1 www.example.org\n",
    );
    assert!(s
        .tcp("www.example.org.", RecordType::AAAA)
        .answers
        .is_empty());
}

// Denial (NXDOMAIN, NODATA with an SOA) needs a plugin that answers with an
// SOA: file is not implemented yet, so denial caching is tested in the
// plugin's unit tests.

/// A zone whose `huge` TXT set (700 records of 100 bytes) takes more than
/// 64 KiB on the wire, and whose `large` one (50 records) fits in TCP but
/// not in UDP.
fn oversized_zone() -> String {
    let mut z = String::from(
        "$ORIGIN example.org.\n$TTL 300\n@ IN SOA ns1.example.org. h.example.org. 1 7200 3600 1209600 60\n  IN NS ns1.example.org.\n",
    );
    for (name, n) in [("huge", 700), ("large", 50)] {
        for i in 0..n {
            z.push_str(&format!("{name} IN TXT \"{i:04}{}\"\n", "x".repeat(96)));
        }
    }
    z
}

/// Every reply, whether the chain, the cache or the cache's fast path gave
/// it, over UDP or TCP, is either complete or marked TC.
#[test]
fn oversized_answers_are_complete_or_truncated_on_every_path() {
    for fast in ["-fastpath=true", "-fastpath=false"] {
        let s = Server::start_args(
            "example.org:{PORT} {\n    cache 60\n    file db.example.org\n}\n",
            &[("db.example.org", &oversized_zone())],
            &[fast],
        );
        for (name, full) in [("huge.example.org.", 700), ("large.example.org.", 50)] {
            // Twice: the second time from the cache.
            for round in 0..2 {
                let asked = [
                    ("udp", s.udp(name, RecordType::TXT)),
                    (
                        "udp+edns",
                        udp(
                            s.addr(),
                            &with_edns(query(name, RecordType::TXT), 4096, false),
                        ),
                    ),
                    ("tcp", s.tcp(name, RecordType::TXT)),
                    (
                        "tcp+edns",
                        tcp(
                            s.addr(),
                            &with_edns(query(name, RecordType::TXT), 65535, false),
                        ),
                    ),
                ];
                for (how, m) in asked {
                    let n = m.answers.len();
                    assert!(
                        n == full || m.metadata.truncation,
                        "{fast} {name} {how} round {round}: {n} of {full} records without TC"
                    );
                    if name.starts_with("large") && how.starts_with("tcp") {
                        assert_eq!(n, full, "{fast} {name} {how} round {round}");
                    }
                }
            }
        }
    }
}
