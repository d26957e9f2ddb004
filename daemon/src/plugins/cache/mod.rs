//! cache: answers repeated queries from the replies the rest of the chain
//! gave before, as CoreDNS's cache plugin does.
//!
//! One cache per `cache` directive, shared by every worker (a [`Shard`]: a
//! success store and a denial store, lock-free for lookups, see
//! [`store`]): what any worker cached answers on every worker, and the
//! configured capacity is the whole server's. A miss passes
//! the query on and watches the outcome; the response phase stores the
//! reply. A refresh (prefetch, serve_stale) forks: the client gets the
//! cached reply at once (serve_stale verify: after at most the verify
//! timeout) and the rest of the chain refreshes the item on a copy of the
//! query, as CoreDNS's background refreshes do.

pub mod fast;
mod fill;
mod flight;
mod metrics;
mod setup;
pub mod store;
#[cfg(test)]
pub(crate) mod tests;

pub use setup::{setup, Config, DEFAULT_CAP, MAX_NTTL, MAX_TTL, MIN_TTL};

use crate::plugin::classify::Kind;
use crate::plugin::fast::{Context, RawAnswer, RawQuery};
use crate::plugin::{names, Action, Fork, Outcome, Request};
use crate::plugin::{Fast, LocalFuture, Plugin};
use flight::{Flight, FlightGuard, Flights, Joined, FLIGHT_WAIT};
use hickory_proto::op::{Message, ResponseCode};
use metrics::{
    CACHE_DROPS, CACHE_ENTRIES, CACHE_EVICTIONS, CACHE_HITS, CACHE_MISSES, CACHE_PREFETCH,
    CACHE_REQUESTS, CACHE_SERVED_STALE,
};
use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use store::{Item, Loc, Question, Store, Tick, View};

/// CoreDNS's total size for a requested capacity: 256 shards of
/// `max(cap / 256, 4)` items.
pub fn total_capacity(cap: i64) -> usize {
    256 * (cap / 256).clamp(4, 1 << 40) as usize
}

pub struct Cache {
    c: Box<Config>,
    /// The `zones` metric label: the zones joined by commas.
    zones_label: String,
    /// The `view` metric label: its block's view (CoreDNS reads the
    /// block's at start-up), empty without one.
    view: String,
    /// The zones in wire form, for the fast path; None if one has no wire
    /// form (the fast path then leaves the cache to the chain).
    zones_wire: Option<Vec<Box<[u8]>>>,
    /// The stores, shared by every worker, and by the next configuration's
    /// cache of the same block when its settings are the same.
    shard: std::sync::Arc<Shard>,
    /// The per-worker state slot of its raw-path series.
    slot: usize,
    /// The block it is of (zones, port, place): what names its answers in
    /// a handover.
    block: String,
}

/// A query passed on by the cache, remembered until its response phase.
#[derive(Debug)]
struct Pending {
    /// The client's AD bit (the query passed on carries AD set).
    ad: bool,
    do_bit: bool,
    cd: bool,
    key: u64,
    mode: Mode,
    /// A miss this query fills for every worker: misses for the same key
    /// wait for it until this is dropped (after the fill, or with the
    /// request if the chain never got back). Held for its drop.
    _flight: Option<FlightGuard>,
}

#[derive(Debug)]
enum Mode {
    /// A miss: store what comes back.
    Fresh,
    /// serve_stale verify: use what comes back if it refreshes the item,
    /// else answer with the stale reply. `answered`: with a verify timeout,
    /// set once the client got the stale reply because the verify took
    /// longer (it is counted as served stale then, not again here).
    Verify {
        stale: Message,
        item: u64,
        answered: Option<Rc<Cell<bool>>>,
    },
    /// The client of a verify that took longer than the verify timeout got
    /// the stale reply (the client's side of `Verify { answered }`).
    Late(Rc<Cell<bool>>),
    /// A prefetch or a serve_stale refresh in the background: what comes
    /// back only refreshes the cache (the client was answered already).
    Refresh {
        item: u64,
        stale: bool,
        hits: u32,
        now: Tick,
    },
}

/// The cache's stores, shared by every worker.
pub struct Shard {
    pos: Store,
    neg: Store,
    next_id: AtomicU64,
    /// Misses being filled (single-flight across workers).
    flights: std::sync::Arc<Flights>,
    /// Where hot answers go to the kernel (`xdp`), if anywhere.
    kernel: arc_swap::ArcSwapOption<KernelLink>,
    /// `kernel` holds a link: what a raw-path hit looks at first (a
    /// relaxed load, where `kernel`'s is a few atomic operations).
    kernel_on: std::sync::atomic::AtomicBool,
    /// The ids an export for a handover covered: every item stored since
    /// has a higher one (what the late export sends).
    exported_upto: AtomicU64,
}

/// A shard's way to the kernel fast path.
struct KernelLink {
    feed: std::sync::Arc<dyn crate::plugin::kernel::Feed>,
    threshold: u32,
}

impl Shard {
    pub fn new(pcap: usize, ncap: usize) -> Self {
        Self {
            pos: Store::new(pcap),
            neg: Store::new(ncap),
            next_id: AtomicU64::new(0),
            flights: Default::default(),
            kernel: Default::default(),
            kernel_on: Default::default(),
            exported_upto: AtomicU64::new(0),
        }
    }

    /// Every answer, for a process taking over, with its place in the
    /// eviction queues ([`Store::export`]): for the success store then
    /// the denial store, a count of items, each its place (a byte: 1 for
    /// the main queue, plus the frequency times 2) and [`Item::write`]'s
    /// bytes, then a count of the ghost queue's keys and the keys.
    /// `late`: only the items stored since the last export began (ids are
    /// handed out in order), and no ghosts.
    fn export(&self, now: Tick, late: bool) -> Vec<u8> {
        let since = if late {
            self.exported_upto.load(Ordering::Relaxed)
        } else {
            0
        };
        self.exported_upto
            .store(self.next_id.load(Ordering::Relaxed), Ordering::Relaxed);
        let mut out = Vec::new();
        for store in [&self.pos, &self.neg] {
            let at = out.len();
            out.extend(0u32.to_be_bytes());
            let (mut n, mut ghosts) = (0u32, Vec::new());
            store.export(
                |k, i, place| {
                    if i.id > since {
                        out.push(u8::from(place.main) | place.freq.min(3) << 1);
                        i.write(k, now, &mut out);
                        n += 1;
                    }
                },
                |k| {
                    if !late {
                        ghosts.push(k)
                    }
                },
            );
            out[at..at + 4].copy_from_slice(&n.to_be_bytes());
            out.extend((ghosts.len() as u32).to_be_bytes());
            for k in ghosts {
                out.extend(k.to_be_bytes());
            }
        }
        out
    }

    /// What [`Shard::export`] wrote, each item where it was (a full store
    /// evicts, as fills do); what does not read is left out.
    fn import(&self, mut b: &[u8], now: Tick) {
        let count = |b: &mut &[u8]| -> Option<u32> {
            let n = u32::from_be_bytes(b.get(..4)?.try_into().ok()?);
            *b = &b[4..];
            Some(n)
        };
        for store in [&self.pos, &self.neg] {
            let Some(n) = count(&mut b) else {
                return;
            };
            for _ in 0..n {
                let Some((&place, rest)) = b.split_first() else {
                    return;
                };
                let Some((k, item, used)) = Item::read(rest, now, self.id()) else {
                    return;
                };
                let place = store::Place {
                    main: place & 1 != 0,
                    freq: place >> 1,
                };
                store.add_placed(k, item, place);
                b = &rest[used..];
            }
            let Some(n) = count(&mut b) else {
                return;
            };
            for _ in 0..n {
                let Some(k) = b.get(..8).and_then(|k| k.try_into().ok()) else {
                    return;
                };
                store.add_ghost(u64::from_be_bytes(k));
                b = &b[8..];
            }
        }
    }

    /// Hands hot answers to `feed` from now on (None: to nobody); what an
    /// item handed over becomes (replaced, evicted, removed) is told it.
    fn set_kernel(&self, feed: Option<std::sync::Arc<dyn crate::plugin::kernel::Feed>>) {
        if self.kernel.load().is_some() || feed.is_some() {
            self.pos.reset_kernel();
            self.neg.reset_kernel();
        }
        match feed {
            Some(feed) => {
                for store in [&self.pos, &self.neg] {
                    let f = std::sync::Arc::clone(&feed);
                    store
                        .gone
                        .store(Some(std::sync::Arc::new(store::Gone(Box::new(
                            move |id| f.forget(id),
                        )))));
                }
                let threshold = feed.threshold().max(1);
                self.kernel
                    .store(Some(std::sync::Arc::new(KernelLink { feed, threshold })));
                self.kernel_on.store(true, Ordering::Relaxed);
            }
            None => {
                self.kernel_on.store(false, Ordering::Relaxed);
                self.kernel.store(None);
                self.pos.gone.store(None);
                self.neg.gone.store(None);
            }
        }
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Both stores pinned for a lookup.
    fn views(&self) -> Views<'_> {
        Views {
            pos: self.pos.view(),
            neg: self.neg.view(),
        }
    }
}

/// Both stores of a [`Shard`] pinned: items found stay valid while it lives.
struct Views<'a> {
    pos: View<'a>,
    neg: View<'a>,
}

impl Views<'_> {
    fn item(&self, k: u64, loc: Loc) -> Option<&Item> {
        match loc {
            Loc::Pos => self.pos.get(k),
            Loc::PosKept => self.pos.get(k).and_then(|i| i.last_known_good.as_deref()),
            Loc::Neg => self.neg.get(k),
        }
    }

    /// The item with this id under `k`, wherever it is now.
    fn item_by_id(&self, k: u64, id: u64) -> Option<&Item> {
        [Loc::Neg, Loc::Pos, Loc::PosKept]
            .into_iter()
            .filter_map(|loc| self.item(k, loc))
            .find(|i| i.id == id)
    }
}

/// Metric updates gathered during a lookup or a fill.
#[derive(Default)]
struct Counts {
    request: bool,
    hit: Option<&'static str>,
    miss: bool,
    prefetch: bool,
    stale: bool,
    drop: bool,
    evicted: Option<&'static str>,
    entries: Option<(usize, usize)>,
}

/// A query as the cache keys it.
struct Asked<'a> {
    q: Question<'a>,
    k: u64,
    do_bit: bool,
    cd: bool,
    /// The client's AD bit.
    ad: bool,
}

impl<'a> Asked<'a> {
    fn of(req: &'a Request) -> Asked<'a> {
        let do_bit = req.do_bit();
        let cd = req.msg.metadata.checking_disabled;
        let q = Question::of(req);
        Asked {
            k: store::key(&q, do_bit, cd),
            q,
            do_bit,
            cd,
            ad: req.msg.metadata.authentic_data,
        }
    }
}

/// What the query phase decided.
enum Decision {
    Answer(Message),
    Pass(Pending),
    /// A miss another query is filling: wait for it.
    Wait(std::sync::Arc<Flight>),
    /// Answer with the reply, after at most the wait; the rest of the chain
    /// refreshes the item on a copy of the query.
    Fork(Message, Pending, Duration),
}

impl Cache {
    /// A cache with empty stores.
    pub fn new(c: Config) -> Self {
        let shard = Shard::new(total_capacity(c.pcap), total_capacity(c.ncap));
        Self::with_shard(c, std::sync::Arc::new(shard))
    }

    fn with_shard(c: Config, shard: std::sync::Arc<Shard>) -> Self {
        Self {
            zones_label: c.zones.join(","),
            view: String::new(),
            zones_wire: c
                .zones
                .iter()
                .map(|z| crate::wire::fast::zone_wire(z))
                .collect(),
            shard,
            c: Box::new(c),
            slot: 0,
            block: String::new(),
        }
    }

    /// The cache of server block `block`: a reload whose `cache` for the
    /// block has the same settings keeps what the running one holds (as
    /// CoreDNS does); other settings start empty.
    pub fn for_block(block: &str, c: Config) -> Self {
        let mut cache = Self::for_block_shard(block, c);
        cache.block = block.to_string();
        cache
    }

    fn for_block_shard(block: &str, c: Config) -> Self {
        type Live = Vec<(String, Config, std::sync::Weak<Shard>)>;
        static LIVE: std::sync::Mutex<Live> = std::sync::Mutex::new(Vec::new());
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|(_, _, w)| w.strong_count() > 0);
        let kept = live
            .iter()
            .find(|(b, lc, _)| b == block && *lc == c)
            .and_then(|(_, _, w)| w.upgrade());
        if let Some(shard) = kept {
            return Self::with_shard(c, shard);
        }
        let cache = Self::new(c);
        live.push((
            block.to_string(),
            cache.c.as_ref().clone(),
            std::sync::Arc::downgrade(&cache.shard),
        ));
        cache
    }

    pub fn config(&self) -> &Config {
        &self.c
    }

    fn record(&self, req: &Request, n: &Counts) {
        let (server, zones, view) = (&*req.server, self.zones_label.as_str(), self.view.as_str());
        req.worker.metrics(|m| {
            if n.request {
                m.inc(&CACHE_REQUESTS, &[server, zones, view]);
            }
            if let Some(t) = n.hit {
                m.inc(&CACHE_HITS, &[server, t, zones, view]);
            }
            if n.miss {
                m.inc(&CACHE_MISSES, &[server, zones, view]);
            }
            if n.prefetch {
                m.inc(&CACHE_PREFETCH, &[server, zones, view]);
            }
            if n.stale {
                m.inc(&CACHE_SERVED_STALE, &[server, zones, view]);
            }
            if n.drop {
                m.inc(&CACHE_DROPS, &[server, zones, view]);
            }
            if let Some(t) = n.evicted {
                m.inc(&CACHE_EVICTIONS, &[server, t, zones, view]);
            }
        });
        // One cache for every worker: its size goes to the process-wide
        // shard (per-worker gauges are summed).
        if let Some((p, d)) = n.entries {
            crate::metrics::with(crate::metrics::global(), |m| {
                m.set(&CACHE_ENTRIES, &[server, "success", zones, view], p as f64);
                m.set(&CACHE_ENTRIES, &[server, "denial", zones, view], d as f64);
            });
        }
    }

    /// CoreDNS's `getIfNotStale`: the item to answer from, unexpired or
    /// within the serve_stale window.
    fn find(&self, sh: &Views<'_>, q: &Question<'_>, k: u64, now: Tick) -> Option<Loc> {
        let stale_secs = self.c.stale_up_to.as_secs() as i64;
        let usable = |i: &Item| {
            let t = i.ttl(now);
            t > 0 || (!self.c.stale_up_to.is_zero() && -t < stale_secs)
        };
        if self.c.prefer_positive && !self.c.stale_up_to.is_zero() {
            if let Some(i) = sh.pos.get(k) {
                if let Some(loc) = i.answering_item(q) {
                    let a = match loc {
                        Loc::PosKept => i.last_known_good.as_deref().unwrap_or(i),
                        _ => i,
                    };
                    let t = a.ttl(now);
                    if t > 0 || -t < stale_secs {
                        return Some(loc);
                    }
                }
            }
        }
        if let Some(i) = sh.neg.get(k) {
            if i.matches(q) && usable(i) {
                // A cached SERVFAIL does not shadow a good positive item.
                if i.rcode == u16::from(ResponseCode::ServFail) {
                    if let Some(p) = sh.pos.get(k) {
                        if p.matches(q) && usable(p) {
                            return Some(Loc::Pos);
                        }
                    }
                }
                return Some(Loc::Neg);
            }
        }
        match sh.pos.get(k) {
            Some(i) if i.matches(q) && usable(i) => Some(Loc::Pos),
            _ => None,
        }
    }

    fn lookup(&self, sh: &Views<'_>, req: &Request, now: Tick, n: &mut Counts) -> Decision {
        let Asked {
            q,
            k,
            do_bit,
            cd,
            ad,
        } = Asked::of(req);
        n.request = true;
        let pending = |mode| Pending {
            ad,
            do_bit,
            cd,
            key: k,
            mode,
            _flight: None,
        };
        let Some(loc) = self.find(sh, &q, k, now) else {
            n.miss = true;
            return match self.shard.flights.join(k) {
                Joined::Leader(guard) => Decision::Pass(Pending {
                    _flight: Some(guard),
                    ..pending(Mode::Fresh)
                }),
                // An internal lookup does not wait: the query filling the
                // key may be the one it is nested in, waiting on it.
                Joined::Follower(_) if req.depth > 0 => Decision::Pass(pending(Mode::Fresh)),
                Joined::Follower(f) => Decision::Wait(f),
            };
        };
        n.hit = Some(if loc == Loc::Neg { "denial" } else { "success" });
        let c = &self.c;
        let item = sh.item(k, loc).expect("found above");
        item.touch();
        let ttl = item.ttl(now);
        let stale = ttl <= 0;
        // The TTL of the reply: what is left, the original with keepttl,
        // zero (or the configured response TTL) for a stale item.
        let reply_ttl = if stale && !c.stale_ttl.is_zero() {
            c.stale_ttl.as_secs() as u32
        } else if c.keepttl {
            item.orig_ttl
        } else {
            ttl.max(0) as u32
        };
        let reply = item.to_msg(req, reply_ttl, do_bit, ad);
        if stale {
            let recheck = c.stale_recheck;
            // verify passes the query on first, unless a refresh of the item
            // is under way or the last one failed: then (RFC 8767) the
            // client is not made to wait for the upstream again.
            if c.verify_stale
                && !item.refreshing(now)
                && !item.failing()
                && item.begin_refresh(now, recheck)
            {
                let id = item.id;
                if c.verify_timeout.is_zero() {
                    return Decision::Pass(pending(Mode::Verify {
                        stale: reply,
                        item: id,
                        answered: None,
                    }));
                }
                let answered = Rc::new(Cell::new(false));
                let p = pending(Mode::Verify {
                    stale: reply.clone(),
                    item: id,
                    answered: Some(answered),
                });
                return Decision::Fork(reply, p, c.verify_timeout);
            }
            // immediate: the stale reply now, the refresh in the background.
            n.stale = true;
            if item.begin_refresh(now, recheck) {
                n.prefetch = true;
                let (id, hits) = (item.id, item.hits());
                let p = pending(Mode::Refresh {
                    item: id,
                    stale: true,
                    hits,
                    now,
                });
                return Decision::Fork(reply, p, Duration::ZERO);
            }
            return Decision::Answer(reply);
        }
        if self.should_prefetch(item, now) && item.begin_refresh(now, Duration::ZERO) {
            n.prefetch = true;
            let (id, hits) = (item.id, item.hits());
            let p = pending(Mode::Refresh {
                item: id,
                stale: false,
                hits,
                now,
            });
            return Decision::Fork(reply, p, Duration::ZERO);
        }
        Decision::Answer(reply)
    }

    /// Counts the hit for prefetch; whether the item is due for one.
    fn should_prefetch(&self, i: &Item, now: Tick) -> bool {
        if self.c.prefetch == 0 {
            return false;
        }
        let hits = i.update_freq(self.c.duration, now);
        self.prefetch_due(i, hits, now)
    }

    /// Whether an item with `hits` recent hits is due for a prefetch.
    /// When item `i` enters its prefetch window (the kernel stops
    /// answering it then, so that the chain sees its queries and
    /// prefetches); None without `prefetch`.
    fn prefetch_from(&self, i: &Item) -> Option<Tick> {
        if self.c.prefetch == 0 {
            return None;
        }
        let threshold = (f64::from(self.c.percentage) / 100.0 * f64::from(i.orig_ttl)).ceil();
        let secs = (f64::from(i.orig_ttl) - threshold).max(0.0) as u64;
        Some(i.stored().after(std::time::Duration::from_secs(secs)))
    }

    fn prefetch_due(&self, i: &Item, hits: u32, now: Tick) -> bool {
        let threshold = (f64::from(self.c.percentage) / 100.0 * f64::from(i.orig_ttl)).ceil();
        hits >= self.c.prefetch && (i.ttl(now) as f64) <= threshold
    }
}

impl Plugin for Cache {
    fn name(&self) -> &'static str {
        "cache"
    }

    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        metrics::OWN
    }

    fn in_view(&mut self, view: &str) {
        self.view = view.to_string();
    }

    fn query(&self, req: &mut Request) -> Action {
        if names::zone_match(&self.c.zones, &req.name).is_none() {
            return Action::Next;
        }
        let now = now();
        let mut n = Counts::default();
        let decision = self.lookup(&self.shard.views(), req, now, &mut n);
        self.record(req, &n);
        match decision {
            Decision::Answer(m) => Action::Done(Outcome::reply(m)),
            Decision::Pass(p) => {
                // CoreDNS asks with AD set so the stored reply keeps the
                // upstream's AD for clients that want it.
                req.msg.metadata.authentic_data = true;
                req.stash.put(self, p);
                Action::Watch
            }
            Decision::Wait(flight) => {
                req.stash.put(self, flight);
                Action::Await
            }
            Decision::Fork(answer, p, wait) => {
                let mut copy = req.fork();
                copy.msg.metadata.authentic_data = true;
                if let Mode::Verify {
                    answered: Some(a), ..
                } = &p.mode
                {
                    req.stash.put(
                        self,
                        Pending {
                            ad: p.ad,
                            do_bit: p.do_bit,
                            cd: p.cd,
                            key: p.key,
                            mode: Mode::Late(Rc::clone(a)),
                            _flight: None,
                        },
                    );
                }
                copy.stash.put(self, p);
                Action::Fork(Box::new(Fork {
                    req: copy,
                    answer: Outcome::reply(answer),
                    wait,
                }))
            }
        }
    }

    /// A miss that another query (on any worker) is filling: waits for
    /// it, then answers from what it stored, or with what its chain
    /// answered when it stored nothing, or passes the query on when it did
    /// not land in time (counted once, as the miss it was).
    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(async move {
            let mut theirs = None;
            if let Some(flight) = req.stash.take::<std::sync::Arc<Flight>>(self) {
                if tokio::time::timeout(FLIGHT_WAIT, flight.landed())
                    .await
                    .is_ok()
                {
                    theirs = flight
                        .outcome
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .clone();
                }
            }
            let now = now();
            let Asked {
                q,
                k,
                do_bit,
                cd,
                ad,
            } = Asked::of(req);
            let found = {
                let sh = self.shard.views();
                self.find(&sh, &q, k, now).and_then(|loc| {
                    let item = sh.item(k, loc)?;
                    item.touch();
                    let ttl = item.ttl(now);
                    (ttl > 0).then(|| {
                        let ttl = if self.c.keepttl {
                            item.orig_ttl
                        } else {
                            ttl as u32
                        };
                        item.to_msg(req, ttl, do_bit, ad)
                    })
                })
            };
            if let Some(m) = found {
                return Action::Done(Outcome::reply(m));
            }
            if let Some((reply, rcode)) = theirs {
                return Action::Done(match reply {
                    Some(mut m) => {
                        // The other query's reply, to this one.
                        m.metadata.id = req.msg.metadata.id;
                        m.queries.clone_from(&req.msg.queries);
                        Outcome::reply(m)
                    }
                    None => Outcome::rcode(rcode),
                });
            }
            req.msg.metadata.authentic_data = true;
            req.stash.put(
                self,
                Pending {
                    ad,
                    do_bit,
                    cd,
                    key: k,
                    mode: Mode::Fresh,
                    _flight: None,
                },
            );
            Action::Watch
        })
    }

    fn response(&self, req: &Request, out: &mut Outcome) {
        self.fill(req, out);
    }

    fn kernel_answers(&self) -> bool {
        true
    }

    fn set_kernel(&self, feed: Option<std::sync::Arc<dyn crate::plugin::kernel::Feed>>) {
        self.shard.set_kernel(feed);
    }

    fn handover_state(&self, late: bool) -> Option<(String, Vec<u8>)> {
        Some((
            format!("cache/2 {}", self.block),
            self.shard.export(now(), late),
        ))
    }

    fn take_state(&self, name: &str, state: &[u8]) {
        // cache/2: items with their places (a process of an earlier
        // version passed them without, under another name: left out).
        if name.strip_prefix("cache/2 ") == Some(self.block.as_str()) {
            self.shard.import(state, now());
        }
    }

    fn kernel_done(
        &self,
        h: &crate::plugin::kernel::KernelHits<'_>,
        m: &mut crate::metrics::Shard,
    ) {
        let (zones, view) = (self.zones_label.as_str(), self.view.as_str());
        let n = h.count as f64;
        let kind = if h.denial { "denial" } else { "success" };
        m.add(&CACHE_REQUESTS, &[h.server, zones, view], n);
        m.add(&CACHE_HITS, &[h.server, kind, zones, view], n);
    }

    fn fast(&self) -> Fast {
        Fast::Answer
    }

    fn fast_answer(
        &self,
        q: &RawQuery<'_>,
        cx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        self.raw_answer(q, cx, out)
    }
}

fn now() -> Tick {
    tick(std::time::Instant::now())
}

/// `at` on the cache's clock (in tests, the clock tests move).
#[cfg(not(test))]
fn tick(at: std::time::Instant) -> Tick {
    Tick::of(at)
}

#[cfg(test)]
fn tick(_: std::time::Instant) -> Tick {
    Tick::of(tests::clock())
}

/// An answer the cache wrote in place of the chain's outcome.
fn served(m: Message) -> Outcome {
    let mut o = Outcome::reply(m);
    o.plugin = Some("cache");
    o
}
