//! A zone in memory, built from a master file the way CoreDNS's `file`
//! plugin builds its tree: owner names in canonical (RFC 4034) order so
//! empty non-terminals can be found by looking at the next name, the apex
//! SOA and NS kept aside. The names and records are kept compact
//! (`tree`); files as most operators write them are read without hickory's
//! parser (`read`), the others with it (and `raw` for what it lacks).

use super::tree::{key_of, Builder, Node, Tree};
use super::{fast, raw, read};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use std::fmt;
use std::path::Path;

/// The records of zone file text (`file` names it in errors and anchors
/// relative `$INCLUDE`s) as hickory's parser reads it after `raw` rewrote
/// what it cannot read, each with the type it covers if it is an RRSIG;
/// or the error, in miekg's words where miekg refuses the text too.
pub(crate) fn parse_records(
    text: &str,
    origin: &Name,
    file: &Path,
) -> Result<Vec<(Record, Option<RecordType>)>, String> {
    let fname = file.display().to_string();
    let rewritten = raw::rewrite(text, origin, &fname).map_err(|e| e.to_string())?;
    let src = rewritten.as_ref().map_or(text, |r| r.text.as_str());
    let parsed = Parser::new(src, Some(file.to_path_buf()), Some(origin.clone())).parse();
    let refused = |e: &dyn fmt::Display| match raw::diagnose(text, origin, &fname) {
        Some(m) => m.to_string(),
        None => e.to_string(),
    };
    let (_, sets) = parsed.map_err(|e| refused(&e))?;
    // hickory reads some data miekg refuses (garbage after it, a CAA
    // record with two values).
    if let Some(e) = raw::diagnose(text, origin, &fname) {
        return Err(e.to_string());
    }
    let count = sets
        .values()
        .map(|s| s.records_without_rrsigs().count())
        .sum();
    let mut out = Vec::with_capacity(count);
    for set in sets.into_values() {
        for r in set.records_without_rrsigs() {
            let mut r = r.clone();
            let mut covered = None;
            if let Some(rw) = &rewritten {
                rw.labels.restore_record(&mut r);
                if let Some(raw) = rw.raw_of(&r) {
                    covered = raw.covered();
                    r.data = raw.rdata().map_err(|e| refused(&raw.locate(e)))?;
                }
            }
            out.push((r, covered));
        }
    }
    Ok(out)
}

/// The number of labels, a leading `*` included (hickory's `num_labels` skips it).
pub(crate) fn labels(name: &Name) -> usize {
    name.iter().count()
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
    /// The origin's key (see `tree`).
    pub(crate) origin_key: Vec<u8>,
    pub(crate) soa: Option<Record>,
    /// The NS RRset at the apex (kept out of the tree, as CoreDNS does).
    pub(crate) ns: Vec<Record>,
    pub(crate) tree: Tree,
    /// Its answers in wire form for the raw path, built with it.
    pub(crate) fast: fast::Answers,
}

/// A zone being loaded: CoreDNS's `Zone.Insert` into a [`Builder`].
pub(crate) struct Loading {
    origin: Name,
    origin_key: Vec<u8>,
    soa: Option<Record>,
    ns: Vec<Record>,
    tree: Builder,
    /// Records come one by one from the file, not as hickory's parser's
    /// record sets: make the sets (see [`Builder::finish`]).
    sets: bool,
}

impl Loading {
    /// `origin` lowercased; room for about `records` records.
    pub(crate) fn new(origin: &Name, records: usize, sets: bool) -> Loading {
        Loading {
            origin: origin.clone(),
            origin_key: key_of(origin),
            soa: None,
            ns: Vec::new(),
            tree: Builder::with_room(records),
            sets,
        }
    }

    /// The origin's key.
    pub(crate) fn origin_key(&self) -> &[u8] {
        &self.origin_key
    }

    pub(crate) fn has_soa(&self) -> bool {
        self.soa.is_some()
    }

    /// Adds a record the caller made of the types `tree` keeps compact,
    /// already as `insert` leaves it (owner lowercased, `key` its key), not
    /// an apex NS.
    pub(crate) fn push_compact(&mut self, key: &[u8], rtype: u16, ttl: u32, data: &[u8]) {
        self.tree.push_compact(key, rtype, 1, ttl, data);
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
                    // A record set, as hickory's parser makes them.
                    if !(self.sets && self.ns.contains(&r)) {
                        self.ns.push(r);
                    }
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
        self.tree.push(r);
        Ok(())
    }

    /// The zone, its raw-path answers prepared.
    pub(crate) fn finish(self) -> Zone {
        let origin_key = self.origin_key;
        let tree = self.tree.finish(&origin_key, self.sets);
        let mut z = Zone {
            origin_labels: labels(&self.origin),
            origin: self.origin,
            origin_key,
            soa: self.soa,
            ns: self.ns,
            tree,
            fast: fast::Answers::default(),
        };
        z.fast = fast::Answers::of(&z);
        z
    }
}

impl Zone {
    /// A zone whose file could not be read yet: no SOA, so it answers SERVFAIL.
    pub fn empty(origin: &Name) -> Self {
        let origin = origin.to_lowercase();
        Self {
            origin_labels: labels(&origin),
            origin_key: key_of(&origin),
            origin,
            soa: None,
            ns: Vec::new(),
            tree: Tree::default(),
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
        let no_change = || LoadError::NoChange {
            serial,
            origin: origin.to_ascii(),
            file: fname.clone(),
        };
        let z = match read::read(text, &origin, serial) {
            read::Read::Zone(z) => *z,
            read::Read::NoChange => return Err(no_change()),
            read::Read::Unread => Self::parse_hickory(text, &origin, file, serial)?,
        };
        if !z.has_soa() {
            return Err(LoadError::Invalid(format!(
                "file {} has no SOA record for origin {origin_text}",
                crate::gocompat::quote::quote(&fname)
            )));
        }
        Ok(z.finish())
    }

    /// The file read by hickory's zone parser, after `raw` rewrote what it
    /// cannot read.
    pub(crate) fn parse_hickory(
        text: &str,
        origin: &Name,
        file: &Path,
        serial: i64,
    ) -> Result<Loading, LoadError> {
        let origin_text = origin.to_ascii();
        let fname = file.display().to_string();
        let records = parse_records(text, origin, file).map_err(|e| {
            LoadError::Invalid(format!(
                "failed to parse file {} for origin {origin_text} with error {e}",
                crate::gocompat::quote::quote(&fname)
            ))
        })?;
        // The first SOA decides whether a reload has anything new.
        if serial >= 0 {
            let first = records.iter().find_map(|(r, _)| match &r.data {
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
        let mut z = Loading::new(origin, records.len(), false);
        for (r, covered) in records {
            // CoreDNS keeps RRSIGs over the SOA and the apex NS aside, for
            // DNSSEC answers this plugin does not give.
            if covered == Some(RecordType::SOA)
                || (covered == Some(RecordType::NS) && r.name.to_lowercase() == *origin)
            {
                continue;
            }
            z.insert(r)?;
        }
        Ok(z)
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

    /// The node at exactly `name` (not an empty non-terminal).
    pub(crate) fn search(&self, name: &Name) -> Option<Node<'_>> {
        self.tree.get(&key_of(name))
    }

    /// Whether some name strictly below `name` exists.
    pub(crate) fn has_descendant(&self, name: &Name) -> bool {
        self.tree.has_descendant(&key_of(name))
    }

    /// The number of owner names in the tree (apex SOA/NS not counted).
    pub fn len(&self) -> usize {
        self.tree.owners()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
