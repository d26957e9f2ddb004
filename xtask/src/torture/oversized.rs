//! Answers too big for their transport: TXT sets of about 1 KB, 5 KB and
//! 70 KB (more than a TCP message can hold) from the file plugin, asked
//! over UDP without EDNS, with EDNS buffers of 1232, 4096 and 65535
//! bytes, and over TCP; from a server without a cache (the chain) and
//! from one with `cache`, there twice (the second answer is a hit). Every
//! reply must be complete (every record there, the message reads) or
//! have TC set: never part of the answer without TC.

use super::proc::{self, Server};
use super::wire::{self, Msg};
use super::Ctx;
use anyhow::Result;
use std::net::{TcpStream, UdpSocket};
use std::time::Duration;

/// The names and how many 200-byte TXT records each has (about 213 bytes
/// each in a reply): ~1 KB, ~5 KB and ~70 KB.
const SETS: [(&str, usize); 3] = [("k1", 5), ("k5", 24), ("k70", 330)];

fn text(name: &str, i: usize) -> String {
    format!("{name}-{i:03}-{}", "x".repeat(200 - name.len() - 5))
}

fn zone() -> String {
    let mut z = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns.big.test. hostmaster.big.test. 1 7200 3600 1209600 300\n  IN NS ns.big.test.\nns IN A 192.0.2.53\n",
    );
    for (name, n) in SETS {
        for i in 0..n {
            z.push_str(&format!("{name} IN TXT \"{}\"\n", text(name, i)));
        }
    }
    z
}

/// The ways each question is asked: UDP without EDNS, with EDNS buffers,
/// then TCP.
const TRANSPORTS: [(&str, Option<u16>); 5] = [
    ("udp", None),
    ("udp1232", Some(1232)),
    ("udp4096", Some(4096)),
    ("udp65535", Some(65535)),
    ("tcp", None),
];

/// A reply in a word ("1.1K" for a complete one, "TC"), or why it is
/// wrong.
fn judge(name: &str, n: usize, id: u16, reply: Option<Vec<u8>>) -> Result<String, String> {
    let Some(r) = reply else {
        return Err("no reply".into());
    };
    if r.len() < 12 || wire::id(&r) != id || r[2] & 0x80 == 0 {
        return Err("reply without QR or with another ID".into());
    }
    let tc = u16::from_be_bytes([r[2], r[3]]) & wire::TC != 0;
    let m = match Msg::parse(&r) {
        Ok(m) => m,
        // Cut short, but it says so.
        Err(_) if tc => return Ok("TC".into()),
        Err(e) => return Err(format!("does not read, TC clear ({e})")),
    };
    let mut got: Vec<String> = m
        .answer
        .iter()
        .filter(|a| a.rtype == wire::TXT)
        .map(|a| String::from_utf8_lossy(a.data.get(1..).unwrap_or_default()).into_owned())
        .collect();
    got.sort();
    let want: Vec<String> = (0..n).map(|i| text(name, i)).collect();
    if got.iter().any(|t| !want.contains(t))
        || m.answer
            .iter()
            .any(|a| a.name != format!("{name}.big.test."))
    {
        return Err("a record the zone does not have".into());
    }
    if m.tc() {
        return Ok("TC".into());
    }
    if got != want {
        return Err(format!("{} of {n} records, TC clear", got.len()));
    }
    Ok(format!("{:.1}K", r.len() as f64 / 1024.0))
}

/// Every name over every transport, `rounds` times each, against `srv`;
/// (the replies in words per name, the problems).
fn ask_all(srv: &Server, rounds: usize) -> Result<(Vec<String>, Vec<String>)> {
    let sock = UdpSocket::bind(proc::loopback(0))?;
    // One connection for every TCP question: a connection stays on one
    // worker, so the second round finds what the first put in its cache.
    let mut tcp = TcpStream::connect(srv.addr())?;
    let mut id = 0u16;
    let (mut seen, mut problems) = (Vec::new(), Vec::new());
    for (name, n) in SETS {
        let qname = format!("{name}.big.test.");
        // Per transport, what each round got: `udp4096 TC/TC`.
        let mut words: Vec<Vec<String>> = vec![Vec::new(); TRANSPORTS.len()];
        for round in 0..rounds {
            for (k, (transport, edns)) in TRANSPORTS.into_iter().enumerate() {
                id += 1;
                let q = wire::query(id, &qname, wire::TXT, edns);
                let reply = if transport == "tcp" {
                    let r = proc::tcp_exchange(&mut tcp, &q, Duration::from_secs(3)).ok();
                    if r.is_none() {
                        // The server closed it; the next question needs another.
                        tcp = TcpStream::connect(srv.addr())?;
                    }
                    r
                } else {
                    proc::udp_exchange(&sock, srv.addr(), &q, Duration::from_secs(3))
                };
                match judge(name, n, id, reply) {
                    Ok(w) => words[k].push(w),
                    Err(e) => {
                        words[k].push("BAD".into());
                        problems.push(format!("{name} over {transport}, round {}: {e}", round + 1));
                    }
                }
            }
        }
        let words: Vec<String> = TRANSPORTS
            .iter()
            .zip(words)
            .map(|((t, _), w)| format!("{t} {}", w.join("/")))
            .collect();
        seen.push(words.join(", "));
    }
    Ok((seen, problems))
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let files = [("db.big.test", zone())];
    let chain = Server::start(
        &ctx.bin,
        &ctx.dir("oversized-chain"),
        "big.test:{PORT} {\n    file db.big.test\n}\n",
        &files,
    )?;
    let cached = Server::start(
        &ctx.bin,
        &ctx.dir("oversized-cache"),
        "big.test:{PORT} {\n    cache 300\n    file db.big.test\n}\n",
        &files,
    )?;
    let (plain, p1) = ask_all(&chain, 1)?;
    let (hits, p2) = ask_all(&cached, 2)?;
    for (i, (name, n)) in SETS.iter().enumerate() {
        let mine: Vec<&String> = p1
            .iter()
            .chain(&p2)
            .filter(|p| p.starts_with(&format!("{name} ")))
            .collect();
        let mut figure = format!("{n} TXT; chain: {}; cache (twice): {}", plain[i], hits[i]);
        if !mine.is_empty() {
            figure.push_str(&format!(
                " [{}]",
                mine.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        ctx.check(&format!("oversized/{name}"), figure, mine.is_empty());
    }
    Ok(())
}
