//! An upstream the probes control (UDP and TCP on a loopback address of
//! its own), and the probe that makes it misbehave under `forward`: the
//! client must get SERVFAIL (or the stale answer, with serve_stale) in
//! time, and nothing the upstream slipped in may ever reach a client.

use super::proc::{self, Server};
use super::wire::{self, Msg, Rng};
use super::Ctx;
use anyhow::{Context, Result};
use socket2::{Domain, Protocol, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the upstream does with the queries it gets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Behaviour {
    /// Answers: NXDOMAIN (with an SOA) for names starting with `nx`, an A
    /// record of `wire::GOOD` for the rest.
    Good,
    /// Reads and never answers.
    BlackHole,
    /// Answers with another ID (and a bogus record).
    WrongId,
    /// Answers with the query's ID, a question for another name and a
    /// bogus record for it.
    WrongQuestion,
    /// Answers (bogus) from another port of its address.
    WrongPort,
    /// Answers over UDP with TC set and no records; fine over TCP.
    Truncated,
    /// Sends the query's ID followed by random bytes.
    Garbage,
    /// Answers correctly, three seconds late.
    Slow,
    /// Has closed its sockets: UDP queries get ICMP port unreachable, TCP
    /// connections are refused.
    Closed,
}

const BEHAVIOURS: [Behaviour; 9] = [
    Behaviour::Good,
    Behaviour::BlackHole,
    Behaviour::WrongId,
    Behaviour::WrongQuestion,
    Behaviour::WrongPort,
    Behaviour::Truncated,
    Behaviour::Garbage,
    Behaviour::Slow,
    Behaviour::Closed,
];

const SLOW: Duration = Duration::from_secs(3);

struct State {
    behaviour: AtomicU8,
    ttl: AtomicU32,
    stop: AtomicBool,
    /// UDP queries read (for a failure's message).
    seen: AtomicU32,
}

impl State {
    fn behaviour(&self) -> Behaviour {
        BEHAVIOURS[usize::from(self.behaviour.load(Ordering::Relaxed))]
    }
}

/// A running upstream; its threads stop when it is dropped.
pub struct Upstream {
    pub addr: SocketAddr,
    state: Arc<State>,
    threads: Vec<JoinHandle<()>>,
}

impl Upstream {
    /// Starts a well-behaved upstream whose answers have `ttl`.
    pub fn start(ttl: u32) -> Result<Upstream> {
        // A port free for UDP may be taken for TCP (by whatever else the
        // machine runs): a few tries find one free for both.
        let mut tries = 0;
        let (addr, udp, tcp) = loop {
            let addr = SocketAddr::from((proc::upstream_ip(), proc::free_port()));
            let bound = UdpSocket::bind(addr)
                .with_context(|| format!("upstream UDP {addr}"))
                .and_then(|u| Ok((u, listen(addr)?)));
            match bound {
                Ok((udp, tcp)) => break (addr, udp, tcp),
                Err(e) if tries >= 20 => return Err(e),
                Err(_) => tries += 1,
            }
        };
        let state = Arc::new(State {
            behaviour: AtomicU8::new(0),
            ttl: AtomicU32::new(ttl),
            seen: AtomicU32::new(0),
            stop: AtomicBool::new(false),
        });
        // A second socket of the same address, for replies from the wrong
        // port; bound here so that a failure shows at once.
        let other = UdpSocket::bind((addr.ip(), 0)).context("upstream's second socket")?;
        let (s1, s2) = (state.clone(), state.clone());
        let threads = vec![
            std::thread::spawn(move || serve_udp(Some(udp), other, addr, &s1)),
            std::thread::spawn(move || serve_tcp(Some(tcp), addr, &s2)),
        ];
        Ok(Upstream {
            addr,
            state,
            threads,
        })
    }

    pub fn set(&self, b: Behaviour) {
        let i = BEHAVIOURS.iter().position(|x| *x == b).unwrap_or(0);
        self.state.behaviour.store(i as u8, Ordering::Relaxed);
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A listener that can be bound again at once after it was closed (the
/// `Closed` behaviour closes it, `Good` brings it back).
fn listen(addr: SocketAddr) -> Result<TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())
        .with_context(|| format!("upstream TCP {addr}"))?;
    s.listen(1024)?;
    s.set_nonblocking(true)?;
    Ok(s.into())
}

/// The answer of a well-behaved upstream.
fn good(q: &[u8], ttl: u32) -> Option<Vec<u8>> {
    if wire::qname(q)?.starts_with("nx") {
        wire::answer_nx(q, ttl)
    } else {
        wire::answer_a(q, ttl, wire::GOOD)
    }
}

/// The query's ID, then bytes that claim to be a response and are not.
fn garbage(q: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut g = q[..2].to_vec();
    let n = 10 + rng.below(60);
    g.extend(rng.bytes(n));
    g[2] |= 0x80;
    g
}

fn serve_udp(mut sock: Option<UdpSocket>, other: UdpSocket, addr: SocketAddr, st: &State) {
    let mut rng = Rng::new(u64::from(addr.port()));
    let mut buf = vec![0u8; 4096];
    while !st.stop.load(Ordering::Relaxed) {
        if st.behaviour() == Behaviour::Closed {
            sock = None;
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        let Some(s) = sock.as_ref() else {
            sock = UdpSocket::bind(addr).ok();
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        // Woken now and then to see the behaviour or the stop change.
        let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
        let Ok((n, from)) = s.recv_from(&mut buf) else {
            continue;
        };
        let q = &buf[..n];
        st.seen.fetch_add(1, Ordering::Relaxed);
        if n < 12 {
            continue;
        }
        // Read after the wait: a behaviour set while this thread waited
        // applies to the query that woke it.
        let b = st.behaviour();
        let ttl = st.ttl.load(Ordering::Relaxed);
        let reply = match b {
            Behaviour::Good => good(q, ttl),
            Behaviour::BlackHole | Behaviour::Closed => None,
            Behaviour::WrongId => wire::answer_wrong_id(q),
            Behaviour::WrongQuestion => wire::answer_wrong_question(q),
            Behaviour::WrongPort => {
                if let Some(r) = wire::answer_a(q, ttl, wire::BOGUS) {
                    let _ = other.send_to(&r, from);
                }
                None
            }
            Behaviour::Truncated => wire::answer_truncated(q),
            Behaviour::Garbage => Some(garbage(q, &mut rng)),
            Behaviour::Slow => {
                if let (Ok(s), Some(r)) = (s.try_clone(), good(q, ttl)) {
                    std::thread::spawn(move || {
                        std::thread::sleep(SLOW);
                        let _ = s.send_to(&r, from);
                    });
                }
                None
            }
        };
        if let Some(r) = reply {
            let _ = s.send_to(&r, from);
        }
    }
}

fn serve_tcp(mut listener: Option<TcpListener>, addr: SocketAddr, st: &Arc<State>) {
    let mut conns = Vec::new();
    while !st.stop.load(Ordering::Relaxed) {
        if st.behaviour() == Behaviour::Closed {
            listener = None;
        } else if listener.is_none() {
            listener = listen(addr).ok();
        }
        match listener.as_ref().map(|l| l.accept()) {
            Some(Ok((c, _))) => {
                let st = st.clone();
                conns.push(std::thread::spawn(move || serve_conn(c, &st)));
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
        conns.retain(|c: &JoinHandle<()>| !c.is_finished());
    }
    for c in conns {
        let _ = c.join();
    }
}

/// One TCP connection from ferrodns: length-prefixed queries in, replies
/// out as the behaviour says, until it closes or the upstream stops.
fn serve_conn(mut c: TcpStream, st: &State) {
    let mut rng = Rng::new(7);
    let _ = c.set_nonblocking(false);
    let _ = c.set_read_timeout(Some(Duration::from_millis(50)));
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    while !st.stop.load(Ordering::Relaxed) && st.behaviour() != Behaviour::Closed {
        match c.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(_) => return,
        }
        while pending.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([pending[0], pending[1]]));
            if pending.len() < 2 + len {
                break;
            }
            let q: Vec<u8> = pending.drain(..2 + len).skip(2).collect();
            if q.len() < 12 {
                continue;
            }
            let ttl = st.ttl.load(Ordering::Relaxed);
            let reply = match st.behaviour() {
                Behaviour::BlackHole | Behaviour::Closed => None,
                Behaviour::WrongId => wire::answer_wrong_id(&q),
                Behaviour::WrongQuestion => wire::answer_wrong_question(&q),
                Behaviour::Garbage => Some(garbage(&q, &mut rng)),
                Behaviour::Slow => {
                    std::thread::sleep(SLOW);
                    good(&q, ttl)
                }
                // A datagram's troubles; over TCP these answer well.
                Behaviour::Good | Behaviour::WrongPort | Behaviour::Truncated => good(&q, ttl),
            };
            if let Some(r) = reply {
                let mut framed = (r.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&r);
                if c.write_all(&framed).is_err() {
                    return;
                }
            }
        }
    }
}

/// How long forward may take, in all, before the client has its SERVFAIL
/// (daemon/src/plugins/forward/README.md: one query gives up after 5 seconds), plus
/// half a second for a loaded machine.
const FORWARD_DEADLINE: Duration = Duration::from_millis(5_500);
/// How long a client may wait for a stale answer: RFC 8767's suggested
/// client response timer.
const STALE_DEADLINE: Duration = Duration::from_millis(1_800);

/// What a client saw of one scenario: the problems, and how many bogus
/// records reached it.
#[derive(Default)]
struct Seen {
    bogus: usize,
    problems: Vec<String>,
}

/// One query over UDP from `sock` (and over TCP after a TC reply, as a
/// stub resolver does); the reply in words (see `outcome`) and how long
/// it took.
fn ask(
    srv: &Server,
    sock: &UdpSocket,
    name: &str,
    seen: &mut Seen,
    wait: Duration,
) -> Option<(String, Duration)> {
    static ID: AtomicU32 = AtomicU32::new(1);
    let id = ID.fetch_add(1, Ordering::Relaxed) as u16;
    let q = wire::query(id, name, wire::A, None);
    let t = Instant::now();
    let mut reply = proc::udp_exchange(sock, srv.addr(), &q, wait);
    let truncated = reply
        .as_deref()
        .is_some_and(|r| r.len() >= 4 && u16::from_be_bytes([r[2], r[3]]) & wire::TC != 0);
    if truncated {
        let retry =
            TcpStream::connect(srv.addr()).and_then(|mut c| proc::tcp_exchange(&mut c, &q, wait));
        reply = retry.ok();
    }
    let took = t.elapsed();
    let Some(bytes) = reply else {
        seen.problems
            .push(format!("{name}: no reply in {:.1} s", wait.as_secs_f64()));
        return None;
    };
    match Msg::parse(&bytes) {
        Ok(m) => {
            seen.bogus += m.addresses().iter().filter(|a| **a == wire::BOGUS).count();
            if m.flags & wire::QR == 0 || m.question.first().map(|q| q.0.as_str()) != Some(name) {
                seen.problems
                    .push(format!("{name}: reply without QR or for another question"));
            }
            let got = outcome(&m);
            Some((
                if truncated {
                    format!("TC, then {got} over TCP")
                } else {
                    got
                },
                took,
            ))
        }
        Err(e) => {
            seen.problems
                .push(format!("{name}: unparsable reply ({e})"));
            None
        }
    }
}

/// In words: SERVFAIL, the answer, the stale answer (served with TTL 0,
/// serve_stale's default RESPONSE_TTL), or what else came.
fn outcome(m: &Msg) -> String {
    match (m.rcode(), m.addresses().as_slice()) {
        (wire::SERVFAIL, _) => "SERVFAIL".into(),
        (wire::NOERROR, [wire::GOOD]) if m.answer[0].ttl == 0 => "stale answer".into(),
        (wire::NOERROR, [wire::GOOD]) => "answer".into(),
        (rcode, addrs) => format!("rcode {rcode} with {} A records", addrs.len()),
    }
}

/// One behaviour, with or without serve_stale, against a ferrodns of its
/// own; (figure, pass).
fn scenario(ctx: &Ctx, b: Behaviour, stale: bool) -> Result<(String, bool)> {
    let label = format!("{b:?}{}", if stale { "-stale" } else { "" }).to_lowercase();
    // With serve_stale the primed answer must expire quickly: a TTL of 1 s,
    // kept no longer (MINTTL 1).
    let up = Upstream::start(if stale { 1 } else { 300 })?;
    let stale_lines = if stale {
        "        success 1000 3600 1\n        serve_stale\n"
    } else {
        ""
    };
    // `servfail 0`: a SERVFAIL is not kept, so the question asked again
    // after the upstream has mended goes to it, and what comes back shows
    // whether anything bogus was kept.
    let corefile = format!(
        ".:{{PORT}} {{\n    cache {{\n        servfail 0\n{stale_lines}    }}\n    forward . {}\n}}\n",
        up.addr
    );
    let mut srv = Server::start(
        &ctx.bin,
        &ctx.dir(&format!("upstream-{label}")),
        &corefile,
        &[],
    )?;
    let name = format!("{label}.torture.test.");
    // One client socket for the whole scenario: ferrodns's caches are per
    // worker, and the kernel sends one client address and port to one
    // worker, so the stale entry primed is the one the later queries see.
    let sock = UdpSocket::bind(proc::loopback(0))?;
    let mut seen = Seen::default();
    if stale {
        match ask(&srv, &sock, &name, &mut seen, FORWARD_DEADLINE) {
            Some((got, _)) if got == "answer" => {}
            got => {
                return Ok((
                    format!(
                        "priming the cache failed: {got:?} {:?}; the upstream read {} UDP queries; server log: {}",
                        seen.problems,
                        up.state.seen.load(Ordering::Relaxed),
                        srv.log_tail()
                    ),
                    false,
                ))
            }
        }
        std::thread::sleep(Duration::from_millis(1_500));
    }
    up.set(b);
    let deadline = if stale {
        STALE_DEADLINE
    } else {
        FORWARD_DEADLINE
    };
    let mut times = Vec::new();
    // With serve_stale the question is asked twice: the second must not
    // wait on the refresh that the first started and that is failing.
    for _ in 0..if stale { 2 } else { 1 } {
        let Some((got, took)) = ask(&srv, &sock, &name, &mut seen, Duration::from_secs(8)) else {
            continue;
        };
        // serve_stale's answer is the primed one, expired; a slow
        // upstream's answer may still come in time, and a truncated one is
        // asked again over TCP, where this upstream answers well.
        let fine = got == "SERVFAIL"
            || (got == "stale answer" && stale)
            || (got == "answer" && b == Behaviour::Slow)
            || (got.starts_with("TC, then")
                && got.ends_with("answer over TCP")
                && b == Behaviour::Truncated);
        if !fine {
            seen.problems.push(format!("unexpected {got}"));
        }
        if took > deadline {
            seen.problems
                .push(format!("{got} after {:.2} s", took.as_secs_f64()));
        }
        times.push(format!("{got} in {:.2} s", took.as_secs_f64()));
    }
    // The upstream mends: the same questions get the true answer, from it
    // or from a cache that kept nothing bogus (with serve_stale, the
    // expired entry may still be served while it is refreshed).
    up.set(Behaviour::Good);
    std::thread::sleep(Duration::from_millis(100));
    let mut mended = "correct";
    for n in [name.as_str(), wire::POISON_NAME] {
        match ask(&srv, &sock, n, &mut seen, FORWARD_DEADLINE) {
            Some((got, _)) if got.ends_with("answer") => {}
            got => {
                mended = "wrong";
                seen.problems.push(format!("{n} after mending: {got:?}"));
            }
        }
    }
    if let Some(st) = srv.wait_exit(Duration::ZERO) {
        seen.problems
            .push(format!("ferrodns {}", proc::describe(st)));
    }
    let mut figure = format!(
        "{} (deadline {:.1} s), then {mended}; {} bogus records",
        times.join(", "),
        deadline.as_secs_f64(),
        seen.bogus
    );
    if !seen.problems.is_empty() {
        figure.push_str(&format!(" [{}]", seen.problems.join("; ")));
    }
    Ok((figure, seen.problems.is_empty() && seen.bogus == 0))
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let cases: Vec<(Behaviour, bool)> = BEHAVIOURS[1..]
        .iter()
        .flat_map(|b| [(*b, false), (*b, true)])
        .collect();
    // Every scenario has a server and an upstream of its own and mostly
    // waits on timeouts: they run side by side, and report in order.
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(b, stale)| s.spawn(move || scenario(ctx, b, stale)))
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    for ((b, stale), r) in cases.iter().zip(results) {
        let name = format!("upstream/{b:?}{}", if *stale { "+stale" } else { "" }).to_lowercase();
        match r {
            Ok(Ok((figure, pass))) => ctx.check(&name, figure, pass),
            Ok(Err(e)) => ctx.check(&name, format!("probe error: {e:#}"), false),
            Err(_) => ctx.check(&name, "probe thread panicked", false),
        }
    }
    Ok(())
}
