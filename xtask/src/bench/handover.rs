//! The upgrade scenario: ferrodns (one worker, started with `-handover`)
//! under dnsperf at half its saturation rate, through restarts and binary
//! upgrades (SIGUSR2: a new process, from the binary's path, takes the
//! listening sockets and the cache over). Counted: the queries dnsperf
//! lost over the whole run, and the cache's hit ratio over the second
//! before each handover and the second right after it (from the serving
//! process's /metrics: the new process's counters start at zero).

use super::measure::{self, Load};
use super::rig::{self, in_ns, Proc, CLIENT_NS, SERVER_IP, SERVER_NS};
use super::{setup, Scenario, METRICS_ADDR};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

/// How many restarts, then as many upgrades.
pub fn rounds(quick: bool) -> usize {
    if quick {
        3
    } else {
        10
    }
}

fn pid_in(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` runs (a zombie, gone but not reaped, does not).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|st| {
            st.rsplit(')')
                .next()
                .map(|r| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// The cache's hits and misses as the serving process counts them.
fn cache_counts() -> Result<(f64, f64)> {
    let m =
        measure::http_get(SERVER_NS, METRICS_ADDR, "/metrics").context("the server's /metrics")?;
    Ok((
        measure::metric_sum(&m, "coredns_cache_hits_total", &[]),
        measure::metric_sum(&m, "coredns_cache_misses_total", &[]),
    ))
}

/// A namespace's UDP counters (/proc/net/snmp): name → value.
fn udp_counters(ns: &str) -> Result<std::collections::BTreeMap<String, f64>> {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "cat", "/proc/net/snmp"])
        .output()
        .context("read the server namespace's /proc/net/snmp")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let udp: Vec<&str> = text.lines().filter(|l| l.starts_with("Udp:")).collect();
    let [names, values] = udp[..] else {
        bail!("no Udp lines in /proc/net/snmp:\n{text}");
    };
    Ok(names
        .split_whitespace()
        .zip(values.split_whitespace())
        .skip(1)
        .filter_map(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
        .collect())
}

/// The hit ratio over the next second.
fn hit_ratio_over_a_second() -> Result<(Option<f64>, f64)> {
    let (h0, m0) = cache_counts()?;
    rig::sleep(Duration::from_secs(1))?;
    let (h1, m1) = cache_counts()?;
    let (h, m) = (h1 - h0, m1 - m0);
    Ok(((h + m > 0.0).then(|| h / (h + m)), h + m))
}

pub fn run(
    sc: &Scenario,
    bins: &setup::Binaries,
    work: &Path,
    load: &Load,
    probe: &str,
    rounds: usize,
) -> Result<Value> {
    let dir = work.join(sc.name);
    super::fresh_dir(&dir)?;
    // The binary the server starts from, replaced for the upgrades.
    let exe = dir.join("ferrodns");
    std::fs::copy(&bins.ferrodns, &exe)?;
    let conf = setup::render(
        &format!("{}/Corefile", sc.name),
        work,
        &format!("{}/Corefile", sc.name),
    )?;
    let pidfile = dir.join("pid");
    let log = dir.join("ferrodns.log");
    let args: Vec<String> = [
        "-conf".into(),
        conf.to_string_lossy().into_owned(),
        "-handover".into(),
        dir.join("handover.sock").to_string_lossy().into_owned(),
        "-pidfile".into(),
        pidfile.to_string_lossy().into_owned(),
    ]
    .to_vec();
    // The first process; the ones after it are started by their
    // predecessors (same arguments, output to the same log).
    let mut first = Proc::spawn(
        "ferrodns",
        in_ns(SERVER_NS, sc.cores(), &exe, &args),
        log.clone(),
    )?;
    measure::wait_ready(
        CLIENT_NS,
        SERVER_IP,
        53,
        probe,
        Duration::from_secs(20),
        || first.check_alive(),
    )
    .context("ferrodns did not start")?;
    let serving = || -> Result<i32> {
        pid_in(&pidfile)
            .filter(|p| alive(*p))
            .with_context(|| format!("no ferrodns serving; its log:\n{}", rig::tail(&log, 20)))
    };
    // Every name once (the first 10,000 of the Zipf stream), as the zipf
    // scenario warms.
    let n = std::fs::read_to_string(load.queries)?
        .lines()
        .count()
        .min(10_000) as f64;
    measure::generator(load, 5000, n / 5000.0, &dir.join("warm.json"))?;
    rig::sleep(Duration::from_millis(300))?;
    serving()?;
    let saturation = measure::dnsperf(load)?;
    let sat = saturation["answered_qps"]
        .as_f64()
        .filter(|q| *q > 0.0)
        .context("dnsperf measured no saturation rate")?;
    let rate = (sat / 2.0) as u64;
    rig::sleep(Duration::from_millis(500))?;
    serving()?;

    // The load for the whole run, long enough for every round (each takes
    // about 3 s: a second before, the handover, a second after, a pause),
    // ending by itself so that every query it sent is answered or lost.
    // Its queries: the same Zipf mix over the same names, drawn afresh and
    // never repeated within the run (a stream that loops through a file
    // has stretches the cache learnt, where the hit ratio jumps: a
    // handover there would look like a drop).
    let settle = 4;
    let run_s = settle + 2 * rounds as u64 * 6 + 2;
    let stream = dir.join("stream.q");
    setup::zipf_stream(&stream, (rate * (run_s + 5)) as usize, 0x0bad_cafe)?;
    let perf_log = dir.join("dnsperf.log");
    let udp0 = (udp_counters(SERVER_NS)?, udp_counters(CLIENT_NS)?);
    let mut perf =
        measure::dnsperf_rate_background(&stream, rate, run_s, load.clients, perf_log.clone())?;
    rig::sleep(Duration::from_secs(settle))?;
    let mut done = Vec::new();
    let result = (|| -> Result<()> {
        for round in 0..2 * rounds {
            perf.check_alive()
                .context("dnsperf ended before the handovers did")?;
            let upgrade = round >= rounds;
            let (before, before_n) = hit_ratio_over_a_second()?;
            if upgrade {
                // A new binary at the path the server was started from.
                let fresh = dir.join("ferrodns.new");
                std::fs::copy(&bins.ferrodns, &fresh)?;
                std::fs::rename(&fresh, &exe)?;
            }
            let old = serving()?;
            let t0 = Instant::now();
            // SAFETY: kill(2) on the server's pid, read from its pidfile.
            unsafe { libc::kill(old, libc::SIGUSR2) };
            let mut took = None;
            while alive(old) || pid_in(&pidfile) == Some(old) {
                if took.is_none() && pid_in(&pidfile).is_some_and(|p| p != old) {
                    took = Some(t0.elapsed());
                }
                if t0.elapsed() > Duration::from_secs(20) {
                    bail!(
                        "round {}: no new process took over within 20 s; the log:\n{}",
                        round + 1,
                        rig::tail(&log, 20)
                    );
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let gone = t0.elapsed();
            serving()?;
            let (after, after_n) = hit_ratio_over_a_second()?;
            done.push(json!({
                "round": round + 1,
                "kind": if upgrade { "upgrade" } else { "restart" },
                "hit_ratio_before": before,
                "answers_before": before_n,
                "hit_ratio_after": after,
                "answers_after": after_n,
                "new_process_serving_ms": took.unwrap_or(gone).as_secs_f64() * 1000.0,
                "old_process_gone_ms": gone.as_secs_f64() * 1000.0,
            }));
            eprintln!(
                "bench: [{}] {}",
                sc.name,
                done.last().unwrap_or(&Value::Null)
            );
            rig::sleep(Duration::from_millis(500))?;
        }
        Ok(())
    })();
    // dnsperf ends, waits for the answers due (1 s) and reports.
    let end = Instant::now() + Duration::from_secs(run_s + 20);
    let status = loop {
        if let Some(s) = perf.child.try_wait()? {
            break s;
        }
        if Instant::now() > end {
            bail!("dnsperf did not end");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let udp1 = (udp_counters(SERVER_NS)?, udp_counters(CLIENT_NS)?);
    let delta = |a: &std::collections::BTreeMap<String, f64>,
                 b: &std::collections::BTreeMap<String, f64>| {
        b.iter()
            .map(|(k, v)| (k.clone(), json!(v - a.get(k).copied().unwrap_or(0.0))))
            .collect::<serde_json::Map<String, Value>>()
    };
    let udp = json!({
        "server_namespace": delta(&udp0.0, &udp1.0),
        "client_namespace": delta(&udp0.1, &udp1.1),
    });
    let last = pid_in(&pidfile);
    if let Some(p) = last {
        // SAFETY: the server's pid, from its pidfile.
        unsafe { libc::kill(p, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(10);
        while alive(p) && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    drop(first);
    result?;
    let dp = measure::dnsperf_report(
        status.success(),
        &std::fs::read_to_string(&perf_log).unwrap_or_default(),
    )?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let took_over = text.matches("Took the listeners over").count();
    if took_over != 2 * rounds {
        bail!(
            "{took_over} takeovers logged for {} handovers; the log:\n{}",
            2 * rounds,
            rig::tail(&log, 30)
        );
    }
    let drop_points = done
        .iter()
        .filter_map(|r| {
            Some((r["hit_ratio_before"].as_f64()? - r["hit_ratio_after"].as_f64()?) * 100.0)
        })
        .fold(None, |m: Option<f64>, d| Some(m.map_or(d, |m| m.max(d))));
    let mean = |field: &str| {
        let v: Vec<f64> = done.iter().filter_map(|r| r[field].as_f64()).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let slowest = done
        .iter()
        .filter_map(|r| r["old_process_gone_ms"].as_f64())
        .fold(0.0, f64::max);
    Ok(json!({
        "server": "ferrodns",
        "id": "ferrodns",
        "saturation": saturation,
        "rate": rate,
        "restarts": rounds,
        "upgrades": rounds,
        "dnsperf": dp,
        // Every query dnsperf sent and had no answer to (its own count
        // is in dnsperf.lost).
        "lost": dp["sent"].as_f64().zip(dp["answered"].as_f64()).map(|(s, a)| s - a),
        "hit_ratio_before_mean": mean("hit_ratio_before"),
        "hit_ratio_after_mean": mean("hit_ratio_after"),
        "largest_hit_ratio_drop_points": drop_points,
        "slowest_handover_ms": slowest,
        "rounds": done,
        // Each namespace's /proc/net/snmp Udp counters over the run.
        "udp_counters": udp,
    }))
}
