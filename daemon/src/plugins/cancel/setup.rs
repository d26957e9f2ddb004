//! The `cancel` directive: the block's query deadline.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::duration;
use crate::plugin::BlockSetup;
use std::time::Duration;

const DEFAULT: Duration = Duration::from_millis(5001);

/// `cancel [TIMEOUT]`
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        let args = d.remaining_args();
        b.cancel = Some(match args.as_slice() {
            [] => DEFAULT,
            [a] => match duration::parse_signed(a) {
                Ok((false, t)) if !t.is_zero() => t,
                Ok(_) => return Err(d.err(format!("invalid negative duration: \"{a}\""))),
                Err(_) => return Err(d.err(format!("invalid duration: \"{a}\""))),
            },
            _ => return Err(d.arg_err()),
        });
    }
    Ok(())
}
