//! Server block keys: `[scheme://]zone[:port]`, CIDR keys to reverse zones.

use super::{Error, Token};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The transport a server block key names by its scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Dns,
    Tls,
    Https,
    Grpc,
    Quic,
}

impl Transport {
    pub fn scheme(self) -> &'static str {
        match self {
            Transport::Dns => "dns",
            Transport::Tls => "tls",
            Transport::Https => "https",
            Transport::Grpc => "grpc",
            Transport::Quic => "quic",
        }
    }

    /// The transport a scheme names, matched case-insensitively.
    pub fn from_scheme(scheme: &str) -> Option<Self> {
        [Transport::Dns, Transport::Tls, Transport::Https, Transport::Grpc, Transport::Quic]
            .into_iter()
            .find(|t| t.scheme().eq_ignore_ascii_case(scheme))
    }

    /// The port a key of this transport gets when it names none; `dns_port`
    /// is the `-dns.port` default used for `dns://`.
    pub fn default_port(self, dns_port: u16) -> u16 {
        match self {
            Transport::Dns => dns_port,
            Transport::Tls | Transport::Quic => 853,
            Transport::Https | Transport::Grpc => 443,
        }
    }
}

/// One zone served on one transport and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZoneAddr {
    pub transport: Transport,
    /// Lowercased, fully qualified (`example.org.`, `.`, `0.0.10.in-addr.arpa.`).
    pub zone: String,
    pub port: u16,
}

impl fmt::Display for ZoneAddr {
    /// As CoreDNS prints it: `dns://example.org.:53`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.transport.scheme(), self.zone, self.port)
    }
}

/// Parses one server block key. `default_port` (the `-dns.port` flag) is used
/// for `dns://` keys without a port; other schemes default to their own port.
/// A CIDR key yields one reverse zone per octet (IPv4) or nibble (IPv6)
/// boundary it spans.
///
/// As in CoreDNS, the port is what follows the last `:` when that is all
/// digits; a CIDR's address need not be the network address (it is masked:
/// `10.0.0.1/24` is `0.0.10.in-addr.arpa.`); an IPv6 CIDR written with a
/// leading `:` or a leading `0` (`::/0`, `0::/64`) is refused; and a trailing
/// dot (`10.0.0.0/24.`) makes the key an ordinary zone name.
pub fn parse_key(key: &Token, default_port: u16) -> Result<Vec<ZoneAddr>, Error> {
    let k = key.text.as_str();
    let err = |msg: String| Error::new(&key.pos, msg);

    let (transport, rest) = match k.find("://") {
        Some(i) => {
            let scheme = &k[..i];
            let t = Transport::from_scheme(scheme).ok_or_else(|| {
                err(format!(
                    "unknown scheme \"{scheme}\" in \"{k}\" (expected dns, tls, https, grpc or quic)"
                ))
            })?;
            (t, &k[i + 3..])
        }
        None => (Transport::Dns, k),
    };

    let (host, port) = match rest.rfind(':') {
        None => (rest, None),
        Some(c) => {
            let after = &rest[c + 1..];
            if after.is_empty() {
                return Err(err(format!("expecting data after last colon: \"{k}\"")));
            }
            if after.bytes().all(|b| b.is_ascii_digit()) {
                let p = after
                    .parse::<u32>()
                    .ok()
                    .filter(|p| (1..=65535).contains(p))
                    .ok_or_else(|| err(format!("invalid port \"{after}\" in \"{k}\"")))?;
                (&rest[..c], Some(p as u16))
            } else if after.contains('/') && looks_like_cidr(rest.trim_end_matches('.')) {
                (rest, None) // the colons are an IPv6 CIDR's
            } else {
                return Err(err(format!("invalid port \"{after}\" in \"{k}\"")));
            }
        }
    };
    let port = port.unwrap_or_else(|| transport.default_port(default_port));

    let zones = if !host.ends_with('.') && looks_like_cidr(host) {
        reverse_zones(host)
            .ok_or_else(|| err(format!("invalid CIDR \"{host}\" in \"{k}\"")))?
    } else {
        let zone = fqdn(&host.to_lowercase());
        if !valid_domain(&zone) {
            return Err(err(format!("zone is not a valid domain name: \"{k}\"")));
        }
        vec![zone]
    };
    Ok(zones.into_iter().map(|zone| ZoneAddr { transport, zone, port }).collect())
}

fn fqdn(s: &str) -> String {
    if s.ends_with('.') {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// Labels of 1..=63 bytes, at most 255 bytes in wire form; `.` is the root.
fn valid_domain(fqdn: &str) -> bool {
    if fqdn == "." {
        return true;
    }
    let Some(name) = fqdn.strip_suffix('.') else {
        return false;
    };
    // Wire form: a length byte per label, the label, and the root's zero.
    name.len() + 2 <= 255 && name.split('.').all(|l| (1..=63).contains(&l.len()))
}

/// `ADDR/BITS` where ADDR is made of digits and dots (IPv4) or of hex
/// digits, colons and dots with at least one colon (IPv6): such a key is a
/// reverse zone and must parse as a CIDR. Anything else (`0/25.2.0.192.in-addr.arpa`,
/// `10.0.0.0/24.`) is a zone name.
fn looks_like_cidr(s: &str) -> bool {
    let Some((addr, bits)) = s.split_once('/') else {
        return false;
    };
    if addr.is_empty() || bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let v4 = addr.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let v6 = addr.contains(':') && addr.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
    v4 || v6
}

/// The reverse zones of a CIDR, one per value of a partial octet/nibble;
/// `None` when it does not parse (or is an IPv6 CIDR CoreDNS refuses).
fn reverse_zones(cidr: &str) -> Option<Vec<String>> {
    let (addr, bits) = cidr.split_once('/')?;
    let bits: u32 = bits.parse().ok()?;
    if addr.contains(':') {
        if addr.starts_with(':') || addr.starts_with('0') {
            return None; // as CoreDNS's SplitHostPort
        }
        let ip: Ipv6Addr = addr.parse().ok()?;
        if bits > 128 {
            return None;
        }
        let net = u128::from(ip) & mask128(bits, 128);
        let nibbles = bits.div_ceil(4);
        let spread = nibbles * 4 - bits; // bits of the last nibble left free
        Some(
            (0..1u128 << spread)
                .map(|i| {
                    let n = net | i.checked_shl(128 - nibbles * 4).unwrap_or(0);
                    let mut z = String::new();
                    for k in (0..nibbles).rev() {
                        let nib = (n >> (124 - 4 * k)) & 0xf;
                        z.push(char::from_digit(nib as u32, 16).unwrap_or('0'));
                        z.push('.');
                    }
                    z.push_str("ip6.arpa.");
                    z
                })
                .collect(),
        )
    } else {
        let ip: Ipv4Addr = addr.parse().ok()?;
        if bits > 32 {
            return None;
        }
        let net = u128::from(u32::from(ip)) & mask128(bits, 32);
        let octets = bits.div_ceil(8);
        let spread = octets * 8 - bits;
        Some(
            (0..1u128 << spread)
                .map(|i| {
                    let n = net | (i << (32 - octets * 8));
                    let mut z = String::new();
                    for k in (0..octets).rev() {
                        z.push_str(&((n >> (24 - 8 * k)) & 0xff).to_string());
                        z.push('.');
                    }
                    z.push_str("in-addr.arpa.");
                    z
                })
                .collect(),
        )
    }
}

/// A `width`-bit mask with the top `bits` bits set, in the low `width` bits.
fn mask128(bits: u32, width: u32) -> u128 {
    let all = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
    if bits == 0 {
        0
    } else {
        all & !((1u128 << (width - bits)) - 1) & all
    }
}
