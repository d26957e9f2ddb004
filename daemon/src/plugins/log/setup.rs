//! The `log` directive: the rules (names, format, classes) of every
//! occurrence.

use super::format::Format;
use super::{Log, Rule, COMBINED, COMMON};
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::classify::Class;
use crate::plugin::{names, BlockSetup};
use std::collections::HashSet;

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
