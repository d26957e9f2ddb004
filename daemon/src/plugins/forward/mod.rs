//! forward: proxies queries to upstream resolvers over UDP, TCP or TLS,
//! with connection reuse and in-band health checking, as CoreDNS 1.14.7's
//! forward plugin does. `proxy` (gone from CoreDNS) is read as `forward`.
//!
//! The query phase only decides whether the query is ours ([`Action::Await`]);
//! the exchange runs in [`Forward::query_async`] on the worker's runtime.
//! Upstream health is shared by all workers; idle connections are per
//! worker.

mod connection;
mod exchange;
mod metrics;
mod pool;
mod relay;
mod setup;
mod tls;
mod udp;
mod upstream;

/// For the fuzz targets: the check every upstream reply passes first.
pub use exchange::{same_question, Question};
pub use relay::cut_reply;
pub use setup::{setup, setup_proxy, Config, PolicyKind};

use crate::plugin::fast::{RawQuery, Relay, Relayed};
use crate::plugin::{names, Action, Outcome, PluginError, Request};
use crate::plugin::{Fast, LocalFuture, Plugin};
use crate::plugins::dnstap::{Exchange, Taps};
use connection::Transport;
use exchange::{ExError, LookupParams};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use pool::{ConnLimits, Pool};
use std::rc::Weak;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use upstream::Upstream;

/// The overall deadline of one query (CoreDNS's `defaultTimeout`).
pub const DEADLINE: Duration = Duration::from_secs(5);
/// How often each worker closes stale idle connections.
const CLEANUP_EVERY: Duration = Duration::from_secs(10);

pub enum Policy {
    Random,
    RoundRobin(AtomicU32),
    Sequential,
}

impl Policy {
    /// The order to try the upstreams in, as indices.
    fn list(&self, n: usize) -> Vec<usize> {
        let mut v: Vec<usize> = (0..n).collect();
        match self {
            Policy::Sequential => {}
            Policy::Random => shuffle(&mut v),
            Policy::RoundRobin(r) => {
                let i = (r.fetch_add(1, Ordering::Relaxed).wrapping_add(1) as usize) % n.max(1);
                v.remove(i);
                v.insert(0, i);
            }
        }
        v
    }
}

fn shuffle(v: &mut [usize]) {
    use rand::seq::SliceRandom;
    v.shuffle(&mut rand::rng());
}

pub struct Forward {
    /// `forward` or `proxy`: the plugin name in errors and metrics.
    name: &'static str,
    from: String,
    ignored: Vec<String>,
    upstreams: Vec<Arc<Upstream>>,
    policy: Policy,
    force_tcp: bool,
    prefer_udp: bool,
    max_fails: u32,
    limits: ConnLimits,
    read_timeout: Duration,
    max_concurrent: i64,
    concurrent: AtomicI64,
    limit_error: String,
    next_rcodes: Vec<u16>,
    next_on_nodata: bool,
    /// Another forward stanza of the block follows this one: `next` and
    /// `next_on_nodata` only pass the query to a forward.
    next_is_forward: bool,
    failfast: bool,
    failover_rcodes: Vec<u16>,
    max_connect_attempts: Option<u32>,
    /// The per-worker connection cache.
    slot: usize,
    /// The block's dnstap taps, told of every exchange with an upstream.
    taps: Option<Taps>,
    stopped: Arc<AtomicBool>,
}

impl Forward {
    pub fn new(
        c: Config,
        slot: usize,
        next_is_forward: bool,
        name: &'static str,
    ) -> Result<Self, setup::UpstreamError> {
        let stopped = Arc::new(AtomicBool::new(false));
        let upstreams = setup::build_upstreams(&c, name, &stopped)?;
        Ok(Self {
            name,
            from: c.from,
            ignored: c.ignored,
            upstreams,
            policy: Policy::from_kind(c.policy),
            force_tcp: c.force_tcp,
            prefer_udp: c.prefer_udp,
            max_fails: c.max_fails,
            limits: ConnLimits {
                expire: c.expire,
                max_age: c.max_age,
                max_idle: c.max_idle_conns,
            },
            read_timeout: c.read_timeout,
            max_concurrent: c.max_concurrent,
            concurrent: AtomicI64::new(0),
            limit_error: format!("concurrent queries exceeded maximum {}", c.limit_text),
            next_rcodes: c.next_rcodes,
            next_on_nodata: c.next_on_nodata,
            next_is_forward,
            failfast: c.failfast,
            failover_rcodes: c.failover_rcodes,
            max_connect_attempts: c.max_connect_attempts,
            slot,
            taps: None,
            stopped,
        })
    }

    /// Tells `taps` of every exchange with an upstream (CoreDNS's
    /// `SetTapPlugin`).
    pub fn with_taps(mut self, taps: Option<Taps>) -> Self {
        self.taps = taps;
        self
    }

    /// The upstreams' `host:port`, in configured order.
    pub fn upstreams(&self) -> Vec<String> {
        self.upstreams.iter().map(|u| u.addr_text.clone()).collect()
    }

    /// Whether the query is ours: under FROM and not under an `except` zone
    /// (FROM itself always is).
    pub fn matches(&self, name: &str) -> bool {
        if !names::is_subdomain(&self.from, name) {
            return false;
        }
        if name == self.from {
            return true;
        }
        !self.ignored.iter().any(|z| names::is_subdomain(z, name))
    }

    fn fail(&self, rcode: ResponseCode, message: String) -> Action {
        Action::Done(Outcome::fail(
            rcode,
            PluginError {
                plugin: self.name,
                message,
            },
        ))
    }

    fn pool(&self, worker: &std::rc::Rc<crate::plugin::Worker>) -> impl Fn() -> Pool {
        let n = self.upstreams.len();
        let worker = std::rc::Rc::downgrade(worker);
        let slot = self.slot;
        let limits = self.limits;
        let stopped = Arc::clone(&self.stopped);
        move || {
            spawn_cleanup(worker.clone(), slot, n, limits, Arc::clone(&stopped));
            Pool::new(n)
        }
    }

    /// Whether this forward's UDP queries can be relayed as bytes (see
    /// [`Forward::relay`]): plain DNS upstreams over UDP, and none of the
    /// options that act on a reply before it goes on (`prefer_udp`, `next`,
    /// failover rcodes) or count queries (`max_concurrent`).
    pub fn relays(&self) -> bool {
        !self.force_tcp
            && !self.prefer_udp
            && self.max_concurrent == 0
            && self.next_rcodes.is_empty()
            && !self.next_on_nodata
            && self.failover_rcodes.is_empty()
            && self.upstreams.iter().all(|u| u.tls.is_none())
    }
}

impl Plugin for Forward {
    fn name(&self) -> &'static str {
        self.name
    }

    /// Health checks and the idle connections' cleanup stop (as when it
    /// drops, which queries still in flight may delay).
    fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        metrics::OWN
    }

    fn query(&self, req: &mut Request) -> Action {
        if self.matches(&req.name) {
            Action::Await
        } else {
            Action::Next
        }
    }

    /// CoreDNS's `ServeDNS` after the match: try upstreams in policy order
    /// until one answers, the attempts run out or 5s pass.
    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(async move {
            let _guard = if self.max_concurrent > 0 {
                let count = self.concurrent.fetch_add(1, Ordering::AcqRel) + 1;
                let guard = Decrement(&self.concurrent);
                if count > self.max_concurrent {
                    req.worker
                        .metrics(|m| m.inc(&metrics::FORWARD_MAX_CONCURRENT_REJECTS, &[]));
                    return self.fail(ResponseCode::Refused, self.limit_error.clone());
                }
                Some(guard)
            } else {
                None
            };

            let n = self.upstreams.len();
            let list = self.policy.list(n);
            // The cancel plugin's deadline, if sooner, ends the query's attempts.
            let deadline = req.deadline.map_or(Instant::now() + DEADLINE, |d| {
                d.min(Instant::now() + DEADLINE)
            });
            let max_attempts = self.max_connect_attempts.map_or(2 * n as u64, u64::from);
            let mut attempts = 0u64;
            let mut fails = 0usize;
            let mut failovers = 0usize;
            let mut i = 0usize;
            let mut upstream_err: Option<ExError> = None;
            let new_pool = self.pool(&req.worker);
            // dnstap's messages carry when forward took the query.
            let tap_start = self.taps.as_ref().map(|_| std::time::SystemTime::now());
            let local = std::cell::Cell::new(None);

            while Instant::now() < deadline && (max_attempts == 0 || attempts < max_attempts) {
                if i >= list.len() {
                    i = 0;
                    fails = 0;
                }
                let mut idx = list[i];
                i += 1;
                if self.upstreams[idx].down(self.max_fails) {
                    fails += 1;
                    if fails < n {
                        continue;
                    }
                    req.worker
                        .metrics(|m| m.inc(&metrics::FORWARD_HEALTHCHECK_BROKEN, &[]));
                    if self.failfast {
                        break;
                    }
                    // Health checking looks broken: any upstream will do.
                    let mut all: Vec<usize> = (0..n).collect();
                    shuffle(&mut all);
                    idx = all[0];
                }
                let up = &self.upstreams[idx];
                // Set before the exchange, as CoreDNS does: a failed one
                // names its upstream too.
                req.set_metadata("forward/upstream", || up.addr_text.clone());

                let mut force_tcp = self.force_tcp;
                local.set(None);
                let mut tcp;
                let result = loop {
                    let transport =
                        exchange::choose(up.tls.is_some(), force_tcp, self.prefer_udp, req.proto);
                    let params = LookupParams {
                        index: idx,
                        upstream: up,
                        transport,
                        limits: self.limits,
                        read_timeout: self.read_timeout,
                        deadline,
                        local: tap_start.map(|_| &local),
                    };
                    tcp = transport != Transport::Udp;
                    let start = Instant::now();
                    let lookup = exchange::lookup(&params, req, self.slot, &new_pool);
                    let r = if transport == Transport::Udp {
                        // Keeps to the deadline itself, on its one timer.
                        lookup.await
                    } else {
                        match tokio::time::timeout_at(deadline.into(), lookup).await {
                            Ok(r) => r,
                            Err(_) => Err(ExError::Deadline),
                        }
                    };
                    match r {
                        Err(ExError::CachedClosed) => continue,
                        Ok(m) => {
                            up.observe(&req.worker, u16::from(m.metadata.response_code), start);
                            // With prefer_udp a truncated reply is asked again over TCP.
                            if m.metadata.truncation && !force_tcp && self.prefer_udp {
                                force_tcp = true;
                                continue;
                            }
                            break Ok(m);
                        }
                        Err(e) => break Err(e),
                    }
                };

                if let (Some(taps), Some(start)) = (&self.taps, tap_start) {
                    let x = Exchange {
                        start,
                        local: local.get(),
                        upstream: up.addr,
                        tcp,
                        reply: result.as_ref().ok(),
                    };
                    taps.forwarded(req, &x);
                }

                let mut ret = match result {
                    Ok(m) => m,
                    Err(e @ ExError::Invalid(_)) => {
                        return self.fail(ResponseCode::FormErr, e.to_string())
                    }
                    Err(e) => {
                        upstream_err = Some(e);
                        if self.max_fails != 0 {
                            up.healthcheck();
                        }
                        if max_attempts > 0 {
                            attempts += 1;
                            if attempts >= max_attempts {
                                break;
                            }
                        }
                        if fails < n {
                            continue;
                        }
                        break;
                    }
                };
                ret.metadata.id = req.msg.metadata.id;

                if !reply_matches(req, &ret) {
                    let mut m = req.reply();
                    m.metadata.response_code = ResponseCode::FormErr;
                    return Action::Done(Outcome::reply(m));
                }

                let rc = u16::from(ret.metadata.response_code);
                if self.failover_rcodes.contains(&rc) {
                    failovers += 1;
                    if failovers < n {
                        continue;
                    }
                }
                if self.next_is_forward && self.next_rcodes.contains(&rc) {
                    return Action::Next;
                }
                if self.next_is_forward && self.next_on_nodata && rc == 0 && ret.answers.is_empty()
                {
                    return Action::Next;
                }
                return Action::Done(Outcome::reply(ret));
            }

            let message =
                upstream_err.map_or_else(|| "no healthy proxies".into(), |e| e.to_string());
            self.fail(ResponseCode::ServFail, message)
        })
    }

    fn fast(&self) -> Fast {
        if self.relays() {
            Fast::Relay
        } else {
            Fast::Forbid
        }
    }

    /// Its own queries only: the rest go on down the chain.
    fn fast_check(&self, q: &RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        self.matches(q.text)
    }

    fn fast_relay<'a>(&'a self, r: &'a Relay) -> LocalFuture<'a, Relayed> {
        Box::pin(self.relay(r))
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

struct Decrement<'a>(&'a AtomicI64);

impl Drop for Decrement<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// CoreDNS's `request.Match`: one question, QR set, and the question's
/// name (case-insensitively), type and class those of the query.
fn reply_matches(req: &Request, ret: &Message) -> bool {
    let [q] = ret.queries.as_slice() else {
        return false;
    };
    ret.metadata.message_type == MessageType::Response
        && names::lower_text(q.name()) == req.name
        && q.query_type() == req.qtype()
        && q.query_class() == req.qclass()
}

/// Closes this worker's stale idle connections every 10s, as CoreDNS's
/// connection manager does, until the plugin or the worker goes away.
fn spawn_cleanup(
    worker: Weak<crate::plugin::Worker>,
    slot: usize,
    n: usize,
    limits: ConnLimits,
    stopped: Arc<AtomicBool>,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    drop(handle);
    tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(CLEANUP_EVERY).await;
            if stopped.load(Ordering::Relaxed) {
                return;
            }
            let Some(w) = worker.upgrade() else { return };
            w.state(slot, || Pool::new(n), |p: &mut Pool| p.cleanup(limits));
        }
    });
}

#[cfg(test)]
mod tests;
