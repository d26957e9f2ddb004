//! A reload lets go of the configuration it replaces: once the workers
//! serve the new one and what was in flight on the old one is over, the
//! old plugins are dropped (their memory, threads and sockets with them).
//! Served by the real `Service` on loopback, with a test plugin,
//! `watched TAG`, that says while it lives, and which configuration
//! serves (it answers TXT questions for `watched.ZONE` with its tag).

use crate::corefile::{Directive, Dispenser, Error};
use crate::plugin::fast::{Needs, RawQuery};
use crate::plugin::registry::{Entry, Placed};
use crate::plugin::{Action, BlockSetup, Fast, Outcome, Plugin, Request};
use crate::runtime::Io;
use crate::service::{Plane, Service};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tags of the `watched` plugins alive now.
static LIVE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Answers TXT questions for `watched.ZONE` with its tag and passes
/// every other query on; lives as long as its configuration's chain.
struct Watched {
    tag: String,
}

impl Watched {
    fn new(tag: String) -> Self {
        LIVE.lock().unwrap().push(tag.clone());
        Watched { tag }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        let mut live = LIVE.lock().unwrap();
        if let Some(i) = live.iter().position(|t| *t == self.tag) {
            live.swap_remove(i);
        }
    }
}

impl Plugin for Watched {
    fn name(&self) -> &'static str {
        "watched"
    }

    fn query(&self, req: &mut Request) -> Action {
        if !req.name.starts_with("watched.") || req.qtype() != RecordType::TXT {
            return Action::Next;
        }
        let mut m = req.reply();
        let txt = RData::TXT(TXT::new(vec![self.tag.clone()]));
        m.answers
            .push(Record::from_rdata(req.qname().clone(), 0, txt));
        Action::Done(Outcome::reply(m))
    }

    // The raw path (cache hits, forward's relay) stays open to its block,
    // but for its own questions.
    fn fast(&self) -> Fast {
        Fast::Hook(Needs::CHECK_ONLY)
    }

    fn fast_check(&self, q: &RawQuery<'_>, _cap: &mut Option<u16>) -> bool {
        !q.lower.starts_with(b"\x07watched")
    }
}

fn setup(_b: &mut BlockSetup, ds: &[&Directive]) -> Result<Watched, Error> {
    let mut d = Dispenser::new(ds[0]);
    d.next();
    match d.remaining_args().as_slice() {
        [tag] => Ok(Watched::new(tag.clone())),
        _ => Err(d.arg_err()),
    }
}

/// ferrodns's table with `watched` first.
fn order() -> Vec<Entry> {
    let mut order: Vec<Entry> = crate::plugins::ORDER.to_vec();
    order.insert(
        0,
        Entry::has("watched", |b, ds| setup(b, ds).map(|p| p.place(b))),
    );
    order
}

fn alive(tag: &str) -> bool {
    LIVE.lock().unwrap().iter().any(|t| t == tag)
}

/// Waits (up to a bound far above what it takes) for `tag`'s plugin to
/// be dropped.
fn dropped(tag: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(tag) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// A port free for UDP and TCP on 127.0.0.1 now.
fn free_port() -> u16 {
    loop {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = u.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

struct Server {
    service: Option<Service>,
    port: u16,
    order: Vec<Entry>,
}

impl Server {
    /// `corefile` with `{PORT}` for the port, served by `workers` workers.
    fn start(corefile: &str, workers: usize) -> Server {
        let port = free_port();
        let order = order();
        let plane = Plane {
            io: Io::Mmsg,
            fast_path: true,
            steer: false,
        };
        let config = load(corefile, port, &order);
        let service = Service::start(config, workers, plane, None, |_| {}).unwrap();
        Server {
            service: Some(service),
            port,
            order,
        }
    }

    fn reload(&mut self, corefile: &str) {
        let config = load(corefile, self.port, &self.order);
        self.service.as_mut().unwrap().reload(config).unwrap();
    }

    fn stop(&mut self) {
        if let Some(s) = self.service.take() {
            s.stop();
        }
    }

    /// A client's socket with `name`/`qtype` sent to the server.
    fn send(&self, name: &str, qtype: RecordType) -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut q = Message::new(7, MessageType::Query, OpCode::Query);
        q.metadata.recursion_desired = true;
        q.queries
            .push(Query::query(Name::from_ascii(name).unwrap(), qtype));
        s.send_to(&q.to_vec().unwrap(), ("127.0.0.1", self.port))
            .unwrap();
        s
    }

    fn ask(&self, name: &str) -> Message {
        reply(&self.send(name, RecordType::A))
    }

    /// Asks until the configuration tagged `tag` answers for `zone` (a
    /// worker takes a new one between two messages).
    fn served_by(&self, zone: &str, tag: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let name = format!("watched.{zone}");
        loop {
            let m = reply(&self.send(&name, RecordType::TXT));
            if m.answers.iter().any(|r| r.data.to_string() == tag) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "configuration {tag} never served"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn load(corefile: &str, port: u16, order: &[Entry]) -> crate::server::Config {
    let text = corefile.replace("{PORT}", &port.to_string());
    crate::server::load(&text, "Corefile", 53, order).expect("loads")
}

fn reply(s: &UdpSocket) -> Message {
    let mut buf = [0; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("a reply");
    Message::from_vec(&buf[..n]).unwrap()
}

fn answers(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.to_string()).collect()
}

/// An upstream the test answers by hand.
struct Upstream {
    sock: UdpSocket,
}

impl Upstream {
    fn new() -> Upstream {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        Upstream { sock }
    }

    fn port(&self) -> u16 {
        self.sock.local_addr().unwrap().port()
    }

    /// The next query forward sends.
    fn query(&self) -> (Message, SocketAddr) {
        let mut buf = [0; 4096];
        let (n, from) = self.sock.recv_from(&mut buf).expect("a query upstream");
        (Message::from_vec(&buf[..n]).unwrap(), from)
    }

    /// Answers `q` with one A record.
    fn answer(&self, (q, to): (Message, SocketAddr), ip: [u8; 4]) {
        let mut m = crate::plugin::request::reply_to(&q);
        m.metadata.recursion_available = true;
        m.answers.push(Record::from_rdata(
            q.queries[0].name().clone(),
            60,
            RData::A(A::from(std::net::Ipv4Addr::from(ip))),
        ));
        self.sock.send_to(&m.to_vec().unwrap(), to).unwrap();
    }
}

/// Every configuration a reload replaces goes, whether the workers take
/// the new one in place or a new set of workers starts (a new number of
/// them), the first one (which the workers were started with) included;
/// and the last one goes when the server stops. One of its blocks asks the
/// server questions of its own (template's CNAME, through an internal
/// lookup).
#[test]
fn a_reload_drops_the_configuration_it_replaces() {
    let corefile = |tag: &str, extra: &str| {
        format!(
            "tpl.test:{{PORT}} {{\n    bind 127.0.0.1\n    watched {tag}\n    {extra}\n    \
             template IN A tpl.test {{\n        match \"^a\\.\"\n        \
             answer \"{{{{ .Name }}}} 60 IN CNAME b.tpl.test.\"\n        fallthrough\n    }}\n    \
             template IN A tpl.test {{\n        answer \"{{{{ .Name }}}} 60 IN A 192.0.2.1\"\n    }}\n}}\n\
             .:{{PORT}} {{\n    bind 127.0.0.1\n    watched {tag}0\n    whoami\n}}\n"
        )
    };
    let served = |s: &Server, tag: &str| {
        s.served_by("tpl.test.", tag);
        s.served_by("", &format!("{tag}0"));
        assert_eq!(
            answers(&s.ask("a.tpl.test.")),
            [
                "a.tpl.test. 60 IN CNAME b.tpl.test.",
                "b.tpl.test. 60 IN A 192.0.2.1"
            ]
        );
        assert_eq!(
            s.ask("x.test.").metadata.response_code,
            ResponseCode::NoError
        );
    };
    let mut s = Server::start(&corefile("11", ""), 2);
    served(&s, "11");
    // In place.
    s.reload(&corefile("12", ""));
    served(&s, "12");
    assert!(
        dropped("11") && dropped("110"),
        "the first configuration is held"
    );
    // A new set of workers.
    s.reload(&corefile("13", "multisocket 1"));
    served(&s, "13");
    assert!(
        dropped("12") && dropped("120"),
        "a reloaded configuration is held"
    );
    // In place again: the configuration the new workers started with goes.
    s.reload(&corefile("14", "multisocket 1"));
    served(&s, "14");
    assert!(
        dropped("13") && dropped("130"),
        "the new workers' first configuration is held"
    );
    assert!(alive("14") && alive("140"));
    s.stop();
    assert!(
        dropped("14") && dropped("140"),
        "the last configuration is held after stop"
    );
}

/// A query waiting on an upstream across the reload finishes on the old
/// configuration, which goes once it is answered.
#[test]
fn a_query_in_flight_keeps_its_configuration_until_answered() {
    let up = Upstream::new();
    let corefile = |tag: &str| {
        format!(
            ".:{{PORT}} {{\n    bind 127.0.0.1\n    watched {tag}\n    forward . 127.0.0.1:{}\n}}\n",
            up.port()
        )
    };
    let mut s = Server::start(&corefile("21"), 1);
    let client = s.send("www.example.org.", RecordType::A);
    let waiting = up.query();
    s.reload(&corefile("22"));
    s.served_by("", "22");
    assert!(alive("21"), "dropped under a query in flight");
    up.answer(waiting, [192, 0, 2, 1]);
    assert_eq!(
        answers(&reply(&client)),
        ["www.example.org. 60 IN A 192.0.2.1"]
    );
    assert!(dropped("21"), "held after its last query was answered");
}

/// A refresh the cache left running (a prefetch, detached from the query
/// that was answered from the cache) across the reload finishes on the old
/// configuration, which goes once it is over.
#[test]
fn detached_work_keeps_its_configuration_until_done() {
    let up = Upstream::new();
    // Every hit is due for a prefetch: items are kept for 1 s, and a hit
    // with 10% of that left (rounded up to 1 s) prefetches (the cache's
    // clock stands still on the workers in tests).
    let corefile = |tag: &str| {
        format!(
            ".:{{PORT}} {{\n    bind 127.0.0.1\n    watched {tag}\n    \
             cache {{\n        success 9984 1 0\n        prefetch 1 1m 10%\n    }}\n    \
             forward . 127.0.0.1:{}\n}}\n",
            up.port()
        )
    };
    let mut s = Server::start(&corefile("31"), 1);
    let client = s.send("pre.example.org.", RecordType::A);
    up.answer(up.query(), [192, 0, 2, 1]);
    assert_eq!(answers(&reply(&client)).len(), 1);
    // A hit: answered at once, and the prefetch goes upstream.
    assert_eq!(answers(&s.ask("pre.example.org.")).len(), 1);
    let prefetch = up.query();
    s.reload(&corefile("32"));
    s.served_by("", "32");
    assert!(alive("31"), "dropped under its detached refresh");
    up.answer(prefetch, [192, 0, 2, 3]);
    assert!(dropped("31"), "held after its detached refresh was over");
}
