//! The query's OPT record as miekg shows it (`*dns.OPT`): its accessors,
//! its `String()` pseudo-section, the text and Go type of each option.

use super::Opt;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const DO: u32 = 1 << 15;
const CO: u32 = 1 << 14;

impl Opt {
    pub(super) fn version(&self) -> u8 {
        (self.ttl >> 16) as u8
    }

    /// miekg's `ExtendedRcode()`: the upper eight bits, shifted into place.
    pub(super) fn extended_rcode(&self) -> i64 {
        i64::from(self.ttl >> 24) << 4
    }

    pub(super) fn do_bit(&self) -> bool {
        self.ttl & DO != 0
    }

    pub(super) fn co_bit(&self) -> bool {
        self.ttl & CO != 0
    }

    pub(super) fn z(&self) -> u16 {
        (self.ttl & 0x3fff) as u16
    }

    /// The record's RDATA length: each option's code, length and data.
    pub(super) fn rdlength(&self) -> usize {
        self.options.iter().map(|(_, d)| 4 + d.len()).sum()
    }

    /// miekg's `OPT.String()`: the pseudo-section dig prints.
    pub(super) fn text(&self) -> String {
        let mut s = format!(
            "\n;; OPT PSEUDOSECTION:\n; EDNS: version {}; flags:",
            self.version()
        );
        if self.do_bit() {
            s.push_str(" do");
        }
        if self.co_bit() {
            s.push_str(" co");
        }
        s.push_str("; ");
        if self.z() != 0 {
            let _ = write!(s, "MBZ: 0x{:04x}, ", self.z());
        }
        let _ = write!(s, "udp: {}", self.udp_size);
        for (code, data) in &self.options {
            let label = match *code {
                3 => "NSID",
                8 => "SUBNET",
                10 => "COOKIE",
                9 => "EXPIRE",
                11 => "KEEPALIVE",
                2 => "UPDATE LEASE",
                12 => "PADDING",
                15 => "EDE",
                4 => "ESU",
                // The types whose text ferrodns does not write are shown
                // as miekg shows unknown options.
                _ => "LOCAL OPT",
            };
            let _ = write!(s, "\n; {label}: {}", option_text(*code, data));
            if *code == 3 {
                s.push_str("  ");
                for b in data {
                    let _ = write!(s, "({})", char::from(*b));
                }
            }
        }
        s
    }
}

/// The Go type miekg gives an option of this code.
pub(super) fn option_type(code: u16) -> &'static str {
    match code {
        2 => "dns.EDNS0_UL",
        3 => "dns.EDNS0_NSID",
        4 => "dns.EDNS0_ESU",
        8 => "dns.EDNS0_SUBNET",
        9 => "dns.EDNS0_EXPIRE",
        10 => "dns.EDNS0_COOKIE",
        11 => "dns.EDNS0_TCP_KEEPALIVE",
        12 => "dns.EDNS0_PADDING",
        15 => "dns.EDNS0_EDE",
        _ => "dns.EDNS0_LOCAL",
    }
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// An option's `String()`.
pub(super) fn option_text(code: u16, data: &[u8]) -> String {
    let be16 = |b: &[u8]| u16::from_be_bytes([b[0], b[1]]);
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    match code {
        3 | 10 => hex(data),
        12 => data.iter().map(|b| format!("{b:02X}")).collect(),
        4 => String::from_utf8_lossy(data).into_owned(),
        9 if data.is_empty() => String::new(),
        9 if data.len() >= 4 => be32(data).to_string(),
        11 if data.len() == 2 && be16(data) != 0 => {
            format!(
                "use tcp keep-alive, timeout {}ms",
                u32::from(be16(data)) * 100
            )
        }
        11 => "use tcp keep-alive, timeout omitted".into(),
        2 if data.len() >= 4 => {
            let key = if data.len() >= 8 { be32(&data[4..]) } else { 0 };
            format!("{} {key}", be32(data))
        }
        15 if data.len() >= 2 => {
            let info = be16(data);
            let mut s = info.to_string();
            if let Some(name) = ede_name(info) {
                let _ = write!(s, " ({name})");
            }
            format!("{s}: ({})", String::from_utf8_lossy(&data[2..]))
        }
        8 if data.len() >= 4 => subnet_text(data),
        _ => format!("{code}:0x{}", hex(data)),
    }
}

/// A client subnet option: `ADDRESS/SOURCE/SCOPE`.
fn subnet_text(data: &[u8]) -> String {
    let family = u16::from_be_bytes([data[0], data[1]]);
    let (source, scope) = (data[2], data[3]);
    let addr = &data[4..];
    let ip = match family {
        2 => {
            let mut b = [0u8; 16];
            let n = addr.len().min(16);
            b[..n].copy_from_slice(&addr[..n]);
            IpAddr::V6(Ipv6Addr::from(b))
        }
        1 => {
            let mut b = [0u8; 4];
            let n = addr.len().min(4);
            b[..n].copy_from_slice(&addr[..n]);
            IpAddr::V4(Ipv4Addr::from(b))
        }
        _ => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    };
    let shown = match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
        v4 => v4.to_string(),
    };
    format!("{shown}/{source}/{scope}")
}

/// miekg's `ExtendedErrorCodeToString`.
fn ede_name(code: u16) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "Other",
        "Unsupported DNSKEY Algorithm",
        "Unsupported DS Digest Type",
        "Stale Answer",
        "Forged Answer",
        "DNSSEC Indeterminate",
        "DNSSEC Bogus",
        "Signature Expired",
        "Signature Not Yet Valid",
        "DNSKEY Missing",
        "RRSIGs Missing",
        "No Zone Key Bit Set",
        "NSEC Missing",
        "Cached Error",
        "Not Ready",
        "Blocked",
        "Censored",
        "Filtered",
        "Prohibited",
        "Stale NXDOMAIN Answer",
        "Not Authoritative",
        "Not Supported",
        "No Reachable Authority",
        "Network Error",
        "Invalid Data",
        "Signature Expired Before Valid",
        "Too Early",
        "Unsupported NSEC3 Iterations Value",
        "Unable To Conform To Policy",
        "Synthesized",
        "Invalid Query Type",
    ];
    NAMES.get(usize::from(code)).copied()
}
