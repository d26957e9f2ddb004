//! xdp (ferrodns's own directive, not CoreDNS's): the block's hot cache
//! hits answered in the kernel by an XDP program, before the network
//! stack. `xdp [INTERFACES...] { mode native|generic|auto; entries N;
//! promote HITS; required }`. The setup only reads the directive; the
//! server checks that the block may be served in the kernel (its chain
//! before `cache` does nothing the kernel cannot stand for) and attaches
//! the program.

use crate::corefile::{Directive, Dispenser, Error};
use crate::gocompat::strconv;
use crate::plugin::registry::{KernelPath, XdpMode};
use crate::plugin::BlockSetup;

/// The map's size when `entries` is not given.
pub const DEFAULT_ENTRIES: u32 = 8_192;
/// Hits before promotion when `promote` is not given: a name asked once
/// stays in userspace.
pub const DEFAULT_PROMOTE: u32 = 2;
/// The most entries a map may be given (the kernel's memory is locked).
pub const MAX_ENTRIES: u32 = 1 << 24;

pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    if ds.len() > 1 {
        let mut d = Dispenser::new(ds[1]);
        d.next();
        return Err(d.err("xdp can be given once per server block"));
    }
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let mut k = KernelPath {
        interfaces: d.remaining_args(),
        mode: XdpMode::Auto,
        entries: DEFAULT_ENTRIES,
        promote: DEFAULT_PROMOTE,
        required: false,
        pos: ds[0].pos().clone(),
    };
    while d.next_block() {
        let what = d.val().to_string();
        let args = d.remaining_args();
        let one = || match args.as_slice() {
            [a] => Ok(a.as_str()),
            _ => Err(d.arg_err()),
        };
        match what.as_str() {
            "mode" => {
                k.mode = match one()? {
                    "native" => XdpMode::Native,
                    "generic" => XdpMode::Generic,
                    "auto" => XdpMode::Auto,
                    m => {
                        return Err(d.err(format!(
                            "unknown mode '{m}': expected native, generic or auto"
                        )))
                    }
                }
            }
            "entries" => {
                let a = one()?;
                k.entries = number(&d, a, "entries", MAX_ENTRIES)?;
            }
            "promote" => {
                let a = one()?;
                k.promote = number(&d, a, "promote", u32::MAX)?;
            }
            "required" => {
                if !args.is_empty() {
                    return Err(d.arg_err());
                }
                k.required = true;
            }
            other => return Err(d.err(format!("unknown property '{other}'"))),
        }
    }
    b.xdp = Some(k);
    Ok(())
}

/// A count from 1 to `max`.
fn number(d: &Dispenser<'_>, a: &str, what: &str, max: u32) -> Result<u32, Error> {
    match strconv::atoi(a) {
        Ok(n) if n >= 1 && n as u64 <= u64::from(max) => Ok(n as u32),
        Ok(n) => Err(d.err(format!("{what} must be from 1 to {max}, not {n}"))),
        Err(e) => Err(d.err(format!("invalid {what} '{a}': {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directives;

    fn run(text: &str) -> Result<KernelPath, String> {
        let ds = directives(text);
        let refs: Vec<&Directive> = ds.iter().collect();
        let mut b = BlockSetup::new(vec![".".into()]);
        setup(&mut b, &refs).map_err(|e| e.to_string())?;
        Ok(b.xdp.expect("set"))
    }

    #[test]
    fn reads_the_directive() {
        let k = run("xdp").unwrap();
        assert!(k.interfaces.is_empty());
        assert_eq!(
            (k.mode, k.entries, k.promote, k.required),
            (XdpMode::Auto, DEFAULT_ENTRIES, DEFAULT_PROMOTE, false)
        );
        let k =
            run("xdp eth0 eth1 {\n mode native\n entries 1000\n promote 5\n required\n}").unwrap();
        assert_eq!(k.interfaces, ["eth0", "eth1"]);
        assert_eq!(
            (k.mode, k.entries, k.promote, k.required),
            (XdpMode::Native, 1000, 5, true)
        );
        assert_eq!(k.pos.line, 1);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (text, want) in [
            ("xdp {\n mode fast\n}", "unknown mode 'fast'"),
            ("xdp {\n entries 0\n}", "entries must be from 1 to"),
            ("xdp {\n entries x\n}", "invalid entries 'x'"),
            ("xdp {\n promote\n}", "Wrong argument count"),
            ("xdp {\n required yes\n}", "Wrong argument count"),
            ("xdp {\n bogus\n}", "unknown property 'bogus'"),
            ("xdp\nxdp", "xdp can be given once"),
        ] {
            let e = run(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
