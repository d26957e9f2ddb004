//! The plugins, one folder each: `setup` parses the directive and returns
//! the plugin, which answers through the contract (`crate::plugin::Plugin`).
//! [`ORDER`] is the one execution-order table.

pub mod acl;
pub mod any;
pub mod auto;
pub mod autopath;
pub mod bind;
pub mod bufsize;
pub mod cache;
pub mod cancel;
pub mod chaos;
pub mod debug;
pub mod dns64;
pub mod dnstap;
pub mod erratic;
pub mod errors;
pub mod file;
pub mod forward;
pub mod header;
pub mod health;
pub mod hosts;
pub mod k8s_external;
pub mod kubernetes;
pub mod loadbalance;
pub mod local;
pub mod log;
pub mod r#loop;
pub mod metadata;
pub mod minimal;
pub mod multisocket;
pub mod nsid;
pub mod on;
pub mod prometheus;
pub mod ready;
pub mod reload;
pub mod rewrite;
pub mod root;
pub mod shed;
pub mod template;
pub mod timeouts;
pub mod view;
pub mod whoami;
pub mod xdp;

use crate::plugin::registry::Entry;

/// The execution-order table: `"name" => setup` for the plugins ferrodns
/// has, `"name"` alone for the ones it lacks, `"name" | "what instead"`
/// for the ones it will not have. The setup returns its own type
/// ([`Placed`]).
macro_rules! execution_order {
    ($($name:literal $(=> $setup:path)? $(| $instead:literal)?),* $(,)?) => {
        &[$(execution_order!(@entry $name $(=> $setup)? $(| $instead)?)),*]
    };
    (@entry $name:literal | $instead:literal) => {
        $crate::plugin::registry::Entry::refuses($name, $instead)
    };
    (@entry $name:literal => $setup:path) => {
        $crate::plugin::registry::Entry::has($name, |b, ds| {
            $setup(b, ds).map(|p| $crate::plugin::registry::Placed::place(p, b))
        })
    };
    (@entry $name:literal) => {
        $crate::plugin::registry::Entry::lacks($name)
    };
}

/// Every directive CoreDNS 1.14.7 knows, in execution order (its
/// plugin.cfg, top to bottom): `"name" => setup` for the plugins ferrodns
/// has, `"name"` alone for the ones it lacks, `"name" | "instead"` for the
/// ones it will not have. Adding a plugin is its folder and its line here.
pub static ORDER: &[Entry] = execution_order![
    "root" => root::setup,
    "metadata" => metadata::setup,
    "geoip",
    "cancel" => cancel::setup,
    "proxyproto",
    "quic",
    "grpc_server",
    "https",
    "https3",
    "timeouts" => timeouts::setup,
    "multisocket" => multisocket::setup,
    "reload" => reload::setup,
    "nsid" => nsid::setup,
    "bufsize" => bufsize::setup,
    "bind" => bind::setup,
    "debug" => debug::setup,
    "trace" | "it sends OpenTracing spans to Zipkin or Datadog, which ferrodns does not; \
        log (with {duration} and metadata such as {/forward/upstream}) and prometheus's \
        coredns_dns_request_duration_seconds show where the time goes",
    "ready" => ready::setup,
    "health" => health::setup,
    "pprof" | "it serves Go's runtime profiles, and ferrodns is not a Go program; \
        profile it with perf (perf record -g -p PID) and read its own counters \
        with prometheus",
    "shed" => shed::setup,
    "prometheus" => prometheus::setup,
    "errors" => errors::setup,
    "log" => log::setup,
    "dnstap" => dnstap::setup,
    "local" => local::setup,
    "dns64" => dns64::setup,
    "any" => any::setup,
    "chaos" => chaos::setup,
    "loadbalance" => loadbalance::setup,
    "tsig",
    "rewrite" => rewrite::setup,
    "autopath" => autopath::setup,
    "acl" => acl::setup,
    "cache" => cache::setup,
    // Not in CoreDNS: ferrodns's own kernel fast path for cache hits.
    "xdp" => xdp::setup,
    "header" => header::setup,
    "dnssec",
    "tls",
    "minimal" => minimal::setup,
    "template" => template::setup,
    "transfer",
    "hosts" => hosts::setup,
    "route53",
    "azure",
    "clouddns",
    "k8s_external" => k8s_external::setup,
    "kubernetes" => kubernetes::setup,
    "file" => file::setup,
    "auto" => auto::setup,
    "secondary",
    "etcd",
    "loop" => r#loop::setup,
    "forward" => forward::setup,
    // Not in CoreDNS 1.14: the old proxy plugin, accepted and read as forward.
    "proxy" => forward::setup_proxy,
    "grpc",
    "erratic" => erratic::setup,
    "whoami" => whoami::setup,
    "on" => on::setup,
    "sign",
    "view" => view::setup,
    "nomad",
];

#[cfg(test)]
pub(crate) mod testutil {
    //! Building directives and requests for plugin unit tests.

    use crate::corefile::Directive;
    use crate::plugin::{Action, Outcome, Proto, Request};
    use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::{Name, RecordType};

    /// The first directive of `text`, parsed as a Corefile block's body with
    /// the real parser; line numbers are those within `text`.
    pub fn directive(text: &str) -> Directive {
        directives(text).remove(0)
    }

    /// `setup` run on every directive of `text` (one block's body), as the
    /// server runs a plugin's setup; line numbers are those within `text`.
    pub fn set_up<P>(
        setup: fn(
            &mut crate::plugin::BlockSetup,
            &[&Directive],
        ) -> Result<P, crate::corefile::Error>,
        text: &str,
    ) -> Result<P, crate::corefile::Error> {
        let ds = directives(text);
        let refs: Vec<&Directive> = ds.iter().collect();
        setup(&mut crate::plugin::BlockSetup::new(vec![".".into()]), &refs)
    }

    /// The error [`set_up`] fails with, as text.
    pub fn setup_err<P>(
        setup: fn(
            &mut crate::plugin::BlockSetup,
            &[&Directive],
        ) -> Result<P, crate::corefile::Error>,
        text: &str,
    ) -> String {
        match set_up(setup, text) {
            Ok(_) => panic!("{text:?} parsed"),
            Err(e) => e.to_string(),
        }
    }

    /// Every directive of `text`, as [`directive`] parses it.
    pub fn directives(text: &str) -> Vec<Directive> {
        let src = format!(".\n{text}\n");
        let blocks = crate::corefile::parse(&src, "Corefile", &|_| None, &|_| true)
            .expect("test directive parses");
        let mut ds = blocks.into_iter().next().expect("one block").directives;
        for t in ds.iter_mut().flat_map(|d| d.tokens.iter_mut()) {
            t.pos.line -= 1;
        }
        ds
    }

    /// A UDP query from 192.0.2.1:53000 with no EDNS.
    /// The endpoint a setup-only HTTP directive (health, ready) of `text`
    /// asks for.
    pub fn http_spec(
        setup: fn(
            &mut crate::plugin::BlockSetup,
            &[&Directive],
        ) -> Result<(), crate::corefile::Error>,
        text: &str,
    ) -> Result<crate::plugin::endpoint::HttpSpec, crate::corefile::Error> {
        let d = directive(text);
        let mut b = crate::plugin::BlockSetup::new(vec![".".into()]);
        setup(&mut b, &[&d])?;
        Ok(b.http.remove(0))
    }

    /// A server whose every name goes to one plugin, for the internal
    /// lookups of plugins' unit tests.
    pub struct Solo(pub std::rc::Rc<dyn crate::plugin::Plugin>);

    impl crate::plugin::request::Server for Solo {
        fn serve(&self, mut req: Request) -> crate::plugin::LocalFuture<'_, Option<Message>> {
            Box::pin(async move {
                let o = serve_one(&*self.0, &mut req).await;
                match o.reply {
                    Some(m) => Some(m),
                    None if !crate::plugin::client_write(o.rcode) => Some(req.error_reply(o.rcode)),
                    None => None,
                }
            })
        }
    }

    /// `p` as a chain of its own: its query phase (waiting where it asks
    /// to), its answer as the last plugin when it passes the query on
    /// (SERVFAIL without one), its response phase when it watches.
    pub async fn serve_one(p: &dyn crate::plugin::Plugin, req: &mut Request) -> Outcome {
        let mut a = p.query(req);
        if let Action::Await = a {
            a = p.query_async(req).await;
        }
        let last = |req: &Request| {
            p.last_in_chain(req)
                .unwrap_or_else(|| Outcome::rcode(ResponseCode::ServFail))
        };
        match a {
            Action::Done(o) => o,
            Action::Next | Action::Await => last(req),
            Action::Watch => {
                let mut o = last(req);
                p.response(req, &mut o);
                o
            }
            Action::WatchAsync => {
                let mut o = last(req);
                p.response_async(req, &mut o).await;
                o
            }
            Action::Fork(_) => panic!("serve_one does not fork"),
            Action::Wrap => panic!("serve_one does not wrap"),
        }
    }

    /// A reply's rcode, then its sections' records (`an`, `ns`, `ar`),
    /// one a line, as text.
    pub fn show(m: &Message) -> String {
        let mut s = format!("{}", m.metadata.response_code);
        for (sec, rrs) in [
            ("an", &m.answers),
            ("ns", &m.authorities),
            ("ar", &m.additionals),
        ] {
            for r in rrs {
                s.push_str(&format!("\n{sec} {r}"));
            }
        }
        s
    }

    /// The output of a future that must not wait (the unit tests' plugins
    /// ask nothing of the network).
    pub fn now<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => panic!("the future waits"),
        }
    }

    pub fn request(name: &str, qtype: RecordType) -> Request {
        let mut msg = Message::new(4242, MessageType::Query, OpCode::Query);
        msg.metadata.recursion_desired = true;
        let qname = Name::from_ascii(name).unwrap();
        let qname_copy = qname.clone();
        msg.queries.push(Query::query(qname, qtype));
        Request {
            msg,
            wire_len: 29,
            src: "192.0.2.1:53000".parse().unwrap(),
            local: "192.0.2.53:53".parse().unwrap(),
            proto: Proto::Udp,
            name: name.to_ascii_lowercase(),
            lower: crate::plugin::request::lower_wire(&qname_copy),
            server: std::rc::Rc::from("dns://:53"),
            start: std::time::Instant::now(),
            worker: std::rc::Rc::new(crate::plugin::Worker::new(0, 1)),
            deadline: None,
            metadata: None,
            view: None,
            stash: Default::default(),
            via: None,
            depth: 0,
            backlogged: false,
        }
    }
}
