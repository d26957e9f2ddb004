//! forward and cache together, as a node-local cache runs them: the real
//! binary in front of another ferrodns serving a zone, whose query log
//! shows what reached it.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@       IN SOA  ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60
        IN NS   ns1.example.org.
ns1     IN A    192.0.2.1
www     IN A    192.0.2.80
short 2 IN A    192.0.2.2
hot   4 IN A    192.0.2.4
";

/// The authoritative upstream, logging every query it gets.
fn upstream() -> Server {
    Server::start(
        "example.org:{PORT} {\n    log\n    file db.example.org\n}\n",
        &[("db.example.org", ZONE)],
    )
}

/// How many queries for `name` reached the upstream.
fn seen(up: &Server, name: &str) -> usize {
    let needle = format!(" IN {name} ");
    up.stdout().lines().filter(|l| l.contains(&needle)).count()
}

/// One worker, so every query meets the same cache shard.
fn resolver(up: &Server, cache: &str) -> Server {
    Server::start(
        &format!(
            ".:{{PORT}} {{\n    multisocket 1\n    {cache}\n    forward . 127.0.0.1:{}\n}}\n",
            up.port
        ),
        &[],
    )
}

fn wait_seen(up: &Server, name: &str, n: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let got = seen(up, name);
        if got >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn cache_hits_are_not_forwarded_and_ttls_fall() {
    let up = upstream();
    let r = resolver(&up, "cache 30");
    let first = r.udp("www.example.org.", RecordType::A);
    assert_eq!(answers(&first), ["www.example.org. 30 A 192.0.2.80"]);
    assert_eq!(wait_seen(&up, "www.example.org.", 1), 1);
    std::thread::sleep(Duration::from_millis(1100));
    for m in r.both("WWW.example.org.", RecordType::A) {
        let ttl = m.answers[0].ttl;
        assert!((27..30).contains(&ttl), "TTL counts down: {ttl}");
        assert_eq!(
            m.queries[0].name().to_string(),
            "WWW.example.org.",
            "client's case kept"
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        seen(&up, "www.example.org."),
        1,
        "hits never reach the upstream"
    );
}

#[test]
fn denial_is_cached() {
    let up = upstream();
    let r = resolver(&up, "cache 30");
    for _ in 0..3 {
        let m = r.udp("nope.example.org.", RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    }
    assert_eq!(wait_seen(&up, "nope.example.org.", 1), 1);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(seen(&up, "nope.example.org."), 1);
}

#[test]
fn do_and_cd_are_cached_apart() {
    let up = upstream();
    let r = resolver(&up, "cache 30");
    r.udp("www.example.org.", RecordType::A);
    assert_eq!(wait_seen(&up, "www.example.org.", 1), 1);
    let dnssec = with_edns(query("www.example.org.", RecordType::A), 1232, true);
    udp(r.addr(), &dnssec);
    assert_eq!(
        wait_seen(&up, "www.example.org.", 2),
        2,
        "DO is another key"
    );
    let mut cd = query("www.example.org.", RecordType::A);
    cd.metadata.checking_disabled = true;
    udp(r.addr(), &cd);
    assert_eq!(
        wait_seen(&up, "www.example.org.", 3),
        3,
        "CD is another key"
    );
    // each is now a hit
    udp(r.addr(), &dnssec);
    udp(r.addr(), &cd);
    r.udp("www.example.org.", RecordType::A);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(seen(&up, "www.example.org."), 3);
}

#[test]
fn serve_stale_answers_after_the_upstream_is_gone() {
    let up = upstream();
    let mp = free_port();
    let r = resolver(
        &up,
        &format!("prometheus 127.0.0.1:{mp}\n    cache 30 {{\n        success 9984 30 1\n        serve_stale 1h\n    }}"),
    );
    assert_eq!(
        answers(&r.udp("short.example.org.", RecordType::A)),
        ["short.example.org. 2 A 192.0.2.2"]
    );
    drop(up);
    std::thread::sleep(Duration::from_millis(2500));
    let m = r.udp("short.example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1, "the expired entry is served: {m:?}");
    assert_eq!(m.answers[0].data.to_string(), "192.0.2.2");
    let (_, _, body) = http_get(mp, "/metrics");
    let server = format!("dns://:{}", r.port);
    assert!(
        body.lines().any(|l| l
            == format!(
                "coredns_cache_served_stale_total{{server=\"{server}\",zones=\".\",view=\"\"}} 1"
            )),
        "{body}"
    );
}

#[test]
fn prefetch_refreshes_a_hot_entry_before_it_expires() {
    let up = upstream();
    let mp = free_port();
    let r = resolver(
        &up,
        &format!("prometheus 127.0.0.1:{mp}\n    cache 30 {{\n        success 9984 30 1\n        prefetch 1 1m 50%\n    }}"),
    );
    let start = Instant::now();
    r.udp("hot.example.org.", RecordType::A);
    assert_eq!(wait_seen(&up, "hot.example.org.", 1), 1);
    // Past half of the 4 s TTL, a hit triggers the refresh.
    std::thread::sleep(Duration::from_millis(2600));
    let m = r.udp("hot.example.org.", RecordType::A);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(wait_seen(&up, "hot.example.org.", 2), 2, "prefetched");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "before the entry expired"
    );
    // The refreshed entry answers on, with a fresh TTL.
    std::thread::sleep(Duration::from_millis(1600));
    let m = r.udp("hot.example.org.", RecordType::A);
    assert!(m.answers[0].ttl >= 2, "fresh TTL after the refresh: {m:?}");
    assert_eq!(seen(&up, "hot.example.org."), 2);
    let (_, _, body) = http_get(mp, "/metrics");
    let server = format!("dns://:{}", r.port);
    assert!(
        body.lines().any(|l| l
            == format!(
                "coredns_cache_prefetch_total{{server=\"{server}\",zones=\".\",view=\"\"}} 1"
            )),
        "{body}"
    );
}

#[test]
fn a_full_cache_evicts_and_counts_it() {
    let up = upstream();
    let mp = free_port();
    // The smallest store CoreDNS makes: 256 shards of 4 items.
    let r = resolver(
        &up,
        &format!("prometheus 127.0.0.1:{mp}\n    cache 30 {{\n        denial 1\n    }}"),
    );
    for i in 0..1100 {
        let m = r.udp(&format!("nx{i}.example.org."), RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
    let (_, _, body) = http_get(mp, "/metrics");
    let server = format!("dns://:{}", r.port);
    let value = |prefix: String| -> f64 {
        body.lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{body}"))
    };
    let evicted = value(format!(
        "coredns_cache_evictions_total{{server=\"{server}\",type=\"denial\",zones=\".\",view=\"\"}}"
    ));
    assert!(evicted >= 76.0, "1100 names into 1024 slots: {evicted}");
    let entries = value(format!(
        "coredns_cache_entries{{server=\"{server}\",type=\"denial\",zones=\".\",view=\"\"}}"
    ));
    assert_eq!(entries, 1024.0);
}

#[test]
fn metrics_carry_coredns_names() {
    let up = upstream();
    let mp = free_port();
    let r = Server::start(
        &format!(
            ".:{{PORT}} {{\n    multisocket 1\n    prometheus 127.0.0.1:{mp}\n    cache 30\n    forward . 127.0.0.1:{}\n}}\n",
            up.port
        ),
        &[],
    );
    r.udp("www.example.org.", RecordType::A);
    r.udp("www.example.org.", RecordType::A);
    r.udp("nope.example.org.", RecordType::A);
    let (status, _, body) = http_get(mp, "/metrics");
    assert_eq!(status, 200);
    for name in [
        "coredns_dns_requests_total{",
        "coredns_dns_responses_total{",
        "coredns_dns_request_duration_seconds_bucket{",
        "coredns_cache_hits_total{",
        "coredns_cache_misses_total{",
        "coredns_cache_entries{",
        "coredns_proxy_request_duration_seconds_bucket{",
        "coredns_build_info{",
        "coredns_plugin_enabled{",
        "coredns_cache_requests_total{",
        "coredns_dns_request_size_bytes_bucket{",
        "coredns_dns_response_size_bytes_bucket{",
    ] {
        assert!(body.contains(name), "{name} missing:\n{body}");
    }
    assert!(
        body.contains("coredns_dns_responses_total{server=\"dns://:"),
        "{body}"
    );
    assert!(body.contains("rcode=\"NXDOMAIN\""), "{body}");
}
