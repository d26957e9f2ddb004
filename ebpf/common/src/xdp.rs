//! The XDP program (ebpf/xdp) and its loader (the daemon's `xdp` module):
//! the maps' names and layouts, the counters, and the arithmetic both
//! sides must do alike (remaining TTL, the client's UDP size, checksum
//! words).
//!
//! The program answers a query from [`ENTRIES`] when its [`Key`] is there:
//! the hash of the question name lowercased ([`name::hash`]), type, class,
//! the listener's group and the query bits the userspace answer depends on
//! ([`bits`]), and the [`Entry`] holds that very name in the query's case
//! (another name of the same hash, or the name in another case, is not
//! answered). The entry holds the reply's question and the bytes after it
//! exactly as userspace writes them for such a query, with the fields that
//! change per answer (every TTL, the OPT's size and flags) zeroed and their
//! places recorded, and a checksum of what it holds, so the program adds
//! only what it writes.

/// Layout of every type here. The loader writes its own into the
/// program's [`LAYOUT`] global; a program built for another answers
/// nothing (every packet passes, counted as [`counter::ERROR_LAYOUT`]).
pub const VERSION: u32 = 2;

/// The program's name in the object.
pub const PROGRAM: &str = "ferrodns_xdp";
/// The `u32` global the loader sets to [`VERSION`].
pub const LAYOUT: &str = "LAYOUT";
/// `HashMap<Key, Entry>`: the answers (max entries set by the loader).
pub const ENTRIES: &str = "ENTRIES";
/// `HashMap<Listener, u32>`: the addresses answered for, to their group.
pub const LISTENERS: &str = "LISTENERS";
/// `Array` of one [`FewListeners`]: the same when there are at most
/// [`FEW`], compared in the program itself (a hash map lookup is a call).
pub const FEW_LISTENERS: &str = "FEW_LISTENERS";
/// `PerCpuArray<u64>` of [`counter::COUNT`]: answers, passes by reason, errors.
pub const COUNTERS: &str = "COUNTERS";
/// `PerCpuArray<u64>` of twice the entries: answers per entry slot, IPv4
/// at `2 * slot`, IPv6 at `2 * slot + 1`.
pub const HITS: &str = "HITS";
/// `PerCpuArray` of one: the program's room for the key it builds.
pub const SCRATCH: &str = "SCRATCH";

/// The longest name, root byte included (RFC 1035 3.1).
pub const MAX_NAME: usize = 255;
/// The most 8-byte words of a name ([`name`]).
pub const NAME_WORDS: usize = 32;
/// The most bytes after the question an entry holds.
pub const MAX_BODY: usize = 1024;
/// Room for the question (name, type, class), the bytes after it and
/// where each TTL is in them ([`Entry::reply`]), in whole words.
pub const REPLY_ROOM: usize = (MAX_NAME + 4 + MAX_BODY + 1 + 2 * MAX_TTLS).div_ceil(8) * 8;
/// The most records (OPT aside) an entry holds, each with a TTL to write.
pub const MAX_TTLS: usize = 64;
/// The most listener addresses.
pub const MAX_LISTENERS: u32 = 256;
/// The most listener addresses [`FEW_LISTENERS`] holds.
pub const FEW: usize = 8;
/// [`Entry::opt_at`] when the reply has no OPT.
pub const NO_OPT: u16 = u16::MAX;
/// [`Entry::size_cap`] when nothing caps the client's UDP size.
pub const NO_CAP: u16 = u16::MAX;
/// A UDP client without EDNS takes this much.
pub const MIN_UDP: u16 = 512;
/// The DNS header's length.
pub const DNS_HEADER: usize = 12;
/// An OPT record without options: root, type, size, TTL word, RDLENGTH.
pub const OPT_LEN: usize = 11;

/// The query bits of [`Key::bits`]: each changes the userspace answer.
pub mod bits {
    /// The query had an OPT record (the reply then carries one).
    pub const OPT: u32 = 1;
    /// The OPT's DO bit (the cache keeps DNSSEC answers apart).
    pub const DO: u32 = 2;
    /// The header's CD bit (likewise, and the reply mirrors it).
    pub const CD: u32 = 4;
    /// The header's AD bit (the reply's AD depends on it).
    pub const AD: u32 = 8;
}

/// The header bits a reply copies from its query (miekg's SetReply keeps
/// RD; CD and AD are in the key).
pub const FLAG_RD: u16 = 0x0100;
/// DNS header flags the program reads.
pub const FLAG_QR: u16 = 0x8000;
pub const FLAG_CD: u16 = 0x0010;
pub const FLAG_AD: u16 = 0x0020;
/// The OPT flags word's DO bit.
pub const FLAG_DO: u16 = 0x8000;

/// A map key: a question as one group of listeners receives it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// [`name::hash`] of the question name.
    pub hash: u64,
    /// The listener group (see [`LISTENERS`]): entries of different
    /// caches (server blocks) never answer for each other.
    pub group: u32,
    pub qtype: u16,
    pub qclass: u16,
    /// [`bits`] of the query.
    pub bits: u32,
    /// Zero (the kernel hashes and compares keys byte by byte).
    pub _pad: u32,
}

/// The hash of a question name that keys [`ENTRIES`]: over the name in
/// wire form (labels with their length bytes, the root's zero), ASCII
/// lowercased, read as little-endian 64-bit words (the last one zero
/// padded), and its length. Two names may share a hash: an entry holds
/// its name, which the program compares, and the loader keeps one entry
/// per key.
pub mod name {
    const BASIS: u64 = 0x243F_6A88_85A3_08D3;
    const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;

    /// `w` with each of its bytes that is an ASCII upper-case letter
    /// lowercased (a label's length byte, at most 63, is none).
    #[inline(always)]
    pub fn lower(w: u64) -> u64 {
        let low7 = w & !HIGH;
        // The high bit of each byte: set where the byte is at least 'A',
        // and where it is past 'Z' (no carry crosses a byte below 0x80).
        let from_a = low7 + (0x80 - b'A' as u64) * ONES;
        let past_z = low7 + (0x80 - b'Z' as u64 - 1) * ONES;
        let upper = from_a & !past_z & !w & HIGH;
        w | (upper >> 2)
    }

    /// The state before the first word.
    pub const START: u64 = BASIS;

    /// The state after word `w` (already lowercased).
    #[inline(always)]
    pub fn step(h: u64, w: u64) -> u64 {
        let h = (h ^ w).wrapping_mul(MUL);
        h ^ (h >> 29)
    }

    /// The hash of a name of `len` bytes from the state after its words.
    #[inline(always)]
    pub fn finish(h: u64, len: u64) -> u64 {
        let mut h = h ^ len;
        h ^= h >> 33;
        h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }

    /// The hash of `name` (wire form, any case), as the program computes
    /// it.
    pub fn hash(name: &[u8]) -> u64 {
        let mut h = START;
        for chunk in name.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            h = step(h, lower(u64::from_le_bytes(w)));
        }
        finish(h, name.len() as u64)
    }
}

/// A listener's address: the program answers UDP to it only. An address
/// of all zeros (with its family) stands for every address of that family
/// on the port, as a socket bound to `0.0.0.0` or `::` does.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Listener {
    /// IPv4 in the first four bytes, the rest zero; or IPv6.
    pub addr: [u8; 16],
    /// Host order.
    pub port: u16,
    /// 4 or 6.
    pub family: u16,
}

/// The listeners when they are few: [`LISTENERS`]' keys and values, for
/// the program to compare without a lookup.
///
/// The loader turns `state` to 0 (the program then looks in
/// [`LISTENERS`]) and waits until no program run can be reading `list`
/// (`membarrier(MEMBARRIER_CMD_GLOBAL)`: an RCU grace period) before it
/// writes another `list`, and turns `state` from 0 only after another
/// such wait once `list` is written. `state` changes between 0 and at
/// most `FEW + 1`, one byte, and every write of the value writes the
/// `list` that is there unchanged but that first one: a run never reads a
/// mix of two.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FewListeners {
    /// 0: look in [`LISTENERS`]; else one more than the listeners in
    /// `list`.
    pub state: u32,
    pub _pad: u32,
    pub list: [FewListener; FEW],
}

/// One of [`FewListeners`]: a [`Listener`] and its group.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FewListener {
    pub addr: [u8; 16],
    pub port: u16,
    pub family: u16,
    pub group: u32,
}

/// A map value: one answer, for every query of its key.
///
/// The reply the program writes is the query's header with `flags` (and
/// the query's RD) and these counts, the question (which must be the
/// query's byte for byte: the name in the same case), then the body with
/// the TTL at each of [`Entry::ttl_at`] set to the remaining TTL and,
/// where the query had an OPT, the client's UDP size and flags written
/// into the body's OPT. What the program reads for every answer lies
/// together: these fields, then the question, the body and where its
/// TTLs are, so that a small answer is the hash map element's first three
/// cache lines.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    /// When the TTL started counting down, on CLOCK_MONOTONIC (which
    /// `bpf_ktime_get_ns` reads).
    pub stored_ns: u64,
    /// From then on the entry is not answered (CLOCK_MONOTONIC).
    pub expires_ns: u64,
    /// The TTL at `stored_ns`; the entry answers while whole seconds of
    /// age stay below it.
    pub orig_ttl: u32,
    /// Its slot in [`HITS`] (set by the loader).
    pub slot: u32,
    /// The one's complement sum (not folded) of the reply as 16-bit
    /// big-endian words from the DNS header's flags on, with the fields
    /// the program writes per query (the header's RD, every TTL, the
    /// OPT's size and flags) zeroed: the program adds the query's ID and
    /// what it writes.
    pub csum: u32,
    /// The reply's header flags without RD.
    pub flags: u16,
    pub ancount: u16,
    pub nscount: u16,
    /// The additional records, the OPT included.
    pub arcount: u16,
    /// The question name's length (its root byte included), at the start
    /// of `reply`.
    pub qlen: u16,
    /// The bytes after the question, in `reply` after the question.
    pub body_len: u16,
    /// The reply's length: header, question and body (the least UDP size
    /// the client must take).
    pub reply_len: u16,
    /// Where the OPT record starts in the body, or [`NO_OPT`].
    pub opt_at: u16,
    /// The most the reply's OPT may advertise for the client, or
    /// [`NO_CAP`] (bufsize's cap).
    pub size_cap: u16,
    /// The TTLs to write (see [`Entry::ttl_at`]).
    pub ttl_count: u16,
    /// How many of them start at an even offset of the message.
    pub ttl_even: u16,
    /// Write `orig_ttl` instead of what remains (cache's `keepttl`).
    pub keep_ttl: u8,
    pub _pad: [u8; 5],
    /// The question as the reply has it (the name in its case, type,
    /// class), then the body: the reply after the question; then, from
    /// the next even offset ([`Entry::ttls_at`]), where each TTL field
    /// starts in the body (`ttl_count` little-endian u16s).
    pub reply: [u8; REPLY_ROOM],
}

impl Entry {
    pub const fn zeroed() -> Entry {
        Entry {
            stored_ns: 0,
            expires_ns: 0,
            orig_ttl: 0,
            slot: 0,
            csum: 0,
            flags: 0,
            ancount: 0,
            nscount: 0,
            arcount: 0,
            qlen: 0,
            body_len: 0,
            reply_len: 0,
            opt_at: NO_OPT,
            size_cap: NO_CAP,
            ttl_count: 0,
            ttl_even: 0,
            keep_ttl: 0,
            _pad: [0; 5],
            reply: [0; REPLY_ROOM],
        }
    }

    /// Where in `reply` the TTL fields' offsets start: right after the
    /// body, at an even offset.
    #[inline(always)]
    pub fn ttls_at(&self) -> usize {
        (self.qlen as usize + 4 + self.body_len as usize + 1) & !1
    }

    /// Where the `i`th TTL field starts in the body.
    pub fn ttl_at(&self, i: usize) -> u16 {
        let at = self.ttls_at() + 2 * i;
        match self.reply.get(at..at + 2) {
            Some(b) => u16::from_le_bytes([b[0], b[1]]),
            None => 0,
        }
    }

    /// Sets where the `i`th TTL field starts in the body (the question and
    /// body in place); false where `reply` has no room for it.
    pub fn set_ttl_at(&mut self, i: usize, at: u16) -> bool {
        let from = self.ttls_at() + 2 * i;
        match self.reply.get_mut(from..from + 2) {
            Some(b) => {
                b.copy_from_slice(&at.to_le_bytes());
                true
            }
            None => false,
        }
    }

    /// The question name as the reply has it.
    pub fn name(&self) -> &[u8] {
        let n = self.qlen as usize;
        &self.reply[..if n > MAX_NAME { MAX_NAME } else { n }]
    }

    /// The bytes after the question.
    pub fn body(&self) -> &[u8] {
        let at = self.qlen as usize + 4;
        let end = at + self.body_len as usize;
        if end > REPLY_ROOM {
            return &[];
        }
        &self.reply[at..end]
    }

    /// The TTL to write at `now_ns` (CLOCK_MONOTONIC), or None once the
    /// entry must not answer: as the userspace cache counts it, the
    /// original TTL less the whole seconds since it was stored, answered
    /// while above zero.
    #[inline(always)]
    pub fn ttl(&self, now_ns: u64) -> Option<u32> {
        if now_ns >= self.expires_ns {
            return None;
        }
        let age = if now_ns > self.stored_ns {
            (now_ns - self.stored_ns) / 1_000_000_000
        } else {
            0
        };
        if age >= self.orig_ttl as u64 {
            return None;
        }
        Some(if self.keep_ttl != 0 {
            self.orig_ttl
        } else {
            self.orig_ttl - age as u32
        })
    }
}

/// The OPT size a reply carries for a client that sent `size`, and the
/// largest reply that client takes over UDP, as the userspace server works
/// them out: a size under 512 is mirrored as sent but 512 is taken; `cap`
/// (bufsize) lowers both. Without an OPT: 512.
#[inline(always)]
pub fn udp_sizes(opt: Option<u16>, cap: u16) -> (u16, u16) {
    match opt {
        None => (0, MIN_UDP),
        Some(size) => {
            let payload = if size < MIN_UDP { MIN_UDP } else { size };
            let payload = if payload > cap { cap } else { payload };
            (if size < MIN_UDP { size } else { payload }, payload)
        }
    }
}

/// Byte `b` at offset `pos` of a message as a term of its one's complement
/// sum of big-endian 16-bit words.
#[inline(always)]
pub fn csum_byte(b: u8, pos: usize) -> u32 {
    if pos & 1 == 0 {
        (b as u32) << 8
    } else {
        b as u32
    }
}

/// What `count` TTL fields holding `ttl` add to the sum, `even` of them at
/// even offsets (a field at an odd offset contributes its halves byte
/// swapped).
#[inline(always)]
pub fn csum_ttls(ttl: u32, even: u32, count: u32) -> u64 {
    let (hi, lo) = (ttl >> 16, ttl & 0xFFFF);
    let straight = (hi + lo) as u64;
    let swapped = ((hi as u16).swap_bytes() as u32 + (lo as u16).swap_bytes() as u32) as u64;
    straight * even as u64 + swapped * (count - even) as u64
}

/// Folds a one's complement sum to 16 bits.
#[inline(always)]
pub fn fold(mut sum: u64) -> u16 {
    sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum = (sum & 0xFFFF) + (sum >> 16);
    sum as u16
}

/// The program's counters, indices into [`COUNTERS`].
pub mod counter {
    /// Answered (XDP_TX).
    pub const ANSWERED: u32 = 0;
    /// Not an IPv4 or IPv6 frame to this host's unicast MAC, or too short.
    pub const PASS_FRAME: u32 = 1;
    /// IPv4 options or fragments, IPv6 extension headers, a bad IPv4
    /// header checksum.
    pub const PASS_IP: u32 = 2;
    /// Not UDP.
    pub const PASS_NOT_UDP: u32 = 3;
    /// UDP, but not to a listener (or from port 0).
    pub const PASS_NOT_LISTENER: u32 = 4;
    /// IP and UDP lengths that disagree with each other or the frame, or
    /// a datagram shorter than a DNS header.
    pub const PASS_LENGTH: u32 = 5;
    /// Not a plain query: QR, an opcode other than QUERY, not exactly one
    /// question, answer or authority records, more than one additional.
    pub const PASS_NOT_QUERY: u32 = 6;
    /// A question name that is malformed, compressed, too long, or runs
    /// past the message.
    pub const PASS_QUESTION: u32 = 7;
    /// Bytes after the question other than one OPT of version 0 without
    /// options.
    pub const PASS_RECORDS: u32 = 8;
    /// No entry for the key.
    pub const PASS_NO_ENTRY: u32 = 9;
    /// The entry expired.
    pub const PASS_EXPIRED: u32 = 10;
    /// The name in another case than the entry's reply.
    pub const PASS_CASE: u32 = 11;
    /// The reply is larger than the client takes.
    pub const PASS_TOO_BIG: u32 = 12;
    /// The frame cannot grow to the reply's size (passed unchanged): the
    /// kernel promises 256 bytes of headroom, and tailroom only where the
    /// driver's buffers are pages (veth and generic mode copy a frame into
    /// a buffer its size).
    pub const PASS_NO_ROOM: u32 = 13;
    /// An entry the program cannot write (lengths out of bounds).
    pub const ERROR_ENTRY: u32 = 14;
    /// Writing the reply failed half way (dropped).
    pub const ERROR_WRITE: u32 = 15;
    /// The loader wrote another [`super::VERSION`] (passed).
    pub const ERROR_LAYOUT: u32 = 16;
    pub const COUNT: u32 = 17;

    /// Each counter's name, as metrics label it.
    pub const NAMES: [&str; COUNT as usize] = [
        "answered",
        "pass_frame",
        "pass_ip",
        "pass_not_udp",
        "pass_not_listener",
        "pass_length",
        "pass_not_query",
        "pass_question",
        "pass_records",
        "pass_no_entry",
        "pass_expired",
        "pass_case",
        "pass_too_big",
        "pass_no_room",
        "error_entry",
        "error_write",
        "error_layout",
    ];
}

// The layouts have no implicit padding (the kernel hashes keys byte by
// byte; aya copies values as bytes).
const _: () = assert!(core::mem::size_of::<Key>() == 24);
const _: () = assert!(core::mem::size_of::<Listener>() == 20);
const _: () = assert!(core::mem::size_of::<FewListeners>() == 8 + 24 * FEW);
const _: () = assert!(FEW < 255);
const _: () = assert!(core::mem::size_of::<Entry>() == 56 + REPLY_ROOM);
const _: () = assert!(core::mem::offset_of!(Entry, reply) == 56);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_the_server_works_them_out() {
        assert_eq!(udp_sizes(None, NO_CAP), (0, 512));
        assert_eq!(udp_sizes(Some(1232), NO_CAP), (1232, 1232));
        assert_eq!(udp_sizes(Some(100), NO_CAP), (100, 512));
        assert_eq!(udp_sizes(Some(4096), 1232), (1232, 1232));
        assert_eq!(udp_sizes(Some(100), 1232), (100, 512));
    }

    #[test]
    fn ttl_counts_whole_seconds() {
        let mut e = Entry::zeroed();
        e.stored_ns = 10_000_000_000;
        e.expires_ns = u64::MAX;
        e.orig_ttl = 3;
        assert_eq!(e.ttl(5), Some(3), "before stored");
        assert_eq!(e.ttl(10_999_999_999), Some(3));
        assert_eq!(e.ttl(11_000_000_000), Some(2));
        assert_eq!(e.ttl(12_999_999_999), Some(1));
        assert_eq!(e.ttl(13_000_000_000), None);
        e.keep_ttl = 1;
        assert_eq!(e.ttl(12_999_999_999), Some(3));
        e.expires_ns = 12_000_000_000;
        assert_eq!(e.ttl(12_000_000_000), None);
    }

    #[test]
    fn lowercases_ascii_letters_only() {
        for b in 0..=255u8 {
            for at in 0..8 {
                // Each byte among others of every kind, at every place.
                let mut w = [b'Z', b'@', b'[', 0xC1, b'a', 63, b'A', 0x80];
                w[at] = b;
                let mut want = w;
                want.iter_mut().for_each(|x| x.make_ascii_lowercase());
                let got = name::lower(u64::from_le_bytes(w)).to_le_bytes();
                assert_eq!(got, want, "{b:#x} at {at}");
            }
        }
    }

    #[test]
    fn name_hash_is_of_the_lowercased_name_and_its_length() {
        let h = name::hash(b"\x03www\x07example\x03org\x00");
        assert_eq!(h, name::hash(b"\x03WwW\x07EXAMPLE\x03Org\x00"));
        assert_ne!(h, name::hash(b"\x03wwx\x07example\x03org\x00"));
        // Zero padding of the last word does not make names alike.
        assert_ne!(name::hash(b"\x00"), name::hash(b"\x00\x00"));
        assert_ne!(name::hash(b"\x01a\x00"), name::hash(b"\x01b\x00"));
    }

    #[test]
    fn checksum_terms() {
        // A TTL of 0x01020304 at even offset: 0x0102 + 0x0304; at odd
        // offset its bytes pair with neighbours: 0x0201 + 0x0403.
        assert_eq!(csum_ttls(0x0102_0304, 1, 1), 0x0406);
        assert_eq!(csum_ttls(0x0102_0304, 0, 1), 0x0604);
        assert_eq!(csum_ttls(0x0102_0304, 1, 3), 0x0406 + 2 * 0x0604);
        assert_eq!(csum_byte(0xAB, 0), 0xAB00);
        assert_eq!(csum_byte(0xAB, 7), 0xAB);
        assert_eq!(fold(0x1_FFFF), 1);
        assert_eq!(fold(0xFFFF_FFFF_FFFF), 0xFFFF);
    }
}
