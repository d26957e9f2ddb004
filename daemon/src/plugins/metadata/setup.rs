//! The `metadata` directive: turns metadata on for the block.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// `metadata [ZONES...]`. ZONES only narrow which queries providers
/// describe; ferrodns has no providers that need it yet.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    d.remaining_args();
    if d.next_block() || d.next() {
        return Err(d.arg_err());
    }
    b.metadata = true;
    Ok(())
}
