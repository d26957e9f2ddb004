//! The DNS bytes the probes send and read: queries built by hand (so that
//! they can be broken on purpose), a strict reader for replies (every
//! length inside the message, no byte left over), and the replies of the
//! upstreams the probes play.

use anyhow::{bail, Result};

pub const A: u16 = 1;
pub const TXT: u16 = 16;
pub const AAAA: u16 = 28;

pub const NOERROR: u8 = 0;
pub const FORMERR: u8 = 1;
pub const SERVFAIL: u8 = 2;
pub const NXDOMAIN: u8 = 3;
pub const NOTIMP: u8 = 4;

pub const QR: u16 = 0x8000;
pub const TC: u16 = 0x0200;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;
const AA: u16 = 0x0400;

/// The address every well-behaved upstream answers with, and the one a
/// misbehaving upstream tries to slip in: a reply holding the latter has
/// been poisoned.
pub const GOOD: [u8; 4] = [192, 0, 2, 1];
pub const BOGUS: [u8; 4] = [192, 0, 2, 66];

pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut m = Vec::with_capacity(512);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        m.extend_from_slice(&c.to_be_bytes());
    }
    m
}

/// An OPT record advertising `size` bytes (DO set when `dnssec`).
pub fn opt(size: u16, dnssec: bool) -> Vec<u8> {
    let mut o = vec![0, 0, 41];
    o.extend_from_slice(&size.to_be_bytes());
    o.extend_from_slice(&[0, 0, if dnssec { 0x80 } else { 0 }, 0, 0, 0]);
    o
}

/// A recursion-desired IN query, with an OPT of `edns` bytes when given.
pub fn query(id: u16, name: &str, qtype: u16, edns: Option<u16>) -> Vec<u8> {
    let mut m = header(id, RD, [1, 0, 0, u16::from(edns.is_some())]);
    m.extend_from_slice(&encode_name(name));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if let Some(size) = edns {
        m.extend_from_slice(&opt(size, false));
    }
    m
}

pub fn id(m: &[u8]) -> u16 {
    u16::from_be_bytes([m[0], m[1]])
}

#[derive(Debug)]
pub struct Record {
    pub name: String,
    pub rtype: u16,
    pub ttl: u32,
    pub data: Vec<u8>,
}

/// A reply read strictly: names may be compressed, but every name,
/// record and rdata must lie inside the message, and nothing may follow
/// the last record.
#[derive(Debug)]
pub struct Msg {
    pub id: u16,
    pub flags: u16,
    pub question: Vec<(String, u16)>,
    pub answer: Vec<Record>,
}

impl Msg {
    pub fn parse(b: &[u8]) -> Result<Msg> {
        if b.len() < 12 {
            bail!("{} bytes, shorter than a header", b.len());
        }
        let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let mut p = 12;
        let mut question = Vec::new();
        for _ in 0..u16at(4) {
            let (name, np) = read_name(b, p)?;
            if np + 4 > b.len() {
                bail!("question runs past the message");
            }
            question.push((name, u16at(np)));
            p = np + 4;
        }
        let mut sections: [Vec<Record>; 3] = Default::default();
        for (s, count) in [u16at(6), u16at(8), u16at(10)].into_iter().enumerate() {
            for _ in 0..count {
                let (name, np) = read_name(b, p)?;
                if np + 10 > b.len() {
                    bail!("record header runs past the message");
                }
                let len = usize::from(u16at(np + 8));
                let start = np + 10;
                if start + len > b.len() {
                    bail!("rdata runs past the message");
                }
                sections[s].push(Record {
                    name,
                    rtype: u16at(np),
                    ttl: u32::from_be_bytes([b[np + 4], b[np + 5], b[np + 6], b[np + 7]]),
                    data: b[start..start + len].to_vec(),
                });
                p = start + len;
            }
        }
        if p != b.len() {
            bail!("{} bytes after the last record", b.len() - p);
        }
        let [answer, ..] = sections;
        Ok(Msg {
            id: u16at(0),
            flags: u16at(2),
            question,
            answer,
        })
    }

    pub fn rcode(&self) -> u8 {
        (self.flags & 0xF) as u8
    }

    pub fn tc(&self) -> bool {
        self.flags & TC != 0
    }

    /// The A records of the answer section.
    pub fn addresses(&self) -> Vec<[u8; 4]> {
        self.answer
            .iter()
            .filter(|r| r.rtype == A)
            .filter_map(|r| r.data.as_slice().try_into().ok())
            .collect()
    }
}

/// The lowercased name at `p` (following pointers, at most 64 of them) and
/// the offset just after it where it is written.
pub fn read_name(b: &[u8], mut p: usize) -> Result<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..=64 {
        let Some(&len) = b.get(p) else {
            bail!("name runs past the message");
        };
        match len {
            0 => {
                if name.is_empty() {
                    name.push('.');
                }
                return Ok((name, end.unwrap_or(p + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let Some(&lo) = b.get(p + 1) else {
                    bail!("pointer runs past the message");
                };
                end.get_or_insert(p + 2);
                p = (usize::from(l & 0x3F) << 8) | usize::from(lo);
            }
            l if l & 0xC0 != 0 => bail!("label type {l:#x}"),
            l => {
                let Some(label) = b.get(p + 1..p + 1 + usize::from(l)) else {
                    bail!("label runs past the message");
                };
                name.push_str(&String::from_utf8_lossy(label).to_ascii_lowercase());
                name.push('.');
                p += 1 + usize::from(l);
            }
        }
    }
    bail!("compression pointer loop")
}

/// Where the first question of a query ends (its name written out, no
/// pointer), or None when it does not.
fn question_end(q: &[u8]) -> Option<usize> {
    let mut p = 12;
    while *q.get(p)? != 0 {
        let l = usize::from(q[p]);
        if l > 63 {
            return None;
        }
        p += 1 + l;
    }
    (p + 5 <= q.len()).then_some(p + 5)
}

/// The query's question name, lowercased.
pub fn qname(q: &[u8]) -> Option<String> {
    question_end(q)?;
    read_name(q, 12).ok().map(|(n, _)| n)
}

/// A reply to `q` (same ID and question) with `flags` beside QR, RD and
/// RA, and `answer` as the answer section's records, already encoded.
fn reply(q: &[u8], flags: u16, counts: [u16; 3], records: &[u8]) -> Option<Vec<u8>> {
    let end = question_end(q)?;
    let mut m = header(
        id(q),
        QR | RD | RA | flags,
        [1, counts[0], counts[1], counts[2]],
    );
    m.extend_from_slice(&q[12..end]);
    m.extend_from_slice(records);
    Some(m)
}

/// An A record for the question's name (a pointer to offset 12).
fn a_record(ttl: u32, addr: [u8; 4]) -> Vec<u8> {
    let mut r = vec![0xC0, 12, 0, 1, 0, 1];
    r.extend_from_slice(&ttl.to_be_bytes());
    r.extend_from_slice(&[0, 4]);
    r.extend_from_slice(&addr);
    r
}

/// An answer to `q` with one A record.
pub fn answer_a(q: &[u8], ttl: u32, addr: [u8; 4]) -> Option<Vec<u8>> {
    reply(q, 0, [1, 0, 0], &a_record(ttl, addr))
}

/// NXDOMAIN with an SOA in the authority section, so caches keep it.
pub fn answer_nx(q: &[u8], ttl: u32) -> Option<Vec<u8>> {
    let mut soa = encode_name("flood.test.");
    soa.extend_from_slice(&[0, 6, 0, 1]);
    soa.extend_from_slice(&ttl.to_be_bytes());
    let mut rdata = encode_name("ns.flood.test.");
    rdata.extend_from_slice(&encode_name("hostmaster.flood.test."));
    for v in [1u32, 7200, 3600, 1_209_600, ttl] {
        rdata.extend_from_slice(&v.to_be_bytes());
    }
    soa.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    soa.extend_from_slice(&rdata);
    reply(q, AA | u16::from(NXDOMAIN), [0, 1, 0], &soa)
}

/// The query's header and question with TC set and no records: what an
/// upstream sends when the answer does not fit a datagram.
pub fn answer_truncated(q: &[u8]) -> Option<Vec<u8>> {
    reply(q, TC, [0, 0, 0], &[])
}

/// A reply with another ID than the query's.
pub fn answer_wrong_id(q: &[u8]) -> Option<Vec<u8>> {
    let mut m = answer_a(q, 300, BOGUS)?;
    m[..2].copy_from_slice(&(id(q) ^ 0x5A5A).to_be_bytes());
    Some(m)
}

/// The name a wrong-question reply claims to answer.
pub const POISON_NAME: &str = "poison.torture.test.";

/// A reply with the query's ID but a question for `POISON_NAME`.
pub fn answer_wrong_question(q: &[u8]) -> Option<Vec<u8>> {
    question_end(q)?;
    answer_a(&query(id(q), POISON_NAME, A, None), 300, BOGUS)
}

/// A small deterministic generator (xorshift64*): the inputs are the same
/// on every run, so a failure can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_replies_parse() {
        let q = query(7, "Www.Example.org.", A, Some(1232));
        assert_eq!(qname(&q).as_deref(), Some("www.example.org."));
        let m = Msg::parse(&answer_a(&q, 60, GOOD).unwrap()).unwrap();
        assert_eq!((m.id, m.addresses()), (7, vec![GOOD]));
        let nx = Msg::parse(&answer_nx(&q, 60).unwrap()).unwrap();
        assert_eq!((nx.rcode(), nx.answer.len()), (NXDOMAIN, 0));
        let w = Msg::parse(&answer_wrong_question(&q).unwrap()).unwrap();
        assert_eq!(w.question[0].0, POISON_NAME);
        assert!(Msg::parse(&answer_truncated(&q).unwrap()).unwrap().tc());
    }

    #[test]
    fn the_reader_refuses_loops_and_leftovers() {
        let mut q = query(1, "a.", A, None);
        assert!(Msg::parse(&q).is_ok());
        q.push(0);
        assert!(Msg::parse(&q).is_err());
        let mut looped = header(1, 0, [1, 0, 0, 0]);
        looped.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert!(Msg::parse(&looped).is_err());
    }
}
