//! Record types hickory's zone parser cannot read in this build (it has no
//! DNSSEC support and no DNAME): DS, CDS, DNSKEY, CDNSKEY, RRSIG, NSEC,
//! DNAME and RFC 3597 `TYPEnnn \# ...` records. Before parsing, each one's
//! type and data are swapped for a TXT placeholder, so hickory still does
//! owner, TTL and class inheritance; afterwards the placeholders become
//! opaque records of the real type, their data encoded here.

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use std::str::FromStr;

/// Why a swapped-out record's data cannot be read; `Display` is the text
/// the zone's load error carries.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RawError {
    #[error("missing data in {0} record")]
    Missing(RecordType),
    #[error("bad RRSIG type {0}")]
    RrsigType(String),
    #[error("bad NSEC type {0}")]
    NsecType(String),
    /// RFC 3597 data that does not start with `\#`.
    #[error("bad {0} data: expected \\#")]
    Unknown(RecordType),
    /// RFC 3597 data whose length is not the one given.
    #[error("bad {0} data length")]
    UnknownLength(RecordType),
    #[error("bad name {name}: {err}")]
    Name {
        name: String,
        err: hickory_proto::ProtoError,
    },
    #[error("bad number {0}")]
    Number(String),
    #[error("bad algorithm {0}")]
    Algorithm(String),
    #[error("bad RRSIG time {0}")]
    SigTime(String),
    #[error("bad hex {0}")]
    Hex(String),
    #[error("bad base64 {0}")]
    Base64(String),
}

/// One swapped-out record: its type, data tokens and the `$ORIGIN` in force.
pub(crate) struct Raw {
    rtype: RecordType,
    origin: Name,
    tokens: Vec<String>,
}

/// The text with placeholders, and what they stand for.
pub(crate) struct Rewritten {
    pub text: String,
    /// Placeholder TXT strings are `marker` followed by the index in `raws`.
    pub marker: String,
    pub raws: Vec<Raw>,
}

struct Tok {
    start: usize,
    text: String,
    quoted: bool,
    /// Parenthesis depth where the token starts.
    depth: u32,
}

struct Entry {
    /// The line starts with blank space: no owner.
    blank: bool,
    toks: Vec<Tok>,
    /// Where the entry ends (its closing newline, or the end of the text).
    end: usize,
}

fn entries(text: &str) -> Vec<Entry> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0u32;
    let mut cur = Entry {
        blank: b.first().is_some_and(|c| *c == b' ' || *c == b'\t'),
        toks: Vec::new(),
        end: 0,
    };
    while i < b.len() {
        match b[i] {
            b'\n' => {
                i += 1;
                if depth == 0 {
                    cur.end = i - 1;
                    let next = Entry {
                        blank: b.get(i).is_some_and(|c| *c == b' ' || *c == b'\t'),
                        toks: Vec::new(),
                        end: 0,
                    };
                    out.push(std::mem::replace(&mut cur, next));
                }
            }
            b';' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b' ' | b'\t' | b'\r' => i += 1,
            b'(' => {
                depth += 1;
                i += 1;
            }
            b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'"' => {
                let start = i;
                i += 1;
                let mut s = Vec::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        s.push(b[i]);
                        i += 1;
                    }
                    s.push(b[i]);
                    i += 1;
                }
                i = (i + 1).min(b.len());
                cur.toks.push(Tok {
                    start,
                    text: String::from_utf8_lossy(&s).into_owned(),
                    quoted: true,
                    depth,
                });
            }
            _ => {
                let start = i;
                while i < b.len() && !b" \t\r\n;()\"".contains(&b[i]) {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    i += 1;
                }
                cur.toks.push(Tok {
                    start,
                    text: text[start..i].to_string(),
                    quoted: false,
                    depth,
                });
            }
        }
    }
    cur.end = b.len();
    out.push(cur);
    out
}

/// The types swapped out, by mnemonic (`TYPEnnn` included).
fn raw_type(t: &str) -> Option<RecordType> {
    let up = t.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix("TYPE") {
        return n.parse::<u16>().ok().map(RecordType::from);
    }
    match up.as_str() {
        "DS" | "CDS" | "DNSKEY" | "CDNSKEY" | "RRSIG" | "NSEC" | "DNAME" => {
            RecordType::from_str(&up).ok()
        }
        _ => None,
    }
}

/// Swaps out the records hickory cannot parse, and spells out the TTLs a
/// record leaves out as miekg fills them in: the `$TTL` directive's, else
/// the last TTL a record gave; a record that names its class but has no
/// TTL to inherit gets 0 (miekg's zero value), one that names neither is
/// left to fail. None when there is nothing to change.
pub(crate) fn rewrite(text: &str, origin: &Name) -> Option<Rewritten> {
    let marker = format!("ferrodns-raw-{:016x}-", rand::random::<u64>());
    let mut origin = origin.clone();
    let mut raws = Vec::new();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    // miekg's default TTL: the value, and whether `$TTL` set it.
    let mut default_ttl: Option<(u32, bool)> = None;
    let mut changed = false;
    for e in entries(text) {
        let Some(first) = e.toks.first() else {
            continue;
        };
        if !e.blank && !first.quoted && first.text.starts_with('$') {
            if first.text.eq_ignore_ascii_case("$ORIGIN") {
                if let Some(o) = e.toks.get(1).and_then(|t| Name::parse(&t.text, None).ok()) {
                    origin = o;
                }
            } else if first.text.eq_ignore_ascii_case("$TTL") {
                if let Some(ttl) = e.toks.get(1).and_then(|t| parse_ttl(&t.text).ok()) {
                    default_ttl = Some((ttl, true));
                }
            }
            continue;
        }
        let at = usize::from(!e.blank);
        let mut i = at;
        let (mut ttl, mut class) = (None, false);
        while let Some(t) = e.toks.get(i) {
            if t.quoted {
                break;
            }
            if let Ok(v) = parse_ttl(&t.text) {
                ttl = Some(v);
            } else if DNSClass::from_str(&t.text.to_ascii_uppercase()).is_ok() {
                class = true;
            } else {
                break;
            }
            i += 1;
        }
        let Some(t) = e.toks.get(i) else { continue };
        match ttl {
            Some(v) => {
                if !default_ttl.is_some_and(|(_, directive)| directive) {
                    default_ttl = Some((v, false));
                }
            }
            None => {
                let fill = match default_ttl {
                    Some((v, _)) => Some(v),
                    None if class => Some(0),
                    None => None,
                };
                if let (Some(v), Some(before)) = (fill, e.toks.get(at)) {
                    out.push_str(&text[copied..before.start]);
                    out.push_str(&format!("{v} "));
                    copied = before.start;
                    changed = true;
                }
            }
        }
        if t.quoted || t.depth > 0 {
            continue;
        }
        let Some(rtype) = raw_type(&t.text) else {
            continue;
        };
        out.push_str(&text[copied..t.start]);
        out.push_str(&format!("TXT \"{marker}{}\"", raws.len()));
        copied = e.end;
        raws.push(Raw {
            rtype,
            origin: origin.clone(),
            tokens: e.toks[i + 1..].iter().map(|t| t.text.clone()).collect(),
        });
    }
    if raws.is_empty() && !changed {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(Rewritten {
        text: out,
        marker,
        raws,
    })
}

impl Rewritten {
    /// The swapped-out record a placeholder stands for.
    pub fn raw_of(&self, r: &Record) -> Option<&Raw> {
        let RData::TXT(t) = &r.data else { return None };
        let [s] = &*t.txt_data else { return None };
        let n: usize = std::str::from_utf8(s)
            .ok()?
            .strip_prefix(&self.marker)?
            .parse()
            .ok()?;
        self.raws.get(n)
    }
}

impl Raw {
    /// The type an RRSIG covers.
    pub fn covered(&self) -> Option<RecordType> {
        if self.rtype != RecordType::RRSIG {
            return None;
        }
        self.tokens
            .first()
            .and_then(|t| type_code(t))
            .map(RecordType::from)
    }

    /// The record data, or why it cannot be read.
    pub fn rdata(&self) -> Result<RData, RawError> {
        let mut w: Vec<u8> = Vec::new();
        let t = &self.tokens;
        let arg = |i: usize| {
            t.get(i)
                .map(String::as_str)
                .ok_or(RawError::Missing(self.rtype))
        };
        let rest = |i: usize| t.get(i..).unwrap_or_default().concat();
        match self.rtype {
            RecordType::DS | RecordType::CDS => {
                w.extend(num::<u16>(arg(0)?)?.to_be_bytes());
                w.push(algorithm(arg(1)?)?);
                w.push(num::<u8>(arg(2)?)?);
                w.extend(hex(&rest(3))?);
            }
            RecordType::DNSKEY | RecordType::CDNSKEY => {
                w.extend(num::<u16>(arg(0)?)?.to_be_bytes());
                w.push(num::<u8>(arg(1)?)?);
                w.push(algorithm(arg(2)?)?);
                w.extend(base64(&rest(3))?);
            }
            RecordType::RRSIG => {
                let covered = type_code(arg(0)?)
                    .ok_or_else(|| RawError::RrsigType(arg(0).unwrap_or("").to_string()))?;
                w.extend(covered.to_be_bytes());
                w.push(algorithm(arg(1)?)?);
                w.push(num::<u8>(arg(2)?)?);
                w.extend(num::<u32>(arg(3)?)?.to_be_bytes());
                w.extend(sig_time(arg(4)?)?.to_be_bytes());
                w.extend(sig_time(arg(5)?)?.to_be_bytes());
                w.extend(num::<u16>(arg(6)?)?.to_be_bytes());
                self.name(arg(7)?, &mut w)?;
                w.extend(base64(&rest(8))?);
            }
            RecordType::NSEC => {
                self.name(arg(0)?, &mut w)?;
                let mut types = Vec::new();
                for x in t.iter().skip(1) {
                    types.push(type_code(x).ok_or_else(|| RawError::NsecType(x.clone()))?);
                }
                w.extend(type_bitmap(types));
            }
            RecordType::DNAME => self.name(arg(0)?, &mut w)?,
            _ => {
                // RFC 3597: \# LENGTH HEX
                if arg(0)? != "\\#" {
                    return Err(RawError::Unknown(self.rtype));
                }
                let len = num::<usize>(arg(1)?)?;
                w = hex(&rest(2))?;
                if w.len() != len {
                    return Err(RawError::UnknownLength(self.rtype));
                }
            }
        }
        // `\# 0` is empty data; hickory's `NULL::with` asserts (in debug
        // builds) that it is given some.
        let rdata = if w.is_empty() {
            NULL::new()
        } else {
            NULL::with(w)
        };
        Ok(RData::Unknown {
            code: self.rtype,
            rdata,
        })
    }

    fn name(&self, s: &str, w: &mut Vec<u8>) -> Result<(), RawError> {
        let n = Name::parse(s, Some(&self.origin)).map_err(|err| RawError::Name {
            name: s.to_string(),
            err,
        })?;
        for l in n.iter() {
            w.push(l.len() as u8);
            w.extend_from_slice(l);
        }
        w.push(0);
        Ok(())
    }
}

fn num<T: FromStr>(s: &str) -> Result<T, RawError> {
    s.parse().map_err(|_| RawError::Number(s.to_string()))
}

fn algorithm(s: &str) -> Result<u8, RawError> {
    if let Ok(n) = s.parse() {
        return Ok(n);
    }
    Ok(match s.to_ascii_uppercase().as_str() {
        "RSAMD5" => 1,
        "DH" => 2,
        "DSA" => 3,
        "RSASHA1" => 5,
        "DSA-NSEC3-SHA1" => 6,
        "RSASHA1-NSEC3-SHA1" => 7,
        "RSASHA256" => 8,
        "RSASHA512" => 10,
        "ECC-GOST" => 12,
        "ECDSAP256SHA256" => 13,
        "ECDSAP384SHA384" => 14,
        "ED25519" => 15,
        "ED448" => 16,
        "INDIRECT" => 252,
        "PRIVATEDNS" => 253,
        "PRIVATEOID" => 254,
        _ => return Err(RawError::Algorithm(s.to_string())),
    })
}

fn type_code(s: &str) -> Option<u16> {
    let up = s.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix("TYPE") {
        return n.parse().ok();
    }
    RecordType::from_str(&up).ok().map(u16::from)
}

/// RRSIG times: YYYYMMDDHHmmSS (UTC) or seconds.
fn sig_time(s: &str) -> Result<u32, RawError> {
    let bad = || RawError::SigTime(s.to_string());
    // Byte offsets below: only ASCII may be sliced at them.
    if s.len() != 14 || !s.is_ascii() {
        return s.parse().map_err(|_| bad());
    }
    let f = |a: usize, b: usize| s[a..b].parse::<i64>().map_err(|_| bad());
    let (y, mo, d, h, mi, se) = (
        f(0, 4)?,
        f(4, 6)?,
        f(6, 8)?,
        f(8, 10)?,
        f(10, 12)?,
        f(12, 14)?,
    );
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    // Serial number arithmetic: the value modulo 2^32.
    Ok(secs.rem_euclid(1 << 32) as u32)
}

fn hex(s: &str) -> Result<Vec<u8>, RawError> {
    if s == "-" {
        return Ok(Vec::new());
    }
    // Byte offsets below: only ASCII may be sliced at them.
    if s.len() % 2 != 0 || !s.is_ascii() {
        return Err(RawError::Hex(s.to_string()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| RawError::Hex(s.to_string())))
        .collect()
}

fn base64(s: &str) -> Result<Vec<u8>, RawError> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return Err(RawError::Base64(s.to_string())),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Ok(out)
}

/// RFC 4034 section 4.1.2 type bit maps.
fn type_bitmap(mut types: Vec<u16>) -> Vec<u8> {
    types.sort_unstable();
    types.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < types.len() {
        let window = types[i] >> 8;
        let mut map = [0u8; 32];
        let mut len = 0;
        while i < types.len() && types[i] >> 8 == window {
            let low = (types[i] & 0xff) as usize;
            map[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        out.push(window as u8);
        out.push(len as u8);
        out.extend_from_slice(&map[..len]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_what_hickory_lacks() {
        let o = Name::from_ascii("example.org.").unwrap();
        let text = "$ORIGIN example.org.\n@ 60 IN SOA ns hm 1 2 3 4 5\nsub 60 IN DS 12345 8 2 ( 0011\n 2233 ) ; c\n  IN A 192.0.2.1\n";
        let r = rewrite(text, &o).unwrap();
        assert_eq!(r.raws.len(), 1);
        assert_eq!(
            r.text,
            format!("$ORIGIN example.org.\n@ 60 IN SOA ns hm 1 2 3 4 5\nsub 60 IN TXT \"{}0\"\n  60 IN A 192.0.2.1\n", r.marker)
        );
        let RData::Unknown { code, rdata } = r.raws[0].rdata().unwrap() else {
            panic!()
        };
        assert_eq!(code, RecordType::DS);
        assert_eq!(rdata.anything, &[0x30, 0x39, 8, 2, 0x00, 0x11, 0x22, 0x33]);
        assert!(rewrite("@ 60 IN SOA ns hm 1 2 3 4 5\n", &o).is_none());
    }

    #[test]
    fn ttls_as_miekg_fills_them_in() {
        let o = Name::from_ascii("example.org.").unwrap();
        let text = "@ IN SOA ns hm 1 2 3 4 5\nns 600 IN A 192.0.2.1\nwww IN A 192.0.2.2\n  AAAA ::1\n$TTL 120\nb 30 A 192.0.2.5\nc IN 7 A 192.0.2.6\nd A 192.0.2.7\n";
        let r = rewrite(text, &o).unwrap();
        assert!(r.raws.is_empty());
        assert_eq!(
            r.text,
            "@ 0 IN SOA ns hm 1 2 3 4 5\nns 600 IN A 192.0.2.1\nwww 600 IN A 192.0.2.2\n  600 AAAA ::1\n$TTL 120\nb 30 A 192.0.2.5\nc IN 7 A 192.0.2.6\nd 120 A 192.0.2.7\n"
        );
        // No TTL, no class, nothing to inherit: left for the parser to refuse.
        assert!(rewrite("www A 192.0.2.1\n", &o).is_none());
        assert!(rewrite("www 60 IN A 192.0.2.1\nmail 5 A 192.0.2.2\n", &o).is_none());
    }

    #[test]
    fn encodes() {
        let o = Name::from_ascii("example.org.").unwrap();
        let raw = |t: RecordType, toks: &str| Raw {
            rtype: t,
            origin: o.clone(),
            tokens: toks.split_whitespace().map(String::from).collect(),
        };
        let d = |r: Raw| match r.rdata().unwrap() {
            RData::Unknown { rdata, .. } => rdata.anything.clone(),
            _ => panic!(),
        };
        assert_eq!(
            d(raw(RecordType::DNAME, "x")),
            b"\x01x\x07example\x03org\x00"
        );
        assert_eq!(
            d(raw(RecordType::NSEC, "b.example.org. A MX RRSIG NSEC")),
            [
                b"\x01b\x07example\x03org\x00".as_slice(),
                &[0, 6, 0x40, 0x01, 0, 0, 0, 0x03]
            ]
            .concat()
        );
        assert_eq!(
            d(raw(RecordType::DNSKEY, "257 3 8 AQID")),
            vec![1, 1, 3, 8, 1, 2, 3]
        );
        assert_eq!(sig_time("19700101000010").unwrap(), 10);
        assert_eq!(sig_time("20160428190224").unwrap(), 1_461_870_144);
        let r = raw(
            RecordType::RRSIG,
            "SOA 8 2 1800 20160428190224 20160329190224 14460 example.org. AQID",
        );
        assert_eq!(r.covered(), Some(RecordType::SOA));
        assert_eq!(d(r).len(), 18 + 13 + 3);
        assert_eq!(
            d(raw(RecordType::from(65534), "\\# 2 abcd")),
            vec![0xab, 0xcd]
        );
        assert!(raw(RecordType::DS, "1 8").rdata().is_err());
    }

    /// Found by the zone_file fuzz target: `TYPEnnn \# 0` (RFC 3597 empty
    /// data) tripped hickory's debug assertion in `NULL::with`.
    #[test]
    fn empty_rfc3597_data() {
        let o = Name::from_ascii("example.org.").unwrap();
        let r = Raw {
            rtype: RecordType::from(65000),
            origin: o.clone(),
            tokens: vec!["\\#".into(), "0".into()],
        };
        let RData::Unknown { code, rdata } = r.rdata().unwrap() else {
            panic!()
        };
        assert_eq!(code, RecordType::from(65000));
        assert!(rdata.anything.is_empty());
        let text = "@ 60 IN SOA ns hm 1 2 3 4 5\n@ 60 IN NS ns\nempty 60 IN TYPE65000 \\# 0\n";
        let z = super::super::Zone::parse(text, &o, std::path::Path::new("db.test"), -1).unwrap();
        assert_eq!(z.serial(), Some(1));
    }

    /// Found by the zone_file fuzz target: hex and RRSIG time tokens with
    /// multi-byte characters were sliced at byte offsets inside them.
    #[test]
    fn non_ascii_data_is_an_error() {
        assert!(hex("0\u{e9}0").is_err());
        assert!(hex("\u{fffd}0").is_err());
        assert!(sig_time("20161\u{e9}4281900").is_err());
        let o = Name::from_ascii("example.org.").unwrap();
        for text in [
            "@ 60 IN SOA ns hm 1 2 3 4 5\nx 60 IN TYPE65000 \\# 2 a\u{e9}a\n",
            "@ 60 IN SOA ns hm 1 2 3 4 5\nx 60 IN DS 1 8 2 \u{fffd}0\n",
            "@ 60 IN SOA ns hm 1 2 3 4 5\nx 60 IN RRSIG A 8 3 60 20301\u{e9}0100000 20200101000000 1 example.org. AQID\n",
        ] {
            let e = super::super::Zone::parse(text, &o, std::path::Path::new("db.test"), -1);
            assert!(e.is_err(), "{text:?}");
        }
    }

    /// The texts of the data errors, as zone load errors carry them.
    #[test]
    fn error_texts() {
        let o = Name::from_ascii("example.org.").unwrap();
        let err = |t: RecordType, toks: &str| {
            Raw {
                rtype: t,
                origin: o.clone(),
                tokens: toks.split_whitespace().map(String::from).collect(),
            }
            .rdata()
            .unwrap_err()
            .to_string()
        };
        let t65534 = RecordType::from(65534);
        let bad_name = Name::parse("a..b", Some(&o)).unwrap_err();
        for (got, want) in [
            (
                err(RecordType::DS, "1 8"),
                "missing data in DS record".to_string(),
            ),
            (
                err(RecordType::RRSIG, "BOGUS 8"),
                "bad RRSIG type BOGUS".into(),
            ),
            (
                err(RecordType::NSEC, "x. A BOGUS"),
                "bad NSEC type BOGUS".into(),
            ),
            (err(t65534, "x"), "bad Unknown data: expected \\#".into()),
            (err(t65534, "\\# 3 abcd"), "bad Unknown data length".into()),
            (
                err(RecordType::DNAME, "a..b"),
                format!("bad name a..b: {bad_name}"),
            ),
            (err(RecordType::DS, "x 8 2 00"), "bad number x".into()),
            (
                err(RecordType::DS, "1 BOGUS 2 00"),
                "bad algorithm BOGUS".into(),
            ),
            (
                err(
                    RecordType::RRSIG,
                    "A 8 2 60 2016x428190224 20160329190224 1 x. AQID",
                ),
                "bad RRSIG time 2016x428190224".into(),
            ),
            (err(RecordType::DS, "1 8 2 0"), "bad hex 0".into()),
            (
                err(RecordType::DNSKEY, "257 3 8 !!"),
                "bad base64 !!".into(),
            ),
        ] {
            assert_eq!(got, want);
        }
    }
}
