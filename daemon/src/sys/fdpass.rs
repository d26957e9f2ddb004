//! File descriptors passed between processes over a unix stream socket
//! (SCM_RIGHTS): one byte of data carries each batch.

use super::SysError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

/// The most descriptors one message carries (the kernel's SCM_MAX_FD is 253).
pub const BATCH: usize = 250;

fn cmsg_space(n: usize) -> usize {
    // SAFETY: CMSG_SPACE only computes a size.
    unsafe { libc::CMSG_SPACE((n * std::mem::size_of::<RawFd>()) as u32) as usize }
}

/// Sends `fds` (at most [`BATCH`]) with one byte of data.
pub fn send(stream: &UnixStream, fds: &[RawFd]) -> Result<(), SysError> {
    assert!(fds.len() <= BATCH);
    let mut byte = [1u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = vec![0u8; cmsg_space(fds.len())];
    // SAFETY: a zeroed msghdr is valid; the pointers set below outlive the
    // call, and the control buffer is as long as CMSG_SPACE says.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len() as _;
        // SAFETY: msg_control points at room for one header and the fds.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(fds) as u32) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(c).cast::<RawFd>(),
                fds.len(),
            );
        }
    }
    // SAFETY: msg is fully set up; the socket is open.
    let n = unsafe { libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n != 1 {
        return Err(SysError::last("sendmsg"));
    }
    Ok(())
}

/// Receives one message of [`send`]: the descriptors it carried (owned
/// now, close-on-exec).
pub fn recv(stream: &UnixStream) -> Result<Vec<OwnedFd>, SysError> {
    let mut byte = [0u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = vec![0u8; cmsg_space(BATCH)];
    // SAFETY: as in `send`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len() as _;
    // SAFETY: msg points at buffers that outlive the call.
    let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC) };
    if n != 1 {
        return Err(if n == 0 {
            SysError {
                call: "recvmsg",
                source: std::io::ErrorKind::UnexpectedEof.into(),
            }
        } else {
            SysError::last("recvmsg")
        });
    }
    if msg.msg_flags & libc::MSG_CTRUNC != 0 {
        return Err(SysError {
            call: "recvmsg",
            source: std::io::Error::other("descriptors cut off (MSG_CTRUNC)"),
        });
    }
    let mut out = Vec::new();
    // SAFETY: the kernel filled the control buffer; CMSG_* walk it within
    // msg_controllen, and each SCM_RIGHTS descriptor is ours to own.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let len = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    out.push(OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))));
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn descriptors_cross_a_unix_socket() {
        let (a, b) = UnixStream::pair().unwrap();
        let (mut r, mut w) = UnixStream::pair().unwrap();
        send(&a, &[w.as_raw_fd(), r.as_raw_fd()]).unwrap();
        send(&a, &[]).unwrap();
        let got = recv(&b).unwrap();
        assert_eq!(got.len(), 2);
        assert!(recv(&b).unwrap().is_empty());
        // The first is `w`'s socket: what it writes, `r` reads.
        let mut w2 = UnixStream::from(got.into_iter().next().unwrap());
        w2.write_all(b"x").unwrap();
        let mut buf = [0u8];
        r.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"x");
        w.write_all(b"y").unwrap();
        drop(a);
        assert!(recv(&b).is_err());
    }
}
