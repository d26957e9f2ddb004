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
        [
            Transport::Dns,
            Transport::Tls,
            Transport::Https,
            Transport::Grpc,
            Transport::Quic,
        ]
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
        write!(
            f,
            "{}://{}:{}",
            self.transport.scheme(),
            self.zone,
            self.port
        )
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
        reverse_zones(host).ok_or_else(|| err(format!("invalid CIDR \"{host}\" in \"{k}\"")))?
    } else {
        let zone = fqdn(&host.to_lowercase());
        if host.is_empty() || !valid_domain(&zone) {
            return Err(err(format!("zone is not a valid domain name: \"{k}\"")));
        }
        vec![zone]
    };
    Ok(zones
        .into_iter()
        .map(|zone| ZoneAddr {
            transport,
            zone,
            port,
        })
        .collect())
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
    let v6 = addr.contains(':')
        && addr
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
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
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    if bits == 0 {
        0
    } else {
        all & !((1u128 << (width - bits)) - 1) & all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corefile::Pos;

    fn tok(s: &str) -> Token {
        Token {
            text: s.to_string(),
            pos: Pos {
                file: "Corefile".into(),
                line: 3,
            },
        }
    }

    fn ok(s: &str, dns_port: u16) -> Vec<String> {
        parse_key(&tok(s), dns_port)
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .iter()
            .map(|z| z.to_string())
            .collect()
    }

    fn zones(s: &str) -> Vec<String> {
        parse_key(&tok(s), 53)
            .unwrap()
            .into_iter()
            .map(|z| z.zone)
            .collect()
    }

    fn err(s: &str) -> String {
        parse_key(&tok(s), 53).unwrap_err().to_string()
    }

    #[test]
    fn schemes_and_default_ports() {
        assert_eq!(ok("example.org", 53), ["dns://example.org.:53"]);
        assert_eq!(ok("dns://example.org", 53), ["dns://example.org.:53"]);
        assert_eq!(ok("tls://example.org", 53), ["tls://example.org.:853"]);
        assert_eq!(ok("https://example.org", 53), ["https://example.org.:443"]);
        assert_eq!(ok("grpc://example.org", 53), ["grpc://example.org.:443"]);
        assert_eq!(ok("quic://example.org", 53), ["quic://example.org.:853"]);
        assert_eq!(ok("TLS://example.org", 53), ["tls://example.org.:853"]);
        assert_eq!(ok("Dns://.", 53), ["dns://.:53"]);
        // -dns.port only changes dns://.
        assert_eq!(ok(".", 1053), ["dns://.:1053"]);
        assert_eq!(ok("dns://.", 1053), ["dns://.:1053"]);
        assert_eq!(ok("tls://.", 1053), ["tls://.:853"]);
        assert_eq!(ok("https://.", 1053), ["https://.:443"]);
        assert_eq!(ok("grpc://.", 1053), ["grpc://.:443"]);
        assert_eq!(ok("quic://.", 1053), ["quic://.:853"]);
        for (t, s) in [
            (Transport::Dns, "dns"),
            (Transport::Tls, "tls"),
            (Transport::Https, "https"),
            (Transport::Grpc, "grpc"),
            (Transport::Quic, "quic"),
        ] {
            assert_eq!(t.scheme(), s);
        }
        assert_eq!(
            err("udp://example.org"),
            "Corefile:3: unknown scheme \"udp\" in \"udp://example.org\" (expected dns, tls, https, grpc or quic)"
        );
    }

    #[test]
    fn explicit_ports() {
        assert_eq!(ok(".:1053", 53), ["dns://.:1053"]);
        assert_eq!(ok("example.org.:5353", 53), ["dns://example.org.:5353"]);
        assert_eq!(
            ok("tls://example.org:8853", 53),
            ["tls://example.org.:8853"]
        );
        assert_eq!(ok("https://.:8443", 1053), ["https://.:8443"]);
        assert_eq!(ok(".:65535", 53), ["dns://.:65535"]);
        assert_eq!(ok(".:1", 53), ["dns://.:1"]);
        assert_eq!(
            err(".:99999"),
            "Corefile:3: invalid port \"99999\" in \".:99999\""
        );
        assert_eq!(err(".:0"), "Corefile:3: invalid port \"0\" in \".:0\"");
        assert_eq!(
            err("example.org:abc"),
            "Corefile:3: invalid port \"abc\" in \"example.org:abc\""
        );
        assert_eq!(
            err("example.org:"),
            "Corefile:3: expecting data after last colon: \"example.org:\""
        );
        assert_eq!(
            err("dns://example.org:99999999999999999999"),
            "Corefile:3: invalid port \"99999999999999999999\" in \"dns://example.org:99999999999999999999\""
        );
    }

    #[test]
    fn zones_are_normalized_and_checked() {
        assert_eq!(zones("Example.ORG"), ["example.org."]);
        assert_eq!(zones("EXAMPLE.org."), ["example.org."]);
        assert_eq!(zones("."), ["."]);
        // RFC 2317 style names are ordinary zones.
        assert_eq!(
            zones("0/25.2.0.192.in-addr.arpa"),
            ["0/25.2.0.192.in-addr.arpa."]
        );
        assert_eq!(
            err("a..b"),
            "Corefile:3: zone is not a valid domain name: \"a..b\""
        );
        assert_eq!(
            err(":53"),
            "Corefile:3: zone is not a valid domain name: \":53\""
        );
        assert_eq!(
            err("dns://"),
            "Corefile:3: zone is not a valid domain name: \"dns://\""
        );
        let long_label = format!("{}.org", "a".repeat(64));
        assert_eq!(
            err(&long_label),
            format!("Corefile:3: zone is not a valid domain name: \"{long_label}\"")
        );
        assert_eq!(zones(&format!("{}.org", "a".repeat(63))).len(), 1);
        // 255 bytes in wire form is the limit.
        let name = |n: usize| vec!["a".repeat(63); n].join(".");
        let max = format!("{}.{}", name(3), "b".repeat(61)); // 3*64 + 62 + 1 = 255
        assert_eq!(zones(&max).len(), 1);
        assert!(err(&format!("{max}b")).contains("not a valid domain name"));
    }

    #[test]
    fn ipv4_cidr_reverse_zones() {
        assert_eq!(zones("10.0.0.0/24"), ["0.0.10.in-addr.arpa."]);
        assert_eq!(zones("10.0.0.0/8"), ["10.in-addr.arpa."]);
        assert_eq!(zones("192.168.1.7/32"), ["7.1.168.192.in-addr.arpa."]);
        assert_eq!(zones("0.0.0.0/0"), ["in-addr.arpa."]);
        assert_eq!(
            zones("10.0.0.0/23"),
            ["0.0.10.in-addr.arpa.", "1.0.10.in-addr.arpa."]
        );
        // /15 spans two /16s (CoreDNS's own test vector).
        assert_eq!(
            zones("10.0.0.0/15"),
            ["0.10.in-addr.arpa.", "1.10.in-addr.arpa."]
        );
        assert_eq!(
            zones("10.0.0.0/7"),
            ["10.in-addr.arpa.", "11.in-addr.arpa."]
        );
        // The address is masked, as Go's net.ParseCIDR does.
        assert_eq!(zones("10.0.0.1/24"), ["0.0.10.in-addr.arpa."]);
        assert_eq!(
            zones("10.0.3.0/23"),
            ["2.0.10.in-addr.arpa.", "3.0.10.in-addr.arpa."]
        );
        let z = zones("10.9.3.0/18");
        assert_eq!(z.len(), 64);
        assert_eq!(
            z[..3],
            [
                "0.9.10.in-addr.arpa.",
                "1.9.10.in-addr.arpa.",
                "2.9.10.in-addr.arpa."
            ]
        );
        assert_eq!(z[63], "63.9.10.in-addr.arpa.");
        assert_eq!(zones("10.0.0.0/1").len(), 128);
        assert_eq!(
            ok("172.16.0.0/12:1053", 53),
            (16..32)
                .map(|i| format!("dns://{i}.172.in-addr.arpa.:1053"))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            ok("tls://10.0.0.0/24", 53),
            ["tls://0.0.10.in-addr.arpa.:853"]
        );
    }

    #[test]
    fn ipv6_cidr_reverse_zones() {
        assert_eq!(
            zones("fd00::/64"),
            ["0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa."]
        );
        assert_eq!(zones("2001:DB8::/32"), ["8.b.d.0.1.0.0.2.ip6.arpa."]);
        assert_eq!(
            zones("2001:db8::/30"),
            [
                "8.b.d.0.1.0.0.2.ip6.arpa.",
                "9.b.d.0.1.0.0.2.ip6.arpa.",
                "a.b.d.0.1.0.0.2.ip6.arpa.",
                "b.b.d.0.1.0.0.2.ip6.arpa."
            ]
        );
        assert_eq!(zones("2001:db8::/29").len(), 8);
        assert_eq!(
            zones("2001:db8::/115"),
            [
                "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
            ]
        );
        assert_eq!(
            zones("2001:db8::/108"),
            ["0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."]
        );
        assert_eq!(zones("2001:db8::1/128")[0].matches('.').count(), 32 + 2);
        assert_eq!(ok("fd00::/8:1053", 53), ["dns://d.f.ip6.arpa.:1053"]);
        // Refused by CoreDNS: a leading ':' or '0'.
        assert_eq!(
            err("::fFFF:B:F/115"),
            "Corefile:3: invalid CIDR \"::fFFF:B:F/115\" in \"::fFFF:B:F/115\""
        );
        assert!(err("0::/0").contains("invalid CIDR"));
    }

    #[test]
    fn bad_cidrs_and_trailing_dot() {
        assert_eq!(
            err("10.0.0.0/33"),
            "Corefile:3: invalid CIDR \"10.0.0.0/33\" in \"10.0.0.0/33\""
        );
        assert_eq!(
            err("10.0.0.300/24"),
            "Corefile:3: invalid CIDR \"10.0.0.300/24\" in \"10.0.0.300/24\""
        );
        assert_eq!(
            err("dns://10.0.0/24:53"),
            "Corefile:3: invalid CIDR \"10.0.0/24\" in \"dns://10.0.0/24:53\""
        );
        assert!(err("fd00::/129").contains("invalid CIDR"));
        assert!(err("fd00:::1/64").contains("invalid CIDR"));
        // A trailing dot makes it an ordinary zone name, as in CoreDNS.
        assert_eq!(zones("10.0.0.0/24."), ["10.0.0.0/24."]);
        assert_eq!(ok("10.0.0.0/24.:1053", 53), ["dns://10.0.0.0/24.:1053"]);
    }
}
