//! autopath's metric family, named and labelled as CoreDNS 1.14.7's.

use crate::metrics::Kind;

crate::metrics::families! {
    list OWN;
    SUCCESS "coredns_autopath_success_total" Kind::Counter, ["server"],
        "Counter of requests that did autopath.";
}
