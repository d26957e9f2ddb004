//! The `erratic` directive: `erratic { drop [AMOUNT]; truncate [AMOUNT];
//! delay [AMOUNT [DURATION]]; large }`.

use super::Erratic;
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::{duration, quote::quote, strconv};
use crate::plugin::BlockSetup;
use std::time::Duration;

/// CoreDNS's parseErratic: drop 1 in 2 by default; naming delay or
/// truncate without an amount for drop turns that default off.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Erratic, Error> {
    let (mut drop, mut delay, mut truncate) = (2u64, 0u64, 0u64);
    let mut duration = Duration::ZERO;
    let mut large = false;
    // A drop amount was given (`drop` alone keeps the default and, as in
    // CoreDNS, does not count).
    let mut drop_set = false;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        while d.next_block() {
            let what = d.val().to_string();
            let args = d.remaining_args();
            match what.as_str() {
                "drop" => {
                    let [n] = one_arg(&d, &args)? else { continue };
                    drop = amount(&d, n)?;
                    drop_set = true;
                }
                "delay" => {
                    if args.len() > 2 {
                        return Err(d.arg_err());
                    }
                    delay = 2;
                    duration = Duration::from_millis(100);
                    let Some(n) = args.first() else { continue };
                    delay = amount(&d, n)?;
                    if let Some(t) = args.get(1) {
                        // Go's time.Sleep returns at once for a negative duration.
                        let (negative, t) =
                            duration::parse_signed(t).map_err(|e| d.err(e.to_string()))?;
                        duration = if negative { Duration::ZERO } else { t };
                    }
                }
                "truncate" => {
                    truncate = 2;
                    let [n] = one_arg(&d, &args)? else { continue };
                    truncate = amount(&d, n)?;
                }
                "large" => large = true,
                other => return Err(d.err(format!("unknown property '{other}'"))),
            }
        }
    }
    if (delay > 0 || truncate > 0) && !drop_set {
        drop = 0;
    }
    Ok(Erratic::new(drop, delay, truncate, duration, large))
}

/// No argument or one; more is CoreDNS's argument error.
fn one_arg<'a>(d: &Dispenser<'_>, args: &'a [String]) -> Result<&'a [String], Error> {
    if args.len() > 1 {
        return Err(d.arg_err());
    }
    Ok(args)
}

/// An AMOUNT: a 32-bit integer (strconv.ParseInt's errors), not negative.
fn amount(d: &Dispenser<'_>, n: &str) -> Result<u64, Error> {
    let v = strconv::parse_int(n, 10, 32).map_err(|e| d.err(e.to_string()))?;
    u64::try_from(v).map_err(|_| d.err(format!("illegal amount value given {}", quote(n))))
}
