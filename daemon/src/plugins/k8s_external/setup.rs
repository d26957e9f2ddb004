//! The `k8s_external` directive, as CoreDNS 1.14.7's `parse` reads it:
//!
//! ```text
//! k8s_external [ZONE...] {
//!     apex APEX
//!     ttl TTL
//!     headless
//!     fallthrough [ZONE...]
//! }
//! ```
//!
//! Every occurrence in a block is read in turn (CoreDNS's `for c.Next()`):
//! the last zones hold, options add up.

use super::K8sExternal;
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::{external, names, BlockSetup, Fallthrough};

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<K8sExternal, Error> {
    let mut e = K8sExternal::new(b.origins.clone(), ds[0].pos().clone());
    for dir in ds {
        let mut d = Dispenser::new(dir);
        while d.next() {
            e.zones = names::host_zones(&d.remaining_args(), &b.origins);
            while d.next_block() {
                match d.val() {
                    "ttl" => e.ttl = external::parse_ttl(&mut d)?,
                    "apex" => {
                        let args = d.remaining_args();
                        let Some(apex) = args.first() else {
                            return Err(d.arg_err());
                        };
                        e.apex = apex.clone();
                    }
                    "headless" => e.headless = true,
                    "fallthrough" => e.fall = Fallthrough::from_args(&d.remaining_args()),
                    other => return Err(d.err(format!("unknown property '{other}'"))),
                }
            }
        }
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{set_up, setup_err};

    #[test]
    fn reads_as_coredns() {
        let e = set_up(setup, "k8s_external").unwrap();
        assert_eq!(e.zones, ["."]);
        assert_eq!((e.apex.as_str(), e.ttl, e.headless), ("dns", 5, false));
        assert!(!e.fall.is_set());
        let e = set_up(
            setup,
            "k8s_external Example.ORG {\n apex testdns\n ttl 30\n headless\n}",
        )
        .unwrap();
        assert_eq!(e.zones, ["example.org."]);
        assert_eq!((e.apex.as_str(), e.ttl, e.headless), ("testdns", 30, true));
        let e = set_up(
            setup,
            "k8s_external example.org {\n fallthrough ip6.arpa foo.com\n}",
        )
        .unwrap();
        assert!(e.fall.through("x.foo.com.") && !e.fall.through("x.example.org."));
        let e = set_up(setup, "k8s_external example.org {\n fallthrough\n}").unwrap();
        assert!(e.fall.through("x.example.org."));
        // Two lines: the last zones, both lines' options.
        let e = set_up(setup, "k8s_external a.org {\n ttl 7\n}\nk8s_external b.org").unwrap();
        assert_eq!(
            (e.zones.as_slice(), e.ttl),
            (&["b.org.".to_string()][..], 7)
        );
    }

    #[test]
    fn errors_read_as_coredns() {
        let err = |t: &str| setup_err(setup, t);
        assert_eq!(
            err("k8s_external {\n ttl\n}"),
            "Corefile:2: Wrong argument count or unexpected line ending after 'ttl'"
        );
        assert_eq!(
            err("k8s_external {\n ttl five\n}"),
            "Corefile:2: strconv.Atoi: parsing \"five\": invalid syntax"
        );
        assert_eq!(
            err("k8s_external {\n ttl 3601\n}"),
            "Corefile:2: ttl must be in range [0, 3600]: 3601"
        );
        assert_eq!(
            err("k8s_external {\n apex\n}"),
            "Corefile:2: Wrong argument count or unexpected line ending after 'apex'"
        );
        assert_eq!(
            err("k8s_external {\n bogus\n}"),
            "Corefile:2: unknown property 'bogus'"
        );
        // An argument after `headless` is read as a property.
        assert_eq!(
            err("k8s_external {\n headless yes\n}"),
            "Corefile:2: unknown property 'yes'"
        );
    }
}
