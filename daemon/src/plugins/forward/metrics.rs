//! forward's metric families, named and labelled as CoreDNS 1.14.7's
//! (and ferrodns's own dropped and relayed counts).

use crate::metrics::{Kind, TIME_BUCKETS};

crate::metrics::families! {
    list OWN;
    PROXY_REQUEST_DURATION "coredns_proxy_request_duration_seconds" Kind::Histogram(TIME_BUCKETS), ["proxy_name", "to", "rcode"],
        "Histogram of the time each request took.";
    PROXY_HEALTHCHECK_FAILURES "coredns_proxy_healthcheck_failures_total" Kind::Counter, ["proxy_name", "to"],
        "Counter of the number of failed healthchecks.";
    PROXY_CONN_CACHE_HITS "coredns_proxy_conn_cache_hits_total" Kind::Counter, ["proxy_name", "to", "proto"],
        "Counter of connection cache hits per upstream and protocol.";
    PROXY_CONN_CACHE_MISSES "coredns_proxy_conn_cache_misses_total" Kind::Counter, ["proxy_name", "to", "proto"],
        "Counter of connection cache misses per upstream and protocol.";
    FORWARD_HEALTHCHECK_BROKEN "coredns_forward_healthcheck_broken_total" Kind::Counter, [],
        "Counter of the number of complete failures of the healthchecks.";
    FORWARD_MAX_CONCURRENT_REJECTS "coredns_forward_max_concurrent_rejects_total" Kind::Counter, [],
        "Counter of the number of queries rejected because the concurrent queries were at maximum.";
    FORWARD_DROPPED_REPLIES "ferrodns_forward_dropped_replies_total" Kind::Counter, ["to", "reason"],
        "Replies from an upstream dropped because their ID or question did not match the query sent.";
    FORWARD_RELAYED "ferrodns_forward_relayed_total" Kind::Counter, ["to"],
        "Queries forward relayed to an upstream as bytes, without the plugin chain.";
}
