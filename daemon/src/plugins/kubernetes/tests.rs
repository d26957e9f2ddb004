//! Tests of the kubernetes plugin: its setup (errors as CoreDNS 1.14.7
//! words them) and its answers over a fixed index built from API objects.

use super::index::{self, Index};
use super::*;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request, show};
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use k8s_openapi::serde_json::{self, json, Value};
use std::net::IpAddr;

fn parse(text: &str) -> Result<Config, crate::corefile::Error> {
    let b = BlockSetup::new(vec!["cluster.local.".into()]);
    setup::parse(&b, &[&directive(text)])
}

fn err(text: &str) -> String {
    match parse(text) {
        Ok(c) => panic!("{text:?} parsed: {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn options() {
    let c = parse("kubernetes").unwrap();
    assert_eq!(c.zones, ["cluster.local."]);
    assert_eq!(c.source, Source::InCluster);
    assert_eq!((c.ttl, c.pods), (5, PodMode::Disabled));
    assert_eq!(c.startup_timeout, Duration::from_secs(5));
    let c = parse(
        "kubernetes Cluster.Local 10.in-addr.arpa {\n\
         endpoint https://127.0.0.1:6443 https://other:6443\n\
         tls c.pem k.pem ca.pem\n\
         namespaces a b\n\
         labels app=web, tier in (x,y)\n\
         pods verified\n\
         endpoint_pod_names\n\
         ttl 30\n\
         noendpoints\n\
         fallthrough in-addr.arpa\n\
         ignore empty_service\n\
         startup_timeout 2s\n\
         multicluster cluster.local\n\
         apiserver_qps 20\n\
         apiserver_burst 5\n\
         apiserver_max_inflight 3\n\
         }",
    )
    .unwrap();
    assert_eq!(c.zones, ["cluster.local.", "10.in-addr.arpa."]);
    assert_eq!(c.primary, 0);
    assert_eq!(
        c.source,
        Source::Endpoint {
            url: "https://127.0.0.1:6443".into(),
            tls: Some(("c.pem".into(), "k.pem".into(), "ca.pem".into()))
        }
    );
    assert_eq!(c.namespaces.iter().collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(
        c.labels
            .as_ref()
            .map(selector::Selector::to_query)
            .as_deref(),
        Some("app=web,tier in (x,y)")
    );
    assert_eq!(c.pods, PodMode::Verified);
    assert!(c.endpoint_pod_names && c.noendpoints && c.ignore_empty_service);
    assert_eq!(c.ttl, 30);
    assert!(c.fall.through("4.3.2.1.in-addr.arpa.") && !c.fall.through("a.cluster.local."));
    assert_eq!(c.startup_timeout, Duration::from_secs(2));
    assert_eq!(c.multicluster, ["cluster.local."]);
    assert_eq!(
        (c.api_qps, c.api_burst, c.api_max_inflight),
        (Some(20.0), Some(5), Some(3))
    );
    // A kubeconfig wins over endpoint, as client-go's loading does.
    let c = parse("kubernetes {\nendpoint http://x\nkubeconfig /k ctx\n}").unwrap();
    assert_eq!(
        c.source,
        Source::Kubeconfig {
            path: "/k".into(),
            context: Some("ctx".into())
        }
    );
    // `ignore` alone is taken and does nothing.
    assert!(
        !parse("kubernetes {\nignore\n}")
            .unwrap()
            .ignore_empty_service
    );
}

// Each error as CoreDNS 1.14.7 gave it for the same lines (its
// `Corefile:N - Error during parsing:` aside).
#[test]
fn errors_read_as_coredns() {
    let cases = [
        ("kubernetes {\npods bogus\n}", "Corefile:2: wrong value for pods: bogus,  must be one of: disabled, verified, insecure"),
        ("kubernetes {\nttl abc\n}", "Corefile:2: strconv.Atoi: parsing \"abc\": invalid syntax"),
        ("kubernetes {\nttl 4000\n}", "Corefile:2: ttl must be in range [0, 3600]: 4000"),
        ("kubernetes {\nbogus\n}", "Corefile:2: unknown property 'bogus'"),
        ("kubernetes {\nnamespaces\n}", "Corefile:2: Wrong argument count or unexpected line ending after 'namespaces'"),
        ("kubernetes {\nkubeconfig\n}", "Corefile:2: Wrong argument count or unexpected line ending after 'kubeconfig'"),
        ("kubernetes {\nstartup_timeout x\n}", "Corefile:2: failed to parse startup_timeout: x, time: invalid duration \"x\""),
        ("kubernetes {\nignore foo\n}", "Corefile:2: unable to parse ignore value: 'foo'"),
        ("kubernetes {\nmulticluster other.org\n}", "Corefile:3: is not authoritative for the multicluster zone other.org. (authoritative zones: [cluster.local.])"),
        ("kubernetes 10.in-addr.arpa", "Corefile:1: non-reverse zone name must be used"),
        ("kubernetes {\nlabels a b\n}", "Corefile:2: unable to parse label selector value: 'a b': couldn't parse the selector string \"a b\": unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("kubernetes {\nnamespace_labels a=b c\n}", "Corefile:2: unable to parse namespace_label selector value: 'a=b c': couldn't parse the selector string \"a=b c\": found 'c', expected: ',' or 'end of string'"),
        ("kubernetes {\nnamespaces a\nnamespace_labels x=y\n}", "Corefile:4: namespaces and namespace_labels cannot both be set"),
        ("kubernetes {\nzonal\nnoendpoints\n}", "Corefile:4: zonal requires the endpoint cache; remove noendpoints"),
        ("kubernetes {\napiserver_qps x\n}", "Corefile:2: invalid apiserver_qps \"x\": strconv.ParseFloat: parsing \"x\": invalid syntax"),
        ("kubernetes {\napiserver_burst -1\n}", "Corefile:2: apiserver_burst must be >= 0"),
        ("kubernetes {\ntls a b\n}", "Corefile:2: Wrong argument count or unexpected line ending after 'b'"),
        ("kubernetes {\nendpoint_pod_names x\n}", "Corefile:2: Wrong argument count or unexpected line ending after 'x'"),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want, "{text}");
    }
}

#[test]
fn client_configuration_errors_read_as_client_go() {
    let e = |s: &Source| client::config(s).unwrap_err().to_string();
    assert_eq!(
        e(&Source::Kubeconfig {
            path: "/nonexistent/kc".into(),
            context: None
        }),
        "stat /nonexistent/kc: no such file or directory"
    );
    let dir = tempfile::tempdir().unwrap();
    let kc = dir.path().join("kc");
    std::fs::write(
        &kc,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\n\
         users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
    )
    .unwrap();
    let ctx = |c: &str| Source::Kubeconfig {
        path: kc.clone(),
        context: Some(c.into()),
    };
    assert_eq!(e(&ctx("nope")), "context \"nope\" does not exist");
    assert!(client::config(&ctx("x")).is_ok());
    assert_eq!(
        e(&Source::Endpoint {
            url: "https://127.0.0.1:1".into(),
            tls: Some(("/nonexistent/a".into(), "/nonexistent/b".into(), "/nonexistent/c".into()))
        }),
        "invalid configuration: [unable to read client-cert /nonexistent/a for  due to open /nonexistent/a: no such file or directory, \
         unable to read client-key /nonexistent/b for  due to open /nonexistent/b: no such file or directory, \
         unable to read certificate-authority /nonexistent/c for  due to open /nonexistent/c: no such file or directory]"
    );
}

fn obj<T: k8s_openapi::serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

/// A cluster: namespaces `demo` and `other`; in `demo` a ClusterIP
/// Service `web` (dual-stack, ports http/TCP and dns/UDP), a headless
/// `hl` with two ready endpoints (one named) and one not ready, an
/// ExternalName `ext`, and a Pod at 10.2.0.7.
fn cluster() -> Index {
    let svc = |v: Value| Arc::new(index::service(&obj(v)).unwrap());
    let services = [
        svc(
            json!({"metadata": {"name": "web", "namespace": "demo"}, "spec": {
            "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10", "fd00:96::10"],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]}}),
        ),
        svc(
            json!({"metadata": {"name": "hl", "namespace": "demo"}, "spec": {
            "clusterIP": "None", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}}),
        ),
        svc(
            json!({"metadata": {"name": "ext", "namespace": "demo"}, "spec": {
            "type": "ExternalName", "externalName": "web.demo.svc.cluster.local"}}),
        ),
    ];
    let slices = [Arc::new(
        index::endpoints(&obj(json!({
            "metadata": {"name": "hl-x", "namespace": "demo", "labels": {"kubernetes.io/service-name": "hl"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.1.0.1"], "targetRef": {"kind": "Pod", "name": "hl-pod-1"}},
                {"addresses": ["10.1.0.2"], "hostname": "two"},
                {"addresses": ["10.1.0.3"], "conditions": {"ready": false}},
            ],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        })))
        .unwrap(),
    )];
    let pods = [Arc::new(
        index::pod(&obj(json!({
            "metadata": {"name": "p", "namespace": "demo"},
            "status": {"podIP": "10.2.0.7"},
        })))
        .unwrap(),
    )];
    let mut ix = Index::build(
        services.iter(),
        slices.iter(),
        pods.iter(),
        ["demo", "other"].into_iter(),
    );
    ix.synced = true;
    ix.modified = 1_700_000_000;
    ix
}

fn plugin(extra: &str) -> Kubernetes {
    let c = parse(&format!(
        "kubernetes cluster.local in-addr.arpa ip6.arpa {{\n{extra}\n}}"
    ))
    .unwrap();
    let local: IpAddr = "192.0.2.53".parse().unwrap();
    Kubernetes::fixed(c, cluster(), vec![local])
}

fn ask(k: &Kubernetes, name: &str, qtype: RecordType) -> Message {
    let mut req = request(name, qtype);
    match k.query(&mut req) {
        Action::Done(o) => o.reply.expect("a written reply"),
        Action::Next => panic!("{name} {qtype}: passed on"),
        _ => panic!("{name} {qtype}: waits"),
    }
}

#[test]
fn cluster_ip_services() {
    let k = plugin("");
    assert_eq!(
        show(&ask(&k, "web.demo.svc.cluster.local.", RecordType::A)),
        "No Error\nan web.demo.svc.cluster.local. 5 IN A 10.96.0.10"
    );
    assert_eq!(
        show(&ask(&k, "Web.Demo.svc.Cluster.Local.", RecordType::AAAA)),
        "No Error\nan Web.Demo.svc.Cluster.Local. 5 IN AAAA fd00:96::10"
    );
    // SRV: one record per port, the service's name as target, its
    // addresses in the additional section; the weight shares 100 among
    // the records before duplicates go (one per port and address).
    assert_eq!(
        show(&ask(&k, "web.demo.svc.cluster.local.", RecordType::SRV)),
        "No Error\n\
         an web.demo.svc.cluster.local. 5 IN SRV 0 25 80 web.demo.svc.cluster.local.\n\
         an web.demo.svc.cluster.local. 5 IN SRV 0 25 53 web.demo.svc.cluster.local.\n\
         ar web.demo.svc.cluster.local. 5 IN A 10.96.0.10\n\
         ar web.demo.svc.cluster.local. 5 IN AAAA fd00:96::10"
    );
    assert_eq!(
        show(&ask(
            &k,
            "_dns._udp.web.demo.svc.cluster.local.",
            RecordType::SRV
        )),
        "No Error\n\
         an _dns._udp.web.demo.svc.cluster.local. 5 IN SRV 0 50 53 web.demo.svc.cluster.local.\n\
         ar web.demo.svc.cluster.local. 5 IN A 10.96.0.10\n\
         ar web.demo.svc.cluster.local. 5 IN AAAA fd00:96::10"
    );
    // A port the service lacks: no such name.
    let soa = "ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";
    assert_eq!(
        show(&ask(
            &k,
            "_dns._tcp.web.demo.svc.cluster.local.",
            RecordType::SRV
        )),
        format!("Non-Existent Domain\n{soa}")
    );
    // A type it has nothing of: NODATA.
    assert_eq!(
        show(&ask(&k, "web.demo.svc.cluster.local.", RecordType::MX)),
        format!("No Error\n{soa}")
    );
}

#[test]
fn headless_services_and_endpoints() {
    let k = plugin("");
    assert_eq!(
        show(&ask(&k, "hl.demo.svc.cluster.local.", RecordType::A)),
        "No Error\nan hl.demo.svc.cluster.local. 5 IN A 10.1.0.1\nan hl.demo.svc.cluster.local. 5 IN A 10.1.0.2"
    );
    assert_eq!(
        show(&ask(&k, "_http._tcp.hl.demo.svc.cluster.local.", RecordType::SRV)),
        "No Error\n\
         an _http._tcp.hl.demo.svc.cluster.local. 5 IN SRV 0 50 8080 10-1-0-1.hl.demo.svc.cluster.local.\n\
         an _http._tcp.hl.demo.svc.cluster.local. 5 IN SRV 0 50 8080 two.hl.demo.svc.cluster.local.\n\
         ar 10-1-0-1.hl.demo.svc.cluster.local. 5 IN A 10.1.0.1\n\
         ar two.hl.demo.svc.cluster.local. 5 IN A 10.1.0.2"
    );
    assert_eq!(
        show(&ask(&k, "two.hl.demo.svc.cluster.local.", RecordType::A)),
        "No Error\nan two.hl.demo.svc.cluster.local. 5 IN A 10.1.0.2"
    );
    // Not ready: no record.
    assert_eq!(
        ask(&k, "10-1-0-3.hl.demo.svc.cluster.local.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    // endpoint_pod_names: the target Pod's name where there is no hostname.
    let k = plugin("endpoint_pod_names");
    assert_eq!(
        show(&ask(
            &k,
            "hl-pod-1.hl.demo.svc.cluster.local.",
            RecordType::A
        )),
        "No Error\nan hl-pod-1.hl.demo.svc.cluster.local. 5 IN A 10.1.0.1"
    );
}

#[test]
fn names_that_do_not_exist_and_names_without_records() {
    let k = plugin("");
    let rcode = |n: &str, t| ask(&k, n, t).metadata.response_code;
    for (name, qtype, want) in [
        (
            "nope.demo.svc.cluster.local.",
            RecordType::A,
            ResponseCode::NXDomain,
        ),
        // No such namespace.
        (
            "web.gone.svc.cluster.local.",
            RecordType::A,
            ResponseCode::NXDomain,
        ),
        // Namespaces and the names above them exist, without records.
        (
            "demo.svc.cluster.local.",
            RecordType::A,
            ResponseCode::NoError,
        ),
        ("svc.cluster.local.", RecordType::A, ResponseCode::NoError),
        ("cluster.local.", RecordType::A, ResponseCode::NoError),
        // Neither svc nor pod.
        (
            "x.demo.foo.cluster.local.",
            RecordType::A,
            ResponseCode::NXDomain,
        ),
        // TXT has only dns-version; for others it is NXDOMAIN, or
        // NODATA where the name has records.
        (
            "web.demo.svc.cluster.local.",
            RecordType::TXT,
            ResponseCode::NoError,
        ),
        (
            "demo.svc.cluster.local.",
            RecordType::TXT,
            ResponseCode::NXDomain,
        ),
        // Pods are disabled by default.
        (
            "10-2-0-7.demo.pod.cluster.local.",
            RecordType::A,
            ResponseCode::NXDomain,
        ),
    ] {
        assert_eq!(rcode(name, qtype), want, "{name} {qtype}");
    }
    assert_eq!(
        show(&ask(&k, "dns-version.cluster.local.", RecordType::TXT)),
        "No Error\nan dns-version.cluster.local. 28800 IN TXT 1.1.0"
    );
    assert!(matches!(
        k.query(&mut request("cluster.local.", RecordType::AXFR)),
        Action::Done(Outcome {
            reply: None,
            rcode: ResponseCode::Refused,
            ..
        })
    ));
    // Other zones go on.
    assert!(matches!(
        k.query(&mut request("example.org.", RecordType::A)),
        Action::Next
    ));
    // fallthrough: NXDOMAIN goes on too.
    let k = plugin("fallthrough");
    assert!(matches!(
        k.query(&mut request("nope.demo.svc.cluster.local.", RecordType::A)),
        Action::Next
    ));
}

#[test]
fn not_synced_is_servfail() {
    let k = plugin("");
    let mut ix = cluster();
    ix.synced = false;
    k.shared.index.store(Arc::new(ix));
    assert_eq!(
        ask(&k, "nope.demo.svc.cluster.local.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::ServFail
    );
}

#[test]
fn apex_soa_ns_and_the_server_address() {
    let k = plugin("");
    assert_eq!(
        show(&ask(&k, "cluster.local.", RecordType::SOA)),
        "No Error\nan cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5"
    );
    assert_eq!(
        show(&ask(&k, "cluster.local.", RecordType::NS)),
        "No Error\nan cluster.local. 5 IN NS ns.dns.cluster.local.\nar ns.dns.cluster.local. 5 IN A 192.0.2.53"
    );
    assert_eq!(
        show(&ask(&k, "ns.dns.cluster.local.", RecordType::A)),
        "No Error\nan ns.dns.cluster.local. 5 IN A 192.0.2.53"
    );
}

#[test]
fn external_names_in_the_zone_are_followed() {
    let k = plugin("");
    assert_eq!(
        show(&ask(&k, "ext.demo.svc.cluster.local.", RecordType::A)),
        "No Error\n\
         an ext.demo.svc.cluster.local. 5 IN CNAME web.demo.svc.cluster.local.\n\
         an web.demo.svc.cluster.local. 5 IN A 10.96.0.10"
    );
    assert_eq!(
        show(&ask(&k, "ext.demo.svc.cluster.local.", RecordType::CNAME)),
        "No Error\nan ext.demo.svc.cluster.local. 5 IN CNAME web.demo.svc.cluster.local."
    );
    // SRV leaves external names out.
    assert_eq!(
        ask(&k, "ext.demo.svc.cluster.local.", RecordType::SRV)
            .answers
            .len(),
        0
    );
}

#[test]
fn reverse_names() {
    let k = plugin("");
    assert_eq!(
        show(&ask(&k, "10.0.96.10.in-addr.arpa.", RecordType::PTR)),
        "No Error\nan 10.0.96.10.in-addr.arpa. 5 IN PTR web.demo.svc.cluster.local."
    );
    assert_eq!(
        show(&ask(&k, "2.0.1.10.in-addr.arpa.", RecordType::PTR)),
        "No Error\nan 2.0.1.10.in-addr.arpa. 5 IN PTR two.hl.demo.svc.cluster.local."
    );
    let v6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa.";
    assert_eq!(
        ask(&k, v6, RecordType::PTR).answers[0].to_string(),
        format!("{v6} 5 IN PTR web.demo.svc.cluster.local.")
    );
    assert_eq!(
        ask(&k, "9.9.9.10.in-addr.arpa.", RecordType::PTR)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
}

#[test]
fn pods() {
    let k = plugin("pods insecure");
    assert_eq!(
        show(&ask(&k, "10-9-9-9.demo.pod.cluster.local.", RecordType::A)),
        "No Error\nan 10-9-9-9.demo.pod.cluster.local. 5 IN A 10.9.9.9"
    );
    assert_eq!(
        ask(&k, "not-an-ip.demo.pod.cluster.local.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    let k = plugin("pods verified");
    assert_eq!(
        show(&ask(&k, "10-2-0-7.demo.pod.cluster.local.", RecordType::A)),
        "No Error\nan 10-2-0-7.demo.pod.cluster.local. 5 IN A 10.2.0.7"
    );
    for name in [
        "10-9-9-9.demo.pod.cluster.local.",
        "10-2-0-7.other.pod.cluster.local.",
    ] {
        assert_eq!(
            ask(&k, name, RecordType::A).metadata.response_code,
            ResponseCode::NXDomain,
            "{name}"
        );
    }
}

#[test]
fn namespaces_and_empty_services() {
    let k = plugin("namespaces other");
    assert_eq!(
        ask(&k, "web.demo.svc.cluster.local.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    // Services of namespaces not served get no PTR either.
    assert_eq!(
        ask(&k, "10.0.96.10.in-addr.arpa.", RecordType::PTR)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
    // ignore empty_service: a ClusterIP service without endpoints is gone.
    let k = plugin("ignore empty_service");
    assert_eq!(
        ask(&k, "web.demo.svc.cluster.local.", RecordType::A)
            .metadata
            .response_code,
        ResponseCode::NXDomain
    );
}

#[test]
fn label_selectors_reach_the_watches_as_the_api_takes_them() {
    let c = parse("kubernetes {\nlabels app in (b, a),!canary\n}").unwrap();
    assert_eq!(c.labels.unwrap().to_query(), "app in (a,b),!canary");
}

/// autopath's `@kubernetes`: the client Pod's namespace first.
#[test]
fn client_pods_search_paths() {
    let from = |name: &str, src: &str| {
        let mut req = request(name, RecordType::A);
        req.src = src.parse().unwrap();
        req
    };
    let k = plugin("pods verified");
    let path = k.search_path().expect("a search path provider");
    let req = from("web.demo.svc.cluster.local.", "10.2.0.7:5353");
    let resolv = autopath::resolv_search();
    let mut want = vec![
        "demo.svc.cluster.local.".to_string(),
        "svc.cluster.local.".into(),
        "cluster.local.".into(),
    ];
    want.extend(resolv);
    want.push(String::new());
    assert_eq!(path.search(&req).unwrap(), want);
    // Not a Pod's address, not a name of the zones, or no Pods watched.
    assert_eq!(
        path.search(&from("web.demo.svc.cluster.local.", "10.2.0.8:53")),
        None
    );
    assert_eq!(path.search(&from("example.org.", "10.2.0.7:53")), None);
    let k = plugin("pods insecure");
    assert_eq!(k.search_path().unwrap().search(&req), None);
    // The root zone, and a resolv.conf's list after the cluster's names.
    let k = plugin("pods verified");
    let root = autopath::AutoPath {
        zones: vec![".".into()],
        verified: true,
        resolv: vec!["example.org.".into()],
        shared: Arc::clone(&k.shared),
    };
    assert_eq!(
        root.search(&req).unwrap(),
        ["demo.svc.", "svc.", ".", "example.org.", ""]
    );
}

/// k8s_external's records: external addresses by Service, headless
/// endpoints, reverse names.
#[test]
fn external_zone_records() {
    use crate::plugin::external::Service as Rec;
    let k = plugin("");
    let ext = Arc::new(
        index::service(&obj(json!({"metadata": {"name": "ext", "namespace": "demo"}, "spec": {
            "clusterIP": "10.96.0.20", "externalIPs": ["192.0.2.10"],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.11"}, {"hostname": "lb.example.net"}]}}})))
        .unwrap(),
    );
    let hl = Arc::new(
        index::service(&obj(
            json!({"metadata": {"name": "hl", "namespace": "demo"}, "spec": {
            "clusterIP": "None", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}}),
        ))
        .unwrap(),
    );
    let slices = [Arc::new(
        index::endpoints(&obj(json!({
            "metadata": {"name": "hl-x", "namespace": "demo", "labels": {"kubernetes.io/service-name": "hl"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.1.0.1"]}, {"addresses": ["10.1.0.2"], "hostname": "two"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
        })))
        .unwrap(),
    )];
    let mut fresh = Index::build(
        [ext, hl].iter(),
        slices.iter(),
        std::iter::empty(),
        ["demo", "other"].into_iter(),
    );
    fresh.synced = true;
    fresh.ext_modified = 1_700_000_001;
    k.shared.index.store(Arc::new(fresh));
    let b = k.external().expect("an external zone");
    let z = "example.org.";
    let ask = |name: &str, qtype: RecordType, headless: bool| {
        let (recs, rcode) = b.services(&request(name, qtype), z, headless);
        let recs: Vec<String> = recs
            .iter()
            .map(|r: &Rec| format!("{} {} {} {}", r.host, r.port, r.ttl, r.name))
            .collect();
        (recs, rcode)
    };
    let ok = ResponseCode::NoError;
    let (recs, rcode) = ask("ext.demo.example.org.", RecordType::A, false);
    assert_eq!(rcode, ok);
    assert_eq!(
        recs,
        [
            "192.0.2.10 80 5 ext.demo",
            "192.0.2.10 53 5 ext.demo",
            "192.0.2.11 80 5 ext.demo",
            "192.0.2.11 53 5 ext.demo",
            "lb.example.net 80 5 ext.demo",
            "lb.example.net 53 5 ext.demo"
        ]
    );
    let (recs, _) = ask("_dns._UDP.ext.demo.example.org.", RecordType::SRV, false);
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r.contains(" 53 ")));
    // A non-headless Service with an endpoint name: its addresses.
    assert_eq!(
        ask("x.ext.demo.example.org.", RecordType::A, true).0.len(),
        6
    );
    let nx = ResponseCode::NXDomain;
    for name in [
        "web.other.example.org.",
        "ext.gone.example.org.",
        "a.b.c.ext.demo.example.org.",
        "hl.demo.example.org.",
    ] {
        assert_eq!(ask(name, RecordType::A, false), (vec![], nx), "{name}");
    }
    assert_eq!(ask("demo.example.org.", RecordType::A, false), (vec![], ok));
    // With headless: a headless Service's endpoints, by name too.
    let (recs, _) = ask("hl.demo.example.org.", RecordType::A, true);
    assert_eq!(
        recs,
        [
            "10.1.0.1 8080 5 10-1-0-1.hl.demo",
            "10.1.0.2 8080 5 two.hl.demo"
        ]
    );
    assert_eq!(
        ask("TWO.hl.demo.example.org.", RecordType::A, true).0,
        ["10.1.0.2 8080 5 two.hl.demo"]
    );
    // Reverse names of external addresses.
    let (recs, rcode) = b.services(
        &request("10.2.0.192.in-addr.arpa.", RecordType::PTR),
        "in-addr.arpa.",
        false,
    );
    assert_eq!((recs[0].host.as_str(), rcode), ("ext.demo", ok));
    let (recs, rcode) = b.services(
        &request("9.2.0.192.in-addr.arpa.", RecordType::PTR),
        "in-addr.arpa.",
        false,
    );
    assert_eq!((recs.len(), rcode), (0, nx));
    assert_eq!(b.serial(z), 1_700_000_001);
    assert_eq!(
        b.addresses(z, false),
        [(
            "ns.dns.example.org.".to_string(),
            "192.0.2.53".parse().unwrap()
        )]
    );
}

/// The plugin with `extra` options (zones cluster.local and
/// clusterset.local) over [`cluster`] plus, in `demo`, a headless Service
/// `db` whose endpoints carry topology zones, and ServiceImports: `web`
/// (ClusterSetIP, two addresses, ports http/TCP and dns/UDP), `noports`
/// (ClusterSetIP without ports), `hl` (Headless, slices from clusters
/// `east` and `west`) and `empty` (ClusterSetIP, no slices).
fn mc_plugin(extra: &str) -> Kubernetes {
    let c = parse(&format!(
        "kubernetes cluster.local clusterset.local {{\n{extra}\n}}"
    ))
    .unwrap();
    let zonal = c.zonal;
    let k = Kubernetes::fixed(c, Index::default(), vec!["192.0.2.53".parse().unwrap()]);
    let svc = |v: Value| Arc::new(index::service(&obj(v)).unwrap());
    let services = [
        svc(
            json!({"metadata": {"name": "web", "namespace": "demo"}, "spec": {
            "clusterIP": "10.96.0.10", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}),
        ),
        svc(
            json!({"metadata": {"name": "db", "namespace": "demo"}, "spec": {
            "clusterIP": "None", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}}),
        ),
    ];
    let convert = if zonal {
        index::endpoints_zonal
    } else {
        index::endpoints
    };
    let slices = [Arc::new(
        convert(&obj(json!({
            "metadata": {"name": "db-x", "namespace": "demo", "labels": {"kubernetes.io/service-name": "db"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.3.0.1"], "zone": "US-West-2a"},
                {"addresses": ["10.3.0.2"], "zone": "us-west-2b", "hostname": "b"},
                {"addresses": ["10.3.0.3"], "zone": "corp.example.com"},
                {"addresses": ["10.3.0.4"]},
                {"addresses": ["10.3.0.5"], "zone": "us-west-2c", "conditions": {"ready": false}},
            ],
            "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        })))
        .unwrap(),
    )];
    let import = |name: &str, kind: &str, ips: Value, ports: Value| {
        let si: mcs::ServiceImport = obj(json!({
            "metadata": {"name": name, "namespace": "demo"},
            "spec": {"type": kind, "ips": ips, "ports": ports},
        }));
        Arc::new(index::service_import(&si).unwrap())
    };
    let ports = json!([{"name": "http", "port": 80, "protocol": "TCP"}, {"name": "dns", "port": 53, "protocol": "UDP"}]);
    let imports = [
        import(
            "web",
            "ClusterSetIP",
            json!(["10.200.0.1", "fd00:200::1"]),
            ports.clone(),
        ),
        import("noports", "ClusterSetIP", json!(["10.200.0.2"]), json!([])),
        import(
            "hl",
            "Headless",
            json!([]),
            json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
        ),
        import("empty", "ClusterSetIP", json!(["10.200.0.3"]), ports),
    ];
    let mc = |name: &str, cluster: &str, endpoints: Value| {
        Arc::new(
            index::mc_endpoints(&obj(json!({
                "metadata": {"name": name, "namespace": "demo", "labels": {
                    "multicluster.kubernetes.io/service-name": "hl",
                    "multicluster.kubernetes.io/source-cluster": cluster}},
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            })))
            .unwrap(),
        )
    };
    let mc_slices = [
        mc(
            "hl-east",
            "east",
            json!([{"addresses": ["10.5.0.1"], "hostname": "a"}, {"addresses": ["10.5.0.2"]}]),
        ),
        mc(
            "hl-west",
            "west",
            json!([{"addresses": ["10.6.0.1"], "hostname": "a"}]),
        ),
    ];
    let mut ix = Index::build(
        services.iter(),
        slices.iter(),
        std::iter::empty(),
        ["demo", "other"].into_iter(),
    );
    ix.add_multicluster(imports.iter(), mc_slices.iter());
    ix.synced = true;
    ix.modified = 1_700_000_000;
    ix.mc_modified = 1_700_000_100;
    k.shared.index.store(Arc::new(ix));
    k
}

/// `multicluster`: ServiceImports' addresses and ports, imported
/// endpoints by cluster, NXDOMAIN and NODATA as CoreDNS's
/// `findMultiClusterServices`.
#[test]
fn multicluster_names() {
    let k = mc_plugin("multicluster clusterset.local");
    let soa = |zone: &str, serial: u32| {
        format!("ns {zone} 5 IN SOA ns.dns.{zone} hostmaster.{zone} {serial} 7200 1800 86400 5")
    };
    let mc_soa = soa("clusterset.local.", 1_700_000_100);
    assert_eq!(
        show(&ask(&k, "web.demo.svc.clusterset.local.", RecordType::A)),
        "No Error\nan web.demo.svc.clusterset.local. 5 IN A 10.200.0.1"
    );
    assert_eq!(
        show(&ask(&k, "web.demo.svc.clusterset.local.", RecordType::AAAA)),
        "No Error\nan web.demo.svc.clusterset.local. 5 IN AAAA fd00:200::1"
    );
    assert_eq!(
        show(&ask(&k, "_dns._udp.web.demo.svc.clusterset.local.", RecordType::SRV)),
        "No Error\n\
         an _dns._udp.web.demo.svc.clusterset.local. 5 IN SRV 0 50 53 web.demo.svc.clusterset.local.\n\
         ar web.demo.svc.clusterset.local. 5 IN A 10.200.0.1\n\
         ar web.demo.svc.clusterset.local. 5 IN AAAA fd00:200::1"
    );
    // Headless: every cluster's endpoints, named with their cluster.
    assert_eq!(
        show(&ask(&k, "hl.demo.svc.clusterset.local.", RecordType::A)),
        "No Error\n\
         an hl.demo.svc.clusterset.local. 5 IN A 10.5.0.1\n\
         an hl.demo.svc.clusterset.local. 5 IN A 10.5.0.2\n\
         an hl.demo.svc.clusterset.local. 5 IN A 10.6.0.1"
    );
    assert_eq!(
        show(&ask(&k, "hl.demo.svc.clusterset.local.", RecordType::SRV)),
        "No Error\n\
         an hl.demo.svc.clusterset.local. 5 IN SRV 0 33 8080 a.east.hl.demo.svc.clusterset.local.\n\
         an hl.demo.svc.clusterset.local. 5 IN SRV 0 33 8080 10-5-0-2.east.hl.demo.svc.clusterset.local.\n\
         an hl.demo.svc.clusterset.local. 5 IN SRV 0 33 8080 a.west.hl.demo.svc.clusterset.local.\n\
         ar a.east.hl.demo.svc.clusterset.local. 5 IN A 10.5.0.1\n\
         ar 10-5-0-2.east.hl.demo.svc.clusterset.local. 5 IN A 10.5.0.2\n\
         ar a.west.hl.demo.svc.clusterset.local. 5 IN A 10.6.0.1"
    );
    assert_eq!(
        show(&ask(
            &k,
            "a.West.hl.demo.svc.clusterset.local.",
            RecordType::A
        )),
        "No Error\nan a.West.hl.demo.svc.clusterset.local. 5 IN A 10.6.0.1"
    );
    // `_port._proto` still wins over `endpoint.cluster`.
    assert_eq!(
        show(&ask(
            &k,
            "_http._tcp.hl.demo.svc.clusterset.local.",
            RecordType::SRV
        ))
        .lines()
        .count(),
        7
    );
    let nx = format!("Non-Existent Domain\n{mc_soa}");
    let nodata = format!("No Error\n{mc_soa}");
    for name in [
        // An endpoint name without its cluster, another cluster's, a Service
        // that is not imported, a ClusterSetIP import without ports, a port
        // it lacks, a name too long.
        "a.hl.demo.svc.clusterset.local.",
        "a.north.hl.demo.svc.clusterset.local.",
        "db.demo.svc.clusterset.local.",
        "noports.demo.svc.clusterset.local.",
        "_ftp._tcp.web.demo.svc.clusterset.local.",
        "x.a.east.hl.demo.svc.clusterset.local.",
        "web.gone.svc.clusterset.local.",
    ] {
        assert_eq!(show(&ask(&k, name, RecordType::A)), nx, "{name}");
    }
    // A ClusterSetIP import: MX and TXT are NODATA; a namespace, too.
    assert_eq!(
        show(&ask(&k, "web.demo.svc.clusterset.local.", RecordType::MX)),
        nodata
    );
    assert_eq!(
        show(&ask(&k, "web.demo.svc.clusterset.local.", RecordType::TXT)),
        nodata
    );
    assert_eq!(
        show(&ask(&k, "demo.svc.clusterset.local.", RecordType::A)),
        nodata
    );
    assert_eq!(
        show(&ask(&k, "empty.demo.svc.clusterset.local.", RecordType::A)),
        "No Error\nan empty.demo.svc.clusterset.local. 5 IN A 10.200.0.3"
    );
    // The cluster's own zone is untouched, with its own serial.
    assert_eq!(
        show(&ask(&k, "gone.demo.svc.cluster.local.", RecordType::A)),
        format!(
            "Non-Existent Domain\n{}",
            soa("cluster.local.", 1_700_000_000)
        )
    );
    assert_eq!(
        show(&ask(&k, "hl.demo.svc.cluster.local.", RecordType::A)),
        format!(
            "Non-Existent Domain\n{}",
            soa("cluster.local.", 1_700_000_000)
        )
    );
    // `ignore empty_service`: a ClusterSetIP import without endpoints has
    // no name; a headless one keeps it.
    let k = mc_plugin("multicluster clusterset.local\nignore empty_service");
    assert_eq!(
        show(&ask(&k, "web.demo.svc.clusterset.local.", RecordType::A)),
        nx
    );
    assert_eq!(
        ask(&k, "hl.demo.svc.clusterset.local.", RecordType::A)
            .answers
            .len(),
        3
    );
    // Without `multicluster`, clusterset.local is an ordinary zone: its
    // names are the Services', the imports are not looked at.
    let k = mc_plugin("");
    assert_eq!(
        show(&ask(&k, "web.demo.svc.clusterset.local.", RecordType::A)),
        "No Error\nan web.demo.svc.clusterset.local. 5 IN A 10.96.0.10"
    );
    assert_eq!(
        show(&ask(&k, "hl.demo.svc.clusterset.local.", RecordType::A)),
        format!(
            "Non-Existent Domain\n{}",
            soa("clusterset.local.", 1_700_000_000)
        )
    );
}

/// `zonal`: `TOPOZONE.pin|prefer._zone.SERVICE.NAMESPACE.svc.ZONE` for
/// headless Services.
#[test]
fn zonal_names() {
    let k = mc_plugin("zonal\nmulticluster clusterset.local");
    let soa = "ns cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5";
    let a = |name: &str| {
        ask(&k, name, RecordType::A)
            .answers
            .iter()
            .map(|r| r.data.to_string())
            .collect::<Vec<_>>()
    };
    // Zones compare lowercased; a zone may span labels.
    assert_eq!(
        a("us-west-2a.pin._zone.db.demo.svc.cluster.local."),
        ["10.3.0.1"]
    );
    assert_eq!(
        a("US-WEST-2B.pin._zone.db.demo.svc.cluster.local."),
        ["10.3.0.2"]
    );
    assert_eq!(
        a("corp.example.com.prefer._zone.db.demo.svc.cluster.local."),
        ["10.3.0.3"]
    );
    // pin: an empty (or not ready) zone is NODATA, whatever the type;
    // prefer: the whole Service.
    for qtype in [
        RecordType::A,
        RecordType::SRV,
        RecordType::TXT,
        RecordType::MX,
    ] {
        assert_eq!(
            show(&ask(
                &k,
                "us-west-2c.pin._zone.db.demo.svc.cluster.local.",
                qtype
            )),
            format!("No Error\n{soa}"),
            "{qtype}"
        );
    }
    assert_eq!(
        a("us-west-2c.prefer._zone.db.demo.svc.cluster.local."),
        ["10.3.0.1", "10.3.0.2", "10.3.0.3", "10.3.0.4"]
    );
    // SRV targets and glue are the endpoints' ordinary names.
    assert_eq!(
        show(&ask(&k, "us-west-2b.pin._zone.db.demo.svc.cluster.local.", RecordType::SRV)),
        "No Error\n\
         an us-west-2b.pin._zone.db.demo.svc.cluster.local. 5 IN SRV 0 100 5432 b.db.demo.svc.cluster.local.\n\
         ar b.db.demo.svc.cluster.local. 5 IN A 10.3.0.2"
    );
    // A TXT of a zone with endpoints: NODATA too.
    assert_eq!(
        show(&ask(
            &k,
            "us-west-2a.pin._zone.db.demo.svc.cluster.local.",
            RecordType::TXT
        )),
        format!("No Error\n{soa}")
    );
    let nx = format!("Non-Existent Domain\n{soa}");
    for name in [
        // Not headless, not a Service, an unknown directive, a Pod name,
        // no zone label.
        "us-west-2a.pin._zone.web.demo.svc.cluster.local.",
        "us-west-2a.pin._zone.gone.demo.svc.cluster.local.",
        "us-west-2a.near._zone.db.demo.svc.cluster.local.",
        "us-west-2a.pin._zone.db.demo.pod.cluster.local.",
        "us-west-2a.pin.zone.db.demo.svc.cluster.local.",
        "us-west-2a.pin._zone.db.other.svc.cluster.local.",
    ] {
        assert_eq!(show(&ask(&k, name, RecordType::A)), nx, "{name}");
        assert_eq!(show(&ask(&k, name, RecordType::TXT)), nx, "{name}");
    }
    // Not in multicluster zones.
    assert_eq!(
        ask(
            &k,
            "us-west-2a.pin._zone.hl.demo.svc.clusterset.local.",
            RecordType::A
        )
        .metadata
        .response_code,
        ResponseCode::NXDomain
    );
    // Plain names are as ever.
    assert_eq!(a("db.demo.svc.cluster.local.").len(), 4);
    // Without the option: too long.
    let k = mc_plugin("");
    assert_eq!(
        ask(
            &k,
            "us-west-2a.pin._zone.db.demo.svc.cluster.local.",
            RecordType::A
        )
        .metadata
        .response_code,
        ResponseCode::NXDomain
    );
}

/// The `kubernetes/zone` and `kubernetes/cluster` metadata.
#[test]
fn zonal_and_cluster_metadata() {
    let md = |k: &Kubernetes, name: &str| {
        let mut md = crate::plugin::request::Metadata::default();
        k.metadata(&request(name, RecordType::A), &mut md);
        md
    };
    let k = mc_plugin("zonal");
    let m = md(&k, "a.b.prefer._zone.db.demo.svc.cluster.local.");
    assert_eq!(m.get("kubernetes/zone"), Some("a.b"));
    assert_eq!(m.get("kubernetes/service"), Some("db"));
    assert_eq!(m.get("kubernetes/cluster"), None);
    assert_eq!(
        md(&k, "db.demo.svc.cluster.local.").get("kubernetes/zone"),
        Some("")
    );
    assert_eq!(
        md(&k, "x.near._zone.db.demo.svc.cluster.local.").get("kubernetes/parse-error"),
        Some("invalid query name")
    );
    let k = mc_plugin("");
    assert_eq!(
        md(&k, "db.demo.svc.cluster.local.").get("kubernetes/zone"),
        None
    );
    // CoreDNS asks about multicluster with an empty zone: only `.` says yes.
    let k = mc_plugin("multicluster clusterset.local");
    let m = md(&k, "a.east.hl.demo.svc.clusterset.local.");
    assert_eq!(
        (m.get("kubernetes/endpoint"), m.get("kubernetes/cluster")),
        (Some(""), None)
    );
    assert_eq!(m.get("kubernetes/port-name"), Some("a"));
}
