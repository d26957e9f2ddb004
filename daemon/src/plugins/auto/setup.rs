//! `auto [ZONES...] { directory DIR [REGEXP ORIGIN_TEMPLATE]; reload DURATION }`
//! (CoreDNS plugin/auto/setup.go).

use super::{walk, Auto, State};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::{duration, errno};
use crate::plugin::{names, BlockSetup};
use regex::Regex;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const MAX_REGEXP_LEN: usize = 10_000;

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Auto, Error> {
    let mut origins = b.origins.clone();
    let mut dir = PathBuf::new();
    let mut re = Regex::new(r"db\.(.*)").expect("valid regex");
    let mut template = "${1}".to_string();
    let mut reload = None;
    for dir_ in ds {
        let mut d = Dispenser::new(dir_);
        d.next();
        origins = names::host_zones(&d.remaining_args(), &b.origins);
        while d.next_block() {
            match d.val() {
                "directory" => {
                    if !d.next_arg() {
                        return Err(d.arg_err());
                    }
                    dir = b.path(d.val());
                    if let Err(e) = std::fs::metadata(&dir) {
                        if e.kind() != std::io::ErrorKind::NotFound {
                            return Err(d.err(format!(
                                "Unable to access root path '{}': {}",
                                dir.display(),
                                errno::path_error("stat", &dir, &e)
                            )));
                        }
                        crate::log::warning(
                            Some("auto"),
                            &format!("Directory does not exist: {}", dir.display()),
                        );
                    }
                    if d.next_arg() {
                        if d.val().len() > MAX_REGEXP_LEN {
                            return Err(d.err("regexp too large"));
                        }
                        re = Regex::new(d.val())
                            .map_err(|e| d.err(crate::gocompat::regexp::error(&e, d.val())))?;
                        if re.captures_len() < 2 {
                            return Err(d.err("Need at least one sub expression"));
                        }
                        if !d.next_arg() {
                            return Err(d.arg_err());
                        }
                        template = to_expand(d.val());
                    }
                    if d.next_arg() {
                        return Err(d.arg_err());
                    }
                }
                "reload" => {
                    let args = d.remaining_args();
                    let Some(a) = args.first() else {
                        return Err(d.err("reload duration value is expected"));
                    };
                    let parsed = match duration::parse_signed(a) {
                        Ok((false, v)) => Ok(v),
                        Ok((true, _)) => Err("invalid duration".to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    // CoreDNS wraps this error as file's.
                    reload = Some(parsed.map_err(|e| d.err(format!("plugin/file: {e}")))?);
                }
                // Obsolete; its arguments are ignored.
                "upstream" => {
                    d.remaining_args();
                }
                other => return Err(d.err(format!("unknown property '{other}'"))),
            }
        }
    }
    let state = Arc::new(State {
        dir,
        re,
        template,
        reload: reload.unwrap_or(Duration::from_secs(60)),
        zones: Default::default(),
        added: Arc::clone(&b.added_zones),
    });
    // CoreDNS walks on start-up; here the zones are there before the
    // block serves.
    walk::walk(&state);
    Ok(Auto {
        origins,
        state,
        walker: Mutex::new(None),
    })
}

/// CoreDNS's `rewriteToExpand`: `{N}` in the template becomes `${N}`.
fn to_expand(s: &str) -> String {
    s.replace('{', "${")
}
