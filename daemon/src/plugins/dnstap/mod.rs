//! dnstap: every client query and its reply, and (through forward) every
//! exchange with an upstream, logged as dnstap protobuf messages in Frame
//! Streams to a collector's socket, as CoreDNS 1.14.7's dnstap plugin
//! sends them.
//!
//! The query path only encodes: each message is encoded on the worker and
//! handed to the tap's writer thread through a bounded queue, which drops
//! (and counts) rather than waits (see [`output`]).

mod conn;
mod fstrm;
mod output;
mod proto;
mod setup;

pub use setup::{setup, Config};

use crate::plugin::fast::{Context, Needs, RawAnswer, RawQuery};
use crate::plugin::{Action, Fast, Outcome, Plugin, Proto, Request};
use crate::plugins::log::{Chained, Fields, Format, Raw, Unrecorded};
use crate::wire::edns;
use hickory_proto::op::Message;
use output::Output;
use proto::{Envelope, Kind, Protocol};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

/// One `dnstap` directive: its output and what its frames carry.
pub struct Tap {
    output: Output,
    full: bool,
    identity: Vec<u8>,
    version: Vec<u8>,
    extra: Option<Format>,
}

impl Tap {
    fn new(c: Config) -> Self {
        Self {
            output: Output::new(c.endpoint, c.queue, c.sndbuf),
            full: c.full,
            identity: c.identity.into_bytes(),
            version: c.version.into_bytes(),
            extra: c.extra.as_deref().map(Format::parse),
        }
    }

    /// Encodes `m` in this tap's envelope and queues it; `f` fills in
    /// `extra`'s labels (without a reply, as CoreDNS renders it).
    fn send(&self, f: &dyn Fields, m: &proto::Message<'_>) {
        let extra = self
            .extra
            .as_ref()
            .map(|x| x.render(&Unrecorded(f), &|_| None));
        let env = Envelope {
            identity: &self.identity,
            version: &self.version,
            extra: extra.as_deref().map(str::as_bytes),
        };
        let len = 64
            + self.identity.len()
            + self.version.len()
            + extra.as_ref().map_or(0, String::len)
            + m.query_message.map_or(0, <[u8]>::len)
            + m.response_message.map_or(0, <[u8]>::len);
        let mut frame = Vec::with_capacity(len);
        proto::encode(&env, m, &mut frame);
        self.output.send(frame);
    }
}

/// The taps of a block: the dnstap plugin's, and forward's for its
/// upstream exchanges (CoreDNS's `tapPlugins`).
#[derive(Clone)]
pub struct Taps(Arc<[Tap]>);

/// One exchange forward had with an upstream (CoreDNS's `toDnstap`).
pub struct Exchange<'a> {
    /// When forward took the query.
    pub start: SystemTime,
    /// ferrodns's end of the upstream socket, when there was one.
    pub local: Option<SocketAddr>,
    pub upstream: SocketAddr,
    pub tcp: bool,
    /// The reply, when one came (its ID is given the client's).
    pub reply: Option<&'a Message>,
}

fn protocol(tcp: bool) -> Protocol {
    if tcp {
        Protocol::Tcp
    } else {
        Protocol::Udp
    }
}

/// `m` encoded with the client's ID (None when it cannot be encoded).
fn wire(m: &Message, id: u16) -> Option<Vec<u8>> {
    let mut b = m.to_vec().ok()?;
    b.get_mut(..2)?.copy_from_slice(&id.to_be_bytes());
    Some(b)
}

impl Taps {
    fn full(&self) -> bool {
        self.0.iter().any(|t| t.full)
    }

    /// FORWARDER_QUERY, and FORWARDER_RESPONSE when a reply came, from
    /// ferrodns's side of the upstream socket to the upstream.
    pub fn forwarded(&self, req: &Request, x: &Exchange<'_>) {
        let id = req.msg.metadata.id;
        let (query, reply) = if self.full() {
            (wire(&req.msg, id), x.reply.and_then(|r| wire(r, id)))
        } else {
            (None, None)
        };
        let mut m = proto::Message::new(Kind::ForwarderQuery);
        m.protocol = Some(protocol(x.tcp));
        m.query_address = x.local;
        m.response_address = Some(x.upstream);
        m.query_time = Some(x.start);
        let fields = Chained { req, reply: None };
        for t in self.0.iter() {
            m.query_message = query.as_deref().filter(|_| t.full);
            t.send(&fields, &m);
        }
        if x.reply.is_none() {
            return;
        }
        let r = proto::Message {
            kind: Kind::ForwarderResponse,
            response_time: Some(SystemTime::now()),
            query_message: None,
            ..m
        };
        for t in self.0.iter() {
            let r = proto::Message {
                response_message: reply.as_deref().filter(|_| t.full),
                ..r.clone()
            };
            t.send(&fields, &r);
        }
    }

    fn start(&self) {
        for t in self.0.iter() {
            t.output.start();
        }
    }

    fn stop(&self) {
        for t in self.0.iter() {
            t.output.stop();
        }
    }
}

/// The plugin: every dnstap directive of a block.
pub struct Dnstap {
    taps: Taps,
    /// Some tap renders `extra` (the raw path then needs the name's text).
    extra: bool,
}

impl Dnstap {
    pub fn new(configs: Vec<Config>) -> Self {
        let taps: Vec<Tap> = configs.into_iter().map(Tap::new).collect();
        Self {
            extra: taps.iter().any(|t| t.extra.is_some()),
            taps: Taps(taps.into()),
        }
    }

    /// CLIENT_QUERY or CLIENT_RESPONSE to every tap.
    #[allow(clippy::too_many_arguments)]
    fn client(
        &self,
        f: &dyn Fields,
        kind: Kind,
        client: SocketAddr,
        proto: Proto,
        query_time: SystemTime,
        response_time: Option<SystemTime>,
        bytes: Option<&[u8]>,
    ) {
        let mut m = proto::Message::new(kind);
        m.protocol = Some(protocol(proto == Proto::Tcp));
        m.query_address = Some(client);
        m.query_time = Some(query_time);
        m.response_time = response_time;
        for t in self.taps.0.iter() {
            let b = bytes.filter(|_| t.full);
            if kind == Kind::ClientQuery {
                m.query_message = b;
            } else {
                m.response_message = b;
            }
            t.send(f, &m);
        }
    }
}

impl Plugin for Dnstap {
    fn name(&self) -> &'static str {
        "dnstap"
    }

    fn query(&self, req: &mut Request) -> Action {
        let now = SystemTime::now();
        let bytes = if self.taps.full() {
            req.msg.to_vec().ok()
        } else {
            None
        };
        let f = Chained { req, reply: None };
        self.client(
            &f,
            Kind::ClientQuery,
            req.src,
            req.proto,
            now,
            None,
            bytes.as_deref(),
        );
        req.stash.put(self, now);
        Action::Watch
    }

    /// CLIENT_RESPONSE for a reply a plugin wrote. An error rcode returned
    /// without a reply is written by the server outside the chain, which
    /// CoreDNS's dnstap does not see either.
    fn response(&self, req: &Request, out: &mut Outcome) {
        let Some(query_time) = req.stash.take::<SystemTime>(self) else {
            return;
        };
        let Some(reply) = &out.reply else { return };
        // The reply as the server will send it: the client's OPT, cut to
        // the client's size.
        let bytes = if self.taps.full() {
            let mut r = reply.clone();
            edns::size_and_do(&req.msg, &mut r);
            let mut b = Vec::with_capacity(512);
            edns::encode_fitting(&mut r, req.size(), &mut b)
                .ok()
                .map(|()| b)
        } else {
            None
        };
        let f = Chained {
            req,
            reply: Some(reply),
        };
        self.client(
            &f,
            Kind::ClientResponse,
            req.src,
            req.proto,
            query_time,
            Some(SystemTime::now()),
            bytes.as_deref(),
        );
    }

    fn start(&self) {
        self.taps.start();
    }

    fn stop(&self) {
        self.taps.stop();
    }

    fn fast(&self) -> Fast {
        Fast::Hook(Needs {
            text: self.extra,
            ..Needs::default()
        })
    }

    /// A query whose OPT a plugin before this one changed (bufsize) is
    /// the chain's, when its bytes go in a frame.
    fn fast_check(&self, _q: &RawQuery<'_>, cap: &mut Option<u16>) -> bool {
        !(cap.is_some() && self.taps.full())
    }

    fn fast_done(&self, q: &RawQuery<'_>, _cx: &mut Context<'_>, a: &RawAnswer, reply: &[u8]) {
        let now = SystemTime::now();
        let query_time = now.checked_sub(q.at.elapsed()).unwrap_or(now);
        let f = Raw { q, a };
        let proto = q.proto();
        self.client(
            &f,
            Kind::ClientQuery,
            q.src,
            proto,
            query_time,
            None,
            Some(q.wire),
        );
        self.client(
            &f,
            Kind::ClientResponse,
            q.src,
            proto,
            query_time,
            Some(now),
            Some(reply),
        );
    }
}

#[cfg(test)]
mod tests;
