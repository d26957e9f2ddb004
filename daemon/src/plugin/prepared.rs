//! Answers prepared in wire form, for plugins whose data changes only on a
//! reload (file, hosts): at load, every question the plugin can answer
//! without the chain is asked of the plugin's own lookup, the reply it
//! writes is encoded as the server would encode it, and the bytes are kept
//! in a [`Prepared`] table beside the data they came from (swapped with it),
//! so that the raw path (see `super::fast`) answers such a question by
//! copying them and patching ID, RD and CD, and appending the client's OPT.
//!
//! A table holds one boxed byte slice per entry: a few bytes of its own (see
//! the bits below, the reply's [`Kind`] and miekg's `Msg.Len`), then the
//! reply with ID 0, RD and CD clear, no OPT, and the question as asked in
//! lower case (hickory compresses names case-sensitively, so a question in
//! another case gives other bytes: the raw path leaves those to the chain).
//! An entry is found by a seeded hash of its question and checked against
//! it; entries are of two kinds:
//!
//! - a question's own answer (name and type), and
//! - a name's answer for every type its plugin does not prepare apart, with
//!   the question's type patched in (the type is never a compression
//!   target, so the bytes are otherwise the same): an authoritative zone
//!   answers NODATA, a referral or the like for all other types alike.

use super::classify::{classify, Kind};
use super::fast::{RawAnswer, RawQuery};
use crate::hash::Seeded;
use crate::metrics::vars::message_len;
use crate::wire::fast::{question_name, OPT_LEN};
use crate::wire::HEADER_LEN;
use hickory_proto::op::Message;
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use std::hash::{BuildHasher, Hasher};

/// An entry answering every type its plugin does not prepare apart for the
/// name (the question's type is patched in).
pub const NAME: u8 = 1;
/// No reply: the chain answers this question.
pub const CHAIN: u8 = 2;
/// An empty answer with NXDOMAIN or NOERROR, which `fallthrough` passes on.
pub const FALL: u8 = 4;
/// A bit whose meaning is the plugin's own.
pub const OWN: u8 = 0x80;

/// The flags miekg's SetReply copies from the query: RD and CD.
const COPIED: u16 = 0x0110;

/// The kinds, numbered for the entry's byte.
const KINDS: [Kind; 8] = [
    Kind::NoError,
    Kind::NameError,
    Kind::ServerError,
    Kind::NoData,
    Kind::Delegation,
    Kind::Meta,
    Kind::Update,
    Kind::OtherError,
];

/// The table of one data set's prepared answers: open addressing with
/// linear probing, each slot the question's hash beside its entry, so that
/// a look-up reads one slot (and likely its neighbours: three slots a cache
/// line) and the entry, where a map with control bytes apart reads three
/// places (the raw path's look-ups miss the cache: a zone's names are asked
/// in no order).
#[derive(Default)]
pub struct Prepared {
    hasher: Seeded,
    /// A power of two long (or empty), at most three quarters full.
    slots: Vec<Slot>,
    len: usize,
}

#[derive(Default)]
struct Slot {
    /// The question's hash; the entry holds the question to check.
    key: u64,
    entry: Option<Box<[u8]>>,
}

/// What a look-up found.
pub enum Lookup<'a> {
    Found(Entry<'a>),
    /// Nothing under this key: the question was not prepared.
    Missing,
    /// Another question under this key (or two that collided when the table
    /// was built): only the chain knows.
    Other,
}

/// The key a name's own entry is kept under: no type is this large.
const NAME_KEY: u64 = 1 << 16;

impl Prepared {
    /// A table with room for `n` entries.
    pub fn with_capacity(n: usize) -> Prepared {
        let mut t = Prepared::default();
        t.resize(n);
        t
    }

    /// Room for `n` entries, those held kept.
    fn resize(&mut self, n: usize) {
        let cap = (n.max(self.len) * 4 / 3 + 1).next_power_of_two().max(16);
        let old = std::mem::take(&mut self.slots);
        self.slots.resize_with(cap, Slot::default);
        self.len = 0;
        for s in old {
            if let Some(e) = s.entry {
                self.put(s.key, e);
            }
        }
    }

    /// Where key `k` is, or the empty slot it would go in.
    fn slot(&self, k: u64) -> usize {
        let mask = self.slots.len() - 1;
        // A slot stays empty: the loop ends.
        let mut i = (k as usize) & mask;
        while self.slots[i].entry.is_some() && self.slots[i].key != k {
            i = (i + 1) & mask;
        }
        i
    }

    fn key(&self, name: &[u8], what: u64) -> u64 {
        let mut h = self.hasher.build_hasher();
        let mut chunks = name.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        // The length in the top byte tells apart names that pad alike.
        h.write_u64(u64::from_le_bytes(w) ^ (name.len() as u64) << 56);
        h.write_u64(what);
        h.finish()
    }

    /// Adds an entry ([`entry`], [`marker`]). Two questions under one key
    /// both go to the chain.
    pub fn insert(&mut self, e: Box<[u8]>) {
        let Some(id) = Entry(&e).identity() else {
            return;
        };
        let k = self.key(id.0, id.1);
        self.put(k, e);
    }

    fn put(&mut self, k: u64, e: Box<[u8]>) {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.resize(2 * self.len + 1);
        }
        let i = self.slot(k);
        match &mut self.slots[i].entry {
            Some(old) => {
                if Entry(old).identity() != Entry(&e).identity() {
                    old[0] |= CHAIN;
                }
            }
            free => {
                *free = Some(e);
                self.slots[i].key = k;
                self.len += 1;
            }
        }
    }

    /// The entry that answers `q`: the question's own, else (when the
    /// plugin answers the type alike for every name) the name's. A question
    /// not asked in lower case is [`Lookup::Other`]: hickory compresses
    /// names case-sensitively, so it would get other bytes.
    pub fn find(&self, q: &RawQuery<'_>, by_name: bool) -> Lookup<'_> {
        if q.q.qname != q.lower {
            return Lookup::Other;
        }
        match self.get(q.lower, q.q.qtype) {
            Lookup::Missing if by_name => self.get_name(q.lower),
            l => l,
        }
    }

    /// The entry of question `name` (lowercased wire form) and `qtype`.
    pub fn get(&self, name: &[u8], qtype: u16) -> Lookup<'_> {
        self.at(name, u64::from(qtype))
    }

    /// The entry of `name` for the types not prepared apart.
    pub fn get_name(&self, name: &[u8]) -> Lookup<'_> {
        self.at(name, NAME_KEY)
    }

    fn at(&self, name: &[u8], what: u64) -> Lookup<'_> {
        if self.slots.is_empty() {
            return Lookup::Missing;
        }
        match &self.slots[self.slot(self.key(name, what))].entry {
            None => Lookup::Missing,
            Some(e) if Entry(e).identity() == Some((name, what)) => Lookup::Found(Entry(e)),
            Some(_) => Lookup::Other,
        }
    }

    /// How many entries the table holds.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes the entries and the slots hold.
    pub fn bytes(&self) -> usize {
        let entries: usize = self
            .slots
            .iter()
            .filter_map(|s| s.entry.as_ref())
            .map(|e| e.len())
            .sum();
        entries + self.slots.len() * std::mem::size_of::<Slot>()
    }
}

/// The bytes of an entry before its reply: bits, kind, uncompressed length.
const META: usize = 4;

/// An entry of a [`Prepared`] table.
#[derive(Clone, Copy)]
pub struct Entry<'a>(&'a [u8]);

impl<'a> Entry<'a> {
    /// An entry as [`entry`] or [`marker`] made it.
    pub fn new(e: &'a [u8]) -> Self {
        Entry(e)
    }

    pub fn bits(&self) -> u8 {
        self.0[0]
    }

    /// The reply, as kept.
    pub fn reply(&self) -> &'a [u8] {
        &self.0[META..]
    }

    /// The reply's miekg `Msg.Len`.
    pub fn plain_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.0[2], self.0[3]]))
    }

    /// The question name and what the entry is kept under.
    fn identity(&self) -> Option<(&'a [u8], u64)> {
        let msg = self.0.get(META..)?;
        let name = question_name(msg)?;
        let at = HEADER_LEN + name.len();
        let what = if self.bits() & NAME != 0 {
            NAME_KEY
        } else {
            u64::from(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
        };
        Some((name, what))
    }

    /// Writes the reply to `q` into `out`, as the chain would send it; None
    /// (leaving nothing to send) for a question the chain answers or a
    /// reply that does not fit.
    pub fn write(&self, q: &RawQuery<'_>, out: &mut Vec<u8>) -> Option<RawAnswer> {
        if self.bits() & CHAIN != 0 {
            return None;
        }
        let msg = self.reply();
        if !fits(msg.len(), q) {
            return None;
        }
        out.clear();
        out.extend_from_slice(msg);
        if self.bits() & NAME != 0 {
            let at = HEADER_LEN + q.q.qname.len();
            out[at..at + 2].copy_from_slice(&q.q.qtype.to_be_bytes());
        }
        let kind = KINDS.get(usize::from(self.0[1])).copied()?;
        Some(finish(out, q, kind, self.plain_len()))
    }
}

/// Whether a reply of `len` bytes and the client's OPT fit what the client
/// takes (the chain truncates what does not).
pub fn fits(len: usize, q: &RawQuery<'_>) -> bool {
    len + if q.opt.is_some() { OPT_LEN } else { 0 } <= q.limit
}

/// Finishes the reply in `out` (ID 0, RD and CD clear, no OPT) as the chain
/// sends it to `q`: its ID, RD and CD copied as miekg's SetReply does, the
/// client's OPT mirrored. `plain_len`: its miekg `Msg.Len`.
pub fn finish(out: &mut Vec<u8>, q: &RawQuery<'_>, kind: Kind, plain_len: usize) -> RawAnswer {
    let h = &q.q.header;
    let flags = u16::from_be_bytes([out[2], out[3]]) | (h.flags & COPIED);
    out[0..2].copy_from_slice(&h.id.to_be_bytes());
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    let len = out.len();
    if let Some(o) = q.opt {
        o.push(out);
    }
    RawAnswer {
        rcode: flags & 0xF,
        kind,
        flags,
        len,
        plain_len: if q.plain_len { plain_len } else { 0 },
    }
}

/// A standard query for `name` (wire form) and `qtype`, class IN, ID 0,
/// no flags, parsed as the chain parses a client's: what a plugin asks its
/// own lookup while preparing.
pub fn query(name: &[u8], qtype: u16) -> Option<Message> {
    let mut b = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    b.extend_from_slice(name);
    b.extend_from_slice(&qtype.to_be_bytes());
    b.extend_from_slice(&[0, 1]);
    Message::from_vec(&b).ok()
}

/// The entry of `reply` (a plugin's reply to a [`query`]), encoded as the
/// server encodes it for a client without EDNS; None when it does not
/// encode or is not a reply to a standard query.
pub fn entry(reply: &Message, bits: u8) -> Option<Box<[u8]>> {
    let mut msg = Vec::with_capacity(256);
    reply.emit(&mut BinEncoder::new(&mut msg)).ok()?;
    let flags = u16::from_be_bytes([*msg.get(2)?, *msg.get(3)?]);
    // A response (QR), opcode QUERY, ID 0, RD and CD clear: what `finish`
    // patches.
    if flags & (0xF800 | COPIED) != 0x8000 || msg[0..2] != [0, 0] {
        return None;
    }
    let kind = classify(reply);
    let kind = KINDS.iter().position(|k| *k == kind)? as u8;
    let plain = u16::try_from(message_len(reply)).ok()?;
    let mut e = Vec::with_capacity(META + msg.len());
    e.push(bits);
    e.push(kind);
    e.extend_from_slice(&plain.to_be_bytes());
    e.extend_from_slice(&msg);
    Some(e.into_boxed_slice())
}

/// An entry that sends question `name`/`qtype` (or, with [`NAME`] in
/// `bits`, the name's other types) to the chain.
pub fn marker(name: &[u8], qtype: u16, bits: u8) -> Box<[u8]> {
    let mut e = vec![bits | CHAIN, 0, 0, 0];
    e.extend_from_slice(&[0; HEADER_LEN]);
    e.extend_from_slice(name);
    e.extend_from_slice(&qtype.to_be_bytes());
    e.extend_from_slice(&[0, 1]);
    e.into_boxed_slice()
}

/// Whether two entries of one name say the same but for the question's type.
pub fn same_but_type(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || a.len() < META + HEADER_LEN {
        return false;
    }
    let Some(name) = question_name(&a[META..]) else {
        return false;
    };
    let at = META + HEADER_LEN + name.len();
    // Which kind of entry they are may differ; what they answer may not.
    let bits = |e: &[u8]| e[0] & (CHAIN | FALL);
    bits(a) == bits(b) && a[1..at] == b[1..at] && a.get(at + 2..) == b.get(at + 2..)
}

/// A raw query for tests: `q`, its name lowercased, the largest reply
/// the client takes.
#[cfg(test)]
pub(crate) fn raw_query<'a>(
    q: &'a crate::wire::fast::Simple<'a>,
    lower: &'a [u8],
    limit: usize,
) -> RawQuery<'a> {
    RawQuery {
        q,
        wire: &[],
        lower,
        text: "",
        src: "192.0.2.1:53".parse().unwrap(),
        local: "192.0.2.2:53".parse().unwrap(),
        tcp: false,
        len: 0,
        at: std::time::Instant::now(),
        server: "dns://:53",
        zone: ".",
        route: 1,
        opt: q.opt,
        limit,
        plain_len: true,
        backlogged: false,
        cap: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::fast::RawQuery;
    use crate::wire::fast::Simple;

    fn raw<'a>(q: &'a Simple<'a>, lower: &'a [u8]) -> RawQuery<'a> {
        raw_query(q, lower, 512)
    }

    fn reply(name: &[u8], qtype: u16) -> Message {
        let q = query(name, qtype).unwrap();
        let mut m = crate::wire::reply_to(&q);
        m.metadata.authoritative = true;
        m
    }

    #[test]
    fn entries_are_found_by_question_and_kind() {
        let mut t = Prepared::default();
        let name = b"\x01a\x07example\x00";
        t.insert(entry(&reply(name, 1), 0).unwrap());
        t.insert(entry(&reply(name, 65280), NAME).unwrap());
        t.insert(marker(b"\x01b\x07example\x00", 1, 0));
        assert!(matches!(t.get(name, 1), Lookup::Found(e) if e.bits() == 0));
        assert!(matches!(t.get(name, 28), Lookup::Missing));
        assert!(matches!(t.get_name(name), Lookup::Found(e) if e.bits() == NAME));
        assert!(
            matches!(t.get(b"\x01b\x07example\x00", 1), Lookup::Found(e) if e.bits() & CHAIN != 0)
        );
        assert!(matches!(
            t.get_name(b"\x01b\x07example\x00"),
            Lookup::Missing
        ));
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn a_name_entry_answers_with_the_asked_type_and_the_client_opt() {
        let mut t = Prepared::default();
        let name = b"\x01a\x07example\x00";
        t.insert(entry(&reply(name, 65280), NAME).unwrap());
        let mut q = vec![0x12, 0x34, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 1];
        q.extend_from_slice(name);
        q.extend_from_slice(&[0, 16, 0, 1]);
        q.extend_from_slice(&[0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0]);
        let s = Simple::parse(&q).unwrap();
        let rq = raw(&s, name);
        let Lookup::Found(e) = t.get_name(name) else {
            panic!("not found")
        };
        let mut out = Vec::new();
        let a = e.write(&rq, &mut out).unwrap();
        assert_eq!(a.flags, 0x8000 | 0x0400 | 0x0100 | 0x0010);
        assert_eq!(
            (a.rcode, a.kind, a.len),
            (0, Kind::NoError, out.len() - OPT_LEN)
        );
        let m = Message::from_vec(&out).unwrap();
        assert_eq!(m.metadata.id, 0x1234);
        assert_eq!(u16::from(m.queries[0].query_type()), 16);
        assert_eq!(m.edns.unwrap().max_payload(), 1232);
        assert_eq!(a.plain_len, message_len(&reply(name, 16)));
        // Too large for the client: the chain's to truncate.
        let small = RawQuery {
            limit: 30,
            ..raw(&s, name)
        };
        assert!(e.write(&small, &mut out).is_none());
    }

    #[test]
    fn colliding_questions_go_to_the_chain() {
        let mut t = Prepared::default();
        let a = entry(&reply(b"\x01a\x00", 1), 0).unwrap();
        let b = entry(&reply(b"\x01b\x00", 1), 0).unwrap();
        // Both under one key.
        t.resize(4);
        let k = t.key(b"\x01a\x00", 1);
        t.put(k, a.clone());
        t.put(k, a);
        assert!(matches!(t.get(b"\x01a\x00", 1), Lookup::Found(e) if e.bits() & CHAIN == 0));
        t.put(k, b);
        assert!(matches!(t.get(b"\x01a\x00", 1), Lookup::Found(e) if e.bits() & CHAIN != 0));
    }

    #[test]
    fn same_but_type_ignores_the_type_alone() {
        let n = b"\x01a\x00";
        let a = entry(&reply(n, 1), 0).unwrap();
        let b = entry(&reply(n, 28), NAME).unwrap();
        assert!(same_but_type(&a, &b));
        let mut other = reply(n, 28);
        other.metadata.authoritative = false;
        assert!(!same_but_type(&a, &entry(&other, 0).unwrap()));
        assert!(!same_but_type(&a, &entry(&reply(n, 28), FALL).unwrap()));
    }
}
