//! Series handles resolved once per kind of query and kept while they hold:
//! the raw path's hooks count a hit without building label strings.

use super::Shard;
use crate::hash::MixMap;

/// A worker's handles (`V`, made of [`super::Handle`]s) keyed by what
/// their labels depend on, in one number. Cleared when the shard's series
/// are removed (its epoch changes), as the handles then are stale.
pub struct Memo<V: Copy> {
    map: MixMap<u64, V>,
    /// The last key: most queries in a row count alike.
    last: Option<(u64, V)>,
    epoch: u64,
}

impl<V: Copy> Default for Memo<V> {
    fn default() -> Self {
        Self {
            map: MixMap::default(),
            last: None,
            epoch: 0,
        }
    }
}

impl<V: Copy> Memo<V> {
    /// The handles for `key`, made by `make` the first time.
    pub fn get(&mut self, m: &mut Shard, key: u64, make: impl FnOnce(&mut Shard) -> V) -> V {
        if m.epoch() != self.epoch {
            self.map.clear();
            self.last = None;
            self.epoch = m.epoch();
        }
        if let Some((k, v)) = self.last {
            if k == key {
                return v;
            }
        }
        let v = match self.map.get(&key) {
            Some(v) => *v,
            None => {
                let v = make(m);
                self.map.insert(key, v);
                v
            }
        };
        self.last = Some((key, v));
        v
    }
}
