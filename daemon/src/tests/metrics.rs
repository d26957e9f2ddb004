//! Every metric family has one owner: a plugin that says so
//! (`Plugin::metrics`), or the server and its control plane.

use crate::metrics::{self, Family};
use std::collections::HashMap;

/// What the server, the control plane and the plugins without a place in
/// the chain (health, reload) count in.
const SERVER: &[&Family] = &[
    &metrics::PANICS,
    &metrics::PLUGIN_ENABLED,
    &metrics::BUILD_INFO,
    &metrics::RELOAD_FAILED,
    &metrics::RELOAD_VERSION_INFO,
    &metrics::HEALTH_DURATION,
    &metrics::HEALTH_FAILURES,
];

#[test]
fn every_family_has_one_owner() {
    // Every plugin with families of its own: other tests use them.
    let corefile =
        ".:53 {\n    prometheus :0\n    shed\n    dns64\n    autopath @kubernetes\n    cache\n    template IN A x.test {\n        answer \"x.test. 60 IN A 192.0.2.1\"\n    }\n    forward . 127.0.0.1:9\n}\n";
    let config =
        crate::server::load(corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
    let mut owners: HashMap<&str, Vec<&str>> = HashMap::new();
    metrics::register_all(SERVER);
    for f in SERVER {
        owners.entry(f.name).or_default().push("server");
    }
    for p in config.plugins() {
        metrics::register_all(p.metrics());
        for f in p.metrics() {
            owners.entry(f.name).or_default().push(p.name());
        }
    }
    let registered = metrics::registered();
    for f in &registered {
        assert_eq!(
            owners.get(f.name).map(Vec::len),
            Some(1),
            "{}: owners {:?}",
            f.name,
            owners.get(f.name)
        );
    }
    assert_eq!(owners.len(), registered.len());
}
