//! The cache fast path keeps the effects of the plugins before `cache`: a
//! server answering hits from the query's bytes and one with the fast path
//! off (`-fastpath=false`), asked the same questions, give the same
//! answers, count the same metrics and write the same log lines.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::time::Duration;

const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@    IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60
     IN NS  ns1.example.org.
ns1  IN A   192.0.2.1
www  IN A   192.0.2.80
     IN AAAA 2001:db8::80
     IN TXT \"hello\"
web  IN CNAME www.example.org.
";

fn resolver(up: &Server, mp: u16, fast: bool) -> Server {
    Server::start_args(
        &format!(
            ".:{{PORT}} {{
    multisocket 1
    prometheus 127.0.0.1:{mp}
    errors
    log
    acl {{
        block type TXT net 127.0.0.2/32
    }}
    cache 300
    forward . 127.0.0.1:{}
}}
",
            up.port
        ),
        &[],
        &[if fast {
            "-fastpath=true"
        } else {
            "-fastpath=false"
        }],
    )
}

/// Every reply, with ID and TTLs set aside (the two servers filled their
/// caches a moment apart).
fn ask_all(s: &Server) -> Vec<String> {
    let mut out = Vec::new();
    for round in 0..3 {
        for (i, (name, qtype, edns)) in [
            ("www.example.org.", RecordType::A, None),
            ("www.example.org.", RecordType::AAAA, Some((1232, true))),
            ("web.example.org.", RecordType::A, Some((4096, false))),
            ("www.example.org.", RecordType::TXT, None),
            ("nope.example.org.", RecordType::A, None),
            ("example.org.", RecordType::MX, Some((512, true))),
        ]
        .into_iter()
        .enumerate()
        {
            let mut q = query(name, qtype);
            q.metadata.id = 100 * round + i as u16;
            if let Some((size, dnssec)) = edns {
                q = with_edns(q, size, dnssec);
            }
            let m: Message = if i % 3 == 2 {
                tcp(s.addr(), &q)
            } else {
                udp(s.addr(), &q)
            };
            let mut text = format!("{:?} {:?}", m.metadata.response_code, m.queries);
            for r in m.answers.iter().chain(&m.authorities).chain(&m.additionals) {
                text.push_str(&format!(" | {} {} {}", r.name, r.record_type(), r.data));
            }
            text.push_str(&format!(
                " | edns {:?}",
                m.edns
                    .as_ref()
                    .map(|e| (e.max_payload(), e.flags().dnssec_ok))
            ));
            out.push(text);
        }
    }
    out
}

/// The metric lines that do not measure time, with the server's port taken out.
fn metrics(s: &Server, mp: u16) -> Vec<String> {
    let (_, _, body) = http_get(mp, "/metrics");
    let port = format!(":{}\"", s.port);
    body.lines()
        .filter(|l| l.starts_with("coredns_") && !l.contains("duration_seconds"))
        .filter(|l| !l.starts_with("coredns_build_info"))
        .map(|l| l.replace(&port, ":PORT\""))
        .collect()
}

/// The query log, with client ports and durations taken out.
fn log_lines(s: &Server) -> Vec<String> {
    s.stdout()
        .lines()
        .filter(|l| l.starts_with("[INFO] 127.0.0.1:"))
        .map(|l| {
            let (head, rest) = l.split_once(" - ").unwrap();
            let addr = head.rsplit_once(':').unwrap().0;
            let rest = rest.rsplit_once(' ').unwrap().0; // the duration
            format!("{addr}:P - {rest}")
        })
        .collect()
}

#[test]
fn fast_path_keeps_metrics_log_lines_and_acl() {
    let up = Server::start(
        "example.org:{PORT} {\n    file db.example.org\n}\n",
        &[("db.example.org", ZONE)],
    );
    let (mf, ms) = (free_port(), free_port());
    let fast = resolver(&up, mf, true);
    let slow = resolver(&up, ms, false);
    let a = ask_all(&fast);
    let b = ask_all(&slow);
    assert_eq!(a, b);
    assert!(
        a[9].starts_with("NoError") && a[9].contains("TXT"),
        "{}",
        a[9]
    );
    // The TXT answer is cached now; acl still refuses it to 127.0.0.2, on
    // the fast path as on the chain.
    for s in [&fast, &slow] {
        let sock = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let q = query("www.example.org.", RecordType::TXT).to_vec().unwrap();
        sock.send_to(&q, s.addr()).unwrap();
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap();
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    }
    std::thread::sleep(Duration::from_millis(200));
    let (ma, mb) = (metrics(&fast, mf), metrics(&slow, ms));
    assert_eq!(ma, mb);
    let has = |lines: &[String], start: &str, end: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(start) && l.ends_with(end))
    };
    assert!(
        has(
            &ma,
            "coredns_cache_hits_total{server=\"dns://:PORT\",type=\"success\"",
            " 8"
        ) && has(
            &ma,
            "coredns_cache_hits_total{server=\"dns://:PORT\",type=\"denial\"",
            " 4"
        ),
        "hits counted: {ma:#?}"
    );
    // The hits were the fast path's on one server and the chain's on the other.
    let fast_hits = |s: &Server, mp: u16| {
        let (_, _, body) = http_get(mp, "/metrics");
        let prefix = format!(
            "ferrodns_cache_fast_hits_total{{server=\"dns://:{}\",zones=\".\",view=\"\"}} ",
            s.port
        );
        body.lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
    };
    assert_eq!(fast_hits(&fast, mf).as_deref(), Some("12"));
    assert_eq!(fast_hits(&slow, ms), None);
    assert!(ma
        .iter()
        .any(|l| l.starts_with("coredns_dns_requests_total{")));
    let (la, lb) = (log_lines(&fast), log_lines(&slow));
    assert_eq!(la.len(), 18, "{la:#?}");
    assert_eq!(la, lb);
}

const BIG: &str = concat!(
    "$ORIGIN example.org.
$TTL 300
@    IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60
     IN NS  ns1.example.org.
     IN MX  10 mail.example.org.
ns1  IN A   192.0.2.1
mail IN A   192.0.2.25
www  IN A   192.0.2.80
     IN AAAA 2001:db8::80
web  IN CNAME www.example.org.
",
    include_str!("common/big_txt.zone"),
);

/// A reply as a client reads it: header, sections and OPT.
fn read(m: &Message) -> String {
    let h = &m.metadata;
    let mut text = format!(
        "id {} {:?} {:?} aa {} tc {} rd {} ra {} ad {} cd {} | {:?}",
        h.id,
        h.message_type,
        h.response_code,
        h.authoritative,
        h.truncation,
        h.recursion_desired,
        h.recursion_available,
        h.authentic_data,
        h.checking_disabled,
        m.queries
    );
    for r in m.answers.iter().chain(&m.authorities).chain(&m.additionals) {
        text.push_str(&format!(
            " | {} {} {} {}",
            r.name,
            r.ttl,
            r.record_type(),
            r.data
        ));
    }
    let opt = m
        .edns
        .as_ref()
        .map(|e| (e.max_payload(), e.version(), e.flags().dnssec_ok));
    text.push_str(&format!(" | opt {opt:?}"));
    text
}

/// Queries relayed to forward as bytes are answered as the chain answers
/// them: a forward-only server against one with the fast paths off.
#[test]
fn relayed_answers_read_as_the_chains() {
    let up = Server::start(
        "example.org:{PORT} {\n    file db.example.org\n}\n",
        &[("db.example.org", BIG)],
    );
    // A second block only to have /metrics.
    let mp = free_port();
    let corefile = format!(
        ".:{{PORT}} {{\n    errors\n    forward . 127.0.0.1:{}\n}}\nmetrics.test:{{PORT}} {{\n    prometheus 127.0.0.1:{mp}\n    whoami\n}}\n",
        up.port
    );
    let relay = Server::start(&corefile, &[]);
    let chain = Server::start_args(
        &corefile.replace(&mp.to_string(), &free_port().to_string()),
        &[],
        &["-fastpath=false"],
    );
    let mut id = 7u16;
    for (name, qtype) in [
        ("www.example.org.", RecordType::A),
        ("www.example.org.", RecordType::AAAA),
        ("web.example.org.", RecordType::A),
        ("example.org.", RecordType::MX),
        ("nope.example.org.", RecordType::A),
        ("www.example.org.", RecordType::TXT),
        ("big.example.org.", RecordType::TXT),
        ("Big.Example.ORG.", RecordType::TXT),
    ] {
        for edns in [
            None,
            Some((512, false)),
            Some((1232, true)),
            Some((300, true)),
            Some((4096, false)),
        ] {
            id += 1;
            let mut q = query(name, qtype);
            q.metadata.id = id;
            if let Some((size, dnssec)) = edns {
                q = with_edns(q, size, dnssec);
            }
            let (a, b) = (udp(relay.addr(), &q), udp(chain.addr(), &q));
            assert_eq!(read(&a), read(&b), "{name} {qtype} {edns:?}");
        }
    }
    let (_, _, body) = http_get(mp, "/metrics");
    let relayed = format!(
        "ferrodns_forward_relayed_total{{to=\"127.0.0.1:{}\"}} 40",
        up.port
    );
    assert!(body.lines().any(|l| l == relayed), "{body}");
    // A dead upstream: both give up alike.
    let dead = free_port();
    let corefile = format!(".:{{PORT}} {{\n    forward . 127.0.0.1:{dead}\n}}\n");
    let relay = Server::start(&corefile, &[]);
    let m = udp(relay.addr(), &query("www.example.org.", RecordType::A));
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::ServFail
    );
}

fn authoritative(mp: u16, fast: bool) -> Server {
    Server::start_args(
        &format!(
            "example.org:{{PORT}} {{
    multisocket 1
    prometheus 127.0.0.1:{mp}
    errors
    log
    file db.example.org
}}
example.net:{{PORT}} {{
    multisocket 1
    prometheus 127.0.0.1:{mp}
    log
    hosts {{
        10.0.0.1 a.example.net
        fd00::1 a.example.net
        reload 0
    }}
}}
"
        ),
        &[("db.example.org", BIG)],
        &[if fast {
            "-fastpath=true"
        } else {
            "-fastpath=false"
        }],
    )
}

/// The authoritative raw path (file, hosts) keeps the effects of the
/// plugins before it: the same bytes, metrics and log lines as the chain.
#[test]
fn authoritative_answers_keep_bytes_metrics_and_log_lines() {
    let (mf, ms) = (free_port(), free_port());
    let fast = authoritative(mf, true);
    let slow = authoritative(ms, false);
    let mut id = 1u16;
    // Answers, a CNAME, NODATA, NXDOMAIN (one for the SOA's RNAME), a reply
    // too large for UDP, another case; hosts' answers, NODATA and SERVFAIL.
    let questions = "www.example.org. A, www.example.org. AAAA, www.example.org. MX,
        web.example.org. A, example.org. MX, example.org. NS, example.org. SOA,
        nope.example.org. A, a.nope.example.org. TXT, hostmaster.example.org. A,
        big.example.org. TXT, WWW.example.org. A, a.example.net. A,
        a.example.net. AAAA, a.example.net. TXT, b.example.net. A";
    for q in questions.split(',') {
        let (name, qtype) = q.trim().split_once(' ').unwrap();
        let qtype: RecordType = qtype.parse().unwrap();
        for opt in RAW_OPTS {
            id += 1;
            let q = raw_query(id, name, qtype, opt);
            let wait = Duration::from_secs(3);
            let a = udp_raw(fast.addr(), &q, wait).expect("fast reply");
            let b = udp_raw(slow.addr(), &q, wait).expect("chain reply");
            assert_eq!(a, b, "{name} {qtype} {opt:?}");
            if opt.is_none() {
                let m = Message::from_vec(&q).unwrap();
                assert_eq!(read(&tcp(fast.addr(), &m)), read(&tcp(slow.addr(), &m)));
            }
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let (ma, mb) = (metrics(&fast, mf), metrics(&slow, ms));
    assert!(
        ma.iter().any(|l| l.starts_with(
            "coredns_dns_responses_total{server=\"dns://:PORT\",zone=\"example.org.\""
        )),
        "{ma:#?}"
    );
    assert_eq!(ma, mb);
    let (la, lb) = (log_lines(&fast), log_lines(&slow));
    assert_eq!(la.len(), 16 * 4 + 16, "{la:#?}\n{}", fast.stdout());
    assert_eq!(la, lb);
}
