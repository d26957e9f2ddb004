//! The cache's metric families, named and labelled as CoreDNS 1.14.7's
//! (and ferrodns's own raw-path hits).

use crate::metrics::Kind;

crate::metrics::families! {
    list OWN;
    CACHE_ENTRIES "coredns_cache_entries" Kind::Gauge, ["server", "type", "zones", "view"],
        "The number of elements in the cache.";
    CACHE_REQUESTS "coredns_cache_requests_total" Kind::Counter, ["server", "zones", "view"],
        "The count of cache requests.";
    CACHE_HITS "coredns_cache_hits_total" Kind::Counter, ["server", "type", "zones", "view"],
        "The count of cache hits.";
    CACHE_MISSES "coredns_cache_misses_total" Kind::Counter, ["server", "zones", "view"],
        "The count of cache misses. Deprecated, derive misses from cache hits/requests counters.";
    CACHE_PREFETCH "coredns_cache_prefetch_total" Kind::Counter, ["server", "zones", "view"],
        "The number of times the cache has prefetched a cached item.";
    CACHE_DROPS "coredns_cache_drops_total" Kind::Counter, ["server", "zones", "view"],
        "The number responses that are not cached, because the reply is malformed.";
    CACHE_SERVED_STALE "coredns_cache_served_stale_total" Kind::Counter, ["server", "zones", "view"],
        "The number of requests served from stale cache entries.";
    CACHE_EVICTIONS "coredns_cache_evictions_total" Kind::Counter, ["server", "type", "zones", "view"],
        "The count of cache evictions.";
    CACHE_FAST_HITS "ferrodns_cache_fast_hits_total" Kind::Counter, ["server", "zones", "view"],
        "Cache hits answered from the query's bytes, without the plugin chain (part of coredns_cache_hits_total).";
}
