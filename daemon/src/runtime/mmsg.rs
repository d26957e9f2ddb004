//! The batched UDP loop: one recvmmsg reads up to [`BATCH`] datagrams
//! (a `sys::mmsg::Batch`), every one is answered, and sendmmsg sends the
//! replies in one call. Buffers are allocated once per socket and reused.

use super::worker::{report_dropped, CloseOutbox, Outbox, Slot};
use super::{spawn_later, unmap, Handled, InFlight, Packet, PacketHandler};
use crate::sys::mmsg;
use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Datagrams per recvmmsg/sendmmsg call.
pub const BATCH: usize = 64;
/// Larger queries are truncated by the kernel and fail to parse: DNS
/// queries over UDP are far smaller.
const RECV_SIZE: usize = 4096;

struct Slots {
    /// The datagrams read and their senders, to whom the replies go.
    batch: mmsg::Batch,
    outs: Vec<Vec<u8>>,
    /// Which replies go out in this round.
    send: Vec<usize>,
}

impl Slots {
    fn new() -> Self {
        Slots {
            batch: mmsg::Batch::new(BATCH, RECV_SIZE),
            outs: (0..BATCH).map(|_| Vec::with_capacity(1024)).collect(),
            send: Vec::with_capacity(BATCH),
        }
    }
}

/// How many batches a closing socket reads at most: what it holds when it
/// closes, not a flood that keeps coming.
const CLOSING_BATCHES: usize = 64;

/// Batches read in a row before the worker's other tasks get their turn.
const ROUND: usize = 8;

/// Serves one UDP socket until its listener closes; then answers the
/// datagrams the socket holds and returns.
///
/// While every read fills a whole batch, the socket is taken out of the
/// worker's epoll set: an epoll entry on a socket's wait queue is woken
/// for every reply buffer the kernel frees (its write space), which cost
/// about as much as the cache lookup of a hit. The loop then reads on
/// without waiting, yielding every [`ROUND`] batches, and puts the socket
/// back (epoll reports what arrived meanwhile) at the first batch that is
/// not full.
pub async fn udp_loop<H: PacketHandler>(
    slot: &Slot,
    sock: UdpSocket,
    handler: Rc<RefCell<H>>,
    in_flight: InFlight,
) {
    let local = sock
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let fd = sock.as_raw_fd();
    // Owns the socket: declared before the registrations, so it closes
    // after the last of them is dropped (deregistered).
    let sock = Rc::new(sock);
    let outbox = Outbox::new(Rc::clone(&sock) as Rc<dyn std::os::fd::AsFd>);
    let mut b = Batch::new(local, outbox);
    // Sends what is left in the outbox once this loop is over.
    let _close = CloseOutbox(Rc::clone(&b.outbox));
    'serve: loop {
        let Some(reg) = register(fd, local) else {
            return;
        };
        // Waiting on epoll.
        loop {
            let ready = tokio::select! {
                biased;
                _ = slot.closing() => break 'serve,
                r = reg.readable() => Some(r),
                _ = b.outbox.pushed() => None,
            };
            let Some(ready) = ready else {
                b.outbox.flush();
                report_dropped(&b.outbox, slot.index(), &handler);
                continue;
            };
            let Ok(mut guard) = ready else {
                return;
            };
            // Too many replies waiting on upstreams: read on once some are done.
            in_flight.room(&b.outbox).await;
            report_dropped(&b.outbox, slot.index(), &handler);
            // A few batches at a time, then the worker's other tasks (TCP,
            // replies waiting on upstreams, reloads) get their turn.
            let mut full = 0;
            let mut drained = false;
            for _ in 0..ROUND {
                match b.read(slot, &handler, &in_flight) {
                    // Queries that now wait on upstreams: their exchanges start
                    // when this loop yields, so it yields at the end of the batch.
                    Read::Some { waiting: true, .. } => break,
                    Read::Some { full: f, .. } => full += usize::from(f),
                    Read::Empty => {
                        // Readiness is only given up on EAGAIN: a datagram that
                        // came in after a read would otherwise wait for the next
                        // one's edge.
                        guard.clear_ready();
                        drained = true;
                        break;
                    }
                }
            }
            if full == ROUND {
                break;
            }
            if !drained {
                tokio::task::yield_now().await;
            }
        }
        // Reading without epoll while batches come full.
        drop(reg);
        loop {
            tokio::task::yield_now().await;
            if slot.is_closing() {
                break 'serve;
            }
            in_flight.room(&b.outbox).await;
            report_dropped(&b.outbox, slot.index(), &handler);
            for _ in 0..ROUND {
                match b.read(slot, &handler, &in_flight) {
                    Read::Some {
                        full: true,
                        waiting: false,
                    } => {}
                    _ => continue 'serve,
                }
            }
        }
    }
    b.answer_held(slot, &handler, &in_flight);
}

/// The socket `fd` in the worker's epoll set, for readiness to read.
fn register(fd: RawFd, local: SocketAddr) -> Option<AsyncFd<RawFd>> {
    // SAFETY: `udp_loop` owns the socket behind `fd` and drops every
    // registration before it closes it.
    match unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) } {
        Ok(r) => Some(r),
        Err(e) => {
            crate::log::error(None, &format!("udp {local}: {e}"));
            None
        }
    }
}

/// What one [`Batch::read`] found.
enum Read {
    /// Datagrams were answered (a whole batch of them: `full`); some now
    /// wait on upstreams.
    Some { waiting: bool, full: bool },
    /// Nothing to read (EAGAIN).
    Empty,
}

/// A socket's receive and send state.
pub(super) struct Batch {
    local: SocketAddr,
    slots: Slots,
    /// Its socket too: replies are read from and sent on the outbox's.
    outbox: Rc<Outbox>,
}

impl Batch {
    /// For the socket of `outbox`, bound to `local`.
    pub(super) fn new(local: SocketAddr, outbox: Rc<Outbox>) -> Batch {
        Batch {
            local,
            slots: Slots::new(),
            outbox,
        }
    }

    /// Reads one batch, answers it and sends the replies.
    fn read<H: PacketHandler>(
        &mut self,
        slot: &Slot,
        handler: &RefCell<H>,
        in_flight: &InFlight,
    ) -> Read {
        let listener = slot.index();
        self.outbox.set_bound(slot.reply_bound());
        let backlogged = self.outbox.full();
        let fd = self.outbox.socket();
        let Slots { batch, outs, send } = &mut self.slots;
        let n = match batch.recv(fd) {
            Ok(n) if n > 0 => n,
            // ICMP errors from earlier sends surface here; keep serving.
            Err(e) if e.source.kind() != io::ErrorKind::WouldBlock => {
                return Read::Some {
                    waiting: false,
                    full: false,
                }
            }
            _ => return Read::Empty,
        };
        let mut waiting = false;
        let at = std::time::Instant::now();
        send.clear();
        for (i, out) in outs.iter_mut().enumerate().take(n) {
            let Some(src) = batch.source(i) else {
                continue;
            };
            let p = Packet {
                listener,
                data: batch.datagram(i),
                src: unmap(src),
                local: self.local,
                tcp: false,
                at,
                backlogged,
            };
            let handled = handler.borrow_mut().handle(&p, out);
            match handled {
                Handled::Reply => send.push(i),
                Handled::Drop => {}
                Handled::Later(reply) => {
                    waiting = true;
                    let outbox = Rc::clone(&self.outbox);
                    spawn_later(in_flight, async move {
                        if let Some(r) = reply.await {
                            outbox.push(r, src);
                        }
                    });
                }
            }
        }
        if !send.is_empty() {
            // A reply the kernel will not take right now (EAGAIN) is
            // dropped, as a full socket buffer drops datagrams anyway.
            let sent = batch.send(fd, send.iter().map(|&i| (i, &outs[i][..])));
            self.outbox.count_dropped(send.len() - sent.unwrap_or(0));
        }
        self.outbox.flush();
        report_dropped(&self.outbox, listener, handler);
        Read::Some {
            waiting,
            full: n == BATCH,
        }
    }

    /// Answers what the socket holds now (a closing listener), up to
    /// [`CLOSING_BATCHES`] batches.
    pub(super) fn answer_held<H: PacketHandler>(
        &mut self,
        slot: &Slot,
        handler: &RefCell<H>,
        in_flight: &InFlight,
    ) {
        for _ in 0..CLOSING_BATCHES {
            if let Read::Empty = self.read(slot, handler, in_flight) {
                return;
            }
        }
    }
}
