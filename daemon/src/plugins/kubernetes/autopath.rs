//! The search path of a client Pod, for *autopath* `@kubernetes` (CoreDNS's
//! `Kubernetes.AutoPath`): with `pods verified`, for a query from a Pod's
//! address in one of the plugin's zones, `NS.svc.ZONE`, `svc.ZONE`, `ZONE`,
//! the search list of this machine's /etc/resolv.conf (read at setup),
//! then the name as asked.

use super::watch::Shared;
use crate::plugin::{names, Request, SearchPath};
use std::sync::Arc;

pub struct AutoPath {
    /// The plugin's zones, lowercased, fully qualified.
    pub zones: Vec<String>,
    /// `pods verified`: Pods are watched (otherwise no path).
    pub verified: bool,
    /// /etc/resolv.conf's search list, normalized.
    pub resolv: Vec<String>,
    pub shared: Arc<Shared>,
}

/// /etc/resolv.conf's search list, lowercased and fully qualified; empty
/// when it cannot be read (CoreDNS's `searchFromResolvConf`).
pub fn resolv_search() -> Vec<String> {
    crate::gocompat::resolv::search(std::path::Path::new("/etc/resolv.conf"))
        .unwrap_or_default()
        .iter()
        .map(|s| names::normalize(s))
        .collect()
}

impl SearchPath for AutoPath {
    fn search(&self, req: &Request) -> Option<Vec<String>> {
        let zone = names::zone_match(&self.zones, &req.name)?;
        if !self.verified {
            return None;
        }
        let ix = self.shared.index.load();
        // CoreDNS takes the first Pod its index holds for the address.
        let pod = ix.pods_at(&req.src.ip().to_string()).first().cloned()?;
        let mut path = Vec::with_capacity(4 + self.resolv.len());
        if zone == "." {
            path.push(format!("{}.svc.", pod.namespace));
            path.push("svc.".to_string());
            path.push(".".to_string());
        } else {
            path.push(format!("{}.svc.{zone}", pod.namespace));
            path.push(format!("svc.{zone}"));
            path.push(zone.to_string());
        }
        path.extend(self.resolv.iter().cloned());
        path.push(String::new());
        Some(path)
    }
}
