//! The `shed` directive, which takes no arguments and no block.

use super::Shed;
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// CoreDNS's shed parse: once per server block, no arguments, no options.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Shed, Error> {
    for (i, dir) in ds.iter().enumerate() {
        if i > 0 {
            crate::plugin::registry::only_once(ds)?;
        }
        let mut d = Dispenser::new(dir);
        d.next();
        if !d.remaining_args().is_empty() {
            return Err(d.arg_err());
        }
        if d.next_block() {
            return Err(d.err("shed takes no options"));
        }
    }
    Ok(Shed)
}
