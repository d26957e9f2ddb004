//! The zoneload scenario: how long `file` takes to load a large zone and
//! what it keeps in memory, ferrodns (one worker) against CoreDNS.
//!
//! The zone is written as operators write them (relative names, `$TTL`,
//! owners left out on continuation lines): mostly A records, with AAAA,
//! MX, TXT, CNAME and a few wildcards. Each start is timed from the spawn
//! until the file's last record answers (a UDP query every few
//! milliseconds on loopback), and resident memory (VmRSS) and its peak
//! (VmHWM) are read as the first answer comes. Then the peak is reset
//! (`/proc/PID/clear_refs`), the file is replaced by one with the next
//! serial and another address for its last record, and the reload (the
//! `file` plugin's own `reload` option, 1 s, for both servers) is timed
//! until the new address answers, with the peak it reached. Servers take
//! turns, three starts each; rows hold every start and the median and
//! spread of each figure. Servers run on loopback in the root namespace,
//! on the machine's cores as the scheduler places them (CoreDNS with its
//! default GOMAXPROCS), so no network rig is needed.

use super::rig::{self, Proc};
use super::{Scenario, Server};
use crate::conformance::net::free_port;
use crate::conformance::wire::{Message, Query};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The zone's origin.
const ORIGIN: &str = "zone.bench.";

/// Starts of each server.
const RUNS: usize = 3;

/// The reload interval both servers are given.
const RELOAD: &str = "1s";

/// How long a load or a reload may take before the run fails.
const LIMIT: Duration = Duration::from_secs(300);

/// The zone file and what tells its two versions apart.
pub struct ZoneFiles {
    /// The file the servers read.
    pub path: PathBuf,
    /// The first version's text, and the second's (serial + 1, the last
    /// record's address changed).
    first: String,
    second: String,
    pub records: usize,
    /// The last record's owner, and its address in each version.
    pub last: String,
    pub before: String,
    pub after: String,
}

/// The address of name `hI`.
fn address(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

/// The text of a zone of `records` records with SOA serial `serial`; its
/// last record is `hN IN A ...` (N returned) with `last` as the address
/// when given.
fn zone_text(records: usize, serial: u32, last: Option<&str>) -> (String, usize) {
    let mut z = String::with_capacity(records * 28);
    let _ = write!(
        z,
        "$ORIGIN {ORIGIN}\n$TTL 3600\n@ IN SOA ns1 hostmaster (\n        {serial} ; serial\n        7200 3600 1209600 300 )\n  IN NS ns1\n  IN NS ns2\nns1 IN A 198.18.0.1\nns2 IN A 198.18.0.2\nmail IN A 198.18.0.3\n"
    );
    let mut count = 6;
    let mut i = 0;
    loop {
        count += 1;
        if count >= records {
            let a = last.map_or_else(|| address(i), str::to_string);
            let _ = writeln!(z, "h{i} IN A {a}");
            return (z, i);
        }
        let a = address(i);
        let _ = writeln!(z, "h{i} IN A {a}");
        // What the owner has besides, each a record of the count.
        let mut more = |line: String| {
            if count + 1 < records {
                z.push_str(&line);
                count += 1;
            }
        };
        if i % 10 == 0 {
            more(format!(
                "  IN AAAA 2001:db8::{:x}:{:x}\n",
                i >> 16,
                i & 0xffff
            ));
        }
        if i % 50 == 0 {
            more("  IN MX 10 mail\n".to_string());
        }
        if i % 40 == 0 {
            more(format!("  IN TXT \"v=spf1 ip4:{a} -all\"\n"));
        }
        if i % 20 == 0 {
            more(format!("c{i} IN CNAME h{i}\n"));
        }
        if i % 100_000 == 0 {
            more(format!("*.w{i} IN A 10.255.0.{}\n", i / 100_000));
        }
        i += 1;
    }
}

/// Writes the zone of `records` records into `dir` (both versions' texts
/// are kept to put in place for each start).
pub fn zone(dir: &Path, records: usize) -> Result<ZoneFiles> {
    std::fs::create_dir_all(dir)?;
    let (first, n) = zone_text(records, 2026120501, None);
    let after = "10.254.254.254".to_string();
    let (second, _) = zone_text(records, 2026120502, Some(&after));
    let path = dir.join("zone.db");
    std::fs::write(&path, &first).with_context(|| format!("write {}", path.display()))?;
    Ok(ZoneFiles {
        path,
        first,
        second,
        records,
        last: format!("h{n}.{ORIGIN}"),
        before: address(n),
        after,
    })
}

/// Replaces the file with `text` in one step (a new file renamed over it),
/// so that a reload never reads half of it.
fn replace(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("rename onto {}", path.display()))
}

/// Whether the server on `to` answers `name A` with `want` among the
/// answers (NOERROR); false on no answer within `wait`.
fn answers(sock: &UdpSocket, to: SocketAddr, name: &str, want: &str, id: u16) -> bool {
    let q = Query {
        name: name.to_string(),
        qtype: 1,
        qclass: 1,
        ..Query::default()
    };
    let Ok(bytes) = q.encode(id) else {
        return false;
    };
    if sock.send_to(&bytes, to).is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    let end = Instant::now() + Duration::from_millis(20);
    while Instant::now() < end {
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == to && n >= 2 && buf[..2] == id.to_be_bytes() => {
                return Message::parse(&buf[..n]).is_ok_and(|m| {
                    m.rcode() == 0 && m.answer.iter().any(|r| r.rtype == 1 && r.rdata == want)
                });
            }
            Ok(_) => continue,
            // Nothing listens yet (ICMP port unreachable), or no reply.
            Err(_) => return false,
        }
    }
    false
}

/// Asks until `name A` answers `want`; the time it took from `since`.
pub(super) fn until_answers(
    p: &mut Proc,
    port: u16,
    name: &str,
    want: &str,
    since: Instant,
) -> Result<Duration> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    sock.set_read_timeout(Some(Duration::from_millis(20)))?;
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut id = 1u16;
    loop {
        if answers(&sock, to, name, want, id) {
            return Ok(since.elapsed());
        }
        p.check_alive()?;
        if since.elapsed() > LIMIT {
            bail!(
                "{} did not answer `{name} A` with {want} within {}s",
                p.name,
                LIMIT.as_secs()
            );
        }
        id = id.wrapping_add(1);
        rig::sleep(Duration::from_millis(5))?;
    }
}

/// Resets the process's peak resident set (VmHWM) to what it holds now.
pub(super) fn reset_peak(pid: u32) -> Result<()> {
    let path = format!("/proc/{pid}/clear_refs");
    std::fs::write(&path, "5").with_context(|| format!("write 5 to {path}"))
}

/// One start of `server` on the zone: the load, then the reload.
fn once(server: Server, bin: &Path, dir: &Path, z: &ZoneFiles) -> Result<Value> {
    replace(&z.path, &z.first)?;
    let port = free_port();
    let corefile = dir.join(format!("Corefile.{}", server.id()));
    std::fs::write(
        &corefile,
        format!(
            "{ORIGIN}:{port} {{\n    bind 127.0.0.1\n    file {} {{\n        reload {RELOAD}\n    }}\n}}\n",
            z.path.display()
        ),
    )?;
    let mut args = vec!["-conf".to_string(), corefile.to_string_lossy().into_owned()];
    if server == Server::Ferrodns {
        args.extend(["-workers".to_string(), "1".to_string()]);
    }
    let mut cmd = std::process::Command::new(bin);
    cmd.args(&args);
    let load_avg = super::report::loadavg();
    let t0 = Instant::now();
    let mut p = Proc::spawn(
        server.label(),
        cmd,
        dir.join(format!("{}.log", server.id())),
    )?;
    let pid = p.pid();
    let load = until_answers(&mut p, port, &z.last, &z.before, t0)?;
    let (rss, hwm) = (rig::rss_kib(pid), rig::peak_rss_kib(pid));
    let load_cpu = rig::proc_cpu_s(pid);
    // The reload: the peak from here on, the new file in place, the time
    // until its last record answers with the new address.
    rig::sleep(Duration::from_millis(500))?;
    reset_peak(pid)?;
    let base = rig::rss_kib(pid);
    let cpu0 = rig::proc_cpu_s(pid);
    let t1 = Instant::now();
    replace(&z.path, &z.second)?;
    let reload = until_answers(&mut p, port, &z.last, &z.after, t1)?;
    let reload_hwm = rig::peak_rss_kib(pid);
    let reload_cpu = rig::proc_cpu_s(pid) - cpu0;
    let after_rss = rig::rss_kib(pid);
    p.stop();
    Ok(json!({
        "load_s": load.as_secs_f64(),
        "load_cpu_s": load_cpu,
        "rss_kib": rss,
        "peak_rss_kib": hwm,
        "reload_s": reload.as_secs_f64(),
        "reload_cpu_s": reload_cpu,
        "rss_before_reload_kib": base,
        "reload_peak_rss_kib": reload_hwm,
        "rss_after_reload_kib": after_rss,
        "loadavg_at_start": load_avg,
    }))
}

/// The median, the smallest and the largest of a field over the runs.
fn spread(runs: &[Value], field: &str) -> Value {
    let mut v: Vec<f64> = runs.iter().filter_map(|r| r[field].as_f64()).collect();
    v.sort_by(f64::total_cmp);
    json!({
        "median": super::report::median(v.clone()),
        "min": v.first(),
        "max": v.last(),
    })
}

/// The figures of every field a run has, over the runs.
const FIELDS: &[&str] = &[
    "load_s",
    "load_cpu_s",
    "rss_kib",
    "peak_rss_kib",
    "reload_s",
    "reload_cpu_s",
    "reload_peak_rss_kib",
    "rss_after_reload_kib",
];

/// The scenario: `RUNS` starts of each server, taking turns; a row per server.
pub fn run(
    sc: &Scenario,
    servers: &[Server],
    ferrodns: &Path,
    coredns: &Path,
    work: &Path,
    records: usize,
) -> Result<Vec<Value>> {
    let dir = work.join(sc.name);
    eprintln!("bench: [{}] writing a zone of {records} records", sc.name);
    let z = zone(&dir, records)?;
    let servers: Vec<Server> = servers.iter().copied().filter(|s| sc.runs(*s)).collect();
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); servers.len()];
    for round in 0..RUNS {
        for (i, &server) in servers.iter().enumerate() {
            rig::check_interrupted()?;
            let bin = if server == Server::CoreDns {
                coredns
            } else {
                ferrodns
            };
            eprintln!(
                "bench: [{}] {} start {} of {RUNS} ...",
                sc.name,
                server.label(),
                round + 1
            );
            let r = once(server, bin, &dir, &z)
                .with_context(|| format!("scenario {}, server {}", sc.name, server.label()))?;
            eprintln!(
                "bench: [{}] {}: loaded in {:.2} s ({:.2} CPU s), RSS {:.0} MiB (peak {:.0}); reload {:.2} s, peak {:.0} MiB; load average {}",
                sc.name,
                server.label(),
                r["load_s"].as_f64().unwrap_or(0.0),
                r["load_cpu_s"].as_f64().unwrap_or(0.0),
                r["rss_kib"].as_f64().unwrap_or(0.0) / 1024.0,
                r["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0,
                r["reload_s"].as_f64().unwrap_or(0.0),
                r["reload_peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0,
                r["loadavg_at_start"],
            );
            runs[i].push(r);
        }
    }
    Ok(servers
        .iter()
        .zip(runs)
        .map(|(server, runs)| {
            let mut row = json!({
                "server": server.label(),
                "id": server.id(),
                "records": z.records,
                "zone_bytes": z.first.len(),
                "last_name": z.last,
                "reload_interval": RELOAD,
            });
            for f in FIELDS {
                row[*f] = spread(&runs, f);
            }
            row["runs"] = json!(runs);
            row
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::zone_text;

    #[test]
    fn the_zone_has_the_records_asked_for_and_ends_in_an_a_record() {
        for n in [20, 1000, 12_345] {
            let (text, last) = zone_text(n, 7, None);
            // Every line but the directives and the SOA's is a record; the
            // SOA spans three lines.
            let records = text.lines().count() - 2 - 2;
            assert_eq!(records, n, "{text}");
            assert!(text.ends_with(&format!("h{last} IN A {}\n", super::address(last))));
            let (other, _) = zone_text(n, 8, Some("10.254.254.254"));
            assert!(other.ends_with(&format!("h{last} IN A 10.254.254.254\n")));
        }
    }
}
