use super::*;
use crate::plugin::request::Server;
use crate::plugins::testutil::{now, request, set_up, show};
use std::cell::RefCell;
use std::net::IpAddr;
use std::rc::Rc;

/// A backend with fixed records per name; other names are NXDOMAIN.
struct Fake {
    names: HashMap<&'static str, (Vec<Service>, ResponseCode)>,
    addrs: Vec<(String, IpAddr)>,
}

impl External for Fake {
    fn services(&self, req: &Request, _zone: &str, headless: bool) -> (Vec<Service>, ResponseCode) {
        let key = if headless {
            "headless"
        } else {
            req.name.as_str()
        };
        self.names
            .get(key)
            .cloned()
            .unwrap_or((vec![], ResponseCode::NXDomain))
    }

    fn addresses(&self, _zone: &str, _headless: bool) -> Vec<(String, IpAddr)> {
        self.addrs.clone()
    }

    fn serial(&self, _zone: &str) -> u32 {
        1234
    }
}

/// A plugin of the block as k8s_external looks for it.
struct Backend(Option<Arc<dyn External>>);

impl Plugin for Backend {
    fn name(&self) -> &'static str {
        BACKEND
    }
    fn query(&self, _req: &mut Request) -> Action {
        Action::Next
    }
    fn external(&self) -> Option<Arc<dyn External>> {
        self.0.clone()
    }
}

fn svc(host: &str, port: i32, name: &str) -> Service {
    Service {
        host: host.into(),
        port,
        ttl: 30,
        name: name.into(),
    }
}

fn fake() -> Fake {
    let ok = ResponseCode::NoError;
    let mut names = HashMap::new();
    names.insert(
        "web.demo.example.org.",
        (
            vec![
                svc("192.0.2.1", 80, "web.demo"),
                svc("192.0.2.1", 443, "web.demo"),
                svc("192.0.2.2", 80, "web.demo"),
                svc("2001:db8::1", 80, "web.demo"),
            ],
            ok,
        ),
    );
    names.insert(
        "lb.demo.example.org.",
        (
            vec![
                svc("lb.example.net", 80, "lb.demo"),
                svc("lb.example.net", 443, "lb.demo"),
            ],
            ok,
        ),
    );
    names.insert("demo.example.org.", (vec![], ok));
    names.insert(
        "1.2.0.192.in-addr.arpa.",
        (vec![svc("web.demo", 0, ""), svc("web.demo", 0, "")], ok),
    );
    Fake {
        names,
        addrs: vec![
            ("ns.dns.example.org.".into(), "192.0.2.53".parse().unwrap()),
            (
                "ns.dns.example.org.".into(),
                "2001:db8::53".parse().unwrap(),
            ),
        ],
    }
}

/// The plugin as `text` sets it up, linked to `backend`.
fn plugin(text: &str, backend: Fake) -> K8sExternal {
    let e = set_up(setup, text).unwrap();
    let block: Vec<Box<dyn Plugin>> = vec![Box::new(Backend(Some(Arc::new(backend))))];
    e.link(&block).unwrap();
    e
}

fn ask(e: &K8sExternal, name: &str, qtype: RecordType) -> Message {
    ask_with(e, request(name, qtype))
}

fn ask_with(e: &K8sExternal, mut req: Request) -> Message {
    let mut a = e.query(&mut req);
    if let Action::Await = a {
        a = now(e.query_async(&mut req));
    }
    match a {
        Action::Done(o) => {
            assert_eq!(o.rcode, ResponseCode::NoError, "written");
            o.reply.expect("a reply")
        }
        _ => panic!("{} {}: passed on", req.name, req.qtype()),
    }
}

const ZONE: &str = "k8s_external example.org";
const SOA: &str =
    "example.org. 5 IN SOA ns1.dns.example.org. hostmaster.dns.example.org. 1234 7200 1800 86400 5";

#[test]
fn addresses_of_services() {
    let e = plugin(ZONE, fake());
    let m = ask(&e, "Web.Demo.example.org.", RecordType::A);
    assert!(m.metadata.authoritative);
    assert_eq!(
        show(&m),
        "No Error\nan Web.Demo.example.org. 5 IN A 192.0.2.1\nan Web.Demo.example.org. 5 IN A 192.0.2.2"
    );
    assert_eq!(
        show(&ask(&e, "web.demo.example.org.", RecordType::AAAA)),
        "No Error\nan web.demo.example.org. 5 IN AAAA 2001:db8::1"
    );
    // Records, but none of the type: NODATA.
    assert_eq!(
        show(&ask(&e, "web.demo.example.org.", RecordType::TXT)),
        format!("No Error\nns {SOA}")
    );
    let e = plugin("k8s_external example.org {\n ttl 60\n}", fake());
    assert_eq!(
        show(&ask(&e, "web.demo.example.org.", RecordType::AAAA)),
        "No Error\nan web.demo.example.org. 60 IN AAAA 2001:db8::1"
    );
}

#[test]
fn srv_records_with_their_addresses() {
    let e = plugin(ZONE, fake());
    assert_eq!(
        show(&ask(&e, "web.demo.example.org.", RecordType::SRV)),
        "No Error\n\
         an web.demo.example.org. 30 IN SRV 0 25 80 web.demo.example.org.\n\
         an web.demo.example.org. 30 IN SRV 0 25 443 web.demo.example.org.\n\
         ar web.demo.example.org. 5 IN A 192.0.2.1\n\
         ar web.demo.example.org. 5 IN A 192.0.2.2\n\
         ar web.demo.example.org. 5 IN AAAA 2001:db8::1"
    );
}

#[test]
fn names_that_do_not_exist() {
    let e = plugin(ZONE, fake());
    assert_eq!(
        show(&ask(&e, "nope.demo.example.org.", RecordType::A)),
        format!("Non-Existent Domain\nns {SOA}")
    );
    assert_eq!(
        show(&ask(&e, "demo.example.org.", RecordType::A)),
        format!("No Error\nns {SOA}")
    );
    // fallthrough passes NXDOMAIN on, not NODATA.
    let e = plugin("k8s_external example.org {\n fallthrough\n}", fake());
    let mut req = request("nope.demo.example.org.", RecordType::A);
    assert!(matches!(e.query(&mut req), Action::Next));
    ask(&e, "demo.example.org.", RecordType::A);
    // Outside the zones.
    let mut req = request("web.demo.example.net.", RecordType::A);
    assert!(matches!(e.query(&mut req), Action::Next));
}

#[test]
fn the_apex_and_the_name_servers() {
    let e = plugin(ZONE, fake());
    assert_eq!(
        show(&ask(&e, "example.org.", RecordType::SOA)),
        format!("No Error\nan {SOA}")
    );
    assert_eq!(
        show(&ask(&e, "Example.ORG.", RecordType::NS)),
        "No Error\n\
         an example.org. 5 IN NS ns1.dns.example.org.\n\
         ar ns1.dns.Example.ORG. 5 IN A 192.0.2.53\n\
         ar ns1.dns.Example.ORG. 5 IN AAAA 2001:db8::53"
    );
    assert_eq!(
        show(&ask(&e, "example.org.", RecordType::A)),
        format!("No Error\nns {SOA}")
    );
    assert_eq!(
        show(&ask(&e, "NS1.dns.example.org.", RecordType::A)),
        "No Error\nan NS1.dns.example.org. 5 IN A 192.0.2.53"
    );
    assert_eq!(
        show(&ask(&e, "ns1.dns.example.org.", RecordType::TXT)),
        format!("No Error\nns {SOA}")
    );
    assert_eq!(
        show(&ask(&e, "dns.example.org.", RecordType::A)),
        format!("No Error\nns {SOA}")
    );
    for nx in ["ns2.dns.example.org.", "a.ns1.dns.example.org."] {
        assert_eq!(
            show(&ask(&e, nx, RecordType::A)),
            format!("Non-Existent Domain\nns {SOA}"),
            "{nx}"
        );
    }
    // Another apex label.
    let e = plugin("k8s_external example.org {\n apex Ext\n}", fake());
    assert_eq!(
        show(&ask(&e, "ns1.ext.example.org.", RecordType::A)),
        "No Error\nan ns1.ext.example.org. 5 IN A 192.0.2.53"
    );
    assert!(show(&ask(&e, "example.org.", RecordType::SOA))
        .contains("SOA ns1.Ext.example.org. hostmaster.Ext.example.org."));
}

#[test]
fn reverse_names() {
    let e = plugin("k8s_external example.org in-addr.arpa", fake());
    let m = ask(&e, "1.2.0.192.in-addr.arpa.", RecordType::PTR);
    assert_eq!(
        show(&m),
        "No Error\nan 1.2.0.192.in-addr.arpa. 5 IN PTR web.demo.example.org."
    );
}

#[test]
fn headless_is_passed_on() {
    let mut f = fake();
    f.names.insert(
        "headless",
        (
            vec![svc("10.1.0.1", 80, "ep-1.hl.demo")],
            ResponseCode::NoError,
        ),
    );
    let e = plugin("k8s_external example.org {\n headless\n}", f);
    assert_eq!(
        show(&ask(&e, "ep-1.hl.demo.example.org.", RecordType::SRV)),
        "No Error\n\
         an ep-1.hl.demo.example.org. 30 IN SRV 0 100 80 ep-1.hl.demo.example.org.\n\
         ar ep-1.hl.demo.example.org. 5 IN A 10.1.0.1"
    );
}

/// The server as the plugin's lookups see it: A and AAAA for
/// lb.example.net.
struct Upstream {
    asked: RefCell<Vec<(String, RecordType)>>,
}

impl Server for Upstream {
    fn serve(&self, req: Request) -> LocalFuture<'_, Option<Message>> {
        self.asked
            .borrow_mut()
            .push((req.qname().to_string(), req.qtype()));
        let mut m = req.reply();
        let data = match req.qtype() {
            RecordType::A => RData::A(A("198.51.100.7".parse().unwrap())),
            _ => RData::AAAA(AAAA("2001:db8::7".parse().unwrap())),
        };
        m.answers
            .push(Record::from_rdata(req.qname().clone(), 300, data));
        Box::pin(std::future::ready(Some(m)))
    }
}

#[test]
fn load_balancers_by_host_name_are_looked_up() {
    let e = plugin(ZONE, fake());
    let up = Rc::new(Upstream {
        asked: RefCell::new(vec![]),
    });
    let mut req = request("lb.demo.example.org.", RecordType::A);
    req.via = Some(up.clone());
    // A CNAME per port, as CoreDNS writes them, each with the answer.
    assert_eq!(
        show(&ask_with(&e, req)),
        "No Error\n\
         an lb.demo.example.org. 30 IN CNAME lb.example.net.\n\
         an lb.example.net. 300 IN A 198.51.100.7\n\
         an lb.demo.example.org. 30 IN CNAME lb.example.net.\n\
         an lb.example.net. 300 IN A 198.51.100.7"
    );
    assert_eq!(
        *up.asked.borrow(),
        [("lb.example.net.".into(), RecordType::A)]
    );
    let mut req = request("lb.demo.example.org.", RecordType::SRV);
    req.via = Some(up.clone());
    assert_eq!(
        show(&ask_with(&e, req)),
        "No Error\n\
         an lb.demo.example.org. 30 IN SRV 0 50 80 lb.example.net.\n\
         an lb.demo.example.org. 30 IN SRV 0 50 443 lb.example.net.\n\
         ar lb.example.net. 300 IN A 198.51.100.7\n\
         ar lb.example.net. 300 IN AAAA 2001:db8::7"
    );
    // Without a server to ask: the CNAMEs alone.
    assert_eq!(
        show(&ask(&e, "lb.demo.example.org.", RecordType::AAAA)),
        "No Error\n\
         an lb.demo.example.org. 30 IN CNAME lb.example.net.\n\
         an lb.demo.example.org. 30 IN CNAME lb.example.net."
    );
}

#[test]
fn links_as_coredns_starts_up() {
    let e = set_up(setup, ZONE).unwrap();
    let err = |block: Vec<Box<dyn Plugin>>| e.link(&block).unwrap_err().to_string();
    assert_eq!(
        err(vec![]),
        "Corefile:1: plugin/k8s_external: kubernetes plugin not loaded"
    );
    assert_eq!(
        err(vec![Box::new(Backend(None))]),
        "Corefile:1: plugin/k8s_external: kubernetes plugin does not implement the Externaler interface"
    );
}
