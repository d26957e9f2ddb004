//! prometheus, health and ready with the real binary: the HTTP endpoints,
//! the metrics queries leave behind, and health's lameduck on shutdown.

mod common;

use common::{free_port, http_get as get, Server, BIN};
use hickory_proto::rr::RecordType;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn wait_http(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn metrics_after_queries() {
    let mp = free_port();
    let corefile = format!(
        "example.org:{{PORT}} {{
    prometheus 127.0.0.1:{mp}
    whoami
}}
example.net:{{PORT}} {{
    prometheus 127.0.0.1:{mp}
    errors
    hosts {{
        192.0.2.7 www.example.net
    }}
}}
"
    );
    let s = Server::start(&corefile, &[]);
    s.udp("www.example.org.", RecordType::A);
    s.tcp("a.b.example.org.", RecordType::MX);
    s.udp("www.example.net.", RecordType::A);
    s.udp("www.example.net.", RecordType::NAPTR);
    s.udp("example.com.", RecordType::A); // no zone: REFUSED by the server
    let (status, head, body) = get(mp, "/metrics");
    assert_eq!(status, 200);
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let server = format!("dns://:{}", s.port);
    let has = |line: &str| {
        assert!(
            body.lines().any(|l| l == line),
            "missing {line:?} in\n{body}"
        )
    };
    has(&format!("coredns_dns_requests_total{{server=\"{server}\",zone=\"example.org.\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"}} 1"));
    has(&format!("coredns_dns_requests_total{{server=\"{server}\",zone=\"example.org.\",view=\"\",proto=\"tcp\",family=\"1\",type=\"MX\"}} 1"));
    has(&format!("coredns_dns_requests_total{{server=\"{server}\",zone=\"example.net.\",view=\"\",proto=\"udp\",family=\"1\",type=\"other\"}} 1"));
    has(&format!("coredns_dns_responses_total{{server=\"{server}\",zone=\"example.org.\",view=\"\",rcode=\"NOERROR\",plugin=\"whoami\"}} 2"));
    // CoreDNS 1.14.7 names the plugin right after prometheus (here errors).
    has(&format!("coredns_dns_responses_total{{server=\"{server}\",zone=\"example.net.\",view=\"\",rcode=\"NOERROR\",plugin=\"errors\"}} 2"));
    has(&format!("coredns_dns_responses_total{{server=\"{server}\",zone=\"dropped\",view=\"\",rcode=\"REFUSED\",plugin=\"\"}} 1"));
    has(&format!("coredns_plugin_enabled{{server=\"{server}\",zone=\"example.net.\",view=\"\",name=\"hosts\"}} 1"));
    has(&format!("coredns_plugin_enabled{{server=\"{server}\",zone=\"example.org.\",view=\"\",name=\"prometheus\"}} 1"));
    assert!(body.contains("# TYPE coredns_dns_request_duration_seconds histogram\n"));
    assert!(body.contains("coredns_build_info{"), "{body}");
    assert_eq!(get(mp, "/health").0, 404);
}

#[test]
fn health_and_ready() {
    let (hp, rp) = (free_port(), free_port());
    let corefile = format!(
        ".:{{PORT}} {{
    health 127.0.0.1:{hp}
    ready 127.0.0.1:{rp}
    whoami
}}
"
    );
    let _s = Server::start(&corefile, &[]);
    wait_http(hp);
    let (status, head, body) = get(hp, "/health");
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert!(head.contains("Content-Type: text/plain; charset=utf-8"));
    let (status, _, body) = get(rp, "/ready");
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(get(rp, "/health").0, 404);
    let (status, _, body) = get(hp, "/nothing");
    assert_eq!((status, body.as_str()), (404, "404 page not found\n"));
}

#[test]
fn shared_address() {
    let p = free_port();
    let corefile = format!(
        "a.example:{{PORT}} {{
    prometheus 127.0.0.1:{p}
    health 127.0.0.1:{p}
    whoami
}}
b.example:{{PORT}} {{
    prometheus 127.0.0.1:{p}
    ready 127.0.0.1:{p}
    whoami
}}
"
    );
    let _s = Server::start(&corefile, &[]);
    wait_http(p);
    assert_eq!(get(p, "/metrics").0, 200);
    assert_eq!(get(p, "/health").2, "OK");
    assert_eq!(get(p, "/ready").2, "OK");
}

#[test]
fn http_bind_failure_exits_1() {
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let hp = held.local_addr().unwrap().port();
    let dns = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Corefile"),
        format!(".:{dns} {{\n    health 127.0.0.1:{hp}\n    whoami\n}}\n"),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["-conf", "Corefile"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "listen tcp 127.0.0.1:{hp}: bind: address already in use"
        )),
        "{err}"
    );
}

#[test]
fn lameduck_keeps_serving_then_exits_0() {
    let (dns, hp) = (free_port(), free_port());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Corefile"),
        format!(".:{dns} {{\n    health 127.0.0.1:{hp} {{\n        lameduck 1500ms\n    }}\n    whoami\n}}\n"),
    )
    .unwrap();
    let stdout = dir.path().join("stdout.log");
    let mut child = Command::new(BIN)
        .args(["-conf", "Corefile"])
        .current_dir(dir.path())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    wait_http(hp);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], dns));
    let q = common::query("example.org.", RecordType::A);
    common::udp(addr, &q);
    let sent = Instant::now();
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited during lameduck"
    );
    common::udp(addr, &common::query("example.org.", RecordType::A));
    assert_eq!(get(hp, "/health").2, "OK", "health answers during lameduck");
    let status = child.wait().unwrap();
    assert!(sent.elapsed() >= Duration::from_millis(1500));
    assert_eq!(status.code(), Some(0));
    let log = std::fs::read_to_string(&stdout).unwrap();
    assert!(
        log.contains("[INFO] plugin/health: Going into lameduck mode for 1.5s\n"),
        "{log}"
    );
}

/// metadata's values in log lines, as CoreDNS's plugins set them: file's
/// `zone/wildcard` for an answer a wildcard synthesised, forward's
/// `forward/upstream`, log's own `log/type` and `log/class`; `-` where a
/// value is not set.
#[test]
fn metadata_in_log_lines() {
    let zone = "$ORIGIN example.org.
@ 3600 IN SOA ns.example.org. admin.example.org. 1 7200 3600 1209600 300
@ 3600 IN NS ns
ns 3600 IN A 192.0.2.1
*.wild 3600 IN A 192.0.2.50
";
    let up = Server::start(
        ".:{PORT} {\n    bind 127.0.0.1\n    file db.example.org example.org\n}\n",
        &[("db.example.org", zone)],
    );
    let srv = Server::start(
        &format!(
            ".:{{PORT}} {{
    bind 127.0.0.1
    metadata
    log . \"M {{name}} {{type}} wild={{/zone/wildcard}} up={{/forward/upstream}} {{/log/type}} {{/log/class}}\"
    file db.example.org example.org
    forward . 127.0.0.1:{}
}}
",
            up.port
        ),
        &[("db.example.org", zone)],
    );
    srv.udp("a.wild.example.org.", RecordType::A);
    srv.udp("a.wild.example.org.", RecordType::TXT);
    srv.udp("ns.example.org.", RecordType::A);
    srv.udp("nope.example.org.", RecordType::A);
    srv.udp("www.example.net.", RecordType::A);
    let log = srv.wait_log("M www.example.net.");
    let line = |name: &str, qtype: &str| {
        log.lines()
            .find(|l| l.contains(&format!("M {name} {qtype} ")))
            .unwrap_or_else(|| panic!("no line for {name} {qtype} in\n{log}"))
            .split_once("M ")
            .unwrap()
            .1
            .to_string()
    };
    assert_eq!(
        line("a.wild.example.org.", "A"),
        "a.wild.example.org. A wild=*.wild.example.org. up=- NOERROR success"
    );
    assert_eq!(
        line("a.wild.example.org.", "TXT"),
        "a.wild.example.org. TXT wild=*.wild.example.org. up=- NODATA denial"
    );
    assert_eq!(
        line("ns.example.org.", "A"),
        "ns.example.org. A wild=- up=- NOERROR success"
    );
    assert_eq!(
        line("nope.example.org.", "A"),
        "nope.example.org. A wild=- up=- NXDOMAIN denial"
    );
    assert_eq!(
        line("www.example.net.", "A"),
        format!(
            "www.example.net. A wild=- up=127.0.0.1:{} OTHERERROR error",
            up.port
        )
    );
}

/// erratic tells ready it is ready after its third query, as CoreDNS's
/// does; until then /ready names it.
#[test]
fn erratic_readiness() {
    let rp = free_port();
    let corefile = format!(
        ".:{{PORT}} {{
    ready 127.0.0.1:{rp}
    erratic {{
        drop 0
    }}
}}
"
    );
    let s = Server::start(&corefile, &[]);
    wait_http(rp);
    let (status, _, body) = get(rp, "/ready");
    assert_eq!((status, body.trim()), (503, "erratic"));
    for _ in 0..3 {
        s.udp("example.org.", RecordType::A);
    }
    let (status, _, body) = get(rp, "/ready");
    assert_eq!((status, body.as_str()), (200, "OK"));
}
