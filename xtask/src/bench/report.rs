//! Results: ratios between servers, the Markdown tables, the JSON and chart
//! under bench/results/, and the latest figures in docs/benchmarks.md.

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

/// The metrics compared between servers, by name and where they sit in a row.
const METRICS: &[(&str, &[&str])] = &[
    ("kxdpgun_qps", &["kxdpgun", "answered_qps"]),
    ("dnsperf_qps", &["dnsperf", "answered_qps"]),
    ("cpu_s_per_million", &["kxdpgun", "cpu_s_per_million"]),
    ("latency_p99_us", &["latency", "latency_us", "p99"]),
    ("peak_rss_kib", &["peak_rss_kib"]),
];

fn at(row: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(row, |v, k| v.get(*k))?.as_f64()
}

/// For every server, each metric divided by the same metric of every other
/// server in the same scenario: {server: {versus: {metric: ratio}}}.
pub fn ratios(rows: &[Value]) -> Value {
    let mut out = Map::new();
    for r in rows {
        let mut per = Map::new();
        for other in rows {
            if other["id"] == r["id"] {
                continue;
            }
            let mut m = Map::new();
            for (name, path) in METRICS {
                let ratio = match (at(r, path), at(other, path)) {
                    (Some(a), Some(b)) if b > 0.0 => json!(a / b),
                    _ => Value::Null,
                };
                m.insert(name.to_string(), ratio);
            }
            per.insert(other["id"].as_str().unwrap_or("?").into(), Value::Object(m));
        }
        out.insert(r["id"].as_str().unwrap_or("?").into(), Value::Object(per));
    }
    Value::Object(out)
}

fn f(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) => format!("{x:.digits$}"),
        None => "–".into(),
    }
}

fn kq(v: Option<f64>) -> String {
    match v {
        Some(x) => format!("{:.1}k", x / 1000.0),
        None => "–".into(),
    }
}

pub fn one_line(row: &Value) -> String {
    format!(
        "kxdpgun {} q/s ({}% answered), dnsperf {} q/s, {} CPU s/1M, p99 {} µs at fixed rate, peak RSS {} MiB",
        kq(at(row, &["kxdpgun", "answered_qps"])),
        f(at(row, &["kxdpgun", "answered_pct"]), 1),
        kq(at(row, &["dnsperf", "answered_qps"])),
        f(at(row, &["kxdpgun", "cpu_s_per_million"]), 2),
        f(at(row, &["latency", "latency_us", "p99"]), 0),
        f(at(row, &["peak_rss_kib"]).map(|k| k / 1024.0), 1),
    )
}

/// Every scenario's table of figures and its table of ratios.
pub fn markdown(results: &Value) -> String {
    let mut md = String::new();
    let rate = results["latency_rate_qps"].as_f64().unwrap_or(0.0);
    for sc in results["scenarios"].as_array().into_iter().flatten() {
        let rows = sc["servers"].as_array().cloned().unwrap_or_default();
        let _ = writeln!(
            md,
            "### {}\n\n{}\n",
            sc["name"].as_str().unwrap_or("?"),
            sc["about"].as_str().unwrap_or("")
        );
        let _ = writeln!(
            md,
            "| server | kxdpgun q/s | answered % | dnsperf q/s | answered % | CPU s / 1M answers | box busy cores | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | answered % at {rate:.0} q/s | peak RSS MiB |"
        );
        let _ = writeln!(
            md,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &rows {
            let l = |p: &str| f(at(r, &["latency", "latency_us", p]), 0);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                r["server"].as_str().unwrap_or("?"),
                kq(at(r, &["kxdpgun", "answered_qps"])),
                f(at(r, &["kxdpgun", "answered_pct"]), 1),
                kq(at(r, &["dnsperf", "answered_qps"])),
                f(at(r, &["dnsperf", "answered_pct"]), 1),
                f(at(r, &["kxdpgun", "cpu_s_per_million"]), 2),
                f(at(r, &["kxdpgun", "box_busy_cores"]), 2),
                l("p50"),
                l("p90"),
                l("p99"),
                l("p999"),
                l("max"),
                f(at(r, &["latency", "answered_pct"]), 1),
                f(at(r, &["peak_rss_kib"]).map(|k| k / 1024.0), 1),
            );
        }
        // Ratios of each row to each peer and baseline (kxdpgun q/s; CPU/1M).
        let refs: Vec<&Value> = rows.iter().collect();
        let _ = write!(
            md,
            "\nRatios, kxdpgun q/s (CPU s / 1M answers):\n\n| server |"
        );
        for r in &refs {
            let _ = write!(md, " ÷ {} |", r["server"].as_str().unwrap_or("?"));
        }
        let _ = write!(md, "\n|---|");
        for _ in &refs {
            let _ = write!(md, "---:|");
        }
        md.push('\n');
        for r in &rows {
            let _ = write!(md, "| {} |", r["server"].as_str().unwrap_or("?"));
            let id = r["id"].as_str().unwrap_or("?");
            for other in &refs {
                let oid = other["id"].as_str().unwrap_or("?");
                if oid == id {
                    let _ = write!(md, " 1 |");
                    continue;
                }
                let ra = &sc["ratios"][id][oid];
                let _ = write!(
                    md,
                    " {} ({}) |",
                    f(ra["kxdpgun_qps"].as_f64(), 2),
                    f(ra["cpu_s_per_million"].as_f64(), 2)
                );
            }
            md.push('\n');
        }
        md.push('\n');
    }
    md
}

/// A short name for the machine, a longer description, and the date (UTC).
pub fn machine() -> (String, String, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map(|k| k / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let cmd = |c: &str, a: &[&str]| {
        Command::new(c)
            .args(a)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let kernel = cmd("uname", &["-r"]);
    let date = cmd("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    (
        format!("{cores} cores, {cpu}"),
        format!("{cores} cores ({cpu}), {mem_gib:.0} GiB, Linux {kernel}"),
        date,
    )
}

const BEGIN: &str = "<!-- bench:results:begin -->";
const END: &str = "<!-- bench:results:end -->";

/// Writes bench/results/{latest|quick}.{json,md,svg}, prints the tables, and
/// after a full run puts them in docs/benchmarks.md.
pub fn write(results: &Value, bench_bin: &Path, quick: bool) -> Result<()> {
    let dir = crate::root().join("bench/results");
    std::fs::create_dir_all(&dir)?;
    let stem = if quick { "quick" } else { "latest" };
    let json_path = dir.join(format!("{stem}.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(results)? + "\n")?;
    let svg = dir.join(format!("{stem}.svg"));
    crate::run(
        Command::new(bench_bin)
            .arg("chart")
            .arg("--input")
            .arg(&json_path)
            .arg("--output")
            .arg(&svg),
    )?;
    let tables = markdown(results);
    let head = format!(
        "Taken {} on {}; {} s per load, latency at {} q/s for {} s; CoreDNS {}.\n\n",
        results["date"].as_str().unwrap_or("?"),
        results["machine_detail"].as_str().unwrap_or("?"),
        results["seconds_per_load"],
        results["latency_rate_qps"],
        results["latency_seconds"],
        results["coredns_version"].as_str().unwrap_or("?"),
    );
    std::fs::write(dir.join(format!("{stem}.md")), format!("{head}{tables}"))?;
    println!("\n{head}{tables}");
    println!(
        "bench: wrote {}, {} and {}",
        json_path.display(),
        dir.join(format!("{stem}.md")).display(),
        svg.display()
    );
    if !quick {
        let doc = crate::root().join("docs/benchmarks.md");
        let text =
            std::fs::read_to_string(&doc).with_context(|| format!("read {}", doc.display()))?;
        let (Some(b), Some(e)) = (text.find(BEGIN), text.find(END)) else {
            anyhow::bail!("{} lacks the {BEGIN} ... {END} markers", doc.display());
        };
        let new = format!(
            "{}{BEGIN}\n{head}![queries/s and CPU per million answers](../bench/results/latest.svg)\n\n{tables}{}",
            &text[..b],
            &text[e..]
        );
        std::fs::write(&doc, new)?;
        println!("bench: updated {}", doc.display());
    }
    Ok(())
}
