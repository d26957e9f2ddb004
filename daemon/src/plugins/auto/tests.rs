//! auto: origins from file names, the walk, answers, and what a reload
//! tick finds changed.

use super::setup::setup;
use super::walk::{origin_of, tick};
use super::*;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request};
use hickory_proto::rr::RecordType;
use std::path::Path;

fn zone(origin: &str, serial: u32, a: &str) -> String {
    format!(
        "$ORIGIN {origin}\n@ 60 IN SOA ns hm {serial} 7200 3600 1209600 300\n@ 60 IN NS ns\nwww 60 IN A {a}\n"
    )
}

fn auto(root: &Path, text: &str) -> (Auto, BlockSetup) {
    let mut b = BlockSetup::new(vec![".".into()]);
    b.root = Some(root.to_path_buf());
    let a = setup(&mut b, &[&directive(text)]).unwrap();
    (a, b)
}

fn answer(a: &Auto, name: &str) -> Option<(ResponseCode, Vec<String>)> {
    let mut req = request(name, RecordType::A);
    match a.query(&mut req) {
        Action::Done(o) => {
            let m = o.reply?;
            let rrs = m.answers.iter().map(|r| r.to_string()).collect();
            Some((m.metadata.response_code, rrs))
        }
        _ => None,
    }
}

#[test]
fn origins_from_file_names() {
    let re = Regex::new(r"db\.(.*)").unwrap();
    assert_eq!(
        origin_of(&re, "${1}", "db.example.org").as_deref(),
        Some("example.org.")
    );
    // Unanchored: a backup file matches too.
    assert_eq!(
        origin_of(&re, "${1}", "old.db.example.org.bak").as_deref(),
        Some("example.org.bak.")
    );
    assert_eq!(origin_of(&re, "${1}", "example.org"), None);
    let re = Regex::new(r"www\.db\.(.*)\.(?P<tld>.*)").unwrap();
    assert_eq!(
        origin_of(&re, "${1}.${tld}$$", "www.db.example.org").as_deref(),
        Some("example.org$.")
    );
    // A group that is not there expands to nothing, as in Go.
    assert_eq!(
        origin_of(&re, "${1}.${7}x", "www.db.example.org").as_deref(),
        Some("example.x.")
    );
}

#[test]
fn serves_the_zone_files_found() {
    let d = tempfile::tempdir().unwrap();
    let zones = d.path().join("zones");
    std::fs::create_dir_all(zones.join("sub")).unwrap();
    std::fs::write(
        zones.join("db.example.org"),
        zone("example.org.", 1, "192.0.2.1"),
    )
    .unwrap();
    std::fs::write(
        zones.join("sub/db.example.net"),
        zone("example.net.", 1, "192.0.2.2"),
    )
    .unwrap();
    // No SOA: skipped with a warning.
    std::fs::write(zones.join("db.broken.test"), "www 60 IN A 192.0.2.3\n").unwrap();
    std::fs::write(zones.join("notes.txt"), "not a zone").unwrap();
    let (a, b) = auto(d.path(), "auto {\ndirectory zones\nreload 0\n}");
    assert_eq!(
        answer(&a, "www.example.org."),
        Some((
            ResponseCode::NoError,
            vec!["www.example.org. 60 IN A 192.0.2.1".into()]
        ))
    );
    assert_eq!(
        answer(&a, "www.example.net."),
        Some((
            ResponseCode::NoError,
            vec!["www.example.net. 60 IN A 192.0.2.2".into()]
        ))
    );
    assert_eq!(
        answer(&a, "nothere.example.org.").map(|x| x.0),
        Some(ResponseCode::NXDomain)
    );
    // In the plugin's zones (the block's root) but in no file: passed on,
    // REFUSED when nothing follows.
    let mut req = request("www.broken.test.", RecordType::A);
    assert!(matches!(a.query(&mut req), Action::Next));
    assert_eq!(
        a.last_in_chain(&req).map(|o| o.rcode),
        Some(ResponseCode::Refused)
    );
    // The block's metrics label queries with the zones found.
    assert_eq!(
        b.added_zones
            .longer("www.example.net.", Some("."))
            .as_deref(),
        Some("example.net.")
    );
    assert_eq!(b.added_zones.longer("www.broken.test.", Some(".")), None);
}

#[test]
fn a_tick_loads_new_files_drops_gone_ones_and_reloads_changed_serials() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("db.example.org"),
        zone("example.org.", 1, "192.0.2.1"),
    )
    .unwrap();
    std::fs::write(
        d.path().join("db.example.net"),
        zone("example.net.", 1, "192.0.2.2"),
    )
    .unwrap();
    let (a, _b) = auto(
        d.path(),
        "auto example.org example.com example.net {\ndirectory .\n}",
    );
    assert!(answer(&a, "www.example.com.").is_none());
    std::fs::write(
        d.path().join("db.example.com"),
        zone("example.com.", 1, "192.0.2.4"),
    )
    .unwrap();
    std::fs::remove_file(d.path().join("db.example.net")).unwrap();
    std::fs::write(
        d.path().join("db.example.org"),
        zone("example.org.", 2, "192.0.2.9"),
    )
    .unwrap();
    tick(&a.state);
    assert_eq!(
        answer(&a, "www.example.com.").map(|x| x.1),
        Some(vec!["www.example.com. 60 IN A 192.0.2.4".into()])
    );
    assert!(answer(&a, "www.example.net.").is_none());
    assert_eq!(
        answer(&a, "www.example.org.").map(|x| x.1),
        Some(vec!["www.example.org. 60 IN A 192.0.2.9".into()])
    );
}

#[test]
fn setup_errors() {
    let d = tempfile::tempdir().unwrap();
    let err = |text: &str| {
        let mut b = BlockSetup::new(vec![".".into()]);
        b.root = Some(d.path().to_path_buf());
        setup(&mut b, &[&directive(text)])
            .err()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        err("auto {\ndirectory . (x {1}\n}"),
        "Corefile:2: error parsing regexp: missing closing ): `(x`"
    );
    assert_eq!(
        err("auto {\ndirectory . x {1}\n}"),
        "Corefile:2: Need at least one sub expression"
    );
    assert_eq!(
        err("auto {\nreload\n}"),
        "Corefile:2: reload duration value is expected"
    );
    assert_eq!(
        err("auto {\nreload -5s\n}"),
        "Corefile:2: plugin/file: invalid duration"
    );
    assert_eq!(err("auto {\nfoo\n}"), "Corefile:2: unknown property 'foo'");
}
