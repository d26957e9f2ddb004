//! The kubernetes plugin against a real kube-apiserver and etcd (one per
//! run of this binary, started by common/k8s.rs): objects are created
//! through the API, and the real ferrodns binary answers for them. Each
//! test keeps to namespaces of its own. Without the API server's binaries
//! (`cargo xtask k8s build`) every test says SKIPPED and returns.

mod common;
#[path = "common/k8s.rs"]
mod k8s;

use common::{answers, raw_query, section, udp_raw, Server, RAW_OPTS};
use common::{ask, until};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use k8s::Api;
use k8s_openapi::serde_json::json;
use std::time::{Duration, Instant};

/// The API server, or None (SKIPPED printed) without its binaries.
fn api() -> Option<&'static Api> {
    k8s::api()
}

/// A ferrodns serving `cluster.local` (and the reverse zones) from the
/// API server, with `extra` lines in the kubernetes block and `more`
/// server blocks after it (with their `files`).
fn serve(api: &Api, extra: &str, more: &str, files: &[(&str, &str)]) -> Server {
    let corefile = format!(
        "cluster.local:{{PORT}} in-addr.arpa:{{PORT}} ip6.arpa:{{PORT}} {{\n\
         \tkubernetes cluster.local in-addr.arpa ip6.arpa {{\n\
         \t\tkubeconfig {}\n{extra}\n\t}}\n}}\n{more}",
        api.kubeconfig.display()
    );
    Server::start(&corefile, files)
}

fn rcode(s: &Server, name: &str, qtype: RecordType) -> ResponseCode {
    ask(s, name, qtype).metadata.response_code
}

fn svc_port(name: &str, port: u16, proto: &str) -> k8s_openapi::serde_json::Value {
    json!({"name": name, "port": port, "protocol": proto})
}

/// Namespace `ns` with one ClusterIP Service `web` at `ip`, port http/80.
fn web_in(api: &Api, ns: &str, ip: &str) {
    api.namespace(ns, json!({}));
    api.service(
        ns,
        "web",
        json!({}),
        json!({"clusterIP": ip, "ports": [svc_port("http", 80, "TCP")]}),
    );
}

/// Namespace `ns` with a dual-stack Service `web` at 10.96.`n`.10 (ports
/// http/80 and dns/53 UDP), and a headless `hl` (http/8080) whose slice
/// has 10.`n`.1.1 (Pod `hl-pod`), 10.`n`.1.2 (hostname `two`) and a
/// not-ready 10.`n`.1.3.
fn web_and_headless(api: &Api, ns: &str, n: u8) {
    api.namespace(ns, json!({}));
    api.service(
        ns,
        "web",
        json!({}),
        json!({"clusterIP": format!("10.96.{n}.10"), "ipFamilyPolicy": "RequireDualStack",
               "ports": [svc_port("http", 80, "TCP"), svc_port("dns", 53, "UDP")]}),
    );
    api.service(
        ns,
        "hl",
        json!({}),
        json!({"clusterIP": "None", "ports": [svc_port("http", 8080, "TCP")]}),
    );
    api.slice(
        ns,
        "hl",
        "hl-a",
        "IPv4",
        json!([
            {"addresses": [format!("10.{n}.1.1")], "targetRef": {"kind": "Pod", "name": "hl-pod"}},
            {"addresses": [format!("10.{n}.1.2")], "hostname": "two"},
            {"addresses": [format!("10.{n}.1.3")], "conditions": {"ready": false}},
        ]),
        json!([svc_port("http", 8080, "TCP")]),
    );
}

#[test]
fn every_kind_of_record() {
    let Some(api) = api() else { return };
    let ns = "t-records";
    web_and_headless(api, ns, 1);
    api.service(
        ns,
        "ext",
        json!({}),
        json!({"type": "ExternalName", "externalName": "www.example.org"}),
    );
    api.pod(ns, "p", &["10.2.1.7"]);
    // The ExternalName's target comes from another block of the same
    // server, through an internal lookup.
    let s = serve(
        api,
        "\t\tpods verified",
        "example.org:{PORT} {\n\tfile db.example.org\n}\n",
        &[(
            "db.example.org",
            "$ORIGIN example.org.\n@ 3600 IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n\
             @ 3600 IN NS ns1\nns1 3600 IN A 192.0.2.1\nwww 3600 IN A 192.0.2.80\n",
        )],
    );
    let z = "t-records.svc.cluster.local.";
    let web = ask(&s, &format!("web.{z}"), RecordType::A);
    assert_eq!(answers(&web), [format!("web.{z} 5 A 10.96.1.10")]);
    assert!(web.metadata.authoritative);
    let v6 = ask(&s, &format!("web.{z}"), RecordType::AAAA);
    assert_eq!(v6.answers.len(), 1, "{:?}", answers(&v6));
    assert!(
        answers(&v6)[0].contains(" AAAA fd00:10:96::"),
        "{:?}",
        answers(&v6)
    );
    let srv = ask(&s, &format!("_dns._udp.web.{z}"), RecordType::SRV);
    assert_eq!(
        answers(&srv),
        [format!("_dns._udp.web.{z} 5 SRV 0 50 53 web.{z}")]
    );
    assert_eq!(section(&srv.additionals).len(), 2);
    assert_eq!(
        answers(&ask(&s, &format!("hl.{z}"), RecordType::A)),
        [
            format!("hl.{z} 5 A 10.1.1.1"),
            format!("hl.{z} 5 A 10.1.1.2")
        ]
    );
    assert_eq!(
        answers(&ask(&s, &format!("_http._tcp.hl.{z}"), RecordType::SRV)),
        [
            format!("_http._tcp.hl.{z} 5 SRV 0 50 8080 10-1-1-1.hl.{z}"),
            format!("_http._tcp.hl.{z} 5 SRV 0 50 8080 two.hl.{z}"),
        ]
    );
    assert_eq!(
        answers(&ask(&s, &format!("two.hl.{z}"), RecordType::A)),
        [format!("two.hl.{z} 5 A 10.1.1.2")]
    );
    assert_eq!(
        answers(&ask(&s, &format!("ext.{z}"), RecordType::A)),
        [
            format!("ext.{z} 5 CNAME www.example.org."),
            "www.example.org. 3600 A 192.0.2.80".to_string()
        ]
    );
    assert_eq!(
        answers(&ask(&s, "7.1.2.10.in-addr.arpa.", RecordType::PTR)),
        Vec::<String>::new(),
        "a pod's address has no PTR"
    );
    assert_eq!(
        answers(&ask(&s, "10.1.96.10.in-addr.arpa.", RecordType::PTR)),
        [format!("10.1.96.10.in-addr.arpa. 5 PTR web.{z}")]
    );
    assert_eq!(
        answers(&ask(&s, "2.1.1.10.in-addr.arpa.", RecordType::PTR)),
        [format!("2.1.1.10.in-addr.arpa. 5 PTR two.hl.{z}")]
    );
    assert_eq!(
        answers(&ask(
            &s,
            "10-2-1-7.t-records.pod.cluster.local.",
            RecordType::A
        )),
        ["10-2-1-7.t-records.pod.cluster.local. 5 A 10.2.1.7"]
    );
    assert_eq!(
        rcode(&s, "10-2-1-8.t-records.pod.cluster.local.", RecordType::A),
        ResponseCode::NXDomain
    );
    let soa = ask(&s, "cluster.local.", RecordType::SOA);
    assert_eq!(soa.answers.len(), 1);
    assert!(answers(&soa)[0]
        .starts_with("cluster.local. 5 SOA ns.dns.cluster.local. hostmaster.cluster.local."));
    let ns_rr = ask(&s, "cluster.local.", RecordType::NS);
    assert_eq!(
        answers(&ns_rr),
        ["cluster.local. 5 NS ns.dns.cluster.local."]
    );
    // NXDOMAIN and NODATA, with the SOA.
    let nx = ask(&s, &format!("nope.{z}"), RecordType::A);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.authorities.len(), 1);
    let nodata = ask(&s, z, RecordType::A);
    assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
    assert!(nodata.answers.is_empty() && nodata.authorities.len() == 1);
    assert_eq!(
        rcode(&s, &format!("web.{z}"), RecordType::MX),
        ResponseCode::NoError
    );
    assert_eq!(
        rcode(&s, "web.gone.svc.cluster.local.", RecordType::A),
        ResponseCode::NXDomain
    );
    assert_eq!(
        answers(&ask(&s, "dns-version.cluster.local.", RecordType::TXT)),
        ["dns-version.cluster.local. 28800 TXT 1.1.0"]
    );
}

#[test]
fn changes_are_answered_within_a_second() {
    let Some(api) = api() else { return };
    let ns = "t-changes";
    api.namespace(ns, json!({}));
    let s = serve(api, "", "", &[]);
    let name = "late.t-changes.svc.cluster.local.";
    assert_eq!(rcode(&s, name, RecordType::A), ResponseCode::NXDomain);
    let second = Duration::from_secs(1);
    api.service(
        ns,
        "late",
        json!({}),
        json!({"clusterIP": "10.96.2.20", "ports": [svc_port("http", 80, "TCP")]}),
    );
    until(&s, name, RecordType::A, second, |m| {
        answers(m) == [format!("{name} 5 A 10.96.2.20")]
    });
    // A headless Service's endpoints come and go with its slices.
    api.service(
        ns,
        "hl",
        json!({}),
        json!({"clusterIP": "None", "ports": [svc_port("http", 80, "TCP")]}),
    );
    let hl = "hl.t-changes.svc.cluster.local.";
    api.slice(
        ns,
        "hl",
        "hl-1",
        "IPv4",
        json!([{"addresses": ["10.3.0.1"]}]),
        json!([svc_port("http", 80, "TCP")]),
    );
    until(&s, hl, RecordType::A, second, |m| {
        answers(m) == [format!("{hl} 5 A 10.3.0.1")]
    });
    api.patch_slice(
        ns,
        "hl-1",
        json!({"endpoints": [{"addresses": ["10.3.0.1"], "conditions": {"ready": false}}, {"addresses": ["10.3.0.2"]}]}),
    );
    until(&s, hl, RecordType::A, second, |m| {
        answers(m) == [format!("{hl} 5 A 10.3.0.2")]
    });
    api.delete_slice(ns, "hl-1");
    until(&s, hl, RecordType::A, second, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    });
    api.delete_service(ns, "late");
    until(&s, name, RecordType::A, second, |m| {
        m.metadata.response_code == ResponseCode::NXDomain
    });
}

#[test]
fn namespaces_and_labels_filter() {
    let Some(api) = api() else { return };
    api.namespace("t-filter-a", json!({"team": "a"}));
    api.namespace("t-filter-b", json!({"team": "b"}));
    for ns in ["t-filter-a", "t-filter-b"] {
        api.service(
            ns,
            "shown",
            json!({"app": "dns"}),
            json!({"ports": [svc_port("http", 80, "TCP")]}),
        );
        api.service(
            ns,
            "hidden",
            json!({"app": "other"}),
            json!({"ports": [svc_port("http", 80, "TCP")]}),
        );
    }
    let has = |s: &Server, name: &str| rcode(s, name, RecordType::A) == ResponseCode::NoError;
    let s = serve(api, "\t\tnamespaces t-filter-a", "", &[]);
    assert!(has(&s, "shown.t-filter-a.svc.cluster.local."));
    assert!(!has(&s, "shown.t-filter-b.svc.cluster.local."));
    let s = serve(api, "\t\tnamespace_labels team=b", "", &[]);
    assert!(!has(&s, "shown.t-filter-a.svc.cluster.local."));
    assert!(has(&s, "shown.t-filter-b.svc.cluster.local."));
    let s = serve(api, "\t\tlabels app in (dns)", "", &[]);
    assert!(has(&s, "shown.t-filter-a.svc.cluster.local."));
    assert!(!has(&s, "hidden.t-filter-a.svc.cluster.local."));
}

#[test]
fn pods_insecure_and_disabled() {
    let Some(api) = api() else { return };
    api.namespace("t-pods", json!({}));
    let name = "10-9-9-9.t-pods.pod.cluster.local.";
    let s = serve(api, "\t\tpods insecure", "", &[]);
    assert_eq!(
        answers(&ask(&s, name, RecordType::A)),
        [format!("{name} 5 A 10.9.9.9")]
    );
    let s = serve(api, "", "", &[]);
    assert_eq!(rcode(&s, name, RecordType::A), ResponseCode::NXDomain);
}

/// CoreDNS's custom entries beside the cluster's names: what the plugin
/// does not know goes on to a zone file.
#[test]
fn fallthrough_to_a_zone_file() {
    let Some(api) = api() else { return };
    web_in(api, "t-fall", "10.96.3.30");
    let corefile = format!(
        "cluster.local:{{PORT}} {{\n\tfile cluster.db\n\tkubernetes {{\n\t\tkubeconfig {}\n\t\tfallthrough\n\t}}\n}}\n",
        api.kubeconfig.display()
    );
    let zone = "$ORIGIN cluster.local.\n@ 3600 IN SOA ns.dns hostmaster 1 7200 1800 86400 5\n\
                @ 3600 IN NS ns.dns\ncustom 3600 IN A 192.0.2.99\n";
    let s = Server::start(&corefile, &[("cluster.db", zone)]);
    assert_eq!(
        answers(&ask(&s, "web.t-fall.svc.cluster.local.", RecordType::A)),
        ["web.t-fall.svc.cluster.local. 5 A 10.96.3.30"]
    );
    assert_eq!(
        answers(&ask(&s, "custom.cluster.local.", RecordType::A)),
        ["custom.cluster.local. 3600 A 192.0.2.99"]
    );
}

#[test]
fn ready_once_synced() {
    let Some(api) = api() else { return };
    let ready = common::free_port();
    let corefile = format!(
        "cluster.local:{{PORT}} {{\n\tready 127.0.0.1:{ready}\n\tkubernetes {{\n\t\tkubeconfig {}\n\t}}\n}}\n",
        api.kubeconfig.display()
    );
    let _s = Server::start(&corefile, &[]);
    let (status, _, body) = common::http_get(ready, "/ready");
    assert_eq!((status, body.trim()), (200, "OK"));
}

/// The threads of process `pid` named `name`.
fn threads_named(pid: i32, name: &str) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.trim() == name)
        })
        .count()
}

/// A reload builds new watches (synced before they serve) and ends the
/// old ones.
#[test]
fn a_reload_replaces_the_watches() {
    let Some(api) = api() else { return };
    web_in(api, "t-reload", "10.96.4.40");
    let s = serve(api, "", "", &[]);
    let name = "web.t-reload.svc.cluster.local.";
    assert_eq!(
        answers(&ask(&s, name, RecordType::A)),
        [format!("{name} 5 A 10.96.4.40")]
    );
    assert_eq!(threads_named(s.pid(), "kubernetes"), 1);
    let conf = std::fs::read_to_string(s.path("Corefile")).unwrap();
    std::fs::write(
        s.path("Corefile"),
        conf.replacen("\t\tkubeconfig ", "\t\tttl 30\n\t\tkubeconfig ", 1),
    )
    .unwrap();
    s.signal(libc::SIGUSR1);
    let log = s.wait_log("SIGUSR1");
    assert!(log.contains("[INFO] SIGUSR1: Reloading"), "{log}");
    until(&s, name, RecordType::A, Duration::from_secs(10), |m| {
        answers(m) == [format!("{name} 30 A 10.96.4.40")]
    });
    let start = Instant::now();
    while threads_named(s.pid(), "kubernetes") != 1 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the old watches still run: {:?}",
            std::fs::read_dir(format!("/proc/{}/task", s.pid()))
                .unwrap()
                .map(|t| std::fs::read_to_string(t.unwrap().path().join("comm")).unwrap())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `endpoint` with `tls`: a client certificate instead of a kubeconfig.
#[test]
fn endpoint_with_a_client_certificate() {
    let Some(api) = api() else { return };
    web_in(api, "t-tls", "10.96.5.50");
    let f = |n: &str| api.dir.join(n).display().to_string();
    let corefile = format!(
        "cluster.local:{{PORT}} {{\n\tkubernetes {{\n\t\tendpoint {}\n\t\ttls {} {} {}\n\t}}\n}}\n",
        api.server,
        f("client.crt"),
        f("client.key"),
        f("ca.crt")
    );
    let s = Server::start(&corefile, &[]);
    let name = "web.t-tls.svc.cluster.local.";
    assert_eq!(
        answers(&ask(&s, name, RecordType::A)),
        [format!("{name} 5 A 10.96.5.50")]
    );
}

/// CoreDNS's DNS programming latency: from an EndpointSlice's last-change
/// trigger time to the moment the plugin has it, by the kind of Service.
#[test]
fn dns_programming_latency() {
    let Some(api) = api() else { return };
    web_in(api, "t-latency", "10.96.6.60");
    api.service(
        "t-latency",
        "hl",
        json!({}),
        json!({"clusterIP": "None", "ports": [svc_port("http", 80, "TCP")]}),
    );
    let metrics = common::free_port();
    let corefile = format!(
        "cluster.local:{{PORT}} {{\n\tprometheus 127.0.0.1:{metrics}\n\tkubernetes {{\n\t\tkubeconfig {}\n\t}}\n}}\n",
        api.kubeconfig.display()
    );
    let s = Server::start(&corefile, &[]);
    let ago = |secs: i64| {
        let t = std::time::SystemTime::now() - Duration::from_secs(secs as u64);
        k8s_openapi::jiff::Timestamp::try_from(t)
            .unwrap()
            .to_string()
    };
    for (svc, name, secs) in [("web", "web-1", 3), ("hl", "hl-1", 70)] {
        api.post(
            "/apis/discovery.k8s.io/v1/namespaces/t-latency/endpointslices",
            json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/service-name": svc},
                    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": ago(secs)}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": ["10.7.0.1"]}],
            }),
        );
    }
    until(
        &s,
        "hl.t-latency.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(1),
        |m| m.answers.len() == 1,
    );
    let (_, _, body) = common::http_get(metrics, "/metrics");
    let family = "coredns_kubernetes_dns_programming_duration_seconds";
    for line in [
        format!("{family}_bucket{{service_kind=\"cluster_ip\",le=\"2.048\"}} 0"),
        format!("{family}_bucket{{service_kind=\"cluster_ip\",le=\"4.096\"}} 1"),
        format!("{family}_count{{service_kind=\"cluster_ip\"}} 1"),
        format!("{family}_bucket{{service_kind=\"headless_with_selector\",le=\"65.536\"}} 0"),
        format!("{family}_bucket{{service_kind=\"headless_with_selector\",le=\"131.072\"}} 1"),
    ] {
        assert!(body.lines().any(|l| l == line), "no {line:?} in\n{body}");
    }
    // The watches' requests, as client-go counts CoreDNS's.
    let host = api
        .server
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let labels = format!("{{code=\"200\",method=\"GET\",host=\"{host}\"}}");
    let counted = body
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!(
                "coredns_kubernetes_rest_client_requests_total{labels} "
            ))
        })
        .and_then(|n| n.parse::<f64>().ok());
    assert!(
        counted.is_some_and(|n| n >= 3.0),
        "{labels}: {counted:?} in\n{body}"
    );
}

/// autopath @kubernetes: the client (127.0.0.1, a Pod of t-autopath) gets
/// its search path completed on the server, behind a CNAME; the success
/// is counted. The walk runs through the plugins after autopath in the
/// block, so the bare name's step reaches the file after kubernetes.
#[test]
fn autopath_completes_a_pods_search_path() {
    let Some(api) = api() else { return };
    web_in(api, "t-autopath", "10.96.7.70");
    web_in(api, "t-autopath-b", "10.96.7.71");
    api.pod("t-autopath", "client", &["127.0.0.1"]);
    let metrics = common::free_port();
    let corefile = format!(
        "cluster.local:{{PORT}} example.org:{{PORT}} {{\n\tprometheus 127.0.0.1:{metrics}\n\
         \tautopath @kubernetes\n\tkubernetes cluster.local {{\n\t\tkubeconfig {}\n\
         \t\tpods verified\n\t}}\n\tfile db.example.org example.org\n}}\n",
        api.kubeconfig.display()
    );
    let zone = "$ORIGIN example.org.\n@ 3600 IN SOA ns hostmaster 1 7200 1800 86400 5\n\
                @ 3600 IN NS ns\nns 3600 IN A 192.0.2.1\n";
    let s = Server::start(&corefile, &[("db.example.org", zone)]);
    let ns = "t-autopath.svc.cluster.local.";
    // Synced at start-up: the Pod and both Services are known.
    let other = format!("web.t-autopath-b.{ns}");
    let m = ask(&s, &other, RecordType::A);
    assert_eq!(
        answers(&m),
        [
            format!("{other} 5 CNAME web.t-autopath-b.svc.cluster.local."),
            "web.t-autopath-b.svc.cluster.local. 5 A 10.96.7.71".to_string(),
        ]
    );
    assert_eq!(m.queries[0].name().to_string(), other);
    // The client's own namespace answers at the first step: no CNAME.
    assert_eq!(
        answers(&ask(&s, &format!("web.{ns}"), RecordType::A)),
        [format!("web.{ns} 5 A 10.96.7.70")]
    );
    // Nothing anywhere: the bare name goes through kubernetes (not its
    // zone) to the file (NXDOMAIN for example.org.'s names, REFUSED for
    // others), and the first step's NXDOMAIN goes back.
    let nx = ask(&s, &format!("nope.{ns}"), RecordType::A);
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(nx.queries[0].name().to_string(), format!("nope.{ns}"));
    // The namespace's own name is the first element itself: SERVFAIL.
    assert_eq!(rcode(&s, ns, RecordType::A), ResponseCode::ServFail);
    let (_, _, body) = common::http_get(metrics, "/metrics");
    let server = format!("dns://:{}", s.port);
    let line = format!("coredns_autopath_success_total{{server=\"{server}\"}} 2");
    assert!(body.lines().any(|l| l == line), "no {line:?} in\n{body}");
}

/// k8s_external: Services' external addresses under example.org. (a load
/// balancer known by a host name is followed through the server), and a
/// change to them answered within a second, the SOA serial (0 until then,
/// as CoreDNS's) moving with it.
#[test]
fn k8s_external_serves_external_addresses() {
    let Some(api) = api() else { return };
    let ns = "t-external";
    api.namespace(ns, json!({}));
    api.service(
        ns,
        "web",
        json!({}),
        json!({"clusterIP": "10.96.8.80", "externalIPs": ["192.0.2.180"],
               "ports": [svc_port("http", 80, "TCP")]}),
    );
    api.service(
        ns,
        "lb",
        json!({}),
        json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false,
               "clusterIP": "10.96.8.81", "ports": [svc_port("https", 443, "TCP")]}),
    );
    api.patch(
        &format!("/api/v1/namespaces/{ns}/services/lb/status"),
        json!({"status": {"loadBalancer": {"ingress": [{"hostname": "lb.example.net"}]}}}),
    );
    let corefile = format!(
        "example.org:{{PORT}} cluster.local:{{PORT}} {{\n\tk8s_external example.org\n\
         \tkubernetes cluster.local {{\n\t\tkubeconfig {}\n\t}}\n}}\n\
         example.net:{{PORT}} {{\n\ttemplate IN A example.net {{\n\
         \t\tanswer \"{{{{ .Name }}}} 60 IN A 198.51.100.9\"\n\t}}\n}}\n",
        api.kubeconfig.display()
    );
    let s = Server::start(&corefile, &[]);
    let web = "web.t-external.example.org.";
    assert_eq!(
        answers(&ask(&s, web, RecordType::A)),
        [format!("{web} 5 A 192.0.2.180")]
    );
    let lb = "lb.t-external.example.org.";
    assert_eq!(
        answers(&ask(&s, lb, RecordType::A)),
        [
            format!("{lb} 5 CNAME lb.example.net."),
            "lb.example.net. 60 A 198.51.100.9".to_string()
        ]
    );
    assert_eq!(
        rcode(&s, "nope.t-external.example.org.", RecordType::A),
        ResponseCode::NXDomain
    );
    let serial = |s: &Server| match &ask(s, "example.org.", RecordType::SOA).answers[0].data {
        hickory_proto::rr::RData::SOA(soa) => soa.serial,
        other => panic!("{other:?}"),
    };
    assert_eq!(serial(&s), 0);
    api.patch(
        &format!("/api/v1/namespaces/{ns}/services/web"),
        json!({"spec": {"externalIPs": ["192.0.2.181"]}}),
    );
    until(&s, web, RecordType::A, Duration::from_secs(1), |m| {
        answers(m) == [format!("{web} 5 A 192.0.2.181")]
    });
    assert_ne!(serial(&s), 0);
}

/// `zonal`: a headless Service's endpoints by topology zone, following
/// the slices' changes.
#[test]
fn zonal_names() {
    let Some(api) = api() else { return };
    let ns = "t-zonal";
    api.namespace(ns, json!({}));
    api.service(
        ns,
        "db",
        json!({}),
        json!({"clusterIP": "None", "ports": [svc_port("pg", 5432, "TCP")]}),
    );
    api.service(
        ns,
        "web",
        json!({}),
        json!({"clusterIP": "10.96.9.9", "ports": [svc_port("http", 80, "TCP")]}),
    );
    api.slice(
        ns,
        "db",
        "db-1",
        "IPv4",
        json!([
            {"addresses": ["10.7.0.1"], "zone": "Zone-A"},
            {"addresses": ["10.7.0.2"], "zone": "zone-b", "hostname": "b"},
            {"addresses": ["10.7.0.3"]},
        ]),
        json!([svc_port("pg", 5432, "TCP")]),
    );
    let s = serve(api, "\t\tzonal", "", &[]);
    let pin = |z: &str| format!("{z}.pin._zone.db.{ns}.svc.cluster.local.");
    let a = pin("zone-a");
    assert_eq!(
        answers(&ask(&s, &a, RecordType::A)),
        [format!("{a} 5 A 10.7.0.1")]
    );
    let b = pin("zone-b");
    let m = ask(&s, &b, RecordType::SRV);
    let target = format!("b.db.{ns}.svc.cluster.local.");
    assert_eq!(answers(&m), [format!("{b} 5 SRV 0 100 5432 {target}")]);
    assert_eq!(section(&m.additionals), [format!("{target} 5 A 10.7.0.2")]);
    // pin: a zone without endpoints is NODATA; prefer: the whole Service.
    let c = pin("zone-c");
    for qtype in [RecordType::A, RecordType::TXT] {
        let m = ask(&s, &c, qtype);
        assert_eq!(
            (m.metadata.response_code, m.answers.len()),
            (ResponseCode::NoError, 0)
        );
    }
    let prefer = format!("zone-c.prefer._zone.db.{ns}.svc.cluster.local.");
    assert_eq!(ask(&s, &prefer, RecordType::A).answers.len(), 3);
    // Not headless, an unknown directive: no such name.
    for name in [
        format!("zone-a.pin._zone.web.{ns}.svc.cluster.local."),
        format!("zone-a.near._zone.db.{ns}.svc.cluster.local."),
    ] {
        assert_eq!(rcode(&s, &name, RecordType::A), ResponseCode::NXDomain);
    }
    // An endpoint moving zone moves with it within a second.
    api.patch_slice(
        ns,
        "db-1",
        json!({"endpoints": [{"addresses": ["10.7.0.1"], "zone": "zone-c"}]}),
    );
    until(&s, &c, RecordType::A, Duration::from_secs(1), |m| {
        answers(m) == [format!("{c} 5 A 10.7.0.1")]
    });
    until(&s, &a, RecordType::A, Duration::from_secs(1), |m| {
        m.metadata.response_code == ResponseCode::NoError && m.answers.is_empty()
    });
}

/// `multicluster` where the ServiceImport CRD is not installed (this
/// binary's API server never has it; kubernetes_multicluster.rs installs
/// it in its own): as in CoreDNS, the ServiceImport watch fails and is
/// retried, so the plugin never syncs: start-up waits `startup_timeout`,
/// names found are answered, names not found are SERVFAIL, not ready.
#[test]
fn multicluster_without_the_crd() {
    let Some(api) = api() else { return };
    web_in(api, "t-nocrd", "10.96.9.10");
    let ready = common::free_port();
    let corefile = format!(
        "cluster.local:{{PORT}} clusterset.local:{{PORT}} {{\n\tready 127.0.0.1:{ready}\n\
         \tkubernetes cluster.local clusterset.local {{\n\t\tkubeconfig {}\n\
         \t\tmulticluster clusterset.local\n\t\tstartup_timeout 1s\n\t}}\n}}\n",
        api.kubeconfig.display()
    );
    let s = Server::start(&corefile, &[]);
    let log = s.wait_log("starting server with unsynced Kubernetes API");
    assert!(log.contains("Failed to watch"), "{log}");
    let web = "web.t-nocrd.svc.cluster.local.";
    assert_eq!(
        answers(&ask(&s, web, RecordType::A)),
        [format!("{web} 5 A 10.96.9.10")]
    );
    for name in [
        "gone.t-nocrd.svc.cluster.local.",
        "web.t-nocrd.svc.clusterset.local.",
    ] {
        assert_eq!(rcode(&s, name, RecordType::A), ResponseCode::ServFail);
    }
    let (status, _, _) = common::http_get(ready, "/ready");
    assert_eq!(status, 503);
}

/// The raw path's answers (a worker's table of the plugin's own replies,
/// filled as questions come) are the chain's, byte for byte, the first
/// time a question is asked and after; and a change in the cluster is
/// answered there too (the table starts afresh with each new index).
#[test]
fn raw_path_answers_as_the_chain() {
    let Some(api) = api() else { return };
    let ns = "t-raw";
    web_and_headless(api, ns, 7);
    api.service(
        ns,
        "inside",
        json!({}),
        json!({"type": "ExternalName", "externalName": format!("web.{ns}.svc.cluster.local")}),
    );
    api.service(
        ns,
        "outside",
        json!({}),
        json!({"type": "ExternalName", "externalName": "www.example.org"}),
    );
    api.pod(ns, "p", &["10.7.2.7"]);
    let more = "example.org:{PORT} {\n\tfile db.example.org\n}\n";
    let files = [(
        "db.example.org",
        "@ IN SOA ns.example.org. h.example.org. 1 7200 3600 1209600 60\nwww IN A 192.0.2.80\n",
    )];
    let corefile = |mp: u16| {
        format!(
            "cluster.local:{{PORT}} in-addr.arpa:{{PORT}} ip6.arpa:{{PORT}} {{\n\
             \tprometheus 127.0.0.1:{mp}\n\
             \tkubernetes cluster.local in-addr.arpa ip6.arpa {{\n\
             \t\tkubeconfig {}\n\t\tpods verified\n\t}}\n}}\n{more}",
            api.kubeconfig.display()
        )
    };
    let (mf, ms) = (common::free_port(), common::free_port());
    let fast = Server::start_args(&corefile(mf), &files, &["-fastpath=true"]);
    let slow = Server::start_args(&corefile(ms), &files, &["-fastpath=false"]);
    let web = format!("web.{ns}.svc.cluster.local.");
    for s in [&fast, &slow] {
        until(s, &web, RecordType::A, Duration::from_secs(10), |m| {
            !answers(m).is_empty()
        });
    }
    let questions = [
        (web.clone(), RecordType::A),
        (web.clone(), RecordType::AAAA),
        (web.clone(), RecordType::SRV),
        (web.clone(), RecordType::TXT),
        (web.clone(), RecordType::MX),
        (
            format!("_http._tcp.web.{ns}.svc.cluster.local."),
            RecordType::SRV,
        ),
        (format!("hl.{ns}.svc.cluster.local."), RecordType::A),
        (format!("two.hl.{ns}.svc.cluster.local."), RecordType::A),
        (format!("hl-pod.hl.{ns}.svc.cluster.local."), RecordType::A),
        (format!("inside.{ns}.svc.cluster.local."), RecordType::A),
        (format!("outside.{ns}.svc.cluster.local."), RecordType::A),
        (format!("nope.{ns}.svc.cluster.local."), RecordType::A),
        (format!("{ns}.svc.cluster.local."), RecordType::A),
        (format!("10-7-2-7.{ns}.pod.cluster.local."), RecordType::A),
        ("cluster.local.".to_string(), RecordType::SOA),
        ("cluster.local.".to_string(), RecordType::NS),
        ("dns-version.cluster.local.".to_string(), RecordType::TXT),
        ("10.7.96.10.in-addr.arpa.".to_string(), RecordType::PTR),
        ("2.1.7.10.in-addr.arpa.".to_string(), RecordType::PTR),
        (format!("WEB.{ns}.svc.cluster.local."), RecordType::A),
    ];
    let mut id = 1u16;
    for (name, qtype) in &questions {
        for opt in RAW_OPTS {
            id += 1;
            let q = raw_query(id, name, *qtype, opt);
            let wait = Duration::from_secs(3);
            // Twice: once to fill the table, once from it. Other tests'
            // changes move the zone's serial (the SOA of negative answers)
            // at each server in its own moment: a difference must stay.
            for _ in 0..2 {
                let mut tries = 0;
                loop {
                    let want = udp_raw(slow.addr(), &q, wait).expect("chain reply");
                    let got = udp_raw(fast.addr(), &q, wait).expect("raw path reply");
                    if got == want {
                        break;
                    }
                    tries += 1;
                    assert!(tries < 5, "{name} {qtype} {opt:?}: {got:?} != {want:?}");
                    std::thread::sleep(Duration::from_millis(300));
                }
            }
        }
    }
    // Counted alike: every question once more to each (from the table
    // now), the requests and responses the metrics gained compared.
    let (before_fast, before_slow) = (dns_counts(&fast, mf), dns_counts(&slow, ms));
    for (name, qtype) in &questions {
        for s in [&fast, &slow] {
            ask(s, name, *qtype);
        }
    }
    let got = gained(&before_fast, &dns_counts(&fast, mf));
    assert!(
        got.iter()
            .any(|(k, _)| k.starts_with("coredns_dns_responses_total")
                && k.contains("plugin=\"kubernetes\"")),
        "{got:#?}"
    );
    assert_eq!(got, gained(&before_slow, &dns_counts(&slow, ms)));
    // A Service that did not exist when its name was asked: the table
    // of the index it was asked in goes with that index.
    let late = format!("late.{ns}.svc.cluster.local.");
    for _ in 0..2 {
        assert_eq!(rcode(&fast, &late, RecordType::A), ResponseCode::NXDomain);
    }
    api.service(
        ns,
        "late",
        json!({}),
        json!({"clusterIP": "10.96.7.11", "ports": [svc_port("http", 80, "TCP")]}),
    );
    let has = |m: &Message| answers(m).iter().any(|a| a.ends_with(" A 10.96.7.11"));
    until(&fast, &late, RecordType::A, Duration::from_secs(1), has);
    for s in [&fast, &slow] {
        assert!(has(&ask(s, &late, RecordType::A)));
    }
}

/// The request and response counters of a server's /metrics (its port
/// taken out), by line.
fn dns_counts(s: &Server, mp: u16) -> std::collections::BTreeMap<String, f64> {
    let (_, _, body) = common::http_get(mp, "/metrics");
    let port = format!(":{}\"", s.port);
    body.lines()
        .filter(|l| {
            l.starts_with("coredns_dns_requests_total")
                || l.starts_with("coredns_dns_responses_total")
        })
        .filter_map(|l| {
            let (series, n) = l.rsplit_once(' ')?;
            Some((series.replace(&port, ":PORT\""), n.parse().ok()?))
        })
        .collect()
}

/// What each counter gained from `before` to `after`.
fn gained(
    before: &std::collections::BTreeMap<String, f64>,
    after: &std::collections::BTreeMap<String, f64>,
) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}
