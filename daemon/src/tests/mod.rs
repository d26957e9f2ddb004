//! Tests of the server with the real plugins: above every layer, as the
//! service assembles them.

mod auth;
mod example_plugin;
mod fastpath;
mod kernel;
mod lookups;
mod metrics;
mod parses;
mod reloads;
mod shed;
mod views;

use crate::runtime::{Handled, Packet, PacketHandler};
use crate::server::Dispatcher;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

/// One UDP query for `name` and `qtype` through the dispatcher, and its
/// reply (which must come at once).
fn ask(d: &mut Dispatcher, name: &str, qtype: RecordType) -> Message {
    ask_from(d, "127.0.0.1:40000", name, qtype)
}

/// [`ask`] from client `src`.
fn ask_from(d: &mut Dispatcher, src: &str, name: &str, qtype: RecordType) -> Message {
    let mut q = Message::new(7, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.queries
        .push(Query::query(Name::from_ascii(name).unwrap(), qtype));
    let bytes = q.to_vec().unwrap();
    let p = Packet {
        listener: 0,
        data: &bytes,
        src: src.parse().unwrap(),
        local: "127.0.0.1:53".parse().unwrap(),
        tcp: false,
        at: std::time::Instant::now(),
        backlogged: false,
    };
    let mut out = Vec::new();
    assert!(matches!(d.handle(&p, &mut out), Handled::Reply));
    Message::from_vec(&out).unwrap()
}
