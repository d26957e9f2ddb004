//! loop: detects a forwarding loop by sending itself a random HINFO probe
//! after start-up; seeing it come back more than twice ends the process.

mod setup;

pub use setup::setup;

use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::{names, Action, Request};
use crate::plugin::{Fast, Plugin};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Loop {
    state: Arc<State>,
}

impl Plugin for Loop {
    fn name(&self) -> &'static str {
        "loop"
    }

    /// Sends its probes, on a thread of its own, once the block serves.
    fn start(&self) {
        let s = Arc::clone(&self.state);
        let _ = std::thread::Builder::new()
            .name("loop-probe".into())
            .spawn(move || s.probe());
    }

    fn query(&self, req: &mut Request) -> Action {
        let s = &self.state;
        if req.qtype() != RecordType::HINFO || s.off.load(Ordering::Relaxed) {
            return Action::Next;
        }
        if !names::is_subdomain(&s.zone, &req.name) {
            return Action::Next;
        }
        if req.name == s.qname {
            s.seen.fetch_add(1, Ordering::Relaxed);
        }
        if s.seen.load(Ordering::Relaxed) > 2 {
            let listen = if s.addr.ip().is_loopback() {
                format!(":{}", s.addr.port())
            } else {
                s.addr.to_string()
            };
            crate::log::line(
                crate::log::Level::Fatal,
                Some("loop"),
                &format!(
                    "Loop ({} -> {listen}) detected for zone \"{}\", see https://coredns.io/plugins/loop#troubleshooting. Query: \"HINFO {}\"",
                    req.src, s.zone, s.qname
                ),
            );
            std::process::exit(1);
        }
        Action::Next
    }

    fn fast(&self) -> Fast {
        Fast::Hook(Needs {
            relay: true,
            ..Needs::default()
        })
    }

    /// Its probes (HINFO) take the chain.
    fn fast_check(&self, q: &RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        q.q.qtype != 13
    }
}

struct State {
    zone: String,
    /// `<random>.<random>.<zone>`, lowercased.
    qname: String,
    /// Where the probe goes: the block's first listen address and port.
    addr: SocketAddr,
    seen: AtomicU32,
    off: AtomicBool,
}

impl State {
    /// CoreDNS's start-up probe: send the HINFO query to ourselves until
    /// something answers (for up to 30 s, once a second); a reply means no
    /// loop so far, and detection stops 2 s later.
    fn probe(self: Arc<Self>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.exchange().is_ok() {
                std::thread::sleep(Duration::from_secs(2));
                break;
            }
            self.seen.store(0, Ordering::Relaxed);
            std::thread::sleep(Duration::from_secs(1));
        }
        self.off.store(true, Ordering::Relaxed);
    }

    fn exchange(&self) -> std::io::Result<()> {
        let mut m = Message::new(rand::random(), MessageType::Query, OpCode::Query);
        m.metadata.recursion_desired = true;
        let name = Name::from_ascii(&self.qname).map_err(std::io::Error::other)?;
        m.queries.push(Query::query(name, RecordType::HINFO));
        let bytes = m.to_vec().map_err(std::io::Error::other)?;
        let local: SocketAddr = if self.addr.is_ipv6() {
            "[::]:0".parse()
        } else {
            "0.0.0.0:0".parse()
        }
        .expect("static address");
        let sock = UdpSocket::bind(local)?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        sock.send_to(&bytes, self.addr)?;
        let mut buf = [0u8; 4096];
        sock.recv_from(&mut buf).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::BlockSetup;
    use crate::plugins::testutil::{directive, request};

    #[test]
    fn counts_only_its_probe() {
        let mut b = BlockSetup::new(vec!["example.org.".into()]);
        let l = setup(&mut b, &[&directive("loop")]).unwrap();
        assert!(l.state.qname.ends_with(".example.org."));
        assert!(matches!(
            l.query(&mut request("x.example.org.", RecordType::HINFO)),
            Action::Next
        ));
        let probe = l.state.qname.clone();
        l.query(&mut request(&probe, RecordType::HINFO));
        l.query(&mut request(&probe, RecordType::A));
        assert_eq!(l.state.seen.load(Ordering::Relaxed), 1);
        let mut b = BlockSetup::new(vec![".".into()]);
        assert!(setup(&mut b, &[&directive("loop x")]).is_err());
    }
}
