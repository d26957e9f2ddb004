//! What kind of reply a message is (CoreDNS's response.Typify/Classify),
//! for log's class filter, minimal, the cache and dns64.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    NoError,
    NameError,
    ServerError,
    NoData,
    Delegation,
    Meta,
    Update,
    OtherError,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NoError => "NOERROR",
            Kind::NameError => "NXDOMAIN",
            Kind::ServerError => "SERVERERROR",
            Kind::NoData => "NODATA",
            Kind::Delegation => "DELEGATION",
            Kind::Meta => "META",
            Kind::Update => "UPDATE",
            Kind::OtherError => "OTHERERROR",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    All,
    Success,
    Denial,
    Error,
}

impl Class {
    pub fn of(kind: Kind) -> Class {
        match kind {
            Kind::NoError | Kind::Delegation => Class::Success,
            Kind::NameError | Kind::NoData => Class::Denial,
            _ => Class::Error,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Class::All => "all",
            Class::Success => "success",
            Class::Denial => "denial",
            Class::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Class> {
        match s {
            "all" => Some(Class::All),
            "success" => Some(Class::Success),
            "denial" => Some(Class::Denial),
            "error" => Some(Class::Error),
            _ => None,
        }
    }
}

pub fn classify(m: &Message) -> Kind {
    match m.metadata.op_code {
        OpCode::Update => return Kind::Update,
        OpCode::Notify => return Kind::Meta,
        _ => {}
    }
    if let Some(q) = m.queries.first() {
        if matches!(q.query_type(), RecordType::AXFR | RecordType::IXFR) {
            return Kind::Meta;
        }
    }
    let rcode = m.metadata.response_code;
    if !m.answers.is_empty() {
        match rcode {
            ResponseCode::NoError => return Kind::NoError,
            ResponseCode::NXDomain => return Kind::OtherError,
            _ => {}
        }
    }
    let soa = m
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA);
    let ns = m
        .authorities
        .iter()
        .any(|r| r.record_type() == RecordType::NS);
    match rcode {
        ResponseCode::NoError if soa => Kind::NoData,
        ResponseCode::NXDomain => Kind::NameError,
        ResponseCode::ServFail | ResponseCode::NotImp => Kind::ServerError,
        ResponseCode::NoError if ns => Kind::Delegation,
        ResponseCode::NoError => Kind::NoError,
        _ => Kind::OtherError,
    }
}

/// CoreDNS's `response.Typify` at `now` (Unix seconds): [`classify`],
/// except that a reply with the DO bit holding an RRSIG outside its
/// validity period is [`Kind::OtherError`].
pub fn typify(m: &Message, now: i64) -> Kind {
    let kind = classify(m);
    if matches!(kind, Kind::Update | Kind::Meta) {
        return kind;
    }
    let dnssec = m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
    let expired = m
        .answers
        .iter()
        .chain(&m.authorities)
        .chain(&m.additionals)
        .any(|r| match &r.data {
            RData::Unknown { code, rdata } if *code == RecordType::RRSIG => {
                !valid_at(&rdata.anything, now)
            }
            _ => false,
        });
    if dnssec && expired {
        Kind::OtherError
    } else {
        kind
    }
}

/// miekg's `RRSIG.ValidityPeriod` on the RRSIG's RDATA: its inception and
/// expiration read in serial number arithmetic around `now`. RDATA too
/// short to hold them counts as valid (nothing to find expired).
fn valid_at(rdata: &[u8], now: i64) -> bool {
    let (Some(exp), Some(inc)) = (rdata.get(8..12), rdata.get(12..16)) else {
        return true;
    };
    let field = |b: &[u8]| i64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    const YEAR68: i64 = 1 << 31;
    let (inc, exp) = (field(inc), field(exp));
    let ti = inc + (inc - now) / YEAR68 * YEAR68;
    let te = exp + (exp - now) / YEAR68 * YEAR68;
    ti <= now && now <= te
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, MessageType};
    use hickory_proto::rr::rdata::NULL;
    use hickory_proto::rr::{Name, Record};

    fn rrsig(inception: u32, expiration: u32) -> Record {
        let mut rdata = vec![0, 1, 8, 2, 0, 0, 14, 16];
        rdata.extend(expiration.to_be_bytes());
        rdata.extend(inception.to_be_bytes());
        rdata.extend([0x30, 0x39, 0]);
        Record::from_rdata(
            Name::root(),
            60,
            RData::Unknown {
                code: RecordType::RRSIG,
                rdata: NULL::with(rdata),
            },
        )
    }

    #[test]
    fn expired_signatures_with_do_are_another_error() {
        let now = 1_700_000_000;
        let mut m = Message::new(1, MessageType::Response, OpCode::Query);
        m.metadata.response_code = ResponseCode::NXDomain;
        m.authorities.push(rrsig(now as u32 - 100, now as u32 - 10));
        assert_eq!(typify(&m, now), Kind::NameError, "no DO bit");
        let mut e = Edns::new();
        e.set_dnssec_ok(true);
        m.edns = Some(e);
        assert_eq!(typify(&m, now), Kind::OtherError);
        m.authorities[0] = rrsig(now as u32 - 100, now as u32 + 10);
        assert_eq!(typify(&m, now), Kind::NameError);
        // Not yet valid.
        m.authorities[0] = rrsig(now as u32 + 10, now as u32 + 100);
        assert_eq!(typify(&m, now), Kind::OtherError);
        // Serial arithmetic: an expiration past 2106 wraps.
        m.authorities[0] = rrsig(now as u32 - 100, 5);
        assert_eq!(typify(&m, now), Kind::OtherError);
    }
}
