//! Project chores: `cargo xtask test` (the README's test command) and
//! `cargo xtask fuzz`. Each installs what it needs first.

mod bench;
mod conformance;
mod coredns;
mod dist;
mod ebpf;
mod fuzz;
mod k8s;
mod layers;
mod torture;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test                 formatting, clippy (-D warnings) and every test of the workspace
  fuzz [--seconds N]   run each cargo-fuzz target for N seconds (default 60; needs nightly)
  conformance [NAME]   answer like CoreDNS: every case of tests/conformance/ (or those whose name holds NAME)
  coredns              build CoreDNS (pinned version) once from the Go module proxy; print its path
  dnstap               build golang-dnstap's `dnstap` reader (pinned version) the same way; print its path
  dist [--check]       the release build as a Debian package and a tarball in target/dist/
                       (--check: its contents, and lintian where installed)
  k8s build|start [DIR]|stop [DIR]|path
                       a real kube-apiserver and etcd (pinned versions, built once from the Go
                       module proxy) on loopback with a throwaway CA, for the kubernetes plugin
  setup-ebpf           nightly with rust-src and bpf-linker (built against the nightly's libLLVM,
                       cached); prints the directory to put on PATH for eBPF builds
  layers               the daemon's modules import only the layers below them (also a test)
  torture [--short] [PROBE...]
                       hostile input against the real binary on loopback (malformed packets,
                       bad upstreams, floods, TCP abuse, signals, reloads, oversized answers)
  bench [--quick] [--scenario LIST] [--servers LIST]
                       ferrodns against CoreDNS, unbound, dnsdist and two bare reflectors
                       (needs root: network namespaces, XDP); results in bench/results/
";

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().with_context(|| format!("start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// The nightly toolchain (cargo-fuzz and the eBPF build need it).
fn ensure_nightly() -> Result<()> {
    if !succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    Ok(())
}

/// The daemon's eBPF features, `steer` and `xdp`, where the eBPF toolchain
/// is there or can be installed (`cargo xtask setup-ebpf`, cached), else
/// none, said loudly: the cargo arguments to add, the same for every build
/// of a run.
fn ebpf_features() -> &'static [&'static str] {
    static FEATURES: std::sync::OnceLock<&'static [&'static str]> = std::sync::OnceLock::new();
    FEATURES.get_or_init(|| match ebpf::setup() {
        Ok(_) => &["--features", "ferrodns/steer,ferrodns/xdp"],
        Err(e) => {
            println!(
                "SKIPPED the steer and xdp features (SK_REUSEPORT steering, the XDP fast path and its tests): no eBPF toolchain: {e:#}"
            );
            &[]
        }
    })
}

/// `cargo build -p ferrodns` with [`ebpf_features`] (`--release` when
/// asked); the binary's path
/// in cargo's target directory (CARGO_TARGET_DIR, or what cargo metadata
/// says).
fn ferrodns_binary(release: bool) -> Result<PathBuf> {
    let mut build = cargo();
    build
        .args(["build", "-p", "ferrodns"])
        .args(ebpf_features());
    if release {
        build.arg("--release");
    }
    run(&mut build)?;
    let dir = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let out = cargo()
                .args(["metadata", "--format-version", "1", "--no-deps"])
                .output()
                .context("cargo metadata")?;
            let text = String::from_utf8(out.stdout)?;
            let key = "\"target_directory\":\"";
            let start = text
                .find(key)
                .context("target_directory in cargo metadata")?
                + key.len();
            let end = start + text[start..].find('"').context("cargo metadata")?;
            PathBuf::from(&text[start..end])
        }
    };
    let bin = root()
        .join(dir)
        .join(if release { "release" } else { "debug" })
        .join("ferrodns");
    if !bin.is_file() {
        bail!("no ferrodns binary at {}", bin.display());
    }
    Ok(bin)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// rustfmt and clippy come with rustup's default profile, but not with
/// the minimal one CI images often use.
fn ensure_components() -> Result<()> {
    for (probe, component) in [("fmt", "rustfmt"), ("clippy", "clippy")] {
        if !succeeds(cargo().args([probe, "--version"])) {
            run(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

/// Debian packages the tests drive for real, by the command each installs.
const TEST_PACKAGES: &[(&str, &str)] = &[
    ("dnsperf", "dnsperf"),
    ("lintian", "lintian"),
    ("nft", "nftables"),
    ("kdig", "knot-dnsutils"),
    // The XDP tests turn GRO on at the veth peer without a program.
    ("ethtool", "ethtool"),
];

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Installs what the tests need from Debian when it is missing.
fn ensure_packages(wanted: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|(cmd, _)| !have(cmd))
        .map(|(_, pkg)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let sudo: &[&str] = if have("id") && Command::new("id").arg("-u").output()?.stdout == b"0\n" {
        &[]
    } else {
        &["sudo"]
    };
    let apt = |args: &[&str]| {
        let mut c = Command::new(sudo.first().copied().unwrap_or("apt-get"));
        if !sudo.is_empty() {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        run(&mut c)
    };
    apt(&["update", "-qq"])?;
    let mut args = vec!["install", "-y", "-qq"];
    args.extend(&missing);
    apt(&args)
}

fn test() -> Result<()> {
    ensure_components()?;
    ensure_packages(TEST_PACKAGES)?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    // The eBPF programs' crates are workspaces of their own.
    for program in ["ebpf/steer/Cargo.toml", "ebpf/xdp/Cargo.toml"] {
        run(cargo().args(["fmt", "--manifest-path", program, "--", "--check"]))?;
    }
    let features = ebpf_features();
    run(cargo()
        .args(["clippy", "--workspace", "--all-targets"])
        .args(features)
        .args(["--", "-D", "warnings"]))?;
    if !features.is_empty() {
        // The code the features leave out, too.
        run(cargo().args([
            "clippy",
            "-p",
            "ferrodns",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    let mut tests = cargo();
    tests.args(["test", "--workspace"]).args(features);
    // The dnstap plugin's tests check its frames with the real reader.
    match coredns::dnstap_reader() {
        Ok(reader) => {
            tests.env("FERRODNS_DNSTAP", reader);
        }
        Err(e) => println!("the dnstap reader is not available ({e:#}): its tests say SKIPPED"),
    }
    // The kubernetes plugin's tests run a real kube-apiserver and etcd,
    // built once (about 5 minutes on 2 cores) before the tests need them.
    match k8s::binaries() {
        Ok(bin) => {
            tests.env("FERRODNS_K8S_BIN", bin);
        }
        Err(e) => {
            println!("kube-apiserver is not available ({e:#}): the kubernetes tests say SKIPPED")
        }
    }
    let (passed, failed) = run_counting(&mut tests)?;
    if failed > 0 {
        println!("test: {passed} passed, {failed} failed");
        bail!("{failed} tests failed");
    }
    let probes = u64::from(torture::short()?);
    // The package operators install, from the release build torture ran.
    dist::main(&["--check".to_string()])?;
    // Restarts and upgrades under load lose no query (issue 16's check,
    // shortened).
    let upgrade = bench::upgrade_check()?;
    let cases = if have("go") {
        conformance::summary(None)?.0 as u64
    } else {
        println!("SKIPPED conformance: go not installed");
        0
    };
    // One closing line for the whole run: the workspace's tests, the
    // torture checks and the conformance cases.
    println!(
        "test: {} passed, 0 failed",
        passed + probes + cases + upgrade
    );
    Ok(())
}

/// The number before `word` in a `test result:` line's `; `-separated parts.
fn count(result: &str, word: &str) -> u64 {
    result
        .split(';')
        .filter_map(|part| {
            part.trim()
                .rsplit(' ')
                .nth(1)
                .map(|n| (n, part.trim().ends_with(word)))
        })
        .find(|(_, is)| *is)
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or(0)
}

/// Runs a `cargo test`, echoing its output, and adds up its `test result:` lines.
fn run_counting(cmd: &mut Command) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader, Write};
    eprintln!("xtask: running {cmd:?}");
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("start {cmd:?}"))?;
    let stdout = child.stdout.take().context("test output")?;
    let (mut passed, mut failed) = (0u64, 0u64);
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        std::io::stdout().flush()?;
        if let Some(result) = line.strip_prefix("test result: ") {
            passed += count(result, "passed");
            failed += count(result, "failed");
        }
    }
    let status = child.wait()?;
    if !status.success() && failed == 0 {
        bail!("{cmd:?} failed: {status}");
    }
    Ok((passed, failed))
}

fn fuzz(args: &[String]) -> Result<()> {
    fuzz::main(args)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("bench") => bench::main(&args[1..]),
        Some("conformance") => conformance::main(&args[1..]),
        Some("torture") => torture::main(&args[1..]),
        Some("layers") => layers::run(),
        Some("dist") => dist::main(&args[1..]),
        Some("setup-ebpf") => ebpf::setup().map(|wrap| println!("{}", wrap.display())),
        Some("coredns") => {
            println!("{}", coredns::binary()?.display());
            Ok(())
        }
        Some("k8s") => k8s::main(&args[1..]),
        Some("dnstap") => {
            println!("{}", coredns::dnstap_reader()?.display());
            Ok(())
        }
        _ => {
            eprint!("{USAGE}");
            std::process::exit(2);
        }
    }
}
