//! `cargo xtask fuzz`: every cargo-fuzz target in turn, for N seconds each,
//! on its kept corpus (`fuzz/corpus/T`, where new inputs go) and its seeds
//! (`fuzz/seeds/T`); at the end, each target's execution count and the
//! total, as libFuzzer reports them.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

/// What one target's run came to.
struct Outcome {
    target: String,
    /// libFuzzer's `stat::number_of_executed_units` (or `Done N runs`).
    runs: Option<u64>,
    /// libFuzzer's `Done N runs in S second(s)` (the build before it not
    /// counted), or the whole command's time.
    seconds: f64,
    ok: bool,
}

pub fn main(args: &[String]) -> Result<()> {
    let seconds: u64 = match args {
        [] => 60,
        [flag, n] if flag == "--seconds" => n.parse().context("--seconds takes a number")?,
        _ => bail!("{}", super::USAGE),
    };
    super::ensure_nightly()?;
    if !super::succeeds(super::cargo().args(["fuzz", "--version"])) {
        super::run(super::cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let root = super::root();
    let mut targets = std::fs::read_dir(root.join("fuzz/fuzz_targets"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect::<Vec<_>>();
    targets.sort();

    let mut done = Vec::new();
    for t in &targets {
        let corpus = root.join("fuzz/corpus").join(t);
        std::fs::create_dir_all(&corpus).with_context(|| format!("create {}", corpus.display()))?;
        let seeds = root.join("fuzz/seeds").join(t);
        // `cargo` here is the stable toolchain's own binary (CARGO), which
        // takes no `+nightly`: go through rustup for the nightly one.
        let mut c = Command::new("rustup");
        c.current_dir(&root)
            .env_remove("CARGO")
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("RUSTC")
            .args(["run", "nightly", "cargo", "fuzz", "run", t])
            .arg(&corpus);
        if seeds.is_dir() {
            c.arg(&seeds);
        }
        c.args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
            // The plugins' log lines go to stdout: not wanted here.
            "-close_fd_mask=1",
            "-rss_limit_mb=2048",
        ]);
        let started = std::time::Instant::now();
        let (runs, secs, ok) = run_fuzzer(&mut c)?;
        done.push(Outcome {
            target: t.clone(),
            runs,
            seconds: secs.unwrap_or_else(|| started.elapsed().as_secs_f64()),
            ok,
        });
        if !ok {
            break;
        }
    }

    summary(&done);
    if let Some(bad) = done.iter().find(|o| !o.ok) {
        bail!(
            "fuzz target {} failed (its input is under fuzz/artifacts/{})",
            bad.target,
            bad.target
        );
    }
    Ok(())
}

/// Runs one `cargo fuzz run`, passing its output on (but for the
/// Corefile parser's `[WARNING]` lines about fuzzed imports), and reads
/// libFuzzer's execution count and fuzzing time from it.
fn run_fuzzer(cmd: &mut Command) -> Result<(Option<u64>, Option<f64>, bool)> {
    eprintln!("xtask: running {cmd:?}");
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("start {cmd:?}"))?;
    let stderr = child.stderr.take().context("fuzzer output")?;
    let mut reader = BufReader::new(stderr);
    let (mut stat, mut done, mut secs) = (None, None, None);
    let mut line = Vec::new();
    let err = std::io::stderr();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some(n) = text.strip_prefix("stat::number_of_executed_units:") {
            stat = n.trim().parse().ok();
        }
        if let Some(rest) = text.strip_prefix("Done ") {
            // `Done N runs in S second(s)`
            let words: Vec<&str> = rest.split_whitespace().collect();
            done = words.first().and_then(|n| n.parse().ok());
            secs = words.get(3).and_then(|s| s.parse().ok());
        }
        if !text.starts_with("[WARNING]") {
            err.lock().write_all(&line)?;
        }
    }
    let status = child.wait()?;
    Ok((stat.or(done), secs, status.success()))
}

fn summary(done: &[Outcome]) {
    println!();
    println!(
        "{:<16} {:>14} {:>9} {:>10}",
        "target", "executions", "seconds", "exec/s"
    );
    let mut total = 0u64;
    for o in done {
        let runs = o.runs.unwrap_or(0);
        total += runs;
        println!(
            "{:<16} {:>14} {:>9.0} {:>10.0}{}",
            o.target,
            o.runs.map_or_else(|| "?".into(), |n| n.to_string()),
            o.seconds,
            runs as f64 / o.seconds.max(1e-9),
            if o.ok { "" } else { "  FAILED" }
        );
    }
    println!("{:<16} {:>14}", "total", total);
}
