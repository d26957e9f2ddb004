//! The plugins, one folder each: `setup` parses the directive (pure), the
//! handler answers. [`Handler`] dispatches by enum, not by trait object.

pub mod acl;
pub mod any;
pub mod bind;
pub mod bufsize;
pub mod cache;
pub mod cancel;
pub mod chaos;
pub mod debug;
pub mod errors;
pub mod file;
pub mod forward;
pub mod header;
pub mod health;
pub mod hosts;
pub mod loadbalance;
pub mod local;
pub mod log;
pub mod r#loop;
pub mod metadata;
pub mod minimal;
pub mod multisocket;
pub mod nsid;
pub mod prometheus;
pub mod ready;
pub mod reload;
pub mod rewrite;
pub mod root;
pub mod template;
pub mod timeouts;
pub mod whoami;

use crate::plugin::{Action, Outcome, Request};

/// A plugin with a place in the chain. Setup-only plugins (root, bind,
/// debug) change the block's settings and have no variant.
pub enum Handler {
    Acl(acl::Acl),
    Any(any::Any),
    Bufsize(bufsize::Bufsize),
    Cache(cache::Cache),
    Chaos(chaos::Chaos),
    Errors(errors::Errors),
    File(file::File),
    Forward(forward::Forward),
    Header(header::Header),
    Hosts(hosts::Hosts),
    Loadbalance(loadbalance::Loadbalance),
    Local(local::Local),
    Log(log::Log),
    Loop(r#loop::Loop),
    Minimal(minimal::Minimal),
    Nsid(nsid::Nsid),
    Prometheus(prometheus::Prometheus),
    Rewrite(rewrite::Rewrite),
    Template(template::Template),
    Whoami(whoami::Whoami),
}

impl Handler {
    pub fn name(&self) -> &'static str {
        match self {
            Handler::Acl(_) => "acl",
            Handler::Any(_) => "any",
            Handler::Bufsize(_) => "bufsize",
            Handler::Cache(_) => "cache",
            Handler::Chaos(_) => "chaos",
            Handler::Errors(_) => "errors",
            Handler::File(_) => "file",
            Handler::Forward(_) => "forward",
            Handler::Header(_) => "header",
            Handler::Hosts(_) => "hosts",
            Handler::Loadbalance(_) => "loadbalance",
            Handler::Local(_) => "local",
            Handler::Log(_) => "log",
            Handler::Loop(_) => "loop",
            Handler::Minimal(_) => "minimal",
            Handler::Nsid(_) => "nsid",
            Handler::Prometheus(_) => "prometheus",
            Handler::Rewrite(_) => "rewrite",
            Handler::Template(_) => "template",
            Handler::Whoami(_) => "whoami",
        }
    }

    /// The answer of a plugin that passed the query on with nothing after
    /// it, where CoreDNS does not answer NextOrFailure's SERVFAIL: `file`
    /// with no zone for the name answers REFUSED (it is authoritative).
    pub fn last_in_chain(&self, req: &Request) -> Option<Outcome> {
        match self {
            Handler::File(p) if !p.serves(&req.name) => {
                Some(Outcome::rcode(hickory_proto::op::ResponseCode::Refused))
            }
            _ => None,
        }
    }

    pub fn query(&self, req: &mut Request) -> Action {
        match self {
            Handler::Acl(p) => p.query(req),
            Handler::Any(p) => p.query(req),
            Handler::Bufsize(p) => p.query(req),
            Handler::Cache(p) => p.query(req),
            Handler::Chaos(p) => p.query(req),
            Handler::Errors(_) => Action::Watch,
            Handler::File(p) => p.query(req),
            Handler::Forward(p) => p.query(req),
            Handler::Header(p) => p.query(req),
            Handler::Hosts(p) => p.query(req),
            Handler::Loadbalance(_) => Action::Watch,
            Handler::Local(p) => p.query(req),
            Handler::Log(p) => p.query(req),
            Handler::Loop(p) => p.query(req),
            Handler::Minimal(_) => Action::Watch,
            Handler::Nsid(p) => p.query(req),
            Handler::Prometheus(p) => p.query(req),
            Handler::Rewrite(p) => p.query(req),
            Handler::Template(p) => p.query(req),
            Handler::Whoami(p) => p.query(req),
        }
    }

    /// The query phase of a plugin whose `query` returned `Await`.
    pub async fn query_async(&self, req: &mut Request) -> Action {
        match self {
            Handler::Forward(p) => p.query_async(req).await,
            // A miss another worker is already filling.
            Handler::Cache(p) => p.query_async(req).await,
            _ => Action::Next,
        }
    }

    /// The response phase, for plugins whose query phase returned `Watch`.
    pub fn response(&self, req: &Request, out: &mut Outcome) {
        match self {
            Handler::Cache(p) => p.response(req, out),
            Handler::Errors(p) => p.response(req, out),
            Handler::Header(p) => p.response(req, out),
            Handler::Loadbalance(p) => p.response(req, out),
            Handler::Log(p) => p.response(req, out),
            Handler::Minimal(p) => p.response(req, out),
            Handler::Nsid(p) => p.response(req, out),
            Handler::Prometheus(p) => p.response(req, out),
            Handler::Rewrite(p) => p.response(req, out),
            // The rest never return Watch.
            _ => {}
        }
    }

    /// The plugin's readiness, for *ready* (CoreDNS's `ready.Readiness`).
    /// No plugin of ferrodns has one yet: forward and kubernetes will.
    pub fn readiness(&self) -> Option<crate::plugin::endpoint::Flag> {
        None
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Building directives and requests for plugin unit tests.

    use crate::corefile::Directive;
    use crate::plugin::{Proto, Request};
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    /// The first directive of `text`, parsed as a Corefile block's body with
    /// the real parser; line numbers are those within `text`.
    pub fn directive(text: &str) -> Directive {
        let src = format!(".\n{text}\n");
        let blocks = crate::corefile::parse(&src, "Corefile", &|_| None, &|_| true)
            .expect("test directive parses");
        let mut d = blocks
            .into_iter()
            .next()
            .expect("one block")
            .directives
            .remove(0);
        for t in &mut d.tokens {
            t.pos.line -= 1;
        }
        d
    }

    /// A UDP query from 192.0.2.1:53000 with no EDNS.
    pub fn request(name: &str, qtype: RecordType) -> Request {
        let mut msg = Message::new(4242, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = true;
        let qname = Name::from_ascii(name).unwrap();
        msg.queries.push(Query::query(qname, qtype));
        Request {
            msg,
            wire_len: 29,
            src: "192.0.2.1:53000".parse().unwrap(),
            local: "192.0.2.53:53".parse().unwrap(),
            proto: Proto::Udp,
            name: name.to_ascii_lowercase(),
            server: std::rc::Rc::from("dns://:53"),
            start: std::time::Instant::now(),
            worker: std::rc::Rc::new(crate::plugin::Worker::new(0, 1)),
            deadline: None,
            metadata: None,
            stash: Default::default(),
        }
    }
}
