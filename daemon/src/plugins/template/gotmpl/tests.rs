use super::*;

fn data() -> Data {
    let mut group = BTreeMap::new();
    group.insert("0".into(), "ip-10-1-2-3.example.".into());
    group.insert("1".into(), "1".into());
    group.insert("b".into(), "1".into());
    Data {
        zone: "example.".into(),
        name: "ip-10-1-2-3.example.".into(),
        regex: "x".into(),
        matches: vec!["ip-10-1-2-3.example.".into(), "1".into()],
        group,
        class: "IN".into(),
        qtype: "A".into(),
        remote: "192.0.2.1".into(),
        question: Question {
            name: "IP-10-1-2-3.example.".into(),
            qtype: 1,
            qclass: 1,
        },
        message: MessageData {
            id: 4242,
            ..Default::default()
        },
    }
}

fn run(t: &str) -> Result<String, ExecError> {
    Template::parse("answer", t).unwrap().execute(&data())
}

#[test]
fn fields_and_functions() {
    assert_eq!(
        run("{{ .Name }} 60 {{ .Class }} A 10.{{ .Group.b }}.{{ index .Match 1 }}.{{.Type}}")
            .unwrap(),
        "ip-10-1-2-3.example. 60 IN A 10.1.1.A"
    );
    assert_eq!(
        run("{{ .Zone }}|{{ .Remote }}|{{ $.Zone }}").unwrap(),
        "example.|192.0.2.1|example."
    );
    assert_eq!(run("{{ .Group.missing }}").unwrap(), "<no value>");
    assert_eq!(run("[{{ index .Group \"missing\" }}]").unwrap(), "[]");
    assert_eq!(
        run("{{ .Meta \"kubernetes/client-namespace\" }}x").unwrap(),
        "x"
    );
    assert_eq!(
        run("{{ .Question }}").unwrap(),
        ";IP-10-1-2-3.example.\tIN\t A"
    );
    assert_eq!(
        run("{{ .Question.Qtype }} {{ .Message.Id }}").unwrap(),
        "1 4242"
    );
    // A field of a parenthesised pipeline is not supported.
    assert!(run("{{ (index .Message.Question 0).Name }}").is_err());
    assert_eq!(run("{{ .Match }}").unwrap(), "[ip-10-1-2-3.example. 1]");
    assert_eq!(run("{{ parseInt \"7b\" 16 8 }}").unwrap(), "123");
    assert_eq!(
        run("{{ \"ff\" | printf \"%s-%03d\" }}").unwrap(),
        "ff-%!d(MISSING)"
    );
    assert_eq!(
        run("{{ printf \"%s-%03d\" .Zone 7 }}").unwrap(),
        "example.-007"
    );
    assert_eq!(
        run("{{ len .Match }} {{ print 1 2 \"a\" }}").unwrap(),
        "2 1 2a"
    );
    assert_eq!(
        run("a {{- \" b \" -}} c {{- /* note */}}d").unwrap(),
        "a b cd"
    );
    assert_eq!(run("{{ .Name | len }}").unwrap(), "20");
}

/// Integer constants as Go reads them (`strconv.ParseInt(text, 0, 64)`).
#[test]
fn number_constants() {
    assert_eq!(
        run("{{ print 0x1f -0b101 1_000 010 +7 0o17 0X_1F 0 -0 }}").unwrap(),
        "31 -5 1000 8 7 15 31 0 0"
    );
    let e = |t: &str| Template::parse("answer", t).unwrap_err().to_string();
    assert_eq!(
        run("{{ print -9223372036854775808 }}").unwrap(),
        "-9223372036854775808"
    );
    for n in ["08", "0x", "1a", "0b2", "9223372036854775808", "1__0", "1_"] {
        assert_eq!(
            e(&format!("{{{{ print {n} }}}}")),
            format!("template: answer:1: bad number syntax: \"{n}\"")
        );
    }
}

#[test]
fn execution_errors() {
    assert_eq!(
        run("{{ index .Match 5 }}").unwrap_err().to_string(),
        "template: answer:1: executing \"answer\" at <index .Match 5>: error calling index: index out of range: 5"
    );
    assert!(run("{{ .Nope }}")
        .unwrap_err()
        .to_string()
        .ends_with("can't evaluate field Nope in type *template.templateData"));
    assert!(run("{{ parseInt \"zz\" 16 8 }}")
        .unwrap_err()
        .to_string()
        .ends_with("error calling parseInt: strconv.ParseUint: parsing \"zz\": invalid syntax"));
    assert!(run("{{ parseInt \"1ff\" 16 8 }}")
        .unwrap_err()
        .to_string()
        .ends_with("value out of range"));
    assert!(run("{{ .Message }}").is_err());
}

#[test]
fn parse_errors() {
    let e = |t: &str| Template::parse("answer", t).unwrap_err().to_string();
    assert_eq!(e("{{ .Name "), "template: answer:1: unclosed action");
    assert_eq!(
        e("{{ foo .Name }}"),
        "template: answer:1: function \"foo\" not defined"
    );
    assert!(e("{{ if .Name }}x{{ end }}").contains("not supported"));
    assert!(e("{{ $x := 1 }}").contains("not supported"));
    assert_eq!(e("{{ }}"), "template: answer:1: missing value for command");
    assert!(Template::parse("answer", "no actions").is_ok());
}
