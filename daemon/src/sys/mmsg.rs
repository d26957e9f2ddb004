//! Batched UDP: recvmmsg reads up to a batch of datagrams in one system
//! call into buffers allocated once and reused, sendmmsg sends a batch in
//! one (or as few as the kernel allows). [`Batch`] receives and answers
//! each datagram's sender; [`Sender`] sends to any addresses.

use super::SysError;
use socket2::{SockAddr, SockAddrStorage};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd};

/// Buffers start a cache line past each other's end: at a 4 KiB stride the
/// head of every datagram (often all that is read) lands in the same L1 set.
const PAD: usize = 64;

/// What one recvmmsg or sendmmsg call is given: its headers, the iovecs
/// and addresses they point at.
struct Headers {
    names: Vec<SockAddrStorage>,
    namelens: Vec<libc::socklen_t>,
    iovs: Vec<libc::iovec>,
    hdrs: Vec<libc::mmsghdr>,
}

impl Headers {
    fn new(count: usize) -> Headers {
        Headers {
            names: (0..count).map(|_| SockAddrStorage::zeroed()).collect(),
            namelens: vec![0; count],
            iovs: vec![
                libc::iovec {
                    iov_base: std::ptr::null_mut(),
                    iov_len: 0,
                };
                count
            ],
            // SAFETY: mmsghdr is plain old data; all zeroes is valid.
            hdrs: vec![unsafe { std::mem::zeroed::<libc::mmsghdr>() }; count],
        }
    }

    /// Points header `k` at iovec `k` and at the address in `names[name]`,
    /// `len` bytes of it. The pointers come from `as_mut_ptr`, so writing
    /// other iovecs and names afterwards leaves them valid.
    fn arm(&mut self, k: usize, name: usize, len: libc::socklen_t) {
        assert!(k < self.iovs.len() && name < self.names.len());
        let name = self.names.as_mut_ptr().wrapping_add(name);
        let iov = self.iovs.as_mut_ptr().wrapping_add(k);
        let h = &mut self.hdrs[k];
        h.msg_hdr.msg_name = name.cast();
        h.msg_hdr.msg_namelen = len;
        h.msg_hdr.msg_iov = iov;
        h.msg_hdr.msg_iovlen = 1;
        h.msg_hdr.msg_control = std::ptr::null_mut();
        h.msg_hdr.msg_controllen = 0;
        h.msg_hdr.msg_flags = 0;
        h.msg_len = 0;
    }

    /// Sends the datagrams headers `..n` describe, in as few sendmmsg calls
    /// as the kernel allows, counting into `tally`; one the kernel refuses
    /// is dropped and the rest still go.
    ///
    /// # Safety
    /// Headers `..n` were armed (`arm`) for this call, their iovecs set to
    /// bytes that live through it.
    unsafe fn send(&mut self, fd: BorrowedFd<'_>, n: usize, tally: &mut Tally) {
        let hdrs = &mut self.hdrs[..n];
        let mut done = 0;
        while done < hdrs.len() {
            // SAFETY: the caller's promise, for headers `done..`.
            let r = unsafe {
                libc::sendmmsg(
                    fd.as_raw_fd(),
                    hdrs[done..].as_mut_ptr(),
                    (hdrs.len() - done) as u32,
                    libc::MSG_DONTWAIT,
                )
            };
            if r > 0 {
                done += r as usize;
                tally.sent += r as usize;
                continue;
            }
            if r < 0 {
                let e = SysError::last("sendmmsg");
                if e.source.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                tally.refused = Some(e);
            }
            // The first datagram left was refused (a full buffer, an ICMP
            // error for that peer): dropped, as a full socket buffer drops
            // datagrams anyway; the ones after it still go.
            done += 1;
        }
    }
}

/// What the sends of one call came to.
#[derive(Default)]
struct Tally {
    sent: usize,
    /// The last refusal.
    refused: Option<SysError>,
}

impl Tally {
    fn result(self) -> Result<usize, SysError> {
        match self.refused {
            Some(e) if self.sent == 0 => Err(e),
            _ => Ok(self.sent),
        }
    }
}

/// Receive buffers for up to `count` datagrams of up to `size` bytes each,
/// read with one recvmmsg, and their senders' addresses, to which replies
/// go back from where the kernel wrote them.
pub struct Batch {
    size: usize,
    stride: usize,
    bufs: Vec<u8>,
    headers: Headers,
    /// Of each datagram received: the bytes read, and whether it was longer.
    lens: Vec<(usize, bool)>,
    received: usize,
}

impl Batch {
    /// Room for `count` datagrams of `size` bytes.
    pub fn new(count: usize, size: usize) -> Batch {
        let stride = size + PAD;
        Batch {
            size,
            stride,
            bufs: vec![0u8; count * stride],
            headers: Headers::new(count),
            lens: vec![(0, false); count],
            received: 0,
        }
    }

    /// Reads what the socket holds now, up to the batch's count (recvmmsg,
    /// MSG_DONTWAIT: nothing there is EAGAIN), in place of what was read
    /// before; returns how many datagrams.
    pub fn recv(&mut self, fd: BorrowedFd<'_>) -> Result<usize, SysError> {
        self.received = 0;
        let count = self.lens.len();
        let h = &mut self.headers;
        let bufs = self.bufs.as_mut_ptr();
        for i in 0..count {
            h.iovs[i] = libc::iovec {
                // Within `bufs`: `count` strides of `size` bytes and a pad.
                iov_base: bufs.wrapping_add(i * self.stride).cast(),
                iov_len: self.size,
            };
            let len = h.names[i].size_of();
            h.arm(i, i, len);
        }
        // SAFETY: every header points at its iovec, buffer (`size` bytes
        // within `bufs`) and address slot, all owned by `self` and armed
        // just above, so they live through the call.
        let n = unsafe {
            libc::recvmmsg(
                fd.as_raw_fd(),
                h.hdrs.as_mut_ptr(),
                count as u32,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(SysError::last("recvmmsg"));
        }
        let n = n as usize;
        for i in 0..n {
            let m = &h.hdrs[i];
            h.namelens[i] = m.msg_hdr.msg_namelen;
            self.lens[i] = (
                (m.msg_len as usize).min(self.size),
                m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
            );
        }
        self.received = n;
        Ok(n)
    }

    /// How many datagrams the last [`Batch::recv`] read.
    pub fn len(&self) -> usize {
        self.received
    }

    pub fn is_empty(&self) -> bool {
        self.received == 0
    }

    /// Datagram `i` of the last read: as much of it as the buffer took.
    pub fn datagram(&self, i: usize) -> &[u8] {
        let (len, _) = self.lens[..self.received][i];
        &self.bufs[i * self.stride..i * self.stride + len]
    }

    /// Whether datagram `i` was longer than the buffer (MSG_TRUNC).
    pub fn truncated(&self, i: usize) -> bool {
        self.lens[..self.received][i].1
    }

    /// The sender of datagram `i`; none where it is no IP address (or the
    /// socket is connected and the kernel wrote none).
    pub fn source(&self, i: usize) -> Option<SocketAddr> {
        let len = self.headers.namelens[..self.received][i];
        ip_addr(&self.headers.names[i], len)
    }

    /// Sends each of `replies`, `(i, bytes)`, to the sender of datagram
    /// `i` of the last read (below [`Batch::len`]), in as few sendmmsg
    /// calls as the kernel allows.
    /// A datagram the kernel refuses (a full buffer, an ICMP error for
    /// that peer) is dropped and the rest still go. Returns how many went
    /// out; the refusal when there were replies and none went.
    pub fn send<'a>(
        &mut self,
        fd: BorrowedFd<'_>,
        replies: impl IntoIterator<Item = (usize, &'a [u8])>,
    ) -> Result<usize, SysError> {
        let mut tally = Tally::default();
        let count = self.lens.len();
        let received = self.received;
        let h = &mut self.headers;
        let mut replies = replies.into_iter().peekable();
        while replies.peek().is_some() {
            let mut k = 0;
            for (i, bytes) in replies.by_ref().take(count) {
                let len = h.namelens[..received][i];
                h.iovs[k] = iovec(bytes);
                h.arm(k, i, len);
                k += 1;
            }
            // SAFETY: headers `..k` were armed above; their addresses are in
            // `self` and their bytes are borrowed for 'a, past this call.
            unsafe { h.send(fd, k, &mut tally) };
        }
        tally.result()
    }
}

/// Sends datagrams to any addresses, up to `count` per sendmmsg call.
pub struct Sender {
    headers: Headers,
}

impl Sender {
    pub fn new(count: usize) -> Sender {
        Sender {
            headers: Headers::new(count),
        }
    }

    /// Sends each of `datagrams`, `(bytes, to)`, in as few sendmmsg calls
    /// as the kernel allows. A datagram the kernel refuses is dropped and
    /// the rest still go, as [`Batch::send`]. Returns how many went out;
    /// the refusal when there were datagrams and none went.
    pub fn send<'a>(
        &mut self,
        fd: BorrowedFd<'_>,
        datagrams: impl IntoIterator<Item = (&'a [u8], SocketAddr)>,
    ) -> Result<usize, SysError> {
        let mut tally = Tally::default();
        let count = self.headers.hdrs.len();
        let h = &mut self.headers;
        let mut datagrams = datagrams.into_iter().peekable();
        while datagrams.peek().is_some() {
            let mut k = 0;
            for (bytes, to) in datagrams.by_ref().take(count) {
                let to = SockAddr::from(to);
                let len = to.len();
                h.names[k] = to.as_storage();
                h.iovs[k] = iovec(bytes);
                h.arm(k, k, len);
                k += 1;
            }
            // SAFETY: headers `..k` were armed above; their addresses are in
            // `self` and their bytes are borrowed for 'a, past this call.
            unsafe { h.send(fd, k, &mut tally) };
        }
        tally.result()
    }
}

/// An iovec over bytes to send (the kernel only reads them).
fn iovec(bytes: &[u8]) -> libc::iovec {
    libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    }
}

/// The IP address the kernel wrote into `name` (`len` bytes), read in place.
fn ip_addr(name: &SockAddrStorage, len: libc::socklen_t) -> Option<SocketAddr> {
    let p = (name as *const SockAddrStorage).cast::<libc::sockaddr>();
    let len = len as usize;
    // SAFETY: the storage is large and aligned enough for any sockaddr (a
    // zeroed one is family 0); the family says which one the kernel wrote,
    // and `len` that it is whole.
    unsafe {
        match i32::from((*p).sa_family) {
            libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
                let a = &*p.cast::<libc::sockaddr_in>();
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
            }
            libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
                let a = &*p.cast::<libc::sockaddr_in6>();
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::V6(SocketAddrV6::new(
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsFd;

    fn socket() -> UdpSocket {
        UdpSocket::bind("127.0.0.1:0").unwrap()
    }

    fn addr(s: &UdpSocket) -> SocketAddr {
        s.local_addr().unwrap()
    }

    /// What `s` holds, read by a batch of `count` datagrams of `size` bytes.
    fn read(s: &UdpSocket, count: usize, size: usize) -> Vec<Vec<u8>> {
        let mut b = Batch::new(count, size);
        let n = b.recv(s.as_fd()).unwrap();
        (0..n).map(|i| b.datagram(i).to_vec()).collect()
    }

    #[test]
    fn a_batch_is_received_with_its_senders() {
        let (server, a, b) = (socket(), socket(), socket());
        a.send_to(b"one", addr(&server)).unwrap();
        b.send_to(b"two", addr(&server)).unwrap();
        a.send_to(b"three", addr(&server)).unwrap();
        let mut batch = Batch::new(8, 16);
        assert_eq!(batch.recv(server.as_fd()).unwrap(), 3);
        assert_eq!(batch.len(), 3);
        let got: Vec<_> = (0..3)
            .map(|i| (batch.datagram(i), batch.source(i), batch.truncated(i)))
            .collect();
        assert_eq!(
            got,
            [
                (&b"one"[..], Some(addr(&a)), false),
                (&b"two"[..], Some(addr(&b)), false),
                (&b"three"[..], Some(addr(&a)), false),
            ]
        );
    }

    #[test]
    fn a_batch_reads_no_more_than_its_count() {
        let (server, client) = (socket(), socket());
        for d in [b"1", b"2", b"3"] {
            client.send_to(d, addr(&server)).unwrap();
        }
        assert_eq!(read(&server, 2, 16), [b"1", b"2"]);
        assert_eq!(read(&server, 2, 16), [b"3"]);
    }

    #[test]
    fn a_longer_datagram_is_cut_and_marked() {
        let (server, client) = (socket(), socket());
        client.send_to(b"0123456789", addr(&server)).unwrap();
        client.send_to(b"0123", addr(&server)).unwrap();
        let mut batch = Batch::new(4, 4);
        assert_eq!(batch.recv(server.as_fd()).unwrap(), 2);
        assert_eq!(batch.datagram(0), b"0123");
        assert!(batch.truncated(0));
        assert_eq!(batch.datagram(1), b"0123");
        assert!(!batch.truncated(1));
    }

    #[test]
    fn nothing_to_read_is_eagain_naming_the_call() {
        let server = socket();
        let mut batch = Batch::new(4, 16);
        let e = batch.recv(server.as_fd()).unwrap_err();
        assert_eq!(e.call, "recvmmsg");
        assert_eq!(e.source.kind(), std::io::ErrorKind::WouldBlock);
        assert!(batch.is_empty());
    }

    #[test]
    fn replies_go_back_to_the_senders() {
        let (server, a, b) = (socket(), socket(), socket());
        a.send_to(b"from a", addr(&server)).unwrap();
        b.send_to(b"from b", addr(&server)).unwrap();
        let mut batch = Batch::new(8, 16);
        assert_eq!(batch.recv(server.as_fd()).unwrap(), 2);
        let replies = [(1, &b"to b"[..]), (0, &b"to a"[..])];
        assert_eq!(batch.send(server.as_fd(), replies).unwrap(), 2);
        assert_eq!(read(&a, 8, 16), [b"to a"]);
        assert_eq!(read(&b, 8, 16), [b"to b"]);
        // What was read stays readable after the send.
        assert_eq!(batch.datagram(0), b"from a");
    }

    #[test]
    fn more_datagrams_than_a_call_takes_all_go() {
        let (from, to) = (socket(), socket());
        let data: Vec<[u8; 1]> = (0..5u8).map(|i| [i]).collect();
        let mut s = Sender::new(2);
        let sent = s.send(from.as_fd(), data.iter().map(|d| (&d[..], addr(&to))));
        assert_eq!(sent.unwrap(), 5);
        assert_eq!(read(&to, 8, 16), data);
    }

    #[test]
    fn a_refused_datagram_is_dropped_and_the_rest_go() {
        // sendmmsg sends the first two, stops at the one too long for UDP
        // (EMSGSIZE), which is dropped; the call after it sends the last.
        let (from, to) = (socket(), socket());
        let long = vec![0u8; 70_000];
        let data = [&b"a"[..], &b"b"[..], &long[..], &b"c"[..]];
        let mut s = Sender::new(8);
        let sent = s.send(from.as_fd(), data.iter().map(|d| (*d, addr(&to))));
        assert_eq!(sent.unwrap(), 3);
        assert_eq!(read(&to, 8, 16), [b"a", b"b", b"c"]);
    }

    #[test]
    fn a_reply_refused_is_dropped_and_the_rest_go() {
        let (server, client) = (socket(), socket());
        client.send_to(b"q", addr(&server)).unwrap();
        let mut batch = Batch::new(8, 16);
        assert_eq!(batch.recv(server.as_fd()).unwrap(), 1);
        let long = vec![0u8; 70_000];
        let replies = [(0, &long[..]), (0, &b"r"[..])];
        assert_eq!(batch.send(server.as_fd(), replies).unwrap(), 1);
        assert_eq!(read(&client, 8, 16), [b"r"]);
    }

    #[test]
    fn nothing_to_send_sends_nothing() {
        let s = socket();
        assert_eq!(Sender::new(4).send(s.as_fd(), []).unwrap(), 0);
        assert_eq!(Batch::new(4, 16).send(s.as_fd(), []).unwrap(), 0);
    }

    #[test]
    fn all_refused_is_the_refusal_naming_the_call() {
        let (from, to) = (socket(), socket());
        let long = vec![0u8; 70_000];
        let e = Sender::new(4)
            .send(from.as_fd(), [(&long[..], addr(&to))])
            .unwrap_err();
        assert_eq!(e.call, "sendmmsg");
        assert_eq!(e.source.raw_os_error(), Some(libc::EMSGSIZE));
        assert!(e.to_string().starts_with("sendmmsg: "), "{e}");
    }

    #[test]
    fn a_descriptor_that_is_no_socket_names_the_call() {
        let f = std::fs::File::open("/dev/null").unwrap();
        let e = Batch::new(4, 16).recv(f.as_fd()).unwrap_err();
        assert_eq!(e.call, "recvmmsg");
        assert_eq!(e.source.raw_os_error(), Some(libc::ENOTSOCK));
        let to = addr(&socket());
        let e = Sender::new(4)
            .send(f.as_fd(), [(&b"x"[..], to)])
            .unwrap_err();
        assert_eq!(e.call, "sendmmsg");
        assert_eq!(e.source.raw_os_error(), Some(libc::ENOTSOCK));
    }
}
