//! SK_REUSEPORT program for ferrodns's UDP listeners: each query goes to
//! the socket of the worker that owns its question (a hash of the
//! lowercased name and the type), so a name is looked up, filled and
//! refreshed on one core. Names in a hot bucket (set by the loader from
//! `COUNTS`) and anything the program cannot read go by the flow's hash
//! instead: the cache is shared, so any worker answers them.
#![no_std]
#![no_main]

use aya_ebpf::{
    macros::{map, sk_reuseport},
    maps::{Array, PerCpuArray, ReusePortSockArray},
    programs::SkReuseportContext,
};
use ferrodns_ebpf_common::steer::{bucket, finish, fnv, owner, BUCKETS, FNV_BASIS, MAX_WORKERS};

#[map]
static SOCKETS: ReusePortSockArray = ReusePortSockArray::with_max_entries(MAX_WORKERS, 0);

#[map]
static WORKERS: Array<u32> = Array::with_max_entries(1, 0);

#[map]
static COUNTS: PerCpuArray<u64> = PerCpuArray::with_max_entries(BUCKETS, 0);

#[map]
static HOT: Array<u32> = Array::with_max_entries(BUCKETS, 0);

const SK_PASS: u32 = 1;
const UDP_HDR: usize = 8;
const DNS_HDR: usize = 12;
/// The longest name in wire form.
const MAX_NAME: usize = 255;

#[sk_reuseport]
pub fn steer(ctx: SkReuseportContext) -> u32 {
    let n = match WORKERS.get(0) {
        Some(&n) if n > 1 => n,
        _ => return SK_PASS,
    };
    let key = match question_hash(&ctx) {
        Some(h) => {
            let b = bucket(h);
            if let Some(c) = COUNTS.get_ptr_mut(b) {
                // SAFETY: the map's value for this CPU; the program runs to
                // the end on one CPU without preemption by itself.
                unsafe { *c += 1 };
            }
            if matches!(HOT.get(b), Some(&1)) {
                ctx.hash()
            } else {
                h
            }
        }
        None => ctx.hash(),
    };
    // Hot names and what cannot be read go by the flow's hash, but among
    // this program's sockets only: during a reload that changes the
    // workers the group also holds the old sockets, which are closing.
    // Without an entry (a worker's socket closed) the kernel falls back to
    // its own choice.
    let _ = SOCKETS.select_reuseport(&ctx, owner(key, n));
    SK_PASS
}

/// The (finished) hash of the question's name (wire form, ASCII
/// lowercased) and type, as `ferrodns_ebpf_common::steer::hash` computes it;
/// None when the packet does not hold a whole name in its linear part.
#[inline(always)]
fn question_hash(ctx: &SkReuseportContext) -> Option<u32> {
    let end = ctx.data_end();
    let mut p = ctx.data() + UDP_HDR + DNS_HDR;
    let mut h = FNV_BASIS;
    // Bytes left in the current label; 0 at a length byte.
    let mut left: u8 = 0;
    let mut i = 0;
    while i < MAX_NAME {
        if p + 1 > end {
            return None;
        }
        // SAFETY: p + 1 <= data_end, checked above for the verifier.
        let mut b = unsafe { *(p as *const u8) };
        p += 1;
        if left == 0 {
            if b == 0 {
                if p + 2 > end {
                    return None;
                }
                // SAFETY: p + 2 <= data_end.
                let t = unsafe { *(p as *const [u8; 2]) };
                h = fnv(h, 0);
                return Some(finish(fnv(fnv(h, t[0]), t[1])));
            }
            // Compression pointers cannot occur in a query's first name.
            if b > 63 {
                return None;
            }
            left = b;
        } else {
            b = b.to_ascii_lowercase();
            left -= 1;
        }
        h = fnv(h, b);
        i += 1;
    }
    None
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
