//! The cache fast path keeps the effects of the plugins before `cache`: a
//! server answering hits from the query's bytes and one with the fast path
//! off (`-fastpath=false`), asked the same questions, give the same
//! answers, count the same metrics and write the same log lines.

mod common;

use common::*;
use hickory_proto::op::Message;
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
        block type TXT net 127.0.0.0/8
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
    // acl blocked the TXT queries on both.
    assert!(a[3].starts_with("Refused"), "{}", a[3]);
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
            " 6"
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
    assert_eq!(fast_hits(&fast, mf).as_deref(), Some("10"));
    assert_eq!(fast_hits(&slow, ms), None);
    assert!(ma
        .iter()
        .any(|l| l.starts_with("coredns_dns_requests_total{")));
    let (la, lb) = (log_lines(&fast), log_lines(&slow));
    assert_eq!(la.len(), 18, "{la:#?}");
    assert_eq!(la, lb);
}
