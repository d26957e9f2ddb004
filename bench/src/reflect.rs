//! The socket baselines: every UDP datagram goes back to its sender with the
//! QR bit set. No DNS work, so what they answer per second is what one core's
//! socket path allows: read and written 64 at a time with recvmmsg/sendmmsg
//! (`--io mmsg`, the default), or through io_uring (`--io uring`: multishot
//! RecvMsg into a ring of provided buffers, one SendMsg per datagram,
//! SINGLE_ISSUER + DEFER_TASKRUN, as ferrodns's own io_uring path does).

use crate::mmsg::{Batch, BUF};
use crate::Opts;
use anyhow::{Context, Result};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

pub fn main(opts: &Opts) -> Result<()> {
    let listen: SocketAddr = opts
        .need("--listen")?
        .parse()
        .context("--listen takes IP:PORT")?;
    let batch: usize = opts.num("--batch", 64usize)?.clamp(1, 1024);
    let sock = UdpSocket::bind(listen).with_context(|| format!("bind {listen}"))?;
    match opts.get("--io").unwrap_or("mmsg") {
        "mmsg" => {}
        "uring" => {
            eprintln!("reflect: echoing on {listen} through io_uring");
            return uring(&sock);
        }
        other => anyhow::bail!("--io takes mmsg or uring, not {other:?}"),
    }
    eprintln!("reflect: echoing on {listen}, batch {batch}");
    let fd = sock.as_raw_fd();
    let mut b = Batch::new(batch);
    let mut lens = vec![0usize; batch];
    loop {
        let n = b.recv(fd, 0)?;
        for (i, l) in lens.iter_mut().enumerate().take(n) {
            let (buf, len) = b.datagram(i);
            if len >= 3 {
                buf[2] |= 0x80;
            }
            *l = len;
        }
        b.send_back(fd, (0..n).map(|i| (i, lens[i])));
    }
}

/// Provided receive buffers (a power of two) and their size.
const RING_BUFS: u16 = 512;
const RING_BUF: usize = 2048 + 256;
const RECV: u64 = u64::MAX;

/// A reply in flight: SendMsg reads its header, address and bytes until it
/// completes, so they live in a box that does not move.
struct Out {
    data: [u8; BUF],
    name: libc::sockaddr_storage,
    iov: libc::iovec,
    hdr: libc::msghdr,
}

fn uring(sock: &UdpSocket) -> Result<()> {
    use io_uring::{cqueue, opcode, types, IoUring};
    let fd = types::Fd(sock.as_raw_fd());
    let mut ring: IoUring = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(4096)
        .build(1024)
        .context("io_uring setup")?;
    // The provided-buffer ring: page-aligned entries, then the buffers.
    let layout = std::alloc::Layout::from_size_align(
        usize::from(RING_BUFS) * std::mem::size_of::<types::BufRingEntry>(),
        4096,
    )?;
    // SAFETY: the layout has a non-zero size; the memory is never freed
    // (the reflector runs until it is killed).
    let entries = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<types::BufRingEntry>();
    anyhow::ensure!(!entries.is_null(), "out of memory");
    let mut bufs = vec![0u8; usize::from(RING_BUFS) * RING_BUF];
    let mut tail: u16 = 0;
    let give = |bufs: &mut [u8], bid: u16, tail: &mut u16| {
        let i = usize::from(*tail & (RING_BUFS - 1));
        // SAFETY: `i` is below RING_BUFS, within the allocation.
        let e = unsafe { &mut *entries.add(i) };
        e.set_addr(bufs[usize::from(bid) * RING_BUF..].as_ptr() as u64);
        e.set_len(RING_BUF as u32);
        e.set_bid(bid);
        *tail = tail.wrapping_add(1);
    };
    let publish = |tail: u16| {
        // SAFETY: the ring's tail lives in its first entry, written only here.
        let t =
            unsafe { types::BufRingEntry::tail(entries) } as *const std::sync::atomic::AtomicU16;
        // SAFETY: as above; the kernel reads it.
        unsafe { (*t).store(tail, std::sync::atomic::Ordering::Release) };
    };
    for bid in 0..RING_BUFS {
        give(&mut bufs, bid, &mut tail);
    }
    publish(tail);
    // SAFETY: the entries and buffers live until the process ends.
    unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(entries as u64, RING_BUFS, 0, 0)?
    };
    // SAFETY: msghdr is plain data; all zeroes is valid.
    let mut recv_hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    recv_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
    let mut outs: Vec<Box<Out>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut armed = false;
    let mut cqes = Vec::with_capacity(4096);
    loop {
        if !armed {
            let e = opcode::RecvMsgMulti::new(fd, &recv_hdr, 0)
                .build()
                .user_data(RECV);
            // SAFETY: recv_hdr outlives every completion of this request.
            while unsafe { ring.submission().push(&e) }.is_err() {
                ring.submit()?;
            }
            armed = true;
        }
        ring.submit_and_wait(1)?;
        cqes.clear();
        cqes.extend(ring.completion());
        for cqe in cqes.drain(..) {
            let cqe: cqueue::Entry = cqe;
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
            let len = cqe.result().max(0) as usize;
            let start = usize::from(bid) * RING_BUF;
            if let Ok(msg) = types::RecvMsgOut::parse(&bufs[start..start + len], &recv_hdr) {
                let payload = msg.payload_data();
                let name = msg.name_data();
                if !msg.is_payload_truncated() && payload.len() >= 3 && payload.len() <= BUF {
                    let i = free.pop().unwrap_or_else(|| {
                        outs.push(Box::new(Out {
                            data: [0; BUF],
                            // SAFETY: plain data; all zeroes is valid.
                            name: unsafe { std::mem::zeroed() },
                            iov: libc::iovec {
                                iov_base: std::ptr::null_mut(),
                                iov_len: 0,
                            },
                            // SAFETY: plain data; all zeroes is valid.
                            hdr: unsafe { std::mem::zeroed() },
                        }));
                        outs.len() - 1
                    });
                    let o = &mut outs[i];
                    o.data[..payload.len()].copy_from_slice(payload);
                    o.data[2] |= 0x80;
                    let n = name
                        .len()
                        .min(std::mem::size_of::<libc::sockaddr_storage>());
                    // SAFETY: copies the kernel's address bytes into the storage, within both.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            name.as_ptr(),
                            (&mut o.name as *mut libc::sockaddr_storage).cast::<u8>(),
                            n,
                        )
                    };
                    o.iov = libc::iovec {
                        iov_base: o.data.as_mut_ptr().cast(),
                        iov_len: payload.len(),
                    };
                    o.hdr.msg_name = (&mut o.name as *mut libc::sockaddr_storage).cast();
                    o.hdr.msg_namelen = n as u32;
                    o.hdr.msg_iov = &mut o.iov;
                    o.hdr.msg_iovlen = 1;
                    let e = opcode::SendMsg::new(fd, &o.hdr).build().user_data(i as u64);
                    // SAFETY: the boxed slot is not reused until this send completes.
                    while unsafe { ring.submission().push(&e) }.is_err() {
                        ring.submit()?;
                    }
                }
            }
            give(&mut bufs, bid, &mut tail);
        }
        publish(tail);
    }
}
