//! The XDP program (ebpf/xdp) and its loader (the daemon's `xdp` module):
//! the maps' names and layouts, the counters, and the arithmetic both
//! sides must do alike (remaining TTL, the client's UDP size, checksum
//! words).
//!
//! The program answers a query from [`ENTRIES`] when its [`Key`] is there:
//! the question name lowercased, type, class, the listener's group and the
//! query bits the userspace answer depends on ([`bits`]). The [`Entry`]
//! holds the reply's bytes after the question exactly as userspace writes
//! them for such a query, with the fields that change per answer (every
//! TTL, the OPT's size and flags) zeroed and their places recorded, and a
//! checksum of what it holds, so the program adds only what it writes.

/// Layout of every type here. The loader writes its own into the
/// program's [`LAYOUT`] global; a program built for another answers
/// nothing (every packet passes, counted as [`counter::ERROR_LAYOUT`]).
pub const VERSION: u32 = 1;

/// The program's name in the object.
pub const PROGRAM: &str = "ferrodns_xdp";
/// The `u32` global the loader sets to [`VERSION`].
pub const LAYOUT: &str = "LAYOUT";
/// `HashMap<Key, Entry>`: the answers (max entries set by the loader).
pub const ENTRIES: &str = "ENTRIES";
/// `HashMap<Listener, u32>`: the addresses answered for, to their group.
pub const LISTENERS: &str = "LISTENERS";
/// `PerCpuArray<u64>` of [`counter::COUNT`]: answers, passes by reason, errors.
pub const COUNTERS: &str = "COUNTERS";
/// `PerCpuArray<u64>` of twice the entries: answers per entry slot, IPv4
/// at `2 * slot`, IPv6 at `2 * slot + 1`.
pub const HITS: &str = "HITS";
/// `PerCpuArray` of one: the program's room for the key it builds.
pub const SCRATCH: &str = "SCRATCH";

/// Room for a question name in wire form (the longest is 255 bytes).
pub const NAME_LEN: usize = 256;
/// The longest name, root byte included (RFC 1035 3.1).
pub const MAX_NAME: usize = 255;
/// The most bytes after the question an entry holds.
pub const MAX_BODY: usize = 1024;
/// The most records (OPT aside) an entry holds, each with a TTL to write.
pub const MAX_TTLS: usize = 64;
/// The most listener addresses.
pub const MAX_LISTENERS: u32 = 256;
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
    /// The question name in wire form, ASCII lowercased, zero padded.
    pub name: [u8; NAME_LEN],
    /// The listener group (see [`LISTENERS`]): entries of different
    /// caches (server blocks) never answer for each other.
    pub group: u32,
    pub qtype: u16,
    pub qclass: u16,
    /// [`bits`] of the query.
    pub bits: u32,
}

impl Key {
    pub const fn zeroed() -> Key {
        Key {
            name: [0; NAME_LEN],
            group: 0,
            qtype: 0,
            qclass: 0,
            bits: 0,
        }
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

/// A map value: one answer, for every query of its key.
///
/// The reply the program writes is the query's header with `flags` (and
/// the query's RD) and these counts, the query's question as it came (its
/// case must be the one in `upper`), then `body` with the TTL at each of
/// `ttl_at` set to the remaining TTL and, where the query had an OPT, the
/// client's UDP size and flags written into the body's OPT.
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
    /// The one's complement sum (not folded) of the reply from the
    /// question on, with the fields the program writes zeroed, as 16-bit
    /// big-endian words counted from the DNS header's first byte.
    pub csum: u32,
    /// The reply's header flags without RD.
    pub flags: u16,
    pub ancount: u16,
    pub nscount: u16,
    /// The additional records, the OPT included.
    pub arcount: u16,
    /// The bytes of `body` in use.
    pub body_len: u16,
    /// The reply's length: header, question and body (the least UDP size
    /// the client must take).
    pub reply_len: u16,
    /// Where the OPT record starts in `body`, or [`NO_OPT`].
    pub opt_at: u16,
    /// The most the reply's OPT may advertise for the client, or
    /// [`NO_CAP`] (bufsize's cap).
    pub size_cap: u16,
    /// The TTLs to write: `ttl_at[..ttl_count]`.
    pub ttl_count: u16,
    /// How many of them start at an even offset of the message.
    pub ttl_even: u16,
    /// Write `orig_ttl` instead of what remains (cache's `keepttl`).
    pub keep_ttl: u8,
    pub _pad: [u8; 7],
    /// Bit i (byte i / 8, bit i % 8) set where byte i of the question name
    /// is an upper-case letter in the reply: the query's must be the same
    /// (another case is answered differently by userspace).
    pub upper: [u8; 32],
    /// Where each TTL field starts in `body`.
    pub ttl_at: [u16; MAX_TTLS],
    /// The reply after the question.
    pub body: [u8; MAX_BODY],
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
            body_len: 0,
            reply_len: 0,
            opt_at: NO_OPT,
            size_cap: NO_CAP,
            ttl_count: 0,
            ttl_even: 0,
            keep_ttl: 0,
            _pad: [0; 7],
            upper: [0; 32],
            ttl_at: [0; MAX_TTLS],
            body: [0; MAX_BODY],
        }
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
const _: () = assert!(core::mem::size_of::<Key>() == NAME_LEN + 12);
const _: () = assert!(core::mem::size_of::<Listener>() == 20);
const _: () = assert!(core::mem::size_of::<Entry>() == 88 + 2 * MAX_TTLS + MAX_BODY);

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
