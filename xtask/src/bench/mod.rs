//! `cargo xtask bench`: ferrodns against CoreDNS, unbound, dnsdist, NSD and
//! Knot DNS (the authoritative scenario), and the bare reflectors (the
//! hardware's limits), on the rig of
//! shared/BENCHMARKING.md. See docs/benchmarks.md for the method.

mod handover;
mod k8s;
mod measure;
mod report;
mod rig;
mod setup;
mod zoneload;

use anyhow::{bail, Context, Result};
use measure::Load;
use rig::{in_ns, Proc, Rig, CLIENT_NS, SERVER_CORE, SERVER_IP, SERVER_NS};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const USAGE: &str = "  bench [--quick] [--scenario NAME[,NAME]] [--servers LIST]
                       ferrodns vs CoreDNS, unbound, dnsdist, NSD, Knot DNS and bare
                       reflectors in two network namespaces (root); scenarios cache
                       (cache-hits), cache-2w, zipf, zipf-2w, forward, auth, memory,
                       flood, upgrade (restarts and upgrades under load), k8s
                       (the kubernetes plugin's memory against CoreDNS; needs no rig),
                       zoneload (needs no rig; alone it writes
                       bench/results/zoneload.*); servers ferrodns, ferrodns-uring, ferrodns-steer (-steer,
                       2-worker scenarios), coredns, unbound, dnsdist, nsd and knot
                       (auth only), reflect-socket, reflect-uring, reflect-xdp; scenario xdp:
                       ferrodns's kernel fast path vs dnsdist and the XDP reflector;
                       results in bench/results/ (a full run: latest.*,
                       docs/benchmarks.md)
";

/// What a scenario measures.
#[derive(Clone, Copy, PartialEq)]
pub enum Kind {
    /// Saturation (kxdpgun, dnsperf) and latency at a fixed rate.
    Load,
    /// Resident memory per cached answer (ferrodns only).
    Memory,
    /// Hot names' hit ratio and peak memory under a flood of unique names.
    Flood,
    /// Zone loading and reloading: time and memory (`zoneload`).
    ZoneLoad,
    /// Restarts and binary upgrades under load: lost queries and the hit
    /// ratio on each side of every handover (ferrodns only).
    Handover,
    /// The kubernetes plugin against a real API server: memory after
    /// sync and through an API server restart, service lookups (`k8s`).
    K8s,
}

pub struct Scenario {
    pub name: &'static str,
    /// Other names `--scenario` takes for it.
    pub aliases: &'static [&'static str],
    pub about: &'static str,
    pub queries: &'static str,
    /// Send every name once before measuring, to fill caches.
    pub warm: bool,
    pub kind: Kind,
    /// Server threads. 1: pinned to core 1. 2: on both cores (`taskset -c
    /// 0,1`), sharing core 0 with the load generators and the upstream:
    /// ferrodns `-workers 2`, CoreDNS GOMAXPROCS=2, the configuration's
    /// multisocket or threads 2; the bare reflectors (one thread) left out.
    pub workers: usize,
    /// The upstream zone whose queries the upstream counts for this
    /// scenario: hit ratio and upstream queries per row.
    pub upstream_zone: Option<&'static str>,
}

impl Scenario {
    /// The cores the server under test may run on.
    fn cores(&self) -> &'static str {
        if self.workers > 1 {
            "0,1"
        } else {
            SERVER_CORE
        }
    }

    /// Whether `server` has a row in this scenario.
    fn runs(&self, server: Server) -> bool {
        match self.kind {
            Kind::Memory | Kind::Handover => server == Server::Ferrodns,
            Kind::Flood => server.corefile(),
            Kind::ZoneLoad | Kind::K8s => matches!(server, Server::Ferrodns | Server::CoreDns),
            // Steering needs more than one worker.
            Kind::Load if server == Server::FerrodnsSteer => self.workers > 1,
            // Authoritative servers only: they serve the zone, nothing else.
            Kind::Load if server.authoritative_only() => self.name == "auth",
            // The kernel path against the kernel reflector and dnsdist.
            Kind::Load if self.name == "xdp" => matches!(
                server,
                Server::Ferrodns | Server::Dnsdist | Server::ReflectXdp
            ),
            Kind::Load => self.workers == 1 || !server.reflector(),
        }
    }

    /// Load generator sockets: with 2 workers the kernel spreads queries
    /// over the SO_REUSEPORT sockets by source port, so dnsperf and the
    /// generator use 16 each (dnsperf `-c 16`); 1 worker keeps dnsperf's
    /// one socket and the generator's default 4.
    fn clients(&self) -> usize {
        if self.workers > 1 {
            16
        } else {
            1
        }
    }
}

/// The fixed rate of the load over which the zipf scenarios count the
/// cache's hit ratio and the upstream's queries, the same queries in the
/// same order for every row: a rate every server and the upstream keep up
/// with, so that 1 and 2 workers see the same stream.
pub const UPSTREAM_CHECK_RATE: u64 = 10_000;

/// The flood scenario's steady rate of hot names (100 names: each asked
/// every 100 ms).
pub const HOT_RATE: u64 = 1000;

/// Where ferrodns and CoreDNS serve /metrics in the configurations that
/// have prometheus (server namespace), and where the upstream does.
const METRICS_ADDR: &str = "127.0.0.1:9153";
const UPSTREAM_METRICS_ADDR: &str = "127.0.0.1:9253";

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "cache",
        aliases: &["cache-hits"],
        about: "cache hits: 10,000 names, every answer from the cache (warmed first)",
        queries: "cache.q",
        warm: true,
        kind: Kind::Load,
        workers: 1,
        upstream_zone: None,
    },
    Scenario {
        name: "xdp",
        aliases: &["kernel"],
        about: "the kernel fast path: cache hits on 10,000 names answered by ferrodns's XDP program (`xdp`, warmed and promoted first) against dnsdist's packet cache and the bare XDP reflector",
        queries: "cache.q",
        warm: true,
        kind: Kind::Load,
        workers: 1,
        upstream_zone: None,
    },
    Scenario {
        name: "cache-2w",
        aliases: &["cache-hits-2w"],
        about: "cache hits with 2 workers on 2 cores (servers not pinned; the load generators share core 0 with them): as cache",
        queries: "cache.q",
        warm: true,
        kind: Kind::Load,
        workers: 2,
        upstream_zone: None,
    },
    Scenario {
        name: "zipf",
        aliases: &[],
        about: "Zipf(1.0) mix over 1,000,000 names, 100,000-entry cache, local authoritative upstream",
        queries: "zipf.q",
        warm: true,
        kind: Kind::Load,
        workers: 1,
        upstream_zone: Some("zipf.bench."),
    },
    Scenario {
        name: "zipf-2w",
        aliases: &[],
        about: "Zipf(1.0) mix as zipf, with 2 workers on 2 cores (servers not pinned; the load generators share core 0 with them)",
        queries: "zipf.q",
        warm: true,
        kind: Kind::Load,
        workers: 2,
        upstream_zone: Some("zipf.bench."),
    },
    Scenario {
        name: "forward",
        aliases: &["forward-only"],
        about: "forward only: no cache, every query a miss to the local upstream (TTL 0 answers)",
        queries: "fwd.q",
        warm: false,
        kind: Kind::Load,
        workers: 1,
        upstream_zone: None,
    },
    Scenario {
        name: "auth",
        aliases: &[],
        about: "authoritative: a 10,000-record zone served by `file` (unbound: auth-zone; NSD and Knot DNS: the same zone file; dnsdist: packet cache in front of the upstream)",
        queries: "auth.q",
        warm: true,
        kind: Kind::Load,
        workers: 1,
        upstream_zone: None,
    },
    Scenario {
        name: "memory",
        aliases: &[],
        about: "resident memory per cached answer: 1,000,000 distinct names (100,000 with --quick) asked once each, ferrodns with one worker",
        queries: "mem.q",
        warm: false,
        kind: Kind::Memory,
        workers: 1,
        upstream_zone: None,
    },
    Scenario {
        name: "flood",
        aliases: &[],
        about: "flood: `cache { success 10000; denial 1000 }`, 100 hot names at 1,000 q/s throughout while 500,000 unique random subdomains (50,000 with --quick) arrive as fast as the server answers them (dnsperf, 1,000 in flight); one worker",
        queries: "hot.q",
        warm: false,
        kind: Kind::Flood,
        workers: 1,
        upstream_zone: Some("hot.bench."),
    },
    Scenario {
        name: "upgrade",
        aliases: &["restart", "handover"],
        about: "restarts and upgrades that lose no query: the zipf scenario's cache and upstream, ferrodns (one worker, `-handover`) under dnsperf at half its saturation rate (dnsperf's own over the zipf queries, measured first; then a fresh draw of the same Zipf mix that does not repeat within the run) through 10 restarts and then 10 binary upgrades (3 and 3 with --quick; SIGUSR2, a new process from the binary's path takes the sockets and the cache over): dnsperf's lost queries over the whole run, and the cache's hit ratio over the second before each handover and the second right after it",
        queries: "zipf.q",
        warm: true,
        kind: Kind::Handover,
        workers: 1,
        upstream_zone: None,
    },
    Scenario {
        name: "k8s",
        aliases: &["kubernetes"],
        about: "the kubernetes plugin: 5,000 Services (500 with --quick) in 50 namespaces, each with an EndpointSlice of 4 ready endpoints, and their 20,000 Pods, created through a real kube-apiserver on loopback; ferrodns (one worker) and CoreDNS (GOMAXPROCS=1) on core 1 with `kubernetes cluster.local in-addr.arpa ip6.arpa { pods verified }`: seconds until synced, resident memory once synced, dnsperf on core 0 over every Service's A record, and the peak of resident memory while kube-apiserver restarts (until a Service created after it answers, and 3 s more); not in the rig",
        queries: "",
        warm: false,
        kind: Kind::K8s,
        workers: 1,
        upstream_zone: None,
    },
    Scenario {
        name: "zoneload",
        aliases: &["zone-load"],
        about: "zone loading: a 1,000,000-record zone (100,000 with --quick; mostly A, with AAAA, MX, TXT, CNAME and wildcards, relative names, $TTL, owners left out on continuation lines) served by `file` on loopback: seconds from the start until the file's last record answers, resident memory and its peak once answering, then the zone replaced with the next serial and the time and peak until the reload (`reload 1s`) answers; three starts of each server, taking turns (ferrodns one worker, CoreDNS its default GOMAXPROCS)",
        queries: "",
        warm: false,
        kind: Kind::ZoneLoad,
        workers: 1,
        upstream_zone: None,
    },
];

#[derive(Clone, Copy, PartialEq)]
pub enum Server {
    Ferrodns,
    /// ferrodns with `-io uring`.
    FerrodnsUring,
    /// ferrodns with `-steer` (UDP queries steered by question with the
    /// SK_REUSEPORT program; the 2-worker scenarios only).
    FerrodnsSteer,
    CoreDns,
    Unbound,
    Dnsdist,
    /// NSD, authoritative only (the auth scenario).
    Nsd,
    /// Knot DNS, authoritative only (the auth scenario).
    Knot,
    ReflectSocket,
    ReflectUring,
    ReflectXdp,
}

/// In the order they run: ferrodns first, so that the latency at half its
/// saturation rate can be taken for the reflectors too.
pub const SERVERS: &[Server] = &[
    Server::Ferrodns,
    Server::FerrodnsUring,
    Server::FerrodnsSteer,
    Server::CoreDns,
    Server::Unbound,
    Server::Dnsdist,
    Server::Nsd,
    Server::Knot,
    Server::ReflectSocket,
    Server::ReflectUring,
    Server::ReflectXdp,
];

impl Server {
    pub fn id(self) -> &'static str {
        match self {
            Server::Ferrodns => "ferrodns",
            Server::FerrodnsUring => "ferrodns-uring",
            Server::FerrodnsSteer => "ferrodns-steer",
            Server::CoreDns => "coredns",
            Server::Unbound => "unbound",
            Server::Dnsdist => "dnsdist",
            Server::Nsd => "nsd",
            Server::Knot => "knot",
            Server::ReflectSocket => "reflect-socket",
            Server::ReflectUring => "reflect-uring",
            Server::ReflectXdp => "reflect-xdp",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Server::Ferrodns => "ferrodns",
            Server::FerrodnsUring => "ferrodns (io_uring)",
            Server::FerrodnsSteer => "ferrodns (steered)",
            Server::CoreDns => "CoreDNS",
            Server::Unbound => "unbound",
            Server::Dnsdist => "dnsdist",
            Server::Nsd => "NSD",
            Server::Knot => "Knot DNS",
            Server::ReflectSocket => "socket reflector",
            Server::ReflectUring => "io_uring reflector",
            Server::ReflectXdp => "XDP reflector",
        }
    }

    /// Runs from the scenario's Corefile (ferrodns and CoreDNS).
    fn corefile(self) -> bool {
        matches!(
            self,
            Server::Ferrodns | Server::FerrodnsUring | Server::FerrodnsSteer | Server::CoreDns
        )
    }

    /// An authoritative-only server (NSD, Knot DNS): a row in the auth
    /// scenario only.
    fn authoritative_only(self) -> bool {
        matches!(self, Server::Nsd | Server::Knot)
    }

    /// A bare reflector (one thread, no DNS work).
    fn reflector(self) -> bool {
        matches!(
            self,
            Server::ReflectSocket | Server::ReflectUring | Server::ReflectXdp
        )
    }
}

struct Opts {
    quick: bool,
    scenarios: Vec<&'static Scenario>,
    servers: Vec<Server>,
}

/// A helper server of the run (on core 0 with the load generators), ready
/// once it answers `probe` on 127.0.0.1:`port`.
fn spawn_upstream(
    label: &str,
    program: &std::path::Path,
    args: &[String],
    log: std::path::PathBuf,
    port: u16,
    probe: &str,
) -> Result<Proc> {
    let mut p = Proc::spawn(label, in_ns(SERVER_NS, "0", program, args), log)?;
    measure::wait_ready(
        SERVER_NS,
        "127.0.0.1",
        port,
        probe,
        Duration::from_secs(15),
        || p.check_alive(),
    )
    .with_context(|| format!("{label} did not start"))?;
    Ok(p)
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        quick: false,
        scenarios: SCENARIOS.iter().collect(),
        servers: SERVERS.to_vec(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--scenario" => {
                let v = it.next().context("--scenario takes a name")?;
                o.scenarios = v
                    .split(',')
                    .map(|n| {
                        SCENARIOS
                            .iter()
                            .find(|s| s.name == n || s.aliases.contains(&n))
                            .with_context(|| {
                                format!(
                                    "unknown scenario {n:?}: {}",
                                    SCENARIOS
                                        .iter()
                                        .map(|s| match s.aliases.first() {
                                            Some(a) => format!("{} ({a})", s.name),
                                            None => s.name.to_string(),
                                        })
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            })
                    })
                    .collect::<Result<_>>()?;
            }
            "--servers" => {
                let v = it.next().context("--servers takes a list")?;
                o.servers = v
                    .split(',')
                    .map(|n| {
                        SERVERS
                            .iter()
                            .copied()
                            .find(|s| s.id() == n.to_lowercase())
                            .with_context(|| {
                                format!(
                                    "unknown server {n:?}: {}",
                                    SERVERS
                                        .iter()
                                        .map(|s| s.id())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                )
                            })
                    })
                    .collect::<Result<_>>()?;
            }
            "-h" | "--help" => {
                println!("usage:\n{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown bench option {other:?}\nusage:\n{USAGE}"),
        }
    }
    // Each once, in the harness's order (ferrodns first: the latency at
    // half saturation takes its rate from ferrodns's row).
    o.scenarios = SCENARIOS
        .iter()
        .filter(|s| o.scenarios.iter().any(|x| x.name == s.name))
        .collect();
    o.servers = SERVERS
        .iter()
        .copied()
        .filter(|s| o.servers.iter().any(|x| x.id() == s.id()))
        .collect();
    Ok(o)
}

pub fn main(args: &[String]) -> Result<()> {
    let opts = parse(args)?;
    if opts
        .scenarios
        .iter()
        .all(|s| matches!(s.kind, Kind::ZoneLoad | Kind::K8s))
    {
        return loopback_only(&opts);
    }
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        bail!("cargo xtask bench needs root: it creates network namespaces and loads XDP programs");
    }
    rig::catch_signals();
    setup::packages()?;
    let bins = setup::binaries()?;
    let work = crate::root().join("target/bench");
    setup::data(
        &work,
        10_000,
        10_000,
        if opts.quick { 100_000 } else { 1_000_000 },
        if opts.quick { 50_000 } else { 500_000 },
    )?;
    let xdp = Xdp {
        reflect: setup::xdp_object(&work, "reflect")?,
        pass: setup::xdp_object(&work, "pass")?,
    };
    rig::check_interrupted()?;

    let (seconds, latency_seconds) = if opts.quick { (2, 2) } else { (6, 5) };
    let latency_rate = 5000;
    let rig = Rig::up()?;
    eprintln!(
        "bench: rig up: {CLIENT_NS} {} <-> {SERVER_NS} {SERVER_IP}; server on core {SERVER_CORE}, load on core 0",
        rig::CLIENT_IP
    );
    // One upstream for the whole run, on core 0 with the load generators.
    let upstream_conf = setup::render("upstream.Corefile", &work, "upstream.Corefile")?;
    let mut upstream = spawn_upstream(
        "upstream (ferrodns, file)",
        &bins.ferrodns,
        &["-conf".into(), upstream_conf.to_string_lossy().into_owned()],
        work.join("upstream.log"),
        5300,
        "x.cache.bench",
    )?;
    // The forward scenario's upstream: one A record for any name, TTL 0, with
    // the least work an answer takes, so that the server under test and not
    // the upstream sets the pace.
    let mut answerer = spawn_upstream(
        "upstream (ferrodns-bench answer)",
        &bins.bench,
        &[
            "answer".into(),
            "--listen".into(),
            "127.0.0.1:5301".into(),
            "--ttl".into(),
            "0".into(),
        ],
        work.join("answer.log"),
        5301,
        "x.fwd.bench",
    )?;

    let started = std::time::Instant::now();
    let mut results = Vec::new();
    for sc in &opts.scenarios {
        let q = setup::queries(&work, sc.queries)?;
        let load = Load {
            queries: &q.file,
            seconds,
            latency_seconds,
            latency_rate,
            server_mac: &rig.server_mac,
            bench_bin: &bins.bench,
            clients: sc.clients(),
        };
        let mut rows = Vec::new();
        if sc.kind == Kind::K8s {
            rows = k8s::run(
                &opts.servers,
                &bins.ferrodns,
                &bins.coredns,
                &work,
                opts.quick,
            )?;
        }
        if sc.kind == Kind::ZoneLoad {
            rows = zoneload::run(
                sc,
                &opts.servers,
                &bins.ferrodns,
                &bins.coredns,
                &work,
                zoneload_records(opts.quick),
            )?;
        }
        // Half of ferrodns's saturation rate (kxdpgun), once it is measured.
        let mut half_rate = None;
        for &server in &opts.servers {
            if matches!(sc.kind, Kind::ZoneLoad | Kind::K8s) {
                break;
            }
            if !sc.runs(server) {
                continue;
            }
            rig::check_interrupted()?;
            upstream.check_alive()?;
            answerer.check_alive()?;
            eprintln!("bench: [{}] {} ...", sc.name, server.label());
            let row = match sc.kind {
                Kind::ZoneLoad | Kind::K8s => {
                    unreachable!("zoneload and k8s run their servers themselves")
                }
                Kind::Memory => run_memory(sc, &bins, &work, &load, &q.probe),
                Kind::Flood => run_flood(sc, server, &bins, &work, &load, &q.probe),
                Kind::Handover => handover::run(
                    sc,
                    &bins,
                    &work,
                    &load,
                    &q.probe,
                    handover::rounds(opts.quick),
                ),
                Kind::Load => run_one(
                    sc,
                    server,
                    &bins,
                    &work,
                    &xdp,
                    &rig,
                    &load,
                    &q.probe,
                    &mut half_rate,
                    false,
                ),
            };
            // Ctrl-C reaches the generators too; say so rather than that they failed.
            rig::check_interrupted()?;
            let row =
                row.with_context(|| format!("scenario {}, server {}", sc.name, server.label()))?;
            eprintln!("bench: [{}] {}", sc.name, report::one_line(&row));
            rows.push(row);
        }
        // The ratio targets again, from rounds that alternate ferrodns and
        // each peer (kxdpgun only): one pair measured minutes apart is at the
        // mercy of the machine's drift; the median of three close pairs less.
        let peers = report::target_peers(sc.name);
        let paired: Vec<Server> = std::iter::once(Server::Ferrodns)
            .chain(
                peers
                    .iter()
                    .filter_map(|id| SERVERS.iter().copied().find(|s| s.id() == *id)),
            )
            .filter(|s| opts.servers.contains(s) && sc.runs(*s))
            .collect();
        let mut rounds = Vec::new();
        if !opts.quick && paired.len() > 1 && paired[0] == Server::Ferrodns {
            for round in 0..3 {
                let mut r = serde_json::Map::new();
                for &server in &paired {
                    rig::check_interrupted()?;
                    upstream.check_alive()?;
                    answerer.check_alive()?;
                    eprintln!(
                        "bench: [{}] round {} {} ...",
                        sc.name,
                        round + 1,
                        server.label()
                    );
                    let row = run_one(
                        sc, server, &bins, &work, &xdp, &rig, &load, &q.probe, &mut None, true,
                    );
                    rig::check_interrupted()?;
                    let row = row.with_context(|| {
                        format!("scenario {}, server {} (round)", sc.name, server.label())
                    })?;
                    r.insert(server.id().into(), row["kxdpgun_qps"].clone());
                }
                eprintln!(
                    "bench: [{}] round {}: {}",
                    sc.name,
                    round + 1,
                    Value::Object(r.clone())
                );
                rounds.push(Value::Object(r));
            }
        }
        let targets = report::targets(sc.name, &rows, &rounds, &results);
        for t in &targets {
            eprintln!("bench: [{}] {}", sc.name, report::target_line(t));
        }
        results.push(json!({
            "name": sc.name,
            "about": sc.about,
            "ratios": report::ratios(&rows),
            "targets": targets,
            "paired_rounds": rounds,
            "servers": rows,
        }));
    }
    // Every scenario and server: `latest` (or `quick`); else `partial`, so
    // that a run of some leaves the kept results alone.
    let all = opts.scenarios.len() == SCENARIOS.len() && opts.servers.len() == SERVERS.len();
    upstream.stop();
    answerer.stop();
    drop(rig);

    let mut out = report::run_header(opts.quick, started.elapsed().as_secs_f64(), results);
    out["seconds_per_load"] = json!(seconds);
    out["latency_rate_qps"] = json!(latency_rate);
    out["latency_seconds"] = json!(latency_seconds);
    let stem = match (all, opts.quick) {
        (false, _) => "partial",
        (true, true) => "quick",
        (true, false) => "latest",
    };
    report::write(&out, Some(&bins.bench), stem)
}

/// The test command's shortened restart and upgrade run: the upgrade
/// scenario's `--quick` form (3 restarts and 3 upgrades under dnsperf at
/// half of saturation), failing unless every query was answered. Returns
/// the checks it made (0 where it cannot run: not root).
pub fn upgrade_check() -> Result<u64> {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        println!(
            "SKIPPED the restart and upgrade run under load: it needs root (network namespaces)"
        );
        return Ok(0);
    }
    main(&[
        "--quick".into(),
        "--scenario".into(),
        "upgrade".into(),
        "--servers".into(),
        "ferrodns".into(),
    ])?;
    let out = crate::root().join("bench/results/partial.json");
    let v = measure::read_json(&out)?;
    let row = &v["scenarios"][0]["servers"][0];
    let lost = row["lost"]
        .as_f64()
        .with_context(|| format!("no count of lost queries in {}", out.display()))?;
    println!(
        "upgrade: {} restarts and {} upgrades at {} q/s: {lost} of {} queries lost; hit ratio {:.2}% before, {:.2}% right after",
        row["restarts"],
        row["upgrades"],
        row["rate"],
        row["dnsperf"]["sent"],
        row["hit_ratio_before_mean"].as_f64().unwrap_or(0.0) * 100.0,
        row["hit_ratio_after_mean"].as_f64().unwrap_or(0.0) * 100.0,
    );
    if lost != 0.0 {
        bail!(
            "{lost} queries lost through the restarts and upgrades ({})",
            out.display()
        );
    }
    Ok(1)
}

/// The records of the zoneload scenario's zone.
fn zoneload_records(quick: bool) -> usize {
    if quick {
        100_000
    } else {
        1_000_000
    }
}

/// A run of the scenarios that need no rig (zoneload, k8s) alone:
/// loopback, no packages, no root for zoneload; ferrodns built for release
/// (without the eBPF features, which neither touches) and CoreDNS; the
/// results in bench/results/zoneload.* or k8s.* (both: partial.*).
fn loopback_only(opts: &Opts) -> Result<()> {
    rig::catch_signals();
    crate::run(crate::cargo().args(["build", "--release", "-p", "ferrodns"]))?;
    let ferrodns = setup::release_dir().join("ferrodns");
    let coredns = crate::coredns::binary()?;
    let work = crate::root().join("target/bench");
    let started = std::time::Instant::now();
    let load_before = report::loadavg();
    let mut results = Vec::new();
    for sc in &opts.scenarios {
        let rows = if sc.kind == Kind::K8s {
            k8s::run(&opts.servers, &ferrodns, &coredns, &work, opts.quick)?
        } else {
            zoneload::run(
                sc,
                &opts.servers,
                &ferrodns,
                &coredns,
                &work,
                zoneload_records(opts.quick),
            )?
        };
        let targets = report::targets(sc.name, &rows, &[], &results);
        for t in &targets {
            eprintln!("bench: [{}] {}", sc.name, report::target_line(t));
        }
        results.push(json!({
            "name": sc.name,
            "about": sc.about,
            "targets": targets,
            "servers": rows,
        }));
    }
    let mut out = report::run_header(opts.quick, started.elapsed().as_secs_f64(), results);
    out["loadavg_before"] = json!(load_before);
    out["loadavg_after"] = json!(report::loadavg());
    let stem = match &opts.scenarios[..] {
        [one] => one.name,
        _ => "partial",
    };
    report::write(&out, None, stem)
}

struct Xdp {
    reflect: PathBuf,
    pass: PathBuf,
}

/// Starts one server (or attaches the XDP reflector), drives it, stops it.
#[allow(clippy::too_many_arguments)]
fn run_one(
    sc: &Scenario,
    server: Server,
    bins: &setup::Binaries,
    work: &Path,
    xdp_objs: &Xdp,
    rig: &Rig,
    load: &Load,
    probe: &str,
    half_rate: &mut Option<u64>,
    kxdpgun_only: bool,
) -> Result<Value> {
    let dir = work.join(sc.name);
    std::fs::create_dir_all(&dir)?;
    let log = dir.join(format!("{}.log", server.id()));
    let conf = |template: &str, name: &str| -> Result<String> {
        Ok(setup::render(
            &format!("{}/{template}", sc.name),
            work,
            &format!("{}/{name}", sc.name),
        )?
        .to_string_lossy()
        .into_owned())
    };
    let cores = sc.cores();
    let mut xdp = None;
    // ferrodns's own XDP program answers on the server's end: the client's
    // end needs one too to take the frames it sends back at once.
    if sc.name == "xdp" && server == Server::Ferrodns {
        // An earlier row (the XDP reflector's) may have left its own there.
        rig.detach_client_xdp();
        rig.attach_client_pass(&xdp_objs.pass)?;
    }
    let mut proc = match server {
        Server::Ferrodns | Server::FerrodnsUring | Server::FerrodnsSteer | Server::CoreDns => Some(
            start_corefile(sc, server, bins, &conf("Corefile", "Corefile")?, log)?,
        ),
        Server::Unbound => Some(start(
            server,
            in_ns(
                SERVER_NS,
                cores,
                Path::new("unbound"),
                &[
                    "-d".into(),
                    "-c".into(),
                    conf("unbound.conf", "unbound.conf")?,
                ],
            ),
            log,
        )?),
        Server::Dnsdist => Some(start(
            server,
            in_ns(
                SERVER_NS,
                cores,
                Path::new("dnsdist"),
                &[
                    "--supervised".into(),
                    "--disable-syslog".into(),
                    "-C".into(),
                    conf("dnsdist.conf", "dnsdist.conf")?,
                ],
            ),
            log,
        )?),
        // Each stays root (see its configuration) and keeps its state in a
        // folder of its own under the scenario's, made afresh for every
        // start: NSD a zone list and xfrd state, Knot its databases.
        Server::Nsd => {
            fresh_dir(&dir.join("nsd"))?;
            Some(start(
                server,
                in_ns(
                    SERVER_NS,
                    cores,
                    Path::new("nsd"),
                    &["-d".into(), "-c".into(), conf("nsd.conf", "nsd.conf")?],
                ),
                log,
            )?)
        }
        Server::Knot => {
            fresh_dir(&dir.join("knot"))?;
            Some(start(
                server,
                in_ns(
                    SERVER_NS,
                    cores,
                    Path::new("knotd"),
                    &["-c".into(), conf("knot.conf", "knot.conf")?],
                ),
                log,
            )?)
        }
        Server::ReflectSocket | Server::ReflectUring => {
            let io = if server == Server::ReflectUring {
                "uring"
            } else {
                "mmsg"
            };
            let args = [
                "reflect".into(),
                "--listen".into(),
                format!("{SERVER_IP}:53"),
                "--io".into(),
                io.into(),
            ];
            Some(start(
                server,
                in_ns(SERVER_NS, cores, &bins.bench, &args),
                log,
            )?)
        }
        Server::ReflectXdp => {
            xdp = Some(rig.attach_xdp(&xdp_objs.reflect)?);
            rig.attach_client_pass(&xdp_objs.pass)?;
            None
        }
    };
    let pid = proc.as_ref().map(|p| p.pid());
    let mut alive = || match proc.as_mut() {
        Some(p) => p.check_alive(),
        None => Ok(()),
    };
    measure::wait_ready(
        CLIENT_NS,
        SERVER_IP,
        53,
        probe,
        Duration::from_secs(20),
        &mut alive,
    )
    .with_context(|| format!("{} did not start", server.label()))?;
    if let (Some(pid), true) = (pid, server.authoritative_only()) {
        // Knot DNS pins its UDP worker itself, whatever affinity it was
        // started with (worker i on CPU i mod the CPUs online: core 0 here,
        // the load generators'): once it answers, its workers run, so every
        // thread goes back to the server's cores. Then NSD's processes and
        // Knot's threads must all be there.
        if server == Server::Knot {
            rig::pin_tree(pid, cores)?;
        }
        rig::check_pinned(pid, cores)
            .with_context(|| format!("{} is not on core(s) {cores}", server.label()))?;
    }
    // The auth scenario: the probe's answer is the zone's own record, with
    // the AA bit, from every server that does DNS work (the reflectors echo).
    if sc.name == "auth" && !server.reflector() {
        let want = setup::auth_record(probe)
            .with_context(|| format!("the probe {probe} is not a name of the auth zone"))?;
        measure::check_answer(CLIENT_NS, SERVER_IP, 53, probe, &want)
            .with_context(|| format!("{} does not answer the zone right", server.label()))?;
    }

    if sc.warm && !server.reflector() {
        // Every name once (the first 10,000 of the Zipf stream), at a rate
        // every server keeps up with; then a pause for in-flight fills.
        // The xdp scenario asks twice: the second hit of each name hands
        // it to the kernel.
        let n = std::fs::read_to_string(load.queries)?
            .lines()
            .count()
            .min(10_000) as f64;
        let rate = 5000u64;
        for pass in 0..if sc.name == "xdp" { 2 } else { 1 } {
            measure::generator(
                load,
                rate,
                n / rate as f64,
                &dir.join(format!("{}-warm-{pass}.json", server.id())),
            )?;
            rig::sleep(Duration::from_millis(300))?;
        }
    }
    alive()?;
    // The zipf scenarios: the cache's hit ratio and the upstream's queries
    // over a load at a fixed rate, the same queries in the same order for
    // every row (1 and 2 workers alike), then again under kxdpgun.
    // (Not for the bare reflectors, which ask no upstream.)
    let counted = |zone: &str| Counts::read(zone, server.corefile());
    let zone = sc
        .upstream_zone
        .filter(|_| !kxdpgun_only && !server.reflector());
    let mut upstream = Value::Null;
    if let Some(zone) = zone {
        let before = counted(zone)?;
        let fixed = measure::generator(
            load,
            UPSTREAM_CHECK_RATE,
            load.seconds as f64,
            &dir.join(format!("{}-fixed-rate.json", server.id())),
        )?;
        let after = counted(zone)?;
        upstream = json!({
            "zone": zone,
            "at_fixed_rate": after.since(&before, load.seconds as f64, &fixed),
        });
        rig::sleep(Duration::from_millis(300))?;
        alive()?;
    }
    let before = zone.map(counted).transpose()?;
    rig.detach_client_xdp();
    let kx = measure::kxdpgun(load, pid);
    rig.detach_client_xdp();
    let kx = kx?;
    if let (Some(before), Some(zone)) = (before, zone) {
        let after = counted(zone)?;
        upstream["under_kxdpgun"] = after.since(&before, load.seconds as f64, &kx);
    }
    if kxdpgun_only {
        return Ok(
            json!({"server": server.label(), "id": server.id(), "kxdpgun_qps": kx["answered_qps"]}),
        );
    }
    if xdp.is_some() || (sc.name == "xdp" && server == Server::Ferrodns) {
        rig.attach_client_pass(&xdp_objs.pass)?;
    }
    rig::sleep(Duration::from_millis(500))?;
    alive()?;
    let dp = measure::dnsperf(load)?;
    rig::sleep(Duration::from_millis(500))?;
    alive()?;
    let lat = measure::generator(
        load,
        load.latency_rate,
        load.latency_seconds as f64,
        &dir.join(format!("{}-latency.json", server.id())),
    )?;
    alive()?;
    // Latency at half of ferrodns's saturation rate, for ferrodns and the
    // socket reflectors at that same rate.
    if server == Server::Ferrodns {
        *half_rate = kx["answered_qps"].as_f64().map(|q| (q / 2.0) as u64);
    }
    // Only where the target is (cache hits); three runs, the one with the
    // median p99 kept: a single run's tail is at the mercy of the noisy
    // machine (the reflectors' too).
    let half_sat = matches!(sc.name, "cache" | "xdp")
        && matches!(
            server,
            Server::Ferrodns
                | Server::FerrodnsUring
                | Server::ReflectSocket
                | Server::ReflectUring
                | Server::ReflectXdp
        );
    let lat_half = match (*half_rate, half_sat) {
        (Some(rate), true) if rate > 0 => {
            let mut runs = Vec::new();
            for k in 0..3 {
                rig::sleep(Duration::from_millis(500))?;
                runs.push(measure::generator(
                    load,
                    rate,
                    load.latency_seconds as f64,
                    &dir.join(format!("{}-latency-half-{k}.json", server.id())),
                )?);
                alive()?;
            }
            let p99 = |v: &Value| v["latency_us"]["p99"].as_f64().unwrap_or(f64::MAX);
            let all: Vec<f64> = runs.iter().map(p99).collect();
            runs.sort_by(|a, b| p99(a).total_cmp(&p99(b)));
            let mut median = runs.swap_remove(1);
            median["p99_of_each_run_us"] = json!(all);
            median
        }
        _ => Value::Null,
    };
    let rss = pid.map(rig::peak_rss_kib);
    drop(xdp);
    drop(proc);
    Ok(json!({
        "server": server.label(),
        "id": server.id(),
        "kxdpgun": kx,
        "dnsperf": dp,
        "latency": lat,
        "latency_half_saturation": lat_half,
        "peak_rss_kib": rss,
        "upstream": upstream,
        // Flattened for the chart and the tables.
        "kxdpgun_qps": kx["answered_qps"],
        "cpu_s_per_million": kx["cpu_s_per_million"],
    }))
}

/// The memory scenario: ferrodns (one worker) asked every name of the
/// query file once, each answer cached; resident memory before and after,
/// less the answers' own bytes, per cached entry.
fn run_memory(
    sc: &Scenario,
    bins: &setup::Binaries,
    work: &Path,
    load: &Load,
    probe: &str,
) -> Result<Value> {
    let dir = work.join(sc.name);
    std::fs::create_dir_all(&dir)?;
    let conf = setup::render(
        &format!("{}/Corefile", sc.name),
        work,
        &format!("{}/Corefile", sc.name),
    )?;
    let server = Server::Ferrodns;
    let mut proc = start(
        server,
        in_ns(
            SERVER_NS,
            SERVER_CORE,
            &bins.ferrodns,
            &["-conf".into(), conf.to_string_lossy().into_owned()],
        ),
        dir.join("ferrodns.log"),
    )?;
    measure::wait_ready(
        CLIENT_NS,
        SERVER_IP,
        53,
        probe,
        Duration::from_secs(20),
        || proc.check_alive(),
    )
    .context("ferrodns did not start")?;
    let pid = proc.pid();
    rig::sleep(Duration::from_secs(1))?;
    let before = rig::rss_kib(pid);
    let names = std::fs::read_to_string(load.queries)?.lines().count() as u64;
    // A rate the upstream keeps up with: every name asked once.
    let rate = 40_000u64;
    let warm = measure::generator(
        load,
        rate,
        names as f64 / rate as f64,
        &dir.join("ferrodns-fill.json"),
    )?;
    rig::sleep(Duration::from_secs(2))?;
    proc.check_alive()?;
    let after = rig::rss_kib(pid);
    let metrics = measure::http_get(SERVER_NS, METRICS_ADDR, "/metrics")?;
    let entries = measure::metric_sum(&metrics, "coredns_cache_entries", &[("type", "success")]);
    let answer_bytes = warm["answer_bytes"].as_f64().unwrap_or(0.0);
    let grown = (after as f64 - before as f64) * 1024.0;
    let per_entry = if entries > 0.0 {
        Some((grown - answer_bytes) / entries)
    } else {
        None
    };
    let peak = rig::peak_rss_kib(pid);
    drop(proc);
    Ok(json!({
        "server": server.label(),
        "id": server.id(),
        "names": names,
        "answered": warm["answered"],
        "cached_entries": entries,
        "answer_bytes": answer_bytes,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "bytes_per_entry_beyond_answers": per_entry,
        "peak_rss_kib": peak,
    }))
}

/// Starts ferrodns (either I/O path) or CoreDNS from a rendered Corefile
/// on the scenario's cores: ferrodns with `-workers N` past one worker,
/// CoreDNS with GOMAXPROCS=N.
fn start_corefile(
    sc: &Scenario,
    server: Server,
    bins: &setup::Binaries,
    corefile: &str,
    log: PathBuf,
) -> Result<Proc> {
    let mut args = vec!["-conf".to_string(), corefile.to_string()];
    let cmd = match server {
        Server::CoreDns => {
            let mut c = in_ns(SERVER_NS, sc.cores(), &bins.coredns, &args);
            c.env("GOMAXPROCS", sc.workers.to_string());
            c
        }
        _ => {
            if server == Server::FerrodnsUring {
                args.extend(["-io".to_string(), "uring".to_string()]);
            }
            if server == Server::FerrodnsSteer {
                args.push("-steer".to_string());
            }
            if sc.workers > 1 {
                args.extend(["-workers".to_string(), sc.workers.to_string()]);
            }
            in_ns(SERVER_NS, sc.cores(), &bins.ferrodns, &args)
        }
    };
    start(server, cmd, log)
}

/// Counters read before and after a load: the queries the upstream
/// answered for a zone, and the cache's hits and misses from the server's
/// own /metrics (ferrodns and CoreDNS, whose configurations here have
/// prometheus).
struct Counts {
    upstream: f64,
    cache: Option<(f64, f64)>,
}

impl Counts {
    fn read(zone: &str, server_metrics: bool) -> Result<Counts> {
        let up = measure::http_get(SERVER_NS, UPSTREAM_METRICS_ADDR, "/metrics")
            .context("the upstream's /metrics")?;
        let upstream = measure::metric_sum(&up, "coredns_dns_requests_total", &[("zone", zone)]);
        let cache = if server_metrics {
            let m = measure::http_get(SERVER_NS, METRICS_ADDR, "/metrics")
                .context("the server's /metrics")?;
            Some((
                measure::metric_sum(&m, "coredns_cache_hits_total", &[]),
                measure::metric_sum(&m, "coredns_cache_misses_total", &[]),
            ))
        } else {
            None
        };
        Ok(Counts { upstream, cache })
    }

    /// What happened between `before` and now over a load of `seconds`
    /// (`load`: the generator's or kxdpgun's report, for what it sent).
    fn since(&self, before: &Counts, seconds: f64, load: &Value) -> Value {
        let upstream = self.upstream - before.upstream;
        let (hits, misses) = match (self.cache, before.cache) {
            (Some((h1, m1)), Some((h0, m0))) => (Some(h1 - h0), Some(m1 - m0)),
            _ => (None, None),
        };
        let hit_ratio = match (hits, misses) {
            (Some(h), Some(m)) if h + m > 0.0 => Some(h / (h + m)),
            _ => None,
        };
        json!({
            "rate": load["rate"],
            "sent": load["sent"],
            "answered": load["answered"],
            "upstream_queries": upstream,
            "upstream_qps": upstream / seconds,
            "cache_hits": hits,
            "cache_misses": misses,
            "hit_ratio": hit_ratio,
        })
    }
}

/// The flood scenario, one server (ferrodns or CoreDNS, one worker): the
/// hot names asked once each, then asked at a steady rate by one generator
/// while dnsperf sends every name of the flood file once, as fast as the
/// server answers (1,000 in flight). The hot names' hit ratio is counted
/// at the upstream, which serves them in a zone of their own: 1 − the hot
/// queries it answered ÷ the hot queries answered to the client.
fn run_flood(
    sc: &Scenario,
    server: Server,
    bins: &setup::Binaries,
    work: &Path,
    load: &Load,
    probe: &str,
) -> Result<Value> {
    let dir = work.join(sc.name);
    std::fs::create_dir_all(&dir)?;
    let conf = setup::render(
        &format!("{}/Corefile", sc.name),
        work,
        &format!("{}/Corefile", sc.name),
    )?;
    // The capacities, as the Corefile sets them.
    let text = std::fs::read_to_string(&conf)?;
    let capacity = |what: &str| -> Result<f64> {
        text.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix(what)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .with_context(|| format!("no `{what} N` in {}", conf.display()))
    };
    let (success, denial) = (capacity("success ")?, capacity("denial ")?);
    let mut proc = start_corefile(
        sc,
        server,
        bins,
        &conf.to_string_lossy(),
        dir.join(format!("{}.log", server.id())),
    )?;
    measure::wait_ready(
        CLIENT_NS,
        SERVER_IP,
        53,
        probe,
        Duration::from_secs(20),
        || proc.check_alive(),
    )
    .with_context(|| format!("{} did not start", server.label()))?;
    let pid = proc.pid();
    let zone = sc.upstream_zone.unwrap_or("hot.bench.");
    // Every hot name cached before the flood (each asked ~5 times).
    measure::generator(
        load,
        HOT_RATE,
        0.5,
        &dir.join(format!("{}-warm.json", server.id())),
    )?;
    rig::sleep(Duration::from_millis(300))?;
    proc.check_alive()?;
    let upstream = |zone: &str| -> Result<f64> {
        let m = measure::http_get(SERVER_NS, UPSTREAM_METRICS_ADDR, "/metrics")?;
        Ok(measure::metric_sum(
            &m,
            "coredns_dns_requests_total",
            &[("zone", zone)],
        ))
    };
    let (hot0, flood0) = (upstream(zone)?, upstream("flood.bench.")?);
    let rss_before = rig::rss_kib(pid);
    let hot_json = dir.join(format!("{}-hot.json", server.id()));
    let mut hot = measure::generator_background(
        load,
        HOT_RATE,
        &hot_json,
        dir.join(format!("{}-hot.log", server.id())),
    )?;
    rig::sleep(Duration::from_millis(200))?;
    let flood_file = work.join("flood.q");
    let names = std::fs::read_to_string(&flood_file)?.lines().count();
    let flood_log = dir.join(format!("{}-flood.log", server.id()));
    let mut flood = measure::dnsperf_background(&flood_file, 300, 1, Some(1), flood_log.clone())?;
    // The server's resident memory every 100 ms while the flood runs, with
    // the flood's names the upstream had answered by then.
    let t0 = std::time::Instant::now();
    let mut samples: Vec<(f64, u64, f64)> = Vec::new();
    let status = loop {
        if let Some(status) = flood.child.try_wait()? {
            break status;
        }
        if t0.elapsed() > Duration::from_secs(320) {
            bail!("dnsperf (the flood) ran past 320 s");
        }
        let rss = rig::rss_kib(pid);
        let done = upstream("flood.bench.")? - flood0;
        samples.push((t0.elapsed().as_secs_f64(), rss, done));
        rig::sleep(Duration::from_millis(100))?;
    };
    // The hot generator stops sending, waits for the answers due and
    // writes its report.
    hot.stop();
    let flood = measure::dnsperf_report(
        status.success(),
        &std::fs::read_to_string(&flood_log).unwrap_or_default(),
    )?;
    proc.check_alive()?;
    let hot = measure::read_json(&hot_json)?;
    let (hot1, flood1) = (upstream(zone)?, upstream("flood.bench.")?);
    let peak = rig::peak_rss_kib(pid);
    let metrics = measure::http_get(SERVER_NS, METRICS_ADDR, "/metrics")?;
    let entries = |t: &str| measure::metric_sum(&metrics, "coredns_cache_entries", &[("type", t)]);
    let (entries_success, entries_denial) = (entries("success"), entries("denial"));
    drop(proc);
    // Bounded by capacity, not by the flood: the cache is full long before
    // half the flood's names went by, so the peak of resident memory over
    // the second half (counted in names the upstream answered) must not
    // be above that of the first: the allocator's ups and downs repeat, a
    // cache that kept the names would climb. Keeping every name would cost
    // at least ~256 bytes each (the memory scenario: ~190 bytes beyond an
    // answer of ~66).
    let half = names as f64 / 2.0;
    let peak_of = |second: bool| {
        samples
            .iter()
            .filter(|s| (s.2 >= half) == second)
            .map(|s| s.1)
            .max()
    };
    let (first_peak, second_peak) = (peak_of(false), peak_of(true));
    let second_half_growth = match (first_peak, second_peak) {
        (Some(a), Some(b)) => Some((b as f64 - a as f64) * 1024.0),
        _ => None,
    };
    let hot_upstream = hot1 - hot0;
    let hot_answered = hot["answered"].as_f64().unwrap_or(0.0);
    let hit_ratio = (hot_answered > 0.0).then(|| 1.0 - hot_upstream / hot_answered);
    let growth = (peak as f64 - rss_before as f64) * 1024.0;
    Ok(json!({
        "server": server.label(),
        "id": server.id(),
        "hot": {
            "names": setup::HOT_NAMES,
            "rate": HOT_RATE,
            "sent": hot["sent"],
            "answered": hot["answered"],
            "answered_pct": hot["answered_pct"],
            "duration_s": hot["duration_s"],
            "latency_us": hot["latency_us"],
            "upstream_queries": hot_upstream,
            "hit_ratio": hit_ratio,
        },
        "flood": {
            "names": names,
            "sent": flood["sent"],
            "answered": flood["answered"],
            "answered_pct": flood["answered_pct"],
            "answered_qps": flood["answered_qps"],
            "run_s": flood["run_s"],
            "upstream_queries": flood1 - flood0,
        },
        "capacity": {"success": success, "denial": denial},
        "cache_entries": {"success": entries_success, "denial": entries_denial},
        "rss_before_kib": rss_before,
        "rss_peak_first_half_kib": first_peak,
        "rss_peak_second_half_kib": second_peak,
        "peak_rss_kib": peak,
        "rss_growth_per_configured_entry": growth / (success + denial),
        "rss_growth_second_half_per_name": second_half_growth.map(|g| g / half),
        // [seconds, RSS KiB, flood names the upstream had answered]
        "rss_samples": samples.iter().map(|s| json!([s.0, s.1, s.2])).collect::<Vec<_>>(),
    }))
}

/// Removes `path` with what is in it, if there, and makes it again, empty.
fn fresh_dir(path: &Path) -> Result<()> {
    if path.exists() {
        std::fs::remove_dir_all(path).with_context(|| format!("remove {}", path.display()))?;
    }
    std::fs::create_dir_all(path).with_context(|| format!("create {}", path.display()))
}

fn start(server: Server, cmd: Command, log: PathBuf) -> Result<Proc> {
    // ip netns exec NS taskset -c CORE PROGRAM ...
    let program = cmd
        .get_args()
        .nth(6)
        .map(|s| s.to_string_lossy().into_owned());
    Proc::spawn(server.label(), cmd, log).with_context(|| {
        format!(
            "{} cannot start ({})",
            server.label(),
            program.unwrap_or_default()
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn servers_and_scenarios_each_once_in_the_harness_order() {
        let args: Vec<String> = [
            "--servers",
            "reflect-socket,ferrodns,ferrodns",
            "--scenario",
            "forward,cache,cache-hits",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let o = super::parse(&args).unwrap();
        let ids: Vec<_> = o.servers.iter().map(|s| s.id()).collect();
        assert_eq!(ids, ["ferrodns", "reflect-socket"]);
        let names: Vec<_> = o.scenarios.iter().map(|s| s.name).collect();
        assert_eq!(names, ["cache", "forward"]);
    }

    #[test]
    fn nsd_and_knot_only_in_the_auth_scenario() {
        let args: Vec<String> = ["--servers", "knot,ferrodns,nsd"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let o = super::parse(&args).unwrap();
        let ids: Vec<_> = o.servers.iter().map(|s| s.id()).collect();
        assert_eq!(ids, ["ferrodns", "nsd", "knot"]);
        for sc in super::SCENARIOS {
            for server in [super::Server::Nsd, super::Server::Knot] {
                assert_eq!(sc.runs(server), sc.name == "auth", "{}", sc.name);
            }
        }
    }
}
