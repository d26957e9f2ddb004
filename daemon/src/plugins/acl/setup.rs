//! The `acl` directive: one rule per directive, its policies read from the
//! block (`ACTION [type QTYPE...] [net SOURCE...]`).

use super::{Acl, Net, Policy, Rule, Verdict};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::quote::quote as go_quote;
use crate::plugin::{names, BlockSetup};
use crate::wire::mnemonics;
use std::collections::HashSet;

/// `acl [ZONES...] { ACTION [type QTYPE...] [net SOURCE...] }`, one rule per directive.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Acl, Error> {
    let mut rules = Vec::new();
    for dir in ds {
        rules.push(parse_rule(b, dir)?);
    }
    Ok(Acl { rules })
}

fn parse_rule(b: &BlockSetup, dir: &Directive) -> Result<Rule, Error> {
    let mut d = Dispenser::new(dir);
    d.next();
    let zones = names::host_zones(&d.remaining_args(), &b.origins);
    let mut policies = Vec::new();
    while d.next_block() {
        let verdict = match d.val().to_ascii_lowercase().as_str() {
            "allow" => Verdict::Allow,
            "block" => Verdict::Block,
            "filter" => Verdict::Filter,
            "drop" => Verdict::Drop,
            _ => {
                return Err(d.err(format!(
                    "unexpected token {}; expect 'allow', 'block', 'filter' or 'drop'",
                    go_quote(d.val())
                )))
            }
        };
        let mut qtypes = HashSet::new();
        let mut nets: Option<Vec<Net>> = Some(Vec::new());
        let mut has_type = false;
        let mut has_net = false;
        let rest = d.remaining_args();
        let mut i = 0;
        while i < rest.len() {
            if !is_section(&rest[i]) {
                return Err(d.err(format!(
                    "unexpected token {}; expect 'type | net'",
                    go_quote(&rest[i])
                )));
            }
            let section = rest[i].to_ascii_lowercase();
            let start = i + 1;
            let mut end = start;
            while end < rest.len() && !is_section(&rest[end]) {
                end += 1;
            }
            let tokens = &rest[start..end];
            i = end;
            if tokens.is_empty() {
                return Err(d.err(format!(
                    "no token specified in {} section",
                    go_quote(&section)
                )));
            }
            if section == "type" {
                has_type = true;
                for t in tokens {
                    if t == "*" {
                        qtypes.insert(0);
                        break;
                    }
                    let Some(qt) = mnemonics::type_from_str(t) else {
                        return Err(d.err(format!(
                            "unexpected token {}; expect legal QTYPE",
                            go_quote(t)
                        )));
                    };
                    qtypes.insert(qt);
                }
            } else {
                has_net = true;
                for t in tokens {
                    if t == "*" {
                        nets = None;
                        break;
                    }
                    let t = normalize(t);
                    let Some(n) = parse_cidr(&t) else {
                        return Err(d.err(format!("illegal CIDR notation {}", go_quote(&t))));
                    };
                    // A `*` earlier in another net section already covers all.
                    if let Some(v) = nets.as_mut() {
                        v.push(n);
                    }
                }
            }
        }
        if !has_type {
            qtypes.insert(0);
        }
        if !has_net {
            nets = None;
        }
        policies.push(Policy {
            verdict,
            qtypes,
            nets,
        });
    }
    Ok(Rule { zones, policies })
}

fn is_section(t: &str) -> bool {
    t.eq_ignore_ascii_case("type") || t.eq_ignore_ascii_case("net")
}

/// A bare address gets /32 (IPv4) or /128 (anything with a colon).
fn normalize(raw: &str) -> String {
    if raw.contains('/') {
        raw.to_string()
    } else if raw.contains(':') {
        format!("{raw}/128")
    } else {
        format!("{raw}/32")
    }
}

/// Go's `net.ParseCIDR` (`gocompat::net::parse_cidr`).
pub(crate) fn parse_cidr(s: &str) -> Option<Net> {
    let c = crate::gocompat::net::parse_cidr(s).ok()?;
    Some(Net {
        addr: c.addr,
        bits: c.bits,
    })
}
