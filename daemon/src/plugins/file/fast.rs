//! file on the raw-bytes path (see `plugin::fast`, `plugin::prepared`): a
//! zone's answers prepared in wire form when it loads, kept in the zone
//! (so a reload swaps them with its data), and its NXDOMAIN written from a
//! template.
//!
//! Every name of the zone (owners, the apex, empty non-terminals) gets an
//! entry answering the types not prepared apart, and the types that answer
//! otherwise get entries of their own; every reply is the plugin's own
//! lookup's (`Zone::lookup`, `super::written`), encoded as the server
//! encodes it. Which types answer alike is known from the lookup's code:
//! it looks at a question's type only to compare it with SOA, NS, CNAME
//! and DS and to take the records of that type, so any type no record of
//! the zone has, other than those four, gets the reply of any other such
//! type (the probe) but for the question's type. For most names fewer
//! lookups do: at or below a zone cut every type but DS gets the referral;
//! an owner without CNAME, DNAME or cut above it answers NODATA for the
//! types it lacks; an empty non-terminal answers NOERROR with the SOA when
//! the zone has no wildcard. What takes the chain: answers that ask the
//! server again (CNAME or DNAME targets outside the zone, or not in it),
//! SERVFAIL without records, names that need escapes, names that do not
//! exist below a delegation, a DNAME or a wildcard, and with `fallthrough`
//! set, every empty NXDOMAIN or NOERROR answer.

use super::lookup::{Answer, Res};
use super::zone::{Key, Zone};
use crate::plugin::fast::{RawAnswer, RawQuery};
use crate::plugin::prepared::{self, Lookup, Prepared, FALL, NAME, OWN};
use crate::wire::fast::{is_plain, suffixes};
use crate::wire::HEADER_LEN;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use std::collections::BTreeSet;

/// On a name's own entry: the names below it that do not exist answer
/// NXDOMAIN with the zone's SOA ([`Nx`]).
const NX_BELOW: u8 = OWN;

/// A zone's answers in wire form.
#[derive(Default)]
pub struct Answers {
    table: Prepared,
    nx: Option<Nx>,
    /// The origin, lowercased wire form.
    origin: Box<[u8]>,
}

/// The NXDOMAIN reply of a name below the apex, kept as the reply with the
/// apex itself in the question. A name `P.origin` gets it with its own
/// name in the question and every compression pointer moved by `|P|`:
/// those of the SOA point into the question's origin part or past it,
/// both of which move by `|P|`, as long as the SOA names no name that
/// `P.origin` ends in below the origin (which the name's own suffixes would
/// then compress) and the question leaves hickory room for every name's
/// suffixes (it keeps at most 64).
struct Nx {
    reply: Box<[u8]>,
    /// Where the reply's compression pointers are.
    pointers: Box<[usize]>,
    /// The names below the origin that the SOA's names end in.
    avoid: Box<[Box<[u8]>]>,
    /// The most labels a name may have.
    max_labels: usize,
    plain_len: usize,
}

/// The wire form of a key (labels right to left).
fn wire_of(k: &[Vec<u8>]) -> Vec<u8> {
    let mut w = Vec::with_capacity(k.iter().map(|l| l.len() + 1).sum::<usize>() + 1);
    for l in k.iter().rev() {
        w.push(l.len() as u8);
        w.extend_from_slice(l);
    }
    w.push(0);
    w
}

/// The number of labels of a wire name.
fn label_count(name: &[u8]) -> usize {
    suffixes(name).count() - 1
}

/// How a name's types answer.
#[derive(Clone, Copy, PartialEq, Eq)]
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
    origin: Key,
    /// Types a record of the zone has, with SOA, NS and CNAME.
    checked: Vec<u16>,
    /// A type no record of the zone has.
    probe: u16,
    wildcards: bool,
}

impl Prep<'_> {
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

    /// The shape of name `k`, and whether names below it that do not exist
    /// answer NXDOMAIN with the SOA.
    fn shape(&self, k: &[Vec<u8>]) -> (Shape, bool) {
        let node = self.z.node(k);
        let mut below = true;
        for j in self.origin.len()..=k.len() {
            let Some(n) = self.z.node(&k[..j]) else {
                continue;
            };
            let dname = n.types().any(|t| t == RecordType::DNAME);
            let ns = n.types().any(|t| t == RecordType::NS);
            below &= !dname && !ns;
            // A DNAME applies to the names below its owner.
            if dname && j < k.len() {
                return (Shape::Other, false);
            }
            // The apex NS is kept out of the tree.
            if ns {
                return (Shape::Cut, false);
            }
        }
        let mut wild = k.to_vec();
        wild.push(b"*".to_vec());
        below &= !self.z.exists(&wild);
        let shape = match node {
            _ if k.len() == self.origin.len() => Shape::Other,
            Some(n) if n.types().any(|t| t == RecordType::CNAME) => Shape::Other,
            Some(_) => Shape::Owner,
            None if self.wildcards => Shape::Other,
            None => Shape::Empty,
        };
        (shape, below)
    }

    /// The entries of name `k`.
    fn name(&self, k: &[Vec<u8>], nx: bool, t: &mut Prepared) {
        let name = wire_of(k);
        if !is_plain(&name) {
            // Its queries are not plain either: the raw path passes them on.
            return;
        }
        let (shape, below) = self.shape(k);
        let own = NAME | if below && nx { NX_BELOW } else { 0 };
        let all = self.reply(&name, self.probe, own);
        let types: Vec<u16> = match shape {
            Shape::Cut | Shape::Empty => Vec::new(),
            Shape::Owner => self
                .z
                .node(k)
                .map(|n| n.types().map(u16::from).collect())
                .unwrap_or_default(),
            Shape::Other => self.checked.clone(),
        };
        for qtype in types {
            // DS goes to the parent side: the raw path never asks it.
            if qtype == u16::from(RecordType::DS) {
                continue;
            }
            let e = self.entry(&name, qtype, 0);
            let same = all
                .as_deref()
                .is_some_and(|a| prepared::same_but_type(a, &e));
            if !same {
                t.insert(e);
            }
        }
        t.insert(all.unwrap_or_else(|| prepared::marker(&name, self.probe, own)));
    }

    /// The NXDOMAIN template, when the zone allows it.
    fn nx(&self, origin: &[u8]) -> Option<Nx> {
        let soa = self.z.soa.clone()?;
        // Names outside the origin in the file could be wildcards the
        // lookup sees above the apex.
        if self.z.nodes().any(|(k, _)| !k.starts_with(&self.origin)) {
            return None;
        }
        let names = match &soa.data {
            hickory_proto::rr::RData::SOA(s) => {
                [soa.name.clone(), s.mname.clone(), s.rname.clone()]
            }
            _ => return None,
        };
        let q = prepared::query(origin, self.probe)?;
        let a = Answer {
            answer: Vec::new(),
            ns: vec![soa],
            extra: Vec::new(),
            res: Res::NameError,
            wildcard: None,
            pending: None,
        };
        let m = super::written(a, crate::wire::reply_to(&q)).ok()?;
        if m.metadata.response_code != ResponseCode::NXDomain {
            return None;
        }
        let e = prepared::entry(&m, FALL)?;
        let reply: Box<[u8]> = prepared::Entry::new(&e).reply().into();
        // The SOA's owner, MNAME and RNAME: their pointers.
        let mut pointers = Vec::new();
        let mut p = HEADER_LEN + origin.len() + 4;
        // Each name ends in a pointer (to the question's origin) or the root.
        let walk = |p: &mut usize, pointers: &mut Vec<usize>| -> Option<()> {
            let (end, pointer) = crate::wire::fast::name_at(&reply, *p)?;
            pointers.extend(pointer);
            *p = end;
            Some(())
        };
        walk(&mut p, &mut pointers)?;
        p += 10;
        walk(&mut p, &mut pointers)?;
        walk(&mut p, &mut pointers)?;
        if p + 20 != reply.len() {
            return None;
        }
        let mut avoid = Vec::new();
        let mut labels = 0;
        let mut buf = [0u8; crate::wire::MAX_NAME_LEN];
        for n in &names {
            let w = crate::wire::fast::lower_name(n, &mut buf);
            labels += label_count(w);
            for s in suffixes(w) {
                if s.len() > origin.len() && crate::wire::fast::is_subdomain(origin, s) {
                    avoid.push(Box::<[u8]>::from(s));
                }
            }
        }
        Some(Nx {
            pointers: pointers.into(),
            avoid: avoid.into(),
            max_labels: 64usize.checked_sub(labels)?,
            plain_len: prepared::Entry::new(&e).plain_len(),
            reply,
        })
    }
}

impl Answers {
    /// The answers of `z`, prepared.
    pub fn of(z: &Zone) -> Answers {
        let mut buf = [0u8; crate::wire::MAX_NAME_LEN];
        let origin: Box<[u8]> = crate::wire::fast::lower_name(z.origin(), &mut buf).into();
        let okey = super::zone::key(z.origin());
        let mut types = BTreeSet::from([6u16, 2, 5]);
        let mut wildcards = false;
        for (k, n) in z.nodes() {
            types.extend(n.types().map(u16::from));
            wildcards |= k.iter().any(|l| l == b"*");
        }
        let Some(probe) = (0xFF00..0xFFFF).find(|t| !types.contains(t)) else {
            return Answers::default();
        };
        types.remove(&u16::from(RecordType::DS));
        let prep = Prep {
            z,
            origin: okey,
            checked: types.into_iter().collect(),
            probe,
            wildcards,
        };
        let nx = if z.soa.is_some() {
            prep.nx(&origin)
        } else {
            None
        };
        // Most names have two entries: one type and the rest.
        let mut table = Prepared::with_capacity(2 * z.len() + 16);
        if z.soa.is_some() {
            let nx_ok = nx.is_some();
            let okey = &prep.origin;
            prep.name(okey, nx_ok, &mut table);
            let mut prev: &[Vec<u8>] = okey;
            let below = z
                .nodes()
                .filter(|(k, _)| k.len() > okey.len() && k.starts_with(okey));
            for (k, _) in below {
                // The empty non-terminals above `k` (canonical order comes
                // to a name's ancestors first): those not above `prev` too.
                let common = k.iter().zip(prev).take_while(|(a, b)| a == b).count();
                for j in common.max(okey.len()) + 1..k.len() {
                    prep.name(&k[..j], nx_ok, &mut table);
                }
                prep.name(k, nx_ok, &mut table);
                prev = k;
            }
        }
        Answers { table, nx, origin }
    }

    /// The raw path's answer to `q` (its name in the zone, not DS);
    /// `fall`: the plugin has `fallthrough`.
    pub fn answer(&self, q: &RawQuery<'_>, fall: bool, out: &mut Vec<u8>) -> Option<RawAnswer> {
        let e = match self.table.find(q, true) {
            Lookup::Found(e) => e,
            Lookup::Other => return None,
            Lookup::Missing => return self.nxdomain(q, fall, out),
        };
        if fall && e.bits() & FALL != 0 {
            return None;
        }
        e.write(q, out)
    }

    /// A name the zone does not have: NXDOMAIN, when the closest name it
    /// has says so.
    fn nxdomain(&self, q: &RawQuery<'_>, fall: bool, out: &mut Vec<u8>) -> Option<RawAnswer> {
        let nx = self.nx.as_ref()?;
        let name = q.lower;
        if fall || !is_plain(name) || label_count(name) > nx.max_labels {
            return None;
        }
        // The closest name the zone has decides (its own entry's CHAIN is
        // about its own types). A name ending in one the SOA names below the
        // origin compresses otherwise.
        let mut closest = None;
        for (i, s) in suffixes(name).enumerate() {
            if s.len() < self.origin.len() {
                break;
            }
            if nx.avoid.iter().any(|a| **a == *s) {
                return None;
            }
            if i > 0 && closest.is_none() {
                match self.table.get_name(s) {
                    Lookup::Missing => {}
                    Lookup::Other => return None,
                    Lookup::Found(e) => closest = Some(e.bits()),
                }
            }
        }
        if closest.is_none_or(|b| b & NX_BELOW == 0) {
            return None;
        }
        let extra = name.len().checked_sub(self.origin.len())?;
        if !prepared::fits(nx.reply.len() + extra, q) {
            return None;
        }
        out.clear();
        out.extend_from_slice(&nx.reply[..HEADER_LEN]);
        out.extend_from_slice(name);
        out.extend_from_slice(&q.q.qtype.to_be_bytes());
        out.extend_from_slice(&nx.reply[HEADER_LEN + self.origin.len() + 2..]);
        for &p in nx.pointers.iter() {
            let at = p + extra;
            let to = usize::from(u16::from_be_bytes([out[at], out[at + 1]]) & 0x3FFF) + extra;
            let to = u16::try_from(to).ok().filter(|t| *t < 0x4000)?;
            out[at..at + 2].copy_from_slice(&(0xC000 | to).to_be_bytes());
        }
        Some(prepared::finish(
            out,
            q,
            crate::plugin::classify::Kind::NameError,
            nx.plain_len + extra,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;
    use std::fmt::Write as _;

    /// An owner with one type costs two entries (its type and the rest),
    /// each about its reply's size, and its slot (24 bytes, a table at most
    /// three quarters full).
    #[test]
    fn owners_of_one_type_take_two_entries() {
        let mut text = String::from(
            "$ORIGIN auth.bench.\n@ 3600 IN SOA ns.bench. hostmaster.bench. 1 7200 3600 1209600 3600\n@ 3600 IN NS ns.bench.\n",
        );
        for i in 0..1000 {
            let _ = writeln!(text, "h{i} 3600 IN A 198.18.{}.{}", i / 250, 1 + i % 250);
        }
        let origin = Name::from_ascii("auth.bench.").unwrap();
        let z = Zone::parse(&text, &origin, std::path::Path::new("db"), -1).unwrap();
        let t = &z.fast.table;
        // The apex: its SOA, its NS, the rest (NOERROR with the SOA).
        assert_eq!(t.len(), 2 * 1000 + 3);
        let bytes = t.bytes();
        eprintln!("{} entries, {bytes} bytes", t.len());
        assert!(bytes < 2003 * 130, "{bytes} bytes");
    }
}
