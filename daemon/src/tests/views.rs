//! Server blocks that share a zone and port, each with a `view`: routing
//! asks their filters in Corefile order (the first block that takes the
//! query serves it, a zone none takes goes on to its parents and the root),
//! for clients' queries and internal lookups alike; each view keeps its own
//! cache; metrics carry the view's name, and metadata `view/name`.

use super::ask_from;
use crate::server::Dispatcher;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::sync::Arc;

fn load(corefile: &str) -> Dispatcher {
    let config =
        crate::server::load(corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
    Dispatcher::new(Arc::new(config), 0, 1, true)
}

/// The addresses answered.
fn addrs(m: &Message) -> Vec<String> {
    m.answers
        .iter()
        .filter(|r| matches!(r.record_type(), RecordType::A | RecordType::AAAA))
        .map(|r| r.data.to_string())
        .collect()
}

/// A block for `zone` answering every question with an A record for
/// `ip`, with `extra` lines (a view) first.
fn block(zone: &str, extra: &str, ip: &str) -> String {
    format!(
        "{zone} {{\n{extra}\n    template ANY ANY {{\n        answer \"{{{{ .Name }}}} 60 IN A {ip}\"\n    }}\n}}\n"
    )
}

const LOCAL: &str = "127.0.0.1:40000";
const OTHER: &str = "192.0.2.7:40000";

#[test]
fn the_first_block_whose_view_takes_the_query_serves_it() {
    let corefile = [
        block(
            ".",
            "view local {\n expr incidr(client_ip(), '127.0.0.0/8')\n}",
            "1.1.1.1",
        ),
        block(
            ".",
            "view lab {\n expr incidr(client_ip(), '192.0.2.0/24') && type() == 'A'\n}",
            "2.2.2.2",
        ),
        block(".", "", "3.3.3.3"),
    ]
    .concat();
    let mut d = load(&corefile);
    assert_eq!(
        addrs(&ask_from(&mut d, LOCAL, "test.", RecordType::A)),
        ["1.1.1.1"]
    );
    assert_eq!(
        addrs(&ask_from(&mut d, OTHER, "test.", RecordType::A)),
        ["2.2.2.2"]
    );
    assert_eq!(
        addrs(&ask_from(&mut d, "198.51.100.1:53", "test.", RecordType::A)),
        ["3.3.3.3"]
    );
    // The catch-all answers what the lab view does not take.
    assert_eq!(
        addrs(&ask_from(&mut d, OTHER, "test.", RecordType::AAAA)),
        ["3.3.3.3"]
    );
    // The raw path leaves zones with views to the chain.
    assert_eq!(d.fast_answers(), 0);
}

#[test]
fn a_catch_all_declared_first_shadows_the_views() {
    let corefile = [
        block(".", "", "3.3.3.3"),
        block(
            ".",
            "view local {\n expr incidr(client_ip(), '127.0.0.0/8')\n}",
            "1.1.1.1",
        ),
    ]
    .concat();
    let mut d = load(&corefile);
    assert_eq!(
        addrs(&ask_from(&mut d, LOCAL, "test.", RecordType::A)),
        ["3.3.3.3"]
    );
}

#[test]
fn a_zone_no_view_takes_goes_to_its_parents_then_refused() {
    let corefile = [
        block(
            "example.org",
            "view local {\n expr incidr(client_ip(), '127.0.0.0/8')\n}",
            "1.1.1.1",
        ),
        block(
            "org",
            "view none {\n expr name() == 'nothing.'\n}",
            "2.2.2.2",
        ),
        block(
            ".",
            "view lab {\n expr incidr(client_ip(), '192.0.2.0/24')\n}",
            "3.3.3.3",
        ),
    ]
    .concat();
    let mut d = load(&corefile);
    let name = "www.example.org.";
    assert_eq!(
        addrs(&ask_from(&mut d, LOCAL, name, RecordType::A)),
        ["1.1.1.1"]
    );
    assert_eq!(
        addrs(&ask_from(&mut d, OTHER, name, RecordType::A)),
        ["3.3.3.3"]
    );
    let m = ask_from(&mut d, "198.51.100.1:53", name, RecordType::A);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn duplicate_zones_need_views() {
    let dup = [block(".", "", "1.1.1.1"), block(".", "", "2.2.2.2")].concat();
    let e = crate::server::load(&dup, "Corefile", 53, crate::plugins::ORDER)
        .err()
        .expect("refused");
    assert_eq!(
        e.to_string(),
        "Corefile:7: cannot serve dns://.:53 - it is already defined"
    );
    let views = [
        block(".", "view a", "1.1.1.1"),
        block(".", "view b", "2.2.2.2"),
        block(".", "", "3.3.3.3"),
    ]
    .concat();
    assert!(crate::server::load(&views, "Corefile", 53, crate::plugins::ORDER).is_ok());
}

#[test]
fn a_view_can_read_its_own_name_from_metadata() {
    let with = [
        block(
            ".",
            "metadata\n view inside {\n expr metadata('view/name') == 'inside'\n}",
            "1.1.1.1",
        ),
        block(".", "", "3.3.3.3"),
    ]
    .concat();
    let mut d = load(&with);
    assert_eq!(
        addrs(&ask_from(&mut d, LOCAL, "test.", RecordType::A)),
        ["1.1.1.1"]
    );
    // Without metadata in the block, nothing is collected.
    let without = with.replace("metadata\n", "");
    let mut d = load(&without);
    assert_eq!(
        addrs(&ask_from(&mut d, LOCAL, "test.", RecordType::A)),
        ["3.3.3.3"]
    );
}

#[test]
fn each_view_keeps_its_own_cache() {
    let corefile = [
        block(
            ".",
            "cache\n view local {\n expr incidr(client_ip(), '127.0.0.0/8')\n}",
            "1.1.1.1",
        ),
        block(".", "cache", "3.3.3.3"),
    ]
    .concat();
    let mut d = load(&corefile);
    for _ in 0..2 {
        assert_eq!(
            addrs(&ask_from(&mut d, LOCAL, "test.", RecordType::A)),
            ["1.1.1.1"]
        );
        assert_eq!(
            addrs(&ask_from(&mut d, OTHER, "test.", RecordType::A)),
            ["3.3.3.3"]
        );
    }
}

#[test]
fn internal_lookups_are_routed_through_views() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("db.example.org"),
        "$ORIGIN example.org.\n@ 60 IN SOA ns hm 1 7200 3600 1209600 300\n@ 60 IN NS ns\nns 60 IN A 198.18.0.53\next 60 IN CNAME www.other.net.\n",
    )
    .unwrap();
    let corefile = format!(
        "example.org {{\n    file {}/db.example.org\n}}\n{}{}",
        dir.path().display(),
        block(
            "other.net",
            "view local {\n expr incidr(client_ip(), '127.0.0.0/8')\n}",
            "1.1.1.1"
        ),
        block("other.net", "", "3.3.3.3"),
    );
    let mut d = load(&corefile);
    let m = ask_from(&mut d, LOCAL, "ext.example.org.", RecordType::A);
    assert_eq!(addrs(&m), ["1.1.1.1"]);
    let m = ask_from(&mut d, OTHER, "ext.example.org.", RecordType::A);
    assert_eq!(addrs(&m), ["3.3.3.3"]);
}

#[test]
fn metrics_carry_the_view() {
    let corefile = [
        block(
            ".:40953",
            "prometheus :0\n view local {\n expr incidr(client_ip(), '127.0.0.0/8')\n}",
            "1.1.1.1",
        ),
        block(".:40953", "prometheus :0", "3.3.3.3"),
    ]
    .concat();
    let mut d = load(&corefile);
    ask_from(&mut d, LOCAL, "test.", RecordType::A);
    ask_from(&mut d, OTHER, "test.", RecordType::A);
    let text = crate::metrics::render();
    let requests = |view: &str| {
        format!(
            "coredns_dns_requests_total{{server=\"dns://:40953\",zone=\".\",view=\"{view}\",proto=\"udp\",family=\"1\",type=\"A\"}} 1"
        )
    };
    assert!(text.contains(&requests("local")), "{text}");
    assert!(text.contains(&requests("")), "{text}");
}
