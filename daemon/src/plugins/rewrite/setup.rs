//! Parsing `rewrite` directives into rules, with CoreDNS's checks and error
//! wording (its `newRule` and the per-field constructors).

use super::rules::{Data, EdnsAction, Kind, Matcher, Mode, NameRule, Resp, Rule, Rw, Var};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::names::is_fqdn;
use crate::gocompat::quote::{quote as go_quote, unicode_byte};
use crate::gocompat::strconv::parse_uint;
use crate::plugin::BlockSetup;
use crate::wire::mnemonics;
use regex::Regex;

/// The longest regex pattern CoreDNS compiles.
const MAX_REGEX_LEN: usize = 10000;

/// `rewrite [continue|stop] FIELD ARGS...`, or the same spread over a block;
/// every occurrence in a block feeds one handler, rules in Corefile order.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<super::Rewrite, Error> {
    let mut rules = Vec::new();
    for dir in ds {
        let mut d = Dispenser::new(dir);
        while d.next() {
            let mut args = d.remaining_args();
            if args.len() < 2 {
                // The block form: its tokens are the rule's arguments, all
                // on one logical line.
                while d.next_block() {
                    args.push(d.val().to_string());
                }
            }
            rules.push(new_rule(&args).map_err(|m| d.err(m))?);
        }
    }
    Ok(super::Rewrite::new(rules))
}

/// One rule from its arguments (CoreDNS's `newRule`).
pub(super) fn new_rule(args: &[String]) -> Result<Rule, String> {
    let Some(first) = args.first() else {
        return Err("no rule type specified for rewrite".into());
    };
    let arg0 = first.to_lowercase();
    let (mode, rule_type, expect, start) = match arg0.as_str() {
        "continue" | "stop" => {
            let Some(t) = args.get(1) else {
                return Err(format!("{arg0} rule must begin with a rule type"));
            };
            let mode = if arg0 == "continue" {
                Mode::Continue
            } else {
                Mode::Stop
            };
            (mode, t.to_lowercase(), args.len() - 1, 2)
        }
        _ => (Mode::Stop, arg0.clone(), args.len(), 1),
    };
    let rest = &args[start..];
    let kind = match rule_type.as_str() {
        "answer" => return Err("response rewrites must begin with a name rule".into()),
        "name" => name_rule(rest)?,
        "class" | "type" => {
            if expect != 3 {
                return Err(format!("{rule_type} rules must have exactly two arguments"));
            }
            if rule_type == "class" {
                let from = class_code(&rest[0])?;
                let to = class_code(&rest[1])?;
                Kind::Class { from, to }
            } else {
                let from = type_code(&rest[0])?;
                let to = type_code(&rest[1])?;
                Kind::Type { from, to }
            }
        }
        "edns0" => edns0_rule(rest)?,
        "ttl" => ttl_rule(rest)?,
        "cname" => cname_rule(rest)?,
        "rcode" => rcode_rule(rest)?,
        _ => return Err(format!("invalid rule type {}", go_quote(first))),
    };
    Ok(Rule { mode, kind })
}

/// miekg's `Fqdn` then lowercased (CoreDNS's `plugin.Name(s).Normalize()`).
pub(super) fn normalize(s: &str) -> String {
    let mut s = s.to_lowercase();
    if !is_fqdn(&s) {
        s.push('.');
    }
    s
}

fn name_rule(args: &[String]) -> Result<Kind, String> {
    if args.len() < 2 {
        return Err("too few arguments for a name rule".into());
    }
    let (match_type, from, to) = if args.len() == 2 {
        (
            "exact".to_string(),
            normalize(&args[0]),
            normalize(&args[1]),
        )
    } else {
        let t = args[0].to_lowercase();
        if t == "regex" {
            (t, args[1].clone(), args[2].clone())
        } else {
            (t, normalize(&args[1]), normalize(&args[2]))
        }
    };
    let (auto, answers) = if args.len() > 3 {
        answer_rules(&match_type, &args[3..])?
    } else {
        (false, Vec::new())
    };
    let rule = match match_type.as_str() {
        "exact" => {
            // CoreDNS checks the pair as if TO were a pattern for FROM.
            regex_pattern(&to, &from)?;
            NameRule {
                matcher: Matcher::Exact(from),
                to,
                auto: true,
                answers,
            }
        }
        "prefix" => NameRule {
            matcher: Matcher::Prefix(from),
            to,
            auto,
            answers,
        },
        "suffix" => {
            // `answer auto` here is the suffix mapping the other way round,
            // fixed at setup.
            let mut fixed = Vec::new();
            if auto {
                let back = Rw::Suffix {
                    suffix: to.clone(),
                    to: from.clone(),
                };
                fixed.push(Resp::Name(back.clone()));
                fixed.push(Resp::Value(back));
            }
            fixed.extend(answers);
            NameRule {
                matcher: Matcher::Suffix(from),
                to,
                auto: false,
                answers: fixed,
            }
        }
        "substring" => NameRule {
            matcher: Matcher::Substring(from),
            to,
            auto,
            answers,
        },
        "regex" => {
            let re = regex_pattern(&from, &to)?;
            NameRule {
                matcher: Matcher::Regex(re),
                to: normalize(&args[2]),
                auto,
                answers,
            }
        }
        other => {
            return Err(format!(
                "name rule supports only exact, prefix, suffix, substring, and regex name matching, received: {other}"
            ))
        }
    };
    Ok(Kind::Name(rule))
}

/// `answer auto`, `answer name FROM TO`, `answer value FROM TO`, the
/// keyword `answer` optional after the first (CoreDNS's `parseAnswerRules`).
fn answer_rules(name: &str, args: &[String]) -> Result<(bool, Vec<Resp>), String> {
    if args.len() < 2 {
        return Err(format!("invalid arguments for {name} rule"));
    }
    let mut auto = false;
    let mut rules = Vec::new();
    let mut name_rules = 0;
    let mut last: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        if last.is_none() && args[i] != "answer" {
            return Err(format!(
                "exceeded the number of arguments for a non-answer rule argument for {name} rule"
            ));
        }
        if args[i] == "answer" {
            i += 1;
        }
        let Some(kind) = args.get(i) else {
            return Err(format!("type missing for answer rule for {name} rule"));
        };
        last = Some(kind);
        i += 1;
        match kind.as_str() {
            "auto" => auto = true,
            "name" | "value" => {
                if args.len() - i < 2 {
                    return Err(format!(
                        "{kind} answer rule for {name} rule: 2 arguments required"
                    ));
                }
                let re = regex_pattern(&args[i], &args[i + 1])
                    .map_err(|e| format!("{kind} answer rule for {name} rule: {e}"))?;
                let rw = Rw::Regex {
                    re,
                    to: normalize(&args[i + 1]),
                };
                if kind == "name" {
                    rules.push(Resp::Name(rw));
                    name_rules += 1;
                } else {
                    rules.push(Resp::Value(rw));
                }
                i += 2;
            }
            other => {
                return Err(format!(
                    "invalid type {} for answer rule for {name} rule",
                    go_quote(other)
                ))
            }
        }
    }
    if auto && name_rules > 0 {
        // CoreDNS's spelling.
        return Err(
            "auto name answer rule cannot be combined with explicit name anwer rules".into(),
        );
    }
    Ok((auto, rules))
}

/// Compiles FROM and checks that TO uses no more `{N}` groups than FROM
/// has (CoreDNS's `isValidRegexPattern`; `{0}` counts as one).
fn regex_pattern(from: &str, to: &str) -> Result<Regex, String> {
    if from.len() > MAX_REGEX_LEN {
        return Err(format!(
            "regex pattern too long: {} > {MAX_REGEX_LEN}",
            from.len()
        ));
    }
    let re = Regex::new(from).map_err(|_| format!("invalid regex matching pattern: {from}"))?;
    let used = (0..=100)
        .filter(|i| to.contains(&format!("{{{i}}}")))
        .count();
    if used > re.captures_len() - 1 {
        return Err(format!(
            "the rewrite regex pattern ({to}) uses more subexpressions than its corresponding matching regex pattern ({from})"
        ));
    }
    Ok(re)
}

/// The name matcher of ttl and rcode rules: `[TYPE] NAME`.
fn field_matcher(field: &str, kind: &str, pattern: &str) -> Result<Matcher, String> {
    Ok(match kind.to_lowercase().as_str() {
        "exact" => Matcher::Exact(normalize(pattern)),
        "prefix" => Matcher::Prefix(normalize(pattern)),
        "suffix" => Matcher::Suffix(normalize(pattern)),
        "substring" => Matcher::Substring(normalize(pattern)),
        "regex" => {
            if pattern.len() > MAX_REGEX_LEN {
                return Err(format!(
                    "regex pattern too long in a {field} rule: {} > {MAX_REGEX_LEN}",
                    pattern.len()
                ));
            }
            Matcher::Regex(
                Regex::new(pattern)
                    .map_err(|_| format!("invalid regex pattern in a {field} rule: {pattern}"))?,
            )
        }
        _ => {
            return Err(format!(
            "{field} rule supports only exact, prefix, suffix, substring, and regex name matching"
        ))
        }
    })
}

fn ttl_rule(args: &[String]) -> Result<Kind, String> {
    if args.len() < 2 {
        return Err(format!("too few ({}) arguments for a ttl rule", args.len()));
    }
    let s = match args.len() {
        2 => args[1].as_str(),
        3 => args[2].as_str(),
        _ => "",
    };
    let Some((min, max)) = ttl_range(s) else {
        return Err(format!("invalid TTL '{s}' for a ttl rule"));
    };
    let matcher = if args.len() == 3 {
        field_matcher("ttl", &args[0], &args[1])?
    } else {
        Matcher::Exact(normalize(&args[0]))
    };
    Ok(Kind::Ttl { matcher, min, max })
}

/// `N`, `MIN-MAX`, `-MAX` or `MIN-` (CoreDNS's `isValidTTL`).
pub(super) fn ttl_range(v: &str) -> Option<(u32, u32)> {
    let parts: Vec<&str> = v.split('-').collect();
    let num = |s: &str| parse_uint(s, 10, 32).ok().map(|n| n as u32);
    match parts.as_slice() {
        [n] => num(n).map(|n| (n, n)),
        [lo, hi] => {
            let min = if lo.is_empty() { 0 } else { num(lo)? };
            let max = if hi.is_empty() {
                if lo.is_empty() {
                    return None;
                }
                2147483647
            } else {
                num(hi)?
            };
            (min <= max).then_some((min, max))
        }
        _ => None,
    }
}

fn rcode_rule(args: &[String]) -> Result<Kind, String> {
    if args.len() < 3 {
        return Err(format!(
            "too few ({}) arguments for a rcode rule",
            args.len()
        ));
    }
    let (old, new) = match args.len() {
        3 => (args[1].as_str(), args[2].as_str()),
        4 => (args[2].as_str(), args[3].as_str()),
        _ => ("", ""),
    };
    let Some(old_code) = rcode(old) else {
        return Err(format!("invalid matching RCODE '{old}' for a rcode rule"));
    };
    let Some(new_code) = rcode(new) else {
        return Err(format!(
            "invalid replacement RCODE '{new}' for a rcode rule"
        ));
    };
    let matcher = if args.len() == 4 {
        field_matcher("rcode", &args[0], &args[1])?
    } else {
        Matcher::Exact(normalize(&args[0]))
    };
    Ok(Kind::Rcode {
        matcher,
        old: old_code,
        new: new_code,
    })
}

/// A number up to 23, or one of miekg's rcode names (any case).
pub(super) fn rcode(v: &str) -> Option<u16> {
    if let Ok(n) = parse_uint(v, 10, 32) {
        if n <= 23 {
            return Some(n as u16);
        }
    }
    mnemonics::rcode_from_str(&v.to_uppercase())
}

/// A type mnemonic, uppercased first (so miekg's `None` and `Reserved`
/// never match, as in CoreDNS).
fn type_code(s: &str) -> Result<u16, String> {
    let up = s.to_uppercase();
    mnemonics::type_from_str(&up).ok_or_else(|| format!("invalid type {}", go_quote(&up)))
}

fn class_code(s: &str) -> Result<u16, String> {
    let up = s.to_uppercase();
    mnemonics::class_from_str(&up).ok_or_else(|| format!("invalid class {}", go_quote(&up)))
}

fn edns0_rule(args: &[String]) -> Result<Kind, String> {
    if args.len() < 2 {
        return Err("too few arguments for an EDNS0 rule".into());
    }
    let rule_type = args[0].to_lowercase();
    let action = match args[1].to_lowercase().as_str() {
        "append" => EdnsAction::Append,
        "replace" => EdnsAction::Replace,
        "set" => EdnsAction::Set,
        "unset" => return edns0_unset(&rule_type, args),
        other => return Err(format!("invalid action: {}", go_quote(other))),
    };
    let mut args = args;
    let mut revert = false;
    if args.last().is_some_and(|a| a == "revert") {
        revert = true;
        args = &args[..args.len() - 1];
    }
    match rule_type.as_str() {
        "local" => {
            if args.len() != 4 {
                return Err("EDNS0 local rules require three or four args".into());
            }
            let code = edns_code(&args[2])?;
            let v = &args[3];
            let data = if v.starts_with('{') && v.ends_with('}') {
                Data::Var(
                    variable(v)
                        .ok_or_else(|| format!("unsupported variable name {}", go_quote(v)))?,
                )
            } else if let Some(h) = v.strip_prefix("0x") {
                Data::Bytes(hex_decode(h)?)
            } else {
                Data::Bytes(v.as_bytes().to_vec())
            };
            Ok(Kind::Local {
                action,
                code,
                data,
                revert,
            })
        }
        "nsid" => {
            if args.len() != 2 {
                return Err("EDNS0 NSID rules can accept no more than one arg".into());
            }
            Ok(Kind::Nsid { action, revert })
        }
        "subnet" => {
            if args.len() != 4 {
                return Err("EDNS0 subnet rules require three or four args".into());
            }
            let v4 = parse_uint(&args[2], 0, 16).map_err(|e| e.to_string())?;
            if v4 > 32 {
                return Err(format!("invalid IPv4 bit mask length {v4}"));
            }
            let v6 = parse_uint(&args[3], 0, 16).map_err(|e| e.to_string())?;
            if v6 > 128 {
                return Err(format!("invalid IPv6 bit mask length {v6}"));
            }
            Ok(Kind::Subnet {
                action,
                v4: v4 as u8,
                v6: v6 as u8,
                revert,
            })
        }
        _ => Err(format!("invalid rule type {}", go_quote(&rule_type))),
    }
}

fn edns0_unset(rule_type: &str, args: &[String]) -> Result<Kind, String> {
    let action = EdnsAction::Unset;
    match rule_type {
        "local" => {
            if args.len() != 3 {
                return Err("local unset action requires exactly two arguments".into());
            }
            Ok(Kind::Local {
                action,
                code: edns_code(&args[2])?,
                data: Data::Bytes(Vec::new()),
                revert: false,
            })
        }
        "nsid" => {
            if args.len() != 2 {
                return Err("nsid unset action requires exactly one argument".into());
            }
            Ok(Kind::Nsid {
                action,
                revert: false,
            })
        }
        "subnet" => {
            if args.len() != 2 {
                return Err("subnet unset action requires exactly one argument".into());
            }
            Ok(Kind::Subnet {
                action,
                v4: 0,
                v6: 0,
                revert: false,
            })
        }
        _ => Err(format!("invalid rule type {}", go_quote(rule_type))),
    }
}

fn edns_code(s: &str) -> Result<u16, String> {
    parse_uint(s, 0, 16)
        .map(|c| c as u16)
        .map_err(|e| e.to_string())
}

/// The variables an EDNS0 local rule may take its data from. Metadata
/// labels (`{plugin/label}`) are accepted, as CoreDNS does, but ferrodns
/// has no metadata plugin, so they never yield data.
fn variable(v: &str) -> Option<Var> {
    Some(match v {
        "{qname}" => Var::Qname,
        "{qtype}" => Var::Qtype,
        "{client_ip}" => Var::ClientIp,
        "{client_port}" => Var::ClientPort,
        "{protocol}" => Var::Protocol,
        "{server_ip}" => Var::ServerIp,
        "{server_port}" => Var::ServerPort,
        _ => {
            let label = &v[1..v.len() - 1];
            match label.find('/') {
                Some(p) if p > 0 && p < label.len() - 1 => Var::Label,
                _ => return None,
            }
        }
    })
}

/// The cname field needs CoreDNS's internal upstream lookup of the new
/// target, which ferrodns does not have: the rule is checked as CoreDNS
/// checks it, then refused.
fn cname_rule(args: &[String]) -> Result<Kind, String> {
    let from = match args.len() {
        3 => {
            let t = args[0].to_lowercase();
            if !matches!(
                t.as_str(),
                "exact" | "prefix" | "suffix" | "substring" | "regex"
            ) {
                return Err(format!("unknown cname rewrite type: {t}"));
            }
            if t == "regex" {
                Some(args[1].to_lowercase())
            } else {
                None
            }
        }
        2 => None,
        n => return Err(format!("too few ({n}) arguments for a cname rule")),
    };
    if let Some(p) = from {
        if p.len() > MAX_REGEX_LEN {
            return Err(format!(
                "regex pattern too long in a cname rule: {} > {MAX_REGEX_LEN}",
                p.len()
            ));
        }
        if let Err(e) = Regex::new(&p) {
            return Err(format!("invalid cname rewrite regex pattern: {e}"));
        }
    }
    Err("cname rules are not available in ferrodns (they need an internal upstream lookup)".into())
}

/// Go's `hex.DecodeString`, with its error text.
fn hex_decode(s: &str) -> Result<Vec<u8>, String> {
    let b = s.as_bytes();
    let val = |c: u8| char::from(c).to_digit(16).map(|v| v as u8);
    let invalid = |c: u8| format!("encoding/hex: invalid byte: {}", unicode_byte(c));
    let mut out = Vec::with_capacity(b.len() / 2);
    let mut i = 1;
    while i < b.len() {
        let hi = val(b[i - 1]).ok_or_else(|| invalid(b[i - 1]))?;
        let lo = val(b[i]).ok_or_else(|| invalid(b[i]))?;
        out.push(hi << 4 | lo);
        i += 2;
    }
    if b.len() % 2 == 1 {
        if val(b[i - 1]).is_none() {
            return Err(invalid(b[i - 1]));
        }
        return Err("encoding/hex: odd length hex string".into());
    }
    Ok(out)
}
