//! prometheus: counts every query of its block into CoreDNS's `coredns_dns_*`
//! metrics, and has `/metrics` served at its address (see `crate::control`).

mod setup;

pub use setup::setup;

use crate::metrics::memo::Memo;
use crate::metrics::vars::{self, message_len, qtype_label, rcode_label, Report};
use crate::metrics::{self, Handle};
use crate::plugin::fast::{Context, Needs, RawAnswer, RawQuery};
use crate::plugin::{client_write, Action, Fast, Outcome, Plugin, Request};
use hickory_proto::op::ResponseCode;

pub struct Prometheus {
    /// The zones of the block's keys.
    zones: Vec<String>,
    /// The zones plugins of the block added while running (auto's).
    added: std::sync::Arc<crate::plugin::registry::AddedZones>,
    /// The plugin after this one in the chain: CoreDNS 1.14.7 labels every
    /// reply written below it with that name (its PluginTracker is only
    /// told by the writer wrapped directly around its recorder).
    next: &'static str,
    /// The per-worker state slot of its raw-path series.
    slot: usize,
}

/// The series a raw-path answer counts in.
#[derive(Clone, Copy)]
struct Series {
    do_requests: Option<Handle>,
    requests: Handle,
    duration: Handle,
    response_size: Handle,
    request_size: Handle,
    responses: Handle,
}

impl Plugin for Prometheus {
    fn name(&self) -> &'static str {
        "prometheus"
    }

    fn query(&self, _req: &mut Request) -> Action {
        Action::Watch
    }

    /// What `vars.Report` counts of every query (the server counts the
    /// queries it answers itself in them too).
    fn metrics(&self) -> &'static [&'static metrics::Family] {
        static OWN: [&metrics::Family; 6] = [
            &metrics::REQUESTS,
            &metrics::REQUEST_DURATION,
            &metrics::REQUEST_SIZE,
            &metrics::DO_REQUESTS,
            &metrics::RESPONSE_SIZE,
            &metrics::RESPONSES,
        ];
        &OWN
    }

    fn chained(&mut self, next: Option<&'static str>) {
        self.next = next.unwrap_or("");
    }

    fn fast(&self) -> Fast {
        Fast::Hook(Needs {
            plain_len: true,
            kernel: true,
            ..Needs::default()
        })
    }

    /// What `response` counts for a reply, from the raw path's answer.
    fn fast_done(&self, q: &RawQuery<'_>, cx: &mut Context<'_>, a: &RawAnswer, _reply: &[u8]) {
        let key = series_key(q, a);
        let m = &mut *cx.metrics;
        let s = cx.worker.state(self.slot, Memo::<Series>::default, |memo| {
            memo.get(m, key, |m| {
                let (server, zone, proto) = (q.server, q.zone, q.proto().as_str());
                let rcode = rcode_label(a.rcode.into());
                Series {
                    do_requests: q
                        .q
                        .do_bit()
                        .then(|| m.handle(&metrics::DO_REQUESTS, &[server, zone, ""])),
                    requests: m.handle(
                        &metrics::REQUESTS,
                        &[
                            server,
                            zone,
                            "",
                            proto,
                            vars::family(&q.src),
                            qtype_label(q.q.qtype),
                        ],
                    ),
                    duration: m.handle(&metrics::REQUEST_DURATION, &[server, zone, ""]),
                    response_size: m.handle(&metrics::RESPONSE_SIZE, &[server, zone, "", proto]),
                    request_size: m.handle(&metrics::REQUEST_SIZE, &[server, zone, "", proto]),
                    responses: m
                        .handle(&metrics::RESPONSES, &[server, zone, "", &rcode, self.next]),
                }
            })
        });
        if let Some(h) = s.do_requests {
            m.inc_at(h);
        }
        m.inc_at(s.requests);
        m.observe_at(s.duration, q.at.elapsed().as_secs_f64());
        m.observe_at(s.response_size, a.plain_len as f64);
        m.observe_at(s.request_size, q.len as f64);
        m.inc_at(s.responses);
    }

    /// The kernel's answers in the raw path's place: counted as
    /// `fast_done` counts one, with the time spent taken as none (the
    /// histogram's first bucket).
    fn kernel_done(
        &self,
        h: &crate::plugin::kernel::KernelHits<'_>,
        m: &mut crate::metrics::Shard,
    ) {
        let (server, zone, n) = (h.server, h.zone, h.count as f64);
        if h.do_bit {
            m.add(&metrics::DO_REQUESTS, &[server, zone, ""], n);
        }
        let qtype = qtype_label(h.qtype);
        m.add(
            &metrics::REQUESTS,
            &[server, zone, "", "udp", h.family, qtype],
            n,
        );
        m.observe_n(
            &metrics::REQUEST_DURATION,
            &[server, zone, ""],
            0.0,
            h.count,
        );
        m.observe_n(
            &metrics::RESPONSE_SIZE,
            &[server, zone, "", "udp"],
            h.plain_len as f64,
            h.count,
        );
        m.observe_n(
            &metrics::REQUEST_SIZE,
            &[server, zone, "", "udp"],
            h.request_len as f64,
            h.count,
        );
        let rcode = rcode_label(h.rcode.into());
        m.add(
            &metrics::RESPONSES,
            &[server, zone, "", &rcode, self.next],
            n,
        );
    }

    /// CoreDNS's metrics handler after its `NextOrFailure` returned.
    fn response(&self, req: &Request, out: &mut Outcome) {
        let zone = self.zone(&req.name);
        let added = self.added.longer(&req.name, Some(zone));
        let zone = added.as_deref().unwrap_or(zone);
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
            vars::report(
                m,
                &Report {
                    server: &req.server,
                    zone,
                    view: req.view.as_deref().unwrap_or(""),
                    rcode: rc,
                    plugin,
                    size,
                    request_size: req.wire_len,
                    proto: req.proto.as_str(),
                    src: req.src,
                    qtype: u16::from(req.qtype()),
                    do_bit: req.do_bit(),
                    start: req.start,
                },
            )
        });
    }
}

/// Everything the labels of a raw-path answer depend on, in one number.
fn series_key(q: &RawQuery<'_>, a: &RawAnswer) -> u64 {
    let bits = u64::from(q.tcp) | u64::from(q.src.is_ipv6()) << 1 | u64::from(q.q.do_bit()) << 2;
    // Types the metrics count as "other" share one series: clients choose
    // the type, so the map stays small whatever they ask.
    let qtype = if qtype_label(q.q.qtype) == "other" {
        0
    } else {
        q.q.qtype
    };
    u64::from(q.route) << 32 | u64::from(qtype) << 16 | u64::from(a.rcode & 0xF) << 4 | bits
}

impl Prometheus {
    /// The longest of the block's zones that holds `name`, else the root.
    fn zone(&self, name: &str) -> &str {
        crate::plugin::names::zone_match(&self.zones, name).unwrap_or(".")
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
            added: Default::default(),
            next,
            slot: 0,
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
