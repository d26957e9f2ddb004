//! Map entries made from userspace answers: the key a query has in the
//! program's map, and the entry that makes the program write, for every
//! query of that key, the reply userspace writes for it.
//!
//! The userspace cache answers a hit (`plugins/cache/fast.rs`) with its
//! stored reply: the header's ID from the query, flags QR, AA, RA, the
//! rcode, the query's RD and CD, AD where the item is authenticated and the
//! query had DO or AD; the question as the client that filled the item
//! asked it (a query in another case takes the chain); every record's TTL
//! set to the item's remaining TTL (whole seconds since it was stored); and
//! the client's OPT appended: its UDP size as sent (or the payload the
//! server takes, when bufsize caps it) and the high byte of its flags.
//! So given one such reply for a query of a [`Variant`], the same reply
//! for any query of that variant differs only in ID, RD, the TTLs and the
//! OPT's size and flags: the program writes those, the entry holds the
//! rest (the question too: the program answers only a query whose name is
//! the entry's byte for byte).

use crate::wire::fast::{Cursor, Simple};
use crate::wire::{flag, Header, QueryView, HEADER_LEN, OPCODE_QUERY, TYPE_OPT};
use ferrodns_ebpf_common::xdp::{
    bits, name, Entry, Key, MAX_BODY, MAX_NAME, MAX_TTLS, NO_CAP, NO_OPT, OPT_LEN,
};
use std::time::Instant;

/// The query bits a userspace answer depends on; queries differing in
/// anything else (ID, RD, the OPT's size and Z bits) get the same answer
/// but for what the program writes per query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Variant {
    /// The query had an OPT (version 0, no options).
    pub opt: bool,
    /// Its DO bit.
    pub do_bit: bool,
    /// The header's CD bit.
    pub cd: bool,
    /// The header's AD bit.
    pub ad: bool,
}

impl Variant {
    /// The variant of a query the raw path reads.
    pub fn of(q: &Simple<'_>) -> Variant {
        Variant {
            opt: q.opt.is_some(),
            do_bit: q.do_bit(),
            cd: q.header.flags & flag::CD != 0,
            ad: q.header.flags & flag::AD != 0,
        }
    }

    /// The key's `bits`.
    pub fn bits(self) -> u32 {
        let mut b = 0;
        for (on, bit) in [
            (self.opt, bits::OPT),
            (self.do_bit, bits::DO),
            (self.cd, bits::CD),
            (self.ad, bits::AD),
        ] {
            if on {
                b |= bit;
            }
        }
        b
    }
}

/// When an entry answers and which TTL it writes, on CLOCK_MONOTONIC
/// (the clock of `Instant` and of `bpf_ktime_get_ns`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// When the answer was stored: its TTL counts down from then.
    pub stored_ns: u64,
    /// The TTL at `stored_ns`.
    pub orig_ttl: u32,
    /// Write `orig_ttl` whatever the age (cache's `keepttl`).
    pub keep_ttl: bool,
    /// Not answered from then on (before the TTL runs out, e.g. where
    /// userspace would prefetch); `u64::MAX` for no such bound.
    pub expires_ns: u64,
}

impl Timing {
    /// Stored at `stored` with `orig_ttl`, answered until the TTL runs out
    /// or `until`.
    pub fn new(stored: Instant, orig_ttl: u32, keep_ttl: bool, until: Option<Instant>) -> Timing {
        Timing {
            stored_ns: monotonic(stored),
            orig_ttl,
            keep_ttl,
            expires_ns: until.map_or(u64::MAX, monotonic),
        }
    }
}

/// `at` on CLOCK_MONOTONIC, in nanoseconds (Rust's `Instant` reads that
/// clock on Linux but does not say its value).
pub fn monotonic(at: Instant) -> u64 {
    let (now, now_ns) = (Instant::now(), super::link::monotonic_ns());
    match at.checked_duration_since(now) {
        Some(ahead) => now_ns.saturating_add(ahead.as_nanos() as u64),
        None => now_ns.saturating_sub(now.duration_since(at).as_nanos() as u64),
    }
}

/// Why an answer cannot be an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    #[error("not a reply to a standard query with one question (or TC set)")]
    NotReply,
    #[error("class {qclass}, type {qtype}: the chain answers it, never the raw path")]
    NotRawPath { qtype: u16, qclass: u16 },
    #[error("the question does not read: {0}")]
    Question(crate::wire::WireError),
    #[error("the question name is not a plain wire name of at most 255 bytes")]
    Name,
    #[error("the records do not read through to the end of the message")]
    Records,
    #[error("the reply {} an OPT where the query had {}", if *.reply { "has" } else { "lacks" }, if *.reply { "none" } else { "one" })]
    OptMismatch { reply: bool },
    #[error("the OPT is not the last record, or has options, an extended rcode or a version")]
    OptForm,
    #[error("the reply's CD bit is not the query's")]
    Cd,
    #[error("{0} bytes after the question (at most {MAX_BODY})")]
    BodyTooLong(usize),
    #[error("{0} records with a TTL (at most {MAX_TTLS})")]
    TooManyRecords(usize),
}

/// The key of a question: `qname` in wire form (any case: the hash is of
/// the name lowercased), type, class, listener group and variant.
pub fn key(
    group: u32,
    qname: &[u8],
    qtype: u16,
    qclass: u16,
    v: Variant,
) -> Result<Key, EntryError> {
    if !plain_name(qname) {
        return Err(EntryError::Name);
    }
    Ok(Key {
        hash: name::hash(qname),
        group,
        qtype,
        qclass,
        bits: v.bits(),
        _pad: 0,
    })
}

/// The key the program looks up for `query` arriving on a listener of
/// `group`; None for a query it passes whatever the map holds (what the
/// raw path does not take: see `wire::fast::Simple`).
pub fn query_key(group: u32, query: &[u8]) -> Option<Key> {
    let q = Simple::parse(query)?;
    key(group, q.qname, q.qtype, q.qclass, Variant::of(&q)).ok()
}

/// Labels of 1 to 63 bytes ending in the root, at most 255 bytes.
fn plain_name(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > MAX_NAME {
        return false;
    }
    let mut at = 0;
    while let Some(&len) = name.get(at) {
        if len == 0 {
            return at + 1 == name.len();
        }
        if len > 63 {
            return false;
        }
        at += 1 + usize::from(len);
    }
    false
}

/// The key and entry that answer every query of variant `v` on listeners
/// of `group` as `reply` answers its query: `reply` is what userspace
/// wrote for a query of that variant (any ID, RD, OPT size), `t` when it
/// was stored and how its TTL counts, `size_cap` bufsize's cap on the
/// client's UDP size, if any.
pub fn build(
    group: u32,
    reply: &[u8],
    v: Variant,
    t: &Timing,
    size_cap: Option<u16>,
) -> Result<(Key, Box<Entry>), EntryError> {
    let h = Header::parse(reply).map_err(EntryError::Question)?;
    if !h.qr() || h.flags & flag::TC != 0 || h.opcode() != OPCODE_QUERY || h.qdcount != 1 {
        return Err(EntryError::NotReply);
    }
    if h.cd() != v.cd {
        return Err(EntryError::Cd);
    }
    let q = QueryView::parse(reply).map_err(EntryError::Question)?;
    // As server::fastpath: IN only (chaos answers other classes), and not
    // OPT, DS (the parent zone's), transfers or meta types.
    if q.qclass != 1 || matches!(q.qtype, 41 | 43 | 250..=254) {
        return Err(EntryError::NotRawPath {
            qtype: q.qtype,
            qclass: q.qclass,
        });
    }
    let k = key(group, q.qname, q.qtype, q.qclass, v)?;
    let qend = q.question_end;
    let body = reply.get(qend..).ok_or(EntryError::Records)?;
    if body.len() > MAX_BODY {
        return Err(EntryError::BodyTooLong(body.len()));
    }
    let mut e = Box::new(Entry::zeroed());
    // The question as the reply has it, then the body.
    let question = &reply[HEADER_LEN..qend];
    e.reply[..question.len()].copy_from_slice(question);
    let at = question.len();
    e.reply[at..at + body.len()].copy_from_slice(body);
    let mut c = Cursor::new(reply, false).ok_or(EntryError::Records)?;
    let mut ttls = Vec::new();
    while let Some(r) = c.next(reply) {
        if e.opt_at != NO_OPT {
            // The OPT is written last: nothing may follow it.
            return Err(EntryError::OptForm);
        }
        if r.rtype == TYPE_OPT {
            let root = r.section == 2 && r.at == r.owner + 1 && reply[r.owner] == 0;
            // Extended rcode and version 0, no options.
            if !root || reply[r.at + 4] != 0 || reply[r.at + 5] != 0 || r.end != r.at + 10 {
                return Err(EntryError::OptForm);
            }
            let opt = r.owner - qend;
            e.opt_at = opt as u16;
            // The client's UDP size and the high byte of its flags.
            e.reply[at + opt + 3..at + opt + 5].fill(0);
            e.reply[at + opt + 7] = 0;
        } else {
            ttls.push(r.at + 4 - qend);
        }
    }
    if c.broken || c.end() != reply.len() {
        return Err(EntryError::Records);
    }
    if (e.opt_at != NO_OPT) != v.opt {
        return Err(EntryError::OptMismatch {
            reply: e.opt_at != NO_OPT,
        });
    }
    if ttls.len() > MAX_TTLS {
        return Err(EntryError::TooManyRecords(ttls.len()));
    }
    e.qlen = q.qname.len() as u16;
    e.body_len = body.len() as u16;
    for (i, &ttl) in ttls.iter().enumerate() {
        e.reply[at + ttl..at + ttl + 4].fill(0);
        // Room for MAX_TTLS after the longest question and body.
        let placed = e.set_ttl_at(i, ttl as u16);
        debug_assert!(placed);
    }
    e.ttl_count = ttls.len() as u16;
    e.ttl_even = ttls.iter().filter(|&&at| (qend + at) % 2 == 0).count() as u16;
    e.flags = h.flags & !flag::RD;
    // The header from its flags on (RD left out: the query's), then the
    // question and the body as the entry holds them.
    let mut header = [0u8; HEADER_LEN - 2];
    for (i, w) in [e.flags, 1, h.ancount, h.nscount, h.arcount]
        .iter()
        .enumerate()
    {
        header[2 * i..2 * i + 2].copy_from_slice(&w.to_be_bytes());
    }
    let sum = sum_bytes(0, &header, 2);
    e.csum = fold32(sum_bytes(sum, &e.reply[..at + body.len()], HEADER_LEN));
    e.ancount = h.ancount;
    e.nscount = h.nscount;
    e.arcount = h.arcount;
    e.reply_len = reply.len() as u16;
    e.size_cap = size_cap.unwrap_or(NO_CAP);
    e.stored_ns = t.stored_ns;
    e.expires_ns = t.expires_ns;
    e.orig_ttl = t.orig_ttl;
    e.keep_ttl = u8::from(t.keep_ttl);
    debug_assert!(reply.len() <= HEADER_LEN + MAX_NAME + 4 + MAX_BODY);
    debug_assert!(e.opt_at == NO_OPT || usize::from(e.opt_at) + OPT_LEN <= body.len());
    Ok((k, e))
}

/// Adds `bytes`, starting at offset `pos` of the message, to a one's
/// complement sum of big-endian 16-bit words.
pub fn sum_bytes(mut sum: u64, bytes: &[u8], pos: usize) -> u64 {
    for (i, &b) in bytes.iter().enumerate() {
        sum += u64::from(ferrodns_ebpf_common::xdp::csum_byte(b, pos + i));
    }
    sum
}

/// A sum folded to 32 bits without losing its one's complement value.
fn fold32(sum: u64) -> u32 {
    let mut s = sum;
    while s >> 32 != 0 {
        s = (s & 0xFFFF_FFFF) + (s >> 32);
    }
    s as u32
}

#[cfg(test)]
pub(super) mod tests;
