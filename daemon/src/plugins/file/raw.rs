//! Record types hickory's zone parser cannot read in this build (it has no
//! DNSSEC support, no DNAME, SPF, LOC or URI, and lacks many older types):
//! DS, CDS, DNSKEY, CDNSKEY, RRSIG, NSEC, DNAME, SPF, LOC, URI, the types of
//! [`MIEKG_TYPES`] and RFC 3597 `TYPEnnn \# ...` records.
//! Before parsing, each one's type and data are swapped for a TXT
//! placeholder, so hickory still does owner, TTL and class inheritance;
//! afterwards the placeholders become opaque records of the real type, their
//! data encoded here as miekg encodes it. `$GENERATE` directives are
//! expanded here too, as miekg expands them.

use super::labels::{self, Labels};
use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::parse_ttl;
use std::str::FromStr;
use std::sync::Arc;

/// Why a swapped-out record's data cannot be read; `Display` is the text
/// the zone's load error carries.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RawError {
    /// Hex data miekg reads but could not pack in an answer.
    #[error("bad hex {0}")]
    Hex(String),
    /// Base64 data miekg reads but could not pack in an answer.
    #[error("bad base64 {0}")]
    Base64(String),
    /// miekg's own words for a record it cannot read, and the index of
    /// the data token it read last (see [`Raw::locate`]).
    #[error("{0}")]
    Miekg(&'static str, usize),
    /// miekg's own words about the record as a whole, at the blank after
    /// its type (see [`Raw::locate`]).
    #[error("{0}")]
    MiekgBlank(&'static str),
    /// miekg's own words at the quote that opens data token `i`.
    #[error("{0}")]
    MiekgQuote(&'static str, usize),
    /// A record without data that is not its file's last.
    #[error("unexpected newline")]
    MiekgNewline,
    /// miekg's own words at the first token of the next line.
    #[error("{0}")]
    MiekgAfter(&'static str),
    /// miekg's ParseError text: the file, its words, the token it read
    /// last, quoted, and where that token ends.
    #[error("{file}: dns: {what}: {token} at line: {line}:{column}")]
    At {
        file: String,
        what: std::borrow::Cow<'static, str>,
        token: String,
        line: usize,
        column: usize,
    },
}

/// One swapped-out record: its type, data tokens and the `$ORIGIN` in force.
pub(crate) struct Raw {
    rtype: RecordType,
    origin: Name,
    tokens: Vec<String>,
    /// Which tokens were quoted: miekg reads a quote as a token of its own.
    quoted: Vec<bool>,
    /// Where each token starts (line, column): a quote's place.
    starts: Vec<(usize, usize)>,
    /// Where the type's mnemonic ends: miekg's errors that name no token
    /// of the data name the blank after it.
    type_at: (usize, usize),
    /// The first token of the line after the record's, if that line has
    /// one, and where it ends: IPSECKEY's parser reads past the record's
    /// end and takes it for garbage.
    after: Option<(String, usize, usize)>,
    /// Nothing but the line's end follows the record in its file.
    last: bool,
    /// Where each token ends (line, column), and where the entry ends, for
    /// miekg's errors.
    at: Vec<(usize, usize)>,
    end: (usize, usize),
    /// The file it is in.
    file: Arc<str>,
}

/// The text with placeholders, and what they stand for.
pub(crate) struct Rewritten {
    pub text: String,
    /// Placeholder TXT strings are `marker` followed by the index in `raws`.
    pub marker: String,
    pub raws: Vec<Raw>,
    /// The labels of names swapped for markers hickory reads.
    pub labels: Labels,
}

struct Tok {
    start: usize,
    text: String,
    quoted: bool,
    /// Parenthesis depth where the token starts.
    depth: u32,
    /// The line it is on (from 1) and the column just past its end, as
    /// miekg's errors give them.
    line: usize,
    end_col: usize,
    /// The column it starts at (its opening quote, if quoted).
    col: usize,
}

struct Entry {
    /// The line starts with blank space: no owner.
    blank: bool,
    toks: Vec<Tok>,
    /// Where the entry ends (its closing newline, or the end of the text).
    end: usize,
}

/// miekg's column for a token ending before byte `i`: the column of the
/// blank after it, or of its last character when a newline follows.
fn end_col(b: &[u8], i: usize, line_start: usize) -> usize {
    if b.get(i).is_none_or(|c| *c == b'\n') {
        i - line_start
    } else {
        i - line_start + 1
    }
}

fn entries(text: &str) -> Vec<Entry> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth = 0u32;
    let (mut line, mut line_start) = (1usize, 0usize);
    let mut cur = Entry {
        blank: b.first().is_some_and(|c| *c == b' ' || *c == b'\t'),
        toks: Vec::new(),
        end: 0,
    };
    while i < b.len() {
        match b[i] {
            b'\n' => {
                i += 1;
                line += 1;
                line_start = i;
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
                    line,
                    end_col: end_col(b, i, line_start),
                    col: start - line_start + 1,
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
                    line,
                    end_col: end_col(b, i, line_start),
                    col: start - line_start + 1,
                });
            }
        }
    }
    cur.end = b.len();
    out.push(cur);
    out
}

const SPF: u16 = 99;
const LOC: u16 = 29;
const URI: u16 = 256;

/// miekg's words for bad data of type `$t`: `ds` for the fields of DS-like
/// types, `key` for those of DNSKEY-like ones.
macro_rules! words {
    (ds $t:literal) => {
        words!($t: "KeyTag", "Algorithm", "DigestType", "Digest")
    };
    (key $t:literal) => {
        words!($t: "Flags", "Protocol", "Algorithm", "PublicKey")
    };
    ($t:literal: $($f:literal),+) => {
        [$(concat!("bad ", $t, " ", $f)),+]
    };
}

/// The other types miekg reads and hickory does not, by mnemonic (their
/// codes are `wire::mnemonics`'); their data is read by [`Raw::typed`].
const MIEKG_TYPES: &[&str] = &[
    "MB",
    "MG",
    "MR",
    "NULL",
    "MINFO",
    "RP",
    "AFSDB",
    "X25",
    "ISDN",
    "RT",
    "KEY",
    "GPOS",
    "KX",
    "APL",
    "IPSECKEY",
    "DHCID",
    "NSEC3",
    "NSEC3PARAM",
    "HIP",
    "ZONEMD",
    "NID",
    "L32",
    "L64",
    "LP",
    "EUI48",
    "EUI64",
    "AMTRELAY",
    "TA",
];

/// The types hickory reads whose data [`diagnose`] reads as miekg does, for
/// its error texts.
const CHECKED: &[&str] = &[
    "A", "AAAA", "NS", "CNAME", "PTR", "MX", "SOA", "SRV", "SSHFP", "TLSA", "CAA",
];

/// The types swapped out, by mnemonic (`TYPEnnn` included).
fn raw_type(t: &str, check: bool) -> Option<RecordType> {
    let up = t.to_ascii_uppercase();
    if check && CHECKED.contains(&up.as_str()) {
        return RecordType::from_str(&up).ok();
    }
    if let Some(n) = up.strip_prefix("TYPE") {
        return n.parse::<u16>().ok().map(RecordType::from);
    }
    match up.as_str() {
        "DS" | "CDS" | "DNSKEY" | "CDNSKEY" | "RRSIG" | "NSEC" | "DNAME" => {
            RecordType::from_str(&up).ok()
        }
        "SPF" => Some(RecordType::Unknown(SPF)),
        "LOC" => Some(RecordType::Unknown(LOC)),
        "URI" => Some(RecordType::Unknown(URI)),
        _ if MIEKG_TYPES.contains(&up.as_str()) => {
            crate::wire::mnemonics::type_from_str(&up).map(RecordType::from)
        }
        _ => None,
    }
}

/// Swaps out the records hickory cannot parse, expands `$GENERATE`, and
/// spells out the TTLs a record leaves out as miekg fills them in: the
/// `$TTL` directive's, else the last TTL a record gave; a record that names
/// its class but has no TTL to inherit gets 0 (miekg's zero value), one
/// that names neither is left to fail. None when there is nothing to
/// change; an error for a `$GENERATE` miekg refuses (`file` names the zone
/// file in it).
pub(crate) fn rewrite(
    text: &str,
    origin: &Name,
    file: &str,
) -> Result<Option<Rewritten>, RawError> {
    rewriter(text, origin, file, false)
}

/// miekg's error for a file hickory's parser refused, if miekg refuses it
/// too: the first record, in the file's order, whose data miekg cannot
/// read (the types of [`CHECKED`] read as miekg reads them as well).
pub(crate) fn diagnose(text: &str, origin: &Name, file: &str) -> Option<RawError> {
    let r = match rewriter(text, origin, file, true) {
        Err(e) => return Some(e),
        Ok(r) => r?,
    };
    r.raws
        .iter()
        .find_map(|raw| raw.rdata().err().map(|e| raw.locate(e)))
}

fn rewriter(
    text: &str,
    origin: &Name,
    file: &str,
    check: bool,
) -> Result<Option<Rewritten>, RawError> {
    let mut r = Rewriter {
        check,
        labels: Labels::new(),
        marker: format!("ferrodns-raw-{:016x}-", rand::random::<u64>()),
        origin: origin.clone(),
        raws: Vec::new(),
        default_ttl: None,
        changed: false,
        file: Arc::from(file),
        depth: 0,
    };
    let mut out = String::with_capacity(text.len());
    r.run(text, &mut out, 0)?;
    if r.raws.is_empty() && !r.changed {
        return Ok(None);
    }
    Ok(Some(Rewritten {
        text: out,
        marker: r.marker,
        raws: r.raws,
        labels: r.labels,
    }))
}

struct Rewriter {
    /// Swap out the types of [`CHECKED`] too ([`diagnose`]).
    check: bool,
    labels: Labels,
    marker: String,
    origin: Name,
    raws: Vec<Raw>,
    /// miekg's default TTL: the value, and whether `$TTL` set it.
    default_ttl: Option<(u32, bool)>,
    changed: bool,
    /// The file being read (the zone file, or one it includes).
    file: Arc<str>,
    /// How deep in `$INCLUDE`s.
    depth: usize,
}

/// miekg's limit on nested `$INCLUDE`s.
const MAX_INCLUDE_DEPTH: usize = 7;

impl Rewriter {
    /// `$INCLUDE FILE [ORIGIN]` (tokens `toks`) read in place, as miekg
    /// reads it: the file relative to the including file's folder, with
    /// the origin given (else the current one) and the current default
    /// TTL, neither of which it changes for the lines after it. The text
    /// goes onto `out` between `$ORIGIN` lines, so that hickory reads it
    /// with its origin.
    fn include(&mut self, toks: &[Tok], out: &mut String, line0: usize) -> Result<(), RawError> {
        let at = |what: String, t: &Tok| RawError::At {
            file: self.file.to_string(),
            what: what.into(),
            token: crate::gocompat::quote::quote(&t.text),
            line: line0 + t.line,
            column: t.end_col,
        };
        let Some(name) = toks.get(1) else {
            return Err(at("expecting $INCLUDE value, not this...".into(), &toks[0]));
        };
        let mut origin = self.origin.clone();
        if let Some(o) = toks.get(2) {
            origin = labels::parse(&o.text, Some(&self.origin))
                .ok_or_else(|| at("bad origin name".into(), o))?;
        }
        if let Some(g) = toks.get(3) {
            return Err(at("garbage after $INCLUDE".into(), g));
        }
        if self.depth >= MAX_INCLUDE_DEPTH {
            return Err(at("too deeply nested $INCLUDE".into(), name));
        }
        let path = if name.text.starts_with('/') {
            name.text.clone()
        } else {
            let dir = match self.file.rfind('/') {
                Some(0) => "/",
                Some(i) => &self.file[..i],
                None => ".",
            };
            crate::gocompat::path::clean(&format!("{dir}/{}", name.text))
        };
        let text = std::fs::read(&path).map_err(|e| {
            let shown = if path != name.text {
                format!(" as `{path}'")
            } else {
                String::new()
            };
            let why = crate::gocompat::errno::path_error("open", std::path::Path::new(&path), &e);
            at(
                format!("failed to open `{}'{shown}: {why}", name.text),
                name,
            )
        })?;
        let text = String::from_utf8_lossy(&text).into_owned();
        let saved = (
            std::mem::replace(&mut self.origin, origin),
            self.default_ttl,
            std::mem::replace(&mut self.file, Arc::from(path.as_str())),
        );
        self.depth += 1;
        out.push_str(&format!("$ORIGIN {}\n", self.labels.text(&self.origin)));
        let done = self.run(&text, out, 0);
        self.depth -= 1;
        (self.origin, self.default_ttl, self.file) = saved;
        done?;
        out.push_str(&format!("\n$ORIGIN {}\n", self.labels.text(&self.origin)));
        Ok(())
    }

    /// `text` rewritten onto `out`; `line0` is the line `text` starts on
    /// (for `$GENERATE` errors).
    fn run(&mut self, text: &str, out: &mut String, line0: usize) -> Result<(), RawError> {
        let mut copied = 0;
        let mut pending = None;
        for e in entries(text) {
            if let (Some(k), Some(f)) = (pending.take(), e.toks.first()) {
                let raw: &mut Raw = &mut self.raws[k];
                raw.after = Some((f.text.clone(), line0 + f.line, f.end_col));
            }
            let Some(first) = e.toks.first() else {
                continue;
            };
            if !e.blank && !first.quoted && first.text.starts_with('$') {
                if first.text.eq_ignore_ascii_case("$INCLUDE") {
                    out.push_str(&text[copied..first.start]);
                    copied = e.end;
                    self.changed = true;
                    self.include(&e.toks, out, line0)?;
                } else if first.text.eq_ignore_ascii_case("$ORIGIN") {
                    if let Some(t) = e.toks.get(1) {
                        if let Some(o) = labels::parse(&t.text, None) {
                            self.origin = o;
                        }
                        self.swap_name(t, text, &mut copied, out);
                    }
                } else if first.text.eq_ignore_ascii_case("$TTL") {
                    if let Some(ttl) = e.toks.get(1).and_then(|t| parse_ttl(&t.text).ok()) {
                        self.default_ttl = Some((ttl, true));
                    }
                } else if first.text.eq_ignore_ascii_case("$GENERATE") {
                    let lines = generate(&e.toks).map_err(|(what, t, at)| {
                        // A modifier's error names the text from its `$`,
                        // counted from the range's end.
                        let (token, column) = match at {
                            Some((text, si)) => (text, t.end_col + si),
                            None => (t.text.clone(), t.end_col),
                        };
                        RawError::At {
                            file: self.file.to_string(),
                            what: what.into(),
                            token: crate::gocompat::quote::quote(&token),
                            line: line0 + t.line,
                            column,
                        }
                    })?;
                    out.push_str(&text[copied..first.start]);
                    copied = e.end;
                    self.changed = true;
                    // miekg reads the lines with a parser of their own,
                    // whose default TTL is its constant 3600 (not `$TTL`'s),
                    // and whose TTLs are not inherited after them.
                    let saved = self.default_ttl.replace((3600, false));
                    self.run(&lines, out, line0 + first.line - 1)?;
                    self.default_ttl = saved;
                }
                continue;
            }
            if !e.blank {
                self.swap_name(first, text, &mut copied, out);
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
                    if !self.default_ttl.is_some_and(|(_, directive)| directive) {
                        self.default_ttl = Some((v, false));
                    }
                }
                None => {
                    let fill = match self.default_ttl {
                        Some((v, _)) => Some(v),
                        None if class => Some(0),
                        None => None,
                    };
                    if let (Some(v), Some(before)) = (fill, e.toks.get(at)) {
                        out.push_str(&text[copied..before.start]);
                        out.push_str(&format!("{v} "));
                        copied = before.start;
                        self.changed = true;
                    }
                }
            }
            if t.quoted || t.depth > 0 {
                continue;
            }
            let Some(rtype) = raw_type(&t.text, self.check) else {
                // Names in the data of a type hickory reads.
                if let Ok(rt) = RecordType::from_str(&t.text.to_ascii_uppercase()) {
                    for k in labels::name_fields(rt) {
                        if let Some(n) = e.toks.get(i + 1 + k) {
                            self.swap_name(n, text, &mut copied, out);
                        }
                    }
                }
                continue;
            };
            out.push_str(&text[copied..t.start]);
            out.push_str(&format!("TXT \"{}{}\"", self.marker, self.raws.len()));
            copied = e.end;
            let data = &e.toks[i + 1..];
            let last = data.last().unwrap_or(t);
            pending = Some(self.raws.len());
            self.raws.push(Raw {
                rtype,
                origin: self.origin.clone(),
                tokens: data.iter().map(|t| t.text.clone()).collect(),
                quoted: data.iter().map(|t| t.quoted).collect(),
                starts: data.iter().map(|t| (line0 + t.line, t.col)).collect(),
                type_at: (line0 + t.line, t.end_col),
                after: None,
                last: e.end + 1 >= text.len(),
                at: data.iter().map(|t| (line0 + t.line, t.end_col)).collect(),
                end: (line0 + last.line, last.end_col),
                file: Arc::clone(&self.file),
            });
        }
        out.push_str(&text[copied..]);
        Ok(())
    }
}

impl Rewriter {
    /// Name token `t` onto `out` with the labels hickory would not read as
    /// miekg does swapped for markers, when it has some.
    fn swap_name(&mut self, t: &Tok, text: &str, copied: &mut usize, out: &mut String) {
        if t.quoted || t.start < *copied {
            return;
        }
        if let Some(s) = self.labels.swap(&t.text) {
            out.push_str(&text[*copied..t.start]);
            out.push_str(&s);
            *copied = t.start + t.text.len();
            self.changed = true;
        }
    }
}

/// The lines a `$GENERATE RANGE LHS [TTL] [CLASS] TYPE RHS` entry stands
/// for, as miekg makes them: the rest of the entry after the range, its
/// tokens joined by one space, read once per value of the range with
/// every `$` replaced by the value (`${OFFSET[,WIDTH[,BASE]]}` shifted and
/// formatted with Go's `%0WIDTHBASE`, `$$` and `\$` a plain `$`, `\\` a
/// backslash, any other escaped character dropped with its backslash).
/// An error gives miekg's words, the token it is about (the range) and,
/// for a modifier, the text from its `$` and the `$`'s place after it.
#[allow(clippy::type_complexity)]
fn generate(toks: &[Tok]) -> Result<String, (&'static str, &Tok, Option<(String, usize)>)> {
    let Some(range) = toks.get(1) else {
        return Err(("garbage after $GENERATE range", &toks[0], None));
    };
    let bad = |what| (what, range, None);
    let (span, step) = match range.text.split_once('/') {
        Some((span, step)) => {
            let s = step.parse::<i64>().ok().filter(|s| *s > 0);
            (span, s.ok_or_else(|| bad("bad step in $GENERATE range"))?)
        }
        None => (range.text.as_str(), 1),
    };
    let (a, b) = span
        .split_once('-')
        .ok_or_else(|| bad("bad start-stop in $GENERATE range"))?;
    let start: i64 = a.parse().map_err(|_| bad("bad start in $GENERATE range"))?;
    let end: i64 = b.parse().map_err(|_| bad("bad stop in $GENERATE range"))?;
    if end < 0 || start < 0 || end < start || (end - start) / step > 65535 {
        return Err(bad("bad range in $GENERATE range"));
    }
    let Some(rest) = toks.get(2..).filter(|r| !r.is_empty()) else {
        return Err(bad("garbage after $GENERATE range"));
    };
    let body: Vec<String> = rest
        .iter()
        .map(|t| {
            if t.quoted {
                format!("\"{}\"", t.text)
            } else {
                t.text.clone()
            }
        })
        .collect();
    let body = body.join(" ");
    let b = body.as_bytes();
    let mut out = String::new();
    let mut cur = start;
    while cur <= end {
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'\\' => {
                    match b.get(i + 1) {
                        Some(b'\\') => out.push('\\'),
                        Some(b'$') => out.push('$'),
                        _ => {}
                    }
                    i += 2;
                }
                b'$' if b.get(i + 1) == Some(&b'$') => {
                    out.push('$');
                    i += 2;
                }
                b'$' if b.get(i + 1) == Some(&b'{') => {
                    let at =
                        |what, to: usize| (what, range, Some((body[i..to].to_string(), i + 1)));
                    let Some(close) = body[i + 2..].find('}') else {
                        return Err(at("bad modifier in $GENERATE", body.len()));
                    };
                    let m =
                        modifier(&body[i + 2..i + 2 + close]).map_err(|w| at(w, i + 3 + close))?;
                    if start + m.offset < 0 || end + m.offset > (1 << 31) - 1 {
                        return Err(at("bad offset in $GENERATE", i + 3 + close));
                    }
                    out.push_str(&m.format(cur + m.offset));
                    i += 3 + close;
                }
                b'$' => {
                    out.push_str(&cur.to_string());
                    i += 1;
                }
                _ => {
                    // Whole UTF-8 sequences: a non-ASCII byte starts one.
                    let n = body[i..].chars().next().map_or(1, char::len_utf8);
                    out.push_str(&body[i..i + n]);
                    i += n;
                }
            }
        }
        out.push('\n');
        cur += step;
    }
    Ok(out)
}

/// A `${OFFSET,WIDTH,BASE}` modifier (miekg's `modToPrintf`).
struct Modifier {
    offset: i64,
    width: usize,
    base: u8,
}

impl Modifier {
    fn format(&self, v: i64) -> String {
        let w = self.width;
        match self.base {
            b'o' => format!("{v:0w$o}"),
            b'x' => format!("{v:0w$x}"),
            b'X' => format!("{v:0w$X}"),
            _ => format!("{v:0w$}"),
        }
    }
}

fn modifier(s: &str) -> Result<Modifier, &'static str> {
    let mut parts = s.splitn(4, ',');
    let off = parts.next().unwrap_or("");
    let width = parts.next().unwrap_or("0");
    let base = parts.next().unwrap_or("d");
    if parts.next().is_some() {
        return Err("bad modifier in $GENERATE");
    }
    let base = match base {
        "o" | "d" | "x" | "X" => base.as_bytes()[0],
        _ => return Err("bad base in $GENERATE"),
    };
    let offset = off.parse::<i64>().map_err(|_| "bad offset in $GENERATE")?;
    let width = width.parse::<u8>().map_err(|_| "bad width in $GENERATE")?;
    Ok(Modifier {
        offset,
        width: usize::from(width),
        base,
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
    /// An error of [`Raw::rdata`] as miekg words it: for its own words,
    /// the file, the token read last and where it ends.
    pub fn locate(&self, e: RawError) -> RawError {
        let (what, token, (line, column)) = match e {
            RawError::Miekg(what, i) => match self.tokens.get(i) {
                Some(t) => (what, t.as_str(), self.at[i]),
                // Past the file's end miekg names the blank after the type.
                None if self.last => (what, " ", self.type_at),
                None => (what, "", self.end),
            },
            RawError::MiekgBlank(what) => (what, " ", self.type_at),
            RawError::MiekgNewline => ("unexpected newline", "\n", self.end),
            RawError::MiekgQuote(what, i) => (what, "\"", self.starts[i]),
            RawError::MiekgAfter(what) => match &self.after {
                Some((t, line, column)) => (what, t.as_str(), (*line, *column)),
                None => (what, "", self.end),
            },
            e => return e,
        };
        RawError::At {
            file: self.file.to_string(),
            what: what.into(),
            token: crate::gocompat::quote::quote(token),
            line,
            column,
        }
    }

    /// The type an RRSIG covers.
    pub fn covered(&self) -> Option<RecordType> {
        if self.rtype != RecordType::RRSIG {
            return None;
        }
        self.tokens
            .first()
            .and_then(|t| covered_type(t))
            .map(RecordType::from)
    }

    /// The record data, or why it cannot be read.
    pub fn rdata(&self) -> Result<RData, RawError> {
        let mut w: Vec<u8> = Vec::new();
        let t = &self.tokens;
        // A record with no data is one for dynamic updates to miekg at the
        // end of its file; elsewhere a newline where the data should be.
        if t.is_empty() && !self.last {
            return Err(RawError::MiekgNewline);
        }
        let mut c = self.cursor();
        // RFC 3597's generic form is read for any type, as miekg reads it.
        let generic = t.first().is_some_and(|f| f == "\\#");
        match self.rtype {
            _ if generic => {
                c.next();
                // miekg's words for a bad length end in a blank.
                let len = c.uint(16, "bad RFC3597 Rdata ")? as usize;
                let at = c.i - 1;
                let data = c.ending("bad RFC3597 Rdata")?;
                if data.len() != 2 * len {
                    return Err(RawError::Miekg("bad RFC3597 Rdata", at));
                }
                w = hex(&data)?;
            }
            RecordType::Unknown(SPF) => {
                if t.is_empty() {
                    return Err(RawError::Miekg("bad SPF Txt", 0));
                }
                for s in t {
                    char_strings(s, &mut w);
                }
            }
            RecordType::Unknown(URI) => {
                let n = |i: usize, what| {
                    t.get(i)
                        .and_then(|s| s.parse::<u16>().ok())
                        .ok_or(RawError::Miekg(what, i))
                };
                w.extend(n(0, "bad URI Priority")?.to_be_bytes());
                w.extend(n(1, "bad URI Weight")?.to_be_bytes());
                let [target] = t.get(2..).unwrap_or_default() else {
                    return Err(RawError::Miekg("bad URI Target", 1));
                };
                w.extend(unescape(target));
            }
            RecordType::Unknown(LOC) => w = loc(t)?,
            RecordType::DS => w = ds(&mut c, words!(ds "DS"))?,
            RecordType::CDS => w = ds(&mut c, words!(ds "CDS"))?,
            RecordType::DNSKEY => w = dnskey(&mut c, words!(key "DNSKEY"))?,
            RecordType::CDNSKEY => w = dnskey(&mut c, words!(key "CDNSKEY"))?,
            RecordType::RRSIG => {
                let covered = covered_type(c.plain("bad RRSIG Typecovered")?);
                w.extend(
                    covered
                        .ok_or_else(|| c.err("bad RRSIG Typecovered"))?
                        .to_be_bytes(),
                );
                let a = c.plain("bad RRSIG Algorithm")?;
                // The mnemonic only in capitals, unlike DS's.
                let a = go_uint(a, 8)
                    .map(|v| v as u8)
                    .or_else(|| algorithm(a))
                    .ok_or_else(|| c.err("bad RRSIG Algorithm"))?;
                w.push(a);
                w.push(c.uint(8, "bad RRSIG Labels")? as u8);
                w.extend((c.uint(32, "bad RRSIG OrigTtl")? as u32).to_be_bytes());
                for what in ["bad RRSIG Expiration", "bad RRSIG Inception"] {
                    let s = c.plain(what)?;
                    let v = sig_time(s)
                        .or_else(|| go_uint(s, 32).map(|v| v as u32))
                        .ok_or_else(|| c.err(what))?;
                    w.extend(v.to_be_bytes());
                }
                w.extend((c.uint(16, "bad RRSIG KeyTag")? as u16).to_be_bytes());
                c.name(&self.origin, "bad RRSIG SignerName", &mut w)?;
                w.extend(base64(&c.ending("bad RRSIG Signature")?)?);
            }
            RecordType::NSEC => {
                c.name(&self.origin, "bad NSEC NextDomain", &mut w)?;
                w.extend(c.type_bitmap("bad NSEC TypeBitMap")?);
            }
            RecordType::DNAME => {
                c.name(&self.origin, "bad DNAME Target", &mut w)?;
                c.done()?;
            }
            _ if CHECKED
                .iter()
                .any(|n| RecordType::from_str(n).ok() == Some(self.rtype)) =>
            {
                w = self.checked()?;
            }
            _ if MIEKG_TYPES.iter().any(|n| {
                crate::wire::mnemonics::type_from_str(n) == Some(u16::from(self.rtype))
            }) =>
            {
                w = self.typed()?;
            }
            _ => return Err(RawError::Miekg("bad RFC3597 Rdata", 0)),
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
}

/// A TXT-style string as character-strings: escapes (`\X`, `\DDD`) read,
/// cut into pieces of 255 bytes as miekg cuts them.
fn char_strings(s: &str, w: &mut Vec<u8>) {
    let b = unescape(s);
    if b.is_empty() {
        w.push(0);
    }
    for piece in b.chunks(255) {
        w.push(piece.len() as u8);
        w.extend_from_slice(piece);
    }
}

/// Presentation escapes read: `\DDD` is the byte DDD, `\X` is X.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let d = &b[i + 1..(i + 4).min(b.len())];
            if d.len() == 3 && d.iter().all(u8::is_ascii_digit) {
                let v = d.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
                continue;
            }
            out.push(b[i + 1]);
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The tokens of a record's data read one by one, for miekg's errors,
/// which name the token read last.
struct Cursor<'a> {
    t: &'a [String],
    /// Which of `t` were quoted (none where shorter).
    q: &'a [bool],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let v = self.t.get(self.i).map(String::as_str);
        self.i += 1;
        v
    }

    /// miekg's error `what` at the token read last.
    fn err(&self, what: &'static str) -> RawError {
        RawError::Miekg(what, self.i.saturating_sub(1))
    }

    /// The next token, which must not be quoted (a quote is a token of
    /// its own to miekg, and no value of these fields).
    fn plain(&mut self, what: &'static str) -> Result<&'a str, RawError> {
        if self.q.get(self.i) == Some(&true) {
            return Err(RawError::MiekgQuote(what, self.i));
        }
        self.next().ok_or_else(|| self.err(what))
    }

    /// The next token as Go's `ParseUint(s, 10, bits)` reads it.
    fn uint(&mut self, bits: u32, what: &'static str) -> Result<u64, RawError> {
        let s = self.plain(what)?;
        go_uint(s, bits).ok_or_else(|| self.err(what))
    }

    /// The next token as a name (miekg's `toAbsoluteName`), onto `w` in
    /// wire form.
    fn name(&mut self, origin: &Name, what: &'static str, w: &mut Vec<u8>) -> Result<(), RawError> {
        // A quote is a name to miekg (`"` below the origin), and what was
        // quoted garbage after it.
        if self.q.get(self.i) == Some(&true) {
            return Err(RawError::Miekg("garbage after rdata", self.i));
        }
        let s = self.plain(what)?;
        let n = labels::parse(s, Some(origin)).ok_or_else(|| self.err(what))?;
        for l in n.iter() {
            w.push(l.len() as u8);
            w.extend_from_slice(l);
        }
        w.push(0);
        Ok(())
    }

    /// miekg's `endingToString`: the rest of the data, its tokens joined.
    fn ending(&mut self, what: &'static str) -> Result<String, RawError> {
        let mut s = String::new();
        while self.i < self.t.len() {
            if self.q.get(self.i) == Some(&true) {
                return Err(RawError::MiekgQuote(what, self.i));
            }
            s.push_str(self.next().unwrap_or_default());
        }
        Ok(s)
    }

    /// The rest of the data as NSEC's and NSEC3's type bit maps: types
    /// by mnemonic, else by the number after four characters.
    fn type_bitmap(&mut self, what: &'static str) -> Result<Vec<u8>, RawError> {
        let mut types = Vec::new();
        while self.i < self.t.len() {
            let x = self.plain(what)?;
            let code = crate::wire::mnemonics::type_from_str(&x.to_ascii_uppercase())
                .or_else(|| type_number(x));
            types.push(code.ok_or_else(|| self.err(what))?);
        }
        Ok(type_bitmap(types))
    }

    /// miekg's `slurpRemainder`: nothing may follow the data.
    fn done(&self) -> Result<(), RawError> {
        match self.t.get(self.i) {
            Some(_) => Err(RawError::Miekg("garbage after rdata", self.i)),
            None => Ok(()),
        }
    }

    /// An IPSECKEY or AMTRELAY gateway of type `kind` (miekg's
    /// `parseAddrHostUnion`, whose errors have no words of miekg's own),
    /// in wire form.
    fn gateway(
        &mut self,
        origin: &Name,
        kind: u8,
        what: &'static str,
    ) -> Result<Vec<u8>, RawError> {
        // A quote is the gateway to miekg: no address, nor `.`.
        if kind <= 2 && self.q.get(self.i) == Some(&true) {
            return Err(RawError::MiekgQuote("", self.i));
        }
        let s = self.plain(what)?;
        let mut w = Vec::new();
        match kind {
            0 if s != "." => return Err(self.err("")),
            1 | 2 => {
                let a: std::net::IpAddr = s.parse().map_err(|_| self.err(""))?;
                match (kind, a) {
                    (1, std::net::IpAddr::V4(a)) => w.extend(a.octets()),
                    // Go's IPv4 test takes an IPv4-mapped IPv6 address.
                    (1, std::net::IpAddr::V6(a)) if a.to_ipv4_mapped().is_some() => {
                        w.extend(a.to_ipv4_mapped().map(|a| a.octets()).unwrap_or_default())
                    }
                    (2, std::net::IpAddr::V6(a)) if a.to_ipv4_mapped().is_none() => {
                        w.extend(a.octets())
                    }
                    _ => return Err(self.err("")),
                }
            }
            3 => {
                self.i -= 1;
                self.name(origin, "", &mut w)?;
            }
            _ => {}
        }
        Ok(w)
    }

    /// One LOC coordinate: degrees (at most `max`), then minutes and
    /// seconds until the hemisphere letter (`pos` north or east of the
    /// equator or meridian, `neg` south or west). `what`: miekg's errors
    /// for the degrees, minutes, seconds and the letter.
    fn coord(
        &mut self,
        max: u64,
        pos: &str,
        neg: &str,
        what: [&'static str; 4],
    ) -> Result<u32, RawError> {
        const EQUATOR: u32 = 1 << 31;
        let d = self
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|d| *d <= max)
            .ok_or_else(|| self.err(what[0]))?;
        let mut v = 1000 * 60 * 60 * d as u32;
        let side = |s: &str, v: u32| {
            if s.eq_ignore_ascii_case(pos) {
                Some(EQUATOR.wrapping_add(v))
            } else if s.eq_ignore_ascii_case(neg) {
                Some(EQUATOR.wrapping_sub(v))
            } else {
                None
            }
        };
        let s = self.next().ok_or_else(|| self.err(what[1]))?;
        if let Some(v) = side(s, v) {
            return Ok(v);
        }
        let m = s
            .parse::<u64>()
            .ok()
            .filter(|m| *m <= 59)
            .ok_or_else(|| self.err(what[1]))?;
        v += 1000 * 60 * m as u32;
        let s = self.next().ok_or_else(|| self.err(what[2]))?;
        if let Some(v) = side(s, v) {
            return Ok(v);
        }
        let sec = s
            .parse::<f64>()
            .ok()
            .filter(|x| (0.0..60.0).contains(x))
            .ok_or_else(|| self.err(what[2]))?;
        v += (1000.0 * sec) as u32;
        let s = self.next().ok_or_else(|| self.err(what[3]))?;
        side(s, v).ok_or_else(|| self.err(what[3]))
    }
}

/// RFC 1876's LOC record from its presentation tokens, as miekg reads it:
/// `D [M [S]] N|S D [M [S]] E|W ALT[m] [SIZE[m] [HP[m] [VP[m]]]]`, with
/// miekg's defaults (1m, 10000m, 10m) and its error words.
fn loc(t: &[String]) -> Result<Vec<u8>, RawError> {
    let mut c = Cursor { t, q: &[], i: 0 };
    let lat = c.coord(
        90,
        "N",
        "S",
        [
            "bad LOC Latitude",
            "bad LOC Latitude minutes",
            "bad LOC Latitude seconds",
            "bad LOC Latitude North/South",
        ],
    )?;
    let lon = c.coord(
        180,
        "E",
        "W",
        [
            "bad LOC Longitude",
            "bad LOC Longitude minutes",
            "bad LOC Longitude seconds",
            "bad LOC Longitude East/West",
        ],
    )?;
    let alt = c
        .next()
        .map(|s| s.strip_suffix(['m', 'M']).unwrap_or(s))
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| c.err("bad LOC Altitude"))?;
    let alt = (alt * 100.0 + 10_000_000.0 + 0.5) as u32;
    let mut prec = [0x12u8, 0x16, 0x13];
    let words = ["bad LOC Size", "bad LOC HorizPre", "bad LOC VertPre"];
    for (k, p) in prec.iter_mut().enumerate() {
        let Some(s) = c.next() else { break };
        *p = cm_exponent(s).ok_or_else(|| c.err(words[k]))?;
    }
    if c.next().is_some() {
        return Err(c.err("bad LOC Size, HorizPre or VertPre"));
    }
    let mut w = vec![0, prec[0], prec[1], prec[2]];
    w.extend(lat.to_be_bytes());
    w.extend(lon.to_be_bytes());
    w.extend(alt.to_be_bytes());
    Ok(w)
}

/// A LOC size or precision in meters as RFC 1876's mantissa and exponent
/// of centimeters (miekg's `stringToCm`: a whole number of meters ignores
/// the centimeters after it; at most two decimals).
fn cm_exponent(s: &str) -> Option<u8> {
    let s = s.strip_suffix(['m', 'M']).unwrap_or(s);
    let (int, cm) = match s.split_once('.') {
        Some((i, c)) => {
            if c.len() > 2 {
                return None;
            }
            let v: u64 = c.parse().ok()?;
            (i, Some(if c.len() == 1 { v * 10 } else { v }))
        }
        None => (s, None),
    };
    let meters: u64 = if cm.is_none() || !int.is_empty() {
        int.parse().ok()?
    } else {
        0
    };
    let (mut e, mut v) = if meters > 0 {
        (2u8, meters)
    } else {
        (0, cm.unwrap_or(0))
    };
    while v >= 10 {
        e += 1;
        v /= 10;
    }
    (e <= 9).then_some(e | (v as u8) << 4)
}

/// A DNSSEC algorithm's mnemonic (miekg's `StringToAlgorithm`, exact).
fn algorithm(s: &str) -> Option<u8> {
    Some(match s {
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
        _ => return None,
    })
}

/// miekg's `typeToInt`: the number after the first four characters,
/// whatever they are.
fn type_number(s: &str) -> Option<u16> {
    s.get(4..).and_then(|n| go_uint(n, 16)).map(|v| v as u16)
}

/// The type an RRSIG names as covered, as miekg reads it.
fn covered_type(s: &str) -> Option<u16> {
    let up = s.to_ascii_uppercase();
    match crate::wire::mnemonics::type_from_str(&up) {
        Some(code) => Some(code),
        None if up.starts_with("TYPE") => type_number(s),
        None => None,
    }
}

/// An RRSIG time as YYYYMMDDHHmmSS (UTC), as miekg's `StringToTime`
/// reads it: a valid date and time, brought into 32 bits by RFC 1982
/// serial arithmetic as miekg does it.
fn sig_time(s: &str) -> Option<u32> {
    if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let f = |a: usize, b: usize| s[a..b].parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (
        f(0, 4)?,
        f(4, 6)?,
        f(6, 8)?,
        f(8, 10)?,
        f(10, 12)?,
        f(12, 14)?,
    );
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days_in = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || se > 59
    {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se;
    const YEAR68: i64 = 1 << 31;
    let m = (secs / YEAR68 - 1).max(0);
    Some((secs - m * YEAR68) as u32)
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

impl Raw {
    /// Its data tokens, to read one by one.
    fn cursor(&self) -> Cursor<'_> {
        Cursor {
            t: &self.tokens,
            q: &self.quoted,
            i: 0,
        }
    }

    /// The data of a type in [`CHECKED`] read as miekg's parser for it
    /// reads it, for its errors only (hickory reads the record).
    fn checked(&self) -> Result<Vec<u8>, RawError> {
        let mut c = self.cursor();
        let mut w = Vec::new();
        let o = &self.origin;
        match self.rtype {
            RecordType::A => {
                // Go's ParseIP, and no `:` (no IPv4-mapped IPv6 address).
                let s = c.plain("bad A A")?;
                if s.contains(':') || s.parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(c.err("bad A A"));
                }
            }
            RecordType::AAAA => {
                let s = c.plain("bad AAAA AAAA")?;
                if !s.contains(':') || s.parse::<std::net::IpAddr>().is_err() {
                    return Err(c.err("bad AAAA AAAA"));
                }
            }
            RecordType::NS => c.name(o, "bad NS Ns", &mut w)?,
            RecordType::CNAME => c.name(o, "bad CNAME Target", &mut w)?,
            RecordType::PTR => c.name(o, "bad PTR Ptr", &mut w)?,
            RecordType::MX => {
                c.uint(16, "bad MX Pref")?;
                c.name(o, "bad MX Mx", &mut w)?;
            }
            RecordType::SOA => {
                c.name(o, "bad SOA Ns", &mut w)?;
                c.name(o, "bad SOA Mbox", &mut w)?;
                const WHAT: &str = "bad SOA zone parameter";
                c.uint(32, WHAT)?;
                // The other four may be durations (`1h30m`).
                for _ in 0..4 {
                    let s = c.plain(WHAT)?;
                    if go_uint(s, 32).is_none() && string_to_ttl(s).is_none() {
                        return Err(c.err(WHAT));
                    }
                }
            }
            RecordType::SRV => {
                for what in ["bad SRV Priority", "bad SRV Weight", "bad SRV Port"] {
                    c.uint(16, what)?;
                }
                c.name(o, "bad SRV Target", &mut w)?;
            }
            RecordType::SSHFP | RecordType::TLSA => {
                let what: &[&'static str] = if self.rtype == RecordType::SSHFP {
                    &[
                        "bad SSHFP Algorithm",
                        "bad SSHFP Type",
                        "bad SSHFP Fingerprint",
                    ]
                } else {
                    &[
                        "bad TLSA Usage",
                        "bad TLSA Selector",
                        "bad TLSA MatchingType",
                        "bad TLSA Certificate",
                    ]
                };
                let (last, fields) = what.split_last().unwrap_or((&"", &[]));
                for f in fields {
                    c.uint(8, f)?;
                }
                // The rest is read as it is (hex is checked when packing).
                c.ending(last)?;
                return Ok(w);
            }
            RecordType::CAA => {
                c.uint(8, "bad CAA Flag")?;
                if c.q.get(c.i) == Some(&true) {
                    return Err(RawError::MiekgQuote("bad CAA Tag", c.i));
                }
                c.next().ok_or_else(|| c.err("bad CAA Tag"))?;
                // One string for the value, else the error names the tag.
                if self.tokens.len() != c.i + 1 {
                    return Err(RawError::Miekg("bad CAA Value", c.i - 1));
                }
                return Ok(w);
            }
            _ => {}
        }
        c.done()?;
        Ok(w)
    }

    /// The data of a type in [`MIEKG_TYPES`], read as miekg's parser for
    /// it reads it (scan_rr.go), encoded as miekg packs it: names
    /// uncompressed, as given (miekg lowercases none of them, nor does
    /// CoreDNS's file plugin for these types).
    fn typed(&self) -> Result<Vec<u8>, RawError> {
        let mut c = self.cursor();
        let mut w = Vec::new();
        let o = &self.origin;
        match u16::from(self.rtype) {
            7 => c.name(o, "bad MB Mb", &mut w)?,
            8 => c.name(o, "bad MG Mg", &mut w)?,
            9 => c.name(o, "bad MR Mr", &mut w)?,
            10 => {
                return Err(RawError::MiekgBlank(
                    "NULL records do not have a presentation format",
                ))
            }
            14 => {
                c.name(o, "bad MINFO Rmail", &mut w)?;
                c.name(o, "bad MINFO Email", &mut w)?;
            }
            17 => {
                c.name(o, "bad RP Mbox", &mut w)?;
                c.name(o, "bad RP Txt", &mut w)?;
            }
            18 => {
                w.extend((c.uint(16, "bad AFSDB Subtype")? as u16).to_be_bytes());
                c.name(o, "bad AFSDB Hostname", &mut w)?;
            }
            19 => {
                // A quote is a token of its own: the address read is `"`,
                // and what follows it is garbage.
                let s = c.next().unwrap_or_default();
                if c.q.first() == Some(&true) {
                    return Err(c.err("garbage after rdata"));
                }
                char_strings(s, &mut w);
            }
            20 => {
                let mut chunks: Vec<String> = c.t.to_vec();
                if let [one] = chunks.as_slice() {
                    let fields: Vec<String> = one.split_whitespace().map(String::from).collect();
                    chunks = if fields.len() > 1 {
                        fields
                    } else {
                        vec![one.clone(), String::new()]
                    };
                }
                if let Some((address, sub)) = chunks.split_first() {
                    char_strings(address, &mut w);
                    char_strings(&sub.join(" "), &mut w);
                }
                c.i = c.t.len();
            }
            21 => {
                w.extend((c.uint(16, "bad RT Preference")? as u16).to_be_bytes());
                c.name(o, "bad RT Host", &mut w)?;
            }
            25 => w = dnskey(&mut c, words!(key "KEY"))?,
            27 => {
                for what in [
                    "bad GPOS Longitude",
                    "bad GPOS Latitude",
                    "bad GPOS Altitude",
                ] {
                    let s = c.plain(what)?;
                    s.parse::<f64>().map_err(|_| c.err(what))?;
                    char_strings(s, &mut w);
                }
            }
            36 => {
                w.extend((c.uint(16, "bad KX Pref")? as u16).to_be_bytes());
                c.name(o, "bad KX Exchanger", &mut w)?;
            }
            42 => {
                while c.i < c.t.len() {
                    apl(&mut c, &mut w)?;
                }
            }
            45 => {
                w.push(c.uint(8, "bad IPSECKEY value")? as u8);
                let kind = c.uint(8, "bad IPSECKEY value")? as u8;
                w.push(kind);
                w.push(c.uint(8, "bad IPSECKEY value")? as u8);
                let gateway = c.gateway(o, kind, "bad IPSECKEY gateway")?;
                w.extend(gateway);
                w.extend(base64(&c.ending("bad IPSECKEY PublicKey")?)?);
                // miekg's parser reads the key to the end of the line, then
                // looks for the line's end once more: a record on the next
                // line is garbage to it (a blank line or the end of the
                // file is not).
                if self.after.is_some() {
                    return Err(RawError::MiekgAfter("garbage after rdata"));
                }
            }
            49 => w = base64(&c.ending("bad DHCID Digest")?)?,
            50 => {
                w.push(c.uint(8, "bad NSEC3 Hash")? as u8);
                w.push(c.uint(8, "bad NSEC3 Flags")? as u8);
                w.extend((c.uint(16, "bad NSEC3 Iterations")? as u16).to_be_bytes());
                let salt = c
                    .next()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| c.err("bad NSEC3 Salt"))?;
                salt_field(salt, &mut w);
                let next = c
                    .next()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| c.err("bad NSEC3 NextDomain"))?;
                // miekg's hash length is SHA-1's, whatever the hash given.
                w.push(20);
                w.extend(base32hex(next).unwrap_or_default());
                w.extend(c.type_bitmap("bad NSEC3 TypeBitMap")?);
            }
            51 => {
                w.push(c.uint(8, "bad NSEC3PARAM Hash")? as u8);
                w.push(c.uint(8, "bad NSEC3PARAM Flags")? as u8);
                w.extend((c.uint(16, "bad NSEC3PARAM Iterations")? as u16).to_be_bytes());
                // A quoted salt is `"` to miekg, and what was quoted garbage.
                if c.q.get(c.i) == Some(&true) {
                    return Err(RawError::Miekg("garbage after rdata", c.i));
                }
                salt_field(c.next().unwrap_or("-"), &mut w);
                c.done()?;
            }
            55 => {
                w.push(c.uint(8, "bad HIP PublicKeyAlgorithm")? as u8);
                let hit = c
                    .next()
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| c.err("bad HIP Hit"))?;
                // miekg decodes the HIT when it packs the record; a bad one
                // is refused here, when the zone loads.
                let hit_bytes = hex_digits(hit).map_err(|_| c.err("bad HIP Hit"))?;
                let key = c
                    .next()
                    .and_then(base64_strict)
                    .ok_or_else(|| c.err("bad HIP PublicKey"))?;
                let mut servers = Vec::new();
                while c.i < c.t.len() {
                    c.name(o, "bad HIP RendezvousServers", &mut servers)?;
                }
                w.insert(0, (hit.len() as u8) / 2);
                w.extend((key.len() as u16).to_be_bytes());
                w.extend(hit_bytes);
                w.extend(key);
                w.extend(servers);
                return Ok(w);
            }
            63 => {
                w.extend((c.uint(32, "bad ZONEMD Serial")? as u32).to_be_bytes());
                w.push(c.uint(8, "bad ZONEMD Scheme")? as u8);
                w.push(c.uint(8, "bad ZONEMD Hash Algorithm")? as u8);
                w.extend(hex_digits(&c.ending("bad ZONEMD Digest")?)?);
            }
            104 | 106 => {
                let what = if u16::from(self.rtype) == 104 {
                    "bad NID Preference"
                } else {
                    "bad L64 Preference"
                };
                w.extend((c.uint(16, what)? as u16).to_be_bytes());
                let id = c.plain("bad NID/L64 NodeID/Locator64")?;
                w.extend(node_id(id).ok_or_else(|| c.err("bad NID/L64 NodeID/Locator64"))?);
            }
            105 => {
                w.extend((c.uint(16, "bad L32 Preference")? as u16).to_be_bytes());
                let a = c.plain("bad L32 Locator")?;
                let a = a
                    .parse::<std::net::IpAddr>()
                    .map_err(|_| c.err("bad L32 Locator"))?;
                // miekg packs an IPv6 address that is no IPv4 one as four
                // zero bytes.
                w.extend(match a {
                    std::net::IpAddr::V4(a) => a.octets(),
                    std::net::IpAddr::V6(a) => a.to_ipv4_mapped().map_or([0; 4], |a| a.octets()),
                });
            }
            107 => {
                w.extend((c.uint(16, "bad LP Preference")? as u16).to_be_bytes());
                c.name(o, "bad LP Fqdn", &mut w)?;
            }
            108 => w.extend(eui(&mut c, 6, "bad EUI48 Address", "bad EUI48 Address")?),
            // miekg's words for EUI64's bad hex say EUI68.
            109 => w.extend(eui(&mut c, 8, "bad EUI64 Address", "bad EUI68 Address")?),
            260 => {
                w.push(c.uint(8, "bad AMTRELAY value")? as u8);
                let d = match c.next() {
                    Some("0") => 0,
                    Some("1") => 0x80,
                    _ => return Err(c.err("bad discovery value")),
                };
                let kind = d | c.uint(8, "bad AMTRELAY value")? as u8;
                w.push(kind);
                let gateway = c.gateway(o, kind & 0x7f, "bad AMTRELAY gateway")?;
                // miekg packs the gateway by the whole byte, discovery bit
                // included: with it set, no gateway is written.
                if kind & 0x80 == 0 {
                    w.extend(gateway);
                }
            }
            32768 => w = ds(&mut c, words!(ds "TA"))?,
            _ => return Err(RawError::Miekg("bad RFC3597 Rdata", 0)),
        }
        c.done()?;
        Ok(w)
    }
}

/// DS, CDS and TA data as miekg's `parseDS` reads it (key tag, algorithm
/// by number or mnemonic in any case, digest type, hex digest); `what`:
/// its words for each field.
fn ds(c: &mut Cursor<'_>, what: [&'static str; 4]) -> Result<Vec<u8>, RawError> {
    let [tag, alg, digest_type, digest] = what;
    let mut w = (c.uint(16, tag)? as u16).to_be_bytes().to_vec();
    let a = c.plain(alg)?;
    let a = go_uint(a, 8)
        .map(|v| v as u8)
        .or_else(|| algorithm(&a.to_ascii_uppercase()))
        .ok_or_else(|| c.err(alg))?;
    w.push(a);
    w.push(c.uint(8, digest_type)? as u8);
    w.extend(hex_digits(&c.ending(digest)?)?);
    Ok(w)
}

/// DNSKEY, CDNSKEY and KEY data as miekg's `parseDNSKEY` reads it (flags,
/// protocol, algorithm by number only, base64 key); `what`: its words for
/// each field.
fn dnskey(c: &mut Cursor<'_>, what: [&'static str; 4]) -> Result<Vec<u8>, RawError> {
    let [flags, protocol, alg, key] = what;
    let mut w = (c.uint(16, flags)? as u16).to_be_bytes().to_vec();
    w.push(c.uint(8, protocol)? as u8);
    w.push(c.uint(8, alg)? as u8);
    w.extend(base64(&c.ending(key)?)?);
    Ok(w)
}

/// miekg's `stringToTTL`: digits, each run followed by a unit (`s`, `m`,
/// `h`, `d`, `w`, either case) or by nothing at the end.
fn string_to_ttl(s: &str) -> Option<u32> {
    let (mut total, mut n) = (0u64, 0u64);
    for c in s.bytes() {
        let unit = match c.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86400,
            b'w' => 604800,
            b'0'..=b'9' => {
                n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                continue;
            }
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        n = 0;
    }
    u32::try_from(total.checked_add(n)?).ok()
}

/// Go's `strconv.ParseUint(s, 10, bits)`: decimal digits only.
fn go_uint(s: &str, bits: u32) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>()
        .ok()
        .filter(|v| bits >= 64 || *v < 1 << bits)
}

/// Hex digits, as Go decodes them (`-` is no data only where miekg says).
fn hex_digits(s: &str) -> Result<Vec<u8>, RawError> {
    match s {
        "-" => Err(RawError::Hex(s.to_string())),
        _ => hex(s),
    }
}

/// An NSEC3 or NSEC3PARAM salt: its length, then its bytes (`-`: none).
/// Bad hex is not an error: miekg decodes it only when it packs the
/// record, and these records never get that far (CoreDNS's file plugin
/// refuses a zone with them once they are read, as `Zone::insert` does);
/// the same holds for NSEC3's next hashed owner.
fn salt_field(s: &str, w: &mut Vec<u8>) {
    if s == "-" {
        w.push(0);
        return;
    }
    w.push((s.len() / 2) as u8);
    w.extend(hex(s).unwrap_or_default());
}

/// RFC 4648 base32 with the extended hex alphabet, unpadded, any case.
fn base32hex(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u64, 0);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c.to_ascii_uppercase() {
            d @ b'0'..=b'9' => d - b'0',
            l @ b'A'..=b'V' => l - b'A' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u64::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Go's `base64.StdEncoding.DecodeString`: padded to a multiple of four.
fn base64_strict(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    if s.is_empty() || s.len() % 4 != 0 || s.len() - body.len() > 2 || body.contains('=') {
        return None;
    }
    base64(s).ok()
}

/// NID's and L64's 64 bits, as miekg's `stringToNodeID` reads them: four
/// groups of four hex digits at fixed places (what follows is ignored).
fn node_id(s: &str) -> Option<[u8; 8]> {
    let b = s.as_bytes();
    if b.len() < 19 || (b[4] != b':' && b[9] != b':' && b[14] != b':') {
        return None;
    }
    let digits = [&b[0..4], &b[5..9], &b[10..14], &b[15..19]].concat();
    let digits = std::str::from_utf8(&digits).ok()?;
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok().map(u64::to_be_bytes)
}

/// EUI48 (`n` = 6) or EUI64 (8): bytes as hex pairs between dashes.
/// `shape`: miekg's words for a bad length or dash, `digits` for bad hex.
fn eui(
    c: &mut Cursor<'_>,
    n: usize,
    shape: &'static str,
    digits: &'static str,
) -> Result<Vec<u8>, RawError> {
    let s = c.plain(shape)?.as_bytes();
    if s.len() != 3 * n - 1 || (1..n).any(|k| s[3 * k - 1] != b'-') {
        return Err(c.err(shape));
    }
    (0..n)
        .map(|k| {
            std::str::from_utf8(&s[3 * k..3 * k + 2])
                .ok()
                .filter(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| c.err(digits))
        })
        .collect()
}

/// One APL item, `[!]AFI:ADDRESS/PREFIX`, as miekg reads and packs it:
/// family, prefix length, negation bit and length of the address bytes
/// the prefix covers, trailing zero bytes left out (RFC 3123). Errors
/// from Go's parsers have no words of miekg's own.
fn apl(c: &mut Cursor<'_>, w: &mut Vec<u8>) -> Result<(), RawError> {
    if c.q.get(c.i) == Some(&true) {
        return Err(RawError::MiekgQuote("unexpected APL field", c.i));
    }
    let s = c.next().unwrap_or_default();
    let (family, cidr) = s
        .split_once(':')
        .ok_or_else(|| c.err("missing colon in APL field"))?;
    let (neg, family) = match family.strip_prefix('!') {
        Some(f) => (true, f),
        None => (false, family),
    };
    let afi = go_uint(family, 16).ok_or_else(|| c.err(""))?;
    let len = match afi {
        1 => 4,
        2 => 16,
        _ => return Err(c.err("unrecognized APL family")),
    };
    let (addr, bits) = cidr.split_once('/').ok_or_else(|| c.err(""))?;
    let ip: std::net::IpAddr = addr.parse().map_err(|_| c.err(""))?;
    let octets = match ip {
        std::net::IpAddr::V4(a) => a.octets().to_vec(),
        std::net::IpAddr::V6(a) => a.octets().to_vec(),
    };
    let bits = go_uint(bits, 16)
        .filter(|b| *b as usize <= 8 * octets.len())
        .ok_or_else(|| c.err(""))? as usize;
    let masked: Vec<u8> = octets
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let keep = bits.saturating_sub(8 * k).min(8);
            b & (0xffu16 << (8 - keep)) as u8
        })
        .collect();
    if masked != octets {
        return Err(c.err("extra bits in APL address"));
    }
    if octets.len() != len {
        return Err(c.err("address mismatch with the APL family"));
    }
    let mut addr = masked[..bits.div_ceil(8)].to_vec();
    while addr.last() == Some(&0) {
        addr.pop();
    }
    w.extend((afi as u16).to_be_bytes());
    w.push(bits as u8);
    w.push(u8::from(neg) << 7 | addr.len() as u8);
    w.extend(addr);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Raw {
        /// A record of type `t` whose data is `toks` (split at blanks;
        /// a token in double quotes counts as quoted).
        fn of(t: RecordType, origin: &Name, toks: &str) -> Raw {
            let words: Vec<&str> = toks.split_whitespace().collect();
            Raw {
                rtype: t,
                origin: origin.clone(),
                tokens: words
                    .iter()
                    .map(|w| w.trim_matches('"').to_string())
                    .collect(),
                quoted: words.iter().map(|w| w.starts_with('"')).collect(),
                starts: (0..words.len()).map(|k| (1, k + 1)).collect(),
                type_at: (1, 1),
                after: None,
                last: false,
                at: (0..words.len()).map(|k| (1, k + 2)).collect(),
                end: (0, 0),
                file: Arc::from("db"),
            }
        }
    }

    #[test]
    fn rewrites_only_what_hickory_lacks() {
        let o = Name::from_ascii("example.org.").unwrap();
        let text = "$ORIGIN example.org.\n@ 60 IN SOA ns hm 1 2 3 4 5\nsub 60 IN DS 12345 8 2 ( 0011\n 2233 ) ; c\n  IN A 192.0.2.1\n";
        let r = rewrite(text, &o, "db").unwrap().unwrap();
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
        assert!(rewrite("@ 60 IN SOA ns hm 1 2 3 4 5\n", &o, "db")
            .unwrap()
            .is_none());
    }

    #[test]
    fn ttls_as_miekg_fills_them_in() {
        let o = Name::from_ascii("example.org.").unwrap();
        let text = "@ IN SOA ns hm 1 2 3 4 5\nns 600 IN A 192.0.2.1\nwww IN A 192.0.2.2\n  AAAA ::1\n$TTL 120\nb 30 A 192.0.2.5\nc IN 7 A 192.0.2.6\nd A 192.0.2.7\n";
        let r = rewrite(text, &o, "db").unwrap().unwrap();
        assert!(r.raws.is_empty());
        assert_eq!(
            r.text,
            "@ 0 IN SOA ns hm 1 2 3 4 5\nns 600 IN A 192.0.2.1\nwww 600 IN A 192.0.2.2\n  600 AAAA ::1\n$TTL 120\nb 30 A 192.0.2.5\nc IN 7 A 192.0.2.6\nd 120 A 192.0.2.7\n"
        );
        // No TTL, no class, nothing to inherit: left for the parser to refuse.
        assert!(rewrite("www A 192.0.2.1\n", &o, "db").unwrap().is_none());
        assert!(
            rewrite("www 60 IN A 192.0.2.1\nmail 5 A 192.0.2.2\n", &o, "db")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn encodes() {
        let o = Name::from_ascii("example.org.").unwrap();
        let raw = |t: RecordType, toks: &str| Raw::of(t, &o, toks);
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
        assert_eq!(sig_time("19700101000010"), Some(10));
        assert_eq!(sig_time("21060207062816"), Some(1 << 31));
        assert_eq!(sig_time("20160230000000"), None);
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
        let r = Raw::of(RecordType::from(65000), &o, "\\# 0");
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
        assert!(sig_time("20161\u{e9}4281900").is_none());
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

    /// The texts of the data errors, as zone load errors carry them: each
    /// as CoreDNS 1.14.7 gives it for the same line.
    #[test]
    fn error_texts() {
        let o = Name::from_ascii("example.org.").unwrap();
        for (line, want) in [
            (
                "s 60 IN DS 1 8 x 00",
                "bad DS DigestType: \"x\" at line: 2:17",
            ),
            ("s 60 IN DS x 8 2 00", "bad DS KeyTag: \"x\" at line: 2:13"),
            (
                "s 60 IN DS 1 bogus 2 00",
                "bad DS Algorithm: \"bogus\" at line: 2:19",
            ),
            (
                "s 60 IN CDS 1 8 2 \"00\"",
                "bad CDS Digest: \"\\\"\" at line: 2:19",
            ),
            (
                "s 60 IN DNSKEY 257 3 RSASHA256 AQID",
                "bad DNSKEY Algorithm: \"RSASHA256\" at line: 2:31",
            ),
            (
                "s 60 IN CDNSKEY 257 x 8 AQID",
                "bad CDNSKEY Protocol: \"x\" at line: 2:22",
            ),
            (
                "s 60 IN RRSIG BOGUS 8 2 60 20300101000000 20200101000000 1 example.org. AQID",
                "bad RRSIG Typecovered: \"BOGUS\" at line: 2:20",
            ),
            (
                "s 60 IN RRSIG A rsasha256 2 60 20300101000000 20200101000000 1 example.org. AQID",
                "bad RRSIG Algorithm: \"rsasha256\" at line: 2:26",
            ),
            (
                "s 60 IN RRSIG A 8 2 60 20300230000000 20200101000000 1 example.org. AQID",
                "bad RRSIG Expiration: \"20300230000000\" at line: 2:38",
            ),
            (
                "s 60 IN RRSIG A 8 2 60 20300101000000 20200101000000 1 a..b AQID",
                "bad RRSIG SignerName: \"a..b\" at line: 2:60",
            ),
            (
                "s 60 IN NSEC a..b A",
                "bad NSEC NextDomain: \"a..b\" at line: 2:18",
            ),
            (
                "s 60 IN NSEC next A BOGUS",
                "bad NSEC TypeBitMap: \"BOGUS\" at line: 2:25",
            ),
            (
                "s 60 IN DNAME a b",
                "garbage after rdata: \"b\" at line: 2:17",
            ),
            (
                "s 60 IN MB \"x\"",
                "garbage after rdata: \"x\" at line: 2:14",
            ),
            (
                "s 60 IN AFSDB \"1\" x",
                "bad AFSDB Subtype: \"\\\"\" at line: 2:15",
            ),
            (
                "s 60 IN TYPE65000 x",
                "bad RFC3597 Rdata: \"x\" at line: 2:19",
            ),
            (
                "s 60 IN TYPE65000 \\# 3 abcd",
                "bad RFC3597 Rdata: \"3\" at line: 2:23",
            ),
            (
                "s 60 IN TYPE65000 \\# x abcd",
                "bad RFC3597 Rdata : \"x\" at line: 2:23",
            ),
            (
                "s 60 IN MINFO\nx 60 IN A 192.0.2.1",
                "unexpected newline: \"\\n\" at line: 2:13",
            ),
            // Data missing on the file's last line.
            ("s 60 IN DS 1 8", "bad DS DigestType: \" \" at line: 2:11"),
        ] {
            let text = format!("@ 60 IN SOA ns hm 1 2 3 4 5\n{line}\n");
            let Err(e) = super::super::Zone::parse(&text, &o, std::path::Path::new("db"), -1)
            else {
                panic!("{line} loads");
            };
            let want = format!(
                "failed to parse file \"db\" for origin example.org. with error db: dns: {want}"
            );
            assert_eq!(e.to_string(), want, "{line}");
        }
        // Data that loads, as it does in CoreDNS.
        for line in [
            "s 60 IN DS 1 rsasha256 2 0011",
            "s 60 IN RRSIG A RSASHA256 2 60 4294967295 20200101000000 1 example.org. AQID",
            "s 60 IN NSEC next A XXXX99",
            "s 60 IN EUI48 \\# 6 00005e00532c",
        ] {
            let text = format!("@ 60 IN SOA ns hm 1 2 3 4 5\n{line}\n");
            let z = super::super::Zone::parse(&text, &o, std::path::Path::new("db"), -1);
            assert!(z.is_ok(), "{line}: {:?}", z.err().map(|e| e.to_string()));
        }
    }

    /// The types miekg reads and hickory does not, encoded as CoreDNS
    /// 1.14.7 answers them (checked with kdig against it).
    #[test]
    fn miekg_types_encode() {
        let o = Name::from_ascii("example.org.").unwrap();
        let d = |t: u16, toks: &str| match Raw::of(RecordType::from(t), &o, toks).rdata() {
            Ok(RData::Unknown { rdata, .. }) => rdata.anything.clone(),
            other => panic!("{t} {toks}: {other:?}"),
        };
        let hx = |s: &str| hex(s).unwrap();
        assert_eq!(d(7, "Box"), hx("03426F78076578616D706C65036F726700"));
        assert_eq!(
            d(14, "rm @"),
            [
                b"\x02rm\x07example\x03org\x00".as_slice(),
                b"\x07example\x03org\x00"
            ]
            .concat()
        );
        assert_eq!(d(18, "1 A.b."), b"\x00\x01\x01A\x01b\x00");
        assert_eq!(d(19, "311061700956"), hx("0C333131303631373030393536"));
        assert_eq!(d(20, "\"1508 003\""), hx("043135303803303033"));
        assert_eq!(d(20, "\"1508\""), b"\x041508\x00");
        assert_eq!(d(25, "256 3 8 AQ ID"), [1, 0, 3, 8, 1, 2, 3]);
        assert_eq!(
            d(27, "-32.6 116 10.0"),
            hx("052D33322E36033131360431302E30")
        );
        assert_eq!(
            d(42, "1:192.168.32.0/21 !2:2001:db8::/32"),
            [0, 1, 21, 3, 192, 168, 32, 0, 2, 32, 0x84, 0x20, 0x01, 0x0d, 0xb8]
        );
        assert_eq!(d(42, "1:0.0.0.0/0"), [0, 1, 0, 0]);
        assert_eq!(d(49, "AAIB Y2/A"), [0, 2, 1, 0x63, 0x6f, 0xc0]);
        assert_eq!(
            d(55, "2 2001 AQID rvs."),
            hx("0202000320010102030372767300")
        );
        assert_eq!(d(63, "7 1 1 FEBE"), [0, 0, 0, 7, 1, 1, 0xfe, 0xbe]);
        assert_eq!(d(104, "10 0014:4fff:ff20:ee64"), hx("000A00144FFFFF20EE64"));
        assert_eq!(d(105, "10 10.1.2.0"), [0, 10, 10, 1, 2, 0]);
        assert_eq!(d(105, "10 2001:db8::1"), [0, 10, 0, 0, 0, 0]);
        assert_eq!(d(108, "00-00-5e-00-53-2a"), hx("00005E00532A"));
        assert_eq!(d(109, "00-00-5e-ef-10-00-00-2a"), hx("00005EEF1000002A"));
        assert_eq!(d(32768, "12345 RSASHA256 2 0011"), hx("303908020011"));
        assert_eq!(d(260, "10 1 3 amt."), [10, 0x83]);
        assert_eq!(d(260, "10 0 3 amt."), hx("0A0303616D7400"));
        assert_eq!(d(260, "10 0 1 192.0.2.1"), [10, 1, 192, 0, 2, 1]);
        assert_eq!(d(45, "10 0 2 . AQID"), [10, 0, 2, 1, 2, 3]);
        assert_eq!(
            d(45, "10 2 2 2001:db8::1 AQID"),
            [
                [10, 2, 2].as_slice(),
                &hx("20010DB8000000000000000000000001"),
                &[1, 2, 3]
            ]
            .concat()
        );
        assert_eq!(
            d(50, "1 0 12 aabb 0123 A"),
            [1, 0, 0, 12, 2, 0xaa, 0xbb, 20, 0x00, 0x44, 0x00, 1, 0x40]
        );
        assert_eq!(d(51, "1 0 12 -"), [1, 0, 0, 12, 0]);
    }

    /// miekg's words for bad data of these types, and the token each names.
    #[test]
    fn miekg_types_errors() {
        let o = Name::from_ascii("example.org.").unwrap();
        let err = |t: u16, toks: &str| {
            let r = Raw::of(RecordType::from(t), &o, toks);
            let e = r.rdata().unwrap_err();
            r.locate(e).to_string()
        };
        for (t, toks, want) in [
            (
                10,
                "616263",
                "db: dns: NULL records do not have a presentation format: \" \" at line: 1:1",
            ),
            (
                19,
                "\"311\"",
                "db: dns: garbage after rdata: \"311\" at line: 1:2",
            ),
            (
                19,
                "1 2",
                "db: dns: garbage after rdata: \"2\" at line: 1:3",
            ),
            (
                45,
                "10 1 2 192.0.2.x AQID",
                "db: dns: : \"192.0.2.x\" at line: 1:5",
            ),
            (
                42,
                "1:192.168.32.1/21",
                "db: dns: extra bits in APL address: \"1:192.168.32.1/21\" at line: 1:2",
            ),
            (
                42,
                "3:10.0.0.0/8",
                "db: dns: unrecognized APL family: \"3:10.0.0.0/8\" at line: 1:2",
            ),
            (
                42,
                "\"1:10.0.0.0/8\"",
                "db: dns: unexpected APL field: \"\\\"\" at line: 1:1",
            ),
            (
                104,
                "10 0014:4fff:ff20:ee6",
                "db: dns: bad NID/L64 NodeID/Locator64: \"0014:4fff:ff20:ee6\" at line: 1:3",
            ),
            (
                109,
                "00-00-5e-ef-10-00-00-zz",
                "db: dns: bad EUI68 Address: \"00-00-5e-ef-10-00-00-zz\" at line: 1:2",
            ),
            (
                108,
                "00:00:5e:ef:10:00",
                "db: dns: bad EUI48 Address: \"00:00:5e:ef:10:00\" at line: 1:2",
            ),
            (
                55,
                "2 2001 AwEAAbd",
                "db: dns: bad HIP PublicKey: \"AwEAAbd\" at line: 1:4",
            ),
            (
                14,
                "a. b..c",
                "db: dns: bad MINFO Email: \"b..c\" at line: 1:3",
            ),
            (
                18,
                "65536 a.",
                "db: dns: bad AFSDB Subtype: \"65536\" at line: 1:2",
            ),
            (36, "+1 a.", "db: dns: bad KX Pref: \"+1\" at line: 1:2"),
            (
                260,
                "0 2 0 .",
                "db: dns: bad discovery value: \"2\" at line: 1:3",
            ),
            (
                27,
                "1 2 3 4",
                "db: dns: garbage after rdata: \"4\" at line: 1:5",
            ),
            (
                32768,
                "1 BOGUS 2 00",
                "db: dns: bad TA Algorithm: \"BOGUS\" at line: 1:3",
            ),
            (
                50,
                "1 1 12 aa 0123 A BOGUS",
                "db: dns: bad NSEC3 TypeBitMap: \"BOGUS\" at line: 1:8",
            ),
        ] {
            assert_eq!(err(t, toks), want, "{t} {toks}");
        }
        // IPSECKEY's parser takes the next line's first token for garbage.
        let mut r = Raw::of(RecordType::from(45), &o, "10 0 2 . AQID");
        r.after = Some(("www".into(), 2, 4));
        let e = r.rdata().unwrap_err();
        assert_eq!(
            r.locate(e).to_string(),
            "db: dns: garbage after rdata: \"www\" at line: 2:4"
        );
    }

    /// What follows a record: the next line's first token, none for a
    /// blank or comment line or the end of the text.
    #[test]
    fn next_line_token() {
        let o = Name::from_ascii("example.org.").unwrap();
        let text = "a 60 IN IPSECKEY 1 0 2 . AQID\n\nb 60 IN IPSECKEY 1 0 2 . ( AQ\n ID )\n  www 60 A 192.0.2.1\nc 60 IN IPSECKEY 1 0 2 . AQID\n; note\nd 60 IN IPSECKEY 1 0 2 . AQID";
        let r = rewrite(text, &o, "db").unwrap().unwrap();
        let after: Vec<_> = r.raws.iter().map(|r| r.after.clone()).collect();
        assert_eq!(after, [None, Some(("www".into(), 5, 6)), None, None]);
        assert!(r.raws[0].rdata().is_ok());
        assert!(r.raws[1].rdata().is_err());
    }

    /// LOC as RFC 1876 and miekg encode it: the example of RFC 1876's
    /// appendix, defaults for what is left out.
    #[test]
    fn loc_encoding() {
        let t = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        let w = loc(&t("42 21 54 N 71 06 18 W -24m 30m")).unwrap();
        assert_eq!(w[..4], [0, 0x33, 0x16, 0x13]);
        assert_eq!(
            u32::from_be_bytes(w[4..8].try_into().unwrap()),
            (1 << 31) + 152_514_000
        );
        assert_eq!(
            u32::from_be_bytes(w[8..12].try_into().unwrap()),
            (1 << 31) - 255_978_000
        );
        assert_eq!(u32::from_be_bytes(w[12..16].try_into().unwrap()), 9_997_600);
        assert_eq!(cm_exponent("0.5m"), Some(0x51));
        assert_eq!(cm_exponent(".01"), Some(0x10));
        assert_eq!(cm_exponent("90000000m"), Some(0x99));
        assert_eq!(cm_exponent("1.123"), None);
        assert!(matches!(
            loc(&t("91 N 4 E 0")),
            Err(RawError::Miekg("bad LOC Latitude", 0))
        ));
    }

    /// `$GENERATE` lines as miekg makes them.
    #[test]
    fn generate_expands() {
        let o = Name::from_ascii("example.org.").unwrap();
        let text = "$GENERATE 1-5/2 h${1,3,x} A 192.0.2.$ ; note\n$GENERATE 8-8 t$ TXT \"\\$ $$ \\\\ \\x\"\n";
        let r = rewrite(text, &o, "db").unwrap().unwrap();
        assert_eq!(
            r.text,
            "h002 3600 A 192.0.2.1\nh004 3600 A 192.0.2.3\nh006 3600 A 192.0.2.5\n\nt8 3600 TXT \"$ $ \\ \"\n\n"
        );
        let Err(e) = rewrite("$GENERATE 1-2 x${1,0,q} A 1.2.3.4\n", &o, "db") else {
            panic!("a bad base is refused");
        };
        assert_eq!(
            e.to_string(),
            "db: dns: bad base in $GENERATE: \"${1,0,q}\" at line: 1:16"
        );
    }

    #[test]
    fn diagnose_finds_miekgs_first_error_only() {
        let o = Name::from_ascii("example.org.").unwrap();
        let good = "$TTL 1h\n@ IN SOA ns.example.org. ( hm 2024 2h 1H 1w2d 300 )\n\
                    @ NS ns\nns A 192.0.2.1\n  AAAA ::ffff:192.0.2.1\nm MX 10 @\n\
                    c CNAME -x.example.org.\np PTR a+b\n_s._tcp SRV 0 5 5060 s\n\
                    t TXT \"a b\" c\nk SSHFP 1 1 ab cd\n_443._tcp TLSA 3 1 1 ( ab\n cd )\n\
                    @ CAA 0 issue \"ca.example\"\n";
        assert!(
            diagnose(good, &o, "db").is_none(),
            "{:?}",
            diagnose(good, &o, "db")
        );
        let bad = format!("{good}x A 192.0.2.1\ny MX 1 a..b\nz A ::1\n");
        assert_eq!(
            diagnose(&bad, &o, "db").unwrap().to_string(),
            "db: dns: bad MX Mx: \"a..b\" at line: 16:11"
        );
        assert_eq!(string_to_ttl("1w2d"), Some(777600));
        assert_eq!(string_to_ttl("1h30"), Some(3630));
        assert_eq!(string_to_ttl("1x"), None);
    }
}
