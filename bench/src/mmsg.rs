//! Datagrams read and written a batch at a time with recvmmsg/sendmmsg,
//! answered in place: what the socket reflector and the minimal upstream
//! share.
//!
//! This is not a copy of the server's batching (`ferrodns::sys::mmsg`) but
//! the yardstick it is measured against, kept apart on purpose: the bare
//! reflector writes each reply over its query and sends it from the
//! received header, the least work a reply takes, and a change to the
//! server's batching (its cost or its bugs) must not move the baseline it
//! is compared with.

use anyhow::{Context, Result};
use std::os::fd::RawFd;

/// Bytes per datagram buffer.
pub const BUF: usize = 2048;

/// `n` datagram buffers with their senders' addresses and the headers
/// recvmmsg and sendmmsg take. The headers point into the other vectors,
/// whose heap buffers never move (none is resized after `new`).
pub struct Batch {
    bufs: Vec<[u8; BUF]>,
    addrs: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    out: Vec<libc::mmsghdr>,
}

impl Batch {
    pub fn new(n: usize) -> Batch {
        let mut bufs = vec![[0u8; BUF]; n];
        let iovs = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: BUF,
            })
            .collect();
        Batch {
            bufs,
            // SAFETY: sockaddr_storage and mmsghdr are plain data; all
            // zeroes is a valid value of each.
            addrs: vec![unsafe { std::mem::zeroed() }; n],
            iovs,
            msgs: vec![unsafe { std::mem::zeroed() }; n],
            out: vec![unsafe { std::mem::zeroed() }; n],
        }
    }

    /// Waits for datagrams and reads as many as are there (up to the
    /// batch), each into a buffer that keeps `room` bytes free at its end
    /// for a longer answer. Returns how many.
    pub fn recv(&mut self, fd: RawFd, room: usize) -> Result<usize> {
        loop {
            for (i, m) in self.msgs.iter_mut().enumerate() {
                m.msg_hdr.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
                m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
                self.iovs[i].iov_len = BUF - room;
                m.msg_hdr.msg_iov = &mut self.iovs[i];
                m.msg_hdr.msg_iovlen = 1;
            }
            // SAFETY: every header points at an address slot and an iovec
            // into `bufs`, all owned by `self` and alive through the call.
            let n = unsafe {
                libc::recvmmsg(
                    fd,
                    self.msgs.as_mut_ptr(),
                    self.msgs.len() as u32,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            if n >= 0 {
                return Ok(n as usize);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e).context("recvmmsg");
            }
        }
    }

    /// Datagram `i` of the last `recv`: its buffer and length.
    pub fn datagram(&mut self, i: usize) -> (&mut [u8; BUF], usize) {
        (&mut self.bufs[i], self.msgs[i].msg_len as usize)
    }

    /// Sends back, to its sender, the first `len` bytes of the buffer of
    /// each datagram `(i, len)` of `replies`. Datagrams the kernel will not
    /// take now are dropped, as a busy server drops them.
    pub fn send_back(&mut self, fd: RawFd, replies: impl IntoIterator<Item = (usize, usize)>) {
        // While the replies are datagrams 0, 1, 2... they go out from the
        // received headers as they are; after a gap, from copies.
        let (mut k, mut in_place) = (0, true);
        for (i, len) in replies {
            self.iovs[i].iov_len = len;
            if in_place && i != k {
                in_place = false;
                self.out[..k].copy_from_slice(&self.msgs[..k]);
            }
            if !in_place {
                self.out[k] = self.msgs[i];
            }
            k += 1;
        }
        let hdrs = if in_place {
            &mut self.msgs
        } else {
            &mut self.out
        };
        let mut done = 0;
        while done < k {
            // SAFETY: the first `k` headers are received ones (or copies),
            // pointing at the senders' addresses and at iovecs into `bufs`.
            let s =
                unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr().add(done), (k - done) as u32, 0) };
            if s <= 0 {
                break;
            }
            done += s as usize;
        }
    }
}
