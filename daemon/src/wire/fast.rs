//! What the cache fast path reads and writes without a full parse: the
//! queries it may answer from raw bytes, names lowercased into a buffer,
//! and the patching of a stored reply (ID, flags, TTLs, the client's OPT).

use super::{Header, QueryView, HEADER_LEN, MAX_NAME_LEN, OPCODE_QUERY, TYPE_OPT};

/// The client's OPT record, as the fast path mirrors it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opt {
    /// The UDP size exactly as sent (even under 512).
    pub size: u16,
    /// The flags word (DO and the Z bits).
    pub flags: u16,
}

impl Opt {
    pub fn do_bit(&self) -> bool {
        self.flags & super::flag::DO != 0
    }

    /// Appends this OPT as a reply mirrors it (version 0, DO and the Z
    /// bits of the high byte, no options).
    pub fn push(&self, out: &mut Vec<u8>) {
        push_opt(out, self.size, [0, 0, (self.flags >> 8) as u8, 0]);
    }
}

/// The bytes of an OPT record without options.
pub const OPT_LEN: usize = 11;

/// Appends an OPT record (root name, no options) with payload `size` and
/// TTL word `ttl` (extended rcode, version, flags) to the message in `out`,
/// and counts it in ARCOUNT.
pub fn push_opt(out: &mut Vec<u8>, size: u16, ttl: [u8; 4]) {
    let [s0, s1] = size.to_be_bytes();
    out.extend_from_slice(&[0, 0, 41, s0, s1, ttl[0], ttl[1], ttl[2], ttl[3], 0, 0]);
    let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&ar.to_be_bytes());
}

/// A query the fast path can answer: a standard query (opcode QUERY) with
/// one question, no answer or authority records, and in the additional
/// section at most an OPT of version 0, without options, ending the message.
/// Anything else is left to the full parse.
#[derive(Clone, Copy, Debug)]
pub struct Simple<'a> {
    pub header: Header,
    /// The question name as sent (case kept).
    pub qname: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    pub opt: Option<Opt>,
}

impl<'a> Simple<'a> {
    pub fn parse(b: &'a [u8]) -> Option<Simple<'a>> {
        Self::of(&QueryView::parse(b).ok()?, b)
    }

    /// The view `v` of message `b`, if it is a query the raw path takes.
    pub fn of(v: &QueryView<'a>, b: &'a [u8]) -> Option<Simple<'a>> {
        let h = v.header;
        if h.qr() || h.opcode() != OPCODE_QUERY || h.qdcount != 1 || h.ancount != 0 {
            return None;
        }
        if h.nscount != 0 || h.arcount > 1 {
            return None;
        }
        let rest = &b[v.question_end..];
        let opt = match (h.arcount, rest) {
            (0, []) => None,
            // Root name, type OPT, size, extended rcode 0, version 0,
            // flags, no options; nothing after it.
            (1, [0, t0, t1, s0, s1, 0, 0, f0, f1, 0, 0])
                if u16::from_be_bytes([*t0, *t1]) == TYPE_OPT =>
            {
                Some(Opt {
                    size: u16::from_be_bytes([*s0, *s1]),
                    flags: u16::from_be_bytes([*f0, *f1]),
                })
            }
            _ => return None,
        };
        Some(Simple {
            header: h,
            qname: v.qname,
            qtype: v.qtype,
            qclass: v.qclass,
            opt,
        })
    }

    pub fn do_bit(&self) -> bool {
        self.opt.is_some_and(|o| o.do_bit())
    }
}

/// Room for the longest name.
pub type NameBuf = [u8; MAX_NAME_LEN];

/// `name` (a wire name, no compression) lowercased into `buf`.
pub fn lower<'b>(name: &[u8], buf: &'b mut NameBuf) -> &'b [u8] {
    let out = &mut buf[..name.len()];
    for (o, b) in out.iter_mut().zip(name) {
        *o = b.to_ascii_lowercase();
    }
    out
}

/// The suffixes of a wire name at each label, longest first, ending with
/// the root (`\x00`).
pub fn suffixes(name: &[u8]) -> Suffixes<'_> {
    Suffixes { name, at: Some(0) }
}

pub struct Suffixes<'a> {
    name: &'a [u8],
    at: Option<usize>,
}

impl<'a> Iterator for Suffixes<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let at = self.at?;
        let len = usize::from(*self.name.get(at)?);
        self.at = (len != 0).then_some(at + 1 + len);
        self.name.get(at..)
    }
}

/// Whether wire name `name` is `zone` or below it (both lowercased).
pub fn is_subdomain(zone: &[u8], name: &[u8]) -> bool {
    suffixes(name).any(|s| s == zone)
}

/// The presentation form of a lowercased wire name when it needs no
/// escapes (letters, digits, `-`, `_`, `*` and the like), written into
/// `buf`; None for names the full path must spell.
pub fn plain_text<'b>(name: &[u8], buf: &'b mut [u8; MAX_NAME_LEN + 1]) -> Option<&'b str> {
    let mut n = 0;
    let mut at = 0;
    loop {
        let len = usize::from(*name.get(at)?);
        if len == 0 {
            break;
        }
        for &b in name.get(at + 1..at + 1 + len)? {
            if !plain_byte(b) {
                return None;
            }
            buf[n] = b;
            n += 1;
        }
        buf[n] = b'.';
        n += 1;
        at += 1 + len;
    }
    if n == 0 {
        buf[0] = b'.';
        n = 1;
    }
    std::str::from_utf8(&buf[..n]).ok()
}

/// A byte a name's presentation form shows as itself.
fn plain_byte(b: u8) -> bool {
    !matches!(
        b,
        b'.' | b' ' | b'\'' | b'@' | b';' | b'(' | b')' | b'"' | b'\\'
    ) && b.is_ascii_graphic()
}

/// Whether a wire name (no compression) needs no escapes in presentation
/// form: then its text splits into labels at its dots alone.
pub fn is_plain(name: &[u8]) -> bool {
    let mut at = 0;
    loop {
        let Some(&len) = name.get(at) else {
            return false;
        };
        if len == 0 {
            return at + 1 == name.len();
        }
        let Some(label) = name.get(at + 1..at + 1 + usize::from(len)) else {
            return false;
        };
        if !label.iter().all(|&b| plain_byte(b)) {
            return false;
        }
        at += 1 + usize::from(len);
    }
}

/// Skips a name at `p` (labels, ending in the root or a pointer).
fn skip_name(b: &[u8], p: usize) -> Option<usize> {
    name_at(b, p).map(|(end, _)| end)
}

/// Where the name at `p` ends in place (labels, ending in the root or a
/// pointer), and where its pointer is when it ends in one. Pointers are
/// not followed: see [`Cursor`] for a checked walk.
pub fn name_at(b: &[u8], mut p: usize) -> Option<(usize, Option<usize>)> {
    loop {
        let len = *b.get(p)?;
        match len & 0xC0 {
            0xC0 if p + 1 < b.len() => return Some((p + 2, Some(p))),
            0x00 if len == 0 => return Some((p + 1, None)),
            0x00 => p += 1 + usize::from(len),
            _ => return None,
        }
    }
}

fn count(b: &[u8], i: usize) -> usize {
    usize::from(u16::from_be_bytes([b[i], b[i + 1]]))
}

/// The question name of a message (the first name, never compressed).
pub fn question_name(msg: &[u8]) -> Option<&[u8]> {
    let end = skip_name(msg, HEADER_LEN)?;
    msg.get(HEADER_LEN..end)
}

/// Sets the TTL of every record after the question to `ttl`. Returns false
/// (leaving the message partly patched) if it is not well formed.
pub fn set_ttls(msg: &mut [u8], ttl: u32) -> bool {
    let Some(mut c) = Cursor::new(msg, false) else {
        return false;
    };
    while let Some(r) = c.next(msg) {
        msg[r.at + 4..r.at + 8].copy_from_slice(&ttl.to_be_bytes());
    }
    !c.broken && c.end() == msg.len()
}

/// Checks the name at `at` (labels, pointers only backwards and past the
/// header, at most 255 bytes spelled out); where it ends in place. A
/// pointer into the header reads its counts as a name, which changes when
/// a count is patched (the relay adds an OPT): no sender writes one. What
/// a pointer leads to must end before the pointer (it names what was
/// written before it): a name running on past the pointer could read
/// bytes after the last record, which the relay cuts (found by the
/// forward_reply fuzz target).
fn name_end(msg: &[u8], at: usize) -> Option<usize> {
    // `len` counts the root's byte too; `bound`: the bytes the name may
    // read, those before the last pointer taken.
    let (mut p, mut end, mut len, mut hops) = (at, None, 1usize, 0);
    let mut bound = msg.len();
    loop {
        if p >= bound {
            return None;
        }
        let b = msg[p];
        match b & 0xC0 {
            0xC0 => {
                if p + 1 >= bound {
                    return None;
                }
                let target = usize::from(u16::from_be_bytes([b & 0x3F, msg[p + 1]]));
                if target < HEADER_LEN || target >= p || hops > 127 {
                    return None;
                }
                end.get_or_insert(p + 2);
                hops += 1;
                bound = p;
                p = target;
            }
            0x00 if b == 0 => return Some(end.unwrap_or(p + 1)),
            0x00 => {
                len += 1 + usize::from(b);
                if len > MAX_NAME_LEN {
                    return None;
                }
                p += 1 + usize::from(b);
            }
            _ => return None,
        }
    }
}

/// Whether the RDATA of a record of type `t` at `rd..end` reads as that
/// type's: the fixed sizes of A and AAAA, the names (and fields) of NS,
/// CNAME, PTR, DNAME, MX, SRV and SOA. Other types: in bounds is enough.
fn rdata_ok(msg: &[u8], t: u16, rd: usize, end: usize) -> bool {
    let name_to_end = |at: usize| name_end(msg, at) == Some(end);
    match t {
        1 => end - rd == 4,
        28 => end - rd == 16,
        2 | 5 | 12 | 39 => name_to_end(rd),
        15 => end - rd > 2 && name_to_end(rd + 2),
        33 => end - rd > 6 && name_to_end(rd + 6),
        6 => name_end(msg, rd)
            .and_then(|m| name_end(msg, m))
            .is_some_and(|r| r + 20 == end),
        _ => true,
    }
}

/// A reply's layout, read through: every name and record in bounds (and
/// the RDATA of the common types as they should be, see [`rdata_ok`]);
/// where the OPT record's TYPE field is, if the additional section has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub opt: Option<usize>,
    /// Where the last record ends.
    pub end: usize,
}

pub fn layout(msg: &[u8]) -> Option<Layout> {
    let mut c = Cursor::new(msg, true)?;
    let mut opt = None;
    while let Some(r) = c.next(msg) {
        if r.rtype == TYPE_OPT {
            // One OPT, in the additional section, owned by the root.
            if r.section != 2 || opt.is_some() || r.at != r.owner + 1 || msg[r.owner] != 0 {
                return None;
            }
            opt = Some(r.at);
        }
    }
    (!c.broken).then_some(Layout { opt, end: c.end() })
}

/// One resource record after the question, as [`Cursor`] finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rr {
    /// 0 answer, 1 authority, 2 additional.
    pub section: u8,
    /// Where its owner name starts.
    pub owner: usize,
    /// Where its TYPE field starts (TYPE, CLASS, TTL, RDLENGTH follow).
    pub at: usize,
    pub rtype: u16,
    /// Where its RDATA ends.
    pub end: usize,
}

/// The one walk over a message's records: the question skipped, then each
/// record of the three sections in order. It holds no borrow, so the
/// caller may patch a record before asking for the next. Strict (`layout`):
/// names checked as [`name_end`] checks them and the RDATA of the common
/// types read through; lenient: names skipped, records kept in bounds.
pub struct Cursor {
    p: usize,
    left: [usize; 3],
    section: u8,
    strict: bool,
    /// The message did not read through.
    pub broken: bool,
}

impl Cursor {
    /// A cursor past the question, or None when the header or question
    /// does not read.
    pub fn new(msg: &[u8], strict: bool) -> Option<Cursor> {
        if msg.len() < HEADER_LEN {
            return None;
        }
        let mut p = HEADER_LEN;
        for _ in 0..count(msg, 4) {
            p = if strict {
                name_end(msg, p)
            } else {
                skip_name(msg, p)
            }? + 4;
        }
        Some(Cursor {
            p,
            left: [count(msg, 6), count(msg, 8), count(msg, 10)],
            section: 0,
            strict,
            broken: p > msg.len(),
        })
    }

    /// The next record; None at the end or where the message breaks off
    /// (then `broken`).
    pub fn next(&mut self, msg: &[u8]) -> Option<Rr> {
        if self.broken {
            return None;
        }
        while self.left.get(usize::from(self.section)) == Some(&0) {
            self.section += 1;
        }
        let left = self.left.get_mut(usize::from(self.section))?;
        *left -= 1;
        let owner = self.p;
        let rr = self.read(msg, owner);
        if rr.is_none() {
            self.broken = true;
        }
        rr
    }

    fn read(&mut self, msg: &[u8], owner: usize) -> Option<Rr> {
        let at = if self.strict {
            name_end(msg, owner)
        } else {
            skip_name(msg, owner)
        }?;
        let fixed = msg.get(at..at + 10)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let end = at + 10 + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        if end > msg.len() || (self.strict && !rdata_ok(msg, rtype, at + 10, end)) {
            return None;
        }
        self.p = end;
        Some(Rr {
            section: self.section,
            owner,
            at,
            rtype,
            end,
        })
    }

    /// Where the records read so far end.
    pub fn end(&self) -> usize {
        self.p
    }
}

/// A message's rcode: the header's four bits and the OPT's upper eight.
pub fn rcode(msg: &[u8]) -> u16 {
    let low = u16::from(msg.get(3).map_or(0, |b| b & 0x0F));
    match layout(msg).and_then(|l| l.opt) {
        Some(at) => (u16::from(msg[at + 4]) << 4) | low,
        None => low,
    }
}

/// `name` in wire form, lowercased, written into `buf` (no allocation).
pub fn lower_name<'b>(name: &hickory_proto::rr::Name, buf: &'b mut NameBuf) -> &'b [u8] {
    let mut n = 0;
    for label in name.iter() {
        if n + 1 + label.len() >= buf.len() {
            break;
        }
        buf[n] = label.len() as u8;
        n += 1;
        for &b in label {
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
    }
    buf[n] = 0;
    &buf[..n + 1]
}

/// The labels of a name in presentation form: split at dots that are not
/// escaped, `\DDD` and `\X` read as the byte they stand for, any byte else
/// as it is (CoreDNS takes a key such as `example.org,example.net` as one
/// label). `.` has none; None when a label is empty or longer than 63
/// bytes, or a `\DDD` is over 255.
pub fn text_labels(s: &str) -> Option<Vec<Vec<u8>>> {
    let mut labels = Vec::new();
    if s == "." {
        return Some(labels);
    }
    let b = s.as_bytes();
    let mut label = Vec::new();
    let mut i = 0;
    let end = |label: &mut Vec<u8>, labels: &mut Vec<Vec<u8>>| {
        let ok = (1..=63).contains(&label.len());
        labels.push(std::mem::take(label));
        ok.then_some(())
    };
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let d = b
                    .get(i + 1..i + 4)
                    .filter(|d| d.iter().all(u8::is_ascii_digit));
                match d {
                    Some(d) => {
                        let v = d.iter().fold(0u16, |v, c| v * 10 + u16::from(c - b'0'));
                        label.push(u8::try_from(v).ok()?);
                        i += 4;
                    }
                    None => {
                        label.push(*b.get(i + 1)?);
                        i += 2;
                    }
                }
            }
            b'.' => {
                end(&mut label, &mut labels)?;
                i += 1;
            }
            c => {
                label.push(c);
                i += 1;
            }
        }
    }
    if !label.is_empty() {
        end(&mut label, &mut labels)?;
    }
    Some(labels)
}

/// A name in presentation form (a zone from the Corefile) in wire form,
/// lowercased ([`text_labels`]); None when a label is empty or too long,
/// or the name is.
pub fn zone_wire(zone: &str) -> Option<Box<[u8]>> {
    let mut out = Vec::with_capacity(zone.len() + 2);
    for l in text_labels(zone)? {
        out.push(l.len() as u8);
        out.extend(l.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    (out.len() <= MAX_NAME_LEN).then(|| out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_place() {
        // "a" then the root; "b" then a pointer to offset 256; a cut pointer.
        let b = [1, b'a', 0, 1, b'b', 0xC1, 0x00, 0xC0];
        assert_eq!(name_at(&b, 0), Some((3, None)));
        assert_eq!(name_at(&b, 3), Some((7, Some(5))));
        assert_eq!(name_at(&b, 7), None);
        assert_eq!(name_at(&[0x40], 0), None);
        assert_eq!(skip_name(&b, 3), Some(7));
    }

    #[test]
    fn zones_in_wire_form() {
        assert_eq!(&*zone_wire(".").unwrap(), b"\0");
        assert_eq!(
            &*zone_wire("Example.ORG.").unwrap(),
            b"\x07example\x03org\0"
        );
        assert_eq!(&*zone_wire("example.org").unwrap(), b"\x07example\x03org\0");
        assert_eq!(
            &*zone_wire("example.org,example.net.").unwrap(),
            b"\x07example\x0borg,example\x03net\0".as_slice()
        );
        assert_eq!(&*zone_wire("a\\.b.c.").unwrap(), b"\x03a.b\x01c\0");
        assert_eq!(&*zone_wire("\\065.").unwrap(), b"\x01a\0");
        assert!(zone_wire("a..b.").is_none());
        assert!(zone_wire(&format!("{}.", "a".repeat(64))).is_none());
    }

    fn query(name: &[u8], extra: &[u8], arcount: u16) -> Vec<u8> {
        let mut b = vec![0x12, 0x34, 0x01, 0x20, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(&arcount.to_be_bytes());
        b.extend_from_slice(name);
        b.extend_from_slice(&[0, 1, 0, 1]);
        b.extend_from_slice(extra);
        b
    }

    const OPT: [u8; 11] = [0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0];

    #[test]
    fn simple_queries() {
        let q = query(b"\x03WwW\x07example\x03org\x00", &[], 0);
        let s = Simple::parse(&q).unwrap();
        assert_eq!(s.qname, b"\x03WwW\x07example\x03org\x00");
        assert_eq!((s.qtype, s.qclass, s.opt), (1, 1, None));
        let q = query(b"\x00", &OPT, 1);
        let s = Simple::parse(&q).unwrap();
        assert_eq!(
            s.opt,
            Some(Opt {
                size: 1232,
                flags: 0x8000
            })
        );
        assert!(s.do_bit());
        // Not for the fast path: options, version 1, extended rcode, a
        // second record, trailing bytes, a count without the record.
        let mut with_option = OPT.to_vec();
        with_option[10] = 4;
        with_option.extend_from_slice(&[0, 10, 0, 0]);
        let mut v1 = OPT;
        v1[6] = 1;
        let mut ext = OPT;
        ext[5] = 1;
        for (extra, ar) in [
            (with_option.as_slice(), 1),
            (&v1, 1),
            (&ext, 1),
            (&OPT, 2),
            (&[0u8][..], 0),
            (&[], 1),
        ] {
            assert!(Simple::parse(&query(b"\x00", extra, ar)).is_none());
        }
        let mut notify = query(b"\x00", &[], 0);
        notify[2] |= 4 << 3;
        assert!(Simple::parse(&notify).is_none());
    }

    #[test]
    fn names() {
        let mut buf = [0u8; MAX_NAME_LEN];
        let n = b"\x03WwW\x07Example\x03org\x00";
        assert_eq!(lower(n, &mut buf), b"\x03www\x07example\x03org\x00");
        let all: Vec<&[u8]> = suffixes(b"\x01a\x02bc\x00").collect();
        assert_eq!(all, [&b"\x01a\x02bc\x00"[..], b"\x02bc\x00", b"\x00"]);
        assert_eq!(suffixes(b"\x00").count(), 1);
        assert!(is_subdomain(b"\x02bc\x00", b"\x01a\x02bc\x00"));
        assert!(is_subdomain(b"\x00", b"\x01a\x00"));
        assert!(!is_subdomain(b"\x01c\x00", b"\x02bc\x00"));
        let mut t = [0u8; MAX_NAME_LEN + 1];
        assert_eq!(plain_text(b"\x01a\x02b-\x00", &mut t), Some("a.b-."));
        assert_eq!(plain_text(b"\x00", &mut t), Some("."));
        assert_eq!(plain_text(b"\x03a.b\x00", &mut t), None);
        assert_eq!(plain_text(b"\x01\xff\x00", &mut t), None);
        assert!(is_plain(b"\x01a\x02b-\x00") && is_plain(b"\x01*\x00") && is_plain(b"\x00"));
        for n in [
            &b"\x03a.b\x00"[..],
            b"\x01\xff\x00",
            b"\x02a \x00",
            b"\x01a",
            b"\x01a\x00\x00",
        ] {
            assert!(!is_plain(n), "{n:?}");
        }
    }

    #[test]
    fn layout_and_rcode() {
        // 1 question, 1 answer, 0, 1 additional (OPT, extended rcode 1).
        let mut m = vec![0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 1];
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        m.extend_from_slice(&[0, 0, 41, 4, 0xd0, 1, 0, 0x80, 0, 0, 0]);
        let l = layout(&m).unwrap();
        assert_eq!(l.opt, Some(m.len() - 10));
        assert_eq!(l.end, m.len());
        assert_eq!(rcode(&m), 16);
        // A pointer forward, a record past the end, an OPT in the answers.
        let mut fwd = m.clone();
        fwd[19] = 0xc0;
        fwd[20] = 40;
        assert!(layout(&fwd).is_none());
        // A pointer into the header, where a count's 0 reads as the root
        // (found by the forward_reply fuzz target: it pointed at the
        // arcount, and once the relay added an OPT the name changed).
        let mut hdr = m.clone();
        hdr[20] = 8;
        assert!(layout(&hdr).is_none());
        // A pointer whose name runs on past the pointer itself: here into
        // the bytes after the last record (found by the forward_reply fuzz
        // target; the relay cuts those bytes, and the name changed).
        let mut past = vec![0x12, 0x34, 0x81, 0x83, 0, 1, 0, 0, 0, 1, 0, 0];
        past.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
        past.extend_from_slice(&[0xc0, 28, 0, 0xfa, 0, 1, 0, 0, 0, 0, 0, 0]);
        // From 28: a 1-byte label (the pointer's first byte), a 28-byte
        // label from 31, the root at 59.
        past.extend_from_slice(&[0x41; 18]);
        past.push(0);
        assert!(layout(&past).is_none());
        assert!(layout(&past[..41]).is_none());
        assert!(layout(&m[..m.len() - 3]).is_none());
        let mut in_answer = m.clone();
        in_answer[6..12].copy_from_slice(&[0, 2, 0, 0, 0, 0]);
        assert!(layout(&in_answer).is_none());
        // An A record of three bytes does not read as one.
        let mut short = vec![0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        short.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        short.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 3, 1, 2, 3]);
        assert!(layout(&short).is_none());
        // A CNAME whose target points past itself.
        let mut cname = vec![0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        cname.extend_from_slice(b"\x01a\x00\x00\x05\x00\x01");
        cname.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 40]);
        assert!(layout(&cname).is_none());
        cname.truncate(cname.len() - 2);
        cname.extend_from_slice(&[0xc0, 12]);
        assert!(layout(&cname).is_some());
    }

    #[test]
    fn ttls_patched_in_every_section() {
        // Header: 1 question, 1 answer, 1 authority, 0 additional.
        let mut m = vec![0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 1, 0, 0];
        m.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
        m.extend_from_slice(&[0xc0, 12, 0, 2, 0, 1, 0, 0, 1, 0, 0, 2, 0xc0, 12]);
        assert!(set_ttls(&mut m, 7));
        assert_eq!(&m[25..29], [0, 0, 0, 7]);
        assert_eq!(&m[41..45], [0, 0, 0, 7]);
        assert_eq!(question_name(&m), Some(&b"\x01a\x00"[..]));
        m.push(0);
        assert!(!set_ttls(&mut m, 7), "trailing byte");
    }
}
