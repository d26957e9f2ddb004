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
    if row.get("bytes_per_entry_beyond_answers").is_some() {
        return format!(
            "{} entries cached, RSS {} -> {} MiB, answers {} MiB: {} bytes per entry beyond the answers",
            f(at(row, &["cached_entries"]), 0),
            f(at(row, &["rss_before_kib"]).map(|k| k / 1024.0), 1),
            f(at(row, &["rss_after_kib"]).map(|k| k / 1024.0), 1),
            f(at(row, &["answer_bytes"]).map(|b| b / 1048576.0), 1),
            f(at(row, &["bytes_per_entry_beyond_answers"]), 0),
        );
    }
    if row.get("restart_peak_over_steady").is_some() {
        return format!(
            "{} Services, {} Pods: synced in {} s, RSS {} MiB; dnsperf {} q/s; API server restart: peak RSS {} MiB ({}x the synced RSS), a new Service answered after {} s",
            f(at(row, &["services"]), 0),
            f(at(row, &["pods"]), 0),
            f(at(row, &["sync_s"]), 1),
            f(at(row, &["rss_kib"]).map(|k| k / 1024.0), 1),
            kq(at(row, &["answered_qps"])),
            f(at(row, &["restart", "peak_rss_kib"]).map(|k| k / 1024.0), 1),
            f(at(row, &["restart_peak_over_steady"]), 2),
            f(at(row, &["restart", "answering_new_service_s"]), 1),
        );
    }
    if row.get("largest_hit_ratio_drop_points").is_some() {
        return format!(
            "{} restarts and {} upgrades at {} q/s (half of {} q/s): {} of {} queries lost; hit ratio {}% before, {}% right after (mean), largest drop {} points; slowest handover {} ms",
            f(at(row, &["restarts"]), 0),
            f(at(row, &["upgrades"]), 0),
            f(at(row, &["rate"]), 0),
            f(at(row, &["saturation", "answered_qps"]), 0),
            f(at(row, &["lost"]), 0),
            f(at(row, &["dnsperf", "sent"]), 0),
            f(at(row, &["hit_ratio_before_mean"]).map(|r| r * 100.0), 2),
            f(at(row, &["hit_ratio_after_mean"]).map(|r| r * 100.0), 2),
            f(at(row, &["largest_hit_ratio_drop_points"]), 2),
            f(at(row, &["slowest_handover_ms"]), 0),
        );
    }
    if row.get("hot").is_some() {
        return format!(
            "hot names: {} hit ratio ({} upstream queries for {} answers, {}% answered, p99 {} µs); flood: {} names, {} q/s answered ({}%); {} answers cached; RSS {} MiB before, peak {} MiB",
            f(at(row, &["hot", "hit_ratio"]), 4),
            f(at(row, &["hot", "upstream_queries"]), 0),
            f(at(row, &["hot", "answered"]), 0),
            f(at(row, &["hot", "answered_pct"]), 1),
            f(at(row, &["hot", "latency_us", "p99"]), 0),
            f(at(row, &["flood", "names"]), 0),
            kq(at(row, &["flood", "answered_qps"])),
            f(at(row, &["flood", "answered_pct"]), 1),
            f(at(row, &["cache_entries", "success"]), 0),
            f(at(row, &["rss_before_kib"]).map(|k| k / 1024.0), 1),
            f(at(row, &["peak_rss_kib"]).map(|k| k / 1024.0), 1),
        );
    }
    let upstream = match at(row, &["upstream", "at_fixed_rate", "upstream_queries"]) {
        Some(q) => format!(
            "; at {} q/s: {}% hits, {q:.0} upstream queries ({} q/s); under kxdpgun: {}% hits, {} upstream q/s",
            f(at(row, &["upstream", "at_fixed_rate", "rate"]), 0),
            f(at(row, &["upstream", "at_fixed_rate", "hit_ratio"]).map(|r| r * 100.0), 1),
            f(at(row, &["upstream", "at_fixed_rate", "upstream_qps"]), 0),
            f(at(row, &["upstream", "under_kxdpgun", "hit_ratio"]).map(|r| r * 100.0), 1),
            f(at(row, &["upstream", "under_kxdpgun", "upstream_qps"]), 0),
        ),
        None => String::new(),
    };
    // ferrodns's workers under kxdpgun: how the load spread over them.
    let workers: Vec<String> = row["kxdpgun"]["server_threads_busy_cores"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(name, _)| name.starts_with("ferrodns-w"))
        .map(|(name, busy)| {
            format!(
                "{} {}",
                name.split(' ')
                    .next()
                    .unwrap_or(name)
                    .trim_start_matches("ferrodns-"),
                f(busy.as_f64(), 2)
            )
        })
        .collect();
    let workers = if workers.len() > 1 {
        format!("; workers busy (cores): {}", workers.join(", "))
    } else {
        String::new()
    };
    let half = match at(row, &["latency_half_saturation", "rate"]) {
        Some(rate) => format!(
            ", p99 {} µs at {} q/s (half ferrodns's saturation)",
            f(
                at(row, &["latency_half_saturation", "latency_us", "p99"]),
                0
            ),
            f(Some(rate), 0)
        ),
        None => String::new(),
    };
    format!(
        "kxdpgun {} q/s ({}% answered), dnsperf {} q/s, {} CPU s/1M, p99 {} µs at fixed rate, peak RSS {} MiB",
        kq(at(row, &["kxdpgun", "answered_qps"])),
        f(at(row, &["kxdpgun", "answered_pct"]), 1),
        kq(at(row, &["dnsperf", "answered_qps"])),
        f(at(row, &["kxdpgun", "cpu_s_per_million"]), 2),
        f(at(row, &["latency", "latency_us", "p99"]), 0),
        f(at(row, &["peak_rss_kib"]).map(|k| k / 1024.0), 1),
    ) + &half
        + &upstream
        + &workers
}

fn row<'a>(rows: &'a [Value], id: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["id"] == id)
}

fn target(what: &str, value: Option<f64>, at_least: bool, need: f64) -> Value {
    json!({
        "what": what,
        "value": value,
        "need": format!("{} {need}", if at_least { "≥" } else { "≤" }),
        "met": value.map(|v| if at_least { v >= need } else { v <= need }),
    })
}

/// A target with the figures it is worked out from, shown beside it.
fn target_with(what: &str, value: Option<f64>, at_least: bool, need: f64, detail: String) -> Value {
    let mut t = target(what, value, at_least, need);
    t["detail"] = json!(detail);
    t
}

/// The servers a scenario's ratio targets compare ferrodns with.
pub fn target_peers(scenario: &str) -> &'static [&'static str] {
    match scenario {
        "cache" => &[
            "reflect-socket",
            "reflect-uring",
            "dnsdist",
            "unbound",
            "coredns",
        ],
        "forward" => &["coredns", "dnsdist", "reflect-socket"],
        "xdp" => &["dnsdist", "reflect-xdp"],
        "auth" => &["reflect-socket", "unbound", "nsd", "knot"],
        _ => &[],
    }
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

/// The targets of the data-plane work (issue 6) a scenario's rows can be
/// checked against: ferrodns (the default I/O path, one worker) as ratios to
/// peers and baselines of the same run, and memory per cached entry. With
/// `rounds` (ferrodns and the peers measured one after the other, again
/// and again), a ratio is the median of the rounds' ratios, else that of
/// the rows. And those of the shared cache (issue 11): the flood's hot
/// names and memory, and zipf-2w's upstream queries against zipf's, a
/// scenario of `earlier` (the results of the run so far).
pub fn targets(scenario: &str, rows: &[Value], rounds: &[Value], earlier: &[Value]) -> Vec<Value> {
    let q = |id: &str| row(rows, id).and_then(|r| at(r, &["kxdpgun", "answered_qps"]));
    let of_rounds = |peer: &str| {
        median(
            rounds
                .iter()
                .filter_map(|r| {
                    let b = r[peer].as_f64().filter(|b| *b > 0.0)?;
                    Some(r["ferrodns"].as_f64()? / b)
                })
                .collect(),
        )
    };
    let to = |peer: &str| {
        of_rounds(peer).or_else(|| match (q("ferrodns"), q(peer)) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        })
    };
    match scenario {
        "cache" => {
            // The faster bare socket reflector, and its latency at the rate
            // ferrodns was measured at (half its saturation).
            let reflector = ["reflect-socket", "reflect-uring"]
                .into_iter()
                .filter_map(|id| Some((id, to(id)?)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let p99_half = |id: &str| {
                row(rows, id).and_then(|r| at(r, &["latency_half_saturation", "latency_us", "p99"]))
            };
            let latency = match (
                p99_half("ferrodns"),
                reflector.and_then(|(id, _)| p99_half(id)),
            ) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            vec![
                target(
                    "cache hits q/s ÷ the faster bare reflector (socket or io_uring)",
                    reflector.map(|r| r.1),
                    true,
                    0.9,
                ),
                target("cache hits q/s ÷ dnsdist", to("dnsdist"), true, 1.6),
                target("cache hits q/s ÷ unbound", to("unbound"), true, 1.6),
                target("cache hits q/s ÷ CoreDNS", to("coredns"), true, 4.0),
                target(
                    "p99 at half saturation ÷ the bare reflector's p99 at the same rate",
                    latency,
                    false,
                    2.0,
                ),
            ]
        }
        "xdp" => {
            let v = |id: &str, path: &[&str]| row(rows, id).and_then(|r| at(r, path));
            let share = |id: &str| {
                let (a, o) = (
                    v(id, &["kxdpgun", "answered_qps"])?,
                    v(id, &["kxdpgun", "offered_qps"])?,
                );
                (o > 0.0).then(|| a / o)
            };
            let busy = match (
                v("ferrodns", &["kxdpgun", "box_busy_cores"]),
                v("reflect-xdp", &["kxdpgun", "box_busy_cores"]),
            ) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            let p99 = |id: &str| v(id, &["latency_half_saturation", "latency_us", "p99"]);
            let latency = match (p99("ferrodns"), p99("reflect-xdp")) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            vec![
                target(
                    "answered ÷ offered by kxdpgun (hot names)",
                    share("ferrodns"),
                    true,
                    0.99,
                ),
                target("answered q/s ÷ dnsdist", to("dnsdist"), true, 2.5),
                target(
                    "machine busy CPU ÷ the bare XDP reflector's at full rate",
                    busy,
                    false,
                    1.15,
                ),
                target(
                    "p99 at half saturation ÷ the bare XDP reflector's p99 at the same rate",
                    latency,
                    false,
                    1.2,
                ),
            ]
        }
        "forward" => vec![
            target("forward-only q/s ÷ CoreDNS", to("coredns"), true, 2.0),
            target("forward-only q/s ÷ dnsdist", to("dnsdist"), true, 1.0),
        ],
        // Authoritative answers from the raw path (issue 12).
        "auth" => vec![
            target(
                "auth q/s ÷ the socket reflector",
                to("reflect-socket"),
                true,
                0.85,
            ),
            target("auth q/s ÷ unbound (auth-zone)", to("unbound"), true, 1.3),
            target("auth q/s ÷ NSD", to("nsd"), true, 1.3),
            target("auth q/s ÷ Knot DNS", to("knot"), true, 1.0),
        ],
        "memory" => vec![target(
            "resident bytes per cached answer beyond the answer bytes",
            row(rows, "ferrodns").and_then(|r| at(r, &["bytes_per_entry_beyond_answers"])),
            false,
            300.0,
        )],
        "zipf-2w" => {
            // The same queries at the same fixed rate: with one cache for
            // every worker and misses single-flight, a second worker asks
            // the upstream no more than one does.
            let queries = |rows: &[Value]| {
                row(rows, "ferrodns")
                    .and_then(|r| at(r, &["upstream", "at_fixed_rate", "upstream_queries"]))
            };
            let one = earlier
                .iter()
                .find(|s| s["name"] == "zipf")
                .and_then(|s| queries(s["servers"].as_array()?));
            let two = queries(rows);
            let ratio = match (two, one) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            vec![target_with(
                "upstream queries, ferrodns with 2 workers ÷ 1 worker (zipf), same load at a fixed rate",
                ratio,
                false,
                1.02,
                format!(
                    "{} with 2 workers, {} with 1",
                    f(two, 0),
                    if one.is_some() {
                        f(one, 0)
                    } else {
                        "– (run zipf in the same run)".into()
                    }
                ),
            )]
        }
        // Loading a large zone (issue 14): faster and smaller than CoreDNS.
        "zoneload" => {
            let ratio = |field: &str| {
                let m = |id: &str| row(rows, id).and_then(|r| at(r, &[field, "median"]));
                match (m("ferrodns"), m("coredns")) {
                    (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                    _ => None,
                }
            };
            vec![
                target(
                    "zone load time ÷ CoreDNS's (medians)",
                    ratio("load_s"),
                    false,
                    1.0,
                ),
                target(
                    "resident memory once loaded ÷ CoreDNS's (medians)",
                    ratio("rss_kib"),
                    false,
                    1.0,
                ),
                target(
                    "peak resident memory while loading ÷ CoreDNS's (medians)",
                    ratio("peak_rss_kib"),
                    false,
                    1.0,
                ),
            ]
        }
        "k8s" => {
            let (fd, cd) = (row(rows, "ferrodns"), row(rows, "coredns"));
            let v = |r: Option<&Value>, path: &[&str]| r.and_then(|r| at(r, path));
            let ratio = |path: &[&str]| match (v(fd, path), v(cd, path)) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            vec![
                target_with(
                    "resident memory once synced ÷ CoreDNS's",
                    ratio(&["rss_kib"]),
                    false,
                    0.333,
                    format!(
                        "{} MiB and {} MiB",
                        f(v(fd, &["rss_kib"]).map(|k| k / 1024.0), 1),
                        f(v(cd, &["rss_kib"]).map(|k| k / 1024.0), 1)
                    ),
                ),
                target_with(
                    "peak resident memory while kube-apiserver restarts ÷ ferrodns's own once synced",
                    v(fd, &["restart_peak_over_steady"]),
                    false,
                    1.2,
                    format!(
                        "{} MiB peak, {} MiB synced; CoreDNS {}x",
                        f(v(fd, &["restart", "peak_rss_kib"]).map(|k| k / 1024.0), 1),
                        f(v(fd, &["rss_kib"]).map(|k| k / 1024.0), 1),
                        f(v(cd, &["restart_peak_over_steady"]), 2)
                    ),
                ),
            ]
        }
        "upgrade" => {
            let r = row(rows, "ferrodns");
            let v = |path: &[&str]| r.and_then(|r| at(r, path));
            vec![
                target_with(
                    "queries lost through the restarts and upgrades (dnsperf at half saturation)",
                    v(&["lost"]),
                    false,
                    0.0,
                    format!(
                        "of {} sent at {} q/s",
                        f(v(&["dnsperf", "sent"]), 0),
                        f(v(&["rate"]), 0)
                    ),
                ),
                target_with(
                    "largest drop of the cache's hit ratio, the second right after a handover against the second before (points)",
                    v(&["largest_hit_ratio_drop_points"]),
                    false,
                    1.0,
                    format!(
                        "means {}% before, {}% after",
                        f(v(&["hit_ratio_before_mean"]).map(|r| r * 100.0), 2),
                        f(v(&["hit_ratio_after_mean"]).map(|r| r * 100.0), 2)
                    ),
                ),
            ]
        }
        "flood" => {
            let r = row(rows, "ferrodns");
            let v = |path: &[&str]| r.and_then(|r| at(r, path));
            vec![
                target_with(
                    "hot names' hit ratio during the flood (1 − their upstream queries ÷ their answers)",
                    v(&["hot", "hit_ratio"]),
                    true,
                    0.95,
                    format!(
                        "{} upstream queries for {} answers",
                        f(v(&["hot", "upstream_queries"]), 0),
                        f(v(&["hot", "answered"]), 0)
                    ),
                ),
                target_with(
                    "answers cached after the flood ÷ the configured capacity (success)",
                    match (
                        v(&["cache_entries", "success"]),
                        v(&["capacity", "success"]),
                    ) {
                        (Some(e), Some(c)) if c > 0.0 => Some(e / c),
                        _ => None,
                    },
                    false,
                    1.0,
                    format!(
                        "{} of {}",
                        f(v(&["cache_entries", "success"]), 0),
                        f(v(&["capacity", "success"]), 0)
                    ),
                ),
                target_with(
                    "RSS peak over the flood's second half less that over its first, bytes per flood name of the second half (keeping each would take ≥ 256)",
                    v(&["rss_growth_second_half_per_name"]),
                    false,
                    25.0,
                    format!(
                        "RSS {} MiB before, peaks {} and {} MiB",
                        f(v(&["rss_before_kib"]).map(|k| k / 1024.0), 1),
                        f(v(&["rss_peak_first_half_kib"]).map(|k| k / 1024.0), 1),
                        f(v(&["rss_peak_second_half_kib"]).map(|k| k / 1024.0), 1)
                    ),
                ),
            ]
        }
        _ => Vec::new(),
    }
}

pub fn target_line(t: &Value) -> String {
    let verdict = match t["met"].as_bool() {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "not measured (a row is missing)",
    };
    let detail = match t["detail"].as_str() {
        Some(d) => format!(" ({d})"),
        None => String::new(),
    };
    format!(
        "target: {} = {}{detail} (need {}): {verdict}",
        t["what"].as_str().unwrap_or("?"),
        f(t["value"].as_f64(), 2),
        t["need"].as_str().unwrap_or("?"),
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
        let targets = sc["targets"].as_array().cloned().unwrap_or_default();
        if sc["name"] == "memory" {
            let _ = writeln!(
                md,
                "| server | names asked | entries cached | RSS before MiB | RSS after MiB | answer bytes MiB | bytes per entry beyond the answers |\n|---|---:|---:|---:|---:|---:|---:|"
            );
            for r in &rows {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    r["server"].as_str().unwrap_or("?"),
                    f(at(r, &["names"]), 0),
                    f(at(r, &["cached_entries"]), 0),
                    f(at(r, &["rss_before_kib"]).map(|k| k / 1024.0), 1),
                    f(at(r, &["rss_after_kib"]).map(|k| k / 1024.0), 1),
                    f(at(r, &["answer_bytes"]).map(|b| b / 1048576.0), 1),
                    f(at(r, &["bytes_per_entry_beyond_answers"]), 0),
                );
            }
            md.push('\n');
            targets_md(&mut md, &targets);
            continue;
        }
        if sc["name"] == "flood" {
            flood_md(&mut md, &rows);
            targets_md(&mut md, &targets);
            continue;
        }
        if sc["name"] == "k8s" {
            k8s_md(&mut md, &rows);
            targets_md(&mut md, &targets);
            continue;
        }
        if sc["name"] == "upgrade" {
            upgrade_md(&mut md, &rows);
            targets_md(&mut md, &targets);
            continue;
        }
        if sc["name"] == "zoneload" {
            zoneload_md(&mut md, &rows);
            targets_md(&mut md, &targets);
            continue;
        }
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
        let half: Vec<&Value> = rows
            .iter()
            .filter(|r| r["latency_half_saturation"].is_object())
            .collect();
        if !half.is_empty() {
            let _ = writeln!(
                md,
                "Latency at half of ferrodns's saturation rate ({} q/s):\n\n| server | p50 µs | p90 µs | p99 µs | p99.9 µs | answered % |\n|---|---:|---:|---:|---:|---:|",
                f(at(half[0], &["latency_half_saturation", "rate"]), 0)
            );
            for r in half {
                let l = |p: &str| f(at(r, &["latency_half_saturation", "latency_us", p]), 0);
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} |",
                    r["server"].as_str().unwrap_or("?"),
                    l("p50"),
                    l("p90"),
                    l("p99"),
                    l("p999"),
                    f(at(r, &["latency_half_saturation", "answered_pct"]), 1),
                );
            }
            md.push('\n');
        }
        upstream_md(&mut md, &rows);
        let rounds = sc["paired_rounds"].as_array().cloned().unwrap_or_default();
        if let Some(first) = rounds.first().and_then(Value::as_object) {
            let ids: Vec<&String> = first.keys().collect();
            let _ = write!(
                md,
                "Rounds for the ratio targets (kxdpgun q/s; each round ferrodns then each peer, freshly started; a target's ratio is the median of the rounds' ratios):\n\n| round |"
            );
            for id in &ids {
                let _ = write!(md, " {id} |");
            }
            let _ = write!(md, "\n|---|");
            for _ in &ids {
                let _ = write!(md, "---:|");
            }
            md.push('\n');
            for (i, r) in rounds.iter().enumerate() {
                let _ = write!(md, "| {} |", i + 1);
                for id in &ids {
                    let _ = write!(md, " {} |", kq(r[id.as_str()].as_f64()));
                }
                md.push('\n');
            }
            md.push('\n');
        }
        targets_md(&mut md, &targets);
    }
    md
}

/// The zipf scenarios' cache and upstream figures, where rows have them.
fn upstream_md(md: &mut String, rows: &[Value]) {
    let with: Vec<&Value> = rows.iter().filter(|r| r["upstream"].is_object()).collect();
    let Some(first) = with.first() else { return };
    let _ = writeln!(
        md,
        "Cache and upstream (hit % from the server's own /metrics, ferrodns and CoreDNS only; upstream queries as the upstream counted them), over a load at a fixed {} q/s (the same queries for every row) and under kxdpgun:\n\n| server | hit % at {} q/s | upstream queries at {} q/s | upstream q/s at {} q/s | hit % under kxdpgun | upstream q/s under kxdpgun |\n|---|---:|---:|---:|---:|---:|",
        f(at(first, &["upstream", "at_fixed_rate", "rate"]), 0),
        f(at(first, &["upstream", "at_fixed_rate", "rate"]), 0),
        f(at(first, &["upstream", "at_fixed_rate", "rate"]), 0),
        f(at(first, &["upstream", "at_fixed_rate", "rate"]), 0),
    );
    for r in with {
        let u = |p: &[&str]| at(r, &[&["upstream"][..], p].concat());
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            r["server"].as_str().unwrap_or("?"),
            f(u(&["at_fixed_rate", "hit_ratio"]).map(|x| x * 100.0), 1),
            f(u(&["at_fixed_rate", "upstream_queries"]), 0),
            f(u(&["at_fixed_rate", "upstream_qps"]), 0),
            f(u(&["under_kxdpgun", "hit_ratio"]).map(|x| x * 100.0), 1),
            f(u(&["under_kxdpgun", "upstream_qps"]), 0),
        );
    }
    md.push('\n');
}

fn flood_md(md: &mut String, rows: &[Value]) {
    let _ = writeln!(
        md,
        "| server | hot hit ratio | hot upstream queries | hot answers | hot answered % | hot p99 µs | flood names | flood answered q/s | flood answered % | answers cached | RSS before MiB | RSS peak, first half MiB | RSS peak, second half MiB | peak RSS MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["server"].as_str().unwrap_or("?"),
            f(at(r, &["hot", "hit_ratio"]), 4),
            f(at(r, &["hot", "upstream_queries"]), 0),
            f(at(r, &["hot", "answered"]), 0),
            f(at(r, &["hot", "answered_pct"]), 1),
            f(at(r, &["hot", "latency_us", "p99"]), 0),
            f(at(r, &["flood", "names"]), 0),
            kq(at(r, &["flood", "answered_qps"])),
            f(at(r, &["flood", "answered_pct"]), 1),
            f(at(r, &["cache_entries", "success"]), 0),
            f(at(r, &["rss_before_kib"]).map(|k| k / 1024.0), 1),
            f(at(r, &["rss_peak_first_half_kib"]).map(|k| k / 1024.0), 1),
            f(at(r, &["rss_peak_second_half_kib"]).map(|k| k / 1024.0), 1),
            f(at(r, &["peak_rss_kib"]).map(|k| k / 1024.0), 1),
        );
    }
    md.push('\n');
}

/// The k8s scenario: one row per server.
fn k8s_md(md: &mut String, rows: &[Value]) {
    let _ = writeln!(
        md,
        "| server | Services | Pods | synced s | RSS synced MiB | dnsperf q/s | answered % | peak RSS at start MiB | API restart: peak RSS MiB | ÷ synced | new Service answers after s | RSS after MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let mib = |path: &[&str]| f(at(r, path).map(|k| k / 1024.0), 1);
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["server"].as_str().unwrap_or("?"),
            f(at(r, &["services"]), 0),
            f(at(r, &["pods"]), 0),
            f(at(r, &["sync_s"]), 1),
            mib(&["rss_kib"]),
            kq(at(r, &["answered_qps"])),
            f(at(r, &["dnsperf", "answered_pct"]), 1),
            mib(&["peak_rss_at_start_kib"]),
            mib(&["restart", "peak_rss_kib"]),
            f(at(r, &["restart_peak_over_steady"]), 2),
            f(at(r, &["restart", "answering_new_service_s"]), 1),
            mib(&["restart", "rss_after_kib"]),
        );
    }
    md.push('\n');
}

/// The upgrade scenario: the run's totals, then each handover.
fn upgrade_md(md: &mut String, rows: &[Value]) {
    let _ = writeln!(
        md,
        "| server | saturation q/s (dnsperf) | rate q/s | restarts | upgrades | sent | answered | lost | hit ratio before % (mean) | right after % (mean) | largest drop, points | slowest handover ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["server"].as_str().unwrap_or("?"),
            f(at(r, &["saturation", "answered_qps"]), 0),
            f(at(r, &["rate"]), 0),
            f(at(r, &["restarts"]), 0),
            f(at(r, &["upgrades"]), 0),
            f(at(r, &["dnsperf", "sent"]), 0),
            f(at(r, &["dnsperf", "answered"]), 0),
            f(at(r, &["lost"]), 0),
            f(at(r, &["hit_ratio_before_mean"]).map(|x| x * 100.0), 2),
            f(at(r, &["hit_ratio_after_mean"]).map(|x| x * 100.0), 2),
            f(at(r, &["largest_hit_ratio_drop_points"]), 2),
            f(at(r, &["slowest_handover_ms"]), 0),
        );
    }
    md.push('\n');
    let _ = writeln!(
        md,
        "| handover | kind | hit ratio before % | answers | right after % | answers | new process serving ms | old process gone ms |\n|---:|---|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        for h in r["rounds"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                f(at(h, &["round"]), 0),
                h["kind"].as_str().unwrap_or("?"),
                f(at(h, &["hit_ratio_before"]).map(|x| x * 100.0), 2),
                f(at(h, &["answers_before"]), 0),
                f(at(h, &["hit_ratio_after"]).map(|x| x * 100.0), 2),
                f(at(h, &["answers_after"]), 0),
                f(at(h, &["new_process_serving_ms"]), 0),
                f(at(h, &["old_process_gone_ms"]), 0),
            );
        }
    }
    md.push('\n');
}

/// The zoneload scenario: medians of the starts, with the smallest and
/// largest, then every start.
fn zoneload_md(md: &mut String, rows: &[Value]) {
    let range = |r: &Value, field: &str, scale: f64, digits: usize| {
        format!(
            "{} ({}–{})",
            f(at(r, &[field, "median"]).map(|v| v / scale), digits),
            f(at(r, &[field, "min"]).map(|v| v / scale), digits),
            f(at(r, &[field, "max"]).map(|v| v / scale), digits),
        )
    };
    let first = rows.first();
    let _ = writeln!(
        md,
        "Zone of {} records ({} MiB of text); medians of {} starts each, smallest–largest in brackets.\n\n| server | load s | load CPU s | RSS MiB | peak RSS MiB | reload s | reload CPU s | peak during reload MiB | RSS after reload MiB |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f(first.and_then(|r| at(r, &["records"])), 0),
        f(first.and_then(|r| at(r, &["zone_bytes"])).map(|b| b / 1048576.0), 1),
        first.and_then(|r| r["runs"].as_array()).map_or(0, Vec::len),
    );
    for r in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r["server"].as_str().unwrap_or("?"),
            range(r, "load_s", 1.0, 2),
            range(r, "load_cpu_s", 1.0, 2),
            range(r, "rss_kib", 1024.0, 0),
            range(r, "peak_rss_kib", 1024.0, 0),
            range(r, "reload_s", 1.0, 2),
            range(r, "reload_cpu_s", 1.0, 2),
            range(r, "reload_peak_rss_kib", 1024.0, 0),
            range(r, "rss_after_reload_kib", 1024.0, 0),
        );
    }
    let _ = writeln!(
        md,
        "\nEvery start (load average over 1, 5, 15 minutes as it began):\n\n| server | start | load s | RSS MiB | peak MiB | reload s | reload peak MiB | load average |\n|---|---:|---:|---:|---:|---:|---:|---|"
    );
    for r in rows {
        for (i, run) in r["runs"].as_array().into_iter().flatten().enumerate() {
            let la: Vec<String> = run["loadavg_at_start"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .map(|v| format!("{v:.2}"))
                .collect();
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                r["server"].as_str().unwrap_or("?"),
                i + 1,
                f(at(run, &["load_s"]), 2),
                f(at(run, &["rss_kib"]).map(|k| k / 1024.0), 0),
                f(at(run, &["peak_rss_kib"]).map(|k| k / 1024.0), 0),
                f(at(run, &["reload_s"]), 2),
                f(at(run, &["reload_peak_rss_kib"]).map(|k| k / 1024.0), 0),
                la.join(", "),
            );
        }
    }
    md.push('\n');
}

fn targets_md(md: &mut String, targets: &[Value]) {
    if targets.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "Targets:\n\n| target | measured | need | |\n|---|---:|---:|---|"
    );
    for t in targets {
        let verdict = match t["met"].as_bool() {
            Some(true) => "met",
            Some(false) => "**missed**",
            None => "not measured",
        };
        let detail = match t["detail"].as_str() {
            Some(d) => format!(" ({d})"),
            None => String::new(),
        };
        let _ = writeln!(
            md,
            "| {} | {}{detail} | {} | {verdict} |",
            t["what"].as_str().unwrap_or("?"),
            f(t["value"].as_f64(), 2),
            t["need"].as_str().unwrap_or("?"),
        );
    }
    md.push('\n');
}

/// What every run's results say of it: the machine, the date, whether
/// quick, how long it took, CoreDNS's version, and the scenarios' results.
pub fn run_header(quick: bool, wall_s: f64, scenarios: Vec<Value>) -> Value {
    let meta = machine();
    json!({
        "machine": meta.0,
        "machine_detail": meta.1,
        "date": meta.2,
        "quick": quick,
        "wall_s": wall_s,
        "coredns_version": crate::coredns::VERSION,
        "scenarios": scenarios,
    })
}

/// The 1, 5 and 15 minute load averages of the machine.
pub fn loadavg() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .filter_map(|v| v.parse().ok())
        .collect()
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

/// Writes bench/results/STEM.{json,md,svg} (`latest` for a full run,
/// `quick`, `partial` for some scenarios or servers, `zoneload` for that
/// scenario alone; the chart only where a scenario ran under load), prints
/// the tables, and after a full run puts them in docs/benchmarks.md.
pub fn write(results: &Value, bench_bin: Option<&Path>, stem: &str) -> Result<()> {
    let dir = crate::root().join("bench/results");
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join(format!("{stem}.json"));
    std::fs::write(&json_path, serde_json::to_string_pretty(results)? + "\n")?;
    let svg = dir.join(format!("{stem}.svg"));
    // The chart shows the scenarios under load; a run without them has none.
    let loaded = results["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|sc| sc["servers"].as_array().into_iter().flatten())
        .any(|r| r["kxdpgun_qps"].is_number());
    let chart = match bench_bin {
        Some(bin) if loaded => {
            crate::run(
                Command::new(bin)
                    .arg("chart")
                    .arg("--input")
                    .arg(&json_path)
                    .arg("--output")
                    .arg(&svg),
            )?;
            Some(svg)
        }
        _ => None,
    };
    let tables = markdown(results);
    let head = if results["seconds_per_load"].is_null() {
        let la = |k: &str| {
            results[k]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64)
                .map(|v| format!("{v:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "Taken {} on {}; CoreDNS {}; load average (1, 5, 15 min) {} before, {} after.\n\n",
            results["date"].as_str().unwrap_or("?"),
            results["machine_detail"].as_str().unwrap_or("?"),
            results["coredns_version"].as_str().unwrap_or("?"),
            la("loadavg_before"),
            la("loadavg_after"),
        )
    } else {
        format!(
            "Taken {} on {}; {} s per load, latency at {} q/s for {} s; CoreDNS {}.\n\n",
            results["date"].as_str().unwrap_or("?"),
            results["machine_detail"].as_str().unwrap_or("?"),
            results["seconds_per_load"],
            results["latency_rate_qps"],
            results["latency_seconds"],
            results["coredns_version"].as_str().unwrap_or("?"),
        )
    };
    std::fs::write(dir.join(format!("{stem}.md")), format!("{head}{tables}"))?;
    println!("\n{head}{tables}");
    println!(
        "bench: wrote {}, {}{}",
        json_path.display(),
        dir.join(format!("{stem}.md")).display(),
        chart.map_or(String::new(), |svg| format!(" and {}", svg.display()))
    );
    if stem == "latest" {
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

#[cfg(test)]
mod tests {
    use super::{median, target_peers, targets};
    use serde_json::json;

    #[test]
    fn auth_targets_from_the_paired_rounds() {
        let peers = target_peers("auth");
        for p in ["reflect-socket", "unbound", "nsd", "knot"] {
            assert!(peers.contains(&p), "{p}");
        }
        // Rows that miss every target, rounds that meet them: the rounds decide.
        let rows = vec![
            json!({"id": "ferrodns", "kxdpgun": {"answered_qps": 100.0}}),
            json!({"id": "knot", "kxdpgun": {"answered_qps": 200.0}}),
        ];
        let round = |f: f64| json!({"ferrodns": f, "reflect-socket": 100.0, "unbound": 70.0, "nsd": 70.0, "knot": 95.0});
        let t = targets(
            "auth",
            &rows,
            &[round(90.0), round(99.0), round(100.0)],
            &[],
        );
        let value = |what: &str| {
            t.iter()
                .find(|t| t["what"].as_str().unwrap().contains(what))
                .map(|t| (t["value"].as_f64().unwrap(), t["met"].as_bool().unwrap()))
                .unwrap()
        };
        assert_eq!(value("reflector"), (0.99, true));
        assert_eq!(value("Knot"), (99.0 / 95.0, true));
        assert_eq!(value("NSD"), (99.0 / 70.0, true));
        // Without rounds, the rows: 100 ÷ 200.
        let t = targets("auth", &rows, &[], &[]);
        let knot = t
            .iter()
            .find(|t| t["what"].as_str().unwrap().contains("Knot"))
            .unwrap();
        assert_eq!(knot["value"].as_f64(), Some(0.5));
        assert_eq!(knot["met"].as_bool(), Some(false));
    }

    #[test]
    fn median_of_odd_even_and_no_rounds() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![1.0, 10.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
