//! hosts: answers A, AAAA and PTR from an `/etc/hosts` style file and
//! from entries inlined in the Corefile, as CoreDNS's hosts plugin does.
//!
//! The file's parse sits behind an `ArcSwap`, shared by every worker; a
//! background thread re-reads the file every `reload` interval when its
//! modification time or size changed. Inline entries never change.

mod fast;
mod hostsfile;
mod setup;

pub use hostsfile::{parse, Hostsfile, Map};
pub use setup::setup;

use crate::gocompat::reload::Periodic;
use crate::plugin::fast::{Context, RawAnswer, RawQuery};
use crate::plugin::{names, Action, Fallthrough, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::sync::Arc;
use std::time::Duration;

pub struct Hosts {
    file: Arc<Hostsfile>,
    rules: Arc<Rules>,
    /// The reload thread; stops when the plugin goes away.
    _reloader: Option<Periodic>,
}

/// What the plugin answers from besides the file: fixed at setup.
struct Rules {
    inline: Map,
    /// The zones the plugin answers for, lowercased and fully qualified.
    zones: Vec<String>,
    ttl: u32,
    fall: Fallthrough,
    /// `fallthrough_unsupported`: other query types fall through too.
    fall_unsupported: bool,
}

/// What setup hands over to build the handler.
pub struct Config {
    pub file: Arc<Hostsfile>,
    pub inline: Map,
    pub zones: Vec<String>,
    pub ttl: u32,
    pub fall: Fallthrough,
    pub fall_unsupported: bool,
    /// Zero: the file is read once.
    pub reload: Duration,
}

pub const DEFAULT_TTL: u32 = 3600;
pub const DEFAULT_RELOAD: Duration = Duration::from_secs(5);

/// What the plugin does with a question.
enum Found {
    /// Passes it on.
    Next,
    /// Returns SERVFAIL for the server to write.
    ServFail,
    /// Answers with these records (none: NODATA).
    Answers(Vec<Record>),
}

impl Hosts {
    /// Reads the file once (CoreDNS does at startup) and starts the reload
    /// thread unless `reload` is zero.
    pub fn new(c: Config) -> Self {
        let rules = Arc::new(Rules {
            inline: c.inline,
            zones: c.zones,
            ttl: c.ttl,
            fall: c.fall,
            fall_unsupported: c.fall_unsupported,
        });
        // The inline entries answer even while the file cannot be read.
        c.file.store(Map::default(), &|m| rules.prepare(m));
        c.file.read_hosts(&|m| rules.prepare(m));
        let reloader = if c.reload.is_zero() {
            None
        } else {
            spawn_reloader(&c.file, &rules, c.reload)
        };
        Self {
            file: c.file,
            rules,
            _reloader: reloader,
        }
    }
}

impl Rules {
    fn record(&self, owner: &Name, rdata: RData) -> Record {
        Record::from_rdata(owner.clone(), self.ttl, rdata)
    }

    /// The plugin's answer to `qname` (CoreDNS's state.Name(), lowercased)
    /// of `qtype`, with the file's `file`; the answers' owner is `owner`.
    fn lookup(&self, file: &Map, qname: &str, owner: &Name, qtype: RecordType) -> Found {
        // PTR queries need not be under the plugin's zones.
        if qtype != RecordType::PTR && names::zone_match(&self.zones, qname).is_none() {
            return Found::Next;
        }
        let maps = [file, &self.inline];
        let mut answers = Vec::new();
        match qtype {
            RecordType::PTR => {
                let found: Vec<&String> = match hostsfile::address_from_reverse(qname) {
                    Some(ip) => maps.iter().flat_map(|m| m.names(&ip)).collect(),
                    None => Vec::new(),
                };
                if found.is_empty() {
                    return Found::Next;
                }
                for n in found {
                    // A name miekg could not pack would fail the whole
                    // write in CoreDNS; here the record is left out.
                    if let Some(target) = name_from_text(n) {
                        answers.push(self.record(owner, RData::PTR(PTR(target))));
                    }
                }
            }
            RecordType::A => {
                for ip in maps.iter().flat_map(|m| m.v4(qname)) {
                    answers.push(self.record(owner, RData::A(A(*ip))));
                }
            }
            RecordType::AAAA => {
                for ip in maps.iter().flat_map(|m| m.v6(qname)) {
                    answers.push(self.record(owner, RData::AAAA(AAAA(*ip))));
                }
            }
            _ => {
                if self.fall_unsupported && self.fall.through(qname) {
                    return Found::Next;
                }
            }
        }
        if answers.is_empty() && !maps.iter().any(|m| has_name(m, qname)) {
            if self.fall.through(qname) {
                return Found::Next;
            }
            // No SOA to build an NXDOMAIN with: CoreDNS returns SERVFAIL.
            return Found::ServFail;
        }
        Found::Answers(answers)
    }

    /// The reply the plugin writes to a query whose empty reply is `m`; or
    /// the rcode it returns for the server to write, or None: it passes
    /// the query on.
    fn reply(
        &self,
        file: &Map,
        qname: &str,
        owner: &Name,
        qtype: RecordType,
        mut m: Message,
    ) -> Result<Message, Option<ResponseCode>> {
        match self.lookup(file, qname, owner, qtype) {
            Found::Next => Err(None),
            Found::ServFail => Err(Some(ResponseCode::ServFail)),
            Found::Answers(answers) => {
                m.metadata.authoritative = true;
                m.answers = answers;
                Ok(m)
            }
        }
    }
}

impl Plugin for Hosts {
    fn name(&self) -> &'static str {
        "hosts"
    }

    fn query(&self, req: &mut Request) -> Action {
        // CoreDNS's state.Name(), lowercased. The answers' owner name is
        // this too, not the client's spelling.
        let owner = req.qname().to_lowercase();
        let loaded = self.file.loaded();
        match self
            .rules
            .reply(&loaded.map, &req.name, &owner, req.qtype(), req.reply())
        {
            Ok(m) => Action::Done(Outcome::reply(m)),
            Err(Some(rc)) => Action::Done(Outcome::rcode(rc)),
            Err(None) => Action::Next,
        }
    }

    fn fast(&self) -> Fast {
        Fast::Answer
    }

    /// The answer prepared with the file's parse (see `fast`).
    fn fast_answer(
        &self,
        q: &RawQuery<'_>,
        _: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        fast::answer(&self.file.loaded().fast, q, out)
    }
}

/// CoreDNS's `otherRecordsExist`: an address of either family.
fn has_name(m: &Map, qname: &str) -> bool {
    !m.v4(qname).is_empty() || !m.v6(qname).is_empty()
}

/// Re-reads the file every `every` until the plugin is dropped.
fn spawn_reloader(file: &Arc<Hostsfile>, rules: &Arc<Rules>, every: Duration) -> Option<Periodic> {
    let (f, r) = (Arc::clone(file), Arc::clone(rules));
    match Periodic::start("hosts-reload", every, move || {
        f.read_hosts(&|m| r.prepare(m))
    }) {
        Ok(p) => Some(p),
        Err(e) => {
            crate::log::error(
                Some("hosts"),
                &format!("Cannot start the reload of {}: {e}", file.path.display()),
            );
            None
        }
    }
}

/// A name in presentation form (`\X` and `\DDD` escapes) to a name, as miekg
/// packs it; None where packing would fail (empty or long labels).
fn name_from_text(s: &str) -> Option<Name> {
    if s == "." {
        return Some(Name::root());
    }
    let labels = crate::wire::fast::text_labels(s)?;
    Name::from_labels(labels.iter().map(Vec::as_slice)).ok()
}

#[cfg(test)]
mod tests;
