//! Internal lookups (CoreDNS's `upstream.Lookup`): plugins asking the
//! server a question of their own, routed by its name to another block's
//! chain on the same worker: `file` following a CNAME out of its zone,
//! `template` following the CNAME it answers, `rewrite`'s `cname` rules;
//! loops ending at the depth limits, and a cache in the loop not waiting on
//! the query it is nested in.

use super::ask;
use crate::server::Dispatcher;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::sync::Arc;

const ORG: &str = "$ORIGIN example.org.
@     60 IN SOA ns.example.org. hm.example.org. 1 7200 3600 1209600 300
@     60 IN NS  ns.example.org.
ns    60 IN A   198.18.0.53
ext   60 IN CNAME www.other.net.
back  60 IN CNAME a.loop.net.
lost  60 IN CNAME www.nowhere.
";

const LOOP: &str = "$ORIGIN loop.net.
@     60 IN SOA ns.loop.net. hm.loop.net. 1 7200 3600 1209600 300
a     60 IN CNAME back.example.org.
";

fn dispatcher() -> (Dispatcher, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("db.example.org"), ORG).unwrap();
    std::fs::write(dir.path().join("db.loop.net"), LOOP).unwrap();
    let corefile = format!(
        r#"example.org {{
    root {root}
    file db.example.org
}}
loop.net {{
    root {root}
    file db.loop.net
}}
other.net {{
    template IN A other.net {{
        answer "{{{{ .Name }}}} 60 IN A 198.18.0.7"
    }}
}}
tpl.test {{
    cache
    template IN A tpl.test {{
        match "^self\."
        answer "{{{{ .Name }}}} 60 IN CNAME {{{{ .Name }}}}"
        fallthrough
    }}
    template IN A tpl.test {{
        match "^to\."
        answer "{{{{ .Name }}}} 60 IN CNAME www.other.net."
    }}
}}
rw.test {{
    rewrite cname suffix .old.net. .other.net.
    template IN A rw.test {{
        answer "{{{{ .Name }}}} 60 IN CNAME x.old.net."
    }}
}}
"#,
        root = dir.path().display()
    );
    let config =
        crate::server::load(&corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
    (Dispatcher::new(Arc::new(config), 0, 1, true), dir)
}

fn answers(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.to_string()).collect()
}

#[test]
fn file_follows_a_cname_out_of_its_zone_through_the_server() {
    let (mut d, _dir) = dispatcher();
    let m = ask(&mut d, "ext.example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert_eq!(
        answers(&m),
        [
            "ext.example.org. 60 IN CNAME www.other.net.",
            "www.other.net. 60 IN A 198.18.0.7"
        ]
    );
    // The authority of a positive answer: the zone's NS.
    assert_eq!(m.authorities.len(), 1);
    // A target no zone of the server holds: the server refuses it, and
    // the CNAME alone is the answer.
    let m = ask(&mut d, "lost.example.org.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answers(&m), ["lost.example.org. 60 IN CNAME www.nowhere."]);
}

#[test]
fn a_cname_loop_between_zones_ends_in_servfail() {
    let (mut d, _dir) = dispatcher();
    let m = ask(&mut d, "back.example.org.", RecordType::A);
    // CoreDNS's loop count: the ninth nested lookup fails, and the
    // CNAMEs found until then come back with SERVFAIL.
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(m.answers.len(), 9, "{:?}", answers(&m));
    assert_eq!(
        answers(&m)[..2],
        [
            "back.example.org. 60 IN CNAME a.loop.net.",
            "a.loop.net. 60 IN CNAME back.example.org."
        ]
    );
}

#[test]
fn template_follows_its_cname_and_a_self_loop_ends() {
    let (mut d, _dir) = dispatcher();
    let m = ask(&mut d, "to.tpl.test.", RecordType::A);
    assert_eq!(
        answers(&m),
        [
            "to.tpl.test. 60 IN CNAME www.other.net.",
            "www.other.net. 60 IN A 198.18.0.7"
        ]
    );
    // A CNAME to itself: each answer asks again until the depth limit
    // refuses the lookup; the cache before the template does not wait on
    // the fill of the query it is nested in (the reply comes at once).
    let m = ask(&mut d, "self.tpl.test.", RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        m.answers.len(),
        usize::from(crate::plugin::request::MAX_DEPTH) + 1
    );
}

#[test]
fn rewrite_cname_rule_looks_the_new_target_up() {
    let (mut d, _dir) = dispatcher();
    let m = ask(&mut d, "x.rw.test.", RecordType::A);
    assert_eq!(m.queries[0].name().to_ascii(), "x.rw.test.");
    assert_eq!(
        answers(&m),
        [
            "x.rw.test. 60 IN CNAME x.other.net.",
            "x.other.net. 60 IN A 198.18.0.7"
        ]
    );
}
