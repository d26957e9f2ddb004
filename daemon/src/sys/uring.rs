//! UDP through io_uring, behind safe calls: a SINGLE_ISSUER +
//! DEFER_TASKRUN ring per socket (completions run only when this thread
//! enters the ring), one multishot RecvMsg reading into a ring of provided
//! buffers, and replies sent with SendMsg from slots that stay put until
//! their send completes. Every `unsafe` of io_uring is here.

use super::SysError;
use io_uring::{cqueue, opcode, squeue, types, IoUring};
use socket2::{SockAddr, SockAddrStorage};
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::atomic::{AtomicU16, Ordering};

/// Provided receive buffers (a power of two).
const BUFFERS: u16 = 512;
/// The recvmsg header, the peer's address and the datagram.
const BUF_SIZE: usize = 4096 + 256;
const GROUP: u16 = 0;
const RECV: u64 = u64::MAX;
const CANCEL: u64 = u64::MAX - 1;

fn err(call: &'static str, source: std::io::Error) -> SysError {
    SysError { call, source }
}

/// The provided-buffer ring: entries the kernel takes buffers from.
struct BufRing {
    entries: *mut types::BufRingEntry,
    layout: Layout,
    bufs: Vec<u8>,
    tail: u16,
}

impl BufRing {
    fn new() -> Result<BufRing, SysError> {
        let layout = Layout::from_size_align(
            usize::from(BUFFERS) * std::mem::size_of::<types::BufRingEntry>(),
            4096,
        )
        .map_err(|e| err("alloc", std::io::Error::other(e)))?;
        // SAFETY: the layout has a non-zero size.
        let entries = unsafe { alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
        if entries.is_null() {
            return Err(err("alloc", std::io::ErrorKind::OutOfMemory.into()));
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

/// A ring as this kernel gives it to us, set up for one socket (a refusal,
/// say by a seccomp filter, names `io_uring_setup`).
pub fn ring() -> Result<IoUring, SysError> {
    IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(4096)
        .build(1024)
        .map_err(|e| err("io_uring_setup", e))
}

/// One UDP socket served through a ring. Fields drop in order: the ring
/// before the buffers, header and slots it points at.
pub struct UdpRing<'fd> {
    ring: IoUring,
    bufs: BufRing,
    recv_hdr: Box<libc::msghdr>,
    /// Boxed: a send in flight points into its slot, which must not move
    /// when the vector grows.
    #[allow(clippy::vec_box)]
    slots: Vec<Box<SendSlot>>,
    free: Vec<usize>,
    cqes: Vec<cqueue::Entry>,
    fd: BorrowedFd<'fd>,
    armed: bool,
    cancelled: bool,
    /// Sends that completed with an error since [`UdpRing::take_failed`].
    failed: usize,
}

impl<'fd> UdpRing<'fd> {
    /// The socket `fd` served through `ring` (from [`ring`]).
    pub fn new(ring: IoUring, fd: BorrowedFd<'fd>) -> Result<UdpRing<'fd>, SysError> {
        let bufs = BufRing::new()?;
        // SAFETY: the buffer ring memory lives in `bufs`, which the ring
        // never outlives (fields drop in order; the ring unregisters it
        // when it drops).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(bufs.entries as u64, BUFFERS, GROUP, 0)
        }
        .map_err(|e| err("io_uring_register", e))?;
        // SAFETY: msghdr is plain old data; all zeroes is valid.
        let mut recv_hdr: Box<libc::msghdr> = Box::new(unsafe { std::mem::zeroed() });
        recv_hdr.msg_namelen = SockAddrStorage::zeroed().size_of();
        Ok(UdpRing {
            ring,
            bufs,
            recv_hdr,
            slots: Vec::new(),
            free: Vec::new(),
            cqes: Vec::with_capacity(4096),
            fd,
            armed: false,
            cancelled: false,
            failed: 0,
        })
    }

    /// How many sends failed since the last call.
    pub fn take_failed(&mut self) -> usize {
        std::mem::take(&mut self.failed)
    }

    /// Whether the receive is in place.
    pub fn armed(&self) -> bool {
        self.armed
    }

    /// Replies whose send has not completed.
    pub fn sending(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Queues one SQE, submitting first if the queue is full.
    ///
    /// # Safety
    /// What the entry points at must stay valid until it completes.
    unsafe fn push(&mut self, e: &squeue::Entry) -> Result<(), SysError> {
        // SAFETY: forwarded from the caller.
        while unsafe { self.ring.submission().push(e) }.is_err() {
            self.ring.submit().map_err(|e| err("io_uring_enter", e))?;
        }
        Ok(())
    }

    /// Puts the multishot receive in place unless it is.
    pub fn arm(&mut self) -> Result<(), SysError> {
        if self.armed {
            return Ok(());
        }
        let e = opcode::RecvMsgMulti::new(types::Fd(self.fd.as_raw_fd()), &*self.recv_hdr, GROUP)
            .build()
            .user_data(RECV);
        // SAFETY: recv_hdr is boxed in self and outlives the ring.
        unsafe { self.push(&e)? };
        self.armed = true;
        Ok(())
    }

    /// Cancels the receive (once); its last completion disarms it.
    pub fn cancel(&mut self) -> Result<(), SysError> {
        if !self.armed || self.cancelled {
            return Ok(());
        }
        let e = opcode::AsyncCancel::new(RECV).build().user_data(CANCEL);
        // SAFETY: the cancel request points at nothing.
        unsafe { self.push(&e)? };
        self.cancelled = true;
        Ok(())
    }

    /// Submits what is queued and runs the deferred completions; `wait`:
    /// for at least one.
    pub fn enter(&mut self, wait: bool) -> Result<(), SysError> {
        let queued = self.ring.submission().len() as u32;
        // SAFETY: a plain io_uring_enter without an argument.
        unsafe {
            self.ring
                .submitter()
                .enter::<libc::sigset_t>(queued, u32::from(wait), 1, None)
        }
        .map_err(|e| err("io_uring_enter", e))?;
        Ok(())
    }

    /// Takes the completions of one round: `answer(datagram, sender, out)`
    /// for each whole datagram received (a true return sends `out` back to
    /// the sender; `out` is then a fresh buffer). How many completions
    /// there were.
    pub fn complete(
        &mut self,
        out: &mut Vec<u8>,
        mut answer: impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool,
    ) -> Result<usize, SysError> {
        let mut cqes = std::mem::take(&mut self.cqes);
        cqes.clear();
        cqes.extend(self.ring.completion());
        let n = cqes.len();
        for cqe in cqes.drain(..) {
            match cqe.user_data() {
                CANCEL => {}
                RECV => self.received(&cqe, out, &mut answer)?,
                i => {
                    if cqe.result() < 0 {
                        self.failed += 1;
                    }
                    self.free.push(i as usize)
                }
            }
        }
        self.cqes = cqes;
        self.bufs.publish();
        Ok(n)
    }

    /// One completion of the receive.
    fn received(
        &mut self,
        cqe: &cqueue::Entry,
        out: &mut Vec<u8>,
        answer: &mut impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool,
    ) -> Result<(), SysError> {
        if !cqueue::more(cqe.flags()) {
            self.armed = false;
        }
        let Some(bid) = cqueue::buffer_select(cqe.flags()) else {
            return Ok(());
        };
        let reply_to = match usize::try_from(cqe.result()) {
            Ok(len) if len > 0 => self.datagram(bid, len, out, answer),
            _ => None,
        };
        self.bufs.give(bid);
        match reply_to {
            Some(peer) => self.send(peer, out),
            None => Ok(()),
        }
    }

    /// The datagram in buffer `bid` answered; the peer to send `out` to.
    fn datagram(
        &self,
        bid: u16,
        len: usize,
        out: &mut Vec<u8>,
        answer: &mut impl FnMut(&[u8], SocketAddr, &mut Vec<u8>) -> bool,
    ) -> Option<SockAddr> {
        let msg = types::RecvMsgOut::parse(&self.bufs.buf(bid)[..len], &self.recv_hdr).ok()?;
        if msg.is_payload_truncated() || msg.is_name_data_truncated() {
            return None;
        }
        let name = msg.name_data();
        let mut storage = SockAddrStorage::zeroed();
        let n = name.len().min(std::mem::size_of::<SockAddrStorage>());
        // SAFETY: copies the kernel's address bytes into our storage,
        // within both sizes.
        unsafe {
            std::ptr::copy_nonoverlapping(
                name.as_ptr(),
                (&mut storage as *mut SockAddrStorage).cast(),
                n,
            )
        };
        // SAFETY: the storage holds a kernel-written address of `n` bytes.
        let peer = unsafe { SockAddr::new(storage, n as libc::socklen_t) };
        let src = peer.as_socket()?;
        answer(msg.payload_data(), src, out).then_some(peer)
    }

    /// Sends `out` to `peer` from a slot that stays put until the send
    /// completes; `out` gets the slot's old buffer.
    fn send(&mut self, peer: SockAddr, out: &mut Vec<u8>) -> Result<(), SysError> {
        let i = self.free.pop().unwrap_or_else(|| {
            self.slots.push(Box::new(SendSlot {
                data: Vec::new(),
                peer: peer.clone(),
                iov: libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                },
                // SAFETY: msghdr is plain old data.
                hdr: unsafe { std::mem::zeroed() },
            }));
            self.slots.len() - 1
        });
        let s = &mut self.slots[i];
        std::mem::swap(&mut s.data, out);
        s.peer = peer;
        s.iov = libc::iovec {
            iov_base: s.data.as_mut_ptr().cast(),
            iov_len: s.data.len(),
        };
        s.hdr.msg_name = s.peer.as_ptr() as *mut libc::c_void;
        s.hdr.msg_namelen = s.peer.len();
        s.hdr.msg_iov = &mut s.iov;
        s.hdr.msg_iovlen = 1;
        let e = opcode::SendMsg::new(types::Fd(self.fd.as_raw_fd()), &s.hdr)
            .build()
            .user_data(i as u64);
        // SAFETY: the slot (boxed, so it does not move) is not reused until
        // this send completes.
        unsafe { self.push(&e) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;
    use std::time::{Duration, Instant};

    /// Datagrams received through the ring are answered back to their
    /// senders; the receive, once cancelled, disarms.
    #[test]
    fn echoes_through_the_ring() {
        let r = match ring() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("SKIPPED: no io_uring here: {e}");
                return;
            }
        };
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut u = UdpRing::new(r, server.as_fd()).unwrap();
        u.arm().unwrap();
        u.enter(false).unwrap();
        for i in 0..3u8 {
            client
                .send_to(&[i; 5], server.local_addr().unwrap())
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut out = Vec::new();
        let until = Instant::now() + Duration::from_secs(2);
        while seen.len() < 3 && Instant::now() < until {
            u.enter(false).unwrap();
            u.complete(&mut out, |d, src, out| {
                assert_eq!(src, client.local_addr().unwrap());
                seen.push(d.to_vec());
                out.clear();
                out.extend_from_slice(&[d[0] + 10]);
                true
            })
            .unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(seen, [[0u8; 5], [1; 5], [2; 5]]);
        // The replies' sends go in with the next enter.
        u.enter(false).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut b = [0u8; 8];
            let (n, _) = client.recv_from(&mut b).unwrap();
            got.push(b[..n].to_vec());
        }
        got.sort();
        assert_eq!(got, [[10u8], [11], [12]]);
        u.cancel().unwrap();
        let until = Instant::now() + Duration::from_secs(2);
        while (u.armed() || u.sending() > 0) && Instant::now() < until {
            u.enter(true).unwrap();
            u.complete(&mut out, |_, _, _| false).unwrap();
        }
        assert!(!u.armed() && u.sending() == 0);
    }
}
