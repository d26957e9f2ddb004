//! The kernel fast path (`xdp`), as the contract gives it to plugins: a
//! plugin whose raw-path answers the kernel may give in its place
//! (`Plugin::kernel_answers`: cache) hands the answers its clients keep
//! asking for to a [`Feed`], and tells it when one is no longer good (the
//! item it came from was replaced, evicted or removed). The feed (the
//! server's, on top of the XDP loader) turns them into entries of the
//! program's map; the kernel then answers those questions byte for byte as
//! the raw path would, until the answer's TTL or `until` runs out.

use std::time::Instant;

/// One raw-path answer handed over.
pub struct Promotion<'a> {
    /// The reply exactly as the raw path wrote it for one query.
    pub reply: &'a [u8],
    /// That query's bits the answer depends on.
    pub opt: bool,
    pub do_bit: bool,
    pub cd: bool,
    pub ad: bool,
    /// When the answer's TTL started counting down, its TTL then, and
    /// whether every answer carries that TTL whatever the age (`keepttl`).
    pub stored: Instant,
    pub orig_ttl: u32,
    pub keep_ttl: bool,
    /// Not answered by the kernel from then on (where the plugin must see
    /// the queries again, e.g. to prefetch).
    pub until: Option<Instant>,
    /// bufsize's cap on the client's UDP size in this block, if any.
    pub size_cap: Option<u16>,
    /// What the answer came from, for [`Feed::forget`].
    pub owner: u64,
    /// What the hooks' `kernel_done` are told of each answer the kernel
    /// gives from it (`server`: the listener the query came in on, which
    /// tells the feed which group of listeners the entry is for; `family`
    /// and `count` are the feed's to fill in).
    pub hits: KernelHits<'a>,
}

/// Answers the kernel gave from one entry since the last look, as the raw
/// path's hooks would have seen them: `Plugin::kernel_done` counts them.
#[derive(Clone, Copy, Debug)]
pub struct KernelHits<'a> {
    pub server: &'a str,
    pub zone: &'a str,
    /// The client's address family, as metrics label it ("1" IPv4, "2" IPv6).
    pub family: &'a str,
    pub qtype: u16,
    pub rcode: u16,
    pub do_bit: bool,
    /// From the cache's denial store.
    pub denial: bool,
    /// The query's length, and the reply's without name compression (what
    /// prometheus reports).
    pub request_len: usize,
    pub plain_len: usize,
    /// How many.
    pub count: u64,
}

/// Where a block's plugins hand answers to the kernel.
pub trait Feed: Send + Sync {
    /// Hands an answer over; false when the kernel cannot give it (the
    /// plugin need not offer it again).
    fn promote(&self, p: &Promotion<'_>) -> bool;
    /// The answers handed over from `owner` are no longer good.
    fn forget(&self, owner: u64);
    /// How many raw-path hits make an answer worth handing over.
    fn threshold(&self) -> u32;
}
