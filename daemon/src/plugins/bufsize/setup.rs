//! The `bufsize` directive: the largest EDNS UDP size the block honours.

use super::Bufsize;
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::registry::wrapped_twice;
use crate::plugin::BlockSetup;

const DEFAULT_SIZE: u16 = 1232;

/// `bufsize [SIZE]`: 512 to 4096, default 1232.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Bufsize, Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    let size = match args.as_slice() {
        [] => DEFAULT_SIZE,
        [s] => match s.parse::<u16>() {
            Ok(n) if (512..=4096).contains(&n) => n,
            _ => return Err(wrapped_twice("bufsize", d.arg_err())),
        },
        _ => return Err(wrapped_twice("bufsize", d.arg_err())),
    };
    Ok(Bufsize { size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    fn bufsize(line: &str) -> Result<u16, crate::corefile::Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        let p = setup(&mut b, &[&directive(line)])?;
        Ok(p.size)
    }

    #[test]
    fn parses() {
        assert_eq!(bufsize("bufsize"), Ok(1232));
        assert_eq!(bufsize("bufsize 512"), Ok(512));
        assert_eq!(
            bufsize("bufsize 4097").unwrap_err().to_string(),
            "Corefile:1: plugin/bufsize: plugin/bufsize: Wrong argument count or unexpected line ending after '4097'"
        );
        assert!(bufsize("bufsize 1 2").is_err());
        assert!(bufsize("bufsize abc").is_err());
    }
}
