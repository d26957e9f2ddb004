//! The plugin contract: the request, what a plugin may do with it (the
//! [`Plugin`] trait), the compiled chain and the setup of a server block.
//! It names no plugin: the plugins and their execution order are handed in
//! (`crate::plugins::ORDER`).
//!
//! A plugin acts in the query phase ([`Action`]): answer (or return an rcode
//! without writing, which the server turns into an error reply), pass the
//! query on, or pass it on and ask to see the outcome. Plugins that asked
//! see the [`Outcome`] in the response phase, in reverse chain order, the
//! way CoreDNS's wrapping response writers see a reply on its way out. On
//! the raw-bytes path (see [`fast`]) a plugin says what it does there, or
//! that its block must take the chain.

pub mod chain;
pub mod classify;
pub mod endpoint;
pub mod external;
pub mod fallthrough;
pub mod fast;
pub mod kernel;
pub mod names;
pub mod prepared;
pub mod registry;
pub mod request;
pub mod worker;

pub use chain::{Chain, Next};
pub use fallthrough::Fallthrough;
pub use fast::Fast;
pub use registry::{BlockSetup, Entry};
pub use request::{Proto, Request};
pub use worker::Worker;

use hickory_proto::op::{Message, ResponseCode};
use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A future a plugin's query phase waits on; it runs on the worker's thread.
pub type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A plugin with a place in the chain. Only `name` and `query` are
/// required; every other hook has a default that does nothing (and, for
/// the raw-bytes path, forbids it: see [`fast`]). Setup-only directives
/// (root, bind, debug) change the block's settings and are no `Plugin`.
pub trait Plugin: Send + Sync + 'static {
    /// The directive's name, as metrics and errors give it.
    fn name(&self) -> &'static str;

    /// The query phase.
    fn query(&self, req: &mut Request) -> Action;

    /// The query phase of a plugin whose `query` returned [`Action::Await`]:
    /// the network waited on (forward's exchange, a cache miss another
    /// query is filling).
    fn query_async<'a>(&'a self, _req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(std::future::ready(Action::Next))
    }

    /// The query phase of a plugin whose `query` returned [`Action::Wrap`]:
    /// it runs the rest of the chain itself, through `next`, as often as it
    /// needs and on requests of its own (CoreDNS's handlers calling their
    /// next handler: autopath walks a search path through it), and its
    /// outcome is the chain's.
    fn wrap<'a>(&'a self, req: &'a mut Request, next: Next<'a>) -> LocalFuture<'a, Outcome> {
        Box::pin(async move { next.serve(req).await })
    }

    /// The response phase, for a query whose `query` returned [`Action::Watch`].
    fn response(&self, _req: &Request, _out: &mut Outcome) {}

    /// The response phase of a query whose `query` returned
    /// [`Action::WatchAsync`]: one that waits (rewrite's `cname` rules ask
    /// the server about the new target).
    fn response_async<'a>(&'a self, req: &'a Request, out: &'a mut Outcome) -> LocalFuture<'a, ()> {
        self.response(req, out);
        Box::pin(std::future::ready(()))
    }

    /// The answer of a plugin that passed the query on with nothing after
    /// it, where CoreDNS answers other than NextOrFailure's SERVFAIL (`file`
    /// with no zone for the name answers REFUSED).
    fn last_in_chain(&self, _req: &Request) -> Option<Outcome> {
        None
    }

    /// Told, once the block's chain is built, which plugin follows this one
    /// (None: it is the last). prometheus labels replies with it.
    fn chained(&mut self, _next: Option<&'static str>) {}

    /// Told the plugins of its block once every one is set up, for a
    /// plugin that takes a capability from another one it names (CoreDNS's
    /// OnStartup looking a handler up with `dnsserver.GetConfig(c).Handler`:
    /// autopath's `@NAME`). An error refuses the configuration.
    fn link(&self, _block: &[Box<dyn Plugin>]) -> Result<(), crate::corefile::Error> {
        Ok(())
    }

    /// The search path it gives clients (CoreDNS's `autopath.AutoPather`),
    /// for autopath; None: it gives none.
    fn search_path(&self) -> Option<std::sync::Arc<dyn SearchPath>> {
        None
    }

    /// The answers it gives for names standing for its objects in other
    /// zones (CoreDNS's `external.Externaler`), for k8s_external; None: it
    /// gives none.
    fn external(&self) -> Option<std::sync::Arc<dyn external::External>> {
        None
    }

    /// The plugin's readiness, for *ready* (CoreDNS's `ready.Readiness`).
    fn readiness(&self) -> Option<endpoint::Flag> {
        None
    }

    /// Once its block serves: after start-up, and after each reload that
    /// built it (CoreDNS's OnStartup). loop starts its probe here.
    fn start(&self) {}

    /// When its configuration stops serving: replaced by a reload, or at
    /// shutdown (CoreDNS's OnShutdown). Queries in flight may still finish
    /// on it.
    fn stop(&self) {}

    /// The most replies each UDP socket of its block's listeners may hold
    /// waiting to be sent (shed): past it the oldest is dropped, and
    /// queries read meanwhile come with [`Request::backlogged`]. When
    /// several blocks of a listener set one, the last block's holds.
    fn udp_reply_bound(&self) -> Option<usize> {
        None
    }

    /// Replies to UDP queries of the listener named `server` that
    /// `worker` dropped unsent (evicted from a full queue, refused by the
    /// kernel), told to the plugin whose [`Plugin::udp_reply_bound`] holds
    /// there. Told `0` when a worker starts serving the listener with this
    /// plugin's configuration.
    fn replies_dropped(&self, _worker: &Worker, _server: &str, _n: usize) {}

    /// The metric families it counts in (besides those every query counts
    /// in, which the server and prometheus own).
    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        &[]
    }

    /// The name of the view this plugin makes of its block (CoreDNS's
    /// `dnsserver.Viewer`): the block then serves only the queries its
    /// [`Plugin::filter`] lets in, and may share its zones and port with
    /// other blocks; the server tries them in Corefile order.
    fn view(&self) -> Option<&str> {
        None
    }

    /// For a plugin with a [`Plugin::view`]: whether its block serves
    /// `req`, asked before any chain runs (the request carries what
    /// [`Plugin::metadata`] collected for the block, when it has
    /// `metadata`).
    fn filter(&self, _req: &Request) -> bool {
        true
    }

    /// The metadata it provides before the chain runs (CoreDNS's
    /// `metadata.Provider`), for blocks with `metadata` whose zones hold
    /// the query.
    fn metadata(&self, _req: &Request, _md: &mut request::Metadata) {}

    /// Told, once its block is built, the name of the block's view
    /// (CoreDNS's `Config.ViewName`): cache labels its metrics with it.
    fn in_view(&mut self, _view: &str) {}

    /// What the plugin does on the raw-bytes path (see [`fast`]).
    fn fast(&self) -> Fast {
        Fast::Forbid
    }

    /// A [`Fast::Answer`] whose answers the kernel's XDP program may give
    /// in its place, from entries it hands over (`cache`).
    fn kernel_answers(&self) -> bool {
        false
    }

    /// What it passes to a process taking over from this one (a
    /// handover): a name the same plugin of the same block finds it by in
    /// the new process, and the bytes (cache: its answers). Asked twice:
    /// first (`late` false) while this process serves on, then (`late`
    /// true) once the new process serves and this one's workers have
    /// stopped: what changed in between (cache: the answers stored since).
    fn handover_state(&self, _late: bool) -> Option<(String, Vec<u8>)> {
        None
    }

    /// Given what a plugin of the process handing over passed
    /// (`handover_state`): the first part before this one serves, the
    /// late part while it serves; a name not its own is none of its
    /// business.
    fn take_state(&self, _name: &str, _state: &[u8]) {}

    /// Told where to hand its answers to the kernel (None: nowhere, as
    /// before the `xdp` directive or after a reload without it).
    fn set_kernel(&self, _feed: Option<std::sync::Arc<dyn kernel::Feed>>) {}

    /// Counts answers the kernel gave in the raw path's place, as its
    /// `fast_done` (hooks) or `fast_answer` (the answer) would have.
    fn kernel_done(&self, _h: &kernel::KernelHits<'_>, _m: &mut crate::metrics::Shard) {}

    /// A [`Fast::Hook`]'s look at a query before the raw path answers it:
    /// false hands the query to the chain. It may cap the reply's UDP size.
    fn fast_check(&self, _q: &fast::RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        true
    }

    /// A [`Fast::Answer`]'s answer, written into `out`; None hands the
    /// query to the chain (`out` then holds nothing to send).
    fn fast_answer(
        &self,
        _q: &fast::RawQuery<'_>,
        _cx: &mut fast::Context<'_>,
        _out: &mut Vec<u8>,
    ) -> Option<fast::RawAnswer> {
        None
    }

    /// A [`Fast::Hook`] seeing the answer the raw path gave, and the
    /// reply's bytes as they go out (in the order the chain's response
    /// phase would: the plugin nearest the answer first).
    fn fast_done(
        &self,
        _q: &fast::RawQuery<'_>,
        _cx: &mut fast::Context<'_>,
        _a: &fast::RawAnswer,
        _reply: &[u8],
    ) {
    }

    /// A [`Fast::Relay`]'s relay of a UDP query as bytes.
    fn fast_relay<'a>(&'a self, _r: &'a fast::Relay) -> LocalFuture<'a, fast::Relayed> {
        Box::pin(std::future::ready(fast::Relayed::Chain { deadline: None }))
    }
}

/// What a plugin does with a query.
// Boxing the outcome would cost an allocation per answer; an Action lives
// only for the return from one plugin call.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// The chain stops here with this outcome.
    Done(Outcome),
    /// Pass the query to the next plugin.
    Next,
    /// Pass it on, and run this plugin's response phase on the outcome.
    Watch,
    /// Pass it on, and run this plugin's waiting response phase
    /// (`response_async`) on the outcome.
    WatchAsync,
    /// The plugin must wait on the network: the chain calls its `query_async`.
    Await,
    /// The plugin runs the rest of the chain itself: the chain calls its
    /// `wrap`, whose outcome ends the chain.
    Wrap,
    /// The rest of the chain runs on a copy of the query while the client
    /// gets an answer now (a cache refresh: prefetch, serve_stale).
    Fork(Box<Fork>),
}

/// A client's search path, as a plugin gives it (CoreDNS's `autopath.Func`):
/// the domains to try `req`'s name under, in order, fully qualified and
/// lowercased, the last one empty (the name as asked); None: no search
/// path for this query.
pub trait SearchPath: Send + Sync {
    fn search(&self, req: &Request) -> Option<Vec<String>>;
}

/// What [`Action::Fork`] hands the chain. The plugins after the forking one
/// serve `req` (a [`Request::fork`] holding what the forking plugin stashed
/// for its response phase), and the forking plugin's response phase sees
/// their outcome on `req`. If that has not finished within `wait` (at once
/// when zero), the client gets `answer` and the rest runs on in the
/// background, detached on the worker (`Worker::detach`); the forking
/// plugin's response phase then also sees `answer` on the client's request.
/// If it finished in time, the client gets its outcome.
pub struct Fork {
    pub req: Request,
    pub answer: Outcome,
    pub wait: std::time::Duration,
}

/// The result of running a chain: the reply a plugin wrote (if any), the
/// rcode it returned and the error it reported (for `errors` to log).
#[derive(Debug)]
pub struct Outcome {
    pub reply: Option<Message>,
    pub rcode: ResponseCode,
    pub error: Option<PluginError>,
    /// The plugin that ended the chain (set by the chain).
    pub plugin: Option<&'static str>,
}

impl Outcome {
    /// A written reply; its rcode is the outcome's.
    pub fn reply(msg: Message) -> Self {
        let rcode = msg.metadata.response_code;
        Self {
            reply: Some(msg),
            rcode,
            error: None,
            plugin: None,
        }
    }
    /// Nothing written; the server writes an error reply when `rcode` is not
    /// one a plugin writes itself (see [`client_write`]), and sends nothing
    /// otherwise (acl's drop).
    pub fn rcode(rcode: ResponseCode) -> Self {
        Self {
            reply: None,
            rcode,
            error: None,
            plugin: None,
        }
    }
    /// Nothing written, with an error to report.
    pub fn fail(rcode: ResponseCode, error: PluginError) -> Self {
        Self {
            reply: None,
            rcode,
            error: Some(error),
            plugin: None,
        }
    }
}

/// CoreDNS's `plugin.ClientWrite`: whether a plugin returning `rc` has
/// written the reply itself. SERVFAIL, REFUSED, FORMERR and NOTIMP are
/// written by the server.
pub fn client_write(rc: ResponseCode) -> bool {
    !matches!(
        rc,
        ResponseCode::ServFail
            | ResponseCode::Refused
            | ResponseCode::FormErr
            | ResponseCode::NotImp
    )
}

/// An error a plugin reports alongside its rcode, shown as `plugin/NAME: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct PluginError {
    pub plugin: &'static str,
    pub message: String,
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "plugin/{}: {}", self.plugin, self.message)
    }
}
