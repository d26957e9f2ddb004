//! Batched UDP: recvmmsg reads up to [`BATCH`] datagrams per system call,
//! every one is answered, and sendmmsg sends the replies in one call.
//! Buffers are allocated once per socket and reused.

use super::worker::{send_all, CloseOutbox, Outbox, Slot};
use super::{spawn_later, unmap, Handled, InFlight, Packet, PacketHandler};
use socket2::SockAddrStorage;
use std::cell::RefCell;
use std::io;
use std::mem::MaybeUninit;
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
/// Buffers start a cache line past each 4 KiB: at a 4 KiB stride the head
/// of every datagram (all that is read) lands in the same L1 set.
const STRIDE: usize = RECV_SIZE + 64;

struct Slots {
    bufs: Vec<u8>,
    /// The senders' addresses, as recvmmsg wrote them; replies go back to
    /// them from where they are.
    names: Vec<SockAddrStorage>,
    namelens: Vec<libc::socklen_t>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
    outs: Vec<Vec<u8>>,
    /// Which replies go out in this round.
    send: Vec<usize>,
}

impl Slots {
    fn new() -> Self {
        Slots {
            bufs: vec![0u8; BATCH * STRIDE],
            names: (0..BATCH).map(|_| SockAddrStorage::zeroed()).collect(),
            iovs: Vec::with_capacity(BATCH),
            // SAFETY: mmsghdr is plain old data; all zeroes is valid.
            hdrs: vec![unsafe { MaybeUninit::<libc::mmsghdr>::zeroed().assume_init() }; BATCH],
            namelens: vec![0; BATCH],
            outs: (0..BATCH).map(|_| Vec::with_capacity(1024)).collect(),
            send: Vec::with_capacity(BATCH),
        }
    }

    /// Points every header at its buffer and address slot.
    fn arm_recv(&mut self) {
        self.iovs.clear();
        for i in 0..BATCH {
            self.iovs.push(libc::iovec {
                iov_base: self.bufs[i * STRIDE..].as_mut_ptr().cast(),
                iov_len: RECV_SIZE,
            });
        }
        for i in 0..BATCH {
            let h = &mut self.hdrs[i];
            h.msg_hdr.msg_name = (&mut self.names[i] as *mut SockAddrStorage).cast();
            h.msg_hdr.msg_namelen = self.names[i].size_of();
            h.msg_hdr.msg_iov = &mut self.iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = std::ptr::null_mut();
            h.msg_hdr.msg_controllen = 0;
            h.msg_hdr.msg_flags = 0;
            h.msg_len = 0;
        }
    }
}

/// The address recvmmsg wrote into `name` (`len` bytes), read in place.
fn peer(name: &SockAddrStorage, len: libc::socklen_t) -> Option<SocketAddr> {
    let p = (name as *const SockAddrStorage).cast::<libc::sockaddr>();
    let len = len as usize;
    // SAFETY: the storage is large and aligned enough for any sockaddr; the
    // family says which one the kernel wrote, and `len` that it is whole.
    unsafe {
        match i32::from((*p).sa_family) {
            libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
                let a = &*p.cast::<libc::sockaddr_in>();
                let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let a = &*p.cast::<libc::sockaddr_in6>();
                let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                    ip,
                    u16::from_be(a.sin6_port),
                    a.sin6_flowinfo,
                    a.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

fn recvmmsg(fd: i32, s: &mut Slots) -> io::Result<usize> {
    s.arm_recv();
    // SAFETY: every header points into buffers owned by `s` that outlive the
    // call, with the lengths set by arm_recv.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            s.hdrs.as_mut_ptr(),
            BATCH as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Sends `s.outs[i]` back to `s.names[i]` for each `i` in `s.send`. A reply
/// the kernel will not take right now (EAGAIN) is dropped, as a full socket
/// buffer drops datagrams anyway.
fn sendmmsg(fd: i32, s: &mut Slots) {
    let n = s.send.len();
    s.iovs.clear();
    for &i in &s.send {
        s.iovs.push(libc::iovec {
            iov_base: s.outs[i].as_mut_ptr().cast(),
            iov_len: s.outs[i].len(),
        });
    }
    for (k, &i) in s.send.iter().enumerate() {
        let h = &mut s.hdrs[k];
        h.msg_hdr.msg_name = (&mut s.names[i] as *mut SockAddrStorage).cast();
        h.msg_hdr.msg_namelen = s.namelens[i];
        h.msg_hdr.msg_iov = &mut s.iovs[k];
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_control = std::ptr::null_mut();
        h.msg_hdr.msg_controllen = 0;
        h.msg_hdr.msg_flags = 0;
    }
    // SAFETY: headers `..n` point at reply buffers and addresses owned by
    // `s`, which outlive the call.
    unsafe { send_all(fd, &mut s.hdrs[..n]) };
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
    let outbox = Outbox::new(fd, Rc::clone(&sock) as Rc<dyn std::any::Any>);
    let mut b = Batch::new(fd, local, outbox);
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
                continue;
            };
            let Ok(mut guard) = ready else {
                return;
            };
            // Too many replies waiting on upstreams: read on once some are done.
            in_flight.room(&b.outbox).await;
            // A few batches at a time, then the worker's other tasks (TCP,
            // replies waiting on upstreams, reloads) get their turn.
            let mut full = 0;
            let mut drained = false;
            for _ in 0..ROUND {
                match b.read(slot.index(), &handler, &in_flight) {
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
            for _ in 0..ROUND {
                match b.read(slot.index(), &handler, &in_flight) {
                    Read::Some {
                        full: true,
                        waiting: false,
                    } => {}
                    _ => continue 'serve,
                }
            }
        }
    }
    b.answer_held(slot.index(), &handler, &in_flight);
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
    fd: i32,
    local: SocketAddr,
    slots: Slots,
    outbox: Rc<Outbox>,
}

impl Batch {
    /// For the socket `fd` (bound to `local`), whose outbox is `outbox`.
    pub(super) fn new(fd: i32, local: SocketAddr, outbox: Rc<Outbox>) -> Batch {
        Batch {
            fd,
            local,
            slots: Slots::new(),
            outbox,
        }
    }

    /// Reads one batch, answers it and sends the replies.
    fn read<H: PacketHandler>(
        &mut self,
        listener: usize,
        handler: &RefCell<H>,
        in_flight: &InFlight,
    ) -> Read {
        let s = &mut self.slots;
        let n = match recvmmsg(self.fd, s) {
            Ok(n) if n > 0 => n,
            // ICMP errors from earlier sends surface here; keep serving.
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => {
                return Read::Some {
                    waiting: false,
                    full: false,
                }
            }
            _ => return Read::Empty,
        };
        let mut waiting = false;
        let at = std::time::Instant::now();
        s.send.clear();
        for i in 0..n {
            let len = (s.hdrs[i].msg_len as usize).min(RECV_SIZE);
            s.namelens[i] = s.hdrs[i].msg_hdr.msg_namelen;
            let Some(src) = peer(&s.names[i], s.namelens[i]) else {
                continue;
            };
            let p = Packet {
                listener,
                data: &s.bufs[i * STRIDE..i * STRIDE + len],
                src: unmap(src),
                local: self.local,
                tcp: false,
                at,
            };
            let handled = handler.borrow_mut().handle(&p, &mut s.outs[i]);
            match handled {
                Handled::Reply => s.send.push(i),
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
        if !s.send.is_empty() {
            sendmmsg(self.fd, s);
        }
        self.outbox.flush();
        Read::Some {
            waiting,
            full: n == BATCH,
        }
    }

    /// Answers what the socket holds now (a closing listener), up to
    /// [`CLOSING_BATCHES`] batches.
    pub(super) fn answer_held<H: PacketHandler>(
        &mut self,
        listener: usize,
        handler: &RefCell<H>,
        in_flight: &InFlight,
    ) {
        for _ in 0..CLOSING_BATCHES {
            if let Read::Empty = self.read(listener, handler, in_flight) {
                return;
            }
        }
    }
}
