//! What the eBPF programs (ebpf/steer, ebpf/xdp) and their loader in the
//! daemon agree on: map names and sizes, the steering program's name hash,
//! and the XDP program's map layout and arithmetic.
#![no_std]

pub mod xdp;

/// The SK_REUSEPORT steering program (ebpf/steer).
pub mod steer {
    /// The program's name in the object.
    pub const PROGRAM: &str = "steer";
    /// `ReusePortSockArray`: worker i's UDP socket of the listener at i.
    pub const SOCKETS: &str = "SOCKETS";
    /// `Array<u32>` of one: how many workers (0: steer nothing).
    pub const WORKERS: &str = "WORKERS";
    /// `PerCpuArray<u64>` of [`BUCKETS`]: queries seen per name bucket.
    pub const COUNTS: &str = "COUNTS";
    /// `Array<u32>` of [`BUCKETS`]: 1 where a bucket is hot (its queries
    /// go by the flow's hash, so any worker answers them).
    pub const HOT: &str = "HOT";
    /// Most workers a listener's group can steer to.
    pub const MAX_WORKERS: u32 = 1024;
    /// Name buckets counted for hot names (a power of two).
    pub const BUCKETS: u32 = 1024;

    /// FNV-1a offset basis and prime, the hash over the question's name
    /// (wire form, ASCII lowercased, labels with their length bytes, the
    /// root's zero) and its type's two bytes.
    pub const FNV_BASIS: u32 = 0x811c_9dc5;
    pub const FNV_PRIME: u32 = 0x0100_0193;

    /// One byte into the hash.
    #[inline(always)]
    pub fn fnv(h: u32, b: u8) -> u32 {
        (h ^ b as u32).wrapping_mul(FNV_PRIME)
    }

    /// Mixes FNV's state so that every bit depends on every input bit
    /// (lowbias32): FNV-1a's low bits depend only on the bytes' low bits,
    /// so without it `owner` for 2 or 4 workers would ignore most of each
    /// letter (and its case).
    #[inline(always)]
    pub fn finish(mut h: u32) -> u32 {
        h ^= h >> 16;
        h = h.wrapping_mul(0x7feb_352d);
        h ^= h >> 15;
        h = h.wrapping_mul(0x846c_a68b);
        h ^ (h >> 16)
    }

    /// The worker of `n` that owns (finished) hash `h`: its high bits
    /// scaled to `0..n` (no division).
    #[inline(always)]
    pub fn owner(h: u32, n: u32) -> u32 {
        ((h as u64 * n as u64) >> 32) as u32
    }

    /// The hot-name bucket of (finished) hash `h`: its low bits, apart
    /// from the high bits `owner` uses, so a bucket holds names of every
    /// worker.
    #[inline(always)]
    pub fn bucket(h: u32) -> u32 {
        h & (BUCKETS - 1)
    }

    /// The hash of a question as the program computes it, for the loader's
    /// tests: `qname` in wire form up to and including the root label;
    /// finished.
    pub fn hash(qname: &[u8], qtype: u16) -> u32 {
        let mut h = FNV_BASIS;
        for &b in qname {
            h = fnv(h, b.to_ascii_lowercase());
        }
        let t = qtype.to_be_bytes();
        finish(fnv(fnv(h, t[0]), t[1]))
    }
}
