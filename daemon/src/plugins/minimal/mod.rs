//! minimal: strips the authority and additional sections from positive
//! answers (CoreDNS's minimal-responses).

mod setup;

pub use setup::setup;

use crate::plugin::classify::{classify, Class, Kind};
use crate::plugin::Plugin;
use crate::plugin::{Action, Outcome, PluginError, Request};

pub struct Minimal;

impl Plugin for Minimal {
    fn name(&self) -> &'static str {
        "minimal"
    }

    fn response(&self, _req: &Request, out: &mut Outcome) {
        if out.error.is_some() {
            return;
        }
        let Some(m) = out.reply.as_mut() else { return };
        let kind = classify(m);
        let class = Class::of(kind);
        if class == Class::Denial || class == Class::Error || kind == Kind::Delegation {
            return;
        }
        if kind != Kind::NoError {
            let q = m
                .queries
                .first()
                .map(|q| q.name().to_string())
                .unwrap_or_default();
            out.rcode = m.metadata.response_code;
            out.error = Some(PluginError {
                plugin: "minimal",
                message: format!("unhandled response type \"{}\" for \"{q}\"", kind.as_str()),
            });
            return;
        }
        m.authorities.clear();
        m.additionals.clear();
    }

    fn query(&self, _req: &mut Request) -> Action {
        Action::Watch
    }
}
