//! The `errors` directive: where errors go (stdout), `stacktrace`, and the
//! `consolidate` patterns.

use super::{Errors, Pattern};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::duration;
use crate::log::Level;
use crate::plugin::BlockSetup;
use regex::Regex;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;

const MAX_REGEXP_LEN: usize = 10_000;

/// `errors [stdout] { stacktrace; consolidate DURATION REGEXP [LEVEL] [show_first] }`
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Errors, Error> {
    crate::plugin::registry::only_once(ds)?;
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    match args.as_slice() {
        [] => {}
        [a] if a == "stdout" => {}
        [a] => return Err(d.err(format!("invalid log file: {a}"))),
        _ => return Err(d.arg_err()),
    }
    let mut patterns = Vec::new();
    while d.next_block() {
        match d.val() {
            "stacktrace" => b.stacktrace = true,
            "consolidate" => patterns.push(Arc::new(consolidate(&mut d)?)),
            other => return Err(d.err(format!("Syntax error: Unknown field {other}"))),
        }
    }
    Ok(Errors { patterns })
}

fn consolidate(d: &mut Dispenser<'_>) -> Result<Pattern, Error> {
    let args = d.remaining_args();
    if !(2..=4).contains(&args.len()) {
        return Err(d.arg_err());
    }
    let period = duration::parse(&args[0])
        .ok_or_else(|| d.err(format!("time: invalid duration \"{}\"", args[0])))?;
    if args[1].len() > MAX_REGEXP_LEN {
        return Err(d.err(format!(
            "regex pattern too long: {} > {MAX_REGEXP_LEN}",
            args[1].len()
        )));
    }
    let regex = Regex::new(&args[1]).map_err(|e| d.err(e.to_string()))?;
    let mut level = None;
    let mut show_first = false;
    for a in &args[2..] {
        let l = match a.as_str() {
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            "show_first" => None,
            other => return Err(d.err(format!("unknown option in consolidate: {other}"))),
        };
        match l {
            Some(_) if level.is_some() => {
                return Err(d.err("multiple log levels specified in consolidate"))
            }
            Some(_) if show_first => {
                return Err(d.err("log level must come before show_first in consolidate"))
            }
            Some(l) => level = Some(l),
            None => show_first = true,
        }
    }
    Ok(Pattern {
        period,
        regex,
        level: level.unwrap_or(Level::Error),
        show_first,
        count: AtomicU32::new(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Errors, crate::corefile::Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        setup(&mut b, &[&directive(text)])
    }

    #[test]
    fn parses_consolidate() {
        let e = parse("errors {\nconsolidate 5m \".* timeout$\" warning show_first\nconsolidate 30s ^Failed\n}").unwrap();
        assert_eq!(e.patterns.len(), 2);
        assert_eq!(e.patterns[0].period, Duration::from_secs(300));
        assert_eq!(e.patterns[0].level, Level::Warning);
        assert!(e.patterns[0].show_first);
        assert_eq!(e.patterns[1].level, Level::Error);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            parse("errors /tmp/log").err().unwrap().to_string(),
            "Corefile:1: invalid log file: /tmp/log"
        );
        assert_eq!(
            parse("errors {\nconsolidate 5m x info error\n}")
                .err()
                .unwrap()
                .to_string(),
            "Corefile:2: multiple log levels specified in consolidate"
        );
        assert_eq!(
            parse("errors {\nconsolidate 5m x show_first info\n}")
                .err()
                .unwrap()
                .to_string(),
            "Corefile:2: log level must come before show_first in consolidate"
        );
        assert_eq!(
            parse("errors {\nbogus\n}").err().unwrap().to_string(),
            "Corefile:2: Syntax error: Unknown field bogus"
        );
        assert!(parse("errors {\nconsolidate 5x y\n}").is_err());
    }
}
