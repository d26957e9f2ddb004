//! The load generator.
//!
//! Open loop: at a fixed rate, query k is due at k/rate seconds after the start
//! whatever the server does, and its latency is measured from that due time, so
//! a server that stalls is charged for the queue it builds (no coordinated
//! omission). With rate 0 it sends as fast as the sockets take queries.
//! An answer counts when its ID is outstanding on the socket it came back on,
//! its QR bit is set, and its question is the query's (case aside); one that
//! comes after the timeout counts as late, not answered.
//!
//! SIGTERM ends the sending early (the harness stops a generator that runs
//! beside another load when that load is done); the answers still due are
//! waited for and the report covers the time it sent.

use crate::query::{self, Query};
use crate::Opts;
use anyhow::{bail, Context, Result};
use hdrhistogram::Histogram;
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

pub fn main(opts: &Opts) -> Result<()> {
    let server: SocketAddr = opts
        .need("--server")?
        .parse()
        .context("--server takes IP:PORT")?;
    let queries = query::load(opts.need("--queries")?)?;
    let cfg = Config {
        server,
        duration: Duration::from_secs_f64(opts.num("--duration", 10.0)?),
        rate: opts.num("--rate", 0.0)?,
        tcp: opts.flag("--tcp"),
        sockets: opts.num("--sockets", 4usize)?.max(1),
        timeout: Duration::from_millis(opts.num("--timeout", 1000)?),
        quiet: opts.flag("--quiet"),
    };
    // SAFETY: the handler only stores to an atomic (async-signal-safe).
    unsafe {
        libc::signal(
            libc::SIGTERM,
            on_term as extern "C" fn(libc::c_int) as libc::sighandler_t,
        )
    };
    let report = run(&cfg, &queries)?;
    match opts.get("--json") {
        Some("-") => println!("{}", serde_json::to_string_pretty(&report)?),
        Some(path) => {
            std::fs::write(path, serde_json::to_string_pretty(&report)?)
                .with_context(|| format!("write {path}"))?;
            print_summary(&report);
        }
        None => print_summary(&report),
    }
    Ok(())
}

pub struct Config {
    pub server: SocketAddr,
    pub duration: Duration,
    /// Queries per second; 0 sends as fast as possible.
    pub rate: f64,
    pub tcp: bool,
    pub sockets: usize,
    pub timeout: Duration,
    pub quiet: bool,
}

/// A query in flight, indexed by (connection, ID).
#[derive(Clone, Copy, Default)]
struct Slot {
    /// Nanoseconds from the start at which it was due.
    due: u64,
    query: u32,
    live: bool,
}

enum Conn {
    Udp(UdpSocket),
    Tcp {
        stream: TcpStream,
        wbuf: Vec<u8>,
        rbuf: Vec<u8>,
    },
}

/// Unsent bytes a TCP connection may hold before the sender waits for it.
const TCP_BACKLOG: usize = 256 * 1024;

impl Conn {
    fn open(cfg: &Config) -> Result<Conn> {
        if cfg.tcp {
            let stream = TcpStream::connect_timeout(&cfg.server, Duration::from_secs(3))
                .with_context(|| format!("connect TCP to {}", cfg.server))?;
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            Ok(Conn::Tcp {
                stream,
                wbuf: Vec::new(),
                rbuf: Vec::new(),
            })
        } else {
            let bind: SocketAddr = if cfg.server.is_ipv4() {
                "0.0.0.0:0".parse()?
            } else {
                "[::]:0".parse()?
            };
            let s = UdpSocket::bind(bind)?;
            s.connect(cfg.server)
                .with_context(|| format!("connect UDP to {}", cfg.server))?;
            s.set_nonblocking(true)?;
            Ok(Conn::Udp(s))
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Conn::Udp(s) => s.as_raw_fd(),
            Conn::Tcp { stream, .. } => stream.as_raw_fd(),
        }
    }

    /// Sends or queues one message; false when the socket takes no more now.
    fn send(&mut self, msg: &[u8]) -> Result<bool> {
        match self {
            Conn::Udp(s) => match s.send(msg) {
                Ok(_) => Ok(true),
                Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
                // An ICMP error from an earlier datagram surfaces here; the
                // query is lost, not the run.
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => Ok(true),
                Err(e) => Err(e).context("send UDP"),
            },
            Conn::Tcp { wbuf, .. } => {
                if wbuf.len() > TCP_BACKLOG {
                    return Ok(false);
                }
                wbuf.extend_from_slice(&(msg.len() as u16).to_be_bytes());
                wbuf.extend_from_slice(msg);
                Ok(true)
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        if let Conn::Tcp { stream, wbuf, .. } = self {
            while !wbuf.is_empty() {
                match stream.write(wbuf) {
                    Ok(0) => bail!("TCP connection closed by the server"),
                    Ok(n) => {
                        wbuf.drain(..n);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e).context("write TCP"),
                }
            }
        }
        Ok(())
    }

    /// Hands every message waiting on the socket to `each`; returns how many.
    fn recv(&mut self, buf: &mut [u8], each: &mut dyn FnMut(&[u8])) -> Result<usize> {
        let mut n = 0;
        match self {
            Conn::Udp(s) => loop {
                match s.recv(buf) {
                    Ok(len) => {
                        each(&buf[..len]);
                        n += 1;
                    }
                    Err(e)
                        if e.kind() == ErrorKind::WouldBlock
                            || e.kind() == ErrorKind::ConnectionRefused =>
                    {
                        return Ok(n)
                    }
                    Err(e) => return Err(e).context("receive UDP"),
                }
            },
            Conn::Tcp { stream, rbuf, .. } => {
                loop {
                    match stream.read(buf) {
                        Ok(0) => bail!("TCP connection closed by the server"),
                        Ok(len) => rbuf.extend_from_slice(&buf[..len]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e).context("read TCP"),
                    }
                }
                let mut at = 0;
                while rbuf.len() - at >= 2 {
                    let len = u16::from_be_bytes([rbuf[at], rbuf[at + 1]]) as usize;
                    if rbuf.len() - at - 2 < len {
                        break;
                    }
                    each(&rbuf[at + 2..at + 2 + len]);
                    n += 1;
                    at += 2 + len;
                }
                rbuf.drain(..at);
                Ok(n)
            }
        }
    }
}

struct Stats {
    sent: u64,
    answered: u64,
    /// Bytes of the answers counted in `answered`.
    answer_bytes: u64,
    late: u64,
    mismatched: u64,
    unexpected: u64,
    overwritten: u64,
    outstanding: u64,
    rcodes: [u64; 16],
    /// Microseconds.
    hist: Histogram<u64>,
}

pub fn run(cfg: &Config, queries: &[Query]) -> Result<serde_json::Value> {
    let mut conns = (0..cfg.sockets)
        .map(|_| Conn::open(cfg))
        .collect::<Result<Vec<_>>>()?;
    let mut slots = vec![vec![Slot::default(); 65536]; conns.len()];
    let mut next_id = vec![0u16; conns.len()];
    let mut st = Stats {
        sent: 0,
        answered: 0,
        answer_bytes: 0,
        late: 0,
        mismatched: 0,
        unexpected: 0,
        overwritten: 0,
        outstanding: 0,
        rcodes: [0; 16],
        hist: Histogram::new_with_bounds(1, 120_000_000, 3)?,
    };
    let timeout_ns = cfg.timeout.as_nanos() as u64;
    // When sending ends: the duration, or earlier on SIGTERM.
    let mut run_ns = cfg.duration.as_nanos() as u64;
    let mut msg = Vec::with_capacity(512);
    let mut buf = vec![0u8; 65536];
    let start = Instant::now();
    let now_ns = |start: Instant| start.elapsed().as_nanos() as u64;
    let mut next_progress = 1_000_000_000u64;
    let (mut last_sent, mut last_answered) = (0u64, 0u64);
    let mut pollfds: Vec<libc::pollfd> = conns
        .iter()
        .map(|c| libc::pollfd {
            fd: c.fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();

    loop {
        let now = now_ns(start);
        if now < run_ns && STOP.load(Ordering::SeqCst) {
            run_ns = now;
        }
        let sending = now < run_ns;
        if !sending && (st.outstanding == 0 || now >= run_ns + timeout_ns) {
            break;
        }
        // Send what is due.
        let mut sent_now = 0;
        if sending {
            let due = if cfg.rate > 0.0 {
                ((now as f64 * cfg.rate / 1e9) as u64).saturating_sub(st.sent)
            } else {
                64
            };
            for _ in 0..due.min(256) {
                let c = (st.sent % conns.len() as u64) as usize;
                let qi = (st.sent % queries.len() as u64) as usize;
                let id = next_id[c];
                msg.clear();
                msg.extend_from_slice(&queries[qi].wire);
                msg[..2].copy_from_slice(&id.to_be_bytes());
                if !conns[c].send(&msg)? {
                    break;
                }
                let due_at = if cfg.rate > 0.0 {
                    (st.sent as f64 * 1e9 / cfg.rate) as u64
                } else {
                    now_ns(start)
                };
                let slot = &mut slots[c][id as usize];
                if slot.live {
                    // 65536 queries later on this socket and still no answer.
                    st.overwritten += 1;
                    st.outstanding -= 1;
                }
                *slot = Slot {
                    due: due_at,
                    query: qi as u32,
                    live: true,
                };
                next_id[c] = id.wrapping_add(1);
                st.sent += 1;
                st.outstanding += 1;
                sent_now += 1;
            }
        }
        // Receive whatever has come back.
        let mut got = 0;
        for (c, conn) in conns.iter_mut().enumerate() {
            conn.flush()?;
            let slots = &mut slots[c];
            got += conn.recv(&mut buf, &mut |resp| {
                take_answer(resp, slots, queries, &mut st, start, timeout_ns)
            })?;
        }
        if now >= next_progress {
            if !cfg.quiet {
                eprintln!(
                    "gen: {:>3}s sent {:>9} answered {:>9} ({:>8.0}/s, {:>8.0} sent/s)",
                    now / 1_000_000_000,
                    st.sent,
                    st.answered,
                    (st.answered - last_answered) as f64,
                    (st.sent - last_sent) as f64,
                );
            }
            (last_sent, last_answered) = (st.sent, st.answered);
            next_progress += 1_000_000_000;
        }
        if sent_now == 0 && got == 0 {
            // Wait for an answer or the next due query, whichever comes first.
            let wait_ns = if sending && cfg.rate > 0.0 {
                let next_due = ((st.sent + 1) as f64 * 1e9 / cfg.rate) as u64;
                next_due.saturating_sub(now_ns(start)).min(1_000_000)
            } else if sending {
                20_000
            } else {
                1_000_000
            };
            let ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: wait_ns as libc::c_long,
            };
            // SAFETY: pollfds is a live, correctly sized array of pollfd; the
            // timespec outlives the call; a null sigmask leaves signals alone.
            unsafe {
                libc::ppoll(
                    pollfds.as_mut_ptr(),
                    pollfds.len() as libc::nfds_t,
                    &ts,
                    std::ptr::null(),
                )
            };
        }
    }
    let elapsed = run_ns as f64 / 1e9;
    let lost = st.sent - st.answered;
    let rcodes: serde_json::Map<String, serde_json::Value> = st
        .rcodes
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (query::rcode_name(c), json!(n)))
        .collect();
    let h = &st.hist;
    let pct = |q: f64| {
        if h.is_empty() {
            0
        } else {
            h.value_at_quantile(q)
        }
    };
    Ok(json!({
        "server": cfg.server.to_string(),
        "transport": if cfg.tcp { "tcp" } else { "udp" },
        "duration_s": elapsed,
        "rate": cfg.rate,
        "sent": st.sent,
        "answered": st.answered,
        "answer_bytes": st.answer_bytes,
        "lost": lost,
        "late": st.late,
        "mismatched": st.mismatched,
        "unexpected": st.unexpected,
        "offered_qps": st.sent as f64 / elapsed,
        "answered_qps": st.answered as f64 / elapsed,
        "answered_pct": if st.sent > 0 { 100.0 * st.answered as f64 / st.sent as f64 } else { 0.0 },
        "rcodes": rcodes,
        "latency_us": {
            "p50": pct(0.5),
            "p90": pct(0.9),
            "p99": pct(0.99),
            "p999": pct(0.999),
            "max": h.max(),
            "mean": h.mean(),
        },
    }))
}

fn take_answer(
    resp: &[u8],
    slots: &mut [Slot],
    queries: &[Query],
    st: &mut Stats,
    start: Instant,
    timeout_ns: u64,
) {
    if resp.len() < 12 || resp[2] & 0x80 == 0 {
        st.unexpected += 1;
        return;
    }
    let id = u16::from_be_bytes([resp[0], resp[1]]) as usize;
    let slot = &mut slots[id];
    if !slot.live {
        st.unexpected += 1;
        return;
    }
    let q = queries[slot.query as usize].question();
    let same_question = u16::from_be_bytes([resp[4], resp[5]]) == 1
        && resp.len() >= 12 + q.len()
        && resp[12..12 + q.len()].eq_ignore_ascii_case(q);
    if !same_question {
        st.mismatched += 1;
        return;
    }
    slot.live = false;
    st.outstanding -= 1;
    let latency_ns = (start.elapsed().as_nanos() as u64).saturating_sub(slot.due);
    if latency_ns > timeout_ns {
        st.late += 1;
        return;
    }
    st.answered += 1;
    st.answer_bytes += resp.len() as u64;
    st.rcodes[(resp[3] & 0x0f) as usize] += 1;
    st.hist.saturating_record((latency_ns / 1000).max(1));
}

fn print_summary(r: &serde_json::Value) {
    let l = &r["latency_us"];
    println!(
        "{} {}: sent {} answered {} ({:.2}%) in {:.1}s: {:.0} answered/s (offered {:.0}/s); \
         late {} mismatched {} unexpected {}",
        r["transport"].as_str().unwrap_or("?"),
        r["server"].as_str().unwrap_or("?"),
        r["sent"],
        r["answered"],
        r["answered_pct"].as_f64().unwrap_or(0.0),
        r["duration_s"].as_f64().unwrap_or(0.0),
        r["answered_qps"].as_f64().unwrap_or(0.0),
        r["offered_qps"].as_f64().unwrap_or(0.0),
        r["late"],
        r["mismatched"],
        r["unexpected"],
    );
    println!("rcodes: {}", r["rcodes"]);
    println!(
        "latency us: p50 {} p90 {} p99 {} p99.9 {} max {}",
        l["p50"], l["p90"], l["p99"], l["p999"], l["max"]
    );
}
