//! The plugin's background work: one thread per `kubernetes` directive
//! with a tokio runtime of its own, where kube's watchers list and watch
//! Services, EndpointSlices (unless `noendpoints`), Namespaces, Pods
//! (with `pods verified`), and ServiceImports and imported EndpointSlices
//! (with `multicluster`), as CoreDNS's informers do. Each batch of events
//! (what arrived together) updates the watches' stores and publishes a new
//! [`Index`] that workers load without a lock (`arc_swap`), so a change is
//! visible as soon as the API server reports it. The thread ends when the
//! plugin is dropped (a reload replaced it, or the server stops).

use super::index::{self, Endpoints, Index, McEndpoints, Pod, Service, ServiceImport};
use crate::plugin::endpoint::Flag;
use arc_swap::ArcSwap;
use futures_util::StreamExt;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What workers read, and the readiness `ready` reports.
pub struct Shared {
    pub index: ArcSwap<Index>,
    /// Set once every watch has listed what there is.
    pub ready: Flag,
}

impl Shared {
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared {
            index: ArcSwap::from_pointee(Index::default()),
            ready: crate::plugin::endpoint::flag(),
        })
    }

    pub fn synced(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// What to watch, and with which selectors.
#[derive(Clone, Debug)]
pub struct Scope {
    /// `labels`: for Services, EndpointSlices and Pods.
    pub labels: Option<String>,
    /// `namespace_labels`: for Namespaces.
    pub namespace_labels: Option<String>,
    pub endpoints: bool,
    pub pods: bool,
    /// `multicluster` zones configured: ServiceImports and imported
    /// EndpointSlices are watched too.
    pub multicluster: bool,
    /// `zonal`: EndpointSlices keep their endpoints' zones.
    pub zonal: bool,
}

/// The running watches: [`Watches::stop`], or dropping it, ends them.
pub struct Watches {
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
}

impl Watches {
    /// Ends the watches (their thread exits); what they published stays.
    pub fn stop(&self) {
        if let Ok(mut s) = self.stop.lock() {
            s.take();
        }
    }
}

/// Starts the watches on a thread of their own.
pub fn start(config: kube::Config, scope: Scope, shared: Arc<Shared>) -> std::io::Result<Watches> {
    let (stop, stopped) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("kubernetes".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    crate::log::error(
                        Some("kubernetes"),
                        &format!("no runtime for the watches: {e}"),
                    );
                    return;
                }
            };
            rt.block_on(run(config, scope, shared, stopped));
        })?;
    Ok(Watches {
        stop: std::sync::Mutex::new(Some(stop)),
    })
}

/// One event of one watch, its object converted already (what DNS needs
/// of it, keyed by namespace/name; None: leave what was there).
enum Ev<T> {
    Init,
    InitApply(String, Option<T>),
    InitDone,
    Apply(String, Option<T>),
    Delete(String),
}

impl Change {
    fn init_done(&self) -> bool {
        matches!(
            self,
            Change::Service(Ev::InitDone)
                | Change::Slice(Ev::InitDone, _)
                | Change::Pod(Ev::InitDone)
                | Change::Namespace(Ev::InitDone)
                | Change::Import(Ev::InitDone)
                | Change::McSlice(Ev::InitDone, _)
        )
    }
}

enum Change {
    Service(Ev<Service>),
    /// With the slice's last-change trigger time, for the DNS programming
    /// latency.
    Slice(Ev<Endpoints>, Option<Trigger>),
    Pod(Ev<Pod>),
    Namespace(Ev<()>),
    Import(Ev<ServiceImport>),
    /// An imported (multicluster) EndpointSlice, with its trigger time as
    /// for [`Change::Slice`] (CoreDNS's informer records it for both).
    McSlice(Ev<McEndpoints>, Option<Trigger>),
}

/// An EndpointSlice's `endpoints.kubernetes.io/last-change-trigger-time`
/// and its Service (`namespace/name`).
struct Trigger {
    service: String,
    /// Nanoseconds since the Unix epoch.
    at: i128,
}

const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// The slice's trigger time; a warning (and nothing) where it does not
/// read as RFC 3339, as CoreDNS.
fn trigger(e: &discovery::EndpointSlice) -> Option<Trigger> {
    let m = &e.metadata;
    let text = m.annotations.as_ref()?.get(TRIGGER_TIME)?;
    let ns = m.namespace.as_deref().unwrap_or("");
    match text.parse::<k8s_openapi::jiff::Timestamp>() {
        Ok(t) => Some(Trigger {
            service: format!(
                "{ns}/{}",
                m.labels
                    .as_ref()
                    .and_then(|l| l.get("kubernetes.io/service-name"))
                    .map_or("", String::as_str)
            ),
            at: t.as_nanosecond(),
        }),
        Err(_) => {
            crate::log::warning(
                Some("kubernetes"),
                &format!(
                    "DnsProgrammingLatency cannot be calculated for Endpoints '{ns}/{}'; invalid {TRIGGER_TIME:?} annotation RFC3339 value of {text:?}",
                    m.name.as_deref().unwrap_or("")
                ),
            );
            None
        }
    }
}

/// CoreDNS's `EndpointLatencyRecorder.record`: the time from the slice's
/// trigger to now, for a slice of exactly one known Service.
fn record(t: &Trigger, services: &Store<Service>) {
    let Some(svc) = services.get(&t.service) else {
        return;
    };
    let kind = if svc.headless() {
        "headless_with_selector"
    } else {
        "cluster_ip"
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    let secs = (now - t.at) as f64 / 1e9;
    crate::metrics::with(crate::metrics::global(), |m| {
        m.observe(&super::metrics::DNS_PROGRAMMING, &[kind], secs)
    });
}

/// A watch's objects by namespace/name, each with the (re)list that last
/// saw it. A relist (after the API server lost the watch) updates them in
/// place, keeping what did not change, and removes what it did not see
/// once it is complete: no second map of every object while it runs (a
/// cluster's worth of keys and values, scattered over the allocator's
/// pages after).
struct Store<T> {
    items: HashMap<String, Listed<T>>,
    /// The current (re)list's number.
    list: u32,
    /// A change the running relist made (shown once it completes).
    relist_changed: bool,
    synced: bool,
}

struct Listed<T> {
    v: Arc<T>,
    list: u32,
}

impl<T: PartialEq> Store<T> {
    fn new(watched: bool) -> Self {
        Store {
            items: HashMap::new(),
            list: 0,
            relist_changed: false,
            // What is not watched has nothing to wait for.
            synced: !watched,
        }
    }

    fn get(&self, key: &str) -> Option<&Arc<T>> {
        self.items.get(key).map(|l| &l.v)
    }

    /// Stores `v` under `key` (marked as seen by the current list);
    /// whether it differs from what was there, told to `on` as (old, new).
    fn put(
        &mut self,
        key: String,
        v: T,
        on: &mut impl FnMut(Option<&Arc<T>>, Option<&Arc<T>>),
    ) -> bool {
        let list = self.list;
        match self.items.get_mut(&key) {
            Some(old) => {
                old.list = list;
                if *old.v == v {
                    return false;
                }
                let new = Arc::new(v);
                on(Some(&old.v), Some(&new));
                old.v = new;
                true
            }
            None => {
                let new = Arc::new(v);
                on(None, Some(&new));
                self.items.insert(key, Listed { v: new, list });
                true
            }
        }
    }

    /// Applies one event; whether what DNS sees changed (shown once a
    /// relist completes). Each object added, replaced or removed is told
    /// to `on` as (old, new), as it happens: the index follows.
    fn apply_with(
        &mut self,
        ev: Ev<T>,
        mut on: impl FnMut(Option<&Arc<T>>, Option<&Arc<T>>),
    ) -> bool {
        match ev {
            Ev::Init => {
                self.list = self.list.wrapping_add(1);
                self.relist_changed = false;
                false
            }
            Ev::InitApply(key, v) => {
                if let Some(v) = v {
                    self.relist_changed |= self.put(key, v, &mut on);
                }
                false
            }
            Ev::InitDone => {
                let (list, before) = (self.list, self.items.len());
                self.items.retain(|_, l| {
                    let seen = l.list == list;
                    if !seen {
                        on(Some(&l.v), None);
                    }
                    seen
                });
                self.synced = true;
                std::mem::take(&mut self.relist_changed) || self.items.len() != before
            }
            Ev::Apply(key, Some(v)) => self.put(key, v, &mut on),
            Ev::Apply(_, None) => false,
            Ev::Delete(key) => match self.items.remove(&key) {
                Some(l) => {
                    on(Some(&l.v), None);
                    true
                }
                None => false,
            },
        }
    }

    #[cfg(test)]
    fn apply(&mut self, ev: Ev<T>) -> bool {
        self.apply_with(ev, |_, _| {})
    }
}

async fn run(
    config: kube::Config,
    scope: Scope,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    // Counted as client-go counts CoreDNS's requests (metrics.rs).
    let metered = super::metrics::Metered::new(&config.cluster_url);
    let client = match kube::client::ClientBuilder::try_from(config) {
        Ok(b) => b.with_layer(&metered).build(),
        Err(e) => {
            crate::log::error(
                Some("kubernetes"),
                &format!("failed to create kubernetes notification controller: {e}"),
            );
            return;
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let selected = |labels: &Option<String>| {
        let c = watcher::Config::default().page_size(PAGE);
        match labels {
            Some(l) => c.labels(l),
            None => c,
        }
    };
    pump(
        Api::<core::Service>::all(client.clone()),
        selected(&scope.labels),
        index::service,
        |_| None,
        |e, _| Change::Service(e),
        tx.clone(),
    );
    if scope.endpoints {
        pump(
            Api::<discovery::EndpointSlice>::all(client.clone()),
            selected(&scope.labels),
            if scope.zonal {
                index::endpoints_zonal
            } else {
                index::endpoints
            },
            trigger,
            Change::Slice,
            tx.clone(),
        );
    }
    if scope.pods {
        pump(
            Api::<core::Pod>::all(client.clone()),
            selected(&scope.labels)
                .fields("status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown"),
            index::pod,
            |_| None,
            |e, _| Change::Pod(e),
            tx.clone(),
        );
    }
    if scope.multicluster {
        // CoreDNS selects the imported slices by `labels` and the
        // service-name label's presence, and the ServiceImports by the
        // `namespace_labels` selector (sic): both as it does.
        let mcs_label = super::mcs::LABEL_SERVICE_NAME;
        let mc_slices = match &scope.labels {
            Some(l) => format!("{mcs_label},{l}"),
            None => mcs_label.to_string(),
        };
        pump(
            Api::<discovery::EndpointSlice>::all(client.clone()),
            watcher::Config::default().labels(&mc_slices),
            index::mc_endpoints,
            trigger,
            Change::McSlice,
            tx.clone(),
        );
        pump(
            Api::<super::mcs::ServiceImport>::all(client.clone()),
            selected(&scope.namespace_labels),
            index::service_import,
            |_| None,
            |e, _| Change::Import(e),
            tx.clone(),
        );
    }
    pump(
        Api::<core::Namespace>::all(client),
        selected(&scope.namespace_labels),
        |_| Some(()),
        |_| None,
        |e, _| Change::Namespace(e),
        tx,
    );
    let mut services = Store::<Service>::new(true);
    let mut slices = Store::<Endpoints>::new(scope.endpoints);
    let mut pods = Store::<Pod>::new(scope.pods);
    let mut namespaces = Store::<()>::new(true);
    let mut imports = Store::<ServiceImport>::new(scope.multicluster);
    let mut mc_slices = Store::<McEndpoints>::new(scope.multicluster);
    let mut mc_modified = 0;
    // The watch thread's own index, changed as objects change.
    let mut current = Index::default();
    let mut modified = 0;
    // CoreDNS's `extModified`: 0 until a Service it knew changes its
    // external addresses or ports (added and deleted ones do not count).
    let mut ext_modified = 0;
    let mut was_synced = false;
    loop {
        let first = tokio::select! {
            _ = &mut stopped => return,
            c = rx.recv() => match c {
                Some(c) => c,
                None => return,
            },
        };
        // `changed`: what moves the SOA serial (CoreDNS's `modified`: not
        // Namespaces); `seen`: anything the index shows.
        let (mut changed, mut seen, mut ext_changed) = (false, false, false);
        let (mut mc_changed, mut names_changed) = (false, false);
        let mut next = Some(first);
        // A (re)list completed: what it read is freed, and given back below.
        let mut listed = false;
        // Everything that arrived together makes one new index.
        while let Some(c) = next {
            listed |= c.init_done();
            let ix = &mut current;
            let (moved, shown) = match c {
                Change::Service(e) => {
                    ext_changed |= external_change(&services, &e);
                    (
                        services.apply_with(e, |o, n| ix.change_service(o, n)),
                        false,
                    )
                }
                Change::Slice(e, t) => {
                    let moved = slices.apply_with(e, |o, n| ix.change_endpoints(o, n));
                    if let Some(t) = t {
                        record(&t, &services);
                    }
                    (moved, false)
                }
                Change::Pod(e) => (pods.apply_with(e, |o, n| ix.change_pod(o, n)), false),
                Change::Namespace(e) => {
                    let shown = namespaces.apply_with(e, |_, _| {});
                    names_changed |= shown;
                    (false, shown)
                }
                Change::Import(e) => {
                    let (added, updated) = mc_moves(&imports, &e, import_shown);
                    mc_changed |= updated;
                    (added, imports.apply_with(e, |o, n| ix.change_import(o, n)))
                }
                Change::McSlice(e, t) => {
                    let (added, updated) = mc_moves(&mc_slices, &e, mc_slice_shown);
                    mc_changed |= updated;
                    let shown = mc_slices.apply_with(e, |o, n| ix.change_mc_endpoints(o, n));
                    if let Some(t) = t {
                        record(&t, &services);
                    }
                    (added, shown)
                }
            };
            changed |= moved;
            seen |= moved || shown;
            next = rx.try_recv().ok();
        }
        let synced = services.synced
            && slices.synced
            && pods.synced
            && namespaces.synced
            && imports.synced
            && mc_slices.synced;
        if !seen && synced == was_synced {
            if listed && synced {
                // A relist that changed nothing builds no index.
                crate::sys::give_back_memory();
            }
            continue;
        }
        was_synced = synced;
        let now = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        };
        if changed {
            modified = now();
        }
        if ext_changed {
            ext_modified = now();
        }
        if mc_changed {
            mc_modified = now();
        }
        if names_changed {
            current.set_namespaces(
                namespaces
                    .items
                    .keys()
                    .map(|k| k.strip_prefix('/').unwrap_or(k)),
            );
        }
        current.generation += 1;
        current.mc_modified = mc_modified;
        current.synced = synced;
        current.modified = modified;
        current.ext_modified = ext_modified;
        // A snapshot sharing every shard: the next change copies the
        // shards it touches.
        shared.index.store(Arc::new(current.clone()));
        if synced {
            shared.ready.store(true, Ordering::Release);
            // What the lists read and the shards replaced are freed on
            // this thread, which allocates again only at the next change.
            crate::sys::give_back_memory();
        }
    }
}

/// Whether `ev`, before it is applied, changes a Service the store holds
/// in a way the external zone shows (CoreDNS's `serviceModified` on an
/// update; a relist's objects are compared as they come).
fn external_change(services: &Store<Service>, ev: &Ev<Service>) -> bool {
    match ev {
        Ev::Apply(key, Some(new)) | Ev::InitApply(key, Some(new)) => services
            .get(key)
            .is_some_and(|old| new.external_changed(old)),
        _ => false,
    }
}

/// How an event of a multicluster watch moves the SOA serials, before it
/// is applied, as CoreDNS's handlers move them: an object added or deleted
/// (a relist's new ones and the ones it no longer saw included) moves
/// `modified`, the cluster's zones' serial (the first element); an update
/// that `shown` says DNS sees moves `multiClusterModified`, the
/// multicluster zones' serial (the second).
fn mc_moves<T: PartialEq>(store: &Store<T>, ev: &Ev<T>, shown: fn(&T, &T) -> bool) -> (bool, bool) {
    match ev {
        Ev::Apply(key, Some(new)) | Ev::InitApply(key, Some(new)) => match store.get(key) {
            Some(old) => (false, shown(old, new)),
            None => (true, false),
        },
        Ev::InitDone => (store.items.values().any(|l| l.list != store.list), false),
        Ev::Delete(key) => (store.get(key).is_some(), false),
        Ev::Init | Ev::Apply(_, None) | Ev::InitApply(_, None) => (false, false),
    }
}

/// CoreDNS's `serviceImportEquivalent`, negated: the type or the ports
/// changed (its addresses do not count).
fn import_shown(old: &ServiceImport, new: &ServiceImport) -> bool {
    old.kind != new.kind || old.ports != new.ports
}

/// CoreDNS's `multiclusterEndpointsEquivalent`, negated: the addresses
/// (IP and hostname), the ports or the cluster changed.
fn mc_slice_shown(old: &McEndpoints, new: &McEndpoints) -> bool {
    let (a, b) = (&old.endpoints, &new.endpoints);
    old.cluster != new.cluster
        || a.ports != b.ports
        || a.addresses.len() != b.addresses.len()
        || a.addresses
            .iter()
            .zip(b.addresses.iter())
            .any(|(x, y)| x.ip != y.ip || x.hostname != y.hostname)
}

/// Runs one watch on the runtime, handing its events to the loop; its
/// failures are logged and retried with kube's backoff.
fn pump<K, T>(
    api: Api<K>,
    config: watcher::Config,
    convert: fn(&K) -> Option<T>,
    stamp: fn(&K) -> Option<Trigger>,
    wrap: fn(Ev<T>, Option<Trigger>) -> Change,
    tx: tokio::sync::mpsc::UnboundedSender<Change>,
) where
    K: Resource
        + Clone
        + k8s_openapi::serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
    T: 'static,
{
    let kind = K::kind(&K::DynamicType::default()).into_owned();
    let key = |o: &K| {
        let m = o.meta();
        format!(
            "{}/{}",
            m.namespace.as_deref().unwrap_or(""),
            m.name.as_deref().unwrap_or("")
        )
    };
    tokio::spawn(async move {
        // Lists come as a stream of watch events where the API server
        // can (`sendInitialEvents`, Kubernetes 1.27 and later): one object
        // at a time, so a relist after an API server restart holds no page
        // of objects. A server that refuses it is listed in pages.
        let mut streaming = true;
        loop {
            let c = if streaming {
                config.clone().streaming_lists()
            } else {
                config.clone()
            };
            let mut events = std::pin::pin!(watcher::watcher(api.clone(), c).default_backoff());
            let mut refused = false;
            while let Some(ev) = events.next().await {
                let (ev, t) = match ev {
                    Ok(Event::Init) => (Ev::Init, None),
                    Ok(Event::InitApply(o)) => (Ev::InitApply(key(&o), convert(&o)), stamp(&o)),
                    Ok(Event::InitDone) => (Ev::InitDone, None),
                    Ok(Event::Apply(o)) => (Ev::Apply(key(&o), convert(&o)), stamp(&o)),
                    Ok(Event::Delete(o)) => (Ev::Delete(key(&o)), stamp(&o)),
                    Err(e) if streaming && refuses_streaming(&e) => {
                        crate::log::info(
                            Some("kubernetes"),
                            &format!("the API server does not stream lists of *v1.{kind} ({e}); listing in pages"),
                        );
                        refused = true;
                        break;
                    }
                    Err(e) => {
                        crate::log::error(
                            Some("kubernetes"),
                            &format!("Failed to watch *v1.{kind}: {e}"),
                        );
                        continue;
                    }
                };
                if tx.send(wrap(ev, t)).is_err() {
                    return;
                }
            }
            if !refused {
                return;
            }
            streaming = false;
        }
    });
}

/// Objects per page where lists are read in pages (kube's default is
/// 500): a smaller page is less held at once, for a few more requests.
const PAGE: u32 = 100;

/// Whether the API server refused a streamed list (`sendInitialEvents`):
/// a request it finds invalid (the WatchList feature off, or a server
/// older than 1.27).
fn refuses_streaming(e: &watcher::Error) -> bool {
    let status = match e {
        watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    matches!(status, 400 | 422)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relist_keeps_what_did_not_change() {
        let mut s = Store::<String>::new(true);
        assert!(!s.synced);
        for ev in [
            Ev::Init,
            Ev::InitApply("ns/a".into(), Some("1".to_string())),
            Ev::InitApply("ns/b".into(), Some("2".to_string())),
        ] {
            assert!(!s.apply(ev));
        }
        assert!(s.apply(Ev::InitDone));
        assert!(s.synced);
        let a = Arc::clone(s.get("ns/a").unwrap());
        // The same objects again: nothing changed, and nothing is copied.
        s.apply(Ev::Init);
        s.apply(Ev::InitApply("ns/a".into(), Some("1".to_string())));
        s.apply(Ev::InitApply("ns/b".into(), Some("2".to_string())));
        assert!(!s.apply(Ev::InitDone));
        assert!(Arc::ptr_eq(&a, s.get("ns/a").unwrap()));
        // One changed, one gone.
        s.apply(Ev::Init);
        s.apply(Ev::InitApply("ns/a".into(), Some("3".to_string())));
        assert!(s.apply(Ev::InitDone));
        assert_eq!(s.items.len(), 1);
        assert_eq!(**s.get("ns/a").unwrap(), "3");
        // Watch events; an update to the same value changes nothing; a
        // terminating Pod (None) leaves what was there.
        assert!(!s.apply(Ev::Apply("ns/a".into(), Some("3".to_string()))));
        assert!(!s.apply(Ev::Apply("ns/a".into(), None)));
        assert!(s.apply(Ev::Apply("ns/c".into(), Some("4".to_string()))));
        assert!(s.apply(Ev::Delete("ns/c".into())));
        assert!(!s.apply(Ev::Delete("ns/c".into())));
    }

    /// What an index answers for the names and addresses the test uses,
    /// as sets of objects.
    fn answers(ix: &Index) -> Vec<Vec<usize>> {
        fn set<T>(found: &[Arc<T>]) -> Vec<usize> {
            let mut v: Vec<usize> = found.iter().map(|a| Arc::as_ptr(a) as usize).collect();
            v.sort_unstable();
            v
        }
        let mut out = Vec::new();
        for i in 0..40 {
            let name = format!("s{i}");
            out.push(set(ix.services(&name, "n")));
            out.push(set(ix.endpoints(&name, "n")));
        }
        for ip in 0..20 {
            let ip = format!("10.0.0.{ip}");
            out.push(set(ix.services_at(&ip)));
            out.push(set(ix.services_at_external(&ip)));
            out.push(set(ix.endpoints_at(&ip)));
            out.push(set(ix.pods_at(&ip)));
        }
        out
    }

    /// The index the watch thread changes object by object answers as one
    /// built afresh from the stores, through adds, updates, deletes and
    /// relists; a snapshot published earlier does not move with later
    /// changes (its shards are copied on write).
    #[test]
    fn the_index_follows_changes_as_a_fresh_build() {
        let mut rng: u64 = 7;
        let mut next = |n: u64| {
            rng = rng
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (rng >> 33) % n
        };
        let ip = |n: u64| Box::<str>::from(format!("10.0.0.{n}"));
        let mut services = Store::<Service>::new(true);
        let mut slices = Store::<Endpoints>::new(true);
        let mut pods = Store::<Pod>::new(true);
        let mut ix = Index::default();
        let fresh = |services: &Store<Service>, slices: &Store<Endpoints>, pods: &Store<Pod>| {
            Index::build(
                services.items.values().map(|l| &l.v),
                slices.items.values().map(|l| &l.v),
                pods.items.values().map(|l| &l.v),
                std::iter::empty(),
            )
        };
        let mut snapshot = None;
        for step in 0..3000 {
            let i = next(40);
            let key = format!("n/s{i}");
            let relist = next(100) == 0;
            let kind = next(3);
            let mut evs = Vec::new();
            if relist {
                evs.push(Ev::Init);
            }
            for _ in 0..if relist { 30 } else { 1 } {
                let i = if relist { next(40) } else { i };
                let key = if relist {
                    format!("n/s{i}")
                } else {
                    key.clone()
                };
                evs.push(if !relist && next(4) == 0 {
                    Ev::Delete(key)
                } else if relist {
                    Ev::InitApply(key, Some(i))
                } else {
                    Ev::Apply(key, Some(i))
                });
            }
            if relist {
                evs.push(Ev::InitDone);
            }
            for ev in evs {
                let (a, b, c) = (next(20), next(20), next(20));
                let make = |ev: &Ev<u64>| match ev {
                    Ev::Init => (Ev::Init, Ev::Init, Ev::Init),
                    Ev::InitDone => (Ev::InitDone, Ev::InitDone, Ev::InitDone),
                    Ev::Delete(k) => (
                        Ev::Delete(k.clone()),
                        Ev::Delete(k.clone()),
                        Ev::Delete(k.clone()),
                    ),
                    Ev::InitApply(k, Some(i)) | Ev::Apply(k, Some(i)) => {
                        let name: Box<str> = format!("s{i}").into();
                        let s = Service {
                            name: name.clone(),
                            namespace: "n".into(),
                            cluster_ips: [ip(a)].into(),
                            external_name: None,
                            ports: [].into(),
                            external_ips: [ip(b), ip(b)].into(),
                        };
                        let e = Endpoints {
                            name: name.clone(),
                            namespace: "n".into(),
                            service: name.clone(),
                            addresses: [a, c]
                                .iter()
                                .map(|&x| index::Address {
                                    ip: ip(x),
                                    hostname: None,
                                    target: None,
                                })
                                .collect(),
                            ports: [].into(),
                            zones: None,
                        };
                        let p = Pod {
                            ip: ip(c),
                            namespace: "n".into(),
                            name,
                            labels: [].into(),
                        };
                        if matches!(ev, Ev::InitApply(..)) {
                            (
                                Ev::InitApply(k.clone(), Some(s)),
                                Ev::InitApply(k.clone(), Some(e)),
                                Ev::InitApply(k.clone(), Some(p)),
                            )
                        } else {
                            (
                                Ev::Apply(k.clone(), Some(s)),
                                Ev::Apply(k.clone(), Some(e)),
                                Ev::Apply(k.clone(), Some(p)),
                            )
                        }
                    }
                    _ => unreachable!(),
                };
                let (s, e, p) = make(&ev);
                let ix = &mut ix;
                match kind {
                    0 => {
                        services.apply_with(s, |o, n| ix.change_service(o, n));
                    }
                    1 => {
                        slices.apply_with(e, |o, n| ix.change_endpoints(o, n));
                    }
                    _ => {
                        pods.apply_with(p, |o, n| ix.change_pod(o, n));
                    }
                }
            }
            assert_eq!(
                answers(&ix),
                answers(&fresh(&services, &slices, &pods)),
                "step {step}"
            );
            if step == 1500 {
                snapshot = Some((ix.clone(), answers(&ix)));
            }
        }
        let (snap, then) = snapshot.unwrap();
        assert_ne!(answers(&snap), answers(&ix), "the test changed nothing");
        assert_eq!(answers(&snap), then);
    }

    /// A server that finds `sendInitialEvents` invalid is listed in pages;
    /// other failures are retried as they are.
    #[test]
    fn a_refused_stream_falls_back_to_pages() {
        let api = |code| {
            watcher::Error::WatchStartFailed(kube::Error::Api(
                kube::core::Status::failure("sendInitialEvents is forbidden", "Invalid")
                    .with_code(code)
                    .boxed(),
            ))
        };
        assert!(refuses_streaming(&api(422)));
        assert!(refuses_streaming(&api(400)));
        assert!(!refuses_streaming(&api(403)));
        assert!(!refuses_streaming(&api(500)));
        let event = |code| {
            watcher::Error::WatchError(
                kube::core::Status::failure("x", "Invalid")
                    .with_code(code)
                    .boxed(),
            )
        };
        assert!(refuses_streaming(&event(422)));
        assert!(!refuses_streaming(&event(410)), "a relist, not a refusal");
        assert!(!refuses_streaming(&watcher::Error::NoResourceVersion));
    }

    /// Multicluster objects: added and deleted ones move `modified`, and
    /// updates DNS shows `multiClusterModified` (a ServiceImport's
    /// addresses do not count, as in CoreDNS's `serviceImportEquivalent`).
    #[test]
    fn multicluster_serials() {
        let si = |kind: &str, ip: &str, port: i32| ServiceImport {
            name: "s".into(),
            namespace: "n".into(),
            ips: [ip.into()].into(),
            kind: kind.into(),
            ports: [index::Port {
                name: "http".into(),
                port,
                protocol: "TCP".into(),
            }]
            .into(),
        };
        let mut s = Store::<ServiceImport>::new(true);
        let f = import_shown;
        s.apply(Ev::Init);
        let ev = Ev::InitApply("n/s".into(), Some(si("ClusterSetIP", "10.0.0.1", 80)));
        assert_eq!(mc_moves(&s, &ev, f), (true, false));
        s.apply(ev);
        assert_eq!(mc_moves(&s, &Ev::InitDone, f), (false, false));
        s.apply(Ev::InitDone);
        let ev = Ev::Apply("n/s".into(), Some(si("ClusterSetIP", "10.0.0.2", 80)));
        assert_eq!(mc_moves(&s, &ev, f), (false, false));
        s.apply(ev);
        let ev = Ev::Apply("n/s".into(), Some(si("ClusterSetIP", "10.0.0.2", 81)));
        assert_eq!(mc_moves(&s, &ev, f), (false, true));
        let ev = Ev::Apply("n/s".into(), Some(si("Headless", "10.0.0.2", 80)));
        assert_eq!(mc_moves(&s, &ev, f), (false, true));
        assert_eq!(mc_moves(&s, &Ev::Delete("n/s".into()), f), (true, false));
        assert_eq!(mc_moves(&s, &Ev::Delete("n/t".into()), f), (false, false));
        // A relist that no longer sees it.
        s.apply(Ev::Init);
        assert_eq!(mc_moves(&s, &Ev::InitDone, f), (true, false));
    }

    /// CoreDNS's `extModified` moves only when a Service it knew changes
    /// its external addresses or ports.
    #[test]
    fn external_changes() {
        let svc = |ips: &[&str], port: i32| Service {
            name: "s".into(),
            namespace: "n".into(),
            cluster_ips: ["10.0.0.1".into()].into(),
            external_name: None,
            ports: [index::Port {
                name: "http".into(),
                port,
                protocol: "TCP".into(),
            }]
            .into(),
            external_ips: ips.iter().map(|i| Box::from(*i)).collect(),
        };
        let mut s = Store::<Service>::new(true);
        let new = Ev::Apply("n/s".into(), Some(svc(&["192.0.2.1"], 80)));
        assert!(!external_change(&s, &new), "an added Service");
        s.apply(new);
        let same = Ev::Apply("n/s".into(), Some(svc(&["192.0.2.1"], 80)));
        assert!(!external_change(&s, &same));
        assert!(external_change(
            &s,
            &Ev::Apply("n/s".into(), Some(svc(&["192.0.2.2"], 80)))
        ));
        assert!(external_change(
            &s,
            &Ev::Apply("n/s".into(), Some(svc(&["192.0.2.1"], 81)))
        ));
        assert!(!external_change(&s, &Ev::Delete("n/s".into())));
        // A relist that brings a changed Service.
        s.apply(Ev::Init);
        let relisted = Ev::InitApply("n/s".into(), Some(svc(&[], 80)));
        assert!(external_change(&s, &relisted));
        s.apply(relisted);
        assert!(!external_change(&s, &Ev::InitDone));
    }
}
