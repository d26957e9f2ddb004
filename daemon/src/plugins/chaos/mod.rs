//! chaos: answers CH class TXT queries for version.bind, authors.bind and
//! hostname.bind (and their .server forms).

mod setup;

pub use setup::setup;

use crate::plugin::{Action, Outcome, Request};
use crate::plugin::{Fast, Plugin};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use rand::seq::SliceRandom;

/// The server's name and version, where CoreDNS gives `CoreDNS-1.14.7`
/// (chaos's default version, dnstap's default `version`).
pub const SERVER_VERSION: &str = concat!("ferrodns-", env!("CARGO_PKG_VERSION"));

pub struct Chaos {
    version: String,
    authors: Vec<String>,
}

impl Plugin for Chaos {
    fn name(&self) -> &'static str {
        "chaos"
    }

    fn query(&self, req: &mut Request) -> Action {
        if req.qclass() != DNSClass::CH || req.qtype() != RecordType::TXT {
            return Action::Next;
        }
        let texts: Vec<String> = match req.name.as_str() {
            "authors.bind." => {
                let mut a = self.authors.clone();
                a.shuffle(&mut rand::rng());
                a
            }
            "version.bind." | "version.server." => vec![self.version.clone()],
            "hostname.bind." | "id.server." => vec![trim(hostname())],
            _ => return Action::Next,
        };
        let mut m = req.reply();
        for t in texts {
            let mut rr = Record::from_rdata(req.qname().clone(), 0, RData::TXT(TXT::new(vec![t])));
            rr.dns_class = DNSClass::CH;
            m.answers.push(rr);
        }
        Action::Done(Outcome::reply(m))
    }

    fn fast(&self) -> Fast {
        Fast::Pass
    }
}

/// The machine's name, or `localhost` where it cannot be read (as
/// CoreDNS's chaos plugin does when os.Hostname fails).
pub fn hostname() -> String {
    crate::sys::hostname().unwrap_or_else(|_| "localhost".into())
}

/// TXT strings hold at most 255 bytes.
fn trim(mut s: String) -> String {
    if s.len() > 255 {
        let mut end = 255;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::BlockSetup;
    use crate::plugins::testutil::{directive, request};

    fn chaos(line: &str) -> Chaos {
        let mut b = BlockSetup::new(vec![".".into()]);
        let c = setup(&mut b, &[&directive(line)]).unwrap();
        assert!(b.class_chaos);
        c
    }

    fn txt(c: &Chaos, name: &str) -> Vec<String> {
        let mut req = request(name, RecordType::TXT);
        req.msg.queries[0].set_query_class(DNSClass::CH);
        match c.query(&mut req) {
            Action::Done(o) => o
                .reply
                .unwrap()
                .answers
                .iter()
                .map(|r| match &r.data {
                    RData::TXT(t) => String::from_utf8_lossy(&t.txt_data[0]).into_owned(),
                    _ => panic!("not TXT"),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn version_and_authors() {
        let c = chaos("chaos MyDNS-1.0 bob alice bob");
        assert_eq!(txt(&c, "version.bind."), vec!["MyDNS-1.0"]);
        assert_eq!(txt(&c, "VERSION.SERVER."), vec!["MyDNS-1.0"]);
        let mut a = txt(&c, "authors.bind.");
        a.sort();
        assert_eq!(a, vec!["alice", "bob"]);
        assert!(txt(&c, "other.bind.").is_empty());
    }

    #[test]
    fn defaults() {
        let c = chaos("chaos");
        assert_eq!(
            txt(&c, "version.bind."),
            vec![format!("ferrodns-{}", env!("CARGO_PKG_VERSION"))]
        );
        assert_eq!(txt(&c, "hostname.bind.").len(), 1);
    }
}
