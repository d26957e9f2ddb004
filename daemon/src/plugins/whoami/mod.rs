//! whoami: answers with the client's address and port.

mod setup;

pub use setup::setup;

use crate::plugin::Plugin;
use crate::plugin::{Action, Outcome, Request};
use hickory_proto::rr::rdata::{A, AAAA, SRV};
use hickory_proto::rr::{Name, RData, Record};
use std::net::IpAddr;

pub struct Whoami;

impl Plugin for Whoami {
    fn name(&self) -> &'static str {
        "whoami"
    }

    fn query(&self, req: &mut Request) -> Action {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        let qname = req.qname().clone();
        let class = req.qclass();
        let addr = match req.src.ip() {
            IpAddr::V4(v4) => RData::A(A(v4)),
            IpAddr::V6(v6) => RData::AAAA(AAAA(v6)),
        };
        let mut rr = Record::from_rdata(qname.clone(), 0, addr);
        rr.dns_class = class;
        // `_udp.` prepended to the question name; for the root just `_udp.`.
        let label = format!("_{}", req.proto.as_str());
        let srv_name = if qname.is_root() {
            Name::from_ascii(format!("{label}.")).expect("static label")
        } else {
            qname.prepend_label(label.as_str()).unwrap_or(qname.clone())
        };
        let mut srv = Record::from_rdata(
            srv_name,
            0,
            RData::SRV(SRV::new(0, 0, req.src.port(), Name::root())),
        );
        srv.dns_class = class;
        m.additionals.push(rr);
        m.additionals.push(srv);
        Action::Done(Outcome::reply(m))
    }
}
