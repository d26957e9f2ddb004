//! One tap's output: a bounded queue of encoded frames, filled by the
//! workers without ever waiting (a full queue drops the frame and counts
//! it), and one writer thread that empties it onto the connection to the
//! collector (reconnecting with backoff when there is none), or onto every
//! sink connected to its listener (`listen`).
//!
//! As in CoreDNS: frames that cannot be written while there is no
//! connection are dropped and counted; every 10 s the count is logged
//! (`Dropped dnstap messages: N`); a failed write drops its frame and
//! redials at once. The first dial's failure is logged as an error.

use super::conn::{self, Stream};
use super::fstrm;
use crate::gocompat::errno;
use std::io;
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often dropped frames are reported (CoreDNS's `errorCheckInterval`).
const REPORT_EVERY: Duration = Duration::from_secs(10);
/// The first wait before dialing again after a failed dial; it doubles up
/// to [`REPORT_EVERY`], CoreDNS's fixed wait.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Frames written between flushes at most, when the queue never empties.
const BATCH: usize = 512;
/// How long shutdown waits for the queue to be written and the STOP
/// answered.
const STOP_WAIT: Duration = Duration::from_secs(3);
/// How often a listener looks for new sinks and for its end.
const ACCEPT_POLL: Duration = Duration::from_millis(100);

/// Where a collector is dialed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Unix(PathBuf),
    /// `host:port`, as `url.Parse` gives the host.
    Tcp(String),
    Tls {
        host: String,
        skip_verify: bool,
    },
}

/// Where sinks connect (`listen`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAt {
    Unix(PathBuf),
    Tcp(String),
    Tls {
        addr: String,
        cert: Option<PathBuf>,
        key: Option<PathBuf>,
        ca: Option<PathBuf>,
        skip_verify: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Dial(Target),
    Listen(ListenAt),
}

enum Item {
    Frame(Vec<u8>),
    Stop,
}

/// The writer's end of a tap's queue. The queue is a list that grows with
/// what it holds (a bound of millions of frames costs nothing until a
/// collector falls behind); `held` keeps it to its bound.
struct Inbox {
    rx: Receiver<Item>,
    held: Arc<AtomicUsize>,
}

impl Inbox {
    fn took(&self, i: Item) -> Item {
        if let Item::Frame(_) = i {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
        i
    }

    fn recv_timeout(&self, d: Duration) -> Result<Item, RecvTimeoutError> {
        self.rx.recv_timeout(d).map(|i| self.took(i))
    }

    fn try_recv(&self) -> Result<Item, TryRecvError> {
        self.rx.try_recv().map(|i| self.took(i))
    }
}

/// The workers' side of a tap's output, and its writer thread's handle.
pub struct Output {
    tx: Sender<Item>,
    /// Frames queued and not yet taken by the writer, at most `cap`.
    held: Arc<AtomicUsize>,
    cap: usize,
    /// Frames lost since the last report.
    dropped: Arc<AtomicU32>,
    /// A listener broadcasts without counting what no sink got.
    counts: bool,
    state: Mutex<State>,
}

enum State {
    /// Built, not started: what the thread will take.
    Ready {
        endpoint: Endpoint,
        rx: Inbox,
        sndbuf: usize,
    },
    Running {
        quit: Arc<AtomicBool>,
        done: Receiver<()>,
    },
    Stopped,
}

impl Output {
    /// An output holding at most `queue` frames; a TCP connection's send
    /// buffer is `sndbuf` bytes.
    pub fn new(endpoint: Endpoint, queue: usize, sndbuf: usize) -> Self {
        let (tx, rx) = mpsc::channel();
        let held = Arc::new(AtomicUsize::new(0));
        let rx = Inbox {
            rx,
            held: Arc::clone(&held),
        };
        let counts = matches!(endpoint, Endpoint::Dial(_));
        Self {
            tx,
            held,
            cap: queue,
            dropped: Arc::new(AtomicU32::new(0)),
            counts,
            state: Mutex::new(State::Ready {
                endpoint,
                rx,
                sndbuf,
            }),
        }
    }

    /// Queues a frame; never waits.
    pub fn send(&self, frame: Vec<u8>) {
        let queued = self.held.fetch_add(1, Ordering::Relaxed) < self.cap
            && self.tx.send(Item::Frame(frame)).is_ok();
        if !queued {
            self.held.fetch_sub(1, Ordering::Relaxed);
            if self.counts {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Frames lost since the last report.
    #[cfg(test)]
    pub fn dropped(&self) -> u32 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Starts the writer thread (once).
    pub fn start(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let State::Ready { .. } = &*st else { return };
        let (quit, (done_tx, done)) = (Arc::new(AtomicBool::new(false)), mpsc::channel());
        let State::Ready {
            endpoint,
            rx,
            sndbuf,
        } = std::mem::replace(
            &mut *st,
            State::Running {
                quit: Arc::clone(&quit),
                done,
            },
        )
        else {
            return;
        };
        let dropped = Arc::clone(&self.dropped);
        let spawned = std::thread::Builder::new()
            .name("dnstap".into())
            .spawn(move || {
                let sinks = match endpoint {
                    Endpoint::Dial(t) => Sinks::Dial(Dialer::new(t, sndbuf, Arc::clone(&dropped))),
                    Endpoint::Listen(at) => Sinks::Listen(Listener::start(at, Arc::clone(&quit))),
                };
                Writer {
                    rx,
                    dropped,
                    quit,
                    sinks,
                }
                .run();
                let _ = done_tx.send(());
            });
        if let Err(e) = spawned {
            crate::log::error(
                Some("dnstap"),
                &format!("could not start the writer thread: {e}"),
            );
        }
    }

    /// Stops the writer: what is queued is written, the streams closed
    /// (STOP, FINISH); waits for that a few seconds at most.
    pub fn stop(&self) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let State::Running { quit, done } = std::mem::replace(&mut *st, State::Stopped) {
            quit.store(true, Ordering::Relaxed);
            let _ = self.tx.send(Item::Stop);
            let _ = done.recv_timeout(STOP_WAIT);
        }
    }
}

/// The writer thread.
struct Writer {
    rx: Inbox,
    dropped: Arc<AtomicU32>,
    quit: Arc<AtomicBool>,
    sinks: Sinks,
}

enum Sinks {
    Dial(Dialer),
    Listen(Listener),
}

impl Writer {
    fn run(mut self) {
        let mut next_report = Instant::now() + REPORT_EVERY;
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let now = Instant::now();
            if now >= next_report {
                let n = self.dropped.swap(0, Ordering::Relaxed);
                if n > 0 {
                    crate::log::warning(Some("dnstap"), &format!("Dropped dnstap messages: {n}"));
                }
                next_report = now + REPORT_EVERY;
            }
            let mut wake = next_report;
            match &mut self.sinks {
                Sinks::Dial(d) => {
                    d.redial(now);
                    if d.out.is_none() {
                        wake = wake.min(d.next_dial);
                    }
                }
                Sinks::Listen(_) => wake = wake.min(now + ACCEPT_POLL),
            }
            let mut stop = self.quit.load(Ordering::Relaxed);
            match self.rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(Item::Frame(f)) => batch.push(f),
                Ok(Item::Stop) | Err(RecvTimeoutError::Disconnected) => stop = true,
                Err(RecvTimeoutError::Timeout) => {}
            }
            while batch.len() < BATCH && !stop {
                match self.rx.try_recv() {
                    Ok(Item::Frame(f)) => batch.push(f),
                    Ok(Item::Stop) | Err(TryRecvError::Disconnected) => stop = true,
                    Err(TryRecvError::Empty) => break,
                }
            }
            self.write(&mut batch);
            if stop {
                break;
            }
        }
        // What is queued goes out before the streams close.
        while let Ok(Item::Frame(f)) = self.rx.try_recv() {
            batch.push(f);
            if batch.len() == BATCH {
                self.write(&mut batch);
            }
        }
        self.write(&mut batch);
        match self.sinks {
            Sinks::Dial(d) => {
                if let Some(out) = d.out {
                    let _ = out.close();
                }
            }
            Sinks::Listen(l) => l.close(),
        }
    }

    fn write(&mut self, batch: &mut Vec<Vec<u8>>) {
        if batch.is_empty() {
            if let Sinks::Listen(l) = &mut self.sinks {
                l.adopt();
            }
            return;
        }
        match &mut self.sinks {
            Sinks::Dial(d) => d.write(batch),
            Sinks::Listen(l) => l.write(batch),
        }
        batch.clear();
    }
}

/// The connection to a collector.
struct Dialer {
    target: Target,
    sndbuf: usize,
    out: Option<fstrm::Writer<Stream>>,
    /// When to dial again while there is no connection.
    next_dial: Instant,
    backoff: Duration,
    dropped: Arc<AtomicU32>,
}

/// Why a collector could not be reached: the dial or the handshake.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error(transparent)]
    Dial(#[from] conn::DialError),
    #[error(transparent)]
    Handshake(#[from] fstrm::FstrmError),
}

impl Dialer {
    fn new(target: Target, sndbuf: usize, dropped: Arc<AtomicU32>) -> Self {
        let mut d = Self {
            target,
            sndbuf,
            out: None,
            next_dial: Instant::now(),
            backoff: FIRST_BACKOFF,
            dropped,
        };
        // CoreDNS dials once at start-up and says when that fails.
        if let Err(e) = d.dial() {
            crate::log::error(
                Some("dnstap"),
                &format!("No connection to dnstap endpoint: {e}"),
            );
        }
        d
    }

    fn connect(&mut self) -> Result<fstrm::Writer<Stream>, ConnectError> {
        let stream = match &self.target {
            Target::Unix(p) => conn::unix(p)?,
            Target::Tcp(hp) => Stream::Tcp(conn::tcp(hp, self.sndbuf)?),
            Target::Tls { host, skip_verify } => {
                // Built for each dial: dials are rare, and it holds no state.
                let t = conn::tls_client(host, *skip_verify)?;
                conn::tls(conn::tcp(host, self.sndbuf)?, &t)?
            }
        };
        Ok(fstrm::Writer::handshake(stream)?)
    }

    fn dial(&mut self) -> Result<(), ConnectError> {
        match self.connect() {
            Ok(w) => {
                self.out = Some(w);
                self.backoff = FIRST_BACKOFF;
                Ok(())
            }
            Err(e) => {
                self.next_dial = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(REPORT_EVERY);
                Err(e)
            }
        }
    }

    fn redial(&mut self, now: Instant) {
        if self.out.is_none() && now >= self.next_dial {
            let _ = self.dial();
        }
    }

    /// Writes and flushes; a failure drops what was not sent and leaves
    /// the next dial for now.
    fn write(&mut self, batch: &[Vec<u8>]) {
        let Some(out) = self.out.as_mut() else {
            self.lost(batch.len());
            return;
        };
        let mut written = 0;
        let mut ok = true;
        for f in batch {
            if out.frame(f).is_err() {
                ok = false;
                break;
            }
            written += 1;
        }
        if ok && out.flush().is_err() {
            ok = false;
            written = 0;
        }
        if !ok {
            self.lost(batch.len() - written);
            self.out = None;
            self.backoff = FIRST_BACKOFF;
            self.next_dial = Instant::now();
            self.redial(Instant::now());
        }
    }

    fn lost(&self, n: usize) {
        self.dropped
            .fetch_add(u32::try_from(n).unwrap_or(u32::MAX), Ordering::Relaxed);
    }
}

/// The sinks connected to a listener; an accepting thread adds to them.
struct Listener {
    sinks: Vec<fstrm::Writer<Stream>>,
    new: Arc<Mutex<Vec<fstrm::Writer<Stream>>>>,
    /// A unix socket's file, removed at the end.
    path: Option<PathBuf>,
}

/// Why a listener could not start, as Go words it.
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error("listen {net} {addr}: bind: {}", errno::text(.source))]
    Bind {
        net: &'static str,
        addr: String,
        source: io::Error,
    },
    #[error(transparent)]
    Tls(#[from] conn::ListenTlsError),
}

enum Socket {
    Unix(UnixListener),
    Tcp(TcpListener, Option<Arc<rustls::ServerConfig>>),
}

impl Listener {
    fn start(at: ListenAt, quit: Arc<AtomicBool>) -> Self {
        let new = Arc::new(Mutex::new(Vec::new()));
        let path = match &at {
            ListenAt::Unix(p) => Some(p.clone()),
            _ => None,
        };
        match bind(&at) {
            Ok(Some(sock)) => {
                let shared = Arc::clone(&new);
                let _ = std::thread::Builder::new()
                    .name("dnstap-accept".into())
                    .spawn(move || accept_loop(sock, &shared, &quit));
            }
            Ok(None) => {}
            Err(e) => crate::log::error(
                Some("dnstap"),
                &format!("Failed to start dnstap listener: {e}"),
            ),
        }
        Self {
            sinks: Vec::new(),
            new,
            path,
        }
    }

    /// Takes the sinks accepted since the last look.
    fn adopt(&mut self) {
        let mut new = self.new.lock().unwrap_or_else(|e| e.into_inner());
        self.sinks.append(&mut new);
    }

    /// Every frame to every sink; a sink that fails is closed and dropped.
    fn write(&mut self, batch: &[Vec<u8>]) {
        self.adopt();
        self.sinks
            .retain_mut(|s| batch.iter().all(|f| s.frame(f).is_ok()) && s.flush().is_ok());
    }

    fn close(mut self) {
        self.adopt();
        for s in self.sinks {
            let _ = s.close();
        }
        if let Some(p) = self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn bind(at: &ListenAt) -> Result<Option<Socket>, ListenError> {
    let fail = |net, addr: &str| {
        let addr = addr.to_string();
        move |source| ListenError::Bind { net, addr, source }
    };
    Ok(Some(match at {
        ListenAt::Unix(p) => {
            let s = UnixListener::bind(p).map_err(fail("unix", &p.display().to_string()))?;
            Socket::Unix(s)
        }
        ListenAt::Tcp(a) => Socket::Tcp(TcpListener::bind(a).map_err(fail("tcp", a))?, None),
        ListenAt::Tls {
            addr,
            cert,
            key,
            ca,
            skip_verify,
        } => {
            let (Some(cert), Some(key)) = (cert, key) else {
                crate::log::warning(Some("dnstap"), "TLS listener requires cert and key files");
                return Ok(None);
            };
            let config = conn::tls_server(cert, key, ca.as_deref(), *skip_verify)?;
            Socket::Tcp(
                TcpListener::bind(addr).map_err(fail("tcp", addr))?,
                Some(config),
            )
        }
    }))
}

/// Accepts sinks until `quit`, each after the Frame Streams handshake.
fn accept_loop(sock: Socket, new: &Mutex<Vec<fstrm::Writer<Stream>>>, quit: &AtomicBool) {
    let nonblocking = match &sock {
        Socket::Unix(l) => l.set_nonblocking(true),
        Socket::Tcp(l, _) => l.set_nonblocking(true),
    };
    if nonblocking.is_err() {
        return;
    }
    while !quit.load(Ordering::Relaxed) {
        let accepted = match &sock {
            Socket::Unix(l) => l.accept().and_then(|(s, _)| conn::accepted_unix(s)),
            Socket::Tcp(l, tls) => l
                .accept()
                .and_then(|(s, _)| conn::accepted_tcp(s, tls.as_ref())),
        };
        let stream = match accepted {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
            Err(e) => {
                crate::log::warning(
                    Some("dnstap"),
                    &format!("Error accepting dnstap connection: {}", errno::text(&e)),
                );
                std::thread::sleep(ACCEPT_POLL);
                continue;
            }
        };
        match fstrm::Writer::handshake(stream) {
            Ok(w) => new.lock().unwrap_or_else(|e| e.into_inner()).push(w),
            Err(e) => crate::log::warning(
                Some("dnstap"),
                &format!("Error creating encoder for dnstap client: {e}"),
            ),
        }
    }
}
