//! dns64: AAAA queries whose answer has no AAAA records are answered with
//! the name's A records mapped into an IPv6 prefix (RFC 6147), as
//! CoreDNS's dns64 plugin does: for clients that reach IPv4 hosts through
//! NAT64.
//!
//! The query phase picks the queries to watch (AAAA, class IN, from an
//! IPv6 client unless `allow_ipv4`); the response phase, which waits,
//! looks at what the rest of the chain answered and, where it must
//! translate, asks the server for the name's A records (an internal
//! lookup, `Request::lookup`) and builds the reply from them.

mod metrics;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use crate::plugin::classify::{typify, Kind};
use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::{Action, Fast, LocalFuture, Outcome, Plugin, PluginError, Request};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The TTL cap of synthesized records when the reply to the AAAA query
/// holds no SOA (RFC 6147 5.1.7).
const DEFAULT_SOA_TTL: u32 = 600;

/// An IPv6 prefix of 32, 40, 48, 56, 64 or 96 bits (RFC 6052 2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    /// The prefix's address, masked to its length.
    pub net: Ipv6Addr,
    pub bits: u8,
}

impl Prefix {
    /// The well-known prefix, `64:ff9b::/96`.
    pub const WELL_KNOWN: Prefix = Prefix {
        net: Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
        bits: 96,
    };

    /// `v4` embedded in the prefix (RFC 6052 2.2): its bytes follow the
    /// prefix's, skipping bits 64 to 71 (the `u` octet), which stay zero.
    pub fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        let p = self.net.octets();
        let mut out = [0u8; 16];
        let n = usize::from(self.bits / 8);
        out[..n].copy_from_slice(&p[..n]);
        let mut at = n;
        for b in v4.octets() {
            if at == 8 {
                at += 1;
            }
            out[at] = b;
            at += 1;
        }
        Ipv6Addr::from(out)
    }
}

pub struct Dns64 {
    prefix: Prefix,
    /// Translate even replies that have AAAA records (RFC 6147 5.1.1 says not to).
    translate_all: bool,
    /// Translate for IPv4 clients too.
    allow_ipv4: bool,
}

impl Dns64 {
    /// CoreDNS's requestShouldIntercept: an AAAA question of class IN, from
    /// an IPv6 client unless IPv4 clients are allowed.
    fn intercepts(&self, src: SocketAddr, qtype: RecordType, qclass: DNSClass) -> bool {
        (self.allow_ipv4 || src.is_ipv6()) && qtype == RecordType::AAAA && qclass == DNSClass::IN
    }

    /// CoreDNS's responseShouldDNS64: not a name error (RFC 6147 5.1.2;
    /// every other error counts as an empty answer), and no AAAA record in
    /// the answer (5.1.1) unless `translate_all`.
    fn translates(&self, reply: &Message) -> bool {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if typify(reply, now) == Kind::NameError {
            return false;
        }
        self.translate_all
            || !reply
                .answers
                .iter()
                .any(|r| r.record_type() == RecordType::AAAA)
    }

    /// CoreDNS's Synthesize: a reply to the client's query with the A
    /// lookup's TC bit, authority and additional sections (5.3.2), its
    /// A records as AAAA records in the prefix, their TTLs capped by the
    /// SOA of the reply to the AAAA query or else 600 (5.1.7), and its
    /// other answer records as they are (5.3.3).
    fn synthesize(&self, req: &Request, original: &Message, a: Message) -> Message {
        let mut m = req.reply();
        m.metadata.truncation = a.metadata.truncation;
        m.additionals = a.additionals;
        m.edns = a.edns;
        m.authorities = a.authorities;
        let soa_ttl = original
            .authorities
            .iter()
            .rfind(|r| r.record_type() == RecordType::SOA)
            .map_or(DEFAULT_SOA_TTL, |r| r.ttl);
        m.answers = a
            .answers
            .into_iter()
            .map(|rr| match rr.data {
                RData::A(v4) => {
                    let aaaa = RData::AAAA(AAAA(self.prefix.embed(v4.0)));
                    let mut r = Record::from_rdata(rr.name, rr.ttl.min(soa_ttl), aaaa);
                    r.dns_class = rr.dns_class;
                    r
                }
                _ => rr,
            })
            .collect();
        m
    }
}

impl Plugin for Dns64 {
    fn name(&self) -> &'static str {
        "dns64"
    }

    fn query(&self, req: &mut Request) -> Action {
        if self.intercepts(req.src, req.qtype(), req.qclass()) {
            Action::WatchAsync
        } else {
            Action::Next
        }
    }

    /// What the rest of the chain answered, translated where it must be:
    /// nothing written (an error the server writes, a drop) and answers
    /// that need no translation go out as they are.
    fn response_async<'a>(&'a self, req: &'a Request, out: &'a mut Outcome) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            let Some(original) = out.reply.as_ref() else {
                return;
            };
            if !self.translates(original) {
                return;
            }
            let a = match req.lookup(req.qname(), RecordType::A).await {
                Ok(Some(a)) => a,
                Ok(None) => return fail(out, "upstream lookup returned no reply".into()),
                Err(e) => return fail(out, e.to_string()),
            };
            let m = self.synthesize(req, original, a);
            req.worker
                .metrics(|s| s.inc(&metrics::TRANSLATED, &[&req.server]));
            let plugin = out.plugin;
            *out = Outcome::reply(m);
            out.plugin = plugin;
        })
    }

    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        metrics::OWN
    }

    /// The queries it leaves alone keep the raw path; those it watches
    /// take the chain.
    fn fast(&self) -> Fast {
        Fast::Hook(Needs::CHECK_ONLY)
    }

    fn fast_check(&self, q: &RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        let class = DNSClass::from(q.q.qclass);
        !self.intercepts(q.src, RecordType::from(q.q.qtype), class)
    }
}

/// The A lookup failed: SERVFAIL, written by the server, with the error.
fn fail(out: &mut Outcome, message: String) {
    let plugin = out.plugin;
    *out = Outcome::fail(
        ResponseCode::ServFail,
        PluginError {
            plugin: "dns64",
            message,
        },
    );
    out.plugin = plugin;
}
