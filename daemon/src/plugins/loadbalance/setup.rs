//! The `loadbalance` directive: the policy (`round_robin`, or `weighted`
//! with its file and reload interval) and the `prefer` subnets.

use super::weighted::Weights;
use super::{Loadbalance, Policy};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::duration;
use crate::gocompat::quote::quote as go_quote;
use crate::plugin::BlockSetup;
use crate::plugins::acl::parse_cidr;
use std::time::Duration;

/// `loadbalance [round_robin | weighted FILE { reload DURATION }] { prefer CIDR... }`.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Loadbalance, Error> {
    let mut policy = Policy::RoundRobin;
    let mut prefer = Vec::new();
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        let args = d.remaining_args();
        match args.first().map(String::as_str) {
            None => policy = Policy::RoundRobin,
            Some("round_robin") => {
                if args.len() > 1 {
                    return Err(d.err("unknown property for round_robin"));
                }
                policy = Policy::RoundRobin;
            }
            Some("weighted") => {
                if args.len() < 2 {
                    return Err(d.err("missing weight file argument"));
                }
                if args.len() > 2 {
                    return Err(d.err("unexpected argument(s)"));
                }
                let file = b.path(&args[1]);
                let mut reload = Duration::from_secs(30);
                while d.next_block() {
                    match d.val() {
                        "reload" => {
                            let t = d.remaining_args();
                            if t.is_empty() {
                                return Err(d.err("reload duration value is missing"));
                            }
                            if t.len() > 1 {
                                return Err(d.err("unexpected argument"));
                            }
                            // A negative one, which makes CoreDNS panic when it
                            // starts the reload ticker, is refused.
                            reload = duration::parse(&t[0]).ok_or_else(|| {
                                d.err(format!("invalid reload duration '{}'", t[0]))
                            })?;
                        }
                        other => return Err(d.err(format!("unknown property '{other}'"))),
                    }
                }
                // CoreDNS replaces its whole state here, subnets included.
                prefer.clear();
                let w = Weights::start(file, reload).map_err(|e| d.err(e.to_string()))?;
                policy = Policy::Weighted(w);
            }
            Some(other) => return Err(d.err(format!("unknown policy: {other}"))),
        }
        while d.next_block() {
            match d.val() {
                "prefer" => {
                    for cidr in d.remaining_args() {
                        let Some(n) = parse_cidr(&cidr) else {
                            return Err(d.err(format!(
                                "invalid CIDR {}: invalid CIDR address: {cidr}",
                                go_quote(&cidr)
                            )));
                        };
                        prefer.push(n);
                    }
                }
                other => return Err(d.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(Loadbalance { policy, prefer })
}
