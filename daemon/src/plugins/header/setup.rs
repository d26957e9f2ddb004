//! The `header` directive: `query` and `response` rules that set or clear
//! flags.

use super::{Flag, Header, Rule};
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// `header { query|response set|clear FLAGS... }`. Only the first directive
/// with any rule counts; the ones after it are not even read, as in CoreDNS.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Header, Error> {
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
            return Ok(Header { query, response });
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
