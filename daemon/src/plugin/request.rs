//! The query as plugins see it.

use super::{LocalFuture, Worker};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use std::any::Any;
use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// The transport a query arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Udp => "udp",
            Proto::Tcp => "tcp",
        }
    }
}

/// One query on its way through a chain. Plugins in the query phase may
/// change it (bufsize lowers the advertised UDP size); the server reads it
/// again when it writes the reply, as CoreDNS's scrub writer does.
pub struct Request {
    /// The parsed query. Always holds exactly one question.
    pub msg: Message,
    /// The query's size on the wire.
    pub wire_len: usize,
    /// The client; IPv4-mapped IPv6 addresses are given as IPv4.
    pub src: SocketAddr,
    /// The address the query arrived on (the socket's).
    pub local: SocketAddr,
    pub proto: Proto,
    /// The question name lowercased, fully qualified (CoreDNS's `state.Name()`).
    pub name: String,
    /// The question name lowercased, in wire form (the cache's key). Kept
    /// in step with `name` and the question by [`Request::set_qname`].
    pub lower: Box<[u8]>,
    /// The listener's name in CoreDNS's form (`dns://:53`), the `server`
    /// label of metrics.
    pub server: Rc<str>,
    /// When the query was read off the socket.
    pub start: Instant,
    /// The worker serving it.
    pub worker: Rc<Worker>,
    /// `cancel`: when plugins waiting on the network must give up.
    pub deadline: Option<Instant>,
    /// `metadata`: values plugins attach to the query; None without the plugin.
    pub metadata: Option<Metadata>,
    /// The view of the block serving it (CoreDNS's `ViewKey` in the
    /// context): the `view` label of metrics. A lookup keeps its query's
    /// unless it reaches a block with a view of its own.
    pub view: Option<Rc<str>>,
    /// What a plugin's query phase leaves for its own response phase.
    pub stash: Stash,
    /// The server the query came in through, for the plugins' own
    /// questions ([`Request::lookup`]); None outside a running server.
    pub via: Option<Rc<dyn Server>>,
    /// How many internal lookups this query is nested in: 0 for a client's.
    pub depth: u8,
    /// The UDP socket it came in on held as many replies waiting to be sent
    /// as its bound allows (see `Plugin::udp_reply_bound`); its internal
    /// lookups inherit it.
    pub backlogged: bool,
}

/// The server as plugins ask it questions of their own (CoreDNS's
/// `upstream.Lookup`): see [`Request::lookup`].
pub trait Server {
    /// Serves `req` as a client's query to the same listener is served:
    /// routed to the most specific zone, through that block's chain, on
    /// this worker. The reply as the client would get it (error replies
    /// written, cut to the query's size), not encoded; None when the chain
    /// chose to send nothing.
    fn serve(&self, req: Request) -> LocalFuture<'_, Option<Message>>;
}

/// The most internal lookups one client's query may nest: a deeper one
/// fails (a template answering a CNAME to its own name would otherwise
/// ask itself forever).
pub const MAX_DEPTH: u8 = 16;

/// Why an internal lookup was not made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// CoreDNS's words for a plugin running outside a server.
    #[error("no full server is running")]
    NoServer,
    #[error("internal lookups nested more than {MAX_DEPTH} deep")]
    TooDeep,
}

/// Per-query notes from a plugin's query phase to its response phase (which
/// sees the request only by shared reference), keyed by the plugin instance.
#[derive(Default)]
pub struct Stash(RefCell<Vec<(usize, Box<dyn Any>)>>);

impl Stash {
    pub fn put<T: 'static>(&self, owner: &impl Sized, value: T) {
        self.0
            .borrow_mut()
            .push((owner as *const _ as usize, Box::new(value)));
    }

    pub fn take<T: 'static>(&self, owner: &impl Sized) -> Option<T> {
        let key = owner as *const _ as usize;
        let mut v = self.0.borrow_mut();
        let i = v.iter().position(|(k, b)| *k == key && b.is::<T>())?;
        v.swap_remove(i).1.downcast().ok().map(|b| *b)
    }
}

/// CoreDNS's request metadata: `NAME` to value, e.g. `forward/upstream`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata(Vec<(String, String)>);

impl Metadata {
    pub fn set(&mut self, name: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Request {
    /// A copy for work that goes on after the client is answered (see
    /// `Action::Fork`): the same query, client and deadline, its own stash.
    pub fn fork(&self) -> Request {
        Request {
            msg: self.msg.clone(),
            wire_len: self.wire_len,
            src: self.src,
            local: self.local,
            proto: self.proto,
            name: self.name.clone(),
            lower: self.lower.clone(),
            server: Rc::clone(&self.server),
            start: self.start,
            worker: Rc::clone(&self.worker),
            deadline: self.deadline,
            metadata: self.metadata.clone(),
            view: self.view.clone(),
            stash: Stash::default(),
            via: self.via.clone(),
            depth: self.depth,
            backlogged: self.backlogged,
        }
    }

    /// Asks the server `name`/`qtype` (class IN) on this query's behalf, as
    /// CoreDNS's `upstream.Lookup` does: a copy of the query (ID, flags,
    /// OPT) with only the question changed, from the same client to the
    /// same listener, through the server's routing and chain on this
    /// worker. Plugins on the way see it as a query of its own (it is
    /// logged and counted); one nested [`MAX_DEPTH`] deep is refused.
    pub fn lookup(
        &self,
        name: &Name,
        qtype: RecordType,
    ) -> LocalFuture<'static, Result<Option<Message>, LookupError>> {
        let Some(via) = self.via.clone() else {
            return Box::pin(std::future::ready(Err(LookupError::NoServer)));
        };
        if self.depth >= MAX_DEPTH {
            return Box::pin(std::future::ready(Err(LookupError::TooDeep)));
        }
        let mut name = name.clone();
        name.set_fqdn(true);
        let mut msg = self.msg.clone();
        msg.queries = vec![Query::query(name.clone(), qtype)];
        let req = Request {
            wire_len: crate::metrics::vars::message_len(&msg),
            msg,
            src: self.src,
            local: self.local,
            proto: self.proto,
            name: super::names::lower_text(&name),
            lower: lower_wire(&name),
            server: Rc::clone(&self.server),
            start: Instant::now(),
            worker: Rc::clone(&self.worker),
            deadline: self.deadline,
            // CoreDNS serves a lookup with its query's context: the
            // metadata and view stay until the block it reaches sets its own.
            metadata: self.metadata.clone(),
            view: self.view.clone(),
            stash: Stash::default(),
            via: Some(Rc::clone(&via)),
            depth: self.depth + 1,
            backlogged: self.backlogged,
        };
        Box::pin(async move { Ok(via.serve(req).await) })
    }

    pub fn query(&self) -> &Query {
        &self.msg.queries[0]
    }
    /// The question name as the client wrote it.
    pub fn qname(&self) -> &Name {
        self.query().name()
    }
    pub fn qtype(&self) -> RecordType {
        self.query().query_type()
    }
    pub fn qclass(&self) -> DNSClass {
        self.query().query_class()
    }
    /// The largest reply the client takes: 65535 over TCP, otherwise the EDNS
    /// UDP size with a floor of 512, or 512 without EDNS.
    pub fn size(&self) -> usize {
        if self.proto == Proto::Tcp {
            return u16::MAX as usize;
        }
        match &self.msg.edns {
            Some(e) => usize::from(e.max_payload()).max(512),
            None => 512,
        }
    }
    /// The DNSSEC OK bit.
    pub fn do_bit(&self) -> bool {
        self.msg.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
    }
    /// An empty reply to this query: ID, opcode, RD, CD and the question
    /// copied, QR set (miekg's SetReply).
    pub fn reply(&self) -> Message {
        reply_to(&self.msg)
    }
    /// Attaches a metadata value, when the block collects metadata.
    pub fn set_metadata(&mut self, name: &str, value: impl FnOnce() -> String) {
        if let Some(m) = self.metadata.as_mut() {
            m.set(name, value());
        }
    }

    /// Sets the question (rewrite): the name's text and wire forms follow.
    pub fn set_query(&mut self, q: Query) {
        self.name = super::names::lower_text(q.name());
        self.lower = lower_wire(q.name());
        self.msg.queries[0] = q;
    }

    /// Sets the question's name (rewrite), as [`Request::set_query`].
    pub fn set_qname(&mut self, n: Name) {
        let mut q = self.query().clone();
        q.set_name(n);
        self.set_query(q);
    }

    /// A reply carrying only `rcode`.
    pub fn error_reply(&self, rcode: ResponseCode) -> Message {
        let mut m = self.reply();
        m.metadata.response_code = rcode;
        m
    }
}

pub use crate::wire::reply_to;

/// `name` lowercased, in wire form.
pub fn lower_wire(name: &Name) -> Box<[u8]> {
    let mut buf = [0; crate::wire::MAX_NAME_LEN];
    crate::wire::fast::lower_name(name, &mut buf).into()
}
