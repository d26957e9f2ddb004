//! CoreDNS's `Zone.Lookup` (plugin/file/lookup.go): the per-label walk down
//! from the apex that finds delegations, the name itself, or a wildcard;
//! CNAME chasing inside the zone; additional-section addresses.

use super::tree::{read_wire, Node};
use super::zone::{labels, Zone};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashSet;

/// What a lookup found (CoreDNS's `Result`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Res {
    Success,
    NameError,
    Delegation,
    NoData,
    ServerFailure,
}

/// The three sections of a reply and the result.
#[derive(Debug)]
pub struct Answer {
    pub answer: Vec<Record>,
    pub ns: Vec<Record>,
    pub extra: Vec<Record>,
    pub res: Res,
    /// The wildcard that synthesised the answer (CoreDNS's `zone/wildcard`
    /// metadata), as its owner name.
    pub wildcard: Option<Name>,
    /// A CNAME target the zone does not hold: the answer is complete once
    /// the server, asked for it, answers ([`Zone::finish`]).
    pub pending: Option<Name>,
}

impl Answer {
    fn fail() -> Self {
        Self {
            answer: Vec::new(),
            ns: Vec::new(),
            extra: Vec::new(),
            res: Res::ServerFailure,
            wildcard: None,
            pending: None,
        }
    }
}

/// The most CNAME hops CoreDNS follows: a lookup nested in more internal
/// lookups fails, and a chain inside a zone stops after this many.
const MAX_HOPS: u8 = 8;

fn cname_target(r: &Record) -> Option<&Name> {
    match &r.data {
        RData::CNAME(c) => Some(&c.0),
        _ => None,
    }
}

impl Zone {
    /// Looks up `qname` (lowercased, inside the zone) and `qtype`, for a
    /// query nested in `depth` internal lookups (CoreDNS's loop count). A
    /// CNAME chain that leaves the zone ends in a `pending` answer: CoreDNS
    /// asks its own server for the target (`upstream.Lookup`), and so must
    /// the caller.
    pub fn lookup(&self, qname: &Name, qtype: RecordType, depth: u8) -> Answer {
        let Some(soa) = &self.soa else {
            return Answer::fail();
        };

        if *qname == self.origin {
            match qtype {
                RecordType::SOA => {
                    return Answer {
                        answer: vec![soa.clone()],
                        ns: self.ns.clone(),
                        extra: Vec::new(),
                        res: Res::Success,
                        wildcard: None,
                        pending: None,
                    }
                }
                RecordType::NS => {
                    return Answer {
                        answer: self.ns.clone(),
                        ns: Vec::new(),
                        extra: self.glue(&self.ns),
                        res: Res::Success,
                        wildcard: None,
                        pending: None,
                    }
                }
                _ => {}
            }
        }

        if depth > MAX_HOPS {
            return Answer::fail();
        }

        let qlabels = labels(qname);
        let mut i = 0;
        let mut elem: Option<Node<'_>> = None;
        // The wildcard that may synthesise the answer: its node (None when it
        // is an empty non-terminal) and its name.
        let mut wild: Option<(Option<Node<'_>>, Name)> = None;
        while self.origin_labels() + i <= qlabels {
            let parts = qname.trim_to(self.origin_labels() + i);
            i += 1;
            elem = self.search(&parts);
            let Some(node) = elem else {
                // Not here: remember a wildcard at this level, keep walking,
                // this may be an empty non-terminal.
                if let Some(w) = wildcard_of(&parts) {
                    if let Some(n) = self.search(&w) {
                        wild = Some((Some(n), n.name()));
                    } else if self.has_descendant(&w) {
                        wild = Some((None, w));
                    }
                }
                continue;
            };
            // A DNAME above the name: substitute (RFC 6672).
            if let Some(dname) = node.get(RecordType::DNAME).first() {
                if let Some(cname) = synthesize_cname(qname, dname) {
                    let target = cname_target(&cname).cloned();
                    if target.is_some_and(|t| t == *qname) {
                        // A substitution that does not change the name only loops.
                        return Answer::fail();
                    }
                    let mut a = if qtype == RecordType::CNAME {
                        Answer {
                            answer: vec![cname],
                            ns: self.ns.clone(),
                            extra: Vec::new(),
                            res: Res::Success,
                            wildcard: None,
                            pending: None,
                        }
                    } else {
                        self.external_lookup(vec![cname], qtype)
                    };
                    let mut answer = node.get(RecordType::DNAME);
                    answer.append(&mut a.answer);
                    a.answer = answer;
                    return a;
                }
            }
            if let Some((ns, extra)) = self.delegation_from(node, qname, qtype) {
                return Answer {
                    answer: Vec::new(),
                    ns,
                    extra,
                    res: Res::Delegation,
                    wildcard: None,
                    pending: None,
                };
            }
        }

        // Found the name itself.
        if let Some(node) = elem {
            let cname = node.get(RecordType::CNAME);
            if !cname.is_empty() && qtype != RecordType::CNAME {
                return self.external_lookup(cname, qtype);
            }
            let rrs = node.get(qtype);
            if rrs.is_empty() {
                return self.negative(soa, Res::NoData);
            }
            let extra = self.additional(&rrs);
            return Answer {
                answer: rrs,
                ns: self.ns.clone(),
                extra,
                res: Res::Success,
                wildcard: None,
                pending: None,
            };
        }

        // A wildcard source of synthesis, unless an empty non-terminal
        // between it and the name is the closer encloser.
        if let Some((wnode, wname)) = wild {
            if !self.closer_ent_exists(qname, &wname) {
                let Some(wnode) = wnode else {
                    return self.negative(soa, Res::NoData);
                };
                let from = |a: Answer| Answer {
                    wildcard: Some(wname.clone()),
                    ..a
                };
                let cname = wnode.for_wildcard(RecordType::CNAME, qname);
                if !cname.is_empty() && qtype != RecordType::CNAME {
                    return from(self.external_lookup(cname, qtype));
                }
                let rrs = wnode.for_wildcard(qtype, qname);
                if rrs.is_empty() {
                    return from(self.negative(soa, Res::NoData));
                }
                let extra = self.additional(&rrs);
                return from(Answer {
                    answer: rrs,
                    ns: self.ns.clone(),
                    extra,
                    res: Res::Success,
                    wildcard: None,
                    pending: None,
                });
            }
        }

        // An empty non-terminal answers NOERROR, otherwise NXDOMAIN; both
        // with the SOA.
        let res = if self.has_descendant(qname) {
            Res::Success
        } else {
            Res::NameError
        };
        self.negative(soa, res)
    }

    fn negative(&self, soa: &Record, res: Res) -> Answer {
        Answer {
            answer: Vec::new(),
            ns: vec![soa.clone()],
            extra: Vec::new(),
            res,
            wildcard: None,
            pending: None,
        }
    }

    /// The authority section for a result: the SOA for negative answers,
    /// the apex NS otherwise.
    fn authority(&self, res: Res) -> Vec<Record> {
        match (res, &self.soa) {
            (Res::NameError | Res::NoData, Some(soa)) => vec![soa.clone()],
            _ => self.ns.clone(),
        }
    }

    /// RFC 4592: is there an empty non-terminal strictly between the
    /// wildcard's parent and `qname`?
    fn closer_ent_exists(&self, qname: &Name, wildcard: &Name) -> bool {
        if !wildcard.is_wildcard() {
            return false;
        }
        let parent = wildcard.base_name();
        let mut name = qname.base_name();
        loop {
            if labels(&name) == 0 || name == parent || !parent.zone_of(&name) {
                return false;
            }
            if self.has_descendant(&name) {
                return true;
            }
            name = name.base_name();
        }
    }

    /// Completes a `pending` answer with what the server answered for its
    /// target (the answer section, and the result as CoreDNS's `doLookup`
    /// reads the reply's rcode).
    pub fn finish(&self, a: &mut Answer, more: Vec<Record>, res: Res) {
        a.pending = None;
        a.answer.extend(more);
        a.extra = self.additional(&a.answer);
        a.ns = self.authority(res);
        a.res = res;
    }

    /// Follows the CNAME chain starting at `rrs` through the zone; a
    /// target the zone does not hold leaves the answer pending.
    fn external_lookup(&self, mut rrs: Vec<Record>, qtype: RecordType) -> Answer {
        let Some(mut target) = rrs.first().and_then(cname_target).cloned() else {
            return Answer::fail();
        };
        let mut hops = 0;
        loop {
            let elem = self.search(&target);
            if let Some((ns, extra)) = self.find_delegation(&target, qtype, elem) {
                return Answer {
                    answer: rrs,
                    ns,
                    extra,
                    res: Res::Delegation,
                    wildcard: None,
                    pending: None,
                };
            }
            let elem = match elem {
                Some(e)
                    if !(qtype == RecordType::NS
                        || (qtype == RecordType::SOA && target == self.origin)) =>
                {
                    e
                }
                _ => {
                    return Answer {
                        answer: rrs,
                        ns: Vec::new(),
                        extra: Vec::new(),
                        res: Res::Success,
                        wildcard: None,
                        pending: Some(target),
                    };
                }
            };
            let cname = elem.get(RecordType::CNAME);
            if cname.is_empty() {
                rrs.extend(elem.get(qtype));
                break;
            }
            let Some(next) = cname_target(&cname[0]).cloned() else {
                rrs.extend(cname);
                break;
            };
            rrs.extend(cname);
            target = next;
            hops += 1;
            if hops > MAX_HOPS {
                break;
            }
        }
        let extra = self.additional(&rrs);
        Answer {
            answer: rrs,
            ns: self.ns.clone(),
            extra,
            res: Res::Success,
            wildcard: None,
            pending: None,
        }
    }

    /// The first zone cut between the apex (excluded) and `qname`.
    fn find_delegation(
        &self,
        qname: &Name,
        qtype: RecordType,
        exact: Option<Node<'_>>,
    ) -> Option<(Vec<Record>, Vec<Record>)> {
        let qlabels = labels(qname);
        let mut i = 1;
        while self.origin_labels() + i <= qlabels {
            let name = qname.trim_to(self.origin_labels() + i);
            i += 1;
            if name == *qname {
                return exact.and_then(|e| self.delegation_from(e, qname, qtype));
            }
            if let Some(n) = self.search(&name) {
                if let Some(d) = self.delegation_from(n, qname, qtype) {
                    return Some(d);
                }
            }
        }
        None
    }

    /// A referral from a zone cut: its NS and their glue. A DS query for the
    /// cut itself is answered from this (the parent) zone instead.
    fn delegation_from(
        &self,
        node: Node<'_>,
        qname: &Name,
        qtype: RecordType,
    ) -> Option<(Vec<Record>, Vec<Record>)> {
        if !node.has(RecordType::NS) || (qtype == RecordType::DS && node.name() == *qname) {
            return None;
        }
        let ns = node.get(RecordType::NS);
        let glue = self.glue(&ns);
        Some((ns, glue))
    }

    /// A and then AAAA records for each NS target below the NS owner.
    pub(crate) fn glue(&self, nsrrs: &[Record]) -> Vec<Record> {
        let mut glue = Vec::new();
        for rr in nsrrs {
            let RData::NS(ns) = &rr.data else { continue };
            if !rr.name.zone_of(&ns.0) {
                continue;
            }
            if let Some(n) = self.search(&ns.0) {
                glue.extend(n.get(RecordType::A));
                glue.extend(n.get(RecordType::AAAA));
            }
        }
        glue
    }

    /// CoreDNS's `additionalProcessing`: the A and AAAA records of in-zone
    /// SRV, MX, SVCB and HTTPS targets, each target once.
    pub(crate) fn additional(&self, answer: &[Record]) -> Vec<Record> {
        let mut extra = Vec::new();
        let mut seen: HashSet<Name> = HashSet::new();
        for rr in answer {
            let target = match &rr.data {
                RData::SRV(s) => &s.target,
                RData::MX(m) => &m.exchange,
                RData::SVCB(s) => &s.target_name,
                RData::HTTPS(h) => &h.0.target_name,
                _ => continue,
            };
            if labels(target) == 0 || !self.origin.zone_of(target) {
                continue;
            }
            if !seen.insert(target.to_lowercase()) {
                continue;
            }
            if let Some(n) = self.search(target) {
                extra.extend(n.get(RecordType::A));
                extra.extend(n.get(RecordType::AAAA));
            }
        }
        extra
    }
}

/// The CNAME a DNAME makes for a name strictly below its owner: owned by
/// `qname`, with the DNAME's TTL.
fn synthesize_cname(qname: &Name, dname: &Record) -> Option<Record> {
    let RData::Unknown { rdata, .. } = &dname.data else {
        return None;
    };
    let (target, _) = read_wire(&rdata.anything)?;
    let owner = labels(&dname.name);
    let q = labels(qname);
    if q <= owner || !dname.name.zone_of(qname) {
        return None;
    }
    let keep = qname.iter().take(q - owner);
    let new = Name::from_labels(keep.chain(target.iter())).ok()?;
    let mut r = Record::from_rdata(qname.clone(), dname.ttl, RData::CNAME(CNAME(new)));
    r.dns_class = dname.dns_class;
    Some(r)
}

/// `*.` in place of the leftmost label; None for names of fewer than two
/// labels (CoreDNS's `replaceWithAsteriskLabel` gives "" there).
fn wildcard_of(name: &Name) -> Option<Name> {
    if labels(name) < 2 {
        return None;
    }
    name.base_name().prepend_label("*").ok()
}
