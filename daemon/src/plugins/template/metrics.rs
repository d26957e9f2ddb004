//! The template plugin's metric families, as CoreDNS names them.

use crate::metrics::Kind;

crate::metrics::families! {
    list OWN;
    MATCHES "coredns_template_matches_total" Kind::Counter, ["server", "zone", "view", "class", "type"],
        "Counter of template regex matches.";
    FAILURES "coredns_template_template_failures_total" Kind::Counter, ["server", "zone", "view", "class", "type", "section", "template"],
        "Counter of go template failures.";
    RR_FAILURES "coredns_template_rr_failures_total" Kind::Counter, ["server", "zone", "view", "class", "type", "section", "template"],
        "Counter of mis-templated RRs.";
}
