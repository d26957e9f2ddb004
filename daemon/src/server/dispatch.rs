//! One query from bytes to reply bytes: the checks CoreDNS's server makes,
//! routing to the most specific zone, the chain, then EDNS and truncation.

use super::config::{Config, Listener, Route};
use super::edns;
use crate::plugin::{client_write, Proto, Request};
use crate::runtime::{Packet, PacketHandler};
use crate::wire::{self, Accept, Header};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{DNSClass, RecordType};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

/// A worker's view of the configuration; one per worker.
pub struct Dispatcher {
    config: Arc<Config>,
}

impl Dispatcher {
    pub fn new(config: Arc<Config>) -> Self {
        Self { config }
    }
}

const FORMERR: u8 = 1;
const NOTIMP: u8 = 4;

impl PacketHandler for Dispatcher {
    fn handle(&mut self, p: &Packet<'_>, out: &mut Vec<u8>) -> bool {
        let Some(l) = self.config.listeners.get(p.listener) else {
            return false;
        };
        let Ok(h) = Header::parse(p.data) else {
            return false;
        };
        match wire::accept(&h) {
            Accept::Ignore => return false,
            Accept::Reject => {
                wire::header_reply(&h, FORMERR, out);
                return true;
            }
            Accept::NotImplemented => {
                wire::header_reply(&h, NOTIMP, out);
                return true;
            }
            Accept::Accept => {}
        }
        let msg = match Message::from_vec(p.data) {
            Ok(m) => m,
            Err(_) => {
                wire::header_reply(&h, FORMERR, out);
                return true;
            }
        };
        serve(l, msg, p, out)
    }
}

fn serve(l: &Listener, msg: Message, p: &Packet<'_>, out: &mut Vec<u8>) -> bool {
    let proto = if p.tcp { Proto::Tcp } else { Proto::Udp };
    let Some(q) = msg.queries.first() else {
        return write_error(&msg, ResponseCode::ServFail, out);
    };
    if !l.class_chaos && q.query_class() != DNSClass::IN {
        return write_error(&msg, ResponseCode::Refused, out);
    }
    if msg.edns.as_ref().is_some_and(|e| e.version() != 0) {
        return edns::badvers(&msg, out).is_ok();
    }
    let name = q.name().to_lowercase().to_string();
    let Some(route) = route(l, &name, q.query_type()) else {
        return write_error(&msg, ResponseCode::Refused, out);
    };
    if route.block.chain.is_empty() {
        return write_error(&msg, ResponseCode::Refused, out);
    }
    let mut req = Request {
        msg,
        wire_len: p.data.len(),
        src: p.src,
        local: p.local,
        proto,
        name,
        zone: Arc::clone(&route.zone),
        start: Instant::now(),
    };
    let outcome = if route.block.debug {
        route.block.chain.serve(&mut req)
    } else {
        match catch_unwind(AssertUnwindSafe(|| route.block.chain.serve(&mut req))) {
            Ok(o) => o,
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                crate::log::error(
                    None,
                    &format!("Recovered from panic in server: \"{}\" {what}", l.name),
                );
                return write_error(&req.msg, ResponseCode::ServFail, out);
            }
        }
    };
    let mut reply = match outcome.reply {
        Some(r) => r,
        None if !client_write(outcome.rcode) => req.error_reply(outcome.rcode),
        // A plugin chose to send nothing (acl's drop).
        None => return false,
    };
    edns::size_and_do(&req.msg, &mut reply);
    edns::encode_fitting(&mut reply, req.size(), out).is_ok()
}

/// CoreDNS's errorFunc: the rcode, the question, the client's OPT.
fn write_error(q: &Message, rcode: ResponseCode, out: &mut Vec<u8>) -> bool {
    let mut m = crate::plugin::request::reply_to(q);
    m.metadata.response_code = rcode;
    edns::size_and_do(q, &mut m);
    edns::encode_fitting(&mut m, usize::from(u16::MAX), out).is_ok()
}

/// The block for `name`: the longest zone on the listener that holds it;
/// DS queries go to the shortest (the parent side of a zone cut); the root
/// zone last of all.
fn route<'a>(l: &'a Listener, name: &str, qtype: RecordType) -> Option<&'a Route> {
    let mut ds: Option<&Route> = None;
    for suffix in suffixes(name) {
        if let Some(r) = l.zones.get(suffix) {
            if qtype != RecordType::DS {
                return Some(r);
            }
            ds = Some(r);
        }
    }
    ds.or_else(|| l.zones.get("."))
}

/// `a.b.c.`, `b.c.`, `c.` (and `.` only when the name is the root),
/// splitting at dots that are not escaped.
fn suffixes(name: &str) -> impl Iterator<Item = &str> {
    let b = name.as_bytes();
    let mut starts = vec![0usize];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'.' => {
                if i + 1 < b.len() {
                    starts.push(i + 1);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    starts.into_iter().map(move |s| &name[s..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_suffixes() {
        assert_eq!(
            suffixes("a.b.c.").collect::<Vec<_>>(),
            ["a.b.c.", "b.c.", "c."]
        );
        assert_eq!(suffixes(".").collect::<Vec<_>>(), ["."]);
        assert_eq!(suffixes("a\\.b.c.").collect::<Vec<_>>(), ["a\\.b.c.", "c."]);
    }
}
