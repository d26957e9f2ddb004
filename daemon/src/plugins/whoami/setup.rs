//! The `whoami` directive, which takes no arguments.

use super::Whoami;
use crate::corefile::{Directive, Error};
use crate::plugin::BlockSetup;

/// `whoami` takes no arguments. As in CoreDNS, only the first occurrence
/// in a block is looked at; later ones change nothing.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Whoami, Error> {
    crate::plugin::registry::no_args(&ds[..1])?;
    Ok(Whoami)
}
