//! The `bind` directive: addresses and interface names into the block's
//! listen hosts.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::registry::ListenHost;
use crate::plugin::BlockSetup;
use std::net::IpAddr;

/// `bind ADDRESS|IFACE ... { except ADDRESS|IFACE ... }`, several times if needed.
pub fn setup(b: &mut BlockSetup, ds: &[&Directive]) -> Result<(), Error> {
    let ifaces = if_addrs::get_if_addrs().unwrap_or_else(|e| {
        crate::log::warning(
            Some("bind"),
            &format!("failed to get interfaces list, cannot bind by interface name: {e}"),
        );
        Vec::new()
    });
    let mut all = Vec::new();
    for dir in ds {
        let mut d = Dispenser::new(dir);
        d.next();
        let addrs = d.remaining_args();
        if addrs.is_empty() {
            return Err(d.err("at least one address or interface name is expected"));
        }
        let mut except = Vec::new();
        while d.next_block() {
            match d.val() {
                "except" => {
                    except = d.remaining_args();
                    if except.is_empty() {
                        return Err(d.err("at least one address or interface must be given to except subdirective"));
                    }
                }
                other => return Err(d.err(format!("invalid option \"{other}\""))),
            }
        }
        let ips = list(&addrs, &ifaces).map_err(|e| d.err(e.to_string()))?;
        let except = list(&except, &ifaces).map_err(|e| d.err(e.to_string()))?;
        all.extend(ips.into_iter().filter(|h| !except.contains(h)));
    }
    b.listen_hosts = all;
    Ok(())
}

/// An argument that is neither an IP address nor an interface's name.
#[derive(Debug, thiserror::Error)]
#[error("not a valid IP address or interface name: \"{0}\"")]
struct NotAddress(String);

fn list(args: &[String], ifaces: &[if_addrs::Interface]) -> Result<Vec<ListenHost>, NotAddress> {
    let mut out = Vec::new();
    for a in args {
        let mine: Vec<&if_addrs::Interface> = ifaces.iter().filter(|i| &i.name == a).collect();
        if !mine.is_empty() {
            for i in mine {
                let ip = i.ip();
                let scope_id = match ip {
                    IpAddr::V6(v6) if v6.is_unicast_link_local() => i.index.unwrap_or(0),
                    _ => 0,
                };
                out.push(ListenHost { ip, scope_id });
            }
            continue;
        }
        let (addr, zone) = a
            .split_once('%')
            .map_or((a.as_str(), None), |(x, z)| (x, Some(z)));
        let ip: IpAddr = addr.parse().map_err(|_| NotAddress(a.clone()))?;
        let scope_id = match zone {
            None => 0,
            Some(z) => ifaces
                .iter()
                .find(|i| i.name == z)
                .and_then(|i| i.index)
                .or_else(|| z.parse().ok())
                .ok_or_else(|| NotAddress(a.clone()))?,
        };
        out.push(ListenHost { ip, scope_id });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::directive;

    fn hosts(text: &str) -> Result<Vec<ListenHost>, crate::corefile::Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        setup(&mut b, &[&directive(text)])?;
        Ok(b.listen_hosts)
    }

    #[test]
    fn addresses_and_interfaces() {
        let h = hosts("bind 127.0.0.1 ::1").unwrap();
        assert_eq!(
            h.iter().map(|h| h.ip.to_string()).collect::<Vec<_>>(),
            ["127.0.0.1", "::1"]
        );
        let lo = hosts("bind lo").unwrap();
        assert!(lo.iter().any(|h| h.ip.to_string() == "127.0.0.1"), "{lo:?}");
        let ex = hosts("bind lo {\nexcept 127.0.0.1\n}").unwrap();
        assert!(!ex.iter().any(|h| h.ip.to_string() == "127.0.0.1"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            hosts("bind").unwrap_err().to_string(),
            "Corefile:1: at least one address or interface name is expected"
        );
        assert_eq!(
            hosts("bind nosuch0").unwrap_err().to_string(),
            "Corefile:1: not a valid IP address or interface name: \"nosuch0\""
        );
        assert_eq!(
            hosts("bind lo {\nfoo\n}").unwrap_err().to_string(),
            "Corefile:2: invalid option \"foo\""
        );
    }
}
