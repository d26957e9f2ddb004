//! Just enough DNS wire format to build the suite's queries and to read
//! both servers' replies field by field. Written here rather than taken
//! from a library so that nothing is normalised on the way in: names keep
//! their case, every flag and OPT field is kept as sent.

use anyhow::{bail, Context, Result};
use std::fmt::Write as _;

/// One query of a case, as written in its `queries` file.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
    pub rd: bool,
    pub cd: bool,
    pub ad: bool,
    pub opcode: u8,
    /// EDNS: Some((udp size, version, DO)) when the query has an OPT.
    pub edns: Option<(u16, u8, bool)>,
    pub nsid: bool,
    /// Other EDNS options to send: (code, data).
    pub options: Vec<(u16, Vec<u8>)>,
}

pub const TYPES: &[(&str, u16)] = &[
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("NULL", 10),
    ("WKS", 11),
    ("PTR", 12),
    ("HINFO", 13),
    ("MX", 15),
    ("TXT", 16),
    ("AAAA", 28),
    ("SRV", 33),
    ("NAPTR", 35),
    ("DNAME", 39),
    ("OPT", 41),
    ("DS", 43),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("TLSA", 52),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("CAA", 257),
    ("IXFR", 251),
    ("AXFR", 252),
    ("ANY", 255),
];

pub fn type_code(s: &str) -> Option<u16> {
    let up = s.to_ascii_uppercase();
    if let Some(n) = up.strip_prefix("TYPE") {
        return n.parse().ok();
    }
    TYPES.iter().find(|(n, _)| *n == up).map(|(_, c)| *c)
}

pub fn type_name(t: u16) -> String {
    TYPES
        .iter()
        .find(|(_, c)| *c == t)
        .map(|(n, _)| n.to_string())
        .unwrap_or_else(|| format!("TYPE{t}"))
}

pub fn class_code(s: &str) -> Option<u16> {
    match s.to_ascii_uppercase().as_str() {
        "IN" => Some(1),
        "CH" | "CHAOS" => Some(3),
        "HS" => Some(4),
        "NONE" => Some(254),
        "ANY" => Some(255),
        s => s.strip_prefix("CLASS")?.parse().ok(),
    }
}

pub fn class_name(c: u16) -> String {
    match c {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        254 => "NONE".into(),
        255 => "ANY".into(),
        c => format!("CLASS{c}"),
    }
}

fn push_name(out: &mut Vec<u8>, name: &str) -> Result<()> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                bail!("bad label in {name:?}");
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    Ok(())
}

impl Query {
    pub fn encode(&self, id: u16) -> Result<Vec<u8>> {
        let mut m = Vec::with_capacity(64);
        m.extend_from_slice(&id.to_be_bytes());
        let mut f: u16 = (self.opcode as u16 & 0xF) << 11;
        if self.rd {
            f |= 0x0100;
        }
        if self.ad {
            f |= 0x0020;
        }
        if self.cd {
            f |= 0x0010;
        }
        m.extend_from_slice(&f.to_be_bytes());
        let ar = u16::from(self.edns.is_some());
        for n in [1u16, 0, 0, ar] {
            m.extend_from_slice(&n.to_be_bytes());
        }
        push_name(&mut m, &self.name)?;
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&self.qclass.to_be_bytes());
        if let Some((size, version, dnssec)) = self.edns {
            m.push(0);
            m.extend_from_slice(&41u16.to_be_bytes());
            m.extend_from_slice(&size.to_be_bytes());
            m.push(0);
            m.push(version);
            m.extend_from_slice(&(if dnssec { 0x8000u16 } else { 0 }).to_be_bytes());
            let mut rdata = Vec::new();
            if self.nsid {
                rdata.extend_from_slice(&[0, 3, 0, 0]);
            }
            for (code, data) in &self.options {
                rdata.extend_from_slice(&code.to_be_bytes());
                rdata.extend_from_slice(&(data.len() as u16).to_be_bytes());
                rdata.extend_from_slice(data);
            }
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(&rdata);
        }
        Ok(m)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub class: u16,
    pub ttl: u32,
    pub rdata: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opt {
    pub udp: u16,
    pub ext_rcode: u8,
    pub version: u8,
    pub dnssec: bool,
    /// The flag word's other bits (Z).
    pub z: u16,
    pub options: Vec<(u16, Vec<u8>)>,
    /// The OPT's owner name (should be the root).
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct Message {
    pub id: u16,
    pub flags: u16,
    pub question: Vec<(String, u16, u16)>,
    pub answer: Vec<Record>,
    pub authority: Vec<Record>,
    pub additional: Vec<Record>,
    pub opt: Option<Opt>,
    /// How many OPT records the additional section held.
    pub opt_count: usize,
}

pub const FLAGS: &[(&str, u16)] = &[
    ("qr", 0x8000),
    ("aa", 0x0400),
    ("tc", 0x0200),
    ("rd", 0x0100),
    ("ra", 0x0080),
    ("z", 0x0040),
    ("ad", 0x0020),
    ("cd", 0x0010),
];

pub fn rcode_name(r: u16) -> String {
    let n = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    match r {
        16 => "BADVERS".into(),
        23 => "BADCOOKIE".into(),
        r if (r as usize) < n.len() => n[r as usize].into(),
        r => format!("RCODE{r}"),
    }
}

impl Message {
    pub fn opcode(&self) -> u16 {
        (self.flags >> 11) & 0xF
    }

    /// The full rcode: the header's four bits and the OPT's extended bits.
    pub fn rcode(&self) -> u16 {
        let ext = self.opt.as_ref().map_or(0, |o| o.ext_rcode as u16);
        (ext << 4) | (self.flags & 0xF)
    }

    pub fn parse(b: &[u8]) -> Result<Message> {
        if b.len() < 12 {
            bail!("reply of {} bytes", b.len());
        }
        let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let counts = [u16at(4), u16at(6), u16at(8), u16at(10)];
        let mut p = 12;
        let mut question = Vec::new();
        for _ in 0..counts[0] {
            let (name, np) = read_name(b, p)?;
            p = np;
            if p + 4 > b.len() {
                bail!("short question");
            }
            question.push((name, u16at(p), u16at(p + 2)));
            p += 4;
        }
        let mut m = Message {
            id: u16at(0),
            flags: u16at(2),
            question,
            answer: vec![],
            authority: vec![],
            additional: vec![],
            opt: None,
            opt_count: 0,
        };
        for (section, &count) in counts[1..].iter().enumerate() {
            for _ in 0..count {
                let (name, np) = read_name(b, p)?;
                p = np;
                if p + 10 > b.len() {
                    bail!("short record header");
                }
                let (rtype, class) = (u16at(p), u16at(p + 2));
                let ttl = u32::from_be_bytes([b[p + 4], b[p + 5], b[p + 6], b[p + 7]]);
                let len = u16at(p + 8) as usize;
                p += 10;
                if p + len > b.len() {
                    bail!("short rdata");
                }
                if rtype == 41 && section == 2 {
                    m.opt_count += 1;
                    let mut options = Vec::new();
                    let mut q = p;
                    while q + 4 <= p + len {
                        let (code, olen) = (u16at(q), u16at(q + 2) as usize);
                        let end = (q + 4 + olen).min(p + len);
                        options.push((code, b[q + 4..end].to_vec()));
                        q = end;
                    }
                    m.opt = Some(Opt {
                        udp: class,
                        ext_rcode: (ttl >> 24) as u8,
                        version: (ttl >> 16) as u8,
                        dnssec: ttl & 0x8000 != 0,
                        z: (ttl & 0x7FFF) as u16,
                        options,
                        name,
                    });
                } else {
                    let rdata = render_rdata(b, p, len, rtype)
                        .with_context(|| format!("rdata of {name} {}", type_name(rtype)))?;
                    let r = Record {
                        name,
                        rtype,
                        class,
                        ttl,
                        rdata,
                    };
                    [&mut m.answer, &mut m.authority, &mut m.additional][section].push(r);
                }
                p += len;
            }
        }
        if p != b.len() {
            bail!("{} bytes after the last record", b.len() - p);
        }
        Ok(m)
    }

    /// dig-like text, one line per item, for showing side by side.
    pub fn render(&self) -> Vec<String> {
        let mut out = Vec::new();
        let flags: Vec<&str> = FLAGS
            .iter()
            .filter(|(_, bit)| self.flags & bit != 0)
            .map(|(n, _)| *n)
            .collect();
        out.push(format!(
            "opcode {} rcode {} flags {}",
            self.opcode(),
            rcode_name(self.rcode()),
            flags.join(" ")
        ));
        for (n, t, c) in &self.question {
            out.push(format!("Q {n} {} {}", class_name(*c), type_name(*t)));
        }
        for (tag, sec) in [
            ("AN", &self.answer),
            ("NS", &self.authority),
            ("AR", &self.additional),
        ] {
            for r in sec {
                out.push(format!("{tag} {}", r.render()));
            }
        }
        if let Some(o) = &self.opt {
            out.push(o.render());
        }
        out
    }
}

impl Record {
    pub fn render(&self) -> String {
        format!(
            "{} {} {} {} {}",
            self.name,
            self.ttl,
            class_name(self.class),
            type_name(self.rtype),
            self.rdata
        )
    }
}

impl Opt {
    pub fn render(&self) -> String {
        let mut s = format!(
            "OPT udp={} version={} do={} z={:#x}",
            self.udp, self.version, self.dnssec, self.z
        );
        if self.name != "." {
            let _ = write!(s, " owner={}", self.name);
        }
        for (code, data) in &self.options {
            let _ = write!(s, " opt{code}={}", hex(data));
        }
        s
    }
}

pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A (possibly compressed) name at `p`: its text, with the case as sent,
/// and the offset after it.
pub fn read_name(b: &[u8], mut p: usize) -> Result<(String, usize)> {
    let mut s = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let Some(&len) = b.get(p) else {
            bail!("name runs past the message")
        };
        match len {
            0 => {
                p += 1;
                break;
            }
            l if l & 0xC0 == 0xC0 => {
                let Some(&lo) = b.get(p + 1) else {
                    bail!("short pointer")
                };
                end.get_or_insert(p + 2);
                p = ((l as usize & 0x3F) << 8) | lo as usize;
                jumps += 1;
                if jumps > 64 {
                    bail!("pointer loop");
                }
            }
            l if l & 0xC0 != 0 => bail!("bad label type {l:#x}"),
            l => {
                let l = l as usize;
                let Some(label) = b.get(p + 1..p + 1 + l) else {
                    bail!("label runs past the message")
                };
                for &c in label {
                    match c {
                        b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                            s.push('\\');
                            s.push(c as char)
                        }
                        0x21..=0x7E => s.push(c as char),
                        c => {
                            let _ = write!(s, "\\{c:03}");
                        }
                    }
                }
                s.push('.');
                p += 1 + l;
            }
        }
    }
    if s.is_empty() {
        s.push('.');
    }
    Ok((s, end.unwrap_or(p)))
}

fn render_rdata(b: &[u8], p: usize, len: usize, rtype: u16) -> Result<String> {
    let d = &b[p..p + len];
    let end = p + len;
    let name_at = |q: usize| -> Result<(String, usize)> {
        let (n, np) = read_name(b, q)?;
        if np > end {
            bail!("name runs past the rdata");
        }
        Ok((n, np))
    };
    let u16at = |i: usize| -> Result<u16> {
        if i + 2 > end {
            bail!("short rdata");
        }
        Ok(u16::from_be_bytes([b[i], b[i + 1]]))
    };
    let u32at = |i: usize| -> Result<u32> {
        if i + 4 > end {
            bail!("short rdata");
        }
        Ok(u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]))
    };
    let whole = |np: usize, s: String| -> Result<String> {
        if np != end {
            bail!("{} stray bytes in rdata", end - np);
        }
        Ok(s)
    };
    Ok(match rtype {
        1 if len == 4 => format!("{}.{}.{}.{}", d[0], d[1], d[2], d[3]),
        28 if len == 16 => {
            let a: [u8; 16] = d.try_into()?;
            std::net::Ipv6Addr::from(a).to_string()
        }
        2 | 5 | 12 | 39 => {
            let (n, np) = name_at(p)?;
            whole(np, n)?
        }
        15 => {
            let pref = u16at(p)?;
            let (n, np) = name_at(p + 2)?;
            whole(np, format!("{pref} {n}"))?
        }
        6 => {
            let (mname, np) = name_at(p)?;
            let (rname, np) = name_at(np)?;
            let nums: Vec<String> = (0..5)
                .map(|i| u32at(np + 4 * i).map(|v| v.to_string()))
                .collect::<Result<_>>()?;
            whole(np + 20, format!("{mname} {rname} {}", nums.join(" ")))?
        }
        33 => {
            let (pr, w, port) = (u16at(p)?, u16at(p + 2)?, u16at(p + 4)?);
            let (n, np) = name_at(p + 6)?;
            whole(np, format!("{pr} {w} {port} {n}"))?
        }
        16 | 13 => {
            let mut parts = Vec::new();
            let mut q = 0;
            while q < d.len() {
                let l = d[q] as usize;
                let Some(s) = d.get(q + 1..q + 1 + l) else {
                    bail!("character-string runs past the rdata")
                };
                let mut t = String::from("\"");
                for &c in s {
                    match c {
                        b'"' | b'\\' => {
                            t.push('\\');
                            t.push(c as char)
                        }
                        0x20..=0x7E => t.push(c as char),
                        c => {
                            let _ = write!(t, "\\{c:03}");
                        }
                    }
                }
                t.push('"');
                parts.push(t);
                q += 1 + l;
            }
            parts.join(" ")
        }
        _ => format!("\\# {len} {}", hex(d)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips() {
        let q = Query {
            name: "Www.Example.org.".into(),
            qtype: 1,
            qclass: 1,
            rd: true,
            edns: Some((1232, 0, true)),
            nsid: true,
            ..Default::default()
        };
        let m = Message::parse(&q.encode(7).unwrap()).unwrap();
        assert_eq!(m.id, 7);
        assert_eq!(m.question, vec![("Www.Example.org.".into(), 1, 1)]);
        let o = m.opt.unwrap();
        assert_eq!(
            (o.udp, o.dnssec, o.options),
            (1232, true, vec![(3, vec![])])
        );
    }

    #[test]
    fn compressed_names_are_followed() {
        // Header, question example.org. A IN, answer with a pointer to 12.
        let mut b = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        b.extend_from_slice(b"\x07example\x03org\x00\x00\x01\x00\x01");
        b.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6]);
        b.extend_from_slice(&[3, b'w', b'w', b'w', 0xC0, 12]);
        let m = Message::parse(&b).unwrap();
        assert_eq!(m.answer[0].rdata, "www.example.org.");
        assert_eq!(m.answer[0].name, "example.org.");
    }
}
