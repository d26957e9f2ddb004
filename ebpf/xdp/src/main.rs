//! XDP program for ferrodns: answers hot cache hits in the kernel, byte
//! for byte as the userspace cache answers them. A UDP query to one of the
//! listeners in `LISTENERS` (Ethernet, an optional 802.1Q tag, IPv4 without
//! options or fragments or IPv6 without extension headers), with one
//! question and nothing after it but at most an OPT of version 0 without
//! options, is looked up in `ENTRIES` by the hash of its lowercased name,
//! type, class, listener group and the query bits userspace's answer
//! depends on. An entry that holds the query's name in the query's case,
//! has not expired and fits the client's UDP size is written over the
//! query in place: addresses and ports swapped, ID and RD kept, the
//! entry's flags, counts, question and bytes after it, the remaining TTL
//! in every record, the client's UDP size and OPT flags, both checksums;
//! then XDP_TX. Everything else passes to the kernel's stack (XDP_PASS),
//! counted by reason in `COUNTERS`. The layout is
//! `ferrodns_ebpf_common::xdp`'s.
//!
//! Every helper call costs (return thunks and retpolines on the machines
//! this runs on): the packet is read and written in place, a word at a
//! time, and an answer takes three calls (the entry's lookup, the clock,
//! the frame's growth); the entry's bytes are copied in words (those of a
//! long reply by a fourth) and the listeners, when few, compared without
//! looking them up.
#![no_std]
#![no_main]

use aya_ebpf::bindings::{xdp_action, BPF_F_NO_PREALLOC};
use aya_ebpf::helpers::generated::{
    bpf_ktime_get_ns, bpf_xdp_adjust_head, bpf_xdp_adjust_tail, bpf_xdp_store_bytes,
};
use aya_ebpf::macros::{map, xdp};
use aya_ebpf::maps::{Array, HashMap, PerCpuArray};
use aya_ebpf::programs::XdpContext;
use ferrodns_ebpf_common::xdp::{
    self as c, bits, counter, csum_byte, csum_ttls, fold, name, udp_sizes, Entry, FewListeners,
    Key, Listener, DNS_HEADER, MAX_BODY, MAX_NAME, MAX_TTLS, NAME_WORDS, NO_OPT, OPT_LEN,
};

/// The layout the loader writes entries in (`c::VERSION` when it is ours).
#[no_mangle]
static LAYOUT: u32 = 0;

// Without preallocation a replaced or removed entry is freed after an RCU
// grace period, so a program reading it while userspace refreshes it
// reads the old entry whole, never a mix of two.
#[map]
static ENTRIES: HashMap<Key, Entry> = HashMap::with_max_entries(1024, BPF_F_NO_PREALLOC);

#[map]
static LISTENERS: HashMap<Listener, u32> = HashMap::with_max_entries(c::MAX_LISTENERS, 0);

#[map]
static FEW_LISTENERS: Array<FewListeners> = Array::with_max_entries(1, 0);

#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

#[map]
static HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(2048, 0);

/// The query name's words as it came (the entry's name is compared with
/// them), and its length stored and read back (see `launder`).
#[repr(C)]
struct Scratch {
    words: [u64; NAME_WORDS],
    qlen: u64,
}

#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

const ETH_HLEN: usize = 14;
const VLAN_HLEN: usize = 4;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const IPPROTO_UDP: u8 = 17;
const UDP_HLEN: usize = 8;
/// The reply's IP TTL / hop limit (Linux's default).
const HOP_LIMIT: u8 = 64;
/// The most words of a reply copied by the program itself (longer ones
/// take `bpf_xdp_store_bytes`, a call, but no loop).
const COPY_WORDS: usize = 32;
/// The most labels of a name of at most 255 bytes, the root's included.
const MAX_LABELS: usize = 128;

/// What to do with a frame that is not answered, and the counter to count.
enum Verdict {
    Pass(u32),
    /// The frame was changed half way: it cannot go on.
    Drop(u32),
}

type Answer = Result<(), Verdict>;

fn pass<T>(counter: u32) -> Result<T, Verdict> {
    Err(Verdict::Pass(counter))
}

#[xdp]
#[inline(always)]
pub fn ferrodns_xdp(ctx: XdpContext) -> u32 {
    let (action, n) = match frame(&ctx) {
        Ok(()) => (xdp_action::XDP_TX, counter::ANSWERED),
        Err(Verdict::Pass(n)) => (xdp_action::XDP_PASS, n),
        Err(Verdict::Drop(n)) => (xdp_action::XDP_DROP, n),
    };
    if let Some(p) = COUNTERS.get_ptr_mut(n) {
        // SAFETY: this CPU's value; the program is not preempted by itself.
        unsafe { *p += 1 };
    }
    action
}

/// A value of the packet at `p`, as it lies in memory (network order read
/// as little-endian), which the caller checked lies below `data_end`.
#[inline(always)]
fn get<T: Copy>(p: usize) -> T {
    // SAFETY: the caller checked p + size_of::<T>() <= data_end (the
    // verifier does too); packet reads need no alignment on this target.
    unsafe { core::ptr::read_unaligned(p as *const T) }
}

/// A value at `p` in a map value.
///
/// # Safety
/// `p` and the `size_of::<T>()` bytes after it lie in one map value.
#[inline(always)]
unsafe fn get_at<T: Copy>(p: usize) -> T {
    // SAFETY: the caller's; map values need no alignment on this target.
    unsafe { core::ptr::read_unaligned(p as *const T) }
}

/// Writes `v` at `p` in the packet (checked as [`get`]).
#[inline(always)]
fn set<T>(p: usize, v: T) {
    // SAFETY: as `get`.
    unsafe { core::ptr::write_unaligned(p as *mut T, v) }
}

/// Whether `n` bytes at `p` run past the packet's end, for the verifier
/// where lengths checked before prove they do not: LLVM sees that too and
/// would drop a plain comparison, so `end` is one it cannot reason about.
#[inline(always)]
fn past(p: usize, n: usize, end: usize) -> bool {
    p + n > core::hint::black_box(end)
}

/// Writes `v` at `p` in the packet if it lies before `end` (as [`past`];
/// `p` too is one LLVM cannot reason about, so that the verifier sees the
/// pointer it checked written through).
#[inline(always)]
fn put_word(p: usize, v: u64, end: usize) -> bool {
    let p = core::hint::black_box(p);
    if past(p, 8, end) {
        return false;
    }
    set::<u64>(p, v);
    true
}

/// A big-endian 16-bit field as its bytes lie in memory.
const fn wire16(v: u16) -> u16 {
    v.to_be()
}

/// The 16-bit folded one's complement sum of `v`'s 32-bit halves: the
/// sum of its bytes as 16-bit words in memory order (RFC 1071: the sum of
/// a byte-swapped message is the byte-swapped sum).
#[inline(always)]
fn halves(v: u64) -> u64 {
    (v & 0xFFFF_FFFF) + (v >> 32)
}

/// `n` as the verifier must take it: any number in `0..=mask`, however
/// precisely it knew it. Values read on many ways (a loop's exits) would
/// have it check everything after once per way.
#[inline(always)]
fn launder(s: *mut Scratch, n: usize, mask: usize) -> usize {
    // SAFETY: this CPU's scratch; volatile so the store and load stay.
    unsafe {
        core::ptr::write_volatile(&mut (*s).qlen, n as u64);
        core::ptr::read_volatile(&(*s).qlen) as usize & mask
    }
}

/// The Ethernet header: picks the instance for the frame's header sizes,
/// so that every header offset in it is a constant.
#[inline(always)]
fn frame(ctx: &XdpContext) -> Answer {
    // SAFETY: a global of the object; volatile so the loader's value is read.
    if unsafe { core::ptr::read_volatile(&LAYOUT) } != c::VERSION {
        return pass(counter::ERROR_LAYOUT);
    }
    let (data, end) = (ctx.data(), ctx.data_end());
    if data + ETH_HLEN > end {
        return pass(counter::PASS_FRAME);
    }
    // Multicast and broadcast frames are not a unicast query to us.
    if get::<u8>(data) & 1 != 0 {
        return pass(counter::PASS_FRAME);
    }
    const IP: u16 = wire16(ETH_P_IP);
    const IPV6: u16 = wire16(ETH_P_IPV6);
    const VLAN: u16 = wire16(ETH_P_8021Q);
    match get::<u16>(data + 12) {
        IP => answer::<ETH_HLEN, false>(ctx),
        IPV6 => answer::<ETH_HLEN, true>(ctx),
        VLAN => {
            if data + ETH_HLEN + VLAN_HLEN > end {
                return pass(counter::PASS_FRAME);
            }
            match get::<u16>(data + ETH_HLEN + 2) {
                IP => answer::<{ ETH_HLEN + VLAN_HLEN }, false>(ctx),
                IPV6 => answer::<{ ETH_HLEN + VLAN_HLEN }, true>(ctx),
                _ => pass(counter::PASS_FRAME),
            }
        }
        _ => pass(counter::PASS_FRAME),
    }
}

/// What the query says that the reply needs.
struct Query {
    /// Its header flags (host order).
    flags: u16,
    /// Its name's length, the root's byte included.
    qlen: usize,
    /// Its ID as it lies in memory.
    id: u16,
    /// Its source and destination ports as they lie in memory.
    ports: u32,
    /// Its addresses as they lie in memory: IPv4 source and destination
    /// in `addrs[0]`; IPv6 source in `addrs[0..2]`, destination in
    /// `addrs[2..4]`.
    addrs: [u64; 4],
    /// The frame's 802.1Q tag control word, as it lies in memory.
    tci: u16,
    /// The query's Ethernet addresses: bytes 0 to 8, and 8 to 12.
    macs: (u64, u32),
    /// The client's OPT: its UDP size and the high byte of its flags.
    opt: Option<(u16, u8)>,
}

/// A frame with an IP header at `L2`, IPv6 when `V6`.
#[inline(always)]
fn answer<const L2: usize, const V6: bool>(ctx: &XdpContext) -> Answer {
    let l3 = if V6 { 40 } else { 20 };
    let s = match SCRATCH.get_ptr_mut(0) {
        Some(s) => s,
        None => return pass(counter::ERROR_ENTRY),
    };
    let (key, q) = read::<L2, V6>(ctx, l3, s)?;
    // By reference: a key passed by value is copied first.
    #[allow(clippy::needless_borrows_for_generic_args)]
    let e = match ENTRIES.get_ptr(&key) {
        // SAFETY: an entry of the map, valid until the program ends (RCU).
        Some(e) => unsafe { &*e },
        None => return pass(counter::PASS_NO_ENTRY),
    };
    let qlen = q.qlen;
    same_name(s, e, qlen)?;
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    let ttl = match e.ttl(now) {
        Some(t) => t,
        None => return pass(counter::PASS_EXPIRED),
    };
    let body_len = e.body_len as usize;
    let reply_len = DNS_HEADER + qlen + 4 + body_len;
    let ttls = e.ttl_count as usize;
    let with_opt = e.opt_at != NO_OPT;
    if body_len > MAX_BODY
        || reply_len != e.reply_len as usize
        || ttls > MAX_TTLS
        || e.ttl_even > e.ttl_count
        || with_opt != q.opt.is_some()
        || (with_opt && e.opt_at as usize + OPT_LEN > body_len)
    {
        return pass(counter::ERROR_ENTRY);
    }
    let (opt_size, limit) = udp_sizes(q.opt.map(|(size, _)| size), e.size_cap);
    if reply_len > limit as usize {
        return pass(counter::PASS_TOO_BIG);
    }

    // Everything is known: the checksums first, then the frame resized
    // and written from its start (which moves where the tail cannot
    // grow) with what was read of the query's headers.
    let udp_len = (UDP_HLEN + reply_len) as u16;
    let addr_sum = if V6 {
        halves(q.addrs[0]) + halves(q.addrs[1]) + halves(q.addrs[2]) + halves(q.addrs[3])
    } else {
        halves(q.addrs[0])
    };
    // The pseudo header's addresses, the ports and the ID: in memory
    // order, folded and swapped to the big-endian sum's order.
    let wire_sum = addr_sum + halves(q.ports as u64) + q.id as u64;
    let mut sum = fold(wire_sum).swap_bytes() as u64
        + IPPROTO_UDP as u64
        + 2 * udp_len as u64
        + (q.flags & c::FLAG_RD) as u64
        + e.csum as u64
        + csum_ttls(ttl, e.ttl_even as u32, e.ttl_count as u32);
    let body_at = DNS_HEADER + qlen + 4;
    if let Some((_, flags_hi)) = q.opt {
        // The OPT's CLASS (the UDP size) at +3, its TTL word's flags byte
        // at +7 (extended rcode and version stay 0).
        let pos = body_at + e.opt_at as usize + 3;
        let [s0, s1] = opt_size.to_be_bytes();
        sum += (csum_byte(s0, pos) + csum_byte(s1, pos + 1) + csum_byte(flags_hi, pos + 4)) as u64;
    }
    let check = match !fold(sum) {
        0 => 0xFFFF,
        c => c,
    };

    let (data, end) = (ctx.data(), ctx.data_end());
    let new_len = L2 + l3 + UDP_HLEN + reply_len;
    let moved = resize(ctx, new_len as i32 - (end - data) as i32)?;
    let (data, end) = (ctx.data(), ctx.data_end());
    let (ip, udp) = (data + L2, data + L2 + l3);
    let dns = udp + UDP_HLEN;
    if dns + DNS_HEADER > end {
        return Err(Verdict::Drop(counter::ERROR_WRITE));
    }
    // To the query's sender, from the address it asked; the tag and the
    // type as they came.
    let (head, tail) = q.macs;
    let (to, from) = ((head >> 48) | (tail as u64) << 16, head & 0xFFFF_FFFF_FFFF);
    set::<u64>(data, to | from << 48);
    set::<u32>(data + 8, (from >> 16) as u32);
    let etype = wire16(if V6 { ETH_P_IPV6 } else { ETH_P_IP });
    if L2 > ETH_HLEN {
        set::<u32>(data + 12, wire16(ETH_P_8021Q) as u32 | (q.tci as u32) << 16);
        set::<u16>(data + 16, etype);
    } else {
        set::<u16>(data + 12, etype);
    }
    if V6 {
        // Version 6, no traffic class or flow label; payload length, next
        // header, hop limit; the addresses swapped.
        set::<u64>(
            ip,
            0x60 | (wire16(udp_len) as u64) << 32
                | (IPPROTO_UDP as u64) << 48
                | (HOP_LIMIT as u64) << 56,
        );
        set::<u64>(ip + 8, q.addrs[2]);
        set::<u64>(ip + 16, q.addrs[3]);
        set::<u64>(ip + 24, q.addrs[0]);
        set::<u64>(ip + 32, q.addrs[1]);
    } else {
        // Version 4, header of 20 bytes, the total length, ID 0, DF; TTL,
        // protocol, the header's checksum, the addresses swapped; summed
        // in memory order.
        let total = wire16((20 + UDP_HLEN + reply_len) as u16) as u64;
        let w0 = 0x45 | total << 16 | (wire16(0x4000) as u64) << 48;
        let w1 = HOP_LIMIT as u64 | (IPPROTO_UDP as u64) << 8;
        let ip_sum = !fold(halves(w0) + halves(w1) + addr_sum);
        let (src, dst) = (q.addrs[0] as u32, q.addrs[0] >> 32);
        set::<u64>(ip, w0);
        set::<u64>(ip + 8, w1 | (ip_sum as u64) << 16 | dst << 32);
        set::<u32>(ip + 16, src);
    }
    let ports = q.ports.rotate_left(16) as u64;
    set::<u64>(
        udp,
        ports | (wire16(udp_len) as u64) << 32 | (wire16(check) as u64) << 48,
    );
    let flags = e.flags | (q.flags & c::FLAG_RD);
    set::<u16>(dns, q.id);
    set::<u16>(dns + 2, wire16(flags));
    set::<u64>(
        dns + 4,
        wire16(1) as u64
            | (wire16(e.ancount) as u64) << 16
            | (wire16(e.nscount) as u64) << 32
            | (wire16(e.arcount) as u64) << 48,
    );

    // The question and the bytes after it, from the entry: where the
    // frame kept its start, the query's question is there already (the
    // same bytes).
    let (from, len) = if moved {
        (0, qlen + 4 + body_len)
    } else {
        (qlen + 4, body_len)
    };
    let src = e.reply.as_ptr() as usize + from;
    if (8..=COPY_WORDS * 8).contains(&len) {
        // Words (the last one ending with the reply, over the one before).
        let to = dns + DNS_HEADER + from;
        for k in 0..COPY_WORDS {
            if 8 * k + 8 > len {
                break;
            }
            // SAFETY: from + 8k + 8 <= from + len, within the entry's
            // `reply`.
            if !put_word(to + 8 * k, unsafe { get_at(src + 8 * k) }, end) {
                return Err(Verdict::Drop(counter::ERROR_WRITE));
            }
        }
        let last = len - 8;
        // SAFETY: as above.
        if !put_word(to + last, unsafe { get_at(src + last) }, end) {
            return Err(Verdict::Drop(counter::ERROR_WRITE));
        }
    } else if len > 0 {
        // SAFETY: from + len <= qlen + 4 + body_len <= the entry's
        // `reply`; the helper checks the packet's bounds.
        let r = unsafe {
            bpf_xdp_store_bytes(
                ctx.ctx,
                (L2 + l3 + UDP_HLEN + DNS_HEADER + from) as u32,
                src as *mut _,
                len as u32,
            )
        };
        if r != 0 {
            return Err(Verdict::Drop(counter::ERROR_WRITE));
        }
    }
    // The TTLs and the OPT's fields, in place.
    let (data, end) = (ctx.data(), ctx.data_end());
    let body = data + L2 + l3 + UDP_HLEN + body_at;
    let ttl_be = ttl.to_be();
    // The TTL fields' offsets: after the body in the entry (its
    // `ttls_at`; the lengths in bounds as checked above).
    let offsets = e.reply.as_ptr() as usize + ((qlen + 4 + body_len + 1) & !1);
    for j in 0..MAX_TTLS {
        if j >= ttls {
            break;
        }
        // SAFETY: within the entry's `reply`, which has room for
        // MAX_TTLS offsets after the longest question and body.
        let at = unsafe { get_at::<u16>(offsets + 2 * j) } as usize;
        let at = body + (at & (MAX_BODY - 1));
        if past(at, 4, end) {
            return Err(Verdict::Drop(counter::ERROR_WRITE));
        }
        set::<u32>(at, ttl_be);
    }
    if let Some((_, flags_hi)) = q.opt {
        let at = body + (e.opt_at as usize & (MAX_BODY - 1)) + 3;
        if past(at, 5, end) {
            return Err(Verdict::Drop(counter::ERROR_WRITE));
        }
        set::<u16>(at, wire16(opt_size));
        set::<u8>(at + 4, flags_hi);
    }
    if let Some(p) = HITS.get_ptr_mut(e.slot.wrapping_mul(2).wrapping_add(V6 as u32)) {
        // SAFETY: this CPU's value.
        unsafe { *p += 1 };
    }
    Ok(())
}

/// Whether the query's name (its words in this CPU's scratch, `qlen`
/// bytes) is the entry's, in the same case: not, another name of the same
/// hash (no entry for this one), or the same in another case (userspace
/// answers it otherwise).
#[inline(always)]
fn same_name(s: *mut Scratch, e: &Entry, qlen: usize) -> Answer {
    if e.qlen as usize != qlen {
        return pass(counter::PASS_NO_ENTRY);
    }
    // SAFETY: this CPU's scratch, filled by read().
    let mine = unsafe { &(*s).words };
    let (theirs, n) = (e.reply.as_ptr() as *const u64, qlen.div_ceil(8));
    // Word k of both names (the entry's last read with the type and class
    // or the body after the name's last bytes, left out).
    let pair = |k: usize| {
        // SAFETY: k < 32, within the entry's `reply`.
        let t = unsafe { core::ptr::read_unaligned(theirs.add(k)) };
        let keep = if k + 1 == n {
            u64::MAX >> ((8 * (8 * n - qlen)) & 63)
        } else {
            u64::MAX
        };
        (mine[k & (NAME_WORDS - 1)], t & keep)
    };
    let mut diff = 0;
    for k in 0..NAME_WORDS {
        if k >= n {
            break;
        }
        let (m, t) = pair(k);
        diff |= m ^ t;
    }
    if diff == 0 {
        return Ok(());
    }
    // Another name of the same hash, or this one in another case.
    let mut lower_diff = 0;
    for k in 0..NAME_WORDS {
        if k >= n {
            break;
        }
        let (m, t) = pair(k);
        lower_diff |= name::lower(m) ^ name::lower(t);
    }
    pass(if lower_diff == 0 {
        counter::PASS_CASE
    } else {
        counter::PASS_NO_ENTRY
    })
}

/// Grows or shrinks the frame by `delta` bytes: at its start where it
/// grows (the kernel promises headroom, not tailroom: a veth or
/// generic-mode frame copied to fit its data has none), else at its end,
/// or both; on failure the frame is as it was. Whether its start moved.
#[inline(always)]
fn resize(ctx: &XdpContext, delta: i32) -> Result<bool, Verdict> {
    // SAFETY (each helper): the context the kernel handed in.
    if delta == 0 {
        return Ok(false);
    }
    if delta > 0 && unsafe { bpf_xdp_adjust_head(ctx.ctx, -delta) } == 0 {
        return Ok(true);
    }
    if unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } == 0 {
        return Ok(false);
    }
    if delta > HEAD_SHARE && unsafe { bpf_xdp_adjust_head(ctx.ctx, -HEAD_SHARE) } == 0 {
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta - HEAD_SHARE) } == 0 {
            return Ok(true);
        }
        unsafe { bpf_xdp_adjust_head(ctx.ctx, HEAD_SHARE) };
    }
    pass(counter::PASS_NO_ROOM)
}

/// Headroom taken when neither end alone grows enough (the kernel keeps
/// 256 bytes before a frame; metadata may use some).
const HEAD_SHARE: i32 = 192;

/// Reads the query's IP, UDP and DNS headers and question; its key, and
/// its name's words in this CPU's scratch; or why the program does not
/// answer it.
#[inline(always)]
fn read<const L2: usize, const V6: bool>(
    ctx: &XdpContext,
    l3: usize,
    s: *mut Scratch,
) -> Result<(Key, Query), Verdict> {
    let (data, end) = (ctx.data(), ctx.data_end());
    let ip = data + L2;
    let udp = ip + l3;
    if udp > end {
        return pass(counter::PASS_LENGTH);
    }
    let mut addrs = [0u64; 4];
    let ip_len = if V6 {
        // Version and traffic class, flow label, payload length, next
        // header, hop limit.
        let w: u64 = get(ip);
        if (w as u8) >> 4 != 6 {
            return pass(counter::PASS_IP);
        }
        let next = (w >> 48) as u8;
        if next != IPPROTO_UDP {
            // Hop-by-hop, routing, fragment, destination options,
            // authentication, ESP, mobility, HIP, shim6.
            let ext = matches!(next, 0 | 43 | 44 | 60 | 51 | 50 | 135 | 139 | 140);
            return pass(if ext {
                counter::PASS_IP
            } else {
                counter::PASS_NOT_UDP
            });
        }
        for (i, a) in addrs.iter_mut().enumerate() {
            *a = get(ip + 8 + 8 * i);
        }
        u16::from_be((w >> 32) as u16) as usize + 40
    } else {
        // Version and length, TOS, total length, ID, flags and fragment
        // offset; TTL, protocol, checksum, source; destination.
        let (w0, w1, w2): (u64, u64, u32) = (get(ip), get(ip + 8), get(ip + 16));
        let fragment = (0x3Fu64 << 48) | (0xFFu64 << 56);
        if w0 as u8 != 0x45 || w0 & fragment != 0 {
            return pass(counter::PASS_IP);
        }
        if (w1 >> 8) as u8 != IPPROTO_UDP {
            return pass(counter::PASS_NOT_UDP);
        }
        if fold(halves(w0) + halves(w1) + w2 as u64) != 0xFFFF {
            return pass(counter::PASS_IP);
        }
        addrs[0] = w1 >> 32 | (w2 as u64) << 32;
        u16::from_be((w0 >> 16) as u16) as usize
    };
    let dns = udp + UDP_HLEN;
    if dns + DNS_HEADER > end {
        return pass(counter::PASS_LENGTH);
    }
    // Source and destination ports, length, checksum.
    let u: u64 = get(udp);
    let (sport, dport) = (u as u16, u16::from_be((u >> 16) as u16));
    let dst = if V6 {
        [addrs[2], addrs[3]]
    } else {
        [addrs[0] >> 32, 0]
    };
    let group = match listener::<V6>(dst, dport) {
        Some(g) if sport != 0 => g,
        _ => return pass(counter::PASS_NOT_LISTENER),
    };
    let udp_len = u16::from_be((u >> 32) as u16) as usize;
    // The datagram as the headers say, all of it in the frame (which may
    // be longer: Ethernet pads short frames).
    if ip_len != l3 + udp_len || udp_len < UDP_HLEN + DNS_HEADER || ip + ip_len > end {
        return pass(counter::PASS_LENGTH);
    }
    // ID, flags, QDCOUNT, ANCOUNT; NSCOUNT, ARCOUNT.
    let (h0, h1): (u64, u32) = (get(dns), get(dns + 8));
    let flags = u16::from_be((h0 >> 16) as u16);
    const ONE_QUESTION: u32 = wire16(1) as u32;
    if flags & c::FLAG_QR != 0
        || (flags >> 11) & 0xF != 0
        || (h0 >> 32) as u32 != ONE_QUESTION
        || h1 & 0x00FF_FFFF != 0
        || h1 >> 24 > 1
    {
        return pass(counter::PASS_NOT_QUERY);
    }
    let arcount = h1 >> 24;

    // The name: labels of at most 63 bytes to the root, within 255 bytes
    // and the message.
    let room = udp_len - UDP_HLEN - DNS_HEADER;
    let name = dns + DNS_HEADER;
    let mut at = 0;
    let mut qlen = 0;
    for _ in 0..MAX_LABELS {
        if at >= room {
            return pass(counter::PASS_QUESTION);
        }
        let p = name + (at & 0xFF);
        if past(p, 1, end) {
            return pass(counter::PASS_QUESTION);
        }
        let len = get::<u8>(p) as usize;
        if len == 0 {
            qlen = at + 1;
            break;
        }
        // Compression pointers and the reserved label types.
        if len > 63 {
            return pass(counter::PASS_QUESTION);
        }
        at += len + 1;
        if at >= MAX_NAME {
            return pass(counter::PASS_QUESTION);
        }
    }
    let qlen = launder(s, qlen, 0xFF);
    if qlen == 0 || qlen + 4 > room {
        return pass(counter::PASS_QUESTION);
    }
    let question = name + qlen;
    if past(question, 4, end) {
        return pass(counter::PASS_QUESTION);
    }
    let tc: u32 = get(question);
    let (qtype, qclass) = (u16::from_be(tc as u16), u16::from_be((tc >> 16) as u16));
    let mut kbits = 0;
    if flags & c::FLAG_CD != 0 {
        kbits |= bits::CD;
    }
    if flags & c::FLAG_AD != 0 {
        kbits |= bits::AD;
    }
    let rest = room - (qlen + 4);
    let opt = if arcount == 0 {
        if rest != 0 {
            return pass(counter::PASS_RECORDS);
        }
        None
    } else {
        // Root name, type OPT, size, extended rcode 0, version 0, flags,
        // no options; nothing after it.
        let o = question + 4;
        if rest != OPT_LEN || past(o, OPT_LEN, end) {
            return pass(counter::PASS_RECORDS);
        }
        let (w, rdlen): (u64, u16) = (get(o), get(o + 9));
        // Bytes 0, 1, 2, 5 and 6: the root, the type, rcode and version.
        if w & 0x00FF_FF00_00FF_FFFF != 41 << 16 || rdlen != 0 {
            return pass(counter::PASS_RECORDS);
        }
        let flags_hi = (w >> 56) as u8;
        kbits |= bits::OPT;
        if (flags_hi as u16) << 8 & c::FLAG_DO != 0 {
            kbits |= bits::DO;
        }
        Some((u16::from_be((w >> 24) as u16), flags_hi))
    };

    // The name's words, hashed lowercased and kept as they came: whole
    // words from its start, and its last bytes read as the word that ends
    // with its root (the DNS header's bytes before a short name).
    // SAFETY: this CPU's scratch.
    let words = unsafe { &mut (*s).words };
    let n = qlen.div_ceil(8);
    let mut h = name::START;
    for (k, w) in words.iter_mut().enumerate() {
        if k + 1 >= n {
            break;
        }
        let p = name + 8 * k;
        if past(p, 8, end) {
            return pass(counter::PASS_QUESTION);
        }
        *w = get(p);
        h = name::step(h, name::lower(*w));
    }
    let qlen = launder(s, qlen, 0xFF);
    let n = qlen.div_ceil(8);
    let p = dns + DNS_HEADER - 8 + qlen;
    if past(p, 8, end) || n == 0 {
        return pass(counter::PASS_QUESTION);
    }
    let last = get::<u64>(p) >> ((8 * (8 * n - qlen)) & 63);
    words[(n - 1) & (NAME_WORDS - 1)] = last;
    let hash = name::finish(name::step(h, name::lower(last)), qlen as u64);

    let key = Key {
        hash,
        group,
        qtype,
        qclass,
        bits: kbits,
        _pad: 0,
    };
    let (head, tail): (u64, u32) = (get(data), get(data + 8));
    let tci = if L2 > ETH_HLEN {
        get::<u16>(data + ETH_HLEN)
    } else {
        0
    };
    Ok((
        key,
        Query {
            flags,
            qlen,
            id: h0 as u16,
            ports: u as u32,
            addrs,
            tci,
            macs: (head, tail),
            opt,
        },
    ))
}

/// The group of the listener at `dst` (as it lies in memory: IPv4 in the
/// first word's low half) and `port`, else of the wildcard address of its
/// family on `port` (not for multicast or broadcast destinations).
// Keys by reference: by value they are copied first (the copy of one
// with its address zeroed became a call of `memset`).
#[allow(clippy::needless_borrows_for_generic_args)]
#[inline(always)]
fn listener<const V6: bool>(dst: [u64; 2], port: u16) -> Option<u32> {
    let family: u16 = if V6 { 6 } else { 4 };
    let first = dst[0] as u8;
    let multicast = if V6 { first == 0xFF } else { first >= 224 };
    if let Some(few) = FEW_LISTENERS.get_ptr(0) {
        // SAFETY: the map's one value; its `list` is whole whenever
        // `state` is not 0 (see FewListeners).
        let few = unsafe { &*few };
        let state = few.state as usize;
        if state != 0 {
            let (mut exact, mut any) = (None, None);
            for (i, l) in few.list.iter().enumerate() {
                if i + 1 >= state {
                    break;
                }
                if l.port != port || l.family != family {
                    continue;
                }
                let words = l.addr.as_ptr() as *const u64;
                // SAFETY: the address's sixteen bytes, as two words.
                let (a0, a1) = unsafe {
                    (
                        core::ptr::read_unaligned(words),
                        core::ptr::read_unaligned(words.add(1)),
                    )
                };
                if a0 == dst[0] && a1 == dst[1] {
                    exact = Some(l.group);
                } else if a0 | a1 == 0 {
                    any = Some(l.group);
                }
            }
            return match exact {
                Some(g) => Some(g),
                None if multicast => None,
                None => any,
            };
        }
    }
    // SAFETY: two words are the address's sixteen bytes.
    let addr = unsafe { core::mem::transmute::<[u64; 2], [u8; 16]>(dst) };
    let l = Listener { addr, port, family };
    // SAFETY: a lookup; the value is copied out at once.
    if let Some(g) = unsafe { LISTENERS.get(&l) } {
        return Some(*g);
    }
    if multicast {
        return None;
    }
    let mut any = l;
    let words = any.addr.as_mut_ptr() as *mut u64;
    // SAFETY: the address's sixteen bytes, as two words; volatile, as
    // LLVM makes zeroing them a call of `memset`, a subprogram in BPF.
    unsafe {
        core::ptr::write_volatile(words, 0);
        core::ptr::write_volatile(words.add(1), 0);
    }
    // SAFETY: as above.
    unsafe { LISTENERS.get(&any) }.copied()
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
