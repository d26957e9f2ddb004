//! `fallthrough [ZONES...]`: which NXDOMAIN answers go on to the next plugin.

use crate::corefile::{Dispenser, Error};
use crate::plugin::names;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fallthrough {
    /// None: fall through is off. Some(empty): every name. Some(zones): names under them.
    zones: Option<Vec<String>>,
}

impl Fallthrough {
    /// Reads the arguments after a `fallthrough` token; they are zones.
    pub fn parse(d: &mut Dispenser<'_>, origins: &[String]) -> Result<Self, Error> {
        let args = d.remaining_args();
        if args.is_empty() {
            return Ok(Self {
                zones: Some(Vec::new()),
            });
        }
        let zones = names::host_zones(&args, origins);
        Ok(Self { zones: Some(zones) })
    }
    pub fn through(&self, qname: &str) -> bool {
        match &self.zones {
            None => false,
            Some(z) if z.is_empty() => true,
            Some(z) => names::zone_match(z, qname).is_some(),
        }
    }
}
