//! Malformed messages over UDP and TCP: truncations and bit flips of
//! valid queries, bad labels, compression loops, wrong counts, responses
//! posing as queries, every opcode, odd types and classes, random bytes,
//! and over TCP broken framing. The inputs are generated from a fixed seed,
//! so a failure names an input that the next run sends again.
//!
//! What must hold: the server answers a normal query after every batch;
//! it never replies to a message with QR set; a reply to anything carries
//! the message's ID, has QR set and reads cleanly; and a message broken
//! beyond reading gets FORMERR (NOTIMP for an opcode it lacks) or nothing.

use super::proc::{self, Server};
use super::wire::{self, Msg, Rng};
use super::Ctx;
use anyhow::Result;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{ErrorKind, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// Broken beyond reading: FORMERR or NOTIMP, or no reply.
    Garbage,
    /// QR set: never a reply.
    Response,
    /// Possibly well-formed (a flipped bit can leave a valid query): any
    /// rcode, as long as the reply is a proper one.
    Any,
}

struct Input {
    what: &'static str,
    bytes: Vec<u8>,
    kind: Kind,
}

fn header(flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut h = vec![0, 0];
    h.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

/// A one-question query whose name is written as `name` (raw bytes).
fn with_name(name: &[u8]) -> Vec<u8> {
    let mut m = header(0x0100, [1, 0, 0, 0]);
    m.extend_from_slice(name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    m
}

fn set_flags(m: &[u8], or: u16) -> Vec<u8> {
    let mut m = m.to_vec();
    let f = u16::from_be_bytes([m[2], m[3]]) | or;
    m[2..4].copy_from_slice(&f.to_be_bytes());
    m
}

/// The inputs, each distinct (IDs aside: they are set when sent).
fn corpus(short: bool) -> Vec<Input> {
    let mut v: Vec<Input> = Vec::new();
    let mut add = |what, bytes: Vec<u8>, kind| v.push(Input { what, bytes, kind });
    let bases = {
        let mut dnssec = wire::query(0, "a.b.c.d.e.torture.test.", wire::TXT, None);
        dnssec[11] = 1;
        dnssec.extend_from_slice(&wire::opt(4096, true));
        [
            wire::query(0, "www.example.org.", wire::A, None),
            wire::query(0, "mail.example.org.", wire::AAAA, Some(1232)),
            dnssec,
        ]
    };
    for b in &bases {
        add("valid query, QR set", set_flags(b, 0x8000), Kind::Response);
        for len in 0..b.len() {
            add("truncated query", b[..len].to_vec(), Kind::Garbage);
            if len >= 4 {
                add(
                    "truncated, QR set",
                    set_flags(&b[..len], 0x8000),
                    Kind::Response,
                );
            }
        }
        // Bit flips past the ID (which is overwritten when sent); the
        // short form flips every fifth bit.
        for bit in (16..b.len() * 8).step_by(if short { 5 } else { 1 }) {
            let mut m = b.clone();
            m[bit / 8] ^= 0x80 >> (bit % 8);
            let kind = if m[2] & 0x80 != 0 {
                Kind::Response
            } else {
                Kind::Any
            };
            add("bit flip", m, kind);
        }
        for op in 0..16u16 {
            let m = set_flags(b, op << 11);
            add("opcode", set_flags(&m, 0x8000), Kind::Response);
            add("opcode", m, Kind::Any);
        }
    }
    // Labels.
    let label = |len: u8, fill: u8| [vec![len], vec![fill; usize::from(len & 0x3F)]].concat();
    for len in [0x40, 0x41, 0x64, 0x7F, 0x80, 0x9F, 0xBF] {
        add(
            "reserved label type",
            with_name(&[label(len, b'a'), vec![0]].concat()),
            Kind::Garbage,
        );
    }
    add(
        "label past the end",
        [header(0x0100, [1, 0, 0, 0]), b"\x3fabc".to_vec()].concat(),
        Kind::Garbage,
    );
    add(
        "name without its end",
        [header(0x0100, [1, 0, 0, 0]), b"\x03www\x07example".to_vec()].concat(),
        Kind::Garbage,
    );
    add(
        "name of 321 bytes",
        with_name(&[label(63, b'a').repeat(5), vec![0]].concat()),
        Kind::Garbage,
    );
    add(
        "name of 257 bytes",
        with_name(&[b"\x01a".repeat(128), vec![0]].concat()),
        Kind::Garbage,
    );
    add(
        "binary label",
        with_name(b"\x04\x00\xff.\x20\x07example\x00"),
        Kind::Any,
    );
    // Compression.
    add("pointer to itself", with_name(b"\xc0\x0c"), Kind::Garbage);
    add(
        "label then pointer to itself",
        with_name(b"\x03www\xc0\x0c"),
        Kind::Garbage,
    );
    add(
        "two pointers in a loop",
        with_name(b"\xc0\x0e\xc0\x0c"),
        Kind::Garbage,
    );
    add(
        "pointer past the end",
        with_name(b"\xc0\xff"),
        Kind::Garbage,
    );
    add(
        "pointer far past the end",
        with_name(b"\xff\xff"),
        Kind::Garbage,
    );
    for off in 0..12u8 {
        add(
            "pointer into the header",
            with_name(&[0xC0, off]),
            Kind::Any,
        );
    }
    add(
        "pointer forward",
        with_name(b"\xc0\x0e\x01a\x00"),
        Kind::Any,
    );
    // Counts.
    add("qdcount 0", header(0x0100, [0, 0, 0, 0]), Kind::Garbage);
    let q1 = &bases[0];
    let counts = |qd: u16, an: u16, ns: u16, ar: u16| {
        let mut m = q1.clone();
        m[4..12].copy_from_slice(&header(0, [qd, an, ns, ar])[4..12]);
        m
    };
    add(
        "qdcount 0 with a question",
        counts(0, 0, 0, 0),
        Kind::Garbage,
    );
    add(
        "qdcount 2",
        [counts(2, 0, 0, 0), q1[12..].to_vec()].concat(),
        Kind::Garbage,
    );
    add("qdcount 2, one question", counts(2, 0, 0, 0), Kind::Garbage);
    add("qdcount 65535", counts(65535, 0, 0, 0), Kind::Garbage);
    add("ancount 1, no record", counts(1, 1, 0, 0), Kind::Garbage);
    add(
        "nscount 65535, no record",
        counts(1, 0, 65535, 0),
        Kind::Garbage,
    );
    add("arcount 1, no record", counts(1, 0, 0, 1), Kind::Garbage);
    add(
        "arcount 3, one OPT",
        [counts(1, 0, 0, 3), wire::opt(1232, false)].concat(),
        Kind::Garbage,
    );
    // EDNS.
    add(
        "two OPT records",
        [
            counts(1, 0, 0, 2),
            wire::opt(1232, false),
            wire::opt(512, true),
        ]
        .concat(),
        Kind::Any,
    );
    let mut v1 = wire::opt(1232, false);
    v1[6] = 1;
    add(
        "EDNS version 1",
        [counts(1, 0, 0, 1), v1].concat(),
        Kind::Any,
    );
    let mut long = wire::opt(1232, false);
    long[10] = 40;
    add(
        "OPT rdata past the end",
        [counts(1, 0, 0, 1), long].concat(),
        Kind::Garbage,
    );
    let mut bad_option = wire::opt(1232, false);
    bad_option[10] = 4;
    bad_option.extend_from_slice(&[0, 10, 0, 200]);
    add(
        "option past the OPT's end",
        [counts(1, 0, 0, 1), bad_option].concat(),
        Kind::Any,
    );
    // Types and classes.
    for (t, c) in [
        (0u16, 1u16),
        (251, 1),
        (252, 1),
        (255, 1),
        (65535, 1),
        (1, 0),
        (1, 3),
        (1, 254),
        (1, 255),
        (1, 65535),
    ] {
        let mut m = q1.clone();
        let n = m.len();
        m[n - 4..n - 2].copy_from_slice(&t.to_be_bytes());
        m[n - 2..].copy_from_slice(&c.to_be_bytes());
        add("odd type or class", m, Kind::Any);
    }
    // Random bytes, half of them posing as responses.
    let mut rng = Rng::new(0x7072_7475_7265);
    for i in 0..if short { 150 } else { 800 } {
        let len = rng.below(600);
        let mut m = rng.bytes(len);
        let kind = match m.get_mut(2) {
            Some(b) if i % 2 == 0 => {
                *b |= 0x80;
                Kind::Response
            }
            Some(b) => {
                *b &= 0x7F;
                Kind::Garbage
            }
            None => Kind::Garbage,
        };
        add("random bytes", m, kind);
    }
    let mut seen = HashSet::new();
    v.retain(|i| {
        let mut key = i.bytes.clone();
        key.iter_mut().take(2).for_each(|b| *b = 0);
        seen.insert(key)
    });
    v
}

/// What went wrong, and the tallies of what came back.
#[derive(Default)]
struct Tally {
    replies: usize,
    rcodes: BTreeMap<u8, usize>,
    problems: Vec<String>,
}

impl Tally {
    /// Checks a reply to `input`.
    fn reply(&mut self, input: &Input, reply: &[u8]) {
        self.replies += 1;
        let what = input.what;
        if input.kind == Kind::Response {
            self.problems
                .push(format!("{what}: replied to a message with QR set"));
        }
        let m = match Msg::parse(reply) {
            Ok(m) => m,
            Err(e) => {
                self.problems
                    .push(format!("{what}: reply does not read ({e})"));
                return;
            }
        };
        *self.rcodes.entry(m.rcode()).or_default() += 1;
        if m.flags & wire::QR == 0 {
            self.problems.push(format!("{what}: reply without QR"));
        }
        if input.bytes.len() < 2 || m.id != wire::id(&input.bytes) {
            self.problems.push(format!("{what}: reply with another ID"));
        }
        if input.kind == Kind::Garbage && ![wire::FORMERR, wire::NOTIMP].contains(&m.rcode()) {
            self.problems
                .push(format!("{what}: rcode {} (not FORMERR)", m.rcode()));
        }
    }

    fn rcodes(&self) -> String {
        let names = [
            "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
        ];
        self.rcodes
            .iter()
            .map(|(r, n)| {
                format!(
                    "{} {n}",
                    names
                        .get(usize::from(*r))
                        .map_or(format!("rcode{r}"), |s| s.to_string())
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn figure(&self, inputs: usize, extra: &str) -> String {
        let mut f = format!(
            "{inputs} inputs{extra}, {} replies ({}), {} unanswered",
            self.replies,
            self.rcodes(),
            inputs.saturating_sub(self.replies)
        );
        if !self.problems.is_empty() {
            f.push_str(&format!(
                " [{} problems: {}]",
                self.problems.len(),
                self.problems
                    .iter()
                    .take(4)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        f
    }
}

const BATCH: usize = 50;

/// Every input over UDP, in batches with a liveness check after each.
fn over_udp(srv: &Server, inputs: &[Input]) -> Result<Tally> {
    let mut t = Tally::default();
    let sock = UdpSocket::bind(proc::loopback(0))?;
    let mut buf = vec![0u8; 65_535];
    let mut id: u16 = 0;
    // Every ID of the run is distinct (fewer inputs than IDs), so a reply
    // that comes after its batch's quiet time is still checked against its
    // input rather than taken for a stray one.
    let mut by_id = HashMap::new();
    let mut answered = HashSet::new();
    for (n, batch) in inputs.chunks(BATCH).enumerate() {
        for input in batch {
            let mut bytes = input.bytes.clone();
            if bytes.len() >= 2 {
                id = id.wrapping_add(1);
                bytes[..2].copy_from_slice(&id.to_be_bytes());
                by_id.insert(
                    id,
                    Input {
                        bytes: bytes.clone(),
                        ..*input
                    },
                );
            }
            sock.send_to(&bytes, srv.addr())?;
        }
        // Replies come within a few milliseconds; a quiet 300 ms ends the
        // batch.
        sock.set_read_timeout(Some(Duration::from_millis(300)))?;
        while let Ok(len) = sock.recv(&mut buf) {
            let r = &buf[..len];
            match (len >= 2)
                .then(|| wire::id(r))
                .and_then(|i| by_id.get(&i).map(|input| (i, input)))
            {
                Some((i, input)) => {
                    if !answered.insert(i) {
                        t.problems.push(format!("{}: two replies", input.what));
                    }
                    t.reply(input, r);
                }
                None => t
                    .problems
                    .push(format!("a reply ({len} bytes) with an ID no input had")),
            }
        }
        if !proc::answers(srv.addr()) {
            t.problems
                .push(format!("no answer to a normal query after batch {}", n + 1));
            break;
        }
    }
    Ok(t)
}

/// Sends `frames` on a new connection, then a normal query; reads replies
/// until that query's or the end of the connection.
fn tcp_try(addr: SocketAddr, frames: &[u8], check: u16, t: &mut Tally, input: Option<&Input>) {
    let Ok(mut c) = TcpStream::connect(addr) else {
        t.problems.push("connect refused".into());
        return;
    };
    let _ = c.set_read_timeout(Some(Duration::from_secs(1)));
    let mut all = frames.to_vec();
    let q = wire::query(check, "alive.torture.test.", wire::A, None);
    all.extend_from_slice(&(q.len() as u16).to_be_bytes());
    all.extend_from_slice(&q);
    if c.write_all(&all).is_err() {
        return;
    }
    while let Ok(r) = proc::tcp_recv(&mut c) {
        if r.len() >= 2 && wire::id(&r) == check {
            return;
        }
        match input {
            Some(i) => t.reply(i, &r),
            None => t.problems.push("a reply with an unexpected ID".into()),
        }
    }
}

fn frame(bytes: &[u8]) -> Vec<u8> {
    [(bytes.len() as u16).to_be_bytes().to_vec(), bytes.to_vec()].concat()
}

/// Every input framed over TCP (each on its own connection, a normal
/// query after it), then broken framing; (tally, number of framings).
fn over_tcp(srv: &Server, inputs: &[Input]) -> (Tally, usize) {
    let addr = srv.addr();
    let threads = 4;
    let mut t = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|k| {
                s.spawn(move || {
                    let mut t = Tally::default();
                    for (n, input) in inputs.iter().enumerate().skip(k).step_by(threads) {
                        let id = n as u16;
                        let mut bytes = input.bytes.clone();
                        if bytes.len() >= 2 {
                            bytes[..2].copy_from_slice(&id.to_be_bytes());
                        }
                        let sent = Input {
                            bytes: bytes.clone(),
                            ..*input
                        };
                        tcp_try(addr, &frame(&bytes), id ^ 0x8000, &mut t, Some(&sent));
                        if n % BATCH == 0 && !proc::answers(addr) {
                            t.problems
                                .push(format!("no answer to a normal query after input {n}"));
                        }
                    }
                    t
                })
            })
            .collect();
        let mut all = Tally::default();
        for h in hs {
            if let Ok(p) = h.join() {
                all.replies += p.replies;
                for (r, n) in p.rcodes {
                    *all.rcodes.entry(r).or_default() += n;
                }
                all.problems.extend(p.problems);
            }
        }
        all
    });
    // Framing: a frame of 65535 random bytes; frames that promise more
    // than comes, then a half close; a lone length byte; a valid query
    // padded inside a longer frame; 20 queries in one write.
    let mut rng = Rng::new(99);
    let huge = Input {
        what: "65535-byte frame",
        bytes: rng.bytes(65_535),
        kind: Kind::Any,
    };
    tcp_try(addr, &frame(&huge.bytes), 1, &mut t, Some(&huge));
    for (what, bytes) in [
        (
            "length 65535, 100 bytes, half close",
            [vec![0xFF, 0xFF], rng.bytes(100)].concat(),
        ),
        (
            "length 300, 10 bytes, half close",
            [vec![0x01, 0x2C], rng.bytes(10)].concat(),
        ),
        ("one length byte, half close", vec![0x00]),
    ] {
        match TcpStream::connect(addr) {
            Ok(mut c) => {
                let _ = c.write_all(&bytes);
                let _ = c.shutdown(Shutdown::Write);
                // The server must let go: close its side once it sees ours.
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let t0 = Instant::now();
                let mut b = [0u8; 64];
                let closed = loop {
                    match std::io::Read::read(&mut c, &mut b) {
                        Ok(0) => break true,
                        Ok(_) => continue,
                        Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
                        Err(_) => break false,
                    }
                };
                if !closed {
                    t.problems.push(format!(
                        "{what}: still open after {:.1} s",
                        t0.elapsed().as_secs_f64()
                    ));
                }
            }
            Err(e) => t.problems.push(format!("{what}: connect: {e}")),
        }
    }
    let mut padded = wire::query(7, "padded.torture.test.", wire::A, None);
    padded.resize(512, 0);
    let padded = Input {
        what: "query padded to 512 bytes",
        bytes: padded,
        kind: Kind::Any,
    };
    tcp_try(addr, &frame(&padded.bytes), 8, &mut t, Some(&padded));
    let pipelined: Vec<u8> = (100..120)
        .flat_map(|id| frame(&wire::query(id, "pipelined.torture.test.", wire::A, None)))
        .collect();
    if let Ok(mut c) = TcpStream::connect(addr) {
        let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = c.write_all(&pipelined);
        let got = (0..20).filter(|_| proc::tcp_recv(&mut c).is_ok()).count();
        if got != 20 {
            t.problems
                .push(format!("20 pipelined queries: {got} replies"));
        }
    }
    if !proc::answers(addr) {
        t.problems
            .push("no answer to a normal query after the framing".into());
    }
    (t, 7)
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let inputs = corpus(ctx.short);
    let mut srv = Server::start(
        &ctx.bin,
        &ctx.dir("malformed"),
        ".:{PORT} {\n    whoami\n}\n",
        &[],
    )?;
    let t = Instant::now();
    let udp = over_udp(&srv, &inputs)?;
    let udp_secs = t.elapsed().as_secs_f64();
    let exited = srv.wait_exit(Duration::ZERO);
    ctx.check(
        "malformed/udp",
        udp.figure(inputs.len(), &format!(" in {udp_secs:.1} s")),
        udp.problems.is_empty() && exited.is_none(),
    );
    let t = Instant::now();
    let (tcp, framings) = over_tcp(&srv, &inputs);
    let extra = format!(
        " + {framings} framings in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let exited = srv.wait_exit(Duration::ZERO);
    let mut figure = tcp.figure(inputs.len(), &extra);
    if let Some(st) = exited {
        figure.push_str(&format!("; ferrodns {}", proc::describe(st)));
    }
    ctx.check(
        "malformed/tcp",
        figure,
        tcp.problems.is_empty() && exited.is_none(),
    );
    Ok(())
}
