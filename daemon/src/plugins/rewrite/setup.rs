//! Parsing `rewrite` directives into rules, with CoreDNS's checks and error
//! wording (its `newRule` and the per-field constructors).

use super::rules::{
    CnameRule, Data, EdnsAction, Kind, Matcher, Mode, NameRule, Resp, Rule, Rw, Var,
};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::names::is_fqdn;
use crate::gocompat::quote::{quote as go_quote, unicode_byte};
use crate::gocompat::strconv::{parse_uint, NumError};
use crate::plugin::BlockSetup;
use crate::wire::mnemonics;
use regex::Regex;

/// The longest regex pattern CoreDNS compiles.
const MAX_REGEX_LEN: usize = 10000;

/// What is wrong with a rule's arguments; `Display` is CoreDNS's wording,
/// which setup puts after the directive's position.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("no rule type specified for rewrite")]
    NoRuleType,
    /// `continue` or `stop` alone.
    #[error("{0} rule must begin with a rule type")]
    ModeAlone(String),
    #[error("response rewrites must begin with a name rule")]
    AnswerFirst,
    #[error("invalid rule type {}", go_quote(.0))]
    RuleType(String),
    /// A class or type rule without exactly FROM and TO.
    #[error("{0} rules must have exactly two arguments")]
    TwoArguments(String),
    #[error("invalid type {}", go_quote(.0))]
    Type(String),
    #[error("invalid class {}", go_quote(.0))]
    Class(String),
    #[error("too few arguments for a name rule")]
    NameArguments,
    #[error("name rule supports only exact, prefix, suffix, substring, and regex name matching, received: {0}")]
    NameMatch(String),
    /// The answer rules after a name rule of this match type.
    #[error("invalid arguments for {0} rule")]
    AnswerArguments(String),
    #[error("exceeded the number of arguments for a non-answer rule argument for {0} rule")]
    NotAnswer(String),
    #[error("type missing for answer rule for {0} rule")]
    AnswerTypeMissing(String),
    #[error("{kind} answer rule for {name} rule: 2 arguments required")]
    AnswerPair { kind: String, name: String },
    #[error("{kind} answer rule for {name} rule: {source}")]
    AnswerPattern {
        kind: String,
        name: String,
        source: Box<RuleError>,
    },
    #[error("invalid type {} for answer rule for {name} rule", go_quote(.kind))]
    AnswerType { kind: String, name: String },
    /// CoreDNS's spelling.
    #[error("auto name answer rule cannot be combined with explicit name anwer rules")]
    AutoAndName,
    #[error("regex pattern too long: {0} > {MAX_REGEX_LEN}")]
    PatternTooLong(usize),
    #[error("invalid regex matching pattern: {0}")]
    Pattern(String),
    #[error("the rewrite regex pattern ({to}) uses more subexpressions than its corresponding matching regex pattern ({from})")]
    Subexpressions { from: String, to: String },
    /// The pattern of a ttl, rcode or cname rule.
    #[error("regex pattern too long in a {field} rule: {len} > {MAX_REGEX_LEN}")]
    FieldPatternTooLong { field: &'static str, len: usize },
    #[error("invalid regex pattern in a {field} rule: {pattern}")]
    FieldPattern {
        field: &'static str,
        pattern: String,
    },
    #[error("{0} rule supports only exact, prefix, suffix, substring, and regex name matching")]
    FieldMatch(&'static str),
    #[error("too few ({count}) arguments for a {field} rule")]
    FieldArguments { field: &'static str, count: usize },
    #[error("invalid TTL '{0}' for a ttl rule")]
    Ttl(String),
    #[error("invalid matching RCODE '{0}' for a rcode rule")]
    MatchingRcode(String),
    #[error("invalid replacement RCODE '{0}' for a rcode rule")]
    ReplacementRcode(String),
    #[error("too few arguments for an EDNS0 rule")]
    EdnsArguments,
    #[error("invalid action: {}", go_quote(.0))]
    EdnsAction(String),
    #[error("EDNS0 local rules require three or four args")]
    LocalArguments,
    #[error("EDNS0 NSID rules can accept no more than one arg")]
    NsidArguments,
    #[error("EDNS0 subnet rules require three or four args")]
    SubnetArguments,
    #[error("local unset action requires exactly two arguments")]
    UnsetLocalArguments,
    /// nsid or subnet unset with arguments.
    #[error("{0} unset action requires exactly one argument")]
    UnsetArguments(&'static str),
    /// An option code or a subnet mask length.
    #[error(transparent)]
    Number(#[from] NumError),
    #[error("invalid IPv4 bit mask length {0}")]
    V4Mask(u64),
    #[error("invalid IPv6 bit mask length {0}")]
    V6Mask(u64),
    #[error("unsupported variable name {}", go_quote(.0))]
    Variable(String),
    /// Go's `hex.InvalidByteError`.
    #[error("encoding/hex: invalid byte: {}", unicode_byte(*.0))]
    HexByte(u8),
    /// Go's `hex.ErrLength`.
    #[error("encoding/hex: odd length hex string")]
    HexLength,
    #[error("unknown cname rewrite type: {0}")]
    CnameType(String),
    #[error("invalid cname rewrite regex pattern: {}", crate::gocompat::regexp::error(.0, .1))]
    CnamePattern(regex::Error, String),
}

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
            rules.push(new_rule(&args).map_err(|e| d.err(e.to_string()))?);
        }
    }
    Ok(super::Rewrite::new(rules))
}

/// One rule from its arguments (CoreDNS's `newRule`).
pub(super) fn new_rule(args: &[String]) -> Result<Rule, RuleError> {
    let Some(first) = args.first() else {
        return Err(RuleError::NoRuleType);
    };
    let arg0 = first.to_lowercase();
    let (mode, rule_type, expect, start) = match arg0.as_str() {
        "continue" | "stop" => {
            let Some(t) = args.get(1) else {
                return Err(RuleError::ModeAlone(arg0));
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
        "answer" => return Err(RuleError::AnswerFirst),
        "name" => name_rule(rest)?,
        "class" | "type" => {
            if expect != 3 {
                return Err(RuleError::TwoArguments(rule_type));
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
        _ => return Err(RuleError::RuleType(first.clone())),
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

fn name_rule(args: &[String]) -> Result<Kind, RuleError> {
    if args.len() < 2 {
        return Err(RuleError::NameArguments);
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
        other => return Err(RuleError::NameMatch(other.to_string())),
    };
    Ok(Kind::Name(rule))
}

/// `answer auto`, `answer name FROM TO`, `answer value FROM TO`, the
/// keyword `answer` optional after the first (CoreDNS's `parseAnswerRules`).
fn answer_rules(name: &str, args: &[String]) -> Result<(bool, Vec<Resp>), RuleError> {
    if args.len() < 2 {
        return Err(RuleError::AnswerArguments(name.to_string()));
    }
    let mut auto = false;
    let mut rules = Vec::new();
    let mut name_rules = 0;
    let mut last: Option<&str> = None;
    let mut i = 0;
    while i < args.len() {
        if last.is_none() && args[i] != "answer" {
            return Err(RuleError::NotAnswer(name.to_string()));
        }
        if args[i] == "answer" {
            i += 1;
        }
        let Some(kind) = args.get(i) else {
            return Err(RuleError::AnswerTypeMissing(name.to_string()));
        };
        last = Some(kind);
        i += 1;
        match kind.as_str() {
            "auto" => auto = true,
            "name" | "value" => {
                if args.len() - i < 2 {
                    return Err(RuleError::AnswerPair {
                        kind: kind.clone(),
                        name: name.to_string(),
                    });
                }
                let re = regex_pattern(&args[i], &args[i + 1]).map_err(|e| {
                    RuleError::AnswerPattern {
                        kind: kind.clone(),
                        name: name.to_string(),
                        source: Box::new(e),
                    }
                })?;
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
                return Err(RuleError::AnswerType {
                    kind: other.to_string(),
                    name: name.to_string(),
                })
            }
        }
    }
    if auto && name_rules > 0 {
        return Err(RuleError::AutoAndName);
    }
    Ok((auto, rules))
}

/// Compiles FROM and checks that TO uses no more `{N}` groups than FROM
/// has (CoreDNS's `isValidRegexPattern`; `{0}` counts as one).
fn regex_pattern(from: &str, to: &str) -> Result<Regex, RuleError> {
    if from.len() > MAX_REGEX_LEN {
        return Err(RuleError::PatternTooLong(from.len()));
    }
    let re = Regex::new(from).map_err(|_| RuleError::Pattern(from.to_string()))?;
    let used = (0..=100)
        .filter(|i| to.contains(&format!("{{{i}}}")))
        .count();
    if used > re.captures_len() - 1 {
        return Err(RuleError::Subexpressions {
            from: from.to_string(),
            to: to.to_string(),
        });
    }
    Ok(re)
}

/// The name matcher of ttl and rcode rules: `[TYPE] NAME`.
fn field_matcher(field: &'static str, kind: &str, pattern: &str) -> Result<Matcher, RuleError> {
    Ok(match kind.to_lowercase().as_str() {
        "exact" => Matcher::Exact(normalize(pattern)),
        "prefix" => Matcher::Prefix(normalize(pattern)),
        "suffix" => Matcher::Suffix(normalize(pattern)),
        "substring" => Matcher::Substring(normalize(pattern)),
        "regex" => {
            if pattern.len() > MAX_REGEX_LEN {
                return Err(RuleError::FieldPatternTooLong {
                    field,
                    len: pattern.len(),
                });
            }
            Matcher::Regex(Regex::new(pattern).map_err(|_| RuleError::FieldPattern {
                field,
                pattern: pattern.to_string(),
            })?)
        }
        _ => return Err(RuleError::FieldMatch(field)),
    })
}

fn ttl_rule(args: &[String]) -> Result<Kind, RuleError> {
    if args.len() < 2 {
        return Err(RuleError::FieldArguments {
            field: "ttl",
            count: args.len(),
        });
    }
    let s = match args.len() {
        2 => args[1].as_str(),
        3 => args[2].as_str(),
        _ => "",
    };
    let Some((min, max)) = ttl_range(s) else {
        return Err(RuleError::Ttl(s.to_string()));
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

fn rcode_rule(args: &[String]) -> Result<Kind, RuleError> {
    if args.len() < 3 {
        return Err(RuleError::FieldArguments {
            field: "rcode",
            count: args.len(),
        });
    }
    let (old, new) = match args.len() {
        3 => (args[1].as_str(), args[2].as_str()),
        4 => (args[2].as_str(), args[3].as_str()),
        _ => ("", ""),
    };
    let Some(old_code) = rcode(old) else {
        return Err(RuleError::MatchingRcode(old.to_string()));
    };
    let Some(new_code) = rcode(new) else {
        return Err(RuleError::ReplacementRcode(new.to_string()));
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
fn type_code(s: &str) -> Result<u16, RuleError> {
    let up = s.to_uppercase();
    mnemonics::type_from_str(&up).ok_or(RuleError::Type(up))
}

fn class_code(s: &str) -> Result<u16, RuleError> {
    let up = s.to_uppercase();
    mnemonics::class_from_str(&up).ok_or(RuleError::Class(up))
}

fn edns0_rule(args: &[String]) -> Result<Kind, RuleError> {
    if args.len() < 2 {
        return Err(RuleError::EdnsArguments);
    }
    let rule_type = args[0].to_lowercase();
    let action = match args[1].to_lowercase().as_str() {
        "append" => EdnsAction::Append,
        "replace" => EdnsAction::Replace,
        "set" => EdnsAction::Set,
        "unset" => return edns0_unset(&rule_type, args),
        other => return Err(RuleError::EdnsAction(other.to_string())),
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
                return Err(RuleError::LocalArguments);
            }
            let code = edns_code(&args[2])?;
            let v = &args[3];
            let data = if v.starts_with('{') && v.ends_with('}') {
                Data::Var(variable(v).ok_or_else(|| RuleError::Variable(v.clone()))?)
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
                return Err(RuleError::NsidArguments);
            }
            Ok(Kind::Nsid { action, revert })
        }
        "subnet" => {
            if args.len() != 4 {
                return Err(RuleError::SubnetArguments);
            }
            let v4 = parse_uint(&args[2], 0, 16)?;
            if v4 > 32 {
                return Err(RuleError::V4Mask(v4));
            }
            let v6 = parse_uint(&args[3], 0, 16)?;
            if v6 > 128 {
                return Err(RuleError::V6Mask(v6));
            }
            Ok(Kind::Subnet {
                action,
                v4: v4 as u8,
                v6: v6 as u8,
                revert,
            })
        }
        _ => Err(RuleError::RuleType(rule_type)),
    }
}

fn edns0_unset(rule_type: &str, args: &[String]) -> Result<Kind, RuleError> {
    let action = EdnsAction::Unset;
    match rule_type {
        "local" => {
            if args.len() != 3 {
                return Err(RuleError::UnsetLocalArguments);
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
                return Err(RuleError::UnsetArguments("nsid"));
            }
            Ok(Kind::Nsid {
                action,
                revert: false,
            })
        }
        "subnet" => {
            if args.len() != 2 {
                return Err(RuleError::UnsetArguments("subnet"));
            }
            Ok(Kind::Subnet {
                action,
                v4: 0,
                v6: 0,
                revert: false,
            })
        }
        _ => Err(RuleError::RuleType(rule_type.to_string())),
    }
}

fn edns_code(s: &str) -> Result<u16, RuleError> {
    Ok(parse_uint(s, 0, 16)? as u16)
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

/// CoreDNS's `newCNAMERule`: `[TYPE] FROM TO`, exact when the type is
/// left out; both names lowercased, and made fully qualified for exact.
fn cname_rule(args: &[String]) -> Result<Kind, RuleError> {
    let (t, from, to) = match args {
        [t, from, to] => (t.to_lowercase(), from.to_lowercase(), to.to_lowercase()),
        [from, to] => ("exact".to_string(), from.to_lowercase(), to.to_lowercase()),
        _ => {
            return Err(RuleError::FieldArguments {
                field: "cname",
                count: args.len(),
            })
        }
    };
    let (how, to) = match t.as_str() {
        "exact" => (Matcher::Exact(normalize(&from)), normalize(&to)),
        "prefix" => (Matcher::Prefix(from), to),
        "suffix" => (Matcher::Suffix(from), to),
        "substring" => (Matcher::Substring(from), to),
        "regex" => {
            if from.len() > MAX_REGEX_LEN {
                return Err(RuleError::FieldPatternTooLong {
                    field: "cname",
                    len: from.len(),
                });
            }
            let re = Regex::new(&from).map_err(|e| RuleError::CnamePattern(e, from.clone()))?;
            (Matcher::Regex(re), to)
        }
        _ => return Err(RuleError::CnameType(t)),
    };
    Ok(Kind::Cname(CnameRule { how, to }))
}

/// Go's `hex.DecodeString`, with its error text.
fn hex_decode(s: &str) -> Result<Vec<u8>, RuleError> {
    let b = s.as_bytes();
    let val = |c: u8| char::from(c).to_digit(16).map(|v| v as u8);
    let mut out = Vec::with_capacity(b.len() / 2);
    let mut i = 1;
    while i < b.len() {
        let hi = val(b[i - 1]).ok_or(RuleError::HexByte(b[i - 1]))?;
        let lo = val(b[i]).ok_or(RuleError::HexByte(b[i]))?;
        out.push(hi << 4 | lo);
        i += 2;
    }
    if b.len() % 2 == 1 {
        if val(b[i - 1]).is_none() {
            return Err(RuleError::HexByte(b[i - 1]));
        }
        return Err(RuleError::HexLength);
    }
    Ok(out)
}
