//! What belongs to one worker and is handed to plugins with each query:
//! its index and its metrics shard. Nothing here is shared with other
//! workers on the query path.

use crate::metrics::{self, Shard};
use std::sync::{Arc, Mutex};

pub struct Worker {
    pub index: usize,
    metrics: Arc<Mutex<Shard>>,
}

impl Worker {
    pub fn new(index: usize) -> Self {
        Self {
            index,
            metrics: metrics::worker_shard(),
        }
    }

    /// Updates this worker's metrics.
    pub fn metrics<R>(&self, f: impl FnOnce(&mut Shard) -> R) -> R {
        metrics::with(&self.metrics, f)
    }
}
