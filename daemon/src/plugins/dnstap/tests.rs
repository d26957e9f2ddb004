use super::output::{Endpoint, ListenAt, Output, Target};
use super::*;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request, serve_one};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn parse(text: &str) -> Result<Config, crate::corefile::Error> {
    setup::parse(&directive(text))
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn sockets_and_defaults() {
    let c = parse("dnstap /tmp/dnstap.sock").unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Dial(Target::Unix("/tmp/dnstap.sock".into()))
    );
    assert!(!c.full);
    assert_eq!((c.queue, c.sndbuf), (10_000, 1 << 20));
    assert_eq!(c.identity, crate::sys::hostname().unwrap_or_default());
    assert_eq!(c.version, format!("ferrodns-{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(c.extra, None);
    let c = parse("dnstap unix:///tmp/dnstap.sock full").unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Dial(Target::Unix("/tmp/dnstap.sock".into()))
    );
    assert!(c.full);
    let c = parse("dnstap tcp://127.0.0.1:6000/x full 1024 2048").unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Dial(Target::Tcp("127.0.0.1:6000".into()))
    );
    assert_eq!((c.queue, c.sndbuf), (2048 * 10_000, 1024 << 20));
    let c = parse("dnstap tls://[::1]:6000 {\nskipverify\nidentity me\nversion V-1\nextra \"u {/forward/upstream}\"\n}").unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Dial(Target::Tls {
            host: "[::1]:6000".into(),
            skip_verify: true
        })
    );
    assert_eq!((c.identity.as_str(), c.version.as_str()), ("me", "V-1"));
    assert_eq!(c.extra.as_deref(), Some("u {/forward/upstream}"));
    // The buffer multiple is the third argument, whether or not the
    // second is `full` (as in CoreDNS).
    assert_eq!(parse("dnstap /s 8").unwrap().sndbuf, 1 << 20);
    assert_eq!(parse("dnstap /s x 8").unwrap().sndbuf, 8 << 20);
    assert!(!parse("dnstap /s x 8").unwrap().full);
}

#[test]
fn listeners() {
    let c = parse("dnstap listen /tmp/l.sock full").unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Listen(ListenAt::Unix("/tmp/l.sock".into()))
    );
    assert!(c.full);
    let c = parse("dnstap listen tcp://127.0.0.1:6001").unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Listen(ListenAt::Tcp("127.0.0.1:6001".into()))
    );
    let c =
        parse("dnstap listen tls://127.0.0.1:6002 full {\ntls c.pem k.pem ca.pem\nskipverify\n}")
            .unwrap();
    assert_eq!(
        c.endpoint,
        Endpoint::Listen(ListenAt::Tls {
            addr: "127.0.0.1:6002".into(),
            cert: Some("c.pem".into()),
            key: Some("k.pem".into()),
            ca: Some("ca.pem".into()),
            skip_verify: true,
        })
    );
    // tls on a plain listener is accepted and unused, as in CoreDNS.
    assert!(parse("dnstap listen /tmp/l.sock {\ntls c k\n}").is_ok());
}

// The texts are CoreDNS 1.14.7's for the same lines.
#[test]
fn errors_read_as_coredns() {
    let cases = [
        ("dnstap", "Corefile:1: Wrong argument count or unexpected line ending after 'dnstap'"),
        ("dnstap /s full 0", "Corefile:1: dnstap: MultipleTcpWriteBuf must be between 1 and 1024 (MiB units): 0"),
        ("dnstap /s full 1025", "Corefile:1: dnstap: MultipleTcpWriteBuf must be between 1 and 1024 (MiB units): 1025"),
        ("dnstap /s full abc", "Corefile:1: dnstap: invalid MultipleTcpWriteBuf \"abc\": strconv.Atoi: parsing \"abc\": invalid syntax"),
        ("dnstap /s full 1 0", "Corefile:1: dnstap: MultipleQueue must be between 1 and 4096 (x10k messages): 0"),
        ("dnstap /s full 1 x", "Corefile:1: dnstap: invalid MultipleQueue \"x\": strconv.Atoi: parsing \"x\": invalid syntax"),
        ("dnstap listen", "Corefile:1: dnstap listen requires an endpoint argument"),
        ("dnstap /s {\ntls a b\n}", "Corefile:2: tls directive only valid for listeners"),
        ("dnstap listen tls://127.0.0.1:1 {\ntls a\n}", "Corefile:2: tls requires cert and key file paths"),
        ("dnstap /s {\nfoo\n}", "Corefile:2: unknown property 'foo'"),
        ("dnstap /s {\nskipverify x\n}", "Corefile:2: unknown property 'x'"),
        ("dnstap /s {\nidentity\n}", "Corefile:2: Wrong argument count or unexpected line ending after 'identity'"),
        ("dnstap /s {\nextra\n}", "Corefile:2: Wrong argument count or unexpected line ending after 'extra'"),
        ("dnstap tcp://[::1 {\n}", "Corefile:1: Wrong argument count or unexpected line ending after 'tcp://[::1'"),
        ("dnstap tcp://h:x full", "Corefile:1: Wrong argument count or unexpected line ending after 'full'"),
        ("dnstap listen tls://[1.2.3.4]:1", "Corefile:1: Wrong argument count or unexpected line ending after 'tls://[1.2.3.4]:1'"),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want, "{text}");
    }
}

/// A protobuf field as the tests read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
enum V {
    Int(u64),
    Bytes(Vec<u8>),
    Fixed(u32),
}

fn varint(b: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let c = b[0];
        *b = &b[1..];
        v |= u64::from(c & 0x7F) << shift;
        if c & 0x80 == 0 {
            break;
        }
    }
    v
}

/// A message's fields: number and value, in order.
type Fields = Vec<(u64, V)>;

/// Decodes one message's fields (independently of the encoder).
fn fields(mut b: &[u8]) -> Fields {
    let mut out = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b);
        let v = match key & 7 {
            0 => V::Int(varint(&mut b)),
            2 => {
                let n = varint(&mut b) as usize;
                let v = b[..n].to_vec();
                b = &b[n..];
                V::Bytes(v)
            }
            5 => {
                let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                b = &b[4..];
                V::Fixed(v)
            }
            w => panic!("wire type {w}"),
        };
        out.push((key >> 3, v));
    }
    out
}

fn get(f: &[(u64, V)], n: u64) -> Option<&V> {
    f.iter().find(|(k, _)| *k == n).map(|(_, v)| v)
}

fn int(f: &[(u64, V)], n: u64) -> Option<u64> {
    match get(f, n)? {
        V::Int(v) => Some(*v),
        _ => None,
    }
}

fn bytes(f: &[(u64, V)], n: u64) -> Option<Vec<u8>> {
    match get(f, n)? {
        V::Bytes(v) => Some(v.clone()),
        _ => None,
    }
}

/// A frame's envelope fields and its message's fields.
fn decode(frame: &[u8]) -> (Fields, Fields) {
    let env = fields(frame);
    assert_eq!(int(&env, 15), Some(1), "type MESSAGE");
    let msg = fields(&bytes(&env, 14).expect("a message"));
    (env, msg)
}

/// A collector on a unix socket in `dir`: the frames it read until STOP.
fn collector(dir: &Path) -> (PathBuf, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    counting_collector(dir, Arc::default())
}

/// [`collector`], counting the frames in `seen` as they come.
fn counting_collector(
    dir: &Path,
    seen: Arc<AtomicUsize>,
) -> (PathBuf, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let path = dir.join("tap.sock");
    let l = UnixListener::bind(&path).unwrap();
    let h = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        fstrm::reader::accept(&mut s).unwrap();
        let mut got = Vec::new();
        while let Some(f) = fstrm::reader::next(&mut s).unwrap() {
            got.push(f);
            seen.fetch_add(1, Ordering::Relaxed);
        }
        got
    });
    (path, h)
}

fn plugin(text: &str) -> (Dnstap, Taps) {
    let mut b = BlockSetup::new(vec![".".into()]);
    let d = setup(&mut b, &[&directive(text)]).unwrap();
    let taps = b.shared::<Taps>().expect("shared for forward").clone();
    (d, taps)
}

#[test]
fn client_query_and_response_reach_the_collector() {
    let dir = tempfile::tempdir().unwrap();
    let (path, reader) = collector(dir.path());
    let text = format!(
        "dnstap {} full {{\nidentity id-1\nversion v-1\nextra \"{{type}} {{rcode}} {{remote}}\"\n}}",
        path.display()
    );
    let (d, _) = plugin(&text);
    d.start();
    let mut req = request("example.org.", RecordType::A);
    let query_wire = req.msg.to_vec().unwrap();
    let o = crate::plugins::testutil::now(serve_one(&d, &mut req));
    // Nothing answered: SERVFAIL without a reply, which the server writes
    // outside the chain; no CLIENT_RESPONSE (as in CoreDNS).
    assert_eq!(o.rcode, ResponseCode::ServFail);
    let mut req = request("example.org.", RecordType::A);
    assert!(matches!(d.query(&mut req), Action::Watch));
    let mut reply = req.reply();
    reply.metadata.authoritative = true;
    let mut out = Outcome::reply(reply);
    d.response(&req, &mut out);
    d.stop();
    let frames = reader.join().unwrap();
    assert_eq!(frames.len(), 3);
    let (env, q) = decode(&frames[0]);
    assert_eq!(bytes(&env, 1).unwrap(), b"id-1");
    assert_eq!(bytes(&env, 2).unwrap(), b"v-1");
    assert_eq!(bytes(&env, 3).unwrap(), b"A - 192.0.2.1");
    assert_eq!(int(&q, 1), Some(5), "CLIENT_QUERY");
    assert_eq!(int(&q, 2), Some(1), "INET");
    assert_eq!(int(&q, 3), Some(1), "UDP");
    assert_eq!(bytes(&q, 4).unwrap(), [192, 0, 2, 1]);
    assert_eq!(int(&q, 6), Some(53000));
    assert!(int(&q, 8).is_some() && get(&q, 9).is_some());
    assert_eq!(bytes(&q, 10).unwrap(), query_wire);
    assert_eq!(get(&q, 5), None, "no response address for a client");
    let (_, r) = decode(&frames[2]);
    assert_eq!(int(&r, 1), Some(6), "CLIENT_RESPONSE");
    assert_eq!(get(&r, 10), None);
    let resp = Message::from_vec(&bytes(&r, 14).unwrap()).unwrap();
    assert!(resp.metadata.authoritative);
    assert_eq!(resp.metadata.id, 4242);
    // The query's time in both, the response's after it.
    let (_, q2) = decode(&frames[1]);
    assert_eq!(get(&q2, 8), get(&r, 8));
    assert_eq!(get(&q2, 9), get(&r, 9));
    assert!(int(&r, 12).unwrap() >= int(&r, 8).unwrap());
}

#[test]
fn without_full_no_bytes_and_tcp_ipv6_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (path, reader) = collector(dir.path());
    let (d, _) = plugin(&format!("dnstap {}", path.display()));
    d.start();
    let mut req = request("example.org.", RecordType::AAAA);
    req.proto = Proto::Tcp;
    req.src = "[2001:db8::7]:4000".parse().unwrap();
    d.query(&mut req);
    let mut out = Outcome::reply(req.reply());
    d.response(&req, &mut out);
    d.stop();
    let frames = reader.join().unwrap();
    assert_eq!(frames.len(), 2);
    for f in &frames {
        let (env, m) = decode(f);
        assert_eq!(get(&env, 3), None, "no extra");
        assert_eq!(int(&m, 2), Some(2), "INET6");
        assert_eq!(int(&m, 3), Some(2), "TCP");
        assert_eq!(bytes(&m, 4).unwrap().len(), 16);
        assert_eq!(int(&m, 6), Some(4000));
        assert_eq!((get(&m, 10), get(&m, 14)), (None, None));
    }
}

#[test]
fn forwarder_messages() {
    let dir = tempfile::tempdir().unwrap();
    let (path, reader) = collector(dir.path());
    let (d, taps) = plugin(&format!("dnstap {} full", path.display()));
    d.start();
    let req = request("example.org.", RecordType::A);
    let mut reply = req.reply();
    reply.metadata.id = 999;
    let x = Exchange {
        start: SystemTime::now(),
        local: Some("127.0.0.1:40000".parse().unwrap()),
        upstream: "127.0.0.53:53".parse().unwrap(),
        tcp: false,
        reply: Some(&reply),
    };
    taps.forwarded(&req, &x);
    // A failed exchange: the query alone, without ferrodns's end.
    let x = Exchange {
        local: None,
        reply: None,
        tcp: true,
        ..x
    };
    taps.forwarded(&req, &x);
    d.stop();
    let frames = reader.join().unwrap();
    assert_eq!(frames.len(), 3);
    let (_, q) = decode(&frames[0]);
    assert_eq!(int(&q, 1), Some(7), "FORWARDER_QUERY");
    assert_eq!(bytes(&q, 4).unwrap(), [127, 0, 0, 1]);
    assert_eq!(int(&q, 6), Some(40000));
    assert_eq!(bytes(&q, 5).unwrap(), [127, 0, 0, 53]);
    assert_eq!(int(&q, 7), Some(53));
    assert_eq!(bytes(&q, 10).unwrap(), req.msg.to_vec().unwrap());
    let (_, r) = decode(&frames[1]);
    assert_eq!(int(&r, 1), Some(8), "FORWARDER_RESPONSE");
    assert!(int(&r, 12).is_some());
    assert_eq!(get(&r, 10), None);
    let m = Message::from_vec(&bytes(&r, 14).unwrap()).unwrap();
    assert_eq!(m.metadata.id, 4242, "the client's ID");
    let (_, f) = decode(&frames[2]);
    assert_eq!(int(&f, 1), Some(7));
    assert_eq!(int(&f, 3), Some(2), "TCP");
    assert_eq!((get(&f, 4), get(&f, 6)), (None, None));
}

#[test]
fn a_full_queue_drops_and_counts() {
    let o = Output::new(Endpoint::Dial(Target::Unix("/nonexistent".into())), 2, 1);
    for _ in 0..5 {
        o.send(vec![1]);
    }
    assert_eq!(o.dropped(), 3);
}

#[test]
fn reconnects_when_the_collector_comes() {
    let dir = tempfile::tempdir().unwrap();
    let o = Output::new(
        Endpoint::Dial(Target::Unix(dir.path().join("tap.sock"))),
        100,
        1,
    );
    o.start();
    // No collector yet: the frame is dropped and counted.
    o.send(vec![1]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while o.dropped() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(o.dropped(), 1);
    let seen = Arc::new(AtomicUsize::new(0));
    let (_, reader) = counting_collector(dir.path(), Arc::clone(&seen));
    // Dialed again after the backoff (0.5 s, then 1 s, ...).
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        o.send(vec![2]);
        std::thread::sleep(Duration::from_millis(50));
    }
    o.stop();
    let frames = reader.join().unwrap();
    assert!(!frames.is_empty(), "nothing reached the late collector");
    assert!(frames.iter().all(|f| f == &[2]));
}

#[test]
fn listeners_broadcast_to_their_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("listen.sock");
    let o = Output::new(Endpoint::Listen(ListenAt::Unix(path.clone())), 100, 1);
    o.start();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut s = loop {
        match UnixStream::connect(&path) {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("no listener: {e}"),
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    fstrm::reader::accept(&mut s).unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&seen);
    let sink = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Some(f) = fstrm::reader::next(&mut s).unwrap() {
            got.push(f);
            counted.fetch_add(1, Ordering::Relaxed);
        }
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        got
    });
    // Frames sent before the writer takes the new sink reach nobody.
    let deadline = Instant::now() + Duration::from_secs(5);
    while seen.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        o.send(b"frame".to_vec());
        std::thread::sleep(Duration::from_millis(20));
    }
    o.stop();
    let got = sink.join().unwrap();
    assert!(!got.is_empty());
    assert!(got.iter().all(|f| f == b"frame"));
    assert!(!path.exists(), "the socket file is removed");
}

#[test]
fn raw_path_hooks_unless_bufsize_changes_a_full_query() {
    let (d, _) = plugin("dnstap /nonexistent full");
    assert_eq!(d.fast(), Fast::Hook(Needs::default()));
    let (e, _) = plugin("dnstap /nonexistent {\nextra {name}\n}");
    assert!(matches!(e.fast(), Fast::Hook(n) if n.text));
    let wire = request("a.", RecordType::A).msg.to_vec().unwrap();
    let q = crate::wire::fast::Simple::parse(&wire).unwrap();
    let rq = RawQuery {
        q: &q,
        wire: &wire,
        lower: b"\x01a\x00",
        text: "a.",
        src: "192.0.2.1:53000".parse().unwrap(),
        local: "192.0.2.53:53".parse().unwrap(),
        tcp: false,
        len: wire.len(),
        at: Instant::now(),
        server: "dns://:53",
        zone: ".",
        route: 1,
        opt: None,
        limit: 512,
        plain_len: false,
        backlogged: false,
        cap: None,
    };
    assert!(d.fast_check(&rq, &mut None));
    assert!(!d.fast_check(&rq, &mut Some(1232)), "bufsize capped it");
    let (plain, _) = plugin("dnstap /nonexistent");
    assert!(plain.fast_check(&rq, &mut Some(1232)));
}
