use super::setup::{self as helpers, parse};
use super::*;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request};
use hickory_proto::rr::RecordType;

fn config(text: &str) -> Result<Config, crate::corefile::Error> {
    let b = BlockSetup::new(vec![".".into()]);
    parse(&b, &directive(text))
}

fn err(text: &str) -> String {
    config(text)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

fn to(c: &Config) -> Vec<String> {
    c.to.iter().map(|(_, a, _)| a.clone()).collect()
}

#[test]
fn defaults() {
    let c = config("forward . 127.0.0.1").unwrap();
    assert_eq!(c.from, ".");
    assert_eq!(to(&c), ["127.0.0.1:53"]);
    assert_eq!(c.max_fails, 2);
    assert_eq!(c.expire, Duration::from_secs(10));
    assert_eq!(c.read_timeout, Duration::from_secs(2));
    assert_eq!(c.hc_interval, Duration::from_millis(500));
    assert_eq!(c.hc_domain, ".");
    assert!(c.hc_rec);
    assert_eq!(c.policy, PolicyKind::Random);
    assert_eq!(c.max_concurrent, 0);
    assert_eq!(c.max_connect_attempts, None);
    assert!(!c.force_tcp && !c.prefer_udp && !c.failfast && !c.next_on_nodata);
    assert!(c.ignored.is_empty() && c.next_rcodes.is_empty());
}

#[test]
fn upstream_forms() {
    let c = config("forward Example.ORG dns://127.0.0.1:5300 [::1]:53 ::1 tls://127.0.0.1 tls://127.0.0.2:8853 127.0.0.1:5300").unwrap();
    assert_eq!(c.from, "example.org.");
    // Duplicates (by host:port) are dropped, first one kept.
    assert_eq!(
        to(&c),
        [
            "127.0.0.1:5300",
            "[::1]:53",
            "127.0.0.1:853",
            "127.0.0.2:8853"
        ]
    );
    assert_eq!(c.to[2].0, upstream::Trans::Tls);
    let c = config("forward 10.0.0.0/24 127.0.0.1").unwrap();
    assert_eq!(c.from, "0.0.10.in-addr.arpa.");
}

#[test]
fn every_option() {
    let c = config(
        "forward . 127.0.0.1 {\n except Example.com b.example.net\n force_tcp\n prefer_udp\n expire 20s\n max_age 30s\n max_idle_conns 4\n read_timeout 300ms\n max_fails 5\n max_connect_attempts 3\n tls_servername dns.example\n policy round_robin\n health_check 1s no_rec domain Example.org\n max_concurrent 100\n next NXDOMAIN servfail\n next_on_nodata\n failfast_all_unhealthy_upstreams\n failover REFUSED\n source_address 127.0.0.1\n resolver 127.0.0.1 [::1]:5353\n doh_method GET\n}",
    )
    .unwrap();
    assert_eq!(c.ignored, ["example.com.", "b.example.net."]);
    assert!(c.force_tcp && c.prefer_udp && c.failfast && c.next_on_nodata);
    assert_eq!(c.expire, Duration::from_secs(20));
    assert_eq!(c.max_age, Duration::from_secs(30));
    assert_eq!(c.max_idle_conns, 4);
    assert_eq!(c.read_timeout, Duration::from_millis(300));
    assert_eq!(c.max_fails, 5);
    assert_eq!(c.max_connect_attempts, Some(3));
    assert_eq!(c.tls_servername.as_deref(), Some("dns.example"));
    assert_eq!(c.policy, PolicyKind::RoundRobin);
    assert_eq!(c.hc_interval, Duration::from_secs(1));
    assert!(!c.hc_rec);
    assert_eq!(c.hc_domain, "example.org.");
    assert_eq!(c.max_concurrent, 100);
    assert_eq!(c.next_rcodes, [3, 2]);
    assert_eq!(c.failover_rcodes, [5]);
    assert_eq!(c.source, Some("127.0.0.1".parse().unwrap()));
    assert_eq!(c.resolver, ["127.0.0.1", "[::1]:5353"]);
    let c = config("forward . 127.0.0.1 {\n policy sequential\n}").unwrap();
    assert_eq!(c.policy, PolicyKind::Sequential);
}

#[test]
fn setup_errors() {
    let wrong = "Wrong argument count or unexpected line ending after";
    assert_eq!(err("forward"), format!("Corefile:1: {wrong} 'forward'"));
    assert_eq!(err("forward ."), format!("Corefile:1: {wrong} '.'"));
    let cases = [
        ("except", wrong),
        ("max_fails", wrong),
        (
            "max_fails x",
            "strconv.ParseUint: parsing \"x\": invalid syntax",
        ),
        (
            "max_fails -1",
            "strconv.ParseUint: parsing \"-1\": invalid syntax",
        ),
        ("health_check", wrong),
        ("health_check 5", "time: missing unit in duration \"5\""),
        (
            "health_check -1s",
            "health_check can't be negative: -1000000000",
        ),
        (
            "health_check 1s bogus",
            "health_check: unknown option bogus",
        ),
        ("health_check 1s domain", wrong),
        (
            "health_check 1s domain a..b",
            "health_check: invalid domain name a..b",
        ),
        ("force_tcp x", wrong),
        ("prefer_udp x", wrong),
        ("tls a b c d", wrong),
        ("tls_servername", wrong),
        ("expire x", "time: invalid duration \"x\""),
        ("expire -1s", "expire can't be negative: -1s"),
        ("max_age -1s", "max_age can't be negative: -1s"),
        (
            "max_age 5s",
            "max_age (5s) must not be less than expire (10s)",
        ),
        ("max_idle_conns -1", "max_idle_conns can't be negative: -1"),
        (
            "max_idle_conns x",
            "strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        ("read_timeout 0s", "read_timeout must be positive: 0s"),
        ("doh_method PUT", "doh_method must be either POST or GET"),
        ("policy", wrong),
        ("policy best", "unknown policy 'best'"),
        ("max_concurrent -1", "max_concurrent can't be negative: -1"),
        ("next", wrong),
        ("next BOGUS", "BOGUS is not a valid rcode"),
        ("failover NOERROR", "NoError cannot be used in failover"),
        ("failfast_all_unhealthy_upstreams x", wrong),
        ("resolver", wrong),
        (
            "resolver dns.example",
            "resolver must be an IP address or IP:port: \"dns.example\"",
        ),
        ("source_address x", "invalid IP address: x"),
        ("bogus", "unknown property 'bogus'"),
    ];
    for (prop, want) in cases {
        let got = err(&format!("forward . 127.0.0.1 {{\n{prop}\n}}"));
        assert!(got.contains(want), "{prop}: {got}");
        assert!(got.starts_with("Corefile:"), "{prop}: {got}");
    }
    assert!(err("forward . https://127.0.0.1/path")
        .contains("paths are not allowed in HTTPS upstream addresses"));
    assert!(err("forward . https://127.0.0.1").contains("not available in ferrodns"));
    assert!(err("forward . quic://127.0.0.1")
        .contains("'quic' is not supported as a destination protocol in forward"));
    assert!(
        err("forward . tls://127.0.0.1%a.example {\ntls_servername b.example\n}")
            .contains("both forward ('b.example') and proxy level ('a.example') TLS servernames")
    );
    let many: Vec<String> = (1..=16).map(|i| format!("127.0.0.{i}")).collect();
    assert!(
        err(&format!("forward . {}", many.join(" "))).contains("more than 15 TOs configured: 16")
    );
    // Neither an address, nor a file, nor a host name to resolve.
    assert_eq!(
        err("forward . a..b"),
        "Corefile:1: not an IP address, file, or valid domain: \"a..b\""
    );
}

#[test]
fn resolv_conf_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("resolv.conf");
    std::fs::write(
        &p,
        "search example.org\nnameserver 127.0.0.1\nnameserver ::1\nnameserver fe80::1%eth0\n# nameserver 10.0.0.1\n",
    )
    .unwrap();
    let files = helpers::try_file(p.to_str().unwrap()).unwrap();
    assert_eq!(files, ["127.0.0.1:53", "[::1]:53", "[fe80::1]:53"]);
    let c = config(&format!("forward . {} 127.0.0.1", p.display())).unwrap();
    assert_eq!(to(&c), ["127.0.0.1:53", "[::1]:53", "[fe80::1]:53"]);
    // A file with no nameservers gives none.
    std::fs::write(&p, "search example.org\n").unwrap();
    assert!(
        err(&format!("forward . {}", p.display())).contains("no valid upstream addresses found")
    );
    assert!(helpers::host_port_or_file("/nonexistent/file")
        .unwrap_err()
        .to_string()
        .contains("not an IP address or file"));
}

#[test]
fn split_zone_forms() {
    assert_eq!(
        helpers::split_zone("tls://1.1.1.1%dns.example:853"),
        ("tls://1.1.1.1:853".to_string(), "dns.example".to_string())
    );
    assert_eq!(
        helpers::split_zone("tls://[::1%dns.example]:853"),
        ("tls://[::1]:853".to_string(), "dns.example".to_string())
    );
    assert_eq!(
        helpers::split_zone("127.0.0.1:53"),
        ("127.0.0.1:53".to_string(), String::new())
    );
}

#[test]
fn rcodes() {
    use crate::wire::mnemonics::{rcode_from_str, rcode_text};
    assert_eq!(rcode_from_str("NXDOMAIN"), Some(3));
    assert_eq!(rcode_from_str("NOTIMPL"), Some(4));
    assert_eq!(rcode_from_str("BADCOOKIE"), Some(23));
    assert_eq!(rcode_text(2), "SERVFAIL");
    assert_eq!(rcode_text(4), "NOTIMP");
    assert_eq!(rcode_text(3841), "3841");
}

#[test]
fn stanzas_become_handlers_and_match() {
    let mut b = BlockSetup::new(vec![".".into()]);
    let one = directive("forward example.org 127.0.0.1 {\nexcept a.example.org\n}");
    let two = directive("forward . 127.0.0.2:5300");
    let hs = setup(&mut b, &[&one, &two]).unwrap();
    let [f1, f2] = hs.as_slice() else {
        panic!("two forward handlers");
    };
    assert!(f1.next_is_forward && !f2.next_is_forward);
    assert_eq!(f2.upstreams(), ["127.0.0.2:5300"]);
    assert_ne!(f1.slot, f2.slot);
    let q = |name: &str| {
        let mut r = request(name, RecordType::A);
        matches!(f1.query(&mut r), Action::Await)
    };
    assert!(q("www.example.org."));
    assert!(q("example.org."));
    assert!(!q("a.example.org."));
    assert!(!q("x.a.example.org."));
    assert!(!q("example.net."));
}

#[test]
fn policies() {
    assert_eq!(Policy::Sequential.list(3), [0, 1, 2]);
    let rr = Policy::RoundRobin(AtomicU32::new(0));
    assert_eq!(rr.list(3), [1, 0, 2]);
    assert_eq!(rr.list(3), [2, 0, 1]);
    assert_eq!(rr.list(3), [0, 1, 2]);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let l = Policy::Random.list(3);
        let mut s = l.clone();
        s.sort();
        assert_eq!(s, [0, 1, 2]);
        seen.insert(l);
    }
    assert!(seen.len() > 1);
}

#[test]
fn tls_files_are_checked_at_setup() {
    let e = err("forward . tls://127.0.0.1 {\ntls /nonexistent/ca.pem\n}");
    assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    let e = err("forward . tls://127.0.0.1 {\ntls /nonexistent/c.pem /nonexistent/k.pem\n}");
    assert!(e.contains("could not load TLS cert"), "{e}");
    // No files: the built-in roots.
    let c = config("forward . tls://127.0.0.1 {\ntls\ntls_servername dns.example\n}").unwrap();
    assert_eq!(c.tls, tls::TlsArgs::default());
}
