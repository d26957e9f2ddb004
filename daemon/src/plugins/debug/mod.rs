//! debug: turns off panic recovery for the block and enables [DEBUG] lines.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// `debug` takes no arguments.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    crate::plugin::registry::only_once(ds)?;
    let mut d = Dispenser::new(ds[0]);
    d.next();
    if d.next_arg() {
        return Err(d.arg_err());
    }
    b.debug = true;
    Ok(())
}
