use super::*;
use crate::plugins::testutil::request;
use hickory_proto::rr::RecordType;

fn parse(text: &str) -> Result<Shed, crate::corefile::Error> {
    crate::plugins::testutil::set_up(setup, text)
}

fn err(text: &str) -> String {
    crate::plugins::testutil::setup_err(setup, text)
}

#[test]
fn setup_takes_nothing() {
    assert!(parse("shed").is_ok());
    assert!(parse("shed {\n}").is_ok());
    assert_eq!(
        err("shed x"),
        "Corefile:1: Wrong argument count or unexpected line ending after 'x'"
    );
    assert_eq!(err("shed {\n x\n}"), "Corefile:2: shed takes no options");
    assert_eq!(
        err("shed\nshed"),
        "Corefile:2: this plugin can only be used once per Server Block"
    );
    // The first occurrence is read before the second is refused.
    assert_eq!(
        err("shed x\nshed"),
        "Corefile:1: Wrong argument count or unexpected line ending after 'x'"
    );
    assert_eq!(Shed.udp_reply_bound(), Some(1024));
}

/// The rendered `coredns_shed_dropped_total` lines of `server`.
pub(crate) fn counts(server: &str) -> Vec<String> {
    crate::metrics::render()
        .lines()
        .filter(|l| l.starts_with("coredns_shed_dropped_total{") && l.contains(server))
        .map(str::to_string)
        .collect()
}

#[test]
fn drops_udp_queries_while_the_socket_is_backlogged() {
    let server = "dns://:64053";
    let mut req = request("example.org.", RecordType::A);
    req.server = server.into();
    assert!(matches!(Shed.query(&mut req), Action::Next));
    req.backlogged = true;
    let Action::Done(o) = Shed.query(&mut req) else {
        panic!("not dropped")
    };
    // Nothing written, and nothing for the server to write.
    assert!(o.reply.is_none() && crate::plugin::client_write(o.rcode));
    // TCP is never shed.
    req.proto = Proto::Tcp;
    assert!(matches!(Shed.query(&mut req), Action::Next));
    assert_eq!(
        counts(server),
        [format!(
            "coredns_shed_dropped_total{{server=\"{server}\",reason=\"query\"}} 1"
        )]
    );
}

#[test]
fn counts_the_replies_the_runtime_dropped() {
    let server = "dns://:64054";
    let w = Worker::new(0, 1);
    Shed.replies_dropped(&w, server, 0);
    assert_eq!(
        counts(server),
        [
            format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"query\"}} 0"),
            format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"response\"}} 0"),
        ]
    );
    Shed.replies_dropped(&w, server, 976);
    Shed.replies_dropped(&w, server, 24);
    assert_eq!(
        counts(server)[1],
        format!("coredns_shed_dropped_total{{server=\"{server}\",reason=\"response\"}} 1000")
    );
}
