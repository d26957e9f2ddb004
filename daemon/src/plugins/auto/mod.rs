//! auto: serves every zone file of a directory whose file name gives its
//! origin, as CoreDNS's auto plugin does: the directory is walked when the
//! plugin is set up and every `reload` interval after it starts serving
//! (new files are loaded, files gone take their zones with them), and each
//! zone is read again when its SOA serial changes. Zones answer as `file`'s
//! do (`crate::plugins::file`), with no fallthrough.

mod setup;
mod walk;

pub use setup::setup;

use crate::gocompat::reload::Periodic;
use crate::plugin::registry::AddedZones;
use crate::plugin::{names, Action, LocalFuture, Outcome, Plugin, Request};
use crate::plugins::file::{self, Slot};
use arc_swap::ArcSwap;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use regex::Regex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct Auto {
    /// The zones it answers for: its arguments, else the block's keys.
    origins: Vec<String>,
    state: Arc<State>,
    /// The walking thread, while the plugin serves.
    walker: Mutex<Option<Periodic>>,
}

/// Where zones come from, and the zones loaded.
pub(crate) struct State {
    /// The directory (under `root` when relative).
    pub dir: PathBuf,
    /// Matched against each file name; the template makes the origin.
    pub re: Regex,
    /// The origin template in Go's `Regexp.Expand` form (`${1}`).
    pub template: String,
    /// 0: walked once only, zones never reloaded.
    pub reload: Duration,
    pub zones: ArcSwap<Zones>,
    /// Told the origins loaded, for the block's metrics.
    pub added: Arc<AddedZones>,
}

/// The zones loaded, by origin (lowercased, fully qualified).
#[derive(Default)]
pub(crate) struct Zones {
    pub names: Vec<String>,
    pub slots: HashMap<String, Arc<Slot>>,
}

impl Auto {
    fn zone(&self, name: &str) -> Option<Arc<Slot>> {
        let zones = self.state.zones.load();
        let z = names::zone_match(&zones.names, name)?;
        zones.slots.get(z).cloned()
    }
}

impl Plugin for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn query(&self, req: &mut Request) -> Action {
        if names::zone_match(&self.origins, &req.name).is_none() {
            return Action::Next;
        }
        let Some(slot) = self.zone(&req.name) else {
            return Action::Next;
        };
        if matches!(req.qtype(), RecordType::AXFR | RecordType::IXFR) {
            return Action::Done(Outcome::rcode(ResponseCode::Refused));
        }
        match file::look(self, slot.data.load_full(), req) {
            Some(a) => Action::Done(file::outcome(a, req)),
            None => Action::Await,
        }
    }

    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(file::finish(self, req))
    }

    /// A name in its zones but in no zone file: REFUSED, when nothing
    /// follows it (CoreDNS checks for a next plugin).
    fn last_in_chain(&self, req: &Request) -> Option<Outcome> {
        (names::zone_match(&self.origins, &req.name).is_some() && self.zone(&req.name).is_none())
            .then(|| Outcome::rcode(ResponseCode::Refused))
    }

    /// The walks and reloads every `reload` interval (CoreDNS starts them
    /// on start-up; the first walk ran at setup).
    fn start(&self) {
        if self.state.reload.is_zero() {
            return;
        }
        let state = Arc::clone(&self.state);
        match Periodic::start("auto-walk", self.state.reload, move || walk::tick(&state)) {
            Ok(p) => {
                *self.walker.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
            }
            Err(e) => crate::log::error(
                Some("auto"),
                &format!("Failed to start the directory walk thread: {e}"),
            ),
        }
    }

    fn stop(&self) {
        self.walker.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

#[cfg(test)]
mod tests;
