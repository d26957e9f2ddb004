//! The `ready` directive: the /ready endpoint's address and monitor mode.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::endpoint::{self as addr, HttpSpec, Route};
use crate::plugin::BlockSetup;

pub const DEFAULT_ADDR: &str = ":8181";

/// `ready [ADDRESS] { monitor until-ready|continuously }`, once per block.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    let addr = addr::optional_arg(&d, &args, DEFAULT_ADDR)?;
    let mut continuously = false;
    while d.next_block() {
        match d.val() {
            "monitor" => {
                let args = d.remaining_args();
                let [v] = args.as_slice() else {
                    return Err(d.arg_err());
                };
                continuously = match v.as_str() {
                    "until-ready" => false,
                    "continuously" => true,
                    _ => return Err(d.err(format!("monitor type '{v}' not supported"))),
                };
            }
            v => return Err(d.err(format!("unknown property '{v}'"))),
        }
    }
    crate::plugin::registry::only_once(ds)?;
    b.http.push(HttpSpec {
        addr,
        route: Route::Ready { continuously },
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
        let s = run("ready").unwrap();
        assert_eq!(s.addr, ":8181");
        assert_eq!(
            s.route,
            Route::Ready {
                continuously: false
            }
        );
        assert_eq!(run("ready localhost:1234").unwrap().addr, "localhost:1234");
        assert_eq!(
            run("ready {\n monitor continuously\n}").unwrap().route,
            Route::Ready { continuously: true }
        );
        assert_eq!(
            run("ready {\n monitor until-ready\n}").unwrap().route,
            Route::Ready {
                continuously: false
            }
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("ready bla").unwrap_err().msg,
            "address bla: missing port in address"
        );
        assert!(run("ready a b").is_err());
        assert_eq!(
            run("ready {\n monitor sometimes\n}").unwrap_err().msg,
            "monitor type 'sometimes' not supported"
        );
        assert!(run("ready {\n monitor\n}").is_err());
        assert_eq!(
            run("ready {\n bogus\n}").unwrap_err().msg,
            "unknown property 'bogus'"
        );
        let d = directive("ready");
        let mut b = BlockSetup::new(vec![".".into()]);
        assert_eq!(
            setup(&mut b, &[&d, &d]).unwrap_err().msg,
            "this plugin can only be used once per Server Block"
        );
    }
}
