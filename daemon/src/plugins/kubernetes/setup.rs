//! The `kubernetes` directive, as CoreDNS 1.14.7's `ParseStanza` reads it:
//!
//! ```text
//! kubernetes [ZONES...] {
//!     endpoint URL
//!     tls CERT KEY CACERT
//!     kubeconfig KUBECONFIG [CONTEXT]
//!     namespaces NAMESPACE...
//!     labels EXPRESSION
//!     namespace_labels EXPRESSION
//!     pods POD-MODE
//!     endpoint_pod_names
//!     ttl TTL
//!     noendpoints
//!     fallthrough [ZONES...]
//!     ignore empty_service
//!     startup_timeout DURATION
//!     multicluster [ZONES...]
//!     zonal
//!     apiserver_qps QPS
//!     apiserver_burst BURST
//!     apiserver_max_inflight N
//! }
//! ```
//!
//! Errors read as CoreDNS's: its `c.Errf`/`c.ArgErr` ones at the token, and
//! its plain ones (`wrong value for pods: ...`) with the same words.

use super::selector::{self, Selector};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::{duration, strconv};
use crate::plugin::{names, BlockSetup, Fallthrough};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// `pods`: how pod names (`1-2-3-4.ns.pod.ZONE`) are answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodMode {
    /// Never (the default): NXDOMAIN.
    Disabled,
    /// The address in the name, whether a pod has it or not.
    Insecure,
    /// Only when a pod in that namespace has the address (pods are watched).
    Verified,
}

/// Where the API server is and how to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The pod's service account (`KUBERNETES_SERVICE_HOST`, ...): the default.
    InCluster,
    /// `endpoint URL` (only the first is used), with `tls`'s files.
    Endpoint {
        url: String,
        tls: Option<(String, String, String)>,
    },
    /// `kubeconfig FILE [CONTEXT]`.
    Kubeconfig {
        path: PathBuf,
        context: Option<String>,
    },
}

/// One `kubernetes` directive.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Lowercased, fully qualified.
    pub zones: Vec<String>,
    /// The first zone that is not a reverse zone (names of PTR answers).
    pub primary: usize,
    pub source: Source,
    /// `namespaces`: empty means every namespace.
    pub namespaces: BTreeSet<String>,
    pub labels: Option<Selector>,
    pub namespace_labels: Option<Selector>,
    pub pods: PodMode,
    pub endpoint_pod_names: bool,
    pub ttl: u32,
    /// `noendpoints`: EndpointSlices are not watched.
    pub noendpoints: bool,
    pub fall: Fallthrough,
    pub ignore_empty_service: bool,
    pub startup_timeout: Duration,
    pub multicluster: Vec<String>,
    pub zonal: bool,
    pub api_qps: Option<f32>,
    pub api_burst: Option<u32>,
    pub api_max_inflight: Option<u32>,
}

/// The answers' TTL when `ttl` is not given.
pub const DEFAULT_TTL: u32 = 5;

/// Whether `zone` is a reverse zone (CoreDNS's `dnsutil.IsReverse`).
pub fn is_reverse(zone: &str) -> bool {
    zone.ends_with("in-addr.arpa.") || zone.ends_with("ip6.arpa.")
}

/// Parses the block's `kubernetes` directives (once per block).
pub fn parse(b: &BlockSetup, ds: &[&Directive]) -> Result<Config, Error> {
    crate::plugin::registry::only_once(ds)?;
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let zones = names::host_zones(&d.remaining_args(), &b.origins);
    let primary = zones
        .iter()
        .position(|z| !is_reverse(z))
        .ok_or_else(|| d.err("non-reverse zone name must be used"))?;
    let mut c = Config {
        zones,
        primary,
        source: Source::InCluster,
        namespaces: BTreeSet::new(),
        labels: None,
        namespace_labels: None,
        pods: PodMode::Disabled,
        endpoint_pod_names: false,
        ttl: DEFAULT_TTL,
        noendpoints: false,
        fall: Fallthrough::default(),
        ignore_empty_service: false,
        startup_timeout: Duration::from_secs(5),
        multicluster: Vec::new(),
        zonal: false,
        api_qps: None,
        api_burst: None,
        api_max_inflight: None,
    };
    let mut endpoint: Option<String> = None;
    let mut tls = None;
    let mut kubeconfig = None;
    while d.next_block() {
        let what = d.val();
        match what {
            "endpoint_pod_names" => {
                no_args(&mut d)?;
                c.endpoint_pod_names = true;
            }
            "pods" => {
                let args = d.remaining_args();
                let [mode] = args.as_slice() else {
                    return Err(d.arg_err());
                };
                c.pods = match mode.as_str() {
                    "disabled" => PodMode::Disabled,
                    "insecure" => PodMode::Insecure,
                    "verified" => PodMode::Verified,
                    _ => {
                        return Err(d.err(format!(
                            "wrong value for pods: {mode},  must be one of: disabled, verified, insecure"
                        )))
                    }
                };
            }
            "namespaces" => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                c.namespaces.extend(args);
            }
            "endpoint" => {
                let args = d.remaining_args();
                let Some(first) = args.first() else {
                    return Err(d.arg_err());
                };
                if args.len() > 1 {
                    crate::log::warning(
                        Some("kubernetes"),
                        &format!("Multiple endpoints have been deprecated, only the first specified endpoint '{first}' is used"),
                    );
                }
                endpoint = Some(first.clone());
            }
            "tls" => {
                let args = d.remaining_args();
                let [cert, key, ca] = args.as_slice() else {
                    return Err(d.arg_err());
                };
                tls = Some((cert.clone(), key.clone(), ca.clone()));
            }
            "labels" | "namespace_labels" => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                let text = args.join(" ");
                let which = if what == "labels" {
                    "label"
                } else {
                    "namespace_label"
                };
                let sel = selector::parse(&text).map_err(|e| {
                    d.err(format!(
                        "unable to parse {which} selector value: '{text}': {e}"
                    ))
                })?;
                if what == "labels" {
                    c.labels = Some(sel);
                } else {
                    c.namespace_labels = Some(sel);
                }
            }
            "fallthrough" => c.fall = Fallthrough::from_args(&d.remaining_args()),
            "ttl" => c.ttl = crate::plugin::external::parse_ttl(&mut d)?,
            "noendpoints" => {
                no_args(&mut d)?;
                c.noendpoints = true;
            }
            "zonal" => {
                no_args(&mut d)?;
                c.zonal = true;
            }
            "ignore" => {
                // As CoreDNS: `ignore` alone is accepted and does nothing.
                if let Some(i) = d.remaining_args().first() {
                    if i != "empty_service" {
                        return Err(d.err(format!("unable to parse ignore value: '{i}'")));
                    }
                    c.ignore_empty_service = true;
                }
            }
            "kubeconfig" => {
                let args = d.remaining_args();
                let (file, context) = match args.as_slice() {
                    [f] => (f, None),
                    [f, ctx] => (f, Some(ctx.clone())),
                    _ => return Err(d.arg_err()),
                };
                kubeconfig = Some(Source::Kubeconfig {
                    path: b.path(file),
                    context,
                });
            }
            "multicluster" => c.multicluster = names::host_zones(&d.remaining_args(), &[]),
            "startup_timeout" => {
                let args = d.remaining_args();
                let Some(t) = args.first() else {
                    return Err(d.arg_err());
                };
                c.startup_timeout = duration::parse_signed(t)
                    .map(|(neg, v)| if neg { Duration::ZERO } else { v })
                    .map_err(|e| d.err(format!("failed to parse startup_timeout: {t}, {e}")))?;
            }
            "apiserver_qps" => {
                let v = one_arg(&mut d)?;
                let qps = strconv::parse_float(&v)
                    .map_err(|e| d.err(format!("invalid apiserver_qps {}: {e}", quoted(&v))))?;
                if qps < 0.0 {
                    return Err(d.err("apiserver_qps must be >= 0"));
                }
                c.api_qps = Some(qps as f32);
            }
            "apiserver_burst" | "apiserver_max_inflight" => {
                let v = one_arg(&mut d)?;
                let n = strconv::atoi(&v)
                    .map_err(|e| d.err(format!("invalid {what} {}: {e}", quoted(&v))))?;
                if n < 0 {
                    return Err(d.err(format!("{what} must be >= 0")));
                }
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                if what == "apiserver_burst" {
                    c.api_burst = Some(n);
                } else {
                    c.api_max_inflight = Some(n);
                }
            }
            other => return Err(d.err(format!("unknown property '{other}'"))),
        }
    }
    if !c.namespaces.is_empty() && c.namespace_labels.is_some() {
        return Err(d.err("namespaces and namespace_labels cannot both be set"));
    }
    for z in &c.multicluster {
        if !c.zones.contains(z) {
            return Err(d.err(format!(
                "is not authoritative for the multicluster zone {z} (authoritative zones: [{}])",
                c.zones.join(" ")
            )));
        }
    }
    if c.zonal && c.noendpoints {
        return Err(d.err("zonal requires the endpoint cache; remove noendpoints"));
    }
    // client-go: a kubeconfig wins over `endpoint`; `tls` only goes with it.
    c.source = match (kubeconfig, endpoint) {
        (Some(k), _) => k,
        (None, Some(url)) => Source::Endpoint { url, tls },
        (None, None) => Source::InCluster,
    };
    Ok(c)
}

fn quoted(s: &str) -> String {
    crate::gocompat::quote::quote(s)
}

fn no_args(d: &mut Dispenser<'_>) -> Result<(), Error> {
    if d.remaining_args().is_empty() {
        Ok(())
    } else {
        Err(d.arg_err())
    }
}

fn one_arg(d: &mut Dispenser<'_>) -> Result<String, Error> {
    let args = d.remaining_args();
    match args.as_slice() {
        [v] => Ok(v.clone()),
        _ => Err(d.arg_err()),
    }
}
