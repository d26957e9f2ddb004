//! shed in the server: the bound it sets on its listeners' sockets, the
//! queries it drops (on the raw path too, and only in its own blocks) and
//! the replies the runtime drops, counted.

use crate::plugins::shed::tests::counts;
use crate::runtime::{Handled, Packet, PacketHandler};
use crate::server::Dispatcher;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use std::sync::Arc;

const COREFILE: &str = r#"example.org:64056 {
    shed
    cache
    template IN A example.org {
        answer "{{ .Name }} 60 IN A 192.0.2.1"
    }
}
example.net:64056 {
    template IN A example.net {
        answer "{{ .Name }} 60 IN A 192.0.2.2"
    }
}
example.com:64057 {
    template IN A example.com {
        answer "{{ .Name }} 60 IN A 192.0.2.3"
    }
}
"#;

/// A UDP (or TCP) query for `name` read while its socket was (or was not)
/// backlogged.
fn handle(d: &mut Dispatcher, name: &str, listener: usize, backlogged: bool, tcp: bool) -> bool {
    let mut q = Message::new(9, MessageType::Query, OpCode::Query);
    q.queries
        .push(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    let bytes = q.to_vec().unwrap();
    let p = Packet {
        listener,
        data: &bytes,
        src: "127.0.0.1:40000".parse().unwrap(),
        local: "127.0.0.1:64056".parse().unwrap(),
        tcp,
        at: std::time::Instant::now(),
        backlogged,
    };
    let mut out = Vec::new();
    match d.handle(&p, &mut out) {
        Handled::Reply => true,
        Handled::Drop => false,
        Handled::Later(_) => panic!("nothing here waits"),
    }
}

#[test]
fn shed_bounds_its_listeners_and_drops_in_its_blocks() {
    let config = crate::server::load(COREFILE, "Corefile", 53, crate::plugins::ORDER).unwrap();
    let listen = config.listen();
    // Every socket of the listener gets the bound; the other listener none.
    assert_eq!(listen[0].udp_reply_bound, Some(1024));
    assert_eq!(listen[1].udp_reply_bound, None);
    assert!(config.blocks[0].fast.is_some(), "shed keeps the raw path");
    let mut d = Dispatcher::new(Arc::new(config), 0, 1, true);
    let server = "dns://:64056";
    // Counted from zero once the worker serves the listener.
    assert_eq!(
        counts(server),
        [
            format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"query\"}} 0"),
            format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"response\"}} 0"),
        ]
    );
    assert!(handle(&mut d, "a.example.org.", 0, false, false));
    // A cache hit, on the raw path: dropped all the same.
    let hits = d.fast_answers();
    assert!(handle(&mut d, "a.example.org.", 0, false, false));
    assert_eq!(d.fast_answers(), hits + 1);
    assert!(!handle(&mut d, "a.example.org.", 0, true, false));
    // A miss, through the chain.
    assert!(!handle(&mut d, "b.example.org.", 0, true, false));
    // TCP is never shed; nor are blocks without shed on the same socket.
    assert!(handle(&mut d, "a.example.org.", 0, true, true));
    assert!(handle(&mut d, "a.example.net.", 0, true, false));
    assert!(handle(&mut d, "a.example.com.", 1, true, false));
    // What the runtime dropped of the listener's replies.
    d.replies_dropped(0, 7);
    d.replies_dropped(1, 5);
    assert_eq!(
        counts(server),
        [
            format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"query\"}} 2"),
            format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"response\"}} 7"),
        ]
    );
    assert!(counts("dns://:64057").is_empty());
}
