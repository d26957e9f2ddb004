use super::*;
use crate::corefile::Directive;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, TXT};
use hickory_proto::rr::Name;

fn lb(
    texts: &[&str],
    root: Option<&std::path::Path>,
) -> Result<Loadbalance, crate::corefile::Error> {
    let mut b = BlockSetup::new(vec![".".into()]);
    b.root = root.map(Into::into);
    let dirs: Vec<Directive> = texts.iter().map(|t| directive(t)).collect();
    let refs: Vec<&Directive> = dirs.iter().collect();
    setup(&mut b, &refs)
}

fn rr(owner: &str, data: RData) -> Record {
    Record::from_rdata(Name::from_ascii(owner).unwrap(), 60, data)
}

fn a(last: u8) -> Record {
    rr("www.example.org.", RData::A(A::new(10, 0, 0, last)))
}

fn kinds(rrs: &[Record]) -> String {
    rrs.iter()
        .map(|r| match &r.data {
            RData::A(a) => a.0.octets()[3].to_string(),
            RData::AAAA(_) => "aaaa".into(),
            other => other.record_type().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn setup_forms() {
    assert!(matches!(
        lb(&["loadbalance"], None).unwrap().policy,
        Policy::RoundRobin
    ));
    let l = lb(
        &["loadbalance round_robin {\nprefer 10.9.20.0/24 192.168.1.0/24\nprefer ::/0\n}"],
        None,
    )
    .unwrap();
    assert_eq!(l.prefer.len(), 3);
    let e = |t: &str| lb(&[t], None).err().expect("fails").to_string();
    assert_eq!(
        e("loadbalance round_robin x"),
        "Corefile:1: unknown property for round_robin"
    );
    assert_eq!(
        e("loadbalance random"),
        "Corefile:1: unknown policy: random"
    );
    assert_eq!(
        e("loadbalance weighted"),
        "Corefile:1: missing weight file argument"
    );
    assert_eq!(
        e("loadbalance weighted a b"),
        "Corefile:1: unexpected argument(s)"
    );
    assert_eq!(
        e("loadbalance {\nreload 10s\n}"),
        "Corefile:2: unknown property 'reload'"
    );
    assert_eq!(
        e("loadbalance {\nprefer 10.0.0.0\n}"),
        "Corefile:2: invalid CIDR \"10.0.0.0\": invalid CIDR address: 10.0.0.0"
    );
    assert_eq!(
        e("loadbalance weighted /nonexistent/w {\nreload 0\n}"),
        "Corefile:3: weight file open error"
    );
    assert_eq!(
        e("loadbalance weighted /nonexistent/w {\nreload 5x\n}"),
        "Corefile:2: invalid reload duration '5x'"
    );
    assert_eq!(
        e("loadbalance weighted /nonexistent/w {\nreload\n}"),
        "Corefile:2: reload duration value is missing"
    );
    assert_eq!(
        e("loadbalance weighted /nonexistent/w {\nfoo\n}"),
        "Corefile:2: unknown property 'foo'"
    );
    // A missing file that will be re-read is only warned about.
    assert!(lb(&["loadbalance weighted /nonexistent/w"], None).is_ok());
}

#[test]
fn round_robin_groups_and_shuffles() {
    let mut rrs = vec![
        a(1),
        rr("www.example.org.", RData::MX(MX::new(10, Name::root()))),
        a(2),
        rr("www.example.org.", RData::TXT(TXT::new(vec!["t".into()]))),
        rr("x.example.org.", RData::CNAME(CNAME(Name::root()))),
        a(3),
        rr(
            "www.example.org.",
            RData::AAAA(AAAA::new(0, 0, 0, 0, 0, 0, 0, 1)),
        ),
    ];
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        round_robin(&mut rrs);
        let k = kinds(&rrs);
        assert!(k.starts_with("CNAME TXT "), "{k}");
        assert!(k.ends_with(" MX"), "{k}");
        seen.insert(k);
    }
    assert!(seen.len() > 4, "the order changes: {seen:?}");
}

#[test]
fn response_phase() {
    let l = lb(&["loadbalance"], None).unwrap();
    let req = request("www.example.org.", RecordType::A);
    let mut firsts = std::collections::HashSet::new();
    for _ in 0..100 {
        let mut m = req.reply();
        m.answers = vec![a(1), a(2), a(3)];
        let mut out = Outcome::reply(m);
        l.response(&req, &mut out);
        firsts.insert(kinds(&out.reply.unwrap().answers));
    }
    assert!(firsts.len() > 1);
    // Not for error replies.
    let mut m = req.error_reply(ResponseCode::NXDomain);
    m.answers = vec![a(1), rr("a.", RData::CNAME(CNAME(Name::root())))];
    let mut out = Outcome::reply(m);
    l.response(&req, &mut out);
    assert_eq!(kinds(&out.reply.unwrap().answers), "1 CNAME");
}

#[test]
fn prefer_subnets_first() {
    let l = lb(
        &["loadbalance round_robin {\nprefer 10.0.0.3/32 10.0.0.0/31\n}"],
        None,
    )
    .unwrap();
    let req = request("www.example.org.", RecordType::A);
    for _ in 0..20 {
        let mut m = req.reply();
        m.answers = vec![
            a(1),
            a(2),
            rr("www.example.org.", RData::TXT(TXT::new(vec!["t".into()]))),
            a(3),
            rr("x.example.org.", RData::CNAME(CNAME(Name::root()))),
        ];
        let mut out = Outcome::reply(m);
        l.response(&req, &mut out);
        let k = kinds(&out.reply.unwrap().answers);
        assert!(k.starts_with("CNAME 3 1 "), "{k}");
        assert!(k.ends_with(" TXT"), "{k}");
    }
}

#[test]
fn weighted_moves_one_to_the_top() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("w"), "www.example.org\n10.0.0.3 255\n").unwrap();
    let l = lb(&["loadbalance weighted w {\nreload 0\n}"], Some(dir.path())).unwrap();
    let req = request("www.example.org.", RecordType::A);
    let mut top3 = 0;
    for _ in 0..100 {
        let mut m = req.reply();
        m.answers = vec![a(1), a(2), a(3)];
        let mut out = Outcome::reply(m);
        l.response(&req, &mut out);
        let k = kinds(&out.reply.unwrap().answers);
        if k.starts_with('3') {
            top3 += 1;
        }
    }
    // 255 against 1 + 1: almost always first.
    assert!(top3 > 90, "{top3}");
    // Other query types are left alone.
    let req = request("www.example.org.", RecordType::MX);
    let mut m = req.reply();
    m.answers = vec![a(1), a(2), a(3)];
    let mut out = Outcome::reply(m);
    l.response(&req, &mut out);
    assert_eq!(kinds(&out.reply.unwrap().answers), "1 2 3");
}
