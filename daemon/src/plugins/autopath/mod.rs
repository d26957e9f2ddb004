//! autopath: server-side search path completion, as CoreDNS 1.14.7's
//! plugin does it. A query whose name falls under the first domain of the
//! client's search path (a resolv.conf's, or the one a plugin of the block
//! gives for the query, `@PLUGIN`) is asked again, through the rest of the
//! chain, with each domain of the path in turn in place of that one; the
//! first reply that is not NXDOMAIN answers, behind a CNAME from the name
//! asked. When every one is NXDOMAIN, the first one's reply goes back as
//! it was.

mod metrics;
mod setup;

#[cfg(test)]
mod tests;

pub use setup::setup;

use crate::corefile::{Error, Pos};
use crate::plugin::{
    client_write, names, Action, LocalFuture, Next, Outcome, Plugin, PluginError, Request,
    SearchPath,
};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::CNAME;
use hickory_proto::rr::{Name, RData, Record};
use std::sync::{Arc, OnceLock};

pub struct AutoPath {
    /// Lowercased, fully qualified.
    zones: Vec<String>,
    /// A resolv.conf's search list, normalized, the empty name last.
    search: Option<Arc<[String]>>,
    /// `@NAME`: the plugin giving each query's search path.
    provider: Option<String>,
    /// That plugin's search paths, once the block is linked.
    func: OnceLock<Arc<dyn SearchPath>>,
    /// The directive's place, for the link's error.
    pos: Pos,
}

/// What the query phase hands the walk: the search path and the labels of
/// the name asked that come before its first domain.
struct Walk {
    search: Arc<[String]>,
    base: Name,
}

impl AutoPath {
    fn new(
        zones: Vec<String>,
        search: Option<Arc<[String]>>,
        provider: Option<String>,
        pos: Pos,
    ) -> AutoPath {
        AutoPath {
            zones,
            search,
            provider,
            func: OnceLock::new(),
            pos,
        }
    }

    /// The query's search path: the plugin's when it has one, else the
    /// file's.
    fn search_path(&self, req: &Request) -> Option<Arc<[String]>> {
        match self.func.get() {
            Some(f) => f.search(req).map(Arc::from),
            None => self.search.clone(),
        }
    }
}

/// CoreDNS's `firstInSearchPath`: `name` is `first` or below it (miekg's
/// `IsSubDomain`, under which no name is below the empty one).
fn first_in_search_path(name: &str, first: &str) -> bool {
    !first.is_empty() && (name == first || names::is_subdomain(first, name))
}

/// The labels of `asked` before the last `n` (CoreDNS's `dnsutil.TrimZone`
/// of the name as asked); None when none are left.
fn trim_zone(asked: &Name, n: usize) -> Option<Name> {
    let labels = usize::from(asked.num_labels());
    if labels <= n {
        return None;
    }
    let mut base = Name::from_labels(asked.iter().take(labels - n)).ok()?;
    base.set_fqdn(true);
    Some(base)
}

/// The number of labels of a search domain (miekg's `CountLabel`).
fn count_labels(domain: &str) -> Option<usize> {
    Name::from_ascii(domain)
        .ok()
        .map(|n| usize::from(n.num_labels()))
}

/// The name CoreDNS asks for with search domain `s` (`base + "." + s`);
/// None where that text is no name (`s` is `.`, or `base` is the root and
/// `s` is not empty) or too long.
fn step_name(base: &Name, s: &str) -> Option<Name> {
    if s.is_empty() {
        return Some(base.clone());
    }
    if s == "." || base.is_root() {
        return None;
    }
    base.clone().append_domain(&Name::from_ascii(s).ok()?).ok()
}

/// CoreDNS's `cnamer`: a CNAME from the name asked to the owner of the
/// first answer record of another name (with that record's TTL), before
/// every answer; the question back to the name asked.
fn cnamer(m: &mut Message, original: &Name) {
    // hickory compares names without regard to case, as EqualFold does.
    if let Some(a) = m.answers.iter().find(|a| a.name != *original) {
        let cname =
            Record::from_rdata(original.clone(), a.ttl, RData::CNAME(CNAME(a.name.clone())));
        m.answers.insert(0, cname);
    }
    if let Some(q) = m.queries.first_mut() {
        q.set_name(original.clone());
    }
}

/// An outcome as a handler's return without its write: the rcode and the
/// error.
fn unwritten(o: Outcome) -> Outcome {
    Outcome { reply: None, ..o }
}

impl Plugin for AutoPath {
    fn name(&self) -> &'static str {
        "autopath"
    }

    fn query(&self, req: &mut Request) -> Action {
        if names::zone_match(&self.zones, &req.name).is_none() {
            return Action::Next;
        }
        let Some(search) = self.search_path(req).filter(|s| !s.is_empty()) else {
            return Action::Next;
        };
        if !first_in_search_path(&req.name, &search[0]) {
            return Action::Next;
        }
        let base = count_labels(&search[0]).and_then(|n| trim_zone(req.qname(), n));
        let Some(base) = base else {
            return Action::Done(Outcome::fail(
                ResponseCode::ServFail,
                PluginError {
                    plugin: "autopath",
                    message: format!(
                        "trimzone: overshot qname: {}for zone {}",
                        names::text(req.qname()),
                        search[0]
                    ),
                },
            ));
        };
        req.stash.put(self, Walk { search, base });
        Action::Wrap
    }

    fn wrap<'a>(&'a self, req: &'a mut Request, next: Next<'a>) -> LocalFuture<'a, Outcome> {
        Box::pin(async move {
            let Some(walk) = req.stash.take::<Walk>(self) else {
                return next.serve(req).await;
            };
            let original = req.qname().clone();
            // The first step's outcome: what goes back when no step answers.
            let mut first: Option<Outcome> = None;
            for s in walk.search.iter() {
                let Some(name) = step_name(&walk.base, s) else {
                    continue;
                };
                let mut step = req.fork();
                step.set_qname(name);
                let o = next.serve(&mut step).await;
                // CoreDNS's steps share the query's context: what the
                // plugins after this one note there stays.
                req.metadata = step.metadata.take();
                if o.error.is_some() {
                    return unwritten(o);
                }
                let nxdomain = o
                    .reply
                    .as_ref()
                    .is_some_and(|m| m.metadata.response_code == ResponseCode::NXDomain);
                if !client_write(o.rcode) || nxdomain {
                    first.get_or_insert(o);
                    continue;
                }
                let Some(mut m) = o.reply else {
                    // Written as nothing (a drop): nothing goes back.
                    return o;
                };
                cnamer(&mut m, &original);
                req.worker
                    .metrics(|s| s.inc(&metrics::SUCCESS, &[&req.server]));
                return Outcome {
                    reply: Some(m),
                    ..o
                };
            }
            match first {
                Some(o) if client_write(o.rcode) => o,
                Some(o) => unwritten(o),
                // No step could be asked: the query goes on as it came.
                None => next.serve(req).await,
            }
        })
    }

    fn link(&self, block: &[Box<dyn Plugin>]) -> Result<(), Error> {
        let Some(name) = &self.provider else {
            return Ok(());
        };
        // CoreDNS finds no handler of another name (and does nothing).
        let Some(p) = block.iter().find(|p| p.name() == name) else {
            return Ok(());
        };
        match p.search_path() {
            Some(f) => {
                let _ = self.func.set(f);
                Ok(())
            }
            None => Err(Error::new(
                &self.pos,
                format!("plugin/autopath: {name} does not implement the AutoPather interface"),
            )),
        }
    }

    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        metrics::OWN
    }
}
