//! hosts: PLACEHOLDER until the hosts plugin lands.

#[allow(dead_code)]
mod hostsfile;

use crate::corefile::{Directive, Error};
use crate::plugin::{Action, BlockSetup, Request};

pub struct Hosts;

impl Hosts {
    pub fn query(&self, _req: &mut Request) -> Action {
        Action::Next
    }
}

pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    Err(Error::new(ds[0].pos(), "not implemented yet"))
}
