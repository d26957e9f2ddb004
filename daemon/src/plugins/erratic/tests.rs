use super::*;
use crate::plugin::BlockSetup;
use crate::plugins::testutil::{directive, request};
use hickory_proto::op::Message;

fn records(m: &Message) -> Vec<String> {
    m.answers.iter().map(|r| r.to_string()).collect()
}

fn parse(text: &str) -> Result<Erratic, crate::corefile::Error> {
    let mut b = BlockSetup::new(vec![".".into()]);
    setup(&mut b, &[&directive(text)])
}

fn fates(e: &Erratic, n: usize) -> String {
    (0..n)
        .map(|_| {
            let f = e.fate();
            match (f.drop, f.delay, f.truncate) {
                (true, _, _) => 'x',
                (false, true, true) => 'D',
                (false, true, false) => 'd',
                (false, false, true) => 't',
                (false, false, false) => '.',
            }
        })
        .collect()
}

#[test]
fn defaults_and_amounts() {
    // Drop every second query, starting with the first.
    let e = parse("erratic").unwrap();
    assert_eq!(fates(&e, 6), "x.x.x.");
    let e = parse("erratic {\ndrop 3\n}").unwrap();
    assert_eq!(fates(&e, 7), "x..x..x");
    // delay alone turns the default drop off; 100ms by default.
    let e = parse("erratic {\ndelay\n}").unwrap();
    assert_eq!(
        (e.drop, e.delay, e.duration),
        (0, 2, Duration::from_millis(100))
    );
    assert_eq!(fates(&e, 4), "d.d.");
    let e = parse("erratic {\ndelay 3 50ms\ntruncate 5\n}").unwrap();
    assert_eq!(e.duration, Duration::from_millis(50));
    // truncate as CoreDNS tests it: n & 5 == 0 (0, 2, 8, 10, ...).
    assert_eq!(fates(&e, 11), "D.td..d.tdt");
    // `drop` without an amount is not counted as given: delay still
    // turns the default off.
    let e = parse("erratic {\ndrop\ndelay\n}").unwrap();
    assert_eq!(e.drop, 0);
    let e = parse("erratic {\ndrop 2\ndelay\n}").unwrap();
    assert_eq!(e.drop, 2);
    assert!(parse("erratic {\nlarge\n}").unwrap().large);
}

#[test]
fn errors_as_coredns_words_them() {
    for (text, want) in [
        (
            "erratic {\ndrop 1 2\n}",
            "Corefile:2: Wrong argument count or unexpected line ending after '2'",
        ),
        (
            "erratic {\ndrop -1\n}",
            "Corefile:2: illegal amount value given \"-1\"",
        ),
        (
            "erratic {\ndrop x\n}",
            "Corefile:2: strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            "erratic {\ntruncate 99999999999\n}",
            "Corefile:2: strconv.ParseInt: parsing \"99999999999\": value out of range",
        ),
        (
            "erratic {\ndelay 2 soon\n}",
            "Corefile:2: time: invalid duration \"soon\"",
        ),
        (
            "erratic {\ndelay 1 2 3\n}",
            "Corefile:2: Wrong argument count or unexpected line ending after '3'",
        ),
        (
            "erratic {\nflaky\n}",
            "Corefile:2: unknown property 'flaky'",
        ),
    ] {
        let e = parse(text).err().unwrap_or_else(|| panic!("{text} parsed"));
        assert_eq!(e.to_string(), want, "{text}");
    }
}

#[test]
fn answers() {
    let e = Erratic::new(0, 0, 0, Duration::ZERO, false);
    let a = |name: &str, t: RecordType, truncate: bool| {
        let req = request(name, t);
        e.answer(&req, truncate)
    };
    let o = a("Example.ORG.", RecordType::A, false);
    let m = o.reply.unwrap();
    assert!(m.metadata.authoritative && !m.metadata.truncation);
    assert_eq!(records(&m), ["Example.ORG. 0 IN A 192.0.2.53"]);
    let m = a("example.org.", RecordType::AAAA, true).reply.unwrap();
    assert!(m.metadata.truncation);
    assert_eq!(records(&m), ["example.org. 0 IN AAAA 2001:db8::53"]);
    assert_eq!(
        a("example.org.", RecordType::MX, false).rcode,
        ResponseCode::ServFail
    );
    let axfr = records(&a("example.org.", RecordType::AXFR, false).reply.unwrap());
    assert_eq!(axfr.len(), 6);
    assert_eq!(axfr[0], axfr[5], "closed by the SOA");
    assert_eq!(axfr[1], "example.org. 0 IN NS b.example.org.");
    assert_eq!(axfr[3], "a.example.org. 0 IN AAAA 2001:bd8::53");
    let cut = a("example.org.", RecordType::AXFR, true).reply.unwrap();
    assert_eq!(records(&cut).len(), 5, "truncated: no closing SOA");
    assert!(!cut.metadata.truncation);
    let large = Erratic::new(0, 0, 0, Duration::ZERO, true);
    let m = large
        .answer(&request("a.", RecordType::A), false)
        .reply
        .unwrap();
    assert_eq!(m.answers.len(), 30);
}

#[test]
fn ready_between_the_third_and_fifth_query() {
    let e = Erratic::new(0, 0, 0, Duration::ZERO, false);
    let flag = e.readiness().unwrap();
    let mut seen = Vec::new();
    for _ in 0..6 {
        e.fate();
        seen.push(flag.load(Relaxed));
    }
    assert_eq!(seen, [false, false, true, true, false, false]);
}
