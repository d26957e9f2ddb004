//! loadbalance: reorders the address records of successful replies, as
//! CoreDNS's loadbalance plugin does: `round_robin` shuffles A, AAAA and
//! MX records (CNAMEs first), `weighted` moves one address, picked by the
//! weights of a file, to the top; `prefer` then puts addresses from the
//! given subnets first.

mod setup;
mod weighted;

pub use setup::setup;

use crate::plugin::Plugin;
use crate::plugin::{Action, Outcome, Request};
use crate::plugins::acl::Net;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, Record, RecordType};
use std::net::IpAddr;
use std::sync::Arc;
use weighted::Weights;

pub struct Loadbalance {
    policy: Policy,
    prefer: Vec<Net>,
}

impl Plugin for Loadbalance {
    fn name(&self) -> &'static str {
        "loadbalance"
    }

    fn query(&self, _req: &mut Request) -> Action {
        Action::Watch
    }

    fn response(&self, _req: &Request, out: &mut Outcome) {
        let Some(m) = out.reply.as_mut() else { return };
        if m.metadata.response_code != ResponseCode::NoError {
            return;
        }
        let qtype = m.queries.first().map(|q| q.query_type());
        if matches!(qtype, Some(RecordType::AXFR | RecordType::IXFR)) {
            return;
        }
        match &self.policy {
            Policy::RoundRobin => {
                round_robin(&mut m.answers);
                round_robin(&mut m.authorities);
                round_robin(&mut m.additionals);
            }
            Policy::Weighted(w) => {
                if matches!(
                    qtype,
                    Some(RecordType::A | RecordType::AAAA | RecordType::SRV)
                ) {
                    w.top_record(&mut m.answers);
                    w.top_record(&mut m.additionals);
                }
            }
        }
        if !self.prefer.is_empty() {
            prefer(&mut m.answers, &self.prefer);
            prefer(&mut m.additionals, &self.prefer);
        }
    }
}

enum Policy {
    RoundRobin,
    Weighted(Arc<Weights>),
}

impl Drop for Loadbalance {
    fn drop(&mut self) {
        if let Policy::Weighted(w) = &self.policy {
            w.close();
        }
    }
}

/// CNAMEs, then other records, then the address records and the MX records,
/// both shuffled.
fn round_robin(rrs: &mut Vec<Record>) {
    if rrs.is_empty() {
        return;
    }
    let (mut cname, mut rest, mut addr, mut mx) = (vec![], vec![], vec![], vec![]);
    for r in rrs.drain(..) {
        match r.record_type() {
            RecordType::CNAME => cname.push(r),
            RecordType::A | RecordType::AAAA => addr.push(r),
            RecordType::MX => mx.push(r),
            _ => rest.push(r),
        }
    }
    shuffle(&mut addr);
    shuffle(&mut mx);
    rrs.extend(cname);
    rrs.extend(rest);
    rrs.extend(addr);
    rrs.extend(mx);
}

/// CoreDNS's shuffle, with a fresh random 16-bit message ID per step.
fn shuffle(rrs: &mut [Record]) {
    let l = rrs.len();
    match l {
        0 | 1 => {}
        2 => {
            if rand::random::<u16>() % 2 == 0 {
                rrs.swap(0, 1);
            }
        }
        _ => {
            for j in 0..l {
                let p = j + usize::from(rand::random::<u16>()) % (l - j);
                rrs.swap(j, p);
            }
        }
    }
}

/// The address of an A or AAAA record.
fn address(r: &Record) -> Option<IpAddr> {
    match &r.data {
        RData::A(a) => Some(IpAddr::V4(a.0)),
        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
        _ => None,
    }
}

/// CNAMEs, addresses in preferred subnets (in subnet order), the other
/// addresses, MX, then the rest.
fn prefer(rrs: &mut Vec<Record>, subnets: &[Net]) {
    if rrs.is_empty() {
        return;
    }
    let (mut cname, mut addr, mut mx, mut rest) = (vec![], vec![], vec![], vec![]);
    for r in rrs.drain(..) {
        match r.record_type() {
            RecordType::CNAME => cname.push(r),
            RecordType::A | RecordType::AAAA => addr.push(Some(r)),
            RecordType::MX => mx.push(r),
            _ => rest.push(r),
        }
    }
    rrs.extend(cname);
    for n in subnets {
        for slot in addr.iter_mut() {
            if slot
                .as_ref()
                .and_then(address)
                .is_some_and(|ip| n.contains(ip))
            {
                rrs.extend(slot.take());
            }
        }
    }
    rrs.extend(addr.into_iter().flatten());
    rrs.extend(mx);
    rrs.extend(rest);
}

#[cfg(test)]
mod tests;
