//! UDP through io_uring: one ring per socket, a multishot RecvMsg reading
//! into a ring of provided buffers, replies sent with SendMsg in batches.
//! The ring is set up SINGLE_ISSUER + DEFER_TASKRUN (completions are only
//! processed when this thread asks), and its descriptor wakes the worker's
//! runtime, so replies that wait on upstreams run on the same thread.

use super::mmsg::Batch;
use super::worker::{CloseOutbox, Outbox, Slot};
use super::{spawn_later, unmap, Handled, InFlight, Packet, PacketHandler};
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use socket2::{SockAddr, SockAddrStorage};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::cell::RefCell;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicU16, Ordering};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// Provided receive buffers (a power of two).
const BUFFERS: u16 = 512;
/// The recvmsg header, the peer's address and the datagram.
const BUF_SIZE: usize = 4096 + 256;
const GROUP: u16 = 0;
const RECV: u64 = u64::MAX;
const CANCEL: u64 = u64::MAX - 1;
/// The longest an idle worker waits before looking at the ring again.
const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Whether this kernel gives us rings as we set them up (checked once per
/// socket; a refusal falls back to recvmmsg).
pub fn ring() -> io::Result<IoUring> {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(4096)
        .build(1024)
}

/// The provided-buffer ring: entries the kernel takes buffers from.
struct BufRing {
    entries: *mut types::BufRingEntry,
    layout: Layout,
    bufs: Vec<u8>,
    tail: u16,
}

impl BufRing {
    fn new() -> io::Result<BufRing> {
        let layout = Layout::from_size_align(
            usize::from(BUFFERS) * std::mem::size_of::<types::BufRingEntry>(),
            4096,
        )
        .map_err(io::Error::other)?;
        // SAFETY: the layout has a non-zero size.
        let entries = unsafe { alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
        if entries.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut r = BufRing {
            entries,
            layout,
            bufs: vec![0u8; usize::from(BUFFERS) * BUF_SIZE],
            tail: 0,
        };
        for bid in 0..BUFFERS {
            r.give(bid);
        }
        r.publish();
        Ok(r)
    }

    fn buf(&self, bid: u16) -> &[u8] {
        &self.bufs[usize::from(bid) * BUF_SIZE..(usize::from(bid) + 1) * BUF_SIZE]
    }

    /// Hands buffer `bid` back to the kernel (visible after `publish`).
    fn give(&mut self, bid: u16) {
        let i = usize::from(self.tail & (BUFFERS - 1));
        // SAFETY: `i` is below BUFFERS, within the allocation.
        let e = unsafe { &mut *self.entries.add(i) };
        e.set_addr(self.bufs[usize::from(bid) * BUF_SIZE..].as_ptr() as u64);
        e.set_len(BUF_SIZE as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: `entries` is the ring's page-aligned base, initialised.
        let tail = unsafe { types::BufRingEntry::tail(self.entries) } as *const AtomicU16;
        // SAFETY: the tail field lives inside the allocation and is only
        // written here; the kernel reads it.
        unsafe { (*tail).store(self.tail, Ordering::Release) };
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.entries.cast(), self.layout) };
    }
}

/// A reply on its way out: what SendMsg points at must outlive the send.
struct SendSlot {
    data: Vec<u8>,
    peer: SockAddr,
    iov: libc::iovec,
    hdr: libc::msghdr,
}

/// Serves one UDP socket until its listener closes; then answers the
/// datagrams the ring and the socket hold and returns. Fields drop in
/// order: the ring before the buffers it points at.
pub async fn udp_loop<H: PacketHandler>(
    slot: &Slot,
    sock: UdpSocket,
    mut ring: IoUring,
    handler: Rc<RefCell<H>>,
    in_flight: InFlight,
) {
    let local = sock
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    if let Err(e) = serve(slot, &sock, local, &mut ring, &handler, &in_flight).await {
        crate::log::error(None, &format!("udp {local} (io_uring): {e}"));
    }
}

async fn serve<H: PacketHandler>(
    slot: &Slot,
    sock: &UdpSocket,
    local: SocketAddr,
    ring: &mut IoUring,
    handler: &Rc<RefCell<H>>,
    in_flight: &InFlight,
) -> io::Result<()> {
    let fd = sock.as_raw_fd();
    let mut bufs = BufRing::new()?;
    // SAFETY: the buffer ring memory lives in `bufs`, which outlives every
    // use of the ring in this function (the ring is unregistered when the
    // IoUring drops, after this function returns, and `bufs` drops here).
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(bufs.entries as u64, BUFFERS, GROUP, 0)?
    };
    // SAFETY: msghdr is plain old data; all zeroes is valid.
    let mut recv_hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    recv_hdr.msg_namelen = SockAddrStorage::zeroed().size_of();
    // With DEFER_TASKRUN the ring's own descriptor does not signal work
    // waiting for this thread; a datagram arriving on the socket does, and
    // the next enter runs the receive it completes.
    // SAFETY: the AsyncFd owns this duplicate of the socket's descriptor.
    let wake =
        Rc::new(unsafe { AsyncFd::register_with_interest(sock.try_clone()?, Interest::READABLE) }?);
    // The outbox sends on the duplicate descriptor and keeps it open (and
    // what the socket holds at the end is read through it).
    let outbox = Outbox::new(Rc::clone(&wake) as Rc<dyn std::os::fd::AsFd>);
    // Sends what is left in the outbox when this loop is dropped (aborted).
    let _close = CloseOutbox(Rc::clone(&outbox));
    let mut slots: Vec<Box<SendSlot>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut out = Vec::with_capacity(4096);
    // Completions of one round, taken off the ring before they are handled.
    let mut cqes: Vec<cqueue::Entry> = Vec::with_capacity(4096);
    let mut armed = false;
    // The listener closes: the receive is cancelled, and once its last
    // completion and every send are in, what is left in the socket is read
    // with recvmmsg.
    let mut cancelled = false;
    loop {
        let closing = slot.is_closing();
        if closing && armed && !cancelled {
            let e = opcode::AsyncCancel::new(RECV).build().user_data(CANCEL);
            // SAFETY: the cancel request points at nothing.
            unsafe { push(ring, &e)? };
            cancelled = true;
        }
        let sending = slots.len() - free.len();
        if closing && !armed && sending == 0 {
            break;
        }
        if !closing {
            // Too many replies waiting on upstreams: take datagrams on once
            // some are done (meanwhile the provided buffers fill and the
            // socket buffer holds the rest).
            in_flight.room(&outbox).await;
        }
        if !armed && !closing {
            let e = opcode::RecvMsgMulti::new(types::Fd(fd), &recv_hdr, GROUP)
                .build()
                .user_data(RECV);
            // SAFETY: recv_hdr lives as long as this function, past every
            // completion of this request.
            unsafe { push(ring, &e)? };
            armed = true;
        }
        // Submit what is queued and run the deferred completions; closing,
        // wait for the cancellation and the sends.
        let queued = ring.submission().len() as u32;
        let wait = u32::from(closing);
        // SAFETY: a plain io_uring_enter without an argument.
        unsafe {
            ring.submitter()
                .enter::<libc::sigset_t>(queued, wait, 1, None)?
        };
        let mut got = 0;
        cqes.clear();
        cqes.extend(ring.completion());
        let at = std::time::Instant::now();
        let listener = slot.index();
        for cqe in cqes.drain(..) {
            got += 1;

            if cqe.user_data() == CANCEL {
                continue;
            }
            if cqe.user_data() != RECV {
                free.push(cqe.user_data() as usize);
                continue;
            }
            if !cqueue::more(cqe.flags()) {
                armed = false;
            }
            let Some(bid) = cqueue::buffer_select(cqe.flags()) else {
                continue;
            };
            if cqe.result() > 0 {
                let len = cqe.result() as usize;
                if let Ok(msg) = types::RecvMsgOut::parse(&bufs.buf(bid)[..len], &recv_hdr) {
                    if !msg.is_payload_truncated() && !msg.is_name_data_truncated() {
                        let name = msg.name_data();
                        let mut storage = SockAddrStorage::zeroed();
                        let n = name.len().min(std::mem::size_of::<SockAddrStorage>());
                        // SAFETY: copies the kernel's address bytes into our storage, within both sizes.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                name.as_ptr(),
                                (&mut storage as *mut SockAddrStorage).cast(),
                                n,
                            )
                        };
                        // SAFETY: the storage holds a kernel-written address of `n` bytes.
                        let peer = unsafe { SockAddr::new(storage, n as libc::socklen_t) };
                        if let Some(src) = peer.as_socket() {
                            let p = Packet {
                                listener,
                                data: msg.payload_data(),
                                src: unmap(src),
                                local,
                                tcp: false,
                                at,
                            };
                            let handled = handler.borrow_mut().handle(&p, &mut out);
                            match handled {
                                Handled::Reply => {
                                    let i = free.pop().unwrap_or_else(|| {
                                        slots.push(Box::new(SendSlot {
                                            data: Vec::new(),
                                            peer: peer.clone(),
                                            iov: libc::iovec {
                                                iov_base: std::ptr::null_mut(),
                                                iov_len: 0,
                                            },
                                            // SAFETY: msghdr is plain old data.
                                            hdr: unsafe { std::mem::zeroed() },
                                        }));
                                        slots.len() - 1
                                    });
                                    let s = &mut slots[i];
                                    std::mem::swap(&mut s.data, &mut out);
                                    s.peer = peer;
                                    s.iov = libc::iovec {
                                        iov_base: s.data.as_mut_ptr().cast(),
                                        iov_len: s.data.len(),
                                    };
                                    s.hdr.msg_name = s.peer.as_ptr() as *mut libc::c_void;
                                    s.hdr.msg_namelen = s.peer.len();
                                    s.hdr.msg_iov = &mut s.iov;
                                    s.hdr.msg_iovlen = 1;
                                    let e = opcode::SendMsg::new(types::Fd(fd), &s.hdr)
                                        .build()
                                        .user_data(i as u64);
                                    // SAFETY: the slot (boxed, so it does not move) is not
                                    // reused until this send completes.
                                    unsafe { push(ring, &e)? };
                                }
                                Handled::Drop => {}
                                Handled::Later(reply) => {
                                    let outbox = Rc::clone(&outbox);
                                    spawn_later(in_flight, async move {
                                        if let Some(r) = reply.await {
                                            outbox.push(r, src);
                                        }
                                    });
                                }
                            }
                        }
                    }
                }
            }
            bufs.give(bid);
        }
        bufs.publish();
        outbox.flush();
        if got == 0 && armed && !closing {
            // Nothing to do: sleep until a datagram arrives or a reply that
            // waited is ready. A receive the kernel completed without a new
            // arrival to wake us (the socket was already readable when the
            // request was re-armed) is picked up by the next enter, at the
            // latest 10 ms later.
            tokio::select! {
                r = tokio::time::timeout(IDLE_POLL, wake.readable()) => {
                    if let Ok(guard) = r {
                        guard?.clear_ready();
                    }
                }
                _ = outbox.pushed() => {}
                _ = slot.closing() => {}
            }
        } else if got > 0 && !closing {
            // Let the worker's other tasks run between rounds.
            tokio::task::yield_now().await;
        }
    }
    Batch::new(local, outbox).answer_held(slot.index(), handler, in_flight);
    Ok(())
}

/// Queues one SQE, submitting first if the queue is full.
///
/// # Safety
/// What the entry points at must stay valid until it completes.
unsafe fn push(ring: &mut IoUring, e: &squeue::Entry) -> io::Result<()> {
    // SAFETY: forwarded from the caller.
    while unsafe { ring.submission().push(e) }.is_err() {
        ring.submit()?;
    }
    Ok(())
}
