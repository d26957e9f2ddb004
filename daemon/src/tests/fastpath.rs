//! The fast path answers byte for byte as the chain does: every query of a
//! large set goes through the same dispatcher twice at the same (frozen)
//! time, once by the fast path and once by the chain, and the replies are
//! compared.

use crate::plugins::cache::tests::advance;
use crate::runtime::{Handled, Packet, PacketHandler};
use crate::server::Dispatcher;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub(super) const ZONE: &str = concat!(
    "$ORIGIN example.org.
$TTL 300
@       IN SOA  ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60
        IN NS   ns1.example.org.
        IN NS   ns2.example.org.
        IN MX   10 mail.example.org.
ns1     IN A    192.0.2.1
ns2     IN A    192.0.2.2
mail    IN A    192.0.2.25
www     IN A    192.0.2.80
        IN AAAA 2001:db8::80
        IN TXT  \"v=spf1 -all\"
web     IN CNAME www.example.org.
chain   IN CNAME web.example.org.
out     IN CNAME www.example.net.
*.wild  IN A    192.0.2.90
srv     IN SRV  10 20 5060 www.example.org.
sub     IN NS   ns.sub.example.org.
ns.sub  IN A    192.0.2.53
",
    include_str!("../../tests/common/big_txt.zone"),
);

pub(super) fn name_wire(name: &str) -> Vec<u8> {
    let mut w = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        w.push(label.len() as u8);
        w.extend_from_slice(label.as_bytes());
    }
    w.push(0);
    w
}

/// A query: `flags` is the header's flags word; `opt` (size, flags word).
pub(super) fn query(
    id: u16,
    flags: u16,
    name: &str,
    qtype: u16,
    opt: Option<(u16, u16)>,
) -> Vec<u8> {
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&flags.to_be_bytes());
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(opt.is_some())]);
    q.extend_from_slice(&name_wire(name));
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    if let Some((size, f)) = opt {
        q.extend_from_slice(&[0, 0, 41]);
        q.extend_from_slice(&size.to_be_bytes());
        q.extend_from_slice(&[0, 0]);
        q.extend_from_slice(&f.to_be_bytes());
        q.extend_from_slice(&[0, 0]);
    }
    q
}

pub(super) struct Case {
    pub(super) bytes: Vec<u8>,
    pub(super) tcp: bool,
    pub(super) src: SocketAddr,
}

fn cases() -> Vec<Case> {
    let names = [
        ("www.example.org.", 1),
        ("www.example.org.", 28),
        ("www.example.org.", 16),
        ("www.example.org.", 15),
        ("example.org.", 6),
        ("example.org.", 2),
        ("example.org.", 15),
        ("web.example.org.", 1),
        ("chain.example.org.", 1),
        ("chain.example.org.", 5),
        ("out.example.org.", 1),
        ("a.wild.example.org.", 1),
        ("b.c.wild.example.org.", 28),
        ("srv.example.org.", 33),
        ("host.sub.example.org.", 1),
        ("sub.example.org.", 2),
        ("nope.example.org.", 1),
        ("deep.nope.example.org.", 28),
        ("mail.example.org.", 28),
        ("big.example.org.", 16),
        ("WWW.Example.ORG.", 1),
        ("Mail.example.org.", 1),
    ];
    let flag_sets = [0x0000, 0x0100, 0x0110, 0x0120, 0x0130, 0x0140];
    let opts = [
        None,
        Some((512, 0)),
        Some((1232, 0x8000)),
        Some((4096, 0)),
        Some((300, 0x8000)),
        Some((1400, 0x8000 | 0x4100)),
        Some((65535, 0)),
    ];
    let v4: SocketAddr = "192.0.2.7:40053".parse().unwrap();
    let blocked: SocketAddr = "198.51.100.9:5353".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::7]:40053".parse().unwrap();
    let mut out = Vec::new();
    let mut id = 1u16;
    for (name, qtype) in names {
        for flags in flag_sets {
            for opt in opts {
                for (tcp, src) in [(false, v4), (true, v4), (false, v6), (false, blocked)] {
                    id = id.wrapping_mul(31).wrapping_add(7);
                    out.push(Case {
                        bytes: query(id, flags, name, qtype, opt),
                        tcp,
                        src,
                    });
                }
            }
        }
    }
    out
}

pub(super) fn ask(d: &mut Dispatcher, c: &Case) -> Option<Vec<u8>> {
    let p = Packet {
        listener: 0,
        data: &c.bytes,
        src: c.src,
        local: "127.0.0.1:53".parse().unwrap(),
        tcp: c.tcp,
        at: std::time::Instant::now(),
        backlogged: false,
    };
    let mut out = vec![0xEE; 100];
    match d.handle(&p, &mut out) {
        Handled::Reply => Some(out),
        Handled::Drop => None,
        Handled::Later(_) => panic!("nothing here waits on the network"),
    }
}

#[test]
fn fast_path_answers_byte_for_byte_as_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.example.org"), ZONE).unwrap();
    let corefile = format!(
        "example.org:53 {{
    root {}
    prometheus 127.0.0.1:9153
    errors
    bufsize 1300
    acl {{
        block type TXT net 198.51.100.0/24
    }}
    cache 120 {{
        success 10000 120 1
        denial 10000 30 1
        prefetch 1000
    }}
    file db.example.org
}}
",
        dir.path().display()
    );
    let config =
        crate::server::load(&corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
    assert!(
        config.blocks[0].fast.is_some(),
        "the block allows the fast path"
    );
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    let cases = cases();
    // Fill the cache (the first of each question through the chain).
    for c in &cases {
        ask(&mut d, c);
    }
    let (mut compared, mut fast) = (0, 0);
    for round in 0..3 {
        for c in &cases {
            // Refills what expired since the last round (delegations live 5 s).
            ask(&mut d, c);
            let before = d.fast_answers();
            let fast_reply = ask(&mut d, c);
            fast += d.fast_answers() - before;
            let chain = d.without_fast_path(|d| ask(d, c));
            assert_eq!(
                fast_reply, chain,
                "round {round}: query {:02x?} (tcp {}, from {})",
                c.bytes, c.tcp, c.src
            );
            compared += 1;
        }
        // TTLs count down between rounds.
        advance(Duration::from_secs(7));
    }
    // Mixed-case names hit items stored under another case, the blocked
    // client's TXT queries are acl's, oversized replies are truncated by
    // the chain: everything else is the fast path's.
    eprintln!("{fast} of {compared} queries took the fast path");
    assert!(
        fast * 10 >= compared * 8,
        "only {fast} of {compared} queries took the fast path"
    );
}

/// dns64 leaves the raw path the queries it does not watch; the AAAA
/// queries of IPv6 clients take the chain, where it translates them.
#[test]
fn dns64_hands_its_queries_to_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.example.org"), ZONE).unwrap();
    let corefile = format!(
        "example.org:53 {{\n root {}\n dns64\n cache\n file db.example.org\n}}\n",
        dir.path().display()
    );
    let config =
        crate::server::load(&corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    let cases = cases();
    for c in &cases {
        ask(&mut d, c);
    }
    let (mut v6_aaaa, mut fast_others) = (0, 0);
    for c in &cases {
        let before = d.fast_answers();
        let fast_reply = ask(&mut d, c);
        let fast = d.fast_answers() > before;
        let chain = d.without_fast_path(|d| ask(d, c));
        assert_eq!(fast_reply, chain, "query {:02x?} from {}", c.bytes, c.src);
        let qtype = u16::from_be_bytes([c.bytes[c.bytes.len() - 4], c.bytes[c.bytes.len() - 3]]);
        let opt = c.bytes.len() > 12 + 4 + name_len(&c.bytes[12..]);
        if opt {
            continue;
        }
        if c.src.is_ipv6() && qtype == 28 {
            assert!(!fast, "a watched query took the raw path");
            v6_aaaa += 1;
        } else {
            fast_others += usize::from(fast);
        }
    }
    assert!(v6_aaaa > 0 && fast_others > 0, "{v6_aaaa} {fast_others}");
}

/// The length of the wire name at the start of `b`.
fn name_len(b: &[u8]) -> usize {
    let mut i = 0;
    while i < b.len() && b[i] != 0 {
        i += 1 + usize::from(b[i]);
    }
    i + 1
}

#[test]
fn blocks_whose_plugins_see_every_query_take_the_chain() {
    for (plugins, fast) in [
        ("cache\n whoami", true),
        ("prometheus :9153\n log\n errors\n acl {\n allow net 10.0.0.0/8\n }\n any\n chaos\n cache\n whoami", true),
        ("rewrite name a.example.org b.example.org\n cache\n whoami", false),
        ("loadbalance\n cache\n whoami", false),
        ("metadata\n cache\n whoami", false),
        ("local\n cache\n whoami", false),
        ("dns64\n cache\n whoami", true),
        ("shed\n cache\n whoami", true),
        // Their checks alone decide: forward still relays behind them.
        ("shed\n dns64\n forward . 127.0.0.1:9", true),
        ("whoami", false),
        // After the cache, plugins do not matter to a hit.
        ("cache\n header {\n response set ra\n }\n minimal\n whoami", true),
    ] {
        let corefile = format!(".:53 {{\n {plugins}\n}}\n");
        let config = crate::server::load(&corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
        assert_eq!(config.blocks[0].fast.is_some(), fast, "{plugins}");
    }
}
