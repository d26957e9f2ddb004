use super::rules::ecs_data;
use super::setup::ttl_range;
use super::*;
use crate::plugin::PluginError;
use crate::plugins::testutil::request;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::rdata::{A, CNAME, MX};

use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

/// Every directive of `text` (one block's body) set up as one handler;
/// line numbers are those within `text`.
fn parse(text: &str) -> Result<Rewrite, crate::corefile::Error> {
    crate::plugins::testutil::set_up(setup, text)
}

fn err(text: &str) -> String {
    crate::plugins::testutil::setup_err(setup, text)
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(owner: &str, ttl: u32) -> Record {
    Record::from_rdata(name(owner), ttl, RData::A(A::new(192, 0, 2, 1)))
}

/// Runs `rw` on `req` as the chain does; `answer` plays the later plugins,
/// seeing the rewritten request.
fn run(rw: &Rewrite, req: &mut Request, answer: impl FnOnce(&Request) -> Outcome) -> Outcome {
    match rw.query(req) {
        Action::Done(o) => o,
        Action::Next | Action::Await | Action::Fork(_) | Action::Wrap => answer(req),
        Action::Watch => {
            let mut o = answer(req);
            rw.response(req, &mut o);
            o
        }
        Action::WatchAsync => {
            let mut o = answer(req);
            crate::plugins::testutil::now(rw.response_async(req, &mut o));
            o
        }
    }
}

/// A reply from the later plugins: `records` as answers.
fn reply_with(records: Vec<Record>) -> impl FnOnce(&Request) -> Outcome {
    move |req| {
        let mut m = req.reply();
        m.answers = records;
        Outcome::reply(m)
    }
}

fn answers(o: &Outcome) -> Vec<String> {
    o.reply
        .as_ref()
        .unwrap()
        .answers
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.ttl, r.data))
        .collect()
}

fn question(o: &Outcome) -> String {
    let q = &o.reply.as_ref().unwrap().queries[0];
    format!("{} {} {}", q.name(), q.query_class(), q.query_type())
}

#[test]
fn setup_forms() {
    assert_eq!(parse("rewrite name a.com b.com").unwrap().rules.len(), 1);
    let rw = parse("rewrite stop {\n name regex foo bar\n answer name bar foo\n}").unwrap();
    assert_eq!(rw.rules.len(), 1);
    assert!(parse("rewrite stop name regex foo bar answer name bar foo").is_ok());
    assert!(parse("rewrite continue type A AAAA").is_ok());
    assert!(parse("rewrite class CH IN").is_ok());
    assert!(parse("rewrite ttl example.com. 30-300").is_ok());
    assert!(parse("rewrite rcode regex (.*)\\.example\\.org SERVFAIL NOERROR").is_ok());
    assert!(parse("rewrite edns0 local set 0xffee 0x61626364").is_ok());
    assert!(parse("rewrite edns0 local set 0xffee {client_ip} revert").is_ok());
    assert!(parse("rewrite edns0 local set 0xffee {some-plugin/some-label}").is_ok());
    assert!(parse("rewrite edns0 subnet set 24 56").is_ok());
    assert!(parse("rewrite edns0 nsid unset").is_ok());
    assert_eq!(
        parse("rewrite edns0 local set 0xffee abcd")
            .unwrap()
            .local_codes,
        [0xffee]
    );
}

#[test]
fn setup_errors() {
    // CoreDNS's words; the position is the token the parse stopped at.
    assert_eq!(
        err("rewrite"),
        "Corefile:1: no rule type specified for rewrite"
    );
    assert_eq!(
        err("rewrite name"),
        "Corefile:1: too few arguments for a name rule"
    );
    assert_eq!(
        err("rewrite stop"),
        "Corefile:1: stop rule must begin with a rule type"
    );
    assert_eq!(
        err("rewrite continue"),
        "Corefile:1: continue rule must begin with a rule type"
    );
    assert_eq!(
        err("rewrite stop {\n name regex foo bar\n answer name bar foo\n name baz\n}"),
        "Corefile:5: name answer rule for regex rule: 2 arguments required"
    );
    assert_eq!(
        err("rewrite stop {\n answer name bar foo\n name regex foo bar\n}"),
        "Corefile:4: response rewrites must begin with a name rule"
    );
    assert!(err("rewrite stop name regex [bad[ bar answer name bar foo")
        .ends_with("invalid regex matching pattern: [bad["));
    assert!(err("rewrite name regex (.*) {1}.{2}").ends_with(
        "uses more subexpressions than its corresponding matching regex pattern ((.*))"
    ));
    assert!(err("rewrite name bogus a b").ends_with(
        "name rule supports only exact, prefix, suffix, substring, and regex name matching, received: bogus"
    ));
    assert!(err("rewrite name suffix a b c").ends_with("invalid arguments for suffix rule"));
    assert!(err("rewrite name suffix a b c d").ends_with(
        "exceeded the number of arguments for a non-answer rule argument for suffix rule"
    ));
    assert!(err("rewrite name suffix a b answer bogus")
        .ends_with("invalid type \"bogus\" for answer rule for suffix rule"));
    assert!(err("rewrite name regex a b answer auto answer name a b")
        .ends_with("auto name answer rule cannot be combined with explicit name anwer rules"));
    assert!(err("rewrite continue foo a b").ends_with("invalid rule type \"continue\""));
    assert!(err("rewrite foo a b").ends_with("invalid rule type \"foo\""));
    assert!(err("rewrite type A").ends_with("type rules must have exactly two arguments"));
    assert!(err("rewrite type A BOGUS").ends_with("invalid type \"BOGUS\""));
    assert!(err("rewrite class in xx").ends_with("invalid class \"XX\""));
    assert!(err("rewrite ttl a").ends_with("too few (1) arguments for a ttl rule"));
    assert!(err("rewrite ttl a -").ends_with("invalid TTL '-' for a ttl rule"));
    assert!(err("rewrite ttl a 30-10").ends_with("invalid TTL '30-10' for a ttl rule"));
    assert!(err("rewrite ttl a b c d").ends_with("invalid TTL '' for a ttl rule"));
    assert!(err("rewrite ttl bogus a 3").ends_with(
        "ttl rule supports only exact, prefix, suffix, substring, and regex name matching"
    ));
    assert!(err("rewrite ttl regex ( 3").ends_with("invalid regex pattern in a ttl rule: ("));
    assert!(err("rewrite rcode a 2").ends_with("too few (2) arguments for a rcode rule"));
    assert!(err("rewrite rcode a 24 0").ends_with("invalid matching RCODE '24' for a rcode rule"));
    assert!(err("rewrite rcode a 0 NOPE")
        .ends_with("invalid replacement RCODE 'NOPE' for a rcode rule"));
    assert!(err("rewrite edns0 local").ends_with("too few arguments for an EDNS0 rule"));
    assert!(err("rewrite edns0 local bogus 1 2").ends_with("invalid action: \"bogus\""));
    assert!(err("rewrite edns0 local set 0xffee")
        .ends_with("EDNS0 local rules require three or four args"));
    assert!(err("rewrite edns0 local set zz abcd")
        .ends_with("strconv.ParseUint: parsing \"zz\": invalid syntax"));
    assert!(err("rewrite edns0 local set 70000 abcd")
        .ends_with("strconv.ParseUint: parsing \"70000\": value out of range"));
    assert!(err("rewrite edns0 local set 0xffee 0x6z")
        .ends_with("encoding/hex: invalid byte: U+007A 'z'"));
    assert!(err("rewrite edns0 local set 0xffee 0x616")
        .ends_with("encoding/hex: odd length hex string"));
    assert!(err("rewrite edns0 local set 0xffee {bogus}")
        .ends_with("unsupported variable name \"{bogus}\""));
    assert!(err("rewrite edns0 local unset 0xffee revert")
        .ends_with("local unset action requires exactly two arguments"));
    assert!(err("rewrite edns0 nsid set x")
        .ends_with("EDNS0 NSID rules can accept no more than one arg"));
    assert!(err("rewrite edns0 subnet set 33 56").ends_with("invalid IPv4 bit mask length 33"));
    assert!(err("rewrite edns0 subnet set 24 129").ends_with("invalid IPv6 bit mask length 129"));
    assert!(err("rewrite edns0 bogus set").ends_with("invalid rule type \"bogus\""));
    assert!(err("rewrite cname a").ends_with("too few (1) arguments for a cname rule"));
    assert!(err("rewrite cname regex ( b").ends_with(
        "invalid cname rewrite regex pattern: error parsing regexp: missing closing ): `(`"
    ));
    assert!(err("rewrite cname bogus a b").ends_with("unknown cname rewrite type: bogus"));
    // The error sits at the failing occurrence.
    assert_eq!(
        err("rewrite name a b\nrewrite type A"),
        "Corefile:2: type rules must have exactly two arguments"
    );
}

#[test]
fn ttl_ranges() {
    assert_eq!(ttl_range("30-"), Some((30, 2147483647)));
    assert_eq!(ttl_range("-30"), Some((0, 30)));
    assert_eq!(ttl_range("15"), Some((15, 15)));
    assert_eq!(ttl_range("1-2-3"), None);
}

#[test]
fn exact_name_answers_with_the_original_name() {
    let rw = parse("rewrite name exact www.example.org. internal.example.net.").unwrap();
    let mut req = request("WWW.Example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.name, "internal.example.net.");
        reply_with(vec![a("internal.example.net.", 60)])(r)
    });
    assert_eq!(question(&o), "WWW.Example.org. IN A");
    // The reply's names go back to the lowercased name asked.
    assert_eq!(answers(&o), ["www.example.org. 60 192.0.2.1"]);
    // Not matching: untouched.
    let mut req = request("other.example.org.", RecordType::A);
    assert!(matches!(rw.query(&mut req), Action::Next));
}

#[test]
fn prefix_substring_and_auto() {
    // Prefixes are normalized to end in a dot, as CoreDNS does.
    let rw = parse("rewrite name prefix foo bar answer auto").unwrap();
    let mut req = request("foo.example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.name, "bar.example.org.");
        reply_with(vec![a("bar.example.org.", 5), a("x.bar.example.org.", 5)])(r)
    });
    assert_eq!(
        answers(&o),
        [
            "foo.example.org. 5 192.0.2.1",
            "x.foo.example.org. 5 192.0.2.1"
        ]
    );
    // Without `answer auto`, only the question is restored.
    let rw = parse("rewrite name substring service.example.org service.consul").unwrap();
    let mut req = request("ftp.service.example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.name, "ftp.service.consul.");
        reply_with(vec![a("ftp.service.consul.", 5)])(r)
    });
    assert_eq!(question(&o), "ftp.service.example.org. IN A");
    assert_eq!(answers(&o), ["ftp.service.consul. 5 192.0.2.1"]);
}

#[test]
fn suffix_auto_reverses_the_suffix() {
    let rw = parse("rewrite name suffix .schmoogle.com. .google.com. answer auto").unwrap();
    let mut req = request("www.schmoogle.com.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.name, "www.google.com.");
        let cname = Record::from_rdata(
            name("www.google.com."),
            9,
            RData::CNAME(CNAME(name("web.google.com."))),
        );
        reply_with(vec![cname, a("web.google.com.", 9)])(r)
    });
    assert_eq!(
        answers(&o),
        [
            "www.schmoogle.com. 9 web.schmoogle.com.",
            "web.schmoogle.com. 9 192.0.2.1"
        ]
    );
}

#[test]
fn regex_groups_and_answer_rules() {
    let rw = parse(
        "rewrite stop {\n name regex (.*)-(us-west-1)\\.example\\.org {1}.service.{2}.consul\n answer name (.*)\\.service\\.(us-west-1)\\.consul {1}-{2}.example.org\n answer value (.*)\\.mail\\.consul {1}.example.org\n}",
    )
    .unwrap();
    let mut req = request("ftp-us-west-1.example.org.", RecordType::MX);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.name, "ftp.service.us-west-1.consul.");
        let mx = Record::from_rdata(
            name("ftp.service.us-west-1.consul."),
            30,
            RData::MX(MX::new(10, name("mx1.mail.consul."))),
        );
        reply_with(vec![mx])(r)
    });
    assert_eq!(question(&o), "ftp-us-west-1.example.org. IN MX");
    assert_eq!(
        answers(&o),
        ["ftp-us-west-1.example.org. 30 10 mx1.example.org."]
    );
}

#[test]
fn invalid_name_after_rewrite_is_servfail() {
    let rw = parse("rewrite name regex (.*)\\.example\\.org {1}..bad").unwrap();
    let mut req = request("a.example.org.", RecordType::A);
    let o = run(&rw, &mut req, |_| panic!("not served"));
    assert_eq!(o.rcode, ResponseCode::ServFail);
    assert_eq!(
        o.error,
        Some(PluginError {
            plugin: "rewrite",
            message: "invalid name after rewrite: a..bad.".into()
        })
    );
    assert_eq!(req.name, "a.example.org.");
}

#[test]
fn type_and_class() {
    let rw = parse("rewrite type ANY HINFO").unwrap();
    let mut req = request("example.org.", RecordType::ANY);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.qtype(), RecordType::HINFO);
        reply_with(vec![])(r)
    });
    // A stop rule serves through the reverter: the question is restored.
    assert_eq!(question(&o), "example.org. IN ANY");

    // A continue rule that leaves no response rules does not revert.
    let rw = parse("rewrite continue type A AAAA").unwrap();
    let mut req = request("example.org.", RecordType::A);
    let o = run(&rw, &mut req, reply_with(vec![]));
    assert_eq!(question(&o), "example.org. IN AAAA");

    let rw = parse("rewrite class CH IN").unwrap();
    let mut req = request("example.org.", RecordType::TXT);
    req.msg.queries[0].set_query_class(DNSClass::CH);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.qclass(), DNSClass::IN);
        reply_with(vec![])(r)
    });
    assert_eq!(question(&o), "example.org. CH TXT");
}

#[test]
fn continue_and_stop() {
    // Both continue rules apply, in order; the stop rule after the first
    // matching stop rule is not reached.
    // Several occurrences feed one handler.
    let rw = parse(
        "rewrite continue name exact a.example.org. b.example.org.\nrewrite name exact b.example.org. c.example.org.\nrewrite name exact c.example.org. d.example.org.",
    )
    .unwrap();
    assert_eq!(rw.rules.len(), 3);
    let mut req = request("a.example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(r.name, "c.example.org.");
        reply_with(vec![a("c.example.org.", 1)])(r)
    });
    // Reverted last rule first: c -> b -> a.
    assert_eq!(answers(&o), ["a.example.org. 1 192.0.2.1"]);
    assert_eq!(question(&o), "a.example.org. IN A");
}

#[test]
fn ttl_rules() {
    let rw = parse("rewrite ttl regex (.*)\\.example\\.org 30-300").unwrap();
    let mut req = request("a.example.org.", RecordType::A);
    let o = run(
        &rw,
        &mut req,
        reply_with(vec![
            a("a.example.org.", 5),
            a("a.example.org.", 100),
            a("a.example.org.", 900),
        ]),
    );
    assert_eq!(
        answers(&o),
        [
            "a.example.org. 30 192.0.2.1",
            "a.example.org. 100 192.0.2.1",
            "a.example.org. 300 192.0.2.1"
        ]
    );
    let rw = parse("rewrite ttl example.org 15").unwrap();
    let mut req = request("example.org.", RecordType::A);
    let o = run(&rw, &mut req, reply_with(vec![a("example.org.", 3600)]));
    assert_eq!(answers(&o), ["example.org. 15 192.0.2.1"]);
    let mut req = request("www.example.org.", RecordType::A);
    assert!(matches!(rw.query(&mut req), Action::Next));
}

#[test]
fn rcode_rules() {
    // No records: the message-level rule runs once.
    let rw = parse("rewrite rcode example.org SERVFAIL NOERROR").unwrap();
    let mut req = request("example.org.", RecordType::AAAA);
    let o = run(&rw, &mut req, |_| Outcome::rcode(ResponseCode::ServFail));
    let m = o.reply.as_ref().unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(o.rcode, ResponseCode::NoError);
    // A written reply with records.
    let rw = parse("rewrite rcode suffix example.org 3 0").unwrap();
    let mut req = request("x.example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        let mut m = r.error_reply(ResponseCode::NXDomain);
        m.authorities.push(a("example.org.", 1));
        Outcome::reply(m)
    });
    assert_eq!(
        o.reply.unwrap().metadata.response_code,
        ResponseCode::NoError
    );
}

#[test]
fn extended_rcode_without_opt_is_not_sent() {
    let rw = parse("rewrite rcode example.org NXDOMAIN BADCOOKIE").unwrap();
    let mut req = request("example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        Outcome::reply(r.error_reply(ResponseCode::NXDomain))
    });
    assert!(o.reply.is_none());
    assert!(crate::plugin::client_write(o.rcode));
    // With EDNS the extended rcode goes out.
    let mut req = request("example.org.", RecordType::A);
    req.msg.edns = Some(Edns::new());
    let o = run(&rw, &mut req, |r| {
        Outcome::reply(r.error_reply(ResponseCode::NXDomain))
    });
    assert_eq!(u16::from(o.reply.unwrap().metadata.response_code), 23);
}

fn opt_data(e: &Edns, code: u16) -> Option<Vec<u8>> {
    e.options()
        .as_ref()
        .iter()
        .find(|(c, _)| u16::from(*c) == code)
        .map(|(_, o)| Vec::<u8>::try_from(o).unwrap())
}

#[test]
fn edns0_local() {
    let rw = parse("rewrite edns0 local set 0xffee 0x61626364").unwrap();
    let mut req = request("example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        let e = r.msg.edns.as_ref().unwrap();
        assert_eq!(e.max_payload(), 4096);
        assert_eq!(opt_data(e, 0xffee).unwrap(), b"abcd");
        reply_with(vec![])(r)
    });
    // The option code is supported: echoed in the reply.
    let e = o.reply.as_ref().unwrap().edns.as_ref().unwrap();
    assert_eq!(opt_data(e, 0xffee).unwrap(), b"abcd");

    // revert: the reply does not carry it.
    let rw = parse("rewrite edns0 local set 0xffee abcd revert").unwrap();
    let mut req = request("example.org.", RecordType::A);
    let o = run(&rw, &mut req, reply_with(vec![]));
    let e = o.reply.as_ref().unwrap().edns.as_ref().unwrap();
    assert_eq!(opt_data(e, 0xffee), None);

    // replace only changes an existing option; append adds one.
    let rw = parse("rewrite edns0 local replace 0xffee abcd").unwrap();
    let mut req = request("example.org.", RecordType::A);
    assert!(matches!(rw.query(&mut req), Action::Watch));
    assert_eq!(opt_data(req.msg.edns.as_ref().unwrap(), 0xffee), None);
    let rw = parse("rewrite edns0 local append 65001 x").unwrap();
    let mut req = request("example.org.", RecordType::A);
    rw.query(&mut req);
    rw.query(&mut req);
    let e = req.msg.edns.as_ref().unwrap();
    assert_eq!(e.options().as_ref().len(), 2);
    let rw = parse("rewrite edns0 local unset 65001").unwrap();
    rw.query(&mut req);
    assert!(req.msg.edns.as_ref().unwrap().options().as_ref().is_empty());
}

#[test]
fn edns0_local_revert_restores_previous_value() {
    let rw = parse(
        "rewrite continue {\n edns0 local set 0xffee abcd\n}\nrewrite edns0 local replace 0xffee bcde revert",
    )
    .unwrap();
    let mut req = request("example.org.", RecordType::A);
    let o = run(&rw, &mut req, |r| {
        assert_eq!(
            opt_data(r.msg.edns.as_ref().unwrap(), 0xffee).unwrap(),
            b"bcde"
        );
        reply_with(vec![])(r)
    });
    let e = o.reply.as_ref().unwrap().edns.as_ref().unwrap();
    assert_eq!(opt_data(e, 0xffee).unwrap(), b"abcd");
}

#[test]
fn edns0_variables() {
    let rw = parse(
        "rewrite continue edns0 local set 0xffe1 {client_ip}\nrewrite continue edns0 local set 0xffe2 {client_port}\nrewrite continue edns0 local set 0xffe3 {protocol}\nrewrite continue edns0 local set 0xffe4 {qname}\nrewrite continue edns0 local set 0xffe5 {qtype}\nrewrite continue edns0 local set 0xffe6 {server_port}\nrewrite edns0 local set 0xffe7 {a/b}",
    )
    .unwrap();
    let mut req = request("Example.org.", RecordType::MX);
    rw.query(&mut req);
    let e = req.msg.edns.as_ref().unwrap();
    assert_eq!(opt_data(e, 0xffe1).unwrap(), [192, 0, 2, 1]);
    assert_eq!(opt_data(e, 0xffe2).unwrap(), 53000u16.to_be_bytes());
    assert_eq!(opt_data(e, 0xffe3).unwrap(), b"udp");
    assert_eq!(opt_data(e, 0xffe4).unwrap(), b"Example.org.");
    assert_eq!(opt_data(e, 0xffe5).unwrap(), [0, 15]);
    assert_eq!(opt_data(e, 0xffe6).unwrap(), [0, 53]);
    // No metadata in ferrodns: the label rule does nothing.
    assert_eq!(opt_data(e, 0xffe7), None);
}

#[test]
fn edns0_nsid_and_subnet() {
    let rw = parse("rewrite edns0 nsid set").unwrap();
    let mut req = request("example.org.", RecordType::A);
    rw.query(&mut req);
    let e = req.msg.edns.as_ref().unwrap();
    assert_eq!(opt_data(e, 3).unwrap(), b"");

    let rw = parse("rewrite edns0 subnet set 24 56").unwrap();
    let mut req = request("example.org.", RecordType::A);
    rw.query(&mut req);
    let e = req.msg.edns.as_ref().unwrap();
    assert_eq!(opt_data(e, 8).unwrap(), [0, 1, 24, 0, 192, 0, 2]);
    assert_eq!(
        ecs_data("2001:db8:1:2::1".parse().unwrap(), 24, 56),
        [0, 2, 56, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0]
    );
    assert_eq!(
        ecs_data("10.1.2.3".parse().unwrap(), 20, 0),
        [0, 1, 20, 0, 10, 1, 0]
    );
    // append leaves an existing subnet option alone.
    let rw = parse("rewrite edns0 subnet append 16 56").unwrap();
    rw.query(&mut req);
    let e = req.msg.edns.as_ref().unwrap();
    assert_eq!(opt_data(e, 8).unwrap(), [0, 1, 24, 0, 192, 0, 2]);
    let rw = parse("rewrite edns0 subnet unset").unwrap();
    rw.query(&mut req);
    assert_eq!(opt_data(req.msg.edns.as_ref().unwrap(), 8), None);
}

#[test]
fn client_options_echoed_only_when_supported() {
    let rw = parse("rewrite name exact a.example.org. b.example.org.").unwrap();
    let mut req = request("a.example.org.", RecordType::A);
    let mut e = Edns::new();
    e.set_max_payload(1400);
    e.options_mut().insert(EdnsOption::Unknown(10, vec![1; 8]));
    e.options_mut().insert(EdnsOption::Unknown(65001, vec![2]));
    req.msg.edns = Some(e);
    let o = run(&rw, &mut req, reply_with(vec![]));
    let e = o.reply.as_ref().unwrap().edns.as_ref().unwrap();
    assert_eq!(e.max_payload(), 1400);
    assert!(e.option(EdnsCode::Cookie).is_some());
    assert!(e.option(EdnsCode::Unknown(65001)).is_none());
}

#[test]
fn presentation_text_keeps_case() {
    assert_eq!(
        crate::plugin::names::text(&name("WWW.Example.org.")),
        "WWW.Example.org."
    );
    assert_eq!(crate::plugin::names::text(&Name::root()), ".");
}

#[test]
fn cname_rules_match_targets_as_coredns() {
    let rule = |text: &str| match parse(text).unwrap().rules.remove(0).kind {
        Kind::Cname(c) => c,
        _ => panic!("not a cname rule"),
    };
    let exact = rule("rewrite cname Cdn.Example.net other.example.com");
    assert_eq!(
        exact.rewrite("cdn.example.net.").as_deref(),
        Some("other.example.com.")
    );
    // Targets are compared as the record writes them.
    assert_eq!(exact.rewrite("CDN.example.net."), None);
    let re = rule("rewrite cname regex (.*).cdn.example.net. {1}.other.cdn.com.");
    assert_eq!(
        re.rewrite("my-app.com.cdn.example.net.").as_deref(),
        Some("my-app.com.other.cdn.com.")
    );
    assert_eq!(re.rewrite("my-app.example."), None);
    let pre = rule("rewrite cname prefix www. web.");
    assert_eq!(pre.rewrite("www.a.org.").as_deref(), Some("web.a.org."));
    let suf = rule("rewrite cname suffix .a.org. .b.org.");
    assert_eq!(suf.rewrite("x.a.org.").as_deref(), Some("x.b.org."));
    let sub = rule("rewrite cname substring cdn edge");
    assert_eq!(sub.rewrite("x.cdn.cdn.").as_deref(), Some("x.edge.edge."));
}
