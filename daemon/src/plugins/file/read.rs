//! Zone files as most operators write them, read without hickory's zone
//! parser: `$ORIGIN`, `$TTL`, owners (relative, `@`, left out on
//! continuation lines), TTLs and the IN class in either order, parentheses
//! across lines, comments, quoted strings, and the types A, AAAA, NS,
//! CNAME, PTR, MX, TXT and SOA. The records and their TTLs come out as
//! `raw::rewrite` and hickory's parser make them (hickory's own rules for
//! tokens and record data, miekg's for TTLs that are left out, record
//! sets as hickory's `RecordSet` makes them), without the copies of the
//! text, the token strings and the `RecordSet` map they cost: most of
//! the records go straight into the tree in its compact form.
//!
//! Anything else (another type or class, `$INCLUDE`, `$GENERATE`,
//! escapes, control or non-ASCII bytes outside quoted strings, a token
//! hickory's lexer would read another way, any error) leaves the whole file unread here, to be read
//! the other way, which gives the error texts.
//!
//! Like CoreDNS's `Parse`, reading stops at the first SOA when its serial
//! is the one given (a reload that has nothing new).

use super::tree::{push_key, MAX_KEY};
use super::zone::Loading;
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// What reading made of a file.
pub(crate) enum Read {
    /// The zone's records.
    Zone(Box<Loading>),
    /// The first SOA carries the serial given.
    NoChange,
    /// Not read: the file is for hickory's parser.
    Unread,
}

/// A token: its text (a quoted string's without the quotes), whether it
/// was quoted, whether it is inside parentheses.
#[derive(Clone, Copy)]
struct Tok<'a> {
    s: &'a str,
    quoted: bool,
    paren: bool,
}

/// A byte of an unquoted token.
fn token_byte(b: u8) -> bool {
    (0x21..=0x7E).contains(&b) && !matches!(b, b';' | b'(' | b')' | b'"' | b'\\')
}

/// Where a token may end: what hickory's lexer ends it with, and no
/// character it would read on as part of the token.
fn boundary(b: Option<&u8>) -> bool {
    matches!(b, None | Some(b' ' | b'\t' | b'\n' | b';' | b')'))
}

/// The next entry's tokens (a line, or lines joined by parentheses) from
/// `*i` on, and whether it starts with blank space; None for what this
/// reader leaves to hickory's parser.
fn entry<'a>(text: &'a str, i: &mut usize, toks: &mut Vec<Tok<'a>>) -> Option<bool> {
    let b = text.as_bytes();
    toks.clear();
    let blank = matches!(b.get(*i), Some(b' ' | b'\t'));
    let mut paren = false;
    while let Some(&c) = b.get(*i) {
        match c {
            b'\n' => {
                *i += 1;
                if !paren {
                    break;
                }
            }
            b' ' | b'\t' => *i += 1,
            b';' => {
                while b.get(*i).is_some_and(|c| *c != b'\n') {
                    *i += 1;
                }
            }
            b'(' if !paren => {
                paren = true;
                *i += 1;
            }
            b')' if paren => {
                paren = false;
                *i += 1;
            }
            // hickory's lexer keeps the quotes of a string in parentheses.
            b'"' if !paren => {
                let start = *i + 1;
                let len = b[start..]
                    .iter()
                    .position(|c| matches!(c, b'"' | b'\\' | b'\n'))?;
                if b[start + len] != b'"' || !boundary(b.get(start + len + 1)) {
                    return None;
                }
                toks.push(Tok {
                    s: &text[start..start + len],
                    quoted: true,
                    paren: false,
                });
                *i = start + len + 1;
            }
            c if token_byte(c) => {
                let start = *i;
                while b.get(*i).is_some_and(|c| token_byte(*c)) {
                    *i += 1;
                }
                if !boundary(b.get(*i)) {
                    return None;
                }
                toks.push(Tok {
                    s: &text[start..*i],
                    quoted: false,
                    paren,
                });
            }
            _ => return None,
        }
    }
    (!paren).then_some(blank)
}

/// The key of an owner name written with letters, digits and hyphens only
/// (a `*` label first allowed), which hickory's name parser reads as
/// those labels lowercased; None for any other (hickory's parser reads
/// it).
fn plain_owner(
    s: &str,
    origin_key: &[u8],
    origin_wire_len: usize,
    out: &mut Vec<u8>,
) -> Option<()> {
    let (rel, fqdn) = match s.strip_suffix('.') {
        Some(r) => (r, true),
        None => (s, false),
    };
    if rel.is_empty() {
        return None;
    }
    let mut wire_len = if fqdn { 1 } else { origin_wire_len };
    for (i, l) in rel.split('.').enumerate() {
        let plain = l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let ok = (1..=63).contains(&l.len())
            && (plain || (i == 0 && l == "*"))
            && !l.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("xn--"));
        if !ok {
            return None;
        }
        wire_len += l.len() + 1;
    }
    if wire_len > 255 {
        return None;
    }
    out.clear();
    if !fqdn {
        out.extend_from_slice(origin_key);
    }
    push_key(rel.split('.').map(str::as_bytes), out);
    Some(())
}

/// The uncompressed wire form of a fully qualified name, lowercased when
/// asked, onto `out`.
fn push_wire(n: &Name, lower: bool, out: &mut Vec<u8>) -> Option<()> {
    if !n.is_fqdn() {
        return None;
    }
    for l in n.iter() {
        out.push(l.len() as u8);
        if lower {
            out.extend(l.iter().map(u8::to_ascii_lowercase));
        } else {
            out.extend_from_slice(l);
        }
    }
    out.push(0);
    Some(())
}

/// The length of a name in wire form.
fn wire_len(n: &Name) -> usize {
    n.iter().map(|l| l.len() + 1).sum::<usize>() + 1
}

/// The types read here.
const TYPES: [(&str, RecordType); 8] = [
    ("A", RecordType::A),
    ("AAAA", RecordType::AAAA),
    ("NS", RecordType::NS),
    ("CNAME", RecordType::CNAME),
    ("PTR", RecordType::PTR),
    ("MX", RecordType::MX),
    ("TXT", RecordType::TXT),
    ("SOA", RecordType::SOA),
];

/// hickory's SOA data from its tokens (`SOA::from_tokens`).
fn soa(t: &[Tok<'_>], origin: &Name) -> Option<SOA> {
    let name = |i: usize| Name::parse(t.get(i)?.s, Some(origin)).ok();
    let num = |i: usize| parse_ttl(t.get(i)?.s).ok();
    let signed = |i: usize| num(i).and_then(|v| i32::try_from(v).ok());
    Some(SOA::new(
        name(0)?,
        name(1)?,
        num(2)?,
        signed(3)?,
        signed(4)?,
        signed(5)?,
        num(6)?,
    ))
}

/// Reads `text`, a zone for `origin` (lowercased); see the module's doc.
/// With `serial` >= 0, a first SOA with that serial ends the reading.
pub(crate) fn read(text: &str, origin: &Name, serial: i64) -> Read {
    match read_all(text, origin, serial) {
        Some(r) => r,
        None => Read::Unread,
    }
}

fn read_all(text: &str, zone_origin: &Name, serial: i64) -> Option<Read> {
    let lines = text.bytes().filter(|b| *b == b'\n').count();
    let mut z = Loading::new(zone_origin, lines, true);
    let mut origin = zone_origin.clone();
    let zone_key = z.origin_key().to_vec();
    let mut origin_key = zone_key.clone();
    let mut origin_wire_len = wire_len(&origin);
    // The key of the records' owner (every owner this reader keeps is
    // lowercased, so its key is all the zone keeps of it).
    let mut owner = Vec::with_capacity(MAX_KEY);
    let mut has_owner = false;
    // miekg's TTL for a record without one, and whether `$TTL` set it.
    let mut default_ttl: Option<(u32, bool)> = None;
    let mut toks: Vec<Tok<'_>> = Vec::with_capacity(16);
    let mut data = Vec::with_capacity(512);
    let mut i = 0;
    while i < text.len() {
        let blank = entry(text, &mut i, &mut toks)?;
        let Some(first) = toks.first().copied() else {
            continue;
        };
        // hickory's lexer reads `$` and `@` at the start of a token as
        // directives and the origin: only where they are those.
        for (n, t) in toks.iter().enumerate() {
            let first_of_line = n == 0 && !blank;
            if !t.quoted
                && ((t.s.starts_with('$') && !first_of_line)
                    || (t.s.starts_with('@') && !(first_of_line && t.s == "@")))
            {
                return None;
            }
        }
        if !blank && !first.quoted && first.s.starts_with('$') {
            // Directives: as hickory reads them, on one line of their own.
            let &[_, arg] = toks.as_slice() else {
                return None;
            };
            if first.paren || arg.paren || arg.quoted {
                return None;
            }
            match first.s {
                "$ORIGIN" => {
                    let o = Name::parse(arg.s, None).ok().filter(Name::is_fqdn)?;
                    origin_key.clear();
                    push_key(o.iter(), &mut origin_key);
                    origin_wire_len = wire_len(&o);
                    origin = o;
                }
                "$TTL" => default_ttl = Some((parse_ttl(arg.s).ok()?, true)),
                _ => return None,
            }
            continue;
        }
        let mut at = 0;
        if !blank {
            if first.quoted || first.paren || toks.len() < 2 {
                return None;
            }
            if first.s == "@" {
                owner.clear();
                owner.extend_from_slice(&origin_key);
            } else if plain_owner(first.s, &origin_key, origin_wire_len, &mut owner).is_none() {
                let n = Name::parse(first.s, Some(&origin)).ok()?;
                owner.clear();
                push_key(n.iter(), &mut owner);
            }
            has_owner = true;
            at = 1;
        }
        if !has_owner {
            return None;
        }
        let owner_key = owner.as_slice();
        // [TTL] [CLASS] TYPE, TTL and class in either order.
        let (mut ttl, mut class) = (None, false);
        let rtype = loop {
            let t = toks.get(at)?;
            at += 1;
            if t.quoted || t.paren {
                return None;
            }
            if t.s.as_bytes()[0].is_ascii_digit() {
                ttl = Some(parse_ttl(t.s).ok()?);
            } else if t.s.eq_ignore_ascii_case("IN") {
                class = true;
            } else {
                break TYPES.iter().find(|(n, _)| n.eq_ignore_ascii_case(t.s))?.1;
            }
        };
        let ttl = match ttl {
            Some(v) => {
                if !default_ttl.is_some_and(|(_, directive)| directive) {
                    default_ttl = Some((v, false));
                }
                v
            }
            None => match default_ttl {
                Some((v, _)) => v,
                None if class => 0,
                // hickory's parser has no TTL for it either.
                None => return None,
            },
        };
        let rdata = &toks[at..];
        if rdata.iter().any(|t| t.quoted && t.paren) {
            return None;
        }
        // Tokens left over are miekg's `garbage after rdata`: the error
        // comes from the other way.
        let fields = match rtype {
            RecordType::MX => 2,
            RecordType::SOA => 7,
            RecordType::TXT => rdata.len(),
            _ => 1,
        };
        if rdata.len() != fields {
            return None;
        }
        let arg = |i: usize| rdata.get(i).map(|t| t.s);
        let name = |i: usize| Name::parse(arg(i)?, Some(&origin)).ok();
        data.clear();
        match rtype {
            RecordType::A => data.extend_from_slice(&Ipv4Addr::from_str(arg(0)?).ok()?.octets()),
            RecordType::AAAA => data.extend_from_slice(&Ipv6Addr::from_str(arg(0)?).ok()?.octets()),
            // CoreDNS lowercases the names of CNAME and NS data, not PTR's.
            RecordType::CNAME | RecordType::PTR => {
                push_wire(&name(0)?, rtype == RecordType::CNAME, &mut data)?
            }
            RecordType::NS => {
                let target = name(0)?;
                if owner_key == zone_key {
                    let owner = super::tree::name_of_key(owner_key);
                    let r = Record::from_rdata(owner, ttl, RData::NS(NS(target)));
                    z.insert(r).ok()?;
                    continue;
                }
                push_wire(&target, true, &mut data)?;
            }
            RecordType::MX => {
                let pref: u16 = arg(0)?.parse().ok()?;
                data.extend_from_slice(&pref.to_be_bytes());
                push_wire(&name(1)?, true, &mut data)?;
            }
            RecordType::TXT => {
                for t in rdata {
                    data.push(u8::try_from(t.s.len()).ok()?);
                    data.extend_from_slice(t.s.as_bytes());
                }
            }
            RecordType::SOA => {
                // One SOA, at the origin: anything else is hickory's.
                if z.has_soa() || owner_key != zone_key {
                    return None;
                }
                let soa = soa(rdata, &origin)?;
                if serial >= 0 && i64::from(soa.serial) == serial {
                    return Some(Read::NoChange);
                }
                let owner = super::tree::name_of_key(owner_key);
                z.insert(Record::from_rdata(owner, ttl, RData::SOA(soa)))
                    .ok()?;
                continue;
            }
            _ => return None,
        }
        if data.len() > usize::from(u16::MAX) {
            return None;
        }
        z.push_compact(owner_key, u16::from(rtype), ttl, &data);
    }
    Some(Read::Zone(Box::new(z)))
}

#[cfg(test)]
mod tests {
    use super::super::zone::{LoadError, Zone};
    use super::*;
    use rand::{Rng, SeedableRng};
    use std::fmt::Write as _;
    use std::path::Path;

    fn origin() -> Name {
        Name::from_ascii("example.org.").unwrap()
    }

    /// Everything a zone holds, as text: the SOA, the apex NS, each node
    /// with its name and its records by type.
    fn dump(z: &Zone) -> String {
        let mut s = format!("soa {:?}\nns {:?}\n", z.soa, z.ns);
        for n in z.tree.nodes() {
            let _ = writeln!(s, "node {:?} {} empty {}", n.key(), n.name(), n.is_empty());
            for t in n.types() {
                let _ = writeln!(s, "  {t} {:?}", n.get(t));
            }
        }
        s
    }

    /// The zone as this reader makes it, or None when it leaves the text
    /// to hickory's parser.
    fn fast(text: &str) -> Option<String> {
        match read(text, &origin(), -1) {
            Read::Zone(z) => Some(dump(&z.finish())),
            Read::NoChange => panic!("no serial asked"),
            Read::Unread => None,
        }
    }

    /// The zone as hickory's parser (and raw.rs) make it.
    fn slow(text: &str) -> Result<String, LoadError> {
        let z = Zone::parse_hickory(text, &origin(), Path::new("db"), -1)?;
        Ok(dump(&z.finish()))
    }

    /// Whether the reader read `text`; when it did, the zone must be the
    /// one hickory's parser makes.
    fn same(text: &str) -> bool {
        let Some(f) = fast(text) else {
            return false;
        };
        match slow(text) {
            Ok(s) => assert_eq!(f, s, "{text}"),
            Err(e) => panic!("read here, but hickory's parser fails ({e}):\n{text}"),
        }
        true
    }

    const SOA: &str = "@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n";

    #[test]
    fn reads_what_operators_write_as_hickory_does() {
        for text in [
            "$ORIGIN example.org.\n$TTL 3600\n@ IN SOA ns1 hostmaster (\n  2024010101 ; serial\n  7200 3600 1209600 300 )\n  IN NS ns1\n  IN NS ns2.example.org.\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.2\n  IN AAAA 2001:db8::2\n  IN MX 10 mail\n  IN TXT \"v=spf1 -all\" more \"\"\nmail 60 IN A 192.0.2.3\nc IN CNAME www\n*.w IN A 192.0.2.4\n",
            // TTLs as miekg fills them in: the last given, no $TTL.
            "@ 60 IN SOA ns hm 1 2 3 4 5\nns 600 IN A 192.0.2.1\nwww IN A 192.0.2.2\n  AAAA ::1\n$TTL 120\nb 30 A 192.0.2.5\nc IN 7 A 192.0.2.6\nd A 192.0.2.7\n",
            // A class without a TTL to inherit: 0.
            "@ IN SOA ns hm 1 2 3 4 5\nwww IN A 192.0.2.2\n",
            // Units, case, tabs, absolute names, names outside the zone.
            "$TTL 1h\n@\tin\tsoa\tNS.Example.ORG. HM.example.org. 1 2h 1h 1w 5m\n@ IN ns NS\nWWW 1D in a 192.0.2.9\nx.other. IN A 192.0.2.10\nPtr IN PTR Host.Example.org.\nmx IN MX 5 Mail.EXAMPLE.org.\n",
            // Duplicates: the first kept (its TTL); the last CNAME.
            "@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\n@ 90 IN NS NS\na 60 IN A 192.0.2.1\na 90 IN A 192.0.2.1\na 60 IN A 192.0.2.2\nc 60 IN CNAME x\nc 60 IN CNAME y\nt 60 IN TXT a\nt 60 IN TXT \"a\"\nm 60 IN MX 1 A\nm 60 IN MX 1 a\n",
            // Records before the SOA, $ORIGIN changes, owners kept across them.
            "www 60 IN A 192.0.2.1\n$ORIGIN sub.example.org.\nhost 60 IN A 192.0.2.2\n  60 IN AAAA 2001:db8::1\n$ORIGIN example.org.\n@ 60 IN SOA ns hm 1 2 3 4 5\ndeep.er.ent 60 IN A 192.0.2.3\n",
            // An apex with records of its own, CRLF-free comments.
            "@ 60 IN SOA ns hm 1 2 3 4 5 ; soa\n; a comment\n\n   \n@ 60 IN A 192.0.2.1 ; here\n@ 60 IN MX 10 @\n",
            "@ 60 IN SOA ns hm ( 1 2\n 3 4 5 )\nx 60 IN TXT ( a b )\n",
            // Quoted strings are taken byte for byte.
            "@ 60 IN SOA ns hm 1 2 3 4 5\nt 60 IN TXT \"é\tx;y(\"\n",
        ] {
            let ok = same(text);
            // Only `MX 10 @` is hickory's (its lexer reads `@` there).
            assert_eq!(ok, !text.contains("MX 10 @"), "{text}");
        }
    }

    #[test]
    fn leaves_the_rest_to_hickory() {
        for body in [
            "$INCLUDE other.db\n",
            "$GENERATE 1-3 h$ A 192.0.2.$\n",
            "$ttl 60\n",
            "a\\.b 60 IN A 192.0.2.1\n",
            "s 60 IN SRV 0 5 5060 x\n",
            "d 60 IN DS 1 8 2 00\n",
            "c 60 CH TXT x\n",
            "t 60 IN TXT ( \"a\" )\n",
            "a 60 IN A 192.0.2.1\r\n",
            "a 60 IN A 192.0.2.1 )\n",
            "a 60 IN A ( 192.0.2.1\n",
            "a 60 IN A 999.0.2.1\n",
            "a_b 60 IN A 192.0.2.1\n",
            "a 60 IN TXT \"x\"y\n",
            "a 60 IN TYPE1 \\# 4 c0000201\n",
            "sub 60 IN SOA ns hm 1 2 3 4 5\n",
            "@ 60 IN SOA ns hm 1 2 3 4 5\n",
            "a 60 IN MX x y\n",
            "a 1x IN A 192.0.2.1\n",
            // miekg's `garbage after rdata`: the error comes from the other way.
            "a 60 IN A 192.0.2.1 extra\n",
            "m 60 IN MX 1 mail extra\n",
        ] {
            let text = format!("{SOA}{body}");
            assert!(fast(&text).is_none(), "{text}");
        }
        // No owner to inherit.
        assert!(fast(&format!("  60 IN A 192.0.2.1\n{SOA}")).is_none());
    }

    #[test]
    fn a_reload_with_the_same_serial_stops_at_the_soa() {
        let text = format!("{SOA}a 60 IN A 192.0.2.1\n");
        assert!(matches!(read(&text, &origin(), 1), Read::NoChange));
        assert!(matches!(read(&text, &origin(), 2), Read::Zone(_)));
        // What comes after the SOA is not read.
        let bad = format!("{SOA}a 60 IN A 999.0.2.1\n");
        assert!(matches!(read(&bad, &origin(), 1), Read::NoChange));
    }

    /// Zones put together at random from the pieces above: whatever the
    /// reader reads is what hickory's parser makes of it.
    #[test]
    fn random_zones_read_as_hickory_reads_them() {
        let owners = [
            "@",
            "www",
            "WWW",
            "a.b",
            "*.w",
            "x.example.org.",
            "Mail",
            "c",
            "ns1",
        ];
        let head = ["", "60 ", "IN ", "60 IN ", "IN 60 ", "1h IN ", "in ", "0 "];
        let data = [
            "A 192.0.2.1",
            "A 192.0.2.2",
            "a 192.0.2.1",
            "AAAA 2001:db8::1",
            "AAAA ::ffff:192.0.2.1",
            "TXT \"hello world\"",
            "TXT a b \"\"",
            "TXT ( x y\n z )",
            "MX 10 mail",
            "MX 10 Mail.example.org.",
            "CNAME www",
            "CNAME Target.example.net.",
            "NS ns1",
            "NS NS2.example.org.",
            "PTR Host",
        ];
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let mut read_some = 0;
        for _ in 0..400 {
            let mut text = String::new();
            if rng.random_bool(0.5) {
                text.push_str("$TTL 300\n");
            }
            let soa_at = rng.random_range(0..6);
            for i in 0..12 {
                if i == soa_at {
                    text.push_str(SOA);
                }
                if rng.random_bool(0.1) {
                    text.push_str("$ORIGIN sub.example.org.\n");
                }
                if rng.random_bool(0.1) {
                    text.push_str("$ORIGIN example.org.\n");
                }
                let owner = if i > 0 && rng.random_bool(0.3) {
                    " "
                } else {
                    owners[rng.random_range(0..owners.len())]
                };
                let h = head[rng.random_range(0..head.len())];
                let d = data[rng.random_range(0..data.len())];
                let _ = writeln!(text, "{owner} {h}{d}");
            }
            if same(&text) {
                read_some += 1;
            }
        }
        assert!(read_some > 200, "only {read_some} of 400 read here");
    }
}
