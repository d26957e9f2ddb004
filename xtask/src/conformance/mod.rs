//! `cargo xtask conformance`: every case under tests/conformance/ served by
//! CoreDNS and by ferrodns side by side, the same queries sent to both over
//! UDP and TCP, the replies compared field by field. See case.rs for the
//! layout of a case.

mod case;
mod compare;
pub(crate) mod net;
pub(crate) mod wire;

use anyhow::{bail, Context, Result};
use case::{Case, Step};
use compare::{first_difference, side_by_side};
use net::{client_of, free_port, loopback, Proc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wire::Message;

pub enum Outcome {
    Pass,
    /// The first difference, shown in full.
    Fail(String),
    /// A difference the case lists as known: the reason and the difference.
    Known(String, String),
}

struct Bins {
    coredns: PathBuf,
    ferrodns: PathBuf,
}

/// The ports and addresses a case's placeholders stand for.
struct Ports {
    upstream: u16,
    down: u16,
    /// The run's kube-apiserver's kubeconfig, for cases that use it.
    kubeconfig: String,
}

fn substitute(text: &str, port: u16, port2: u16, p: &Ports) -> String {
    text.replace("{PORT}", &port.to_string())
        .replace("{PORT2}", &port2.to_string())
        .replace("{UPSTREAM}", &format!("127.0.0.1:{}", p.upstream))
        .replace("{UPSTREAM_PORT}", &p.upstream.to_string())
        .replace("{DOWN}", &format!("127.0.0.1:{}", p.down))
        .replace("{KUBECONFIG}", &p.kubeconfig)
}

/// The run's kube-apiserver, started on first use (see case.rs); its
/// processes end with the thread that keeps them, which lives as long as
/// the run.
fn kube() -> Result<&'static crate::k8s::cluster::Cluster> {
    static API: std::sync::OnceLock<std::result::Result<crate::k8s::cluster::Cluster, String>> =
        std::sync::OnceLock::new();
    API.get_or_init(|| {
        let bin = crate::k8s::binaries().map_err(|e| format!("{e:#}"))?;
        let dir =
            std::env::temp_dir().join(format!("ferrodns-conformance-k8s-{}", std::process::id()));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ =
                tx.send(crate::k8s::cluster::start(&bin, &dir, true).map_err(|e| format!("{e:#}")));
            loop {
                std::thread::park();
            }
        });
        rx.recv().map_err(|e| e.to_string())?
    })
    .as_ref()
    .map_err(|e| anyhow::anyhow!("kube-apiserver: {e}"))
}

/// Makes the requests of the case's k8s.json (see case.rs).
fn create_objects(c: &crate::k8s::cluster::Cluster, file: &Path) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return Ok(());
    };
    let list: serde_json::Value = serde_json::from_str(&text)?;
    for r in list.as_array().into_iter().flatten() {
        let path = r["path"].as_str().unwrap_or_default();
        let method = r["method"].as_str().unwrap_or("POST");
        let body = r["body"].to_string();
        // A custom resource is served a moment after its definition is
        // made: `retry` tries again for a while.
        let deadline =
            Instant::now() + Duration::from_secs(if r["retry"] == true { 30 } else { 0 });
        loop {
            match crate::k8s::cluster::call(&c.server, &c.ca, method, path, Some(&body)) {
                Ok(_) => break,
                // Cluster-wide objects (a CRD) are shared by the cases that
                // make them: `exists_ok` takes the one already there.
                Err(e) if r["exists_ok"] == true && e.to_string().contains(": 409 ") => break,
                Err(_) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(e) => return Err(e).with_context(|| format!("{}", file.display())),
            }
        }
    }
    Ok(())
}

/// Copies `from` into `to`, placeholders replaced in every text file.
fn copy_case(from: &Path, to: &Path, sub: &dyn Fn(&str) -> String, skip: &[&str]) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let name = e.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (e.path(), to.join(&name));
        if e.file_type()?.is_dir() {
            copy_case(&src, &dst, sub, &[])?;
        } else {
            let bytes = std::fs::read(&src)?;
            match String::from_utf8(bytes) {
                Ok(t) => std::fs::write(&dst, sub(&t))?,
                Err(e) => std::fs::write(&dst, e.into_bytes())?,
            }
        }
    }
    Ok(())
}

/// The anchors of docs/compat.md's headings, as GitHub makes them.
fn compat_anchors() -> Result<Vec<String>> {
    let text = std::fs::read_to_string(crate::root().join("docs").join("compat.md"))?;
    Ok(text
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|h| {
            h.trim_start_matches('#')
                .trim()
                .to_lowercase()
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect())
}

fn run_case(case: &Case, bins: &Bins, work: &Path) -> Result<Outcome> {
    if let Some(anchor) = case
        .known
        .as_deref()
        .and_then(|k| k.split_whitespace().next())
        .and_then(|w| w.strip_prefix("compat.md#"))
    {
        if !compat_anchors()?.iter().any(|a| a == anchor) {
            bail!("`known: compat.md#{anchor}`: docs/compat.md has no such heading");
        }
    }
    let base = work.join(&case.name);
    let _ = std::fs::remove_dir_all(&base);
    let mut ports = Ports {
        upstream: free_port(),
        down: free_port(),
        kubeconfig: String::new(),
    };
    if case.kubernetes {
        let c = kube()?;
        create_objects(c, &case.dir.join("k8s.json"))?;
        ports.kubeconfig = c.kubeconfig.display().to_string();
    }
    let ports = ports;
    let mut procs = Vec::new();
    if case.has_upstream {
        let dir = base.join("upstream");
        let port = ports.upstream;
        copy_case(
            &case.dir.join("upstream"),
            &dir,
            &|t| substitute(t, port, port, &ports),
            &[],
        )?;
        let mut up = Proc::start("upstream CoreDNS", &bins.coredns, &dir, &[])?;
        up.wait_ready(port, false)?;
        procs.push(up);
    }
    let mut servers = Vec::new();
    for (what, bin) in [("CoreDNS", &bins.coredns), ("ferrodns", &bins.ferrodns)] {
        let (port, port2) = (free_port(), free_port());
        let dir = base.join(what.to_lowercase());
        copy_case(
            &case.dir,
            &dir,
            &|t| substitute(t, port, port2, &ports),
            &["upstream", "queries", "k8s.json"],
        )?;
        servers.push((Proc::start(what, bin, &dir, &case.env)?, port, port2));
    }
    let known = |diff: String| match &case.known {
        Some(reason) => Outcome::Known(reason.clone(), diff),
        None => Outcome::Fail(diff),
    };
    if case.start_fails {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && !servers.iter_mut().all(|(p, ..)| p.exited()) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for (p, ..) in servers.iter_mut() {
            if !p.exited() {
                return Ok(known(format!(
                    "    {} still runs; the case says both refuse the Corefile",
                    p.what
                )));
            }
        }
        if case.same_error {
            let errors: Vec<String> = servers.iter().map(|(p, ..)| p.error_line()).collect();
            if errors[0] != errors[1] {
                return Ok(known(format!(
                    "    start-up errors differ:\n    CoreDNS:  {}\n    ferrodns: {}",
                    errors[0], errors[1]
                )));
            }
        }
        return Ok(Outcome::Pass);
    }
    let mut started = Vec::new();
    for (p, port, _) in servers.iter_mut() {
        started.push(
            p.wait_ready(*port, case.ready_udp)
                .map_err(|e| e.to_string()),
        );
    }
    match (&started[0], &started[1]) {
        (Ok(()), Ok(())) => {}
        (Err(c), Err(f)) => {
            return Ok(known(format!(
                "    both servers refuse the Corefile (the case expects them to serve it)\n    {c}\n    {f}"
            )))
        }
        (Err(e), _) | (_, Err(e)) => {
            return Ok(known(format!(
                "    start-up differs: CoreDNS {} | ferrodns {}\n    {e}",
                if started[0].is_ok() {
                    "serves"
                } else {
                    "fails"
                },
                if started[1].is_ok() {
                    "serves"
                } else {
                    "fails"
                },
            )))
        }
    }
    let udp = std::net::UdpSocket::bind(client_of(loopback(0)))?;
    // The IPv6 client (`+v6`), made when a query asks for it.
    let mut udp6 = None;
    let mut id: u16 = 0x4000 ^ (std::process::id() as u16);
    for step in &case.steps {
        let line = match step {
            Step::Sleep(s) => {
                std::thread::sleep(Duration::from_secs_f64(*s));
                continue;
            }
            Step::Query(l) => l,
        };
        id = id.wrapping_add(1);
        let msg = line.query.encode(id)?;
        let to: Vec<_> = servers
            .iter()
            .map(|(_, p, p2)| {
                let port = if line.port2 { *p2 } else { *p };
                if line.v6 {
                    std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port))
                } else {
                    loopback(port)
                }
            })
            .collect();
        let mut transports = Vec::new();
        if line.udp {
            transports.push("udp");
        }
        if line.tcp {
            transports.push("tcp");
        }
        for t in transports {
            let replies = if t == "udp" {
                let sock = match line.v6 {
                    false => &udp,
                    true => match &mut udp6 {
                        Some(s) => &*s,
                        None => udp6.insert(std::net::UdpSocket::bind(client_of(to[0]))?),
                    },
                };
                net::udp_exchange(sock, &msg, &to, net::QUERY_TIMEOUT)?
            } else {
                net::tcp_exchange(&msg, &to, net::QUERY_TIMEOUT, line.tcp_repeat)?
            };
            let parsed: Vec<std::result::Result<Message, String>> = replies
                .into_iter()
                .map(|r| {
                    r.and_then(|b| Message::parse(&b).map_err(|e| format!("unparsable: {e:#}")))
                })
                .collect();
            let head = format!("    query `{}` over {t}", line.text);
            let diff = match (&parsed[0], &parsed[1]) {
                (Ok(c), Ok(f)) => {
                    let opts = compare::Options {
                        order_any: case.order_any,
                        ttl_any: line.ttl_any,
                        serial_any: case.serial_any,
                    };
                    first_difference(c, f, &opts)
                        .map(|d| format!("{head}: {d}\n{}", side_by_side(&c.render(), &f.render())))
                }
                (Err(a), Err(b)) if a == b => None,
                (a, b) => {
                    let show = |m: &std::result::Result<Message, String>| match m {
                        Ok(m) => m.render(),
                        Err(e) => vec![e.clone()],
                    };
                    Some(format!(
                        "{head}: one server answered differently\n{}",
                        side_by_side(&show(a), &show(b))
                    ))
                }
            };
            if let Some(d) = diff {
                return Ok(known(d));
            }
        }
    }
    drop(procs);
    Ok(Outcome::Pass)
}

/// Runs the suite; Ok((passed, failed, known)).
pub fn run(filter: Option<&str>) -> Result<(usize, usize, usize)> {
    let bins = Bins {
        coredns: crate::coredns::binary()?,
        ferrodns: crate::ferrodns_binary(false)?,
    };
    let dir = crate::root().join("tests").join("conformance");
    let cases: Vec<Case> = case::discover(&dir)?
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
        .collect();
    let work = std::env::temp_dir().join(format!("ferrodns-conformance-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    eprintln!(
        "conformance: {} cases, CoreDNS {} vs {}",
        cases.len(),
        crate::coredns::VERSION,
        bins.ferrodns.display()
    );
    let started = Instant::now();
    let queue = Arc::new(Mutex::new(
        cases.into_iter().collect::<std::collections::VecDeque<_>>(),
    ));
    let results = Arc::new(Mutex::new(Vec::<(String, Outcome)>::new()));
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(2, 12);
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (queue, results, bins, work) = (queue.clone(), results.clone(), &bins, &work);
            s.spawn(move || loop {
                let Some(case) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let outcome = run_case(&case, bins, work)
                    .unwrap_or_else(|e| Outcome::Fail(format!("    harness error: {e:#}")));
                let line = match &outcome {
                    Outcome::Pass => format!("PASS {}", case.name),
                    Outcome::Fail(d) => format!("FAIL {}\n{d}", case.name),
                    Outcome::Known(r, d) => format!("KNOWN {} ({r})\n{d}", case.name),
                };
                println!("{}", line.trim_end());
                results.lock().unwrap().push((case.name.clone(), outcome));
            });
        }
    });
    let results = results.lock().unwrap();
    let passed = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Pass))
        .count();
    let failed = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Fail(_)))
        .count();
    let known = results
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Known(..)))
        .count();
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("conformance: {:.1} s", started.elapsed().as_secs_f64());
    Ok((passed, failed, known))
}

/// `cargo xtask conformance [FILTER]`: prints the summary line and fails on
/// any unexpected difference.
pub fn main(args: &[String]) -> Result<()> {
    summary(args.first().map(String::as_str)).map(drop)
}

/// Runs the cases, prints `N passed, M failed, K known`, fails on any
/// unexpected difference; the counts otherwise.
pub fn summary(filter: Option<&str>) -> Result<(usize, usize, usize)> {
    let (passed, failed, known) = run(filter)?;
    println!("{passed} passed, {failed} failed, {known} known");
    if failed > 0 {
        eprintln!("conformance: {failed} cases differ from CoreDNS");
        std::process::exit(1);
    }
    Ok((passed, failed, known))
}
