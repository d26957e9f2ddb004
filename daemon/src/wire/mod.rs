//! DNS bytes without I/O: a zero-copy view of a query's header and question,
//! the checks the server makes before a full parse, and the small replies it
//! writes without one. Full parsing and building use hickory-proto.

pub mod edns;
pub mod fast;
pub mod mnemonics;

use hickory_proto::op::{Message, MessageType, OpCode};
use thiserror::Error;

pub const HEADER_LEN: usize = 12;
/// The longest domain name on the wire (RFC 1035 3.1).
pub const MAX_NAME_LEN: usize = 255;

pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_NOTIFY: u8 = 4;
pub const TYPE_OPT: u16 = 41;
/// The bits of [`Header::flags`].
pub mod flag {
    pub const QR: u16 = 0x8000;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const Z: u16 = 0x0040;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
    /// The DO bit of an OPT record's flags word.
    pub const DO: u16 = 0x8000;
}
/// The TC bit of [`Header::flags`].
pub const FLAG_TC: u16 = flag::TC;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("message shorter than a DNS header")]
    ShortHeader,
    #[error("question runs past the end of the message")]
    Truncated,
    #[error("label longer than 63 bytes")]
    LabelTooLong,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    #[error("compression pointer in the question")]
    Compressed,
    #[error("reserved label type")]
    BadLabel,
    #[error("no question")]
    NoQuestion,
}

/// The fixed 12-byte header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub id: u16,
    pub flags: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl Header {
    pub fn parse(b: &[u8]) -> Result<Header, WireError> {
        if b.len() < HEADER_LEN {
            return Err(WireError::ShortHeader);
        }
        let u = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Ok(Header {
            id: u(0),
            flags: u(2),
            qdcount: u(4),
            ancount: u(6),
            nscount: u(8),
            arcount: u(10),
        })
    }
    pub fn qr(&self) -> bool {
        self.flags & flag::QR != 0
    }
    pub fn opcode(&self) -> u8 {
        ((self.flags >> 11) & 0xF) as u8
    }
    pub fn rd(&self) -> bool {
        self.flags & flag::RD != 0
    }
    pub fn cd(&self) -> bool {
        self.flags & flag::CD != 0
    }
}

/// What the server does with a message before parsing it in full: miekg's
/// default accept function, which CoreDNS runs under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accept {
    Accept,
    /// Answer FORMERR (header only).
    Reject,
    /// Answer NOTIMP (header only).
    NotImplemented,
    /// Send nothing (a response, or too short to answer).
    Ignore,
}

pub fn accept(h: &Header) -> Accept {
    if h.qr() {
        return Accept::Ignore;
    }
    let op = h.opcode();
    if op != OPCODE_QUERY && op != OPCODE_NOTIFY {
        return Accept::NotImplemented;
    }
    if h.qdcount != 1 || h.ancount > 1 || h.nscount > 1 || h.arcount > 2 {
        return Accept::Reject;
    }
    Accept::Accept
}

/// A header-only reply, as miekg writes for rejected messages: the
/// request's header with QR set and AA and Z cleared (TC, RD, RA, AD and
/// CD stay as the client sent them), the opcode kept for NOTIMP and QUERY
/// otherwise (SetRcodeFormatError), no records.
pub fn header_reply(h: &Header, rcode: u8, out: &mut Vec<u8>) {
    let opcode = if rcode == 4 { h.opcode() } else { OPCODE_QUERY };
    let kept = h.flags & (flag::TC | flag::RD | flag::RA | flag::AD | flag::CD);
    let flags = flag::QR | (u16::from(opcode) << 11) | kept | u16::from(rcode & 0xF);
    out.clear();
    out.extend_from_slice(&h.id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0; 8]);
}

/// A zero-copy view of a query: header, the question's name bytes (no
/// compression allowed there), type and class.
#[derive(Clone, Copy, Debug)]
pub struct QueryView<'a> {
    pub header: Header,
    /// The question name as on the wire, labels and the root byte.
    pub qname: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    /// Offset just past the question.
    pub question_end: usize,
}

impl<'a> QueryView<'a> {
    pub fn parse(b: &'a [u8]) -> Result<QueryView<'a>, WireError> {
        let header = Header::parse(b)?;
        if header.qdcount == 0 {
            return Err(WireError::NoQuestion);
        }
        let mut i = HEADER_LEN;
        loop {
            let len = *b.get(i).ok_or(WireError::Truncated)? as usize;
            match len & 0xC0 {
                0x00 => {}
                0xC0 => return Err(WireError::Compressed),
                _ => return Err(WireError::BadLabel),
            }
            if len > 63 {
                return Err(WireError::LabelTooLong);
            }
            i += 1 + len;
            if i - HEADER_LEN > MAX_NAME_LEN {
                return Err(WireError::NameTooLong);
            }
            if len == 0 {
                break;
            }
        }
        let qname = &b[HEADER_LEN..i];
        let rest = b.get(i..i + 4).ok_or(WireError::Truncated)?;
        Ok(QueryView {
            header,
            qname,
            qtype: u16::from_be_bytes([rest[0], rest[1]]),
            qclass: u16::from_be_bytes([rest[2], rest[3]]),
            question_end: i + 4,
        })
    }

    /// Appends the question name lowercased, in wire form, to `key`.
    pub fn lower_qname_into(&self, key: &mut Vec<u8>) {
        key.extend(self.qname.iter().map(u8::to_ascii_lowercase));
    }
}

/// miekg's SetReply: ID, opcode, question, and RD/CD for standard queries.
pub fn reply_to(q: &Message) -> Message {
    let mut m = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
    if q.metadata.op_code == OpCode::Query {
        m.metadata.recursion_desired = q.metadata.recursion_desired;
        m.metadata.checking_disabled = q.metadata.checking_disabled;
    }
    if let Some(first) = q.queries.first() {
        m.queries.push(first.clone());
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8]) -> Vec<u8> {
        let mut b = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(name);
        b.extend_from_slice(&[0, 1, 0, 1]);
        b
    }

    #[test]
    fn views_a_query() {
        let q = query(b"\x07Example\x03org\x00");
        let v = QueryView::parse(&q).unwrap();
        assert_eq!(v.header.id, 0x1234);
        assert!(v.header.rd());
        assert_eq!((v.qtype, v.qclass), (1, 1));
        assert_eq!(v.question_end, q.len());
        let mut k = Vec::new();
        v.lower_qname_into(&mut k);
        assert_eq!(k, b"\x07example\x03org\x00");
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            QueryView::parse(&[0; 5]).unwrap_err(),
            WireError::ShortHeader
        );
        assert_eq!(
            QueryView::parse(&query(b"\x07Exam")).unwrap_err(),
            WireError::Truncated
        );
        assert_eq!(
            QueryView::parse(&query(b"\xc0\x0c")).unwrap_err(),
            WireError::Compressed
        );
        assert_eq!(
            QueryView::parse(&query(b"\x40abc\x00")).unwrap_err(),
            WireError::BadLabel
        );
        let long: Vec<u8> =
            std::iter::repeat_n(b"\x3f".iter().chain([b'a'; 63].iter()).copied(), 5)
                .flatten()
                .chain([0])
                .collect();
        assert_eq!(
            QueryView::parse(&query(&long)).unwrap_err(),
            WireError::NameTooLong
        );
        let mut none = query(b"\x00");
        none[5] = 0;
        assert_eq!(QueryView::parse(&none).unwrap_err(), WireError::NoQuestion);
    }

    #[test]
    fn accept_rules() {
        let h = |flags: u16, qd: u16, an: u16, ns: u16, ar: u16| Header {
            id: 1,
            flags,
            qdcount: qd,
            ancount: an,
            nscount: ns,
            arcount: ar,
        };
        assert_eq!(accept(&h(0x0100, 1, 0, 0, 1)), Accept::Accept);
        assert_eq!(accept(&h(0x8000, 1, 0, 0, 0)), Accept::Ignore);
        assert_eq!(accept(&h(5 << 11, 1, 0, 0, 0)), Accept::NotImplemented);
        assert_eq!(accept(&h(0, 0, 0, 0, 0)), Accept::Reject);
        assert_eq!(accept(&h(0, 2, 0, 0, 0)), Accept::Reject);
        assert_eq!(accept(&h(0, 1, 0, 0, 3)), Accept::Reject);
        assert_eq!(accept(&h(4 << 11, 1, 1, 0, 0)), Accept::Accept);
    }

    #[test]
    fn header_only_reply() {
        let h = Header {
            id: 0xBEEF,
            flags: 0x0110,
            qdcount: 2,
            ancount: 0,
            nscount: 0,
            arcount: 0,
        };
        let mut out = Vec::new();
        header_reply(&h, 1, &mut out);
        assert_eq!(out, [0xBE, 0xEF, 0x81, 0x11, 0, 0, 0, 0, 0, 0, 0, 0]);
        // NOTIMP keeps the opcode and the client's RD, AD and CD; AA and Z go.
        let h = Header {
            flags: (5 << 11) | 0x0400 | 0x0100 | 0x0040 | 0x0020 | 0x0010,
            ..h
        };
        header_reply(&h, 4, &mut out);
        assert_eq!(&out[2..4], [0xA9, 0x34]);
        // FORMERR answers with opcode QUERY whatever the client sent.
        let h = Header {
            flags: (4 << 11) | 0x0100,
            ..h
        };
        header_reply(&h, 1, &mut out);
        assert_eq!(&out[2..4], [0x81, 0x01]);
    }
}
