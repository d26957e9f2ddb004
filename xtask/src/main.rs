//! Project chores: `cargo xtask test` (the README's test command) and
//! `cargo xtask fuzz`. Each installs what it needs first.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test                 formatting, clippy (-D warnings) and every test of the workspace
  fuzz [--seconds N]   run each cargo-fuzz target for N seconds (default 60; needs nightly)
";

fn root() -> PathBuf {
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

fn test() -> Result<()> {
    ensure_components()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args(["test", "--workspace"]))?;
    Ok(())
}

fn fuzz(args: &[String]) -> Result<()> {
    let seconds = match args {
        [] => 60,
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds takes a number")?,
        _ => bail!("{USAGE}"),
    };
    if !succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"])) {
        run(Command::new("rustup").args([
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ]))?;
    }
    if !succeeds(cargo().args(["fuzz", "--version"])) {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let targets = std::fs::read_dir(root().join("fuzz/fuzz_targets"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.path()
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
        })
        .collect::<Vec<_>>();
    for t in targets {
        run(cargo().args([
            "+nightly",
            "fuzz",
            "run",
            &t,
            "--",
            &format!("-max_total_time={seconds}"),
        ]))?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("fuzz") => fuzz(&args[1..]),
        _ => {
            eprint!("{USAGE}");
            std::process::exit(2);
        }
    }
}
