//! kubernetes: the cluster's Services, their endpoints and Pods as DNS
//! names (the Kubernetes DNS specification, as CoreDNS 1.14.7's plugin
//! answers it), from indexes the plugin's watches keep (watch.rs,
//! index.rs). Workers only read the current index; nothing they do waits
//! on the API server. Names it cannot find are NXDOMAIN (SERVFAIL before
//! the first sync), or go on with `fallthrough`.

mod autopath;
mod client;
mod external;
mod fast;
mod index;
mod lookup;
mod mcs;
mod metrics;
pub mod selector;
mod setup;
mod watch;

#[cfg(test)]
mod tests;

pub use setup::{Config, PodMode, Source};

use crate::corefile::{Directive, Error};
use crate::plugin::endpoint::Flag;
use crate::plugin::{names, Action, BlockSetup, LocalFuture, Outcome, Plugin, Request, SearchPath};
use hickory_proto::op::{Message, ResponseCode};
use lookup::{Answer, Lookups};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Kubernetes {
    c: Config,
    shared: Arc<watch::Shared>,
    /// The server's own addresses (NS records), as CoreDNS's `boundIPs`.
    local_ips: Vec<IpAddr>,
    /// None in tests over a fixed index.
    watches: Option<watch::Watches>,
    /// Client Pods' search paths, for autopath.
    autopath: Arc<autopath::AutoPath>,
    /// The external zone's records, for k8s_external.
    external: Arc<external::External>,
    /// The worker state slot of the raw path's answers (fast.rs).
    slot: usize,
}

/// `kubernetes [ZONES...] { ... }`: parses, connects and waits (at most
/// `startup_timeout`) for the first sync, as CoreDNS's start-up does.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Kubernetes, Error> {
    let c = setup::parse(b, ds)?;
    let pos = ds[0].pos();
    let config = client::config(&c.source).map_err(|e| Error::new(pos, e.to_string()))?;
    let shared = watch::Shared::new();
    let scope = watch::Scope {
        labels: c.labels.as_ref().map(selector::Selector::to_query),
        namespace_labels: c
            .namespace_labels
            .as_ref()
            .map(selector::Selector::to_query),
        endpoints: !c.noendpoints,
        pods: c.pods == PodMode::Verified,
        multicluster: !c.multicluster.is_empty(),
        zonal: c.zonal,
    };
    let watches = watch::start(config, scope, Arc::clone(&shared))
        .map_err(|e| Error::new(pos, format!("start the watches: {e}")))?;
    wait_synced(&shared, c.startup_timeout);
    let local_ips = local_ips(b);
    Ok(Kubernetes {
        autopath: Kubernetes::autopath(&c, &shared),
        external: Kubernetes::external_zone(&c, &shared, &local_ips),
        local_ips,
        c,
        shared,
        watches: Some(watches),
        slot: b.slot(),
    })
}

/// CoreDNS's OnStartup wait: until every watch listed, or the timeout.
fn wait_synced(shared: &watch::Shared, timeout: Duration) {
    let start = Instant::now();
    let mut said = start;
    while !shared.synced() {
        let now = Instant::now();
        if now.duration_since(start) >= timeout {
            crate::log::warning(
                Some("kubernetes"),
                "starting server with unsynced Kubernetes API",
            );
            return;
        }
        if now.duration_since(said) >= Duration::from_millis(500) {
            said = now;
            crate::log::info(
                Some("kubernetes"),
                "waiting for Kubernetes API before starting server",
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The addresses the block listens on, or every address of the machine,
/// loopback left out (CoreDNS's `boundIPs`), in the order Go lists them:
/// IPv4 first, then IPv6 by interface and scope (link-local ones too,
/// which `if_addrs` leaves out, so those come from /proc/net/if_inet6).
fn local_ips(b: &BlockSetup) -> Vec<IpAddr> {
    let hosts: Vec<IpAddr> = if b.listen_hosts.is_empty() {
        let all: Vec<IpAddr> = if_addrs::get_if_addrs()
            .map(|l| l.into_iter().map(|i| i.ip()).collect())
            .unwrap_or_default();
        let mut v6 =
            inet6().unwrap_or_else(|| all.iter().copied().filter(IpAddr::is_ipv6).collect());
        let mut ips: Vec<IpAddr> = all.into_iter().filter(IpAddr::is_ipv4).collect();
        ips.append(&mut v6);
        ips
    } else {
        b.listen_hosts.iter().map(|h| h.ip).collect()
    };
    hosts
        .into_iter()
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .collect()
}

/// The machine's IPv6 addresses by interface index, then scope (global
/// before link-local, as the kernel lists each interface's).
fn inet6() -> Option<Vec<IpAddr>> {
    let text = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    let mut rows: Vec<(u32, u32, IpAddr)> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let hex = f.first().filter(|h| h.len() == 32)?;
            let bits = u128::from_str_radix(hex, 16).ok()?;
            let index = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let scope = u32::from_str_radix(f.get(3)?, 16).ok()?;
            Some((index, scope, IpAddr::V6(std::net::Ipv6Addr::from(bits))))
        })
        .collect();
    rows.sort_by_key(|&(index, scope, _)| (index, scope));
    Some(rows.into_iter().map(|(_, _, ip)| ip).collect())
}

impl Kubernetes {
    /// The plugin over a fixed index, for tests of the answers.
    #[cfg(test)]
    fn fixed(c: Config, ix: index::Index, local_ips: Vec<IpAddr>) -> Kubernetes {
        let shared = watch::Shared::new();
        shared.index.store(Arc::new(ix));
        Kubernetes {
            autopath: Kubernetes::autopath(&c, &shared),
            external: Kubernetes::external_zone(&c, &shared, &local_ips),
            c,
            shared,
            local_ips,
            watches: None,
            slot: 0,
        }
    }

    fn external_zone(
        c: &Config,
        shared: &Arc<watch::Shared>,
        local_ips: &[IpAddr],
    ) -> Arc<external::External> {
        Arc::new(external::External {
            namespaces: c.namespaces.clone(),
            pod_names: c.endpoint_pod_names,
            ttl: c.ttl,
            local_ips: local_ips.to_vec(),
            shared: Arc::clone(shared),
        })
    }

    fn autopath(c: &Config, shared: &Arc<watch::Shared>) -> Arc<autopath::AutoPath> {
        Arc::new(autopath::AutoPath {
            zones: c.zones.clone(),
            verified: c.pods == PodMode::Verified,
            resolv: autopath::resolv_search(),
            shared: Arc::clone(shared),
        })
    }

    fn answer(&self, req: &Request, lookups: &mut Lookups) -> Option<Answer> {
        let zone = names::zone_match(&self.c.zones, &req.name)?;
        let ix = self.shared.index.load();
        Some(lookup::answer(
            self,
            &ix,
            &lookup::Asked::of(req),
            zone,
            lookups,
        ))
    }

    fn finish(&self, a: Answer) -> Action {
        match a {
            Answer::Next => Action::Next,
            Answer::Refused => Action::Done(Outcome::rcode(ResponseCode::Refused)),
            Answer::Reply(m) => Action::Done(written(m)),
        }
    }
}

/// A reply the plugin wrote: CoreDNS's handler returns success for it,
/// SERVFAIL before the first sync included.
fn written(m: Message) -> Outcome {
    let mut o = Outcome::reply(m);
    o.rcode = ResponseCode::NoError;
    o
}

impl Plugin for Kubernetes {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    fn query(&self, req: &mut Request) -> Action {
        let mut lookups = Lookups::default();
        let Some(a) = self.answer(req, &mut lookups) else {
            return Action::Next;
        };
        if lookups.wanted() {
            // An ExternalName's target outside the zones: ask the server.
            req.stash.put(self, lookups);
            return Action::Await;
        }
        self.finish(a)
    }

    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(async move {
            let mut lookups = req.stash.take::<Lookups>(self).unwrap_or_default();
            // A new index may name other targets: a few rounds at most.
            for _ in 0..4 {
                for (name, qtype) in lookups.take_wanted() {
                    let got = req.lookup(&name, qtype).await.ok().flatten();
                    lookups.insert(name, qtype, got);
                }
                let Some(a) = self.answer(req, &mut lookups) else {
                    return Action::Next;
                };
                if !lookups.wanted() {
                    return self.finish(a);
                }
            }
            Action::Done(Outcome::rcode(ResponseCode::ServFail))
        })
    }

    /// Its own answers on the raw path, once each worker has answered the
    /// question from the current index (fast.rs).
    fn fast(&self) -> crate::plugin::fast::Fast {
        crate::plugin::fast::Fast::Answer
    }

    fn fast_answer(
        &self,
        q: &crate::plugin::fast::RawQuery<'_>,
        cx: &mut crate::plugin::fast::Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<crate::plugin::fast::RawAnswer> {
        self.raw_answer(q, cx, out)
    }

    fn metadata(&self, req: &Request, md: &mut crate::plugin::request::Metadata) {
        lookup::metadata(self, &self.shared.index.load(), req, md);
    }

    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        metrics::OWN
    }

    fn search_path(&self) -> Option<Arc<dyn SearchPath>> {
        Some(Arc::clone(&self.autopath) as Arc<dyn SearchPath>)
    }

    fn external(&self) -> Option<Arc<dyn crate::plugin::external::External>> {
        Some(Arc::clone(&self.external) as Arc<dyn crate::plugin::external::External>)
    }

    fn readiness(&self) -> Option<Flag> {
        Some(Arc::clone(&self.shared.ready))
    }

    /// A reload replaced the configuration, or the server stops: the
    /// watches end (queries still in flight read the last index).
    fn stop(&self) {
        if let Some(w) = &self.watches {
            w.stop();
        }
    }
}
