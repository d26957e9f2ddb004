use super::Whoami;
use crate::corefile::{Directive, Error};
use crate::plugin::BlockSetup;
use crate::plugins::Handler;

/// `whoami` takes no arguments.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    crate::plugin::registry::only_once(ds)?;
    crate::plugin::registry::no_args(ds)?;
    b.add(Handler::Whoami(Whoami));
    Ok(())
}
