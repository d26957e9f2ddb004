//! `ferrodns-bench`: the tools `cargo xtask bench` drives.
//!
//! - `gen`: a DNS load generator (open loop at a fixed rate, or as fast as it
//!   can) over UDP or TCP, with latency percentiles from an hdrhistogram.
//! - `reflect`: the socket baseline, a UDP reflector that does no DNS work.
//! - `chart`: draws the harness's results JSON as an SVG.

mod answer;
mod chart;
mod gen;
mod mmsg;
mod query;
mod reflect;

use anyhow::{bail, Result};

const USAGE: &str = "usage: ferrodns-bench <command> [options]

commands:
  gen --server IP:PORT --queries FILE [--duration SECS] [--rate QPS] [--tcp]
      [--sockets N] [--timeout MS] [--json PATH|-] [--quiet]
        send the queries of FILE (dnsperf format: `NAME TYPE` per line, looped)
        at QPS queries/s (open loop; 0 = as fast as possible), match answers by
        ID and question, report answered queries/s, loss, rcodes and latency
        percentiles; --sockets is UDP sockets or TCP connections (default 4)
  reflect --listen IP:PORT [--batch N] [--io mmsg|uring]
        echo every UDP datagram with QR set (recvmmsg/sendmmsg, batch 64; or
        io_uring: multishot RecvMsg into provided buffers, SendMsg per datagram)
  answer --listen IP:PORT [--ttl SECS] [--address IPV4]
        a minimal upstream: every query answered with one A record (default
        198.18.1.3, TTL 0), recvmmsg/sendmmsg batch 64
  chart --input RESULTS.json --output CHART.svg
        bar charts of answered queries/s and CPU seconds per million answers
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        eprint!("{USAGE}");
        std::process::exit(2);
    };
    let opts = Opts::parse(&args[1..])?;
    match cmd.as_str() {
        "gen" => gen::main(&opts),
        "reflect" => reflect::main(&opts),
        "answer" => answer::main(&opts),
        "chart" => chart::main(&opts),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

/// `--key value` pairs and bare `--flag`s, looked up by name.
pub struct Opts {
    pairs: Vec<(String, Option<String>)>,
}

const FLAGS: &[&str] = &["--tcp", "--quiet"];

impl Opts {
    fn parse(args: &[String]) -> Result<Self> {
        let mut pairs = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if !a.starts_with("--") {
                bail!("unexpected argument {a:?}\n{USAGE}");
            }
            if FLAGS.contains(&a.as_str()) {
                pairs.push((a.clone(), None));
            } else {
                let Some(v) = it.next() else {
                    bail!("{a} takes a value");
                };
                pairs.push((a.clone(), Some(v.clone())));
            }
        }
        Ok(Opts { pairs })
    }

    pub fn flag(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }

    pub fn need(&self, name: &str) -> Result<&str> {
        match self.get(name) {
            Some(v) => Ok(v),
            None => bail!("{name} is required\n{USAGE}"),
        }
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse() {
                Ok(n) => Ok(n),
                Err(_) => bail!("{name} takes a number, not {v:?}"),
            },
        }
    }
}
