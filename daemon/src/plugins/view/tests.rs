//! The directive's parsing (errors as CoreDNS words them), the filter and
//! the metadata it provides.

use super::setup;
use crate::plugin::request::Metadata;
use crate::plugin::{BlockSetup, Plugin};
use crate::plugins::testutil::{directive, request};
use hickory_proto::rr::RecordType;

fn view(text: &str) -> Result<super::View, String> {
    let d = directive(text);
    let mut b = BlockSetup::new(vec![".".into()]);
    setup(&mut b, &[&d]).map_err(|e| e.to_string())
}

#[test]
fn parses_name_and_expressions() {
    let v = view("view split {\n  expr incidr(client_ip(), '192.0.2.0/24')\n  expr type() in ['A', 'AAAA']\n}").unwrap();
    assert_eq!(v.view(), Some("split"));
    assert_eq!(v.programs.len(), 2);
    let req = request("example.org.", RecordType::A);
    assert!(v.filter(&req), "the client is 192.0.2.1");
    let req = request("example.org.", RecordType::MX);
    assert!(!v.filter(&req), "MX is neither A nor AAAA");
    // No expression: every query passes, and the block still has a view.
    let v = view("view any").unwrap();
    assert!(v.filter(&req));
    // What is no boolean, or fails while it runs, is a no.
    assert!(!view("view x {\n expr name()\n}").unwrap().filter(&req));
    assert!(!view("view x {\n expr incidr('x', '10.0.0.0/8')\n}")
        .unwrap()
        .filter(&req));
}

#[test]
fn errors_as_coredns_words_them() {
    for (text, want) in [
        ("view", "Corefile:1: Wrong argument count or unexpected line ending after 'view'"),
        ("view a b", "Corefile:1: Wrong argument count or unexpected line ending after 'b'"),
        ("view a {\n  foo 1\n}", "Corefile:2: unknown property 'foo'"),
        (
            "view a {\n  expr foo == 1\n}",
            "Corefile:2: unknown name foo (1:1)\n | foo == 1\n | ^",
        ),
        // Caddy's tokens, joined by one space: quotes are the Corefile's.
        (
            "view a {\n  expr name() ==   \"x y\"\n}",
            "Corefile:2: unexpected token Identifier(\"y\") (1:13)\n | name() == x y\n | ............^",
        ),
        ("view a {\n  expr\n}", "Corefile:2: unexpected token EOF"),
        // `#` starts a Corefile comment: nothing is left of the expression.
        ("view a {\n  expr # x\n}", "Corefile:2: unexpected token EOF"),
    ] {
        assert_eq!(view(text).err().as_deref(), Some(want), "{text}");
    }
    let d = directive("view a");
    let twice = [&d, &d];
    let e = setup(&mut BlockSetup::new(vec![".".into()]), &twice)
        .err()
        .unwrap();
    assert_eq!(e.msg, "this plugin can only be used once per Server Block");
}

#[test]
fn provides_its_name_as_metadata() {
    let v = view("view inside").unwrap();
    let req = request("example.org.", RecordType::A);
    let mut md = Metadata::default();
    v.metadata(&req, &mut md);
    assert_eq!(md.get("view/name"), Some("inside"));
}
