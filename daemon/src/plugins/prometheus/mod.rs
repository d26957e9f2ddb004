//! prometheus: counts every query of its block into CoreDNS's `coredns_dns_*`
//! metrics, and has `/metrics` served at its address (see `crate::control`).

mod setup;
pub use setup::setup;

use crate::metrics::{self, Shard};
use crate::plugin::{client_write, Action, Outcome, Proto, Request};
use crate::plugins::Handler;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

pub struct Prometheus {
    /// The zones of the block's keys.
    zones: Vec<String>,
    /// The plugin after this one in the chain: CoreDNS 1.14.7 labels every
    /// reply written below it with that name (its PluginTracker is only
    /// told by the writer wrapped directly around its recorder).
    next: &'static str,
}

impl Prometheus {
    pub fn query(&self, _req: &mut Request) -> Action {
        Action::Watch
    }

    /// CoreDNS's metrics handler after its `NextOrFailure` returned.
    pub fn response(&self, req: &Request, out: &mut Outcome) {
        let zone = self.zone(&req.name);
        // The recorder's view: rcode and size of what was written, the
        // returned rcode when the server writes the reply instead.
        let (mut rc, size, plugin) = match &out.reply {
            Some(m) => (m.metadata.response_code, message_len(m), self.next),
            None => (ResponseCode::NoError, 0, ""),
        };
        if !client_write(out.rcode) {
            rc = out.rcode;
        }
        req.worker.metrics(|m| {
            report(
                m,
                &Report {
                    server: &req.server,
                    zone,
                    rcode: rc,
                    plugin,
                    size,
                    request_size: req.wire_len,
                    proto: req.proto,
                    src: req.src,
                    qtype: u16::from(req.qtype()),
                    do_bit: req.do_bit(),
                    start: req.start,
                },
            )
        });
    }

    /// The `plugin` label of replies written below this plugin.
    pub fn next(&self) -> &'static str {
        self.next
    }

    /// The longest of the block's zones that holds `name`, else the root.
    fn zone(&self, name: &str) -> &str {
        crate::plugin::names::zone_match(&self.zones, name).unwrap_or(".")
    }
}

/// Tells the block's prometheus (if any) which plugin follows it.
pub fn link(handlers: &mut [Handler]) {
    let Some(i) = handlers
        .iter()
        .position(|h| matches!(h, Handler::Prometheus(_)))
    else {
        return;
    };
    let next = handlers.get(i + 1).map_or("", Handler::name);
    if let Handler::Prometheus(p) = &mut handlers[i] {
        p.next = next;
    }
}

/// One query as CoreDNS's `vars.Report` takes it.
pub struct Report<'a> {
    pub server: &'a str,
    pub zone: &'a str,
    pub rcode: ResponseCode,
    /// The plugin that wrote the reply; empty when the server did.
    pub plugin: &'a str,
    /// The reply's size.
    pub size: usize,
    pub request_size: usize,
    pub proto: Proto,
    pub src: SocketAddr,
    pub qtype: u16,
    pub do_bit: bool,
    pub start: Instant,
}

/// CoreDNS's `vars.Report` into a worker's shard.
pub fn report(m: &mut Shard, r: &Report<'_>) {
    let proto = r.proto.as_str();
    let family = if r.src.is_ipv4() { "1" } else { "2" };
    if r.do_bit {
        m.inc(&metrics::DO_REQUESTS, &[r.server, r.zone, ""]);
    }
    m.inc(
        &metrics::REQUESTS,
        &[r.server, r.zone, "", proto, family, qtype_label(r.qtype)],
    );
    m.observe(
        &metrics::REQUEST_DURATION,
        &[r.server, r.zone, ""],
        r.start.elapsed().as_secs_f64(),
    );
    m.observe(
        &metrics::RESPONSE_SIZE,
        &[r.server, r.zone, "", proto],
        r.size as f64,
    );
    m.observe(
        &metrics::REQUEST_SIZE,
        &[r.server, r.zone, "", proto],
        r.request_size as f64,
    );
    m.inc(
        &metrics::RESPONSES,
        &[r.server, r.zone, "", &rcode_label(r.rcode), r.plugin],
    );
}

/// CoreDNS's `qTypeString`: the types it watches by name, others as "other".
pub fn qtype_label(t: u16) -> &'static str {
    match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        64 => "SVCB",
        65 => "HTTPS",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        _ => "other",
    }
}

/// CoreDNS's `rcode.ToString`: miekg's names, `RCODE<n>` otherwise.
pub fn rcode_label(rc: ResponseCode) -> Cow<'static, str> {
    let n = u16::from(rc);
    match crate::plugin::mnemonics::rcode_to_str(n) {
        "" => Cow::Owned(format!("RCODE{n}")),
        s => Cow::Borrowed(s),
    }
}

/// miekg's `Msg.Len()` of a reply a plugin wrote: its size without name
/// compression (CoreDNS compresses only when the scrub writer must).
pub fn message_len(m: &Message) -> usize {
    let mut buf = Vec::with_capacity(512);
    let mut e = BinEncoder::new(&mut buf);
    e.set_name_encoding(NameEncoding::Uncompressed);
    match m.emit(&mut e) {
        Ok(()) => buf.len(),
        Err(_) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::request;
    use hickory_proto::rr::RecordType;

    fn prom(zones: &[&str], next: &'static str) -> Prometheus {
        Prometheus {
            zones: zones.iter().map(|z| z.to_string()).collect(),
            next,
        }
    }

    #[test]
    fn longest_zone() {
        let p = prom(&["example.org.", "a.example.org.", "org."], "whoami");
        assert_eq!(p.zone("x.a.example.org."), "a.example.org.");
        assert_eq!(p.zone("example.org."), "example.org.");
        assert_eq!(p.zone("example.com."), ".");
    }

    #[test]
    fn labels() {
        assert_eq!(qtype_label(1), "A");
        assert_eq!(qtype_label(64), "SVCB");
        assert_eq!(qtype_label(99), "other");
        assert_eq!(qtype_label(13), "other");
        assert_eq!(rcode_label(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_label(ResponseCode::Unknown(3000)), "RCODE3000");
    }

    #[test]
    fn reports_written_and_server_replies() {
        let p = prom(&["example.org."], "whoami");
        let mut req = request("www.example.org.", RecordType::A);
        req.server = "dns://:1053".into();
        let mut m = req.reply();
        m.metadata.response_code = ResponseCode::NXDomain;
        let len = message_len(&m);
        assert_eq!(len, 12 + 17 + 4);
        let mut out = Outcome::reply(m);
        p.response(&req, &mut out);
        let mut out = Outcome::rcode(ResponseCode::Refused);
        p.response(&req, &mut out);
        let text = crate::metrics::render();
        assert!(text.contains("coredns_dns_responses_total{server=\"dns://:1053\",zone=\"example.org.\",view=\"\",rcode=\"NXDOMAIN\",plugin=\"whoami\"} 1\n"), "{text}");
        assert!(text.contains("coredns_dns_responses_total{server=\"dns://:1053\",zone=\"example.org.\",view=\"\",rcode=\"REFUSED\",plugin=\"\"} 1\n"), "{text}");
        assert!(text.contains("coredns_dns_requests_total{server=\"dns://:1053\",zone=\"example.org.\",view=\"\",proto=\"udp\",family=\"1\",type=\"A\"} 2\n"), "{text}");
        assert!(text.contains("coredns_dns_response_size_bytes_sum{server=\"dns://:1053\",zone=\"example.org.\",view=\"\",proto=\"udp\"} 33\n"), "{text}");
    }
}
