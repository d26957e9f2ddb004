//! The real binary answering over real UDP and TCP sockets.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, RecordType};
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn whoami_over_udp_and_tcp() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    for (m, proto) in s
        .both("Who.Example.ORG.", RecordType::A)
        .iter()
        .zip(["udp", "tcp"])
    {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert!(m.answers.is_empty());
        let extra = section(&m.additionals);
        assert_eq!(extra[0], "Who.Example.ORG. 0 A 127.0.0.1");
        assert!(
            extra[1].starts_with(&format!("_{proto}.Who.Example.ORG. 0 SRV 0 0 ")),
            "{extra:?}"
        );
    }
}

#[test]
fn chaos_and_non_in_class() {
    let s = Server::start(".:{PORT} {\n    chaos Ferro-1 alice\n    whoami\n}\n", &[]);
    let m = udp(
        s.addr(),
        &with_class(query("version.bind.", RecordType::TXT), DNSClass::CH),
    );
    assert_eq!(answers(&m), ["version.bind. 0 TXT Ferro-1"]);
    assert_eq!(m.answers[0].dns_class, DNSClass::CH);
    let m = tcp(
        s.addr(),
        &with_class(query("authors.bind.", RecordType::TXT), DNSClass::CH),
    );
    assert_eq!(answers(&m), ["authors.bind. 0 TXT alice"]);

    // Without chaos, a CH query is refused before any plugin sees it.
    let plain = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let m = udp(
        plain.addr(),
        &with_class(query("version.bind.", RecordType::TXT), DNSClass::CH),
    );
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn any_is_answered_with_hinfo() {
    let s = Server::start(".:{PORT} {\n    any\n    whoami\n}\n", &[]);
    for m in s.both("example.org.", RecordType::ANY) {
        assert_eq!(
            answers(&m),
            ["example.org. 8482 HINFO ANY obsoleted See RFC 8482"]
        );
    }
    // other types go on to whoami
    assert_eq!(s.udp("example.org.", RecordType::A).additionals.len(), 2);
}

#[test]
fn minimal_strips_additional_from_positive_answers() {
    // whoami's answer has only additional records; minimal removes them.
    let s = Server::start(".:{PORT} {\n    minimal\n    whoami\n}\n", &[]);
    let [u, t] = s.both("example.org.", RecordType::A);
    assert!(u.additionals.is_empty() && t.additionals.is_empty());
}

#[test]
fn zone_routing_most_specific_block_wins() {
    let s = Server::start(
        "example.org:{PORT} {\n    any\n}\nsub.example.org:{PORT} {\n    whoami\n}\n.:{PORT} {\n    chaos\n}\n",
        &[],
    );
    // sub.example.org block: whoami answers (additional section)
    let m = s.udp("www.sub.example.org.", RecordType::A);
    assert_eq!(m.additionals.len(), 2);
    // example.org block: any passes A on with nothing after it: SERVFAIL
    let m = s.udp("www.example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    let m = s.udp("www.example.org.", RecordType::ANY);
    assert_eq!(m.answers.len(), 1);
    // the root block catches the rest
    let m = s.tcp("example.net.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn no_matching_zone_is_refused() {
    let s = Server::start(
        "example.org:{PORT} {\n    whoami\n}\nempty.org:{PORT} {\n}\n",
        &[],
    );
    for m in s.both("example.net.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert_eq!(m.queries.len(), 1, "the question is echoed");
    }
    // a block without plugins refuses too
    assert_eq!(
        s.udp("a.empty.org.", RecordType::A).metadata.response_code,
        ResponseCode::Refused
    );
}

#[test]
fn ds_goes_to_the_parent_zone() {
    let s = Server::start(
        "example.org:{PORT} {\n    any\n}\nsub.example.org:{PORT} {\n    whoami\n}\n",
        &[],
    );
    // A DS for sub.example.org. is answered by the parent block (any: SERVFAIL
    // for a non-ANY type since nothing follows it), not whoami.
    let m = s.udp("sub.example.org.", RecordType::DS);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(
        s.udp("sub.example.org.", RecordType::A).additionals.len(),
        2
    );
}

#[test]
fn several_keys_and_reverse_cidr_keys_share_one_block() {
    let s = Server::start(
        "example.org:{PORT} example.net:{PORT} 10.0.0.0/23:{PORT} {\n    whoami\n}\n",
        &[],
    );
    for name in [
        "a.example.org.",
        "b.example.net.",
        "5.0.0.10.in-addr.arpa.",
        "5.1.0.10.in-addr.arpa.",
    ] {
        assert_eq!(s.udp(name, RecordType::PTR).additionals.len(), 2, "{name}");
    }
    assert_eq!(
        s.udp("5.2.0.10.in-addr.arpa.", RecordType::PTR)
            .metadata
            .response_code,
        ResponseCode::Refused
    );
}

#[test]
fn default_port_flag_applies_to_keys_without_port() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("Corefile");
    std::fs::write(&conf, "example.org {\n    whoami\n}\n").unwrap();
    let mut child = std::process::Command::new(BIN)
        .args(["-dns.port", &port.to_string(), "-conf"])
        .arg(&conf)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(addr).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "never listened on -dns.port"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        udp(addr, &query("x.example.org.", RecordType::A))
            .additionals
            .len(),
        2
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn snippets_import_and_env_substitution() {
    let s = Server::start_with(
        "(common) {\n    any\n}\nimport extra/*.conf\n{$ZONE}:{PORT} bind:{PORT} {\n    import common\n    chaos \"{$VERSION}\"\n}\n",
        &[("extra/one.conf", "other.test:{PORT} {\n    whoami\n}\n")],
        &[("ZONE", "example.org"), ("VERSION", "v 1 2")],
    );
    // snippet: any in the example.org block
    assert_eq!(s.udp("example.org.", RecordType::ANY).answers.len(), 1);
    // env substitution stayed one token, with its spaces
    let m = udp(
        s.addr(),
        &with_class(query("version.bind.", RecordType::TXT), DNSClass::CH),
    );
    assert_eq!(answers(&m), ["version.bind. 0 TXT v 1 2"]);
    // the imported file's block
    assert_eq!(s.tcp("a.other.test.", RecordType::A).additionals.len(), 2);
}

fn big_zone_server() -> Server {
    // nsid pads every reply: a long NSID makes answers larger than 512 bytes.
    Server::start(
        &format!(
            ".:{{PORT}} {{\n    nsid {}\n    whoami\n}}\n",
            "x".repeat(450)
        ),
        &[],
    )
}

#[test]
fn edns_is_mirrored_and_badvers_answered() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let mut q = with_edns(query("example.org.", RecordType::A), 1400, true);
    q.edns
        .as_mut()
        .unwrap()
        .options_mut()
        .insert(EdnsOption::Unknown(10, vec![7; 8]));
    let m = udp(s.addr(), &q);
    let e = m.edns.expect("reply has OPT");
    assert_eq!(e.max_payload(), 1400);
    assert!(e.flags().dnssec_ok);
    assert!(e.option(EdnsCode::Cookie).is_some(), "cookie echoed");
    // no OPT in, no OPT out
    assert!(s.udp("example.org.", RecordType::A).edns.is_none());
    // EDNS version 1: BADVERS
    let mut q = with_edns(query("example.org.", RecordType::A), 1232, false);
    q.edns.as_mut().unwrap().set_version(1);
    let m = udp(s.addr(), &q);
    assert_eq!(u16::from(m.metadata.response_code), 16);
    assert_eq!(m.edns.unwrap().version(), 0);
}

#[test]
fn udp_truncation_then_tcp_retry() {
    let s = big_zone_server();
    // The NSID option is only added when asked for; ask with a 512 buffer.
    let mut q = with_edns(query("example.org.", RecordType::A), 512, false);
    q.edns
        .as_mut()
        .unwrap()
        .options_mut()
        .insert(EdnsOption::Unknown(3, Vec::new()));
    let bytes = udp_raw(s.addr(), &q.to_vec().unwrap(), Duration::from_secs(3)).unwrap();
    assert!(bytes.len() <= 512, "{} bytes", bytes.len());
    let m = Message::from_vec(&bytes).unwrap();
    assert!(m.metadata.truncation, "TC set");
    // The same query over TCP gets everything.
    let m = tcp(s.addr(), &q);
    assert!(!m.metadata.truncation);
    assert_eq!(m.additionals.len(), 2);
    let nsid = m.edns.unwrap().option(EdnsCode::NSID).cloned();
    assert!(
        matches!(&nsid, Some(EdnsOption::NSID(d)) if d.as_ref().len() == 450),
        "{nsid:?}"
    );
    // A large EDNS buffer over UDP also gets everything.
    let mut q = with_edns(query("example.org.", RecordType::A), 4096, false);
    q.edns
        .as_mut()
        .unwrap()
        .options_mut()
        .insert(EdnsOption::Unknown(3, Vec::new()));
    assert!(!udp(s.addr(), &q).metadata.truncation);
}

#[test]
fn bufsize_caps_the_client_buffer() {
    let s = Server::start(
        &format!(
            ".:{{PORT}} {{\n    bufsize 512\n    nsid {}\n    whoami\n}}\n",
            "x".repeat(450)
        ),
        &[],
    );
    let mut q = with_edns(query("example.org.", RecordType::A), 4096, false);
    q.edns
        .as_mut()
        .unwrap()
        .options_mut()
        .insert(EdnsOption::Unknown(3, Vec::new()));
    let m = udp(s.addr(), &q);
    assert!(m.metadata.truncation, "4096 asked, capped to 512");
    assert_eq!(m.edns.unwrap().max_payload(), 512);
}

#[test]
fn tcp_pipelines_several_queries_on_one_connection() {
    let s = Server::start(".:{PORT} {\n    whoami\n}\n", &[]);
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let qs: Vec<Message> = (0..5)
        .map(|i| query(&format!("q{i}.example.org."), RecordType::A))
        .collect();
    for q in &qs {
        tcp_send(&mut c, &q.to_vec().unwrap());
    }
    for q in &qs {
        let m = Message::from_vec(&tcp_recv(&mut c).unwrap()).unwrap();
        assert_eq!(m.metadata.id, q.metadata.id);
        assert_eq!(m.queries[0].name(), q.queries[0].name());
    }
}

#[test]
fn log_lines_in_coredns_format() {
    let s = Server::start(".:{PORT} {\n    log\n    whoami\n}\n", &[]);
    let m = s.udp("Log.Example.org.", RecordType::AAAA);
    let out = s.wait_log("AAAA IN log.example.org.");
    let line = out
        .lines()
        .find(|l| l.contains("log.example.org."))
        .expect("a log line");
    assert!(line.starts_with("[INFO] 127.0.0.1:"), "{line}");
    let tail = format!(" - {} \"AAAA IN log.example.org. udp ", m.metadata.id);
    assert!(line.contains(&tail), "{line}");
    assert!(line.contains("\" NOERROR qr,aa,rd "), "{line}");
    assert!(line.ends_with('s'), "{line}");
}

#[test]
fn errors_logs_plugin_errors() {
    let s = Server::start(".:{PORT} {\n    errors\n    any\n}\n", &[]);
    assert_eq!(
        s.udp("example.org.", RecordType::A).metadata.response_code,
        ResponseCode::ServFail
    );
    let out = s.wait_log("no next plugin found");
    assert!(
        out.contains("[ERROR] plugin/errors: 2 example.org. A: plugin/any: no next plugin found"),
        "{out}"
    );
}

#[test]
fn nsid_answers_when_asked() {
    let s = Server::start(".:{PORT} {\n    nsid ferro\n    whoami\n}\n", &[]);
    let mut q = with_edns(query("example.org.", RecordType::A), 1232, false);
    q.edns
        .as_mut()
        .unwrap()
        .options_mut()
        .insert(EdnsOption::Unknown(3, Vec::new()));
    let m = tcp(s.addr(), &q);
    let nsid = m.edns.unwrap().option(EdnsCode::NSID).cloned();
    assert!(
        matches!(&nsid, Some(EdnsOption::NSID(d)) if d.as_ref() == b"ferro"),
        "{nsid:?}"
    );
    // without the option: no NSID
    let m = udp(
        s.addr(),
        &with_edns(query("example.org.", RecordType::A), 1232, false),
    );
    assert!(m.edns.unwrap().option(EdnsCode::NSID).is_none());
}
