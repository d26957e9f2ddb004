//! What belongs to one worker and is handed to plugins with each query:
//! its index, its metrics shard and the per-worker state of stateful
//! plugins (a cache shard, say). Nothing here is shared with other workers
//! on the query path.

use crate::metrics::{self, Shard};
use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

/// Work a plugin leaves running after the query that started it was
/// answered (a cache refresh).
pub type Detached = Pin<Box<dyn Future<Output = ()>>>;

pub struct Worker {
    pub index: usize,
    /// How many workers serve this configuration (per-worker shares of a
    /// plugin's capacity are sized by it).
    pub count: usize,
    metrics: Arc<Mutex<Shard>>,
    /// Indexed by the slot a plugin got from `BlockSetup::slot`.
    slots: RefCell<Vec<Option<Box<dyn Any>>>>,
    /// Detached work waiting for the worker's runner; shared by the
    /// renewed workers of later configurations.
    detached: Rc<DetachedQueue>,
}

#[derive(Default)]
struct DetachedQueue {
    queue: RefCell<Vec<Detached>>,
    wake: tokio::sync::Notify,
}

impl Worker {
    pub fn new(index: usize, count: usize) -> Self {
        Self {
            index,
            count: count.max(1),
            metrics: metrics::worker_shard(),
            slots: RefCell::new(Vec::new()),
            detached: Rc::default(),
        }
    }

    /// The same worker for a new configuration: its metrics go on, its
    /// plugins' state starts afresh.
    pub fn renewed(&self) -> Self {
        Self {
            index: self.index,
            count: self.count,
            metrics: Arc::clone(&self.metrics),
            slots: RefCell::new(Vec::new()),
            detached: Rc::clone(&self.detached),
        }
    }

    /// Runs `f` on this worker's thread, beside the queries, after the
    /// query that started it is answered: the worker's runner (see
    /// [`Worker::run_detached`]) takes it.
    pub fn detach(&self, f: impl Future<Output = ()> + 'static) {
        self.detached.queue.borrow_mut().push(Box::pin(f));
        self.detached.wake.notify_one();
    }

    /// Runs what is detached on this worker, for as long as the worker
    /// serves: each piece as a task of its own on the worker's thread
    /// (inside its `LocalSet`).
    pub fn run_detached(&self) -> impl Future<Output = ()> + 'static {
        let d = Rc::clone(&self.detached);
        async move {
            loop {
                let next = d.queue.borrow_mut().pop();
                match next {
                    Some(f) => {
                        tokio::task::spawn_local(f);
                    }
                    None => d.wake.notified().await,
                }
            }
        }
    }

    /// Takes what is detached and not yet running (tests and fuzzing,
    /// which run no worker).
    pub fn take_detached(&self) -> Vec<Detached> {
        std::mem::take(&mut *self.detached.queue.borrow_mut())
    }

    /// Updates this worker's metrics.
    pub fn metrics<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        metrics::with(&self.metrics, f)
    }

    /// Runs `f` on this worker's state for `slot`, made by `init` on first
    /// use. Do not hold it across an await: another query on this worker
    /// may need it meanwhile.
    pub fn state<T: 'static, R>(
        &self,
        slot: usize,
        init: impl FnOnce() -> T,
        f: impl FnOnce(&mut T) -> R,
    ) -> R {
        let mut slots = self.slots.borrow_mut();
        if slots.len() <= slot {
            slots.resize_with(slot + 1, || None);
        }
        // Slots are handed out once per plugin instance; a state of another
        // type means the slot belonged to a plugin of an older config.
        if !slots[slot].as_ref().is_some_and(|b| b.is::<T>()) {
            slots[slot] = Some(Box::new(init()));
        }
        let t = slots[slot]
            .as_mut()
            .and_then(|b| b.downcast_mut::<T>())
            .expect("just checked");
        f(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_per_slot() {
        let w = Worker::new(0, 1);
        assert_eq!(w.state(2, || 10u32, |v| *v), 10);
        w.state(2, || 0u32, |v| *v += 5);
        assert_eq!(w.state(2, || 0u32, |v| *v), 15);
        assert_eq!(w.state(0, String::new, |s| s.len()), 0);
    }
}
