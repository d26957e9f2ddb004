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
                rules(&action, &args).map_err(|e| d.err(format!("setting up rule: {e}")))?;
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

/// What is wrong with a rule's action or flags; `Display` is CoreDNS's
/// wording.
#[derive(Debug, thiserror::Error)]
enum RuleError {
    #[error("no flag action provided")]
    NoAction,
    #[error("invalid length for flags, at least one should be provided")]
    NoFlags,
    #[error("unknown flag action={0}, should be set or clear")]
    Action(String),
    #[error("unknown/unsupported flag={0}")]
    Flag(String),
}

fn rules(action: &str, flags: &[String]) -> Result<Vec<Rule>, RuleError> {
    if action.is_empty() {
        return Err(RuleError::NoAction);
    }
    if flags.is_empty() {
        return Err(RuleError::NoFlags);
    }
    let state = match action.to_ascii_lowercase().as_str() {
        "set" => true,
        "clear" => false,
        other => return Err(RuleError::Action(other.to_string())),
    };
    flags
        .iter()
        .map(|f| {
            let flag = match f.to_ascii_lowercase().as_str() {
                "aa" => Flag::Aa,
                "ra" => Flag::Ra,
                "rd" => Flag::Rd,
                other => return Err(RuleError::Flag(other.to_string())),
            };
            Ok(Rule { flag, state })
        })
        .collect()
}
