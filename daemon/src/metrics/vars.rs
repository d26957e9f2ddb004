//! CoreDNS's `plugin/metrics/vars`: what the `coredns_dns_*` request
//! metrics record of one query, shared by the server (queries it answers
//! itself, under the zone "dropped") and the prometheus plugin.

use super::{
    Shard, DO_REQUESTS, REQUESTS, REQUEST_DURATION, REQUEST_SIZE, RESPONSES, RESPONSE_SIZE,
};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};
use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

/// One query as CoreDNS's `vars.Report` takes it.
pub struct Report<'a> {
    pub server: &'a str,
    pub zone: &'a str,
    /// The view of the block that served it; empty without one.
    pub view: &'a str,
    pub rcode: ResponseCode,
    /// The plugin that wrote the reply; empty when the server did.
    pub plugin: &'a str,
    /// The reply's size.
    pub size: usize,
    pub request_size: usize,
    /// `udp` or `tcp`.
    pub proto: &'a str,
    pub src: SocketAddr,
    pub qtype: u16,
    pub do_bit: bool,
    pub start: Instant,
}

/// CoreDNS's `vars.Report` into a worker's shard.
pub fn report(m: &mut Shard, r: &Report<'_>) {
    let (proto, view) = (r.proto, r.view);
    let family = family(&r.src);
    if r.do_bit {
        m.inc(&DO_REQUESTS, &[r.server, r.zone, view]);
    }
    m.inc(
        &REQUESTS,
        &[r.server, r.zone, view, proto, family, qtype_label(r.qtype)],
    );
    m.observe(
        &REQUEST_DURATION,
        &[r.server, r.zone, view],
        r.start.elapsed().as_secs_f64(),
    );
    m.observe(
        &RESPONSE_SIZE,
        &[r.server, r.zone, view, proto],
        r.size as f64,
    );
    m.observe(
        &REQUEST_SIZE,
        &[r.server, r.zone, view, proto],
        r.request_size as f64,
    );
    m.inc(
        &RESPONSES,
        &[r.server, r.zone, view, &rcode_label(r.rcode), r.plugin],
    );
}

/// The `family` label: "1" for IPv4 clients, "2" for IPv6.
pub fn family(src: &SocketAddr) -> &'static str {
    if src.is_ipv4() {
        "1"
    } else {
        "2"
    }
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
    match crate::wire::mnemonics::rcode_to_str(n) {
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

    #[test]
    fn labels() {
        assert_eq!(qtype_label(1), "A");
        assert_eq!(qtype_label(64), "SVCB");
        assert_eq!(qtype_label(99), "other");
        assert_eq!(qtype_label(13), "other");
        assert_eq!(rcode_label(ResponseCode::NXDomain), "NXDOMAIN");
        assert_eq!(rcode_label(ResponseCode::Unknown(3000)), "RCODE3000");
    }
}
