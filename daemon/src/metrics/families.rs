//! The metric families, named and labelled as in CoreDNS 1.14.7.

use super::{Family, Kind};

/// CoreDNS's plugin.TimeBuckets: 0.25 ms doubling to 8 s.
pub const TIME_BUCKETS: &[f64] = &[
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096, 8.192,
];
/// CoreDNS's request and response size buckets.
pub const SIZE_BUCKETS: &[f64] = &[
    0.0, 100.0, 200.0, 300.0, 400.0, 511.0, 1023.0, 2047.0, 4095.0, 8291.0, 16e3, 32e3, 48e3, 64e3,
];

macro_rules! families {
    ($($id:literal $ident:ident $name:literal $kind:expr, [$($l:literal),*], $help:literal;)*) => {
        $(pub static $ident: Family = Family { id: $id, name: $name, help: $help, kind: $kind, labels: &[$($l),*] };)*
        /// Every family, indexed by `Family::id`.
        pub static ALL: &[&Family] = &[$(&$ident),*];
    };
}

families! {
    0 REQUESTS "coredns_dns_requests_total" Kind::Counter, ["server", "zone", "view", "proto", "family", "type"],
        "Counter of DNS requests made per zone, protocol and family.";
    1 REQUEST_DURATION "coredns_dns_request_duration_seconds" Kind::Histogram(TIME_BUCKETS), ["server", "zone", "view"],
        "Histogram of the time (in seconds) each request took per zone.";
    2 REQUEST_SIZE "coredns_dns_request_size_bytes" Kind::Histogram(SIZE_BUCKETS), ["server", "zone", "view", "proto"],
        "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.";
    3 DO_REQUESTS "coredns_dns_do_requests_total" Kind::Counter, ["server", "zone", "view"],
        "Counter of DNS requests with DO bit set per zone.";
    4 RESPONSE_SIZE "coredns_dns_response_size_bytes" Kind::Histogram(SIZE_BUCKETS), ["server", "zone", "view", "proto"],
        "Size of the returned response in bytes.";
    5 RESPONSES "coredns_dns_responses_total" Kind::Counter, ["server", "zone", "view", "rcode", "plugin"],
        "Counter of response status codes.";
    6 PANICS "coredns_panics_total" Kind::Counter, [],
        "A metrics that counts the number of panics.";
    7 PLUGIN_ENABLED "coredns_plugin_enabled" Kind::Gauge, ["server", "zone", "view", "name"],
        "A metric that indicates whether a plugin is enabled on per server and zone basis.";
    8 BUILD_INFO "coredns_build_info" Kind::Gauge, ["version", "revision", "goversion"],
        "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.";
    9 PROXY_REQUEST_DURATION "coredns_proxy_request_duration_seconds" Kind::Histogram(TIME_BUCKETS), ["proxy_name", "to", "rcode"],
        "Histogram of the time each request took.";
    10 PROXY_HEALTHCHECK_FAILURES "coredns_proxy_healthcheck_failures_total" Kind::Counter, ["proxy_name", "to"],
        "Counter of the number of failed healthchecks.";
    11 PROXY_CONN_CACHE_HITS "coredns_proxy_conn_cache_hits_total" Kind::Counter, ["proxy_name", "to", "proto"],
        "Counter of connection cache hits per upstream and protocol.";
    12 PROXY_CONN_CACHE_MISSES "coredns_proxy_conn_cache_misses_total" Kind::Counter, ["proxy_name", "to", "proto"],
        "Counter of connection cache misses per upstream and protocol.";
    13 FORWARD_HEALTHCHECK_BROKEN "coredns_forward_healthcheck_broken_total" Kind::Counter, [],
        "Counter of the number of complete failures of the healthchecks.";
    14 FORWARD_MAX_CONCURRENT_REJECTS "coredns_forward_max_concurrent_rejects_total" Kind::Counter, [],
        "Counter of the number of queries rejected because the concurrent queries were at maximum.";
}
