//! The XDP attachment as a BPF link (`bpf(BPF_LINK_CREATE)`): the link is
//! a file descriptor of this process, so the program leaves the interface
//! when the descriptor closes, whether the process drops it, exits or is
//! killed. (aya's `Xdp::attach` falls back to netlink where the link call
//! fails with EINVAL, and a netlink attachment outlives the process: it
//! would go on answering from entries nobody keeps fresh.)

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `BPF_LINK_CREATE` of `enum bpf_cmd`.
const BPF_LINK_CREATE: libc::c_long = 28;
/// `BPF_XDP` of `enum bpf_attach_type`.
const BPF_XDP: u32 = 37;
/// `XDP_FLAGS_SKB_MODE`, `XDP_FLAGS_DRV_MODE` (linux/if_link.h).
pub const FLAGS_SKB: u32 = 1 << 1;
pub const FLAGS_DRV: u32 = 1 << 2;

/// `union bpf_attr` as BPF_LINK_CREATE reads it for XDP: program, target
/// interface, attach type, flags; the rest zero (the kernel checks that
/// bytes it does not know are zero).
#[repr(C)]
struct LinkCreate {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    rest: [u64; 6],
}

/// The index of interface `name` in this thread's network namespace.
pub fn ifindex(name: &str) -> io::Result<u32> {
    let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: a NUL-terminated string that lives across the call.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::last_os_error()),
        i => Ok(i),
    }
}

/// Attaches XDP program `prog` to interface `ifindex` with `flags`
/// ([`FLAGS_DRV`] or [`FLAGS_SKB`]); the link's descriptor.
pub fn create(prog: BorrowedFd<'_>, ifindex: u32, flags: u32) -> io::Result<OwnedFd> {
    let attr = LinkCreate {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type: BPF_XDP,
        flags,
        rest: [0; 6],
    };
    // SAFETY: bpf(2) reads `size` bytes of `attr`, which lives across the
    // call; on success it returns a new descriptor this process owns.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_LINK_CREATE,
            &attr as *const LinkCreate,
            std::mem::size_of::<LinkCreate>() as libc::c_uint,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just handed this descriptor to us, unshared.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// Waits until every CPU has passed a quiescent state
/// (`membarrier(MEMBARRIER_CMD_GLOBAL)`, an RCU grace period): every run
/// of an XDP program under way when it was called has ended. Fails where
/// the kernel does not offer it (nohz_full CPUs).
pub fn grace_period() -> io::Result<()> {
    /// `MEMBARRIER_CMD_GLOBAL` (linux/membarrier.h).
    const MEMBARRIER_CMD_GLOBAL: libc::c_long = 1;
    // SAFETY: membarrier(2) with a command and no flags reads no memory.
    let r = unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// CLOCK_MONOTONIC now, in nanoseconds: the clock `bpf_ktime_get_ns` reads.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec it is handed.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What one `BPF_PROG_TEST_RUN` of an XDP program gave.
#[cfg(test)]
pub struct TestRun {
    /// The program's verdict (`XDP_PASS` 2, `XDP_TX` 3, ...).
    pub action: u32,
    /// The frame as the program left it.
    pub frame: Vec<u8>,
    /// The kernel's measure of one run, in nanoseconds (its clock's
    /// reading included).
    pub ns: u32,
}

/// Runs XDP program `prog` on `frame` in the kernel (`BPF_PROG_TEST_RUN`,
/// on this thread's CPU, the frame with the usual 256 bytes of headroom
/// and a page to grow into), `repeat` times on the same frame.
#[cfg(test)]
pub fn test_run(prog: BorrowedFd<'_>, frame: &[u8], repeat: u32) -> io::Result<TestRun> {
    /// `BPF_PROG_TEST_RUN` of `enum bpf_cmd`.
    const BPF_PROG_TEST_RUN: libc::c_long = 10;
    /// `union bpf_attr` as BPF_PROG_TEST_RUN reads it: no context, no
    /// flags.
    #[repr(C)]
    struct Attr {
        prog_fd: u32,
        retval: u32,
        data_size_in: u32,
        data_size_out: u32,
        data_in: u64,
        data_out: u64,
        repeat: u32,
        duration: u32,
        rest: [u64; 5],
    }
    let mut out = vec![0u8; 4096];
    let mut attr = Attr {
        prog_fd: prog.as_raw_fd() as u32,
        retval: 0,
        data_size_in: frame.len() as u32,
        data_size_out: out.len() as u32,
        data_in: frame.as_ptr() as u64,
        data_out: out.as_mut_ptr() as u64,
        repeat,
        duration: 0,
        rest: [0; 5],
    };
    // SAFETY: bpf(2) reads `frame` and writes at most `data_size_out`
    // bytes of `out` and the attribute's output fields, all of which live
    // across the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_TEST_RUN,
            &mut attr as *mut Attr,
            std::mem::size_of::<Attr>() as libc::c_uint,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    out.truncate(attr.data_size_out as usize);
    Ok(TestRun {
        action: attr.retval,
        frame: out,
        ns: attr.duration,
    })
}
