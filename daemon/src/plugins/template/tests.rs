use super::*;
use crate::corefile::Directive;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, RecordType};

fn template(texts: &[&str]) -> Result<Template, crate::corefile::Error> {
    let mut b = BlockSetup::new(vec![".".into()]);
    let dirs: Vec<Directive> = texts.iter().map(|t| directive(t)).collect();
    let refs: Vec<&Directive> = dirs.iter().collect();
    setup(&mut b, &refs)
}

fn err(text: &str) -> String {
    template(&[text]).err().expect("setup fails").to_string()
}

fn lines(rrs: &[Record]) -> Vec<String> {
    rrs.iter()
        .map(|r| {
            format!(
                "{} {} {} {} {}",
                r.name,
                r.ttl,
                r.dns_class,
                r.record_type(),
                r.data
            )
        })
        .collect()
}

fn ask(t: &Template, name: &str, qtype: RecordType) -> Action {
    let mut req = request(name, qtype);
    t.query(&mut req)
}

fn reply(a: Action) -> hickory_proto::op::Message {
    match a {
        Action::Done(o) => o.reply.expect("a written reply"),
        _ => panic!("no reply"),
    }
}

const IP_A: &str = "template IN A example {\nmatch (^|[.])ip-(?P<a>[0-9]*)-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$\nanswer \"{{ .Name }} 60 IN A {{ .Group.a }}.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}\"\nfallthrough\n}";
const IP_PTR: &str = "template IN PTR in-addr.arpa {\nmatch ^(?P<d>[0-9]*)[.](?P<c>[0-9]*)[.](?P<b>[0-9]*)[.](?P<a>[0-9]*)[.]in-addr[.]arpa[.]$\nanswer \"{{ .Name }} 60 IN PTR ip-{{ .Group.a }}-{{ .Group.b }}-{{ .Group.c }}-{{ .Group.d }}.example.\"\n}";

#[test]
fn setup_forms() {
    let t = template(&[IP_A, IP_PTR]).unwrap();
    assert_eq!(t.zones, ["example.", "in-addr.arpa."]);
    assert_eq!(t.templates.len(), 2);
    assert_eq!(t.templates[0].qtype, 1);
    let t = template(&["template ANY ANY {\nrcode NXDOMAIN\n}"]).unwrap();
    assert_eq!(t.zones, ["."]);
    assert_eq!(t.templates[0].rcode, 3);
    assert_eq!(t.templates[0].regex[0].as_str(), ".*");
    let t = template(&["template CH TXT {\nederror 21 \"Blocked\"\nupstream 8.8.8.8\n}"]).unwrap();
    assert_eq!(t.templates[0].ederror, Some((21, "Blocked".into())));
}

#[test]
fn setup_errors() {
    assert_eq!(
        err("template"),
        "Corefile:1: Wrong argument count or unexpected line ending after 'template'"
    );
    assert_eq!(
        err("template IN"),
        "Corefile:1: Wrong argument count or unexpected line ending after 'IN'"
    );
    assert_eq!(err("template in A"), "Corefile:1: invalid query class in");
    assert_eq!(
        err("template IN BOGUS"),
        "Corefile:1: invalid RR class BOGUS"
    );
    assert_eq!(
        err("template IN A {\nmatch\n}"),
        "Corefile:2: Wrong argument count or unexpected line ending after 'match'"
    );
    assert_eq!(
        err("template IN A {\nmatch (abc\n}"),
        "Corefile:2: could not parse regex: (abc, error parsing regexp: missing closing ): `(abc`"
    );
    let long = format!("template IN A {{\nmatch {}\n}}", "a".repeat(10001));
    assert_eq!(
        err(&long),
        "Corefile:2: regex pattern too long: 10001 > 10000"
    );
    assert_eq!(
        err("template IN A {\nanswer \"{{ .Name \" x\n}"),
        "Corefile:2: could not compile template: x, template: answer:1: unclosed action"
    );
    assert_eq!(
        err("template IN A {\nrcode nxdomain\n}"),
        "Corefile:2: unknown rcode nxdomain"
    );
    assert_eq!(
        err("template IN A {\nrcode\n}"),
        "Corefile:2: Wrong argument count or unexpected line ending after 'rcode'"
    );
    // The rest of an rcode line is read as the next property.
    assert_eq!(
        err("template IN A {\nrcode NXDOMAIN extra\n}"),
        "Corefile:2: Wrong argument count or unexpected line ending after 'extra'"
    );
    assert_eq!(
        err("template IN A {\nederror 70000\n}"),
        "Corefile:2: error parsing extended DNS error code 70000, strconv.ParseUint: parsing \"70000\": value out of range"
    );
    assert_eq!(
        err("template IN A {\nederror 1 a b\n}"),
        "Corefile:2: Wrong argument count or unexpected line ending after 'b'"
    );
    assert_eq!(
        err("template IN A {\nbogus\n}"),
        "Corefile:2: Wrong argument count or unexpected line ending after 'bogus'"
    );
}

#[test]
fn answers_from_regex_groups() {
    let t = template(&[IP_A, IP_PTR]).unwrap();
    let m = reply(ask(&t, "IP-10-1-2-3.example.", RecordType::A));
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(lines(&m.answers), ["ip-10-1-2-3.example. 60 IN A 10.1.2.3"]);
    // A subdomain matches too (the regex is not anchored at the start).
    let m = reply(ask(&t, "www.ip-10-1-2-3.example.", RecordType::A));
    assert_eq!(
        lines(&m.answers),
        ["www.ip-10-1-2-3.example. 60 IN A 10.1.2.3"]
    );
    let m = reply(ask(&t, "3.2.1.10.in-addr.arpa.", RecordType::PTR));
    assert_eq!(
        lines(&m.answers),
        ["3.2.1.10.in-addr.arpa. 60 IN PTR ip-10-1-2-3.example."]
    );
    // Not matching the A template's regex: fallthrough to the PTR template,
    // whose zone does not match either: on to the next plugin.
    assert!(matches!(
        ask(&t, "other.example.", RecordType::A),
        Action::Next
    ));
    // Another type: the A template passes; next plugin.
    assert!(matches!(
        ask(&t, "ip-10-1-2-3.example.", RecordType::MX),
        Action::Next
    ));
    // Outside every zone.
    assert!(matches!(
        ask(&t, "example.org.", RecordType::A),
        Action::Next
    ));
    // The PTR template has no fallthrough: SERVFAIL.
    match ask(&t, "x.in-addr.arpa.", RecordType::PTR) {
        Action::Done(o) => {
            assert!(o.reply.is_none());
            assert_eq!(o.rcode, ResponseCode::ServFail);
        }
        _ => panic!("servfail expected"),
    }
}

#[test]
fn nxdomain_with_soa_and_ede() {
    let t = template(&["template ANY ANY invalid {\nrcode NXDOMAIN\nauthority \"invalid. 60 {{ .Class }} SOA ns.invalid. hostmaster.invalid. (1 60 60 60 60)\"\nederror 21 \"Blocked according to RFC2606\"\n}"]).unwrap();
    let m = reply(ask(&t, "foo.invalid.", RecordType::AAAA));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    assert_eq!(
        lines(&m.authorities),
        ["invalid. 60 IN SOA ns.invalid. hostmaster.invalid. 1 60 60 60 60"]
    );
    let e = m.edns.expect("opt");
    assert_eq!(e.max_payload(), 4096);
    assert!(e.flags().dnssec_ok);
    let Some(EdnsOption::Unknown(15, data)) = e.options().get(EdnsCode::from(15)) else {
        panic!("no EDE")
    };
    assert_eq!(&data[..2], &21u16.to_be_bytes());
    assert_eq!(&data[2..], b"Blocked according to RFC2606");
    // CH class queries match an ANY template; .Class is then CH.
    let mut req = request("foo.invalid.", RecordType::TXT);
    req.msg.queries[0].set_query_class(DNSClass::CH);
    let m = reply(t.query(&mut req));
    assert_eq!(lines(&m.authorities)[0].split(' ').nth(2), Some("CH"));
}

#[test]
fn sections_defaults_and_data() {
    let t = template(&["template IN MX example {\nmatch ^ip-10-(?P<b>[0-9]*)-(?P<c>[0-9]*)-(?P<d>[0-9]*)[.]example[.]$\nanswer \"{{ .Name }} 60 IN MX 10 {{ .Name }}\"\nadditional \"{{ .Name }} IN A 10.{{ .Group.b }}.{{ .Group.c }}.{{ .Group.d }}\"\nauthority \"example. 60 IN NS ns0.example.\" \"example. 60 IN NS ns1\"\nanswer \"{{ .Name }} 5 TXT \\\"{{ .Type }} {{ .Zone }} {{ .Remote }} {{ index .Match 2 }}\\\"\"\n}"]).unwrap();
    let m = reply(ask(&t, "ip-10-0-0-1.example.", RecordType::MX));
    assert_eq!(
        lines(&m.answers),
        [
            "ip-10-0-0-1.example. 60 IN MX 10 ip-10-0-0-1.example.",
            "ip-10-0-0-1.example. 5 IN TXT MX example. 192.0.2.1 0"
        ]
    );
    // No TTL: 3600; relative names complete with the root.
    assert_eq!(
        lines(&m.additionals),
        ["ip-10-0-0-1.example. 3600 IN A 10.0.0.1"]
    );
    assert_eq!(
        lines(&m.authorities),
        ["example. 60 IN NS ns0.example.", "example. 60 IN NS ns1."]
    );
}

#[test]
fn bad_output_is_servfail_with_an_error() {
    let t = template(&[
        "template IN A {\nanswer \"{{ .Name }} 60 IN A {{ index .Match 3 }}\"\n}",
        "template IN AAAA {\nanswer \"{{ .Name }} 60 IN AAAA not-an-address\"\n}",
        "template IN TXT {\nanswer \"$INCLUDE /etc/passwd\"\n}",
    ])
    .unwrap();
    for qt in [RecordType::A, RecordType::AAAA, RecordType::TXT] {
        match ask(&t, "a.example.", qt) {
            Action::Done(o) => {
                assert!(o.reply.is_none());
                assert_eq!(o.rcode, ResponseCode::ServFail);
                assert_eq!(o.error.unwrap().plugin, "template");
            }
            _ => panic!("servfail expected"),
        }
    }
}

#[test]
fn servfail_rcode_is_not_written() {
    let t = template(&["template IN A {\nrcode SERVFAIL\nanswer \"a. A 1.2.3.4\"\n}"]).unwrap();
    match ask(&t, "a.", RecordType::A) {
        Action::Done(o) => assert!(o.reply.is_none() && o.rcode == ResponseCode::ServFail),
        _ => panic!(),
    }
    let t = template(&["template IN A {\nrcode REFUSED\n}"]).unwrap();
    assert_eq!(
        reply(ask(&t, "a.", RecordType::A)).metadata.response_code,
        ResponseCode::Refused
    );
}

#[test]
fn fallthrough_zones() {
    let t = template(&[
        "template IN A example {\nmatch ^a[.]\nanswer \"{{ .Name }} A 10.0.0.1\"\nfallthrough sub.example\n}",
        "template IN A example {\nanswer \"{{ .Name }} A 10.0.0.2\"\n}",
    ])
    .unwrap();
    assert_eq!(
        lines(&reply(ask(&t, "a.example.", RecordType::A)).answers),
        ["a.example. 3600 IN A 10.0.0.1"]
    );
    // Under the fallthrough zone: the second template answers.
    assert_eq!(
        lines(&reply(ask(&t, "b.sub.example.", RecordType::A)).answers),
        ["b.sub.example. 3600 IN A 10.0.0.2"]
    );
    // Elsewhere: SERVFAIL from the first template.
    match ask(&t, "b.example.", RecordType::A) {
        Action::Done(o) => assert_eq!(o.rcode, ResponseCode::ServFail),
        _ => panic!(),
    }
}

#[test]
fn rr_parsing() {
    assert_eq!(
        lines(&[parse_rr("foogle.com 60 IN CNAME google.com").unwrap()]),
        ["foogle.com. 60 IN CNAME google.com."]
    );
    assert_eq!(
        lines(&[parse_rr("_sip._tcp.example. 60 SRV 10 20 5060 sip.example.").unwrap()]),
        ["_sip._tcp.example. 60 IN SRV 10 20 5060 sip.example."]
    );
    assert!(parse_rr("").is_err());
    assert!(parse_rr("a. 60 IN A 1.2.3.4\nb. 60 IN A 1.2.3.5").is_err());
}

/// CoreDNS's template metrics: matches, template failures and records the
/// text of which is no record, labelled with the section and the
/// template's text as its parse tree prints it.
#[test]
fn matches_and_failures_are_counted() {
    let t = template(&[
        "template IN A metrics.test {\nmatch ^ok[.]\nanswer \"{{ .Name }} 60 IN A 192.0.2.1\"\nfallthrough\n}",
        "template IN A metrics.test {\nmatch ^exec[.]\nanswer \"{{ index .Match 9 }}\"\nfallthrough\n}",
        "template IN A metrics.test {\nmatch ^rr[.]\nadditional \"{{ .Name }} 60 IN A bogus\"\n}",
    ])
    .unwrap();
    // One worker for every query: its metrics live as long as it does.
    let worker = std::rc::Rc::new(crate::plugin::Worker::new(0, 1));
    let ask = |name: &str| {
        let mut req = request(name, RecordType::A);
        req.server = "dns://:64065".into();
        req.worker = std::rc::Rc::clone(&worker);
        t.query(&mut req)
    };
    let render = crate::metrics::render;
    let matched = "coredns_template_matches_total{server=\"dns://:64065\",zone=\"metrics.test.\",view=\"\",class=\"IN\",type=\"A\"}";
    assert!(!render().contains(matched));
    reply(ask("ok.metrics.test."));
    assert!(render().contains(&format!("{matched} 1\n")), "{}", render());
    assert!(matches!(ask("exec.metrics.test."), Action::Done(o) if o.reply.is_none()));
    assert!(render().contains(
        "coredns_template_template_failures_total{server=\"dns://:64065\",zone=\"metrics.test.\",view=\"\",class=\"IN\",type=\"A\",section=\"answer\",template=\"{{index .Match 9}}\"} 1\n"
    ), "{}", render());
    assert!(matches!(ask("rr.metrics.test."), Action::Done(o) if o.reply.is_none()));
    assert!(render().contains(
        "coredns_template_rr_failures_total{server=\"dns://:64065\",zone=\"metrics.test.\",view=\"\",class=\"IN\",type=\"A\",section=\"additional\",template=\"{{.Name}} 60 IN A bogus\"} 1\n"
    ), "{}", render());
    assert!(render().contains(&format!("{matched} 3\n")));
}
