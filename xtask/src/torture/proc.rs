//! The ferrodns under test: built, started in a directory of its own with
//! a Corefile on ports of its own, signalled and measured; and the client
//! side of plain exchanges with it.

use super::wire;
use anyhow::{bail, Context, Result};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU16, AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The ferrodns under test (`--release` for the full run, whose rates and
/// memory figures should be the shipped binary's).
pub fn binary(release: bool) -> Result<PathBuf> {
    crate::ferrodns_binary(release)
}

/// A port free for UDP and TCP on every address right now. The ports come
/// from 10000-19999, a range the integration tests and the conformance
/// suite (20000 and up) do not use, so a torture run beside them never
/// takes a port one of their servers was about to bind: ferrodns binds
/// with SO_REUSEPORT and two servers on one port would silently share it.
pub fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 10_000 + (std::process::id() % 45) as u16 * 200;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 200;
        let free = UdpSocket::bind(("::", port)).is_ok()
            && TcpListener::bind(("::", port)).is_ok()
            && UdpSocket::bind(("0.0.0.0", port)).is_ok()
            && TcpListener::bind(("0.0.0.0", port)).is_ok();
        if free {
            return port;
        }
    }
}

/// A loopback address of its own for each upstream a probe plays
/// (127.0.0.10 and up), so that what reaches it is what ferrodns sent it.
pub fn upstream_ip() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    Ipv4Addr::new(
        127,
        0,
        0,
        10 + (NEXT.fetch_add(1, Ordering::Relaxed) % 240) as u8,
    )
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// How a process ended, in words.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => status.to_string(),
    }
}

/// The Corefile in `dir`, `{PORT}` replaced. Written aside and renamed,
/// so a reload never reads half a file.
fn write_corefile(dir: &Path, port: u16, text: &str) -> Result<()> {
    let tmp = dir.join("Corefile.new");
    std::fs::write(&tmp, text.replace("{PORT}", &port.to_string()))?;
    std::fs::rename(tmp, dir.join("Corefile"))?;
    Ok(())
}

/// A started ferrodns; killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Writes `files` and the Corefile (`{PORT}` replaced by a free port)
    /// into `dir`, starts ferrodns there and waits until it accepts TCP
    /// connections on that port.
    pub fn start(
        bin: &Path,
        dir: &Path,
        corefile: &str,
        files: &[(&str, String)],
    ) -> Result<Server> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let port = free_port();
        for (name, body) in files {
            std::fs::write(dir.join(name), body)?;
        }
        write_corefile(dir, port, corefile)?;
        let log = dir.join("server.log");
        let out = std::fs::File::create(&log)?;
        let mut s = Server {
            child: Command::new(bin)
                .args(["-conf", "Corefile"])
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out)
                .spawn()
                .with_context(|| format!("start {}", bin.display()))?,
            port,
            dir: dir.to_path_buf(),
            log,
        };
        s.wait_ready()?;
        Ok(s)
    }

    fn wait_ready(&mut self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(st) = self.exited() {
                bail!("ferrodns {}: {}", describe(st), self.log_tail());
            }
            // Its own banner first (it names the port once it is bound):
            // a listener that answers before that is another process's,
            // and a signal sent then could reach ferrodns before it blocks
            // its signals.
            let log = self.log();
            let announced = [format!(":{}\n", self.port), format!(":{} ", self.port)]
                .iter()
                .any(|l| log.contains(l.as_str()));
            if announced
                && TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "ferrodns never listened on {}: {}",
            self.addr(),
            self.log_tail()
        )
    }

    pub fn addr(&self) -> SocketAddr {
        loopback(self.port)
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid with a valid signal number.
        unsafe { libc::kill(self.pid(), sig) };
    }

    /// Replaces the Corefile, for the next SIGUSR1.
    pub fn write_corefile(&self, text: &str) -> Result<()> {
        write_corefile(&self.dir, self.port, text)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Resident memory in KiB, from /proc/PID/status.
    pub fn rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .context("VmRSS in /proc/PID/status")
    }

    /// Open file descriptors (sockets among them).
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |d| d.count())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last lines the server wrote, on one line, for a FAIL's figure.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }

    /// Waits up to `wait` for the log to hold `needle` `count` times.
    pub fn wait_log(&self, needle: &str, count: usize, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            if self.log().matches(needle).count() >= count {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// How the process ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn wait_exit(&mut self, wait: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Some(st) = self.exited() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `msg` from `sock` and waits up to `wait` for the reply from `to`
/// that carries its ID (others are stale replies of earlier queries).
pub fn udp_exchange(
    sock: &UdpSocket,
    to: SocketAddr,
    msg: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    sock.send_to(msg, to).ok()?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 65_535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        sock.set_read_timeout(Some(left)).ok()?;
        match sock.recv_from(&mut buf) {
            Ok((n, from)) if from == to && n >= 2 && buf[..2] == msg[..2] => {
                return Some(buf[..n].to_vec())
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

pub fn tcp_send(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<()> {
    let mut framed = (msg.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(msg);
    s.write_all(&framed)
}

pub fn tcp_recv(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len)?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf)?;
    Ok(buf)
}

/// One query over an open TCP connection; the reply with its ID.
pub fn tcp_exchange(s: &mut TcpStream, msg: &[u8], wait: Duration) -> std::io::Result<Vec<u8>> {
    s.set_read_timeout(Some(wait))?;
    tcp_send(s, msg)?;
    loop {
        let r = tcp_recv(s)?;
        if r.len() >= 2 && r[..2] == msg[..2] {
            return Ok(r);
        }
    }
}

/// Whether the server at `addr` answers a plain query over UDP within
/// two seconds (any rcode: it is alive and reading).
pub fn answers(addr: SocketAddr) -> bool {
    static ID: AtomicU16 = AtomicU16::new(0x1000);
    let Ok(sock) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
        return false;
    };
    let q = wire::query(
        ID.fetch_add(1, Ordering::Relaxed),
        "alive.torture.test.",
        wire::A,
        None,
    );
    udp_exchange(&sock, addr, &q, Duration::from_secs(2))
        .is_some_and(|r| r.len() >= 12 && r[2] & 0x80 != 0)
}
