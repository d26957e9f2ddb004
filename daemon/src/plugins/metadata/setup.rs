//! The `metadata` directive: turns metadata on for the block.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// `metadata [ZONES...]`. ZONES (the block's by default) narrow which
/// queries the providers (view) describe before the chain runs.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    if d.next_block() || d.next() {
        return Err(d.arg_err());
    }
    b.metadata = true;
    b.metadata_zones = crate::plugin::names::host_zones(&args, &b.origins);
    Ok(())
}
