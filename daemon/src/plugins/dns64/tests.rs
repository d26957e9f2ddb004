use super::*;
use crate::plugin::request::Server;
use crate::plugins::testutil::{now, request};
use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::Name;
use std::cell::RefCell;
use std::rc::Rc;

fn parse(text: &str) -> Result<Dns64, crate::corefile::Error> {
    crate::plugins::testutil::set_up(setup, text)
}

fn err(text: &str) -> String {
    crate::plugins::testutil::setup_err(setup, text)
}

fn prefix(text: &str) -> String {
    let p = parse(text).unwrap().prefix;
    format!("{}/{}", p.net, p.bits)
}

#[test]
fn setup_forms() {
    let d = parse("dns64").unwrap();
    assert_eq!(
        (d.prefix, d.translate_all, d.allow_ipv4),
        (Prefix::WELL_KNOWN, false, false)
    );
    assert_eq!(prefix("dns64 64:dead::/96"), "64:dead::/96");
    assert_eq!(prefix("dns64 {\n prefix 64:ff9b::/32\n}"), "64:ff9b::/32");
    assert_eq!(
        prefix("dns64 {\n prefix 2002:ac12:b083::/96\n}"),
        "2002:ac12:b083::/96"
    );
    assert_eq!(
        prefix("dns64 {\n prefix 2002:c0a8:a88a::/48\n}"),
        "2002:c0a8:a88a::/48"
    );
    // The address is masked to the prefix, as Go's ParseCIDR does.
    assert_eq!(prefix("dns64 64:ff9b::1:2/64"), "64:ff9b::/64");
    let d = parse("dns64 {\n translate_all\n allow_ipv4\n}").unwrap();
    assert!(d.translate_all && d.allow_ipv4);
    // Later occurrences win.
    assert_eq!(prefix("dns64\ndns64 64::/32"), "64::/32");
    // A block after a PREFIX is read line by line, as directives of their
    // own: its `prefix` line sets the prefix, its options do nothing.
    let d = parse("dns64 64:ff9b::/96 {\n prefix 64:1::/64\n translate_all\n}").unwrap();
    assert_eq!(
        (d.prefix.to_string_for_test(), d.translate_all),
        ("64:1::/64".into(), false)
    );
}

impl Prefix {
    fn to_string_for_test(self) -> String {
        format!("{}/{}", self.net, self.bits)
    }
}

#[test]
fn setup_errors() {
    assert_eq!(err("dns64 foo"), "Corefile:1: invalid CIDR address: foo");
    assert_eq!(
        err("dns64 {\n prefix 64:ff9b::/52\n}"),
        "Corefile:2: invalid prefix length \"64:ff9b::/52\""
    );
    assert_eq!(
        err("dns64 {\n prefix 64:ff9b::/104\n}"),
        "Corefile:2: invalid prefix length \"64:ff9b::/104\""
    );
    assert_eq!(
        err("dns64 64::/24"),
        "Corefile:1: invalid prefix length \"64::/24\""
    );
    assert_eq!(
        err("dns64 {\n prefix 8.8.8.8/24\n}"),
        "Corefile:2: invalid netmask 32 IPv6 address: \"8.8.8.0/24\""
    );
    assert_eq!(
        err("dns64 ::ffff:1.2.3.4/120"),
        "Corefile:1: invalid prefix length \"1.2.3.0/24\""
    );
    assert_eq!(
        err("dns64 a b"),
        "Corefile:1: Wrong argument count or unexpected line ending after 'b'"
    );
    assert_eq!(
        err("dns64 foobar {\n prefix 64:ff9b::/96\n}"),
        "Corefile:1: invalid CIDR address: foobar"
    );
    assert_eq!(
        err("dns64 {\n prefix\n}"),
        "Corefile:2: Wrong argument count or unexpected line ending after 'prefix'"
    );
    assert_eq!(
        err("dns64 {\n foobar\n}"),
        "Corefile:2: unknown property 'foobar'"
    );
    // An option's extra argument comes back as a property of its own.
    assert_eq!(
        err("dns64 {\n translate_all yes\n}"),
        "Corefile:2: unknown property 'yes'"
    );
    assert_eq!(
        err("dns64 {\n prefix 64::/96 64::/64\n}"),
        "Corefile:2: unknown property '64::/64'"
    );
}

/// `v4` embedded in the prefix `p` (a CIDR).
fn embed(p: &str, v4: [u8; 4]) -> String {
    let c = crate::gocompat::net::parse_cidr(p).unwrap();
    let std::net::IpAddr::V6(net) = c.network() else {
        panic!("not IPv6")
    };
    Prefix { net, bits: c.bits }
        .embed(Ipv4Addr::from(v4))
        .to_string()
}

#[test]
fn embeds_per_rfc_6052() {
    // CoreDNS's own vectors.
    let ip = [64, 64, 64, 64];
    assert_eq!(embed("64:ff9b::/96", ip), "64:ff9b::4040:4040");
    assert_eq!(embed("64:ff9b::/64", ip), "64:ff9b::40:4040:4000:0");
    assert_eq!(embed("64:ff9b::/56", ip), "64:ff9b:0:40:40:4040::");
    assert_eq!(embed("64::/32", ip), "64:0:4040:4040::");
    // RFC 6052 2.4's table, for 192.0.2.33.
    let ip = [192, 0, 2, 33];
    assert_eq!(embed("2001:db8::/32", ip), "2001:db8:c000:221::");
    assert_eq!(embed("2001:db8:100::/40", ip), "2001:db8:1c0:2:21::");
    assert_eq!(embed("2001:db8:122::/48", ip), "2001:db8:122:c000:2:2100::");
    assert_eq!(
        embed("2001:db8:122:300::/56", ip),
        "2001:db8:122:3c0:0:221::"
    );
    assert_eq!(
        embed("2001:db8:122:344::/64", ip),
        "2001:db8:122:344:c0:2:2100:0"
    );
    assert_eq!(
        embed("2001:db8:122:344::/96", ip),
        "2001:db8:122:344::c000:221"
    );
}

fn v6(req: &mut Request) {
    req.src = "[2001:db8::1]:53000".parse().unwrap();
}

#[test]
fn which_queries_are_watched() {
    let d = parse("dns64").unwrap();
    let mut r = request("example.com.", RecordType::AAAA);
    assert!(matches!(d.query(&mut r), Action::Next), "IPv4 client");
    v6(&mut r);
    assert!(matches!(d.query(&mut r), Action::WatchAsync));
    let mut a = request("example.com.", RecordType::A);
    v6(&mut a);
    assert!(matches!(d.query(&mut a), Action::Next), "not AAAA");
    let mut ch = request("example.com.", RecordType::AAAA);
    v6(&mut ch);
    let q = ch.query().clone().set_query_class(DNSClass::CH).clone();
    ch.set_query(q);
    assert!(matches!(d.query(&mut ch), Action::Next), "not IN");
    let d = parse("dns64 {\n allow_ipv4\n}").unwrap();
    let mut r = request("example.com.", RecordType::AAAA);
    assert!(matches!(d.query(&mut r), Action::WatchAsync));
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn soa(ttl: u32) -> Record {
    Record::from_rdata(
        name("example.com."),
        ttl,
        RData::SOA(SOA::new(
            name("foo."),
            name("bar."),
            1,
            7200,
            900,
            1209600,
            86400,
        )),
    )
}

fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::A(A::new(ip[0], ip[1], ip[2], ip[3])),
    )
}

fn aaaa(ttl: u32, ip: &str) -> Record {
    Record::from_rdata(
        name("example.com."),
        ttl,
        RData::AAAA(AAAA(ip.parse().unwrap())),
    )
}

#[test]
fn what_is_translated() {
    let d = parse("dns64").unwrap();
    let req = request("example.com.", RecordType::AAAA);
    let reply = |rcode, answers: Vec<Record>, ns: Vec<Record>| {
        let mut m = req.reply();
        m.metadata.response_code = rcode;
        m.answers = answers;
        m.authorities = ns;
        m
    };
    assert!(!d.translates(&reply(ResponseCode::NoError, vec![aaaa(60, "::1")], vec![])));
    assert!(d.translates(&reply(ResponseCode::NoError, vec![], vec![soa(1)])));
    assert!(d.translates(&reply(ResponseCode::NotImp, vec![], vec![soa(1)])));
    assert!(d.translates(&reply(ResponseCode::Refused, vec![], vec![])));
    assert!(!d.translates(&reply(ResponseCode::NXDomain, vec![], vec![soa(1)])));
    // NXDOMAIN with answers (a CNAME to nowhere) is no name error to Typify.
    let cname = Record::from_rdata(name("example.com."), 60, RData::CNAME(CNAME(name("x."))));
    assert!(d.translates(&reply(ResponseCode::NXDomain, vec![cname], vec![])));
    let all = parse("dns64 {\n translate_all\n}").unwrap();
    assert!(all.translates(&reply(ResponseCode::NoError, vec![aaaa(60, "::1")], vec![])));
    assert!(!all.translates(&reply(ResponseCode::NXDomain, vec![], vec![soa(1)])));
}

/// A server that answers the A lookup with `reply` and remembers what it
/// was asked.
struct Upstream {
    reply: Option<Message>,
    asked: RefCell<Vec<(String, RecordType)>>,
}

impl Server for Upstream {
    fn serve(&self, req: Request) -> crate::plugin::LocalFuture<'_, Option<Message>> {
        self.asked
            .borrow_mut()
            .push((req.qname().to_string(), req.qtype()));
        let reply = self.reply.clone().map(|mut m| {
            m.metadata.id = req.msg.metadata.id;
            m.queries = req.msg.queries.clone();
            m
        });
        Box::pin(std::future::ready(reply))
    }
}

/// Runs `d` on an AAAA query for example.com. from an IPv6 client: the
/// later plugins answer `original`, the server answers the A lookup with
/// `a_reply`. The outcome, and the lookups made.
fn serve(
    d: &Dns64,
    original: Outcome,
    a_reply: Option<Message>,
) -> (Outcome, Vec<(String, RecordType)>) {
    let mut req = request("example.com.", RecordType::AAAA);
    v6(&mut req);
    let up = Rc::new(Upstream {
        reply: a_reply,
        asked: RefCell::new(Vec::new()),
    });
    req.via = Some(up.clone());
    assert!(matches!(d.query(&mut req), Action::WatchAsync));
    let mut out = original;
    now(d.response_async(&req, &mut out));
    let asked = up.asked.borrow().clone();
    (out, asked)
}

fn original(rcode: ResponseCode, answers: Vec<Record>, ns: Vec<Record>) -> Outcome {
    let req = request("example.com.", RecordType::AAAA);
    let mut m = req.reply();
    m.metadata.response_code = rcode;
    m.metadata.authoritative = true;
    m.answers = answers;
    m.authorities = ns;
    Outcome::reply(m)
}

fn a_reply(answers: Vec<Record>, ns: Vec<Record>) -> Message {
    let mut m = request("example.com.", RecordType::A).reply();
    m.metadata.authoritative = true;
    m.answers = answers;
    m.authorities = ns;
    m
}

fn records(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .chain(&m.authorities)
        .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
        .collect()
}

#[test]
fn synthesizes_from_the_a_records() {
    let d = parse("dns64").unwrap();
    let (out, asked) = serve(
        &d,
        original(ResponseCode::NoError, vec![], vec![soa(70)]),
        Some(a_reply(
            vec![
                a("example.com.", 60, [192, 0, 2, 42]),
                a("example.com.", 5000, [192, 0, 2, 43]),
            ],
            vec![],
        )),
    );
    assert_eq!(asked, [("example.com.".to_string(), RecordType::A)]);
    let m = out.reply.expect("a reply");
    assert_eq!(out.rcode, ResponseCode::NoError);
    // A reply to the client's query: ID, RD and question; not
    // authoritative, whatever the answers were.
    assert_eq!(m.metadata.id, 4242);
    assert!(m.metadata.recursion_desired && !m.metadata.authoritative);
    assert_eq!(m.queries[0].query_type(), RecordType::AAAA);
    assert_eq!(
        records(&m),
        [
            "example.com. 60 AAAA 64:ff9b::c000:22a",
            // Capped by the SOA's TTL.
            "example.com. 70 AAAA 64:ff9b::c000:22b",
        ]
    );
}

#[test]
fn errors_other_than_nxdomain_are_translated_with_the_default_cap() {
    let d = parse("dns64").unwrap();
    let (out, _) = serve(
        &d,
        original(ResponseCode::Refused, vec![], vec![]),
        Some(a_reply(
            vec![
                a("example.com.", 60, [192, 0, 2, 42]),
                a("example.com.", 5000, [192, 0, 2, 43]),
            ],
            vec![],
        )),
    );
    assert_eq!(out.rcode, ResponseCode::NoError);
    assert_eq!(
        records(&out.reply.unwrap()),
        [
            "example.com. 60 AAAA 64:ff9b::c000:22a",
            "example.com. 600 AAAA 64:ff9b::c000:22b",
        ]
    );
}

#[test]
fn no_a_records_gives_the_a_replys_authority() {
    let d = parse("dns64").unwrap();
    let (out, _) = serve(
        &d,
        original(ResponseCode::NoError, vec![], vec![soa(3600)]),
        Some(a_reply(vec![], vec![soa(3600)])),
    );
    let m = out.reply.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        records(&m),
        ["example.com. 3600 SOA foo. bar. 1 7200 900 1209600 86400"]
    );
}

#[test]
fn cnames_stay_and_their_targets_are_mapped() {
    let d = parse("dns64 64:1::/64").unwrap();
    let cname = Record::from_rdata(
        name("example.com."),
        300,
        RData::CNAME(CNAME(name("v4.example.net."))),
    );
    let (out, _) = serve(
        &d,
        original(ResponseCode::NoError, vec![cname.clone()], vec![]),
        Some(a_reply(
            vec![cname, a("v4.example.net.", 30, [198, 51, 100, 7])],
            vec![],
        )),
    );
    assert_eq!(
        records(&out.reply.unwrap()),
        [
            "example.com. 300 CNAME v4.example.net.",
            "v4.example.net. 30 AAAA 64:1::c6:3364:700:0",
        ]
    );
}

#[test]
fn truncation_comes_from_the_a_reply() {
    let d = parse("dns64").unwrap();
    let mut ar = a_reply(vec![a("example.com.", 60, [192, 0, 2, 42])], vec![]);
    ar.metadata.truncation = true;
    let (out, _) = serve(
        &d,
        original(ResponseCode::NoError, vec![], vec![soa(70)]),
        Some(ar),
    );
    assert!(out.reply.unwrap().metadata.truncation);
}

#[test]
fn what_is_left_alone() {
    let d = parse("dns64").unwrap();
    // NXDOMAIN: no lookup, the reply as it was.
    let (out, asked) = serve(
        &d,
        original(ResponseCode::NXDomain, vec![], vec![soa(3600)]),
        None,
    );
    assert!(asked.is_empty());
    let m = out.reply.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    // AAAA records: no lookup.
    let (out, asked) = serve(
        &d,
        original(
            ResponseCode::NoError,
            vec![aaaa(60, "::1"), aaaa(5000, "::2")],
            vec![],
        ),
        None,
    );
    assert!(asked.is_empty());
    assert_eq!(
        records(&out.reply.unwrap()),
        ["example.com. 60 AAAA ::1", "example.com. 5000 AAAA ::2"]
    );
    // Nothing written (an error the server writes): kept.
    let (out, asked) = serve(&d, Outcome::rcode(ResponseCode::ServFail), None);
    assert!(asked.is_empty());
    assert!(out.reply.is_none());
    assert_eq!(out.rcode, ResponseCode::ServFail);
}

#[test]
fn translate_all_replaces_aaaa_answers() {
    let d = parse("dns64 {\n translate_all\n}").unwrap();
    let (out, asked) = serve(
        &d,
        original(ResponseCode::NoError, vec![aaaa(60, "2001:db8::1")], vec![]),
        Some(a_reply(vec![a("example.com.", 60, [192, 0, 2, 1])], vec![])),
    );
    assert_eq!(asked.len(), 1);
    assert_eq!(
        records(&out.reply.unwrap()),
        ["example.com. 60 AAAA 64:ff9b::c000:201"]
    );
}

#[test]
fn a_failed_lookup_is_servfail_with_the_error() {
    let d = parse("dns64").unwrap();
    // No server to ask.
    let mut req = request("example.com.", RecordType::AAAA);
    v6(&mut req);
    assert!(matches!(d.query(&mut req), Action::WatchAsync));
    let mut out = original(ResponseCode::NoError, vec![], vec![soa(70)]);
    now(d.response_async(&req, &mut out));
    assert!(out.reply.is_none());
    assert_eq!(out.rcode, ResponseCode::ServFail);
    assert_eq!(
        out.error.unwrap().to_string(),
        "plugin/dns64: no full server is running"
    );
    // The server sent nothing back (the lookup was dropped).
    let (out, _) = serve(
        &d,
        original(ResponseCode::NoError, vec![], vec![soa(70)]),
        None,
    );
    assert_eq!(out.rcode, ResponseCode::ServFail);
    assert!(out.error.is_some());
}

#[test]
fn translations_are_counted() {
    let d = parse("dns64").unwrap();
    let mut req = request("example.com.", RecordType::AAAA);
    v6(&mut req);
    let up = Rc::new(Upstream {
        reply: Some(a_reply(vec![a("example.com.", 60, [192, 0, 2, 1])], vec![])),
        asked: RefCell::new(Vec::new()),
    });
    req.via = Some(up);
    req.server = "dns://:64064".into();
    let line = "coredns_dns64_requests_translated_total{server=\"dns://:64064\"} 1\n";
    assert!(!crate::metrics::render().contains(line));
    let mut out = original(ResponseCode::NoError, vec![], vec![]);
    now(d.response_async(&req, &mut out));
    let text = crate::metrics::render();
    assert!(text.contains(line), "{text}");
}
