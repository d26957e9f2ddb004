//! The `nsid` directive: the NSID to send, the host name by default.

use super::Nsid;
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// `nsid [DATA]`: DATA defaults to the host name.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Nsid, Error> {
    let mut data = None;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        let args = d.remaining_args();
        if !args.is_empty() {
            data = Some(args.join(" "));
        }
    }
    let data = data.unwrap_or_else(crate::plugins::chaos::hostname);
    Ok(Nsid {
        data: data.into_bytes(),
    })
}
