//! node-cache's Corefile templating (its configmap.go): the template
//! (`-basecorefile`) with its placeholders filled — the upstream servers
//! (the kube-dns ConfigMap's `upstreamNameservers`, else
//! `/etc/resolv.conf`), the cluster DNS (the upstream Service's cluster IP
//! from its `*_SERVICE_HOST` variable), the local addresses — and a server
//! block per stub domain of the ConfigMap appended.

use super::Flags;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

const UPSTREAM_SERVERS: &str = "__PILLAR__UPSTREAM__SERVERS__";
const CLUSTER_DNS: &str = "__PILLAR__CLUSTER__DNS__";
const LOCAL_DNS: &str = "__PILLAR__LOCAL__DNS__";
const DNS_SERVER: &str = "__PILLAR__DNS__SERVER__";
/// Where node-cache looks for the kube-dns ConfigMap when not told.
const DEFAULT_KUBEDNS_CM: &str = "/etc/kube-dns";
/// The TCP forward block node-cache's template has, which custom
/// upstreams turn into UDP.
const UPSTREAM_TCP: &str =
    "\n    forward . __PILLAR__UPSTREAM__SERVERS__ {\n            force_tcp\n    }\n";

/// The cluster IP of Service `svc` as Kubernetes gives it to every pod
/// (`KUBE_DNS_SERVICE_HOST` for `kube-dns`).
pub fn cluster_dns(svc: &str) -> Option<String> {
    let var = format!("{}_SERVICE_HOST", svc.replace('-', "_").to_uppercase());
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

/// The kube-dns ConfigMap's folder: the flag's, else node-cache's default
/// where it exists.
fn kubedns_dir(flags: &Flags) -> Option<PathBuf> {
    flags.kubedns_cm.clone().or_else(|| {
        Path::new(DEFAULT_KUBEDNS_CM)
            .is_dir()
            .then(|| DEFAULT_KUBEDNS_CM.into())
    })
}

/// A kube-dns ConfigMap's stub domains (domain to servers) and upstream
/// name servers.
type KubeDns = (BTreeMap<String, Vec<String>>, Vec<String>);

/// The ConfigMap's stub domains and upstream name servers (its files
/// `stubDomains` and `upstreamNameservers`, JSON); what is missing is empty.
fn kubedns(dir: &Path) -> Result<KubeDns, String> {
    let read = |name: &str| -> Result<Option<serde_json::Value>, String> {
        let p = dir.join(name);
        match std::fs::read_to_string(&p) {
            Ok(t) if t.trim().is_empty() => Ok(None),
            Ok(t) => serde_json::from_str(&t)
                .map(Some)
                .map_err(|e| format!("Invalid config: {}: {e}", p.display())),
            Err(_) => Ok(None),
        }
    };
    let strings = |v: &serde_json::Value, what: &str| -> Result<Vec<String>, String> {
        v.as_array()
            .and_then(|a| a.iter().map(|s| s.as_str().map(String::from)).collect())
            .ok_or_else(|| format!("Invalid config: {what}: not a list of strings"))
    };
    let mut stubs = BTreeMap::new();
    if let Some(v) = read("stubDomains")? {
        let m = v
            .as_object()
            .ok_or("Invalid config: stubDomains: not a map")?;
        for (domain, servers) in m {
            stubs.insert(domain.clone(), strings(servers, "stubDomains")?);
        }
    }
    let upstreams = match read("upstreamNameservers")? {
        Some(v) => strings(&v, "upstreamNameservers")?,
        None => Vec::new(),
    };
    Ok((stubs, upstreams))
}

/// The Corefile node-cache would write, or why there is none (its words).
pub fn render(
    flags: &Flags,
    ips: &[IpAddr],
    port: u16,
    cluster_dns: Option<&str>,
) -> Result<String, String> {
    let base = std::fs::read_to_string(&flags.base_corefile).map_err(|e| {
        format!(
            "Failed to read node-cache coreFile {} - {e}",
            flags.base_corefile.display()
        )
    })?;
    let (stubs, upstreams) = match kubedns_dir(flags) {
        Some(dir) => kubedns(&dir)?,
        None => Default::default(),
    };
    let local = ips
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = if upstreams.is_empty() {
        base.replace(UPSTREAM_SERVERS, "/etc/resolv.conf")
    } else {
        let servers = upstreams.join(" ");
        let udp = format!("\n    forward . {servers}\n");
        let t = base.replace(UPSTREAM_TCP, &udp);
        t.replace(UPSTREAM_SERVERS, &servers)
    };
    // node-cache writes Go's `<nil>` for an unknown cluster IP.
    text = text.replace(CLUSTER_DNS, cluster_dns.unwrap_or("<nil>"));
    text = text.replace(LOCAL_DNS, &local);
    text = text.replace(DNS_SERVER, "");
    for (domain, servers) in &stubs {
        text.push_str(&format!(
            "\n{domain}:{port} {{\n    errors\n    cache 30\n    bind {local}\n    forward . {}\n}}\n",
            servers.join(" ")
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_the_template_as_node_cache_does() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("Corefile.base");
        std::fs::write(
            &base,
            "cluster.local:53 {\n    bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__\n    forward . __PILLAR__CLUSTER__DNS__ {\n            force_tcp\n    }\n}\n.:53 {\n    bind __PILLAR__LOCAL__DNS__ __PILLAR__DNS__SERVER__\n    forward . __PILLAR__UPSTREAM__SERVERS__ {\n            force_tcp\n    }\n}\n",
        )
        .unwrap();
        let cm = dir.path().join("cm");
        std::fs::create_dir(&cm).unwrap();
        let flags = Flags {
            base_corefile: base,
            kubedns_cm: Some(cm.clone()),
            ..Flags::default()
        };
        let ips: Vec<IpAddr> = vec![
            "169.254.20.10".parse().unwrap(),
            "10.96.0.10".parse().unwrap(),
        ];
        let t = render(&flags, &ips, 53, Some("10.96.0.11")).unwrap();
        assert!(t.contains("bind 169.254.20.10 10.96.0.10 \n"), "{t}");
        assert!(t.contains("forward . 10.96.0.11 {"), "{t}");
        assert!(
            t.contains("forward . /etc/resolv.conf {\n            force_tcp"),
            "{t}"
        );
        std::fs::write(cm.join("upstreamNameservers"), r#"["1.1.1.1", "8.8.8.8"]"#).unwrap();
        std::fs::write(cm.join("stubDomains"), r#"{"acme.local": ["10.0.0.53"]}"#).unwrap();
        let t = render(&flags, &ips, 53, None).unwrap();
        // Custom upstreams go over UDP.
        assert!(t.contains("\n    forward . 1.1.1.1 8.8.8.8\n}"), "{t}");
        assert!(t.contains("forward . <nil> {"), "{t}");
        assert!(
            t.ends_with("\nacme.local:53 {\n    errors\n    cache 30\n    bind 169.254.20.10 10.96.0.10\n    forward . 10.0.0.53\n}\n"),
            "{t}"
        );
        std::fs::write(cm.join("stubDomains"), "{bad").unwrap();
        assert!(render(&flags, &ips, 53, None)
            .unwrap_err()
            .starts_with("Invalid config"));
        let missing = Flags {
            base_corefile: dir.path().join("nope"),
            ..flags
        };
        assert!(render(&missing, &ips, 53, None)
            .unwrap_err()
            .starts_with("Failed to read node-cache coreFile"));
    }
}
