//! The raw-bytes path, as the contract gives it to plugins: a query read
//! off a socket is answered from its bytes, without a full parse and
//! without running the chain, when the chain would have answered it byte
//! for byte the same. Each plugin says what it does there ([`Fast`]); the
//! server walks a block's chain once, at setup, and takes the raw path for
//! the block only when every plugin before the one that answers either does
//! nothing to such a query or repeats on the raw path what it does in the
//! chain (prometheus counts, log writes its line, acl lets the query
//! through or hands it to the chain).

use super::classify::Kind;
use super::Worker;
use crate::metrics::Shard;
use crate::wire::fast::{Opt, Simple};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// What a plugin does on the raw-bytes path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fast {
    /// Its block's queries all take the chain (the default: a plugin that
    /// must see every query in full, or that nobody taught the raw path).
    Forbid,
    /// Does nothing to a query the raw path answers (errors has nothing to
    /// report; chaos answers only CH, nsid only queries with an option,
    /// which the raw path leaves to the chain).
    Pass,
    /// Takes part: `fast_check` before the answer, `fast_done` after it.
    Hook(Needs),
    /// Answers from the query's bytes: `fast_answer`.
    Answer,
    /// Relays UDP queries as bytes to an upstream: `fast_relay`. Only
    /// [`Fast::Pass`] plugins and hooks with `relay` may stand before it.
    Relay,
}

/// What a [`Fast::Hook`] needs of the raw path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// The question name as lowercased text ([`RawQuery::text`]).
    pub text: bool,
    /// The answer's size without name compression ([`RawAnswer::plain_len`]).
    pub plain_len: bool,
    /// Its check alone decides, and it has nothing to see of the answer:
    /// it may stand before a relay.
    pub relay: bool,
    /// What it does for an answer can be done from the kernel's counts of
    /// the answers it gave (prometheus): the XDP program may answer before
    /// it. A hook that must see each query (log, acl, dnstap) leaves it
    /// false.
    pub kernel: bool,
}

impl Needs {
    /// A hook whose check of the query alone decides (it may stand before
    /// a relay), needing nothing more.
    pub const CHECK_ONLY: Needs = Needs {
        text: false,
        plain_len: false,
        relay: true,
        kernel: false,
    };
}

/// A query on the raw path.
pub struct RawQuery<'a> {
    pub q: &'a Simple<'a>,
    /// The query's bytes, as the client sent them.
    pub wire: &'a [u8],
    /// The question name lowercased, in wire form.
    pub lower: &'a [u8],
    /// The question name lowercased, as text; empty unless a hook asked for it.
    pub text: &'a str,
    pub src: SocketAddr,
    pub local: SocketAddr,
    pub tcp: bool,
    /// The query's size on the wire.
    pub len: usize,
    /// When it was read off the socket.
    pub at: Instant,
    /// The listener's name (`dns://:53`), the metrics' `server` label.
    pub server: &'a str,
    /// The zone it was routed to, as metrics name it.
    pub zone: &'a str,
    /// Tells the listener's zones apart (unique in the configuration).
    pub route: u32,
    /// The OPT to give the reply (the client's, its size as the reply
    /// carries it); None when the query had none.
    pub opt: Option<Opt>,
    /// The largest reply the client takes.
    pub limit: usize,
    /// Whether [`RawAnswer::plain_len`] is wanted.
    pub plain_len: bool,
    /// As `Request::backlogged`.
    pub backlogged: bool,
    /// bufsize's cap on the client's UDP size, as the hooks set it.
    pub cap: Option<u16>,
}

impl RawQuery<'_> {
    pub fn proto(&self) -> super::Proto {
        if self.tcp {
            super::Proto::Tcp
        } else {
            super::Proto::Udp
        }
    }
}

/// What answered on the raw path, for the hooks after it.
#[derive(Clone, Copy, Debug)]
pub struct RawAnswer {
    pub rcode: u16,
    pub kind: Kind,
    /// The reply's flags word.
    pub flags: u16,
    /// The reply's length without OPT (log's `{rsize}`).
    pub len: usize,
    /// Its length without name compression, when asked for.
    pub plain_len: usize,
}

/// What the raw path hands an answer and the hooks: the worker and its
/// metrics shard (locked once for them all).
pub struct Context<'a> {
    pub worker: &'a Worker,
    pub metrics: &'a mut Shard,
}

/// A UDP query for a [`Fast::Relay`].
pub struct Relay {
    pub worker: Rc<Worker>,
    /// The query as the client sent it.
    pub query: Vec<u8>,
    /// The OPT the reply carries for the client, as [`RawQuery::opt`].
    pub opt: Option<Opt>,
    /// The largest reply the client takes.
    pub limit: usize,
    pub at: Instant,
}

/// What a relay came back with.
pub enum Relayed {
    /// The reply to send, finished.
    Reply(Vec<u8>),
    /// Nothing to send.
    Drop,
    /// The chain must answer the query, by `deadline` when given.
    Chain { deadline: Option<Instant> },
}
