//! Query files in dnsperf's format (`NAME TYPE` per line) turned into wire bytes.

use anyhow::{bail, Context, Result};

/// One query ready to send: its wire form with ID 0, and where the question ends.
pub struct Query {
    pub wire: Vec<u8>,
    pub question_end: usize,
}

impl Query {
    /// The question section (name, type, class) as sent.
    pub fn question(&self) -> &[u8] {
        &self.wire[12..self.question_end]
    }
}

pub fn load(path: &str) -> Result<Vec<Query>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("read query file {path}"))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let name = parts.next().unwrap_or_default();
        let qtype = parts.next().unwrap_or("A");
        out.push(build(name, qtype).with_context(|| format!("{path}:{}", n + 1))?);
    }
    if out.is_empty() {
        bail!("{path} holds no queries");
    }
    Ok(out)
}

fn build(name: &str, qtype: &str) -> Result<Query> {
    // ID 0 (set per send), RD, one question.
    let mut wire = vec![0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        if label.len() > 63 {
            bail!("label {label:?} is longer than 63 bytes");
        }
        wire.push(label.len() as u8);
        wire.extend_from_slice(label.as_bytes());
    }
    wire.push(0);
    if wire.len() - 12 > 255 {
        bail!("name {name:?} is longer than 255 bytes");
    }
    wire.extend_from_slice(&type_code(qtype)?.to_be_bytes());
    wire.extend_from_slice(&1u16.to_be_bytes());
    let question_end = wire.len();
    Ok(Query { wire, question_end })
}

fn type_code(t: &str) -> Result<u16> {
    let up = t.to_ascii_uppercase();
    Ok(match up.as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "PTR" => 12,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        "SRV" => 33,
        "DS" => 43,
        "DNSKEY" => 48,
        "HTTPS" => 65,
        "ANY" => 255,
        _ => match up.strip_prefix("TYPE").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => bail!("unknown query type {t:?}"),
        },
    })
}

pub fn rcode_name(code: usize) -> String {
    match code {
        0 => "NOERROR".into(),
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("RCODE{n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_wire_question() {
        let q = build("www.Example.org.", "aaaa").unwrap();
        assert_eq!(
            q.question(),
            b"\x03www\x07Example\x03org\x00\x00\x1c\x00\x01".as_slice()
        );
        assert_eq!(&q.wire[..12], &[0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            build(".", "NS").unwrap().question(),
            b"\x00\x00\x02\x00\x01"
        );
        assert_eq!(type_code("TYPE65534").unwrap(), 65534);
        assert!(type_code("BOGUS").is_err());
    }
}
