//! A real kube-apiserver and etcd for one test binary, started on first
//! use from the binaries `cargo xtask k8s build` caches (the same code
//! `cargo xtask k8s start` runs: xtask/src/k8s/cluster.rs), and objects
//! created through the API over HTTPS (curl with the cluster's token).
//!
//! Where the binaries are: `$FERRODNS_K8S_BIN` (set by `cargo xtask test`,
//! which builds them first; then they must be there), else the cache's
//! default folder. Missing there, [`api`] returns None after printing
//! SKIPPED with the command that builds them, and the tests return.
#![allow(dead_code)] // each test binary uses part of this

#[path = "../../../xtask/src/k8s/cluster.rs"]
mod cluster;

use k8s_openapi::serde_json::{self, json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The running API server.
pub struct Api {
    pub server: String,
    pub kubeconfig: PathBuf,
    pub ca: PathBuf,
    pub dir: PathBuf,
}

/// The tools' cache folder as xtask computes it (`coredns::cache_dir`).
fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    var("FERRODNS_CACHE")
        .map(PathBuf::from)
        .or_else(|| var("XDG_CACHE_HOME").map(|d| Path::new(&d).join("ferrodns")))
        .or_else(|| var("HOME").map(|d| Path::new(&d).join(".cache/ferrodns")))
}

/// The API server of this test binary, started on first call; None (with
/// SKIPPED printed) when its binaries have not been built.
pub fn api() -> Option<&'static Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    API.get_or_init(start).as_ref()
}

fn start() -> Option<Api> {
    let (bin, required) = match std::env::var_os("FERRODNS_K8S_BIN") {
        Some(b) => (PathBuf::from(b), true),
        None => (cluster::bin_dir(&cache_dir()?), false),
    };
    if cluster::binaries(&bin).is_none() {
        assert!(
            !required,
            "FERRODNS_K8S_BIN={} holds no etcd and kube-apiserver",
            bin.display()
        );
        let msg = format!(
            "SKIPPED: no kube-apiserver and etcd in {}: run `cargo xtask k8s build` (once, about 5 minutes)",
            bin.display()
        );
        println!("{msg}");
        eprintln!("{msg}");
        return None;
    }
    let tmp = std::env::temp_dir();
    remove_stale(&tmp);
    let dir = tmp.join(format!("ferrodns-k8s-{}", std::process::id()));
    // The processes die with the thread that started them (their parent-
    // death signal), so that thread lives as long as the test binary.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || match cluster::start(&bin, &dir, true) {
        Ok(c) => {
            let _ = tx.send(Ok(Api {
                server: c.server.clone(),
                kubeconfig: c.kubeconfig.clone(),
                ca: c.ca.clone(),
                dir: c.dir.clone(),
            }));
            // Holds the children (and so the processes) until the end.
            let _kept = c;
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            let _ = tx.send(Err(e));
        }
    });
    match rx.recv().expect("the API server's keeper thread") {
        Ok(api) => Some(api),
        Err(e) => panic!("kube-apiserver did not start: {e:#}"),
    }
}

/// Work folders of test binaries that are gone.
fn remove_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix("ferrodns-k8s-") else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Api {
    /// One request to the API; the JSON it answers. Panics on an HTTP error.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let body = body.map(Value::to_string);
        let answer = cluster::call(&self.server, &self.ca, method, path, body.as_deref())
            .unwrap_or_else(|e| panic!("{e:#}"));
        serde_json::from_str(&answer).unwrap_or(Value::Null)
    }

    /// [`Api::call`], its failure returned.
    pub fn try_call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, String> {
        let body = body.map(Value::to_string);
        cluster::call(&self.server, &self.ca, method, path, body.as_deref())
            .map(|a| serde_json::from_str(&a).unwrap_or(Value::Null))
            .map_err(|e| format!("{e:#}"))
    }

    pub fn post(&self, path: &str, body: Value) -> Value {
        self.call("POST", path, Some(&body))
    }

    /// A JSON merge patch.
    pub fn patch(&self, path: &str, body: Value) -> Value {
        self.call("PATCH", path, Some(&body))
    }

    pub fn delete(&self, path: &str) {
        self.call("DELETE", path, None);
    }

    pub fn namespace(&self, name: &str, labels: Value) {
        self.post(
            "/api/v1/namespaces",
            json!({"metadata": {"name": name, "labels": labels}}),
        );
    }

    /// A Service: `spec` as the API takes it; `labels` on its metadata.
    pub fn service(&self, ns: &str, name: &str, labels: Value, spec: Value) -> Value {
        self.post(
            &format!("/api/v1/namespaces/{ns}/services"),
            json!({"metadata": {"name": name, "labels": labels}, "spec": spec}),
        )
    }

    pub fn delete_service(&self, ns: &str, name: &str) {
        self.delete(&format!("/api/v1/namespaces/{ns}/services/{name}"));
    }

    /// An EndpointSlice of Service `svc` named `name`: `endpoints` and
    /// `ports` as the API takes them.
    pub fn slice(
        &self,
        ns: &str,
        svc: &str,
        name: &str,
        family: &str,
        endpoints: Value,
        ports: Value,
    ) {
        self.post(
            &format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"),
            json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/service-name": svc}},
                "addressType": family,
                "endpoints": endpoints,
                "ports": ports,
            }),
        );
    }

    pub fn patch_slice(&self, ns: &str, name: &str, body: Value) {
        self.patch(
            &format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}"),
            body,
        );
    }

    pub fn delete_slice(&self, ns: &str, name: &str) {
        self.delete(&format!(
            "/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices/{name}"
        ));
    }

    /// A Pod with the given IPs (set through its status: no kubelet here).
    pub fn pod(&self, ns: &str, name: &str, ips: &[&str]) {
        self.post(
            &format!("/api/v1/namespaces/{ns}/pods"),
            json!({
                "metadata": {"name": name},
                "spec": {"containers": [{"name": "c", "image": "none"}]},
            }),
        );
        let ips: Vec<Value> = ips.iter().map(|ip| json!({"ip": ip})).collect();
        self.patch(
            &format!("/api/v1/namespaces/{ns}/pods/{name}/status"),
            json!({"status": {"podIP": ips.first().map(|v| v["ip"].clone()), "podIPs": ips}}),
        );
    }

    pub fn delete_pod(&self, ns: &str, name: &str) {
        // No kubelet confirms the end: delete at once.
        self.delete(&format!(
            "/api/v1/namespaces/{ns}/pods/{name}?gracePeriodSeconds=0"
        ));
    }

    /// Installs the Multi-Cluster Services API's ServiceImport CRD
    /// (`multicluster.x-k8s.io/v1alpha1`, its schema cut to the fields DNS
    /// reads) once, and waits until it is Established and served.
    pub fn service_import_crd(&self) {
        static DONE: OnceLock<()> = OnceLock::new();
        DONE.get_or_init(|| {
            let crd = "serviceimports.multicluster.x-k8s.io";
            let port = json!({"type": "object", "required": ["port"], "properties": {
                "name": {"type": "string"}, "protocol": {"type": "string"},
                "appProtocol": {"type": "string"},
                "port": {"type": "integer", "format": "int32"}}});
            let schema = json!({"type": "object", "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true,
                    "required": ["ports", "type"],
                    "properties": {
                        "ips": {"type": "array", "items": {"type": "string"}},
                        "type": {"type": "string", "enum": ["ClusterSetIP", "Headless"]},
                        "ports": {"type": "array", "items": port}}},
                "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}});
            self.post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                json!({
                    "metadata": {"name": crd},
                    "spec": {
                        "group": "multicluster.x-k8s.io",
                        "scope": "Namespaced",
                        "names": {"plural": "serviceimports", "singular": "serviceimport",
                                  "kind": "ServiceImport", "listKind": "ServiceImportList",
                                  "shortNames": ["svcim"]},
                        "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                                      "subresources": {"status": {}},
                                      "schema": {"openAPIV3Schema": schema}}],
                    },
                }),
            );
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let got = self
                    .try_call(
                        "GET",
                        &format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{crd}"),
                        None,
                    )
                    .unwrap_or(Value::Null);
                let established = got["status"]["conditions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["type"] == "Established" && c["status"] == "True");
                let served = self
                    .try_call(
                        "GET",
                        "/apis/multicluster.x-k8s.io/v1alpha1/serviceimports",
                        None,
                    )
                    .is_ok();
                if established && served {
                    return;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{crd} not established: {got}"
                );
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        });
    }

    /// A ServiceImport: `spec` as the API takes it.
    pub fn service_import(&self, ns: &str, name: &str, spec: Value) {
        self.post(
            &format!("/apis/multicluster.x-k8s.io/v1alpha1/namespaces/{ns}/serviceimports"),
            json!({"apiVersion": "multicluster.x-k8s.io/v1alpha1", "kind": "ServiceImport",
                   "metadata": {"name": name}, "spec": spec}),
        );
    }

    pub fn patch_service_import(&self, ns: &str, name: &str, body: Value) {
        self.patch(
            &format!("/apis/multicluster.x-k8s.io/v1alpha1/namespaces/{ns}/serviceimports/{name}"),
            body,
        );
    }

    pub fn delete_service_import(&self, ns: &str, name: &str) {
        self.delete(&format!(
            "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/{ns}/serviceimports/{name}"
        ));
    }

    /// An EndpointSlice an MCS controller imported for ServiceImport `svc`
    /// from `cluster`.
    pub fn mc_slice(
        &self,
        ns: &str,
        svc: &str,
        cluster: &str,
        name: &str,
        endpoints: Value,
        ports: Value,
    ) {
        self.post(
            &format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"),
            json!({
                "metadata": {"name": name, "labels": {
                    "multicluster.kubernetes.io/service-name": svc,
                    "multicluster.kubernetes.io/source-cluster": cluster}},
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            }),
        );
    }
}
