//! Worker threads: each pinned to one core, running UDP receive loops and
//! TCP connections for every listener on a current-thread runtime.

use super::{
    sockets, unmap, Handled, Io, Listen, Packet, PacketHandler, RuntimeError, TcpTimeouts,
};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The running workers, as the control plane holds them.
pub struct Workers<U> {
    threads: Vec<JoinHandle<()>>,
    updates: watch::Sender<Option<U>>,
    stop: watch::Sender<bool>,
}

impl<U> Workers<U> {
    pub fn len(&self) -> usize {
        self.threads.len()
    }
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Hands `u` to every worker; each takes it between two messages.
    pub fn update(&self, u: U) {
        self.updates.send_replace(Some(u));
    }

    /// Stops reading new messages, lets replies in flight finish (up to
    /// [`super::DRAIN`]), closes the sockets and joins the threads.
    pub fn stop(self) {
        self.stop.send_replace(true);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

struct Sockets {
    udp: Vec<std::net::UdpSocket>,
    tcp: Vec<(std::net::TcpListener, TcpTimeouts)>,
}

/// Every listener's sockets, once per worker, bound and listening but not
/// served yet: bind errors come back before anything serves, and the caller
/// can announce the server before the first query is answered.
pub struct Bound {
    per_worker: Vec<Sockets>,
    io: Io,
}

/// `held` are addresses this process already serves (a reload): they are
/// not checked for other owners.
pub fn bind(listen: &[Listen], workers: usize, held: &[SocketAddr]) -> Result<Bound, RuntimeError> {
    for addr in listen.iter().map(|l| l.addr).filter(|a| !held.contains(a)) {
        sockets::probe_free(addr).map_err(|source| RuntimeError::InUse { addr, source })?;
    }
    let mut per_worker = Vec::with_capacity(workers.max(1));
    for _ in 0..workers.max(1) {
        let mut s = Sockets {
            udp: Vec::new(),
            tcp: Vec::new(),
        };
        for l in listen {
            let addr = l.addr;
            s.udp
                .push(sockets::udp(addr).map_err(|source| RuntimeError::Udp { addr, source })?);
            s.tcp.push((
                sockets::tcp(addr).map_err(|source| RuntimeError::Tcp { addr, source })?,
                l.tcp,
            ));
        }
        per_worker.push(s);
    }
    Ok(Bound {
        per_worker,
        io: Io::Mmsg,
    })
}

impl Bound {
    /// How many workers will serve.
    pub fn workers(&self) -> usize {
        self.per_worker.len()
    }

    /// How the workers will do UDP.
    pub fn with_io(mut self, io: Io) -> Self {
        self.io = io;
        self
    }

    /// Starts one pinned worker thread per socket set. `make` builds each
    /// worker's handler on its own thread.
    pub fn start<H, F>(self, make: F) -> Result<Workers<H::Update>, RuntimeError>
    where
        H: PacketHandler + 'static,
        F: Fn(usize) -> H + Send + Sync + 'static,
    {
        let (updates, _) = watch::channel(None);
        let (stop, _) = watch::channel(false);
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let make = Arc::new(make);
        let mut threads = Vec::with_capacity(self.per_worker.len());
        let io = self.io;
        for (index, socks) in self.per_worker.into_iter().enumerate() {
            let core = cores.get(index % cores.len().max(1)).copied();
            let make = Arc::clone(&make);
            let control = Control {
                updates: updates.subscribe(),
                stop: stop.subscribe(),
            };
            let t = std::thread::Builder::new()
                .name(format!("ferrodns-w{index}"))
                .spawn(move || {
                    if let Some(c) = core {
                        core_affinity::set_for_current(c);
                    }
                    run(index, socks, io, make.as_ref(), control);
                })
                .map_err(|source| RuntimeError::Thread { index, source })?;
            threads.push(t);
        }
        Ok(Workers {
            threads,
            updates,
            stop,
        })
    }
}

/// A worker's end of the control plane.
struct Control<U> {
    updates: watch::Receiver<Option<U>>,
    stop: watch::Receiver<bool>,
}

/// Replies still being worked on (waiting on an upstream) by this worker.
pub(super) type InFlight = Rc<Waiting>;

/// The most replies a worker lets wait on upstreams before it stops reading
/// new UDP queries (the kernel's socket buffer then holds or drops them):
/// memory stays bounded however the upstreams keep up. At 20 ms a round
/// trip that is still 400,000 queries/s per worker.
pub(super) const MAX_IN_FLIGHT: usize = 8192;

#[derive(Default)]
pub(super) struct Waiting {
    n: Cell<usize>,
    room: tokio::sync::Notify,
}

impl Waiting {
    pub(super) fn get(&self) -> usize {
        self.n.get()
    }

    /// Resolves once fewer than [`MAX_IN_FLIGHT`] replies wait; replies
    /// that come meanwhile go out of `outbox`.
    pub(super) async fn room(&self, outbox: &Outbox) {
        while self.n.get() >= MAX_IN_FLIGHT {
            tokio::select! {
                _ = self.room.notified() => {}
                _ = outbox.pushed() => outbox.flush(),
            }
        }
    }
}

fn run<H: PacketHandler + 'static, F: Fn(usize) -> H>(
    index: usize,
    socks: Sockets,
    io: Io,
    make: &F,
    mut control: Control<H::Update>,
) {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            crate::log::error(None, &format!("worker {index}: runtime: {e}"));
            return;
        }
    };
    let handler = Rc::new(RefCell::new(make(index)));
    let in_flight: InFlight = Rc::new(Waiting::default());
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let mut serving = Vec::new();
        for (i, s) in socks.udp.into_iter().enumerate() {
            let ring = match io {
                Io::Mmsg => None,
                Io::Uring => match super::uring::ring() {
                    Ok(r) => Some(r),
                    Err(e) => {
                        crate::log::warning(
                            None,
                            &format!("worker {index}: io_uring unavailable ({e}); using recvmmsg"),
                        );
                        None
                    }
                },
            };
            let (h, f) = (Rc::clone(&handler), Rc::clone(&in_flight));
            serving.push(match ring {
                Some(r) => tokio::task::spawn_local(super::uring::udp_loop(i, s, r, h, f)),
                None => tokio::task::spawn_local(super::mmsg::udp_loop(i, s, h, f)),
            });
        }
        for (i, (s, timeouts)) in socks.tcp.into_iter().enumerate() {
            match TcpListener::from_std(s) {
                Ok(l) => {
                    let task =
                        tcp_accept(i, l, timeouts, Rc::clone(&handler), Rc::clone(&in_flight));
                    serving.push(tokio::task::spawn_local(task));
                }
                Err(e) => crate::log::error(None, &format!("worker {index}: tcp socket: {e}")),
            }
        }
        loop {
            tokio::select! {
                changed = control.updates.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let u = control.updates.borrow_and_update().clone();
                    if let Some(u) = u {
                        handler.borrow_mut().update(u);
                    }
                }
                _ = control.stop.changed() => break,
            }
        }
        // Stop reading; replies already being worked on still go out.
        for t in &serving {
            t.abort();
        }
        let deadline = tokio::time::Instant::now() + super::DRAIN;
        while in_flight.get() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

/// Replies to UDP queries that waited on an upstream: pushed by the tasks
/// that waited, sent by the socket's loop with sendmmsg in one call per
/// round; once the loop has stopped (the worker drains), sent at once.
pub(super) struct Outbox {
    fd: std::os::fd::RawFd,
    /// Keeps the socket behind `fd` open while replies may still come.
    _socket: Rc<dyn std::any::Any>,
    queue: RefCell<Vec<(Vec<u8>, SocketAddr)>>,
    wake: tokio::sync::Notify,
    /// The socket's loop runs (and will flush).
    open: Cell<bool>,
}

/// Most replies one sendmmsg call takes from the outbox.
const OUTBOX_BATCH: usize = 64;

impl Outbox {
    /// For the socket `fd`, which `socket` owns.
    pub(super) fn new(fd: std::os::fd::RawFd, socket: Rc<dyn std::any::Any>) -> Rc<Outbox> {
        Rc::new(Outbox {
            fd,
            _socket: socket,
            queue: RefCell::new(Vec::new()),
            wake: tokio::sync::Notify::new(),
            open: Cell::new(true),
        })
    }

    pub(super) fn push(&self, reply: Vec<u8>, to: SocketAddr) {
        self.queue.borrow_mut().push((reply, to));
        if self.open.get() {
            self.wake.notify_one();
        } else {
            self.flush();
        }
    }

    /// Resolves once something was pushed since the last flush.
    pub(super) async fn pushed(&self) {
        self.wake.notified().await
    }

    /// Sends what is queued. A reply the kernel will not take now is
    /// dropped, as a full socket buffer drops datagrams anyway.
    pub(super) fn flush(&self) {
        let mut q = self.queue.borrow_mut();
        for chunk in q.chunks(OUTBOX_BATCH) {
            let names: Vec<socket2::SockAddr> = chunk.iter().map(|(_, to)| (*to).into()).collect();
            let mut iovs: Vec<libc::iovec> = chunk
                .iter()
                .map(|(r, _)| libc::iovec {
                    iov_base: r.as_ptr() as *mut libc::c_void,
                    iov_len: r.len(),
                })
                .collect();
            // SAFETY: mmsghdr is plain old data; all zeroes is valid.
            let mut hdrs: Vec<libc::mmsghdr> =
                vec![unsafe { std::mem::zeroed::<libc::mmsghdr>() }; chunk.len()];
            for (k, h) in hdrs.iter_mut().enumerate() {
                h.msg_hdr.msg_name = names[k].as_ptr() as *mut libc::c_void;
                h.msg_hdr.msg_namelen = names[k].len();
                h.msg_hdr.msg_iov = &mut iovs[k];
                h.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: the headers point at replies, addresses and iovecs
            // that live until the end of this iteration.
            unsafe { send_all(self.fd, &mut hdrs) };
        }
        q.clear();
    }
}

/// Sends every datagram of `hdrs` with as few sendmmsg calls as the kernel
/// allows; one it refuses (a full buffer, an ICMP error for that peer) is
/// skipped, as a full socket buffer drops datagrams anyway.
///
/// # Safety
/// Every header must point at a valid address, iovec and buffer.
pub(super) unsafe fn send_all(fd: std::os::fd::RawFd, hdrs: &mut [libc::mmsghdr]) {
    let mut done = 0;
    while done < hdrs.len() {
        // SAFETY: the caller's promise, for headers `done..`.
        let r = unsafe {
            libc::sendmmsg(
                fd,
                hdrs[done..].as_mut_ptr(),
                (hdrs.len() - done) as u32,
                libc::MSG_DONTWAIT,
            )
        };
        if r <= 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            done += 1;
            continue;
        }
        done += r as usize;
    }
}

/// Marks the outbox closed (its loop is gone) and sends what it holds.
pub(super) struct CloseOutbox(pub(super) Rc<Outbox>);

impl Drop for CloseOutbox {
    fn drop(&mut self) {
        self.0.open.set(false);
        self.0.flush();
    }
}

/// Runs a reply that must wait, counting it as in flight meanwhile.
pub(super) fn spawn_later<F: std::future::Future<Output = ()> + 'static>(
    in_flight: &InFlight,
    f: F,
) {
    let w = Rc::clone(in_flight);
    w.n.set(w.n.get() + 1);
    tokio::task::spawn_local(async move {
        f.await;
        w.n.set(w.n.get() - 1);
        if w.n.get() + 1 == MAX_IN_FLIGHT {
            w.room.notify_waiters();
        }
    });
}

async fn tcp_accept<H: PacketHandler + 'static>(
    listener: usize,
    l: TcpListener,
    timeouts: TcpTimeouts,
    handler: Rc<RefCell<H>>,
    in_flight: InFlight,
) {
    loop {
        match l.accept().await {
            Ok((stream, peer)) => {
                let peer = unmap(peer);
                let conn = tcp_conn(
                    listener,
                    stream,
                    peer,
                    timeouts,
                    Rc::clone(&in_flight),
                    Rc::clone(&handler),
                );
                tokio::task::spawn_local(conn);
            }
            // Out of descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Length-prefixed messages until the client closes, sends a broken frame
/// or stays idle too long. Replies that must wait are written when ready,
/// so they may overtake each other (RFC 7766 allows it).
async fn tcp_conn<H: PacketHandler>(
    listener: usize,
    s: TcpStream,
    peer: SocketAddr,
    timeouts: TcpTimeouts,
    in_flight: InFlight,
    handler: Rc<RefCell<H>>,
) {
    let _ = s.set_nodelay(true);
    let local = s
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (mut rd, wr) = s.into_split();
    let wr = Rc::new(tokio::sync::Mutex::new(wr));
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut wait = timeouts.read;
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(wait, rd.read_exact(&mut len)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        let n = usize::from(u16::from_be_bytes(len));
        buf.resize(n, 0);
        match tokio::time::timeout(timeouts.read, rd.read_exact(&mut buf)).await {
            Ok(Ok(_)) => {}
            _ => return,
        }
        wait = timeouts.idle;
        let p = Packet {
            listener,
            data: &buf,
            src: peer,
            local,
            tcp: true,
            at: std::time::Instant::now(),
        };
        let handled = handler.borrow_mut().handle(&p, &mut out);
        match handled {
            Handled::Reply => {
                if !write_framed(&wr, &out, timeouts.write).await {
                    return;
                }
            }
            Handled::Drop => {}
            Handled::Later(reply) => {
                let wr = Rc::clone(&wr);
                spawn_later(&in_flight, async move {
                    if let Some(r) = reply.await {
                        write_framed(&wr, &r, timeouts.write).await;
                    }
                });
            }
        }
    }
}

async fn write_framed(
    wr: &tokio::sync::Mutex<OwnedWriteHalf>,
    msg: &[u8],
    timeout: Duration,
) -> bool {
    let Ok(len) = u16::try_from(msg.len()) else {
        return true;
    };
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(msg);
    let mut w = wr.lock().await;
    matches!(
        tokio::time::timeout(timeout, w.write_all(&framed)).await,
        Ok(Ok(()))
    )
}
