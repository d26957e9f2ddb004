//! The owner names of a zone and their records, kept compact: a zone of a
//! million names is mostly names and addresses, and each hickory `Record`
//! (a `Name` inline, the largest `RData`) costs a few hundred bytes where
//! the data is a few dozen.
//!
//! Every name is kept once, as its canonical key ([`push_key`]: labels
//! right to left, lowercased, each ended by a zero byte, so that byte
//! order is RFC 4034's canonical order), in one buffer; the nodes are in
//! canonical order, the zone's empty non-terminals among them (without
//! records), so a name's descendants follow it; a hash index finds a key's
//! node. Records of the types most zones are made of (A, AAAA, TXT, CNAME,
//! NS, PTR, MX) are kept as their uncompressed wire data in one buffer,
//! others as hickory records; they become hickory records only when the
//! chain's lookup asks for them ([`Node::get`]).

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, PTR, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr};

/// The longest key: a wire name is at most 255 bytes, and a key byte may
/// take two ([`push_key`]).
pub(crate) const MAX_KEY: usize = 512;

/// Appends a key byte: the zero byte ends labels, so 0 and 1 in a label
/// are written as 1 1 and 1 2 (order kept: both sort below 2 and above
/// the end of a label).
fn push_byte(b: u8, out: &mut Vec<u8>) {
    match b {
        0 => out.extend_from_slice(&[1, 1]),
        1 => out.extend_from_slice(&[1, 2]),
        _ => out.push(b),
    }
}

/// Appends the key of a name given by its labels, left to right.
pub(crate) fn push_key<'l>(labels: impl DoubleEndedIterator<Item = &'l [u8]>, out: &mut Vec<u8>) {
    for l in labels.rev() {
        for &b in l {
            push_byte(b.to_ascii_lowercase(), out);
        }
        out.push(0);
    }
}

/// The key of a hickory name.
pub(crate) fn key_of(name: &Name) -> Vec<u8> {
    let mut k = Vec::with_capacity(name.len() + 1);
    push_key(name.iter(), &mut k);
    k
}

/// The key of a wire name, written into `buf`; None when the name is not
/// well formed.
pub(crate) fn key_of_wire<'b>(wire: &[u8], buf: &'b mut [u8; MAX_KEY]) -> Option<&'b [u8]> {
    if wire.len() > 255 {
        return None;
    }
    // Label starts, left to right (a name of 255 bytes has at most 127).
    let mut starts = [0u8; 128];
    let mut n = 0;
    let mut at = 0usize;
    loop {
        let len = usize::from(*wire.get(at)?);
        if len == 0 {
            break;
        }
        if len > 63 || n == starts.len() || at + 1 + len >= wire.len() {
            return None;
        }
        starts[n] = at as u8;
        n += 1;
        at += 1 + len;
    }
    let mut k = 0;
    for &s in starts[..n].iter().rev() {
        let s = usize::from(s);
        for &b in &wire[s + 1..s + 1 + usize::from(wire[s])] {
            match b {
                0 | 1 => {
                    buf[k] = 1;
                    buf[k + 1] = b + 1;
                    k += 2;
                }
                _ => {
                    buf[k] = b.to_ascii_lowercase();
                    k += 1;
                }
            }
        }
        buf[k] = 0;
        k += 1;
    }
    Some(&buf[..k])
}

/// A wire name: at most 255 bytes.
pub(crate) type WireBuf = [u8; 256];

/// The wire form of a key, written into `buf` (0 and 1 bytes restored).
pub(crate) fn wire_of_key<'b>(key: &[u8], buf: &'b mut WireBuf) -> &'b [u8] {
    // The labels' ends, right to left.
    let mut ends = [0u16; 128];
    let mut n = 0;
    let mut i = 0;
    while i < key.len() && n < ends.len() {
        match key[i] {
            0 => {
                ends[n] = i as u16;
                n += 1;
            }
            1 => i += 1,
            _ => {}
        }
        i += 1;
    }
    let mut w = 0;
    for j in (0..n).rev() {
        // A name has at most 255 bytes: what a longer key would add is cut.
        if w + 2 >= buf.len() {
            break;
        }
        let start = if j == 0 {
            0
        } else {
            usize::from(ends[j - 1]) + 1
        };
        let len_at = w;
        w += 1;
        let mut i = start;
        while i < usize::from(ends[j]) && w < buf.len() - 1 {
            let b = key[i];
            buf[w] = if b == 1 {
                i += 1;
                key.get(i).map_or(0, |b| b - 1)
            } else {
                b
            };
            w += 1;
            i += 1;
        }
        buf[len_at] = (w - len_at - 1) as u8;
    }
    buf[w] = 0;
    &buf[..=w]
}

/// The name of a key.
pub(crate) fn name_of_key(key: &[u8]) -> Name {
    let mut buf = [0u8; 256];
    read_wire(wire_of_key(key, &mut buf)).map_or_else(Name::root, |(n, _)| n)
}

/// The number of labels of a key.
pub(crate) fn key_label_count(key: &[u8]) -> usize {
    key.iter().filter(|b| **b == 0).count()
}

/// The key of the ancestor of `key` with `labels` labels.
pub(crate) fn key_prefix(key: &[u8], labels: usize) -> &[u8] {
    if labels == 0 {
        return &[];
    }
    let mut seen = 0;
    for (i, b) in key.iter().enumerate() {
        if *b == 0 {
            seen += 1;
            if seen == labels {
                return &key[..=i];
            }
        }
    }
    key
}

/// Whether `below` is a name strictly below `name` (keys).
pub(crate) fn is_below(below: &[u8], name: &[u8]) -> bool {
    below.len() > name.len() && below.starts_with(name)
}

/// The uncompressed wire form of a fully qualified name; None for a
/// relative one.
fn push_wire(name: &Name, out: &mut Vec<u8>) -> Option<()> {
    if !name.is_fqdn() {
        return None;
    }
    for l in name.iter() {
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    Some(())
}

/// A name in uncompressed wire form at the start of `b`, and the bytes
/// after it.
pub(crate) fn read_wire(b: &[u8]) -> Option<(Name, &[u8])> {
    let mut labels: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    loop {
        let len = usize::from(*b.get(at)?);
        if len == 0 {
            break;
        }
        labels.push(b.get(at + 1..at + 1 + len)?);
        at += 1 + len;
    }
    Some((Name::from_labels(labels).ok()?, &b[at + 1..]))
}

/// The wire data of the types kept compact; None for the others (and for
/// data that would not come back the same).
pub(crate) fn compact(data: &RData, out: &mut Vec<u8>) -> Option<()> {
    match data {
        RData::A(a) => out.extend_from_slice(&a.0.octets()),
        RData::AAAA(a) => out.extend_from_slice(&a.0.octets()),
        RData::CNAME(c) => push_wire(&c.0, out)?,
        RData::NS(n) => push_wire(&n.0, out)?,
        RData::PTR(p) => push_wire(&p.0, out)?,
        RData::MX(mx) => {
            out.extend_from_slice(&mx.preference.to_be_bytes());
            push_wire(&mx.exchange, out)?;
        }
        RData::TXT(t) => {
            for s in t.txt_data.iter() {
                out.push(u8::try_from(s.len()).ok()?);
                out.extend_from_slice(s);
            }
        }
        _ => return None,
    }
    Some(())
}

/// The hickory data of compact wire data of type `t`.
fn expand(t: u16, d: &[u8]) -> Option<RData> {
    Some(match t {
        1 => RData::A(A(Ipv4Addr::from(<[u8; 4]>::try_from(d).ok()?))),
        28 => RData::AAAA(AAAA(Ipv6Addr::from(<[u8; 16]>::try_from(d).ok()?))),
        5 => RData::CNAME(CNAME(read_wire(d)?.0)),
        2 => RData::NS(NS(read_wire(d)?.0)),
        12 => RData::PTR(PTR(read_wire(d)?.0)),
        15 => {
            let pref = u16::from_be_bytes([*d.first()?, *d.get(1)?]);
            RData::MX(MX::new(pref, read_wire(&d[2..])?.0))
        }
        16 => {
            let mut strings = Vec::new();
            let mut i = 0;
            while i < d.len() {
                let len = usize::from(d[i]);
                strings.push(d.get(i + 1..i + 1 + len)?);
                i += 1 + len;
            }
            RData::TXT(TXT::from_bytes(strings))
        }
        _ => return None,
    })
}

/// Whether two compact data of type `t` are the same data as hickory
/// compares them: names without regard to case.
fn same_compact(t: u16, a: &[u8], b: &[u8]) -> bool {
    match t {
        5 | 2 | 12 => a.eq_ignore_ascii_case(b),
        15 => a.len() == b.len() && a[..2] == b[..2] && a[2..].eq_ignore_ascii_case(&b[2..]),
        _ => a == b,
    }
}

/// A record of the tree.
#[derive(Clone, Copy)]
pub(crate) struct Rec {
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    /// Where its data is: an offset in `data` (a length, then the bytes),
    /// or with [`FULL`] an index in `full`.
    at: u32,
}

const FULL: u32 = 1 << 31;

#[derive(Clone, Copy)]
struct Slot {
    /// Where its key starts in `keys` (it ends where the next one starts).
    key: u32,
    /// Its first record (its records end where the next node's start).
    first: u32,
}

/// An open-addressing table of node numbers, found by key.
#[derive(Default)]
struct Index {
    /// The key's hash in the high half, the node number + 1 in the low
    /// (0: empty); a power of two long, at most three quarters full.
    slots: Vec<u64>,
}

fn hash(key: &[u8]) -> u64 {
    let mix = |h: u64, v: u64| {
        let m = u128::from(h ^ v) * 0x9E37_79B9_7F4A_7C15;
        (m as u64) ^ ((m >> 64) as u64)
    };
    let mut h = 0x243F_6A88_85A3_08D3 ^ key.len() as u64;
    let mut chunks = key.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(w));
    }
    h
}

impl Index {
    fn with_room(n: usize) -> Index {
        Index {
            slots: vec![0; (n * 4 / 3 + 1).max(16).next_power_of_two()],
        }
    }

    /// The node with `key` (`key_of` gives each node's), or the empty slot
    /// where it would go.
    fn probe<'k>(&self, key: &[u8], key_of: impl Fn(usize) -> &'k [u8]) -> Result<usize, usize> {
        let h = hash(key);
        let tag = h >> 32;
        let mask = self.slots.len() - 1;
        let mut i = (h as usize) & mask;
        loop {
            let s = self.slots[i];
            if s == 0 {
                return Err(i);
            }
            let node = (s & 0xFFFF_FFFF) as usize - 1;
            if s >> 32 == tag && key_of(node) == key {
                return Ok(node);
            }
            i = (i + 1) & mask;
        }
    }

    fn put(&mut self, at: usize, key: &[u8], node: usize) {
        self.slots[at] = (hash(key) >> 32) << 32 | (node as u64 + 1);
    }
}

/// The zone's names and records, built by a [`Builder`].
#[derive(Default)]
pub(crate) struct Tree {
    keys: Vec<u8>,
    /// In canonical order, then one to end the last's key and records.
    slots: Vec<Slot>,
    recs: Vec<Rec>,
    data: Vec<u8>,
    full: Vec<Record>,
    index: Index,
    /// Nodes with records (not empty non-terminals).
    owners: usize,
}

impl Tree {
    fn key(&self, i: usize) -> &[u8] {
        &self.keys[self.slots[i].key as usize..self.slots[i + 1].key as usize]
    }

    /// How many nodes, empty non-terminals included.
    pub(crate) fn nodes_len(&self) -> usize {
        self.slots.len().saturating_sub(1)
    }

    /// How many owner names.
    pub(crate) fn owners(&self) -> usize {
        self.owners
    }

    pub(crate) fn node(&self, i: usize) -> Node<'_> {
        Node { t: self, i }
    }

    /// The node of `key`, an empty non-terminal or not.
    pub(crate) fn find(&self, key: &[u8]) -> Option<Node<'_>> {
        if self.index.slots.is_empty() {
            return None;
        }
        let i = self.index.probe(key, |i| self.key(i)).ok()?;
        Some(self.node(i))
    }

    /// The owner name of `key` (not an empty non-terminal).
    pub(crate) fn get(&self, key: &[u8]) -> Option<Node<'_>> {
        self.find(key).filter(|n| !n.is_empty())
    }

    /// Whether some name strictly below `key` exists.
    pub(crate) fn has_descendant(&self, key: &[u8]) -> bool {
        let n = self.nodes_len();
        // The first node after `key` in canonical order.
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.key(mid) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo < n && is_below(self.key(lo), key)
    }

    /// Every node, empty non-terminals included, in canonical order.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = Node<'_>> {
        (0..self.nodes_len()).map(|i| self.node(i))
    }

    /// The bytes the tree holds (not counting the allocator's).
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.keys.capacity()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.recs.capacity() * std::mem::size_of::<Rec>()
            + self.data.capacity()
            + self.full.capacity() * std::mem::size_of::<Record>()
            + self.index.slots.capacity() * 8
    }
}

/// A node of the tree: an owner name, or an empty non-terminal.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a> {
    t: &'a Tree,
    i: usize,
}

impl<'a> Node<'a> {
    /// Its position in canonical order.
    pub(crate) fn index(&self) -> usize {
        self.i
    }

    pub(crate) fn key(&self) -> &'a [u8] {
        self.t.key(self.i)
    }

    /// Its records, by type (in the order of their codes), each type's in
    /// the order the zone gave them.
    pub(crate) fn recs(&self) -> &'a [Rec] {
        let s = &self.t.slots;
        &self.t.recs[s[self.i].first as usize..s[self.i + 1].first as usize]
    }

    /// Whether it is an empty non-terminal.
    pub(crate) fn is_empty(&self) -> bool {
        self.recs().is_empty()
    }

    pub(crate) fn has(&self, t: RecordType) -> bool {
        let t = u16::from(t);
        self.recs().iter().any(|r| r.rtype == t)
    }

    /// The types it has records of.
    pub(crate) fn types(&self) -> impl Iterator<Item = RecordType> + 'a {
        let recs = self.recs();
        recs.iter()
            .enumerate()
            .filter(move |(i, r)| *i == 0 || recs[i - 1].rtype != r.rtype)
            .map(|(_, r)| RecordType::from(r.rtype))
    }

    /// The records of type `t`.
    pub(crate) fn of(&self, t: u16) -> &'a [Rec] {
        let recs = self.recs();
        let start = recs.partition_point(|r| r.rtype < t);
        let end = start + recs[start..].partition_point(|r| r.rtype == t);
        &recs[start..end]
    }

    /// The wire data of a compact record; None for one kept whole.
    pub(crate) fn data(&self, r: &Rec) -> Option<&'a [u8]> {
        if r.at & FULL != 0 {
            return None;
        }
        let at = r.at as usize;
        let len = usize::from(u16::from_be_bytes([self.t.data[at], self.t.data[at + 1]]));
        Some(&self.t.data[at + 2..at + 2 + len])
    }

    /// The name as CoreDNS keeps it: that of the first record inserted
    /// (lowercased but for an SRV's owner).
    pub(crate) fn name(&self) -> Name {
        match self.recs().first() {
            Some(r) if r.at & FULL != 0 => self.t.full[(r.at & !FULL) as usize].name.clone(),
            _ => name_of_key(self.key()),
        }
    }

    fn record(&self, owner: &Option<Name>, r: &Rec) -> Option<Record> {
        if r.at & FULL != 0 {
            return Some(self.t.full[(r.at & !FULL) as usize].clone());
        }
        let data = expand(r.rtype, self.data(r)?)?;
        let owner = owner.clone().unwrap_or_else(|| name_of_key(self.key()));
        let mut rec = Record::from_rdata(owner, r.ttl, data);
        rec.dns_class = DNSClass::from(r.class);
        Some(rec)
    }

    /// The records of type `t`, as hickory records.
    pub(crate) fn get(&self, t: RecordType) -> Vec<Record> {
        let recs = self.of(u16::from(t));
        if recs.is_empty() {
            return Vec::new();
        }
        let owner = recs
            .iter()
            .any(|r| r.at & FULL == 0)
            .then(|| name_of_key(self.key()));
        recs.iter().filter_map(|r| self.record(&owner, r)).collect()
    }

    /// The records of type `t` with their owner set to `qname` (wildcard
    /// synthesis).
    pub(crate) fn for_wildcard(&self, t: RecordType, qname: &Name) -> Vec<Record> {
        let owner = Some(qname.clone());
        self.of(u16::from(t))
            .iter()
            .filter_map(|r| {
                let mut rec = self.record(&owner, r)?;
                rec.name = qname.clone();
                Some(rec)
            })
            .collect()
    }
}

/// One record added to a [`Builder`]: its owner (in the order owners were
/// given; the same owner may come more than once) and the record.
#[derive(Clone, Copy)]
struct Item {
    node: u32,
    rec: Rec,
}

/// Builds a [`Tree`] from records in any order.
#[derive(Default)]
pub(crate) struct Builder {
    /// The owners' keys, one for each run of records with the same owner
    /// (most records follow their owner's); sorting finds repeats.
    keys: Vec<u8>,
    starts: Vec<u32>,
    items: Vec<Item>,
    data: Vec<u8>,
    full: Vec<Record>,
}

/// The first eight bytes of a key after `skip`, as a number whose order is
/// the keys' (zeros after the end: a key has no zero right after another,
/// labels are not empty).
fn prefix(key: &[u8], skip: usize) -> u64 {
    let mut w = [0u8; 8];
    let rest = &key[skip.min(key.len())..];
    let n = rest.len().min(8);
    w[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(w)
}

impl Builder {
    /// A builder with room for about `records` records.
    pub(crate) fn with_room(records: usize) -> Builder {
        Builder {
            keys: Vec::with_capacity(records * 12),
            starts: Vec::with_capacity(records + 1),
            items: Vec::with_capacity(records),
            data: Vec::with_capacity(records * 6),
            ..Builder::default()
        }
    }

    fn key(&self, i: usize) -> &[u8] {
        let end = self
            .starts
            .get(i + 1)
            .map_or(self.keys.len(), |e| *e as usize);
        &self.keys[self.starts[i] as usize..end]
    }

    fn node(&mut self, key: &[u8]) -> u32 {
        let n = self.starts.len();
        if n > 0 && self.key(n - 1) == key {
            return (n - 1) as u32;
        }
        self.starts.push(self.keys.len() as u32);
        self.keys.extend_from_slice(key);
        n as u32
    }

    /// Adds a record whose data is kept as wire data (see [`compact`]).
    pub(crate) fn push_compact(&mut self, key: &[u8], rtype: u16, class: u16, ttl: u32, d: &[u8]) {
        let node = self.node(key);
        let at = self.data.len() as u32;
        self.data.extend_from_slice(&(d.len() as u16).to_be_bytes());
        self.data.extend_from_slice(d);
        self.items.push(Item {
            node,
            rec: Rec {
                rtype,
                class,
                ttl,
                at,
            },
        });
    }

    /// Adds a record (its owner and data as `Zone::insert` leaves them).
    pub(crate) fn push(&mut self, r: Record) {
        let key = key_of(&r.name);
        let mut d = Vec::new();
        if compact(&r.data, &mut d).is_some() && d.len() <= usize::from(u16::MAX) {
            return self.push_compact(
                &key,
                u16::from(r.record_type()),
                u16::from(r.dns_class),
                r.ttl,
                &d,
            );
        }
        let node = self.node(&key);
        let at = FULL | self.full.len() as u32;
        let rec = Rec {
            rtype: u16::from(r.record_type()),
            class: u16::from(r.dns_class),
            ttl: r.ttl,
            at,
        };
        self.full.push(r);
        self.items.push(Item { node, rec });
    }

    fn same(&self, a: &Rec, b: &Rec) -> bool {
        match (a.at & FULL != 0, b.at & FULL != 0) {
            (false, false) => {
                let d = |r: &Rec| {
                    let at = r.at as usize;
                    let len = usize::from(u16::from_be_bytes([self.data[at], self.data[at + 1]]));
                    &self.data[at + 2..at + 2 + len]
                };
                a.class == b.class && same_compact(a.rtype, d(a), d(b))
            }
            (true, true) => {
                self.full[(a.at & !FULL) as usize] == self.full[(b.at & !FULL) as usize]
            }
            _ => false,
        }
    }

    /// The owners in canonical order: those given before the origin's
    /// names, then those below it (sorted by the eight bytes after the
    /// origin's key, most of them told apart there), then those after.
    fn order(&self, origin: &[u8]) -> Vec<u32> {
        let n = self.starts.len() - 1;
        let key = |i: u32| self.key(i as usize);
        let (mut before, mut inside, mut after) = (Vec::new(), Vec::with_capacity(n), Vec::new());
        for i in 0..n as u32 {
            let k = key(i);
            if k.starts_with(origin) {
                inside.push((prefix(k, origin.len()), i));
            } else if k < origin {
                before.push(i);
            } else {
                after.push(i);
            }
        }
        inside.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| key(a.1).cmp(key(b.1))));
        before.sort_unstable_by(|a, b| key(*a).cmp(key(*b)));
        after.sort_unstable_by(|a, b| key(*a).cmp(key(*b)));
        before.extend(inside.into_iter().map(|(_, i)| i));
        before.extend(after);
        before
    }

    /// The tree. With `sets`, the records of a name and type are made a
    /// set as hickory's `RecordSet::insert` makes them (the zone parser's):
    /// a CNAME replaces the one before, a record with the same data (and
    /// class) as one before is dropped. Empty non-terminals are added
    /// between `origin` (a key) and the names below it.
    pub(crate) fn finish(mut self, origin: &[u8], sets: bool) -> Tree {
        self.starts.push(self.keys.len() as u32);
        let order = self.order(origin);
        // The final nodes, empty non-terminals among them (canonical order
        // comes to a name's ancestors first: those of `k` below the origin
        // not above the name before it too have no records), an owner
        // given more than once made one; the rank of each owner given.
        let n = order.len();
        let mut keys = Vec::with_capacity(self.keys.len() + self.keys.len() / 16);
        let mut slots: Vec<Slot> = Vec::with_capacity(n + n / 16 + 1);
        let mut rank = vec![0u32; n];
        let origin_labels = key_label_count(origin);
        let mut prev: &[u8] = origin;
        let mut last: Option<&[u8]> = None;
        for &i in &order {
            let k = self.key(i as usize);
            if last == Some(k) {
                rank[i as usize] = (slots.len() - 1) as u32;
                continue;
            }
            last = Some(k);
            if is_below(k, origin) {
                let labels = key_label_count(k);
                let common = k
                    .split_inclusive(|b| *b == 0)
                    .zip(prev.split_inclusive(|b| *b == 0))
                    .take_while(|(a, b)| a == b)
                    .count();
                for j in common.max(origin_labels) + 1..labels {
                    slots.push(Slot {
                        key: keys.len() as u32,
                        first: 0,
                    });
                    keys.extend_from_slice(key_prefix(k, j));
                }
                prev = k;
            }
            rank[i as usize] = slots.len() as u32;
            slots.push(Slot {
                key: keys.len() as u32,
                first: 0,
            });
            keys.extend_from_slice(k);
        }
        drop(order);
        // The records by node and type, in the order given within a type.
        let mut items = std::mem::take(&mut self.items);
        for it in &mut items {
            it.node = rank[it.node as usize];
        }
        drop(rank);
        items.sort_by_key(|it| (u64::from(it.node) << 16) | u64::from(it.rec.rtype));
        let mut recs: Vec<Rec> = Vec::with_capacity(items.len());
        for s in &mut slots {
            s.first = u32::MAX;
        }
        let mut g = 0;
        while g < items.len() {
            let (node, t) = (items[g].node, items[g].rec.rtype);
            let mut end = g + 1;
            while end < items.len() && items[end].node == node && items[end].rec.rtype == t {
                end += 1;
            }
            let slot = &mut slots[node as usize];
            if slot.first == u32::MAX {
                slot.first = recs.len() as u32;
            }
            let group = &items[g..end];
            let start = recs.len();
            if sets && t == u16::from(RecordType::CNAME) {
                recs.push(group[group.len() - 1].rec);
            } else {
                for it in group {
                    if !(sets && recs[start..].iter().any(|r| self.same(r, &it.rec))) {
                        recs.push(it.rec);
                    }
                }
            }
            g = end;
        }
        drop(items);
        slots.push(Slot {
            key: keys.len() as u32,
            first: recs.len() as u32,
        });
        // Empty non-terminals: their records end where they start.
        for i in (0..slots.len() - 1).rev() {
            if slots[i].first == u32::MAX {
                slots[i].first = slots[i + 1].first;
            }
        }
        let mut t = Tree {
            keys,
            slots,
            recs,
            data: std::mem::take(&mut self.data),
            full: std::mem::take(&mut self.full),
            index: Index::default(),
            owners: 0,
        };
        let nodes = t.nodes_len();
        t.owners = (0..nodes).filter(|i| !t.node(*i).is_empty()).count();
        let mut index = Index::with_room(nodes);
        for i in 0..nodes {
            let key = t.key(i);
            if let Err(at) = index.probe(key, |j| t.key(j)) {
                index.put(at, key, i);
            }
        }
        t.index = index;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<Name> {
        let labels: [&[u8]; 9] = [
            b"a", b"A", b"b", b"ab", b"*", b"-", b"\x00", b"\x01z", b"z\x02",
        ];
        let mut out = vec![Name::root()];
        for a in labels {
            out.push(Name::from_labels([a, b"org"]).unwrap());
            for b in labels {
                out.push(Name::from_labels([a, b, b"org"]).unwrap());
            }
        }
        out
    }

    /// Keys sort as hickory orders names (RFC 4034's canonical order,
    /// without regard to case), and give the names back lowercased.
    #[test]
    fn keys_are_canonical_order() {
        let mut by_name = names();
        by_name.sort();
        let mut by_key = names();
        by_key.sort_by_key(key_of);
        let lower = |v: &[Name]| v.iter().map(Name::to_lowercase).collect::<Vec<_>>();
        // Names equal but for case are told apart by neither.
        let dedup = |mut v: Vec<Name>| {
            v.dedup();
            v
        };
        assert_eq!(dedup(lower(&by_name)), dedup(lower(&by_key)));
        for n in names() {
            let k = key_of(&n);
            let mut buf = [0u8; 256];
            let mut kb = [0u8; MAX_KEY];
            let mut wire = Vec::new();
            push_wire(&n.to_lowercase(), &mut wire).unwrap();
            assert_eq!(wire_of_key(&k, &mut buf), wire.as_slice(), "{n:?}");
            assert_eq!(key_of_wire(&wire, &mut kb), Some(k.as_slice()));
            assert!(name_of_key(&k).eq_case(&n.to_lowercase()));
            assert_eq!(key_label_count(&k), n.iter().count());
            for j in 0..key_label_count(&k) {
                let parent = key_prefix(&k, j);
                assert!(is_below(&k, parent));
                assert_eq!(key_label_count(parent), j);
            }
        }
    }

    /// A tree finds its names and empty non-terminals, knows which names
    /// have descendants, and gives back records as they went in.
    #[test]
    fn a_tree_of_records() {
        let origin = Name::from_ascii("example.org.").unwrap();
        let rec =
            |name: &str, data: RData| Record::from_rdata(Name::from_ascii(name).unwrap(), 60, data);
        let a = |i: u8| RData::A(A::new(192, 0, 2, i));
        let mut b = Builder::default();
        for r in [
            rec("www.example.org.", a(1)),
            rec("a.b.ent.example.org.", a(2)),
            rec(
                "www.example.org.",
                RData::TXT(TXT::new(vec!["x".into(), "".into()])),
            ),
            rec("www.example.org.", a(3)),
            rec(
                "mx.example.org.",
                RData::MX(MX::new(10, Name::from_ascii("Mail.example.org.").unwrap())),
            ),
            rec("out.example.net.", a(4)),
        ] {
            b.push(r);
        }
        let t = b.finish(&key_of(&origin), false);
        let find = |n: &str| t.find(&key_of(&Name::from_ascii(n).unwrap()));
        assert_eq!(t.owners(), 4);
        assert!(find("ent.example.org.").is_some_and(|n| n.is_empty()));
        assert!(find("b.ent.example.org.").is_some_and(|n| n.is_empty()));
        assert!(find("nope.example.org.").is_none());
        assert!(t
            .get(&key_of(&Name::from_ascii("ent.example.org.").unwrap()))
            .is_none());
        assert!(t.has_descendant(&key_of(&Name::from_ascii("ent.example.org.").unwrap())));
        assert!(!t.has_descendant(&key_of(&Name::from_ascii("www.example.org.").unwrap())));
        let www = find("www.example.org.").unwrap();
        let types: Vec<RecordType> = www.types().collect();
        assert_eq!(types, [RecordType::A, RecordType::TXT]);
        let got = www.get(RecordType::A);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], rec("www.example.org.", a(1)));
        assert_eq!(got[1].data, a(3));
        let mx = find("mx.example.org.").unwrap().get(RecordType::MX);
        assert_eq!(
            mx[0].data,
            RData::MX(MX::new(10, Name::from_ascii("Mail.example.org.").unwrap()))
        );
        // In canonical order, the empty non-terminals before their names.
        let order: Vec<String> = t.nodes().map(|n| n.name().to_ascii()).collect();
        assert_eq!(
            order,
            [
                "out.example.net.",
                "ent.example.org.",
                "b.ent.example.org.",
                "a.b.ent.example.org.",
                "mx.example.org.",
                "www.example.org."
            ]
        );
    }
}
