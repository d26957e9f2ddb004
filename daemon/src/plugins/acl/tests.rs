use super::*;
use crate::corefile::Directive;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request};
use hickory_proto::rr::RecordType;

fn acl(texts: &[&str]) -> Result<Acl, crate::corefile::Error> {
    let mut b = BlockSetup::new(vec![".".into()]);
    let dirs: Vec<Directive> = texts.iter().map(|t| directive(t)).collect();
    let refs: Vec<&Directive> = dirs.iter().collect();
    setup(&mut b, &refs)
}

fn err(text: &str) -> String {
    acl(&[text]).err().expect("setup fails").to_string()
}

/// What the acl does with a query for `name`/`qtype` from `src`.
fn verdict(a: &Acl, name: &str, qtype: RecordType, src: &str) -> String {
    let mut req = request(name, qtype);
    req.src = format!("{src}:5353")
        .parse()
        .unwrap_or_else(|_| format!("[{src}]:5353").parse().unwrap());
    match a.query(&mut req) {
        Action::Next => "next".into(),
        Action::Watch | Action::WatchAsync => "watch".into(),
        Action::Await => "await".into(),
        Action::Fork(_) => "fork".into(),
        Action::Wrap => "wrap".into(),
        Action::Done(o) => match o.reply {
            None => format!("none {}", o.rcode),
            Some(m) => {
                let e = m.edns.as_ref().expect("opt");
                assert_eq!(e.max_payload(), 4096);
                assert!(e.flags().dnssec_ok);
                let opt = e.options().get(15.into()).expect("ede");
                let EdnsOption::Unknown(_, data) = opt else {
                    panic!()
                };
                assert!(m.answers.is_empty());
                format!(
                    "{} ede={}",
                    m.metadata.response_code,
                    u16::from_be_bytes([data[0], data[1]])
                )
            }
        },
    }
}

#[test]
fn parses_rules() {
    let a = acl(&["acl {\nallow net 192.168.1.0/24\nblock type A AAAA net 192.168.0.0/16 10.0.0.1 2001:db8::/32\nfilter\ndrop type * net *\n}"]).unwrap();
    assert_eq!(a.rules.len(), 1);
    let p = &a.rules[0].policies;
    assert_eq!(p.len(), 4);
    assert_eq!(p[0].verdict, Verdict::Allow);
    assert!(p[0].qtypes.contains(&0));
    assert_eq!(p[1].qtypes, HashSet::from([1, 28]));
    assert_eq!(p[1].nets.as_ref().unwrap().len(), 3);
    assert!(p[2].nets.is_none());
    assert!(p[3].nets.is_none() && p[3].qtypes.contains(&0));
    // Sections may repeat and are case-insensitive, as are actions.
    let a = acl(&[
        "acl example.org {\nBLOCK TYPE A Net 10.0.0.0/8 type MX\n}",
        "acl {\nallow\n}",
    ])
    .unwrap();
    assert_eq!(a.rules.len(), 2);
    assert_eq!(a.rules[0].zones, ["example.org."]);
    assert_eq!(a.rules[0].policies[0].qtypes, HashSet::from([1, 15]));
    assert_eq!(a.rules[1].zones, ["."]);
    // No block at all: a rule without policies.
    assert!(acl(&["acl"]).unwrap().rules[0].policies.is_empty());
}

#[test]
fn setup_errors() {
    assert_eq!(
        err("acl {\nreject net *\n}"),
        "Corefile:2: unexpected token \"reject\"; expect 'allow', 'block', 'filter' or 'drop'"
    );
    assert_eq!(
        err("acl {\nblock A\n}"),
        "Corefile:2: unexpected token \"A\"; expect 'type | net'"
    );
    assert_eq!(
        err("acl {\nblock type\n}"),
        "Corefile:2: no token specified in \"type\" section"
    );
    assert_eq!(
        err("acl {\nblock net 10.0.0.0/8 type\n}"),
        "Corefile:2: no token specified in \"type\" section"
    );
    assert_eq!(
        err("acl {\nblock type a\n}"),
        "Corefile:2: unexpected token \"a\"; expect legal QTYPE"
    );
    assert_eq!(
        err("acl {\nblock net 10.0.0.256\n}"),
        "Corefile:2: illegal CIDR notation \"10.0.0.256/32\""
    );
    assert_eq!(
        err("acl {\nblock net 10.0.0.0/33\n}"),
        "Corefile:2: illegal CIDR notation \"10.0.0.0/33\""
    );
    // `*` stops the list: what follows it is not checked.
    assert!(acl(&["acl {\nblock type * bogus net * 300.0.0.0\n}"]).is_ok());
}

#[test]
fn first_matching_policy_wins() {
    let a = acl(&["acl {\nallow net 192.168.1.0/24\nblock net 192.168.0.0/16\nfilter type AAAA net 10.0.0.0/8\ndrop net 2001:db8::/32 172.16.0.1\n}"]).unwrap();
    assert_eq!(verdict(&a, "a.org.", RecordType::A, "192.168.1.5"), "next");
    assert_eq!(
        verdict(&a, "a.org.", RecordType::A, "192.168.2.5"),
        "Query Refused ede=15"
    );
    assert_eq!(
        verdict(&a, "a.org.", RecordType::AAAA, "10.1.2.3"),
        "No Error ede=17"
    );
    assert_eq!(verdict(&a, "a.org.", RecordType::A, "10.1.2.3"), "next");
    assert_eq!(
        verdict(&a, "a.org.", RecordType::MX, "2001:db8::53"),
        "none No Error"
    );
    assert_eq!(
        verdict(&a, "a.org.", RecordType::MX, "172.16.0.1"),
        "none No Error"
    );
    assert_eq!(verdict(&a, "a.org.", RecordType::MX, "172.16.0.2"), "next");
}

#[test]
fn rules_by_zone() {
    let a = acl(&[
        "acl a.example.org {\nblock net 192.168.1.0/24\n}",
        "acl example.org {\nallow type A\n}",
        "acl {\nblock\n}",
    ])
    .unwrap();
    assert_eq!(
        verdict(&a, "x.a.example.org.", RecordType::A, "192.168.1.1"),
        "Query Refused ede=15"
    );
    // Allow in the second rule ends the check before the catch-all.
    assert_eq!(
        verdict(&a, "b.example.org.", RecordType::A, "192.168.1.1"),
        "next"
    );
    // No policy of the second rule matches MX: the third rule blocks.
    assert_eq!(
        verdict(&a, "b.example.org.", RecordType::MX, "192.168.1.1"),
        "Query Refused ede=15"
    );
    assert_eq!(
        verdict(&a, "other.net.", RecordType::A, "127.0.0.1"),
        "Query Refused ede=15"
    );
}

#[test]
fn blocked_reply_keeps_the_query_header() {
    let a = acl(&["acl {\nblock\n}"]).unwrap();
    let mut req = request("Example.ORG.", RecordType::A);
    let Action::Done(o) = a.query(&mut req) else {
        panic!()
    };
    assert_eq!(o.rcode, ResponseCode::NoError);
    let m = o.reply.unwrap();
    assert_eq!(m.metadata.id, 4242);
    assert!(m.metadata.recursion_desired);
    assert!(!m.metadata.authoritative);
    assert_eq!(m.queries[0].name().to_string(), "Example.ORG.");
}

#[test]
fn cidrs() {
    assert_eq!(parse_cidr("10.0.0.0/08").map(|n| n.bits), Some(8));
    assert!(parse_cidr("10.0.0.0/").is_none());
    assert!(parse_cidr("10.0.0.0/+8").is_none());
    assert!(parse_cidr("fe80::1%eth0/64").is_none());
    let n = parse_cidr("::/0").unwrap();
    assert!(n.contains("2001:db8::1".parse().unwrap()));
    assert!(!n.contains("10.0.0.1".parse().unwrap()));
    assert!(parse_cidr("0.0.0.0/0")
        .unwrap()
        .contains("10.0.0.1".parse().unwrap()));
}
