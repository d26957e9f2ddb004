//! The `multisocket` directive: the number of sockets (workers) per
//! listener.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::strconv;
use crate::plugin::BlockSetup;

const MAX: usize = 1024;

/// `multisocket [NUM]`: no NUM means one per CPU the process may use.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    if args.len() > 1 || d.next() {
        return Err(d.arg_err());
    }
    let n = match args.first() {
        None => crate::sys::cpus(),
        Some(a) => {
            let n = strconv::atoi(a).map_err(|e| d.err(format!("invalid num sockets: {e}")))?;
            if n < 1 {
                return Err(d.err(format!("num sockets can not be zero or negative: {n}")));
            }
            if n as usize > MAX {
                return Err(d.err(format!("num sockets exceeds maximum ({MAX}): {n}")));
            }
            n as usize
        }
    };
    b.multisocket = Some(n);
    Ok(())
}
