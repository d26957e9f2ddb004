//! TCP connections that hold the server's resources: idle ones (silent
//! from the start, or silent after one query) and slowloris ones (one
//! byte a second, a query that never completes). With `timeouts` set to
//! two seconds, the server must close every one of them soon after, and
//! keep answering UDP the whole time.

use super::proc::{self, Server};
use super::wire;
use super::Ctx;
use anyhow::Result;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The read and idle timeouts the Corefile sets (the smallest allowed is 1s).
const TIMEOUT: Duration = Duration::from_secs(2);
/// How long past its timeout a connection may stay open: the server's
/// timers, and a loaded machine.
const GRACE: Duration = Duration::from_secs(3);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    /// Connected, never sends a byte.
    Silent,
    /// One query answered, then nothing.
    AfterQuery,
    /// A byte a second of a query that never ends.
    Slowloris,
}

struct Conn {
    stream: TcpStream,
    group: Group,
    /// When the server's timer started: the connect, or the reply read.
    since: Instant,
    closed: Option<Duration>,
}

/// UDP queries every 20 ms until `stop`; (sent, answered, slowest).
fn watch_udp(to: SocketAddr, stop: &AtomicBool) -> (u32, u32, Duration) {
    let Ok(sock) = UdpSocket::bind(proc::loopback(0)) else {
        return (0, 0, Duration::ZERO);
    };
    let (mut sent, mut answered, mut slowest) = (0, 0, Duration::ZERO);
    while !stop.load(Ordering::Relaxed) {
        sent += 1;
        let q = wire::query(sent as u16, "udp.torture.test.", wire::A, None);
        let t = Instant::now();
        if proc::udp_exchange(&sock, to, &q, Duration::from_secs(2)).is_some() {
            answered += 1;
            slowest = slowest.max(t.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (sent, answered, slowest)
}

fn open(addr: SocketAddr, group: Group) -> Result<Conn> {
    let mut stream = TcpStream::connect(addr)?;
    if group == Group::AfterQuery {
        let q = wire::query(1, "before-idle.torture.test.", wire::A, None);
        proc::tcp_exchange(&mut stream, &q, Duration::from_secs(2))?;
    }
    stream.set_nonblocking(true)?;
    Ok(Conn {
        stream,
        group,
        since: Instant::now(),
        closed: None,
    })
}

/// Whether the server has closed `c` (end of stream or reset).
fn is_closed(c: &mut Conn) -> bool {
    let mut b = [0u8; 512];
    match std::io::Read::read(&mut c.stream, &mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted),
    }
}

/// (count, closed, slowest close after its timer started) for `group`.
fn summary(conns: &[Conn], group: Group) -> (usize, usize, f64) {
    let of: Vec<&Conn> = conns.iter().filter(|c| c.group == group).collect();
    let closed: Vec<Duration> = of.iter().filter_map(|c| c.closed).collect();
    let slowest = closed.iter().max().map_or(0.0, |d| d.as_secs_f64());
    (of.len(), closed.len(), slowest)
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let (idle, slow) = ctx.pick((100, 50), (500, 200));
    let corefile = format!(
        ".:{{PORT}} {{\n    timeouts {{\n        read {0}s\n        idle {0}s\n    }}\n    whoami\n}}\n",
        TIMEOUT.as_secs()
    );
    let mut srv = Server::start(&ctx.bin, &ctx.dir("tcp"), &corefile, &[])?;
    // The count starts once the server is up whole: it listens (and is
    // ready) before its workers have made their runtimes, so wait for an
    // answer and for the count to hold still.
    proc::answers(srv.addr());
    let mut fds_before = srv.fds();
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(100));
        let now = srv.fds();
        if now == fds_before {
            break;
        }
        fds_before = now;
    }
    let stop = AtomicBool::new(false);
    let addr = srv.addr();
    let (mut conns, fds_peak, udp) = std::thread::scope(|s| -> Result<_> {
        let watcher = s.spawn(|| watch_udp(addr, &stop));
        let mut conns = Vec::new();
        let groups = [
            (Group::Silent, idle / 2),
            (Group::AfterQuery, idle - idle / 2),
            (Group::Slowloris, slow),
        ];
        for (group, n) in groups {
            for _ in 0..n {
                conns.push(open(addr, group)?);
            }
        }
        let fds_peak = srv.fds();
        let deadline = conns
            .iter()
            .map(|c| c.since)
            .max()
            .unwrap_or_else(Instant::now)
            + TIMEOUT
            + GRACE;
        let mut next_byte = Instant::now();
        // The query the slowloris connections trickle: a length of 64,
        // then bytes that never add up to it in time.
        let mut trickled = 0usize;
        while Instant::now() < deadline && conns.iter().any(|c| c.closed.is_none()) {
            let trickle = Instant::now() >= next_byte;
            if trickle {
                next_byte += Duration::from_secs(1);
                trickled += 1;
            }
            for c in conns.iter_mut().filter(|c| c.closed.is_none()) {
                let gone = if trickle && c.group == Group::Slowloris {
                    let byte = if trickled == 2 { 64 } else { 0 };
                    matches!(c.stream.write(&[byte]), Err(e) if e.kind() != ErrorKind::WouldBlock)
                        || is_closed(c)
                } else {
                    is_closed(c)
                };
                if gone {
                    c.closed = Some(c.since.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        let udp = watcher.join().unwrap_or_default();
        Ok((conns, fds_peak, udp))
    })?;
    // The server's descriptors go back to where they were once it has
    // let go of the connections (ours are still open here).
    let settle = Instant::now() + Duration::from_secs(2);
    while srv.fds() > fds_before + 2 && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(50));
    }
    let fds_after = srv.fds();
    conns.iter_mut().for_each(|c| {
        let _ = c.stream.shutdown(std::net::Shutdown::Both);
    });
    let limit = (TIMEOUT + GRACE).as_secs_f64();
    let (n, closed, slowest) = summary(&conns, Group::Silent);
    let (n2, closed2, slowest2) = summary(&conns, Group::AfterQuery);
    ctx.check(
        "tcp/idle",
        format!(
            "{n} silent: {closed} closed, slowest after {slowest:.1} s; {n2} idle after a query: {closed2} closed, slowest after {slowest2:.1} s (timeouts {} s, limit {limit:.0} s)",
            TIMEOUT.as_secs()
        ),
        closed == n && closed2 == n2,
    );
    let (n, closed, slowest) = summary(&conns, Group::Slowloris);
    ctx.check(
        "tcp/slowloris",
        format!(
            "{n} sending a byte a second: {closed} closed, slowest after {slowest:.1} s (read timeout {} s, limit {limit:.0} s)",
            TIMEOUT.as_secs()
        ),
        closed == n,
    );
    let (sent, answered, slowest) = udp;
    let exited = srv.wait_exit(Duration::ZERO);
    ctx.check(
        "tcp/udp-meanwhile",
        format!(
            "{answered}/{sent} UDP queries answered, slowest {:.0} ms; server descriptors {fds_before} before, {fds_peak} with the connections, {fds_after} after{}",
            slowest.as_secs_f64() * 1000.0,
            exited.map(|st| format!("; ferrodns {}", proc::describe(st))).unwrap_or_default()
        ),
        answered == sent && sent > 0 && fds_after <= fds_before + 2 && exited.is_none(),
    );
    Ok(())
}
