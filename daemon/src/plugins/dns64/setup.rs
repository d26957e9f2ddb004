//! The `dns64` directive: `dns64 [PREFIX]` or `dns64 { prefix PREFIX;
//! translate_all; allow_ipv4 }`.

use super::{Dns64, Prefix};
use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::net::parse_cidr;
use crate::gocompat::quote::quote;
use crate::plugin::BlockSetup;
use std::net::IpAddr;

/// CoreDNS's dns64Parse: every line of every occurrence is read as Caddy
/// walks them (so a `dns64 PREFIX { ... }` block is read line by line as
/// if each were a directive of its own); later settings win.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Dns64, Error> {
    let mut p = Dns64 {
        prefix: Prefix::WELL_KNOWN,
        translate_all: false,
        allow_ipv4: false,
    };
    for dir in ds {
        let mut d = Dispenser::new(dir);
        while d.next() {
            let args = d.remaining_args();
            match args.as_slice() {
                [prefix] => {
                    p.prefix = parse_prefix(&d, prefix)?;
                    continue;
                }
                [] => {}
                _ => return Err(d.arg_err()),
            }
            while d.next_block() {
                match d.val() {
                    "prefix" => {
                        if !d.next_arg() {
                            return Err(d.arg_err());
                        }
                        p.prefix = parse_prefix(&d, d.val())?;
                    }
                    "translate_all" => p.translate_all = true,
                    "allow_ipv4" => p.allow_ipv4 = true,
                    other => return Err(d.err(format!("unknown property '{other}'"))),
                }
            }
        }
    }
    Ok(p)
}

/// CoreDNS's parsePrefix: an IPv6 network (Go's net.ParseCIDR) of 32 to
/// 96 bits, a whole number of bytes.
fn parse_prefix(d: &Dispenser<'_>, text: &str) -> Result<Prefix, Error> {
    let c = parse_cidr(text).map_err(|e| d.err(e.to_string()))?;
    let IpAddr::V6(net) = c.network() else {
        return Err(d.err(format!(
            "invalid netmask {} IPv6 address: {}",
            c.total(),
            quote(&c.to_string())
        )));
    };
    if c.bits % 8 != 0 || c.bits < 32 || c.bits > 96 {
        return Err(d.err(format!("invalid prefix length {}", quote(&c.to_string()))));
    }
    Ok(Prefix { net, bits: c.bits })
}
