//! The `chaos` directive: the version and authors it answers with.

use super::{trim, Chaos};
use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::BlockSetup;

/// CoreDNS's plugin/chaos/owners.go, which is what `authors.bind` lists by default.
const OWNERS: &[&str] = &[
    "bradbeam",
    "chrisohaver",
    "darshanime",
    "dilyevsky",
    "ekleiner",
    "greenpau",
    "ihac",
    "inigohu",
    "isolus",
    "jameshartig",
    "johnbelamaric",
    "miekg",
    "mqasimsarfraz",
    "nchrisdk",
    "nitisht",
    "pmoroney",
    "rajansandeep",
    "rdrozhdzh",
    "rtreffer",
    "snebel29",
    "stp-ip",
    "superq",
    "varyoo",
    "ykhr53",
    "yongtang",
    "zouyee",
];
/// `chaos [VERSION] [AUTHORS...]`
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<Chaos, Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    let version = match args.first() {
        None => super::SERVER_VERSION.to_string(),
        Some(v) => trim(v.clone()),
    };
    let authors = if args.len() > 1 {
        let mut a: Vec<String> = args[1..].iter().map(|s| trim(s.clone())).collect();
        a.sort();
        a.dedup();
        a
    } else {
        OWNERS.iter().map(|s| s.to_string()).collect()
    };
    if d.next_block() {
        return Err(d.err(format!("unknown property '{}'", d.val())));
    }
    b.class_chaos = true;
    Ok(Chaos { version, authors })
}
