//! Kubernetes NodeLocal DNSCache's Corefile (config/node-local.Corefile),
//! placeholders filled with loopback test addresses, runs unchanged: the
//! cluster domain and reverse zones go to the "cluster DNS" over TCP, the
//! rest to the "upstream servers", answers are cached, and metrics and
//! health answer where the Corefile says.
//!
//! The Corefile binds port 53 (and 8080, 9253), so this needs root.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::net::SocketAddr;
use std::time::Duration;

const LOCAL_DNS: &str = "127.0.9.1";
const DNS_SERVER: &str = "127.0.9.2";
const CLUSTER_DNS: &str = "127.0.9.3";
const UPSTREAM: &str = "127.0.9.4";

const CLUSTER_ZONE: &str = "$ORIGIN cluster.local.
$TTL 30
@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5
  IN NS ns.dns.cluster.local.
ns.dns IN A 10.96.0.10
web.default.svc IN A 10.96.1.1
";

const REVERSE_ZONE: &str = "$ORIGIN in-addr.arpa.
$TTL 30
@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5
  IN NS ns.dns.cluster.local.
1.1.96.10 IN PTR web.default.svc.cluster.local.
";

const WORLD_ZONE: &str = "$ORIGIN example.org.
$TTL 300
@ IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 60
  IN NS ns1.example.org.
www IN A 192.0.2.80
";

fn addr(ip: &str, port: u16) -> SocketAddr {
    format!("{ip}:{port}").parse().unwrap()
}

/// The tests of this file bind the same addresses: one at a time.
fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[test]
fn node_local_dns_cache_corefile_runs_unchanged() {
    if !is_root() {
        eprintln!(
            "SKIPPED node_local_dns_cache_corefile_runs_unchanged: binding port 53 needs root"
        );
        return;
    }
    let _one_at_a_time = exclusive();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let template = std::fs::read_to_string(root.join("config/node-local.Corefile")).unwrap();
    let corefile = template
        .replace("__PILLAR__DNS__DOMAIN__", "cluster.local")
        .replace("__PILLAR__LOCAL__DNS__", LOCAL_DNS)
        .replace("__PILLAR__DNS__SERVER__", DNS_SERVER)
        .replace("__PILLAR__CLUSTER__DNS__", CLUSTER_DNS)
        .replace("__PILLAR__UPSTREAM__SERVERS__", UPSTREAM);
    assert!(!corefile.contains("__PILLAR__"));

    // The cluster DNS (kube-dns) and the world, each another ferrodns that
    // logs what reaches it.
    let cluster = Server::start_at(
        &format!(
            "cluster.local:53 in-addr.arpa:53 {{\n    bind {CLUSTER_DNS}\n    log\n    file cluster.db cluster.local\n    file reverse.db in-addr.arpa\n}}\n"
        ),
        &[("cluster.db", CLUSTER_ZONE), ("reverse.db", REVERSE_ZONE)],
        addr(CLUSTER_DNS, 53),
    );
    let world = Server::start_at(
        &format!(".:53 {{\n    bind {UPSTREAM}\n    log\n    file world.db example.org\n}}\n"),
        &[("world.db", WORLD_ZONE)],
        addr(UPSTREAM, 53),
    );
    let node = Server::start_at(&corefile, &[], addr(LOCAL_DNS, 53));

    for listen in [LOCAL_DNS, DNS_SERVER] {
        let a = addr(listen, 53);
        let m = udp(a, &query("web.default.svc.cluster.local.", RecordType::A));
        assert_eq!(
            answers(&m),
            ["web.default.svc.cluster.local. 30 A 10.96.1.1"],
            "via {listen}"
        );
        let m = tcp(a, &query("1.1.96.10.in-addr.arpa.", RecordType::PTR));
        assert_eq!(
            answers(&m),
            ["1.1.96.10.in-addr.arpa. 30 PTR web.default.svc.cluster.local."]
        );
        let m = udp(a, &query("www.example.org.", RecordType::A));
        assert_eq!(
            answers(&m),
            ["www.example.org. 30 A 192.0.2.80"],
            "cache 30 caps the TTL"
        );
        let m = udp(a, &query("nope.cluster.local.", RecordType::A));
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }

    // force_tcp: the cluster DNS saw TCP only. One cache for every worker
    // and both addresses: each name reached its upstream once.
    let log = cluster.wait_log("web.default.svc.cluster.local.");
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("IN web.default.svc.cluster.local."))
        .collect();
    assert_eq!(lines.len(), 1, "{log}");
    assert!(lines.iter().all(|l| l.contains(" tcp ")), "{log}");
    let count = |s: &Server| {
        s.stdout()
            .lines()
            .filter(|l| l.contains("IN www.example.org."))
            .count()
    };
    world.wait_log("www.example.org.");
    assert_eq!(count(&world), 1, "{}", world.stdout());
    // Asked again on each address: all from the cache now.
    for _ in 0..4 {
        for listen in [LOCAL_DNS, DNS_SERVER] {
            udp(addr(listen, 53), &query("www.example.org.", RecordType::A));
        }
    }
    assert_eq!(count(&world), 1, "{}", world.stdout());

    // prometheus :9253 and health on the local address
    let (status, _, body) = http_get(9253, "/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("coredns_cache_hits_total{"), "{body}");
    assert!(
        body.contains(
            "coredns_dns_requests_total{server=\"dns://127.0.9.1:53\",zone=\"cluster.local.\""
        ),
        "{body}"
    );
    let mut s = std::net::TcpStream::connect(addr(LOCAL_DNS, 8080)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    std::io::Write::write_all(
        &mut s,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");

    // loop's probes went around without finding a loop: still serving.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        udp(
            addr(LOCAL_DNS, 53),
            &query("www.example.org.", RecordType::A)
        )
        .answers
        .len(),
        1
    );
    assert!(!node.stdout().contains("[FATAL]"), "{}", node.stdout());
}

/// The NodeLocal DNSCache Corefile, its placeholders filled; `stale`: its
/// caches keep answers 2 s and serve them expired (`serve_stale`).
fn node_local_corefile(stale: bool) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let mut corefile = std::fs::read_to_string(root.join("config/node-local.Corefile"))
        .unwrap()
        .replace("__PILLAR__DNS__DOMAIN__", "cluster.local")
        .replace("__PILLAR__LOCAL__DNS__", LOCAL_DNS)
        .replace("__PILLAR__DNS__SERVER__", DNS_SERVER)
        .replace("__PILLAR__CLUSTER__DNS__", CLUSTER_DNS)
        .replace("__PILLAR__UPSTREAM__SERVERS__", UPSTREAM);
    if stale {
        corefile = corefile
            .replace(
                "            success 9984 30\n            denial 9984 5\n",
                "            success 9984 2 1\n            denial 9984 2 1\n            serve_stale\n",
            )
            .replace(
                "    cache 30\n",
                "    cache 2 {\n        success 9984 2 1\n        denial 9984 2 1\n        serve_stale\n    }\n",
            );
        assert_eq!(corefile.matches("serve_stale").count(), 4, "{corefile}");
    }
    corefile
}

/// One cache for the whole server: with 4 workers, 200 names asked from
/// 200 source ports (so from every worker), then asked again from 200
/// other ports after the upstreams stopped, are all answered from the
/// cache (positive answers and NXDOMAIN with SOA), none SERVFAIL; the
/// same with serve_stale once the answers expired. Both ways queries reach
/// the workers: by the kernel's flow hash (the default) and steered by
/// question (`-steer`: SK_REUSEPORT eBPF, where the build has the `steer`
/// feature; skipped loudly where not).
#[test]
fn a_name_cached_by_any_worker_answers_on_every_worker() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_name_cached_by_any_worker_answers_on_every_worker: binding port 53 needs root"
        );
        return;
    }
    let _one_at_a_time = exclusive();
    for (steer, stale) in [(true, false), (true, true), (false, false), (false, true)] {
        if steer && !cfg!(feature = "steer") {
            eprintln!(
                "SKIPPED a_name_cached_by_any_worker_answers_on_every_worker, steered (stale: {stale}): built without the steer feature"
            );
            continue;
        }
        let ttl = if stale { 1 } else { 30 };
        let mut world_zone = format!(
            "$ORIGIN example.org.\n$TTL {ttl}\n@ IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 {ttl}\n  IN NS ns1.example.org.\n"
        );
        for i in 0..100 {
            world_zone.push_str(&format!("h{i} IN A 192.0.2.{}\n", i + 1));
        }
        let cluster_zone = format!(
            "$ORIGIN cluster.local.\n$TTL {ttl}\n@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 {ttl}\n  IN NS ns.dns.cluster.local.\n"
        );
        let cluster = Server::start_at(
            &format!(
                "cluster.local:53 {{\n    bind {CLUSTER_DNS}\n    file cluster.db cluster.local\n}}\n"
            ),
            &[("cluster.db", &cluster_zone)],
            addr(CLUSTER_DNS, 53),
        );
        let world = Server::start_at(
            &format!(".:53 {{\n    bind {UPSTREAM}\n    file world.db example.org\n}}\n"),
            &[("world.db", &world_zone)],
            addr(UPSTREAM, 53),
        );
        let node = Server::start_at_args(
            &node_local_corefile(stale),
            &[],
            addr(LOCAL_DNS, 53),
            if steer {
                &["-workers", "4", "-steer"]
            } else {
                &["-workers", "4"]
            },
        );
        let steered = "steer: UDP queries steered by question to 4 workers";
        if steer {
            let log = node.wait_log(steered);
            assert!(log.contains(steered), "{log}");
        }
        let names: Vec<(String, bool)> = (0..100)
            .map(|i| (format!("h{i}.example.org."), true))
            .chain((0..100).map(|i| (format!("nx{i}.cluster.local."), false)))
            .collect();
        // Each query from a new socket: a new source port, spread over the
        // workers by SO_REUSEPORT.
        let ask = |round: &str| {
            let round = format!("{round} (steer: {steer})");
            for (name, positive) in &names {
                let m = udp(addr(LOCAL_DNS, 53), &query(name, RecordType::A));
                if *positive {
                    assert_eq!(
                        m.metadata.response_code,
                        ResponseCode::NoError,
                        "{round} {name}"
                    );
                    assert_eq!(m.answers.len(), 1, "{round} {name}");
                } else {
                    assert_eq!(
                        m.metadata.response_code,
                        ResponseCode::NXDomain,
                        "{round} {name}"
                    );
                    assert!(
                        m.authorities
                            .iter()
                            .any(|r| r.record_type() == RecordType::SOA),
                        "{round} {name}: NXDOMAIN without SOA"
                    );
                }
            }
        };
        ask("filled");
        drop(cluster);
        drop(world);
        if stale {
            std::thread::sleep(Duration::from_millis(2500));
        }
        ask(if stale {
            "stale, upstreams gone"
        } else {
            "upstreams gone"
        });
        let out = node.stdout();
        assert!(!out.contains("[FATAL]"), "{out}");
        assert_eq!(out.contains(steered), steer, "{out}");
    }
}
