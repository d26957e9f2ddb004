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

/// The CPUs this process may run on (sched_getaffinity and cgroup
/// limits, as std reads them); 1 where they cannot be read.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostname_is_the_kernels() {
        let want = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        assert_eq!(super::hostname().unwrap(), want.trim());
    }
}
