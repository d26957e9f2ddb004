//! The cache fast path: a query read off a socket is answered from the
//! worker's cache shard straight from its bytes, without a full parse and
//! without running the chain, when the chain would have answered it from
//! the cache byte for byte the same. What the plugins before `cache` do
//! still happens: prometheus counts it, log writes its line, acl lets it
//! through or hands it to the chain. A block with a plugin before `cache`
//! that must see every query in full (rewrite, loadbalance, local,
//! metadata) takes the chain, as does anything the fast path does not
//! recognise; it never answers differently, only sooner.

use super::config::{Block, Config, Listener};
use crate::hash::MixMap;
use crate::metrics::{self, Handle, Shard};
use crate::plugin::{Chain, Proto, Worker};
use crate::plugins::cache::fast::{Ask, Hit};
use crate::plugins::cache::store::Question;
use crate::plugins::log::Fields;
use crate::plugins::{prometheus, Handler};
use crate::runtime::Packet;
use crate::wire::fast::{self as wire, NameBuf, Opt, Simple};
use crate::wire::MAX_NAME_LEN;
use hickory_proto::rr::{DNSClass, RecordType};
use std::net::SocketAddr;
use std::time::Instant;

/// What the fast path must do for one block, worked out from its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Where the chain's plugins are.
    cache: usize,
    prometheus: Option<usize>,
    log: Option<usize>,
    acl: Option<usize>,
    /// `bufsize`: the cap on the client's UDP size.
    bufsize: Option<u16>,
    /// `any` answers ANY queries before the cache.
    any: bool,
}

impl Plan {
    /// The plan for a block, or None (with the plugin that stops it) when
    /// it has no cache or a plugin before the cache acts on queries in ways
    /// the fast path does not repeat.
    pub fn of(block: &Block) -> Result<Plan, &'static str> {
        if block.metadata {
            return Err("metadata");
        }
        let mut p = Plan {
            cache: usize::MAX,
            prometheus: None,
            log: None,
            acl: None,
            bufsize: None,
            any: false,
        };
        for (i, h) in block.chain.handlers().iter().enumerate() {
            match h {
                Handler::Cache(_) => {
                    p.cache = i;
                    return Ok(p);
                }
                Handler::Prometheus(_) => p.prometheus = Some(i),
                Handler::Log(_) => p.log = Some(i),
                Handler::Acl(_) => p.acl = Some(i),
                Handler::Bufsize(b) => p.bufsize = Some(b.size()),
                Handler::Any(_) => p.any = true,
                // Only errors to report, CH-class queries, and queries
                // with an NSID option, which the fast path leaves alone.
                Handler::Errors(_) | Handler::Chaos(_) | Handler::Nsid(_) => {}
                other => return Err(other.name()),
            }
        }
        Err("no cache")
    }
}

/// The forward a block's UDP queries can be relayed to as bytes: a chain
/// of `forward` alone (after `errors` or `loop`, which do nothing to a
/// query forward answers; loop's HINFO probes take the chain), with plain
/// DNS upstreams, in a block without `cancel` or `metadata`. The index of
/// the forward in the chain.
pub fn relay_plan(block: &Block) -> Option<usize> {
    // cancel's deadline and metadata's values are the chain's to keep.
    if block.metadata || block.cancel.is_some() {
        return None;
    }
    let handlers = block.chain.handlers();
    let (last, before) = handlers.split_last()?;
    let Handler::Forward(f) = last else {
        return None;
    };
    let quiet = before
        .iter()
        .all(|h| matches!(h, Handler::Errors(_) | Handler::Loop(_)));
    (quiet && f.relays()).then_some(handlers.len() - 1)
}

/// What the fast path did with a query.
pub enum Fast {
    /// Answered into `out`.
    Answered,
    /// To be relayed to forward (the chain's index) of the block.
    Relay {
        block: usize,
        forward: usize,
        opt: Option<Opt>,
        limit: usize,
    },
    /// The chain's.
    No,
}

/// Where a zone on a listener leads, for the fast path.
struct ZoneRoute {
    /// The zone, lowercased, in wire form.
    wire: Box<[u8]>,
    block: usize,
    /// The zone, as metrics name it.
    zone: Box<str>,
    /// Unique in the configuration: tells routes apart in the metric cache.
    id: u32,
}

/// A listener's zones in wire form, for routing from bytes. Listeners have
/// a few zones, so a scan by length beats hashing every suffix.
#[derive(Default)]
pub struct Zones {
    routes: Vec<ZoneRoute>,
}

impl Zones {
    /// The zones of `l`; empty (nothing for the fast path) if one of them
    /// has no wire form. `next_id` numbers the routes.
    pub fn of(l: &Listener, next_id: &mut u32) -> Zones {
        let mut routes = Vec::new();
        for (zone, route) in &l.zones {
            let Some(wire) = crate::plugins::cache::fast::wire_name(zone) else {
                return Zones::default();
            };
            *next_id += 1;
            routes.push(ZoneRoute {
                wire,
                block: route.block,
                zone: zone.as_str().into(),
                id: *next_id,
            });
        }
        Zones { routes }
    }

    /// The most specific zone holding `name` (lowercased wire form).
    fn route(&self, name: &[u8]) -> Option<&ZoneRoute> {
        wire::suffixes(name).find_map(|s| {
            self.routes
                .iter()
                .find(|r| r.wire.len() == s.len() && *r.wire == *s)
        })
    }
}

/// The metric series a hit updates, resolved once per kind of hit.
#[derive(Clone, Copy)]
struct Series {
    prometheus: Option<PromSeries>,
    cache_requests: Handle,
    cache_hits: Handle,
    fast_hits: Handle,
}

#[derive(Clone, Copy)]
struct PromSeries {
    do_requests: Option<Handle>,
    requests: Handle,
    duration: Handle,
    response_size: Handle,
    request_size: Handle,
    responses: Handle,
}

/// One worker's fast path: its buffers and its cache of metric series.
pub struct FastPath {
    series: MixMap<u64, Series>,
    /// The series of the last hit: most hits in a row count alike.
    last: Option<(u64, Series)>,
    /// The shard epoch the cached series belong to.
    epoch: u64,
    name: NameBuf,
    text: [u8; MAX_NAME_LEN + 1],
    /// Queries answered (for tests).
    #[cfg(test)]
    pub(crate) answered: u64,
}

impl Default for FastPath {
    fn default() -> Self {
        Self {
            series: MixMap::default(),
            last: None,
            epoch: 0,
            name: [0; MAX_NAME_LEN],
            text: [0; MAX_NAME_LEN + 1],
            #[cfg(test)]
            answered: 0,
        }
    }
}

/// A fast path hit as the log plugin reads it.
struct Logged<'a> {
    q: &'a Simple<'a>,
    name: &'a str,
    p: &'a Packet<'a>,
    limit: usize,
    start: Instant,
    hit: Hit,
}

fn proto(p: &Packet<'_>) -> Proto {
    if p.tcp {
        Proto::Tcp
    } else {
        Proto::Udp
    }
}

impl Fields for Logged<'_> {
    fn qtype(&self) -> RecordType {
        RecordType::from(self.q.qtype)
    }
    fn qclass(&self) -> DNSClass {
        DNSClass::from(self.q.qclass)
    }
    fn name(&self) -> &str {
        self.name
    }
    fn proto(&self) -> Proto {
        proto(self.p)
    }
    fn size(&self) -> usize {
        self.p.data.len()
    }
    fn remote(&self) -> SocketAddr {
        self.p.src
    }
    fn local(&self) -> SocketAddr {
        self.p.local
    }
    fn id(&self) -> u16 {
        self.q.header.id
    }
    fn opcode(&self) -> u8 {
        self.q.header.opcode()
    }
    fn do_bit(&self) -> bool {
        self.q.do_bit()
    }
    fn bufsize(&self) -> usize {
        self.limit
    }
    fn start(&self) -> Instant {
        self.start
    }
    fn metadata(&self, _: &str) -> Option<String> {
        None
    }
    fn collects_metadata(&self) -> bool {
        false
    }
    fn reply(&self) -> Option<(u16, u16, usize)> {
        Some((self.hit.rcode, self.hit.flags, self.hit.len))
    }
}

/// The client's OPT as the reply mirrors it, and the largest reply the
/// client takes, as the chain works them out (hickory raises a UDP size
/// under 512 to 512, bufsize caps it, the reply carries the size as sent
/// when it was under 512).
fn sizes(q: &Simple<'_>, tcp: bool, bufsize: Option<u16>) -> (Option<Opt>, usize) {
    let Some(o) = q.opt else {
        return (None, if tcp { usize::from(u16::MAX) } else { 512 });
    };
    let payload = o.size.max(512).min(bufsize.unwrap_or(u16::MAX));
    let size = if o.size < 512 { o.size } else { payload };
    let limit = if tcp { u16::MAX } else { payload };
    (Some(Opt { size, ..o }), usize::from(limit))
}

impl FastPath {
    /// Answers `p` into `out` if it is a cache hit the fast path can
    /// answer, or says it is to be relayed (a UDP query of a block whose
    /// chain is forward alone); anything else is left to the chain, which
    /// writes its reply over `out`.
    pub fn serve(
        &mut self,
        cfg: &Config,
        listener: usize,
        p: &Packet<'_>,
        worker: &Worker,
        out: &mut Vec<u8>,
    ) -> Fast {
        let start = p.at;
        let Some(l) = cfg.listeners.get(listener) else {
            return Fast::No;
        };
        let Some(q) = Simple::parse(p.data) else {
            return Fast::No;
        };
        // IN only (chaos answers other classes); DS goes to the parent
        // zone; transfers and meta types are not cached answers.
        if q.qclass != 1 || matches!(q.qtype, 41 | 43 | 250..=254) {
            return Fast::No;
        }
        let lower = wire::lower(q.qname, &mut self.name);
        let Some(route) = l.fast.route(lower) else {
            return Fast::No;
        };
        let block = &cfg.blocks[route.block];
        let Some(plan) = &block.fast else {
            return relay(&q, lower, route.block, block, p, &mut self.text).unwrap_or(Fast::No);
        };
        if plan.any && q.qtype == 255 {
            return Fast::No;
        }
        let handlers = block.chain.handlers();
        let text = if plan.acl.is_some() || plan.log.is_some() {
            match wire::plain_text(lower, &mut self.text) {
                Some(t) => t,
                None => return Fast::No,
            }
        } else {
            ""
        };
        if let Some(Handler::Acl(acl)) = plan.acl.map(|i| &handlers[i]) {
            if !acl.allows(text, q.qtype, p.src.ip()) {
                return Fast::No;
            }
        }
        let Handler::Cache(cache) = &handlers[plan.cache] else {
            return Fast::No;
        };
        let (opt, limit) = sizes(&q, p.tcp, plan.bufsize);
        let ask = Ask {
            id: q.header.id,
            flags: q.header.flags,
            qname: q.qname,
            q: Question {
                name: lower,
                qtype: q.qtype,
                qclass: q.qclass,
            },
            opt,
            limit,
            plain_len: plan.prometheus.is_some(),
            at: start,
        };
        let Some(hit) = cache.fast_answer(&ask, out) else {
            return Fast::No;
        };
        let key = series_key(route.id, &q, p, &hit);
        let (epoch, series, last) = (&mut self.epoch, &mut self.series, &mut self.last);
        worker.metrics(|m| {
            if m.epoch() != *epoch {
                series.clear();
                *last = None;
                *epoch = m.epoch();
            }
            let s = match last {
                Some((k, s)) if *k == key => *s,
                _ => {
                    let s = *series.entry(key).or_insert_with(|| {
                        resolve(m, &l.name, route, &block.chain, plan, &q, p, &hit)
                    });
                    *last = Some((key, s));
                    s
                }
            };
            count(m, &s, p, &hit, start);
        });
        if let Some(Handler::Log(log)) = plan.log.map(|i| &handlers[i]) {
            let f = Logged {
                q: &q,
                name: text,
                p,
                limit,
                start,
                hit,
            };
            log.write(&f, hit.kind);
        }
        #[cfg(test)]
        {
            self.answered += 1;
        }
        Fast::Answered
    }
}

/// A UDP query of a block whose chain is forward alone, its name
/// lowercased in `lower`.
fn relay(
    q: &Simple<'_>,
    lower: &[u8],
    index: usize,
    block: &Block,
    p: &Packet<'_>,
    text: &mut [u8; MAX_NAME_LEN + 1],
) -> Option<Fast> {
    if p.tcp || q.qtype == 13 {
        return None;
    }
    let forward = block.relay?;
    let Handler::Forward(f) = &block.chain.handlers()[forward] else {
        return None;
    };
    if !f.matches(wire::plain_text(lower, text)?) {
        return None;
    }
    let (opt, limit) = sizes(q, false, None);
    Some(Fast::Relay {
        block: index,
        forward,
        opt,
        limit,
    })
}

/// Everything the metric labels of a hit depend on, in one number.
fn series_key(route: u32, q: &Simple<'_>, p: &Packet<'_>, hit: &Hit) -> u64 {
    let bits = u64::from(p.tcp)
        | u64::from(p.src.is_ipv6()) << 1
        | u64::from(q.do_bit()) << 2
        | u64::from(hit.denial) << 3;
    // Types the metrics count as "other" share one series: clients choose
    // the type, so the map stays small whatever they ask.
    let qtype = if prometheus::qtype_label(q.qtype) == "other" {
        0
    } else {
        q.qtype
    };
    u64::from(route) << 32 | u64::from(qtype) << 16 | u64::from(hit.rcode & 0xF) << 4 | bits
}

#[allow(clippy::too_many_arguments)]
fn resolve(
    m: &mut Shard,
    server: &str,
    route: &ZoneRoute,
    chain: &Chain,
    plan: &Plan,
    q: &Simple<'_>,
    p: &Packet<'_>,
    hit: &Hit,
) -> Series {
    let handlers = chain.handlers();
    let Handler::Cache(cache) = &handlers[plan.cache] else {
        unreachable!("the plan names the cache");
    };
    let zones = cache.zones_label();
    let prometheus = plan.prometheus.and_then(|i| match &handlers[i] {
        Handler::Prometheus(pr) => Some(pr),
        _ => None,
    });
    let prometheus = prometheus.map(|pr| {
        let (zone, proto) = (&*route.zone, proto(p).as_str());
        let family = if p.src.is_ipv4() { "1" } else { "2" };
        let qtype = prometheus::qtype_label(q.qtype);
        let rcode = prometheus::rcode_label(hit.rcode.into());
        PromSeries {
            do_requests: q
                .do_bit()
                .then(|| m.handle(&metrics::DO_REQUESTS, &[server, zone, ""])),
            requests: m.handle(
                &metrics::REQUESTS,
                &[server, zone, "", proto, family, qtype],
            ),
            duration: m.handle(&metrics::REQUEST_DURATION, &[server, zone, ""]),
            response_size: m.handle(&metrics::RESPONSE_SIZE, &[server, zone, "", proto]),
            request_size: m.handle(&metrics::REQUEST_SIZE, &[server, zone, "", proto]),
            responses: m.handle(&metrics::RESPONSES, &[server, zone, "", &rcode, pr.next()]),
        }
    });
    let kind = if hit.denial { "denial" } else { "success" };
    Series {
        prometheus,
        cache_requests: m.handle(&metrics::CACHE_REQUESTS, &[server, zones, ""]),
        cache_hits: m.handle(&metrics::CACHE_HITS, &[server, kind, zones, ""]),
        fast_hits: m.handle(&metrics::CACHE_FAST_HITS, &[server, zones, ""]),
    }
}

/// What the cache and prometheus count for a hit, in the order CoreDNS's
/// handlers do.
fn count(m: &mut Shard, s: &Series, p: &Packet<'_>, hit: &Hit, start: Instant) {
    m.inc_at(s.cache_requests);
    m.inc_at(s.cache_hits);
    m.inc_at(s.fast_hits);
    if let Some(pr) = &s.prometheus {
        if let Some(h) = pr.do_requests {
            m.inc_at(h);
        }
        m.inc_at(pr.requests);
        m.observe_at(pr.duration, start.elapsed().as_secs_f64());
        m.observe_at(pr.response_size, hit.plain_len as f64);
        m.observe_at(pr.request_size, p.data.len() as f64);
        m.inc_at(pr.responses);
    }
}

#[cfg(test)]
mod tests;
