//! systemd's service notifications (sd_notify(3)): datagrams to the socket
//! in `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace), and
//! the watchdog interval `$WATCHDOG_USEC` asks for (when `$WATCHDOG_PID`,
//! if set, is this process). Without `$NOTIFY_SOCKET`, nothing is sent.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where notifications go, if systemd asked for them.
pub struct Notifier {
    socket: UnixDatagram,
    to: SocketAddr,
    /// A notification failed (and was logged).
    failed: std::sync::atomic::AtomicBool,
}

/// The notification environment, read (and taken out of the process's
/// environment, so that commands the server starts do not notify systemd
/// in its name) once at start-up, before any thread runs.
pub struct NotifyEnv {
    pub notifier: Option<Notifier>,
    /// Why `$NOTIFY_SOCKET` could not be used, for the log.
    pub error: Option<String>,
    /// The variables as systemd set them, for a process that takes over
    /// from this one (it becomes the service's main process).
    pub vars: Vec<(&'static str, String)>,
    /// How often systemd wants to hear `WATCHDOG=1` at the least.
    pub watchdog: Option<Duration>,
}

impl NotifyEnv {
    /// # Safety
    /// No other thread may read or write the environment meanwhile: call
    /// it first thing in `main`.
    pub unsafe fn take() -> NotifyEnv {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let socket = var("NOTIFY_SOCKET");
        let usec = var("WATCHDOG_USEC").and_then(|v| v.parse::<u64>().ok());
        let pid_ok =
            var("WATCHDOG_PID").is_none_or(|p| p.parse::<u32>().ok() == Some(std::process::id()));
        let vars = [
            ("NOTIFY_SOCKET", socket.clone()),
            ("WATCHDOG_USEC", usec.map(|u| u.to_string())),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect();
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            // SAFETY: the caller guarantees no other thread runs.
            unsafe { std::env::remove_var(k) };
        }
        let mut error = None;
        let notifier = socket.and_then(|s| match Notifier::new(&s) {
            Ok(n) => Some(n),
            Err(e) => {
                error = Some(format!("NOTIFY_SOCKET {s}: {e}"));
                None
            }
        });
        NotifyEnv {
            error,
            vars,
            watchdog: usec
                .filter(|u| *u > 0 && pid_ok && notifier.is_some())
                .map(Duration::from_micros),
            notifier,
        }
    }
}

impl Notifier {
    /// For the socket named as `$NOTIFY_SOCKET` names it.
    pub fn new(path: &str) -> std::io::Result<Notifier> {
        let to = match path.strip_prefix('@') {
            Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
            None => SocketAddr::from_pathname(path)?,
        };
        let socket = UnixDatagram::unbound()?;
        socket.set_nonblocking(true)?;
        Ok(Notifier {
            socket,
            to,
            failed: Default::default(),
        })
    }

    /// Sends `lines` (`KEY=VALUE` each) as one notification. Only the
    /// first failure is returned (systemd may have gone: a watchdog ping
    /// would fail twice a period), for the caller to log.
    pub fn send(&self, lines: &[&str]) -> Result<(), String> {
        let msg = lines.join("\n");
        match self.socket.send_to_addr(msg.as_bytes(), &self.to) {
            Err(e) if !self.failed.swap(true, std::sync::atomic::Ordering::Relaxed) => {
                Err(format!("systemd notification {msg:?}: {e}"))
            }
            _ => Ok(()),
        }
    }

    /// `READY=1`, with what is served.
    pub fn ready(&self, status: &str) -> Result<(), String> {
        self.send(&["READY=1", &format!("STATUS={status}")])
    }

    /// `READY=1` from a process that took over: it is the service's main
    /// process from now on (`MAINPID`; the unit needs `NotifyAccess=all`).
    pub fn took_over(&self, status: &str) -> Result<(), String> {
        let pid = format!("MAINPID={}", std::process::id());
        self.send(&[&pid, "READY=1", &format!("STATUS={status}")])
    }

    /// `RELOADING=1` with the monotonic time (systemd's `Type=notify-reload`
    /// protocol); `READY=1` follows once the reload is done or failed.
    pub fn reloading(&self) -> Result<(), String> {
        let usec = format!("MONOTONIC_USEC={}", monotonic_usec());
        self.send(&["RELOADING=1", &usec, "STATUS=Reloading the Corefile"])
    }

    pub fn stopping(&self) -> Result<(), String> {
        self.send(&["STOPPING=1", "STATUS=Shutting down"])
    }

    pub fn watchdog(&self) -> Result<(), String> {
        self.send(&["WATCHDOG=1"])
    }

    pub fn status(&self, status: &str) -> Result<(), String> {
        self.send(&[&format!("STATUS={status}")])
    }
}

/// CLOCK_MONOTONIC in microseconds.
fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_a_path_and_an_abstract_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::new(path.to_str().unwrap()).unwrap();
        n.ready("serving").unwrap();
        let mut buf = [0u8; 256];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=serving");
        n.reloading().unwrap();
        let len = rx.recv(&mut buf).unwrap();
        let msg = std::str::from_utf8(&buf[..len]).unwrap();
        assert!(msg.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{msg}");
        let name = format!("ferrodns-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        Notifier::new(&format!("@{name}"))
            .unwrap()
            .watchdog()
            .unwrap();
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"WATCHDOG=1");
    }
}
