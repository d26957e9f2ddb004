//! A query is read once: the dispatcher views its header and question and
//! lowercases and routes the name once, for the raw path and the chain
//! alike; hickory parses it in full only when the chain serves it.

use super::ask;
use crate::server::dispatch::Parses;
use crate::server::Dispatcher;
use hickory_proto::rr::RecordType;
use std::sync::Arc;

#[test]
fn a_query_the_raw_path_misses_is_parsed_once() {
    let corefile = "example.org:53 {\n    cache\n    whoami\n}\nexample.net:53 {\n    whoami\n}\n";
    let config =
        crate::server::load(corefile, "Corefile", 53, crate::plugins::ORDER).expect("loads");
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    // A block without a raw path: one view, one full parse.
    let r = ask(&mut d, "www.Example.NET.", RecordType::A);
    assert_eq!(r.additionals.len(), 2, "whoami answered");
    assert_eq!(d.parses, Parses { views: 1, full: 1 });
    // A cache miss: the same, the cache keys on the name lowercased once.
    ask(&mut d, "www.example.org.", RecordType::A);
    assert_eq!(d.parses, Parses { views: 2, full: 2 });
    // A hit from the raw path: viewed only.
    ask(&mut d, "www.example.org.", RecordType::A);
    assert_eq!(d.parses, Parses { views: 3, full: 2 });
    assert_eq!(d.fast_answers(), 1);
}
