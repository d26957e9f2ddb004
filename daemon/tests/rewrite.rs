//! The rewrite plugin, through the real binary, over UDP and TCP.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsCode;
use hickory_proto::rr::RecordType;

const COREFILE: &str = ".:{PORT} {
    rewrite name exact www.example.org. web.internal.test.
    rewrite name regex (.*)-eu\\.example\\.org {1}.eu.internal.test answer auto
    rewrite name suffix .plain.example.org. .internal.test.
    rewrite type MX A
    rewrite ttl ttl.example.org. 5
    rewrite rcode missing.example.org. SERVFAIL NXDOMAIN
    hosts hosts.txt {
        192.0.2.10 web.internal.test
        192.0.2.20 ftp.eu.internal.test
        192.0.2.30 typed.example.org
        192.0.2.40 ttl.example.org
        192.0.2.50 host.internal.test
    }
}
edns.test:{PORT} {
    rewrite edns0 local set 0xffee 0x61626364
    whoami
}
revert.test:{PORT} {
    rewrite edns0 local set 0xffee abcd revert
    whoami
}
";

fn start() -> Server {
    Server::start(COREFILE, &[("hosts.txt", "")])
}

fn question(m: &Message) -> String {
    let q = &m.queries[0];
    format!("{} {}", q.name(), q.query_type())
}

#[test]
fn name_rewrite_answers_with_the_original_name() {
    let s = start();
    for m in s.both("WWW.example.org.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(question(&m), "WWW.example.org. A");
        // exact rules always map the answer back (to the name lowercased).
        assert_eq!(answers(&m), ["www.example.org. 3600 A 192.0.2.10"]);
    }
    for m in s.both("ftp-eu.example.org.", RecordType::A) {
        assert_eq!(question(&m), "ftp-eu.example.org. A");
        assert_eq!(answers(&m), ["ftp-eu.example.org. 3600 A 192.0.2.20"]);
    }
    // Without `answer auto` only the question is restored.
    for m in s.both("host.plain.example.org.", RecordType::A) {
        assert_eq!(question(&m), "host.plain.example.org. A");
        assert_eq!(answers(&m), ["host.internal.test. 3600 A 192.0.2.50"]);
    }
}

#[test]
fn type_rewrite() {
    let s = start();
    for m in s.both("typed.example.org.", RecordType::MX) {
        assert_eq!(question(&m), "typed.example.org. MX");
        assert_eq!(answers(&m), ["typed.example.org. 3600 A 192.0.2.30"]);
    }
}

#[test]
fn ttl_rewrite() {
    let s = start();
    for m in s.both("ttl.example.org.", RecordType::A) {
        assert_eq!(answers(&m), ["ttl.example.org. 5 A 192.0.2.40"]);
    }
}

#[test]
fn rcode_rewrite() {
    let s = start();
    // hosts does not know the name and has nothing after it: SERVFAIL,
    // which the rule turns into NXDOMAIN.
    for m in s.both("missing.example.org.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(question(&m), "missing.example.org. A");
    }
    // Another unknown name keeps its SERVFAIL.
    let m = s.udp("other.example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn edns0_local_option_is_echoed_unless_reverted() {
    let s = start();
    for m in s.both("edns.test.", RecordType::A) {
        // The query had no OPT: the rule added one (4096 bytes), and the
        // local option's code is echoed like a supported option.
        let e = m.edns.as_ref().expect("OPT in reply");
        assert_eq!(e.max_payload(), 4096);
        let o = e.option(EdnsCode::Unknown(0xffee)).expect("option echoed");
        assert_eq!(Vec::<u8>::try_from(o).unwrap(), b"abcd");
    }
    let q = with_edns(query("revert.test.", RecordType::A), 1232, false);
    for m in [udp(s.addr(), &q), tcp(s.addr(), &q)] {
        let e = m.edns.as_ref().expect("OPT in reply");
        assert_eq!(e.max_payload(), 1232);
        assert!(e.option(EdnsCode::Unknown(0xffee)).is_none());
    }
}
