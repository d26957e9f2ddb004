//! Compile errors as CoreDNS 1.14.7 prints them (each text below is
//! CoreDNS's, less its `plugin/view: ` prefix), and values for queries.

use super::{Program, Value};
use crate::plugin::request::Metadata;
use crate::plugins::testutil::request;
use hickory_proto::op::Edns;
use hickory_proto::rr::RecordType;

fn refused(src: &str) -> String {
    Program::compile(src).expect_err(src).to_string()
}

#[test]
fn compile_errors_read_as_corednss() {
    for (src, want) in [
        ("foo == 1", "unknown name foo (1:1)\n | foo == 1\n | ^"),
        ("foo()", "unknown name foo (1:1)\n | foo()\n | ^"),
        (
            "name() == 1",
            "invalid operation: == (mismatched types string and int) (1:8)\n | name() == 1\n | .......^",
        ),
        (
            "name == 'x'",
            "invalid operation: == (mismatched types func() string and string) (1:6)\n | name == 'x'\n | .....^",
        ),
        ("name(1)", "too many arguments to call name (1:1)\n | name(1)\n | ^"),
        ("type(1)", "too many arguments to call type (1:1)\n | type(1)\n | ^"),
        (
            "incidr(client_ip())",
            "not enough arguments to call incidr (1:1)\n | incidr(client_ip())\n | ^",
        ),
        (
            "incidr(1, 'x')",
            "cannot use int as argument (type string) to call incidr  (1:8)\n | incidr(1, 'x')\n | .......^",
        ),
        ("'a", "literal not terminated (1:3)\n | 'a\n | ..^"),
        ("name() ==", "unexpected token EOF (1:9)\n | name() ==\n | ........^"),
        (
            "name() = 'a'",
            "unexpected token Operator(\"=\") (1:8)\n | name() = 'a'\n | .......^",
        ),
        (
            "not name()",
            "invalid operation: not (mismatched type string) (1:1)\n | not name()\n | ^",
        ),
        (
            "type() in 'A'",
            "invalid operation: in (mismatched types string and string) (1:8)\n | type() in 'A'\n | .......^",
        ),
        (
            "name() > 1",
            "invalid operation: > (mismatched types string and int) (1:8)\n | name() > 1\n | .......^",
        ),
        ("@", "unrecognized character: U+0040 '@' (1:1)\n | @\n | ^"),
        (
            "id() in ['A']",
            "cannot use int as type string in array (1:6)\n | id() in ['A']\n | .....^",
        ),
        ("1 +", "unexpected token EOF (1:3)\n | 1 +\n | ..^"),
        (
            "type() in ['A', 'AAAA'",
            "unexpected token EOF (1:22)\n | type() in ['A', 'AAAA'\n | .....................^",
        ),
        (
            "99999999999999999999",
            "invalid integer literal: strconv.ParseInt: parsing \"99999999999999999999\": value out of range (1:20)\n | 99999999999999999999\n | ...................^",
        ),
        ("1 % 0 == 1", "integer divide by zero (1:3)\n | 1 % 0 == 1\n | ..^"),
        (
            "1 ? 1 : 2",
            "non-bool expression (type int) used as condition (1:1)\n | 1 ? 1 : 2\n | ^",
        ),
        ("- name()", "invalid operation: - (mismatched type string) (1:1)\n | - name()\n | ^"),
        (
            "'a' + 1",
            "invalid operation: + (mismatched types string and int) (1:5)\n | 'a' + 1\n | ....^",
        ),
        (
            "name() startsWith 1",
            "invalid operation: startsWith (mismatched types string and int) (1:8)\n | name() startsWith 1\n | .......^",
        ),
        (
            "incidr(client_ip(), '127.0.0.0/8') and",
            "unexpected token EOF (1:38)\n | incidr(client_ip(), '127.0.0.0/8') and\n | .....................................^",
        ),
        ("", "unexpected token EOF"),
    ] {
        assert_eq!(refused(src), want, "{src}");
    }
}

#[test]
fn a_bad_regexp_is_refused_with_gos_prefix() {
    let e = refused("name() matches '['");
    assert!(e.starts_with("error parsing regexp: "), "{e}");
    assert!(
        e.ends_with(" (1:8)\n | name() matches '['\n | .......^"),
        "{e}"
    );
}

#[test]
fn what_expr_has_and_ferrodns_does_not_is_refused_clearly() {
    for (src, what) in [
        ("len(name()) > 3", "the builtin len"),
        ("name() | upper() == 'A'", "the builtin upper"),
        ("name().x", "member access (.)"),
        ("[1, 2][0] == 1", "indexing ([])"),
        ("{a: 1}", "maps"),
        ("let x = 1; x == 1", "variables (let)"),
        ("1..3", "ranges (..)"),
        ("name() ?? 'a'", "the ?? operator"),
        ("$env", "$env"),
        ("b'abc'", "bytes literals"),
        ("1; 2", "sequences (;)"),
    ] {
        let e = refused(src);
        assert!(
            e.starts_with(&format!("{what} is not supported by ferrodns (")),
            "{src}: {e}"
        );
    }
}

fn run(src: &str, req: &crate::plugin::Request) -> Value {
    let p = Program::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    p.run(req).unwrap_or_else(|_| panic!("{src}: fault"))
}

fn yes(src: &str, req: &crate::plugin::Request) -> bool {
    matches!(run(src, req), Value::Bool(true))
}

#[test]
fn the_environment_describes_the_query() {
    let mut req = request("WWW.Example.ORG.", RecordType::AAAA);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    edns.set_dnssec_ok(true);
    req.msg.edns = Some(edns);
    for src in [
        "name() == 'www.example.org.'",
        "type() == 'AAAA' && class() == 'IN'",
        "client_ip() == '192.0.2.1' && port() == '53000'",
        "server_ip() == '192.0.2.53' && server_port() == '53'",
        "proto() == 'udp'",
        "id() == 4242 && opcode() == 0",
        "do() and bufsize() == 1232",
        "size() == 29",
        "incidr(client_ip(), '192.0.2.0/24')",
        "not incidr(client_ip(), '127.0.0.0/8')",
        "client_ip() | incidr('192.0.0.0/8')",
        "name() matches '^www\\\\.example\\\\.org\\\\.$'",
        "name() not matches '^abc'",
        "name() endsWith '.org.' and name() startsWith 'www' and name() contains 'example'",
        "type() in ['A', 'AAAA']",
        "type() not in ['MX']",
        "metadata('view/name') == ''",
        "id() > 4000 and id() < 5000 and 1 < 2 < 3",
        "id() % 1000 == 242 && id() / 2 == 2121 && -id() < 0",
        "(type() == 'A' && name() == 'example.com.') || client_ip() == '192.0.2.1'",
        "true ? type() == 'AAAA' : false",
        "nil == nil && name() != nil",
        "`a``b` == \"a`b\" && 'x' + 'y' == 'xy'",
    ] {
        assert!(yes(src, &req), "{src}");
    }
    for src in [
        "type() == 'A'",
        "incidr(client_ip(), '2001:db8::/32')",
        "name() matches '^abc'",
        "proto() == 'tcp'",
    ] {
        assert!(!yes(src, &req), "{src}");
    }
}

#[test]
fn metadata_reads_what_the_block_collected() {
    let mut req = request("example.org.", RecordType::A);
    let mut md = Metadata::default();
    md.set("view/name", "inside".into());
    req.metadata = Some(md);
    assert!(yes("metadata('view/name') == 'inside'", &req));
    assert!(yes("metadata('nothing/here') == ''", &req));
}

#[test]
fn runtime_errors_are_faults_not_panics() {
    let req = request("example.org.", RecordType::A);
    for src in [
        "incidr('nonsense', '10.0.0.0/8')",
        "incidr(client_ip(), 'nonsense')",
        "name() matches ('[' + '')",
        "id() % 0 == 1",
        "!(true ? 1 : 'a')",
    ] {
        let p = Program::compile(src).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert!(p.run(&req).is_err(), "{src}");
    }
    // Values that are no boolean are what they are; the view counts them as "no".
    assert!(matches!(run("name()", &req), Value::Str(s) if s == "example.org."));
    assert!(matches!(
        run("false || (true ? 1 : 'a')", &req),
        Value::Int(1)
    ));
}

#[test]
fn arbitrary_text_is_refused_or_run_never_a_panic() {
    const PIECES: &[&str] = &[
        "name()",
        "type()",
        "incidr(",
        "client_ip()",
        "metadata(",
        "'",
        "\"",
        "`",
        "\\",
        "\\x4",
        "\\u{",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ",",
        ":",
        "?",
        "?.",
        "??",
        ".",
        "..",
        "#",
        "|",
        "!",
        "not",
        "in",
        "matches",
        "and",
        "||",
        "==",
        "<",
        ">=",
        "+",
        "-",
        "*",
        "/",
        "%",
        "**",
        "0",
        "1",
        "0x",
        "1e",
        "1.5",
        "_",
        "a",
        "len",
        "let",
        "if",
        "else",
        ";",
        " ",
        "é",
        "\n",
        "'a'",
        "'127.0.0.0/8'",
        "nil",
        "true",
        "$env",
        "b'",
        "/*",
        "//",
    ];
    let req = request("example.org.", RecordType::A);
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..20_000 {
        let n = next() % 12;
        let src: String = (0..n)
            .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
            .collect();
        if let Ok(p) = Program::compile(&src) {
            let _ = p.run(&req);
        }
    }
}
