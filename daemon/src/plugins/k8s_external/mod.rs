//! k8s_external: a zone of its own for the cluster's Services, as CoreDNS
//! 1.14.7's plugin serves it: `SERVICE.NAMESPACE.ZONE` answers with the
//! Service's external addresses (and, with `headless`, a headless
//! Service's endpoints), from the block's *kubernetes* plugin (through
//! the contract's `External`, which it offers); the apex has an SOA and an
//! NS, `ns1.APEX.ZONE` the server's addresses.

mod setup;

#[cfg(test)]
mod tests;

pub use setup::setup;

use crate::corefile::{Error, Pos};
use crate::plugin::external::{host_type, External, Host, Service};
use crate::plugin::{names, Action, Fallthrough, LocalFuture, Outcome, Plugin, Request};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock};

/// The SOA's mailbox label.
const HOSTMASTER: &str = "hostmaster";

/// The plugin CoreDNS's k8s_external takes its records from.
const BACKEND: &str = "kubernetes";

pub struct K8sExternal {
    /// Lowercased, fully qualified.
    zones: Vec<String>,
    fall: Fallthrough,
    /// The label of the name servers' names, as written.
    apex: String,
    ttl: u32,
    headless: bool,
    pos: Pos,
    backend: OnceLock<Arc<dyn External>>,
}

/// The server's answers to the lookups of CNAME targets (load balancers
/// known by a host name), by name and type.
type Lookups = HashMap<(Name, RecordType), Option<Message>>;

/// What the query phase leaves for the lookups: the matched zone and the
/// records.
struct Pending {
    zone: String,
    services: Vec<Service>,
}

/// CoreDNS's `dnsutil.Join`: labels joined, fully qualified (a last `.`
/// is the root).
fn join(labels: &[&str]) -> String {
    match labels.split_last() {
        Some((&".", rest)) => format!("{}.", rest.join(".")),
        _ => names::fqdn(&labels.join(".")),
    }
}

fn name(text: &str) -> Option<Name> {
    Name::from_ascii(names::fqdn(text)).ok()
}

/// The number of labels of `base` (miekg's `CountLabel`; empty has one).
fn count_labels(base: &str) -> usize {
    base.trim_end_matches('.').split('.').count()
}

/// A reply the plugin wrote: CoreDNS's handler returns success for it.
fn written(m: Message) -> Outcome {
    let mut o = Outcome::reply(m);
    o.rcode = ResponseCode::NoError;
    o
}

impl K8sExternal {
    fn new(zones: Vec<String>, pos: Pos) -> K8sExternal {
        K8sExternal {
            zones,
            fall: Fallthrough::default(),
            apex: "dns".into(),
            ttl: 5,
            headless: false,
            pos,
            backend: OnceLock::new(),
        }
    }

    fn record(&self, owner: Name, data: RData) -> Record {
        Record::from_rdata(owner, self.ttl, data)
    }

    fn soa(&self, zone: &str, b: &dyn External) -> Option<Record> {
        let soa = SOA::new(
            name(&join(&["ns1", &self.apex, zone]))?,
            name(&join(&[HOSTMASTER, &self.apex, zone]))?,
            b.serial(zone),
            7200,
            1800,
            86400,
            self.ttl,
        );
        Some(self.record(name(zone)?, RData::SOA(soa)))
    }

    /// An empty reply with `rcode` and the zone's SOA.
    fn empty(&self, req: &Request, zone: &str, rcode: ResponseCode, b: &dyn External) -> Outcome {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        m.metadata.response_code = rcode;
        m.authorities.extend(self.soa(zone, b));
        written(m)
    }

    /// The name servers' addresses, as records of `owner`.
    fn addresses(&self, owner: &Name, zone: &str, b: &dyn External) -> Vec<Record> {
        b.addresses(zone, self.headless)
            .into_iter()
            .filter_map(|(_, ip)| match Host::of(ip) {
                Host::A(v4) => Some(RData::A(A(v4))),
                Host::Aaaa(v6) => Some(RData::AAAA(AAAA(v6))),
                Host::Cname => None,
            })
            .map(|data| self.record(owner.clone(), data))
            .collect()
    }

    /// CoreDNS's `serveApex`: SOA, NS (with the name servers' addresses
    /// as `ns1.APEX.NAME`), NODATA for the rest.
    fn apex_reply(&self, req: &Request, zone: &str, b: &dyn External) -> Outcome {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        match req.qtype() {
            RecordType::SOA => m.answers.extend(self.soa(zone, b)),
            RecordType::NS => {
                if let (Some(owner), Some(ns)) =
                    (name(zone), name(&join(&["ns1", &self.apex, zone])))
                {
                    m.answers.push(self.record(owner, RData::NS(NS(ns))));
                }
                let asked = names::text(req.qname());
                if let Some(glue) = name(&join(&["ns1", &self.apex, &asked])) {
                    m.additionals = self.addresses(&glue, zone, b);
                }
            }
            _ => m.authorities.extend(self.soa(zone, b)),
        }
        written(m)
    }

    /// CoreDNS's `serveSubApex`: `ns1.APEX.ZONE` has the server's
    /// addresses, `APEX.ZONE` is empty, other names do not exist.
    fn sub_apex_reply(&self, req: &Request, zone: &str, b: &dyn External) -> Outcome {
        let base = below(&req.name, zone);
        match count_labels(base) {
            1 => self.empty(req, zone, ResponseCode::NoError, b),
            2 if base.starts_with("ns1.") => {
                let mut m = req.reply();
                m.metadata.authoritative = true;
                let qtype = req.qtype();
                m.answers = self
                    .addresses(req.qname(), zone, b)
                    .into_iter()
                    .filter(|r| r.record_type() == qtype)
                    .collect();
                if m.answers.is_empty() {
                    m.authorities.extend(self.soa(zone, b));
                }
                written(m)
            }
            _ => self.empty(req, zone, ResponseCode::NXDomain, b),
        }
    }

    /// The answer for the records `services` (CoreDNS's `ServeDNS` after
    /// `External`), with the server's answers for CNAME targets.
    fn answer(
        &self,
        req: &Request,
        zone: &str,
        services: &[Service],
        lookups: &Lookups,
        b: &dyn External,
    ) -> Outcome {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        match req.qtype() {
            t @ (RecordType::A | RecordType::AAAA) => {
                let (answers, truncated) = self.addresses_of(req, services, t, lookups);
                m.answers = answers;
                m.metadata.truncation = truncated;
            }
            RecordType::SRV => (m.answers, m.additionals) = self.srv(req, zone, services, lookups),
            RecordType::PTR => m.answers = self.ptr(req, services),
            _ => {}
        }
        if m.answers.is_empty() {
            m.authorities.extend(self.soa(zone, b));
        }
        written(m)
    }

    /// `e.a` and `e.aaaa`.
    fn addresses_of(
        &self,
        req: &Request,
        services: &[Service],
        qtype: RecordType,
        lookups: &Lookups,
    ) -> (Vec<Record>, bool) {
        let qname = req.qname();
        let (mut out, mut truncated) = (Vec::new(), false);
        let mut dup = HashSet::new();
        for s in services {
            match host_type(&s.host) {
                Host::Cname => {
                    let Some(target) = name(&s.host) else {
                        continue;
                    };
                    let cname = RData::CNAME(CNAME(target.clone()));
                    out.push(Record::from_rdata(qname.clone(), s.ttl, cname));
                    if let Some(Some(m)) = lookups.get(&(target, qtype)) {
                        out.extend(m.answers.iter().cloned());
                        truncated |= m.metadata.truncation;
                    }
                }
                Host::A(ip) if qtype == RecordType::A && dup.insert(&s.host) => {
                    out.push(self.record(qname.clone(), RData::A(A(ip))));
                }
                Host::Aaaa(ip) if qtype == RecordType::AAAA && dup.insert(&s.host) => {
                    out.push(self.record(qname.clone(), RData::AAAA(AAAA(ip))));
                }
                _ => {}
            }
        }
        (out, truncated)
    }

    /// `e.srv`: every record priority 0, the weights sharing 100.
    fn srv(
        &self,
        req: &Request,
        zone: &str,
        services: &[Service],
        lookups: &Lookups,
    ) -> (Vec<Record>, Vec<Record>) {
        let qname = req.qname();
        let total = 100.0 * services.len() as f64;
        let weight = ((100.0 / total * 100.0).floor() as u16).max(1);
        let (mut answers, mut extra) = (Vec::new(), Vec::new());
        // CoreDNS's `isDuplicate`: (name, port) for SRV records, (name,
        // address) for what goes with them.
        let mut dup: HashSet<(Name, u16, String)> = HashSet::new();
        for s in services {
            if s.port == -1 {
                continue;
            }
            let port = s.port as u16;
            let host = host_type(&s.host);
            let target_text = match host {
                Host::Cname => names::fqdn(&s.host),
                Host::A(_) | Host::Aaaa(_) => join(&[&s.name, zone]),
            };
            let Some(target) = name(&target_text) else {
                continue;
            };
            if dup.insert((target.clone(), port, String::new())) {
                let srv = SRV::new(0, weight, port, target.clone());
                answers.push(Record::from_rdata(qname.clone(), s.ttl, RData::SRV(srv)));
            }
            let addr = match host {
                Host::Cname => names::fqdn(&s.host),
                _ => s.host.clone(),
            };
            if !dup.insert((target.clone(), 0, addr)) {
                continue;
            }
            match host {
                Host::Cname => {
                    for t in [RecordType::A, RecordType::AAAA] {
                        if let Some(Some(m)) = lookups.get(&(target.clone(), t)) {
                            extra.extend(m.answers.iter().cloned());
                        }
                    }
                }
                Host::A(ip) => extra.push(self.record(target, RData::A(A(ip)))),
                Host::Aaaa(ip) => extra.push(self.record(target, RData::AAAA(AAAA(ip)))),
            }
        }
        (answers, extra)
    }

    /// `e.ptr`: the Services' names in the first zone.
    fn ptr(&self, req: &Request, services: &[Service]) -> Vec<Record> {
        let first = self.zones.first().map_or(".", String::as_str);
        let mut dup = HashSet::new();
        services
            .iter()
            .filter(|s| dup.insert(&s.host))
            .filter_map(|s| name(&join(&[&s.host, first])))
            .map(|target| self.record(req.qname().clone(), RData::PTR(PTR(target))))
            .collect()
    }

    /// The lookups the answer needs: the targets of CNAMEs, for the types
    /// the question asks (SRV: both addresses).
    fn wanted(&self, req: &Request, services: &[Service]) -> Vec<(Name, RecordType)> {
        let types: &[RecordType] = match req.qtype() {
            RecordType::A => &[RecordType::A],
            RecordType::AAAA => &[RecordType::AAAA],
            RecordType::SRV => &[RecordType::A, RecordType::AAAA],
            _ => &[],
        };
        let mut out = Vec::new();
        for s in services {
            if !matches!(host_type(&s.host), Host::Cname)
                || (req.qtype() == RecordType::SRV && s.port == -1)
            {
                continue;
            }
            let Some(target) = name(&s.host) else {
                continue;
            };
            for t in types {
                let key = (target.clone(), *t);
                if !out.contains(&key) {
                    out.push(key);
                }
            }
        }
        out
    }
}

/// What `name` holds below `zone` (dnsutil.TrimZone).
fn below<'a>(name: &'a str, zone: &str) -> &'a str {
    if zone == "." {
        return name.trim_end_matches('.');
    }
    name.strip_suffix(zone)
        .map_or("", |b| b.strip_suffix('.').unwrap_or(b))
}

impl Plugin for K8sExternal {
    fn name(&self) -> &'static str {
        "k8s_external"
    }

    fn query(&self, req: &mut Request) -> Action {
        let Some(zone) = names::zone_match(&self.zones, &req.name) else {
            return Action::Next;
        };
        let Some(b) = self.backend.get() else {
            return Action::Next;
        };
        let b = &**b;
        let apex = self.apex.to_lowercase();
        for z in &self.zones {
            if req.name == *z {
                return Action::Done(self.apex_reply(req, zone, b));
            }
            // CoreDNS's test against `APEX..` for the root zone holds for
            // no name.
            if z != "." && names::is_subdomain(&format!("{apex}.{z}"), &req.name) {
                return Action::Done(self.sub_apex_reply(req, zone, b));
            }
        }
        let (services, rcode) = b.services(req, zone, self.headless);
        if services.is_empty() {
            if self.fall.through(&req.name) && rcode == ResponseCode::NXDomain {
                return Action::Next;
            }
            return Action::Done(self.empty(req, zone, rcode, b));
        }
        if !self.wanted(req, &services).is_empty() {
            let zone = zone.to_string();
            req.stash.put(self, Pending { zone, services });
            return Action::Await;
        }
        Action::Done(self.answer(req, zone, &services, &Lookups::new(), b))
    }

    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(async move {
            let (Some(p), Some(b)) = (req.stash.take::<Pending>(self), self.backend.get()) else {
                return Action::Next;
            };
            let mut lookups = Lookups::new();
            for (target, t) in self.wanted(req, &p.services) {
                let got = req.lookup(&target, t).await.ok().flatten();
                lookups.insert((target, t), got);
            }
            Action::Done(self.answer(req, &p.zone, &p.services, &lookups, &**b))
        })
    }

    fn link(&self, block: &[Box<dyn Plugin>]) -> Result<(), Error> {
        let fail = |why: &str| Err(Error::new(&self.pos, format!("plugin/k8s_external: {why}")));
        let Some(p) = block.iter().find(|p| p.name() == BACKEND) else {
            return fail("kubernetes plugin not loaded");
        };
        match p.external() {
            Some(b) => {
                let _ = self.backend.set(b);
                Ok(())
            }
            None => fail("kubernetes plugin does not implement the Externaler interface"),
        }
    }
}
