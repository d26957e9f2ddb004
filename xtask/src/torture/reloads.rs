//! Reloads under load: dnsperf sends 5,000 queries a second over UDP to a
//! listener that every Corefile keeps, while the Corefile is rewritten and
//! SIGUSR1 sent every 200 ms, alternately adding a second listener (a
//! block on another port) and removing it. No query may be lost, and a TCP
//! connection to the kept listener, opened before the first reload, must
//! keep answering through them all.

use super::proc::{self, Server};
use super::wire;
use super::Ctx;
use anyhow::{Context, Result};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RATE: u32 = 5_000;
const EVERY: Duration = Duration::from_millis(200);

/// The number after `field:` in dnsperf's report.
fn dnsperf_field(report: &str, field: &str) -> Option<u64> {
    report
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let secs = ctx.pick(4, 10);
    let port2 = proc::free_port();
    let kept = ".:{PORT} {\n    whoami\n}\n";
    let added = format!("{kept}.:{port2} {{\n    whoami\n}}\n");
    let queries = "www.example.org A\nexample.org AAAA\nmail.example.org MX\n";
    let mut srv = Server::start(
        &ctx.bin,
        &ctx.dir("reloads"),
        kept,
        &[("queries.txt", queries.into())],
    )?;
    let mut tcp = TcpStream::connect(srv.addr())?;
    let mut id = 0u16;
    let mut ask_tcp = |c: &mut TcpStream| {
        id += 1;
        let q = wire::query(id, "kept.torture.test.", wire::A, None);
        proc::tcp_exchange(c, &q, Duration::from_secs(2)).is_ok()
    };
    let mut tcp_asked = 1;
    let mut tcp_answered = u32::from(ask_tcp(&mut tcp));
    let perf = Command::new("dnsperf")
        .args(["-s", "127.0.0.1", "-p", &srv.port.to_string()])
        .args([
            "-l",
            &secs.to_string(),
            "-Q",
            &RATE.to_string(),
            "-t",
            "2",
            "-d",
        ])
        .arg(srv.path("queries.txt"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("start dnsperf (cargo xtask test installs it)")?;
    let start = Instant::now();
    let mut signals = 0u32;
    let mut next = start + EVERY;
    // dnsperf runs `secs` and then waits out its 2 s timeout at most.
    while start.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        next += EVERY;
        srv.write_corefile(if signals.is_multiple_of(2) {
            &added
        } else {
            kept
        })?;
        srv.signal(libc::SIGUSR1);
        signals += 1;
        if signals.is_multiple_of(5) {
            tcp_asked += 1;
            tcp_answered += u32::from(ask_tcp(&mut tcp));
        }
    }
    let out = perf.wait_with_output()?;
    let report = String::from_utf8_lossy(&out.stdout);
    let (sent, lost) = (
        dnsperf_field(&report, "Queries sent"),
        dnsperf_field(&report, "Queries lost"),
    );
    // The last reloads settle; the kept connection answers once more, and
    // the added listener, once it is there, answers too.
    srv.wait_log(
        "Reloading complete",
        signals as usize,
        Duration::from_secs(3),
    );
    tcp_asked += 1;
    tcp_answered += u32::from(ask_tcp(&mut tcp));
    let done = srv.log().matches("Reloading complete").count();
    srv.write_corefile(&added)?;
    srv.signal(libc::SIGUSR1);
    srv.wait_log("Reloading complete", done + 1, Duration::from_secs(5));
    let second = proc::answers(proc::loopback(port2));
    let exited = srv.wait_exit(Duration::ZERO);
    let figure = match (sent, lost) {
        (Some(sent), Some(lost)) => format!(
            "dnsperf at {RATE} q/s for {secs} s: {sent} sent, {lost} lost; {signals} SIGUSR1 ({done} reloads completed); TCP connection kept: {tcp_answered}/{tcp_asked} answered; added listener {}{}",
            if second { "answers" } else { "DOES NOT answer" },
            exited.map(|st| format!("; ferrodns {}", proc::describe(st))).unwrap_or_default()
        ),
        _ => format!("no dnsperf report: {}", String::from_utf8_lossy(&out.stderr).trim()),
    };
    ctx.check(
        "reloads/under-load",
        figure,
        sent.is_some_and(|s| s > 0)
            && lost == Some(0)
            && tcp_answered == tcp_asked
            && second
            && exited.is_none(),
    );
    Ok(())
}
