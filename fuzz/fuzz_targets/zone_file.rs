//! Arbitrary text through the file plugin's zone parser (`Zone::parse`, the
//! RFC 1035 master file reader with CoreDNS's rewrites of the record types
//! hickory does not read), then, when a zone comes out, lookups on it as the
//! plugin makes them and the replies built from them encoded as the server
//! would.
//!
//! The first input byte picks the origin (and whether a reload serial is
//! passed); the rest is the zone file, read as the plugin reads one (bytes,
//! UTF-8 lossily). Nothing may panic; a parsed zone has an SOA, answers a
//! SOA query at its apex, and every answer hickory can write reads back;
//! but for answers with a record without data (`TXT` with no strings,
//! `TYPEnnn \# 0`): those load, as CoreDNS loads them, and go out with
//! RDLENGTH 0, which hickory reads only in UPDATE messages.
//!
//! `$INCLUDE` is resolved next to the zone file's name, an empty temporary
//! directory; inputs that could name a file elsewhere (a `$INCLUDE` with a
//! `/` or an escape) are skipped, so the target never reads /dev/zero and
//! the like.

#![no_main]

use ferrodns::plugins::file::{Res, Slot, Zone};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

const ORIGINS: &[&str] = &[
    "example.org.",
    ".",
    "Example.ORG.",
    "a.b.c.example.net.",
    "in-addr.arpa.",
    "xn--bcher-kva.example.",
    "x.",
    "example.org.",
];

const QTYPES: &[RecordType] = &[
    RecordType::SOA,
    RecordType::NS,
    RecordType::A,
    RecordType::AAAA,
    RecordType::MX,
    RecordType::CNAME,
    RecordType::TXT,
    RecordType::SRV,
    RecordType::PTR,
    RecordType::DS,
    RecordType::ANY,
    RecordType::HTTPS,
];

/// `$TMPDIR/ferrodns-fuzz-zone-PID-NANOS/db.fuzz`; the directory is empty.
fn zone_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "ferrodns-fuzz-zone-{}-{nanos:08x}",
            std::process::id()
        ));
        std::fs::create_dir(&dir).expect("create the fuzz temp dir");
        dir.join("db.fuzz")
    })
}

/// Whether the text could `$INCLUDE` a file outside the empty directory.
fn may_escape(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("include") && (text.contains('/') || text.contains('\\'))
}

/// Owner names the text spells out at the start of a line, as names under
/// `origin` (at most 8).
fn owners(text: &str, origin: &Name) -> Vec<Name> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with([' ', '\t', '$', ';', '@', '(']))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|t| Name::parse(t, Some(origin)).ok())
        .map(|n| n.to_lowercase())
        .filter(|n| origin.zone_of(n))
        .take(8)
        .collect()
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(data);
    if may_escape(&text) {
        return;
    }
    let origin = Name::from_str(ORIGINS[usize::from(mode & 7)]).expect("origin");
    // The plugin's first load passes serial 0, a reload the current one,
    // tests -1.
    let serial = match mode >> 6 {
        0 => 0,
        1 => -1,
        2 => 2024010101,
        _ => i64::from(u32::MAX),
    };
    let path = zone_path();
    let zone = match Zone::parse(&text, &origin, path, serial) {
        Ok(z) => z,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let origin = origin.to_lowercase();
    assert_eq!(zone.origin(), &origin, "zone origin");
    assert!(zone.serial().is_some(), "a parsed zone has an SOA");

    // The zone as the plugin serves it (a CNAME that leaves the zone ends
    // in a pending answer, which the plugin completes through the server).
    let slot = Slot::new(origin.clone(), path.to_path_buf(), zone);
    let zone = slot.data.load_full();

    let mut names = vec![origin.clone()];
    for label in ["www", "*", "a.b.c", "_sip._tcp"] {
        if let Ok(n) = Name::parse(label, Some(&origin)) {
            names.push(n.to_lowercase());
        }
    }
    names.extend(owners(&text, &origin));
    let extra_type = RecordType::from(u16::from(mode & 0x3f) + 1);

    for name in &names {
        for &qtype in QTYPES.iter().chain([&extra_type]) {
            let a = zone.lookup(name, qtype, 0);
            if *name == origin && qtype == RecordType::SOA {
                assert_eq!(a.res, Res::Success, "SOA at the apex");
                assert_eq!(a.answer.len(), 1, "one SOA at the apex");
            }
            // The reply the plugin builds; the server encodes it.
            let mut m = Message::new(0x1234, MessageType::Response, OpCode::Query);
            m.metadata.authoritative = true;
            m.queries.push(Query::query(name.clone(), qtype));
            m.answers = a.answer;
            m.authorities = a.ns;
            m.additionals = a.extra;
            let Ok(bytes) = m.to_vec() else {
                // hickory refuses to write it (a name too long after a
                // DNAME, ...): the server answers SERVFAIL then.
                continue;
            };
            // A record without data (`TXT` with no strings, `TYPEnnn \# 0`)
            // loads, as CoreDNS loads it, and goes out with RDLENGTH 0,
            // which hickory reads only in UPDATE messages.
            let no_data = m
                .answers
                .iter()
                .chain(&m.authorities)
                .chain(&m.additionals)
                .any(|r| r.data.to_bytes().is_ok_and(|b| b.is_empty()));
            if no_data {
                continue;
            }
            if let Err(e) = Message::from_vec(&bytes) {
                panic!(
                    "a reply from the zone does not read back: {e}\nname {name} {qtype}\nreply: {:02x?}",
                    bytes
                );
            }
        }
    }
});
