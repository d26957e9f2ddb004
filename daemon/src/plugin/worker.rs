//! What belongs to one worker and is handed to plugins with each query:
//! its index, its metrics shard and the per-worker state of stateful
//! plugins (a cache shard, say). Nothing here is shared with other workers
//! on the query path.

use crate::metrics::{self, Shard};
use std::any::Any;
use std::cell::RefCell;
use std::sync::{Arc, Mutex};

pub struct Worker {
    pub index: usize,
    /// How many workers serve this configuration (per-worker shares of a
    /// plugin's capacity are sized by it).
    pub count: usize,
    metrics: Arc<Mutex<Shard>>,
    /// Indexed by the slot a plugin got from `BlockSetup::slot`.
    slots: RefCell<Vec<Option<Box<dyn Any>>>>,
}

impl Worker {
    pub fn new(index: usize, count: usize) -> Self {
        Self {
            index,
            count: count.max(1),
            metrics: metrics::worker_shard(),
            slots: RefCell::new(Vec::new()),
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
        }
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
