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

/// Shards of a [`Multi`]: a change copies one of them, not the map.
const SHARDS: usize = 64;

/// A map from a name or an address to the objects that have it, in
/// [`SHARDS`] copy-on-write shards. The watch thread changes its own copy
/// of the index object by object, and publishes a snapshot that shares
/// every shard with it; the first change to a shard after that copies
/// that shard alone (1/64 of the map). So an update costs the objects it
/// touches, not the cluster (no second index while one is built: the
/// peak of memory when an API server restart makes every watch list
/// again, or at each change of a large cluster).
struct Multi<K, V> {
    shards: Box<[Arc<Shard<K, V>>]>,
}

/// Objects by key: one shard of a [`Multi`].
type Shard<K, V> = HashMap<K, Vec<Arc<V>>>;

impl<K, V> Default for Multi<K, V> {
    fn default() -> Self {
        Multi {
            shards: (0..SHARDS).map(|_| Arc::new(HashMap::new())).collect(),
        }
    }
}

impl<K, V> Clone for Multi<K, V> {
    fn clone(&self) -> Self {
        Multi {
            shards: self.shards.clone(),
        }
    }
}

/// FNV-1a of the key: which shard holds it.
fn shard(key: &str) -> usize {
    let mut h: u32 = 0x811c_9dc5;
    for b in key.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % SHARDS
}

impl<K, V> Multi<K, V>
where
    K: std::borrow::Borrow<str> + std::hash::Hash + Eq + Clone,
{
    fn get(&self, key: &str) -> &[Arc<V>] {
        self.shards[shard(key)].get(key).map_or(&[], Vec::as_slice)
    }

    /// Adds `v` under `key`, once.
    fn insert(&mut self, key: K, v: &Arc<V>) {
        let map = Arc::make_mut(&mut self.shards[shard(key.borrow())]);
        let at = map.entry(key).or_default();
        if !at.iter().any(|x| Arc::ptr_eq(x, v)) {
            at.push(Arc::clone(v));
        }
    }

    /// Takes `v` from under `key` (and the key, when nothing is left).
    fn remove(&mut self, key: &str, v: &Arc<V>) {
        let i = shard(key);
        if !self.shards[i]
            .get(key)
            .is_some_and(|at| at.iter().any(|x| Arc::ptr_eq(x, v)))
        {
            return;
        }
        let map = Arc::make_mut(&mut self.shards[i]);
        if let Some(at) = map.get_mut(key) {
            at.retain(|x| !Arc::ptr_eq(x, v));
            if at.is_empty() {
                map.remove(key);
            }
        }
    }
}

/// One view of the cluster, as the watches last saw it. The watch thread
/// keeps one and changes it as objects change ([`Index::change_service`] and
/// the like); what workers read is a clone of it, which shares its maps'
/// shards.
#[derive(Default, Clone)]
pub struct Index {
    /// Every watch listed what there is once (CoreDNS's `HasSynced`).
    pub synced: bool,
    /// Counts the indexes published: what the raw path's answers were
    /// prepared from (fast.rs).
    pub generation: u64,
    /// Unix time of the last change (the SOA's serial).
    pub modified: i64,
    /// Unix time of the last change to a Service's external addresses or
    /// ports (CoreDNS's `extModified`: k8s_external's SOA serial).
    pub ext_modified: i64,
    services: Multi<String, Service>,
    service_ips: Multi<Box<str>, Service>,
    service_external_ips: Multi<Box<str>, Service>,
    endpoints: Multi<String, Endpoints>,
    endpoint_ips: Multi<Box<str>, Endpoints>,
    pods: Multi<Box<str>, Pod>,
    namespaces: Arc<HashSet<Box<str>>>,
    /// Unix time of the last update of a ServiceImport or an imported
    /// slice that DNS shows (CoreDNS's `multiClusterModified`: the
    /// multicluster zones' SOA serial; added and deleted ones move
    /// `modified` instead, as CoreDNS's handlers do).
    pub mc_modified: i64,
    imports: Multi<String, ServiceImport>,
    mc_endpoints: Multi<String, McEndpoints>,
}

impl Index {
    /// An index of these objects (what the watch thread reaches one change
    /// at a time).
    #[cfg(test)]
    pub fn build<'a>(
        services: impl Iterator<Item = &'a Arc<Service>>,
        endpoints: impl Iterator<Item = &'a Arc<Endpoints>>,
        pods: impl Iterator<Item = &'a Arc<Pod>>,
        namespaces: impl Iterator<Item = &'a str>,
    ) -> Index {
        let mut ix = Index::default();
        for s in services {
            ix.change_service(None, Some(s));
        }
        for e in endpoints {
            ix.change_endpoints(None, Some(e));
        }
        for p in pods {
            ix.change_pod(None, Some(p));
        }
        ix.set_namespaces(namespaces);
        ix
    }

    /// Adds the multicluster watches' objects (`multicluster`).
    #[cfg(test)]
    pub fn add_multicluster<'a>(
        &mut self,
        imports: impl Iterator<Item = &'a Arc<ServiceImport>>,
        slices: impl Iterator<Item = &'a Arc<McEndpoints>>,
    ) {
        for s in imports {
            self.change_import(None, Some(s));
        }
        for e in slices {
            self.change_mc_endpoints(None, Some(e));
        }
    }

    /// A Service added (`old` None), changed, or deleted (`new` None).
    pub fn change_service(&mut self, old: Option<&Arc<Service>>, new: Option<&Arc<Service>>) {
        if let Some(s) = old {
            self.services.remove(&key(&s.name, &s.namespace), s);
            for ip in s.cluster_ips.iter() {
                self.service_ips.remove(ip, s);
            }
            for ip in s.external_ips.iter() {
                self.service_external_ips.remove(ip, s);
            }
        }
        if let Some(s) = new {
            self.services.insert(key(&s.name, &s.namespace), s);
            for ip in s.cluster_ips.iter() {
                self.service_ips.insert(ip.clone(), s);
            }
            for ip in s.external_ips.iter() {
                self.service_external_ips.insert(ip.clone(), s);
            }
        }
    }

    /// An EndpointSlice added, changed or deleted.
    pub fn change_endpoints(&mut self, old: Option<&Arc<Endpoints>>, new: Option<&Arc<Endpoints>>) {
        if let Some(e) = old {
            self.endpoints.remove(&key(&e.service, &e.namespace), e);
            for a in e.addresses.iter() {
                self.endpoint_ips.remove(&a.ip, e);
            }
        }
        if let Some(e) = new {
            self.endpoints.insert(key(&e.service, &e.namespace), e);
            for a in e.addresses.iter() {
                self.endpoint_ips.insert(a.ip.clone(), e);
            }
        }
    }

    /// A Pod added, changed or deleted.
    pub fn change_pod(&mut self, old: Option<&Arc<Pod>>, new: Option<&Arc<Pod>>) {
        if let Some(p) = old {
            self.pods.remove(&p.ip, p);
        }
        if let Some(p) = new {
            self.pods.insert(p.ip.clone(), p);
        }
    }

    /// A ServiceImport added, changed or deleted.
    pub fn change_import(
        &mut self,
        old: Option<&Arc<ServiceImport>>,
        new: Option<&Arc<ServiceImport>>,
    ) {
        if let Some(s) = old {
            self.imports.remove(&key(&s.name, &s.namespace), s);
        }
        if let Some(s) = new {
            self.imports.insert(key(&s.name, &s.namespace), s);
        }
    }

    /// An imported EndpointSlice added, changed or deleted.
    pub fn change_mc_endpoints(
        &mut self,
        old: Option<&Arc<McEndpoints>>,
        new: Option<&Arc<McEndpoints>>,
    ) {
        if let Some(e) = old {
            let ep = &e.endpoints;
            self.mc_endpoints
                .remove(&key(&ep.service, &ep.namespace), e);
        }
        if let Some(e) = new {
            let ep = &e.endpoints;
            self.mc_endpoints.insert(key(&ep.service, &ep.namespace), e);
        }
    }

    /// The namespaces the namespace watch sees (a small set: made anew).
    pub fn set_namespaces<'a>(&mut self, namespaces: impl Iterator<Item = &'a str>) {
        self.namespaces = Arc::new(namespaces.map(Box::from).collect());
    }

    /// The ServiceImports named `name` in `namespace` (`SvcImportIndex`).
    pub fn imports(&self, name: &str, namespace: &str) -> &[Arc<ServiceImport>] {
        self.imports.get(&key(name, namespace))
    }

    /// The imported slices of ServiceImport `name` in `namespace`
    /// (`McEpIndex`).
    pub fn mc_endpoints(&self, name: &str, namespace: &str) -> &[Arc<McEndpoints>] {
        self.mc_endpoints.get(&key(name, namespace))
    }

    /// The Services named `name` in `namespace` (CoreDNS's `SvcIndex`).
    pub fn services(&self, name: &str, namespace: &str) -> &[Arc<Service>] {
        self.services.get(&key(name, namespace))
    }

    /// The endpoints of Service `name` in `namespace` (`EpIndex`).
    pub fn endpoints(&self, name: &str, namespace: &str) -> &[Arc<Endpoints>] {
        self.endpoints.get(&key(name, namespace))
    }

    /// Services with cluster address `ip` (`SvcIndexReverse`).
    pub fn services_at(&self, ip: &str) -> &[Arc<Service>] {
        self.service_ips.get(ip)
    }

    /// Services with external address `ip` (`SvcExtIndexReverse`).
    pub fn services_at_external(&self, ip: &str) -> &[Arc<Service>] {
        self.service_external_ips.get(ip)
    }

    /// Endpoints holding address `ip` (`EpIndexReverse`).
    pub fn endpoints_at(&self, ip: &str) -> &[Arc<Endpoints>] {
        self.endpoint_ips.get(ip)
    }

    /// Pods with address `ip` (`PodIndex`).
    pub fn pods_at(&self, ip: &str) -> &[Arc<Pod>] {
        self.pods.get(ip)
    }

    /// Whether the namespace watch saw `ns` (`GetNamespaceByName`).
    pub fn has_namespace(&self, ns: &str) -> bool {
        self.namespaces.contains(ns)
    }
}
