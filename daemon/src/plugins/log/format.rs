//! CoreDNS's log replacer: `{label}` placeholders in a format string.

use crate::plugin::fast::{RawAnswer, RawQuery};
use crate::plugin::{Proto, Request};
use crate::wire::flag;
use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::{DNSClass, RecordType};
use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// What a log line reads of a query and its reply: a request on its way
/// through the chain ([`Chained`]), or a fast path hit.
pub trait Fields {
    fn qtype(&self) -> RecordType;
    fn qclass(&self) -> DNSClass;
    /// The question name lowercased (CoreDNS's `state.Name()`).
    fn name(&self) -> &str;
    fn proto(&self) -> Proto;
    /// The query's size on the wire.
    fn size(&self) -> usize;
    fn remote(&self) -> SocketAddr;
    fn local(&self) -> SocketAddr;
    fn id(&self) -> u16;
    fn opcode(&self) -> u8;
    fn do_bit(&self) -> bool;
    /// The largest reply the client takes.
    fn bufsize(&self) -> usize;
    fn start(&self) -> Instant;
    /// A metadata value; None also when the block collects no metadata.
    fn metadata(&self, name: &str) -> Option<String>;
    fn collects_metadata(&self) -> bool;
    /// The reply's rcode, flags word and length (as plugins built it,
    /// compressed, without the server's OPT); None without a reply.
    fn reply(&self) -> Option<(u16, u16, usize)>;
    /// Whether the reply was watched at all: without (CoreDNS's replacer
    /// given no recorder), `{rcode}`, `{rsize}`, `{duration}` and
    /// `{>rflags}` read `-`.
    fn recorded(&self) -> bool {
        true
    }
}

/// The fields of a query rendered without its reply (dnstap's `extra`).
pub struct Unrecorded<'a>(pub &'a dyn Fields);

impl Fields for Unrecorded<'_> {
    fn qtype(&self) -> RecordType {
        self.0.qtype()
    }
    fn qclass(&self) -> DNSClass {
        self.0.qclass()
    }
    fn name(&self) -> &str {
        self.0.name()
    }
    fn proto(&self) -> Proto {
        self.0.proto()
    }
    fn size(&self) -> usize {
        self.0.size()
    }
    fn remote(&self) -> SocketAddr {
        self.0.remote()
    }
    fn local(&self) -> SocketAddr {
        self.0.local()
    }
    fn id(&self) -> u16 {
        self.0.id()
    }
    fn opcode(&self) -> u8 {
        self.0.opcode()
    }
    fn do_bit(&self) -> bool {
        self.0.do_bit()
    }
    fn bufsize(&self) -> usize {
        self.0.bufsize()
    }
    fn start(&self) -> Instant {
        self.0.start()
    }
    fn metadata(&self, name: &str) -> Option<String> {
        self.0.metadata(name)
    }
    fn collects_metadata(&self) -> bool {
        self.0.collects_metadata()
    }
    fn reply(&self) -> Option<(u16, u16, usize)> {
        None
    }
    fn recorded(&self) -> bool {
        false
    }
}

/// A request and the reply the chain gave it.
pub struct Chained<'a> {
    pub req: &'a Request,
    pub reply: Option<&'a Message>,
}

/// The header flags word of a message (QR, AA, TC, RD, RA, AD, CD).
fn flags_word(m: &Message) -> u16 {
    let h = &m.metadata;
    [
        (h.message_type == MessageType::Response, flag::QR),
        (h.authoritative, flag::AA),
        (h.truncation, flag::TC),
        (h.recursion_desired, flag::RD),
        (h.recursion_available, flag::RA),
        (h.authentic_data, flag::AD),
        (h.checking_disabled, flag::CD),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .fold(0, |w, (_, bit)| w | bit)
}

impl Fields for Chained<'_> {
    fn qtype(&self) -> RecordType {
        self.req.qtype()
    }
    fn qclass(&self) -> DNSClass {
        self.req.qclass()
    }
    fn name(&self) -> &str {
        &self.req.name
    }
    fn proto(&self) -> Proto {
        self.req.proto
    }
    fn size(&self) -> usize {
        self.req.wire_len
    }
    fn remote(&self) -> SocketAddr {
        self.req.src
    }
    fn local(&self) -> SocketAddr {
        self.req.local
    }
    fn id(&self) -> u16 {
        self.req.msg.metadata.id
    }
    fn opcode(&self) -> u8 {
        u8::from(self.req.msg.metadata.op_code)
    }
    fn do_bit(&self) -> bool {
        self.req.do_bit()
    }
    fn bufsize(&self) -> usize {
        self.req.size()
    }
    fn start(&self) -> Instant {
        self.req.start
    }
    fn metadata(&self, name: &str) -> Option<String> {
        self.req.metadata.as_ref()?.get(name).map(str::to_string)
    }
    fn collects_metadata(&self) -> bool {
        self.req.metadata.is_some()
    }
    fn reply(&self) -> Option<(u16, u16, usize)> {
        let m = self.reply?;
        let len = m.to_vec().map_or(0, |v| v.len());
        Some((u16::from(m.metadata.response_code), flags_word(m), len))
    }
}

/// A query the raw-bytes path answered, and its answer.
pub struct Raw<'a> {
    pub q: &'a RawQuery<'a>,
    pub a: &'a RawAnswer,
}

impl Fields for Raw<'_> {
    fn qtype(&self) -> RecordType {
        RecordType::from(self.q.q.qtype)
    }
    fn qclass(&self) -> DNSClass {
        DNSClass::from(self.q.q.qclass)
    }
    fn name(&self) -> &str {
        self.q.text
    }
    fn proto(&self) -> Proto {
        self.q.proto()
    }
    fn size(&self) -> usize {
        self.q.len
    }
    fn remote(&self) -> SocketAddr {
        self.q.src
    }
    fn local(&self) -> SocketAddr {
        self.q.local
    }
    fn id(&self) -> u16 {
        self.q.q.header.id
    }
    fn opcode(&self) -> u8 {
        self.q.q.header.opcode()
    }
    fn do_bit(&self) -> bool {
        self.q.q.do_bit()
    }
    fn bufsize(&self) -> usize {
        self.q.limit
    }
    fn start(&self) -> Instant {
        self.q.at
    }
    fn metadata(&self, _: &str) -> Option<String> {
        None
    }
    fn collects_metadata(&self) -> bool {
        false
    }
    fn reply(&self) -> Option<(u16, u16, usize)> {
        Some((self.a.rcode, self.a.flags, self.a.len))
    }
}

/// CoreDNS's `{common}` format.
pub const COMMON: &str = r#"{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}"#;
/// CoreDNS's `{combined}` format.
pub const COMBINED: &str = concat!(
    r#"{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}"#,
    r#" "{>opcode}""#
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Label {
    Type,
    Name,
    Class,
    Proto,
    Size,
    Remote,
    Port,
    Local,
    Id,
    Opcode,
    Do,
    Bufsize,
    Rcode,
    Rsize,
    Duration,
    Rflags,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Node {
    Literal(String),
    Label(Label),
    /// `{/NAME}`: a metadata value, `-` when there is none.
    Metadata(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format(Vec<Node>);

fn label(s: &str) -> Option<Label> {
    Some(match s {
        "{type}" => Label::Type,
        "{name}" => Label::Name,
        "{class}" => Label::Class,
        "{proto}" => Label::Proto,
        "{size}" => Label::Size,
        "{remote}" => Label::Remote,
        "{port}" => Label::Port,
        "{local}" => Label::Local,
        "{>id}" => Label::Id,
        "{>opcode}" => Label::Opcode,
        "{>do}" => Label::Do,
        "{>bufsize}" => Label::Bufsize,
        "{rcode}" => Label::Rcode,
        "{rsize}" => Label::Rsize,
        "{duration}" => Label::Duration,
        "{>rflags}" => Label::Rflags,
        _ => return None,
    })
}

impl Format {
    /// Splits at the first `}` and the `{` before it, as CoreDNS does, so
    /// `{ {type} }` keeps its outer braces as text.
    pub fn parse(mut s: &str) -> Format {
        let mut nodes = Vec::new();
        let push_lit = |nodes: &mut Vec<Node>, t: &str| {
            if t.is_empty() {
                return;
            }
            if let Some(Node::Literal(prev)) = nodes.last_mut() {
                prev.push_str(t);
            } else {
                nodes.push(Node::Literal(t.to_string()));
            }
        };
        while let Some(j) = s.find('}') {
            let Some(i) = s[..j].rfind('{') else {
                push_lit(&mut nodes, &s[..=j]);
                s = &s[j + 1..];
                continue;
            };
            let text = &s[i..=j];
            match label(text) {
                Some(l) => {
                    push_lit(&mut nodes, &s[..i]);
                    nodes.push(Node::Label(l));
                }
                None if text.starts_with("{/") => {
                    push_lit(&mut nodes, &s[..i]);
                    nodes.push(Node::Metadata(text[2..text.len() - 1].to_string()));
                }
                None => push_lit(&mut nodes, &s[..=j]),
            }
            s = &s[j + 1..];
        }
        push_lit(&mut nodes, s);
        Format(nodes)
    }

    /// `own` answers log's own metadata (`log/type`, `log/class`).
    pub fn render(&self, f: &dyn Fields, own: &dyn Fn(&str) -> Option<String>) -> String {
        let mut b = String::with_capacity(128);
        // Encoded only when a label asks about the reply.
        let reply = std::cell::OnceCell::new();
        let reply = || *reply.get_or_init(|| f.reply());
        for n in &self.0 {
            match n {
                Node::Literal(t) => b.push_str(t),
                Node::Label(l) => value(&mut b, *l, f, &reply),
                Node::Metadata(name) => {
                    let v = f
                        .collects_metadata()
                        .then(|| own(name).or_else(|| f.metadata(name)))
                        .flatten();
                    b.push_str(v.as_deref().unwrap_or("-"));
                }
            }
        }
        b
    }
}

fn ip(b: &mut String, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let _ = write!(b, "{v4}");
        }
        IpAddr::V6(v6) => {
            let _ = write!(b, "[{v6}]");
        }
    }
}

fn value(b: &mut String, l: Label, f: &dyn Fields, reply: &dyn Fn() -> Option<(u16, u16, usize)>) {
    let _ = match l {
        Label::Type => write!(b, "{}", f.qtype()),
        Label::Name => write!(b, "{}", f.name()),
        Label::Class => write!(b, "{}", f.qclass()),
        Label::Proto => write!(b, "{}", f.proto().as_str()),
        Label::Size => write!(b, "{}", f.size()),
        Label::Remote => {
            ip(b, f.remote().ip());
            Ok(())
        }
        Label::Port => write!(b, "{}", f.remote().port()),
        Label::Local => {
            ip(b, f.local().ip());
            Ok(())
        }
        Label::Id => write!(b, "{}", f.id()),
        Label::Opcode => write!(b, "{}", f.opcode()),
        Label::Do => write!(b, "{}", f.do_bit()),
        Label::Bufsize => write!(b, "{}", f.bufsize()),
        Label::Rcode => match reply() {
            Some((rcode, _, _)) => write!(b, "{}", crate::wire::mnemonics::rcode_text(rcode)),
            None => write!(b, "-"),
        },
        Label::Rsize | Label::Duration if !f.recorded() => write!(b, "-"),
        Label::Rsize => write!(b, "{}", reply().map_or(0, |(_, _, len)| len)),
        Label::Duration => {
            let secs = f.start().elapsed().as_secs_f64();
            write!(b, "{secs}s")
        }
        Label::Rflags => match reply() {
            Some((_, w, _)) => {
                flags(b, w);
                Ok(())
            }
            None => write!(b, "-"),
        },
    };
}

fn flags(b: &mut String, w: u16) {
    let names = [
        (flag::QR, "qr"),
        (flag::AA, "aa"),
        (flag::TC, "tc"),
        (flag::RD, "rd"),
        (flag::RA, "ra"),
        (flag::AD, "ad"),
        (flag::CD, "cd"),
    ];
    let mut first = true;
    for (bit, name) in names {
        if w & bit != 0 {
            if !first {
                b.push(',');
            }
            b.push_str(name);
            first = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::request;
    use hickory_proto::rr::RecordType;

    fn chained<'a>(req: &'a Request, reply: Option<&'a Message>) -> Chained<'a> {
        Chained { req, reply }
    }

    #[test]
    fn common_line() {
        let req = request("Example.ORG.", RecordType::A);
        let mut reply = req.reply();
        reply.metadata.authoritative = true;
        let line = Format::parse(COMMON).render(&chained(&req, Some(&reply)), &|_| None);
        let expect =
            r#"192.0.2.1:53000 - 4242 "A IN example.org. udp 29 false 512" NOERROR qr,aa,rd 29 "#;
        assert!(line.starts_with(expect), "{line}");
        assert!(line.ends_with('s'));
    }

    #[test]
    fn combined_and_literals() {
        let req = request("a.", RecordType::AAAA);
        let line = Format::parse(COMBINED).render(&chained(&req, None), &|_| None);
        assert!(line.contains(r#"- - 0 "#), "{line}");
        assert!(line.ends_with(r#" "0""#), "{line}");
        let f = Format::parse("{ {type} } {bogus} }x");
        assert_eq!(
            f.render(&chained(&req, None), &|_| None),
            "{ AAAA } {bogus} }x"
        );
        assert_eq!(
            Format::parse("{/meta}").render(&chained(&req, None), &|_| None),
            "-"
        );
        let mut req = req;
        req.metadata = Some(Default::default());
        req.set_metadata("forward/upstream", || "127.0.0.1:53".into());
        let f = Format::parse("{rcode} {rsize} {duration} {>rflags} {type}");
        assert_eq!(
            f.render(&Unrecorded(&chained(&req, Some(&req.reply()))), &|_| None),
            "- - - - AAAA"
        );
        let f = Format::parse("{/forward/upstream} {/log/type} {/none}");
        assert_eq!(
            f.render(&chained(&req, None), &|k| (k == "log/type")
                .then(|| "NOERROR".into())),
            "127.0.0.1:53 NOERROR -"
        );
    }
}
