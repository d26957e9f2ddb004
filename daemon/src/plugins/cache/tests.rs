use super::store::{self, Item, Store};
use super::*;
use crate::corefile::Directive;
use crate::plugin::{Action, Outcome, Request, Worker};
use crate::plugins::testutil::{directive, request};
use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::{A, CNAME, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

thread_local! {
    static BASE: Instant = Instant::now();
    static OFFSET: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// The cache's clock in tests: a fixed start plus what [`advance`] added.
pub fn clock() -> Instant {
    BASE.with(|b| *b) + OFFSET.with(Cell::get)
}

pub(crate) fn advance(d: Duration) {
    OFFSET.with(|o| o.set(o.get() + d));
}

fn config(text: &str) -> Result<Config, crate::corefile::Error> {
    let d: Directive = directive(text);
    setup::parse(&["example.org.".to_string()], &[&d])
}

fn cache(text: &str) -> Cache {
    Cache::new(config(text).unwrap())
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn a(owner: &str, ttl: u32, ip: [u8; 4]) -> Record {
    Record::from_rdata(
        name(owner),
        ttl,
        RData::A(A::from(std::net::Ipv4Addr::from(ip))),
    )
}

fn soa(ttl: u32, minimum: u32) -> Record {
    let s = SOA::new(
        name("ns.example.org."),
        name("admin.example.org."),
        1,
        7200,
        3600,
        1209600,
        minimum,
    );
    Record::from_rdata(name("example.org."), ttl, RData::SOA(s))
}

/// Drives queries through one cache with one worker, standing in for the
/// rest of the chain with `upstream`.
struct Rig {
    cache: Cache,
    worker: Rc<Worker>,
    /// Upstream calls so far.
    calls: Cell<u32>,
}

impl Rig {
    fn new(text: &str) -> Self {
        Self {
            cache: cache(text),
            worker: Rc::new(Worker::new(0, 1)),
            calls: Cell::new(0),
        }
    }

    fn req(&self, qname: &str, qtype: RecordType) -> Request {
        let mut r = request(qname, qtype);
        r.worker = Rc::clone(&self.worker);
        r.start = Instant::now();
        r
    }

    /// Asks, with `upstream` answering a query the cache passes on. A
    /// fork's refresh is answered at once, so the client of a verify with a
    /// timeout gets what it brought.
    fn ask(&self, mut req: Request, upstream: impl FnOnce(&Request) -> Outcome) -> Outcome {
        match self.cache.query(&mut req) {
            Action::Done(o) => o,
            Action::Next | Action::Await | Action::Wrap => upstream(&req),
            Action::Watch | Action::WatchAsync => {
                self.calls.set(self.calls.get() + 1);
                let mut o = upstream(&req);
                self.cache.response(&req, &mut o);
                o
            }
            Action::Fork(f) => {
                self.calls.set(self.calls.get() + 1);
                let mut o = upstream(&f.req);
                self.cache.response(&f.req, &mut o);
                if f.wait.is_zero() {
                    f.answer
                } else {
                    o
                }
            }
        }
    }

    fn a(&self, qname: &str, answers: Vec<Record>) -> Outcome {
        self.ask(self.req(qname, RecordType::A), |r| {
            let mut m = r.reply();
            m.answers = answers;
            Outcome::reply(m)
        })
    }
}

fn ttls(o: &Outcome) -> Vec<u32> {
    let m = o.reply.as_ref().unwrap();
    m.answers
        .iter()
        .chain(&m.authorities)
        .chain(&m.additionals)
        .map(|r| r.ttl)
        .collect()
}

fn ip(o: &Outcome) -> String {
    match &o.reply.as_ref().unwrap().answers[0].data {
        RData::A(a) => a.to_string(),
        other => format!("{other:?}"),
    }
}

#[test]
fn setup_defaults() {
    let c = config("cache").unwrap();
    assert_eq!(c, Config::new(vec!["example.org.".into()]));
    assert_eq!(c.pttl, Duration::from_secs(3600));
    assert_eq!(c.nttl, Duration::from_secs(1800));
    assert_eq!(
        (c.minpttl, c.minnttl, c.failttl),
        (MIN_TTL, MIN_TTL, MIN_TTL)
    );
    assert_eq!((c.pcap, c.ncap), (10000, 10000));
    assert_eq!(total_capacity(c.pcap), 9984);
    assert_eq!(total_capacity(100), 1024);
    assert_eq!(total_capacity(-5), 1024);
    assert_eq!(total_capacity(5000), 4864);
    assert_eq!(
        (c.prefetch, c.duration, c.percentage),
        (0, Duration::from_secs(60), 10)
    );
    assert!(c.stale_up_to.is_zero() && !c.keepttl && !c.prefer_positive);
}

#[test]
fn setup_ttl_and_zones() {
    let c = config("cache 300").unwrap();
    assert_eq!(
        (c.pttl, c.nttl),
        (Duration::from_secs(300), Duration::from_secs(300))
    );
    assert_eq!(c.zones, ["example.org."]);
    let c = config("cache 300 Sub.Example.org example.net.").unwrap();
    assert_eq!(c.zones, ["sub.example.org.", "example.net."]);
    // Not a number: a zone.
    let c = config("cache example.com").unwrap();
    assert_eq!(c.zones, ["example.com."]);
    assert_eq!(c.pttl, MAX_TTL);
}

#[test]
fn setup_options() {
    let c = config(
        "cache {\nsuccess 5000 600 10\ndenial 2500 60 1\nprefetch 3 10m 20%\nservfail 10s\ndisable denial sub.example.org Other.org\nkeepttl\n}",
    )
    .unwrap();
    assert_eq!(
        (c.pcap, c.pttl, c.minpttl),
        (5000, Duration::from_secs(600), Duration::from_secs(10))
    );
    assert_eq!(
        (c.ncap, c.nttl, c.minnttl),
        (2500, Duration::from_secs(60), Duration::from_secs(1))
    );
    assert_eq!(
        (c.prefetch, c.duration, c.percentage),
        (3, Duration::from_secs(600), 20)
    );
    assert_eq!(c.failttl, Duration::from_secs(10));
    assert_eq!(c.nexcept, ["sub.example.org.", "other.org."]);
    assert!(c.pexcept.is_empty());
    assert!(c.keepttl);
    let c = config("cache {\ndisable success\n}").unwrap();
    assert_eq!(c.pexcept, ["."]);
    let c = config("cache {\nsuccess 100\n}").unwrap();
    assert_eq!((c.pcap, c.pttl), (100, MAX_TTL));
    let c = config("cache {\nservfail 0\n}").unwrap();
    assert!(c.failttl.is_zero());

    let c = config("cache {\nserve_stale\n}").unwrap();
    assert_eq!(c.stale_up_to, Duration::from_secs(3600));
    assert!(!c.verify_stale);
    let c = config("cache {\nserve_stale 10m VERIFY 100ms 30s 20s\n}").unwrap();
    assert_eq!(c.stale_up_to, Duration::from_secs(600));
    assert!(c.verify_stale);
    assert_eq!(c.verify_timeout, Duration::from_millis(100));
    assert_eq!(c.stale_ttl, Duration::from_secs(30));
    assert_eq!(c.stale_recheck, Duration::from_secs(20));
    let c =
        config("cache {\nserve_stale 1h immediate 30s 30s\nserve_stale_policy prefer_positive\n}")
            .unwrap();
    assert!(!c.verify_stale && c.prefer_positive);
    assert_eq!(
        (c.stale_ttl, c.stale_recheck),
        (Duration::from_secs(30), Duration::from_secs(30))
    );
}

#[test]
fn setup_errors() {
    let err = |t: &str| config(t).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        err("cache 0"),
        "Corefile:1: cache TTL can not be zero or negative: 0"
    );
    assert_eq!(
        err("cache -3"),
        "Corefile:1: cache TTL can not be zero or negative: -3"
    );
    assert!(err("cache {\nsuccess\n}")
        .ends_with("Wrong argument count or unexpected line ending after 'success'"));
    assert_eq!(
        err("cache {\nsuccess x\n}"),
        "Corefile:2: strconv.Atoi: parsing \"x\": invalid syntax"
    );
    assert_eq!(
        err("cache {\ndenial 10 0\n}"),
        "Corefile:2: cache TTL can not be zero or negative: 0"
    );
    assert_eq!(
        err("cache {\nsuccess 10 10 -1\n}"),
        "Corefile:2: cache min TTL can not be negative: -1"
    );
    assert!(err("cache {\nprefetch\n}").contains("Wrong argument count"));
    assert!(err("cache {\nprefetch 1 1m 10% x\n}").contains("Wrong argument count"));
    assert_eq!(
        err("cache {\nprefetch -1\n}"),
        "Corefile:2: prefetch amount should be positive: -1"
    );
    assert_eq!(
        err("cache {\nprefetch 1 5\n}"),
        "Corefile:2: time: missing unit in duration \"5\""
    );
    assert_eq!(
        err("cache {\nprefetch 1 1m 20\n}"),
        "Corefile:2: last character of percentage should be `%`, but is: '0'"
    );
    assert_eq!(
        err("cache {\nprefetch 1 1m 5%\n}"),
        "Corefile:2: percentage should fall in range [10, 90]: 5"
    );
    assert_eq!(
        err("cache {\nserve_stale -1h\n}"),
        "Corefile:2: invalid negative duration for serve_stale"
    );
    assert_eq!(
        err("cache {\nserve_stale 1h later\n}"),
        "Corefile:2: invalid value for serve_stale refresh mode: later"
    );
    assert_eq!(
        err("cache {\nserve_stale 1h verify x\n}"),
        "Corefile:2: invalid serve_stale verify timeout: time: invalid duration \"x\""
    );
    assert_eq!(
        err("cache {\nserve_stale 1h immediate 1500ms\n}"),
        "Corefile:2: serve_stale response TTL must be a whole number of seconds"
    );
    assert_eq!(
        err("cache {\nserve_stale 1h verify 0 30s 6m\n}"),
        "Corefile:2: serve_stale failure recheck cannot exceed 5 minutes"
    );
    assert!(err("cache {\nserve_stale 1h immediate 1s 1s 1s\n}").contains("Wrong argument count"));
    assert_eq!(
        err("cache {\nserve_stale_policy prefer_positive\n}"),
        "Corefile:3: serve_stale_policy requires serve_stale"
    );
    assert_eq!(
        err("cache {\nserve_stale\nserve_stale_policy newest\n}"),
        "Corefile:3: invalid serve_stale_policy: newest"
    );
    assert_eq!(
        err("cache {\nservfail 6m\n}"),
        "Corefile:2: caching SERVFAIL responses over 5 minutes is not permitted"
    );
    assert_eq!(
        err("cache {\nservfail -1s\n}"),
        "Corefile:2: invalid negative ttl for servfail"
    );
    assert_eq!(
        err("cache {\ndisable both\n}"),
        "Corefile:2: cache type for disable must be \"success\" or \"denial\""
    );
    assert!(err("cache {\ndisable\n}").contains("Wrong argument count"));
    assert!(err("cache {\nkeepttl 1\n}").contains("Wrong argument count"));
    assert!(err("cache {\nbogus\n}").ends_with("unexpected line ending after 'bogus'"));
}

#[test]
fn key_is_fnv1_and_separates_do_cd() {
    // FNV-1 64 of "00" + type A + class IN + the wire name.
    let q = |qtype: u16| store::Question {
        name: b"\x07example\x03org\x00",
        qtype,
        qclass: 1,
    };
    let k = store::key(&q(1), false, false);
    let mut h: u64 = 0xcbf29ce484222325;
    for b in b"00\x00\x01\x00\x01\x07example\x03org\x00" {
        h = h.wrapping_mul(0x100000001b3) ^ u64::from(*b);
    }
    assert_eq!(k, h);
    let keys = [
        k,
        store::key(&q(1), true, false),
        store::key(&q(1), false, true),
        store::key(&q(28), false, false),
    ];
    for i in 0..keys.len() {
        for j in i + 1..keys.len() {
            assert_ne!(keys[i], keys[j]);
        }
    }
}

#[test]
fn hit_counts_down_and_clamps() {
    let rig = Rig::new("cache");
    let o = rig.a(
        "www.example.org.",
        vec![a("www.example.org.", 100, [192, 0, 2, 1])],
    );
    assert_eq!(ttls(&o), [100]);
    assert_eq!(rig.calls.get(), 1);
    advance(Duration::from_millis(3500));
    let o = rig.a(
        "WWW.Example.org.",
        vec![a("www.example.org.", 100, [192, 0, 2, 2])],
    );
    assert_eq!(rig.calls.get(), 1, "served from the cache");
    assert_eq!(ip(&o), "192.0.2.1");
    assert_eq!(ttls(&o), [97]);
    let m = o.reply.unwrap();
    assert_eq!(m.metadata.id, 4242);
    assert!(m.metadata.authoritative);
    assert_eq!(m.queries[0].name().to_ascii(), "WWW.Example.org.");

    // Over the maximum: capped at 3600, for the first client too; every
    // record gets the same TTL.
    let o = rig.a(
        "big.example.org.",
        vec![
            a("big.example.org.", 99999, [192, 0, 2, 1]),
            a("big.example.org.", 7200, [192, 0, 2, 2]),
        ],
    );
    assert_eq!(ttls(&o), [3600, 3600]);
    // Under the minimum: raised to 5.
    let o = rig.a(
        "small.example.org.",
        vec![a("small.example.org.", 1, [192, 0, 2, 1])],
    );
    assert_eq!(ttls(&o), [5]);
    advance(Duration::from_secs(4));
    let o = rig.a("small.example.org.", vec![]);
    assert_eq!(ttls(&o), [1]);
    advance(Duration::from_secs(1));
    // Expired: asked again.
    let calls = rig.calls.get();
    let o = rig.a(
        "small.example.org.",
        vec![a("small.example.org.", 1, [192, 0, 2, 9])],
    );
    assert_eq!(rig.calls.get(), calls + 1);
    assert_eq!(ip(&o), "192.0.2.9");
}

#[test]
fn out_of_zone_passes() {
    let rig = Rig::new("cache");
    let mut r = rig.req("www.example.net.", RecordType::A);
    assert!(matches!(rig.cache.query(&mut r), Action::Next));
}

#[test]
fn do_and_cd_are_keyed_apart() {
    let rig = Rig::new("cache");
    rig.a(
        "www.example.org.",
        vec![a("www.example.org.", 60, [192, 0, 2, 1])],
    );
    let mut r = rig.req("www.example.org.", RecordType::A);
    let mut e = Edns::new();
    e.set_dnssec_ok(true);
    r.msg.edns = Some(e);
    let up = |r: &Request| {
        let mut m = r.reply();
        m.answers = vec![a("www.example.org.", 60, [192, 0, 2, 2])];
        Outcome::reply(m)
    };
    assert_eq!(ip(&rig.ask(r, up)), "192.0.2.2");
    let mut r = rig.req("www.example.org.", RecordType::A);
    r.msg.metadata.checking_disabled = true;
    let up = |r: &Request| {
        let mut m = r.reply();
        m.answers = vec![a("www.example.org.", 60, [192, 0, 2, 3])];
        Outcome::reply(m)
    };
    assert_eq!(ip(&rig.ask(r, up)), "192.0.2.3");
    assert_eq!(rig.calls.get(), 3);
    assert_eq!(ip(&rig.a("www.example.org.", vec![])), "192.0.2.1");
}

#[test]
fn ad_bit_and_opt() {
    let rig = Rig::new("cache");
    let mut r = rig.req("ad.example.org.", RecordType::A);
    let o = rig.ask(rig.req("ad.example.org.", RecordType::A), |r| {
        // The query passed on asks for AD.
        assert!(r.msg.metadata.authentic_data);
        let mut m = r.reply();
        m.metadata.authentic_data = true;
        m.edns = Some(Edns::new());
        m.answers = vec![a("ad.example.org.", 60, [192, 0, 2, 1])];
        Outcome::reply(m)
    });
    let m = o.reply.unwrap();
    assert!(
        !m.metadata.authentic_data,
        "client asked for neither DO nor AD"
    );
    assert!(m.edns.is_none(), "the server adds the client's OPT");
    r.msg.metadata.authentic_data = true;
    let o = rig.ask(r, |_| unreachable!());
    assert!(o.reply.unwrap().metadata.authentic_data);
}

#[test]
fn denial_uses_record_ttls() {
    let rig = Rig::new("cache");
    let nx = |r: &Request, ttl: u32| {
        let mut m = r.reply();
        m.metadata.response_code = ResponseCode::NXDomain;
        m.authorities = vec![soa(ttl, 60)];
        Outcome::reply(m)
    };
    // The SOA record's TTL (not its minimum field) bounds the time.
    let o = rig.ask(rig.req("nx.example.org.", RecordType::A), |r| nx(r, 30));
    assert_eq!(ttls(&o), [30]);
    advance(Duration::from_secs(2));
    let o = rig.ask(
        rig.req("nx.example.org.", RecordType::A),
        |_| unreachable!(),
    );
    assert_eq!(o.rcode, ResponseCode::NXDomain);
    assert_eq!(ttls(&o), [28]);
    // Denial is capped at 1800.
    let o = rig.ask(rig.req("nx2.example.org.", RecordType::A), |r| nx(r, 86400));
    assert_eq!(ttls(&o), [1800]);
    // NODATA too.
    let o = rig.ask(rig.req("nodata.example.org.", RecordType::A), |r| {
        let mut m = r.reply();
        m.authorities = vec![soa(40, 60)];
        Outcome::reply(m)
    });
    assert_eq!(ttls(&o), [40]);
    let calls = rig.calls.get();
    rig.ask(
        rig.req("nodata.example.org.", RecordType::A),
        |_| unreachable!(),
    );
    assert_eq!(rig.calls.get(), calls);
    // NXDOMAIN without an SOA is not cached.
    let bare = |r: &Request| Outcome::reply(r.error_reply(ResponseCode::NXDomain));
    rig.ask(rig.req("bare.example.org.", RecordType::A), bare);
    rig.ask(rig.req("bare.example.org.", RecordType::A), bare);
    assert_eq!(rig.calls.get(), calls + 2);
}

#[test]
fn servfail_cached_for_servfail_duration() {
    for (text, cached_for) in [
        ("cache", 5),
        ("cache {\nservfail 2s\n}", 2),
        ("cache {\nservfail 0\n}", 0),
    ] {
        let rig = Rig::new(text);
        let sf = |r: &Request| Outcome::reply(r.error_reply(ResponseCode::ServFail));
        rig.ask(rig.req("sf.example.org.", RecordType::A), sf);
        for s in 0..cached_for {
            let o = rig.ask(rig.req("sf.example.org.", RecordType::A), sf);
            assert_eq!(o.rcode, ResponseCode::ServFail);
            assert_eq!(rig.calls.get(), 1, "{text}: a hit after {s}s");
            advance(Duration::from_secs(1));
        }
        rig.ask(rig.req("sf.example.org.", RecordType::A), sf);
        assert_eq!(rig.calls.get(), 2, "{text}: a miss after {cached_for}s");
    }
    // A SERVFAIL the server writes (no reply from the chain) is not cached.
    let rig = Rig::new("cache");
    rig.ask(rig.req("e.example.org.", RecordType::A), |_| {
        Outcome::rcode(ResponseCode::ServFail)
    });
    rig.ask(rig.req("e.example.org.", RecordType::A), |_| {
        Outcome::rcode(ResponseCode::ServFail)
    });
    assert_eq!(rig.calls.get(), 2);
}

#[test]
fn not_cached() {
    let rig = Rig::new("cache");
    // Truncated.
    let tc = |r: &Request| {
        let mut m = r.reply();
        m.metadata.truncation = true;
        m.answers = vec![a("tc.example.org.", 60, [192, 0, 2, 1])];
        Outcome::reply(m)
    };
    rig.ask(rig.req("tc.example.org.", RecordType::A), tc);
    rig.ask(rig.req("tc.example.org.", RecordType::A), tc);
    assert_eq!(rig.calls.get(), 2);
    // REFUSED.
    let refused = |r: &Request| Outcome::reply(r.error_reply(ResponseCode::Refused));
    rig.ask(rig.req("r.example.org.", RecordType::A), refused);
    rig.ask(rig.req("r.example.org.", RecordType::A), refused);
    assert_eq!(rig.calls.get(), 4);
    // A dangling CNAME with no SOA.
    let dangling = |r: &Request| {
        let mut m = r.reply();
        m.answers = vec![Record::from_rdata(
            name("c.example.org."),
            60,
            RData::CNAME(CNAME(name("elsewhere.example.net."))),
        )];
        Outcome::reply(m)
    };
    rig.ask(rig.req("c.example.org.", RecordType::A), dangling);
    rig.ask(rig.req("c.example.org.", RecordType::A), dangling);
    assert_eq!(rig.calls.get(), 6);
    // A reply for another question (dropped).
    let other = |r: &Request| {
        let mut m = r.reply();
        m.queries[0].set_name(name("other.example.org."));
        m.answers = vec![a("other.example.org.", 60, [192, 0, 2, 1])];
        Outcome::reply(m)
    };
    rig.ask(rig.req("q.example.org.", RecordType::A), other);
    rig.ask(rig.req("q.example.org.", RecordType::A), other);
    assert_eq!(rig.calls.get(), 8);
    // An empty NOERROR (hosts' NODATA, whoami) is cached, for 5 s.
    let empty = |r: &Request| Outcome::reply(r.reply());
    rig.ask(rig.req("e.example.org.", RecordType::A), empty);
    rig.ask(rig.req("e.example.org.", RecordType::A), empty);
    assert_eq!(rig.calls.get(), 9);
}

#[test]
fn answers_question_follows_cnames() {
    let mut m = Message::new(
        1,
        hickory_proto::op::MessageType::Response,
        hickory_proto::op::OpCode::Query,
    );
    m.queries.push(hickory_proto::op::Query::query(
        name("a.example.org."),
        RecordType::A,
    ));
    m.answers = vec![
        Record::from_rdata(
            name("a.example.org."),
            60,
            RData::CNAME(CNAME(name("B.example.org."))),
        ),
        a("b.example.org.", 60, [192, 0, 2, 1]),
    ];
    assert!(store::answers_question(&m));
    m.answers.pop();
    assert!(!store::answers_question(&m));
    assert!(store::is_nodata(&m));
    m.authorities.push(soa(60, 60));
    assert_eq!(
        store::response_kind(&m),
        crate::plugin::classify::Kind::NoData
    );
}

#[test]
fn keepttl_serves_original_ttl() {
    let rig = Rig::new("cache {\nkeepttl\n}");
    rig.a(
        "k.example.org.",
        vec![a("k.example.org.", 100, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(10));
    let o = rig.a("k.example.org.", vec![]);
    assert_eq!(rig.calls.get(), 1);
    assert_eq!(ttls(&o), [100]);
}

#[test]
fn disable_zones() {
    let rig = Rig::new("cache {\ndisable success sub.example.org\n}");
    let up = |r: &Request| {
        let mut m = r.reply();
        m.answers = vec![a("x.sub.example.org.", 60, [192, 0, 2, 1])];
        Outcome::reply(m)
    };
    rig.ask(rig.req("x.sub.example.org.", RecordType::A), up);
    rig.ask(rig.req("x.sub.example.org.", RecordType::A), up);
    assert_eq!(rig.calls.get(), 2);
    rig.a(
        "y.example.org.",
        vec![a("y.example.org.", 60, [192, 0, 2, 1])],
    );
    rig.a("y.example.org.", vec![]);
    assert_eq!(rig.calls.get(), 3);
}

#[test]
fn store_evicts_at_capacity() {
    let s = Store::new(4);
    let m = {
        let mut m = request("e.example.org.", RecordType::A).reply();
        m.answers = vec![a("e.example.org.", 60, [192, 0, 2, 1])];
        m
    };
    let now = store::Tick(1);
    let item = |id| Item::new(&m, &m.queries[0], now, Duration::from_secs(60), id).unwrap();
    let mut evictions = 0;
    for k in 0..10u64 {
        if s.add(k, item(k)) {
            evictions += 1;
        }
        assert!(s.len() <= 4);
    }
    assert_eq!(evictions, 6);
    assert_eq!(s.len(), 4);
    // The newest is always there; replacing a key evicts nothing.
    assert!(s.view().get(9).is_some());
    assert!(!s.add(9, item(99)));
    assert_eq!(s.view().get(9).unwrap().id, 99);
    for k in 0..10 {
        s.remove(k);
    }
    assert!(s.is_empty());
}

#[test]
fn prefetch_refreshes_once_near_expiry() {
    // Prefetch after 2 hits, when 10% (10 s) of 100 s is left.
    let rig = Rig::new("cache {\nprefetch 2 10m\n}");
    rig.a(
        "p.example.org.",
        vec![a("p.example.org.", 100, [192, 0, 2, 1])],
    );
    rig.a("p.example.org.", vec![]);
    assert_eq!(rig.calls.get(), 1);
    advance(Duration::from_secs(91));
    // Popular and near expiry: the query goes upstream, the client still
    // gets the cached answer, and the fresh one is stored.
    let o = rig.a(
        "p.example.org.",
        vec![a("p.example.org.", 100, [192, 0, 2, 2])],
    );
    assert_eq!(rig.calls.get(), 2);
    assert_eq!(ip(&o), "192.0.2.1");
    assert_eq!(ttls(&o), [9]);
    let o = rig.a("p.example.org.", vec![]);
    assert_eq!(rig.calls.get(), 2);
    assert_eq!(ip(&o), "192.0.2.2");
    assert_eq!(ttls(&o), [100]);
}

#[test]
fn prefetch_one_in_flight() {
    let rig = Rig::new("cache {\nprefetch 1\n}");
    rig.a(
        "f.example.org.",
        vec![a("f.example.org.", 100, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(95));
    let mut first = rig.req("f.example.org.", RecordType::A);
    // The client is answered from the cache at once; the refresh runs on a
    // copy of its query.
    let Action::Fork(f) = rig.cache.query(&mut first) else {
        panic!("a prefetch forks");
    };
    assert!(f.wait.is_zero());
    assert_eq!(ip(&f.answer), "192.0.2.1");
    // A second query meanwhile is answered from the cache.
    let mut second = rig.req("f.example.org.", RecordType::A);
    second.start += Duration::from_nanos(1);
    assert!(matches!(rig.cache.query(&mut second), Action::Done(_)));
    // The refresh fails: the item stays as it was.
    let mut o = Outcome::rcode(ResponseCode::ServFail);
    rig.cache.response(&f.req, &mut o);
    assert_eq!(ip(&rig.a("f.example.org.", vec![])), "192.0.2.1");
}

#[test]
fn serve_stale_verify() {
    let rig = Rig::new("cache {\nserve_stale 1h verify\n}");
    rig.a(
        "s.example.org.",
        vec![a("s.example.org.", 10, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(20));
    // Upstream fails: the stale answer, TTL 0.
    let o = rig.ask(rig.req("s.example.org.", RecordType::A), |r| {
        Outcome::reply(r.error_reply(ResponseCode::ServFail))
    });
    assert_eq!(rig.calls.get(), 2);
    assert_eq!(ip(&o), "192.0.2.1");
    assert_eq!(ttls(&o), [0]);
    let o = rig.ask(rig.req("s.example.org.", RecordType::A), |_| {
        Outcome::rcode(ResponseCode::ServFail)
    });
    assert_eq!(ip(&o), "192.0.2.1");
    // The last refresh failed: the stale answer at once (RFC 8767: not
    // waited on again), the upstream's answer stored by the refresh behind
    // it for the next query.
    let o = rig.a(
        "s.example.org.",
        vec![a("s.example.org.", 10, [192, 0, 2, 2])],
    );
    assert_eq!(ip(&o), "192.0.2.1");
    assert_eq!(ttls(&o), [0]);
    let o = rig.a("s.example.org.", vec![]);
    assert_eq!(ip(&o), "192.0.2.2");
    assert_eq!(ttls(&o), [10]);
    // Expired again, the upstream answers: verified, the fresh answer.
    advance(Duration::from_secs(20));
    let o = rig.a(
        "s.example.org.",
        vec![a("s.example.org.", 10, [192, 0, 2, 3])],
    );
    assert_eq!(ip(&o), "192.0.2.3");
    assert_eq!(ttls(&o), [10]);
    // Past the stale window: a miss.
    advance(Duration::from_secs(3700));
    let o = rig.ask(rig.req("s.example.org.", RecordType::A), |_| {
        Outcome::rcode(ResponseCode::ServFail)
    });
    assert!(o.reply.is_none());
}

#[test]
fn serve_stale_immediate() {
    let rig = Rig::new("cache {\nserve_stale 1h immediate 30s\n}");
    rig.a(
        "i.example.org.",
        vec![a("i.example.org.", 10, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(20));
    // The stale answer at once (TTL 30), the refresh stored for later.
    let o = rig.a(
        "i.example.org.",
        vec![a("i.example.org.", 10, [192, 0, 2, 2])],
    );
    assert_eq!(rig.calls.get(), 2);
    assert_eq!(ip(&o), "192.0.2.1");
    assert_eq!(ttls(&o), [30]);
    let o = rig.a("i.example.org.", vec![]);
    assert_eq!(ip(&o), "192.0.2.2");
    assert_eq!(ttls(&o), [10]);
    assert_eq!(rig.calls.get(), 2);
}

#[test]
fn servfail_does_not_shadow_positive() {
    // A prefetch that brings back SERVFAIL stores it as a denial, but the
    // positive item still answers.
    let rig = Rig::new("cache {\nprefetch 1\n}");
    rig.a(
        "g.example.org.",
        vec![a("g.example.org.", 100, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(95));
    rig.ask(rig.req("g.example.org.", RecordType::A), |r| {
        Outcome::reply(r.error_reply(ResponseCode::ServFail))
    });
    let o = rig.a("g.example.org.", vec![]);
    assert_eq!(ip(&o), "192.0.2.1");
}

#[test]
fn prefetch_needs_popularity() {
    // Two hits with no gap of a minute (the default) or more: the 91 s gap
    // starts the count again, so no prefetch.
    let rig = Rig::new("cache {\nprefetch 2\n}");
    rig.a(
        "p.example.org.",
        vec![a("p.example.org.", 100, [192, 0, 2, 1])],
    );
    rig.a("p.example.org.", vec![]);
    advance(Duration::from_secs(91));
    let o = rig.a("p.example.org.", vec![]);
    assert_eq!(rig.calls.get(), 1);
    assert_eq!(ttls(&o), [9]);
}

#[test]
fn serve_stale_failure_recheck() {
    let rig = Rig::new("cache {\nserve_stale 1h verify 0 0 10s\n}");
    rig.a(
        "r.example.org.",
        vec![a("r.example.org.", 10, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(20));
    let fail = |_: &Request| Outcome::rcode(ResponseCode::ServFail);
    assert_eq!(
        ip(&rig.ask(rig.req("r.example.org.", RecordType::A), fail)),
        "192.0.2.1"
    );
    assert_eq!(rig.calls.get(), 2);
    // Within the recheck period: stale at once, nothing passed on.
    advance(Duration::from_secs(5));
    assert_eq!(
        ip(&rig.ask(rig.req("r.example.org.", RecordType::A), fail)),
        "192.0.2.1"
    );
    assert_eq!(rig.calls.get(), 2);
    advance(Duration::from_secs(6));
    rig.ask(rig.req("r.example.org.", RecordType::A), fail);
    assert_eq!(rig.calls.get(), 3);
}

#[test]
fn prefer_positive_keeps_the_answer() {
    let rig = Rig::new("cache {\nserve_stale 1h verify\nserve_stale_policy prefer_positive\n}");
    rig.a(
        "pp.example.org.",
        vec![a("pp.example.org.", 10, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(20));
    let nx = |r: &Request| {
        let mut m = r.reply();
        m.metadata.response_code = ResponseCode::NXDomain;
        m.authorities = vec![soa(60, 60)];
        Outcome::reply(m)
    };
    // The NXDOMAIN does not answer the question: the client keeps the
    // stale positive answer, and keeps getting it.
    let o = rig.ask(rig.req("pp.example.org.", RecordType::A), nx);
    assert_eq!(ip(&o), "192.0.2.1");
    let o = rig.ask(rig.req("pp.example.org.", RecordType::A), nx);
    assert_eq!(ip(&o), "192.0.2.1");
    assert_eq!(ttls(&o), [0]);
    // Without the policy the NXDOMAIN replaces it.
    let rig = Rig::new("cache {\nserve_stale 1h verify\n}");
    rig.a(
        "pp.example.org.",
        vec![a("pp.example.org.", 10, [192, 0, 2, 1])],
    );
    advance(Duration::from_secs(20));
    let o = rig.ask(rig.req("pp.example.org.", RecordType::A), nx);
    assert_eq!(o.rcode, ResponseCode::NXDomain);
}

#[test]
fn a_new_instance_starts_empty() {
    let rig = Rig::new("cache");
    rig.a(
        "n.example.org.",
        vec![a("n.example.org.", 60, [192, 0, 2, 1])],
    );
    // A reloaded configuration whose cache got the same slot.
    let rig2 = Rig {
        cache: cache("cache"),
        worker: Rc::clone(&rig.worker),
        calls: Cell::new(0),
    };
    rig2.a(
        "n.example.org.",
        vec![a("n.example.org.", 60, [192, 0, 2, 2])],
    );
    assert_eq!(rig2.calls.get(), 1);
}

/// S3-FIFO: a flood of keys stored once and never asked again does not
/// push out the keys that keep being asked; the store never holds more
/// than its capacity.
#[test]
fn eviction_keeps_hot_items_through_a_flood() {
    let s = Store::new(1000);
    let m = {
        let mut m = request("e.example.org.", RecordType::A).reply();
        m.answers = vec![a("e.example.org.", 60, [192, 0, 2, 1])];
        m
    };
    let now = store::Tick(1);
    let item = |id| Item::new(&m, &m.queries[0], now, Duration::from_secs(60), id).unwrap();
    let hot: Vec<u64> = (0..100).map(|i| 1_000_000 + i).collect();
    let (mut asked, mut hits) = (0u32, 0u32);
    for flood in 0..50_000u64 {
        s.add(flood, item(flood));
        assert!(s.len() <= 1000);
        // One hot key asked for every ten flood keys: a miss stores it.
        if flood % 10 == 0 {
            let k = hot[(flood / 10) as usize % hot.len()];
            asked += 1;
            match s.view().get(k) {
                Some(i) => {
                    i.touch();
                    hits += 1;
                }
                None => {
                    s.add(k, item(k));
                }
            }
        }
    }
    let ratio = f64::from(hits) / f64::from(asked);
    assert!(ratio >= 0.95, "hot keys' hit ratio {ratio:.3}");
    let present = hot.iter().filter(|&&k| s.view().get(k).is_some()).count();
    assert_eq!(present, hot.len());
}

/// A handover passes the answers in two parts: everything while the old
/// process serves on, then (late) only what it cached since; the new
/// process's cache ends up with both.
#[test]
fn handover_state_in_two_parts() {
    let old = Rig::new("cache");
    old.a(
        "early.example.org.",
        vec![a("early.example.org.", 60, [192, 0, 2, 1])],
    );
    let (name, first) = old.cache.handover_state(false).unwrap();
    old.a(
        "late.example.org.",
        vec![a("late.example.org.", 60, [192, 0, 2, 2])],
    );
    let (late_name, late) = old.cache.handover_state(true).unwrap();
    assert_eq!(name, late_name);
    assert!(
        late.len() < first.len() + 40,
        "the late part holds the late answer only"
    );
    // The late part alone has the late answer and not the early one.
    let only_late = Rig::new("cache");
    only_late.cache.take_state(&late_name, &late);
    let answered = |rig: &Rig, qname: &str| {
        let calls = rig.calls.get();
        let o = rig.a(qname, vec![a(qname, 60, [198, 51, 100, 9])]);
        (rig.calls.get() == calls).then(|| ip(&o))
    };
    assert_eq!(
        answered(&only_late, "late.example.org."),
        Some("192.0.2.2".into())
    );
    assert_eq!(answered(&only_late, "early.example.org."), None);
    // Both parts: both answers, as the old process cached them.
    let new = Rig::new("cache");
    new.cache.take_state(&name, &first);
    new.cache.take_state(&late_name, &late);
    assert_eq!(
        answered(&new, "early.example.org."),
        Some("192.0.2.1".into())
    );
    assert_eq!(
        answered(&new, "late.example.org."),
        Some("192.0.2.2".into())
    );
    // Nothing cached since: the next late part is empty.
    let (_, again) = old.cache.handover_state(true).unwrap();
    let none = Rig::new("cache");
    none.cache.take_state(&name, &again);
    assert_eq!(answered(&none, "late.example.org."), None);
}

/// A store exported and imported elsewhere (a handover) keeps its
/// eviction state: the queues' order, each item's frequency and the ghost
/// queue's keys, so both stores evict the same keys afterwards.
#[test]
fn export_and_import_keep_the_eviction_order() {
    let m = {
        let mut m = request("e.example.org.", RecordType::A).reply();
        m.answers = vec![a("e.example.org.", 60, [192, 0, 2, 1])];
        m
    };
    let now = store::Tick(1);
    let item = |id| Item::new(&m, &m.queries[0], now, Duration::from_secs(60), id).unwrap();
    let old = Store::new(50);
    // Some keys hit while new (to the main queue), a flood through the
    // small queue (ghosts), some keys hit again.
    for k in 0..200u64 {
        old.add(k, item(k));
        if k % 7 == 0 {
            if let Some(i) = old.view().get(k) {
                i.touch();
            }
        }
        if k % 3 == 0 {
            if let Some(i) = old.view().get(k / 2) {
                i.touch();
            }
        }
    }
    let new = Store::new(50);
    let mut w = Vec::new();
    old.export(|k, _, place| w.push((k, place)), |k| new.add_ghost(k));
    assert!(
        w.iter().any(|(_, p)| p.main) && w.iter().any(|(_, p)| !p.main),
        "{w:?}"
    );
    for (k, place) in w {
        new.add_placed(k, item(k), place);
    }
    // The same keys from now on: the same keys survive in both.
    for k in (150..400u64).chain(0..100) {
        for s in [&old, &new] {
            match s.view().get(k) {
                Some(i) => i.touch(),
                None => {
                    s.add(k, item(k));
                }
            }
        }
        let keys = |s: &Store| {
            (0..400u64)
                .filter(|k| s.view().get(*k).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(&old), keys(&new), "after key {k}");
    }
}
