//! Arbitrary bytes through the whole query path: `Dispatcher::handle` with a
//! Corefile that loads the small built-in plugins and a cache (so the cache
//! fast path sees them too).
//!
//! The first input byte picks the transport (bit 0: TCP) and the client's
//! address family (bit 1: IPv6); the rest is the message. `handle` must not
//! panic (plugin panics are caught by the dispatcher in production, but the
//! fuzzer's panic hook aborts on them, so they are reported too), and any
//! reply must be a parseable DNS message of at most 65535 bytes, answering
//! the query's ID, and at most 512 bytes over UDP when the query carried no
//! OPT record.
//!
//! No plugin in this Corefile waits on the network, so a `Handled::Later`
//! future is polled here with a no-op waker; it must finish within a few
//! polls, and what it yields is checked like an immediate reply.

#![no_main]

use ferrodns::runtime::{Handled, Packet, PacketHandler};
use ferrodns::server::Dispatcher;
use hickory_proto::op::Message;
use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

// The second block caches what template answers, so repeated questions
// go through the cache fast path.
const COREFILE: &str = ".:53 {\n any\n chaos\n whoami\n minimal\n bufsize 1232\n nsid test\n}\n\
example.org:53 {\n bufsize 1400\n acl {\n  block type AAAA net 192.0.2.0/24\n }\n cache 30\n template IN A {\n  answer \"{{ .Name }} 60 IN A 192.0.2.1\"\n }\n template IN MX {\n  rcode NXDOMAIN\n }\n}\n";

thread_local! {
    static DISPATCHER: RefCell<Dispatcher> = RefCell::new({
        let config = ferrodns::server::load(COREFILE, "Corefile", 53, ferrodns::plugins::ORDER)
            .expect("the fuzz Corefile loads");
        Dispatcher::new(Arc::new(config), 0, 1, true)
    });
    /// Reused across runs without clearing, as a worker reuses its buffer.
    static OUT: RefCell<Vec<u8>> = RefCell::new(vec![0xEE; 700]);
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let tcp = mode & 1 != 0;
    let (src, local) = if mode & 2 != 0 {
        (
            SocketAddr::new(
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 7)),
                40053,
            ),
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 53),
        )
    } else {
        (
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)), 40053),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53),
        )
    };
    let packet = Packet {
        listener: 0,
        data,
        src,
        local,
        tcp,
        at: std::time::Instant::now(),
        backlogged: false,
    };
    DISPATCHER.with_borrow_mut(|d| {
        OUT.with_borrow_mut(|out| {
            let later;
            let out: &[u8] = match d.handle(&packet, out) {
                Handled::Reply => out,
                Handled::Drop => return,
                Handled::Later(mut fut) => {
                    let mut cx = Context::from_waker(Waker::noop());
                    let mut polls = 0;
                    later = loop {
                        match fut.as_mut().poll(&mut cx) {
                            Poll::Ready(r) => break r,
                            Poll::Pending => {
                                polls += 1;
                                assert!(polls < 100, "chain still pending after 100 polls");
                            }
                        }
                    };
                    match &later {
                        Some(bytes) => bytes,
                        None => return,
                    }
                }
            };
            assert!(out.len() <= 65535, "reply of {} bytes", out.len());
            let reply = match Message::from_vec(out) {
                Ok(m) => m,
                Err(e) => panic!(
                    "reply does not parse: {e}\nquery: {:02x?}\nreply: {:02x?}",
                    data, out
                ),
            };
            assert!(data.len() >= 2);
            assert_eq!(
                reply.metadata.id,
                u16::from_be_bytes([data[0], data[1]]),
                "reply ID"
            );
            assert_eq!(
                reply.metadata.message_type,
                hickory_proto::op::MessageType::Response,
                "reply without QR"
            );
            if !tcp {
                let query_opt = Message::from_vec(data).ok().and_then(|q| q.edns);
                if query_opt.is_none() {
                    assert!(
                        out.len() <= 512,
                        "UDP reply of {} bytes to a query without OPT",
                        out.len()
                    );
                }
            }
        })
    });
});
