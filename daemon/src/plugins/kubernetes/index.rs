//! What the plugin answers from: the cluster's Services, EndpointSlices,
//! Namespaces (and Pods, with `pods verified`) reduced to the fields DNS
//! needs (CoreDNS's `object` package), and the indexes CoreDNS's informers
//! keep (by name and namespace, by address). One immutable [`Index`] is
//! published at a time (see watch.rs); every worker reads the current one
//! without a lock.

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A Service (CoreDNS's `object.Service`).
#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    pub name: Box<str>,
    pub namespace: Box<str>,
    /// `spec.clusterIPs` (or `[spec.clusterIP]`): `None` for a headless one.
    pub cluster_ips: Box<[Box<str>]>,
    pub external_name: Option<Box<str>>,
    /// At least one: a Service without ports has one with port -1.
    pub ports: Box<[Port]>,
    /// `spec.externalIPs`, then the load balancers' addresses.
    pub external_ips: Box<[Box<str>]>,
}

impl Service {
    pub fn headless(&self) -> bool {
        self.cluster_ips.first().is_some_and(|ip| &**ip == "None")
    }

    /// Whether going from `old` to `self` changes the external zone's
    /// records (CoreDNS's `serviceModified`: external addresses or ports).
    pub fn external_changed(&self, old: &Service) -> bool {
        self.external_ips != old.external_ips || self.ports != old.ports
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    pub name: Box<str>,
    pub port: i32,
    pub protocol: Box<str>,
}

/// One EndpointSlice's ready addresses (CoreDNS's `object.Endpoints`).
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// The slice's own name.
    pub name: Box<str>,
    pub namespace: Box<str>,
    /// Its Service's name (label `kubernetes.io/service-name`).
    pub service: Box<str>,
    pub addresses: Box<[Address]>,
    /// At least one: a slice without ports has one with port -1.
    pub ports: Box<[Port]>,
    /// The ready endpoints' topology zones by address, lowercased; kept
    /// only with `zonal` (CoreDNS's `Zones`: None otherwise, so a zone
    /// change moves the SOA serial only where zone-scoped names show it).
    pub zones: Option<HashMap<Box<str>, Box<str>>>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Address {
    pub ip: Box<str>,
    pub hostname: Option<Box<str>>,
    /// `targetRef.name`, when shorter than 64 bytes.
    pub target: Option<Box<str>>,
}

/// A Pod: its (first) address, namespace, name and labels (the metadata
/// of its queries).
#[derive(Debug, PartialEq, Eq)]
pub struct Pod {
    pub ip: Box<str>,
    pub namespace: Box<str>,
    pub name: Box<str>,
    pub labels: Box<[(Box<str>, Box<str>)]>,
}

fn boxed(s: &str) -> Box<str> {
    s.into()
}

/// Ports as CoreDNS keeps them: a missing port is -1, and no ports at
/// all is one port -1 (which SRV answers leave out).
fn ports<'a>(
    list: impl Iterator<Item = (Option<&'a str>, Option<i32>, Option<&'a str>)>,
) -> Box<[Port]> {
    let mut out: Vec<Port> = list
        .map(|(name, port, protocol)| Port {
            name: boxed(name.unwrap_or("")),
            port: port.unwrap_or(-1),
            protocol: boxed(protocol.unwrap_or("")),
        })
        .collect();
    if out.is_empty() {
        out.push(Port {
            name: "".into(),
            port: -1,
            protocol: "".into(),
        });
    }
    out.into()
}

/// CoreDNS's `ToService`.
pub fn service(s: &core::Service) -> Option<Service> {
    let spec = s.spec.as_ref()?;
    let name = s.metadata.name.as_deref()?;
    let namespace = s.metadata.namespace.as_deref().unwrap_or("");
    let cluster_ips: Box<[Box<str>]> = match &spec.cluster_ips {
        Some(ips) if !ips.is_empty() => ips.iter().map(|i| boxed(i)).collect(),
        _ => [boxed(spec.cluster_ip.as_deref().unwrap_or(""))].into(),
    };
    let ports = ports(
        spec.ports
            .iter()
            .flatten()
            .map(|p| (p.name.as_deref(), Some(p.port), p.protocol.as_deref())),
    );
    let mut external_ips: Vec<Box<str>> = spec
        .external_ips
        .iter()
        .flatten()
        .map(|i| boxed(i))
        .collect();
    let ingress = s
        .status
        .as_ref()
        .and_then(|st| st.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    for i in ingress.into_iter().flatten() {
        let a = i.ip.as_deref().filter(|ip| !ip.is_empty());
        external_ips.push(boxed(a.or(i.hostname.as_deref()).unwrap_or("")));
    }
    Some(Service {
        name: boxed(name),
        namespace: boxed(namespace),
        cluster_ips,
        external_name: (spec.type_.as_deref() == Some("ExternalName"))
            .then(|| boxed(spec.external_name.as_deref().unwrap_or(""))),
        ports,
        external_ips: external_ips.into(),
    })
}

/// CoreDNS's `EndpointSliceToEndpoints`: the ready endpoints' addresses.
pub fn endpoints(e: &discovery::EndpointSlice) -> Option<Endpoints> {
    let name = e.metadata.name.as_deref()?;
    let service = e
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/service-name"))
        .map_or("", String::as_str);
    let ports = ports(
        e.ports
            .iter()
            .flatten()
            .map(|p| (p.name.as_deref(), p.port, p.protocol.as_deref())),
    );
    let mut addresses = Vec::new();
    for end in e.endpoints.iter().flatten() {
        let ready = end.conditions.as_ref().and_then(|c| c.ready);
        if ready == Some(false) {
            continue;
        }
        for a in &end.addresses {
            addresses.push(Address {
                ip: boxed(a),
                hostname: end.hostname.as_deref().map(boxed),
                target: end
                    .target_ref
                    .as_ref()
                    .and_then(|t| t.name.as_deref())
                    .filter(|n| n.len() < 64)
                    .map(boxed),
            });
        }
    }
    Some(Endpoints {
        name: boxed(name),
        namespace: boxed(e.metadata.namespace.as_deref().unwrap_or("")),
        service: boxed(service),
        addresses: addresses.into(),
        ports,
        zones: None,
    })
}

/// CoreDNS's `ToPod`; None for a terminating one (CoreDNS keeps what it
/// had for it until the Pod is gone).
pub fn pod(p: &core::Pod) -> Option<Pod> {
    if p.metadata.deletion_timestamp.is_some() {
        return None;
    }
    Some(Pod {
        ip: boxed(
            p.status
                .as_ref()
                .and_then(|s| s.pod_ip.as_deref())
                .unwrap_or(""),
        ),
        namespace: boxed(p.metadata.namespace.as_deref().unwrap_or("")),
        name: boxed(p.metadata.name.as_deref().unwrap_or("")),
        labels: p
            .metadata
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (boxed(k), boxed(v)))
            .collect(),
    })
}

/// CoreDNS's `EndpointSliceToEndpointsWithZones` (the `zonal` option):
/// [`endpoints`], with each ready endpoint's zone by address.
pub fn endpoints_zonal(e: &discovery::EndpointSlice) -> Option<Endpoints> {
    let mut out = endpoints(e)?;
    let mut zones = HashMap::new();
    for end in e.endpoints.iter().flatten() {
        let ready = end.conditions.as_ref().and_then(|c| c.ready);
        let Some(zone) = end.zone.as_deref().filter(|_| ready != Some(false)) else {
            continue;
        };
        // One address listed by two endpoints keeps the last one's zone.
        for a in &end.addresses {
            zones.insert(boxed(a), zone.to_lowercase().into_boxed_str());
        }
    }
    // CoreDNS makes the map on the first zone it sees: none, no map.
    out.zones = (!zones.is_empty()).then_some(zones);
    Some(out)
}

/// A ServiceImport (CoreDNS's `object.ServiceImport`).
#[derive(Debug, PartialEq, Eq)]
pub struct ServiceImport {
    pub name: Box<str>,
    pub namespace: Box<str>,
    /// `spec.ips`.
    pub ips: Box<[Box<str>]>,
    /// `spec.type`: `ClusterSetIP` or `Headless`.
    pub kind: Box<str>,
    /// `spec.ports`, as they are: unlike a Service's, no ports at all is
    /// no port (so a ClusterSetIP import without ports has no name).
    pub ports: Box<[Port]>,
}

impl ServiceImport {
    pub fn headless(&self) -> bool {
        &*self.kind == "Headless"
    }
}

/// CoreDNS's `ToServiceImport`.
pub fn service_import(s: &super::mcs::ServiceImport) -> Option<ServiceImport> {
    Some(ServiceImport {
        name: boxed(s.metadata.name.as_deref()?),
        namespace: boxed(s.metadata.namespace.as_deref().unwrap_or("")),
        ips: s.ips.iter().map(|i| boxed(i)).collect(),
        kind: boxed(&s.type_),
        ports: s
            .ports
            .iter()
            .map(|p| Port {
                name: boxed(&p.name),
                port: p.port,
                protocol: boxed(&p.protocol),
            })
            .collect(),
    })
}

/// An EndpointSlice an MCS controller imported (CoreDNS's
/// `object.MultiClusterEndpoints`): its ready addresses, `service` the
/// ServiceImport it belongs to, and the cluster they come from.
#[derive(Debug, PartialEq, Eq)]
pub struct McEndpoints {
    pub endpoints: Endpoints,
    /// Label `multicluster.kubernetes.io/source-cluster` (may be empty).
    pub cluster: Box<str>,
}

/// CoreDNS's `EndpointSliceToMultiClusterEndpoints` (never with zones).
pub fn mc_endpoints(e: &discovery::EndpointSlice) -> Option<McEndpoints> {
    let label = |k: &str| {
        e.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(k))
            .map_or("", String::as_str)
    };
    let mut endpoints = endpoints(e)?;
    endpoints.service = boxed(label(super::mcs::LABEL_SERVICE_NAME));
    Some(McEndpoints {
        endpoints,
        cluster: boxed(label(super::mcs::LABEL_SOURCE_CLUSTER)),
    })
}

/// `name.namespace`, CoreDNS's key of Services and their endpoints.
pub fn key(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}")
}

/// One view of the cluster, as the watches last saw it.
#[derive(Default)]
pub struct Index {
    /// Every watch listed what there is once (CoreDNS's `HasSynced`).
    pub synced: bool,
    /// Unix time of the last change (the SOA's serial).
    pub modified: i64,
    /// Unix time of the last change to a Service's external addresses or
    /// ports (CoreDNS's `extModified`: k8s_external's SOA serial).
    pub ext_modified: i64,
    services: HashMap<String, Vec<Arc<Service>>>,
    service_ips: HashMap<Box<str>, Vec<Arc<Service>>>,
    service_external_ips: HashMap<Box<str>, Vec<Arc<Service>>>,
    endpoints: HashMap<String, Vec<Arc<Endpoints>>>,
    endpoint_ips: HashMap<Box<str>, Vec<Arc<Endpoints>>>,
    pods: HashMap<Box<str>, Vec<Arc<Pod>>>,
    namespaces: HashSet<Box<str>>,
    /// Unix time of the last update of a ServiceImport or an imported
    /// slice that DNS shows (CoreDNS's `multiClusterModified`: the
    /// multicluster zones' SOA serial; added and deleted ones move
    /// `modified` instead, as CoreDNS's handlers do).
    pub mc_modified: i64,
    imports: HashMap<String, Vec<Arc<ServiceImport>>>,
    mc_endpoints: HashMap<String, Vec<Arc<McEndpoints>>>,
}

impl Index {
    /// Builds the indexes over the watches' objects.
    pub fn build<'a>(
        services: impl Iterator<Item = &'a Arc<Service>>,
        endpoints: impl Iterator<Item = &'a Arc<Endpoints>>,
        pods: impl Iterator<Item = &'a Arc<Pod>>,
        namespaces: impl Iterator<Item = &'a str>,
    ) -> Index {
        let mut ix = Index::default();
        for s in services {
            ix.services
                .entry(key(&s.name, &s.namespace))
                .or_default()
                .push(Arc::clone(s));
            for ip in s.cluster_ips.iter() {
                ix.service_ips
                    .entry(ip.clone())
                    .or_default()
                    .push(Arc::clone(s));
            }
            for ip in s.external_ips.iter() {
                let at = ix.service_external_ips.entry(ip.clone()).or_default();
                if !at.iter().any(|x| Arc::ptr_eq(x, s)) {
                    at.push(Arc::clone(s));
                }
            }
        }
        for e in endpoints {
            ix.endpoints
                .entry(key(&e.service, &e.namespace))
                .or_default()
                .push(Arc::clone(e));
            for a in e.addresses.iter() {
                let at = ix.endpoint_ips.entry(a.ip.clone()).or_default();
                if !at.iter().any(|x| Arc::ptr_eq(x, e)) {
                    at.push(Arc::clone(e));
                }
            }
        }
        for p in pods {
            ix.pods.entry(p.ip.clone()).or_default().push(Arc::clone(p));
        }
        ix.namespaces = namespaces.map(Box::from).collect();
        ix
    }

    /// Adds the multicluster watches' objects (`multicluster`).
    pub fn add_multicluster<'a>(
        &mut self,
        imports: impl Iterator<Item = &'a Arc<ServiceImport>>,
        slices: impl Iterator<Item = &'a Arc<McEndpoints>>,
    ) {
        for s in imports {
            self.imports
                .entry(key(&s.name, &s.namespace))
                .or_default()
                .push(Arc::clone(s));
        }
        for e in slices {
            let ep = &e.endpoints;
            self.mc_endpoints
                .entry(key(&ep.service, &ep.namespace))
                .or_default()
                .push(Arc::clone(e));
        }
    }

    /// The ServiceImports named `name` in `namespace` (`SvcImportIndex`).
    pub fn imports(&self, name: &str, namespace: &str) -> &[Arc<ServiceImport>] {
        self.imports
            .get(&key(name, namespace))
            .map_or(&[], Vec::as_slice)
    }

    /// The imported slices of ServiceImport `name` in `namespace`
    /// (`McEpIndex`).
    pub fn mc_endpoints(&self, name: &str, namespace: &str) -> &[Arc<McEndpoints>] {
        self.mc_endpoints
            .get(&key(name, namespace))
            .map_or(&[], Vec::as_slice)
    }

    /// The Services named `name` in `namespace` (CoreDNS's `SvcIndex`).
    pub fn services(&self, name: &str, namespace: &str) -> &[Arc<Service>] {
        self.services
            .get(&key(name, namespace))
            .map_or(&[], Vec::as_slice)
    }

    /// The endpoints of Service `name` in `namespace` (`EpIndex`).
    pub fn endpoints(&self, name: &str, namespace: &str) -> &[Arc<Endpoints>] {
        self.endpoints
            .get(&key(name, namespace))
            .map_or(&[], Vec::as_slice)
    }

    /// Services with cluster address `ip` (`SvcIndexReverse`).
    pub fn services_at(&self, ip: &str) -> &[Arc<Service>] {
        self.service_ips.get(ip).map_or(&[], Vec::as_slice)
    }

    /// Services with external address `ip` (`SvcExtIndexReverse`).
    pub fn services_at_external(&self, ip: &str) -> &[Arc<Service>] {
        self.service_external_ips.get(ip).map_or(&[], Vec::as_slice)
    }

    /// Endpoints holding address `ip` (`EpIndexReverse`).
    pub fn endpoints_at(&self, ip: &str) -> &[Arc<Endpoints>] {
        self.endpoint_ips.get(ip).map_or(&[], Vec::as_slice)
    }

    /// Pods with address `ip` (`PodIndex`).
    pub fn pods_at(&self, ip: &str) -> &[Arc<Pod>] {
        self.pods.get(ip).map_or(&[], Vec::as_slice)
    }

    /// Whether the namespace watch saw `ns` (`GetNamespaceByName`).
    pub fn has_namespace(&self, ns: &str) -> bool {
        self.namespaces.contains(ns)
    }
}
