use super::*;
use crate::corefile::Directive;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

fn header(texts: &[&str]) -> Result<Header, crate::corefile::Error> {
    let mut b = BlockSetup::new(vec![".".into()]);
    let dirs: Vec<Directive> = texts.iter().map(|t| directive(t)).collect();
    let refs: Vec<&Directive> = dirs.iter().collect();
    setup(&mut b, &refs)
}

#[test]
fn parses_rules() {
    let h = header(&["header {\nresponse set ra aa\nRESPONSE Clear RD\nquery set rd\n}"]).unwrap();
    assert_eq!(
        h.response,
        [
            Rule {
                flag: Flag::Ra,
                state: true
            },
            Rule {
                flag: Flag::Aa,
                state: true
            },
            Rule {
                flag: Flag::Rd,
                state: false
            },
        ]
    );
    assert_eq!(
        h.query,
        [Rule {
            flag: Flag::Rd,
            state: true
        }]
    );
    // An empty first directive gives way to the next; later ones are ignored.
    let h = header(&[
        "header",
        "header {\nquery clear rd\n}",
        "header {\nbogus\n}",
    ])
    .unwrap();
    assert_eq!(
        h.query,
        [Rule {
            flag: Flag::Rd,
            state: false
        }]
    );
    assert!(h.response.is_empty());
}

#[test]
fn setup_errors() {
    let e = |t: &str| header(&[t]).err().expect("fails").to_string();
    assert_eq!(
        e("header {\nanswer set ra\n}"),
        "Corefile:2: setting up rule: invalid selector=answer should be query or response"
    );
    assert_eq!(
        e("header {\nresponse\n}"),
        "Corefile:2: setting up rule: no flag action provided"
    );
    assert_eq!(
        e("header {\nresponse set\n}"),
        "Corefile:2: setting up rule: invalid length for flags, at least one should be provided"
    );
    assert_eq!(
        e("header {\nresponse toggle ra\n}"),
        "Corefile:2: setting up rule: unknown flag action=toggle, should be set or clear"
    );
    assert_eq!(
        e("header {\nresponse set ad\n}"),
        "Corefile:2: setting up rule: unknown/unsupported flag=ad"
    );
    assert_eq!(
        e("header"),
        "Corefile:1: Wrong argument count or unexpected line ending after 'header'"
    );
}

#[test]
fn changes_queries_and_replies() {
    let h =
        header(&["header {\nquery clear rd\nresponse set ra aa\nresponse clear aa\n}"]).unwrap();
    let mut req = request("example.org.", RecordType::A);
    assert!(matches!(h.query(&mut req), Action::Watch));
    assert!(!req.msg.metadata.recursion_desired);
    let mut out = Outcome::reply(req.reply());
    h.response(&req, &mut out);
    let m = out.reply.unwrap();
    assert!(m.metadata.recursion_available);
    assert!(!m.metadata.authoritative);
    assert!(!m.metadata.recursion_desired);
    // Nothing written: nothing to change.
    let mut out = Outcome::rcode(ResponseCode::ServFail);
    h.response(&req, &mut out);
    assert!(out.reply.is_none());
    // Query rules only: no response phase.
    let h = header(&["header {\nquery set rd\n}"]).unwrap();
    assert!(matches!(h.query(&mut req), Action::Next));
    assert!(req.msg.metadata.recursion_desired);
}
