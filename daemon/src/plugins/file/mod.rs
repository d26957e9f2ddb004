//! file: serves zones from RFC 1035 master files, as CoreDNS's `file`
//! plugin does (lookup, wildcards, CNAME and DNAME chasing, delegations,
//! reload on SOA serial change).
//!
//! Not done: DNSSEC answers (DS, DNSKEY, RRSIG and NSEC load and are served
//! as plain RRsets, but the DO bit adds no signatures or denial proofs),
//! zone transfers, and NOTIFY beyond CoreDNS's "dropping notify".

mod lookup;
mod raw;
mod reload;
mod setup;
mod zone;

pub use lookup::{Answer, Res, Upstream};
pub use setup::setup;
pub use zone::{LoadError, Zone};

use crate::plugin::Plugin;
use crate::plugin::{names, Action, Fallthrough, Outcome, Request};
use arc_swap::ArcSwap;
use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One zone the plugin serves: its data, swapped whole on reload.
pub struct Slot {
    /// The origin, lowercased, fully qualified text.
    pub origin: String,
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
        Self {
            origin: name.to_ascii(),
            name,
            file: PathBuf::from(go_clean(&file.to_string_lossy())),
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
        let zone = slot.data.load();
        let qname = req.qname().to_lowercase();
        let a = zone.lookup(self, &qname, qtype, 0);

        // Only NXDOMAIN falls through, and the empty non-terminal answer
        // (NOERROR without records) that CoreDNS builds like one.
        if a.answer.is_empty()
            && matches!(a.res, Res::NameError | Res::Success)
            && self.fall.through(&req.name)
        {
            return Action::Next;
        }

        let mut m = req.reply();
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
                    return Action::Done(Outcome::rcode(ResponseCode::ServFail));
                }
                m.metadata.response_code = ResponseCode::ServFail;
            }
        }
        m.answers = a.answer;
        m.authorities = a.ns;
        m.additionals = a.extra;
        Action::Done(Outcome::reply(m))
    }

    fn last_in_chain(&self, req: &Request) -> Option<Outcome> {
        (!self.serves(&req.name)).then(|| Outcome::rcode(ResponseCode::Refused))
    }
}

impl Upstream for File {
    /// What querying the server again gives for a CNAME target: this
    /// plugin's own answer for names in its zones; for other names nothing
    /// (CoreDNS there gets REFUSED or another plugin's answer, which
    /// ferrodns cannot ask for from inside a plugin).
    fn resolve(&self, name: &Name, qtype: RecordType, depth: u8) -> (Vec<Record>, Res) {
        let text = name.to_ascii().to_ascii_lowercase();
        let Some(slot) = self.slot(&text) else {
            return (Vec::new(), Res::Success);
        };
        let zone = slot.data.load();
        let a = zone.lookup(self, &name.to_lowercase(), qtype, depth);
        if a.answer.is_empty()
            && matches!(a.res, Res::NameError | Res::Success)
            && self.fall.through(&text)
        {
            return (Vec::new(), Res::Success);
        }
        match a.res {
            Res::NameError => (a.answer, Res::NameError),
            Res::ServerFailure => (a.answer, Res::ServerFailure),
            _ if a.answer.is_empty() => (a.answer, Res::NoData),
            _ => (a.answer, Res::Success),
        }
    }
}

/// Go's `filepath.Clean` for Unix paths.
pub(crate) fn go_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&l) if l != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests;
