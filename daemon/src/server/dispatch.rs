//! One query from bytes to reply bytes: the checks CoreDNS's server makes,
//! routing to the most specific zone, the chain, then EDNS and truncation.

use super::config::{Block, Config, Listener};
use super::fastpath::{Fast, FastPath};
use super::route::{ZoneRoute, DS};
use crate::metrics::vars;
use crate::plugin::request::{Metadata, Server};
use crate::plugin::{client_write, fast, LocalFuture, Proto, Request, Worker};
use crate::runtime::{Handled, Packet, PacketHandler};
use crate::wire::edns;
use crate::wire::fast::{NameBuf, Simple};
use crate::wire::{self, Accept, Header, QueryView, MAX_NAME_LEN};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::DNSClass;
use std::future::Future;
use std::ops::Deref;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

/// A worker's handle on a block: the Rc is counted by this worker alone, so
/// taking one per query touches no cache line other workers write; so is
/// the view's name, which its queries carry.
struct Local {
    block: Arc<Block>,
    /// The block's view (`Block::view`), this worker's copy.
    view_rc: Option<Rc<str>>,
}

impl Deref for Local {
    type Target = Block;
    fn deref(&self) -> &Block {
        &self.block
    }
}

type BlockRef = Rc<Local>;

/// A worker's view of the configuration; one per worker.
pub struct Dispatcher {
    config: Arc<Config>,
    worker: Rc<Worker>,
    /// This worker's own handles on the listeners' names and the blocks: a
    /// query takes one without touching a reference count other workers share.
    names: Vec<Rc<str>>,
    blocks: Rc<[BlockRef]>,
    /// Each listener as its queries' plugins ask it (internal lookups).
    vias: Vec<Rc<dyn Server>>,
    /// The raw-bytes path; None when turned off (`-fastpath=false`).
    fast: Option<FastPath>,
    /// The question name lowercased, in wire form: made once per query.
    name: NameBuf,
    /// Messages viewed and messages parsed in full (for tests).
    #[cfg(test)]
    pub(crate) parses: Parses,
}

/// How often the dispatcher read a message: its view (header, question)
/// and its full parse.
#[cfg(test)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Parses {
    pub views: u64,
    pub full: u64,
}

fn names(config: &Config) -> Vec<Rc<str>> {
    config
        .listeners
        .iter()
        .map(|l| Rc::from(&*l.name))
        .collect()
}

fn blocks(config: &Config) -> Rc<[BlockRef]> {
    config
        .blocks
        .iter()
        .map(|b| {
            Rc::new(Local {
                block: Arc::clone(b),
                view_rc: b.view.as_deref().map(Rc::from),
            })
        })
        .collect()
}

fn vias(config: &Arc<Config>, blocks: &Rc<[BlockRef]>) -> Vec<Rc<dyn Server>> {
    (0..config.listeners.len())
        .map(|listener| {
            Rc::new(Internal {
                config: Arc::clone(config),
                listener,
                blocks: Rc::clone(blocks),
            }) as Rc<dyn Server>
        })
        .collect()
}

impl Dispatcher {
    /// The dispatcher of worker `index` of `count`; `fast`: answer cache
    /// hits from the query's bytes where the configuration allows.
    pub fn new(config: Arc<Config>, index: usize, count: usize, fast: bool) -> Self {
        let worker = Rc::new(Worker::new(index, count));
        let blocks = blocks(&config);
        let mut d = Self {
            names: names(&config),
            vias: vias(&config, &blocks),
            blocks,
            config,
            worker,
            fast: fast.then(FastPath::default),
            name: [0; MAX_NAME_LEN],
            #[cfg(test)]
            parses: Parses::default(),
        };
        d.announce_reply_bounds();
        d
    }

    /// The plugins that bound listeners' queued replies learn that this
    /// worker serves them (they show their counts from zero).
    fn announce_reply_bounds(&mut self) {
        for i in 0..self.config.listeners.len() {
            self.replies_dropped(i, 0);
        }
    }
}

const FORMERR: u8 = 1;
const NOTIMP: u8 = 4;

impl Dispatcher {
    /// Runs `f` with the fast path off (to compare it with the chain).
    #[cfg(test)]
    pub(crate) fn without_fast_path<R>(&mut self, f: impl FnOnce(&mut Self) -> R) -> R {
        let fast = self.fast.take();
        let r = f(self);
        self.fast = fast;
        r
    }

    /// How many queries the fast path answered.
    #[cfg(test)]
    pub(crate) fn fast_answers(&self) -> u64 {
        self.fast.as_ref().map_or(0, |f| f.answered)
    }
}

impl PacketHandler for Dispatcher {
    type Update = Arc<Config>;

    /// A reloaded configuration: queries from now on use it; those in
    /// flight finish on the old one. Per-worker plugin state starts afresh,
    /// as it does in CoreDNS when a reload rebuilds the plugins.
    fn update(&mut self, config: Arc<Config>) {
        self.names = names(&config);
        self.blocks = blocks(&config);
        self.worker = Rc::new(self.worker.renewed());
        self.vias = vias(&config, &self.blocks);
        self.config = config;
        if let Some(f) = &mut self.fast {
            *f = FastPath::default();
        }
        self.announce_reply_bounds();
    }

    /// Tells the plugin that bounds a listener's queued replies of those
    /// this worker dropped.
    fn replies_dropped(&mut self, listener: usize, n: usize) {
        let Some((block, plugin)) = self
            .config
            .listeners
            .get(listener)
            .and_then(|l| l.reply_drops)
        else {
            return;
        };
        self.blocks[block].chain.plugins()[plugin].replies_dropped(
            &self.worker,
            &self.names[listener],
            n,
        );
    }

    /// Runs what plugins leave running after a query is answered (cache
    /// refreshes); the queue outlives reloads, so one runner serves them all.
    fn background(&self) -> Option<Pin<Box<dyn Future<Output = ()>>>> {
        Some(Box::pin(self.worker.run_detached()))
    }

    fn handle(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) -> Handled {
        let Some(l) = self.config.listeners.get(p.listener) else {
            return Handled::Drop;
        };
        let Ok(h) = Header::parse(p.data) else {
            return Handled::Drop;
        };
        match wire::accept(&h) {
            Accept::Ignore => return Handled::Drop,
            Accept::Reject => {
                wire::header_reply(&h, FORMERR, out);
                return Handled::Reply;
            }
            Accept::NotImplemented => {
                wire::header_reply(&h, NOTIMP, out);
                return Handled::Reply;
            }
            Accept::Accept => {}
        }
        // The question, viewed and lowercased once, routed once: for the
        // raw path and the chain alike.
        let view = QueryView::parse(p.data).ok();
        #[cfg(test)]
        {
            self.parses.views += 1;
        }
        let mut routed = None;
        if let Some(v) = &view {
            let lower = wire::fast::lower(v.qname, &mut self.name);
            #[cfg(debug_assertions)]
            test_hang(lower);
            let route = l.fast.route(lower, v.qtype);
            routed = Some((lower, route));
            if let (Some(f), Some(r), Some(q)) = (&mut self.fast, route, Simple::of(v, p.data)) {
                match f.serve(&self.config, l, p, &q, lower, r, &self.worker, out) {
                    Fast::Answered => return Handled::Reply,
                    Fast::Relay {
                        block,
                        plugin,
                        opt,
                        limit,
                    } => {
                        let r = Relay {
                            block: Rc::clone(&self.blocks[block]),
                            plugin,
                            server: Rc::clone(&self.names[p.listener]),
                            via: Rc::clone(&self.vias[p.listener]),
                        };
                        let raw = fast::Relay {
                            worker: Rc::clone(&self.worker),
                            query: p.data.to_vec(),
                            opt,
                            limit,
                            at: p.at,
                        };
                        return Handled::Later(Box::pin(r.run(raw, p)));
                    }
                    Fast::No => {}
                }
            }
        }
        let msg = match Message::from_vec(p.data) {
            Ok(m) => m,
            Err(_) => {
                wire::header_reply(&h, FORMERR, out);
                return Handled::Reply;
            }
        };
        #[cfg(test)]
        {
            self.parses.full += 1;
        }
        let d = Dispatch {
            l,
            p,
            worker: &self.worker,
            names: &self.names,
            blocks: &self.blocks,
            via: &self.vias[p.listener],
        };
        d.serve(msg, routed, out)
    }
}

/// What serving one message through the chain needs of the dispatcher.
struct Dispatch<'a> {
    l: &'a Listener,
    p: &'a Packet<'a>,
    worker: &'a Rc<Worker>,
    names: &'a [Rc<str>],
    blocks: &'a [BlockRef],
    via: &'a Rc<dyn Server>,
}

impl Dispatch<'_> {
    /// The message through its block's chain. `routed`: the question name
    /// lowercased and its route, when the view read the question.
    fn serve(
        &self,
        msg: Message,
        routed: Option<(&[u8], Option<&ZoneRoute>)>,
        out: &mut Vec<u8>,
    ) -> Handled {
        let (l, p, worker) = (self.l, self.p, self.worker);
        let proto = if p.tcp { Proto::Tcp } else { Proto::Udp };
        let drop = |msg: &Message, rcode, out: &mut Vec<u8>| {
            let d = Dropped {
                server: &l.name,
                proto,
                src: p.src,
                wire_len: p.data.len(),
                start: Instant::now(),
            };
            let handled = dropped(&d, msg, rcode, worker, out);
            edns::mirror_small_udp_size(out, edns::raw_udp_size(p.data));
            handled
        };
        let Some(q) = msg.queries.first() else {
            return drop(&msg, ResponseCode::ServFail, out);
        };
        if !l.class_chaos && q.query_class() != DNSClass::IN {
            return drop(&msg, ResponseCode::Refused, out);
        }
        if msg.edns.as_ref().is_some_and(|e| e.version() != 0) {
            return sent(edns::badvers(&msg, out).is_ok());
        }
        // A question the view could not read (a compressed name) is
        // lowercased and routed from hickory's parse instead.
        let mut buf = [0; MAX_NAME_LEN];
        let (lower, route) = match routed {
            Some(r) => r,
            None => {
                let lower = wire::fast::lower_name(q.name(), &mut buf);
                (lower, l.fast.route(lower, u16::from(q.query_type())))
            }
        };
        let mut req = request(
            msg,
            lower.into(),
            p,
            Rc::clone(&self.names[p.listener]),
            Rc::clone(worker),
            Rc::clone(self.via),
        );
        let Some(block) = choose(l, self.blocks, route, &mut req) else {
            return drop(&req.msg, ResponseCode::Refused, out);
        };
        let udp_size = edns::raw_udp_size(p.data);
        let mut fut: Pin<Box<dyn Future<Output = Option<Vec<u8>>>>> =
            Box::pin(run_chain(block, req, udp_size));
        // Most chains never wait: poll once here and answer at once; only a
        // chain that waits on the network goes to the worker's task queue.
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(Some(bytes)) => {
                out.clear();
                out.extend_from_slice(&bytes);
                Handled::Reply
            }
            Poll::Ready(None) => Handled::Drop,
            Poll::Pending => Handled::Later(fut),
        }
    }
}

/// A client's query as the chains see it, before a block is chosen.
fn request(
    msg: Message,
    lower: Box<[u8]>,
    p: &Packet<'_>,
    server: Rc<str>,
    worker: Rc<Worker>,
    via: Rc<dyn Server>,
) -> Request {
    Request {
        name: crate::plugin::names::lower_text(msg.queries[0].name()),
        msg,
        wire_len: p.data.len(),
        src: p.src,
        local: p.local,
        proto: if p.tcp { Proto::Tcp } else { Proto::Udp },
        lower,
        server,
        start: p.at,
        worker,
        deadline: None,
        metadata: None,
        view: None,
        stash: Default::default(),
        via: Some(via),
        depth: 0,
        backlogged: p.backlogged,
    }
}

/// The block that serves `req` on listener `l`, as CoreDNS's `ServeDNS`
/// chooses it (`route`: the zone `Zones::route` found for it; None when
/// no zone holds the name): a zone with one block and no view leads
/// there; otherwise the zones' blocks are asked in turn (`Zones::pick`),
/// each collecting its metadata first when it has `metadata`, and the
/// request takes the view of a block whose filters it passes. The
/// request then has the chosen block's `cancel` deadline. None: refused.
fn choose(
    l: &Listener,
    blocks: &[BlockRef],
    route: Option<&ZoneRoute>,
    req: &mut Request,
) -> Option<BlockRef> {
    let qtype = u16::from(req.qtype());
    let index = match route?.fixed {
        Some(b) if qtype != DS => {
            if blocks[b].metadata {
                req.metadata = Some(collect(&blocks[b], req));
            }
            b
        }
        _ => {
            let mut name = [0; MAX_NAME_LEN];
            let name = &mut name[..req.lower.len()];
            name.copy_from_slice(&req.lower);
            let mut view = req.view.take();
            let picked = l.fast.pick(name, qtype, |b| {
                let block = &blocks[b];
                if block.metadata {
                    req.metadata = Some(collect(block, req));
                }
                let plugins = block.chain.plugins();
                let serves = block.filters.iter().all(|&i| plugins[i].filter(req));
                if serves && block.view_rc.is_some() {
                    view.clone_from(&block.view_rc);
                }
                serves
            });
            req.view = view;
            picked?
        }
    };
    let block = &blocks[index];
    if block.chain.is_empty() {
        return None;
    }
    if let Some(c) = block.cancel {
        let d = req.start + c;
        req.deadline = Some(req.deadline.map_or(d, |p| p.min(d)));
    }
    Some(Rc::clone(block))
}

/// The metadata a block's providers give `req` before its chain runs
/// (CoreDNS's `metadata.Collect`): none unless its `metadata` zones hold
/// the name.
fn collect(block: &Block, req: &Request) -> Metadata {
    let mut md = Metadata::default();
    if crate::plugin::names::zone_match(&block.metadata_zones, &req.name).is_some() {
        for p in block.chain.plugins() {
            p.metadata(req, &mut md);
        }
    }
    md
}

/// A listener as the plugins of its queries on one worker ask it (see
/// `plugin::request::Server`).
struct Internal {
    config: Arc<Config>,
    listener: usize,
    blocks: Rc<[BlockRef]>,
}

impl Server for Internal {
    fn serve(&self, mut req: Request) -> LocalFuture<'_, Option<Message>> {
        Box::pin(async move {
            let l = &self.config.listeners[self.listener];
            let route = l.fast.route(&req.lower, u16::from(req.qtype()));
            let block = match choose(l, &self.blocks, route, &mut req) {
                Some(b) => b,
                // CoreDNS's errorAndMetricsFunc, as for a client's query.
                None => {
                    let d = Dropped {
                        server: &l.name,
                        proto: req.proto,
                        src: req.src,
                        wire_len: req.wire_len,
                        start: req.start,
                    };
                    return Some(dropped_reply(
                        &d,
                        &req.msg,
                        ResponseCode::Refused,
                        &req.worker,
                    ));
                }
            };
            let outcome = block.chain.serve(&mut req).await;
            let mut reply = match outcome.reply {
                Some(r) => r,
                None if !client_write(outcome.rcode) => req.error_reply(outcome.rcode),
                None => return None,
            };
            // CoreDNS's scrub writer: the reply cut to the query's size.
            edns::size_and_do(&req.msg, &mut reply);
            let mut scratch = Vec::with_capacity(512);
            edns::encode_fitting(&mut reply, req.size(), &mut scratch).ok()?;
            Some(reply)
        })
    }
}

/// A UDP query relayed as bytes by a plugin of its block (see
/// `plugin::fast::Relay`).
struct Relay {
    block: BlockRef,
    plugin: usize,
    server: Rc<str>,
    via: Rc<dyn Server>,
}

impl Relay {
    /// The plugin's relay; where it hands the query back, the chain, by
    /// the deadline the plugin gives.
    fn run(
        self,
        raw: fast::Relay,
        p: &Packet<'_>,
    ) -> impl Future<Output = Option<Vec<u8>>> + 'static {
        let (src, local) = (p.src, p.local);
        async move {
            let relayed = self.block.chain.plugins()[self.plugin]
                .fast_relay(&raw)
                .await;
            match relayed {
                fast::Relayed::Reply(bytes) => Some(bytes),
                fast::Relayed::Drop => None,
                // The chain's future is boxed apart: the relay's own (one
                // per query waiting on an upstream) stays small.
                fast::Relayed::Chain { deadline } => {
                    Box::pin(self.chain(raw, src, local, deadline)).await
                }
            }
        }
    }

    /// The chain answers the query the plugin handed back, by `deadline`.
    async fn chain(
        self,
        raw: fast::Relay,
        src: std::net::SocketAddr,
        local: std::net::SocketAddr,
        deadline: Option<Instant>,
    ) -> Option<Vec<u8>> {
        let fast::Relay {
            worker, query, at, ..
        } = raw;
        let msg = match parse_or_formerr(&query) {
            Ok(m) => m,
            Err(formerr) => return formerr,
        };
        let p = Packet {
            listener: 0,
            data: &query,
            src,
            local,
            tcp: false,
            at,
            // It was read, and went through the raw path's checks, already.
            backlogged: false,
        };
        let lower = crate::plugin::request::lower_wire(msg.queries.first()?.name());
        let mut req = request(msg, lower, &p, self.server, worker, self.via);
        // A relaying block has one zone and no view (the raw path's
        // routes) and no metadata (its plan): nothing to collect.
        req.deadline = match (self.block.cancel, deadline) {
            (Some(c), Some(d)) => Some(d.min(at + c)),
            (c, d) => d.or(c.map(|c| at + c)),
        };
        run_chain(self.block, req, edns::raw_udp_size(&query)).await
    }
}

/// The query parsed, or the FORMERR reply the dispatcher gives a query it
/// cannot parse.
fn parse_or_formerr(query: &[u8]) -> Result<Message, Option<Vec<u8>>> {
    Message::from_vec(query).map_err(|_| {
        Header::parse(query).ok().map(|h| {
            let mut out = Vec::new();
            wire::header_reply(&h, FORMERR, &mut out);
            out
        })
    })
}

fn sent(ok: bool) -> Handled {
    if ok {
        Handled::Reply
    } else {
        Handled::Drop
    }
}

/// Runs a block's chain for one query and encodes what it answers. A panic
/// in a plugin is answered SERVFAIL and logged, unless the block has `debug`.
async fn run_chain(block: BlockRef, mut req: Request, udp_size: Option<u16>) -> Option<Vec<u8>> {
    let outcome = if block.debug {
        block.chain.serve(&mut req).await
    } else {
        match (CatchUnwind {
            inner: block.chain.serve(&mut req),
        })
        .await
        {
            Ok(o) => o,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                crate::log::error(
                    None,
                    &format!("Recovered from panic in server: \"{}\" {what}", req.server),
                );
                req.worker.metrics(|m| m.inc(&crate::metrics::PANICS, &[]));
                let d = Dropped {
                    server: &req.server,
                    proto: req.proto,
                    src: req.src,
                    wire_len: req.wire_len,
                    start: Instant::now(),
                };
                let mut out = Vec::new();
                dropped(&d, &req.msg, ResponseCode::ServFail, &req.worker, &mut out);
                return Some(out);
            }
        }
    };
    let mut reply = match outcome.reply {
        Some(r) => r,
        None if !client_write(outcome.rcode) => req.error_reply(outcome.rcode),
        // A plugin chose to send nothing (acl's drop).
        None => return None,
    };
    edns::size_and_do(&req.msg, &mut reply);
    let mut out = Vec::with_capacity(512);
    edns::encode_fitting(&mut reply, req.size(), &mut out).ok()?;
    edns::mirror_small_udp_size(&mut out, udp_size);
    Some(out)
}

/// Catches a panic raised while polling the inner future.
struct CatchUnwind<F> {
    inner: F,
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of
        // `self`, and CatchUnwind has no Drop impl or Unpin impl of its own.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.inner) };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// CoreDNS's errorFunc: the rcode, the question, the client's OPT.
fn error_answer(q: &Message, rcode: ResponseCode) -> Message {
    let mut m = crate::plugin::request::reply_to(q);
    m.metadata.response_code = rcode;
    edns::size_and_do(q, &mut m);
    m
}

/// A query the server answers itself, before any chain.
struct Dropped<'a> {
    server: &'a str,
    proto: Proto,
    src: std::net::SocketAddr,
    wire_len: usize,
    start: Instant,
}

/// CoreDNS's errorAndMetricsFunc: the error reply, counted under the zone
/// "dropped" with no plugin.
fn dropped(
    d: &Dropped<'_>,
    q: &Message,
    rcode: ResponseCode,
    worker: &Worker,
    out: &mut Vec<u8>,
) -> Handled {
    let mut m = dropped_reply(d, q, rcode, worker);
    sent(edns::encode_fitting(&mut m, usize::from(u16::MAX), out).is_ok())
}

/// The reply of [`dropped`], counted, not encoded.
fn dropped_reply(d: &Dropped<'_>, q: &Message, rcode: ResponseCode, worker: &Worker) -> Message {
    let m = error_answer(q, rcode);
    let r = vars::Report {
        server: d.server,
        zone: "dropped",
        view: "",
        rcode,
        plugin: "",
        size: vars::message_len(&m),
        request_size: d.wire_len,
        proto: d.proto.as_str(),
        src: d.src,
        qtype: q.queries.first().map_or(0, |q| u16::from(q.query_type())),
        do_bit: q.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
        start: d.start,
    };
    worker.metrics(|s| vars::report(s, &r));
    m
}

/// For the watchdog's tests, in debug builds only: a query for the name in
/// `$FERRODNS_TEST_HANG` (wire form of its text, lowercased) blocks the
/// worker that reads it for good, as a plugin stuck in a loop would.
#[cfg(debug_assertions)]
fn test_hang(lower: &[u8]) {
    static NAME: std::sync::OnceLock<Option<Box<[u8]>>> = std::sync::OnceLock::new();
    let name = NAME.get_or_init(|| {
        std::env::var("FERRODNS_TEST_HANG")
            .ok()
            .and_then(|n| crate::wire::fast::zone_wire(&n))
    });
    if name.as_deref() == Some(lower) {
        crate::log::error(None, "FERRODNS_TEST_HANG: this worker hangs now");
        loop {
            std::thread::park();
        }
    }
}
