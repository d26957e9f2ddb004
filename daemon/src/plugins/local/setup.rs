//! The `local` directive: `localhost_prefix`.

use super::Local;
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// `local { localhost_prefix on|off }`
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Local, Error> {
    let mut no_prefix = false;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        if !d.remaining_args().is_empty() {
            return Err(d.arg_err());
        }
        while d.next_block() {
            match d.val() {
                "localhost_prefix" => {
                    let args = d.remaining_args();
                    match args.as_slice() {
                        [v] if v == "on" => no_prefix = false,
                        [v] if v == "off" => no_prefix = true,
                        [v] => {
                            return Err(d.err(format!(
                                "localhost_prefix expects 'on' or 'off', got \"{v}\""
                            )))
                        }
                        _ => return Err(d.arg_err()),
                    }
                }
                other => return Err(d.err(format!("unknown property '{other}'"))),
            }
        }
    }
    Ok(Local { no_prefix })
}
