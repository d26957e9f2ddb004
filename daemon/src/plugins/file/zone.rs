//! A zone in memory, built from a master file the way CoreDNS's `file`
//! plugin builds its tree: owner names in canonical (RFC 4034) order so
//! empty non-terminals can be found by looking at the next name, the apex
//! SOA and NS kept aside.

use super::{fast, raw};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::path::Path;

/// A name's position in canonical order: its labels right to left, lowercased.
pub(crate) type Key = Vec<Vec<u8>>;

pub(crate) fn key(name: &Name) -> Key {
    name.iter().rev().map(|l| l.to_ascii_lowercase()).collect()
}

/// The number of labels, a leading `*` included (hickory's `num_labels` skips it).
pub(crate) fn labels(name: &Name) -> usize {
    name.iter().count()
}

/// The RRsets of one owner name.
pub(crate) struct Node {
    /// The owner as first inserted (lowercased, except SRV owners as CoreDNS does).
    pub(crate) name: Name,
    sets: Vec<(RecordType, Vec<Record>)>,
}

impl Node {
    /// The records of type `t`; empty when there are none.
    pub(crate) fn get(&self, t: RecordType) -> &[Record] {
        self.sets
            .iter()
            .find(|(ty, _)| *ty == t)
            .map_or(&[], |(_, v)| v.as_slice())
    }

    fn insert(&mut self, r: Record) {
        let t = r.record_type();
        match self.sets.iter_mut().find(|(ty, _)| *ty == t) {
            Some((_, v)) => v.push(r),
            None => self.sets.push((t, vec![r])),
        }
    }

    /// The types it has records of.
    pub(crate) fn types(&self) -> impl Iterator<Item = RecordType> + '_ {
        self.sets.iter().map(|(t, _)| *t)
    }

    /// The records of type `t` with their owner set to `qname` (wildcard synthesis).
    pub(crate) fn for_wildcard(&self, t: RecordType, qname: &Name) -> Vec<Record> {
        self.get(t)
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.name = qname.clone();
                r
            })
            .collect()
    }
}

/// Why a zone did not load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    /// Reloading found the SOA serial unchanged (not an error to log).
    NoChange {
        serial: i64,
        origin: String,
        file: String,
    },
    /// The file is not a usable zone; the text is CoreDNS's.
    Invalid(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NoChange {
                serial,
                origin,
                file,
            } => write!(
                f,
                "no change in SOA serial for origin {origin} in file {file}, with {serial} SOA serial"
            ),
            LoadError::Invalid(s) => f.write_str(s),
        }
    }
}

/// One zone's data. Immutable once built; a reload builds a new one.
pub struct Zone {
    /// The origin, lowercased.
    pub(crate) origin: Name,
    origin_labels: usize,
    pub(crate) soa: Option<Record>,
    /// The NS RRset at the apex (kept out of the tree, as CoreDNS does).
    pub(crate) ns: Vec<Record>,
    tree: BTreeMap<Key, Node>,
    /// Its answers in wire form for the raw path, built with it.
    pub(crate) fast: fast::Answers,
}

impl Zone {
    /// A zone whose file could not be read yet: no SOA, so it answers SERVFAIL.
    pub fn empty(origin: &Name) -> Self {
        let origin = origin.to_lowercase();
        Self {
            origin_labels: labels(&origin),
            origin,
            soa: None,
            ns: Vec::new(),
            tree: BTreeMap::new(),
            fast: fast::Answers::default(),
        }
    }

    /// Parses zone file text for `origin`. `file` names the file in errors and
    /// anchors relative `$INCLUDE`s. With `serial` >= 0, a zone whose first SOA
    /// carries that serial is not built ([`LoadError::NoChange`]), as CoreDNS's
    /// reload does.
    pub fn parse(text: &str, origin: &Name, file: &Path, serial: i64) -> Result<Self, LoadError> {
        let origin = origin.to_lowercase();
        let origin_text = origin.to_ascii();
        let fname = file.display().to_string();
        let invalid = |e: &dyn fmt::Display| {
            LoadError::Invalid(format!(
                "failed to parse file {} for origin {origin_text} with error {e}",
                crate::gocompat::quote::quote(&fname)
            ))
        };
        let rewritten = raw::rewrite(text, &origin, &fname).map_err(|e| invalid(&e))?;
        let src = rewritten.as_ref().map_or(text, |r| r.text.as_str());
        let parsed = Parser::new(src, Some(file.to_path_buf()), Some(origin.clone())).parse();
        let (_, sets) = parsed.map_err(|e| invalid(&e))?;
        let mut z = Zone::empty(&origin);
        // The first SOA decides whether a reload has anything new.
        if serial >= 0 {
            let first = sets
                .values()
                .filter(|s| s.record_type() == RecordType::SOA)
                .flat_map(|s| s.records_without_rrsigs())
                .find_map(|r| match &r.data {
                    RData::SOA(s) => Some(s.serial),
                    _ => None,
                });
            if first.is_some_and(|s| i64::from(s) == serial) {
                return Err(LoadError::NoChange {
                    serial,
                    origin: origin_text,
                    file: fname,
                });
            }
        }
        for set in sets.into_values() {
            for r in set.records_without_rrsigs() {
                let mut r = r.clone();
                if let Some(raw) = rewritten.as_ref().and_then(|rw| rw.raw_of(&r)) {
                    // CoreDNS keeps RRSIGs over the SOA and the apex NS
                    // aside, for DNSSEC answers this plugin does not give.
                    if raw.covered() == Some(RecordType::SOA)
                        || (raw.covered() == Some(RecordType::NS)
                            && r.name.to_lowercase() == origin)
                    {
                        continue;
                    }
                    r.data = raw.rdata().map_err(|e| invalid(&raw.locate(e)))?;
                }
                z.insert(r)?;
            }
        }
        if z.soa.is_none() {
            return Err(LoadError::Invalid(format!(
                "file {} has no SOA record for origin {origin_text}",
                crate::gocompat::quote::quote(&fname)
            )));
        }
        z.fast = fast::Answers::of(&z);
        Ok(z)
    }

    /// CoreDNS's `Zone.Insert`: owner names lowercased (not SRV's), the names
    /// in CNAME, MX, NS, SOA, SVCB and HTTPS data lowercased; the SOA and the
    /// apex NS set aside.
    pub(crate) fn insert(&mut self, mut r: Record) -> Result<(), LoadError> {
        let t = r.record_type();
        if t != RecordType::SRV {
            r.name = r.name.to_lowercase();
        }
        match &mut r.data {
            RData::NS(ns) => {
                ns.0 = ns.0.to_lowercase();
                if r.name == self.origin {
                    self.ns.push(r);
                    return Ok(());
                }
            }
            RData::SOA(soa) => {
                soa.mname = soa.mname.to_lowercase();
                soa.rname = soa.rname.to_lowercase();
                self.soa = Some(r);
                return Ok(());
            }
            RData::CNAME(c) => c.0 = c.0.to_lowercase(),
            RData::MX(mx) => mx.exchange = mx.exchange.to_lowercase(),
            RData::SVCB(s) => s.target_name = s.target_name.to_lowercase(),
            RData::HTTPS(h) => h.0.target_name = h.0.target_name.to_lowercase(),
            _ => {}
        }
        if matches!(t, RecordType::NSEC3 | RecordType::NSEC3PARAM) {
            return Err(LoadError::Invalid(format!(
                "NSEC3 zone is not supported, dropping RR: {} for zone: {}",
                r.name, self.origin
            )));
        }
        let k = key(&r.name);
        match self.tree.get_mut(&k) {
            Some(n) => n.insert(r),
            None => {
                let name = r.name.clone();
                let mut n = Node {
                    name,
                    sets: Vec::new(),
                };
                n.insert(r);
                self.tree.insert(k, n);
            }
        }
        Ok(())
    }

    pub fn origin(&self) -> &Name {
        &self.origin
    }

    pub(crate) fn origin_labels(&self) -> usize {
        self.origin_labels
    }

    /// The SOA serial, None before the zone has loaded.
    pub fn serial(&self) -> Option<u32> {
        match self.soa.as_ref().map(|r| &r.data) {
            Some(RData::SOA(s)) => Some(s.serial),
            _ => None,
        }
    }

    /// The node at exactly `name`.
    pub(crate) fn search(&self, name: &Name) -> Option<&Node> {
        self.tree.get(&key(name))
    }

    /// Whether some name strictly below `name` exists.
    pub(crate) fn has_descendant(&self, name: &Name) -> bool {
        let k = key(name);
        self.tree
            .range::<Key, _>((Bound::Excluded(&k), Bound::Unbounded))
            .next()
            .is_some_and(|(n, _)| n.len() > k.len() && n.starts_with(&k))
    }

    /// The node with key `k`.
    pub(crate) fn node(&self, k: &[Vec<u8>]) -> Option<&Node> {
        self.tree.get(k)
    }

    /// Whether the name with key `k` exists: a node, or an empty
    /// non-terminal (a node below it).
    pub(crate) fn exists(&self, k: &[Vec<u8>]) -> bool {
        self.tree
            .range::<[Vec<u8>], _>((Bound::Included(k), Bound::Unbounded))
            .next()
            .is_some_and(|(n, _)| n.starts_with(k))
    }

    /// Every node with its key, in canonical order.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = (&Key, &Node)> {
        self.tree.iter()
    }

    /// The number of owner names in the tree (apex SOA/NS not counted).
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }
}
