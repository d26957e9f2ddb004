//! The cache's stores, shared by every worker: the cached items, the
//! capacity-bounded maps that hold them (S3-FIFO eviction, which a flood of
//! names asked once cannot empty of the names clients keep asking), the
//! cache key and the reading of replies that decides what is cached.
//!
//! A store is a lock-free map (papaya): a lookup takes no lock and writes
//! nothing another worker reads; filling and evicting take the store's
//! writer lock. What changes on a stored item (prefetch popularity, the
//! state of its refresh) is kept in atomics, so a refresh is claimed once
//! across all workers.
//!
//! An item keeps its reply in wire form, as the cache answers it: the
//! fast path copies and patches those bytes, the chain parses them.

use crate::plugin::classify::{classify, Kind};
use crate::plugin::names::lower_text;
use crate::plugin::Request;
use crate::wire::fast as wire;
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A point in time for the cache: nanoseconds since the process's first
/// look at the clock. Half the size of an Instant, and with [`Tick::NEVER`]
/// in place of an Option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tick(pub u64);

impl Tick {
    pub const NEVER: Tick = Tick(u64::MAX);

    /// `i` on the cache's clock.
    pub fn of(i: Instant) -> Tick {
        static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        // A day before the first look (or as far back as the clock goes):
        // answers a process taking over brings keep the time they were
        // stored at.
        let base = *BASE.get_or_init(|| {
            let now = Instant::now();
            [86_400, 3_600, 60, 1]
                .into_iter()
                .find_map(|s| now.checked_sub(Duration::from_secs(s)))
                .unwrap_or(now)
        });
        Tick(i.saturating_duration_since(base).as_nanos() as u64)
    }

    /// The same moment as an `Instant`.
    pub fn instant(self) -> Instant {
        let base = Tick::of(Instant::now());
        let now = Instant::now();
        if self >= base {
            now + Duration::from_nanos(self.0 - base.0)
        } else {
            now.checked_sub(Duration::from_nanos(base.0 - self.0))
                .unwrap_or(now)
        }
    }

    fn since(self, earlier: Tick) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    pub fn after(self, d: Duration) -> Tick {
        Tick(self.0.saturating_add(d.as_nanos() as u64))
    }

    fn is_never(self) -> bool {
        self == Tick::NEVER
    }
}

/// A question as the cache compares it: the name lowercased, in wire form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Question<'a> {
    pub name: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
}

impl<'a> Question<'a> {
    /// The request's (current) question.
    pub fn of(req: &'a Request) -> Question<'a> {
        Question {
            name: &req.lower,
            qtype: u16::from(req.qtype()),
            qclass: u16::from(req.qclass()),
        }
    }
}

/// The cache key (CoreDNS's, over the wire name instead of its text):
/// FNV-1 (64 bit) over the DO bit, the CD bit (each as the text `1` or
/// `0`), qtype and qclass (big endian) and the lowercased question name.
pub fn key(q: &Question<'_>, do_bit: bool, cd: bool) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut write = |bytes: &[u8]| {
        for &b in bytes {
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
            h ^= u64::from(b);
        }
    };
    write(if do_bit { b"1" } else { b"0" });
    write(if cd { b"1" } else { b"0" });
    write(&q.qtype.to_be_bytes());
    write(&q.qclass.to_be_bytes());
    write(q.name);
    h
}

/// A cached reply, as CoreDNS's `item`: the reply, when it was stored and
/// for how long.
#[derive(Debug)]
pub struct Item {
    /// The reply as the cache answers it, on the wire: the header (its ID
    /// and flags are set for each answer), the question as the client that
    /// filled the item asked it, every record (TTLs set for each answer),
    /// no OPT (the server adds the client's).
    wire: Wire,
    pub qtype: u16,
    pub qclass: u16,
    pub rcode: u16,
    pub ad: bool,
    pub ra: bool,
    /// The question name's length in `wire`.
    qname_len: u8,
    /// The reply answers its question (see [`answers_question`]).
    pub answering: bool,
    /// What kind of reply it is as log classifies it (`classify`, not the
    /// cache's own reading, which takes some NOERROR replies for NODATA).
    pub kind: Kind,
    /// The reply's length without name compression (the size prometheus
    /// reports); 0 until first asked for.
    plain_len: AtomicU16,
    /// `serve_stale_policy prefer_positive`: the answering item a
    /// non-answer replaced under the same key.
    pub last_known_good: Option<Box<Item>>,
    /// Seconds the item lives.
    pub orig_ttl: u32,
    stored: Tick,
    /// Unique within a cache: names the item a refresh started from.
    pub id: u64,
    live: Live,
}

/// What changes on a stored item, from any worker: atomics.
#[derive(Debug)]
struct Live {
    // Prefetch popularity (CoreDNS's freq.Freq), as ticks.
    freq_last: AtomicU64,
    freq_hits: AtomicU32,
    /// When a refresh of this item started; NEVER when none is in flight.
    refreshing: AtomicU64,
    /// A failed refresh suppresses another until then (failure recheck).
    retry_after: AtomicU64,
    /// The last refresh failed (serve_stale verify then answers stale at
    /// once, refreshing in the background).
    failing: AtomicBool,
    /// Hits since stored or since eviction last passed it, up to 3
    /// (S3-FIFO's frequency).
    freq: std::sync::atomic::AtomicU8,
    /// Raw-path hits counted towards handing the item to the kernel (up
    /// to 255), and the query variants (bit i: variant i) it was offered
    /// for.
    kernel_hits: std::sync::atomic::AtomicU8,
    kernel_variants: std::sync::atomic::AtomicU16,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            freq_last: AtomicU64::new(Tick::NEVER.0),
            freq_hits: AtomicU32::new(0),
            refreshing: AtomicU64::new(Tick::NEVER.0),
            retry_after: AtomicU64::new(Tick::NEVER.0),
            failing: AtomicBool::new(false),
            freq: Default::default(),
            kernel_hits: Default::default(),
            kernel_variants: Default::default(),
        }
    }
}

/// Replies up to this long are kept inside the item (most answers to one
/// question with a record or two), so a hit reads one allocation.
const INLINE: usize = 80;

/// An item's reply bytes: inline when short, else on the heap.
#[derive(Clone)]
enum Wire {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Wire {
    fn new(b: &[u8]) -> Wire {
        if b.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..b.len()].copy_from_slice(b);
            Wire::Inline {
                len: b.len() as u8,
                bytes,
            }
        } else {
            Wire::Heap(b.into())
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Wire::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Wire::Heap(b) => b,
        }
    }
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x?}", self.bytes())
    }
}

/// A refresh that never came back (a panicking plugin) stops blocking new
/// ones after this long.
const REFRESH_LIMIT: Duration = Duration::from_secs(30);

/// The reply a cache answers with for `m` (the reply as cached, its TTLs
/// capped and without OPT) to the question `q`, header flags aside.
fn wire_form(m: &Message, q: &Query) -> Option<Vec<u8>> {
    let mut r = Message::new(0, MessageType::Response, OpCode::Query);
    r.metadata.authoritative = true;
    r.metadata.response_code = m.metadata.response_code;
    r.queries.push(q.clone());
    r.answers.clone_from(&m.answers);
    r.authorities.clone_from(&m.authorities);
    r.additionals.clone_from(&m.additionals);
    let mut out = Vec::with_capacity(512);
    r.emit(&mut BinEncoder::new(&mut out)).ok()?;
    // Over 64 KiB, hickory writes the records that fit and sets TC: that
    // is not the reply, and a hit would serve it as if it were. Such a
    // reply is not cached; the chain truncates it for each client.
    let h = crate::wire::Header::parse(&out).ok()?;
    (h.flags & crate::wire::FLAG_TC == 0).then_some(out)
}

impl Item {
    /// `m` is the reply as cached; `q` the question of the query that
    /// filled it. None if it cannot be encoded.
    pub fn new(m: &Message, q: &Query, now: Tick, d: Duration, id: u64) -> Option<Self> {
        let bytes = wire_form(m, q)?;
        let qname_len = wire::question_name(&bytes)?.len() as u8;
        Some(Self {
            wire: Wire::new(&bytes),
            qname_len,
            qtype: u16::from(q.query_type()),
            qclass: u16::from(q.query_class()),
            rcode: u16::from(m.metadata.response_code),
            ad: m.metadata.authentic_data,
            ra: m.metadata.recursion_available,
            answering: answers_question(m),
            kind: classify(m),
            plain_len: AtomicU16::new(0),
            last_known_good: None,
            orig_ttl: d.as_secs().min(u64::from(u32::MAX)) as u32,
            stored: now,
            id,
            live: Live::default(),
        })
    }

    /// The item as a process taking over reads it back ([`Item::read`]):
    /// its key, AD and RA, TTL, age at `now` and reply.
    pub fn write(&self, k: u64, now: Tick, out: &mut Vec<u8>) {
        let w = self.wire();
        out.extend(k.to_be_bytes());
        out.push(u8::from(self.ad) | u8::from(self.ra) << 1);
        out.extend(self.orig_ttl.to_be_bytes());
        out.extend(now.0.saturating_sub(self.stored.0).to_be_bytes());
        out.extend((w.len() as u32).to_be_bytes());
        out.extend(w);
    }

    /// An item [`Item::write`] wrote, stored as long ago (from `now`) as it
    /// was then, and its key; the bytes it took. None for bytes that do
    /// not read.
    pub fn read(b: &[u8], now: Tick, id: u64) -> Option<(u64, Item, usize)> {
        let k = u64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let flags = *b.get(8)?;
        let ttl = u32::from_be_bytes(b.get(9..13)?.try_into().ok()?);
        let age = u64::from_be_bytes(b.get(13..21)?.try_into().ok()?);
        let len = u32::from_be_bytes(b.get(21..25)?.try_into().ok()?) as usize;
        let wire = b.get(25..25 + len)?;
        let mut m = Message::from_vec(wire).ok()?;
        m.metadata.authentic_data = flags & 1 != 0;
        m.metadata.recursion_available = flags & 2 != 0;
        let q = m.queries.first()?.clone();
        let stored = Tick(now.0.saturating_sub(age));
        let item = Item::new(&m, &q, stored, Duration::from_secs(u64::from(ttl)), id)?;
        Some((k, item, 25 + len))
    }

    /// A copy with the reply and what is known of it, without the state of
    /// its refresh or popularity (for `last_known_good`).
    fn copy(&self) -> Item {
        Item {
            wire: self.wire.clone(),
            qtype: self.qtype,
            qclass: self.qclass,
            rcode: self.rcode,
            ad: self.ad,
            ra: self.ra,
            qname_len: self.qname_len,
            answering: self.answering,
            kind: self.kind,
            plain_len: AtomicU16::new(self.plain_len.load(Relaxed)),
            last_known_good: None,
            orig_ttl: self.orig_ttl,
            stored: self.stored,
            id: self.id,
            live: Live::default(),
        }
    }

    /// A raw-path hit of query variant `variant` (0..16): whether it is the
    /// one to hand the item to the kernel for that variant (`threshold`
    /// hits counted, not offered before).
    pub fn kernel_offer(&self, variant: u8, threshold: u32) -> bool {
        let bit = 1u16 << (variant & 15);
        if self.live.kernel_variants.load(Relaxed) & bit != 0 {
            return false;
        }
        let n = self.live.kernel_hits.load(Relaxed);
        if u32::from(n) + 1 < threshold.min(255) {
            self.live.kernel_hits.store(n + 1, Relaxed);
            return false;
        }
        self.live.kernel_variants.fetch_or(bit, Relaxed) & bit == 0
    }

    /// It was offered to the kernel for some variant.
    pub fn in_kernel(&self) -> bool {
        self.live.kernel_variants.load(Relaxed) != 0
    }

    /// When it was stored.
    pub fn stored(&self) -> Tick {
        self.stored
    }

    /// Counts a hit for eviction. Written only while the count is below 3,
    /// so a hot item's line is not written on every hit.
    pub fn touch(&self) {
        let f = self.live.freq.load(Relaxed);
        if f < 3 {
            self.live.freq.store(f + 1, Relaxed);
        }
    }

    /// The stored reply (see the field's comment).
    pub fn wire(&self) -> &[u8] {
        self.wire.bytes()
    }

    /// The question name as stored (case as the filling client sent it).
    pub fn qname(&self) -> &[u8] {
        &self.wire()[crate::wire::HEADER_LEN..crate::wire::HEADER_LEN + usize::from(self.qname_len)]
    }

    /// The reply's uncompressed length (miekg's `Len`, which prometheus
    /// reports), worked out the first time it is asked for.
    pub fn plain_len(&self) -> usize {
        let mut len = self.plain_len.load(Relaxed);
        if len == 0 {
            let l =
                Message::from_vec(self.wire()).map_or(0, |m| crate::metrics::vars::message_len(&m));
            len = l.min(usize::from(u16::MAX)) as u16;
            self.plain_len.store(len, Relaxed);
        }
        usize::from(len)
    }

    /// Seconds left; zero or less once expired (whole seconds of age, as Go's
    /// `int(Duration.Seconds())`).
    pub fn ttl(&self, now: Tick) -> i64 {
        i64::from(self.orig_ttl) - now.since(self.stored).as_secs() as i64
    }

    /// The item is for this question (guards against key collisions).
    pub fn matches(&self, q: &Question<'_>) -> bool {
        let n = self.qname();
        // Mostly stored as asked, in lower case: one memcmp.
        self.qtype == q.qtype
            && self.qclass == q.qclass
            && n.len() == q.name.len()
            && (n == q.name || n.eq_ignore_ascii_case(q.name))
    }

    /// This item, or the last known good one it keeps, when it answers the question.
    pub fn answering_item(&self, q: &Question<'_>) -> Option<Loc> {
        if self.answering && self.matches(q) {
            return Some(Loc::Pos);
        }
        match &self.last_known_good {
            Some(l) if l.answering && l.matches(q) => Some(Loc::PosKept),
            _ => None,
        }
    }

    /// A copy of the answering item (for `last_known_good`).
    pub fn answering_copy(&self, q: &Question<'_>) -> Option<Box<Item>> {
        match self.answering_item(q)? {
            Loc::PosKept => self.last_known_good.as_ref().map(|i| Box::new(i.copy())),
            _ => Some(Box::new(self.copy())),
        }
    }

    /// The hits a hit now would make: hits within `window` of the previous
    /// one add up, a longer gap starts again at one.
    pub fn peek_freq(&self, window: Duration, now: Tick) -> u32 {
        let last = Tick(self.live.freq_last.load(Relaxed));
        let recent = !last.is_never()
            && now
                .0
                .checked_sub(window.as_nanos() as u64)
                .is_none_or(|e| last.0 >= e);
        if recent {
            self.live.freq_hits.load(Relaxed) + 1
        } else {
            1
        }
    }

    /// Counts a hit for prefetch (see [`Item::peek_freq`]); returns the
    /// hits. Workers counting at once may lose a hit to each other, as
    /// CoreDNS's goroutines may.
    pub fn update_freq(&self, window: Duration, now: Tick) -> u32 {
        let hits = self.peek_freq(window, now);
        self.live.freq_hits.store(hits, Relaxed);
        self.live.freq_last.store(now.0, Relaxed);
        hits
    }

    pub fn hits(&self) -> u32 {
        self.live.freq_hits.load(Relaxed)
    }

    pub fn reset_freq(&self, now: Tick, hits: u32) {
        self.live.freq_last.store(now.0, Relaxed);
        self.live.freq_hits.store(hits, Relaxed);
    }

    /// Claims the item's single refresh slot, for every worker at once;
    /// false while another refresh is in flight or a failed one's recheck
    /// period runs.
    pub fn begin_refresh(&self, now: Tick, recheck: Duration) -> bool {
        let retry_after = Tick(self.live.retry_after.load(Relaxed));
        if !recheck.is_zero() && !retry_after.is_never() && now < retry_after {
            return false;
        }
        let started = self.live.refreshing.load(Relaxed);
        if self.refreshing(now) {
            return false;
        }
        self.live
            .refreshing
            .compare_exchange(started, now.0, Relaxed, Relaxed)
            .is_ok()
    }

    /// A refresh of this item is under way.
    pub fn refreshing(&self, now: Tick) -> bool {
        let started = Tick(self.live.refreshing.load(Relaxed));
        !started.is_never() && now.since(started) < REFRESH_LIMIT
    }

    /// The last refresh of this item failed.
    pub fn failing(&self) -> bool {
        self.live.failing.load(Relaxed)
    }

    pub fn end_refresh(&self, now: Tick, recheck: Duration, refreshed: bool) {
        self.live.failing.store(!refreshed, Relaxed);
        let retry_after = if !recheck.is_zero() && !refreshed {
            now.after(recheck)
        } else {
            Tick::NEVER
        };
        self.live.retry_after.store(retry_after.0, Relaxed);
        self.live.refreshing.store(Tick::NEVER.0, Relaxed);
    }

    /// A reply to `req` from this item with every record's TTL set to
    /// `ttl` (CoreDNS's `toMsgWithTTL`): AA set, AD only for clients that
    /// asked for DNSSEC or set AD, RA and rcode as cached.
    pub fn to_msg(&self, req: &Request, ttl: u32, do_bit: bool, ad: bool) -> Message {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        m.metadata.authentic_data = self.ad && (do_bit || ad);
        m.metadata.recursion_available = self.ra;
        m.metadata.response_code = <ResponseCode as From<u16>>::from(self.rcode);
        if let Ok(stored) = Message::from_vec(self.wire()) {
            m.answers = stored.answers;
            m.authorities = stored.authorities;
            m.additionals = stored.additionals;
        }
        set_ttl(&mut m.answers, ttl);
        set_ttl(&mut m.authorities, ttl);
        set_ttl(&mut m.additionals, ttl);
        m
    }
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

/// A map of at most `cap` items, shared by every worker. Lookups go
/// through a [`View`] and take no lock; adding and removing take the writer
/// lock, under which S3-FIFO (Yang et al., SOSP 2023) picks what to evict:
/// a new item enters a small queue (a tenth of the store); one evicted from
/// there unhit leaves only its key in a ghost queue, one hit moves on to
/// the main queue, and a key seen in the ghost queue enters the main queue
/// at once; the main queue evicts in FIFO order, giving items hit since
/// their last pass another round. A flood of names asked once passes
/// through the small queue and never displaces the names clients keep
/// asking. O(1) a fill, amortised; nothing on a hit but [`Item::touch`].
pub struct Store {
    cap: usize,
    items: papaya::HashMap<u64, Item, crate::hash::Seeded>,
    /// The eviction queues. Only writers touch them.
    queues: Mutex<Queues>,
    /// Told the id of each item handed to the kernel once it is replaced,
    /// evicted or removed.
    pub gone: arc_swap::ArcSwapOption<Gone>,
}

/// See [`Store::gone`].
pub struct Gone(pub Box<dyn Fn(u64) + Send + Sync>);

impl Store {
    /// For a process taking over: every item with its key and its place
    /// (`Place`), the small queue's in their order then the main queue's
    /// (oldest first), then the keys the ghost queue remembers. The
    /// queues' order is copied under their lock; the items are read
    /// after, so fills wait only for the copy.
    pub fn export(&self, mut item: impl FnMut(u64, &Item, Place), mut ghost: impl FnMut(u64)) {
        let (order, ghosts) = {
            let q = self.queues();
            let live = |(k, g): &(u64, u64), queue: Q| q.at.get(k) == Some(&(queue, *g));
            let order: Vec<(u64, Q)> = q
                .small
                .iter()
                .filter(|e| live(e, Q::Small))
                .map(|(k, _)| (*k, Q::Small))
                .chain(
                    q.main
                        .iter()
                        .filter(|e| live(e, Q::Main))
                        .map(|(k, _)| (*k, Q::Main)),
                )
                .collect();
            let ghosts: Vec<u64> = q
                .ghost
                .iter()
                .filter(|(k, g)| q.ghosts.get(k) == Some(g))
                .map(|(k, _)| *k)
                .collect();
            (order, ghosts)
        };
        let items = self.items.pin();
        for (k, queue) in order {
            if let Some(i) = items.get(&k) {
                let place = Place {
                    main: queue == Q::Main,
                    freq: i.live.freq.load(Relaxed),
                };
                item(k, i, place);
            }
        }
        for k in ghosts {
            ghost(k);
        }
    }

    /// Stores an item another process exported ([`Store::export`]) at the
    /// end of the queue it was in there, with its frequency; as
    /// [`Store::add`] when the key is here already or the store is full.
    pub fn add_placed(&self, k: u64, item: Item, place: Place) {
        item.live.freq.store(place.freq.min(3), Relaxed);
        let mut q = self.queues();
        if q.at.contains_key(&k) || q.n_small + q.n_main >= self.cap {
            drop(q);
            self.add(k, item);
            return;
        }
        q.ghosts.remove(&k);
        q.push(if place.main { Q::Main } else { Q::Small }, k);
        self.items.pin().insert(k, item);
    }

    /// Remembers a key the exporting process's ghost queue held.
    pub fn add_ghost(&self, k: u64) {
        let mut q = self.queues();
        if !q.at.contains_key(&k) {
            let cap = self.cap - (self.cap / 10).max(1).min(self.cap);
            q.remember_ghost(k, cap.max(1));
        }
    }

    /// Every item counts its raw-path hits towards the kernel afresh (a
    /// new kernel path, with an empty map).
    pub fn reset_kernel(&self) {
        for (_, i) in self.items.pin().iter() {
            i.live.kernel_hits.store(0, Relaxed);
            i.live.kernel_variants.store(0, Relaxed);
        }
    }

    fn went(&self, i: Option<&Item>) {
        if let Some(i) = i.filter(|i| i.in_kernel()) {
            if let Some(g) = self.gone.load().as_ref() {
                (g.0)(i.id);
            }
        }
    }
}

/// Which queue a key is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Q {
    Small,
    Main,
}

/// Where an exported item was in its store: the main queue (else the
/// small one) and its S3-FIFO frequency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Place {
    pub main: bool,
    pub freq: u8,
}

/// S3-FIFO's queues of keys. An entry carries the generation its key had
/// when queued; a key removed or requeued since has another, so stale
/// entries are skipped when they come up.
#[derive(Default)]
struct Queues {
    small: std::collections::VecDeque<(u64, u64)>,
    main: std::collections::VecDeque<(u64, u64)>,
    ghost: std::collections::VecDeque<(u64, u64)>,
    /// Keys stored now: their queue and generation.
    at: crate::hash::SeededMap<u64, (Q, u64)>,
    /// Keys in the ghost queue and their generation there.
    ghosts: crate::hash::SeededMap<u64, u64>,
    /// Items in each queue.
    n_small: usize,
    n_main: usize,
    next_gen: u64,
}

impl Queues {
    fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    fn push(&mut self, q: Q, k: u64) {
        let g = self.gen();
        self.at.insert(k, (q, g));
        let (queue, n) = match q {
            Q::Small => (&mut self.small, &mut self.n_small),
            Q::Main => (&mut self.main, &mut self.n_main),
        };
        queue.push_back((k, g));
        *n += 1;
        // Entries of removed keys wait for their turn to be skipped; where
        // keys come and go without evictions they must not pile up.
        if queue.len() > 2 * *n + 64 {
            let at = &self.at;
            queue.retain(|(k, g)| at.get(k) == Some(&(q, *g)));
        }
    }

    /// Forgets a stored key (its queue entry goes stale).
    fn forget(&mut self, k: u64) -> bool {
        match self.at.remove(&k) {
            Some((Q::Small, _)) => self.n_small -= 1,
            Some((Q::Main, _)) => self.n_main -= 1,
            None => return false,
        }
        true
    }

    fn remember_ghost(&mut self, k: u64, cap: usize) {
        let g = self.gen();
        self.ghosts.insert(k, g);
        self.ghost.push_back((k, g));
        while self.ghosts.len() > cap {
            let Some((old, og)) = self.ghost.pop_front() else {
                break;
            };
            if self.ghosts.get(&old) == Some(&og) {
                self.ghosts.remove(&old);
            }
        }
        // Stale ghost entries must not pile up behind live ones.
        if self.ghost.len() > 2 * cap.max(1) {
            let ghosts = &self.ghosts;
            self.ghost.retain(|(k, g)| ghosts.get(k) == Some(g));
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({} of {})", self.len(), self.cap)
    }
}

/// A store pinned for lookups: what it returns stays valid while the view
/// lives, whatever other workers add or evict meanwhile.
pub struct View<'a>(papaya::HashMapRef<'a, u64, Item, crate::hash::Seeded, papaya::LocalGuard<'a>>);

impl View<'_> {
    pub fn get(&self, k: u64) -> Option<&Item> {
        self.0.get(&k)
    }
}

/// The items a store's table is first sized for; papaya grows it as items
/// come (the writers copy it over, a part at each fill).
const INITIAL_ITEMS: usize = 1 << 10;

impl Store {
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            cap,
            // The table starts small and grows with what it holds: sized
            // for the capacity (2^17 slots for 100,000 items), 10,000
            // cached names were spread over 1 MiB of slots, and every hit
            // missed the CPU's caches and TLB on its slot.
            items: papaya::HashMap::builder()
                .capacity(cap.min(INITIAL_ITEMS))
                .hasher(crate::hash::Seeded::default())
                .build(),
            queues: Mutex::default(),
            gone: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn view(&self) -> View<'_> {
        View(self.items.pin())
    }

    fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `item` under `k`, replacing any item there (which keeps its
    /// place and its hits). Returns whether another item was evicted to
    /// make room.
    pub fn add(&self, k: u64, item: Item) -> bool {
        let mut q = self.queues();
        let items = self.items.pin();
        if q.at.contains_key(&k) {
            if let Some(old) = items.get(&k) {
                item.live.freq.store(old.live.freq.load(Relaxed), Relaxed);
            }
            self.went(items.insert(k, item));
            return false;
        }
        let mut evicted = false;
        while q.n_small + q.n_main >= self.cap {
            if !self.evict(&mut q, &items) {
                break;
            }
            evicted = true;
        }
        let to = if q.ghosts.remove(&k).is_some() {
            Q::Main
        } else {
            Q::Small
        };
        q.push(to, k);
        items.insert(k, item);
        evicted
    }

    /// Evicts one item; false when there was none.
    fn evict(&self, q: &mut Queues, items: &View0<'_>) -> bool {
        let small_cap = (self.cap / 10).max(1);
        loop {
            let from_small = q.n_small >= small_cap || q.n_main == 0;
            let popped = if from_small {
                q.small.pop_front()
            } else {
                q.main.pop_front()
            };
            let Some((k, g)) = popped else {
                return false;
            };
            let queue = if from_small { Q::Small } else { Q::Main };
            if q.at.get(&k) != Some(&(queue, g)) {
                continue; // stale: removed or moved since
            }
            let freq = items.get(&k).map_or(0, |i| i.live.freq.load(Relaxed));
            if from_small {
                q.forget(k);
                if freq > 0 {
                    // Hit while new: on to the main queue, counted afresh.
                    if let Some(i) = items.get(&k) {
                        i.live.freq.store(0, Relaxed);
                    }
                    q.push(Q::Main, k);
                    continue;
                }
                self.went(items.remove(&k));
                let ghost_cap = self.cap - small_cap.min(self.cap);
                q.remember_ghost(k, ghost_cap.max(1));
                return true;
            }
            q.forget(k);
            if freq > 0 {
                if let Some(i) = items.get(&k) {
                    i.live.freq.store(freq - 1, Relaxed);
                }
                q.push(Q::Main, k);
                continue;
            }
            self.went(items.remove(&k));
            return true;
        }
    }

    pub fn remove(&self, k: u64) {
        let mut q = self.queues();
        if q.forget(k) {
            self.went(self.items.pin().remove(&k));
        }
    }
}

/// The map pinned by a writer.
type View0<'a> = papaya::HashMapRef<'a, u64, Item, crate::hash::Seeded, papaya::LocalGuard<'a>>;

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
