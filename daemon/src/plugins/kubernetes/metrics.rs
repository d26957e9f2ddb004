//! The plugin's metric family, named and labelled as CoreDNS 1.14.7's.

use crate::metrics::Kind;

/// Prometheus' `ExponentialBuckets(0.001, 2, 20)`.
static PROGRAMMING_BUCKETS: [f64; 20] = {
    let mut b = [0.001; 20];
    let mut i = 1;
    while i < 20 {
        b[i] = b[i - 1] * 2.0;
        i += 1;
    }
    b
};

crate::metrics::families! {
    list OWN;
    DNS_PROGRAMMING "coredns_kubernetes_dns_programming_duration_seconds" Kind::Histogram(&PROGRAMMING_BUCKETS), ["service_kind"],
        "Histogram of the time (in seconds) it took to program a dns instance.";
}
