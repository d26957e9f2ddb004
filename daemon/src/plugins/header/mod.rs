//! header: sets or clears the AA, RA and RD flags of queries (before the
//! plugins after it see them) and of the replies plugins after it write,
//! as CoreDNS's header plugin does.
//!
//! Error replies the server writes for a plugin (SERVFAIL and the like)
//! are not touched: in CoreDNS they bypass the plugin's response writer.

mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use crate::plugin::Plugin;
use crate::plugin::{Action, Outcome, Request};
use hickory_proto::op::Metadata;

pub struct Header {
    query: Vec<Rule>,
    response: Vec<Rule>,
}

impl Plugin for Header {
    fn name(&self) -> &'static str {
        "header"
    }

    fn query(&self, req: &mut Request) -> Action {
        apply(&mut req.msg.metadata, &self.query);
        if self.response.is_empty() {
            Action::Next
        } else {
            Action::Watch
        }
    }

    fn response(&self, _req: &Request, out: &mut Outcome) {
        if let Some(m) = out.reply.as_mut() {
            apply(&mut m.metadata, &self.response);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    Aa,
    Ra,
    Rd,
}

/// One flag forced on (`set`) or off (`clear`); later rules win.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rule {
    flag: Flag,
    state: bool,
}

fn apply(h: &mut Metadata, rules: &[Rule]) {
    for r in rules {
        match r.flag {
            Flag::Aa => h.authoritative = r.state,
            Flag::Ra => h.recursion_available = r.state,
            Flag::Rd => h.recursion_desired = r.state,
        }
    }
}
