//! The external zone's records, for *k8s_external* (CoreDNS's
//! `Kubernetes.External`, `ExternalAddress`, `ExternalSerial` and
//! `ExternalReverse`): a Service's external addresses (`spec.externalIPs`
//! and its load balancers' ingress) as `SERVICE.NAMESPACE.ZONE`, and, with
//! `headless`, a headless Service's endpoints.

use super::index::Index;
use super::lookup::{below, eq, from_reverse, hostname, ns_addrs, port_match};
use super::watch::Shared;
use crate::plugin::external::{self, Service};
use crate::plugin::Request;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

pub struct External {
    /// `namespaces`: empty means every namespace.
    pub namespaces: BTreeSet<String>,
    /// `endpoint_pod_names`.
    pub pod_names: bool,
    /// The plugin's `ttl`.
    pub ttl: u32,
    pub local_ips: Vec<IpAddr>,
    pub shared: Arc<Shared>,
}

/// CoreDNS's `stripUnderscore`.
fn strip_underscore(s: &str) -> &str {
    s.strip_prefix('_').unwrap_or(s)
}

impl External {
    /// CoreDNS's `namespaceExposed`.
    fn exposed(&self, ix: &Index, ns: &str) -> bool {
        (self.namespaces.is_empty() || self.namespaces.contains(ns)) && ix.has_namespace(ns)
    }

    /// `ExternalReverse`: the Services with external address `ip`, as
    /// `NAME.NAMESPACE` below the zone.
    fn reverse(&self, ix: &Index, ip: IpAddr) -> (Vec<Service>, ResponseCode) {
        let found: Vec<Service> = ix
            .services_at_external(&ip.to_string())
            .iter()
            .filter(|s| self.namespaces.is_empty() || self.exposed(ix, &s.namespace))
            .map(|s| Service {
                host: format!("{}.{}", s.name, s.namespace),
                port: 0,
                ttl: self.ttl,
                name: String::new(),
            })
            .collect();
        if found.is_empty() {
            (found, ResponseCode::NXDomain)
        } else {
            (found, ResponseCode::NoError)
        }
    }
}

impl external::External for External {
    fn services(&self, req: &Request, zone: &str, headless: bool) -> (Vec<Service>, ResponseCode) {
        let ix = self.shared.index.load();
        let ptr = req.qtype() == RecordType::PTR;
        if ptr {
            if let Some(ip) = from_reverse(&req.name) {
                return self.reverse(&ix, ip);
            }
            // Not an address: NXDOMAIN or NODATA, as for other names.
        }
        let base = below(&req.name, zone);
        let segs: Vec<&str> = if base.is_empty() {
            Vec::new()
        } else {
            base.split('.').collect()
        };
        let Some((&namespace, rest)) = segs.split_last() else {
            return (Vec::new(), ResponseCode::ServFail);
        };
        if !self.exposed(&ix, namespace) {
            return (Vec::new(), ResponseCode::NXDomain);
        }
        let Some((&service, rest)) = rest.split_last() else {
            return (Vec::new(), ResponseCode::NoError);
        };
        let (endpoint, port, protocol) = match rest {
            [] => ("", "", ""),
            [e] => (strip_underscore(e), "", ""),
            [p, proto] => ("", strip_underscore(p), strip_underscore(proto)),
            // Too long.
            _ => return (Vec::new(), ResponseCode::NXDomain),
        };
        let mut out = Vec::new();
        let mut rcode = ResponseCode::NXDomain;
        for svc in ix.services(service, namespace) {
            if *svc.namespace != *namespace || *svc.name != *service {
                continue;
            }
            let owner = format!("{}.{}", svc.name, svc.namespace);
            if headless && svc.external_ips.is_empty() && (svc.headless() || !endpoint.is_empty()) {
                for ep in ix.endpoints(&svc.name, &svc.namespace) {
                    for a in ep.addresses.iter() {
                        let h = hostname(a, self.pod_names);
                        if !endpoint.is_empty() && !eq(endpoint, &h) {
                            continue;
                        }
                        for p in ep.ports.iter() {
                            if !port_match(port, &p.name, protocol, &p.protocol) {
                                continue;
                            }
                            rcode = ResponseCode::NoError;
                            out.push(Service {
                                host: a.ip.to_string(),
                                port: p.port,
                                ttl: self.ttl,
                                name: format!("{h}.{owner}"),
                            });
                        }
                    }
                }
                continue;
            }
            for ip in svc.external_ips.iter() {
                for p in svc.ports.iter() {
                    if !port_match(port, &p.name, protocol, &p.protocol) {
                        continue;
                    }
                    rcode = ResponseCode::NoError;
                    out.push(Service {
                        host: ip.to_string(),
                        port: p.port,
                        ttl: self.ttl,
                        name: owner.clone(),
                    });
                }
            }
        }
        if ptr {
            // A PTR for a name that is no address: the rcode only.
            out.clear();
        }
        (out, rcode)
    }

    fn addresses(&self, zone: &str, headless: bool) -> Vec<(String, IpAddr)> {
        let ix = self.shared.index.load();
        ns_addrs(&ix, &self.local_ips, self.pod_names, zone, Some(headless))
    }

    fn serial(&self, _zone: &str) -> u32 {
        self.shared.index.load().ext_modified as u32
    }
}
