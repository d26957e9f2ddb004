//! The rules: what each does to the query on its way in, and the response
//! rules it leaves behind for the reply on its way out.

use crate::gocompat::names::is_domain_name;
use crate::plugin::Request;
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use regex::Regex;
use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Later rules are not tried once this one applied (the default).
    Stop,
    /// Later rules are tried too.
    Continue,
}

pub struct Rule {
    pub mode: Mode,
    pub kind: Kind,
}

pub enum Kind {
    Name(NameRule),
    Type {
        from: u16,
        to: u16,
    },
    Class {
        from: u16,
        to: u16,
    },
    Ttl {
        matcher: Matcher,
        min: u32,
        max: u32,
    },
    Rcode {
        matcher: Matcher,
        old: u16,
        new: u16,
    },
    Local {
        action: EdnsAction,
        code: u16,
        data: Data,
        revert: bool,
    },
    Nsid {
        action: EdnsAction,
        revert: bool,
    },
    Subnet {
        action: EdnsAction,
        v4: u8,
        v6: u8,
        revert: bool,
    },
    Cname(CnameRule),
}

/// A `cname` rule: a CNAME target in the reply rewritten, and what the
/// server answers for the new target in place of the records after it.
#[derive(Clone)]
pub struct CnameRule {
    pub how: Matcher,
    /// The replacement (`{N}` groups for regex); lowercased, and fully
    /// qualified for exact rules.
    pub to: String,
}

impl CnameRule {
    /// CoreDNS's `getFromAndToTarget` and the check after it: the new
    /// target for a CNAME whose target reads `target`, None when the rule
    /// does not match it.
    pub fn rewrite(&self, target: &str) -> Option<String> {
        match &self.how {
            Matcher::Exact(from) => (target == from).then(|| self.to.clone()),
            Matcher::Prefix(p) => target
                .strip_prefix(p.as_str())
                .map(|rest| format!("{}{rest}", self.to)),
            Matcher::Suffix(x) => target
                .strip_suffix(x.as_str())
                .map(|rest| format!("{rest}{}", self.to)),
            Matcher::Substring(x) => target
                .contains(x.as_str())
                .then(|| target.replace(x.as_str(), &self.to)),
            Matcher::Regex(re) => expand(re, &self.to, target),
        }
    }
}

/// How a rule matches the question name (lowercased presentation text).
#[derive(Clone)]
pub enum Matcher {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Substring(String),
    Regex(Regex),
}

impl Matcher {
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Exact(s) => name == s,
            Matcher::Prefix(s) => name.starts_with(s.as_str()),
            Matcher::Suffix(s) => name.ends_with(s.as_str()),
            Matcher::Substring(s) => name.contains(s.as_str()),
            Matcher::Regex(re) => re.is_match(name),
        }
    }
}

pub struct NameRule {
    pub matcher: Matcher,
    /// The replacement (with `{N}` groups for regex).
    pub to: String,
    /// Map the rewritten name back in the reply's names and values.
    pub auto: bool,
    /// `answer name` / `answer value` rules (and, for suffix with
    /// `answer auto`, the reverse suffix mapping).
    pub answers: Vec<Resp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdnsAction {
    Append,
    Replace,
    Set,
    Unset,
}

pub enum Data {
    Bytes(Vec<u8>),
    Var(Var),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    Qname,
    Qtype,
    ClientIp,
    ClientPort,
    Protocol,
    ServerIp,
    ServerPort,
    /// A metadata label: never has a value in ferrodns.
    Label,
}

/// A rewrite of the reply, in the order the rules made them; applied in
/// reverse.
#[derive(Clone)]
pub enum Resp {
    /// The owner name of each record.
    Name(Rw),
    /// The name a record points at (CNAME, NS, PTR, MX, SRV, NAPTR, SOA).
    Value(Rw),
    Ttl {
        min: u32,
        max: u32,
    },
    Rcode {
        old: u16,
        new: u16,
    },
    /// Drop the first option with this code from the reply's OPT.
    EdnsRemove(u16),
    /// Put the request's former option back in place of the first option
    /// with this code in the reply's OPT.
    EdnsRestore(u16, EdnsOption),
    /// A `cname` rule: the response phase looks the new target up (see
    /// `super::Rewrite::response_async`); applying it changes nothing.
    Cname(CnameRule),
}

/// A rewrite of one name's text.
#[derive(Clone)]
pub enum Rw {
    Regex {
        re: Regex,
        to: String,
    },
    /// The name itself or any name below it.
    Remap {
        orig: String,
        to: String,
    },
    Suffix {
        suffix: String,
        to: String,
    },
}

impl Rw {
    pub fn rewrite(&self, s: &str) -> String {
        match self {
            Rw::Regex { re, to } => expand(re, to, s).unwrap_or_else(|| s.to_string()),
            Rw::Remap { orig, to } => {
                if s == orig {
                    return to.clone();
                }
                let below = s.len() > orig.len()
                    && s.ends_with(orig.as_str())
                    && s.as_bytes()[s.len() - orig.len() - 1] == b'.';
                if below {
                    format!("{}{to}", &s[..s.len() - orig.len()])
                } else {
                    s.to_string()
                }
            }
            Rw::Suffix { suffix, to } => match s.strip_suffix(suffix.as_str()) {
                Some(rest) => format!("{rest}{to}"),
                None => s.to_string(),
            },
        }
    }
}

/// `to` with `{0}`, `{1}`, ... replaced by the groups of the first match of
/// `re` in `s` (a group that took no part is empty); None without a match.
pub fn expand(re: &Regex, to: &str, s: &str) -> Option<String> {
    let caps = re.captures(s)?;
    let mut out = to.to_string();
    for i in 0..caps.len() {
        let v = caps.get(i).map_or("", |m| m.as_str());
        out = out.replace(&format!("{{{i}}}"), v);
    }
    Some(out)
}

/// What applying one rule to a query did.
pub enum Applied {
    Ignored,
    Done(Vec<Resp>),
    /// A name rule produced this text, which is not a domain name.
    BadName(String),
}

impl Rule {
    pub fn apply(&self, req: &mut Request) -> Applied {
        match &self.kind {
            Kind::Name(r) => r.apply(req),
            Kind::Type { from, to } => {
                if u16::from(req.qtype()) != *from {
                    return Applied::Ignored;
                }
                req.msg.queries[0].set_query_type(RecordType::from(*to));
                Applied::Done(Vec::new())
            }
            Kind::Class { from, to } => {
                if u16::from(req.qclass()) != *from {
                    return Applied::Ignored;
                }
                req.msg.queries[0].set_query_class(DNSClass::from(*to));
                Applied::Done(Vec::new())
            }
            Kind::Ttl { matcher, min, max } => {
                if !matcher.matches(&req.name) {
                    return Applied::Ignored;
                }
                Applied::Done(vec![Resp::Ttl {
                    min: *min,
                    max: *max,
                }])
            }
            Kind::Rcode { matcher, old, new } => {
                if !matcher.matches(&req.name) {
                    return Applied::Ignored;
                }
                Applied::Done(vec![Resp::Rcode {
                    old: *old,
                    new: *new,
                }])
            }
            Kind::Local {
                action,
                code,
                data,
                revert,
            } => local(req, *action, *code, data, *revert),
            Kind::Nsid { action, revert } => nsid(req, *action, *revert),
            Kind::Subnet {
                action,
                v4,
                v6,
                revert,
            } => subnet(req, *action, *v4, *v6, *revert),
            // CoreDNS's cname rule applies to every query.
            Kind::Cname(c) => Applied::Done(vec![Resp::Cname(c.clone())]),
        }
    }
}

impl NameRule {
    fn apply(&self, req: &mut Request) -> Applied {
        let name = req.name.clone();
        let new = match &self.matcher {
            Matcher::Exact(from) if *from == name => self.to.clone(),
            Matcher::Prefix(p) => match name.strip_prefix(p.as_str()) {
                Some(rest) => format!("{}{rest}", self.to),
                None => return Applied::Ignored,
            },
            Matcher::Suffix(s) => match name.strip_suffix(s.as_str()) {
                Some(rest) => format!("{rest}{}", self.to),
                None => return Applied::Ignored,
            },
            Matcher::Substring(s) if name.contains(s.as_str()) => {
                name.replace(s.as_str(), &self.to)
            }
            Matcher::Regex(re) => match expand(re, &self.to, &name) {
                Some(n) => n,
                None => return Applied::Ignored,
            },
            _ => return Applied::Ignored,
        };
        if !set_qname(req, &new) {
            return Applied::BadName(new);
        }
        let mut rules = Vec::with_capacity(2 + self.answers.len());
        if self.auto {
            // Back from the name as rewritten to the name before this rule.
            let back = Rw::Remap {
                orig: new,
                to: name,
            };
            rules.push(Resp::Name(back.clone()));
            rules.push(Resp::Value(back));
        }
        rules.extend(self.answers.iter().cloned());
        Applied::Done(rules)
    }
}

/// Sets the question name from presentation text; false when the text is
/// not a domain name.
fn set_qname(req: &mut Request, text: &str) -> bool {
    if !is_domain_name(text) {
        return false;
    }
    let Ok(mut n) = Name::from_ascii(text) else {
        return false;
    };
    n.set_fqdn(true);
    req.set_qname(n);
    true
}

/// The request's OPT, created (4096 bytes, no DO) when it has none.
fn opt(req: &mut Request) -> &mut Vec<(EdnsCode, EdnsOption)> {
    req.msg
        .edns
        .get_or_insert_with(|| {
            let mut e = Edns::new();
            e.set_max_payload(4096);
            e
        })
        .options_mut()
        .as_mut()
}

/// Option codes miekg parses into a type of their own; any other code is
/// an `EDNS0_LOCAL`, the only kind a local rule matches.
fn is_local(code: u16) -> bool {
    !matches!(code, 1..=12 | 15 | 18 | 19)
}

fn local(req: &mut Request, action: EdnsAction, code: u16, data: &Data, revert: bool) -> Applied {
    let (data, is_var) = match data {
        Data::Bytes(b) => (b.clone(), false),
        Data::Var(v) => match var_data(req, *v) {
            Some(d) => (d, true),
            None => return Applied::Ignored,
        },
    };
    let opts = opt(req);
    if action == EdnsAction::Unset {
        opts.retain(|(c, _)| u16::from(*c) != code);
        return Applied::Done(Vec::new());
    }
    let mut resp = Vec::new();
    if let Some(o) = opts
        .iter_mut()
        .find(|(c, _)| u16::from(*c) == code && is_local(code))
    {
        match action {
            EdnsAction::Replace | EdnsAction::Set => {
                if revert {
                    resp.push(Resp::EdnsRestore(code, o.1.clone()));
                }
                o.1 = EdnsOption::Unknown(code, data);
                return Applied::Done(resp);
            }
            // A variable rule leaves an existing option alone on append;
            // a fixed one appends another.
            _ if is_var => return Applied::Ignored,
            _ => {}
        }
    }
    if matches!(action, EdnsAction::Append | EdnsAction::Set) {
        opts.push((EdnsCode::from(code), EdnsOption::Unknown(code, data)));
        if revert {
            resp.push(Resp::EdnsRemove(code));
        }
        return Applied::Done(resp);
    }
    Applied::Ignored
}

fn var_data(req: &Request, v: Var) -> Option<Vec<u8>> {
    let v4 = req.src.ip().is_ipv4();
    let wire = |ip: IpAddr| -> Option<Vec<u8>> {
        match (v4, ip) {
            (true, IpAddr::V4(a)) => Some(a.octets().to_vec()),
            (true, IpAddr::V6(a)) => a.to_ipv4_mapped().map(|a| a.octets().to_vec()),
            (false, IpAddr::V4(a)) => Some(a.to_ipv6_mapped().octets().to_vec()),
            (false, IpAddr::V6(a)) => Some(a.octets().to_vec()),
        }
    };
    match v {
        Var::Qname => Some(crate::plugin::names::text(req.qname()).into_bytes()),
        Var::Qtype => Some(u16::from(req.qtype()).to_be_bytes().to_vec()),
        Var::ClientIp => wire(req.src.ip()),
        Var::ServerIp => wire(req.local.ip()),
        Var::ClientPort => Some(req.src.port().to_be_bytes().to_vec()),
        Var::ServerPort => Some(req.local.port().to_be_bytes().to_vec()),
        Var::Protocol => Some(req.proto.as_str().as_bytes().to_vec()),
        Var::Label => None,
    }
}

const NSID: u16 = 3;
const SUBNET: u16 = 8;

fn nsid(req: &mut Request, action: EdnsAction, revert: bool) -> Applied {
    let opts = opt(req);
    if action == EdnsAction::Unset {
        opts.retain(|(c, _)| u16::from(*c) != NSID);
        return Applied::Done(Vec::new());
    }
    let mut resp = Vec::new();
    if matches!(action, EdnsAction::Replace | EdnsAction::Set) {
        if let Some(o) = opts.iter_mut().find(|(c, _)| u16::from(*c) == NSID) {
            if revert {
                resp.push(Resp::EdnsRestore(NSID, o.1.clone()));
            }
            o.1 = EdnsOption::Unknown(NSID, Vec::new());
            return Applied::Done(resp);
        }
    }
    if matches!(action, EdnsAction::Append | EdnsAction::Set) {
        opts.push((EdnsCode::NSID, EdnsOption::Unknown(NSID, Vec::new())));
        if revert {
            resp.push(Resp::EdnsRemove(NSID));
        }
        return Applied::Done(resp);
    }
    Applied::Ignored
}

fn subnet(req: &mut Request, action: EdnsAction, v4: u8, v6: u8, revert: bool) -> Applied {
    let ecs = ecs_data(req.src.ip(), v4, v6);
    let opts = opt(req);
    if action == EdnsAction::Unset {
        opts.retain(|(c, _)| u16::from(*c) != SUBNET);
        return Applied::Done(Vec::new());
    }
    let mut resp = Vec::new();
    if let Some(o) = opts.iter_mut().find(|(c, _)| u16::from(*c) == SUBNET) {
        if matches!(action, EdnsAction::Replace | EdnsAction::Set) {
            if revert {
                resp.push(Resp::EdnsRestore(SUBNET, o.1.clone()));
            }
            o.1 = EdnsOption::Unknown(SUBNET, ecs);
            return Applied::Done(resp);
        }
        return Applied::Ignored;
    }
    if matches!(action, EdnsAction::Append | EdnsAction::Set) {
        opts.push((EdnsCode::Subnet, EdnsOption::Unknown(SUBNET, ecs)));
        if revert {
            resp.push(Resp::EdnsRemove(SUBNET));
        }
        return Applied::Done(resp);
    }
    Applied::Ignored
}

/// The client subnet option's data (RFC 7871) for the client's address cut
/// to the family's prefix length: family, source prefix, scope 0, and the
/// address octets the prefix covers.
pub fn ecs_data(ip: IpAddr, v4: u8, v6: u8) -> Vec<u8> {
    let (family, bits, octets): (u16, u8, Vec<u8>) = match ip {
        IpAddr::V4(a) => (1, v4, a.octets().to_vec()),
        IpAddr::V6(a) => (2, v6, a.octets().to_vec()),
    };
    let mut out = family.to_be_bytes().to_vec();
    out.push(bits);
    out.push(0);
    let need = usize::from(bits).div_ceil(8);
    for (i, &o) in octets.iter().take(need).enumerate() {
        let keep = usize::from(bits).saturating_sub(i * 8).min(8);
        let mask = if keep == 8 { 0xff } else { !(0xffu8 >> keep) };
        out.push(o & mask);
    }
    out
}

/// A record of the reply, or its OPT pseudo-record.
pub enum Target<'a> {
    Rec(&'a mut Record),
    Opt,
}

impl Resp {
    /// Rules on the message rather than on a record (applied once when the
    /// reply has no records at all).
    pub fn on_message(&self) -> bool {
        matches!(self, Resp::Rcode { .. })
    }

    pub fn apply(&self, res: &mut Message, t: &mut Target<'_>) {
        match self {
            Resp::Name(rw) => {
                if let Target::Rec(rr) = t {
                    if let Some(n) = rewrite_name(&rr.name, rw) {
                        rr.name = n;
                    }
                }
            }
            Resp::Value(rw) => {
                if let Target::Rec(rr) = t {
                    if let Some(v) = value_mut(&mut rr.data) {
                        if let Some(n) = rewrite_name(v, rw) {
                            *v = n;
                        }
                    }
                }
            }
            Resp::Ttl { min, max } => {
                let clamp = |ttl: u32| {
                    if ttl < *min {
                        *min
                    } else if ttl > *max {
                        *max
                    } else {
                        ttl
                    }
                };
                match t {
                    Target::Rec(rr) => rr.ttl = clamp(rr.ttl),
                    Target::Opt => {
                        // The OPT's TTL is its extended rcode, version and
                        // flags; only the flags' high byte outlives the
                        // final EDNS normalisation.
                        if let Some(e) = res.edns.as_mut() {
                            let ttl = u32::from(e.rcode_high()) << 24
                                | u32::from(e.version()) << 16
                                | u32::from(u16::from(*e.flags()));
                            let flags = (clamp(ttl) & 0xffff) as u16;
                            let f = e.flags_mut();
                            f.dnssec_ok = flags & 0x8000 != 0;
                            f.z = flags & 0x7fff;
                        }
                    }
                }
            }
            Resp::Rcode { old, new } => {
                if u16::from(res.metadata.response_code) == *old {
                    res.metadata.response_code = <ResponseCode as From<u16>>::from(*new);
                }
            }
            Resp::EdnsRemove(code) => {
                if let Some(e) = res.edns.as_mut() {
                    let opts = e.options_mut().as_mut();
                    if let Some(i) = opts.iter().position(|(c, _)| u16::from(*c) == *code) {
                        opts.remove(i);
                    }
                }
            }
            Resp::EdnsRestore(code, old) => {
                if let Some(e) = res.edns.as_mut() {
                    let opts = e.options_mut().as_mut();
                    if let Some(o) = opts.iter_mut().find(|(c, _)| u16::from(*c) == *code) {
                        o.1 = old.clone();
                    }
                }
            }
            Resp::Cname(_) => {}
        }
    }
}

/// The rewritten name, when the rewrite changes it and gives a name.
fn rewrite_name(n: &Name, rw: &Rw) -> Option<Name> {
    let s = crate::plugin::names::text(n);
    let new = rw.rewrite(&s);
    if new == s {
        return None;
    }
    let mut n = Name::from_ascii(&new).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// The name a record's data points at, for the types CoreDNS rewrites.
fn value_mut(d: &mut RData) -> Option<&mut Name> {
    Some(match d {
        RData::SRV(v) => &mut v.target,
        RData::MX(v) => &mut v.exchange,
        RData::CNAME(v) => &mut v.0,
        RData::NS(v) => &mut v.0,
        RData::NAPTR(v) => &mut v.replacement,
        RData::SOA(v) => &mut v.mname,
        RData::PTR(v) => &mut v.0,
        _ => return None,
    })
}
