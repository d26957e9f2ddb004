//! Go's `net.SplitHostPort`, `net.JoinHostPort` and `net.ParseCIDR`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Go's `*net.AddrError` from `SplitHostPort`: `address X: missing port in address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrError {
    pub addr: String,
    pub why: &'static str,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "address {}: {}", self.addr, self.why)
    }
}

impl std::error::Error for AddrError {}

/// Go's `net.SplitHostPort`: host (without brackets) and port.
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), AddrError> {
    let err = |why| {
        Err(AddrError {
            addr: hostport.to_string(),
            why,
        })
    };
    let Some(i) = hostport.rfind(':') else {
        return err("missing port in address");
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return err("missing port in address");
        } else if end + 1 != i {
            if hostport.as_bytes()[end + 1] == b':' {
                return err("too many colons in address");
            }
            return err("missing port in address");
        }
        host = &hostport[1..end];
        (j, k) = (1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return err("too many colons in address");
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') {
        return err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

/// Go's `net.JoinHostPort`: brackets around a host with a colon.
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A network as Go's `net.ParseCIDR` reads it: the address as written and
/// the prefix length, over 32 bits for an IPv4 address, 128 for any IPv6
/// address (an IPv4-mapped one too).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub bits: u8,
}

/// Go's `*net.ParseError` from `ParseCIDR`: `invalid CIDR address: TEXT`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR address: {0}")]
pub struct CidrError(pub String);

/// Go's `net.ParseCIDR`: an address without zone, `/`, a decimal prefix
/// length (leading zeros allowed, nothing else) no longer than the address.
pub fn parse_cidr(s: &str) -> Result<Cidr, CidrError> {
    let err = || CidrError(s.to_string());
    let (addr, bits) = s.split_once('/').ok_or_else(err)?;
    let addr: IpAddr = addr.parse().map_err(|_| err())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    // Go's dtoi: digits only, giving up at 0xFFFFFF.
    let mut n: u32 = 0;
    for c in bits.bytes() {
        if !c.is_ascii_digit() {
            return Err(err());
        }
        n = n * 10 + u32::from(c - b'0');
        if n >= 0xFF_FFFF {
            return Err(err());
        }
    }
    if bits.is_empty() || n > max {
        return Err(err());
    }
    Ok(Cidr {
        addr,
        bits: n as u8,
    })
}

impl Cidr {
    /// The mask's size in bits: 32 or 128 (Go's `IPMask.Size`'s second value).
    pub fn total(&self) -> u8 {
        if self.addr.is_ipv4() {
            32
        } else {
            128
        }
    }

    /// The address masked to the prefix (`IPNet.IP`).
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
        }
    }
}

/// `IPNet.String()`: the network and its prefix length; an IPv4-mapped
/// network is written as IPv4, its length counted in the last 32 bits.
impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.network() {
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => write!(f, "{v4}/{}", self.bits.saturating_sub(96)),
                None => write!(f, "{a}/{}", self.bits),
            },
            v4 => write!(f, "{v4}/{}", self.bits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_parse_cidr() {
        let c = parse_cidr("64:ff9b::1/96").unwrap();
        assert_eq!((c.bits, c.total()), (96, 128));
        assert_eq!(c.to_string(), "64:ff9b::/96");
        assert_eq!(parse_cidr("8.8.8.8/24").unwrap().to_string(), "8.8.8.0/24");
        assert_eq!(parse_cidr("8.8.8.8/24").unwrap().total(), 32);
        // IPv4-mapped: 128 bits, written as IPv4 (Go's quirk).
        let m = parse_cidr("::ffff:1.2.3.4/120").unwrap();
        assert_eq!((m.bits, m.total()), (120, 128));
        assert_eq!(m.to_string(), "1.2.3.0/24");
        assert_eq!(
            parse_cidr("::ffff:0:0/96").unwrap().to_string(),
            "0.0.0.0/0"
        );
        assert_eq!(
            parse_cidr("::ffff:1.2.3.4/64").unwrap().to_string(),
            "::/64"
        );
        assert_eq!(parse_cidr("10.0.0.0/0008").unwrap().bits, 8);
        assert_eq!(parse_cidr("::/0000000000000096").unwrap().bits, 96);
        for bad in [
            "foo",
            "64:ff9b::",
            "64:ff9b::/",
            "64:ff9b::/+96",
            "64:ff9b::/96 ",
            "64:ff9b::/129",
            "1.2.3.4/33",
            "01.2.3.4/8",
            "fe80::1%eth0/64",
            "::/16777215",
        ] {
            assert_eq!(
                parse_cidr(bad).unwrap_err().to_string(),
                format!("invalid CIDR address: {bad}")
            );
        }
    }

    #[test]
    fn go_split_host_port() {
        let e = |s: &str| split_host_port(s).unwrap_err().to_string();
        assert_eq!(split_host_port("localhost:9153"), Ok(("localhost", "9153")));
        assert_eq!(split_host_port(":8080"), Ok(("", "8080")));
        assert_eq!(split_host_port("[::1]:53"), Ok(("::1", "53")));
        assert_eq!(
            split_host_port("[fe80::1%eth0]:53"),
            Ok(("fe80::1%eth0", "53"))
        );
        assert_eq!(split_host_port("bla:a"), Ok(("bla", "a")));
        assert_eq!(e("/foo"), "address /foo: missing port in address");
        assert_eq!(e("::1:53"), "address ::1:53: too many colons in address");
        assert_eq!(e("[::1"), "address [::1: missing ']' in address");
        assert_eq!(e("[::1]"), "address [::1]: missing port in address");
        assert_eq!(e("[::1]x:53"), "address [::1]x:53: missing port in address");
        assert_eq!(
            e("[::1]::53"),
            "address [::1]::53: too many colons in address"
        );
        assert_eq!(e("a]:53"), "address a]:53: unexpected ']' in address");
        assert_eq!(e("a[:53"), "address a[:53: unexpected '[' in address");
    }

    #[test]
    fn go_join_host_port() {
        assert_eq!(join_host_port("::1", "53"), "[::1]:53");
        assert_eq!(join_host_port("1.2.3.4", "53"), "1.2.3.4:53");
        assert_eq!(join_host_port("", "8080"), ":8080");
    }
}
