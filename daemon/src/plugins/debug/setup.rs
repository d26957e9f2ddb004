//! The `debug` directive: the block's debug flag.

use crate::corefile::{Directive, Error};
use crate::plugin::BlockSetup;

/// `debug` takes no arguments.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    crate::plugin::registry::only_once(ds)?;
    crate::plugin::registry::no_args(ds)?;
    b.debug = true;
    Ok(())
}
