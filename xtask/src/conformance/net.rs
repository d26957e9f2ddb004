//! Processes on loopback ports, and the client side of the queries.

use super::wire::Query;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub const QUERY_TIMEOUT: Duration = Duration::from_secs(4);

/// A port free for UDP and TCP on every address right now. Ports come
/// from a per-run sequence, not the kernel's ephemeral range, so that two
/// cases running at once never get the same one (servers bind with
/// SO_REUSEPORT and would silently share a port).
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = 20_000 + (std::process::id() % 30) * 1_000;
    loop {
        let port = (base + NEXT.fetch_add(1, Ordering::Relaxed) % 1_000) as u16;
        let free = UdpSocket::bind(("::", port)).is_ok()
            && TcpListener::bind(("::", port)).is_ok()
            && UdpSocket::bind(("0.0.0.0", port)).is_ok()
            && TcpListener::bind(("0.0.0.0", port)).is_ok();
        if free {
            return port;
        }
    }
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The loopback address of `to`'s family, port 0: where a client of `to`
/// sends from.
pub fn client_of(to: SocketAddr) -> SocketAddr {
    let ip = match to {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    SocketAddr::new(ip, 0)
}

/// A started server; killed when dropped.
pub struct Proc {
    pub what: String,
    child: Child,
    log: PathBuf,
}

impl Proc {
    /// Starts `bin` on the Corefile in `dir`. Keys without a port take a
    /// free one of their own (`-dns.port`) rather than 53, which the two
    /// servers of a case would otherwise both bind.
    pub fn start(what: &str, bin: &Path, dir: &Path, env: &[(String, String)]) -> Result<Proc> {
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log)?;
        let child = Command::new(bin)
            .arg("-conf")
            .arg("Corefile")
            .arg("-dns.port")
            .arg(free_port().to_string())
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("start {}", bin.display()))?;
        Ok(Proc {
            what: what.into(),
            child,
            log,
        })
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The last line the server wrote (its start-up error), with where
    /// each server puts the Corefile's line left out (ferrodns's `FILE:LINE: `
    /// before the plugin's error, CoreDNS's `FILE:LINE - Error during
    /// parsing: ` inside it), and the server's own folder.
    pub fn error_line(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let dir = self
            .log
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        let mut last = last.replace(&format!("{dir}/"), "").replace(&dir, "");
        // ferrodns: `Corefile:3: plugin/...`.
        if let Some((head, rest)) = last.split_once(": ") {
            if let Some((_, n)) = head.rsplit_once(':') {
                if !head.contains(' ') && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) {
                    last = rest.to_string();
                }
            }
        }
        // CoreDNS: `[plugin/x: ]Corefile:3 - Error during parsing: ...`.
        // (`Syntax error: ` stays: ferrodns writes it too.)
        for (what, keep) in [(" - Error during parsing: ", 0), (" - Syntax error: ", 14)] {
            if let Some(i) = last.find(what) {
                let start = last[..i].rfind(' ').map_or(0, |s| s + 1);
                last.replace_range(start..i + what.len() - keep, "");
            }
        }
        last
    }

    /// The last lines the server wrote.
    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(6)..].join("\n    ")
    }

    /// Waits until the server answers on `port` (a TCP connect, or a UDP
    /// reply with `udp`); Err with its log when it exits or never does.
    pub fn wait_ready(&mut self, port: u16, udp: bool) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.exited() {
                bail!("{} exited: {}", self.what, self.log_tail());
            }
            let up = if udp {
                let q = Query {
                    name: ".".into(),
                    qtype: 6,
                    qclass: 1,
                    ..Default::default()
                };
                let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
                udp_exchange(
                    &sock,
                    &q.encode(1)?,
                    &[loopback(port)],
                    Duration::from_millis(200),
                )
                .is_ok_and(|r| r[0].is_ok())
            } else {
                TcpStream::connect_timeout(&loopback(port), Duration::from_millis(200)).is_ok()
            };
            if up {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{} never answered on port {port}: {}",
            self.what,
            self.log_tail()
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type Reply = std::result::Result<Vec<u8>, String>;

/// Sends `msg` to each server in turn from `sock` (one socket for a whole
/// case, so that every server sees the same client address and port, and
/// a server with per-worker state sees every query on one worker) and
/// returns each reply.
pub fn udp_exchange(
    sock: &UdpSocket,
    msg: &[u8],
    to: &[SocketAddr],
    timeout: Duration,
) -> Result<Vec<Reply>> {
    let id = [msg[0], msg[1]];
    let mut out = Vec::new();
    for &addr in to {
        sock.send_to(msg, addr)?;
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65_535];
        let reply = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break Err("no reply (timeout)".to_string());
            }
            sock.set_read_timeout(Some(left))?;
            match sock.recv_from(&mut buf) {
                Ok((n, from)) if from == addr && n >= 2 && buf[..2] == id => {
                    break Ok(buf[..n].to_vec())
                }
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break Err("no reply (timeout)".to_string())
                }
                Err(e) => break Err(format!("no reply ({e})")),
            }
        };
        out.push(reply);
    }
    Ok(out)
}

/// Sends `msg` over TCP to each server, from one local port for all of
/// them (whoami shows the client's port): `repeat` times on one
/// connection, each after the reply to the one before; the last reply, or
/// which one did not come and why.
pub fn tcp_exchange(
    msg: &[u8],
    to: &[SocketAddr],
    timeout: Duration,
    repeat: usize,
) -> Result<Vec<Reply>> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let mut local: Option<SocketAddr> = None;
    let mut out = Vec::new();
    let mut keep = Vec::new();
    for &addr in to {
        let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        s.set_reuse_address(true)?;
        s.bind(&SockAddr::from(local.unwrap_or(client_of(addr))))?;
        let reply = (|| -> std::result::Result<Vec<u8>, String> {
            s.connect_timeout(&SockAddr::from(addr), timeout)
                .map_err(|e| format!("connect: {e}"))?;
            let mut t: TcpStream = s.try_clone().map_err(|e| e.to_string())?.into();
            t.set_read_timeout(Some(timeout))
                .map_err(|e| e.to_string())?;
            let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(msg);
            let mut buf = Vec::new();
            for i in 1..=repeat {
                let which = if repeat > 1 {
                    format!("query {i} of {repeat}: ")
                } else {
                    String::new()
                };
                // A server that closed the connection: its reset or its
                // end of stream, whichever the client sees first.
                let closed = |e: &std::io::Error| {
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof
                            | std::io::ErrorKind::ConnectionReset
                            | std::io::ErrorKind::BrokenPipe
                    )
                };
                if let Err(e) = t.write_all(&framed) {
                    return Err(if closed(&e) {
                        format!("{which}connection closed, no reply")
                    } else {
                        format!("{which}write: {e}")
                    });
                }
                let mut len = [0u8; 2];
                t.read_exact(&mut len).map_err(|e| match e.kind() {
                    _ if closed(&e) => format!("{which}connection closed, no reply"),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                        format!("{which}no reply (timeout)")
                    }
                    _ => format!("{which}no reply ({e})"),
                })?;
                buf = vec![0u8; u16::from_be_bytes(len) as usize];
                t.read_exact(&mut buf)
                    .map_err(|e| format!("{which}short reply: {e}"))?;
            }
            Ok(buf)
        })();
        if local.is_none() {
            local = s.local_addr().ok().and_then(|a| a.as_socket());
        }
        keep.push(s);
        out.push(reply);
    }
    Ok(out)
}
