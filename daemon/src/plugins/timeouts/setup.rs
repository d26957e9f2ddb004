//! The `timeouts` directive: the block's TCP read, write and idle timeouts.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::{duration, strconv};
use crate::plugin::registry::wrapped_twice;
use crate::plugin::BlockSetup;
use std::time::Duration;

/// `timeouts { read D; write D; idle D; maxtcpqueries N }`, each duration 1 s
/// to 24 h, N positive or -1 (unlimited).
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut t = b.tcp_timeouts;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        if !d.remaining_args().is_empty() {
            return Err(wrapped_twice("timeouts", d.arg_err()));
        }
        let mut given = 0;
        while d.next_block() {
            let what = d.val().to_string();
            let args = d.remaining_args();
            let [arg] = args.as_slice() else {
                return Err(d.arg_err());
            };
            if what == "maxtcpqueries" {
                let n = strconv::atoi(arg)
                    .map_err(|e| d.err(format!("invalid value for maxtcpqueries '{arg}': {e}")))?;
                if n == 0 || n < -1 {
                    return Err(d.err(format!(
                        "maxtcpqueries provided '{n}' needs to be -1 (unlimited) or a positive integer"
                    )));
                }
                t.max_queries = Some(u32::try_from(n).ok().or((n > 0).then_some(u32::MAX)));
                given += 1;
                continue;
            }
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
            return Err(wrapped_twice(
                "timeouts",
                d.err("timeouts block with no timeouts specified"),
            ));
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
            "Corefile:2: plugin/timeouts: plugin/timeouts: timeouts block with no timeouts specified"
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

    #[test]
    fn maxtcpqueries() {
        let t = parse("timeouts {\nmaxtcpqueries 128\n}").unwrap();
        assert_eq!(t.max_queries, Some(Some(128)));
        assert_eq!(t.read, None);
        let t = parse("timeouts {\nmaxtcpqueries -1\nidle 1m\n}").unwrap();
        assert_eq!(t.max_queries, Some(None), "unlimited, said so");
        assert_eq!(t.idle, Some(Duration::from_secs(60)));
        let t = parse("timeouts {\nmaxtcpqueries 99999999999\n}").unwrap();
        assert_eq!(t.max_queries, Some(Some(u32::MAX)));
        assert_eq!(parse("timeouts {\nread 5s\n}").unwrap().max_queries, None);
        for (n, want) in [
            ("0", "Corefile:2: maxtcpqueries provided '0' needs to be -1 (unlimited) or a positive integer"),
            ("-2", "Corefile:2: maxtcpqueries provided '-2' needs to be -1 (unlimited) or a positive integer"),
            ("ten", "Corefile:2: invalid value for maxtcpqueries 'ten': strconv.Atoi: parsing \"ten\": invalid syntax"),
        ] {
            let e = parse(&format!("timeouts {{\nmaxtcpqueries {n}\n}}")).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        assert_eq!(
            parse("timeouts {\nmaxtcpqueries 1 2\n}")
                .unwrap_err()
                .to_string(),
            "Corefile:2: Wrong argument count or unexpected line ending after '2'"
        );
    }
}
