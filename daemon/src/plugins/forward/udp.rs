//! UDP exchanges with an upstream, many at once on one connected socket per
//! worker and upstream, told apart by query ID (as dnsdist does): one task
//! per socket reads the replies in batches (recvmmsg) and hands each to the
//! exchange waiting on its ID, once its question matches too. A reply whose
//! ID no exchange waits on, or whose question is another, is counted and
//! dropped.
//!
//! Against spoofed replies: the socket is connected (the kernel drops what
//! does not come from the upstream's address and port), every exchange has
//! a random ID no other exchange on the socket holds, the question must
//! match, and the socket (so the source port) changes every [`USES`]
//! exchanges; the old one lives on until its last exchange is over.

use crate::hash::MixMap;
use crate::sys::mmsg::Batch;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Exchanges one socket carries before a new socket (on a new random port)
/// takes over for the next ones.
pub const USES: u32 = 128;
/// Datagrams one recvmmsg call reads.
const BATCH: usize = 32;
/// The largest datagram read whole; a longer one is marked cut (a reply
/// larger than the client takes is cut to a bare TC reply anyway).
const MAX_REPLY: usize = 4096;

thread_local! {
    /// The receive buffers of every reader on this worker: a reader holds
    /// them only between two awaits, so one set serves all the sockets (a
    /// socket lasts 128 exchanges; its own set would be 128 KiB each time).
    static BUFS: RefCell<Batch> = RefCell::new(Batch::new(BATCH, MAX_REPLY));
}

/// What an exchange is waiting for.
struct Waiter {
    /// The question sent: lowercased wire name, type, class.
    question: Option<super::exchange::Question>,
    reply: Option<io::Result<Reply>>,
    waker: Option<Waker>,
}

/// A reply as read: its bytes, and whether it was longer than those.
pub struct Reply {
    pub bytes: Vec<u8>,
    pub cut: bool,
}

/// One connected socket and the exchanges waiting on it.
pub struct Mux {
    sock: UdpSocket,
    waiting: RefCell<MixMap<u16, Waiter>>,
    uses: Cell<u32>,
    last_used: Cell<Instant>,
    /// No new exchanges: the reader ends once the last one is over.
    retired: Cell<bool>,
    /// Wakes the reader when it should look at `retired` again.
    wake_reader: tokio::sync::Notify,
    /// Replies dropped, by reason, for the caller's metrics.
    dropped: Cell<(u64, u64)>,
}

impl Mux {
    /// Wraps a connected socket and starts its reader on this worker.
    pub fn start(sock: UdpSocket) -> Rc<Mux> {
        let m = Rc::new(Mux {
            sock,
            waiting: RefCell::new(MixMap::default()),
            uses: Cell::new(0),
            last_used: Cell::new(Instant::now()),
            retired: Cell::new(false),
            wake_reader: tokio::sync::Notify::new(),
            dropped: Cell::new((0, 0)),
        });
        tokio::task::spawn_local(read_replies(Rc::clone(&m)));
        m
    }

    pub fn local_addr(&self) -> Option<std::net::SocketAddr> {
        self.sock.local_addr().ok()
    }

    /// Whether a new exchange may use this socket.
    pub fn usable(&self, expire: Duration) -> bool {
        !self.retired.get() && self.uses.get() < USES && self.last_used.get().elapsed() <= expire
    }

    /// No new exchanges from now on.
    pub fn retire(&self) {
        self.retired.set(true);
        self.wake_reader.notify_one();
    }

    /// Replies dropped since the last call: (wrong ID, wrong question).
    pub fn take_dropped(&self) -> (u64, u64) {
        self.dropped.replace((0, 0))
    }

    /// Registers an exchange for `question` under a random ID no other
    /// exchange holds; sending the query is the caller's.
    pub fn register(self: &Rc<Self>, question: Option<super::exchange::Question>) -> Pending {
        let mut w = self.waiting.borrow_mut();
        let id = loop {
            let id: u16 = rand::random();
            if !w.contains_key(&id) {
                break id;
            }
        };
        w.insert(
            id,
            Waiter {
                question,
                reply: None,
                waker: None,
            },
        );
        self.uses.set(self.uses.get() + 1);
        self.last_used.set(Instant::now());
        if self.uses.get() >= USES {
            self.retired.set(true);
        }
        Pending {
            mux: Rc::clone(self),
            id,
        }
    }

    pub async fn send(&self, wire: &[u8]) -> io::Result<()> {
        let r = self.sock.send(wire).await.map(drop);
        // A pending ICMP error is reported to whichever call comes first,
        // a send too: the exchanges already waiting fail with it as well.
        if let Err(e) = &r {
            if e.kind() == io::ErrorKind::ConnectionRefused {
                self.fail_all(e);
            }
        }
        r
    }

    /// Hands every datagram of `read` to its exchange.
    fn deliver(&self, read: &Batch) {
        let mut waiting = self.waiting.borrow_mut();
        let (mut bad_id, mut bad_q) = self.dropped.get();
        for i in 0..read.len() {
            let got = read.datagram(i);
            if got.len() < 12 {
                continue;
            }
            let id = u16::from_be_bytes([got[0], got[1]]);
            let Some(w) = waiting.get_mut(&id).filter(|w| w.reply.is_none()) else {
                bad_id += 1;
                continue;
            };
            if !super::exchange::same_question(got, &w.question) {
                bad_q += 1;
                continue;
            }
            w.reply = Some(Ok(Reply {
                bytes: got.to_vec(),
                cut: read.truncated(i),
            }));
            if let Some(k) = w.waker.take() {
                k.wake();
            }
        }
        self.dropped.set((bad_id, bad_q));
    }

    /// A receive error (an ICMP error from the upstream): every exchange
    /// waiting on the socket fails with it.
    fn fail_all(&self, e: &io::Error) {
        for w in self.waiting.borrow_mut().values_mut() {
            if w.reply.is_none() {
                w.reply = Some(Err(io::Error::new(e.kind(), e.to_string())));
                if let Some(k) = w.waker.take() {
                    k.wake();
                }
            }
        }
    }

    fn done(&self) -> bool {
        self.retired.get() && self.waiting.borrow().is_empty()
    }
}

/// One exchange's wait for its reply; dropping it (a timeout) withdraws it,
/// so a late reply is dropped as one nobody waits for.
pub struct Pending {
    mux: Rc<Mux>,
    pub id: u16,
}

impl Future for Pending {
    type Output = io::Result<Reply>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut waiting = self.mux.waiting.borrow_mut();
        let Some(w) = waiting.get_mut(&self.id) else {
            return Poll::Ready(Err(io::ErrorKind::NotConnected.into()));
        };
        match w.reply.take() {
            Some(r) => Poll::Ready(r),
            None => {
                w.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.mux.waiting.borrow_mut().remove(&self.id);
        if self.mux.done() {
            self.mux.wake_reader.notify_one();
        }
    }
}

/// Reads replies until the socket is retired and its last exchange over.
async fn read_replies(m: Rc<Mux>) {
    while !m.done() {
        // Errors too: an ICMP error from the upstream (connection refused)
        // is an error on the socket, not a datagram to read.
        tokio::select! {
            r = m.sock.ready(Interest::READABLE | Interest::ERROR) => {
                if let Err(e) = r {
                    // Nothing reads this socket any more: no exchange
                    // may wait on it.
                    m.retire();
                    m.fail_all(&e);
                    return;
                }
            }
            _ = m.wake_reader.notified() => continue,
        }
        if let Ok(Some(e)) = m.sock.take_error() {
            m.fail_all(&e);
        }
        // The error is taken: wait for the next one (tokio keeps error
        // readiness until told).
        let _ = m.sock.try_io(Interest::ERROR, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
        BUFS.with_borrow_mut(|bufs| loop {
            let r = m.sock.try_io(Interest::READABLE, || {
                bufs.recv(m.sock.as_fd()).map_err(|e| e.source)
            });
            match r {
                Ok(0) => break,
                Ok(_) => m.deliver(bufs),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    m.fail_all(&e);
                    break;
                }
            }
        });
    }
}
