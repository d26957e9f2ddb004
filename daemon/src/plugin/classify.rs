//! What kind of reply a message is (CoreDNS's response.Typify/Classify),
//! for log's class filter, minimal and the cache.

use hickory_proto::op::{Message, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;

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
