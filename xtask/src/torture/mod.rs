//! `cargo xtask torture [--short] [PROBE...]`: the project's own
//! hostile-input suite. It starts the real ferrodns binary and attacks it
//! over real sockets on loopback: malformed packets, upstreams that
//! misbehave, a random-name flood, idle and slowloris TCP connections,
//! signals under every plugin, reloads under load and answers too big for
//! their transport. Every check prints one line (name, figure, PASS or
//! FAIL); the run ends with `torture: N passed, M failed` and fails on any
//! failure. `--short` (run by `cargo xtask test`) makes the counts small
//! enough for half a minute and uses the debug binary the tests built.

mod flood;
mod malformed;
mod oversized;
mod proc;
mod reloads;
mod signals;
mod tcp_abuse;
mod upstream;
mod wire;

use anyhow::{bail, Result};
use std::fmt::Display;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

type Probe = fn(&Ctx) -> Result<()>;

/// The probes in the order they run, by the name a command line picks
/// them with.
const PROBES: &[(&str, Probe)] = &[
    ("malformed", malformed::run),
    ("upstream", upstream::run),
    ("flood", flood::run),
    ("tcp", tcp_abuse::run),
    ("signals", signals::run),
    ("reloads", reloads::run),
    ("oversized", oversized::run),
];

/// What every probe gets: the binary, a work directory, the size of the
/// run, and the tally its checks report to.
pub struct Ctx {
    pub bin: PathBuf,
    work: PathBuf,
    pub short: bool,
    passed: AtomicU32,
    failed: AtomicU32,
}

impl Ctx {
    /// Reports one check: `name`, what was measured, and the verdict.
    pub fn check(&self, name: &str, figure: impl Display, pass: bool) {
        let verdict = if pass { "PASS" } else { "FAIL" };
        println!("{name:<26} {figure}  {verdict}");
        let tally = if pass { &self.passed } else { &self.failed };
        tally.fetch_add(1, Ordering::Relaxed);
    }

    /// A directory for one server (emptied by `proc::Server::start`).
    pub fn dir(&self, name: &str) -> PathBuf {
        self.work.join(name)
    }

    /// `short` in a short run, `full` otherwise.
    pub fn pick<T>(&self, short: T, full: T) -> T {
        if self.short {
            short
        } else {
            full
        }
    }
}

/// Runs the probes named in `only` (all when empty); (passed, failed).
fn run(short: bool, only: &[String]) -> Result<(u32, u32)> {
    for name in only {
        if !PROBES.iter().any(|(p, _)| p == name) {
            bail!(
                "no probe {name}; the probes are {:?}",
                PROBES.iter().map(|p| p.0).collect::<Vec<_>>()
            );
        }
    }
    // dnsperf drives the reloads probe.
    crate::ensure_packages(crate::TEST_PACKAGES)?;
    let ctx = Ctx {
        bin: proc::binary(!short)?,
        work: std::env::temp_dir().join(format!("ferrodns-torture-{}", std::process::id())),
        short,
        passed: AtomicU32::new(0),
        failed: AtomicU32::new(0),
    };
    std::fs::create_dir_all(&ctx.work)?;
    raise_fd_limit();
    let started = Instant::now();
    println!(
        "torture: {} ({} form)",
        ctx.bin.display(),
        if short { "short" } else { "full" }
    );
    for (name, probe) in PROBES {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let t = Instant::now();
        // A probe that cannot even set itself up (no port, a server that
        // will not start) is a failure of that probe, not of the run.
        if let Err(e) = probe(&ctx) {
            ctx.check(name, format!("probe error: {e:#}"), false);
        }
        eprintln!("torture: {name} took {:.1} s", t.elapsed().as_secs_f64());
    }
    eprintln!("torture: {:.1} s in all", started.elapsed().as_secs_f64());
    let _ = std::fs::remove_dir_all(&ctx.work);
    Ok((ctx.passed.into_inner(), ctx.failed.into_inner()))
}

/// The TCP probe holds hundreds of connections open at once, and ferrodns
/// (which inherits the limit) as many: the soft limit goes up to the hard
/// one.
fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid resource and a struct we own.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

fn summary(short: bool, only: &[String]) -> Result<u32> {
    let (passed, failed) = run(short, only)?;
    println!("torture: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("torture: {failed} checks failed");
    }
    Ok(passed)
}

/// `cargo xtask torture [--short] [PROBE...]`.
pub fn main(args: &[String]) -> Result<()> {
    let short = args.iter().any(|a| a == "--short");
    let only: Vec<String> = args.iter().filter(|a| *a != "--short").cloned().collect();
    if let Some(flag) = only.iter().find(|a| a.starts_with('-')) {
        bail!("unknown flag {flag}\n{}", crate::USAGE);
    }
    summary(short, &only).map(drop)
}

/// The short form, for `cargo xtask test`: the number of checks passed.
pub fn short() -> Result<u32> {
    summary(true, &[])
}
