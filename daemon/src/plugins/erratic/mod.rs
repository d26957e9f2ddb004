//! erratic: a static answer to every query (A 192.0.2.53, AAAA
//! 2001:db8::53, a small zone transfer for AXFR, SERVFAIL for the rest),
//! dropping, delaying or truncating one query in so many: for testing how
//! clients cope.

mod setup;

pub use setup::setup;

use crate::plugin::endpoint::{self, Flag};
use crate::plugin::{Action, LocalFuture, Outcome, Plugin, Request, SearchPath};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

pub struct Erratic {
    /// Queries seen, by every worker.
    queries: AtomicU64,
    /// One query in `drop` is dropped (0: none); likewise `delay` and
    /// `truncate`.
    drop: u64,
    delay: u64,
    truncate: u64,
    duration: Duration,
    /// Undocumented in CoreDNS: 30 A records instead of one.
    large: bool,
    ready: Flag,
}

/// What happens to one query.
#[derive(Clone, Copy)]
struct Fate {
    drop: bool,
    delay: bool,
    truncate: bool,
}

impl Erratic {
    fn new(drop: u64, delay: u64, truncate: u64, duration: Duration, large: bool) -> Erratic {
        Erratic {
            queries: AtomicU64::new(0),
            drop,
            delay,
            truncate,
            duration,
            large,
            ready: endpoint::flag(),
        }
    }

    /// The fate of the next query. CoreDNS tests truncation with a bitwise
    /// AND (`n & truncate == 0`) where drop and delay take the remainder:
    /// kept, so that the same queries are truncated.
    fn fate(&self) -> Fate {
        let n = self.queries.fetch_add(1, Relaxed);
        // CoreDNS's Ready: after the third query and before the fifth.
        // Written only where it changes, not by every query of every worker.
        match n + 1 {
            3 => self.ready.store(true, Relaxed),
            5 => self.ready.store(false, Relaxed),
            _ => {}
        }
        Fate {
            drop: self.drop > 0 && n % self.drop == 0,
            delay: self.delay > 0 && n % self.delay == 0,
            truncate: self.truncate > 0 && n & self.truncate == 0,
        }
    }

    /// The reply CoreDNS's erratic writes, or the rcode it returns.
    fn answer(&self, req: &Request, truncate: bool) -> Outcome {
        let mut m = req.reply();
        m.metadata.authoritative = true;
        let qname = req.qname().clone();
        match req.qtype() {
            RecordType::A => {
                let rr = in_record(qname, RData::A(A(Ipv4Addr::new(192, 0, 2, 53))));
                let n = if self.large { 30 } else { 1 };
                m.answers.extend(std::iter::repeat_n(rr, n));
            }
            RecordType::AAAA => {
                let ip = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53);
                m.answers.push(in_record(qname, RData::AAAA(AAAA(ip))));
            }
            RecordType::AXFR => m.answers = transfer(&qname, truncate),
            _ => return Outcome::rcode(ResponseCode::ServFail),
        }
        // A transfer's truncation is its missing closing SOA.
        if truncate && req.qtype() != RecordType::AXFR {
            m.metadata.truncation = true;
        }
        Outcome::reply(m)
    }
}

fn in_record(name: Name, data: RData) -> Record {
    let mut r = Record::from_rdata(name, 0, data);
    r.dns_class = DNSClass::IN;
    r
}

/// The zone erratic transfers, under the question's name: SOA, two NS,
/// their AAAA records, and the closing SOA unless truncated.
fn transfer(zone: &Name, truncate: bool) -> Vec<Record> {
    let under = |label: &str| {
        Name::from_ascii(label)
            .and_then(|l| l.append_domain(zone))
            .unwrap_or_else(|_| zone.clone())
    };
    let name = |s: &str| Name::from_ascii(s).expect("static name");
    let soa = in_record(
        zone.clone(),
        RData::SOA(SOA::new(
            name("sns.dns.icann.org."),
            name("noc.dns.icann.org."),
            2018050825,
            7200,
            3600,
            1209600,
            3600,
        )),
    );
    let mut rrs = vec![
        soa.clone(),
        in_record(zone.clone(), RData::NS(NS(under("b")))),
        in_record(zone.clone(), RData::NS(NS(under("a")))),
        in_record(
            under("a"),
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xbd8, 0, 0, 0, 0, 0, 0x53))),
        ),
        in_record(
            under("b"),
            RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0x500, 0, 0, 0, 0, 0, 0x54))),
        ),
    ];
    if !truncate {
        rrs.push(soa);
    }
    rrs
}

/// A query erratic drops: nothing is written and nothing is sent.
fn dropped() -> Outcome {
    Outcome::rcode(ResponseCode::NoError)
}

/// CoreDNS's `Erratic.AutoPath`, for testing autopath: the same search
/// path for every query.
struct FixedPath;

impl SearchPath for FixedPath {
    fn search(&self, _req: &Request) -> Option<Vec<String>> {
        Some(vec![
            "a.example.org.".into(),
            "b.example.org.".into(),
            String::new(),
        ])
    }
}

impl Plugin for Erratic {
    fn name(&self) -> &'static str {
        "erratic"
    }

    fn search_path(&self) -> Option<std::sync::Arc<dyn SearchPath>> {
        Some(std::sync::Arc::new(FixedPath))
    }

    fn query(&self, req: &mut Request) -> Action {
        let fate = self.fate();
        if fate.delay && !fate.drop {
            req.stash.put(self, fate);
            return Action::Await;
        }
        if fate.drop {
            return Action::Done(dropped());
        }
        Action::Done(self.answer(req, fate.truncate))
    }

    fn query_async<'a>(&'a self, req: &'a mut Request) -> LocalFuture<'a, Action> {
        Box::pin(async move {
            let truncate = req.stash.take::<Fate>(self).is_some_and(|f| f.truncate);
            tokio::time::sleep(self.duration).await;
            Action::Done(self.answer(req, truncate))
        })
    }

    fn readiness(&self) -> Option<Flag> {
        Some(self.ready.clone())
    }
}

#[cfg(test)]
mod tests;
