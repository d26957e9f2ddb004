//! The engine against Go's text/template: `testdata/cases.txt` holds
//! templates with the output or error Go gives for them on `data()` (run
//! `testdata/gen` to refresh it); the tests below pick constructs out for
//! a closer look.

use super::*;
use std::collections::BTreeMap;

/// The data of `testdata/gen/main.go`: an A query for
/// `IP-10-1-2-3.Example.` (ID 4242, RD) matched by its regex in
/// `example.`, from 192.0.2.1.
fn data() -> Data {
    data_with(false)
}

/// The same, with `edns`: an OPT record (1232 bytes, DO) with options.
fn data_with(edns: bool) -> Data {
    let matches: Vec<String> = ["ip-10-1-2-3.example.", "10", "1", "2", "3", "example"]
        .map(String::from)
        .to_vec();
    let mut group = BTreeMap::new();
    for (i, m) in matches.iter().enumerate() {
        group.insert(i.to_string(), m.clone());
    }
    group.insert("a".into(), "10".into());
    group.insert("b".into(), "1".into());
    group.insert("d".into(), "3".into());
    let question = Question {
        name: "IP-10-1-2-3.Example.".into(),
        qtype: 1,
        qclass: 1,
    };
    Data {
        zone: "example.".into(),
        name: "ip-10-1-2-3.example.".into(),
        regex: "^ip-(?P<a>[0-9]+)-(?P<b>[0-9]+)-([0-9]+)-(?P<d>[0-9]+)[.](example)[.]$".into(),
        matches,
        group,
        class: "IN".into(),
        qtype: "A".into(),
        remote: "192.0.2.1".into(),
        question: question.clone(),
        message: MessageData {
            id: 4242,
            recursion_desired: true,
            question: vec![question],
            opt: edns.then(|| Opt {
                udp_size: 1232,
                ttl: 0x8000,
                options: vec![
                    (10, vec![1, 2, 3, 4, 5, 6, 7, 8]),
                    (3, vec![]),
                    (65001, b"ab".to_vec()),
                    (8, vec![0, 1, 24, 0, 192, 0, 2]),
                    (12, vec![0; 4]),
                    (11, vec![]),
                    (15, vec![0, 15, b'n', b'o']),
                ],
            }),
            ..MessageData::default()
        },
        meta: None,
    }
}

/// What Go gives for a template: `ok` and the output, or `parse`/`exec`
/// and the error.
fn run_kind(t: &str) -> (&'static str, String) {
    run_on(t, &data())
}

fn run_on(t: &str, data: &Data) -> (&'static str, String) {
    match Template::parse("answer", t) {
        Err(e) => ("parse", e.to_string()),
        Ok(t) => match t.execute(data) {
            Ok(out) => ("ok", out),
            Err(e) => ("exec", e.to_string()),
        },
    }
}

fn run(t: &str) -> String {
    match run_kind(t) {
        ("ok", out) => out,
        (kind, e) => panic!("{t:?}: {kind}: {e}"),
    }
}

fn err(t: &str) -> String {
    match run_kind(t) {
        ("ok", out) => panic!("{t:?}: no error, {out:?}"),
        (_, e) => e,
    }
}

fn unquote(s: &str) -> String {
    literal::unquote(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// Every case of `testdata/cases.txt` gives Go's output or error.
#[test]
fn go_cases() {
    let cases = include_str!("testdata/cases.txt");
    let mut failures = Vec::new();
    let mut n = 0;
    let mut known = false;
    let (plain, edns) = (data(), data_with(true));
    let mut data = &plain;
    for (i, line) in cases.lines().enumerate() {
        if let Some(d) = line.strip_prefix("# data: ") {
            data = if d == "edns" { &edns } else { &plain };
        }
        if line.starts_with("# known:") {
            known = true;
            continue;
        }
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split('\t');
        let (Some(t), Some(kind), Some(want)) = (parts.next(), parts.next(), parts.next()) else {
            panic!("cases.txt:{}: not generated (run testdata/gen)", i + 1);
        };
        let (t, want) = (unquote(t), unquote(want));
        n += 1;
        let got = run_on(&t, data);
        if std::mem::take(&mut known) {
            if !got.1.contains("not supported by ferrodns") {
                failures.push(format!("cases.txt:{}: {t:?}: not refused: {got:?}", i + 1));
            }
            continue;
        }
        if got != (kind, want.clone()) {
            failures.push(format!(
                "cases.txt:{}: {t:?}\n    go:   {kind} {want:?}\n    ours: {} {:?}",
                i + 1,
                got.0,
                got.1
            ));
        }
    }
    assert!(n > 300, "only {n} cases");
    assert!(
        failures.is_empty(),
        "{} of {n} cases differ from Go:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Nesting as deep as the limits allow runs within a worker thread's
/// stack (2 MiB, here in a debug build), one level more fails with an
/// error, and so does a template that calls itself without end, even
/// from deep inside.
#[test]
fn nesting_limits_fit_the_stack() {
    let t = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(|| {
            let n = parser::MAX_NESTING;
            let parens = |n| format!("{{{{ {}.Zone{} }}}}", "(".repeat(n), ")".repeat(n));
            assert_eq!(run(&parens(n)), "example.");
            assert_eq!(
                err(&parens(n + 1)),
                "template: answer:1: max expression depth exceeded"
            );
            let ifs = |n| format!("{}x{}", "{{ if 1 }}".repeat(n), "{{ end }}".repeat(n));
            assert_eq!(run(&ifs(n)), "x");
            assert!(err(&ifs(n + 1)).ends_with("max expression depth exceeded"));
            let recursive = r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}"#;
            assert_eq!(
                err(recursive),
                "template: answer:1:28: executing \"r\" at <{{template \"r\" .}}>: \
                 exceeded maximum template depth (100000)"
            );
            let deep = format!(
                r#"{{{{ define "r" }}}}{}{{{{ template "r" . }}}}{}{{{{ end }}}}{{{{ template "r" . }}}}"#,
                "{{ if 1 }}".repeat(n - 1),
                "{{ end }}".repeat(n - 1)
            );
            assert!(err(&deep).ends_with("exceeded maximum template depth (100000)"));
        })
        .unwrap();
    t.join().unwrap();
}

// The constructs one by one; every expected text is Go's (also in
// testdata/cases.txt).

#[test]
fn fields_and_dot() {
    assert_eq!(
        run("{{ .Name }} {{ $.Zone }} {{ .Group.a }}"),
        "ip-10-1-2-3.example. example. 10"
    );
    assert_eq!(run("{{ .Group.zz }}"), "<no value>");
    assert_eq!(run("{{ .Question }}"), ";IP-10-1-2-3.Example.\tIN\t A");
    assert_eq!(
        run("{{ (index .Message.Question 0).Name }}"),
        "IP-10-1-2-3.Example."
    );
    assert_eq!(
        run("{{ .Message.Question }}"),
        "[{IP-10-1-2-3.Example. 1 1}]"
    );
}

#[test]
fn if_else_if_else() {
    let t = r#"{{ if eq .Type "MX" }}MX{{ else if eq .Type "A" }}A{{ else }}other{{ end }}"#;
    assert_eq!(run(t), "A");
    assert_eq!(run("{{ if .Group.zz }}yes{{ else }}no{{ end }}"), "no");
    assert_eq!(
        err("{{ if .Zone }}\n{{ else }}"),
        "template: answer:2: unexpected EOF"
    );
}

#[test]
fn range_forms() {
    assert_eq!(
        run("{{ range $k, $v := .Group }}{{ $k }}:{{ $v }} {{ end }}"),
        "0:ip-10-1-2-3.example. 1:10 2:1 3:2 4:3 5:example a:10 b:1 d:3 "
    );
    assert_eq!(
        run(
            "{{ range $i, $m := .Match }}{{ if eq $i 2 }}{{ continue }}{{ end }}{{ $i }} {{ end }}"
        ),
        "0 1 3 4 5 "
    );
    assert_eq!(
        run("{{ range $i, $m := .Match }}{{ if ge $i 3 }}{{ break }}{{ end }}{{ $m }};{{ end }}"),
        "ip-10-1-2-3.example.;10;1;"
    );
    assert_eq!(run("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        run("{{ range .Message.Answer }}x{{ else }}empty{{ end }}"),
        "empty"
    );
}

#[test]
fn with_and_else_with() {
    assert_eq!(
        run("{{ with .Group.zz }}a{{ else with .Group.b }}b={{ . }}{{ end }}"),
        "b=1"
    );
    assert_eq!(
        run("{{ with .Question }}{{ .Name }} {{ $.Zone }}{{ end }}"),
        "IP-10-1-2-3.Example. example."
    );
}

#[test]
fn define_template_block() {
    assert_eq!(
        run(r#"{{ define "x" }}[{{ . }}]{{ end }}{{ template "x" .Zone }}{{ template "x" }}"#),
        "[example.][<no value>]"
    );
    assert_eq!(
        run(r#"{{ block "b" .Zone }}<{{ . }}>{{ end }}"#),
        "<example.>"
    );
}

#[test]
fn variables_and_scopes() {
    assert_eq!(
        run("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}"),
        "2"
    );
    assert_eq!(
        run("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"),
        "21"
    );
    assert_eq!(
        err("{{ if true }}{{ $x := 1 }}{{ end }}{{ $x }}"),
        "template: answer:1: undefined variable \"$x\""
    );
}

#[test]
fn logic_and_comparisons() {
    assert_eq!(run("{{ or .Name .Nope }}"), "ip-10-1-2-3.example.");
    assert_eq!(
        err("{{ and .Name .Nope }}"),
        "template: answer:1:13: executing \"answer\" at <.Nope>: can't evaluate field Nope in type *template.templateData"
    );
    assert_eq!(
        run(r#"{{ eq .Type "MX" "A" "AAAA" }} {{ lt -1 .Question.Qtype }}"#),
        "true true"
    );
    assert_eq!(
        err(r#"{{ eq 1 "1" }}"#),
        "template: answer:1:3: executing \"answer\" at <eq 1 \"1\">: error calling eq: incompatible types for comparison: int and string"
    );
}

#[test]
fn printf_and_friends() {
    assert_eq!(
        run(r#"{{ printf "%05d|%x|%-4s|%.2f|%q|%v" 42 255 "a" 3.14159 "x" .Match }}"#),
        "00042|ff|a   |3.14|\"x\"|[ip-10-1-2-3.example. 10 1 2 3 example]"
    );
    assert_eq!(run(r#"{{ printf "%d %d" 1 }}"#), "1 %!d(MISSING)");
    assert_eq!(
        run(r#"{{ print 1 2 "a" }} {{ urlquery "a b" }} {{ html "<" }}"#),
        "1 2a a+b &lt;"
    );
}

#[test]
fn trimming_and_comments() {
    assert_eq!(run("a  {{- .Zone }}  b"), "aexample.  b");
    assert_eq!(run("a {{- /* comment */ -}} b"), "ab");
}

#[test]
fn errors_point_at_line_and_column() {
    assert_eq!(
        err("line1\n  {{ if true }}\n    {{ index .Match 7 }}\n  {{ end }}"),
        "template: answer:3:7: executing \"answer\" at <index .Match 7>: error calling index: index out of range: 7"
    );
}

/// `.Meta` reads the metadata of the query, when the block keeps any.
#[test]
fn meta_reads_metadata() {
    let mut d = data();
    let mut m = crate::plugin::request::Metadata::default();
    m.set("kubernetes/client-namespace", "ns1".into());
    d.meta = Some(m);
    let t = Template::parse(
        "answer",
        r#"{{ .Meta "kubernetes/client-namespace" }}|{{ .Meta "x" }}"#,
    )
    .unwrap();
    assert_eq!(t.execute(&d).unwrap(), "ns1|");
    assert_eq!(run(r#"{{ .Meta "kubernetes/client-namespace" }}"#), "");
}

/// Templates put together at random from the language's pieces compile or
/// fail with an error, and run or fail with an error: never a panic.
#[test]
fn random_templates_never_panic() {
    const PIECES: &[&str] = &[
        "{{",
        "}}",
        "{{- ",
        " -}}",
        " ",
        ".",
        "$",
        "$x",
        ":=",
        "=",
        "|",
        "(",
        ")",
        "if",
        "else",
        "end",
        "range",
        "with",
        "define",
        "template",
        "block",
        "break",
        "continue",
        "\"a\"",
        "`b`",
        "'c'",
        "1",
        "-2",
        "3.5",
        "0x1p2",
        "1i",
        "nil",
        "true",
        ".Name",
        ".Match",
        ".Group.a",
        ".Message",
        ".Question",
        ".Message.IsEdns0",
        ".Meta",
        "index",
        "slice",
        "len",
        "printf",
        "\"%d %v %5.2f %[2]*d %q %x %-8.3s %U %e\"",
        "print",
        "eq",
        "lt",
        "and",
        "or",
        "not",
        "call",
        "html",
        "js",
        "urlquery",
        "parseInt",
        "/*",
        "*/",
        "\n",
        "é",
        "\\",
        ",",
        "{",
        "}",
        "x",
        "\"x\"",
        "$.Zone",
        ".Message.Question",
        "2",
        "0",
    ];
    let (plain, edns) = (data(), data_with(true));
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut compiled = 0;
    for i in 0..40_000 {
        let n = 1 + next() % 24;
        let mut pick = || PIECES[(next() % PIECES.len() as u64) as usize];
        // Half of them as actions of a few pieces each, which compile
        // more often.
        let text: String = if i % 2 == 0 {
            (0..n).map(|_| pick()).collect()
        } else {
            (0..n % 6 + 1)
                .map(|_| format!("x{{{{ {} {} {} }}}}", pick(), pick(), pick()))
                .collect()
        };
        if let Ok(t) = Template::parse("answer", &text) {
            compiled += 1;
            let _ = t.execute(&plain);
            let _ = t.execute(&edns);
        }
    }
    assert!(compiled > 3000, "only {compiled} compiled");
}
