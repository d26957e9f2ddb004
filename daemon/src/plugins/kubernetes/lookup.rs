//! The answers, as CoreDNS 1.14.7 gives them: its kubernetes handler
//! (`ServeDNS`), the backend's `Services`, `Records`, `Reverse`,
//! `findServices`, `findMultiClusterServices` and `findPods`, and the generic `plugin.A`, `AAAA`,
//! `SRV`, `TXT`, `CNAME`, `PTR`, `NS`, `SOA` and `BackendError` they feed.
//! Names are compared lowercased; answers carry the question's name as
//! asked, and names made from the zone carry the zone as the question
//! spelled it (CoreDNS keeps the query's case there).

use super::index::{Address, Index};
use super::{Kubernetes, PodMode};
use crate::plugin::external::{host_type, Host};
use crate::plugin::{names, Request};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

/// The question an answer is for: a client's query, or one the raw path
/// prepares (see `fast.rs`); all the answers read of it.
pub struct Asked<'a> {
    pub msg: &'a Message,
    /// The question name lowercased, fully qualified.
    pub name: &'a str,
}

impl Asked<'_> {
    pub fn of(req: &Request) -> Asked<'_> {
        Asked {
            msg: &req.msg,
            name: &req.name,
        }
    }

    fn qname(&self) -> &Name {
        self.msg.queries[0].name()
    }

    fn qtype(&self) -> RecordType {
        self.msg.queries[0].query_type()
    }

    fn reply(&self) -> Message {
        crate::wire::reply_to(self.msg)
    }
}

/// What the plugin does with a query.
pub enum Answer {
    /// Not its zone, or fallthrough.
    Next,
    /// Zone transfers: REFUSED, written by the server.
    Refused,
    Reply(Message),
}

/// Answers of the server's own lookups (CoreDNS's `upstream.Lookup`) for
/// CNAME targets outside the zones, and the ones still wanted.
#[derive(Default)]
pub struct Lookups {
    got: HashMap<(Name, RecordType), Option<Message>>,
    want: Vec<(Name, RecordType)>,
}

impl Lookups {
    pub fn wanted(&self) -> bool {
        !self.want.is_empty()
    }

    pub fn take_wanted(&mut self) -> Vec<(Name, RecordType)> {
        std::mem::take(&mut self.want)
    }

    pub fn insert(&mut self, name: Name, qtype: RecordType, m: Option<Message>) {
        self.got.insert((name, qtype), m);
    }

    /// The answer for `name`, if asked already; else noted as wanted.
    fn get(&mut self, name: &Name, qtype: RecordType) -> Option<&Message> {
        let key = (name.clone(), qtype);
        if !self.got.contains_key(&key) {
            if !self.want.contains(&key) {
                self.want.push(key);
            }
            return None;
        }
        self.got.get(&key).and_then(Option::as_ref)
    }
}

/// CoreDNS's errNoItems, errNsNotExposed and errInvalidRequest: the name
/// does not exist.
struct NoName;

/// CoreDNS's `msg.Service`, as far as this plugin fills it.
struct Rec {
    /// An address, or a name (a CNAME's target).
    host: String,
    port: i32,
    /// The record's own name (`msg.Domain(Key)`), fully qualified.
    domain: String,
    ttl: u32,
    text: Option<&'static str>,
}

fn name(text: &str) -> Option<Name> {
    Name::from_ascii(names::fqdn(text)).ok()
}

/// A request's parts (CoreDNS's `recordRequest`).
#[derive(Default)]
struct Parsed<'a> {
    port: &'a str,
    protocol: &'a str,
    endpoint: &'a str,
    /// The cluster of a multicluster endpoint name.
    cluster: &'a str,
    /// The topology zone of a zone-scoped name (`zonal`).
    zone: &'a str,
    /// The zone-scoped name's directive is `prefer`, not `pin`.
    prefer: bool,
    service: &'a str,
    namespace: &'a str,
    /// `svc`, `pod`, or empty for names above them.
    kind: &'a str,
}

/// What the name holds below `zone` (dnsutil.TrimZone): empty at the apex.
pub(super) fn below<'a>(name: &'a str, zone: &str) -> &'a str {
    if zone == "." {
        return name.trim_end_matches('.');
    }
    name.strip_suffix(zone)
        .map_or("", |b| b.strip_suffix('.').unwrap_or(b))
}

/// CoreDNS's `Metadata`: the client Pod's namespace, name and labels
/// (with `pods verified`), and the parts of the question's name.
pub fn metadata(
    k: &Kubernetes,
    ix: &Index,
    req: &Request,
    md: &mut crate::plugin::request::Metadata,
) {
    if k.c.pods == PodMode::Verified {
        if let Some(pod) = ix.pods_at(&req.src.ip().to_string()).first() {
            md.set("kubernetes/client-namespace", pod.namespace.to_string());
            md.set("kubernetes/client-pod-name", pod.name.to_string());
            for (key, v) in pod.labels.iter() {
                md.set(&format!("kubernetes/client-label/{key}"), v.to_string());
            }
        }
    }
    let Some(zone) = names::zone_match(&k.c.zones, &req.name) else {
        return;
    };
    // CoreDNS asks whether the request's zone, not yet set there (empty),
    // is a multicluster one: only the root is a parent of the empty name.
    let multicluster = k.c.multicluster.iter().any(|z| z == ".");
    let r = match parse_request(&req.name, zone, multicluster, k.c.zonal) {
        Ok(r) => r,
        Err(NoName) => {
            md.set("kubernetes/parse-error", "invalid query name".into());
            return;
        }
    };
    md.set("kubernetes/port-name", r.port.into());
    md.set("kubernetes/protocol", r.protocol.into());
    md.set("kubernetes/endpoint", r.endpoint.into());
    if multicluster {
        md.set("kubernetes/cluster", r.cluster.into());
    }
    if k.c.zonal {
        md.set("kubernetes/zone", r.zone.into());
    }
    md.set("kubernetes/service", r.service.into());
    md.set("kubernetes/namespace", r.namespace.into());
    md.set("kubernetes/kind", r.kind.into());
}

/// CoreDNS's `parseRequest`: `[_port._proto.|endpoint.[cluster.]]service.
/// namespace.(svc|pod)`, and with `zonal`, outside multicluster zones,
/// `TOPOZONE.(pin|prefer)._zone.service.namespace.svc` (the topology zone
/// may span labels).
fn parse_request<'a>(
    name: &'a str,
    zone: &str,
    multicluster: bool,
    zonal: bool,
) -> Result<Parsed<'a>, NoName> {
    let mut r = Parsed::default();
    let base = below(name, zone);
    if base.is_empty() || base == "svc" || base == "pod" {
        return Ok(r);
    }
    let mut segs: Vec<&str> = base.split('.').collect();
    r.kind = segs.pop().unwrap_or("");
    if r.kind != "pod" && r.kind != "svc" {
        return Err(NoName);
    }
    let Some(ns) = segs.pop() else { return Ok(r) };
    r.namespace = ns;
    let Some(svc) = segs.pop() else { return Ok(r) };
    r.service = svc;
    match segs.as_slice() {
        [] => {}
        [endpoint] => r.endpoint = endpoint,
        [port, proto] if !multicluster || port.starts_with('_') || proto.starts_with('_') => {
            r.protocol = proto.strip_prefix('_').unwrap_or(proto);
            r.port = port.strip_prefix('_').unwrap_or(port);
        }
        [endpoint, cluster] => {
            r.endpoint = endpoint;
            r.cluster = cluster;
        }
        // Longer: a zone-scoped name, or too long (no such name).
        [.., directive, anchor] => {
            if !zonal || multicluster || *anchor != "_zone" || r.kind != "svc" {
                return Err(NoName);
            }
            r.prefer = match *directive {
                "pin" => false,
                "prefer" => true,
                _ => return Err(NoName),
            };
            // The labels before the directive, as the name has them.
            let n = segs.len() - 2;
            let len = segs[..n].iter().map(|l| l.len()).sum::<usize>() + n - 1;
            r.zone = &base[..len];
        }
    }
    Ok(r)
}

pub(super) fn eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

pub(super) fn port_match(port: &str, p_name: &str, proto: &str, p_proto: &str) -> bool {
    (port.is_empty() || eq(port, p_name)) && (proto.is_empty() || eq(proto, p_proto))
}

/// CoreDNS's `endpointHostname`.
pub(super) fn hostname(a: &Address, pod_names: bool) -> String {
    if let Some(h) = a.hostname.as_deref().filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    if let Some(t) = a.target.as_deref().filter(|t| pod_names && !t.is_empty()) {
        return t.to_string();
    }
    if a.ip.contains('.') {
        return a.ip.replace('.', "-");
    }
    if a.ip.contains(':') {
        let h = a.ip.replace(':', "-");
        return if h.ends_with('-') { h + "0" } else { h };
    }
    String::new()
}

/// One query's view: the plugin, the index, the zone as matched and as
/// the question spelled it.
struct Q<'a> {
    k: &'a Kubernetes,
    ix: &'a Index,
    req: &'a Asked<'a>,
    /// Lowercased.
    zone: &'a str,
    /// As in the question (CoreDNS's `state.Zone`).
    zone_text: String,
}

impl Q<'_> {
    fn ttl(&self) -> u32 {
        self.k.c.ttl
    }

    fn exposed(&self, ns: &str) -> bool {
        let configured = &self.k.c.namespaces;
        (configured.is_empty() || configured.contains(ns)) && self.ix.has_namespace(ns)
    }

    fn multicluster(&self) -> bool {
        names::zone_match(&self.k.c.multicluster, self.zone).is_some()
    }

    /// CoreDNS's `Records`.
    fn records(&self, name: &str) -> Result<Vec<Rec>, NoName> {
        let multicluster = self.multicluster();
        let r = parse_request(name, self.zone, multicluster, self.k.c.zonal)?;
        if r.kind.is_empty() {
            return Ok(vec![]);
        }
        if name.ends_with("in-addr.arpa.") || name.ends_with("ip6.arpa.") {
            return Err(NoName);
        }
        if !self.exposed(r.namespace) {
            return Err(NoName);
        }
        if r.kind == "pod" {
            return self.pods(&r);
        }
        if multicluster {
            return self.multicluster_services(&r);
        }
        self.services(&r)
    }

    /// CoreDNS's `findPods`.
    fn pods(&self, r: &Parsed<'_>) -> Result<Vec<Rec>, NoName> {
        if self.k.c.pods == PodMode::Disabled {
            return Err(NoName);
        }
        if r.service.is_empty() {
            return Ok(vec![]);
        }
        let pod = r.service;
        let ip = if pod.matches('-').count() == 3 && !pod.contains("--") {
            pod.replace('-', ".")
        } else {
            pod.replace('-', ":")
        };
        let rec = || Rec {
            host: ip.clone(),
            port: 0,
            domain: format!("{pod}.{}.pod.{}", r.namespace, self.zone_text),
            ttl: self.ttl(),
            text: None,
        };
        if self.k.c.pods == PodMode::Insecure {
            if ip.parse::<IpAddr>().is_err() {
                return Err(NoName);
            }
            return Ok(vec![rec()]);
        }
        let found: Vec<Rec> = self
            .ix
            .pods_at(&ip)
            .iter()
            .filter(|p| *p.ip == *ip && eq(r.namespace, &p.namespace))
            .map(|_| rec())
            .collect();
        if found.is_empty() {
            Err(NoName)
        } else {
            Ok(found)
        }
    }

    /// CoreDNS's `findServices`.
    fn services(&self, r: &Parsed<'_>) -> Result<Vec<Rec>, NoName> {
        if r.service.is_empty() {
            return Ok(vec![]);
        }
        let mut found = false;
        let mut out = Vec::new();
        let zone = &self.zone_text;
        for svc in self.ix.services(r.service, r.namespace) {
            if !eq(r.namespace, &svc.namespace) || !eq(r.service, &svc.name) {
                continue;
            }
            let eps = self.ix.endpoints(&svc.name, &svc.namespace);
            if self.k.c.ignore_empty_service && svc.external_name.is_none() && !svc.headless() {
                let addresses: usize = eps.iter().map(|e| e.addresses.len()).sum();
                if addresses == 0 {
                    continue;
                }
            }
            // Zone-scoped names are defined for headless Services only
            // (a cluster address has no zone): others have no such name.
            if !r.zone.is_empty() && !svc.headless() {
                continue;
            }
            let domain = format!("{}.{}.svc.{zone}", svc.name, svc.namespace);
            if let Some(target) = &svc.external_name {
                if !r.endpoint.is_empty() || !r.port.is_empty() || !r.protocol.is_empty() {
                    continue;
                }
                if matches!(host_type(target), Host::Cname) {
                    out.push(Rec {
                        host: target.to_string(),
                        port: 0,
                        domain,
                        ttl: self.ttl(),
                        text: None,
                    });
                    found = true;
                }
                continue;
            }
            if svc.headless() || !r.endpoint.is_empty() {
                // A zone-scoped name of a headless Service exists whatever
                // its zone holds: nothing there is NODATA.
                found |= !r.zone.is_empty();
                let mut add = |topology: &str| {
                    let before = out.len();
                    for ep in eps {
                        for a in ep.addresses.iter() {
                            if !topology.is_empty() {
                                let at = ep.zones.as_ref().and_then(|z| z.get(&a.ip));
                                if at.map_or("", |z| &**z) != topology {
                                    continue;
                                }
                            }
                            let host = hostname(a, self.k.c.endpoint_pod_names);
                            if !r.endpoint.is_empty() && !eq(r.endpoint, &host) {
                                continue;
                            }
                            for p in ep.ports.iter() {
                                if !port_match(r.port, &p.name, r.protocol, &p.protocol) {
                                    continue;
                                }
                                found = true;
                                out.push(Rec {
                                    host: a.ip.to_string(),
                                    port: p.port,
                                    domain: format!("{host}.{domain}"),
                                    ttl: self.ttl(),
                                    text: None,
                                });
                            }
                        }
                    }
                    out.len() - before
                };
                // `prefer`: a zone with nothing answers for the whole
                // Service (`pin`: NODATA).
                if add(r.zone) == 0 && r.prefer {
                    add("");
                }
                continue;
            }
            found |= self.address_records(r, &svc.ports, &svc.cluster_ips, &domain, &mut out);
        }
        if found {
            Ok(out)
        } else {
            Err(NoName)
        }
    }

    /// A record per address for each of `ports` the request names, under
    /// `domain` (a ClusterIP Service's or a ClusterSetIP import's); whether
    /// a port matched.
    fn address_records(
        &self,
        r: &Parsed<'_>,
        ports: &[super::index::Port],
        ips: &[Box<str>],
        domain: &str,
        out: &mut Vec<Rec>,
    ) -> bool {
        let mut found = false;
        for p in ports {
            if !port_match(r.port, &p.name, r.protocol, &p.protocol) {
                continue;
            }
            found = true;
            for ip in ips {
                out.push(Rec {
                    host: ip.to_string(),
                    port: p.port,
                    domain: domain.to_string(),
                    ttl: self.ttl(),
                    text: None,
                });
            }
        }
        found
    }

    /// CoreDNS's `findMultiClusterServices`: the ServiceImports'
    /// addresses (`ClusterSetIP`), or their imported endpoints (headless,
    /// or an endpoint name: `ENDPOINT.CLUSTER.service...`).
    fn multicluster_services(&self, r: &Parsed<'_>) -> Result<Vec<Rec>, NoName> {
        if r.service.is_empty() {
            return Ok(vec![]);
        }
        let mut found = false;
        let mut out = Vec::new();
        let zone = &self.zone_text;
        for svc in self.ix.imports(r.service, r.namespace) {
            if !eq(r.namespace, &svc.namespace) || !eq(r.service, &svc.name) {
                continue;
            }
            let eps = self.ix.mc_endpoints(&svc.name, &svc.namespace);
            if self.k.c.ignore_empty_service && !svc.headless() {
                let addresses: usize = eps.iter().map(|e| e.endpoints.addresses.len()).sum();
                if addresses == 0 {
                    continue;
                }
            }
            let domain = format!("{}.{}.svc.{zone}", svc.name, svc.namespace);
            if svc.headless() || !r.endpoint.is_empty() {
                for ep in eps {
                    for a in ep.endpoints.addresses.iter() {
                        let host = hostname(a, self.k.c.endpoint_pod_names);
                        // An endpoint name names its cluster too (a name
                        // without one matches only an empty cluster id).
                        if !r.endpoint.is_empty()
                            && (!eq(r.cluster, &ep.cluster) || !eq(r.endpoint, &host))
                        {
                            continue;
                        }
                        for p in ep.endpoints.ports.iter() {
                            if !port_match(r.port, &p.name, r.protocol, &p.protocol) {
                                continue;
                            }
                            found = true;
                            out.push(Rec {
                                host: a.ip.to_string(),
                                port: p.port,
                                domain: format!("{host}.{}.{domain}", ep.cluster),
                                ttl: self.ttl(),
                                text: None,
                            });
                        }
                    }
                }
                continue;
            }
            found |= self.address_records(r, &svc.ports, &svc.ips, &domain, &mut out);
        }
        if found {
            Ok(out)
        } else {
            Err(NoName)
        }
    }

    /// The server's own names and addresses (CoreDNS's `nsAddrs`).
    fn ns_addrs(&self) -> Vec<(String, IpAddr)> {
        let k = self.k;
        ns_addrs(
            self.ix,
            &k.local_ips,
            k.c.endpoint_pod_names,
            &self.zone_text,
            None,
        )
    }

    /// CoreDNS's `Services` for a question of `qtype` about `name`.
    fn find(&self, name: &str, qtype: RecordType) -> Result<Vec<Rec>, NoName> {
        match qtype {
            RecordType::TXT => {
                if below(name, self.zone) == "dns-version" {
                    return Ok(vec![Rec {
                        host: String::new(),
                        port: 0,
                        domain: String::new(),
                        ttl: 28800,
                        text: Some("1.1.0"),
                    }]);
                }
                return match self.records(name) {
                    Ok(r) if !r.is_empty() => Ok(vec![]),
                    // A zone-scoped name that exists, empty or not: NODATA.
                    Ok(_)
                        if self.k.c.zonal
                            && parse_request(name, self.zone, self.multicluster(), true)
                                .is_ok_and(|r| !r.zone.is_empty()) =>
                    {
                        Ok(vec![])
                    }
                    _ => Err(NoName),
                };
            }
            RecordType::NS => {
                return Ok(self
                    .ns_addrs()
                    .into_iter()
                    .map(|(n, ip)| Rec {
                        host: ip.to_string(),
                        port: 0,
                        domain: n,
                        ttl: self.ttl(),
                        text: None,
                    })
                    .collect())
            }
            _ => {}
        }
        // CoreDNS compares the lowercased name with the zone as asked.
        if name.strip_prefix("ns.dns.") == Some(self.zone_text.as_str()) {
            let owner = names::text(self.req.qname());
            return Ok(self
                .ns_addrs()
                .into_iter()
                .filter(|(_, ip)| match ip {
                    IpAddr::V4(_) => qtype == RecordType::A,
                    IpAddr::V6(_) => qtype == RecordType::AAAA,
                })
                .map(|(_, ip)| Rec {
                    host: ip.to_string(),
                    port: 0,
                    domain: owner.clone(),
                    ttl: self.ttl(),
                    text: None,
                })
                .collect());
        }
        let mut recs = self.records(name)?;
        if qtype == RecordType::SRV {
            recs.retain(|r| !matches!(host_type(&r.host), Host::Cname));
        }
        Ok(recs)
    }

    /// `plugin.A` and `plugin.AAAA`: addresses, and CNAMEs followed (in
    /// the zone by the plugin itself, elsewhere by asking the server).
    fn address(
        &self,
        qname: &Name,
        qtype: RecordType,
        previous: &[Record],
        lookups: &mut Lookups,
    ) -> Result<(Vec<Record>, bool), NoName> {
        let lower = names::lower_text(qname);
        let recs = self.find(&lower, qtype)?;
        let mut out = Vec::new();
        let mut truncated = false;
        let mut dup = HashSet::new();
        for r in recs {
            match host_type(&r.host) {
                Host::Cname => {
                    let Some(target) = name(&r.host) else {
                        continue;
                    };
                    let target_lower = names::lower_text(&target);
                    // plugin.Name.Matches: the name itself or one below it.
                    if names::is_subdomain(&lower, &target_lower) || previous.len() > 10 {
                        continue;
                    }
                    let cname = Record::from_rdata(
                        qname.clone(),
                        r.ttl,
                        RData::CNAME(CNAME(target.clone())),
                    );
                    let seen = previous
                        .iter()
                        .any(|p| matches!(&p.data, RData::CNAME(c) if c.0 == target));
                    if seen {
                        continue;
                    }
                    if names::is_subdomain(self.zone, &target_lower) {
                        let mut chain = previous.to_vec();
                        chain.push(cname.clone());
                        if let Ok((next, tc)) = self.address(&target, qtype, &chain, lookups) {
                            truncated |= tc;
                            if !next.is_empty() {
                                out.push(cname);
                                out.extend(next);
                            }
                        }
                        continue;
                    }
                    let Some(m) = lookups.get(&target, qtype) else {
                        continue;
                    };
                    truncated |= m.metadata.truncation;
                    out.push(cname);
                    out.extend(m.answers.iter().cloned());
                }
                Host::A(ip) if qtype == RecordType::A && dup.insert(r.host.clone()) => {
                    out.push(Record::from_rdata(qname.clone(), r.ttl, RData::A(A(ip))));
                }
                Host::Aaaa(ip) if qtype == RecordType::AAAA && dup.insert(r.host.clone()) => {
                    out.push(Record::from_rdata(
                        qname.clone(),
                        r.ttl,
                        RData::AAAA(AAAA(ip)),
                    ));
                }
                _ => {}
            }
        }
        Ok((out, truncated))
    }

    /// `plugin.SRV`.
    fn srv(&self) -> Result<(Vec<Record>, Vec<Record>), NoName> {
        let qname = self.req.qname();
        let recs = self.find(self.req.name, RecordType::SRV)?;
        // Every record has priority 0 and no weight of its own: each gets
        // an equal share of 100.
        let total = 100 * recs.len().max(1);
        let mut weight = (100.0 / total as f64 * 100.0).floor() as u16;
        if weight == 0 {
            weight = 1;
        }
        let (mut answers, mut extra) = (Vec::new(), Vec::new());
        let mut dup = HashSet::new();
        for r in recs {
            if r.port == -1 {
                continue;
            }
            let addr = match host_type(&r.host) {
                Host::A(ip) => RData::A(A(ip)),
                Host::Aaaa(ip) => RData::AAAA(AAAA(ip)),
                Host::Cname => continue,
            };
            let Some(target) = name(&r.domain) else {
                continue;
            };
            let port = r.port as u16;
            if dup.insert((r.domain.clone(), port, String::new())) {
                let srv = SRV::new(0, weight, port, target.clone());
                answers.push(Record::from_rdata(qname.clone(), r.ttl, RData::SRV(srv)));
            }
            if dup.insert((r.domain.clone(), 0, r.host.clone())) {
                extra.push(Record::from_rdata(target, r.ttl, addr));
            }
        }
        Ok((answers, extra))
    }

    /// `plugin.PTR` over the backend's `Reverse`.
    fn ptr(&self) -> Result<Vec<Record>, NoName> {
        let qname = self.req.qname();
        let Some(ip) = from_reverse(self.req.name) else {
            self.records(self.req.name)?;
            return Ok(vec![]);
        };
        let ip = ip.to_string();
        let primary = &self.k.c.zones[self.k.c.primary];
        let configured = !self.k.c.namespaces.is_empty();
        let mut hosts = Vec::new();
        if let Some(svc) = self
            .ix
            .services_at(&ip)
            .iter()
            .find(|s| !configured || self.exposed(&s.namespace))
        {
            hosts.push(format!("{}.{}.svc.{primary}", svc.name, svc.namespace));
        } else {
            for ep in self.ix.endpoints_at(&ip) {
                if configured && !self.exposed(&ep.namespace) {
                    continue;
                }
                for a in ep.addresses.iter().filter(|a| *a.ip == *ip) {
                    let h = hostname(a, self.k.c.endpoint_pod_names);
                    hosts.push(format!("{h}.{}.{}.svc.{primary}", ep.service, ep.namespace));
                }
            }
        }
        if hosts.is_empty() {
            return Err(NoName);
        }
        let mut seen = HashSet::new();
        Ok(hosts
            .into_iter()
            .filter(|h| seen.insert(h.clone()))
            .filter_map(|h| name(&h))
            .map(|n| Record::from_rdata(qname.clone(), self.ttl(), RData::PTR(PTR(n))))
            .collect())
    }

    /// `plugin.NS` at the apex: NS records and their addresses.
    fn ns(&self) -> (Vec<Record>, Vec<Record>) {
        let qname = self.req.qname();
        let (mut answers, mut extra) = (Vec::new(), Vec::new());
        let mut seen = HashSet::new();
        for r in self.find("", RecordType::NS).unwrap_or_default() {
            let Some(owner) = name(&r.domain) else {
                continue;
            };
            let addr = match host_type(&r.host) {
                Host::A(ip) => RData::A(A(ip)),
                Host::Aaaa(ip) => RData::AAAA(AAAA(ip)),
                Host::Cname => continue,
            };
            extra.push(Record::from_rdata(owner.clone(), r.ttl, addr));
            if seen.insert(r.domain.clone()) {
                answers.push(Record::from_rdata(
                    qname.clone(),
                    r.ttl,
                    RData::NS(NS(owner)),
                ));
            }
        }
        (answers, extra)
    }

    /// `plugin.SOA`: the zone's SOA, its serial the time of the last change.
    fn soa(&self) -> Option<Record> {
        let zone = name(&self.zone_text)?;
        let ttl = self.ttl();
        let soa = SOA::new(
            name(&format!("ns.dns.{}", self.zone_text))?,
            name(&format!("hostmaster.{}", self.zone_text))?,
            // The multicluster zones' serial is their own (CoreDNS's
            // `Serial`).
            if self.multicluster() {
                self.ix.mc_modified as u32
            } else {
                self.ix.modified as u32
            },
            7200,
            1800,
            86400,
            ttl,
        );
        Some(Record::from_rdata(zone, ttl.min(300), RData::SOA(soa)))
    }

    /// `plugin.BackendError`: an empty reply with `rcode` and the SOA.
    fn backend_error(&self, rcode: ResponseCode) -> Answer {
        let mut m = self.req.reply();
        m.metadata.response_code = rcode;
        m.metadata.authoritative = true;
        m.authorities.extend(self.soa());
        Answer::Reply(m)
    }
}

/// The server's own names and addresses (CoreDNS's `nsAddrs`): the
/// Services whose endpoints hold one of `local_ips`, named in `zone`
/// (`NAME.NS.svc.ZONE` with their cluster addresses, or, for the external
/// zone (`external`: Some(headless)), `NAME.NS.ZONE` with their external
/// addresses), a headless one by its endpoints' names and addresses; when
/// no endpoint holds one, `ns.dns.ZONE` with each of `local_ips`.
pub(super) fn ns_addrs(
    ix: &Index,
    local_ips: &[IpAddr],
    pod_names: bool,
    zone: &str,
    external: Option<bool>,
) -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut found = false;
    for local in local_ips {
        for ep in ix.endpoints_at(&local.to_string()) {
            found = true;
            for svc in ix.services(&ep.service, &ep.namespace) {
                let (name, by_endpoint, ips) = match external {
                    None => (
                        format!("{}.{}.svc.{zone}", svc.name, svc.namespace),
                        svc.headless(),
                        &svc.cluster_ips,
                    ),
                    Some(headless) => (
                        format!("{}.{}.{zone}", svc.name, svc.namespace),
                        headless && svc.headless(),
                        &svc.external_ips,
                    ),
                };
                if by_endpoint {
                    for a in ep.addresses.iter() {
                        if let Ok(ip) = a.ip.parse() {
                            out.push((format!("{}.{name}", hostname(a, pod_names)), ip));
                        }
                    }
                } else {
                    for ip in ips.iter() {
                        if let Ok(ip) = ip.parse() {
                            out.push((name.clone(), ip));
                        }
                    }
                }
            }
        }
    }
    if !found {
        for ip in local_ips {
            out.push((format!("ns.dns.{zone}"), *ip));
        }
    }
    out
}

/// The address a reverse name stands for (CoreDNS's
/// `dnsutil.ExtractAddressFromReverse`), as Go prints it.
pub(super) fn from_reverse(name: &str) -> Option<IpAddr> {
    if let Some(rest) = name.strip_suffix(".in-addr.arpa.") {
        let mut parts: Vec<&str> = rest.split('.').collect();
        parts.reverse();
        return parts
            .join(".")
            .parse::<std::net::Ipv4Addr>()
            .ok()
            .map(IpAddr::V4);
    }
    let rest = name.strip_suffix(".ip6.arpa.")?;
    let nibbles: Vec<&str> = rest.split('.').rev().collect();
    if nibbles.len() != 32 || nibbles.iter().any(|n| n.len() != 1) {
        return None;
    }
    let hex: Vec<String> = nibbles.chunks(4).map(|c| c.concat()).collect();
    hex.join(":")
        .parse::<std::net::Ipv6Addr>()
        .ok()
        .map(IpAddr::V6)
}

/// CoreDNS's `ServeDNS` for a name under `zone` (lowercased).
pub fn answer(
    k: &Kubernetes,
    ix: &Index,
    req: &Asked<'_>,
    zone: &str,
    lookups: &mut Lookups,
) -> Answer {
    let asked = names::text(req.qname());
    let zone_text = if asked.len() >= zone.len() && asked.is_char_boundary(asked.len() - zone.len())
    {
        asked[asked.len() - zone.len()..].to_string()
    } else {
        zone.to_string()
    };
    let q = Q {
        k,
        ix,
        req,
        zone,
        zone_text,
    };
    let qname = req.qname();
    let qtype = req.qtype();
    let mut truncated = false;
    let result: Result<(Vec<Record>, Vec<Record>), NoName> = match qtype {
        RecordType::A | RecordType::AAAA => q.address(qname, qtype, &[], lookups).map(|(r, tc)| {
            truncated = tc;
            (r, vec![])
        }),
        RecordType::TXT => q.find(req.name, qtype).map(|recs| {
            let txt = recs
                .iter()
                .filter_map(|r| r.text)
                .map(|t| {
                    Record::from_rdata(
                        qname.clone(),
                        28800,
                        RData::TXT(TXT::new(vec![t.to_string()])),
                    )
                })
                .collect();
            (txt, vec![])
        }),
        RecordType::CNAME => q.find(req.name, qtype).map(|recs| {
            let rr = recs
                .first()
                .filter(|r| matches!(host_type(&r.host), Host::Cname))
                .and_then(|r| {
                    Some(Record::from_rdata(
                        qname.clone(),
                        r.ttl,
                        RData::CNAME(CNAME(name(&r.host)?)),
                    ))
                });
            (rr.into_iter().collect(), vec![])
        }),
        RecordType::PTR => q.ptr().map(|r| (r, vec![])),
        // No service here has mail: MX answers nothing but its error.
        RecordType::MX => q.find(req.name, qtype).map(|_| (vec![], vec![])),
        RecordType::SRV => q.srv(),
        RecordType::SOA => Ok((
            if asked == q.zone_text {
                q.soa().into_iter().collect()
            } else {
                vec![]
            },
            vec![],
        )),
        RecordType::AXFR | RecordType::IXFR => return Answer::Refused,
        RecordType::NS if req.name == q.zone_text => Ok(q.ns()),
        // Other types: only whether the name exists, as for A.
        _ => q
            .address(qname, RecordType::A, &[], lookups)
            .map(|_| (vec![], vec![])),
    };
    match result {
        Err(NoName) => {
            if k.c.fall.through(req.name) {
                return Answer::Next;
            }
            if !ix.synced {
                return q.backend_error(ResponseCode::ServFail);
            }
            q.backend_error(ResponseCode::NXDomain)
        }
        Ok((answers, _)) if answers.is_empty() => q.backend_error(ResponseCode::NoError),
        Ok((answers, extra)) => {
            let mut m = req.reply();
            m.metadata.truncation = truncated;
            m.metadata.authoritative = true;
            m.answers = answers;
            m.additionals = extra;
            Answer::Reply(m)
        }
    }
}
