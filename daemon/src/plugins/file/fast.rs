//! file on the raw-bytes path (see `plugin::fast`, `plugin::prepared`): a
//! zone's answers in wire form, made when it loads and kept in the zone
//! (so a reload swaps them with its data).
//!
//! Most names of a large zone are owners of a few address or text records
//! with nothing above them but the apex: their answers differ from one
//! name to the next only by the name and the records. Those are written
//! when asked, from templates made once per zone: hickory's reply for the
//! apex itself (the SOA for NODATA, NXDOMAIN and empty non-terminals, the
//! apex NS for answers), its sections after the question copied with
//! their compression pointers moved by what the name and the records add
//! before them, the records written between (owner `0xC00C`, the
//! question's name). That holds, as long as no name of the template's
//! sections ends in a name below the origin that the question's name ends
//! in (hickory would compress it against the question otherwise), and
//! hickory's limits (64 label pointers kept, 120 names compressed, offsets
//! below 0x3FFF) are not reached; names where it does not hold, and names
//! of any other shape, are prepared as before.
//!
//! Those get an entry answering the types not prepared apart, and the types
//! that answer otherwise get entries of their own; every reply is the
//! plugin's own lookup's (`Zone::lookup`, `super::written`), encoded as the
//! server encodes it. Which types answer alike is known from the lookup's
//! code: it looks at a question's type only to compare it with SOA, NS,
//! CNAME and DS and to take the records of that type, so any type no
//! record of the zone has, other than those four, gets the reply of any
//! other such type (the probe) but for the question's type. For most names
//! fewer lookups do: at or below a zone cut every type but DS gets the
//! referral; an owner without CNAME, DNAME or cut above it answers NODATA
//! for the types it lacks. What takes the chain: answers that ask the
//! server again (CNAME or DNAME targets outside the zone, or not in it),
//! SERVFAIL without records, names that need escapes, names that do not
//! exist below a delegation, a DNAME or a wildcard, and with `fallthrough`
//! set, every empty NXDOMAIN or NOERROR answer.

use super::lookup::{Answer, Res};
use super::tree::{is_below, key_label_count, key_of_wire, key_prefix, Node, Tree, MAX_KEY};
use super::zone::Zone;
use crate::metrics::vars::message_len;
use crate::plugin::classify::{classify, Kind};
use crate::plugin::fast::{RawAnswer, RawQuery};
use crate::plugin::prepared::{self, Lookup, Prepared, FALL, NAME};
use crate::wire::fast::{is_plain, suffixes};
use crate::wire::HEADER_LEN;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};
use std::collections::BTreeSet;

/// A node's bits: the names below it that do not exist answer NXDOMAIN
/// with the zone's SOA (the `nx` template).
const NX_BELOW: u8 = 1;
/// A node's bits: its answers come from the templates (those of its
/// types that are not [`PLAIN_TYPES`] from the table).
const TEMPLATED: u8 = 2;
/// A node's bits: a CNAME to a [`TEMPLATED`] owner of plain types only,
/// its answers the CNAME and the target's records before the template's
/// sections.
const CNAME_TO: u8 = 4;

/// The types whose records a template answer writes: their data holds no
/// name, so hickory writes it as it is and keeps no label of it.
const PLAIN_TYPES: [u16; 3] = [1, 16, 28];

/// hickory's limits on name compression in one message: label pointers
/// kept, names compressed, and the offsets it keeps pointers to.
const POINTERS: usize = 64;
const COMPRESSED: usize = 120;
const OFFSETS: usize = 0x3FFF;

/// A zone's answers in wire form.
#[derive(Default)]
pub struct Answers {
    /// The names not answered from the templates.
    table: Prepared,
    /// Each node's bits, by its place in the tree.
    bits: Vec<u8>,
    /// The apex's bits (it has no node when it has only SOA and NS).
    apex: u8,
    /// NXDOMAIN, NODATA (and empty non-terminals), and answers.
    nx: Option<Tpl>,
    nodata: Option<Tpl>,
    answer: Option<Tpl>,
    /// The origin, lowercased wire form.
    origin: Box<[u8]>,
}

/// Where a compression pointer of a template's sections points.
#[derive(Clone, Copy)]
enum Target {
    /// Into the question's name, so many bytes into the origin.
    Origin(u16),
    /// Into the sections themselves.
    Tail(u16),
}

/// A reply for a name below the apex, made from hickory's reply to the
/// same question for the apex (see the module's doc).
struct Tpl {
    header: [u8; HEADER_LEN],
    /// The sections after the question.
    tail: Box<[u8]>,
    /// The tail's compression pointers: where, and where to.
    pointers: Box<[(u16, Target)]>,
    /// The tail's length without compression (miekg's `Msg.Len`).
    tail_plain: usize,
    kind: Kind,
    /// Label pointers the tail's names keep, and names it compresses.
    kept: usize,
    names: usize,
    /// Names below the origin that the tail's names end in (lowercased).
    avoid: Vec<Box<[u8]>>,
}

/// The number of labels of a wire name.
fn label_count(name: &[u8]) -> usize {
    suffixes(name).count() - 1
}

/// The uncompressed, lowercased name at `p` of `msg` (following
/// pointers), its literal labels, its pointer's place, and where it ends.
fn name_in(msg: &[u8], mut p: usize) -> Option<(Vec<u8>, usize, Option<usize>, usize)> {
    let mut full = Vec::new();
    let mut literal = 0;
    let mut pointer = None;
    let mut end = None;
    for _ in 0..128 {
        let len = *msg.get(p)?;
        match len & 0xC0 {
            0xC0 => {
                let to = usize::from(u16::from_be_bytes([len, *msg.get(p + 1)?]) & 0x3FFF);
                if pointer.is_none() {
                    pointer = Some(p);
                    end = Some(p + 2);
                }
                p = to;
            }
            0 if len == 0 => {
                full.push(0);
                return Some((full, literal, pointer, end.unwrap_or(p + 1)));
            }
            0 => {
                let label = msg.get(p + 1..p + 1 + usize::from(len))?;
                full.push(len);
                full.extend(label.iter().map(u8::to_ascii_lowercase));
                if pointer.is_none() {
                    literal += 1;
                }
                p += 1 + usize::from(len);
            }
            _ => return None,
        }
    }
    None
}

impl Tpl {
    /// The template of `m`, hickory's reply to a question for the origin
    /// (`origin`, wire form) without answer records; `kind` is that of the
    /// replies made from it.
    fn of(m: &Message, origin: &[u8], kind: Kind) -> Option<Tpl> {
        let e = prepared::entry(m, 0)?;
        let reply = prepared::Entry::new(&e).reply();
        let start = HEADER_LEN + origin.len() + 4;
        if reply.get(HEADER_LEN..HEADER_LEN + origin.len())? != origin
            || reply[4..6] != [0, 1]
            || reply[6..8] != [0, 0]
        {
            return None;
        }
        let count = |at: usize| usize::from(u16::from_be_bytes([reply[at], reply[at + 1]]));
        let (mut pointers, mut avoid) = (Vec::new(), Vec::new());
        let (mut kept, mut names) = (0, 0);
        let mut p = start;
        let mut name = |p: &mut usize| -> Option<()> {
            let (full, literal, pointer, end) = name_in(reply, *p)?;
            if let Some(at) = pointer {
                let to = usize::from(u16::from_be_bytes([reply[at], reply[at + 1]]) & 0x3FFF);
                let target = if (HEADER_LEN..HEADER_LEN + origin.len()).contains(&to) {
                    Target::Origin((to - HEADER_LEN) as u16)
                } else if to >= start && to < reply.len() {
                    Target::Tail((to - start) as u16)
                } else {
                    return None;
                };
                pointers.push(((at - start) as u16, target));
            }
            kept += literal;
            names += 1;
            for s in suffixes(&full) {
                if s.len() > origin.len() && crate::wire::fast::is_subdomain(origin, s) {
                    avoid.push(Box::<[u8]>::from(s));
                }
            }
            *p = end;
            Some(())
        };
        for _ in 0..count(8) + count(10) {
            name(&mut p)?;
            let t = u16::from_be_bytes([*reply.get(p)?, *reply.get(p + 1)?]);
            let len = usize::from(u16::from_be_bytes([*reply.get(p + 8)?, *reply.get(p + 9)?]));
            p += 10;
            let end = p + len;
            match t {
                2 | 5 | 12 => name(&mut p)?,
                6 => {
                    name(&mut p)?;
                    name(&mut p)?;
                    p += 20;
                }
                1 | 28 => p = end,
                // Any other data could hold names.
                _ => return None,
            }
            if p != end {
                return None;
            }
        }
        if p != reply.len() || label_count(origin) + kept > POINTERS {
            return None;
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&reply[..HEADER_LEN]);
        Some(Tpl {
            header,
            tail: reply[start..].into(),
            pointers: pointers.into(),
            tail_plain: message_len(m).checked_sub(start)?,
            kind,
            kept,
            names,
            avoid,
        })
    }

    /// Whether replies for `name` (lowercased wire form, below the origin)
    /// with `records` answer records of `bytes` bytes come out of the
    /// template as hickory writes them.
    fn holds(&self, name: &[u8], origin: &[u8], records: usize, bytes: usize) -> bool {
        self.holds_with(name, origin, 0, records, bytes)
    }

    /// [`Tpl::holds`], with `kept` more label pointers kept before the
    /// sections (a CNAME's target's); `records` counts the CNAME, whose
    /// target is one more name compressed.
    fn holds_with(
        &self,
        name: &[u8],
        origin: &[u8],
        kept: usize,
        records: usize,
        bytes: usize,
    ) -> bool {
        label_count(name) + kept + self.kept <= POINTERS
            && 1 + records + kept.min(1) + self.names <= COMPRESSED
            && HEADER_LEN + name.len() + 4 + bytes + self.tail.len() < OFFSETS
            && !suffixes(name)
                .take_while(|s| s.len() > origin.len())
                .any(|s| self.avoid.iter().any(|a| **a == *s))
    }

    /// The reply to `q` (its name below the origin), the answer records
    /// `records` (type, class, TTL, data) between the question and the
    /// template's sections; None when it does not fit the client.
    fn write<'r>(
        &self,
        q: &RawQuery<'_>,
        origin: &[u8],
        records: impl Iterator<Item = (u16, u16, u32, &'r [u8])> + Clone,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        self.write_via(q, origin, None, records, out)
    }

    /// [`Tpl::write`], with the answer records owned by the target of a
    /// CNAME record (class, TTL, target in lowercased wire form) of the
    /// question's name written first.
    fn write_via<'r>(
        &self,
        q: &RawQuery<'_>,
        origin: &[u8],
        cname: Option<(u16, u32, &[u8])>,
        records: impl Iterator<Item = (u16, u16, u32, &'r [u8])> + Clone,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        let name = q.lower;
        let (n, bytes) = records
            .clone()
            .fold((0, 0), |(n, b), r| (n + 1, b + 12 + r.3.len()));
        // The CNAME's target as hickory writes it: its labels up to the
        // longest ending it shares with the question's name, then a
        // pointer there (the root ends it when that is all they share).
        let via = cname.map(|(class, ttl, target)| {
            let shared = suffixes(target)
                .take_while(|s| s.len() > 1)
                .find(|s| suffixes(name).any(|x| x == *s));
            let literal = target.len() - shared.map_or(0, <[u8]>::len);
            let pointer = shared.map(|s| HEADER_LEN + name.len() - s.len());
            (class, ttl, target, literal, pointer)
        });
        let via_len = via.map_or(0, |(_, _, _, literal, pointer)| {
            12 + literal + if pointer.is_some() { 2 } else { 0 }
        });
        let len = HEADER_LEN + name.len() + 4 + via_len + bytes + self.tail.len();
        if !prepared::fits(len, q) {
            return None;
        }
        out.clear();
        out.extend_from_slice(&self.header);
        let an = n + usize::from(via.is_some());
        out[6..8].copy_from_slice(&(an as u16).to_be_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&q.q.qtype.to_be_bytes());
        out.extend_from_slice(&[0, 1]);
        // The owner of the answer records: the question's name, or the
        // CNAME's target where it was first written.
        let mut owner = HEADER_LEN as u16;
        let mut plain = HEADER_LEN + name.len() + 4 + n * (name.len() + 10) + bytes - 12 * n;
        if let Some((class, ttl, target, literal, pointer)) = via {
            let rdlen = via_len - 12;
            out.extend_from_slice(&[0xC0, HEADER_LEN as u8, 0, 5]);
            out.extend_from_slice(&class.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&(rdlen as u16).to_be_bytes());
            let at = out.len();
            out.extend_from_slice(&target[..literal]);
            owner = match pointer {
                Some(p) => {
                    out.extend_from_slice(&(0xC000 | p as u16).to_be_bytes());
                    if literal > 0 {
                        at as u16
                    } else {
                        p as u16
                    }
                }
                None => at as u16,
            };
            // The records are the target's: its name, not the question's.
            plain += name.len() + 10 + target.len() + n * target.len() - n * name.len();
        }
        for (t, class, ttl, d) in records {
            out.extend_from_slice(&(0xC000 | owner).to_be_bytes());
            out.extend_from_slice(&t.to_be_bytes());
            out.extend_from_slice(&class.to_be_bytes());
            out.extend_from_slice(&ttl.to_be_bytes());
            out.extend_from_slice(&(d.len() as u16).to_be_bytes());
            out.extend_from_slice(d);
        }
        let start = out.len();
        out.extend_from_slice(&self.tail);
        let shift = name.len() - origin.len();
        for &(at, target) in self.pointers.iter() {
            let to = match target {
                Target::Origin(o) => HEADER_LEN + shift + usize::from(o),
                Target::Tail(o) => start + usize::from(o),
            };
            let to = u16::try_from(to).ok().filter(|t| *t < 0x4000)?;
            let at = start + usize::from(at);
            out[at..at + 2].copy_from_slice(&(0xC000 | to).to_be_bytes());
        }
        Some(prepared::finish(out, q, self.kind, plain + self.tail_plain))
    }
}

/// How a name's types answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    /// At or below a zone cut: the referral, whatever the type (but DS).
    Cut,
    /// An owner without CNAME, cut or DNAME above: NODATA for what it lacks.
    Owner,
    /// An empty non-terminal in a zone without wildcards: NOERROR with the SOA.
    Empty,
    /// Anything else: every type a record of the zone has is asked.
    Other,
}

/// What preparing a zone knows of it.
struct Prep<'a> {
    z: &'a Zone,
    /// Types a record of the zone has, with SOA, NS and CNAME.
    checked: Vec<u16>,
    /// A type no record of the zone has.
    probe: u16,
}

impl<'a> Prep<'a> {
    /// What preparing `z` needs, and whether it has wildcards; None when
    /// it has no SOA or no type is left for the probe.
    fn of(z: &'a Zone) -> Option<(Prep<'a>, bool)> {
        z.soa.as_ref()?;
        let mut types = BTreeSet::from([6u16, 2, 5]);
        let mut wildcards = false;
        for n in z.tree.nodes() {
            types.extend(n.types().map(u16::from));
            wildcards |= n.key().split(|b| *b == 0).any(|l| l == b"*");
        }
        let probe = (0xFF00..0xFFFF).find(|t| !types.contains(t))?;
        types.remove(&u16::from(RecordType::DS));
        let prep = Prep {
            z,
            checked: types.into_iter().collect(),
            probe,
        };
        Some((prep, wildcards))
    }

    /// The entry of `name`/`qtype` as the plugin answers it.
    fn entry(&self, name: &[u8], qtype: u16, bits: u8) -> Box<[u8]> {
        self.reply(name, qtype, bits)
            .unwrap_or_else(|| prepared::marker(name, qtype, bits))
    }

    fn reply(&self, name: &[u8], qtype: u16, bits: u8) -> Option<Box<[u8]>> {
        let q = prepared::query(name, qtype)?;
        let qname = q.queries.first()?.name().to_lowercase();
        let a = self.z.lookup(&qname, RecordType::from(qtype), 0);
        // The server is asked again, which preparing cannot do: the
        // answer is the chain's.
        if a.pending.is_some() {
            return None;
        }
        let fall = if super::falls(&a) { FALL } else { 0 };
        let m = super::written(a, crate::wire::reply_to(&q)).ok()?;
        prepared::entry(&m, bits | fall)
    }

    /// The entries of the name `name` (wire form), of shape `shape`, its
    /// node `node` (None for the apex without one).
    fn name(&self, name: &[u8], shape: Shape, node: Option<Node<'_>>, t: &mut Prepared) {
        let all = self.reply(name, self.probe, NAME);
        let types: Vec<u16> = match shape {
            Shape::Cut | Shape::Empty => Vec::new(),
            Shape::Owner => node
                .map(|n| n.types().map(u16::from).collect())
                .unwrap_or_default(),
            Shape::Other => self.checked.clone(),
        };
        for qtype in types {
            // DS goes to the parent side: the raw path never asks it.
            if qtype == u16::from(RecordType::DS) {
                continue;
            }
            let e = self.entry(name, qtype, 0);
            let same = all
                .as_deref()
                .is_some_and(|a| prepared::same_but_type(a, &e));
            if !same {
                t.insert(e);
            }
        }
        t.insert(all.unwrap_or_else(|| prepared::marker(name, self.probe, NAME)));
    }

    /// The reply to the probe for the origin with `a`'s sections.
    fn sample(&self, origin: &[u8], a: Answer) -> Option<Message> {
        let q = prepared::query(origin, self.probe)?;
        super::written(a, crate::wire::reply_to(&q)).ok()
    }

    fn negative(&self, origin: &[u8], res: Res) -> Option<Message> {
        let soa = self.z.soa.clone()?;
        self.sample(
            origin,
            Answer {
                answer: Vec::new(),
                ns: vec![soa],
                extra: Vec::new(),
                res,
                wildcard: None,
                pending: None,
            },
        )
    }

    /// The templates: NXDOMAIN (when the zone allows it), NODATA, answers.
    fn templates(&self, origin: &[u8]) -> (Option<Tpl>, Option<Tpl>, Option<Tpl>) {
        let nx = self
            .negative(origin, Res::NameError)
            .filter(|m| m.metadata.response_code == ResponseCode::NXDomain)
            .and_then(|m| Tpl::of(&m, origin, classify(&m)));
        // Names outside the origin in the file could be wildcards the
        // lookup sees above the apex.
        let outside = self
            .z
            .tree
            .nodes()
            .any(|n| !n.key().starts_with(&self.z.origin_key));
        let nodata = self
            .negative(origin, Res::NoData)
            .and_then(|m| Tpl::of(&m, origin, classify(&m)));
        let answer = self
            .sample(
                origin,
                Answer {
                    answer: Vec::new(),
                    ns: self.z.ns.clone(),
                    extra: Vec::new(),
                    res: Res::Success,
                    wildcard: None,
                    pending: None,
                },
            )
            .and_then(|m| {
                // Its kind is that of a reply with records in its answer.
                let mut with = m.clone();
                let any =
                    Record::from_rdata(self.z.origin.clone(), 0, RData::A(A::new(192, 0, 2, 1)));
                with.answers.push(any);
                Tpl::of(&m, origin, classify(&with))
            });
        (nx.filter(|_| !outside), nodata, answer)
    }
}

impl Answers {
    /// The answers of `z`, prepared.
    pub fn of(z: &Zone) -> Answers {
        let mut buf = [0u8; crate::wire::MAX_NAME_LEN];
        let origin: Box<[u8]> = crate::wire::fast::lower_name(z.origin(), &mut buf).into();
        let tree = &z.tree;
        let Some((prep, wildcards)) = Prep::of(z) else {
            return Answers::default();
        };
        let (nx, nodata, answer) = prep.templates(&origin);
        let okey = &z.origin_key;
        // The names with a `*` child (a node, or an empty non-terminal
        // above one).
        let mut starred = vec![false; tree.nodes_len()];
        let mut star_apex = false;
        if wildcards {
            for n in tree.nodes() {
                let k = n.key();
                if let Some(parent) = k.strip_suffix(b"*\0") {
                    match tree.find(parent) {
                        Some(p) => starred[p.index()] = true,
                        None => star_apex |= parent == okey.as_slice(),
                    }
                }
            }
        }
        // Each node's shape, in canonical order (a name's ancestors come
        // before it): the decision its ancestors make for the names below
        // them (a DNAME or a cut), on a stack.
        let mut bits = vec![0u8; tree.nodes_len()];
        let mut prepare: Vec<(u32, Shape)> = Vec::new();
        let mut own_types: Vec<(u32, u16)> = Vec::new();
        let mut cnames: Vec<u32> = Vec::new();
        let mut stack: Vec<(usize, Option<Shape>)> = Vec::new();
        let mut apex = None;
        for n in tree.nodes() {
            let k = n.key();
            let at_apex = k == okey.as_slice();
            if !at_apex && !is_below(k, okey) {
                continue;
            }
            while stack
                .last()
                .is_some_and(|(top, _)| !is_below(k, tree.node(*top).key()))
            {
                stack.pop();
            }
            let decided = stack.last().and_then(|(_, d)| *d);
            let (dname, ns) = (n.has(RecordType::DNAME), n.has(RecordType::NS));
            let (shape, mut below) = match decided {
                Some(s) => (s, false),
                None => {
                    let shape = if ns {
                        Shape::Cut
                    } else if at_apex || n.has(RecordType::CNAME) {
                        Shape::Other
                    } else if !n.is_empty() {
                        Shape::Owner
                    } else if wildcards {
                        Shape::Other
                    } else {
                        Shape::Empty
                    };
                    (shape, !dname && !ns)
                }
            };
            below &= !starred[n.index()];
            let down = decided.or(if dname {
                Some(Shape::Other)
            } else if ns {
                Some(Shape::Cut)
            } else {
                None
            });
            stack.push((n.index(), down));
            let mut b = if below && nx.is_some() { NX_BELOW } else { 0 };
            if at_apex {
                apex = Some(b);
                prepare.push((n.index() as u32, shape));
            } else if templated(&n, shape, &origin, nodata.as_ref(), answer.as_ref()) {
                b |= TEMPLATED;
                // Its other types are prepared apart.
                for t in n.types().map(u16::from) {
                    if !PLAIN_TYPES.contains(&t) && t != u16::from(RecordType::DS) {
                        own_types.push((n.index() as u32, t));
                    }
                }
            } else if decided.is_none() && n.types().eq([RecordType::CNAME]) && n.of(5).len() == 1 {
                cnames.push(n.index() as u32);
            } else {
                prepare.push((n.index() as u32, shape));
            }
            bits[n.index()] = b;
        }
        // CNAMEs to owners answered from the templates, with nothing of
        // their own in the table.
        for i in cnames {
            let n = tree.node(i as usize);
            if cname_to(tree, &n, &bits, &origin, answer.as_ref()) {
                bits[i as usize] |= CNAME_TO;
            } else {
                prepare.push((i, Shape::Other));
            }
        }
        // The apex without a node of its own.
        let apex = apex.unwrap_or_else(|| {
            if nx.is_some() && !star_apex {
                NX_BELOW
            } else {
                0
            }
        });
        // Most names have two entries: one type and the rest.
        let mut table = Prepared::with_capacity(3 * prepare.len() + own_types.len() + 16);
        for (i, t) in own_types {
            let mut buf = [0u8; 256];
            let name = super::tree::wire_of_key(tree.node(i as usize).key(), &mut buf);
            table.insert(prep.entry(name, t, 0));
        }
        if tree.find(okey).is_none() {
            prep.name(&origin, Shape::Other, None, &mut table);
        }
        for (i, shape) in prepare {
            let n = tree.node(i as usize);
            let mut buf = [0u8; 256];
            let name = super::tree::wire_of_key(n.key(), &mut buf);
            if !is_plain(name) {
                // Its queries are not plain either: the raw path passes them on.
                continue;
            }
            prep.name(name, shape, Some(n), &mut table);
        }
        Answers {
            table,
            bits,
            apex,
            nx,
            nodata,
            answer,
            origin,
        }
    }

    /// The raw path's answer to `q` (its name in the zone, not DS);
    /// `fall`: the plugin has `fallthrough`.
    pub fn answer(
        &self,
        tree: &Tree,
        q: &RawQuery<'_>,
        fall: bool,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        // hickory compresses names case-sensitively: a question in another
        // case gets other bytes.
        if q.q.qname != q.lower {
            return None;
        }
        if *q.lower == *self.origin {
            return self.prepared(q, fall, out);
        }
        let mut buf = [0u8; MAX_KEY];
        let key = key_of_wire(q.lower, &mut buf)?;
        let Some(n) = tree.find(key) else {
            return self.nxdomain(tree, key, q, fall, out);
        };
        let bits = self.bits.get(n.index()).copied().unwrap_or(0);
        if bits & CNAME_TO != 0 {
            return self.via_cname(tree, n, q, out);
        }
        if bits & TEMPLATED == 0 {
            return self.prepared(q, fall, out);
        }
        if n.is_empty() {
            // NOERROR without records, as NXDOMAIN: fallthrough's.
            if fall {
                return None;
            }
            return self
                .nodata
                .as_ref()?
                .write(q, &self.origin, [].into_iter(), out);
        }
        let recs = n.of(q.q.qtype);
        if recs.is_empty() {
            return self
                .nodata
                .as_ref()?
                .write(q, &self.origin, [].into_iter(), out);
        }
        if !PLAIN_TYPES.contains(&q.q.qtype) {
            let Lookup::Found(e) = self.table.get(q.lower, q.q.qtype) else {
                return None;
            };
            return e.write(q, out);
        }
        self.answer
            .as_ref()?
            .write(q, &self.origin, records(n, recs), out)
    }

    /// The answer of a [`CNAME_TO`] name: the CNAME, then the target's
    /// records of the type asked (NS asks the server again: the chain's).
    fn via_cname(
        &self,
        tree: &Tree,
        n: Node<'_>,
        q: &RawQuery<'_>,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        let qtype = q.q.qtype;
        if qtype == u16::from(RecordType::NS) {
            return None;
        }
        let c = n.of(5).first()?;
        let target = n.data(c)?;
        let cname = Some((c.class, c.ttl, target));
        let answer = self.answer.as_ref()?;
        if qtype == 5 {
            return answer.write_via(q, &self.origin, cname, records(n, &[]), out);
        }
        let mut buf = [0u8; MAX_KEY];
        let t = tree.get(key_of_wire(target, &mut buf)?)?;
        answer.write_via(q, &self.origin, cname, records(t, t.of(qtype)), out)
    }

    /// The answer of the table.
    fn prepared(&self, q: &RawQuery<'_>, fall: bool, out: &mut Vec<u8>) -> Option<RawAnswer> {
        let e = match self.table.find(q, true) {
            Lookup::Found(e) => e,
            Lookup::Other | Lookup::Missing => return None,
        };
        if fall && e.bits() & FALL != 0 {
            return None;
        }
        e.write(q, out)
    }

    /// A name the zone does not have (`key`, its key): NXDOMAIN, when the
    /// closest name it has says so.
    fn nxdomain(
        &self,
        tree: &Tree,
        key: &[u8],
        q: &RawQuery<'_>,
        fall: bool,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        let nx = self.nx.as_ref()?;
        let name = q.lower;
        let origin = &self.origin;
        if fall || !is_plain(name) || !nx.holds(name, origin, 0, 0) {
            return None;
        }
        // The closest name the zone has decides.
        let labels = key_label_count(key);
        let closest = (label_count(origin)..labels).rev().find_map(|j| {
            if j == label_count(origin) {
                return Some(self.apex);
            }
            tree.find(key_prefix(key, j))
                .map(|n| self.bits.get(n.index()).copied().unwrap_or(0))
        });
        if closest.is_none_or(|b| b & NX_BELOW == 0) {
            return None;
        }
        nx.write(q, origin, [].into_iter(), out)
    }
}

/// The records `recs` of node `n` as a template writes them.
fn records<'a>(
    n: Node<'a>,
    recs: &'a [super::tree::Rec],
) -> impl Iterator<Item = (u16, u16, u32, &'a [u8])> + Clone + 'a {
    recs.iter()
        .filter_map(move |r| Some((r.rtype, r.class, r.ttl, n.data(r)?)))
}

/// Whether CNAME owner `n` is [`CNAME_TO`]: its target an owner answered
/// from the templates alone, and the answer template holding for it with
/// the target's records.
fn cname_to(tree: &Tree, n: &Node<'_>, bits: &[u8], origin: &[u8], answer: Option<&Tpl>) -> bool {
    let Some(answer) = answer else {
        return false;
    };
    let mut buf = [0u8; 256];
    let name = super::tree::wire_of_key(n.key(), &mut buf);
    let Some(target) = n.of(5).first().and_then(|c| n.data(c)) else {
        return false;
    };
    let mut buf = [0u8; MAX_KEY];
    let Some(t) = key_of_wire(target, &mut buf).and_then(|k| tree.get(k)) else {
        return false;
    };
    let only_plain = t.types().all(|t| PLAIN_TYPES.contains(&u16::from(t)));
    if t.index() == n.index()
        || bits.get(t.index()).is_none_or(|b| b & TEMPLATED == 0)
        || !only_plain
        || !is_plain(name)
    {
        return false;
    }
    // The target's labels hickory keeps before its pointer into the question.
    let kept = suffixes(target)
        .take_while(|s| s.len() > 1 && !suffixes(name).any(|x| x == *s))
        .count();
    let via = 12 + target.len() + 2;
    t.types().all(|ty| {
        let recs = t.of(u16::from(ty));
        let bytes = recs
            .iter()
            .map(|r| t.data(r).map(|d| 12 + d.len()))
            .sum::<Option<usize>>();
        bytes.is_some_and(|b| answer.holds_with(name, origin, kept, 1 + recs.len(), via + b))
    })
}

/// Whether the answers of node `n` of shape `shape` come from the templates.
fn templated(
    n: &Node<'_>,
    shape: Shape,
    origin: &[u8],
    nodata: Option<&Tpl>,
    answer: Option<&Tpl>,
) -> bool {
    let Some(nodata) = nodata else {
        return false;
    };
    let mut buf = [0u8; 256];
    let name = super::tree::wire_of_key(n.key(), &mut buf);
    if !is_plain(name) || !nodata.holds(name, origin, 0, 0) {
        return false;
    }
    match shape {
        Shape::Empty => true,
        Shape::Owner => {
            let Some(answer) = answer else {
                return false;
            };
            n.types()
                .filter(|t| PLAIN_TYPES.contains(&u16::from(*t)))
                .all(|t| {
                    let recs = n.of(u16::from(t));
                    let bytes = recs
                        .iter()
                        .map(|r| n.data(r).map(|d| 12 + d.len()))
                        .sum::<Option<usize>>();
                    bytes.is_some_and(|b| answer.holds(name, origin, recs.len(), b))
                })
        }
        Shape::Cut | Shape::Other => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::fast::Simple;
    use hickory_proto::rr::Name;
    use std::fmt::Write as _;

    fn zone(text: &str) -> Zone {
        let origin = Name::from_ascii("example.org.").unwrap();
        Zone::parse(text, &origin, std::path::Path::new("db"), -1).unwrap()
    }

    fn bits(z: &Zone, name: &str) -> u8 {
        let n = Name::from_ascii(name).unwrap();
        let n = z.tree.find(&super::super::tree::key_of(&n)).unwrap();
        z.fast.bits[n.index()]
    }

    /// A query for `name` (wire form) and `qtype`, as a client sends it.
    fn query(name: &[u8], qtype: u16, id: u16) -> Vec<u8> {
        let mut q = id.to_be_bytes().to_vec();
        q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        q.extend_from_slice(name);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&[0, 1]);
        q
    }

    use prepared::raw_query as raw;

    const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60
  IN NS ns1
  IN NS ns.elsewhere.net.
ns1 IN A 192.0.2.1
www IN A 192.0.2.2
  IN A 192.0.2.3
  IN AAAA 2001:db8::2
  IN TXT \"v=spf1 -all\" two
mail IN A 192.0.2.4
  IN MX 10 mail
c IN CNAME www
c.deep IN CNAME www.example.org.
m IN CNAME mail
out IN CNAME www.example.net.
a.b.ent IN A 192.0.2.5
sub IN NS ns.sub
ns.sub IN A 192.0.2.6
x.sub IN A 192.0.2.7
";

    /// Which names the templates answer: plain owners, an owner with MX
    /// (its MX from the table), CNAMEs to plain owners; not the NS's own
    /// name (the authority's names would compress against it), nor what
    /// is below a cut, nor CNAMEs to other owners or out of the zone.
    #[test]
    fn the_shapes_the_templates_take() {
        let z = zone(ZONE);
        assert_eq!(bits(&z, "www.example.org.") & TEMPLATED, TEMPLATED);
        assert_eq!(bits(&z, "mail.example.org.") & TEMPLATED, TEMPLATED);
        assert_eq!(bits(&z, "a.b.ent.example.org.") & TEMPLATED, TEMPLATED);
        // An empty non-terminal in a zone without wildcards.
        assert_eq!(bits(&z, "b.ent.example.org.") & TEMPLATED, TEMPLATED);
        assert_eq!(bits(&z, "c.example.org."), CNAME_TO | NX_BELOW);
        assert_eq!(bits(&z, "c.deep.example.org.") & CNAME_TO, CNAME_TO);
        assert_eq!(bits(&z, "m.example.org.") & CNAME_TO, 0);
        assert_eq!(bits(&z, "out.example.org.") & CNAME_TO, 0);
        assert_eq!(bits(&z, "ns1.example.org.") & TEMPLATED, 0);
        assert_eq!(bits(&z, "sub.example.org."), 0);
        assert_eq!(bits(&z, "x.sub.example.org."), 0);
        // The apex's three, mail's MX, and the names prepared whole.
        let mail_mx = b"\x04mail\x07example\x03org\x00";
        assert!(matches!(z.fast.table.get(mail_mx, 15), Lookup::Found(_)));
        assert!(matches!(z.fast.table.get_name(mail_mx), Lookup::Missing));
    }

    /// Every name and type of a zone, answered from the templates and
    /// from the plugin's own lookup encoded as the server encodes it: the
    /// same bytes, kind and size without compression.
    #[test]
    fn template_answers_are_the_lookups() {
        let mut text = String::from(ZONE);
        for i in 0..300 {
            let _ = writeln!(text, "h{i} IN A 10.0.{}.{}", i / 256, i % 256);
            if i % 3 == 0 {
                let _ = writeln!(text, "  IN AAAA 2001:db8::{i:x}");
            }
            if i % 7 == 0 {
                let _ = writeln!(text, "  IN MX {i} h{}", i + 1);
            }
            if i % 5 == 0 {
                let _ = writeln!(text, "c{i} IN CNAME h{i}");
            }
            if i % 11 == 0 {
                let _ = writeln!(text, "e{i}.deep.ent{} IN TXT \"{i}\"", i % 2);
            }
        }
        // A long name, many records, a name that shares labels with its CNAME's target.
        text.push_str("x.y.z.w.v.u.t.s.r.q.p.o.n.m.l.k IN A 10.1.0.1\n");
        for i in 0..40 {
            let _ = writeln!(text, "many IN A 10.2.0.{i}");
        }
        text.push_str("www.h1 IN CNAME h1\nh2.www IN CNAME www\n");
        // A CNAME to a name below it.
        text.push_str("cn IN CNAME x.cn\nx.cn IN A 10.3.0.1\n");
        let z = zone(&text);
        for cname in ["cn.example.org.", "h2.www.example.org.", "c5.example.org."] {
            assert_eq!(bits(&z, cname) & CNAME_TO, CNAME_TO, "{cname}");
        }
        let (prep, _) = Prep::of(&z).unwrap();
        let mut names: Vec<Vec<u8>> = z
            .tree
            .nodes()
            .map(|n| super::super::tree::wire_of_key(n.key(), &mut [0; 256]).to_vec())
            .collect();
        names.push(b"\x04nope\x07example\x03org\x00".to_vec());
        names.push(b"\x01x\x03h17\x07example\x03org\x00".to_vec());
        let (mut templated, mut id) = (0, 7u16);
        for name in &names {
            for qtype in [1u16, 2, 5, 6, 15, 16, 28, 33, 255, 65280] {
                id = id.wrapping_add(1);
                let bytes = query(name, qtype, id);
                let q = Simple::parse(&bytes).unwrap();
                for limit in [512, 100] {
                    let rq = raw(&q, name, limit);
                    let mut out = Vec::new();
                    let Some(a) = z.fast.answer(&z.tree, &rq, false, &mut out) else {
                        continue;
                    };
                    templated += 1;
                    let e = prep.reply(name, qtype, 0).expect("the lookup answers");
                    let mut want = Vec::new();
                    let w = prepared::Entry::new(&e).write(&rq, &mut want).unwrap();
                    assert_eq!(out, want, "{name:?} {qtype}");
                    assert_eq!(
                        (a.rcode, a.kind, a.flags, a.len, a.plain_len),
                        (w.rcode, w.kind, w.flags, w.len, w.plain_len),
                        "{name:?} {qtype}"
                    );
                }
            }
        }
        assert!(templated > 3000, "{templated}");
    }

    /// The cost of an answer on the raw path: from the templates, and from
    /// entries prepared whole for the same names (as every name was before
    /// the templates). Not a check: run with `--ignored --nocapture` in a
    /// release build to see the figures.
    #[test]
    #[ignore]
    fn answer_cost_templates_against_entries() {
        let mut text = String::from(
            "$ORIGIN auth.bench.\n@ 3600 IN SOA ns.bench. hostmaster.bench. 1 7200 3600 1209600 3600\n@ 3600 IN NS ns.bench.\n",
        );
        let n = 10_000;
        for i in 0..n {
            let _ = writeln!(text, "h{i} 3600 IN A 198.18.{}.{}", i / 250, 1 + i % 250);
        }
        let origin = Name::from_ascii("auth.bench.").unwrap();
        let z = Zone::parse(&text, &origin, std::path::Path::new("db"), -1).unwrap();
        let (prep, _) = Prep::of(&z).unwrap();
        let mut table = Prepared::with_capacity(2 * n);
        let mut queries = Vec::new();
        for node in z.tree.nodes() {
            let name = super::super::tree::wire_of_key(node.key(), &mut [0; 256]).to_vec();
            prep.name(&name, Shape::Owner, Some(node), &mut table);
            queries.push((query(&name, 1, 1), name));
        }
        let mut out = Vec::with_capacity(512);
        for round in 0..3 {
            for (how, templates) in [("templates", true), ("entries", false)] {
                let t0 = std::time::Instant::now();
                let mut answered = 0;
                for _ in 0..20 {
                    for (bytes, name) in &queries {
                        let q = Simple::parse(bytes).unwrap();
                        let rq = raw(&q, name, 512);
                        let a = if templates {
                            z.fast.answer(&z.tree, &rq, false, &mut out)
                        } else {
                            match table.find(&rq, true) {
                                Lookup::Found(e) => e.write(&rq, &mut out),
                                _ => None,
                            }
                        };
                        answered += usize::from(a.is_some());
                    }
                }
                let per = t0.elapsed().as_nanos() as f64 / answered as f64;
                eprintln!("round {round}: {how}: {answered} answers, {per:.0} ns each");
            }
        }
    }

    /// A zone of owners of one type: every name answered from the
    /// templates, the apex alone prepared (its SOA, its NS, the rest).
    #[test]
    fn owners_of_plain_types_take_no_entries() {
        let mut text = String::from(
            "$ORIGIN auth.bench.\n@ 3600 IN SOA ns.bench. hostmaster.bench. 1 7200 3600 1209600 3600\n@ 3600 IN NS ns.bench.\n",
        );
        for i in 0..1000 {
            let _ = writeln!(text, "h{i} 3600 IN A 198.18.{}.{}", i / 250, 1 + i % 250);
        }
        let origin = Name::from_ascii("auth.bench.").unwrap();
        let z = Zone::parse(&text, &origin, std::path::Path::new("db"), -1).unwrap();
        let a = &z.fast;
        assert_eq!(a.table.len(), 3);
        assert_eq!(a.bits.len(), 1000);
        assert!(a.bits.iter().all(|b| *b == TEMPLATED | NX_BELOW));
        let bytes = z.tree.bytes();
        eprintln!("tree: {bytes} bytes");
        assert!(bytes < 1000 * 100, "{bytes} bytes");
    }
}
