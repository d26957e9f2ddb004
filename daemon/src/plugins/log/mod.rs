//! log: one line per query in CoreDNS's log formats.

mod format;

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::classify::{classify, Class, Kind};
use crate::plugin::fast::{Context, Needs, RawAnswer, RawQuery};
use crate::plugin::{client_write, names, Action, BlockSetup, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use format::Format;
use hickory_proto::op::Message;
use std::collections::HashSet;

pub use format::{Chained, Fields, COMBINED, COMMON};

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

    fn fast_done(&self, q: &RawQuery<'_>, _cx: &mut Context<'_>, a: &RawAnswer) {
        self.write(&format::Raw { q, a }, a.kind);
    }
}

/// `log [NAMES...] [FORMAT] { class CLASSES... }`, as often as needed.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Log, Error> {
    let mut rules = Vec::new();
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        let mut args = d.remaining_args();
        let mut format = COMMON.to_string();
        if args.len() > 1 && args[args.len() - 1].contains('{') {
            let f = args.pop().unwrap_or_default();
            format = f
                .replace("{common}", COMMON)
                .replace("{combined}", COMBINED);
        }
        let scopes: Vec<String> = if args.is_empty() {
            vec![".".to_string()]
        } else {
            args.iter().map(|a| names::fqdn(a)).collect()
        };
        let mut classes = HashSet::new();
        while d.next_block() {
            match d.val() {
                "class" => {
                    let cs = d.remaining_args();
                    if cs.is_empty() {
                        return Err(d.arg_err());
                    }
                    for c in cs {
                        let class =
                            Class::parse(&c).ok_or_else(|| d.err(format!("invalid Class: {c}")))?;
                        classes.insert(class);
                    }
                }
                other => return Err(d.err(format!("unknown property '{other}'"))),
            }
        }
        for scope in scopes {
            rules.push(Rule {
                scope,
                format: Format::parse(&format),
                classes: classes.clone(),
            });
        }
    }
    Ok(Log { rules })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    fn parse(text: &str) -> Result<Log, crate::corefile::Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        setup(&mut b, &[&directive(text)])
    }

    #[test]
    fn scopes_and_formats() {
        let l = parse("log").unwrap();
        assert_eq!(l.rules.len(), 1);
        assert_eq!(l.rules[0].scope, ".");
        let l = parse("log example.org").unwrap();
        assert_eq!(l.rules[0].scope, "example.org.");
        let l = parse("log a.org b.org {combined}").unwrap();
        assert_eq!(l.rules.len(), 2);
        assert_eq!(l.rules[1].scope, "b.org.");
        assert!(l.rule("x.b.org.").is_some());
        assert!(l.rule("c.org.").is_none());
    }

    #[test]
    fn classes() {
        let l = parse("log . {\nclass denial error\n}").unwrap();
        assert!(l.rules[0].classes.contains(&Class::Denial));
        assert!(!l.rules[0].classes.contains(&Class::Success));
        assert_eq!(
            parse("log {\nclass bogus\n}").err().unwrap().to_string(),
            "Corefile:2: invalid Class: bogus"
        );
        assert_eq!(
            parse("log {\nfoo\n}").err().unwrap().to_string(),
            "Corefile:2: unknown property 'foo'"
        );
    }
}
