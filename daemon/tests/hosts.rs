//! The hosts plugin, through the real binary.

mod common;

use common::*;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

const COREFILE: &str = "example.org:{PORT} in-addr.arpa:{PORT} {
    hosts hosts.txt {
        192.0.2.99 inline.example.org
        ttl 60
        reload 100ms
        fallthrough sub.example.org
    }
    whoami
}
";

const HOSTS: &str = "# a comment
192.0.2.1   www.example.org web.example.org
2001:db8::1 www.example.org
192.0.2.2   v4only.example.org # trailing comment
10.0.0.1    outside.example.net
";

#[test]
fn answers_from_file_and_inline() {
    let s = Server::start(COREFILE, &[("hosts.txt", HOSTS)]);
    for m in s.both("WWW.example.org.", RecordType::A) {
        assert!(m.metadata.authoritative);
        assert_eq!(answers(&m), ["www.example.org. 60 A 192.0.2.1"]);
    }
    assert_eq!(
        answers(&s.tcp("www.example.org.", RecordType::AAAA)),
        ["www.example.org. 60 AAAA 2001:db8::1"]
    );
    assert_eq!(
        answers(&s.udp("web.example.org.", RecordType::A)),
        ["web.example.org. 60 A 192.0.2.1"]
    );
    assert_eq!(
        answers(&s.udp("inline.example.org.", RecordType::A)),
        ["inline.example.org. 60 A 192.0.2.99"]
    );
    // a name with only IPv4: AAAA is NOERROR with no answer
    let m = s.udp("v4only.example.org.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    // PTR from the reverse map
    let m = s.udp("1.2.0.192.in-addr.arpa.", RecordType::PTR);
    let mut ptrs = answers(&m);
    ptrs.sort();
    assert_eq!(
        ptrs,
        [
            "1.2.0.192.in-addr.arpa. 60 PTR web.example.org.",
            "1.2.0.192.in-addr.arpa. 60 PTR www.example.org."
        ]
    );
}

#[test]
fn unknown_names_fall_through_only_where_configured() {
    let s = Server::start(COREFILE, &[("hosts.txt", HOSTS)]);
    // fallthrough zone: whoami answers
    assert_eq!(
        s.udp("a.sub.example.org.", RecordType::A).additionals.len(),
        2
    );
    // elsewhere: CoreDNS's hosts has no SOA to deny with, so SERVFAIL
    assert_eq!(
        s.udp("nope.example.org.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::ServFail
    );
}

#[test]
fn reloads_the_file_when_it_changes() {
    let s = Server::start(COREFILE, &[("hosts.txt", HOSTS)]);
    assert_eq!(
        answers(&s.udp("www.example.org.", RecordType::A)),
        ["www.example.org. 60 A 192.0.2.1"]
    );
    std::thread::sleep(Duration::from_millis(20));
    write_file(
        &s.path("hosts.txt"),
        "192.0.2.7 www.example.org\n# now longer so the size changes too\n",
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = answers(&s.udp("www.example.org.", RecordType::A));
        if got == ["www.example.org. 60 A 192.0.2.7"] {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {got:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // inline entries are kept
    assert_eq!(
        answers(&s.udp("inline.example.org.", RecordType::A)),
        ["inline.example.org. 60 A 192.0.2.99"]
    );
}
