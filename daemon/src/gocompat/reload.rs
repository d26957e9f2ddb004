//! The one periodic thread plugins re-read their files on (CoreDNS's
//! `time.Ticker` loops in hosts, loadbalance's weights and file): every
//! interval, one call of the plugin's tick, until the handle is dropped.
//! What counts as a change (a modification time, a checksum, a zone's
//! serial) is the caller's, as each CoreDNS plugin has its own rule.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

/// A running periodic thread. Dropping it stops the thread: at once while
/// it waits, or after the tick in progress.
pub struct Periodic {
    _stop: Sender<()>,
}

impl Periodic {
    /// Starts a thread named `name` that calls `tick` every `every`, each
    /// wait counted from the end of the previous tick.
    pub fn start(
        name: &str,
        every: Duration,
        mut tick: impl FnMut() + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                match rx.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => tick(),
                    // The handle is gone.
                    _ => return,
                }
            })?;
        Ok(Self { _stop: tx })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn ticks_until_dropped() {
        let n = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&n);
        let p = Periodic::start("test-tick", Duration::from_millis(10), move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        while n.load(Ordering::SeqCst) < 3 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(n.load(Ordering::SeqCst) >= 3);
        drop(p);
        // A tick already past its wait may still finish; then none.
        std::thread::sleep(Duration::from_millis(30));
        let after = n.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(n.load(Ordering::SeqCst), after);
    }
}
