//! A flood of unique names, as a random-subdomain attack sends them,
//! through `cache` and `forward` to an upstream of the probe's that
//! answers every one (half NOERROR, half NXDOMAIN, so both stores fill).
//! Each name is asked once: nothing is a hit, every answer is a new entry.
//! The server's memory must stay within what the cache's capacity
//! accounts for, and the server must still answer afterwards.

use super::proc::{self, Server};
use super::upstream::Upstream;
use super::wire;
use super::Ctx;
use anyhow::Result;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// Entries in each of the two stores.
const CAPACITY: u64 = 10_000;
/// What one entry may cost: a reply of about a hundred bytes, its key and
/// the map's own overhead, with room to spare.
const ENTRY_KIB: u64 = 2;
/// What may grow besides the entries: buffers, the allocator's arenas and
/// forward's sockets, which a flood touches all of.
const SLACK_KIB: u64 = 32 * 1024;

/// Queries a client keeps in flight before it waits for their replies.
const BURST: usize = 128;
/// Clients at once; different source ports spread over the workers.
const CLIENTS: usize = 4;

/// Asks for the names `range` (each once) at the highest rate the server
/// takes; (answered, lost).
fn flood(to: SocketAddr, range: std::ops::Range<usize>) -> (u64, u64) {
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let names = range.clone().filter(move |i| i % CLIENTS == c);
                s.spawn(move || client(to, names))
            })
            .collect();
        clients
            .into_iter()
            .filter_map(|c| c.join().ok())
            .fold((0, 0), |(a, l), (a2, l2)| (a + a2, l + l2))
    })
}

fn client(to: SocketAddr, names: impl Iterator<Item = usize>) -> (u64, u64) {
    let Ok(sock) = UdpSocket::bind(proc::loopback(0)) else {
        return (0, 0);
    };
    let _ = sock.set_read_timeout(Some(Duration::from_millis(200)));
    let (mut answered, mut lost) = (0u64, 0u64);
    let mut id: u16 = 0;
    let mut buf = [0u8; 1500];
    let names: Vec<usize> = names.collect();
    for burst in names.chunks(BURST) {
        let first = id;
        for i in burst {
            let name = if i % 2 == 0 {
                format!("f{i}.flood.test.")
            } else {
                format!("nx{i}.flood.test.")
            };
            let _ = sock.send_to(&wire::query(id, &name, wire::A, None), to);
            id = id.wrapping_add(1);
        }
        let mut got = 0;
        while got < burst.len() {
            let Ok(n) = sock.recv(&mut buf) else { break };
            // A late reply to an earlier burst is not one of these.
            if n >= 12 && usize::from(wire::id(&buf).wrapping_sub(first)) < burst.len() {
                got += 1;
            }
        }
        answered += got as u64;
        lost += (burst.len() - got) as u64;
    }
    (answered, lost)
}

pub fn run(ctx: &Ctx) -> Result<()> {
    let names = ctx.pick(20_000, 200_000);
    let up = Upstream::start(300)?;
    let corefile = format!(
        ".:{{PORT}} {{\n    cache {{\n        success {CAPACITY}\n        denial {CAPACITY}\n    }}\n    forward . {}\n}}\n",
        up.addr
    );
    let srv = Server::start(&ctx.bin, &ctx.dir("flood"), &corefile, &[])?;
    proc::answers(srv.addr());
    let before = srv.rss_kib()?;
    let t = Instant::now();
    let (a1, l1) = flood(srv.addr(), 0..names / 2);
    let half = srv.rss_kib()?;
    let (a2, l2) = flood(srv.addr(), names / 2..names);
    let secs = t.elapsed().as_secs_f64();
    let after = srv.rss_kib()?;
    let alive = proc::answers(srv.addr());
    let bound = before + 2 * CAPACITY * ENTRY_KIB + SLACK_KIB;
    ctx.check(
        "flood/memory",
        format!(
            "{names} names in {secs:.1} s ({:.0} q/s, {} answered, {} lost); VmRSS {} MiB before, {} at half, {} after (bound {} MiB); {}",
            names as f64 / secs,
            a1 + a2,
            l1 + l2,
            before / 1024,
            half / 1024,
            after / 1024,
            bound / 1024,
            if alive { "answers after" } else { "DOES NOT ANSWER after" }
        ),
        after < bound && alive,
    );
    Ok(())
}
