//! The Kubernetes manifests under config/kubernetes/ are valid objects, as
//! a real kube-apiserver validates them: each is created with a server-side
//! dry run and strict field validation (unknown or misspelled fields are
//! refused), placeholders filled as an operator fills them.

#[path = "common/k8s.rs"]
mod k8s;

use k8s_openapi::serde_json::{json, Value};

/// The manifest's documents, placeholders filled.
fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(format!(
        "{}/../config/kubernetes/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("__PILLAR__LOCAL__DNS__", "169.254.20.10")
    .replace("__PILLAR__DNS__SERVER__", "10.96.0.10")
    .replace("__PILLAR__DNS__DOMAIN__", "cluster.local");
    text.split("\n---\n")
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|d| serde_yaml::from_str::<Value>(d).unwrap_or_else(|e| panic!("{file}: {e}\n{d}")))
        .collect()
}

/// Where a kind is created.
fn path(doc: &Value) -> String {
    let ns = doc["metadata"]["namespace"].as_str().unwrap_or("default");
    let (base, plural) = match doc["kind"].as_str().unwrap() {
        "ServiceAccount" => ("/api/v1", "serviceaccounts"),
        "Service" => ("/api/v1", "services"),
        "ConfigMap" => ("/api/v1", "configmaps"),
        "DaemonSet" => ("/apis/apps/v1", "daemonsets"),
        k => panic!("no path for kind {k}"),
    };
    format!("{base}/namespaces/{ns}/{plural}?dryRun=All&fieldValidation=Strict")
}

#[test]
fn node_local_dns_manifest_is_valid() {
    let Some(api) = k8s::api() else { return };
    let docs = documents("node-local-dns.yaml");
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "ServiceAccount",
            "Service",
            "ConfigMap",
            "DaemonSet",
            "Service"
        ]
    );
    for d in &docs {
        let got = api.call("POST", &path(d), Some(d));
        assert_eq!(got["kind"], d["kind"], "{got}");
    }
    // The validator refuses what is wrong: a misspelled field.
    let mut bad = docs[3].clone();
    bad["spec"]["template"]["spec"]["hostNetwrok"] = json!(true);
    let answer = std::panic::catch_unwind(|| api.call("POST", &path(&bad), Some(&bad)));
    assert!(answer.is_err(), "a misspelled field was accepted");
}
