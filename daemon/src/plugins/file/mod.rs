//! file: serves zones from RFC 1035 master files, as CoreDNS's `file`
//! plugin does (lookup, wildcards, CNAME and DNAME chasing, delegations,
//! reload on SOA serial change).
//!
//! Not done: DNSSEC answers (DS, DNSKEY, RRSIG and NSEC load and are served
//! as plain RRsets, but the DO bit adds no signatures or denial proofs),
//! zone transfers, and NOTIFY beyond CoreDNS's "dropping notify".

mod fast;
mod labels;
mod lookup;
mod raw;
mod read;
mod reload;
mod setup;
mod tree;
mod zone;

pub use lookup::{Answer, Res};
pub(crate) use reload::reload_once;
pub use setup::setup;
pub(crate) use zone::parse_records;
pub use zone::{LoadError, Zone};

use crate::gocompat::path as gopath;
use crate::plugin::fast::{Context, RawAnswer, RawQuery};
use crate::plugin::{names, Action, Fallthrough, LocalFuture, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use crate::wire::fast::suffixes;
use arc_swap::ArcSwap;
use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One zone the plugin serves: its data, swapped whole on reload.
pub struct Slot {
    /// The origin, lowercased, fully qualified text.
    pub origin: String,
    /// The origin, lowercased wire form (the raw path routes by it).
    origin_wire: Box<[u8]>,
    pub name: Name,
    /// The zone file (root-relative names resolved), as CoreDNS cleans it.
    pub file: PathBuf,
    /// 0: no reloading.
    pub reload: Duration,
    /// `reload_by_mtime`.
    pub by_mtime: bool,
    pub data: ArcSwap<Zone>,
}

impl Slot {
    pub fn new(name: Name, file: PathBuf, zone: Zone) -> Self {
        let name = name.to_lowercase();
        let mut buf = [0u8; crate::wire::MAX_NAME_LEN];
        Self {
            origin: name.to_ascii(),
            origin_wire: crate::wire::fast::lower_name(&name, &mut buf).into(),
            name,
            file: PathBuf::from(gopath::clean(&file.to_string_lossy())),
            reload: Duration::ZERO,
            by_mtime: false,
            data: ArcSwap::from_pointee(zone),
        }
    }
}

pub struct File {
    /// In Corefile order; a later slot for the same origin wins.
    slots: Vec<Arc<Slot>>,
    origins: Vec<String>,
    fall: Fallthrough,
    /// Stops the reload thread when the plugin goes.
    _reloader: Option<reload::Reloader>,
}

impl File {
    /// A plugin over `slots`, starting the reload thread for those that reload.
    pub fn new(slots: Vec<Slot>, fall: Fallthrough) -> Self {
        let slots: Vec<Arc<Slot>> = slots.into_iter().map(Arc::new).collect();
        let origins = slots.iter().map(|s| s.origin.clone()).collect();
        // One reloader per origin: the slot that serves it.
        let mut serving: Vec<Arc<Slot>> = Vec::new();
        for s in slots.iter().rev() {
            if !serving.iter().any(|x| x.origin == s.origin) {
                serving.push(s.clone());
            }
        }
        let reloader = reload::Reloader::start(serving);
        Self {
            slots,
            origins,
            fall,
            _reloader: reloader,
        }
    }

    fn slot(&self, qname: &str) -> Option<&Slot> {
        let zone = names::zone_match(&self.origins, qname)?;
        self.slots
            .iter()
            .rev()
            .find(|s| s.origin == zone)
            .map(|s| &**s)
    }

    /// The slot for a name in lowercased wire form, as [`File::slot`] finds
    /// it for the name's text when the name needs no escapes.
    fn slot_wire(&self, name: &[u8]) -> Option<&Slot> {
        suffixes(name).find_map(|s| {
            self.slots
                .iter()
                .rev()
                .find(|slot| *slot.origin_wire == *s)
                .map(|slot| &**slot)
        })
    }

    /// Whether one of the plugin's zones holds `qname`.
    pub fn serves(&self, qname: &str) -> bool {
        self.slot(qname).is_some()
    }
}

impl Plugin for File {
    fn name(&self) -> &'static str {
        "file"
    }

    fn query(&self, req: &mut Request) -> Action {
        let Some(slot) = self.slot(&req.name) else {
            return Action::Next;
        };
        let qtype = req.qtype();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            return Action::Done(Outcome::rcode(ResponseCode::Refused));
        }
        if req.msg.metadata.op_code == OpCode::Notify {
            // Only secondary zones take notifies; CoreDNS writes nothing.
            crate::log::info(
                Some("file"),
                &format!("Dropping notify from {} for {}", req.src.ip(), slot.origin),
            );
            return Action::Done(Outcome::rcode(ResponseCode::NoError));
        }
        let Some(a) = look(self, slot.data.load_full(), req) else {
            return Action::Await;
        };
        if falls(&a) && self.fall.through(&req.name) {
            return Action::Next;
        }
        Action::Done(outcome(a, req))
    }

    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(finish(self, req))
    }

    fn last_in_chain(&self, req: &Request) -> Option<Outcome> {
        (!self.serves(&req.name)).then(|| Outcome::rcode(ResponseCode::Refused))
    }

    fn fast(&self) -> Fast {
        Fast::Answer
    }

    /// The zone's prepared answer (see `fast`); not for DS (the parent
    /// side's) nor a transfer (REFUSED).
    fn fast_answer(
        &self,
        q: &RawQuery<'_>,
        _cx: &mut Context<'_>,
        out: &mut Vec<u8>,
    ) -> Option<RawAnswer> {
        if matches!(q.q.qtype, 43 | 251 | 252) {
            return None;
        }
        let slot = self.slot_wire(q.lower)?;
        let z = slot.data.load();
        z.fast.answer(&z.tree, q, self.fall.is_set(), out)
    }
}

/// `req` looked up in `zone` (CoreDNS's `Zone.Lookup`), with the
/// `zone/wildcard` metadata set; None when a CNAME left the zone: the
/// answer then waits in the stash under `owner` for [`finish`], and the
/// plugin returns [`Action::Await`].
pub(crate) fn look<P>(owner: &P, zone: Arc<Zone>, req: &mut Request) -> Option<Answer> {
    let qname = req.qname().to_lowercase();
    let a = zone.lookup(&qname, req.qtype(), req.depth);
    if let Some(w) = &a.wildcard {
        req.set_metadata("zone/wildcard", || w.to_string());
    }
    if a.pending.is_some() {
        req.stash.put(owner, (zone, a));
        return None;
    }
    Some(a)
}

/// A CNAME chain that left the zone ([`look`]): the server is asked for
/// the target, as CoreDNS's `doLookup` does, and the answer completed with
/// what it says.
pub(crate) async fn finish<P>(owner: &P, req: &mut Request) -> Action {
    let Some((zone, mut a)) = req.stash.take::<(Arc<Zone>, Answer)>(owner) else {
        return Action::Next;
    };
    let Some(target) = a.pending.clone() else {
        return Action::Done(outcome(a, req));
    };
    let (more, res) = match req.lookup(&target, req.qtype()).await {
        Err(_) => (Vec::new(), Res::ServerFailure),
        Ok(None) => (Vec::new(), Res::Success),
        Ok(Some(m)) => {
            let rcode = m.metadata.response_code;
            let more = m.answers;
            let res = match rcode {
                ResponseCode::NXDomain => Res::NameError,
                ResponseCode::ServFail => Res::ServerFailure,
                ResponseCode::NoError if more.is_empty() => Res::NoData,
                _ => Res::Success,
            };
            (more, res)
        }
    };
    zone.finish(&mut a, more, res);
    Action::Done(outcome(a, req))
}

/// A zone file's bytes as text, invalid UTF-8 replaced as Go's reader
/// would see it (without a copy when there is none: files are large).
fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The plugin's outcome for a complete answer.
pub(crate) fn outcome(a: Answer, req: &Request) -> Outcome {
    match written(a, req.reply()) {
        Ok(m) => Outcome::reply(m),
        Err(rc) => Outcome::rcode(rc),
    }
}

/// Whether `fallthrough` passes an answer on: only NXDOMAIN, and the empty
/// non-terminal answer (NOERROR without records) that CoreDNS builds like one.
fn falls(a: &Answer) -> bool {
    a.answer.is_empty() && matches!(a.res, Res::NameError | Res::Success)
}

/// The reply the plugin writes for a lookup's answer (`m`: the empty reply
/// to the query), or the rcode it returns for the server to write.
fn written(a: Answer, mut m: Message) -> Result<Message, ResponseCode> {
    m.metadata.authoritative = true;
    match a.res {
        Res::Success | Res::NoData => {}
        Res::NameError => m.metadata.response_code = ResponseCode::NXDomain,
        Res::Delegation => {
            // A referral is not authoritative; a CNAME leading to one is.
            if a.answer.is_empty() {
                m.metadata.authoritative = false;
            }
        }
        Res::ServerFailure => {
            if a.answer.is_empty() {
                return Err(ResponseCode::ServFail);
            }
            m.metadata.response_code = ResponseCode::ServFail;
        }
    }
    m.answers = a.answer;
    m.authorities = a.ns;
    m.additionals = a.extra;
    Ok(m)
}

#[cfg(test)]
mod tests;
