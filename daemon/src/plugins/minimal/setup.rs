//! The `minimal` directive, which takes no arguments.

use super::Minimal;
use crate::corefile::{Directive, Error};
use crate::plugin::BlockSetup;

/// `minimal` takes no arguments.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Minimal, Error> {
    crate::plugin::registry::no_args(ds)?;
    Ok(Minimal)
}
