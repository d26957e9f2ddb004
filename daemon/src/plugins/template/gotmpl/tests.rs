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
