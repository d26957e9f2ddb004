//! The `timeouts` directive: the block's TCP read, write and idle timeouts.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::duration;
use crate::plugin::BlockSetup;
use std::time::Duration;

/// `timeouts { read D; write D; idle D }`, each 1 s to 24 h.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut t = b.tcp_timeouts;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        if !d.remaining_args().is_empty() {
            return Err(d.arg_err());
        }
        let mut given = 0;
        while d.next_block() {
            let what = d.val().to_string();
            let args = d.remaining_args();
            let [arg] = args.as_slice() else {
                return Err(d.arg_err());
            };
            // CoreDNS takes a Go duration or a bare number of seconds.
            let v = duration::parse(arg)
                .or_else(|| arg.parse::<u64>().ok().map(Duration::from_secs))
                .ok_or_else(|| d.err(format!("failed to parse duration: {arg}")))?;
            if v < Duration::from_secs(1) || v > Duration::from_secs(24 * 3600) {
                return Err(d.err(format!(
                    "timeout provided '{}' needs to be between 1 second and 24 hours",
                    duration::format(v)
                )));
            }
            match what.as_str() {
                "read" => t.read = Some(v),
                "write" => t.write = Some(v),
                "idle" => t.idle = Some(v),
                other => return Err(d.err(format!("unknown option: '{other}'"))),
            }
            given += 1;
        }
        if given == 0 {
            return Err(d.err("timeouts block with no timeouts specified"));
        }
    }
    b.tcp_timeouts = t;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::registry::TcpTimeouts;
    use crate::plugins::testutil::directive;

    fn parse(text: &str) -> Result<TcpTimeouts, crate::corefile::Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        setup(&mut b, &[&directive(text)])?;
        Ok(b.tcp_timeouts)
    }

    #[test]
    fn timeouts() {
        let t = parse("timeouts {\nread 10s\nidle 60\n}").unwrap();
        assert_eq!(t.read, Some(Duration::from_secs(10)));
        assert_eq!(t.idle, Some(Duration::from_secs(60)));
        assert_eq!(t.write, None, "left to the server's default");
        assert_eq!(
            parse("timeouts {\n}").unwrap_err().to_string(),
            "Corefile:2: timeouts block with no timeouts specified"
        );
        assert_eq!(
            parse("timeouts {\nread 500ms\n}").unwrap_err().to_string(),
            "Corefile:2: timeout provided '500ms' needs to be between 1 second and 24 hours"
        );
        assert_eq!(
            parse("timeouts {\nfoo 5s\n}").unwrap_err().to_string(),
            "Corefile:2: unknown option: 'foo'"
        );
    }
}
