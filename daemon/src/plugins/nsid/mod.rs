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
            e.options_mut().insert(EdnsOption::Unknown(
                u16::from(EdnsCode::NSID),
                self.data.clone(),
            ));
        }
    }

    fn fast(&self) -> Fast {
        Fast::Pass
    }
}
