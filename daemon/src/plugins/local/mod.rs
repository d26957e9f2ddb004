//! local: answers for localhost and the loopback reverse zones without
//! asking anyone (RFC 6761).

mod setup;

pub use setup::setup;

use crate::plugin::Plugin;
use crate::plugin::{names, Action, Outcome, Request};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NS, PTR, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

const TTL: u32 = 604_800;
const ZONES: [&str; 4] = [
    "localhost.",
    "0.in-addr.arpa.",
    "127.in-addr.arpa.",
    "255.in-addr.arpa.",
];

pub struct Local {
    /// `localhost_prefix off`: `localhost.example.org.` is not intercepted.
    no_prefix: bool,
}

impl Plugin for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn query(&self, req: &mut Request) -> Action {
        let name = req.name.as_str();
        let qname = req.qname().clone();
        let qtype = req.qtype();
        let lc = "localhost.".len();
        let rfc_sub = name.len() > lc && name.ends_with(".localhost.");
        let prefix = name.len() > lc && !self.no_prefix && name.starts_with("localhost.");
        if rfc_sub || prefix {
            crate::log::line(
                crate::log::Level::Debug,
                Some("local"),
                &format!(
                    "Intercepting localhost query for \"{name}\" {qtype}, from {}",
                    req.src.ip()
                ),
            );
            let mut m = req.reply();
            if !address(&mut m, &qname, qtype) {
                m.authorities.push(soa(&qname));
            }
            return Action::Done(Outcome::reply(m));
        }
        let zones: Vec<String> = ZONES.iter().map(|z| z.to_string()).collect();
        let Some(zone) = names::zone_match(&zones, name) else {
            return Action::Next;
        };
        // The zone apex as the client spelled it.
        let labels = zone
            .trim_end_matches('.')
            .split('.')
            .filter(|l| !l.is_empty())
            .count();
        let apex = qname.trim_to(labels);
        let mut m = req.reply();
        match name {
            "localhost." | "0.in-addr.arpa." | "127.in-addr.arpa." | "255.in-addr.arpa." => {
                match qtype {
                    RecordType::A | RecordType::AAAA if name == "localhost." => {
                        address(&mut m, &qname, qtype);
                    }
                    RecordType::SOA => m.answers.push(soa(&qname)),
                    RecordType::NS => {
                        let ns = Name::from_ascii("localhost.").expect("static name");
                        m.answers
                            .push(Record::from_rdata(qname.clone(), TTL, RData::NS(NS(ns))));
                    }
                    _ => m.authorities.push(soa(&qname)),
                }
            }
            "1.0.0.127.in-addr.arpa." => {
                if qtype == RecordType::PTR {
                    let target = Name::from_ascii("localhost.").expect("static name");
                    m.answers.push(Record::from_rdata(
                        qname.clone(),
                        TTL,
                        RData::PTR(PTR(target)),
                    ));
                } else {
                    m.authorities.push(soa(&apex));
                }
            }
            _ => {}
        }
        if m.answers.is_empty() && m.authorities.is_empty() {
            m.authorities.push(soa(&apex));
            m.metadata.response_code = ResponseCode::NXDomain;
        }
        Action::Done(Outcome::reply(m))
    }
}

fn soa(owner: &Name) -> Record {
    let localhost = Name::from_ascii("localhost.").expect("static name");
    let mbox = Name::from_ascii("root.localhost.").expect("static name");
    Record::from_rdata(
        owner.clone(),
        TTL,
        RData::SOA(SOA::new(localhost, mbox, 1, 0, 0, 0, TTL)),
    )
}

fn address(m: &mut Message, owner: &Name, qtype: RecordType) -> bool {
    let rdata = match qtype {
        RecordType::A => RData::A(A::new(127, 0, 0, 1)),
        RecordType::AAAA => RData::AAAA(AAAA::new(0, 0, 0, 0, 0, 0, 0, 1)),
        _ => return false,
    };
    m.answers
        .push(Record::from_rdata(owner.clone(), TTL, rdata));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::request;

    fn ask(name: &str, qtype: RecordType) -> Option<Message> {
        match (Local { no_prefix: false }).query(&mut request(name, qtype)) {
            Action::Done(o) => o.reply,
            _ => None,
        }
    }

    fn text(rs: &[Record]) -> Vec<String> {
        rs.iter()
            .map(|r| format!("{} {} {}", r.name, r.record_type(), r.data))
            .collect()
    }

    #[test]
    fn localhost_and_reverse() {
        assert_eq!(
            text(&ask("LocalHost.", RecordType::A).unwrap().answers),
            ["LocalHost. A 127.0.0.1"]
        );
        assert_eq!(
            text(&ask("localhost.", RecordType::AAAA).unwrap().answers),
            ["localhost. AAAA ::1"]
        );
        assert_eq!(
            text(
                &ask("1.0.0.127.in-addr.arpa.", RecordType::PTR)
                    .unwrap()
                    .answers
            ),
            ["1.0.0.127.in-addr.arpa. PTR localhost."]
        );
        let m = ask("2.0.0.127.in-addr.arpa.", RecordType::PTR).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.authorities[0].name.to_string(), "127.in-addr.arpa.");
        let m = ask("localhost.", RecordType::MX).unwrap();
        assert!(m.answers.is_empty() && m.authorities[0].record_type() == RecordType::SOA);
        // RFC 6761 subdomains and the legacy prefix
        assert_eq!(
            text(&ask("a.localhost.", RecordType::A).unwrap().answers),
            ["a.localhost. A 127.0.0.1"]
        );
        assert_eq!(
            text(
                &ask("localhost.example.org.", RecordType::A)
                    .unwrap()
                    .answers
            ),
            ["localhost.example.org. A 127.0.0.1"]
        );
        assert!(ask("example.org.", RecordType::A).is_none());
    }
}
