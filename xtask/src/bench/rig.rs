//! The rig of shared/BENCHMARKING.md: a client and a server network namespace
//! joined by a veth pair, 198.18.0.1 and 198.18.0.2 (the benchmarking range),
//! and the processes started in them. Everything set up here is undone on
//! drop, on an error, a panic, or Ctrl-C (SIGINT/SIGTERM set a flag that
//! every wait here checks, so the run unwinds through these guards).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub const CLIENT_NS: &str = "fdbench-cli";
pub const SERVER_NS: &str = "fdbench-srv";
pub const CLIENT_IF: &str = "fdb0";
pub const SERVER_IF: &str = "fdb1";
pub const CLIENT_IP: &str = "198.18.0.1";
pub const SERVER_IP: &str = "198.18.0.2";
/// Core the server under test is pinned to; the load generators get core 0.
pub const SERVER_CORE: &str = "1";
pub const CLIENT_CORE: &str = "0";

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Turns SIGINT and SIGTERM into a flag, so that cleanup runs before exit.
pub fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; the function pointer lives for the program.
        unsafe {
            libc::signal(
                sig,
                on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t,
            );
        }
    }
}

pub fn check_interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: stopping what was started and removing the namespaces");
    }
    Ok(())
}

/// Sleeps, waking early to notice an interruption.
pub fn sleep(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check_interrupted()?;
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(50)));
    }
    check_interrupted()
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("run `ip` (iproute2)")?;
    if !out.status.success() {
        bail!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The two namespaces and the veth pair; removed on drop.
pub struct Rig {
    pub server_mac: String,
}

impl Rig {
    pub fn up() -> Result<Rig> {
        remove_namespaces();
        // From here on, a failure drops `rig`, which removes what was made.
        let mut rig = Rig {
            server_mac: String::new(),
        };
        ip(&["netns", "add", CLIENT_NS])?;
        ip(&["netns", "add", SERVER_NS])?;
        ip(&[
            "link", "add", CLIENT_IF, "netns", CLIENT_NS, "type", "veth", "peer", "name",
            SERVER_IF, "netns", SERVER_NS,
        ])?;
        for (ns, dev, addr) in [
            (CLIENT_NS, CLIENT_IF, CLIENT_IP),
            (SERVER_NS, SERVER_IF, SERVER_IP),
        ] {
            ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        // A frame sent back with XDP_TX reaches a veth peer that has no XDP
        // program of its own only when the peer runs NAPI, which GRO turns on.
        let gro = Command::new("ip")
            .args([
                "netns", "exec", CLIENT_NS, "ethtool", "-K", CLIENT_IF, "gro", "on",
            ])
            .output()
            .context("run ethtool")?;
        if !gro.status.success() {
            bail!(
                "ethtool -K {CLIENT_IF} gro on failed: {}",
                String::from_utf8_lossy(&gro.stderr).trim()
            );
        }
        let mac = |ns: &str, dev: &str| -> Result<String> {
            let out = Command::new("ip")
                .args(["-n", ns, "-j", "link", "show", dev])
                .output()?;
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .with_context(|| format!("parse `ip -j link show {dev}`"))?;
            v[0]["address"]
                .as_str()
                .map(str::to_string)
                .context("no MAC address")
        };
        rig.server_mac = mac(SERVER_NS, SERVER_IF)?;
        let client_mac = mac(CLIENT_NS, CLIENT_IF)?;
        // Static neighbours: no ARP in the measurements.
        ip(&[
            "-n",
            CLIENT_NS,
            "neigh",
            "replace",
            SERVER_IP,
            "lladdr",
            &rig.server_mac,
            "dev",
            CLIENT_IF,
            "nud",
            "permanent",
        ])?;
        ip(&[
            "-n",
            SERVER_NS,
            "neigh",
            "replace",
            CLIENT_IP,
            "lladdr",
            &client_mac,
            "dev",
            SERVER_IF,
            "nud",
            "permanent",
        ])?;
        Ok(rig)
    }

    /// Attaches the XDP reflector to the server's end of the veth pair.
    pub fn attach_xdp(&self, obj: &Path) -> Result<XdpGuard> {
        let obj = obj.to_string_lossy();
        ip(&[
            "-n", SERVER_NS, "link", "set", "dev", SERVER_IF, "xdpdrv", "obj", &obj, "sec", "xdp",
        ])
        .context("attach the XDP reflector in native (driver) mode")?;
        Ok(XdpGuard)
    }

    /// Attaches an XDP_PASS program to the client's end: see bench/xdp/pass.c.
    pub fn attach_client_pass(&self, obj: &Path) -> Result<()> {
        let obj = obj.to_string_lossy();
        ip(&[
            "-n", CLIENT_NS, "link", "set", "dev", CLIENT_IF, "xdpdrv", "obj", &obj, "sec", "xdp",
        ])
        .context("attach the XDP_PASS program to the client's interface")
    }

    /// Removes the XDP program on the client's end (kxdpgun's or ours).
    pub fn detach_client_xdp(&self) {
        let _ = ip(&[
            "-n", CLIENT_NS, "link", "set", "dev", CLIENT_IF, "xdp", "off",
        ]);
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        remove_namespaces();
        eprintln!("bench: removed namespaces {CLIENT_NS} and {SERVER_NS}");
    }
}

/// Deletes the namespaces of this or an earlier (interrupted) run; deleting
/// a namespace deletes the veth end inside it, and with it the pair.
pub fn remove_namespaces() {
    for ns in [CLIENT_NS, SERVER_NS] {
        if Path::new("/run/netns").join(ns).exists() {
            let _ = Command::new("ip")
                .args(["netns", "pids", ns])
                .output()
                .map(|o| {
                    // Processes left in a namespace by an earlier run that died.
                    for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                        if let Ok(pid) = pid.parse::<i32>() {
                            // SAFETY: plain kill(2) on a pid the namespace listed.
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                        }
                    }
                });
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

pub struct XdpGuard;

impl Drop for XdpGuard {
    fn drop(&mut self) {
        let _ = ip(&[
            "-n", SERVER_NS, "link", "set", "dev", SERVER_IF, "xdpdrv", "off",
        ]);
    }
}

/// `ip netns exec NS taskset -c CORE PROGRAM ARGS...`: both exec, so the
/// child's pid is the program's.
pub fn in_ns(ns: &str, core: &str, program: &Path, args: &[String]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, "taskset", "-c", core])
        .arg(program)
        .args(args);
    c
}

/// A process started by the bench: stopped (TERM, then KILL) on drop.
pub struct Proc {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Result<Proc> {
        let file =
            std::fs::File::create(&log).with_context(|| format!("create {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = cmd
            .spawn()
            .with_context(|| format!("start {name}: {cmd:?}"))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails, with the end of its log, when the process has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); the end of its log {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 15)
            );
        }
        Ok(())
    }

    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: kill(2) on our own child, which has not been reaped.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let end = Instant::now() + Duration::from_secs(5);
            while Instant::now() < end {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs a command to completion within `limit`, killing it past that;
/// returns its stdout and stderr together.
pub fn run_bounded(name: &str, mut cmd: Command, limit: Duration) -> Result<(bool, String)> {
    let out_path = std::env::temp_dir().join(format!("fdbench-{}-{name}.out", std::process::id()));
    let mut p = Proc::spawn(name, cmd_ref(&mut cmd), out_path.clone())?;
    let end = Instant::now() + limit;
    let status = loop {
        if let Some(s) = p.child.try_wait()? {
            break s;
        }
        if Instant::now() > end {
            p.stop();
            bail!("{name} ran past its {}s limit: killed", limit.as_secs());
        }
        check_interrupted()?;
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    Ok((status.success(), text))
}

fn cmd_ref(cmd: &mut Command) -> Command {
    let mut c = Command::new(cmd.get_program());
    c.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// A process and every process descended from it, the process first: the
/// server under test as a whole (NSD answers from a process it forks, as
/// it transfers zones from another; every other server here is one
/// process).
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The field after the state, past the parenthesised command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while let Some(&p) = tree.get(i) {
        for &(c, pp) in &parents {
            if pp == p && !tree.contains(&c) {
                tree.push(c);
            }
        }
        i += 1;
    }
    tree
}

/// CPUs of a list as the kernel and taskset write them ("1", "0-1", "0,2-3").
fn cpu_list(text: &str) -> Option<Vec<u32>> {
    let mut cpus = Vec::new();
    for part in text.trim().split(',') {
        match part.split_once('-') {
            Some((a, b)) => cpus.extend(a.parse::<u32>().ok()?..=b.parse::<u32>().ok()?),
            None => cpus.push(part.parse().ok()?),
        }
    }
    Some(cpus)
}

/// Sets the CPU affinity of every thread of a process and its descendants
/// to `cores` (taskset's list), for a server that pins threads itself
/// after it was started on its cores.
pub fn pin_tree(pid: u32, cores: &str) -> Result<()> {
    for p in process_tree(pid) {
        let out = Command::new("taskset")
            .args(["-a", "-p", "-c", cores, &p.to_string()])
            .output()
            .context("run taskset")?;
        if !out.status.success() {
            bail!(
                "taskset -a -p -c {cores} {p}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    Ok(())
}

/// Fails unless every thread of a process and its descendants may run on
/// `cores` (taskset's list) only.
pub fn check_pinned(pid: u32, cores: &str) -> Result<()> {
    let allowed = cpu_list(cores).with_context(|| format!("a CPU list: {cores:?}"))?;
    for p in process_tree(pid) {
        for e in std::fs::read_dir(format!("/proc/{p}/task"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let status = std::fs::read_to_string(e.path().join("status")).unwrap_or_default();
            let (Some(name), Some(list)) = (
                status.lines().find_map(|l| l.strip_prefix("Name:")),
                status
                    .lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:")),
            ) else {
                continue;
            };
            let cpus = cpu_list(list).unwrap_or_default();
            if cpus.is_empty() || cpus.iter().any(|c| !allowed.contains(c)) {
                bail!(
                    "thread {} ({}) of process {p} may run on CPUs {}, not only on {cores}",
                    e.file_name().to_string_lossy(),
                    name.trim(),
                    list.trim()
                );
            }
        }
    }
    Ok(())
}

/// utime + stime of a process and its descendants (`process_tree`), all
/// their threads, in seconds.
pub fn proc_cpu_s(pid: u32) -> f64 {
    process_tree(pid).into_iter().map(one_proc_cpu_s).sum()
}

fn one_proc_cpu_s(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    // Fields after the parenthesised command name, which may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    ticks / clock_ticks()
}

/// utime + stime of each thread of a process and its descendants
/// (`process_tree`), in seconds, keyed by the thread's name and id
/// ("ferrodns-w0 1234").
pub fn thread_cpu_s(pid: u32) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    for pid in process_tree(pid) {
        let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        threads_cpu_s(dir, &mut out);
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn threads_cpu_s(dir: std::fs::ReadDir, out: &mut Vec<(String, f64)>) {
    for e in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let f: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let ticks: f64 = [11, 12]
            .iter()
            .filter_map(|&i| f.get(i).and_then(|v| v.parse::<f64>().ok()))
            .sum();
        out.push((
            format!("{name} {}", e.file_name().to_string_lossy()),
            ticks / clock_ticks(),
        ));
    }
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Busy CPU seconds of the whole machine (all cores, idle and iowait aside),
/// and per core, from /proc/stat.
pub fn box_busy_s() -> (f64, Vec<f64>) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let mut total = 0.0;
    let mut cores = Vec::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(label) = it.next() else { continue };
        if !label.starts_with("cpu") {
            continue;
        }
        let v: Vec<f64> = it.filter_map(|x| x.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal (guest counted in user)
        let busy: f64 =
            v.iter().take(8).sum::<f64>() - v.get(3).unwrap_or(&0.0) - v.get(4).unwrap_or(&0.0);
        let secs = busy / clock_ticks();
        if label == "cpu" {
            total = secs;
        } else {
            cores.push(secs);
        }
    }
    (total, cores)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Peak resident set (VmHWM) in KiB: the largest of the process's and its
/// descendants' (`process_tree`; NSD's server process shares its zone
/// with the main process it was forked from, so a sum would count it
/// twice).
pub fn peak_rss_kib(pid: u32) -> u64 {
    process_tree(pid)
        .into_iter()
        .map(|p| status_kib(p, "VmHWM:"))
        .max()
        .unwrap_or(0)
}

/// Resident set now (VmRSS) in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_cpu_lists() {
        assert_eq!(super::cpu_list("1"), Some(vec![1]));
        assert_eq!(super::cpu_list("0-1\n"), Some(vec![0, 1]));
        assert_eq!(super::cpu_list("0,2-3"), Some(vec![0, 2, 3]));
        assert_eq!(super::cpu_list("x"), None);
    }

    #[test]
    fn process_tree_has_the_children() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let tree = super::process_tree(me);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(tree.first(), Some(&me));
        assert!(tree.contains(&child.id()), "{tree:?}");
    }
}
