//! bufsize: caps the EDNS UDP size the server honours and advertises.

mod setup;

pub use setup::setup;

use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::{Action, Request};
use crate::plugin::{Fast, Plugin};

pub struct Bufsize {
    size: u16,
}

impl Bufsize {
    /// The largest UDP size honoured.
    pub fn size(&self) -> u16 {
        self.size
    }
}

impl Plugin for Bufsize {
    fn name(&self) -> &'static str {
        "bufsize"
    }

    fn query(&self, req: &mut Request) -> Action {
        if let Some(e) = req.msg.edns.as_mut() {
            if e.max_payload() > self.size {
                e.set_max_payload(self.size);
            }
        }
        Action::Next
    }

    fn fast(&self) -> Fast {
        Fast::Hook(Needs::default())
    }

    fn fast_check(&self, _q: &RawQuery<'_>, cap: &mut Option<u16>) -> bool {
        *cap = Some(self.size);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::request;
    use hickory_proto::op::Edns;
    use hickory_proto::rr::RecordType;

    #[test]
    fn lowers_only() {
        let p = Bufsize { size: 1232 };
        let mut req = request("a.", RecordType::A);
        let mut e = Edns::new();
        e.set_max_payload(4096);
        req.msg.edns = Some(e);
        p.query(&mut req);
        assert_eq!(req.msg.edns.as_ref().unwrap().max_payload(), 1232);
        req.msg.edns.as_mut().unwrap().set_max_payload(600);
        p.query(&mut req);
        assert_eq!(req.msg.edns.as_ref().unwrap().max_payload(), 600);
    }
}
