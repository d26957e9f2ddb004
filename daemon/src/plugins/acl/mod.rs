//! acl: allows, blocks, filters or drops queries by client address and
//! query type, as CoreDNS's acl plugin does.
//!
//! Each `acl` directive is a rule for its zones; a rule's policies are
//! tried in order and the first that matches the query's type and source
//! address decides. `allow` ends the check for every rule; a rule with no
//! matching policy hands the query to the next rule.

mod setup;

pub(crate) use setup::parse_cidr;
pub use setup::setup;

use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::{names, Action, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use std::collections::HashSet;
use std::net::IpAddr;

/// RFC 8914 extended error codes CoreDNS's acl attaches.
const EDE_BLOCKED: u16 = 15;
const EDE_FILTERED: u16 = 17;
/// The EDNS option code of Extended DNS Errors.
const EDNS_EDE: u16 = 15;

pub struct Acl {
    rules: Vec<Rule>,
}

struct Rule {
    zones: Vec<String>,
    policies: Vec<Policy>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Allow,
    Block,
    Filter,
    Drop,
}

struct Policy {
    verdict: Verdict,
    /// Query types; 0 (miekg's TypeNone) matches every type.
    qtypes: HashSet<u16>,
    /// None: every address.
    nets: Option<Vec<Net>>,
}

/// An address prefix (Go's `net.IPNet`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Net {
    addr: IpAddr,
    bits: u8,
}

impl Net {
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl Policy {
    fn matches(&self, qtype: u16, ip: IpAddr) -> bool {
        if !self.qtypes.contains(&0) && !self.qtypes.contains(&qtype) {
            return false;
        }
        match &self.nets {
            None => true,
            Some(nets) => nets.iter().any(|n| n.contains(ip)),
        }
    }
}

impl Acl {
    /// What the rules say of a query for `name` (lowercased text) of `qtype`
    /// from `ip`: the first matching policy of the first rule that has one;
    /// None lets it through.
    fn verdict(&self, name: &str, qtype: u16, ip: IpAddr) -> Option<Verdict> {
        for rule in &self.rules {
            if names::zone_match(&rule.zones, name).is_none() {
                continue;
            }
            let verdict = rule
                .policies
                .iter()
                .find(|p| p.matches(qtype, ip))
                .map(|p| p.verdict);
            match verdict {
                None => continue,
                Some(Verdict::Allow) => return None,
                v => return v,
            }
        }
        None
    }

    /// Whether the query passes on to the next plugin (for the fast path).
    pub fn allows(&self, name: &str, qtype: u16, ip: IpAddr) -> bool {
        self.verdict(name, qtype, ip).is_none()
    }
}

impl Plugin for Acl {
    fn name(&self) -> &'static str {
        "acl"
    }

    fn query(&self, req: &mut Request) -> Action {
        match self.verdict(&req.name, u16::from(req.qtype()), req.src.ip()) {
            None | Some(Verdict::Allow) => Action::Next,
            // Nothing written and success returned: no reply at all.
            Some(Verdict::Drop) => Action::Done(Outcome::rcode(ResponseCode::NoError)),
            Some(Verdict::Block) => {
                Action::Done(written(blocked(req, ResponseCode::Refused, EDE_BLOCKED)))
            }
            Some(Verdict::Filter) => {
                Action::Done(written(blocked(req, ResponseCode::NoError, EDE_FILTERED)))
            }
        }
    }

    fn fast(&self) -> Fast {
        Fast::Hook(Needs {
            text: true,
            ..Needs::default()
        })
    }

    /// A query it lets through goes on; any other takes the chain.
    fn fast_check(&self, q: &RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        self.allows(q.text, q.q.qtype, q.src.ip())
    }
}

/// A reply the plugin wrote itself, returning success as CoreDNS's acl does.
fn written(m: Message) -> Outcome {
    let mut o = Outcome::reply(m);
    o.rcode = ResponseCode::NoError;
    o
}

/// The reply to a blocked or filtered query: `rcode`, an OPT of 4096 bytes
/// with DO set, and the extended error `code` with no text.
fn blocked(req: &Request, rcode: ResponseCode, code: u16) -> Message {
    let mut m = req.error_reply(rcode);
    m.edns = Some(ede_opt(code, ""));
    m
}

/// miekg's `SetEdns0(4096, true)` with one Extended DNS Error option.
pub(crate) fn ede_opt(code: u16, text: &str) -> Edns {
    let mut e = Edns::new();
    e.set_max_payload(4096);
    e.set_version(0);
    e.set_dnssec_ok(true);
    let mut data = code.to_be_bytes().to_vec();
    data.extend_from_slice(text.as_bytes());
    e.options_mut().insert(EdnsOption::Unknown(EDNS_EDE, data));
    e
}

#[cfg(test)]
mod tests;
