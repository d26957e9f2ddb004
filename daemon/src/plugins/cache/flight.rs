//! Single-flight across workers: the misses being filled, by key. The
//! first miss for a key leads (it passes the query on and holds a
//! [`FlightGuard`]); misses for the same key on any worker follow, waiting
//! until the leader's fill lands.

use hickory_proto::op::{Message, ResponseCode};
use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long a miss waits for the same miss another query is filling
/// before it asks on its own: forward's deadline.
pub(super) const FLIGHT_WAIT: Duration = Duration::from_secs(5);

/// A miss being filled.
#[derive(Debug, Default)]
pub(super) struct Flight {
    pub(super) done: std::sync::atomic::AtomicBool,
    pub(super) landed: tokio::sync::Notify,
    /// What the filling query's chain answered, when it stored nothing (a
    /// SERVFAIL from a dead upstream, say): the waiting misses answer the
    /// same instead of asking again and waiting as long once more.
    pub(super) outcome: std::sync::Mutex<Option<(Option<Message>, ResponseCode)>>,
}

impl Flight {
    pub(super) async fn landed(&self) {
        while !self.done.load(Ordering::Acquire) {
            let n = self.landed.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.done.load(Ordering::Acquire) {
                return;
            }
            n.await;
        }
    }
}

/// The leader's hold on a [`Flight`]: dropping it lands the flight.
#[derive(Debug)]
pub(super) struct FlightGuard {
    pub(super) flights: std::sync::Arc<Flights>,
    pub(super) key: u64,
    pub(super) flight: std::sync::Arc<Flight>,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.flights.land(self.key, &self.flight);
    }
}

/// The misses being filled, by key; every worker looks here on a miss.
#[derive(Debug, Default)]
pub(super) struct Flights(
    pub(super) std::sync::Mutex<crate::hash::SeededMap<u64, std::sync::Arc<Flight>>>,
);

/// A miss's place in the flights.
pub(super) enum Joined {
    /// Nobody is filling it: this query does.
    Leader(FlightGuard),
    /// Another query is: wait for it.
    Follower(std::sync::Arc<Flight>),
}

impl Flights {
    pub(super) fn join(self: &std::sync::Arc<Self>, key: u64) -> Joined {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = m.get(&key) {
            return Joined::Follower(std::sync::Arc::clone(f));
        }
        let flight = std::sync::Arc::new(Flight::default());
        m.insert(key, std::sync::Arc::clone(&flight));
        Joined::Leader(FlightGuard {
            flights: std::sync::Arc::clone(self),
            key,
            flight,
        })
    }

    pub(super) fn land(&self, key: u64, flight: &std::sync::Arc<Flight>) {
        let mut m = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if m.get(&key)
            .is_some_and(|f| std::sync::Arc::ptr_eq(f, flight))
        {
            m.remove(&key);
        }
        drop(m);
        flight.done.store(true, Ordering::Release);
        flight.landed.notify_waiters();
    }
}
