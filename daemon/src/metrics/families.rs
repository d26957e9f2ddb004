//! The metric families the server and its control plane count in, named and
//! labelled as in CoreDNS 1.14.7, and the `families!` macro that plugins
//! declare their own with.

use super::Kind;

/// CoreDNS's plugin.TimeBuckets: 0.25 ms doubling to 8 s.
pub const TIME_BUCKETS: &[f64] = &[
    0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096, 8.192,
];
/// CoreDNS's plugin.SlimTimeBuckets: 0.25 ms to 2.5 s in powers of ten.
pub const SLIM_TIME_BUCKETS: &[f64] = &[0.00025, 0.0025, 0.025, 0.25, 2.5];
/// CoreDNS's request and response size buckets.
pub const SIZE_BUCKETS: &[f64] = &[
    0.0, 100.0, 200.0, 300.0, 400.0, 511.0, 1023.0, 2047.0, 4095.0, 8291.0, 16e3, 32e3, 48e3, 64e3,
];

/// Declares `static` families, one a line: `IDENT "name" KIND, [LABELS], "help";`.
/// Led by `list OWN;`, it also declares `OWN`, the list of them (what a
/// plugin's `Plugin::metrics` returns).
macro_rules! families {
    (list $all:ident; $($ident:ident $name:literal $kind:expr, [$($l:literal),*], $help:literal;)*) => {
        $crate::metrics::families!($($ident $name $kind, [$($l),*], $help;)*);
        /// The families declared here.
        pub static $all: &[&$crate::metrics::Family] = &[$(&$ident),*];
    };
    ($($ident:ident $name:literal $kind:expr, [$($l:literal),*], $help:literal;)*) => {
        $(
            pub static $ident: $crate::metrics::Family =
                $crate::metrics::Family::new($name, $help, $kind, &[$($l),*]);
        )*
    };
}
pub(crate) use families;

families! {
    REQUESTS "coredns_dns_requests_total" Kind::Counter, ["server", "zone", "view", "proto", "family", "type"],
        "Counter of DNS requests made per zone, protocol and family.";
    REQUEST_DURATION "coredns_dns_request_duration_seconds" Kind::Histogram(TIME_BUCKETS), ["server", "zone", "view"],
        "Histogram of the time (in seconds) each request took per zone.";
    REQUEST_SIZE "coredns_dns_request_size_bytes" Kind::Histogram(SIZE_BUCKETS), ["server", "zone", "view", "proto"],
        "Size of the EDNS0 UDP buffer in bytes (64K for TCP) per zone and protocol.";
    DO_REQUESTS "coredns_dns_do_requests_total" Kind::Counter, ["server", "zone", "view"],
        "Counter of DNS requests with DO bit set per zone.";
    RESPONSE_SIZE "coredns_dns_response_size_bytes" Kind::Histogram(SIZE_BUCKETS), ["server", "zone", "view", "proto"],
        "Size of the returned response in bytes.";
    RESPONSES "coredns_dns_responses_total" Kind::Counter, ["server", "zone", "view", "rcode", "plugin"],
        "Counter of response status codes.";
    PANICS "coredns_panics_total" Kind::Counter, [],
        "A metrics that counts the number of panics.";
    PLUGIN_ENABLED "coredns_plugin_enabled" Kind::Gauge, ["server", "zone", "view", "name"],
        "A metric that indicates whether a plugin is enabled on per server and zone basis.";
    BUILD_INFO "coredns_build_info" Kind::Gauge, ["version", "revision", "goversion"],
        "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.";
    RELOAD_FAILED "coredns_reload_failed_total" Kind::Counter, [],
        "Counter of the number of failed reload attempts.";
    RELOAD_VERSION_INFO "coredns_reload_version_info" Kind::Gauge, ["hash", "value"],
        "A metric with a constant '1' value labeled by hash, and value which type of hash generated.";
    HEALTH_DURATION "coredns_health_request_duration_seconds" Kind::Histogram(SLIM_TIME_BUCKETS), [],
        "Histogram of the time (in seconds) each request took.";
    HEALTH_FAILURES "coredns_health_request_failures_total" Kind::Counter, [],
        "The number of times the health check failed.";
}
