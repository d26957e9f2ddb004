use super::*;
use crate::plugins::testutil::request;
use hickory_proto::op::Message;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

const FILE: &str = "\
10.0.0.1 example.org www.Example.org
10.0.0.2 example.org
::1 example.org
fd00::5 v6only.example.org
10.0.0.9 *.wild.example.org
10.0.0.3 other.net
";

struct Opts<'a> {
    zones: &'a [&'a str],
    inline: &'a str,
    ttl: u32,
    no_reverse: bool,
    fall: Option<&'a [&'a str]>,
    fall_unsupported: bool,
    reload: Duration,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Self {
            zones: &["."],
            inline: "",
            ttl: DEFAULT_TTL,
            no_reverse: false,
            fall: None,
            fall_unsupported: false,
            reload: Duration::ZERO,
        }
    }
}

fn hosts_at(path: &Path, o: Opts<'_>) -> Hosts {
    let zones: Vec<String> = o.zones.iter().map(|z| z.to_string()).collect();
    let file = Hostsfile::new(path.to_path_buf(), zones.clone(), !o.no_reverse);
    let inline = file.parse(o.inline.as_bytes());
    let fall = match o.fall {
        None => Fallthrough::default(),
        Some(z) => Fallthrough::from_args(&z.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
    };
    Hosts::new(Config {
        file: Arc::new(file),
        inline,
        zones,
        ttl: o.ttl,
        fall,
        fall_unsupported: o.fall_unsupported,
        reload: o.reload,
    })
}

fn with_file(o: Opts<'_>) -> (tempfile::NamedTempFile, Hosts) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(FILE.as_bytes()).unwrap();
    f.flush().unwrap();
    let h = hosts_at(f.path(), o);
    (f, h)
}

enum Got {
    Next,
    Rcode(ResponseCode),
    Reply(Message),
}

fn ask(h: &Hosts, name: &str, qtype: RecordType) -> Got {
    let mut req = request(name, qtype);
    match h.query(&mut req) {
        Action::Next
        | Action::Watch
        | Action::WatchAsync
        | Action::Await
        | Action::Fork(_)
        | Action::Wrap => Got::Next,
        Action::Done(o) => match o.reply {
            Some(m) => Got::Reply(m),
            None => Got::Rcode(o.rcode),
        },
    }
}

fn reply(h: &Hosts, name: &str, qtype: RecordType) -> Message {
    match ask(h, name, qtype) {
        Got::Reply(m) => m,
        Got::Next => panic!("{name} {qtype}: passed on"),
        Got::Rcode(rc) => panic!("{name} {qtype}: rcode {rc}"),
    }
}

/// The answers as `owner ttl type rdata` lines.
fn lines(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.name.to_ascii(),
                r.ttl,
                r.record_type(),
                r.data
            )
        })
        .collect()
}

#[test]
fn a_and_aaaa() {
    let (_f, h) = with_file(Opts::default());
    let m = reply(&h, "Example.ORG.", RecordType::A);
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.metadata.id, 4242);
    // The question keeps the client's case; the owner names are CoreDNS's
    // state.Name(), lowercased.
    assert_eq!(m.queries[0].name().to_ascii(), "Example.ORG.");
    assert_eq!(
        lines(&m),
        [
            "example.org. 3600 A 10.0.0.1",
            "example.org. 3600 A 10.0.0.2"
        ]
    );
    let m = reply(&h, "example.org.", RecordType::AAAA);
    assert_eq!(lines(&m), ["example.org. 3600 AAAA ::1"]);
    let m = reply(&h, "WWW.example.org.", RecordType::A);
    assert_eq!(lines(&m), ["www.example.org. 3600 A 10.0.0.1"]);
}

#[test]
fn ttl_applies() {
    let (_f, h) = with_file(Opts {
        ttl: 60,
        ..Opts::default()
    });
    let m = reply(&h, "example.org.", RecordType::AAAA);
    assert_eq!(lines(&m), ["example.org. 60 AAAA ::1"]);
    let m = reply(&h, "1.0.0.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(m.answers[0].ttl, 60);
}

#[test]
fn nodata_when_other_family_exists() {
    let (_f, h) = with_file(Opts::default());
    let m = reply(&h, "v6only.example.org.", RecordType::A);
    assert!(m.metadata.authoritative);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert!(m.authorities.is_empty());
    // Other types for a known name: NODATA too.
    let m = reply(&h, "example.org.", RecordType::MX);
    assert!(m.answers.is_empty() && m.metadata.authoritative);
}

#[test]
fn unknown_name_is_servfail() {
    let (_f, h) = with_file(Opts::default());
    assert!(matches!(
        ask(&h, "nope.example.org.", RecordType::A),
        Got::Rcode(ResponseCode::ServFail)
    ));
    assert!(matches!(
        ask(&h, "nope.example.org.", RecordType::TXT),
        Got::Rcode(ResponseCode::ServFail)
    ));
}

#[test]
fn ptr() {
    let (_f, h) = with_file(Opts::default());
    let m = reply(&h, "1.0.0.10.IN-ADDR.arpa.", RecordType::PTR);
    assert!(m.metadata.authoritative);
    assert_eq!(
        lines(&m),
        [
            "1.0.0.10.in-addr.arpa. 3600 PTR example.org.",
            "1.0.0.10.in-addr.arpa. 3600 PTR www.example.org."
        ]
    );
    let six = "5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.";
    let m = reply(&h, six, RecordType::PTR);
    assert_eq!(lines(&m), [format!("{six} 3600 PTR v6only.example.org.")]);
    // Unknown addresses and wildcard owners pass on, fallthrough or not.
    assert!(matches!(
        ask(&h, "9.9.9.10.in-addr.arpa.", RecordType::PTR),
        Got::Next
    ));
    assert!(matches!(
        ask(&h, "9.0.0.10.in-addr.arpa.", RecordType::PTR),
        Got::Next
    ));
    assert!(matches!(
        ask(&h, "example.org.", RecordType::PTR),
        Got::Next
    ));
}

#[test]
fn ptr_outside_zones() {
    // Reverse names need not be under the plugin's zones.
    let (_f, h) = with_file(Opts {
        zones: &["example.org."],
        ..Opts::default()
    });
    let m = reply(&h, "1.0.0.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(m.answers.len(), 2);
    // other.net was left out of the file's maps.
    assert!(matches!(
        ask(&h, "3.0.0.10.in-addr.arpa.", RecordType::PTR),
        Got::Next
    ));
    // A queries outside the zones pass on.
    assert!(matches!(ask(&h, "other.net.", RecordType::A), Got::Next));
}

#[test]
fn no_reverse() {
    let (_f, h) = with_file(Opts {
        no_reverse: true,
        ..Opts::default()
    });
    assert!(matches!(
        ask(&h, "1.0.0.10.in-addr.arpa.", RecordType::PTR),
        Got::Next
    ));
    assert_eq!(reply(&h, "example.org.", RecordType::A).answers.len(), 2);
}

#[test]
fn wildcard() {
    let (_f, h) = with_file(Opts::default());
    let m = reply(&h, "Host.wild.example.org.", RecordType::A);
    assert_eq!(lines(&m), ["host.wild.example.org. 3600 A 10.0.0.9"]);
    assert!(matches!(
        ask(&h, "a.b.wild.example.org.", RecordType::A),
        Got::Rcode(ResponseCode::ServFail)
    ));
}

#[test]
fn inline_merged_after_file() {
    let (_f, h) = with_file(Opts {
        inline: "10.0.0.7 example.org\n10.0.0.8 inline.example.org",
        ..Opts::default()
    });
    let m = reply(&h, "example.org.", RecordType::A);
    assert_eq!(
        lines(&m),
        [
            "example.org. 3600 A 10.0.0.1",
            "example.org. 3600 A 10.0.0.2",
            "example.org. 3600 A 10.0.0.7"
        ]
    );
    let m = reply(&h, "8.0.0.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(
        lines(&m),
        ["8.0.0.10.in-addr.arpa. 3600 PTR inline.example.org."]
    );
}

#[test]
fn inline_without_file() {
    let h = hosts_at(
        Path::new("/nonexistent/ferrodns/hosts"),
        Opts {
            inline: "10.0.0.1 example.org",
            ..Opts::default()
        },
    );
    let m = reply(&h, "example.org.", RecordType::A);
    assert_eq!(lines(&m), ["example.org. 3600 A 10.0.0.1"]);
}

#[test]
fn fallthrough() {
    let (_f, h) = with_file(Opts {
        fall: Some(&[]),
        ..Opts::default()
    });
    assert!(matches!(
        ask(&h, "nope.example.org.", RecordType::A),
        Got::Next
    ));
    // Known names still answer, NODATA included.
    assert_eq!(reply(&h, "example.org.", RecordType::A).answers.len(), 2);
    assert!(reply(&h, "v6only.example.org.", RecordType::A)
        .answers
        .is_empty());
    assert!(reply(&h, "example.org.", RecordType::TXT)
        .answers
        .is_empty());

    let (_f, h) = with_file(Opts {
        fall: Some(&["Sub.Example.org"]),
        ..Opts::default()
    });
    assert!(matches!(
        ask(&h, "x.sub.example.org.", RecordType::A),
        Got::Next
    ));
    assert!(matches!(
        ask(&h, "x.example.org.", RecordType::A),
        Got::Rcode(ResponseCode::ServFail)
    ));
}

#[test]
fn fallthrough_unsupported() {
    let (_f, h) = with_file(Opts {
        fall: Some(&[]),
        fall_unsupported: true,
        ..Opts::default()
    });
    assert!(matches!(
        ask(&h, "example.org.", RecordType::TXT),
        Got::Next
    ));
    assert_eq!(reply(&h, "example.org.", RecordType::A).answers.len(), 2);

    let (_f, h) = with_file(Opts {
        fall: Some(&["example.net"]),
        fall_unsupported: true,
        ..Opts::default()
    });
    assert!(reply(&h, "example.org.", RecordType::TXT)
        .answers
        .is_empty());
}

#[test]
fn reload_picks_up_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    std::fs::write(&path, "10.0.0.1 example.org\n").unwrap();
    let h = hosts_at(
        &path,
        Opts {
            reload: Duration::from_millis(20),
            ..Opts::default()
        },
    );
    assert_eq!(
        lines(&reply(&h, "example.org.", RecordType::A)),
        ["example.org. 3600 A 10.0.0.1"]
    );
    // A different size is a change even within the same mtime tick.
    std::fs::write(&path, "10.0.0.22 example.org\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = lines(&reply(&h, "example.org.", RecordType::A));
        if got == ["example.org. 3600 A 10.0.0.22"] {
            break;
        }
        assert!(Instant::now() < deadline, "not reloaded: {got:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A vanished file keeps the last data.
    std::fs::remove_file(&path).unwrap();
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(reply(&h, "example.org.", RecordType::A).answers.len(), 1);
    drop(h);
}

#[test]
fn no_reload_when_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    std::fs::write(&path, "10.0.0.1 example.org\n").unwrap();
    let h = hosts_at(&path, Opts::default());
    assert!(h._reloader.is_none());
    std::fs::write(&path, "10.0.0.22 example.org\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        lines(&reply(&h, "example.org.", RecordType::A)),
        ["example.org. 3600 A 10.0.0.1"]
    );
}

#[test]
fn reload_thread_ends_with_plugin() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hosts");
    std::fs::write(&path, "10.0.0.1 example.org\n").unwrap();
    let h = hosts_at(
        &path,
        Opts {
            reload: Duration::from_secs(3600),
            ..Opts::default()
        },
    );
    let weak = Arc::downgrade(&h.file);
    drop(h);
    // The thread wakes on drop, lets go of its reference and ends.
    let deadline = Instant::now() + Duration::from_secs(5);
    while weak.strong_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "reload thread still holds the file"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn presentation_names() {
    let raw = Name::from_labels(vec![&b"a.b"[..], &b"\xc3\xa9 @"[..], b"org"]).unwrap();
    assert_eq!(names::lower_text(&raw), "a\\.b.\\195\\169\\ \\@.org.");
    assert_eq!(name_from_text("a\\.b.\\195\\169\\ \\@.org."), Some(raw));
    assert_eq!(name_from_text("a..b."), None);
    assert_eq!(name_from_text(&format!("{}.", "x".repeat(64))), None);
}
