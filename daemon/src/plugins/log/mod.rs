//! log: one line per query in CoreDNS's log formats.

mod format;
mod setup;

pub use setup::setup;

use crate::plugin::classify::{classify, Class, Kind};
use crate::plugin::fast::{Context, Needs, RawAnswer, RawQuery};
use crate::plugin::{client_write, names, Action, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use hickory_proto::op::Message;
use std::collections::HashSet;

pub use format::{Chained, Fields, Format, Raw, Unrecorded, COMBINED, COMMON};

pub struct Log {
    rules: Vec<Rule>,
}

struct Rule {
    scope: String,
    format: Format,
    /// Empty: every class.
    classes: HashSet<Class>,
}

impl Log {
    fn rule(&self, name: &str) -> Option<&Rule> {
        // Only the first rule whose scope holds the name applies.
        self.rules
            .iter()
            .find(|r| names::is_subdomain(&r.scope, name))
    }

    /// The line for a query of `kind` (the fast path's entry too).
    pub fn write(&self, f: &dyn Fields, kind: Kind) {
        let Some(rule) = self.rule(f.name()) else {
            return;
        };
        let class = Class::of(kind);
        if !rule.classes.is_empty()
            && !rule.classes.contains(&Class::All)
            && !rule.classes.contains(&class)
        {
            return;
        }
        let own = |name: &str| match name {
            "log/type" => Some(kind.as_str().to_string()),
            "log/class" => Some(class.as_str().to_string()),
            _ => None,
        };
        let line = rule.format.render(f, &own);
        crate::log::info(None, &line);
    }
}

impl Plugin for Log {
    fn name(&self) -> &'static str {
        "log"
    }

    fn query(&self, req: &mut Request) -> Action {
        if self.rule(&req.name).is_some() {
            Action::Watch
        } else {
            Action::Next
        }
    }

    fn response(&self, req: &Request, out: &mut Outcome) {
        // A plugin that returned an error rcode wrote nothing; log the reply
        // the server will write for it.
        let synthesized;
        let reply: Option<&Message> = match &out.reply {
            Some(m) => Some(m),
            None if !client_write(out.rcode) => {
                synthesized = req.error_reply(out.rcode);
                Some(&synthesized)
            }
            None => None,
        };
        let kind = reply.map_or(Kind::OtherError, classify);
        self.write(&Chained { req, reply }, kind);
    }

    fn fast(&self) -> Fast {
        Fast::Hook(Needs {
            text: true,
            ..Needs::default()
        })
    }

    fn fast_done(&self, q: &RawQuery<'_>, _cx: &mut Context<'_>, a: &RawAnswer, _reply: &[u8]) {
        self.write(&format::Raw { q, a }, a.kind);
    }
}
