//! The kubernetes plugin's `multicluster` zones against a real
//! kube-apiserver: the Multi-Cluster Services API's ServiceImport CRD is
//! installed in this binary's API server (common/k8s.rs starts one per
//! test binary, so kubernetes.rs keeps an API server without it, where
//! its absence is tested), ServiceImports and imported EndpointSlices are
//! created through the API, and the real ferrodns binary answers for them.
//! Without the API server's binaries every test says SKIPPED and returns.

mod common;
#[path = "common/k8s.rs"]
mod k8s;

use common::{answers, section, Server};
use common::{ask, until};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use k8s::Api;
use k8s_openapi::serde_json::{json, Value};
use std::time::Duration;

/// The API server with the ServiceImport CRD, or None without binaries;
/// held by one test at a time: a server watches every namespace's imports,
/// and the multicluster zones' serial moves with any update of them.
fn api() -> Option<(&'static Api, std::sync::MutexGuard<'static, ()>)> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let api = k8s::api()?;
    api.service_import_crd();
    Some((api, ONE.lock().unwrap_or_else(|e| e.into_inner())))
}

/// A ferrodns serving cluster.local and clusterset.local (multicluster).
fn serve(api: &Api) -> Server {
    Server::start(
        &format!(
            "cluster.local:{{PORT}} clusterset.local:{{PORT}} {{\n\
             \tkubernetes cluster.local clusterset.local {{\n\
             \t\tkubeconfig {}\n\t\tmulticluster clusterset.local\n\t}}\n}}\n",
            api.kubeconfig.display()
        ),
        &[],
    )
}

fn port(name: &str, port: u16, proto: &str) -> Value {
    json!({"name": name, "port": port, "protocol": proto})
}

/// The SOA serial of a negative answer.
fn serial(m: &Message) -> u32 {
    match m.authorities.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) => soa.serial,
        other => panic!("no SOA: {other:?}"),
    }
}

#[test]
fn service_imports_and_their_endpoints() {
    let Some((api, _one)) = api() else { return };
    let ns = "t-mc";
    api.namespace(ns, json!({}));
    api.service_import(
        ns,
        "web",
        json!({"type": "ClusterSetIP", "ips": ["10.200.1.1"],
               "ports": [port("http", 80, "TCP"), port("dns", 53, "UDP")]}),
    );
    api.service_import(
        ns,
        "bare",
        json!({"type": "ClusterSetIP", "ips": ["10.200.1.2"], "ports": []}),
    );
    api.service_import(
        ns,
        "hl",
        json!({"type": "Headless", "ports": [port("http", 8080, "TCP")]}),
    );
    for (cluster, ips) in [
        ("east", ["10.5.1.1", "10.5.1.2"]),
        ("west", ["10.6.1.1", "10.6.1.2"]),
    ] {
        api.mc_slice(
            ns,
            "hl",
            cluster,
            &format!("hl-{cluster}"),
            json!([{"addresses": [ips[0]], "hostname": "a"},
                   {"addresses": [ips[1]], "conditions": {"ready": false}}]),
            json!([port("http", 8080, "TCP")]),
        );
    }
    // An ordinary Service of the same name: the cluster's zone only.
    api.service(
        ns,
        "web",
        json!({}),
        json!({"clusterIP": "10.96.7.7", "ports": [port("http", 80, "TCP")]}),
    );
    let s = serve(api);
    let z = "clusterset.local.";
    let web = format!("web.{ns}.svc.{z}");
    assert_eq!(
        answers(&ask(&s, &web, RecordType::A)),
        [format!("{web} 5 A 10.200.1.1")]
    );
    assert_eq!(
        answers(&ask(
            &s,
            &format!("web.{ns}.svc.cluster.local."),
            RecordType::A
        )),
        [format!("web.{ns}.svc.cluster.local. 5 A 10.96.7.7")]
    );
    let m = ask(&s, &format!("_dns._udp.{web}"), RecordType::SRV);
    assert_eq!(
        answers(&m),
        [format!("_dns._udp.{web} 5 SRV 0 100 53 {web}")]
    );
    assert_eq!(section(&m.additionals), [format!("{web} 5 A 10.200.1.1")]);
    // Headless: every cluster's ready endpoints, named with their cluster.
    let hl = format!("hl.{ns}.svc.{z}");
    // (The slices come in no set order, in CoreDNS as here.)
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let m = ask(&s, &hl, RecordType::SRV);
    assert_eq!(
        sorted(answers(&m)),
        [
            format!("{hl} 5 SRV 0 50 8080 a.east.{hl}"),
            format!("{hl} 5 SRV 0 50 8080 a.west.{hl}")
        ]
    );
    assert_eq!(
        sorted(section(&m.additionals)),
        [
            format!("a.east.{hl} 5 A 10.5.1.1"),
            format!("a.west.{hl} 5 A 10.6.1.1")
        ]
    );
    assert_eq!(
        answers(&ask(&s, &format!("a.west.{hl}"), RecordType::A)),
        [format!("a.west.{hl} 5 A 10.6.1.1")]
    );
    // Names that do not exist, and the zone's own serial: CoreDNS's
    // `multiClusterModified`, which only updates move (none yet).
    for name in [
        format!("a.{hl}"),
        format!("a.north.{hl}"),
        format!("bare.{ns}.svc.{z}"),
        format!("_ftp._tcp.{web}"),
        format!("gone.{ns}.svc.{z}"),
    ] {
        let m = ask(&s, &name, RecordType::A);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert_eq!(serial(&m), 0, "{name}");
    }
    let m = ask(&s, &web, RecordType::TXT);
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
    let m = ask(&s, &format!("{ns}.svc.{z}"), RecordType::A);
    assert_eq!(
        (m.metadata.response_code, m.answers.len()),
        (ResponseCode::NoError, 0)
    );
    // The cluster's zone's serial is the time of the last addition.
    let m = ask(&s, &format!("gone.{ns}.svc.cluster.local."), RecordType::A);
    assert!(serial(&m) > 1_700_000_000);
}

#[test]
fn changes_are_answered_within_a_second() {
    let Some((api, _one)) = api() else { return };
    let ns = "t-mc-changes";
    api.namespace(ns, json!({}));
    let s = serve(api);
    let second = Duration::from_secs(1);
    let z = "clusterset.local.";
    let web = format!("web.{ns}.svc.{z}");
    assert_eq!(
        ask(&s, &web, RecordType::A).metadata.response_code,
        ResponseCode::NXDomain
    );
    api.service_import(
        ns,
        "web",
        json!({"type": "ClusterSetIP", "ips": ["10.200.2.1"], "ports": [port("http", 80, "TCP")]}),
    );
    until(&s, &web, RecordType::A, second, |m| {
        answers(m) == [format!("{web} 5 A 10.200.2.1")]
    });
    // A new address: answered, the serial stays (addresses do not count).
    api.patch_service_import(ns, "web", json!({"spec": {"ips": ["10.200.2.2"]}}));
    until(&s, &web, RecordType::A, second, |m| {
        answers(m) == [format!("{web} 5 A 10.200.2.2")]
    });
    let nx = format!("_ftp._tcp.{web}");
    assert_eq!(serial(&ask(&s, &nx, RecordType::SRV)), 0);
    // New ports: answered, and the zone's serial moves.
    api.patch_service_import(
        ns,
        "web",
        json!({"spec": {"ports": [port("ftp", 21, "TCP")]}}),
    );
    let m = until(&s, &nx, RecordType::SRV, second, |m| m.answers.len() == 1);
    assert_eq!(answers(&m), [format!("{nx} 5 SRV 0 100 21 {web}")]);
    assert!(serial(&ask(&s, &format!("gone.{ns}.svc.{z}"), RecordType::A)) > 1_700_000_000);
    // Headless, its endpoints coming with their slices.
    api.service_import(
        ns,
        "hl",
        json!({"type": "Headless", "ports": [port("http", 80, "TCP")]}),
    );
    let hl = format!("hl.{ns}.svc.{z}");
    until(&s, &hl, RecordType::A, second, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    });
    api.mc_slice(
        ns,
        "hl",
        "east",
        "hl-east",
        json!([{"addresses": ["10.5.2.1"]}]),
        json!([port("http", 80, "TCP")]),
    );
    until(
        &s,
        &format!("10-5-2-1.east.{hl}"),
        RecordType::A,
        second,
        |m| answers(m) == [format!("10-5-2-1.east.{hl} 5 A 10.5.2.1")],
    );
    api.patch_slice(
        ns,
        "hl-east",
        json!({"endpoints": [{"addresses": ["10.5.2.9"]}]}),
    );
    until(&s, &hl, RecordType::A, second, |m| {
        answers(m) == [format!("{hl} 5 A 10.5.2.9")]
    });
    api.delete_slice(ns, "hl-east");
    until(&s, &hl, RecordType::A, second, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    });
    api.delete_service_import(ns, "web");
    until(&s, &web, RecordType::A, second, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    });
}
