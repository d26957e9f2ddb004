//! shed's metric family, named and labelled as CoreDNS 1.14.7's.

use crate::metrics::Kind;

crate::metrics::families! {
    list OWN;
    DROPPED "coredns_shed_dropped_total" Kind::Counter, ["server", "reason"],
        "Counter of queries and responses dropped, per server, by reason.";
}
