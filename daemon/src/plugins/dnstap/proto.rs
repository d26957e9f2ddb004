//! dnstap.proto's `Dnstap` and `Message`, encoded by hand in protobuf's
//! wire format (proto2: a field is present or absent). Fields go out in
//! field-number order, as Go's `proto.Marshal` writes them, so a frame is
//! byte for byte what CoreDNS sends for the same message.

use std::net::{IpAddr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

/// `Message.Type`: the kinds ferrodns sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    ClientQuery = 5,
    ClientResponse = 6,
    ForwarderQuery = 7,
    ForwarderResponse = 8,
}

/// `SocketProtocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Udp = 1,
    Tcp = 2,
}

/// One dnstap `Message`. Addresses set the socket family (INET for IPv4,
/// INET6 otherwise) from the last one given, as CoreDNS's `msg` package
/// does.
#[derive(Clone, Debug)]
pub struct Message<'a> {
    pub kind: Kind,
    pub protocol: Option<Protocol>,
    /// The initiator's end: the client, or ferrodns towards an upstream.
    pub query_address: Option<SocketAddr>,
    /// The responder's end (an upstream); a client's messages leave it out.
    pub response_address: Option<SocketAddr>,
    pub query_time: Option<SystemTime>,
    pub response_time: Option<SystemTime>,
    pub query_message: Option<&'a [u8]>,
    pub response_message: Option<&'a [u8]>,
}

impl<'a> Message<'a> {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            protocol: None,
            query_address: None,
            response_address: None,
            query_time: None,
            response_time: None,
            query_message: None,
            response_message: None,
        }
    }
}

/// What every frame of one tap carries besides its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub identity: &'a [u8],
    pub version: &'a [u8],
    pub extra: Option<&'a [u8]>,
}

const VARINT: u32 = 0;
const LEN: u32 = 2;
const FIXED32: u32 = 5;
/// `Dnstap.Type.MESSAGE`.
const DNSTAP_MESSAGE: u64 = 1;

/// Where encoded bytes go: a buffer, or a counter (an embedded message's
/// length precedes it).
trait Sink {
    fn put(&mut self, b: &[u8]);
}

impl Sink for Vec<u8> {
    fn put(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

struct Count(usize);

impl Sink for Count {
    fn put(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
}

fn varint(s: &mut impl Sink, mut v: u64) {
    let mut buf = [0u8; 10];
    let mut n = 0;
    loop {
        let byte = (v & 0x7F) as u8;
        v >>= 7;
        if v == 0 {
            buf[n] = byte;
            n += 1;
            break;
        }
        buf[n] = byte | 0x80;
        n += 1;
    }
    s.put(&buf[..n]);
}

fn key(s: &mut impl Sink, field: u32, wire: u32) {
    varint(s, u64::from(field << 3 | wire));
}

fn uint(s: &mut impl Sink, field: u32, v: u64) {
    key(s, field, VARINT);
    varint(s, v);
}

fn bytes(s: &mut impl Sink, field: u32, b: &[u8]) {
    key(s, field, LEN);
    varint(s, b.len() as u64);
    s.put(b);
}

fn fixed32(s: &mut impl Sink, field: u32, v: u32) {
    key(s, field, FIXED32);
    s.put(&v.to_le_bytes());
}

/// Seconds and nanoseconds since the epoch (0 for a clock before it).
fn unix(t: SystemTime) -> (u64, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    (d.as_secs(), d.subsec_nanos())
}

/// `family` and the address's bytes: 4 for IPv4 (IPv4-mapped IPv6 too),
/// 16 otherwise.
fn family_and_bytes(ip: IpAddr) -> (u64, [u8; 16], usize) {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    };
    let mut b = [0u8; 16];
    match (v4, ip) {
        (Some(v4), _) => {
            b[..4].copy_from_slice(&v4.octets());
            (1, b, 4)
        }
        (None, IpAddr::V6(v6)) => {
            b.copy_from_slice(&v6.octets());
            (2, b, 16)
        }
        (None, IpAddr::V4(_)) => unreachable!("an IPv4 address maps to itself"),
    }
}

fn message(s: &mut impl Sink, m: &Message<'_>) {
    uint(s, 1, m.kind as u64);
    // The family follows the last address set: the response's when there
    // is one (CoreDNS sets the query's address first).
    if let Some(a) = m.response_address.or(m.query_address) {
        uint(s, 2, family_and_bytes(a.ip()).0);
    }
    if let Some(p) = m.protocol {
        uint(s, 3, p as u64);
    }
    if let Some(a) = m.query_address {
        let (_, b, n) = family_and_bytes(a.ip());
        bytes(s, 4, &b[..n]);
    }
    if let Some(a) = m.response_address {
        let (_, b, n) = family_and_bytes(a.ip());
        bytes(s, 5, &b[..n]);
    }
    if let Some(a) = m.query_address {
        uint(s, 6, u64::from(a.port()));
    }
    if let Some(a) = m.response_address {
        uint(s, 7, u64::from(a.port()));
    }
    if let Some(t) = m.query_time {
        let (sec, nsec) = unix(t);
        uint(s, 8, sec);
        fixed32(s, 9, nsec);
    }
    if let Some(q) = m.query_message {
        bytes(s, 10, q);
    }
    if let Some(t) = m.response_time {
        let (sec, nsec) = unix(t);
        uint(s, 12, sec);
        fixed32(s, 13, nsec);
    }
    if let Some(r) = m.response_message {
        bytes(s, 14, r);
    }
}

/// One `Dnstap` of type MESSAGE holding `m`, appended to `out`.
pub fn encode(env: &Envelope<'_>, m: &Message<'_>, out: &mut Vec<u8>) {
    bytes(out, 1, env.identity);
    bytes(out, 2, env.version);
    if let Some(x) = env.extra {
        bytes(out, 3, x);
    }
    let mut len = Count(0);
    message(&mut len, m);
    key(out, 14, LEN);
    varint(out, len.0 as u64);
    message(out, m);
    uint(out, 15, DNSTAP_MESSAGE);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn at(sec: u64, nsec: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(sec, nsec)
    }

    // The expected bytes are Go's: golang-dnstap v0.4.0's generated types
    // marshalled with google.golang.org/protobuf's proto.Marshal.
    #[test]
    fn client_query_as_go_marshals_it() {
        let mut m = Message::new(Kind::ClientQuery);
        m.protocol = Some(Protocol::Udp);
        m.query_address = Some("192.0.2.1:53000".parse().unwrap());
        m.query_time = Some(at(1_700_000_000, 123_456_789));
        m.query_message = Some(&[1, 2, 3]);
        let env = Envelope {
            identity: b"host",
            version: b"v1",
            extra: Some(b"x"),
        };
        let mut out = Vec::new();
        encode(&env, &m, &mut out);
        assert_eq!(
            hex(&out),
            "0a04686f7374120276311a017872200805100118012204c000020130889e034080e2cfaa064d15cd5b0752030102037801"
        );
    }

    #[test]
    fn forwarder_response_over_ipv6_as_go_marshals_it() {
        let mut m = Message::new(Kind::ForwarderResponse);
        m.protocol = Some(Protocol::Tcp);
        m.query_address = Some("[2001:db8::1]:40000".parse().unwrap());
        m.response_address = Some("[2001:db8::53]:53".parse().unwrap());
        m.query_time = Some(at(1_700_000_000, 123_456_789));
        m.response_time = Some(at(1_700_000_001, 5));
        m.response_message = Some(&[9, 8]);
        let env = Envelope {
            identity: b"",
            version: b"ferrodns-0.1.0",
            extra: None,
        };
        let mut out = Vec::new();
        encode(&env, &m, &mut out);
        assert_eq!(
            hex(&out),
            "0a00120e666572726f646e732d302e312e30724a080810021802221020010db80000000000000000000000012a1020010db800000000000000000000005330c0b80238354080e2cfaa064d15cd5b076081e2cfaa066d05000000720209087801"
        );
    }

    #[test]
    fn mapped_addresses_are_ipv4_and_varints_span_bytes() {
        let (fam, b, n) = family_and_bytes("::ffff:192.0.2.7".parse().unwrap());
        assert_eq!((fam, &b[..n]), (1, &[192, 0, 2, 7][..]));
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        let mut v = Vec::new();
        varint(&mut v, u64::MAX);
        assert_eq!(v.len(), 10);
    }
}
