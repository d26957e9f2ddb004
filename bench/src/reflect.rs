//! The socket baseline: every UDP datagram goes back to its sender with the QR
//! bit set, read and written 64 at a time with recvmmsg/sendmmsg. No DNS work,
//! so what it answers per second is what one core's socket path allows.

use crate::Opts;
use anyhow::{Context, Result};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;

const BUF: usize = 2048;

pub fn main(opts: &Opts) -> Result<()> {
    let listen: SocketAddr = opts
        .need("--listen")?
        .parse()
        .context("--listen takes IP:PORT")?;
    let batch: usize = opts.num("--batch", 64usize)?.clamp(1, 1024);
    let sock = UdpSocket::bind(listen).with_context(|| format!("bind {listen}"))?;
    eprintln!("reflect: echoing on {listen}, batch {batch}");
    let fd = sock.as_raw_fd();
    let mut bufs = vec![[0u8; BUF]; batch];
    // SAFETY: sockaddr_storage is plain data; all zeroes is a valid value.
    let mut addrs: Vec<libc::sockaddr_storage> = vec![unsafe { std::mem::zeroed() }; batch];
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: BUF,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all zeroes is a valid value.
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; batch];
    for (i, m) in msgs.iter_mut().enumerate() {
        m.msg_hdr.msg_name = (&mut addrs[i] as *mut libc::sockaddr_storage).cast();
        m.msg_hdr.msg_iov = &mut iovs[i];
        m.msg_hdr.msg_iovlen = 1;
    }
    loop {
        for (i, m) in msgs.iter_mut().enumerate() {
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            iovs[i].iov_len = BUF;
        }
        // SAFETY: msgs points at `batch` headers whose names and iovecs point
        // into addrs and bufs, which live as long as this loop.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                batch as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e).context("recvmmsg");
        }
        let n = n as usize;
        for i in 0..n {
            let len = msgs[i].msg_len as usize;
            if len >= 3 {
                bufs[i][2] |= 0x80;
            }
            iovs[i].iov_len = len;
        }
        let mut done = 0;
        while done < n {
            // SAFETY: as above; the first n headers were filled by recvmmsg
            // with the senders' addresses and now carry the answers' lengths.
            let s =
                unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr().add(done), (n - done) as u32, 0) };
            if s <= 0 {
                // A full send buffer drops the rest, as a busy server would.
                break;
            }
            done += s as usize;
        }
    }
}
