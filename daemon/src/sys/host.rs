//! The machine's name.

use super::SysError;

/// gethostname(2), as Go's os.Hostname gives it.
pub fn hostname() -> Result<String, SysError> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return Err(SysError::last("gethostname"));
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// The kernel's id of the socket behind `s` (SO_COOKIE): the same for
/// every descriptor of one socket.
pub fn socket_cookie(s: &impl std::os::fd::AsRawFd) -> Result<u64, SysError> {
    let mut v: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `v`, which we own.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_COOKIE,
            (&mut v as *mut u64).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(SysError::last("getsockopt(SO_COOKIE)"));
    }
    Ok(v)
}

/// The CPUs this process may run on (sched_getaffinity and cgroup
/// limits, as std reads them); 1 where they cannot be read.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

// The `mimalloc` crate links mimalloc's library into every binary of the
// crate, test binaries included (only `main` names it otherwise: a test
// binary was left without `mi_collect`).
use mimalloc as _;

extern "C" {
    /// mimalloc's own (linked with the `mimalloc` crate).
    fn mi_collect(force: bool);
}

/// Returns the calling thread's freed memory to the OS (mimalloc keeps a
/// thread's freed pages resident until that thread allocates again, which
/// a control thread that just built something large may not do for long).
pub fn give_back_memory() {
    // SAFETY: mi_collect only walks the allocator's own free lists.
    unsafe { mi_collect(true) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_socket_and_its_duplicate_share_a_cookie() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = super::socket_cookie(&a).unwrap();
        assert_eq!(c, super::socket_cookie(&a.try_clone().unwrap()).unwrap());
        assert_ne!(c, super::socket_cookie(&b).unwrap());
    }

    #[test]
    fn hostname_is_the_kernels() {
        let want = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(super::hostname().unwrap(), want.trim());
    }
}
