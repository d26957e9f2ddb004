//! The k8s scenario: the kubernetes plugin's memory and speed, ferrodns
//! (one worker) against CoreDNS (GOMAXPROCS=1), each on core 1, against
//! the same real kube-apiserver and etcd (`cargo xtask k8s`) on loopback.
//!
//! The cluster gets 5,000 Services (500 with `--quick`) in 50 namespaces,
//! each with one EndpointSlice of 4 ready endpoints, the addresses of 4
//! Pods (20,000; their IPs set through their status: no kubelet here),
//! created through the API with curl (HTTP/2, many requests in flight).
//! Each server runs `kubernetes cluster.local in-addr.arpa ip6.arpa {
//! pods verified }` (so Pods are watched too) with `ready`; for each:
//! the time from its start until `ready` says 200 and a Service answers;
//! resident memory once synced (the median of five samples a second
//! apart); dnsperf on core 0 asking every Service's A record for a few
//! seconds (answered q/s); then kube-apiserver is restarted (SIGTERM and a
//! new start on the same etcd, as a rolling restart does, making every
//! watch list again) and the peak of resident memory from just before the
//! restart until the server answers a Service created after it (its
//! watches are back) and three more seconds have passed (VmHWM, reset
//! first).

use super::rig::{self, Proc};
use super::{measure, zoneload, Server};
use crate::conformance::net::free_port;
use crate::k8s::cluster::{self, Cluster};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Namespaces the Services are spread over.
const NAMESPACES: usize = 50;

/// Ready endpoints (and Pods) per Service.
const PER_SERVICE: usize = 4;

/// The Services of a run.
pub fn services(quick: bool) -> usize {
    if quick {
        500
    } else {
        5_000
    }
}

fn ns(j: usize) -> String {
    format!("bench-{}", j % NAMESPACES)
}

fn pod_ip(i: usize) -> String {
    format!("10.244.{}.{}", i / 250, i % 250 + 1)
}

/// The cluster, stopped when dropped.
struct Running(Cluster);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.apiserver.kill();
        let _ = self.0.apiserver.wait();
        let _ = self.0.etcd.kill();
        let _ = self.0.etcd.wait();
        let _ = cluster::stop(&self.0.dir);
    }
}

/// A string as curl's config file quotes it.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Sends every (method, path, JSON body) to the API server with one curl
/// (HTTP/2, up to 64 requests in flight); fails unless each got a 2xx.
fn send_all(c: &Cluster, dir: &Path, what: &str, reqs: &[(&str, String, Value)]) -> Result<()> {
    let mut conf = String::new();
    for (k, (method, path, body)) in reqs.iter().enumerate() {
        if k > 0 {
            conf.push_str("next\n");
        }
        let ctype = if *method == "PATCH" {
            "application/merge-patch+json"
        } else {
            "application/json"
        };
        let _ = write!(
            conf,
            "url = {}\nrequest = {method}\ncacert = {}\nheader = {}\nheader = {}\ndata-binary = {}\noutput = /dev/null\nwrite-out = \"%{{http_code}}\\n\"\nsilent\nshow-error\n",
            quoted(&format!("{}{path}", c.server)),
            quoted(&c.ca.to_string_lossy()),
            quoted(&format!("Authorization: Bearer {}", cluster::TOKEN)),
            quoted(&format!("Content-Type: {ctype}")),
            quoted(&body.to_string()),
        );
    }
    let file = dir.join(format!("{what}.curl"));
    std::fs::write(&file, conf)?;
    let t0 = Instant::now();
    let out = Command::new("curl")
        .args(["--parallel", "--parallel-max", "64", "--http2", "-K"])
        .arg(&file)
        .output()
        .context("run curl")?;
    let codes = String::from_utf8_lossy(&out.stdout);
    let ok = codes.lines().filter(|l| l.starts_with('2')).count();
    if ok != reqs.len() {
        let bad: Vec<&str> = codes
            .lines()
            .filter(|l| !l.starts_with('2'))
            .take(5)
            .collect();
        bail!(
            "{what}: {ok} of {} requests succeeded (other codes: {bad:?}); curl: {}",
            reqs.len(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    eprintln!(
        "bench: [k8s] {what}: {} requests in {:.1} s",
        reqs.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The objects: namespaces, then Services and Pods, then the Pods' IPs
/// and the EndpointSlices.
fn populate(c: &Cluster, dir: &Path, n: usize) -> Result<()> {
    let nss: Vec<(&str, String, Value)> = (0..NAMESPACES.min(n))
        .map(|k| {
            (
                "POST",
                "/api/v1/namespaces".to_string(),
                json!({"metadata": {"name": ns(k)}}),
            )
        })
        .collect();
    send_all(c, dir, "namespaces", &nss)?;
    let mut first = Vec::with_capacity(n * (1 + PER_SERVICE));
    let mut second = Vec::with_capacity(n * (1 + PER_SERVICE));
    for j in 0..n {
        let (ns, svc) = (ns(j), format!("svc-{j}"));
        first.push((
            "POST",
            format!("/api/v1/namespaces/{ns}/services"),
            json!({
                "metadata": {"name": svc, "labels": {"app": svc, "tier": "backend"}},
                "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}], "selector": {"app": svc}},
            }),
        ));
        let mut endpoints = Vec::new();
        for p in 0..PER_SERVICE {
            let i = j * PER_SERVICE + p;
            let pod = format!("{svc}-{p}");
            first.push((
                "POST",
                format!("/api/v1/namespaces/{ns}/pods"),
                json!({
                    "metadata": {"name": pod, "labels": {"app": svc, "pod-template-hash": "5d8f7c9b6"}},
                    "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0", "ports": [{"containerPort": 80}]}]},
                }),
            ));
            second.push((
                "PATCH",
                format!("/api/v1/namespaces/{ns}/pods/{pod}/status"),
                json!({"status": {"podIP": pod_ip(i), "podIPs": [{"ip": pod_ip(i)}]}}),
            ));
            endpoints.push(json!({
                "addresses": [pod_ip(i)],
                "conditions": {"ready": true},
                "targetRef": {"kind": "Pod", "name": pod, "namespace": ns},
            }));
        }
        second.push((
            "POST",
            format!("/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices"),
            json!({
                "metadata": {"name": format!("{svc}-abcde"), "labels": {"kubernetes.io/service-name": svc}},
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
            }),
        ));
    }
    send_all(c, dir, "services and pods", &first)?;
    send_all(c, dir, "pod IPs and endpointslices", &second)
}

/// A Service's ClusterIP, read back from the API.
fn cluster_ip(c: &Cluster, ns: &str, svc: &str) -> Result<String> {
    let v: Value = serde_json::from_str(&cluster::call(
        &c.server,
        &c.ca,
        "GET",
        &format!("/api/v1/namespaces/{ns}/services/{svc}"),
        None,
    )?)?;
    v["spec"]["clusterIP"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("no clusterIP for {ns}/{svc}"))
}

/// Whether `GET /ready` on 127.0.0.1:`port` answers 200.
fn ready(port: u16) -> bool {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut out = String::new();
    s.write_all(b"GET /ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_ok()
        && s.read_to_string(&mut out).is_ok()
        && out.starts_with("HTTP/1.")
        && out.split_whitespace().nth(1) == Some("200")
}

/// dnsperf on core 0 over `file` against 127.0.0.1:`port` for `seconds`.
fn dnsperf(file: &Path, port: u16, seconds: u64) -> Result<Value> {
    let mut cmd = Command::new("taskset");
    cmd.args([
        "-c",
        "0",
        "dnsperf",
        "-s",
        "127.0.0.1",
        "-p",
        &port.to_string(),
    ])
    .arg("-d")
    .arg(file)
    .args([
        "-l",
        &seconds.to_string(),
        "-c",
        "1",
        "-q",
        "1000",
        "-t",
        "1",
    ])
    .args(["-O", "suppress=timeout,unexpected"]);
    let (ok, out) = rig::run_bounded("dnsperf", cmd, Duration::from_secs(seconds + 20))?;
    measure::dnsperf_report(ok, &out)
}

/// One server's row.
#[allow(clippy::too_many_arguments)]
fn one(
    server: Server,
    bin: &Path,
    c: &mut Cluster,
    dir: &Path,
    n: usize,
    seconds: u64,
    probe: (&str, &str),
    round: &mut usize,
) -> Result<Value> {
    let (port, rport) = (free_port(), free_port());
    let corefile = dir.join(format!("Corefile.{}", server.id()));
    std::fs::write(
        &corefile,
        format!(
            ".:{port} {{\n    bind 127.0.0.1\n    ready 127.0.0.1:{rport}\n    kubernetes cluster.local in-addr.arpa ip6.arpa {{\n        kubeconfig {}\n        pods verified\n    }}\n}}\n",
            c.kubeconfig.display()
        ),
    )?;
    let mut cmd = Command::new("taskset");
    cmd.args(["-c", "1"]).arg(bin).arg("-conf").arg(&corefile);
    if server == Server::Ferrodns {
        cmd.args(["-workers", "1"]);
    } else {
        cmd.env("GOMAXPROCS", "1");
    }
    let t0 = Instant::now();
    let mut p = Proc::spawn(
        server.label(),
        cmd,
        dir.join(format!("{}.log", server.id())),
    )?;
    let pid = p.pid();
    while !ready(rport) {
        p.check_alive()?;
        if t0.elapsed() > Duration::from_secs(300) {
            bail!("{} not ready within 300 s", server.label());
        }
        rig::sleep(Duration::from_millis(50))?;
    }
    zoneload::until_answers(&mut p, port, probe.0, probe.1, t0)?;
    let synced = t0.elapsed();
    rig::sleep(Duration::from_secs(2))?;
    let mut samples = Vec::new();
    for _ in 0..5 {
        samples.push(rig::rss_kib(pid));
        rig::sleep(Duration::from_secs(1))?;
    }
    samples.sort_unstable();
    let steady = samples[2];
    let peak_at_start = rig::peak_rss_kib(pid);
    // Every Service's A record, in order, over and over.
    let names = dir.join("services.q");
    if !names.exists() {
        let mut text = String::with_capacity(n * 40);
        for j in 0..n {
            let _ = writeln!(text, "svc-{j}.{}.svc.cluster.local A", ns(j));
        }
        std::fs::write(&names, text)?;
    }
    let dp = dnsperf(&names, port, seconds)?;
    p.check_alive()?;
    rig::sleep(Duration::from_secs(1))?;
    let rss_after_load = rig::rss_kib(pid);
    // The API server restarts: every watch lists again.
    zoneload::reset_peak(pid)?;
    let before_restart = rig::rss_kib(pid);
    let t1 = Instant::now();
    let timeline = Timeline::start(pid, t1);
    let api_restart = c.restart_apiserver()?;
    let created_ms = t1.elapsed().as_millis() as u64;
    // A Service created after the restart answers once the watches are
    // back.
    *round += 1;
    let svc = format!("after-{round}");
    cluster::call(
        &c.server,
        &c.ca,
        "POST",
        "/api/v1/namespaces/bench-0/services",
        Some(
            &json!({"metadata": {"name": svc}, "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}})
                .to_string(),
        ),
    )?;
    let ip = cluster_ip(c, "bench-0", &svc)?;
    zoneload::until_answers(
        &mut p,
        port,
        &format!("{svc}.bench-0.svc.cluster.local"),
        &ip,
        t1,
    )?;
    let resync = t1.elapsed();
    rig::sleep(Duration::from_secs(3))?;
    let samples_during = timeline.stop();
    let restart_peak = rig::peak_rss_kib(pid);
    let rss_after_restart = rig::rss_kib(pid);
    p.stop();
    Ok(json!({
        "server": server.label(),
        "id": server.id(),
        "services": n,
        "endpoints": n * PER_SERVICE,
        "pods": n * PER_SERVICE,
        "sync_s": synced.as_secs_f64(),
        "rss_kib": steady,
        "rss_samples_kib": samples,
        "peak_rss_at_start_kib": peak_at_start,
        "dnsperf": dp,
        "answered_qps": dp["answered_qps"],
        "rss_after_load_kib": rss_after_load,
        "restart": {
            "rss_before_kib": before_restart,
            "api_restart_s": api_restart.as_secs_f64(),
            "answering_new_service_s": resync.as_secs_f64(),
            "peak_rss_kib": restart_peak,
            "rss_after_kib": rss_after_restart,
            // When the memory moved: [ms since the restart began, KiB];
            // the API server was back (and the new Service created) at
            // `service_created_ms`.
            "service_created_ms": created_ms,
            "rss_timeline": samples_during,
        },
        "restart_peak_over_steady": restart_peak as f64 / steady.max(1) as f64,
    }))
}

/// Every row of the scenario (the servers of `servers` it has: ferrodns
/// and CoreDNS), against one cluster.
pub fn run(
    servers: &[Server],
    ferrodns: &Path,
    coredns: &Path,
    work: &Path,
    quick: bool,
) -> Result<Vec<Value>> {
    let dir = work.join("k8s");
    super::fresh_dir(&dir)?;
    let bin = crate::k8s::binaries()?;
    let n = services(quick);
    let t0 = Instant::now();
    let mut c = Running(cluster::start(&bin, &dir.join("cluster"), false)?);
    eprintln!(
        "bench: [k8s] kube-apiserver ready in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    populate(&c.0, &dir, n)?;
    let probe_ip = cluster_ip(&c.0, &ns(n - 1), &format!("svc-{}", n - 1))?;
    let probe = format!("svc-{}.{}.svc.cluster.local", n - 1, ns(n - 1));
    let seconds = if quick { 3 } else { 10 };
    let mut rows = Vec::new();
    let mut round = 0;
    for &server in servers {
        let bin = match server {
            Server::Ferrodns => ferrodns,
            Server::CoreDns => coredns,
            _ => continue,
        };
        eprintln!("bench: [k8s] {} ...", server.label());
        let row = one(
            server,
            bin,
            &mut c.0,
            &dir,
            n,
            seconds,
            (&probe, &probe_ip),
            &mut round,
        )
        .with_context(|| format!("scenario k8s, server {}", server.label()))?;
        eprintln!("bench: [k8s] {}", super::report::one_line(&row));
        rows.push(row);
    }
    Ok(rows)
}

/// Resident memory sampled every 20 ms on a thread of its own, kept where
/// it moved by 256 KiB or more: where a peak comes from.
struct Timeline {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(u64, u64)>>,
}

impl Timeline {
    fn start(pid: u32, t0: Instant) -> Timeline {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut kept: Vec<(u64, u64)> = Vec::new();
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let kib = rig::rss_kib(pid);
                if kept
                    .last()
                    .is_none_or(|&(_, last)| kib.abs_diff(last) >= 256)
                {
                    kept.push((t0.elapsed().as_millis() as u64, kib));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            kept
        });
        Timeline { stop, thread }
    }

    fn stop(self) -> Vec<(u64, u64)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or_default()
    }
}
