//! bufsize: caps the EDNS UDP size the server honours and advertises.

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::{Action, BlockSetup, Request};
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

const DEFAULT_SIZE: u16 = 1232;

/// `bufsize [SIZE]`: 512 to 4096, default 1232.
pub fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Bufsize, Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    let args = d.remaining_args();
    let size = match args.as_slice() {
        [] => DEFAULT_SIZE,
        [s] => match s.parse::<u16>() {
            Ok(n) if (512..=4096).contains(&n) => n,
            _ => return Err(d.arg_err()),
        },
        _ => return Err(d.arg_err()),
    };
    Ok(Bufsize { size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::{directive, request};
    use hickory_proto::op::Edns;
    use hickory_proto::rr::RecordType;

    fn bufsize(line: &str) -> Result<u16, crate::corefile::Error> {
        let mut b = BlockSetup::new(vec![".".into()]);
        let p = setup(&mut b, &[&directive(line)])?;
        Ok(p.size)
    }

    #[test]
    fn parses() {
        assert_eq!(bufsize("bufsize"), Ok(1232));
        assert_eq!(bufsize("bufsize 512"), Ok(512));
        assert_eq!(
            bufsize("bufsize 4097").unwrap_err().to_string(),
            "Corefile:1: Wrong argument count or unexpected line ending after '4097'"
        );
        assert!(bufsize("bufsize 1 2").is_err());
        assert!(bufsize("bufsize abc").is_err());
    }

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
