//! The cache on the raw-bytes path (see `plugin::fast`): a hit
//! answered from the query's bytes by copying the item's stored reply and
//! patching ID, flags, TTLs and the client's OPT into it. Whatever the
//! chain would do more than answer (a stale item, a prefetch due, another
//! case of the name, a reply that does not fit) is left to the chain.

use super::metrics::{CACHE_FAST_HITS, CACHE_HITS, CACHE_REQUESTS};
use super::store::{self, Question};
use super::Cache;
use crate::metrics::memo::Memo;
use crate::metrics::Handle;
use crate::plugin::classify::Kind;
use crate::plugin::fast::{Context, RawAnswer, RawQuery};
use crate::wire::fast::{self as wire, Opt, OPT_LEN};
use crate::wire::flag::{AA, AD, CD, QR, RA, RD};

/// A query as the fast path read it.
pub struct Ask<'a> {
    pub id: u16,
    /// The query's header flags.
    pub flags: u16,
    /// The question name as sent.
    pub qname: &'a [u8],
    /// The question, its name lowercased.
    pub q: Question<'a>,
    /// The OPT to give the reply: the client's size as the reply carries it
    /// and its flags; None when the query had none.
    pub opt: Option<Opt>,
    /// The largest reply the client takes.
    pub limit: usize,
    /// The hit's uncompressed length is wanted (for prometheus).
    pub plain_len: bool,
    /// When the query was read.
    pub at: std::time::Instant,
    /// It came over UDP.
    pub udp: bool,
}

/// The hit, for metrics and the log.
#[derive(Clone, Copy, Debug)]
pub struct Hit {
    pub rcode: u16,
    /// From the denial store.
    pub denial: bool,
    pub kind: Kind,
    /// The reply's flags as the log shows them.
    pub flags: u16,
    /// The reply's length without OPT (log's `{rsize}`).
    pub len: usize,
    /// Its uncompressed length, if asked for.
    pub plain_len: usize,
    /// The item is to be handed to the kernel for this query's variant.
    pub kernel: Option<Offer>,
}

/// What the kernel needs of an item handed over.
#[derive(Clone, Copy, Debug)]
pub struct Offer {
    pub owner: u64,
    pub stored: super::Tick,
    pub orig_ttl: u32,
    pub until: Option<super::Tick>,
    pub plain_len: usize,
}

/// The series a raw-path hit counts in.
#[derive(Clone, Copy)]
struct Series {
    requests: Handle,
    hits: Handle,
    fast_hits: Handle,
}

impl Cache {
    /// Hands the answer just written to `out` to the kernel.
    fn hand_over(&self, q: &RawQuery<'_>, hit: &Hit, o: &Offer, out: &[u8]) {
        let Some(k) = self.shard.kernel.load_full() else {
            return;
        };
        let p = crate::plugin::kernel::Promotion {
            reply: out,
            opt: q.opt.is_some(),
            do_bit: q.q.do_bit(),
            cd: q.q.header.flags & CD != 0,
            ad: q.q.header.flags & AD != 0,
            stored: o.stored.instant(),
            orig_ttl: o.orig_ttl,
            keep_ttl: self.c.keepttl,
            until: o.until.map(super::Tick::instant),
            size_cap: q.cap,
            owner: o.owner,
            hits: crate::plugin::kernel::KernelHits {
                server: q.server,
                zone: q.zone,
                family: "1",
                qtype: q.q.qtype,
                rcode: hit.rcode,
                do_bit: q.q.do_bit(),
                denial: hit.denial,
                request_len: q.len,
                plain_len: o.plain_len,
                count: 0,
            },
        };
        k.feed.promote(&p);
    }

    /// The `zones` label of this cache's metrics.
    pub fn zones_label(&self) -> &str {
        &self.zones_label
    }

    /// The raw path's answer (`Plugin::fast_answer`): a hit, counted as
    /// the chain counts it.
    pub(super) fn raw_answer(
        &self,
        q: &RawQuery<'_>,
        cx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        let ask = Ask {
            id: q.q.header.id,
            flags: q.q.header.flags,
            qname: q.q.qname,
            q: Question {
                name: q.lower,
                qtype: q.q.qtype,
                qclass: q.q.qclass,
            },
            opt: q.opt,
            limit: q.limit,
            plain_len: q.plain_len,
            at: q.at,
            udp: !q.tcp,
        };
        let hit = self.answer_bytes(&ask, out)?;
        if let Some(o) = hit.kernel {
            self.hand_over(q, &hit, &o, out);
        }
        let m = &mut *cx.metrics;
        let key = u64::from(q.route) << 1 | u64::from(hit.denial);
        let s = cx.worker.state(self.slot, Memo::<Series>::default, |memo| {
            memo.get(m, key, |m| {
                let (server, zones, view) = (q.server, self.zones_label(), self.view.as_str());
                let kind = if hit.denial { "denial" } else { "success" };
                Series {
                    requests: m.handle(&CACHE_REQUESTS, &[server, zones, view]),
                    hits: m.handle(&CACHE_HITS, &[server, kind, zones, view]),
                    fast_hits: m.handle(&CACHE_FAST_HITS, &[server, zones, view]),
                }
            })
        });
        m.inc_at(s.requests);
        m.inc_at(s.hits);
        m.inc_at(s.fast_hits);
        Some(RawAnswer {
            rcode: hit.rcode,
            kind: hit.kind,
            flags: hit.flags,
            len: hit.len,
            plain_len: hit.plain_len,
        })
    }

    /// Answers `a` into `out` from the cache when the chain would answer it
    /// from the cache with nothing else to do. Otherwise `out` holds
    /// nothing to send (it may have been cleared); whatever answers instead
    /// writes over it. Takes no lock and allocates nothing.
    pub fn answer_bytes(&self, a: &Ask<'_>, out: &mut Vec<u8>) -> Option<Hit> {
        let zones = self.zones_wire.as_ref()?;
        if !zones.iter().any(|z| wire::is_subdomain(z, a.q.name)) {
            return None;
        }
        let do_bit = a.opt.is_some_and(|o| o.do_bit());
        let (cd, ad) = (a.flags & CD != 0, a.flags & AD != 0);
        let k = store::key(&a.q, do_bit, cd);
        let now = super::tick(a.at);
        let c = &self.c;
        let sh = self.shard.views();
        let mut hit = || {
            let loc = self.find(&sh, &a.q, k, now)?;
            let item = sh.item(k, loc)?;
            let ttl = item.ttl(now);
            // Stale items are refreshed by the chain; other cases of the
            // name compress differently; extended rcodes need an OPT.
            if ttl <= 0 || item.qname() != a.qname || item.rcode > 0xF {
                return None;
            }
            let len = item.wire().len();
            if len + if a.opt.is_some() { OPT_LEN } else { 0 } > a.limit {
                return None;
            }
            if c.prefetch > 0 {
                let hits = item.peek_freq(c.duration, now);
                if self.prefetch_due(item, hits, now) {
                    return None;
                }
                item.update_freq(c.duration, now);
            }
            item.touch();
            let reply_ttl = if c.keepttl { item.orig_ttl } else { ttl as u32 };
            let mut flags = QR | AA | (a.flags & (RD | CD)) | (item.rcode & 0xF);
            if item.ra {
                flags |= RA;
            }
            if item.ad && (do_bit || ad) {
                flags |= AD;
            }
            out.clear();
            out.extend_from_slice(item.wire());
            out[0..2].copy_from_slice(&a.id.to_be_bytes());
            out[2..4].copy_from_slice(&flags.to_be_bytes());
            if !wire::set_ttls(out, reply_ttl) {
                out.clear();
                return None;
            }
            if let Some(o) = a.opt {
                o.push(out);
            }
            // A hot answer goes to the kernel (UDP only: the program
            // answers nothing else), once per query variant.
            let on = a.udp
                && self
                    .shard
                    .kernel_on
                    .load(std::sync::atomic::Ordering::Relaxed);
            let kernel = match on.then(|| self.shard.kernel.load_full()).flatten() {
                Some(k) => {
                    let variant = u8::from(a.opt.is_some())
                        | u8::from(do_bit) << 1
                        | u8::from(a.flags & CD != 0) << 2
                        | u8::from(a.flags & AD != 0) << 3;
                    item.kernel_offer(variant, k.threshold).then(|| Offer {
                        owner: item.id,
                        stored: item.stored(),
                        orig_ttl: item.orig_ttl,
                        until: self.prefetch_from(item),
                        plain_len: item.plain_len(),
                    })
                }
                _ => None,
            };
            Some(Hit {
                rcode: item.rcode,
                denial: loc == store::Loc::Neg,
                kind: item.kind,
                flags,
                len,
                plain_len: if a.plain_len { item.plain_len() } else { 0 },
                kernel,
            })
        };
        hit()
    }
}
