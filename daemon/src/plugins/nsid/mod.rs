//! nsid: adds the NSID EDNS option (RFC 5001) to replies of queries that ask for it.

mod setup;

pub use setup::setup;

use crate::plugin::{Action, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use hickory_proto::op::Edns;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

pub struct Nsid {
    data: Vec<u8>,
}

impl Plugin for Nsid {
    fn name(&self) -> &'static str {
        "nsid"
    }

    fn query(&self, req: &mut Request) -> Action {
        match &req.msg.edns {
            Some(e) if e.option(EdnsCode::NSID).is_some() => Action::Watch,
            _ => Action::Next,
        }
    }

    fn response(&self, req: &Request, out: &mut Outcome) {
        let Some(m) = out.reply.as_mut() else { return };
        if m.edns.is_none() {
            let mut e = Edns::new();
            e.set_max_payload(req.msg.edns.as_ref().map_or(512, |e| e.max_payload()));
            e.set_dnssec_ok(true);
            m.edns = Some(e);
        }
        if let Some(e) = m.edns.as_mut() {
            // CoreDNS sets an NSID the reply already carries (one a nested
            // lookup's reply brought along, dns64's) instead of adding one.
            let nsid = EdnsOption::Unknown(u16::from(EdnsCode::NSID), self.data.clone());
            let opts = &mut e.options_mut().options;
            let mut found = false;
            for (_, o) in opts.iter_mut().filter(|(c, _)| *c == EdnsCode::NSID) {
                *o = nsid.clone();
                found = true;
            }
            if !found {
                opts.push((EdnsCode::NSID, nsid));
            }
        }
    }

    fn fast(&self) -> Fast {
        Fast::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::request;
    use hickory_proto::rr::RecordType;

    fn nsids(out: &Outcome) -> Vec<Vec<u8>> {
        let opts = &out
            .reply
            .as_ref()
            .unwrap()
            .edns
            .as_ref()
            .unwrap()
            .options()
            .options;
        opts.iter()
            .filter(|(c, _)| *c == EdnsCode::NSID)
            .map(|(_, o)| match o {
                EdnsOption::Unknown(_, d) => d.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn sets_the_nsid_once() {
        let n = Nsid {
            data: b"mine".to_vec(),
        };
        let mut req = request("example.org.", RecordType::A);
        let mut e = Edns::new();
        e.options_mut()
            .insert(EdnsOption::Unknown(u16::from(EdnsCode::NSID), Vec::new()));
        req.msg.edns = Some(e.clone());
        assert!(matches!(n.query(&mut req), Action::Watch));
        let mut out = Outcome::reply(req.reply());
        n.response(&req, &mut out);
        assert_eq!(nsids(&out), [b"mine".to_vec()]);
        // A reply that has one already (from another server's nsid).
        let mut m = req.reply();
        let mut e = Edns::new();
        e.options_mut().insert(EdnsOption::Unknown(
            u16::from(EdnsCode::NSID),
            b"theirs".to_vec(),
        ));
        m.edns = Some(e);
        let mut out = Outcome::reply(m);
        n.response(&req, &mut out);
        assert_eq!(nsids(&out), [b"mine".to_vec()]);
    }
}
