//! The file plugin, through the real binary over UDP and TCP.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::time::{Duration, Instant};

const COREFILE: &str = "example.org:{PORT} {
    file db.example.org {
        reload 1s
    }
}
";

const ZONE: &str = concat!(
    "$ORIGIN example.org.
$TTL 3600
@       IN SOA  ns1.example.org. hostmaster.example.org. 2026112501 7200 3600 1209600 300
        IN NS   ns1.example.org.
        IN MX   10 mail.example.org.
ns1     IN A    192.0.2.1
mail    IN A    192.0.2.25
www     IN A    192.0.2.80
        IN AAAA 2001:db8::80
alias   IN CNAME alias2.example.org.
alias2  IN CNAME www.example.org.
out     IN CNAME www.example.net.
*.apps  IN A    192.0.2.90
sub     IN NS   ns.sub.example.org.
ns.sub  IN A    192.0.2.53
a.b.c   IN A    192.0.2.7
",
    include_str!("common/big_txt.zone"),
);

fn server() -> Server {
    Server::start(COREFILE, &[("db.example.org", ZONE)])
}

#[test]
fn positive_answers_are_authoritative() {
    let s = server();
    for m in s.both("www.example.org.", RecordType::A) {
        assert!(m.metadata.authoritative);
        assert_eq!(answers(&m), ["www.example.org. 3600 A 192.0.2.80"]);
    }
    assert_eq!(
        answers(&s.tcp("www.example.org.", RecordType::AAAA)),
        ["www.example.org. 3600 AAAA 2001:db8::80"]
    );
    let m = s.udp("example.org.", RecordType::MX);
    assert_eq!(answers(&m), ["example.org. 3600 MX 10 mail.example.org."]);
    assert!(
        section(&m.additionals).contains(&"mail.example.org. 3600 A 192.0.2.25".to_string()),
        "{m:?}"
    );
}

#[test]
fn wildcard_and_cname_chain() {
    let s = server();
    for m in s.both("x.apps.example.org.", RecordType::A) {
        assert_eq!(answers(&m), ["x.apps.example.org. 3600 A 192.0.2.90"]);
    }
    let m = s.udp("alias.example.org.", RecordType::A);
    assert_eq!(
        answers(&m),
        [
            "alias.example.org. 3600 CNAME alias2.example.org.",
            "alias2.example.org. 3600 CNAME www.example.org.",
            "www.example.org. 3600 A 192.0.2.80"
        ]
    );
    // a CNAME leaving the zone: just the CNAME
    let m = s.tcp("out.example.org.", RecordType::A);
    assert_eq!(
        answers(&m),
        ["out.example.org. 3600 CNAME www.example.net."]
    );
}

#[test]
fn delegation_with_glue() {
    let s = server();
    for m in s.both("host.sub.example.org.", RecordType::A) {
        assert!(!m.metadata.authoritative, "a referral is not authoritative");
        assert!(m.answers.is_empty());
        assert_eq!(
            section(&m.authorities),
            ["sub.example.org. 3600 NS ns.sub.example.org."]
        );
        assert_eq!(
            section(&m.additionals),
            ["ns.sub.example.org. 3600 A 192.0.2.53"]
        );
    }
}

#[test]
fn nxdomain_and_nodata_carry_the_soa() {
    let s = server();
    for m in s.both("nope.example.org.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.metadata.authoritative);
        assert_eq!(m.authorities.len(), 1);
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    }
    for m in s.both("www.example.org.", RecordType::MX) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    }
    // an empty non-terminal is NODATA, not NXDOMAIN
    let m = s.udp("b.c.example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
}

#[test]
fn large_answer_truncated_over_udp_complete_over_tcp() {
    let s = server();
    let q = query("big.example.org.", RecordType::TXT);
    let bytes = udp_raw(s.addr(), &q.to_vec().unwrap(), Duration::from_secs(3)).unwrap();
    assert!(bytes.len() <= 512);
    let m = Message::from_vec(&bytes).unwrap();
    assert!(m.metadata.truncation, "TC over UDP without EDNS");
    assert!(m.answers.len() < 6);
    let m = s.tcp("big.example.org.", RecordType::TXT);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 6);
    // EDNS with room for it all
    let m = udp(
        s.addr(),
        &with_edns(query("big.example.org.", RecordType::TXT), 4096, false),
    );
    assert_eq!(m.answers.len(), 6);
}

#[test]
fn reloads_on_a_new_serial() {
    let s = server();
    assert_eq!(
        answers(&s.udp("www.example.org.", RecordType::A)),
        ["www.example.org. 3600 A 192.0.2.80"]
    );
    let newer = ZONE
        .replace("2026112501", "2026112502")
        .replace("192.0.2.80", "192.0.2.81");
    write_file(&s.path("db.example.org"), &newer);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = answers(&s.udp("www.example.org.", RecordType::A));
        if got == ["www.example.org. 3600 A 192.0.2.81"] {
            break;
        }
        assert!(Instant::now() < deadline, "zone not reloaded: {got:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = s.wait_log("Successfully reloaded zone");
    assert!(
        out.contains("[INFO] plugin/file: Successfully reloaded zone \"example.org.\""),
        "{out}"
    );
}

#[test]
fn minimal_drops_authority_and_additional_from_positive_answers() {
    let s = Server::start(
        "example.org:{PORT} {\n    minimal\n    file db.example.org\n}\n",
        &[("db.example.org", ZONE)],
    );
    for m in s.both("example.org.", RecordType::MX) {
        assert_eq!(answers(&m), ["example.org. 3600 MX 10 mail.example.org."]);
        assert!(
            m.authorities.is_empty() && m.additionals.is_empty(),
            "{m:?}"
        );
    }
    // denials keep their SOA
    let m = s.udp("nope.example.org.", RecordType::A);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    // without minimal the same answer carries the extra sections
    let full = server();
    let m = full.udp("example.org.", RecordType::MX);
    assert!(!m.additionals.is_empty());
}

/// CoreDNS's file plugin answers REFUSED, not NextOrFailure's SERVFAIL,
/// for a name outside its zones when no plugin follows it (here the name
/// was rewritten out of the zone).
#[test]
fn names_outside_the_zones_are_refused_when_file_is_last() {
    let s = Server::start(
        ".:{PORT} {\n    rewrite name suffix .example.org .example.com\n    file db.example.org example.org\n}\n",
        &[("db.example.org", ZONE)],
    );
    for m in s.both("www.example.org.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{m:?}");
    }
}
