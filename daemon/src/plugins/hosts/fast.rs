//! hosts on the raw-bytes path (see `plugin::fast`, `plugin::prepared`):
//! the answers prepared with each parse of the file (swapped with it).
//!
//! Every name with addresses of its own gets its A and AAAA answers, and
//! one entry for its other types (but PTR), which the plugin answers alike:
//! NODATA, or with `fallthrough_unsupported` the next plugin (then no
//! entry); every address with names gets the PTR answer of its reverse
//! name. Each is the plugin's own reply (`Rules::reply`), encoded as the
//! server encodes it. What takes the chain: names only a wildcard answers,
//! unknown names (SERVFAIL or `fallthrough`), PTR queries for other names,
//! names that need escapes.

use super::hostsfile::address_from_reverse;
use super::{Map, Rules};
use crate::plugin::fast::{RawAnswer, RawQuery};
use crate::plugin::names::lower_text;
use crate::plugin::prepared::{self, Lookup, Prepared, NAME};
use crate::wire::fast::{is_plain, lower_name};
use hickory_proto::rr::{Name, RecordType};
use std::collections::BTreeSet;
use std::net::IpAddr;

/// The type a name's other types are prepared with (any but A, AAAA and
/// PTR is answered alike).
const OTHER: u16 = 0xFF00;
const A: u16 = 1;
const PTR: u16 = 12;
const AAAA: u16 = 28;

impl Rules {
    /// The answers of the file's parse `file` and the inline entries.
    pub(super) fn prepare(&self, file: &Map) -> Prepared {
        let mut buf = [0u8; crate::wire::MAX_NAME_LEN];
        let hosts: BTreeSet<&str> = file.hosts().chain(self.inline.hosts()).collect();
        let addrs: BTreeSet<IpAddr> = file
            .addresses()
            .chain(self.inline.addresses())
            .copied()
            .collect();
        let mut t = Prepared::with_capacity(3 * hosts.len() + addrs.len());
        for text in hosts {
            // Only names whose query's text is the map's key.
            let Ok(name) = Name::from_ascii(text) else {
                continue;
            };
            let wire = lower_name(&name, &mut buf);
            if !is_plain(wire) || lower_text(&name) != text {
                continue;
            }
            for (qtype, bits) in [(A, 0), (AAAA, 0), (OTHER, NAME)] {
                if let Some(e) = self.entry(file, wire, qtype, bits) {
                    t.insert(e);
                }
            }
        }
        for ip in addrs {
            let name = Name::from(ip);
            let wire = lower_name(&name, &mut buf);
            if !is_plain(wire) || address_from_reverse(&lower_text(&name)) != Some(ip) {
                continue;
            }
            if let Some(e) = self.entry(file, wire, PTR, 0) {
                t.insert(e);
            }
        }
        t
    }

    /// The entry of `name` (wire form, lowercased) and `qtype`; None when
    /// the plugin does not answer it itself.
    fn entry(&self, file: &Map, name: &[u8], qtype: u16, bits: u8) -> Option<Box<[u8]>> {
        let q = prepared::query(name, qtype)?;
        let qname = q.queries.first()?.name();
        let (text, owner) = (lower_text(qname), qname.to_lowercase());
        let reply = crate::wire::reply_to(&q);
        let m = self
            .reply(file, &text, &owner, RecordType::from(qtype), reply)
            .ok()?;
        prepared::entry(&m, bits)
    }
}

/// The prepared answer to `q`, if there is one.
pub(super) fn answer(t: &Prepared, q: &RawQuery<'_>, out: &mut Vec<u8>) -> Option<RawAnswer> {
    // The name's entry answers the other types; A and AAAA are prepared
    // apart for every name, PTR only for reverse names.
    match t.find(q, !matches!(q.q.qtype, A | AAAA | PTR)) {
        Lookup::Found(e) => e.write(q, out),
        Lookup::Missing | Lookup::Other => None,
    }
}
