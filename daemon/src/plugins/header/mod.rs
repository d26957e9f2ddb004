//! header: sets or clears the AA, RA and RD flags of queries (before the
//! plugins after it see them) and of the replies plugins after it write,
//! as CoreDNS's header plugin does.
//!
//! Error replies the server writes for a plugin (SERVFAIL and the like)
//! are not touched: in CoreDNS they bypass the plugin's response writer.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::{Action, BlockSetup, Outcome, Request};
use crate::plugins::Handler;
use hickory_proto::op::Metadata;

pub struct Header {
    query: Vec<Rule>,
    response: Vec<Rule>,
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

impl Header {
    pub fn query(&self, req: &mut Request) -> Action {
        apply(&mut req.msg.metadata, &self.query);
        if self.response.is_empty() {
            Action::Next
        } else {
            Action::Watch
        }
    }

    pub fn response(&self, _req: &Request, out: &mut Outcome) {
        if let Some(m) = out.reply.as_mut() {
            apply(&mut m.metadata, &self.response);
        }
    }
}

/// `header { query|response set|clear FLAGS... }`. Only the first directive
/// with any rule counts; the ones after it are not even read, as in CoreDNS.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        let mut query = Vec::new();
        let mut response = Vec::new();
        while d.next_block() {
            let selector = d.val().to_ascii_lowercase();
            if selector != "query" && selector != "response" {
                return Err(d.err(format!(
                    "setting up rule: invalid selector={selector} should be query or response"
                )));
            }
            let action = if d.next_arg() {
                d.val().to_string()
            } else {
                String::new()
            };
            let args = d.remaining_args();
            let rules =
                rules(&action, &args).map_err(|m| d.err(format!("setting up rule: {m}")))?;
            if selector == "response" {
                response.extend(rules);
            } else {
                query.extend(rules);
            }
        }
        if !query.is_empty() || !response.is_empty() {
            b.add(Handler::Header(Header { query, response }));
            return Ok(());
        }
    }
    let mut d = Dispenser::new(ds[ds.len() - 1]);
    while d.next() {}
    Err(d.arg_err())
}

fn rules(action: &str, flags: &[String]) -> Result<Vec<Rule>, String> {
    if action.is_empty() {
        return Err("no flag action provided".into());
    }
    if flags.is_empty() {
        return Err("invalid length for flags, at least one should be provided".into());
    }
    let state = match action.to_ascii_lowercase().as_str() {
        "set" => true,
        "clear" => false,
        other => {
            return Err(format!(
                "unknown flag action={other}, should be set or clear"
            ))
        }
    };
    flags
        .iter()
        .map(|f| {
            let flag = match f.to_ascii_lowercase().as_str() {
                "aa" => Flag::Aa,
                "ra" => Flag::Ra,
                "rd" => Flag::Rd,
                other => return Err(format!("unknown/unsupported flag={other}")),
            };
            Ok(Rule { flag, state })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{directive, request};
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::RecordType;

    fn header(texts: &[&str]) -> Result<Header, String> {
        let mut b = BlockSetup::new(vec![".".into()]);
        let dirs: Vec<Directive> = texts.iter().map(|t| directive(t)).collect();
        let refs: Vec<&Directive> = dirs.iter().collect();
        setup(&mut b, &refs).map_err(|e| e.to_string())?;
        match b.into_handlers().pop() {
            Some(Handler::Header(h)) => Ok(h),
            _ => panic!("no header handler"),
        }
    }

    #[test]
    fn parses_rules() {
        let h =
            header(&["header {\nresponse set ra aa\nRESPONSE Clear RD\nquery set rd\n}"]).unwrap();
        assert_eq!(
            h.response,
            [
                Rule {
                    flag: Flag::Ra,
                    state: true
                },
                Rule {
                    flag: Flag::Aa,
                    state: true
                },
                Rule {
                    flag: Flag::Rd,
                    state: false
                },
            ]
        );
        assert_eq!(
            h.query,
            [Rule {
                flag: Flag::Rd,
                state: true
            }]
        );
        // An empty first directive gives way to the next; later ones are ignored.
        let h = header(&[
            "header",
            "header {\nquery clear rd\n}",
            "header {\nbogus\n}",
        ])
        .unwrap();
        assert_eq!(
            h.query,
            [Rule {
                flag: Flag::Rd,
                state: false
            }]
        );
        assert!(h.response.is_empty());
    }

    #[test]
    fn setup_errors() {
        let e = |t: &str| header(&[t]).err().expect("fails");
        assert_eq!(
            e("header {\nanswer set ra\n}"),
            "Corefile:2: setting up rule: invalid selector=answer should be query or response"
        );
        assert_eq!(
            e("header {\nresponse\n}"),
            "Corefile:2: setting up rule: no flag action provided"
        );
        assert_eq!(
            e("header {\nresponse set\n}"),
            "Corefile:2: setting up rule: invalid length for flags, at least one should be provided"
        );
        assert_eq!(
            e("header {\nresponse toggle ra\n}"),
            "Corefile:2: setting up rule: unknown flag action=toggle, should be set or clear"
        );
        assert_eq!(
            e("header {\nresponse set ad\n}"),
            "Corefile:2: setting up rule: unknown/unsupported flag=ad"
        );
        assert_eq!(
            e("header"),
            "Corefile:1: Wrong argument count or unexpected line ending after 'header'"
        );
    }

    #[test]
    fn changes_queries_and_replies() {
        let h = header(&["header {\nquery clear rd\nresponse set ra aa\nresponse clear aa\n}"])
            .unwrap();
        let mut req = request("example.org.", RecordType::A);
        assert!(matches!(h.query(&mut req), Action::Watch));
        assert!(!req.msg.metadata.recursion_desired);
        let mut out = Outcome::reply(req.reply());
        h.response(&req, &mut out);
        let m = out.reply.unwrap();
        assert!(m.metadata.recursion_available);
        assert!(!m.metadata.authoritative);
        assert!(!m.metadata.recursion_desired);
        // Nothing written: nothing to change.
        let mut out = Outcome::rcode(ResponseCode::ServFail);
        h.response(&req, &mut out);
        assert!(out.reply.is_none());
        // Query rules only: no response phase.
        let h = header(&["header {\nquery set rd\n}"]).unwrap();
        assert!(matches!(h.query(&mut req), Action::Next));
        assert!(req.msg.metadata.recursion_desired);
    }
}
