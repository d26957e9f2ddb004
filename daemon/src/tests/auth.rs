//! Authoritative answers on the raw path (file, hosts) are the chain's, byte
//! for byte: every name and type of a large zone (and of a hosts file),
//! names that do not exist, other cases, with and without OPT, asked of two
//! servers with the same configuration, one answering from prepared bytes
//! where it can and one with the fast path off. Their replies must match,
//! and so must the metrics they count; most queries must take the fast
//! path. A reload must reach the fast path with the data.

use super::fastpath::{ask, query, Case, ZONE};
use crate::server::Dispatcher;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The test zone: the fast path test's, and several thousand records more.
fn big_zone() -> String {
    let mut z = String::from(ZONE);
    z.push_str(
        "
; names below a wildcard, a delegation with glue, a DNAME, empty
; non-terminals, an SRV owner in upper case, a CNAME chain, a CNAME to a
; delegation, a CNAME loop
*.w     IN A     192.0.2.91
        IN TXT   \"wild\"
x.w     IN AAAA  2001:db8::91
d       IN NS    ns.d.example.org.
        IN NS    ns.elsewhere.net.
ns.d    IN A     192.0.2.54
        IN AAAA  2001:db8::54
dn      IN DNAME example.net.
a.b.ent IN A     192.0.2.60
_SIP._TCP.up IN SRV 0 5 5060 www.example.org.
c1      IN CNAME c2.example.org.
c2      IN CNAME c3.example.org.
c3      IN A     192.0.2.63
tod     IN CNAME host.d.example.org.
loop1   IN CNAME loop2.example.org.
loop2   IN CNAME loop1.example.org.
hostmaster.sub2 IN A 192.0.2.64
",
    );
    for i in 0..2000u32 {
        let _ = writeln!(z, "h{i} IN A 10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
        if i % 3 == 0 {
            let _ = writeln!(z, "h{i} IN AAAA 2001:db8::{i:x}");
        }
        if i % 5 == 0 {
            let _ = writeln!(z, "h{i} IN MX {} h{}.example.org.", i % 50, (i + 1) % 2000);
        }
        if i % 7 == 0 {
            let _ = writeln!(z, "h{i} IN TXT \"t{i}\" \"more {i}\"");
        }
        if i % 11 == 0 {
            let _ = writeln!(z, "_sip._udp.s{i} IN SRV 0 5 5060 h{i}.example.org.");
        }
        if i % 13 == 0 {
            let _ = writeln!(z, "c{i} IN CNAME h{i}.example.org.");
        }
        if i % 17 == 0 {
            let _ = writeln!(z, "x{i} IN CNAME www{i}.example.net.");
        }
        if i % 19 == 0 {
            let _ = writeln!(z, "e{i}.deep.ent IN A 10.99.{}.{}", i >> 8, i & 255);
        }
    }
    z
}

/// Every owner name of a zone's text and the empty non-terminals above them.
fn owners(zone: &str, origin: &str) -> Vec<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut last = String::new();
    for line in zone.lines() {
        let line = line.split(';').next().unwrap_or("");
        if line.trim().is_empty() || line.starts_with('$') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            last = line.split_whitespace().next().unwrap().to_string();
        }
        let full = if last == "@" {
            origin.to_string()
        } else if last.ends_with('.') {
            last.clone()
        } else {
            format!("{last}.{origin}")
        };
        let mut n = full.to_ascii_lowercase();
        while n.len() > origin.len() {
            names.insert(n.clone());
            n = n.split_once('.').unwrap().1.to_string();
        }
        names.insert(origin.to_string());
    }
    names.into_iter().collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Names the zone does not have, of every sort: plain NXDOMAIN, the SOA's
/// names and names below them, below a wildcard, a delegation, a DNAME, a
/// CNAME, an empty non-terminal, long and many-labelled names, names that
/// need escapes.
fn missing() -> Vec<String> {
    let mut v: Vec<String> = strings(&[
        "nope.example.org.",
        "deep.nope.example.org.",
        "hostmaster.example.org.",
        "x.hostmaster.example.org.",
        "a.b.hostmaster.example.org.",
        "x.ns1.example.org.",
        "ns1x.example.org.",
        "xns1.example.org.",
        "x.hostmaster.sub2.example.org.",
        "sub2.example.org.",
        "y.sub2.example.org.",
        "a.w.example.org.",
        "b.c.w.example.org.",
        "x.x.w.example.org.",
        "host.d.example.org.",
        "x.ns.d.example.org.",
        "x.dn.example.org.",
        "x.y.dn.example.org.",
        "x.web.example.org.",
        "x.b.ent.example.org.",
        "x.ent.example.org.",
        "z.deep.ent.example.org.",
        "x._udp.s11.example.org.",
        "x.h5.example.org.",
        "org.example.org.",
        "example.org.example.org.",
        "h2000.example.org.",
        "h1.h1.example.org.",
        "*.example.org.",
        "x.*.w.example.org.",
        "a\\.b.example.org.",
        "a\\ b.example.org.",
        "a\\(b.example.org.",
        "\\200.example.org.",
        "a\\000b.example.org.",
    ]);
    let long = format!("{}.example.org.", vec!["a".repeat(60); 3].join("."));
    v.push(long);
    let label63 = format!("{}.example.org.", "q".repeat(63));
    v.push(label63);
    for labels in [30, 45, 50, 51, 52, 53, 60, 110] {
        v.push(format!("{}example.org.", "x.".repeat(labels)));
    }
    for i in 0..300 {
        v.push(format!("nx{i}.example.org."));
        v.push(format!("n{i}.h{i}.example.org."));
    }
    v
}

const TYPES: &[u16] = &[
    1, 2, 5, 6, 12, 15, 16, 28, 33, 39, 43, 65, 99, 255, 257, 65280, 65281,
];

/// A query's flags word, its OPT (UDP size, flags word), whether over TCP.
type Variant = (u16, Option<(u16, u16)>, bool);

const VARIANTS: &[Variant] = &[
    (0x0100, None, false),
    (0x0000, Some((1232, 0x8000)), false),
    (0x0110, Some((4096, 0)), false),
    (0x0120, None, true),
    (0x0130, Some((300, 0x8000)), false),
    (0x0100, Some((512, 0)), false),
    (0x0100, Some((1400, 0xC100)), true),
    (0x0010, Some((65535, 0)), false),
];

/// Wire form of a presentation name with `\X` and `\DDD` escapes.
fn wire(name: &str) -> Vec<u8> {
    let (mut w, mut label) = (Vec::new(), Vec::new());
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\'
                if b.get(i + 1..i + 4)
                    .is_some_and(|d| d.iter().all(u8::is_ascii_digit)) =>
            {
                let d = &b[i + 1..i + 4];
                label.push(d.iter().fold(0u8, |v, c| v * 10 + (c - b'0')));
                i += 4;
            }
            b'\\' => {
                label.push(b[i + 1]);
                i += 2;
            }
            b'.' => {
                w.push(label.len() as u8);
                w.append(&mut label);
                i += 1;
            }
            c => {
                label.push(c);
                i += 1;
            }
        }
    }
    w.push(0);
    w
}

/// A query as bytes, its name given in presentation form.
fn ask_bytes(id: u16, flags: u16, name: &str, qtype: u16, opt: Option<(u16, u16)>) -> Vec<u8> {
    let mut q = query(id, flags, ".", qtype, opt);
    q.splice(12..13, wire(name));
    q
}

/// `name` with every other letter in upper case.
fn mixed(name: &str) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            if i % 2 == 0 {
                c.to_ascii_uppercase()
            } else {
                c
            }
        })
        .collect()
}

/// The client of every query.
fn client() -> SocketAddr {
    "192.0.2.7:40053".parse().unwrap()
}

/// Every name with every type, each in one of the variants (all of them
/// for every seventh name), and in another case for every fifth name.
fn queries(names: &[String]) -> Vec<Case> {
    let mut out = Vec::new();
    let mut id = 7u16;
    for (i, name) in names.iter().enumerate() {
        for (j, &qtype) in TYPES.iter().enumerate() {
            let variants: Vec<_> = if i % 7 == 0 {
                VARIANTS.to_vec()
            } else {
                vec![VARIANTS[(i + j) % VARIANTS.len()]]
            };
            for (flags, opt, tcp) in variants {
                id = id.wrapping_mul(31).wrapping_add(11);
                out.push(Case {
                    bytes: ask_bytes(id, flags, name, qtype, opt),
                    tcp,
                    src: client(),
                });
                if i % 5 == 0 {
                    out.push(Case {
                        bytes: ask_bytes(id ^ 1, flags, &mixed(name), qtype, opt),
                        tcp,
                        src: client(),
                    });
                }
            }
        }
    }
    out
}

/// Two servers of one configuration (`{PORT}` in `corefile` set apart so
/// their metrics are told apart): one with the fast path, one without.
struct Pair {
    fast: Dispatcher,
    chain: Dispatcher,
    ports: (u16, u16),
}

impl Pair {
    fn new(corefile: &str, ports: (u16, u16)) -> Pair {
        let load = |port: u16, fast: bool| {
            let text = corefile.replace("{PORT}", &port.to_string());
            let config =
                crate::server::load(&text, "Corefile", 53, crate::plugins::ORDER).expect("loads");
            assert!(
                config.blocks[0].fast.is_some(),
                "the fast path is on: {text}"
            );
            Dispatcher::new(Arc::new(config), 0, 1, fast)
        };
        Pair {
            fast: load(ports.0, true),
            chain: load(ports.1, false),
            ports,
        }
    }

    /// Asks both every query; returns how many the fast path answered.
    fn compare(&mut self, qs: &[Case], what: &str) -> (u64, usize) {
        let before = self.fast.fast_answers();
        for q in qs {
            let a = ask(&mut self.fast, q);
            let b = ask(&mut self.chain, q);
            assert_eq!(
                a, b,
                "{what}: query {:02x?} (tcp {}): fast {a:02x?}, chain {b:02x?}",
                q.bytes, q.tcp
            );
        }
        assert_eq!(self.chain.fast_answers(), 0);
        (self.fast.fast_answers() - before, qs.len())
    }

    /// The two servers' metric lines that do not measure time must match.
    fn same_metrics(&self) {
        let text = crate::metrics::render();
        let lines = |port: u16| -> Vec<String> {
            let label = format!("server=\"dns://:{port}\"");
            let mut v: Vec<String> = text
                .lines()
                .filter(|l| l.contains(&label) && !l.contains("duration_seconds"))
                .map(|l| l.replace(&label, "server=\"S\""))
                .collect();
            v.sort();
            v
        };
        let (a, b) = (lines(self.ports.0), lines(self.ports.1));
        assert!(
            a.iter()
                .any(|l| l.starts_with("coredns_dns_requests_total")),
            "{a:#?}"
        );
        assert_eq!(a, b);
    }
}

fn file_corefile(dir: &std::path::Path, plugins: &str) -> String {
    format!(
        "example.org:{{PORT}} {{
    root {}
    {plugins}
    file db.example.org
}}
",
        dir.display()
    )
}

#[test]
fn file_answers_on_the_fast_path_as_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let zone = big_zone();
    std::fs::write(dir.path().join("db.example.org"), &zone).unwrap();
    let mut names = owners(&zone, "example.org.");
    assert!(names.len() > 2500, "{} names", names.len());
    names.extend(missing());
    let qs = queries(&names);
    for (i, plugins) in [
        "",
        "prometheus 127.0.0.1:9153\n    log h1.example.org\n",
        "errors\n",
    ]
    .into_iter()
    .enumerate()
    {
        let ports = (45310 + 2 * i as u16, 45311 + 2 * i as u16);
        let mut pair = Pair::new(&file_corefile(dir.path(), plugins), ports);
        let (fast, all) = pair.compare(&qs, plugins);
        eprintln!("file, {plugins:?}: {fast} of {all} queries took the fast path");
        // Other cases, escapes, names below wildcards and delegations, CNAMEs
        // leaving the zone, DS, replies too large: the chain's.
        assert!(fast * 10 >= all as u64 * 7, "only {fast} of {all}");
        if !plugins.is_empty() && plugins.starts_with("prometheus") {
            pair.same_metrics();
        }
    }
}

#[test]
fn file_with_fallthrough_leaves_empty_answers_to_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.example.org"), big_zone()).unwrap();
    // whoami answers what falls through.
    let corefile = format!(
        "example.org:{{PORT}} {{
    root {}
    file db.example.org {{
        fallthrough
    }}
    whoami
}}
",
        dir.path().display()
    );
    let mut names: Vec<String> =
        strings(&["www.example.org.", "nope.example.org.", "sub2.example.org."]);
    names.extend(missing().into_iter().take(40));
    let qs = queries(&names);
    let mut pair = Pair::new(&corefile, (45330, 45331));
    let (fast, all) = pair.compare(&qs, "fallthrough");
    eprintln!("file with fallthrough: {fast} of {all} queries took the fast path");
    assert!(fast > 0 && (fast as usize) < all / 4, "{fast} of {all}");
}

#[test]
fn several_zones_in_one_file_plugin() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.example.org"), big_zone()).unwrap();
    std::fs::write(
        dir.path().join("db.sub"),
        "$ORIGIN sub.example.org.
@ 60 IN SOA ns.sub.example.org. h.sub.example.org. 7 1 1 1 60
  60 IN NS ns.sub.example.org.
ns 60 IN A 192.0.2.153
host 60 IN A 192.0.2.154
",
    )
    .unwrap();
    let corefile = format!(
        "example.org:{{PORT}} {{
    root {}
    file db.example.org example.org
    file db.sub sub.example.org
}}
",
        dir.path().display()
    );
    let names: Vec<String> = strings(&[
        "www.example.org.",
        "sub.example.org.",
        "ns.sub.example.org.",
        "host.sub.example.org.",
        "nope.sub.example.org.",
        "x.host.sub.example.org.",
        "nope.example.org.",
    ]);
    let mut pair = Pair::new(&corefile, (45332, 45333));
    let (fast, all) = pair.compare(&queries(&names), "two zones");
    assert!(fast * 2 >= all as u64, "{fast} of {all}");
}

/// A hosts file of many names: both families, several addresses, inline
/// entries, wildcards, names outside the zone.
fn hosts_file() -> String {
    let mut h = String::from(
        "# many names, both families, a wildcard, a name outside the zones
10.2.0.1 example.org WWW.example.org
10.2.0.2 example.org
fd00::2:1 example.org
fd00::2:5 six.example.org
10.2.0.9 *.w.example.org
10.2.0.3 outside.net
10.2.0.4 twice.example.org twice.example.org
",
    );
    for i in 0..1500u32 {
        let _ = writeln!(h, "10.1.{}.{} host{i}.example.org", i >> 8, i & 255);
        if i % 4 == 0 {
            let _ = writeln!(h, "fd00::1:{i:x} host{i}.example.org alias{i}.example.org");
        }
    }
    h
}

fn hosts_names() -> Vec<String> {
    let mut v = strings(&[
        "example.org.",
        "www.example.org.",
        "six.example.org.",
        "twice.example.org.",
        "x.w.example.org.",
        "a.b.w.example.org.",
        "inline.example.org.",
        "outside.net.",
        "nope.example.org.",
    ]);
    for ip in [
        "10.2.0.1",
        "10.2.0.9",
        "10.2.0.3",
        "10.0.0.7",
        "fd00::2:1",
        "fd00::2:5",
        "::1",
    ] {
        let ip: std::net::IpAddr = ip.parse().unwrap();
        v.push(hickory_proto::rr::Name::from(ip).to_ascii());
    }
    for i in 0..1500u32 {
        v.push(format!("host{i}.example.org."));
        if i % 4 == 0 {
            v.push(format!("alias{i}.example.org."));
        }
        if i % 10 == 0 {
            v.push(format!("{}.{}.1.10.in-addr.arpa.", i & 255, i >> 8));
        }
    }
    v
}

#[test]
fn hosts_answers_on_the_fast_path_as_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hosts"), hosts_file()).unwrap();
    let qs = queries(&hosts_names());
    for (i, (before, options, share)) in [
        ("", "", 60),
        (
            "prometheus 127.0.0.1:9153\n    log host1.example.org\n",
            "ttl 60",
            60,
        ),
        (
            "errors\n",
            "no_reverse\n        10.0.0.7 inline.example.org",
            60,
        ),
        // Only A, AAAA and PTR: the other types fall through.
        ("", "fallthrough\n        fallthrough_unsupported", 8),
        ("", "fallthrough", 60),
    ]
    .into_iter()
    .enumerate()
    {
        let corefile = format!(
            ".:{{PORT}} {{
    root {}
    {before}
    hosts hosts example.org in-addr.arpa ip6.arpa {{
        {options}
        reload 0
    }}
    file db.example.org example.org
}}
",
            dir.path().display()
        );
        std::fs::write(dir.path().join("db.example.org"), ZONE).unwrap();
        let ports = (45340 + 2 * i as u16, 45341 + 2 * i as u16);
        let mut pair = Pair::new(&corefile, ports);
        let (fast, all) = pair.compare(&qs, &corefile);
        eprintln!("hosts, {before:?} {options:?}: {fast} of {all} queries took the fast path");
        // Other cases (a sixth of the queries), PTR for forward names and
        // other types for reverse names (unknown names, SERVFAIL), DS,
        // names outside the zones: the chain's.
        assert!(fast * 100 >= all as u64 * share, "only {fast} of {all}");
        if before.starts_with("prometheus") {
            pair.same_metrics();
        }
    }
}

#[test]
fn hosts_inline_entries_answer_while_the_file_cannot_be_read() {
    let corefile = ".:{PORT} {
    hosts /nonexistent/ferrodns/hosts {
        10.0.0.7 inline.example.org
        fd00::7 inline.example.org
        reload 0
    }
}
";
    let names = ["inline.example.org.", "7.0.0.10.in-addr.arpa."].map(String::from);
    let mut pair = Pair::new(corefile, (45358, 45359));
    let (fast, all) = pair.compare(&queries(&names), "inline");
    // The forward name's types but PTR and DS in each of the 8 variants
    // (and in another case, the chain's), and the reverse name's PTR.
    assert_eq!(
        (fast, all),
        (15 * 8 + 1, 17 * 8 * 2 + 17),
        "{fast} of {all}"
    );
}

/// Asks `name` A of `d` with and without the fast path until `want`
/// shows in the reply (a reload thread swaps the data in); every reply
/// the chain gives twice in a row the fast path must give too.
fn until_reloaded(d: &mut Dispatcher, name: &str, want: [u8; 4]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let q = Case {
        bytes: ask_bytes(4242, 0x0100, name, 1, Some((1232, 0))),
        tcp: false,
        src: client(),
    };
    loop {
        let c1 = d.without_fast_path(|d| ask(d, &q));
        let before = d.fast_answers();
        let f = ask(d, &q);
        let answered = d.fast_answers() - before;
        let c2 = d.without_fast_path(|d| ask(d, &q));
        if c1 == c2 {
            assert_eq!(f, c1, "a stale answer on the fast path");
            assert_eq!(answered, 1, "the fast path answers {name}");
            let reply = f.unwrap();
            if reply.windows(4).any(|w| w == want) {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{name} not reloaded");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reloads_reach_the_fast_path() {
    let dir = tempfile::tempdir().unwrap();
    let zone = |serial: u32, last: u8| {
        format!(
            "$ORIGIN example.org.
@ 60 IN SOA ns1.example.org. hostmaster.example.org. {serial} 1 1 1 60
  60 IN NS ns1.example.org.
ns1 60 IN A 192.0.2.1
www 60 IN A 192.0.2.{last}
"
        )
    };
    std::fs::write(dir.path().join("db.example.org"), zone(1, 80)).unwrap();
    std::fs::write(dir.path().join("hosts"), "10.0.0.1 h.example.net\n").unwrap();
    // Two blocks: the raw path asks the first plugin that answers only.
    let corefile = format!(
        "example.net:45360 {{
    root {0}
    hosts hosts {{
        reload 30ms
    }}
}}
example.org:45360 {{
    root {0}
    file db.example.org {{
        reload 30ms
    }}
}}
",
        dir.path().display()
    );
    let config =
        crate::server::load(&corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    until_reloaded(&mut d, "www.example.org.", [192, 0, 2, 80]);
    until_reloaded(&mut d, "h.example.net.", [10, 0, 0, 1]);
    // A new serial: reloaded. Names that did not exist now do.
    std::fs::write(
        dir.path().join("db.example.org"),
        zone(2, 81) + "new 60 IN A 192.0.2.82\n",
    )
    .unwrap();
    until_reloaded(&mut d, "www.example.org.", [192, 0, 2, 81]);
    until_reloaded(&mut d, "new.example.org.", [192, 0, 2, 82]);
    // The hosts file: a different size is a change.
    std::fs::write(dir.path().join("hosts"), "10.0.0.22 h.example.net\n").unwrap();
    until_reloaded(&mut d, "h.example.net.", [10, 0, 0, 22]);
}
