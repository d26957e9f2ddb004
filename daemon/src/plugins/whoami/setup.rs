//! The `whoami` directive, which takes no arguments.

use super::Whoami;
use crate::corefile::{Directive, Error};
use crate::plugin::BlockSetup;

/// `whoami` takes no arguments.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Whoami, Error> {
    crate::plugin::registry::only_once(ds)?;
    crate::plugin::registry::no_args(ds)?;
    Ok(Whoami)
}
