//! The `health` directive: the /health endpoint's address and lameduck.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::duration;
use crate::plugin::endpoint::{self, HttpSpec, Route};
use crate::plugin::BlockSetup;
use std::time::Duration;

pub const DEFAULT_ADDR: &str = ":8080";

/// `health [ADDRESS] { lameduck DURATION }`. Every occurrence is read; the
/// last address and lameduck given win.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut addr = String::new();
    let mut lameduck = Duration::ZERO;
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        let args = d.remaining_args();
        // An occurrence without an address keeps the last one given.
        let given = endpoint::optional_arg(&d, &args, "")?;
        if !given.is_empty() {
            addr = given;
        }
        while d.next_block() {
            match d.val() {
                "lameduck" => {
                    let args = d.remaining_args();
                    let [v] = args.as_slice() else {
                        return Err(d.arg_err());
                    };
                    // A negative duration is valid and means no lameduck.
                    let (neg, dur) = duration::parse_signed(v).map_err(|e| {
                        d.err(format!(
                            "unable to parse lameduck duration value: '{v}' : {e}"
                        ))
                    })?;
                    lameduck = if neg { Duration::ZERO } else { dur };
                }
                v => return Err(d.err(format!("unknown property '{v}'"))),
            }
        }
    }
    if addr.is_empty() {
        addr = DEFAULT_ADDR.into();
    }
    b.http.push(HttpSpec {
        addr,
        route: Route::Health { lameduck },
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    fn run(text: &str) -> Result<HttpSpec, crate::corefile::Error> {
        crate::plugins::testutil::http_spec(setup, text)
    }

    #[test]
    fn parses() {
        let s = run("health").unwrap();
        assert_eq!(s.addr, ":8080");
        assert_eq!(
            s.route,
            Route::Health {
                lameduck: Duration::ZERO
            }
        );
        assert_eq!(run("health localhost:1234").unwrap().addr, "localhost:1234");
        assert_eq!(
            run("health localhost:1234 {\n lameduck 4s\n}")
                .unwrap()
                .route,
            Route::Health {
                lameduck: Duration::from_secs(4)
            }
        );
        assert_eq!(run("health bla:a").unwrap().addr, "bla:a");
        assert_eq!(
            run("health {\n lameduck -1s\n}").unwrap().route,
            Route::Health {
                lameduck: Duration::ZERO
            }
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("health bla").unwrap_err().msg,
            "address bla: missing port in address"
        );
        assert_eq!(
            run("health bla bla").unwrap_err().msg,
            "Wrong argument count or unexpected line ending after 'bla'"
        );
        assert_eq!(
            run("health localhost:1234 {\n lameduck a\n}")
                .unwrap_err()
                .msg,
            "unable to parse lameduck duration value: 'a' : time: invalid duration \"a\""
        );
        assert_eq!(
            run("health localhost:1234 {\n lameduck 4\n}")
                .unwrap_err()
                .msg,
            "unable to parse lameduck duration value: '4' : time: missing unit in duration \"4\""
        );
        assert_eq!(
            run("health {\n lameduck 4x\n}").unwrap_err().msg,
            "unable to parse lameduck duration value: '4x' : time: unknown unit \"x\" in duration \"4x\""
        );
        assert_eq!(
            run("health localhost:1234 {\n lamedudk 4\n}")
                .unwrap_err()
                .msg,
            "unknown property 'lamedudk'"
        );
    }

    #[test]
    fn last_occurrence_wins() {
        let a = directive("health :1111 {\n lameduck 2s\n}");
        let b2 = directive("health");
        let mut b = BlockSetup::new(vec![".".into()]);
        setup(&mut b, &[&a, &b2]).unwrap();
        assert_eq!(b.http.len(), 1);
        assert_eq!(b.http[0].addr, ":1111");
    }
}
