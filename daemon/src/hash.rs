//! A hasher for the integer keys of per-query maps (cache keys, metric
//! series keys): one multiply and fold instead of SipHash. Maps whose keys
//! clients can steer take it with a random seed ([`Seeded`]).

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        let m = u128::from(self.0 ^ v) * 0x9E37_79B9_7F4A_7C15;
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

/// A `HashMap` built with [`Mix`].
pub type MixMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Mix>>;

/// [`Mix`] started from a random seed, for maps whose keys clients can
/// steer (the cache's: its keys are an unkeyed hash of the question, so
/// without a seed a client could work out names that share a bucket).
#[derive(Clone)]
pub struct Seeded(u64);

impl Default for Seeded {
    fn default() -> Self {
        Seeded(rand::random())
    }
}

impl std::hash::BuildHasher for Seeded {
    type Hasher = Mix;
    fn build_hasher(&self) -> Mix {
        Mix(self.0)
    }
}

/// A `HashMap` built with [`Seeded`].
pub type SeededMap<K, V> = std::collections::HashMap<K, V, Seeded>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreads_close_keys() {
        let h = |v: u64| {
            let mut m = Mix::default();
            m.write_u64(v);
            m.finish()
        };
        assert_ne!(h(1), h(2));
        // Low bits pick the bucket, the top seven the tag: both vary.
        assert_ne!(h(1) & 0xFF, h(2) & 0xFF);
        assert_ne!(h(1) >> 57, h(2) >> 57);
    }
}
