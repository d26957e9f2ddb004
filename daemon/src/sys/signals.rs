//! Blocking signals for every thread and waiting for them on one.

use super::SysError;

/// A set of signals, blocked in the thread that made it (and in every
/// thread it starts after).
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    /// Blocks `signals` in the calling thread (pthread_sigmask) and returns
    /// them as a set to wait on.
    pub fn block(signals: &[i32]) -> Result<SignalSet, SysError> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it below
        // before any other use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a sigset_t we own.
        if unsafe { libc::sigemptyset(&mut set) } != 0 {
            return Err(SysError::last("sigemptyset"));
        }
        for &s in signals {
            // SAFETY: as above; an invalid number fails with EINVAL.
            if unsafe { libc::sigaddset(&mut set, s) } != 0 {
                return Err(SysError::last("sigaddset"));
            }
        }
        // SAFETY: `set` is initialised; no old mask is asked for.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(SysError::from_code("pthread_sigmask", rc));
        }
        Ok(SignalSet(set))
    }

    /// Waits for one of the set's signals (sigwait) and returns it.
    pub fn wait(&self) -> Result<i32, SysError> {
        let mut sig: libc::c_int = 0;
        // SAFETY: the set is initialised and `sig` is a valid out pointer.
        let rc = unsafe { libc::sigwait(&self.0, &mut sig) };
        if rc != 0 {
            return Err(SysError::from_code("sigwait", rc));
        }
        Ok(sig)
    }
}

// SAFETY: a sigset_t is plain data, read only by sigwait.
unsafe impl Send for SignalSet {}
unsafe impl Sync for SignalSet {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blocked_signal_is_waited_for() {
        // In a thread of its own: the mask stays there.
        std::thread::spawn(|| {
            let set = SignalSet::block(&[libc::SIGUSR2]).unwrap();
            // SAFETY: raise(3) sends to this thread; SIGUSR2 is blocked.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR2) }, 0);
            assert_eq!(set.wait().unwrap(), libc::SIGUSR2);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_bad_signal_names_the_call() {
        let e = SignalSet::block(&[100_000]).err().unwrap();
        assert_eq!(e.call, "sigaddset");
        assert!(e.to_string().starts_with("sigaddset: "), "{e}");
    }
}
