//! A running server handing its listening sockets to a new process (an
//! upgrade or a restart that loses no query): the old process offers them
//! on a unix socket (`-handover PATH`); a new process started with the same
//! flag finds it there and takes them, so the kernel's queues of queries
//! stay where they are while the processes change.
//!
//! The exchange, on one stream connection:
//! 1. new → old: [`MAGIC`];
//! 2. old → new: the listeners' addresses (a count, then each address's
//!    text, length-prefixed), then their sockets, a UDP socket and a TCP
//!    listener per address, in batches of descriptors (SCM_RIGHTS);
//!    then what its plugins pass along (`Plugin::handover_state`: the
//!    caches' answers), a count of (name, bytes), each length-prefixed;
//! 3. new → old: `H` — the old process closes its HTTP endpoints (health,
//!    ready, metrics), which the new one binds next; old → new: `h`;
//! 4. new → old: `R` and its pid, once it serves — the old process stops
//!    reading, answers what it has read and what waits on upstreams. If the
//!    new process goes away before `R`, the old one binds its HTTP
//!    endpoints again and goes on serving.
//! 5. old → new: what its plugins changed since step 2 (the answers cached
//!    meanwhile), framed as there; then the old process exits. The new one
//!    takes it in while it serves.

use crate::runtime::Inherited;
use crate::sys::fdpass;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const MAGIC: &[u8; 20] = b"ferrodns-handover 1\n";

/// How long each side waits for the other's next step.
const STEP: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HandoverError {
    #[error("handover socket {path}: {source}")]
    Socket {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("handover: {0}")]
    Io(#[from] std::io::Error),
    #[error("handover: {0}")]
    Sys(#[from] crate::sys::SysError),
    #[error("handover: {0}")]
    Protocol(String),
}

fn read_u32(s: &mut UnixStream) -> Result<u32, HandoverError> {
    let mut b = [0u8; 4];
    s.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn expect(s: &mut UnixStream, byte: u8) -> Result<(), HandoverError> {
    let mut b = [0u8];
    s.read_exact(&mut b)?;
    if b[0] != byte {
        return Err(HandoverError::Protocol(format!(
            "expected {:?}, got {:?}",
            byte as char, b[0] as char
        )));
    }
    Ok(())
}

/// The old process's side: a unix socket new processes connect to.
pub struct Offer {
    listener: UnixListener,
    path: PathBuf,
}

impl Offer {
    /// Listens at `path` (a socket file left by a process that is gone is
    /// replaced).
    pub fn listen(path: &Path) -> Result<Offer, HandoverError> {
        let err = |source| HandoverError::Socket {
            path: path.display().to_string(),
            source,
        };
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path).map_err(err)?;
        Ok(Offer {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Hands each connection that says [`MAGIC`] to `taken`, on a thread
    /// of its own, until the process ends.
    pub fn serve(self, taken: impl Fn(UnixStream) + Send + 'static) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("handover".into())
            .spawn(move || {
                for s in self.listener.incoming() {
                    let Ok(mut s) = s else { continue };
                    let _ = s.set_read_timeout(Some(STEP));
                    let mut m = [0u8; MAGIC.len()];
                    if s.read_exact(&mut m).is_ok() && &m == MAGIC {
                        taken(s);
                    }
                }
                let _ = std::fs::remove_file(&self.path);
            })
            .map(|_| ())
    }
}

/// Steps 2 and 3 on the old side: the sockets go, then the HTTP endpoints
/// are let go (`release_http`).
pub fn give(
    s: &mut UnixStream,
    sockets: &[(SocketAddr, &UdpSocket, &TcpListener)],
    state: &[(String, Vec<u8>)],
    release_http: impl FnOnce(),
) -> Result<(), HandoverError> {
    let mut head = Vec::new();
    head.extend((sockets.len() as u32).to_be_bytes());
    for (a, _, _) in sockets {
        let t = a.to_string();
        head.extend((t.len() as u32).to_be_bytes());
        head.extend(t.as_bytes());
    }
    s.write_all(&head)?;
    let fds: Vec<RawFd> = sockets
        .iter()
        .flat_map(|(_, u, t)| [u.as_raw_fd(), t.as_raw_fd()])
        .collect();
    for batch in fds.chunks(fdpass::BATCH - fdpass::BATCH % 2) {
        fdpass::send(s, batch)?;
    }
    write_state(s, state)?;
    expect(s, b'H')?;
    release_http();
    s.write_all(b"h")?;
    Ok(())
}

/// Plugins' state: a count of (name, bytes), each length-prefixed.
fn write_state(s: &mut UnixStream, state: &[(String, Vec<u8>)]) -> Result<(), HandoverError> {
    let mut st = Vec::new();
    st.extend((state.len() as u32).to_be_bytes());
    for (name, data) in state {
        st.extend((name.len() as u32).to_be_bytes());
        st.extend(name.as_bytes());
        st.extend((data.len() as u64).to_be_bytes());
        st.extend(data);
    }
    s.write_all(&st)?;
    Ok(())
}

/// What [`write_state`] wrote.
fn read_state(s: &mut UnixStream) -> Result<Vec<(String, Vec<u8>)>, HandoverError> {
    let n = read_u32(s)?;
    let mut state = Vec::new();
    for _ in 0..n {
        let len = read_u32(s)? as usize;
        if len > 4096 {
            return Err(HandoverError::Protocol(format!(
                "a state name of {len} bytes"
            )));
        }
        let mut name = vec![0u8; len];
        s.read_exact(&mut name)?;
        let mut b = [0u8; 8];
        s.read_exact(&mut b)?;
        let len = u64::from_be_bytes(b) as usize;
        let mut data = vec![0u8; len];
        s.read_exact(&mut data)?;
        state.push((String::from_utf8_lossy(&name).into_owned(), data));
    }
    Ok(state)
}

/// Step 4 on the old side: the new process's pid once it serves.
pub fn wait_ready(s: &mut UnixStream) -> Result<u32, HandoverError> {
    expect(s, b'R')?;
    read_u32(s)
}

/// Step 5 on the old side, once its workers have stopped.
pub fn give_late(s: &mut UnixStream, state: &[(String, Vec<u8>)]) -> Result<(), HandoverError> {
    write_state(s, state)
}

/// The new process's side, connected.
pub struct Taking {
    stream: UnixStream,
    pub inherited: Inherited,
    /// What the old process's plugins passed along, by name.
    pub state: Vec<(String, Vec<u8>)>,
}

/// Connects to the process serving at `path` and takes its sockets (and
/// has it let go of its HTTP endpoints); None when nothing offers them
/// there (no file, or nobody listening: a first start).
pub fn take(path: &Path) -> Result<Option<Taking>, HandoverError> {
    let mut s = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None)
        }
        Err(source) => {
            return Err(HandoverError::Socket {
                path: path.display().to_string(),
                source,
            })
        }
    };
    s.set_read_timeout(Some(STEP))?;
    s.write_all(MAGIC)?;
    let n = read_u32(&mut s)? as usize;
    let mut addrs = Vec::with_capacity(n);
    for _ in 0..n {
        let len = read_u32(&mut s)? as usize;
        if len > 64 {
            return Err(HandoverError::Protocol(format!("address of {len} bytes")));
        }
        let mut t = vec![0u8; len];
        s.read_exact(&mut t)?;
        let a: SocketAddr = String::from_utf8_lossy(&t)
            .parse()
            .map_err(|_| HandoverError::Protocol("bad address".into()))?;
        addrs.push(a);
    }
    let mut fds = Vec::with_capacity(2 * n);
    while fds.len() < 2 * n {
        let got = fdpass::recv(&s)?;
        if got.is_empty() {
            return Err(HandoverError::Protocol("a batch without sockets".into()));
        }
        fds.extend(got);
    }
    let mut it = fds.into_iter();
    let mut inherited = Inherited::default();
    for a in addrs {
        let (Some(u), Some(t)) = (it.next(), it.next()) else {
            break;
        };
        let u = UdpSocket::from(u);
        // Sockets systemd passed without SO_REUSEPORT: no new one may join
        // them, so the workers share them.
        if !socket2::SockRef::from(&u).reuse_port().unwrap_or(true)
            && !inherited.shared.contains(&a)
        {
            inherited.shared.push(a);
        }
        inherited.sockets.push((a, u, TcpListener::from(t)));
    }
    let state = read_state(&mut s)?;
    s.write_all(b"H")?;
    expect(&mut s, b'h')?;
    Ok(Some(Taking {
        stream: s,
        inherited,
        state,
    }))
}

impl Taking {
    /// Step 4: this process serves; the old one may go. What it passes
    /// last comes through the [`Late`].
    pub fn ready(mut self) -> Result<Late, HandoverError> {
        let mut b = vec![b'R'];
        b.extend(std::process::id().to_be_bytes());
        self.stream.write_all(&b)?;
        Ok(Late(self.stream))
    }
}

/// Step 5 on the new side: the old process's last state, once its workers
/// have stopped (they drain for up to [`crate::runtime::DRAIN`]).
pub struct Late(UnixStream);

impl Late {
    pub fn take(mut self) -> Result<Vec<(String, Vec<u8>)>, HandoverError> {
        read_state(&mut self.0)
    }
}
