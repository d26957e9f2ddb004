//! One worker's share of the cache: the cached items, the capacity-bounded
//! maps that hold them (random eviction, as CoreDNS's sharded map), the
//! cache key and the reading of replies that decides what is cached.

use crate::plugin::classify::{classify, Kind};
use crate::plugin::names::lower_text;
use crate::plugin::Request;
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// CoreDNS's cache key: FNV-1 (64 bit) over the DO bit, the CD bit (each as
/// the text `1` or `0`), qtype and qclass (big endian) and the lowercased
/// question name.
pub fn key(qname: &str, qtype: RecordType, qclass: DNSClass, do_bit: bool, cd: bool) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut write = |bytes: &[u8]| {
        for &b in bytes {
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            h ^= u64::from(b);
        }
    };
    write(if do_bit { b"1" } else { b"0" });
    write(if cd { b"1" } else { b"0" });
    write(&u16::from(qtype).to_be_bytes());
    write(&u16::from(qclass).to_be_bytes());
    write(qname.as_bytes());
    h
}

/// A cached reply, as CoreDNS's `item`: the parts of the message that go
/// back into a reply built from it, when it was stored and for how long.
#[derive(Debug)]
pub struct Item {
    /// The reply's question name, lowercased.
    pub name: String,
    pub qtype: RecordType,
    pub qclass: DNSClass,
    pub rcode: ResponseCode,
    pub ad: bool,
    pub ra: bool,
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
    pub additionals: Vec<Record>,
    /// The reply answers its question (see [`answers_question`]).
    pub answering: bool,
    /// `serve_stale_policy prefer_positive`: the answering item a
    /// non-answer replaced under the same key.
    pub last_known_good: Option<Box<Item>>,
    /// Seconds the item lives.
    pub orig_ttl: u32,
    pub stored: Instant,
    /// Unique within a worker: names the item a refresh started from.
    pub id: u64,
    // Prefetch popularity (CoreDNS's freq.Freq).
    freq_last: Option<Instant>,
    freq_hits: u32,
    /// When a refresh of this item started; None when none is in flight.
    refreshing: Option<Instant>,
    /// A failed refresh suppresses another until then (failure recheck).
    retry_after: Option<Instant>,
}

/// A refresh that never came back (a panicking plugin) stops blocking new
/// ones after this long.
const REFRESH_LIMIT: Duration = Duration::from_secs(30);

impl Item {
    pub fn new(m: &Message, now: Instant, d: Duration, id: u64) -> Self {
        let (name, qtype, qclass) = match m.queries.first() {
            Some(q) => (lower_text(q.name()), q.query_type(), q.query_class()),
            None => (String::new(), RecordType::Unknown(0), DNSClass::IN),
        };
        Self {
            name,
            qtype,
            qclass,
            rcode: m.metadata.response_code,
            ad: m.metadata.authentic_data,
            ra: m.metadata.recursion_available,
            answers: m.answers.clone(),
            authorities: m.authorities.clone(),
            // OPT is hop-by-hop; hickory keeps it apart from the records.
            additionals: m.additionals.clone(),
            answering: answers_question(m),
            last_known_good: None,
            orig_ttl: d.as_secs().min(u64::from(u32::MAX)) as u32,
            stored: now,
            id,
            freq_last: None,
            freq_hits: 0,
            refreshing: None,
            retry_after: None,
        }
    }

    /// Seconds left; zero or less once expired (whole seconds of age, as Go's
    /// `int(Duration.Seconds())`).
    pub fn ttl(&self, now: Instant) -> i64 {
        i64::from(self.orig_ttl) - now.saturating_duration_since(self.stored).as_secs() as i64
    }

    /// The item is for this question (guards against key collisions).
    pub fn matches(&self, req: &Request) -> bool {
        self.qtype == req.qtype() && self.qclass == req.qclass() && self.name == req.name
    }

    /// This item, or the last known good one it keeps, when it answers the question.
    pub fn answering_item(&self, req: &Request) -> Option<Loc> {
        if self.answering && self.matches(req) {
            return Some(Loc::Pos);
        }
        match &self.last_known_good {
            Some(l) if l.answering && l.matches(req) => Some(Loc::PosKept),
            _ => None,
        }
    }

    /// The answering item itself, moved out (for `last_known_good`).
    pub fn into_answering(self, req: &Request) -> Option<Box<Item>> {
        match self.answering_item(req)? {
            Loc::PosKept => self.last_known_good,
            _ => Some(Box::new(self)),
        }
    }

    /// Counts a hit for prefetch: hits within `window` of the previous one
    /// add up, a longer gap starts again at one. Returns the hits.
    pub fn update_freq(&mut self, window: Duration, now: Instant) -> u32 {
        let recent = self
            .freq_last
            .is_some_and(|last| now.checked_sub(window).is_none_or(|e| last >= e));
        self.freq_hits = if recent { self.freq_hits + 1 } else { 1 };
        self.freq_last = Some(now);
        self.freq_hits
    }

    pub fn hits(&self) -> u32 {
        self.freq_hits
    }

    pub fn reset_freq(&mut self, now: Instant, hits: u32) {
        self.freq_last = Some(now);
        self.freq_hits = hits;
    }

    /// Claims the item's single refresh slot; false while another refresh
    /// is in flight or a failed one's recheck period runs.
    pub fn begin_refresh(&mut self, now: Instant, recheck: Duration) -> bool {
        if !recheck.is_zero() && self.retry_after.is_some_and(|t| now < t) {
            return false;
        }
        if self
            .refreshing
            .is_some_and(|t| now.saturating_duration_since(t) < REFRESH_LIMIT)
        {
            return false;
        }
        self.refreshing = Some(now);
        true
    }

    pub fn end_refresh(&mut self, now: Instant, recheck: Duration, refreshed: bool) {
        self.retry_after = (!recheck.is_zero() && !refreshed).then(|| now + recheck);
        self.refreshing = None;
    }

    /// A reply to `req` from this item with every record's TTL set to
    /// `ttl` (CoreDNS's `toMsgWithTTL`): AA set, AD only for clients that
    /// asked for DNSSEC or set AD, RA and rcode as cached.
    pub fn to_msg(&self, req: &Request, ttl: u32, do_bit: bool, ad: bool) -> Message {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        m.metadata.authentic_data = self.ad && (do_bit || ad);
        m.metadata.recursion_available = self.ra;
        m.metadata.response_code = self.rcode;
        m.answers = with_ttl(&self.answers, ttl);
        m.authorities = with_ttl(&self.authorities, ttl);
        m.additionals = with_ttl(&self.additionals, ttl);
        m
    }
}

fn with_ttl(rs: &[Record], ttl: u32) -> Vec<Record> {
    rs.iter()
        .map(|r| {
            let mut r = r.clone();
            r.ttl = ttl;
            r
        })
        .collect()
}

/// Sets every record's TTL in `rs` to `ttl`.
pub fn set_ttl(rs: &mut [Record], ttl: u32) {
    for r in rs {
        r.ttl = ttl;
    }
}

/// Where a found item lives in a shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// The success store.
    Pos,
    /// The last known good item kept by the success store's item.
    PosKept,
    /// The denial store (NXDOMAIN, NODATA, SERVFAIL).
    Neg,
}

/// A map of at most `cap` items; adding to a full one evicts a random other.
#[derive(Debug)]
pub struct Store {
    cap: usize,
    keys: Vec<u64>,
    items: HashMap<u64, (Item, usize)>,
}

impl Store {
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            keys: Vec::new(),
            items: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn get(&self, k: u64) -> Option<&Item> {
        self.items.get(&k).map(|(i, _)| i)
    }

    pub fn get_mut(&mut self, k: u64) -> Option<&mut Item> {
        self.items.get_mut(&k).map(|(i, _)| i)
    }

    /// Stores `item` under `k`, replacing any item there. Returns whether
    /// another item was evicted to make room.
    pub fn add(&mut self, k: u64, item: Item) -> bool {
        if let Some(slot) = self.items.get_mut(&k) {
            slot.0 = item;
            return false;
        }
        let mut evicted = false;
        if self.items.len() >= self.cap && !self.keys.is_empty() {
            let victim = self.keys[rand::random_range(0..self.keys.len())];
            self.remove(victim);
            evicted = true;
        }
        self.keys.push(k);
        self.items.insert(k, (item, self.keys.len() - 1));
        evicted
    }

    pub fn remove(&mut self, k: u64) -> Option<Item> {
        let (item, idx) = self.items.remove(&k)?;
        self.keys.swap_remove(idx);
        if let Some(&moved) = self.keys.get(idx) {
            if let Some(slot) = self.items.get_mut(&moved) {
                slot.1 = idx;
            }
        }
        Some(item)
    }
}

/// How a reply is cached: CoreDNS's `cacheResponseType`, which is
/// `response.Typify` except that a NOERROR reply with an SOA whose answer
/// section does not answer the question (a dangling CNAME chain) is NODATA.
pub fn response_kind(m: &Message) -> Kind {
    let k = classify(m);
    if k == Kind::NoError && has_soa(m) && is_nodata(m) {
        return Kind::NoData;
    }
    k
}

pub fn has_soa(m: &Message) -> bool {
    m.authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA)
}

/// Whether a reply of kind `k` is cached at all (CoreDNS's `key`): not
/// truncated, not an error other than SERVFAIL/NOTIMP, not a transfer or
/// update, no NXDOMAIN without an SOA, and no SOA-less NOERROR whose answer
/// section fails to answer the question.
pub fn cacheable(m: &Message, k: Kind) -> bool {
    if m.metadata.truncation || m.queries.is_empty() {
        return false;
    }
    match k {
        Kind::OtherError | Kind::Meta | Kind::Update => false,
        Kind::NameError => has_soa(m),
        Kind::NoError => has_soa(m) || !is_nodata(m),
        _ => true,
    }
}

/// A NOERROR reply with records in the answer section that do not answer
/// the question. An empty answer section is not NODATA here (whoami answers
/// in the additional section).
pub fn is_nodata(m: &Message) -> bool {
    !m.answers.is_empty() && !answers_question(m)
}

/// Whether a NOERROR reply answers its question: for types other than ANY
/// and CNAME, the queried type exists at the end of the CNAME chain that
/// starts at the question name.
pub fn answers_question(m: &Message) -> bool {
    if m.metadata.response_code != ResponseCode::NoError || m.answers.is_empty() {
        return false;
    }
    let Some(q) = m.queries.first() else {
        return false;
    };
    let name = lower_text(q.name());
    let (qtype, qclass) = (q.query_type(), q.query_class());
    let answers = &m.answers;
    let class_ok = |r: &Record| qclass == DNSClass::ANY || r.dns_class == qclass;
    match qtype {
        RecordType::ANY => answers
            .iter()
            .any(|r| class_ok(r) && lower_text(&r.name) == name),
        RecordType::CNAME => matches!(cname_target(answers, &name, qclass), Some(Some(_))),
        _ => {
            let Some(terminal) = canonical_name(answers, name, qclass) else {
                return false;
            };
            answers
                .iter()
                .any(|r| r.record_type() == qtype && class_ok(r) && lower_text(&r.name) == terminal)
        }
    }
}

/// Follows the CNAME chain from `name`; None when it is ambiguous (an
/// owner with two targets) or loops.
fn canonical_name(answers: &[Record], mut name: String, qclass: DNSClass) -> Option<String> {
    let mut seen: Vec<String> = Vec::new();
    loop {
        if seen.contains(&name) {
            return None;
        }
        seen.push(name.clone());
        match cname_target(answers, &name, qclass)? {
            None => return Some(name),
            Some(t) => name = t,
        }
    }
}

/// The CNAME target of `owner`: Some(None) when it has none, None when it
/// has more than one distinct target.
fn cname_target(answers: &[Record], owner: &str, qclass: DNSClass) -> Option<Option<String>> {
    let mut target: Option<String> = None;
    for r in answers {
        let RData::CNAME(c) = &r.data else { continue };
        if !(qclass == DNSClass::ANY || r.dns_class == qclass) || lower_text(&r.name) != owner {
            continue;
        }
        let t: &Name = &c.0;
        let t = lower_text(t);
        match &target {
            Some(prev) if *prev != t => return None,
            _ => target = Some(t),
        }
    }
    Some(target)
}

/// CoreDNS's `dnsutil.MinimalTTLWithMaximum`: the lowest TTL of the
/// records (OPT aside), at most `max`; 5 s for other kinds of reply and for
/// replies without records.
pub fn minimal_ttl(m: &Message, k: Kind, max: Duration) -> Duration {
    const MINIMAL_DEFAULT: Duration = Duration::from_secs(5);
    if !matches!(k, Kind::NoError | Kind::NameError | Kind::NoData) {
        return MINIMAL_DEFAULT;
    }
    if m.answers.is_empty() && m.authorities.is_empty() && m.additionals.is_empty() {
        return MINIMAL_DEFAULT;
    }
    let mut min = max;
    let all = m.answers.iter().chain(&m.authorities).chain(&m.additionals);
    for r in all {
        if u64::from(r.ttl) < min.as_secs() {
            min = Duration::from_secs(u64::from(r.ttl));
        }
    }
    min
}

/// CoreDNS's `request.Match`: the reply is a response to this question.
pub fn reply_matches(req: &Request, m: &Message) -> bool {
    let [q] = m.queries.as_slice() else {
        return false;
    };
    m.metadata.message_type == MessageType::Response
        && lower_text(q.name()) == req.name
        && q.query_type() == req.qtype()
        && q.query_class() == req.qclass()
}
