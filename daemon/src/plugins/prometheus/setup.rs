//! The `prometheus` directive: the `/metrics` address, once per block.

use super::Prometheus;
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::endpoint::{self as addr, HttpSpec, Route};
use crate::plugin::BlockSetup;

/// Where CoreDNS serves `/metrics` unless told otherwise.
pub const DEFAULT_ADDR: &str = "localhost:9153";

/// `prometheus [ADDRESS] { runtime_metrics }`, once per block.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Prometheus, Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    let addr = addr::optional_arg(&d, &args, DEFAULT_ADDR)?;
    while d.next_block() {
        match d.val() {
            // Go's runtime metrics; there is no Go runtime to export.
            "runtime_metrics" => {
                if !d.remaining_args().is_empty() {
                    return Err(d.arg_err());
                }
            }
            "tls" => {
                if d.remaining_args().len() != 1 {
                    return Err(d.arg_err());
                }
                return Err(
                    d.err("tls is not supported by ferrodns: /metrics is served over plain HTTP")
                );
            }
            v => return Err(d.err(format!("unknown option: {v}"))),
        }
    }
    crate::plugin::registry::only_once(ds)?;
    b.http.push(HttpSpec {
        addr,
        route: Route::Metrics,
    });
    Ok(Prometheus {
        zones: b.origins.clone(),
        added: std::sync::Arc::clone(&b.added_zones),
        next: "",
        slot: b.slot(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    fn run(text: &str) -> Result<BlockSetup, crate::corefile::Error> {
        let d = directive(text);
        let mut b = BlockSetup::new(vec!["example.org.".into()]);
        setup(&mut b, &[&d])?;
        Ok(b)
    }

    #[test]
    fn addresses() {
        assert_eq!(run("prometheus").unwrap().http[0].addr, "localhost:9153");
        assert_eq!(
            run("prometheus localhost:53").unwrap().http[0].addr,
            "localhost:53"
        );
        assert_eq!(
            run("prometheus :9253 {\n runtime_metrics\n}").unwrap().http[0].addr,
            ":9253"
        );
        assert_eq!(
            run("prometheus {\n runtime_metrics\n}").unwrap().http[0].route,
            Route::Metrics
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            run("prometheus /foo").err().unwrap().msg,
            "address /foo: missing port in address"
        );
        assert_eq!(
            run("prometheus {}").err().unwrap().msg,
            "address {}: missing port in address"
        );
        assert_eq!(
            run("prometheus a b c").err().unwrap().msg,
            "Wrong argument count or unexpected line ending after 'c'"
        );
        assert!(run("prometheus {\n runtime_metrics extra\n}").is_err());
        assert_eq!(
            run("prometheus {\n bogus\n}").err().unwrap().msg,
            "unknown option: bogus"
        );
        let d1 = directive("prometheus");
        let mut b = BlockSetup::new(vec![".".into()]);
        let e = setup(&mut b, &[&d1, &d1]).map(|_| ()).unwrap_err();
        assert_eq!(e.msg, "this plugin can only be used once per Server Block");
    }
}
