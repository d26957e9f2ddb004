//! Names as miekg reads them in a zone file: any label of 1 to 63 bytes
//! (`\DDD` a decimal byte, `\X` the character X), where hickory's name
//! parser refuses labels that start with a hyphen or hold characters other
//! than letters, digits, `-` and `_`, and reads non-ASCII text as IDNA
//! (punycode) where miekg keeps the bytes.
//!
//! [`Labels`] lets hickory's zone parser read such names anyway: before
//! parsing, each label hickory would refuse or read another way is swapped
//! for a marker label of its own; afterwards the markers in the records'
//! names are swapped back for the label's bytes.

use hickory_proto::rr::domain::Label;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::HashMap;

/// The labels of a name in presentation form, split at unescaped dots and
/// read as miekg reads them; None for a name miekg refuses (an empty label
/// other than the root's, a label over 63 bytes, a name over 255).
fn split(s: &str) -> Option<Vec<Vec<u8>>> {
    let labels = crate::wire::fast::text_labels(s)?;
    let len = labels.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
    (len <= 255 && (s == "." || !labels.is_empty())).then_some(labels)
}

/// Whether the name in presentation form ends in an unescaped dot.
fn is_fqdn(s: &str) -> bool {
    let Some(rest) = s.strip_suffix('.') else {
        return false;
    };
    let slashes = rest.bytes().rev().take_while(|c| *c == b'\\').count();
    slashes % 2 == 0
}

/// A name as miekg's `toAbsoluteName` reads it, in the case it is written
/// in: `@` is the origin, a relative name goes below it.
pub(crate) fn parse(s: &str, origin: Option<&Name>) -> Option<Name> {
    if s == "@" {
        return origin.cloned();
    }
    if s.is_empty() {
        return None;
    }
    let labels = split(s)?;
    let mut n = Name::from_labels(
        labels
            .into_iter()
            .map(|l| Label::from_raw_bytes(&l))
            .collect::<Result<Vec<_>, _>>()
            .ok()?,
    )
    .ok()?;
    if is_fqdn(s) {
        n.set_fqdn(true);
        return Some(n);
    }
    match origin {
        Some(o) => n.append_domain(o).ok(),
        None => {
            n.set_fqdn(true);
            Some(n)
        }
    }
}

/// Whether hickory reads a label the way miekg does.
fn hickory_reads(l: &str) -> bool {
    !l.contains('\\') && Label::from_ascii(l).is_ok()
}

/// The labels swapped for markers in a file, and the marker's prefix.
pub(crate) struct Labels {
    prefix: String,
    labels: Vec<Vec<u8>>,
    index: HashMap<Vec<u8>, usize>,
}

impl Labels {
    pub fn new() -> Self {
        Labels {
            // Letters and digits only, so hickory reads it as it is.
            prefix: format!("f{:06x}z", rand::random::<u32>() & 0xff_ffff),
            labels: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The name token `s` with every label hickory would not read as miekg
    /// does swapped for a marker; None when there is none (or when miekg
    /// refuses the name: hickory's parser then gives the error).
    pub fn swap(&mut self, s: &str) -> Option<String> {
        if s == "@" || s == "." {
            return None;
        }
        let labels = split(s)?;
        // The labels' texts: `split` again on unescaped dots.
        let texts = texts(s);
        if texts.len() != labels.len() || texts.iter().all(|t| hickory_reads(t)) {
            return None;
        }
        let mut out = String::with_capacity(s.len() + 16);
        for (t, l) in texts.iter().zip(labels) {
            if hickory_reads(t) {
                out.push_str(t);
            } else {
                let n = self.labels.len();
                let i = *self.index.entry(l.clone()).or_insert(n);
                if i == n {
                    self.labels.push(l);
                }
                out.push_str(&self.prefix);
                out.push_str(&i.to_string());
            }
            out.push('.');
        }
        if !is_fqdn(s) {
            out.pop();
        }
        Some(out)
    }

    /// A name as text hickory reads back to `n` (the markers for labels it
    /// would not).
    pub fn text(&mut self, n: &Name) -> String {
        let mut out = String::new();
        for l in n.iter() {
            match std::str::from_utf8(l)
                .ok()
                .filter(|t| hickory_reads(t) && !t.contains('.'))
            {
                Some(t) => out.push_str(t),
                None => {
                    let i = self.labels.len();
                    self.labels.push(l.to_vec());
                    out.push_str(&self.prefix);
                    out.push_str(&i.to_string());
                }
            }
            out.push('.');
        }
        if out.is_empty() {
            out.push('.');
        }
        out
    }

    /// `n` with its markers swapped back; None when it has none.
    fn restore(&self, n: &Name) -> Option<Name> {
        let marker = |l: &[u8]| {
            let p = self.prefix.as_bytes();
            let rest = l.get(p.len()..)?;
            (l.len() > p.len() && l[..p.len()].eq_ignore_ascii_case(p))
                .then(|| std::str::from_utf8(rest).ok()?.parse::<usize>().ok())
                .flatten()
                .and_then(|i| self.labels.get(i))
        };
        if !n.iter().any(|l| marker(l).is_some()) {
            return None;
        }
        let labels = n
            .iter()
            .map(|l| Label::from_raw_bytes(marker(l).map_or(l, Vec::as_slice)))
            .collect::<Result<Vec<_>, _>>()
            .ok()?;
        let mut out = Name::from_labels(labels).ok()?;
        out.set_fqdn(n.is_fqdn());
        Some(out)
    }

    /// The record's owner and the names in its data with their markers
    /// swapped back.
    pub fn restore_record(&self, r: &mut Record) {
        if self.labels.is_empty() {
            return;
        }
        let fix = |n: &mut Name| {
            if let Some(m) = self.restore(n) {
                *n = m;
            }
        };
        fix(&mut r.name);
        match &mut r.data {
            RData::NS(n) => fix(&mut n.0),
            RData::CNAME(n) => fix(&mut n.0),
            RData::PTR(n) => fix(&mut n.0),
            RData::MX(m) => fix(&mut m.exchange),
            RData::SOA(s) => {
                fix(&mut s.mname);
                fix(&mut s.rname);
            }
            RData::SRV(s) => fix(&mut s.target),
            RData::NAPTR(n) => fix(&mut n.replacement),
            RData::SVCB(s) => fix(&mut s.target_name),
            RData::HTTPS(h) => fix(&mut h.0.target_name),
            _ => {}
        }
    }
}

/// Which tokens of the data of a type hickory's parser reads are names.
pub(crate) fn name_fields(t: RecordType) -> &'static [usize] {
    match t {
        RecordType::NS | RecordType::CNAME | RecordType::PTR => &[0],
        RecordType::MX | RecordType::SVCB | RecordType::HTTPS => &[1],
        RecordType::SOA => &[0, 1],
        RecordType::SRV => &[3],
        RecordType::NAPTR => &[5],
        _ => &[],
    }
}

/// The labels' texts of a name, split at unescaped dots (a last empty
/// one left out).
fn texts(s: &str) -> Vec<&str> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'.' => {
                out.push(&s[start..i]);
                i += 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    if start < b.len() {
        out.push(&s[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    #[test]
    fn reads_names_as_miekg() {
        let o = n("example.org.");
        let p = parse("-cd", Some(&o)).unwrap();
        assert_eq!(p.iter().next().unwrap(), b"-cd");
        assert_eq!(p.num_labels(), 3);
        assert!(p.is_fqdn());
        assert_eq!(parse("@", Some(&o)), Some(o.clone()));
        assert_eq!(
            parse("A\\066C.", None).unwrap().iter().next().unwrap(),
            b"ABC"
        );
        assert_eq!(
            parse("a\\.b.c.", None).unwrap().iter().next().unwrap(),
            b"a.b"
        );
        assert!(parse("a..b.", None).is_none());
        assert!(parse(&format!("{}.", "a".repeat(64)), None).is_none());
        assert!(parse("www.Example.", None)
            .unwrap()
            .iter()
            .any(|l| l == b"Example"));
        assert!(parse("a\\.", Some(&o)).unwrap().num_labels() == 3);
    }

    #[test]
    fn swaps_labels_hickory_refuses_and_restores_them() {
        let mut l = Labels::new();
        assert_eq!(l.swap("www.example.org."), None);
        assert_eq!(l.swap("@"), None);
        let s = l.swap("-cd.example.org.").unwrap();
        assert!(s.ends_with(".example.org."), "{s}");
        let parsed = Name::from_ascii(&s).unwrap();
        let back = l.restore(&parsed).unwrap();
        assert_eq!(back.iter().next().unwrap(), b"-cd");
        assert_eq!(back.num_labels(), 3);
        let rel = l.swap("a+b").unwrap();
        assert!(!rel.ends_with('.'));
        assert_eq!(l.swap("-cd").unwrap(), s.trim_end_matches(".example.org."));
        let origin = l.text(&parse("-x.org.", None).unwrap());
        assert!(Name::from_ascii(&origin).is_ok());
    }
}
