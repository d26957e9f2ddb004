//! systemd's socket activation (sd_listen_fds(3)): the listening sockets a
//! `.socket` unit passes, descriptors 3 onwards.

use std::os::fd::{FromRawFd, OwnedFd};

/// The first descriptor systemd passes.
const FIRST: i32 = 3;

/// Takes the descriptors systemd passed this process (LISTEN_PID is this
/// process's pid; LISTEN_FDS says how many), close-on-exec from now on.
/// The variables go from the environment, so that a process this one
/// starts (a successor on SIGUSR2) does not take them for its own.
///
/// # Safety
/// No other thread may run (the environment changes).
pub unsafe fn take() -> Vec<OwnedFd> {
    let var = |k: &str| std::env::var(k).ok();
    let ours =
        var("LISTEN_PID").and_then(|p| p.trim().parse::<u32>().ok()) == Some(std::process::id());
    let count = var("LISTEN_FDS")
        .and_then(|n| n.trim().parse::<i32>().ok())
        .unwrap_or(0);
    for k in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: the caller guarantees no other thread runs.
        unsafe { std::env::remove_var(k) };
    }
    if !ours || count <= 0 {
        return Vec::new();
    }
    (FIRST..FIRST.saturating_add(count))
        .filter(|&fd| {
            // SAFETY: F_SETFD on a descriptor number; a closed one fails
            // with EBADF and is left out.
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0 }
        })
        // SAFETY: systemd passed the descriptor to this process for it to
        // own; nothing else in the process knows its number.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect()
}
