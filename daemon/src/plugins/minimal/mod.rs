//! minimal: strips the authority and additional sections from positive
//! answers (CoreDNS's minimal-responses).

use crate::corefile::{Directive, Error};
use crate::plugin::classify::{classify, Class, Kind};
use crate::plugin::{BlockSetup, Outcome, PluginError, Request};
use crate::plugins::Handler;

pub struct Minimal;

impl Minimal {
    pub fn response(&self, _req: &Request, out: &mut Outcome) {
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
}

/// `minimal` takes no arguments.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    crate::plugin::registry::no_args(ds)?;
    b.add(Handler::Minimal(Minimal));
    Ok(())
}
