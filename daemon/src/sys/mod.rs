//! The support layer's system calls: each wrapped once, behind a safe
//! function, failing with one error type that names the call. Knows no DNS.

pub mod activation;
pub mod fdpass;
mod host;
pub mod mmsg;
pub mod notify;
mod signals;
pub mod uring;

pub use host::{cpus, give_back_memory, hostname, socket_cookie};
pub use signals::SignalSet;

/// A system call that failed: which one, and the OS's error.
#[derive(Debug, thiserror::Error)]
#[error("{call}: {source}")]
pub struct SysError {
    pub call: &'static str,
    #[source]
    pub source: std::io::Error,
}

impl SysError {
    /// The calling thread's errno after `call` failed.
    pub fn last(call: &'static str) -> SysError {
        SysError {
            call,
            source: std::io::Error::last_os_error(),
        }
    }

    /// An error number a call returned (pthread_* and sigwait return it).
    pub fn from_code(call: &'static str, code: i32) -> SysError {
        SysError {
            call,
            source: std::io::Error::from_raw_os_error(code),
        }
    }
}
