//! One server under load: kxdpgun at full rate (with CPU readings around it),
//! dnsperf, and the project's generator at a fixed rate for latency.

use super::rig::{
    self, in_ns, run_bounded, CLIENT_CORE, CLIENT_IF, CLIENT_IP, CLIENT_NS, SERVER_IP,
};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

pub struct Load<'a> {
    pub queries: &'a Path,
    pub seconds: u64,
    pub latency_seconds: u64,
    pub latency_rate: u64,
    pub server_mac: &'a str,
    pub bench_bin: &'a Path,
    /// dnsperf's clients (`-c`, one socket each); the generator uses as
    /// many sockets, at least its default 4.
    pub clients: usize,
}

fn client(program: &str, args: &[String]) -> Command {
    in_ns(CLIENT_NS, CLIENT_CORE, Path::new(program), args)
}

/// The number after `label` up to the next space (or before `(`).
fn number_after(text: &str, label: &str) -> Option<f64> {
    let at = text.find(label)? + label.len();
    text[at..]
        .split_whitespace()
        .next()?
        .trim_start_matches('(')
        .trim_end_matches('%')
        .trim_end_matches(')')
        .parse()
        .ok()
}

/// kxdpgun at its full rate; the server's and the machine's CPU around it.
pub fn kxdpgun(load: &Load, server_pid: Option<u32>) -> Result<Value> {
    let args: Vec<String> = [
        "-t",
        &load.seconds.to_string(),
        "-Q",
        "10000000",
        "-F",
        CLIENT_CORE,
        "-i",
        &load.queries.to_string_lossy(),
        "-I",
        CLIENT_IF,
        "-l",
        CLIENT_IP,
        "-R",
        load.server_mac,
        SERVER_IP,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let cpu0 = server_pid.map(rig::proc_cpu_s);
    let threads0 = server_pid.map(rig::thread_cpu_s).unwrap_or_default();
    let (box0, cores0) = rig::box_busy_s();
    let t0 = std::time::Instant::now();
    let (ok, out) = run_bounded(
        "kxdpgun",
        client("kxdpgun", &args),
        Duration::from_secs(load.seconds + 20),
    )?;
    let (box1, cores1) = rig::box_busy_s();
    let cpu1 = server_pid.map(rig::proc_cpu_s);
    let threads1 = server_pid.map(rig::thread_cpu_s).unwrap_or_default();
    // kxdpgun starts up and waits for late replies around its `-t` seconds:
    // CPU shares are over the whole time it ran.
    let wall = t0.elapsed().as_secs_f64();
    // Every packet's at the server has left by now: kxdpgun waits for late
    // replies before it exits.
    if !ok {
        bail!("kxdpgun failed:\n{out}");
    }
    let sent = number_after(&out, "total queries:").context(format!("kxdpgun output:\n{out}"))?;
    let replies = number_after(&out, "total replies:").unwrap_or(0.0);
    let secs = load.seconds as f64;
    let server_cpu = match (cpu0, cpu1) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let core = |v: &[f64]| v.get(1).copied().unwrap_or(0.0);
    // Cores each of the server's threads kept busy (those above 1%): how
    // the load spread over its workers.
    let threads: serde_json::Map<String, Value> = threads1
        .iter()
        .filter_map(|(name, s1)| {
            let s0 = threads0
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0.0, |t| t.1);
            let busy = (s1 - s0) / wall;
            (busy > 0.01).then(|| (name.clone(), json!(busy)))
        })
        .collect();
    Ok(json!({
        "sent": sent,
        "answered": replies,
        "offered_qps": sent / secs,
        "answered_qps": replies / secs,
        "answered_pct": if sent > 0.0 { 100.0 * replies / sent } else { 0.0 },
        "server_cpu_s": server_cpu,
        "cpu_s_per_million": server_cpu.filter(|_| replies > 0.0).map(|c| c * 1e6 / replies),
        "wall_s": wall,
        "box_busy_cores": (box1 - box0) / wall,
        "server_core_busy": (core(&cores1) - core(&cores0)) / wall,
        "client_core_busy": (cores1.first().unwrap_or(&0.0) - cores0.first().unwrap_or(&0.0)) / wall,
        "server_threads_busy_cores": threads,
    }))
}

pub fn dnsperf(load: &Load) -> Result<Value> {
    dnsperf_with(load.queries, load.seconds, load.clients, None)
}

/// dnsperf (one thread, `clients` sockets, up to 1,000 queries in flight,
/// 1 s timeout) over `file` for at most `seconds`, and through the file at
/// most `runs` times when given.
pub fn dnsperf_with(file: &Path, seconds: u64, clients: usize, runs: Option<u32>) -> Result<Value> {
    let (ok, out) = run_bounded(
        "dnsperf",
        client("dnsperf", &dnsperf_args(file, seconds, clients, runs)),
        Duration::from_secs(seconds + 20),
    )?;
    dnsperf_report(ok, &out)
}

/// dnsperf as `dnsperf_with` runs it, in the background, its output to
/// `log`; `dnsperf_report` reads it once it exited.
pub fn dnsperf_background(
    file: &Path,
    seconds: u64,
    clients: usize,
    runs: Option<u32>,
    log: std::path::PathBuf,
) -> Result<rig::Proc> {
    rig::Proc::spawn(
        "dnsperf",
        client("dnsperf", &dnsperf_args(file, seconds, clients, runs)),
        log,
    )
}

/// dnsperf at `rate` queries/s over `file` (looping through it) for at
/// most `seconds`, in the background, its output to `log`: stopped early
/// with SIGINT it still waits for the answers due and reports. Its socket
/// buffers are 4 MiB (`-b`; net.core.rmem_max allows that here), so that
/// a burst of answers after a pause of the server's waits there rather
/// than overflowing the client's default ~200 KiB.
pub fn dnsperf_rate_background(
    file: &Path,
    rate: u64,
    seconds: u64,
    clients: usize,
    log: std::path::PathBuf,
) -> Result<rig::Proc> {
    let mut args = dnsperf_args(file, seconds, clients, None);
    args.extend(["-Q", &rate.to_string(), "-b", "4096"].map(String::from));
    rig::Proc::spawn("dnsperf", client("dnsperf", &args), log)
}

fn dnsperf_args(file: &Path, seconds: u64, clients: usize, runs: Option<u32>) -> Vec<String> {
    let mut args: Vec<String> = [
        "-s",
        SERVER_IP,
        "-d",
        &file.to_string_lossy(),
        "-l",
        &seconds.to_string(),
        "-c",
        &clients.to_string(),
        "-T",
        "1",
        "-q",
        "1000",
        "-t",
        "1",
        "-O",
        "suppress=timeout,unexpected",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(n) = runs {
        args.extend(["-n".to_string(), n.to_string()]);
    }
    args
}

/// dnsperf's figures from its output (`ok`: it exited successfully).
pub fn dnsperf_report(ok: bool, out: &str) -> Result<Value> {
    if !ok {
        bail!("dnsperf failed:\n{out}");
    }
    let qps =
        number_after(out, "Queries per second:").context(format!("dnsperf output:\n{out}"))?;
    let sent = number_after(out, "Queries sent:").unwrap_or(0.0);
    let done = number_after(out, "Queries completed:").unwrap_or(0.0);
    Ok(json!({
        "answered_qps": qps,
        "sent": sent,
        "answered": done,
        "lost": number_after(out, "Queries lost:"),
        "answered_pct": if sent > 0.0 { 100.0 * done / sent } else { 0.0 },
        "run_s": number_after(out, "Run time (s):"),
    }))
}

fn generator_args(load: &Load, rate: u64, seconds: f64, json_out: &Path) -> Vec<String> {
    [
        "gen",
        "--server",
        &format!("{SERVER_IP}:53"),
        "--queries",
        &load.queries.to_string_lossy(),
        "--duration",
        &seconds.to_string(),
        "--rate",
        &rate.to_string(),
        "--sockets",
        &load.clients.max(4).to_string(),
        "--json",
        &json_out.to_string_lossy(),
        "--quiet",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// The project's generator: open loop at `rate` queries/s for `seconds`.
pub fn generator(load: &Load, rate: u64, seconds: f64, json_out: &Path) -> Result<Value> {
    let args = generator_args(load, rate, seconds, json_out);
    let (ok, out) = run_bounded(
        "ferrodns-bench-gen",
        in_ns(CLIENT_NS, CLIENT_CORE, load.bench_bin, &args),
        Duration::from_secs_f64(seconds + 20.0),
    )?;
    if !ok {
        bail!("the generator failed:\n{out}");
    }
    read_json(json_out)
}

/// The generator at `rate` in the background, until stopped (`Proc::stop`
/// sends SIGTERM: it stops sending, waits for the answers due, writes its
/// report to `json_out` and exits); an hour at most.
pub fn generator_background(
    load: &Load,
    rate: u64,
    json_out: &Path,
    log: std::path::PathBuf,
) -> Result<rig::Proc> {
    let _ = std::fs::remove_file(json_out);
    let args = generator_args(load, rate, 3600.0, json_out);
    rig::Proc::spawn(
        "ferrodns-bench gen",
        in_ns(CLIENT_NS, CLIENT_CORE, load.bench_bin, &args),
        log,
    )
}

pub fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parse {}", path.display()))
}

/// The sum of a metric's series in Prometheus text whose labels include
/// every `name="value"` of `labels`.
pub fn metric_sum(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(metric)?;
            let (series, value) = rest.rsplit_once(' ')?;
            if !(series.is_empty() || series.starts_with('{')) {
                return None; // another metric with this one's name as prefix
            }
            labels
                .iter()
                .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Asks `name A` of the server until a NOERROR answer comes, or `limit` passes.
pub fn wait_ready(
    ns: &str,
    addr: &str,
    port: u16,
    name: &str,
    limit: Duration,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<()> {
    let end = std::time::Instant::now() + limit;
    let mut last = String::new();
    while std::time::Instant::now() < end {
        alive()?;
        let out = Command::new("ip")
            .args(["netns", "exec", ns, "kdig"])
            .arg(format!("@{addr}"))
            .args(["-p", &port.to_string(), "+timeout=1", "+retry=0", name, "A"])
            .output()
            .context("run kdig")?;
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        if last.contains("status: NOERROR") {
            return Ok(());
        }
        rig::sleep(Duration::from_millis(200))?;
    }
    bail!(
        "no NOERROR answer to `{name} A` from {addr}:{port} within {}s; last reply:\n{last}",
        limit.as_secs()
    )
}

/// Asks `name A` once and fails unless the answer is NOERROR, authoritative
/// (AA) and holds `name A want`.
pub fn check_answer(ns: &str, addr: &str, port: u16, name: &str, want: &str) -> Result<()> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "kdig"])
        .arg(format!("@{addr}"))
        .args(["-p", &port.to_string(), "+timeout=2", "+retry=2", name, "A"])
        .output()
        .context("run kdig")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !answers(&text, name, want) {
        bail!("`{name} A` from {addr}:{port}: want NOERROR, the AA bit and {want}; got:\n{text}");
    }
    Ok(())
}

/// Whether kdig's output `text` is a NOERROR, authoritative answer that
/// holds `name A want` (any TTL).
fn answers(text: &str, name: &str, want: &str) -> bool {
    let owner = format!("{}.", name.trim_end_matches('.'));
    let aa = text
        .lines()
        .find_map(|l| l.strip_prefix(";; Flags:"))
        .is_some_and(|f| {
            f.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .any(|x| x == "aa")
        });
    let record = text.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() == 5
            && f[0].eq_ignore_ascii_case(&owner)
            && f[2] == "IN"
            && f[3] == "A"
            && f[4] == want
    });
    text.contains("status: NOERROR") && aa && record
}

/// GET `path` from `addr` inside namespace `ns` (curl); the body.
pub fn http_get(ns: &str, addr: &str, path: &str) -> Result<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sS", "--max-time", "10"])
        .arg(format!("http://{addr}{path}"))
        .output()
        .context("run curl")?;
    if !out.status.success() {
        bail!(
            "GET http://{addr}{path} in {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::{answers, metric_sum, number_after};

    #[test]
    fn reads_kdig_answers() {
        let ok = ";; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 4711\n\
                  ;; Flags: qr aa rd; QUERY: 1; ANSWER: 1; AUTHORITY: 0; ADDITIONAL: 0\n\n\
                  ;; QUESTION SECTION:\n\
                  ;; h0.auth.bench.      \t\tIN\tA\n\n\
                  ;; ANSWER SECTION:\n\
                  h0.auth.bench.      \t3600\tIN\tA\t198.18.2.1\n";
        assert!(answers(ok, "h0.auth.bench", "198.18.2.1"));
        assert!(!answers(ok, "h0.auth.bench", "198.18.2.2"));
        assert!(!answers(ok, "h1.auth.bench", "198.18.2.1"));
        assert!(!answers(
            &ok.replace(" aa", ""),
            "h0.auth.bench",
            "198.18.2.1"
        ));
        assert!(!answers(
            &ok.replace("NOERROR", "SERVFAIL"),
            "h0.auth.bench",
            "198.18.2.1"
        ));
    }

    #[test]
    fn sums_metric_series() {
        let m = "# TYPE coredns_cache_hits_total counter\n\
                 coredns_cache_hits_total{server=\"dns://:53\",type=\"success\",zones=\".\",view=\"\"} 5\n\
                 coredns_cache_hits_total{server=\"dns://:53\",type=\"denial\",zones=\".\",view=\"\"} 2\n\
                 coredns_cache_hits_total_other 100\n\
                 coredns_dns_requests_total{zone=\"hot.bench.\",type=\"A\"} 7\n\
                 coredns_dns_requests_total{zone=\"flood.bench.\",type=\"A\"} 9e3\n";
        assert_eq!(metric_sum(m, "coredns_cache_hits_total", &[]), 7.0);
        assert_eq!(
            metric_sum(m, "coredns_cache_hits_total", &[("type", "denial")]),
            2.0
        );
        assert_eq!(
            metric_sum(m, "coredns_dns_requests_total", &[("zone", "flood.bench.")]),
            9000.0
        );
        assert_eq!(metric_sum(m, "coredns_cache_misses_total", &[]), 0.0);
    }

    #[test]
    fn reads_tool_output() {
        let kx = "total queries:     1808290 (602763 pps)\ntotal replies:     1808290 (602763 pps) (100%)\n";
        assert_eq!(number_after(kx, "total queries:"), Some(1808290.0));
        assert_eq!(number_after(kx, "total replies:"), Some(1808290.0));
        let dp = "  Queries completed:    255732 (99.67%)\n  Queries per second:   85217.184992\n";
        assert_eq!(number_after(dp, "Queries completed:"), Some(255732.0));
        assert_eq!(number_after(dp, "Queries per second:"), Some(85217.184992));
    }
}
