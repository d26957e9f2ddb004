//! template: answers queries from Go-style templates of resource records,
//! as CoreDNS's template plugin does.
//!
//! Each `template` directive is one template with its class, type, zones
//! and regexes. The first template whose zone, class, type and one regex
//! match the query answers it; a template that matches the zone but no
//! regex answers SERVFAIL unless `fallthrough` covers the name, in which
//! case the next template (then the next plugin) gets the query.
//!
//! A CNAME answered to an A or AAAA query is followed as CoreDNS follows
//! it: the server is asked for the target (an internal lookup, see
//! `Request::lookup`) and its answers follow the CNAME.

mod gotmpl;
mod metrics;
mod setup;

pub use setup::setup;

use crate::plugin::names as zones;
use crate::plugin::Plugin;
use crate::plugin::{Action, Fallthrough, LocalFuture, Outcome, PluginError, Request};
use crate::plugins::acl::ede_opt;
use crate::wire::mnemonics;
use gotmpl::{Data, MessageData, Question};
use hickory_proto::op::{Edns, Message, MessageType, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use regex::Regex;
use std::collections::BTreeMap;
use std::path::Path;

const CLASS_ANY: u16 = 255;
const TYPE_ANY: u16 = 255;

pub struct Template {
    /// Every template's zones, for the first check.
    zones: Vec<String>,
    templates: Vec<Tmpl>,
}

impl Plugin for Template {
    fn name(&self) -> &'static str {
        "template"
    }

    fn metrics(&self) -> &'static [&'static crate::metrics::Family] {
        metrics::OWN
    }

    fn query(&self, req: &mut Request) -> Action {
        if zones::zone_match(&self.zones, &req.name).is_none() {
            return Action::Next;
        }
        for t in &self.templates {
            let data = match t.matches(req) {
                Match::Yes(d) => d,
                Match::No { through: true } => continue,
                Match::No { through: false } => {
                    return Action::Done(Outcome::rcode(ResponseCode::ServFail))
                }
            };
            // Borrowed, not copied: this runs for every match.
            let view = req.view.as_deref().unwrap_or("");
            let labels = [&*req.server, &data.zone, view, &data.class, &data.qtype];
            req.worker.metrics(|m| m.inc(&metrics::MATCHES, &labels));
            let rcode = <ResponseCode as From<u16>>::from(t.rcode);
            if rcode == ResponseCode::ServFail {
                return Action::Done(Outcome::rcode(ResponseCode::ServFail));
            }
            let mut m = req.reply();
            m.metadata.authoritative = true;
            m.metadata.response_code = rcode;
            let sections = [
                ("answer", &t.answer, &mut m.answers),
                ("additional", &t.additional, &mut m.additionals),
                ("authority", &t.authority, &mut m.authorities),
            ];
            for (section, tmpls, out) in sections {
                for tmpl in tmpls {
                    let rr = tmpl
                        .execute(&data)
                        .map_err(AnswerError::from)
                        .and_then(|text| parse_rr(&text).map_err(AnswerError::from));
                    match rr {
                        Ok(rr) => out.push(rr),
                        Err(e) => {
                            let family = match e {
                                AnswerError::Template(_) => &metrics::FAILURES,
                                AnswerError::Record(_) => &metrics::RR_FAILURES,
                            };
                            let root = tmpl.root_string();
                            req.worker.metrics(|m| {
                                m.inc(
                                    family,
                                    &[
                                        &*req.server,
                                        &data.zone,
                                        view,
                                        &data.class,
                                        &data.qtype,
                                        section,
                                        &root,
                                    ],
                                )
                            });
                            return Action::Done(Outcome::fail(
                                ResponseCode::ServFail,
                                PluginError {
                                    plugin: "template",
                                    message: e.to_string(),
                                },
                            ));
                        }
                    }
                }
            }
            if let Some((code, reason)) = &t.ederror {
                m.edns = Some(ede_opt(*code, reason));
            }
            // An extended rcode needs an OPT to travel in; miekg fails to
            // pack the reply without one and the client gets nothing.
            if t.rcode > 15 && m.edns.is_none() && req.msg.edns.is_none() {
                return Action::Done(Outcome::fail(
                    rcode,
                    PluginError {
                        plugin: "template",
                        message: "dns: extended rcode needs OPT".into(),
                    },
                ));
            }
            if matches!(req.qtype(), RecordType::A | RecordType::AAAA)
                && m.answers.iter().any(|r| matches!(r.data, RData::CNAME(_)))
            {
                req.stash.put(self, m);
                return Action::Await;
            }
            return Action::Done(Outcome::reply(m));
        }
        Action::Next
    }

    /// An A or AAAA query answered with a CNAME: after each CNAME, what
    /// the server answers for its target (nothing when it fails), and its
    /// TC bit on the reply.
    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(async move {
            let Some(mut m) = req.stash.take::<Message>(self) else {
                return Action::Next;
            };
            let answers = std::mem::take(&mut m.answers);
            for rr in answers {
                let target = match &rr.data {
                    RData::CNAME(c) => Some(c.0.clone()),
                    _ => None,
                };
                m.answers.push(rr);
                let Some(target) = target else { continue };
                if let Ok(Some(up)) = req.lookup(&target, req.qtype()).await {
                    m.metadata.truncation = up.metadata.truncation;
                    m.answers.extend(up.answers);
                }
            }
            Action::Done(Outcome::reply(m))
        })
    }
}

struct Tmpl {
    zones: Vec<String>,
    qclass: u16,
    qtype: u16,
    rcode: u16,
    regex: Vec<Regex>,
    answer: Vec<gotmpl::Template>,
    additional: Vec<gotmpl::Template>,
    authority: Vec<gotmpl::Template>,
    ederror: Option<(u16, String)>,
    fall: Fallthrough,
}

enum Match {
    Yes(Box<Data>),
    /// No match; whether the next template may try.
    No {
        through: bool,
    },
}

impl Tmpl {
    fn matches(&self, req: &Request) -> Match {
        let Some(zone) = zones::zone_match(&self.zones, &req.name) else {
            return Match::No { through: true };
        };
        let qclass = u16::from(req.qclass());
        let qtype = u16::from(req.qtype());
        if self.qclass != CLASS_ANY && qclass != CLASS_ANY && qclass != self.qclass {
            return Match::No { through: true };
        }
        if self.qtype != TYPE_ANY && qtype != TYPE_ANY && qtype != self.qtype {
            return Match::No { through: true };
        }
        for re in &self.regex {
            let Some(caps) = re.captures(&req.name) else {
                continue;
            };
            let matches: Vec<String> = caps
                .iter()
                .map(|m| m.map_or(String::new(), |m| m.as_str().to_string()))
                .collect();
            let mut group = BTreeMap::new();
            for (i, m) in matches.iter().enumerate() {
                group.insert(i.to_string(), m.clone());
            }
            for (i, n) in re.capture_names().enumerate() {
                if let Some(n) = n {
                    group.insert(n.to_string(), matches[i].clone());
                }
            }
            let question = Question {
                name: req.qname().to_string(),
                qtype,
                qclass,
            };
            let md = &req.msg.metadata;
            return Match::Yes(Box::new(Data {
                zone: zone.to_string(),
                name: req.name.clone(),
                regex: re.as_str().to_string(),
                matches,
                group,
                class: mnemonics::class_to_str(if qclass != CLASS_ANY {
                    qclass
                } else {
                    self.qclass
                })
                .to_string(),
                qtype: mnemonics::type_to_str(if qtype != TYPE_ANY { qtype } else { self.qtype })
                    .to_string(),
                remote: req.src.ip().to_string(),
                question: question.clone(),
                message: MessageData {
                    id: md.id,
                    response: md.message_type == MessageType::Response,
                    opcode: i64::from(u8::from(md.op_code)),
                    authoritative: md.authoritative,
                    truncated: md.truncation,
                    recursion_desired: md.recursion_desired,
                    recursion_available: md.recursion_available,
                    zero: false,
                    authenticated_data: md.authentic_data,
                    checking_disabled: md.checking_disabled,
                    rcode: i64::from(u16::from(md.response_code)),
                    question: vec![question],
                    opt: req.msg.edns.as_ref().map(opt_data),
                },
                meta: req.metadata.clone(),
            }));
        }
        Match::No {
            through: self.fall.through(&req.name),
        }
    }
}

/// The query's OPT record as templates see it.
fn opt_data(e: &Edns) -> gotmpl::Opt {
    let flags = e.flags();
    gotmpl::Opt {
        udp_size: e.max_payload(),
        ttl: u32::from(e.rcode_high()) << 24
            | u32::from(e.version()) << 16
            | if flags.dnssec_ok { 1 << 15 } else { 0 }
            | u32::from(flags.z & 0x7fff),
        options: e
            .options()
            .as_ref()
            .iter()
            .map(|(code, o)| (u16::from(*code), o.to_bytes().unwrap_or_default()))
            .collect(),
    }
}

/// Why a template gave no record: the plugin's error text.
#[derive(Debug, thiserror::Error)]
enum AnswerError {
    #[error(transparent)]
    Template(#[from] gotmpl::ExecError),
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// What miekg's `dns.NewRR` says of a template's text (`dns: ...`).
#[derive(Debug, thiserror::Error)]
enum RecordError {
    #[error("dns: $ directives are not allowed in a record: {0:?}")]
    Directive(String),
    #[error("dns: {why}: {text:?}")]
    Parse { why: String, text: String },
    #[error("dns: no record in {0:?}")]
    NoRecord(String),
    #[error("dns: more than one record in {0:?}")]
    MoreThanOne(String),
}

/// miekg's `dns.NewRR`: one record in zone file syntax, relative names
/// completed with the root, a TTL of 3600 and class IN when not given.
/// `$` directives are refused (CoreDNS would read `$INCLUDE` files).
fn parse_rr(text: &str) -> Result<Record, RecordError> {
    if text.lines().any(|l| l.trim_start().starts_with('$')) {
        return Err(RecordError::Directive(text.to_string()));
    }
    let input = format!("$TTL 3600\n{text}\n");
    // Read as `file` reads zone files: every type miekg knows, its names.
    let mut rrs: Vec<Record> =
        crate::plugins::file::parse_records(&input, &Name::root(), Path::new("template"))
            .map_err(|why| RecordError::Parse {
                why,
                text: text.to_string(),
            })?
            .into_iter()
            .map(|(r, _)| r)
            .collect();
    match rrs.len() {
        1 => Ok(rrs.remove(0)),
        0 => Err(RecordError::NoRecord(text.to_string())),
        _ => Err(RecordError::MoreThanOne(text.to_string())),
    }
}

#[cfg(test)]
mod tests;
