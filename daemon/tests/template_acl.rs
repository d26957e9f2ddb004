//! The template, acl, header and loadbalance plugins, through the real binary.

mod common;

use common::*;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::RecordType;
use std::collections::HashSet;
use std::net::TcpStream;
use std::time::Duration;

const COREFILE: &str = r#"example:{PORT} {
    template IN A example {
        match "^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-(?P<c>[0-9]+)-(?P<d>[0-9]+)[.]example[.]$"
        answer "{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}"
        answer "{{ .Name }} 60 IN TXT \"{{ index .Match 0 }} from {{ .Remote }}\""
        fallthrough
    }
    template ANY ANY example {
        rcode NXDOMAIN
        authority "example. 60 IN SOA ns.example. hostmaster.example. (1 60 60 60 60)"
    }
}

blocked.test:{PORT} {
    acl {
        block net 127.0.0.0/8
    }
    whoami
}

filtered.test:{PORT} {
    acl {
        filter type A net 127.0.0.1
    }
    whoami
}

dropped.test:{PORT} {
    acl {
        drop type A
    }
    whoami
}

allowed.test:{PORT} {
    acl {
        allow net 127.0.0.1 ::1
        block
    }
    acl other.allowed.test {
        block net 10.0.0.0/8
    }
    whoami
}

denied.test:{PORT} {
    acl {
        allow net 192.0.2.0/24
        block
    }
    whoami
}

header.test:{PORT} {
    header {
        query clear rd
        response set ra aa
    }
    whoami
}

lb.test:{PORT} {
    loadbalance round_robin
    hosts {
        10.0.0.1 www.lb.test
        10.0.0.2 www.lb.test
        10.0.0.3 www.lb.test
        10.0.0.4 www.lb.test
        10.0.0.5 www.lb.test
    }
}
"#;

fn ede(m: &Message) -> Option<u16> {
    let e = m.edns.as_ref()?;
    match e.options().get(EdnsCode::from(15))? {
        EdnsOption::Unknown(_, d) => Some(u16::from_be_bytes([d[0], d[1]])),
        _ => None,
    }
}

#[test]
fn template_answers_from_regex_groups() {
    let s = Server::start(COREFILE, &[]);
    for m in s.both("IP-10-1-2-3.example.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        assert_eq!(
            answers(&m),
            [
                "ip-10-1-2-3.example. 60 A 10.1.2.3",
                "ip-10-1-2-3.example. 60 TXT ip-10-1-2-3.example. from 127.0.0.1"
            ]
        );
    }
}

#[test]
fn template_nxdomain_with_soa() {
    let s = Server::start(COREFILE, &[]);
    for qt in [RecordType::A, RecordType::MX] {
        for m in s.both("nothing.example.", qt) {
            assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
            assert!(m.metadata.authoritative);
            assert!(m.answers.is_empty());
            assert_eq!(
                section(&m.authorities),
                ["example. 60 SOA ns.example. hostmaster.example. 1 60 60 60 60"]
            );
        }
    }
}

#[test]
fn acl_block_and_filter() {
    let s = Server::start(COREFILE, &[]);
    for m in s.both("x.blocked.test.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.answers.is_empty());
        // CoreDNS adds an OPT with DO set and EDE 15 (Blocked), even when
        // the query had no EDNS.
        assert!(m.edns.as_ref().unwrap().flags().dnssec_ok);
        assert_eq!(ede(&m), Some(15));
    }
    for m in s.both("x.filtered.test.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        assert_eq!(ede(&m), Some(17));
    }
    // The filter is for A only: other types reach whoami.
    let m = s.udp("x.filtered.test.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ede(&m), None);
    assert!(!m.additionals.is_empty(), "whoami answered");
    // With EDNS in the query, the client's size comes back.
    let q = with_edns(query("x.blocked.test.", RecordType::A), 1232, false);
    let m = udp(s.addr(), &q);
    assert_eq!(m.edns.as_ref().unwrap().max_payload(), 1232);
    assert_eq!(ede(&m), Some(15));
}

#[test]
fn acl_drop_sends_nothing() {
    let s = Server::start(COREFILE, &[]);
    let q = query("x.dropped.test.", RecordType::A);
    let wait = Duration::from_millis(500);
    assert!(udp_raw(s.addr(), &q.to_vec().unwrap(), wait).is_none());
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(wait)).unwrap();
    tcp_send(&mut c, &q.to_vec().unwrap());
    assert!(tcp_recv(&mut c).is_none());
    // Other types are not dropped.
    let m = s.udp("x.dropped.test.", RecordType::AAAA);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn acl_allow_by_net() {
    let s = Server::start(COREFILE, &[]);
    for m in s.both("x.allowed.test.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(ede(&m), None);
        assert!(!m.additionals.is_empty(), "whoami answered");
    }
    // The first rule's allow ends the check, the second rule is not tried.
    let m = s.udp("y.other.allowed.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    for m in s.both("x.denied.test.", RecordType::A) {
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert_eq!(ede(&m), Some(15));
    }
}

#[test]
fn header_sets_reply_flags() {
    let s = Server::start(COREFILE, &[]);
    for m in s.both("x.header.test.", RecordType::A) {
        assert!(m.metadata.recursion_available);
        assert!(m.metadata.authoritative);
        // RD was cleared in the query before whoami copied it.
        assert!(!m.metadata.recursion_desired);
    }
    // Other blocks are untouched.
    let m = s.udp("x.allowed.test.", RecordType::A);
    assert!(!m.metadata.recursion_available);
    assert!(m.metadata.recursion_desired);
}

#[test]
fn loadbalance_changes_the_order() {
    let s = Server::start(COREFILE, &[]);
    let mut orders = HashSet::new();
    for i in 0..30 {
        let m = if i % 2 == 0 {
            s.udp("www.lb.test.", RecordType::A)
        } else {
            s.tcp("www.lb.test.", RecordType::A)
        };
        let mut got = answers(&m);
        assert_eq!(got.len(), 5);
        orders.insert(got.join(","));
        got.sort();
        assert_eq!(got[0], "www.lb.test. 3600 A 10.0.0.1");
        assert_eq!(got[4], "www.lb.test. 3600 A 10.0.0.5");
    }
    assert!(orders.len() > 3, "orders seen: {orders:?}");
}
