//! XDP program for ferrodns: answers hot cache hits in the kernel, byte
//! for byte as the userspace cache answers them. A UDP query to one of the
//! listeners in `LISTENERS` (Ethernet, an optional 802.1Q tag, IPv4 without
//! options or fragments or IPv6 without extension headers), with one
//! question and nothing after it but at most an OPT of version 0 without
//! options, is looked up in `ENTRIES` by its lowercased name, type, class,
//! listener group and the query bits userspace's answer depends on. An
//! entry that has not expired, whose reply was written for the name in the
//! query's case and fits the client's UDP size, is written over the query
//! in place: addresses and ports swapped, ID, RD and question kept, the
//! entry's flags, counts and bytes after the question, the remaining TTL
//! in every record, the client's UDP size and OPT flags, both checksums;
//! then XDP_TX. Everything else passes to the kernel's stack (XDP_PASS),
//! counted by reason in `COUNTERS`. The layout is
//! `ferrodns_ebpf_common::xdp`'s.
#![no_std]
#![no_main]

use aya_ebpf::bindings::{xdp_action, BPF_F_NO_PREALLOC};
use aya_ebpf::helpers::generated::{
    bpf_ktime_get_ns, bpf_xdp_adjust_head, bpf_xdp_adjust_tail, bpf_xdp_load_bytes,
    bpf_xdp_store_bytes,
};
use aya_ebpf::macros::{map, xdp};
use aya_ebpf::maps::{HashMap, PerCpuArray};
use aya_ebpf::programs::XdpContext;
use ferrodns_ebpf_common::xdp::{
    self as c, bits, counter, csum_byte, csum_ttls, fold, udp_sizes, Entry, Key, Listener,
    DNS_HEADER, MAX_BODY, MAX_NAME, MAX_TTLS, NO_OPT, OPT_LEN,
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
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(counter::COUNT, 0);

#[map]
static HITS: PerCpuArray<u64> = PerCpuArray::with_max_entries(2048, 0);

/// The key being built (too large for the stack beside everything else)
/// and the query name's upper-case bitmap.
#[repr(C)]
struct Scratch {
    key: Key,
    upper: [u64; 4],
    /// The question and an OPT after it, copied out of the packet.
    buf: [u8; 512],
    /// The name's length and the bytes copied, stored and read back (see
    /// `read`).
    qlen: u64,
    n: u64,
    /// The query's Ethernet header (and tag), kept while the frame moves.
    eth: [u8; ETH_HLEN + VLAN_HLEN],
    _pad: [u8; 6],
    /// The query's source address's 16-bit words, then its destination's.
    addrs: [u16; 16],
}

/// The most of a message after its header that the program reads: the
/// longest name, type and class, an OPT.
const QUESTION_ROOM: usize = MAX_NAME + 4 + OPT_LEN;

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

/// What to do with a frame that is not answered, and the counter to count.
enum Verdict {
    Pass(u32),
    /// The frame was changed half way: it cannot go on.
    Drop(u32),
}

type Answer = Result<(), Verdict>;

fn pass(counter: u32) -> Answer {
    Err(Verdict::Pass(counter))
}

#[xdp]
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

/// One byte of the packet at `p`, which the caller checked is below
/// `data_end`.
#[inline(always)]
fn byte(p: usize) -> u8 {
    // SAFETY: the caller checked p < data_end (the verifier does too).
    unsafe { *(p as *const u8) }
}

/// A big-endian 16-bit word of the packet at `p` (checked as [`byte`]).
#[inline(always)]
fn be16(p: usize) -> u16 {
    ((byte(p) as u16) << 8) | byte(p + 1) as u16
}

#[inline(always)]
fn put(p: usize, b: u8) {
    // SAFETY: as `byte`.
    unsafe { *(p as *mut u8) = b };
}

#[inline(always)]
fn put16(p: usize, v: u16) {
    put(p, (v >> 8) as u8);
    put(p + 1, v as u8);
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
    if byte(data) & 1 != 0 {
        return pass(counter::PASS_FRAME);
    }
    match be16(data + 12) {
        ETH_P_IP => answer::<ETH_HLEN, false>(ctx),
        ETH_P_IPV6 => answer::<ETH_HLEN, true>(ctx),
        ETH_P_8021Q => {
            if data + ETH_HLEN + VLAN_HLEN > end {
                return pass(counter::PASS_FRAME);
            }
            match be16(data + ETH_HLEN + 2) {
                ETH_P_IP => answer::<{ ETH_HLEN + VLAN_HLEN }, false>(ctx),
                ETH_P_IPV6 => answer::<{ ETH_HLEN + VLAN_HLEN }, true>(ctx),
                _ => pass(counter::PASS_FRAME),
            }
        }
        _ => pass(counter::PASS_FRAME),
    }
}

/// What the query says that the reply needs once the frame is rewritten.
struct Query {
    flags: u16,
    qlen: usize,
    /// The client's OPT: its UDP size and the high byte of its flags.
    opt: Option<(u16, u8)>,
}

/// A frame with an IP header at `L2`, IPv6 when `V6`.
#[inline(always)]
fn answer<const L2: usize, const V6: bool>(ctx: &XdpContext) -> Answer {
    let l3 = if V6 { 40 } else { 20 };
    let q = read::<L2, V6>(ctx, l3)?;
    let s = match SCRATCH.get_ptr_mut(0) {
        Some(s) => s,
        None => return pass(counter::ERROR_ENTRY),
    };
    // By reference: the key stays in the scratch map (a copy would take
    // half the stack).
    #[allow(clippy::needless_borrows_for_generic_args)]
    // SAFETY: the key read() filled in this CPU's scratch.
    let e = match unsafe { ENTRIES.get(&(*s).key) } {
        Some(e) => e,
        None => return pass(counter::PASS_NO_ENTRY),
    };
    // SAFETY: a helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    let ttl = match e.ttl(now) {
        Some(t) => t,
        None => return pass(counter::PASS_EXPIRED),
    };
    // SAFETY: this CPU's scratch, filled by read().
    let upper = unsafe { &(*s).upper };
    let want = e.upper.as_ptr() as *const u64;
    for (w, &mine) in upper.iter().enumerate() {
        // SAFETY: within the entry's 32 bytes of `upper`.
        if unsafe { core::ptr::read_unaligned(want.add(w)) } != mine {
            return pass(counter::PASS_CASE);
        }
    }
    let body_len = e.body_len as usize;
    let reply_len = DNS_HEADER + q.qlen + 4 + body_len;
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

    // Everything is known. What the reply keeps of the query's headers is
    // read out first: the reply is written from the frame's start, which
    // moves where the tail cannot grow.
    let (data, end) = (ctx.data(), ctx.data_end());
    let (ip, udp) = (data + L2, data + L2 + l3);
    if udp + UDP_HLEN + DNS_HEADER > end {
        return pass(counter::ERROR_ENTRY);
    }
    // SAFETY: this CPU's scratch (the stack is too small for every
    // instance of this function's copies).
    let (eth, addrs) = unsafe { (&mut (*s).eth, &mut (*s).addrs) };
    for (i, b) in eth.iter_mut().enumerate() {
        if i < L2 {
            *b = byte(data + i);
        }
    }
    // The source address's words, then the destination's.
    let (words, at) = if V6 { (8, ip + 8) } else { (2, ip + 12) };
    for i in 0..8 {
        if i < words {
            addrs[i] = be16(at + 2 * i);
            addrs[8 + i] = be16(at + 2 * words + 2 * i);
        }
    }
    let (sport, dport, id) = (be16(udp), be16(udp + 2), be16(udp + UDP_HLEN));
    let old_len = end - data;
    let new_len = L2 + l3 + UDP_HLEN + reply_len;
    resize(ctx, new_len as i32 - old_len as i32)?;

    let (data, end) = (ctx.data(), ctx.data_end());
    let (ip, udp) = (data + L2, data + L2 + l3);
    let dns = udp + UDP_HLEN;
    if dns + DNS_HEADER > end {
        return Err(Verdict::Drop(counter::ERROR_WRITE));
    }
    // To the query's sender, from the address it asked; the tag and the
    // type as they came.
    for i in 0..6 {
        put(data + i, eth[6 + i]);
        put(data + 6 + i, eth[i]);
    }
    for (i, &b) in eth.iter().enumerate() {
        if (12..L2).contains(&i) {
            put(data + i, b);
        }
    }
    let mut addr_sum: u64 = 0;
    for (i, &w) in addrs.iter().enumerate() {
        if i % 8 < words {
            addr_sum += w as u64;
        }
    }
    let udp_len = (UDP_HLEN + reply_len) as u16;
    let at = if V6 {
        put16(ip, 0x6000);
        put16(ip + 2, 0);
        put16(ip + 4, udp_len);
        put(ip + 6, IPPROTO_UDP);
        put(ip + 7, HOP_LIMIT);
        ip + 8
    } else {
        let total = (20 + UDP_HLEN + reply_len) as u16;
        let ip_sum = 0x4500
            + total as u64
            + 0x4000
            + ((HOP_LIMIT as u64) << 8 | IPPROTO_UDP as u64)
            + addr_sum;
        put16(ip, 0x4500);
        put16(ip + 2, total);
        put16(ip + 4, 0);
        put16(ip + 6, 0x4000);
        put(ip + 8, HOP_LIMIT);
        put(ip + 9, IPPROTO_UDP);
        put16(ip + 10, !fold(ip_sum));
        ip + 12
    };
    for i in 0..8 {
        if i < words {
            put16(at + 2 * i, addrs[8 + i]);
            put16(at + 2 * words + 2 * i, addrs[i]);
        }
    }
    put16(udp, dport);
    put16(udp + 2, sport);
    put16(udp + 4, udp_len);
    put16(udp + 6, 0);
    // The pseudo header (both addresses, the protocol, the UDP length)
    // and the UDP header (the checksum field counts as zero).
    let mut sum = addr_sum
        + IPPROTO_UDP as u64
        + udp_len as u64
        + sport as u64
        + dport as u64
        + udp_len as u64;

    let flags = e.flags | (q.flags & c::FLAG_RD);
    put16(dns, id);
    put16(dns + 2, flags);
    put16(dns + 4, 1);
    put16(dns + 6, e.ancount);
    put16(dns + 8, e.nscount);
    put16(dns + 10, e.arcount);
    sum += id as u64 + flags as u64 + 1 + e.ancount as u64 + e.nscount as u64 + e.arcount as u64;
    // The question as the client wrote it.
    // SAFETY: qlen + 4 <= QUESTION_ROOM bytes of this CPU's scratch, read
    // from the packet by read(); the helper checks the packet's bounds.
    let r = unsafe {
        bpf_xdp_store_bytes(
            ctx.ctx,
            (L2 + l3 + UDP_HLEN + DNS_HEADER) as u32,
            (*s).buf.as_mut_ptr() as *mut _,
            (q.qlen + 4) as u32,
        )
    };
    if r != 0 {
        return Err(Verdict::Drop(counter::ERROR_WRITE));
    }

    let body_at = DNS_HEADER + q.qlen + 4;
    let body_off = (L2 + l3 + UDP_HLEN + body_at) as u32;
    if body_len > 0 {
        // SAFETY: body_len <= MAX_BODY, the size of `e.body`; the helper
        // checks the packet's bounds.
        let r = unsafe {
            bpf_xdp_store_bytes(
                ctx.ctx,
                body_off,
                e.body.as_ptr() as *mut _,
                body_len as u32,
            )
        };
        if r != 0 {
            return Err(Verdict::Drop(counter::ERROR_WRITE));
        }
    }
    let mut ttl_be = ttl.to_be_bytes();
    for j in 0..MAX_TTLS {
        if j >= ttls {
            break;
        }
        let at = body_off + e.ttl_at[j] as u32;
        // SAFETY: four bytes of the stack; the helper checks the packet.
        let r = unsafe { bpf_xdp_store_bytes(ctx.ctx, at, ttl_be.as_mut_ptr() as *mut _, 4) };
        if r != 0 {
            return Err(Verdict::Drop(counter::ERROR_WRITE));
        }
    }
    sum += csum_ttls(ttl, e.ttl_even as u32, e.ttl_count as u32);
    if let Some((_, flags_hi)) = q.opt {
        // The OPT's CLASS (the UDP size) at +3, its TTL word's flags byte
        // at +7 (extended rcode and version stay 0).
        let at = e.opt_at as u32 + 3;
        let [s0, s1] = opt_size.to_be_bytes();
        let mut patch = [s0, s1, 0, 0, flags_hi];
        // SAFETY: five bytes of the stack; the helper checks the packet.
        let r =
            unsafe { bpf_xdp_store_bytes(ctx.ctx, body_off + at, patch.as_mut_ptr() as *mut _, 5) };
        if r != 0 {
            return Err(Verdict::Drop(counter::ERROR_WRITE));
        }
        let pos = body_at + at as usize;
        sum += (csum_byte(s0, pos) + csum_byte(s1, pos + 1) + csum_byte(flags_hi, pos + 4)) as u64;
    }
    sum += e.csum as u64;
    let check = match !fold(sum) {
        0 => 0xFFFF,
        c => c,
    };
    // Packet pointers do not outlive helper calls (for the verifier).
    let (data, end) = (ctx.data(), ctx.data_end());
    let udp = data + L2 + l3;
    if udp + UDP_HLEN > end {
        return Err(Verdict::Drop(counter::ERROR_WRITE));
    }
    put16(udp + 6, check);
    if let Some(p) = HITS.get_ptr_mut(e.slot.wrapping_mul(2).wrapping_add(V6 as u32)) {
        // SAFETY: this CPU's value.
        unsafe { *p += 1 };
    }
    Ok(())
}

/// Grows or shrinks the frame by `delta` bytes at its end, or where the
/// tail cannot grow (the kernel promises headroom, not tailroom: a veth or
/// generic-mode frame copied to fit its data has none) at its start, or
/// both; on failure the frame is as it was.
#[inline(always)]
fn resize(ctx: &XdpContext, delta: i32) -> Answer {
    // SAFETY (each helper): the context the kernel handed in.
    if delta == 0 || unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta) } == 0 {
        return Ok(());
    }
    if delta > 0 && unsafe { bpf_xdp_adjust_head(ctx.ctx, -delta) } == 0 {
        return Ok(());
    }
    if delta > HEAD_SHARE && unsafe { bpf_xdp_adjust_head(ctx.ctx, -HEAD_SHARE) } == 0 {
        if unsafe { bpf_xdp_adjust_tail(ctx.ctx, delta - HEAD_SHARE) } == 0 {
            return Ok(());
        }
        unsafe { bpf_xdp_adjust_head(ctx.ctx, HEAD_SHARE) };
    }
    pass(counter::PASS_NO_ROOM)
}

/// Headroom taken when neither end alone grows enough (the kernel keeps
/// 256 bytes before a frame; metadata may use some).
const HEAD_SHARE: i32 = 192;

/// Reads the query's IP, UDP and DNS headers and question, and builds its
/// key in this CPU's scratch; or says why the program does not answer it.
#[inline(always)]
fn read<const L2: usize, const V6: bool>(ctx: &XdpContext, l3: usize) -> Result<Query, Verdict> {
    let (data, end) = (ctx.data(), ctx.data_end());
    let ip = data + L2;
    let udp = ip + l3;
    if udp > end {
        return Err(Verdict::Pass(counter::PASS_LENGTH));
    }
    let (ip_len, extension) = if V6 {
        let next = byte(ip + 6);
        if byte(ip) >> 4 != 6 {
            return Err(Verdict::Pass(counter::PASS_IP));
        }
        if next != IPPROTO_UDP {
            // Hop-by-hop, routing, fragment, destination options,
            // authentication, ESP, mobility, HIP, shim6.
            let ext = matches!(next, 0 | 43 | 44 | 60 | 51 | 50 | 135 | 139 | 140);
            return Err(Verdict::Pass(if ext {
                counter::PASS_IP
            } else {
                counter::PASS_NOT_UDP
            }));
        }
        (be16(ip + 4) as usize + 40, false)
    } else {
        if byte(ip) != 0x45 || be16(ip + 6) & 0x3FFF != 0 {
            return Err(Verdict::Pass(counter::PASS_IP));
        }
        if byte(ip + 9) != IPPROTO_UDP {
            return Err(Verdict::Pass(counter::PASS_NOT_UDP));
        }
        let mut sum: u64 = 0;
        for i in 0..10 {
            sum += be16(ip + 2 * i) as u64;
        }
        (be16(ip + 2) as usize, fold(sum) != 0xFFFF)
    };
    if extension {
        return Err(Verdict::Pass(counter::PASS_IP));
    }
    let dns = udp + UDP_HLEN;
    if dns + DNS_HEADER > end {
        return Err(Verdict::Pass(counter::PASS_LENGTH));
    }
    let (sport, dport) = (be16(udp), be16(udp + 2));
    let group = match listener::<V6>(ip, dport) {
        Some(g) if sport != 0 => g,
        _ => return Err(Verdict::Pass(counter::PASS_NOT_LISTENER)),
    };
    let udp_len = be16(udp + 4) as usize;
    // The datagram as the headers say, all of it in the frame (which may
    // be longer: Ethernet pads short frames).
    if ip_len != l3 + udp_len || udp_len < UDP_HLEN + DNS_HEADER || ip + ip_len > end {
        return Err(Verdict::Pass(counter::PASS_LENGTH));
    }
    let msg_len = udp_len - UDP_HLEN;
    let flags = be16(dns + 2);
    if flags & c::FLAG_QR != 0
        || (flags >> 11) & 0xF != 0
        || be16(dns + 4) != 1
        || be16(dns + 6) != 0
        || be16(dns + 8) != 0
        || be16(dns + 10) > 1
    {
        return Err(Verdict::Pass(counter::PASS_NOT_QUERY));
    }
    let arcount = be16(dns + 10);

    let s = match SCRATCH.get_ptr_mut(0) {
        Some(s) => s,
        None => return Err(Verdict::Pass(counter::ERROR_ENTRY)),
    };
    // SAFETY: this CPU's scratch, a map value of the Scratch's size; the
    // program runs to its end on this CPU.
    let (key, upper, buf) = unsafe { (&mut (*s).key, &mut (*s).upper, &mut (*s).buf) };
    let words = key.name.as_mut_ptr() as *mut u64;
    for w in 0..c::NAME_LEN / 8 {
        // SAFETY: within `key.name`; volatile keeps it from becoming a
        // memset call, which BPF does not have.
        unsafe { core::ptr::write_volatile(words.add(w), 0) };
    }
    for w in upper.iter_mut() {
        // SAFETY: a u64 of the scratch, as above.
        unsafe { core::ptr::write_volatile(w, 0) };
    }
    // The question and what follows it, copied out of the packet: the
    // name's length is known only once it is read, and offsets past it are
    // simpler to prove within a map value than within the packet.
    let room = msg_len - DNS_HEADER;
    // More than the longest question and an OPT: never a query we answer.
    let oversized = room > QUESTION_ROOM;
    let n = if oversized { QUESTION_ROOM } else { room };
    if n == 0 {
        return Err(Verdict::Pass(counter::PASS_QUESTION));
    }
    // SAFETY: this CPU's scratch (see the lengths' reading back below).
    unsafe { core::ptr::write_volatile(&mut (*s).n, n as u64) };
    // SAFETY: n <= QUESTION_ROOM <= the buffer's size; the helper checks
    // the packet's bounds.
    let r = unsafe {
        bpf_xdp_load_bytes(
            ctx.ctx,
            (L2 + l3 + UDP_HLEN + DNS_HEADER) as u32,
            buf.as_mut_ptr() as *mut _,
            n as u32,
        )
    };
    if r != 0 {
        return Err(Verdict::Pass(counter::PASS_LENGTH));
    }
    let mut qlen = 0;
    let mut left: u8 = 0;
    let mut i = 0;
    while i < MAX_NAME && i < n {
        let b = buf[i];
        if left == 0 {
            if b == 0 {
                qlen = i + 1;
                break;
            }
            // Compression pointers and the reserved label types.
            if b > 63 {
                return Err(Verdict::Pass(counter::PASS_QUESTION));
            }
            left = b;
            key.name[i] = b;
        } else {
            left -= 1;
            if b.wrapping_sub(b'A') < 26 {
                key.name[i] = b + 32;
                upper[(i >> 6) & 3] |= 1 << (i & 63);
            } else {
                key.name[i] = b;
            }
        }
        i += 1;
    }
    // The verifier knows the name's length exactly on each way out of the
    // loop, and the bytes read as bounded by each step, and would check
    // everything after the loop once per length. Read back from memory
    // both are numbers in a range, the same on every way, checked once.
    // SAFETY: this CPU's scratch.
    let (qlen, n) = unsafe {
        core::ptr::write_volatile(&mut (*s).qlen, qlen as u64);
        (
            core::ptr::read_volatile(&(*s).qlen) as usize & 0xFF,
            core::ptr::read_volatile(&(*s).n) as usize & 0x1FF,
        )
    };
    // No root within 255 bytes or within the message.
    if qlen == 0 || qlen + 4 > n {
        return Err(Verdict::Pass(counter::PASS_QUESTION));
    }
    key.qtype = (buf[qlen] as u16) << 8 | buf[qlen + 1] as u16;
    key.qclass = (buf[qlen + 2] as u16) << 8 | buf[qlen + 3] as u16;
    key.group = group;
    let mut kbits = 0;
    if flags & c::FLAG_CD != 0 {
        kbits |= bits::CD;
    }
    if flags & c::FLAG_AD != 0 {
        kbits |= bits::AD;
    }
    if oversized {
        return Err(Verdict::Pass(counter::PASS_RECORDS));
    }
    let rest = n - (qlen + 4);
    let opt = if arcount == 0 {
        if rest != 0 {
            return Err(Verdict::Pass(counter::PASS_RECORDS));
        }
        None
    } else {
        // Root name, type OPT, size, extended rcode 0, version 0, flags,
        // no options; nothing after it.
        if rest != OPT_LEN {
            return Err(Verdict::Pass(counter::PASS_RECORDS));
        }
        let o = &buf[qlen + 4..qlen + 4 + OPT_LEN];
        if o[0] != 0 || o[1] != 0 || o[2] != 41 || o[5] != 0 || o[6] != 0 || o[9] != 0 || o[10] != 0
        {
            return Err(Verdict::Pass(counter::PASS_RECORDS));
        }
        let flags_hi = o[7];
        kbits |= bits::OPT;
        if (flags_hi as u16) << 8 & c::FLAG_DO != 0 {
            kbits |= bits::DO;
        }
        Some(((o[3] as u16) << 8 | o[4] as u16, flags_hi))
    };
    key.bits = kbits;
    Ok(Query { flags, qlen, opt })
}

/// The group of the listener the datagram at `ip` goes to: its address
/// and `port`, else the wildcard address of its family on `port` (not for
/// multicast or broadcast destinations).
#[inline(always)]
fn listener<const V6: bool>(ip: usize, port: u16) -> Option<u32> {
    let mut l = Listener {
        addr: [0; 16],
        port,
        family: if V6 { 6 } else { 4 },
    };
    let (at, n) = if V6 { (ip + 24, 16) } else { (ip + 16, 4) };
    for i in 0..16 {
        if i < n {
            l.addr[i] = byte(at + i);
        }
    }
    // SAFETY: a lookup; the value is copied out at once.
    if let Some(g) = unsafe { LISTENERS.get(l) } {
        return Some(*g);
    }
    let multicast = if V6 {
        l.addr[0] == 0xFF
    } else {
        l.addr[0] >= 224
    };
    if multicast {
        return None;
    }
    l.addr = [0; 16];
    // SAFETY: as above.
    unsafe { LISTENERS.get(l) }.copied()
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
