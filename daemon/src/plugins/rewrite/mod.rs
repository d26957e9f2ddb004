//! rewrite: changes the query before later plugins see it (name, type,
//! class, EDNS0 options) and the reply on its way back (the question as the
//! client asked it, answer names and values, TTLs, rcodes), as CoreDNS's
//! rewrite plugin does.
//!
//! The query phase runs the rules in order; a rule that applies and is in
//! `stop` mode ends the walk. The rules that applied leave response rules
//! behind; the response phase restores the client's question and applies
//! them to the reply in reverse order, the way CoreDNS's ResponseReverter
//! does. What a query's response phase needs travels in the request's stash.
//! A `cname` rule's response phase waits: it asks the server about the
//! rewritten CNAME target (an internal lookup, see `Request::lookup`).

mod rules;
mod setup;
#[cfg(test)]
mod tests;

pub use setup::setup;

use crate::plugin::Plugin;
use crate::plugin::{client_write, Action, LocalFuture, Outcome, Request};
use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData};
use rules::{Applied, Kind, Mode, Resp, Rule, Target};

pub struct Rewrite {
    rules: Vec<Rule>,
    /// Option codes of `edns0 local` rules: CoreDNS registers them as
    /// supported, so they are echoed in replies like NSID or COOKIE.
    local_codes: Vec<u16>,
}

/// What the response phase of one query needs.
struct Pending {
    /// The question as the client asked it.
    original: Query,
    /// Serve through the reverter: restore the question, apply `rules`.
    revert: bool,
    rules: Vec<Resp>,
}

impl Rewrite {
    fn new(rules: Vec<Rule>) -> Self {
        let mut local_codes: Vec<u16> = rules
            .iter()
            .filter_map(|r| match r.kind {
                Kind::Local { code, .. } => Some(code),
                _ => None,
            })
            .collect();
        local_codes.sort_unstable();
        local_codes.dedup();
        Self { rules, local_codes }
    }

    /// The client's OPT as CoreDNS's SizeAndDo reuses it for a reply:
    /// version 0, flags' low byte cleared, only supported options kept.
    fn mirror(&self, q: &Edns) -> Edns {
        let mut o = Edns::new();
        o.set_max_payload(q.max_payload());
        o.set_version(0);
        o.flags_mut().dnssec_ok = q.flags().dnssec_ok;
        o.flags_mut().z = q.flags().z & 0x7F00;
        for (code, opt) in q.options().as_ref() {
            let c = u16::from(*code);
            if matches!(c, 3 | 9 | 10 | 11 | 12) || self.local_codes.contains(&c) {
                o.options_mut().as_mut().push((*code, opt.clone()));
            }
        }
        o
    }
}

impl Plugin for Rewrite {
    fn name(&self) -> &'static str {
        "rewrite"
    }

    fn query(&self, req: &mut Request) -> Action {
        let original = req.query().clone();
        let mut resp = Vec::new();
        let mut stopped = false;
        for rule in &self.rules {
            match rule.apply(req) {
                Applied::Ignored => {}
                Applied::BadName(text) => {
                    req.set_query(original);
                    return Action::Done(Outcome::fail(
                        ResponseCode::ServFail,
                        crate::plugin::PluginError {
                            plugin: "rewrite",
                            message: format!("invalid name after rewrite: {text}"),
                        },
                    ));
                }
                Applied::Done(r) => {
                    resp.extend(r);
                    if rule.mode == Mode::Stop {
                        stopped = true;
                        break;
                    }
                }
            }
        }
        // CoreDNS serves through the reverter when a stop rule applied or
        // when continue rules left response rules; otherwise the reply goes
        // out as the later plugins wrote it (question included).
        let revert = stopped || !resp.is_empty();
        let echo = !self.local_codes.is_empty() && req.msg.edns.is_some();
        if !revert && !echo {
            return Action::Next;
        }
        let waits = resp.iter().any(|r| matches!(r, Resp::Cname(_)));
        req.stash.put(
            self,
            Pending {
                original,
                revert,
                rules: resp,
            },
        );
        if waits {
            Action::WatchAsync
        } else {
            Action::Watch
        }
    }

    fn response(&self, req: &Request, out: &mut Outcome) {
        self.respond(req, out);
    }

    /// With `cname` rules: the reply as [`Rewrite::response`] leaves it,
    /// then, for each CNAME a rule matched, in order, the server asked for
    /// the new target (the query's type): on an answer, the CNAMEs up to
    /// the matched one are kept, its target rewritten, and the answer's
    /// records follow, with its TC bit (CoreDNS's `cnameTargetRule`).
    fn response_async<'a>(&'a self, req: &'a Request, out: &'a mut Outcome) -> LocalFuture<'a, ()> {
        Box::pin(async move {
            for (from, to) in self.respond(req, out) {
                let Ok(mut target) = Name::from_ascii(&to) else {
                    continue;
                };
                target.set_fqdn(true);
                let up = match req.lookup(&target, req.qtype()).await {
                    Ok(Some(m)) => m,
                    Ok(None) => {
                        crate::log::error(None, "upstream lookup returned nil");
                        continue;
                    }
                    Err(e) => {
                        crate::log::error(None, &format!("upstream lookup failed: {e}"));
                        continue;
                    }
                };
                let Some(res) = out.reply.as_mut() else {
                    return;
                };
                let mut answers = Vec::new();
                for mut rr in std::mem::take(&mut res.answers) {
                    let RData::CNAME(c) = &mut rr.data else {
                        continue;
                    };
                    let matched = crate::plugin::names::text(&c.0) == from;
                    if matched {
                        c.0 = target.clone();
                    }
                    answers.push(rr);
                    if matched {
                        break;
                    }
                }
                answers.extend(up.answers);
                res.answers = answers;
                res.metadata.truncation = up.metadata.truncation;
            }
        })
    }
}

impl Rewrite {
    /// The response phase but for `cname` rules' lookups: the CNAME
    /// targets they matched and the targets they rewrite them to, in the
    /// order CoreDNS's reverter meets them.
    fn respond(&self, req: &Request, out: &mut Outcome) -> Vec<(String, String)> {
        let Some(p) = req.stash.take::<Pending>(self) else {
            return Vec::new();
        };
        let mut res = match out.reply.take() {
            Some(m) => m,
            None if client_write(out.rcode) => return Vec::new(),
            None => {
                // The reply the server would write for this rcode; CoreDNS
                // writes it here so that the response rules see it, and
                // reports success with the error.
                let mut m = req.error_reply(out.rcode);
                m.edns = req.msg.edns.as_ref().map(|q| self.mirror(q));
                if p.revert {
                    out.rcode = ResponseCode::NoError;
                }
                m
            }
        };
        let lookups = if p.revert {
            revert(&mut res, &p)
        } else {
            Vec::new()
        };
        if res.edns.is_none() {
            // The server's EDNS mirroring, with this plugin's local codes
            // supported, from the request as the reverter leaves it.
            if let Some(q) = req.msg.edns.as_ref() {
                let mut q = q.clone();
                undo_request_options(&mut q, &p.rules);
                res.edns = Some(self.mirror(&q));
            }
        }
        if u16::from(res.metadata.response_code) > 15 && res.edns.is_none() {
            // An extended rcode needs an OPT record to travel in; miekg
            // refuses to pack the reply and the client gets nothing.
            out.rcode = ResponseCode::NoError;
            return Vec::new();
        }
        out.reply = Some(res);
        lookups
    }
}

/// CoreDNS's ResponseReverter.WriteMsg: the client's question back, then
/// every response rule, last first, on each record (authority, answer,
/// additional, OPT); rcode rules once when there are no records. Gives the
/// CNAME targets `cname` rules matched and what they rewrite them to.
fn revert(res: &mut Message, p: &Pending) -> Vec<(String, String)> {
    match res.queries.first_mut() {
        Some(q) => *q = p.original.clone(),
        None => res.queries.push(p.original.clone()),
    }
    let mut lookups = Vec::new();
    if p.rules.is_empty() {
        return lookups;
    }
    let mut ns = std::mem::take(&mut res.authorities);
    let mut an = std::mem::take(&mut res.answers);
    let mut ex = std::mem::take(&mut res.additionals);
    let records = ns.len() + an.len() + ex.len() + usize::from(res.edns.is_some());
    for rr in ns.iter_mut().chain(an.iter_mut()).chain(ex.iter_mut()) {
        for r in p.rules.iter().rev() {
            if let (Resp::Cname(c), RData::CNAME(t)) = (r, &rr.data) {
                let from = crate::plugin::names::text(&t.0);
                if let Some(to) = c.rewrite(&from) {
                    lookups.push((from, to));
                }
            }
            r.apply(res, &mut Target::Rec(rr));
        }
    }
    if res.edns.is_some() {
        for r in p.rules.iter().rev() {
            r.apply(res, &mut Target::Opt);
        }
    }
    if records == 0 {
        for r in p.rules.iter().rev().filter(|r| r.on_message()) {
            r.apply(res, &mut Target::Opt);
        }
    }
    res.authorities = ns;
    res.answers = an;
    res.additionals = ex;
    lookups
}

/// The request's options as CoreDNS puts them back while the reply is
/// written (the `revert` flag of edns0 rules), last rule first.
fn undo_request_options(q: &mut Edns, rules: &[Resp]) {
    let mut m = Message::query();
    m.edns = Some(std::mem::take(q));
    for r in rules.iter().rev() {
        if matches!(r, Resp::EdnsRemove(_) | Resp::EdnsRestore(..)) {
            r.apply(&mut m, &mut Target::Opt);
        }
    }
    if let Some(e) = m.edns {
        *q = e;
    }
}
