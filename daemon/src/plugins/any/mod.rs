//! any: answers ANY queries with RFC 8482's HINFO.

mod setup;

pub use setup::setup;

use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::{Action, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use hickory_proto::rr::rdata::HINFO;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};

pub struct Any;

impl Plugin for Any {
    fn name(&self) -> &'static str {
        "any"
    }

    fn query(&self, req: &mut Request) -> Action {
        if req.qtype() != RecordType::ANY {
            return Action::Next;
        }
        let mut m = req.reply();
        let mut rr = Record::from_rdata(
            req.qname().clone(),
            8482,
            RData::HINFO(HINFO::new("ANY obsoleted".into(), "See RFC 8482".into())),
        );
        rr.dns_class = DNSClass::IN;
        m.answers.push(rr);
        Action::Done(Outcome::reply(m))
    }

    fn fast(&self) -> Fast {
        Fast::Hook(Needs::default())
    }

    /// ANY queries are answered here, not from the cache.
    fn fast_check(&self, q: &RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        q.q.qtype != 255
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::request;

    #[test]
    fn answers_any_with_hinfo() {
        let mut req = request("Example.org.", RecordType::ANY);
        let Action::Done(o) = Any.query(&mut req) else {
            panic!("expected an answer")
        };
        let m = o.reply.unwrap();
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].ttl, 8482);
        assert_eq!(m.answers[0].name.to_string(), "Example.org.");
        assert!(matches!(&m.answers[0].data, RData::HINFO(h) if &*h.cpu == b"ANY obsoleted"));
    }

    #[test]
    fn passes_other_types() {
        let mut req = request("example.org.", RecordType::A);
        assert!(matches!(Any.query(&mut req), Action::Next));
    }
}
