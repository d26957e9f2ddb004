//! Worker threads: each pinned to one core, running UDP receive loops and
//! TCP connections for every listener on a current-thread runtime.

use super::{
    sockets, unmap, Handled, Io, Listen, Packet, PacketHandler, RuntimeError, TcpTimeouts,
};
use crate::sys::mmsg;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// The running workers, as the control plane holds them.
pub struct Workers<U> {
    threads: Vec<JoinHandle<()>>,
    /// One channel per worker, in worker order.
    changes: Vec<mpsc::UnboundedSender<Change<U>>>,
    /// A duplicate of every socket each worker serves, in worker order:
    /// a new set of workers (a reload that changes how many) takes these
    /// over instead of binding new ones, so no socket a worker reads
    /// leaves the SO_REUSEPORT group while the kernel may still pick it.
    held: Vec<Sockets>,
    /// Each worker's heartbeat: counts up every [`BEAT`] while the
    /// worker's thread runs its tasks (a worker stuck in a plugin stops it).
    beats: Arc<[AtomicU64]>,
}

/// How often a worker's heartbeat counts up.
pub const BEAT: Duration = Duration::from_millis(100);

/// What the control plane hands a worker.
enum Change<U> {
    /// A new configuration, its listeners (in the order the configuration
    /// numbers them) and the sockets this worker serves them with where it
    /// does not serve them yet.
    Update {
        update: U,
        listen: Vec<Listen>,
        added: Sockets,
    },
    Stop,
}

impl<U> Workers<U> {
    pub fn len(&self) -> usize {
        self.threads.len()
    }
    pub fn is_empty(&self) -> bool {
        self.threads.is_empty()
    }

    /// Every worker's heartbeat count now (see [`BEAT`]).
    pub fn beats(&self) -> Vec<u64> {
        self.beats.iter().map(|b| b.load(Relaxed)).collect()
    }

    /// Hands `u` to every worker with the listeners it serves, `listen`.
    /// Each worker takes it between two messages: a listener it already
    /// serves keeps its sockets (nothing queued on them is lost, open TCP
    /// connections stay); one no longer in `listen` is closed after the
    /// datagrams already queued on it are answered by the configuration it
    /// was served with; `added` (from [`bind`] with the listeners in
    /// `listen` the workers do not serve yet, bound for as many workers)
    /// start to be served with `u`.
    pub fn update(&mut self, u: U, listen: &[Listen], added: Bound)
    where
        U: Clone,
    {
        // The duplicates of listeners that go are dropped first, so that the
        // worker's close is the socket's last.
        let keep = |a: &SocketAddr| listen.iter().any(|l| l.addr == *a);
        for h in self.held.iter_mut() {
            h.udp.retain(|(a, _)| keep(a));
            h.tcp.retain(|(a, _)| keep(a));
        }
        let mut added = added.per_worker.into_iter();
        for (i, tx) in self.changes.iter().enumerate() {
            let socks = added.next().unwrap_or_default();
            if let (Some(h), Ok(d)) = (self.held.get_mut(i), socks.duplicate()) {
                h.udp.extend(d.udp);
                h.tcp.extend(d.tcp);
            }
            let _ = tx.send(Change::Update {
                update: u.clone(),
                listen: listen.to_vec(),
                added: socks,
            });
        }
    }

    /// Sockets for `count` workers serving `listen`, for a new set of
    /// workers to replace these, closing none of the sockets of the
    /// listeners that stay (the kernel may pick any socket of the
    /// SO_REUSEPORT group until it closes, and what a closing socket gets
    /// is lost): for each such listener, the new workers take over (a
    /// duplicate of) every socket the old ones serve, in order, worker j
    /// the k-th where k % count == j, so with fewer workers some serve two;
    /// workers past the old sockets get new ones (`bind`), as do new
    /// listeners. Each worker's first sockets are one per listener, in
    /// `listen`'s order; the extra ones follow.
    pub fn rebind(&self, listen: &[Listen], count: usize) -> Result<Bound, RuntimeError> {
        let old = |addr: SocketAddr| -> Vec<(&std::net::UdpSocket, &std::net::TcpListener)> {
            let udp = self.held.iter().flat_map(|h| h.udp.iter());
            let tcp = self.held.iter().flat_map(|h| h.tcp.iter());
            udp.filter(|(a, _)| *a == addr)
                .zip(tcp.filter(|(a, _)| *a == addr))
                .map(|((_, u), (_, t))| (u, t))
                .collect()
        };
        let held: Vec<SocketAddr> = self
            .held
            .first()
            .map(|h| h.udp.iter().map(|(a, _)| *a).collect())
            .unwrap_or_default();
        assemble(listen, count, &held, old)
    }

    /// Every socket the workers serve, each once: (address, UDP socket,
    /// TCP listener), in worker order (for a handover to a new process).
    pub fn sockets(&self) -> Vec<(SocketAddr, &std::net::UdpSocket, &std::net::TcpListener)> {
        self.held
            .iter()
            .flat_map(|h| h.udp.iter().zip(h.tcp.iter()))
            .map(|((a, u), (_, t))| (*a, u, t))
            .collect()
    }

    /// Stops reading new messages, answers what the sockets already hold,
    /// lets replies in flight finish (up to [`super::DRAIN`]), closes the
    /// sockets and joins the threads.
    pub fn stop(self) {
        for tx in &self.changes {
            let _ = tx.send(Change::Stop);
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// A worker's sockets, one UDP socket and one TCP listener per address
/// (after a reload that lowered the number of workers, some more: see
/// [`Workers::rebind`]).
#[derive(Default)]
pub(super) struct Sockets {
    pub(super) udp: Vec<(SocketAddr, std::net::UdpSocket)>,
    tcp: Vec<(SocketAddr, std::net::TcpListener)>,
}

impl Sockets {
    /// Duplicated descriptors of the same sockets.
    fn duplicate(&self) -> std::io::Result<Sockets> {
        Ok(Sockets {
            udp: self
                .udp
                .iter()
                .map(|(a, s)| Ok((*a, s.try_clone()?)))
                .collect::<std::io::Result<_>>()?,
            tcp: self
                .tcp
                .iter()
                .map(|(a, s)| Ok((*a, s.try_clone()?)))
                .collect::<std::io::Result<_>>()?,
        })
    }
}

/// Every listener's sockets, once per worker, bound and listening but not
/// served yet: bind errors come back before anything serves, and the caller
/// can announce the server before the first query is answered.
pub struct Bound {
    pub(super) per_worker: Vec<Sockets>,
    pub(super) listen: Vec<Listen>,
    io: Io,
}

/// `held` are addresses this process already serves (a reload): they are
/// not checked for other owners.
pub fn bind(listen: &[Listen], workers: usize, held: &[SocketAddr]) -> Result<Bound, RuntimeError> {
    assemble(listen, workers, held, |_| Vec::new())
}

/// Sockets another process handed over (see `Workers::sockets`) or
/// systemd passed (socket activation), by address: a listener among them
/// is served with them (no new socket is bound, nothing queued on them is
/// lost); the others get new ones.
#[derive(Default)]
pub struct Inherited {
    pub sockets: Vec<(SocketAddr, std::net::UdpSocket, std::net::TcpListener)>,
    /// Addresses whose sockets no new one may join (passed without
    /// SO_REUSEPORT): every worker serves those same sockets.
    pub shared: Vec<SocketAddr>,
}

impl Inherited {
    /// The addresses it has sockets for.
    pub fn addrs(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.sockets.iter().map(|(a, _, _)| *a)
    }
}

/// [`bind`], serving the listeners `inherited` has with its sockets.
pub fn bind_inherited(
    listen: &[Listen],
    workers: usize,
    inherited: &Inherited,
) -> Result<Bound, RuntimeError> {
    let held: Vec<SocketAddr> = inherited.addrs().collect();
    assemble(listen, workers, &held, |addr| {
        let taken: Vec<_> = inherited
            .sockets
            .iter()
            .filter(|(a, _, _)| *a == addr)
            .map(|(_, u, t)| (u, t))
            .collect();
        // Shared: as many as the workers, each the same sockets.
        match taken.first() {
            Some(&first) if inherited.shared.contains(&addr) => vec![first; workers.max(1)],
            _ => taken,
        }
    })
}

/// Sockets for `count` workers serving `listen`: for each listener, worker
/// j takes (a duplicate of) the k-th socket `taken` gives for it where
/// k % count == j, the first ones one per worker, then the extra ones after
/// the worker's first socket of every listener; workers past them get new
/// sockets. Addresses not in `held` are first checked for other owners.
fn assemble<'a>(
    listen: &[Listen],
    count: usize,
    held: &[SocketAddr],
    taken: impl Fn(SocketAddr) -> Vec<(&'a std::net::UdpSocket, &'a std::net::TcpListener)>,
) -> Result<Bound, RuntimeError> {
    let count = count.max(1);
    for addr in listen.iter().map(|l| l.addr).filter(|a| !held.contains(a)) {
        sockets::probe_free(addr).map_err(|source| RuntimeError::InUse { addr, source })?;
    }
    let mut per_worker: Vec<Sockets> = (0..count).map(|_| Sockets::default()).collect();
    let mut extra: Vec<Sockets> = (0..count).map(|_| Sockets::default()).collect();
    for l in listen {
        let addr = l.addr;
        let taken = taken(addr);
        for j in 0..count.max(taken.len()) {
            let (udp, tcp) = match taken.get(j) {
                Some((u, t)) => (u.try_clone(), t.try_clone()),
                None => (sockets::udp(addr), sockets::tcp(addr)),
            };
            let udp = udp.map_err(|source| RuntimeError::Udp { addr, source })?;
            let tcp = tcp.map_err(|source| RuntimeError::Tcp { addr, source })?;
            let to = if j < count {
                &mut per_worker[j]
            } else {
                &mut extra[j % count]
            };
            to.udp.push((addr, udp));
            to.tcp.push((addr, tcp));
        }
    }
    for (w, e) in per_worker.iter_mut().zip(extra) {
        w.udp.extend(e.udp);
        w.tcp.extend(e.tcp);
    }
    Ok(Bound {
        per_worker,
        listen: listen.to_vec(),
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
    /// worker's handler on its own thread, once: a worker lets go of it
    /// then, so what it holds (the first configuration) lives no longer
    /// than the handlers keep it.
    pub fn start<H, F>(self, make: F) -> Result<Workers<H::Update>, RuntimeError>
    where
        H: PacketHandler + 'static,
        F: Fn(usize) -> H + Send + Sync + 'static,
    {
        let cores = core_affinity::get_core_ids().unwrap_or_default();
        let make = Arc::new(make);
        let mut threads = Vec::with_capacity(self.per_worker.len());
        let mut changes = Vec::with_capacity(self.per_worker.len());
        let io = self.io;
        let mut held = Vec::with_capacity(self.per_worker.len());
        let beats: Arc<[AtomicU64]> = (0..self.per_worker.len())
            .map(|_| AtomicU64::new(0))
            .collect();
        for (index, socks) in self.per_worker.into_iter().enumerate() {
            held.push(
                socks
                    .duplicate()
                    .map_err(|source| RuntimeError::Thread { index, source })?,
            );
            let core = cores.get(index % cores.len().max(1)).copied();
            let make = Arc::clone(&make);
            let (tx, rx) = mpsc::unbounded_channel();
            let listen = self.listen.clone();
            let beats = Arc::clone(&beats);
            let t = std::thread::Builder::new()
                .name(format!("ferrodns-w{index}"))
                .spawn(move || {
                    if let Some(c) = core {
                        core_affinity::set_for_current(c);
                    }
                    // Moved into the call so the worker drops its `make`
                    // once the handler is built, not when the thread ends.
                    run(index, &listen, socks, io, move |i| make(i), rx, beats);
                })
                .map_err(|source| RuntimeError::Thread { index, source })?;
            threads.push(t);
            changes.push(tx);
        }
        Ok(Workers {
            threads,
            changes,
            held,
            beats,
        })
    }
}

/// A listener as one worker serves it. Its tasks (the UDP loop, the TCP
/// accept loop, each TCP connection) share it: the listener's index in the
/// current configuration (it changes when a reload adds or removes other
/// listeners), its TCP timeouts, and whether it is closing.
pub(super) struct Slot {
    addr: SocketAddr,
    index: Cell<usize>,
    timeouts: Cell<TcpTimeouts>,
    /// `Listen::udp_reply_bound`.
    reply_bound: Cell<Option<usize>>,
    closing: Cell<bool>,
    close: tokio::sync::Notify,
    /// Tasks still serving this listener.
    tasks: Cell<usize>,
    finished: tokio::sync::Notify,
}

impl Slot {
    fn new(l: &Listen, index: usize) -> Rc<Slot> {
        Rc::new(Slot {
            addr: l.addr,
            index: Cell::new(index),
            timeouts: Cell::new(l.tcp),
            reply_bound: Cell::new(l.udp_reply_bound),
            closing: Cell::new(false),
            close: tokio::sync::Notify::new(),
            tasks: Cell::new(0),
            finished: tokio::sync::Notify::new(),
        })
    }

    /// The listener's index in the configuration the worker serves.
    pub(super) fn index(&self) -> usize {
        self.index.get()
    }

    /// The most replies each UDP socket holds waiting to be sent.
    pub(super) fn reply_bound(&self) -> Option<usize> {
        self.reply_bound.get()
    }

    pub(super) fn is_closing(&self) -> bool {
        self.closing.get()
    }

    /// Resolves once the listener is closing; its tasks then answer what
    /// they have read and end.
    pub(super) async fn closing(&self) {
        while !self.closing.get() {
            self.close.notified().await;
        }
    }

    fn close(&self) {
        self.closing.set(true);
        self.close.notify_waiters();
    }

    /// Resolves once every task of the listener has ended.
    async fn finished(&self) {
        while self.tasks.get() > 0 {
            self.finished.notified().await;
        }
    }

    /// Counts a task serving this listener until the guard drops.
    pub(super) fn task(self: &Rc<Self>) -> SlotTask {
        self.tasks.set(self.tasks.get() + 1);
        SlotTask(Rc::clone(self))
    }
}

/// A task serving a listener (see [`Slot::task`]).
pub(super) struct SlotTask(Rc<Slot>);

impl Drop for SlotTask {
    fn drop(&mut self) {
        let s = &self.0;
        s.tasks.set(s.tasks.get() - 1);
        if s.tasks.get() == 0 {
            s.finished.notify_waiters();
        }
    }
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

/// What every task of a worker shares.
struct Ctx<H> {
    index: usize,
    io: Io,
    handler: Rc<RefCell<H>>,
    in_flight: InFlight,
}

impl<H: PacketHandler + 'static> Ctx<H> {
    /// Starts serving `socks` as listeners of `listen` (by address).
    fn serve(&self, listen: &[Listen], socks: Sockets, slots: &mut Vec<Rc<Slot>>) {
        let slot_for = |addr: SocketAddr, slots: &mut Vec<Rc<Slot>>| {
            if let Some(s) = slots.iter().find(|s| s.addr == addr) {
                return Some(Rc::clone(s));
            }
            let i = listen.iter().position(|l| l.addr == addr)?;
            let s = Slot::new(&listen[i], i);
            slots.push(Rc::clone(&s));
            Some(s)
        };
        for (addr, sock) in socks.udp {
            let Some(slot) = slot_for(addr, slots) else {
                continue;
            };
            let ring = match self.io {
                Io::Mmsg => None,
                Io::Uring => match super::uring::ring() {
                    Ok(r) => Some(r),
                    Err(e) => {
                        crate::log::warning(
                            None,
                            &format!(
                                "worker {}: io_uring unavailable ({e}); using recvmmsg",
                                self.index
                            ),
                        );
                        None
                    }
                },
            };
            let (h, f) = (Rc::clone(&self.handler), Rc::clone(&self.in_flight));
            let task = slot.task();
            match ring {
                Some(r) => tokio::task::spawn_local(async move {
                    let _task = task;
                    super::uring::udp_loop(&slot, sock, r, h, f).await
                }),
                None => tokio::task::spawn_local(async move {
                    let _task = task;
                    super::mmsg::udp_loop(&slot, sock, h, f).await
                }),
            };
        }
        for (addr, sock) in socks.tcp {
            let Some(slot) = slot_for(addr, slots) else {
                continue;
            };
            match TcpListener::from_std(sock) {
                Ok(l) => {
                    let task = slot.task();
                    let (h, f) = (Rc::clone(&self.handler), Rc::clone(&self.in_flight));
                    tokio::task::spawn_local(async move {
                        let _task = task;
                        tcp_accept(slot, l, h, f).await
                    });
                }
                Err(e) => {
                    crate::log::error(None, &format!("worker {}: tcp socket: {e}", self.index))
                }
            }
        }
    }
}

/// Closes `slots` and waits until their tasks have answered what they read
/// and ended.
async fn close(slots: &[Rc<Slot>]) {
    for s in slots {
        s.close();
    }
    for s in slots {
        s.finished().await;
    }
}

fn run<H: PacketHandler + 'static>(
    index: usize,
    listen: &[Listen],
    socks: Sockets,
    io: Io,
    make: impl FnOnce(usize) -> H,
    mut changes: mpsc::UnboundedReceiver<Change<H::Update>>,
    beats: Arc<[AtomicU64]>,
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
    let ctx = Ctx {
        index,
        io,
        handler: Rc::new(RefCell::new(make(index))),
        in_flight: Rc::new(Waiting::default()),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        if let Some(b) = ctx.handler.borrow().background() {
            tokio::task::spawn_local(b);
        }
        tokio::task::spawn_local(async move {
            let mut tick = tokio::time::interval(BEAT);
            loop {
                tick.tick().await;
                beats[index].fetch_add(1, Relaxed);
            }
        });
        let mut slots = Vec::new();
        ctx.serve(listen, socks, &mut slots);
        while let Some(Change::Update {
            update,
            listen,
            added,
        }) = changes.recv().await
        {
            // Listeners no longer served answer what they hold with the
            // configuration they were served with, then close.
            let (kept, gone): (Vec<_>, Vec<_>) = slots
                .drain(..)
                .partition(|s| listen.iter().any(|l| l.addr == s.addr));
            close(&gone).await;
            slots = kept;
            for s in &slots {
                if let Some(i) = listen.iter().position(|l| l.addr == s.addr) {
                    s.index.set(i);
                    s.timeouts.set(listen[i].tcp);
                    s.reply_bound.set(listen[i].udp_reply_bound);
                }
            }
            ctx.handler.borrow_mut().update(update);
            ctx.serve(&listen, added, &mut slots);
        }
        // Stop reading; what the sockets hold is answered, and replies
        // already being worked on still go out.
        close(&slots).await;
        let deadline = tokio::time::Instant::now() + super::DRAIN;
        while ctx.in_flight.get() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
}

/// Replies to UDP queries that waited on an upstream: pushed by the tasks
/// that waited, sent by the socket's loop with sendmmsg in one call per
/// round; once the loop has stopped (the worker drains), sent at once.
///
/// With a bound (the listener's `udp_reply_bound`) it holds at most that
/// many: a reply pushed onto a full queue drops the oldest, and the queue
/// is sent newest first, so what the kernel refuses under load is the
/// stalest. Whatever it drops, and what the kernel refuses of the socket's
/// other sends, is counted for the handler ([`report_dropped`]).
pub(super) struct Outbox {
    /// The socket, kept open while replies may still come.
    socket: Rc<dyn AsFd>,
    queue: RefCell<VecDeque<(Vec<u8>, SocketAddr)>>,
    sender: RefCell<mmsg::Sender>,
    wake: tokio::sync::Notify,
    /// The socket's loop runs (and will flush).
    open: Cell<bool>,
    bound: Cell<Option<usize>>,
    /// Replies dropped unsent since the handler was last told.
    dropped: Cell<usize>,
}

/// Most replies one sendmmsg call takes from the outbox.
const OUTBOX_BATCH: usize = 64;

impl Outbox {
    /// For `socket`.
    pub(super) fn new(socket: Rc<dyn AsFd>) -> Rc<Outbox> {
        Rc::new(Outbox {
            socket,
            queue: RefCell::new(VecDeque::new()),
            sender: RefCell::new(mmsg::Sender::new(OUTBOX_BATCH)),
            wake: tokio::sync::Notify::new(),
            open: Cell::new(true),
            bound: Cell::new(None),
            dropped: Cell::new(0),
        })
    }

    /// Takes the listener's bound (it may change with a reload).
    pub(super) fn set_bound(&self, bound: Option<usize>) {
        self.bound.set(bound);
    }

    /// It holds as many replies as its bound allows.
    pub(super) fn full(&self) -> bool {
        self.bound
            .get()
            .is_some_and(|b| self.queue.borrow().len() >= b)
    }

    /// Counts `n` replies of the socket dropped unsent.
    pub(super) fn count_dropped(&self, n: usize) {
        self.dropped.set(self.dropped.get() + n);
    }

    /// The socket the replies go out on.
    pub(super) fn socket(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    pub(super) fn push(&self, reply: Vec<u8>, to: SocketAddr) {
        {
            let mut q = self.queue.borrow_mut();
            if let Some(b) = self.bound.get() {
                while q.len() >= b.max(1) {
                    q.pop_front();
                    self.count_dropped(1);
                }
            }
            q.push_back((reply, to));
        }
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
        if q.is_empty() {
            return;
        }
        let mut sender = self.sender.borrow_mut();
        let sent = if self.bound.get().is_some() {
            let replies = q.iter().rev().map(|(r, to)| (&r[..], *to));
            sender.send(self.socket(), replies)
        } else {
            let replies = q.iter().map(|(r, to)| (&r[..], *to));
            sender.send(self.socket(), replies)
        };
        self.count_dropped(q.len() - sent.unwrap_or(0));
        q.clear();
    }
}

/// Tells the handler of the replies `outbox` dropped since it last did (for
/// `listener`); should the handler be busy, they wait for the next time.
pub(super) fn report_dropped<H: PacketHandler>(
    outbox: &Outbox,
    listener: usize,
    handler: &RefCell<H>,
) {
    let n = outbox.dropped.take();
    if n == 0 {
        return;
    }
    match handler.try_borrow_mut() {
        Ok(mut h) => h.replies_dropped(listener, n),
        Err(_) => outbox.count_dropped(n),
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
    slot: Rc<Slot>,
    l: TcpListener,
    handler: Rc<RefCell<H>>,
    in_flight: InFlight,
) {
    loop {
        let accepted = tokio::select! {
            a = l.accept() => a,
            _ = slot.closing() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let conn = tcp_conn(
                    slot.task(),
                    stream,
                    unmap(peer),
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

/// Reads one length-prefixed message into `buf`: false when the client
/// closed, sent a broken frame or did not send the whole message (length
/// and body) within `wait`, one deadline for both as miekg's `readTCP` has:
/// a client sending a byte at a time holds a connection no longer than
/// that. Public, and generic over the reader, for the tcp_framing fuzz
/// target.
pub async fn read_framed<R: tokio::io::AsyncRead + Unpin>(
    rd: &mut R,
    buf: &mut Vec<u8>,
    wait: Duration,
) -> bool {
    let read = async {
        let mut len = [0u8; 2];
        rd.read_exact(&mut len).await?;
        buf.resize(usize::from(u16::from_be_bytes(len)), 0);
        rd.read_exact(buf).await
    };
    matches!(tokio::time::timeout(wait, read).await, Ok(Ok(_)))
}

/// Length-prefixed messages until the client closes, sends a broken frame,
/// stays idle too long or the listener closes (a message not yet read
/// whole is then dropped with the connection). Replies that must wait are
/// written when ready, so they may overtake each other (RFC 7766 allows
/// it).
async fn tcp_conn<H: PacketHandler>(
    task: SlotTask,
    s: TcpStream,
    peer: SocketAddr,
    in_flight: InFlight,
    handler: Rc<RefCell<H>>,
) {
    let slot = &task.0;
    let _ = s.set_nodelay(true);
    let local = s
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let (mut rd, wr) = s.into_split();
    let wr = Rc::new(tokio::sync::Mutex::new(wr));
    let mut buf = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(4096);
    let mut first = true;
    let mut served: u32 = 0;
    loop {
        let timeouts = slot.timeouts.get();
        // `maxtcpqueries`: the connection closes once that many were read
        // (replies still on their way go out first).
        if timeouts.max_queries.is_some_and(|m| served >= m) {
            return;
        }
        served = served.saturating_add(1);
        let wait = if first { timeouts.read } else { timeouts.idle };
        first = false;
        let read = tokio::select! {
            r = read_framed(&mut rd, &mut buf, wait) => r,
            _ = slot.closing() => false,
        };
        if !read {
            return;
        }
        let p = Packet {
            listener: slot.index(),
            data: &buf,
            src: peer,
            local,
            tcp: true,
            at: std::time::Instant::now(),
            backlogged: false,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    struct Counted(Vec<(usize, usize)>);

    impl PacketHandler for Counted {
        type Update = ();
        fn handle(&mut self, _p: &Packet<'_>, _out: &mut Vec<u8>) -> Handled {
            Handled::Drop
        }
        fn update(&mut self, _u: ()) {}
        fn replies_dropped(&mut self, listener: usize, n: usize) {
            self.0.push((listener, n));
        }
    }

    /// A bounded outbox keeps the newest replies, sends them newest first
    /// and counts what it dropped for the handler; unbounded, it keeps
    /// everything in order.
    #[test]
    fn a_bounded_outbox_drops_the_oldest() {
        let server = Rc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let to = client.local_addr().unwrap();
        let outbox = Outbox::new(server as Rc<dyn AsFd>);
        let handler = RefCell::new(Counted(Vec::new()));
        outbox.set_bound(Some(3));
        for i in 0..5u8 {
            assert_eq!(outbox.full(), i >= 3);
            outbox.push(vec![i], to);
        }
        assert!(outbox.full());
        outbox.flush();
        assert!(!outbox.full());
        report_dropped(&outbox, 4, &handler);
        assert_eq!(handler.borrow().0, [(4, 2)]);
        let mut got = Vec::new();
        let mut buf = [0u8; 8];
        for _ in 0..3 {
            let (n, _) = client.recv_from(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, [4, 3, 2]);
        // Nothing more dropped: nothing reported.
        report_dropped(&outbox, 4, &handler);
        assert_eq!(handler.borrow().0.len(), 1);
        outbox.set_bound(None);
        for i in 0..5u8 {
            outbox.push(vec![i], to);
        }
        assert!(!outbox.full());
        outbox.flush();
        got.clear();
        for _ in 0..5 {
            let (n, _) = client.recv_from(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, [0, 1, 2, 3, 4]);
    }
}
