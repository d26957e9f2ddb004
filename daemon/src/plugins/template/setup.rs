//! The `template` directive: one template per directive, its class, type,
//! zones and block (`match`, `answer`, `additional`, `authority`, `rcode`,
//! `ederror`, `fallthrough`).

use super::{gotmpl, Template, Tmpl};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::strconv;
use crate::plugin::names as zones;
use crate::plugin::{BlockSetup, Fallthrough};
use crate::wire::mnemonics;
use regex::Regex;

/// CoreDNS's limit on a regex's length.
const MAX_REGEX_LEN: usize = 10000;

/// `template CLASS TYPE [ZONE...] { match, answer, additional, authority,
/// rcode, ederror, fallthrough }`, one template per directive.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Template, Error> {
    let mut h = Template {
        zones: Vec::new(),
        templates: Vec::new(),
    };
    for dir in ds {
        let t = parse_one(b, dir)?;
        h.zones.extend(t.zones.iter().cloned());
        h.templates.push(t);
    }
    Ok(h)
}

fn parse_one(b: &BlockSetup, dir: &Directive) -> Result<Tmpl, Error> {
    let mut d = Dispenser::new(dir);
    d.next();
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    let qclass = mnemonics::class_from_str(d.val())
        .ok_or_else(|| d.err(format!("invalid query class {}", d.val())))?;
    if !d.next_arg() {
        return Err(d.arg_err());
    }
    // CoreDNS's wording.
    let qtype = mnemonics::type_from_str(d.val())
        .ok_or_else(|| d.err(format!("invalid RR class {}", d.val())))?;
    let zones = zones::host_zones(&d.remaining_args(), &b.origins);
    let mut t = Tmpl {
        zones,
        qclass,
        qtype,
        rcode: 0,
        regex: Vec::new(),
        answer: Vec::new(),
        additional: Vec::new(),
        authority: Vec::new(),
        ederror: None,
        fall: Fallthrough::default(),
    };
    while d.next_block() {
        match d.val() {
            "match" => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                for re in args {
                    if re.len() > MAX_REGEX_LEN {
                        return Err(d.err(format!(
                            "regex pattern too long: {} > {MAX_REGEX_LEN}",
                            re.len()
                        )));
                    }
                    let r = Regex::new(&re).map_err(|e| {
                        d.err(format!(
                            "could not parse regex: {re}, {}",
                            crate::gocompat::regexp::error(&e, &re)
                        ))
                    })?;
                    t.regex.push(r);
                }
            }
            section @ ("answer" | "additional" | "authority") => {
                let args = d.remaining_args();
                if args.is_empty() {
                    return Err(d.arg_err());
                }
                for text in args {
                    let tmpl = gotmpl::Template::parse(section, &text).map_err(|e| {
                        d.err(format!("could not compile template: {}, {e}", d.val()))
                    })?;
                    match section {
                        "answer" => t.answer.push(tmpl),
                        "additional" => t.additional.push(tmpl),
                        _ => t.authority.push(tmpl),
                    }
                }
            }
            "rcode" => {
                if !d.next_arg() {
                    return Err(d.arg_err());
                }
                t.rcode = mnemonics::rcode_from_str(d.val())
                    .ok_or_else(|| d.err(format!("unknown rcode {}", d.val())))?;
            }
            "ederror" => {
                let args = d.remaining_args();
                if args.is_empty() || args.len() > 2 {
                    return Err(d.arg_err());
                }
                let code = strconv::parse_uint(&args[0], 10, 16).map_err(|e| {
                    d.err(format!(
                        "error parsing extended DNS error code {}, {e}",
                        d.val()
                    ))
                })? as u16;
                t.ederror = Some((code, args.get(1).cloned().unwrap_or_default()));
            }
            "fallthrough" => t.fall = Fallthrough::from_args(&d.remaining_args()),
            // Accepted and ignored, as in CoreDNS.
            "upstream" => {
                d.remaining_args();
            }
            _ => return Err(d.arg_err()),
        }
    }
    if t.regex.is_empty() {
        t.regex.push(Regex::new(".*").expect("valid regex"));
    }
    Ok(t)
}
