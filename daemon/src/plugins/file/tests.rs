//! Lookup behaviour, checked against what CoreDNS's file plugin answers.

use super::*;
use crate::plugins::testutil::{now, request, Solo};
use hickory_proto::op::Message;
use hickory_proto::rr::Record;
use std::path::Path;
use std::rc::Rc;

const ZONE: &str = r#"$ORIGIN example.org.
$TTL 3600
@        IN SOA  ns1.example.org. Hostmaster.example.org. 2024010101 7200 3600 1209600 300
         IN NS   ns1
         IN NS   ns2.other.net.
         IN MX   10 Mail
         IN MX   20 mail.other.net.
         IN TXT  "apex"
ns1      IN A    192.0.2.1
         IN AAAA 2001:db8::1
mail     IN A    192.0.2.2
         IN AAAA 2001:db8::2
www      IN A    192.0.2.3
         IN AAAA 2001:db8::3
WWW2     IN A    192.0.2.33
alias    IN CNAME www
chain1   IN CNAME chain2
chain2   IN CNAME alias
ext      IN CNAME www.other.net.
loop1    IN CNAME loop2
loop2    IN CNAME loop1
dangling IN CNAME nothere
towild   IN CNAME x.wild
tosub    IN CNAME host.sub
*.wild   IN A    192.0.2.4
         IN TXT  "wildcard"
*.wc     IN CNAME www
*.mxw    IN MX   5 mail
a.b.ent  IN A    192.0.2.5
sub      IN NS   ns.sub
         IN NS   ns.other.net.
ns.sub   IN A    192.0.2.6
signed   IN NS   ns.other.net.
         IN DS   12345 8 2 ( 00112233
                             44556677 ) ; split digest
@        IN RRSIG SOA 8 2 3600 20300101000000 20200101000000 12345 example.org. AQID
         IN DNSKEY 257 3 8 AQID
srv      IN SRV  10 5 80 www
_sip._TCP IN SRV 0 5 5060 Mail
twomx    IN MX   10 mail
         IN MX   20 mail
dname    IN DNAME wild
self     IN DNAME self
"#;

fn zone(text: &str, origin: &str) -> Zone {
    Zone::parse(
        text,
        &Name::from_ascii(origin).unwrap(),
        Path::new("db.test"),
        -1,
    )
    .unwrap()
}

fn plugin(fall: Fallthrough) -> Rc<File> {
    let name = Name::from_ascii("example.org.").unwrap();
    let z = zone(ZONE, "example.org.");
    Rc::new(File::new(
        vec![Slot::new(name, PathBuf::from("db.test"), z)],
        fall,
    ))
}

/// The plugin's action for `name`/`t`, served by a server where the
/// plugin alone answers every name (for CNAME targets it asks about).
fn act(f: &Rc<File>, name: &str, t: RecordType) -> Action {
    let mut req = request(name, t);
    req.via = Some(Rc::new(Solo(f.clone())));
    match f.query(&mut req) {
        Action::Await => now(f.query_async(&mut req)),
        a => a,
    }
}

fn ask(f: &Rc<File>, name: &str, t: RecordType) -> Option<Message> {
    match act(f, name, t) {
        Action::Done(o) => o.reply,
        Action::Next => None,
        Action::Watch | Action::WatchAsync | Action::Await | Action::Fork(_) | Action::Wrap => {
            panic!("watch")
        }
    }
}

fn done(f: &Rc<File>, name: &str, t: RecordType) -> Outcome {
    match act(f, name, t) {
        Action::Done(o) => o,
        _ => panic!("not done"),
    }
}

/// A section as presentation lines, in order.
fn lines(rrs: &[Record]) -> Vec<String> {
    rrs.iter().map(|r| r.to_string()).collect()
}

fn a(name: &str, ttl: u32, rtype: &str, data: &str) -> String {
    format!("{name} {ttl} IN {rtype} {data}")
}

const SOA: &str = "example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300";

fn apex_ns() -> Vec<String> {
    vec![
        a("example.org.", 3600, "NS", "ns1.example.org."),
        a("example.org.", 3600, "NS", "ns2.other.net."),
    ]
}

#[test]
fn a_and_aaaa() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "www.example.org.", RecordType::A).unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        lines(&m.answers),
        vec![a("www.example.org.", 3600, "A", "192.0.2.3")]
    );
    assert_eq!(lines(&m.authorities), apex_ns());
    assert!(m.additionals.is_empty());
    assert_eq!(m.queries[0].name().to_ascii(), "www.example.org.");

    let m = ask(&f, "www.example.org.", RecordType::AAAA).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("www.example.org.", 3600, "AAAA", "2001:db8::3")]
    );
}

#[test]
fn owner_names_are_lowercased_and_matched_case_insensitively() {
    let f = plugin(Fallthrough::default());
    // CoreDNS lowercases owners on load and answers with them, whatever
    // the case of the question; the question keeps its case.
    let m = ask(&f, "wWw2.Example.ORG.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("www2.example.org.", 3600, "A", "192.0.2.33")]
    );
    assert_eq!(m.queries[0].name().to_ascii(), "wWw2.Example.ORG.");
    // SRV owners keep their case.
    let m = ask(&f, "_sip._tcp.example.org.", RecordType::SRV).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a(
            "_sip._TCP.example.org.",
            3600,
            "SRV",
            "0 5 5060 mail.example.org."
        )]
    );
    // (CoreDNS would keep the target's case too; hickory's parser
    // lowercases names in record data.)
    assert_eq!(
        lines(&m.additionals),
        vec![
            a("mail.example.org.", 3600, "A", "192.0.2.2"),
            a("mail.example.org.", 3600, "AAAA", "2001:db8::2"),
        ]
    );
}

#[test]
fn mx_with_additional_addresses() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "example.org.", RecordType::MX).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![
            a("example.org.", 3600, "MX", "10 mail.example.org."),
            a("example.org.", 3600, "MX", "20 mail.other.net."),
        ]
    );
    // Only the in-zone target has addresses added.
    assert_eq!(
        lines(&m.additionals),
        vec![
            a("mail.example.org.", 3600, "A", "192.0.2.2"),
            a("mail.example.org.", 3600, "AAAA", "2001:db8::2"),
        ]
    );
    assert_eq!(lines(&m.authorities), apex_ns());
    // One target named twice is added once.
    let m = ask(&f, "twomx.example.org.", RecordType::MX).unwrap();
    assert_eq!(m.answers.len(), 2);
    assert_eq!(m.additionals.len(), 2);
    // SRV too.
    let m = ask(&f, "srv.example.org.", RecordType::SRV).unwrap();
    assert_eq!(
        lines(&m.additionals),
        vec![
            a("www.example.org.", 3600, "A", "192.0.2.3"),
            a("www.example.org.", 3600, "AAAA", "2001:db8::3"),
        ]
    );
}

#[test]
fn wildcards() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "foo.wild.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(
        lines(&m.answers),
        vec![a("foo.wild.example.org.", 3600, "A", "192.0.2.4")]
    );
    assert_eq!(lines(&m.authorities), apex_ns());
    // Deeper names match too.
    let m = ask(&f, "a.b.wild.example.org.", RecordType::TXT).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("a.b.wild.example.org.", 3600, "TXT", "apex").replace("apex", "wildcard")]
    );
    // The synthesised owner is CoreDNS's lowercased question name; the
    // question section keeps the client's case.
    let m = ask(&f, "FoO.Wild.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("foo.wild.example.org.", 3600, "A", "192.0.2.4")]
    );
    assert_eq!(m.queries[0].name().to_ascii(), "FoO.Wild.example.org.");
    // NODATA at a wildcard.
    let m = ask(&f, "foo.wild.example.org.", RecordType::AAAA).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
    // The wildcard owner itself is an ordinary name.
    let m = ask(&f, "*.wild.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("*.wild.example.org.", 3600, "A", "192.0.2.4")]
    );
    // A wildcard MX gets its additional addresses.
    let m = ask(&f, "x.mxw.example.org.", RecordType::MX).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("x.mxw.example.org.", 3600, "MX", "5 mail.example.org.")]
    );
    assert_eq!(m.additionals.len(), 2);
}

#[test]
fn wildcard_cname() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "Host.wc.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![
            a("host.wc.example.org.", 3600, "CNAME", "www.example.org."),
            a("www.example.org.", 3600, "A", "192.0.2.3"),
        ]
    );
    assert_eq!(lines(&m.authorities), apex_ns());
    // Asking for the CNAME itself gives just that.
    let m = ask(&f, "host.wc.example.org.", RecordType::CNAME).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("host.wc.example.org.", 3600, "CNAME", "www.example.org.")]
    );
}

#[test]
fn cname_chain_in_zone() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "chain1.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(
        lines(&m.answers),
        vec![
            a("chain1.example.org.", 3600, "CNAME", "chain2.example.org."),
            a("chain2.example.org.", 3600, "CNAME", "alias.example.org."),
            a("alias.example.org.", 3600, "CNAME", "www.example.org."),
            a("www.example.org.", 3600, "A", "192.0.2.3"),
        ]
    );
    assert_eq!(lines(&m.authorities), apex_ns());
    // The target lacks the type: the chain, NOERROR, NS in authority.
    let m = ask(&f, "alias.example.org.", RecordType::MX).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert_eq!(lines(&m.authorities), apex_ns());
    // A CNAME query is not chased.
    let m = ask(&f, "chain1.example.org.", RecordType::CNAME).unwrap();
    assert_eq!(m.answers.len(), 1);
}

#[test]
fn cname_to_a_wildcard_is_resolved_like_a_new_query() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "towild.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![
            a("towild.example.org.", 3600, "CNAME", "x.wild.example.org."),
            a("x.wild.example.org.", 3600, "A", "192.0.2.4"),
        ]
    );
}

#[test]
fn cname_to_missing_in_zone_name_is_nxdomain() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "dangling.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        lines(&m.answers),
        vec![a(
            "dangling.example.org.",
            3600,
            "CNAME",
            "nothere.example.org."
        )]
    );
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
}

#[test]
fn cname_out_of_zone() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "ext.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(
        lines(&m.answers),
        vec![a("ext.example.org.", 3600, "CNAME", "www.other.net.")]
    );
    assert_eq!(lines(&m.authorities), apex_ns());
}

#[test]
fn cname_loop_stops() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "loop1.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    // The first CNAME and nine more hops, as CoreDNS gives.
    assert_eq!(m.answers.len(), 10);
}

#[test]
fn delegation_with_glue() {
    let f = plugin(Fallthrough::default());
    for q in [
        "sub.example.org.",
        "host.sub.example.org.",
        "a.b.sub.example.org.",
    ] {
        let m = ask(&f, q, RecordType::A).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{q}");
        assert!(!m.metadata.authoritative, "{q}");
        assert!(m.answers.is_empty());
        assert_eq!(
            lines(&m.authorities),
            vec![
                a("sub.example.org.", 3600, "NS", "ns.sub.example.org."),
                a("sub.example.org.", 3600, "NS", "ns.other.net."),
            ]
        );
        assert_eq!(
            lines(&m.additionals),
            vec![a("ns.sub.example.org.", 3600, "A", "192.0.2.6")]
        );
    }
    // NS at the cut is a referral too.
    let m = ask(&f, "sub.example.org.", RecordType::NS).unwrap();
    assert!(!m.metadata.authoritative);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 2);
    // A CNAME into the delegation: the CNAME, then the referral, AA kept.
    let m = ask(&f, "tosub.example.org.", RecordType::A).unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(
        lines(&m.answers),
        vec![a(
            "tosub.example.org.",
            3600,
            "CNAME",
            "host.sub.example.org."
        )]
    );
    assert_eq!(m.authorities.len(), 2);
    assert_eq!(m.additionals.len(), 1);
}

#[test]
fn ds_at_a_delegation_is_answered_by_the_parent() {
    let f = plugin(Fallthrough::default());
    // No DS here: NODATA from the parent, authoritative.
    let m = ask(&f, "sub.example.org.", RecordType::DS).unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
    // With a DS at the cut, the parent answers it.
    let m = ask(&f, "signed.example.org.", RecordType::DS).unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].record_type(), RecordType::DS);
    let hickory_proto::rr::RData::Unknown { rdata, .. } = &m.answers[0].data else {
        panic!("DS data")
    };
    // 12345 8 2 0011223344556677 on the wire.
    assert_eq!(
        rdata.anything,
        [0x30, 0x39, 8, 2, 0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77]
    );
    assert_eq!(lines(&m.authorities), apex_ns());
    let m = ask(&f, "signed.example.org.", RecordType::A).unwrap();
    assert!(!m.metadata.authoritative);
    assert_eq!(
        lines(&m.authorities),
        vec![a("signed.example.org.", 3600, "NS", "ns.other.net.")]
    );
    // Below the cut DS is referred like anything else.
    let m = ask(&f, "x.sub.example.org.", RecordType::DS).unwrap();
    assert!(!m.metadata.authoritative);
    assert_eq!(m.authorities.len(), 2);
}

#[test]
fn nxdomain_with_soa() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "nope.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty());
    // The SOA as stored, with its own TTL (not the minimum).
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
    assert!(m.additionals.is_empty());
    // Below an existing name too.
    let m = ask(&f, "x.www.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn nodata_with_soa() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "www.example.org.", RecordType::MX).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert!(m.answers.is_empty());
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
    // ANY is not special: nothing has type ANY.
    let m = ask(&f, "www.example.org.", RecordType::ANY).unwrap();
    assert!(m.answers.is_empty());
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
}

#[test]
fn empty_non_terminal_is_nodata() {
    let f = plugin(Fallthrough::default());
    for q in ["b.ent.example.org.", "ent.example.org."] {
        let m = ask(&f, q, RecordType::A).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{q}");
        assert!(m.answers.is_empty());
        assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
    }
    let m = ask(&f, "a.b.ent.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("a.b.ent.example.org.", 3600, "A", "192.0.2.5")]
    );
}

#[test]
fn apex_soa_and_ns() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "example.org.", RecordType::SOA).unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(lines(&m.answers), vec![SOA.to_string()]);
    assert_eq!(lines(&m.authorities), apex_ns());
    let m = ask(&f, "example.org.", RecordType::NS).unwrap();
    assert_eq!(lines(&m.answers), apex_ns());
    assert!(m.authorities.is_empty());
    // Addresses for the in-zone name server.
    assert_eq!(
        lines(&m.additionals),
        vec![
            a("ns1.example.org.", 3600, "A", "192.0.2.1"),
            a("ns1.example.org.", 3600, "AAAA", "2001:db8::1"),
        ]
    );
    let m = ask(&f, "example.org.", RecordType::TXT).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("example.org.", 3600, "TXT", "apex")]
    );
}

#[test]
fn apex_without_records_of_its_own() {
    // Only SOA and NS at the apex: they are kept out of the tree, so the
    // apex is found as an empty non-terminal (NOERROR) or, in an otherwise
    // empty zone, not at all (NXDOMAIN), as CoreDNS answers.
    let text = "$ORIGIN example.net.\n@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns.other.\n";
    let z = zone(text, "example.net.");
    let f = Rc::new(File::new(
        vec![Slot::new(
            Name::from_ascii("example.net.").unwrap(),
            "db".into(),
            z,
        )],
        Fallthrough::default(),
    ));
    let m = ask(&f, "example.net.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let z = zone(&format!("{text}www 60 IN A 192.0.2.1\n"), "example.net.");
    let f = Rc::new(File::new(
        vec![Slot::new(
            Name::from_ascii("example.net.").unwrap(),
            "db".into(),
            z,
        )],
        Fallthrough::default(),
    ));
    let m = ask(&f, "example.net.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.authorities.len(), 1);
}

#[test]
fn dnssec_types_are_served_as_plain_rrsets() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "example.org.", RecordType::DNSKEY).unwrap();
    assert_eq!(m.answers.len(), 1);
    assert_eq!(m.answers[0].record_type(), RecordType::DNSKEY);
    // The RRSIG over the SOA is kept out of the tree, as CoreDNS does.
    let m = ask(&f, "example.org.", RecordType::RRSIG).unwrap();
    assert!(m.answers.is_empty());
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
}

#[test]
fn dname_substitution() {
    let f = plugin(Fallthrough::default());
    let m = ask(&f, "Foo.dname.example.org.", RecordType::CNAME).unwrap();
    assert_eq!(m.answers.len(), 2);
    assert_eq!(m.answers[0].record_type(), RecordType::DNAME);
    assert_eq!(
        m.answers[1].to_string(),
        a(
            "foo.dname.example.org.",
            3600,
            "CNAME",
            "foo.wild.example.org."
        )
    );
    assert_eq!(lines(&m.authorities), apex_ns());
    // Other types follow the CNAME (here to the wildcard).
    let m = ask(&f, "foo.dname.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers[1..]),
        vec![
            a(
                "foo.dname.example.org.",
                3600,
                "CNAME",
                "foo.wild.example.org."
            ),
            a("foo.wild.example.org.", 3600, "A", "192.0.2.4"),
        ]
    );
    // A substitution to the same name is a loop: SERVFAIL.
    let o = done(&f, "x.self.example.org.", RecordType::A);
    assert!(o.reply.is_none());
    assert_eq!(o.rcode, ResponseCode::ServFail);
    // The DNAME owner itself is not substituted.
    let m = ask(&f, "dname.example.org.", RecordType::A).unwrap();
    assert!(m.answers.is_empty());
    assert_eq!(lines(&m.authorities), vec![SOA.to_string()]);
}

#[test]
fn outside_the_zones_goes_on() {
    let f = plugin(Fallthrough::default());
    assert!(matches!(
        f.query(&mut request("www.example.com.", RecordType::A)),
        Action::Next
    ));
    assert!(matches!(
        f.query(&mut request("org.", RecordType::A)),
        Action::Next
    ));
}

#[test]
fn transfers_are_refused() {
    let f = plugin(Fallthrough::default());
    let o = done(&f, "example.org.", RecordType::AXFR);
    assert!(o.reply.is_none());
    assert_eq!(o.rcode, ResponseCode::Refused);
}

#[test]
fn fallthrough() {
    let f = plugin(Fallthrough::from_args(&[]));
    // NXDOMAIN goes on...
    assert!(ask(&f, "nope.example.org.", RecordType::A).is_none());
    // ... and so does the empty non-terminal answer, as in CoreDNS.
    assert!(ask(&f, "ent.example.org.", RecordType::A).is_none());
    // NODATA and answers do not.
    assert!(ask(&f, "www.example.org.", RecordType::MX).is_some());
    assert!(ask(&f, "www.example.org.", RecordType::A).is_some());

    let f = plugin(Fallthrough::from_args(&["ent.example.org".into()]));
    assert!(ask(&f, "ent.example.org.", RecordType::A).is_none());
    let m = ask(&f, "nope.example.org.", RecordType::A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn unloaded_zone_is_servfail() {
    let name = Name::from_ascii("example.org.").unwrap();
    let f = Rc::new(File::new(
        vec![Slot::new(name.clone(), "db".into(), Zone::empty(&name))],
        Fallthrough::default(),
    ));
    let o = done(&f, "www.example.org.", RecordType::A);
    assert!(o.reply.is_none());
    assert_eq!(o.rcode, ResponseCode::ServFail);
}

#[test]
fn several_zones_and_cname_between_them() {
    let org = Name::from_ascii("example.org.").unwrap();
    let net = Name::from_ascii("example.net.").unwrap();
    let net_text =
        "$ORIGIN example.net.\n@ 60 IN SOA ns hm 9 2 3 4 5\nto 60 IN CNAME www.example.org.\n";
    let f = Rc::new(File::new(
        vec![
            Slot::new(org.clone(), "db.org".into(), zone(ZONE, "example.org.")),
            Slot::new(net.clone(), "db.net".into(), zone(net_text, "example.net.")),
        ],
        Fallthrough::default(),
    ));
    // The target is in another zone of the plugin: resolved as a new query
    // to the server would.
    let m = ask(&f, "to.example.net.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![
            a("to.example.net.", 60, "CNAME", "www.example.org."),
            a("www.example.org.", 3600, "A", "192.0.2.3"),
        ]
    );
    let m = ask(&f, "example.net.", RecordType::SOA).unwrap();
    assert_eq!(m.answers.len(), 1);
}

#[test]
fn zone_load_errors() {
    let o = Name::from_ascii("example.org.").unwrap();
    let e = Zone::parse("www 60 IN A 192.0.2.1\n", &o, Path::new("db"), -1)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "file \"db\" has no SOA record for origin example.org."
    );
    let e = Zone::parse(
        "@ 60 IN SOA ns hm 1 2 3 4 5\nwww 60 IN A x\n",
        &o,
        Path::new("db"),
        -1,
    )
    .err()
    .unwrap();
    assert!(
        e.to_string()
            .starts_with("failed to parse file \"db\" for origin example.org. with error "),
        "{e}"
    );
    // Reload with the serial already served.
    let e = Zone::parse("@ 60 IN SOA ns hm 1 2 3 4 5\n", &o, Path::new("db"), 1)
        .err()
        .unwrap();
    assert!(matches!(e, LoadError::NoChange { serial: 1, .. }));
    // CoreDNS's setup parses with serial 0: such zones do not load.
    let e = Zone::parse("@ 60 IN SOA ns hm 0 2 3 4 5\n", &o, Path::new("db"), 0)
        .err()
        .unwrap();
    assert_eq!(
        e.to_string(),
        "no change in SOA serial for origin example.org. in file db, with 0 SOA serial"
    );
}

#[test]
fn reload_picks_up_a_new_serial() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.example.org");
    let v1 = "$ORIGIN example.org.\n@ 60 IN SOA ns hm 1 2 3 4 5\nwww 60 IN A 192.0.2.1\n";
    std::fs::write(&path, v1).unwrap();
    let name = Name::from_ascii("example.org.").unwrap();
    let mut slot = Slot::new(name.clone(), path.clone(), zone(v1, "example.org."));
    slot.reload = Duration::from_millis(50);
    let f = Rc::new(File::new(vec![slot], Fallthrough::default()));
    let first = ask(&f, "www.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&first.answers),
        vec![a("www.example.org.", 60, "A", "192.0.2.1")]
    );

    // New data with the same serial is not picked up.
    std::fs::write(&path, v1.replace("192.0.2.1", "192.0.2.2")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let m = ask(&f, "www.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("www.example.org.", 60, "A", "192.0.2.1")]
    );

    // A broken file is logged and the old zone kept.
    std::fs::write(&path, "@ 60 IN SOA ns hm 5 2 3 4 5\nwww 60 IN A bogus\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(f.slots[0].data.load().serial(), Some(1));

    // A new serial is.
    std::fs::write(
        &path,
        v1.replace(" 1 2 3", " 2 2 3")
            .replace("192.0.2.1", "192.0.2.9"),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while f.slots[0].data.load().serial() != Some(2) {
        assert!(std::time::Instant::now() < deadline, "no reload");
        std::thread::sleep(Duration::from_millis(20));
    }
    let m = ask(&f, "www.example.org.", RecordType::A).unwrap();
    assert_eq!(
        lines(&m.answers),
        vec![a("www.example.org.", 60, "A", "192.0.2.9")]
    );
}

#[test]
fn reload_loads_a_file_that_appears_later() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let name = Name::from_ascii("example.org.").unwrap();
    let slot = Slot::new(name.clone(), path.clone(), Zone::empty(&name));
    reload::reload_once(&slot);
    assert_eq!(slot.data.load().serial(), None);
    std::fs::write(&path, "$ORIGIN example.org.\n@ 60 IN SOA ns hm 3 2 3 4 5\n").unwrap();
    reload::reload_once(&slot);
    assert_eq!(slot.data.load().serial(), Some(3));
}
