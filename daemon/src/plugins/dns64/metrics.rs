//! dns64's metric family, named and labelled as CoreDNS 1.14.7's.

use crate::metrics::Kind;

crate::metrics::families! {
    list OWN;
    TRANSLATED "coredns_dns64_requests_translated_total" Kind::Counter, ["server"],
        "Counter of DNS requests translated by dns64.";
}
