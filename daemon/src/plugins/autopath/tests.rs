use super::*;
use crate::plugin::Chain;
use crate::plugins::testutil::{directive, now, request};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::RecordType;
use std::net::Ipv4Addr;

/// Answers A for the names it holds (owner as asked, TTL 30), NXDOMAIN
/// for other names under `example.org.`, SERVFAIL unwritten for `fail.`
/// names, and an error for `err.` names; gives `path` as search path.
struct Zone {
    names: Vec<&'static str>,
    path: Option<Vec<String>>,
}

struct Fixed(Vec<String>);

impl SearchPath for Fixed {
    fn search(&self, _req: &Request) -> Option<Vec<String>> {
        Some(self.0.clone())
    }
}

impl Plugin for Zone {
    fn name(&self) -> &'static str {
        "zone"
    }

    fn query(&self, req: &mut Request) -> Action {
        if req.name.starts_with("fail.") {
            return Action::Done(Outcome::rcode(ResponseCode::ServFail));
        }
        if req.name.starts_with("err.") {
            return Action::Done(Outcome::fail(
                ResponseCode::ServFail,
                PluginError {
                    plugin: "zone",
                    message: "broken".into(),
                },
            ));
        }
        let mut m = req.reply();
        m.metadata.authoritative = true;
        if self.names.contains(&req.name.as_str()) {
            let a = RData::A(A(Ipv4Addr::new(192, 0, 2, 1)));
            m.answers
                .push(Record::from_rdata(req.qname().clone(), 30, a));
        } else {
            m.metadata.response_code = ResponseCode::NXDomain;
        }
        Action::Done(Outcome::reply(m))
    }

    fn search_path(&self) -> Option<Arc<dyn SearchPath>> {
        self.path
            .clone()
            .map(|p| Arc::new(Fixed(p)) as Arc<dyn SearchPath>)
    }
}

fn search(list: &[&str]) -> Option<Arc<[String]>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

fn autopath(search: Option<Arc<[String]>>, provider: Option<&str>) -> AutoPath {
    let pos = directive("autopath @x").tokens[0].pos.clone();
    AutoPath::new(vec![".".into()], search, provider.map(String::from), pos)
}

/// A chain of autopath and the zone, linked as the server links a block.
fn chain(a: AutoPath, names: Vec<&'static str>) -> Chain {
    let plugins: Vec<Box<dyn Plugin>> = vec![Box::new(a), Box::new(Zone { names, path: None })];
    for p in &plugins {
        p.link(&plugins).unwrap();
    }
    Chain::new(plugins)
}

fn ask(c: &Chain, name: &str) -> (Outcome, Vec<String>, String) {
    let mut req = request(name, RecordType::A);
    let o = now(c.serve(&mut req));
    let (answers, question) = match &o.reply {
        Some(m) => (
            m.answers
                .iter()
                .map(|r| format!("{} {} {} {}", r.name, r.ttl, r.record_type(), r.data))
                .collect(),
            m.queries[0].name().to_string(),
        ),
        None => (vec![], String::new()),
    };
    (o, answers, question)
}

const PATH: &[&str] = &["a.example.org.", "b.example.org.", "example.org.", ""];

#[test]
fn walks_the_search_path_behind_a_cname() {
    let c = chain(
        autopath(search(PATH), None),
        vec!["foo.b.example.org.", "bar.example.org."],
    );
    let (o, answers, question) = ask(&c, "Foo.a.example.org.");
    assert_eq!(o.rcode, ResponseCode::NoError);
    assert_eq!(o.plugin, Some("autopath"));
    assert_eq!(
        answers,
        [
            // The steps keep the case the client wrote.
            "Foo.a.example.org. 30 CNAME Foo.b.example.org.",
            "Foo.b.example.org. 30 A 192.0.2.1"
        ]
    );
    assert_eq!(question, "Foo.a.example.org.");
    let (_, answers, _) = ask(&c, "bar.a.example.org.");
    assert_eq!(answers[0], "bar.a.example.org. 30 CNAME bar.example.org.");
    // The last step is the name without the first domain.
    let c = chain(autopath(search(PATH), None), vec!["www."]);
    let (_, answers, _) = ask(&c, "www.a.example.org.");
    assert_eq!(
        answers,
        ["www.a.example.org. 30 CNAME www.", "www. 30 A 192.0.2.1"]
    );
}

#[test]
fn the_name_itself_answers_without_a_cname() {
    let c = chain(autopath(search(PATH), None), vec!["x.a.example.org."]);
    let (o, answers, _) = ask(&c, "x.a.example.org.");
    assert_eq!(o.rcode, ResponseCode::NoError);
    assert_eq!(answers, ["x.a.example.org. 30 A 192.0.2.1"]);
}

#[test]
fn all_nxdomain_gives_the_first_reply() {
    let c = chain(autopath(search(PATH), None), vec![]);
    let (o, answers, question) = ask(&c, "Nope.A.example.org.");
    assert_eq!(
        o.reply.unwrap().metadata.response_code,
        ResponseCode::NXDomain
    );
    assert!(answers.is_empty());
    // The first step's question: the first domain as the path spells it.
    assert_eq!(question, "Nope.a.example.org.");
}

#[test]
fn leaves_other_names_alone() {
    let c = chain(autopath(search(PATH), None), vec!["foo.b.example.org."]);
    // Not under the first domain: the zone answers the name itself.
    let (o, answers, _) = ask(&c, "foo.b.example.org.");
    assert_eq!(o.plugin, Some("zone"));
    assert_eq!(answers, ["foo.b.example.org. 30 A 192.0.2.1"]);
    // Outside autopath's zones.
    let mut a = autopath(search(PATH), None);
    a.zones = vec!["example.net.".into()];
    let c = chain(a, vec!["foo.b.example.org."]);
    let (o, _, _) = ask(&c, "foo.a.example.org.");
    assert_eq!(o.plugin, Some("zone"));
    // A file without a search list: nothing is under the empty name.
    let c = chain(autopath(search(&[""]), None), vec![]);
    assert_eq!(ask(&c, "foo.a.example.org.").0.plugin, Some("zone"));
}

#[test]
fn the_first_domain_itself_fails() {
    let c = chain(autopath(search(PATH), None), vec![]);
    let (o, _, _) = ask(&c, "A.example.org.");
    assert_eq!(o.rcode, ResponseCode::ServFail);
    assert!(o.reply.is_none());
    assert_eq!(
        o.error.unwrap().message,
        "trimzone: overshot qname: A.example.org.for zone a.example.org."
    );
}

#[test]
fn unwritten_steps_go_on_and_errors_end_the_walk() {
    let path = ["fail.org.", "b.example.org.", ""];
    let c = chain(autopath(search(&path), None), vec!["x.b.example.org."]);
    let (o, answers, _) = ask(&c, "x.fail.org.");
    assert_eq!(o.rcode, ResponseCode::NoError);
    assert_eq!(answers[0], "x.fail.org. 30 CNAME x.b.example.org.");
    // Every step fails: the first step's SERVFAIL, for the server to write.
    let c = chain(autopath(search(&["fail.org.", "fail.net."]), None), vec![]);
    let (o, _, _) = ask(&c, "fail.fail.org.");
    assert_eq!(o.rcode, ResponseCode::ServFail);
    assert!(o.reply.is_none() && o.error.is_none());
    let c = chain(
        autopath(search(&["a.org.", "err.b.org.", ""]), None),
        vec![],
    );
    let (o, _, _) = ask(&c, "err.a.org.");
    assert_eq!(o.error.unwrap().message, "broken");
    assert!(o.reply.is_none());
}

#[test]
fn counts_successes() {
    let c = chain(autopath(search(PATH), None), vec!["foo.b.example.org."]);
    let line = "coredns_autopath_success_total{server=\"dns://:60053\"} 1\n";
    // The worker's shard counts while the worker lives.
    let worker = request(".", RecordType::A).worker;
    for name in [
        "foo.a.example.org.",
        "nope.a.example.org.",
        "foo.b.example.org.",
    ] {
        let mut req = request(name, RecordType::A);
        req.server = "dns://:60053".into();
        req.worker = worker.clone();
        now(c.serve(&mut req));
    }
    let text = crate::metrics::render();
    assert!(text.contains(line), "{text}");
}

#[test]
fn a_plugin_gives_the_path() {
    let provider: Vec<String> = vec!["b.example.org.".into(), "".into()];
    let plugins: Vec<Box<dyn Plugin>> = vec![
        Box::new(autopath(None, Some("zone"))),
        Box::new(Zone {
            names: vec!["foo.b.example.org."],
            path: Some(provider),
        }),
    ];
    for p in &plugins {
        p.link(&plugins).unwrap();
    }
    let c = Chain::new(plugins);
    let (o, answers, _) = ask(&c, "foo.b.example.org.");
    assert_eq!(o.plugin, Some("autopath"));
    assert_eq!(answers, ["foo.b.example.org. 30 A 192.0.2.1"]);
    // The plugin's path wins over a file's.
    let plugins: Vec<Box<dyn Plugin>> = vec![
        Box::new(autopath(search(PATH), Some("zone"))),
        Box::new(Zone {
            names: vec![],
            path: Some(vec!["c.org.".into(), "".into()]),
        }),
    ];
    for p in &plugins {
        p.link(&plugins).unwrap();
    }
    let c = Chain::new(plugins);
    assert_eq!(ask(&c, "foo.a.example.org.").0.plugin, Some("zone"));
}

#[test]
fn links_as_coredns_starts_up() {
    let zone = || -> Box<dyn Plugin> {
        Box::new(Zone {
            names: vec![],
            path: None,
        })
    };
    // A plugin without search paths refuses the block.
    let plugins: Vec<Box<dyn Plugin>> = vec![Box::new(autopath(None, Some("zone"))), zone()];
    let e = plugins[0].link(&plugins).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Corefile:1: plugin/autopath: zone does not implement the AutoPather interface"
    );
    // No plugin of that name: nothing to do, and nothing done.
    let plugins: Vec<Box<dyn Plugin>> = vec![Box::new(autopath(None, Some("other"))), zone()];
    plugins[0].link(&plugins).unwrap();
    let c = Chain::new(plugins);
    assert_eq!(ask(&c, "foo.a.example.org.").0.plugin, Some("zone"));
}

#[test]
fn step_names_as_coredns_writes_them() {
    let base = Name::from_ascii("Foo.").unwrap();
    assert_eq!(step_name(&base, "").unwrap().to_string(), "Foo.");
    assert_eq!(
        step_name(&base, "svc.cluster.local.").unwrap().to_string(),
        "Foo.svc.cluster.local."
    );
    // `Foo..` is no name.
    assert!(step_name(&base, ".").is_none());
    assert!(step_name(&Name::root(), "x.org.").is_none());
    let long = format!("{}.", vec!["a".repeat(63); 4].join("."));
    assert!(step_name(&base, &long).is_none());
}
