//! CoreDNS's log replacer: `{label}` placeholders in a format string.

use crate::plugin::Request;
use hickory_proto::op::Message;
use std::fmt::Write;
use std::net::IpAddr;

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
    pub fn render(
        &self,
        req: &Request,
        reply: Option<&Message>,
        own: &dyn Fn(&str) -> Option<String>,
    ) -> String {
        let mut b = String::with_capacity(128);
        for n in &self.0 {
            match n {
                Node::Literal(t) => b.push_str(t),
                Node::Label(l) => value(&mut b, *l, req, reply),
                Node::Metadata(name) => {
                    let v = req
                        .metadata
                        .as_ref()
                        .and_then(|m| own(name).or_else(|| m.get(name).map(str::to_string)));
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

fn value(b: &mut String, l: Label, req: &Request, reply: Option<&Message>) {
    let _ = match l {
        Label::Type => write!(b, "{}", req.qtype()),
        Label::Name => write!(b, "{}", req.name),
        Label::Class => write!(b, "{}", req.qclass()),
        Label::Proto => write!(b, "{}", req.proto.as_str()),
        Label::Size => write!(b, "{}", req.wire_len),
        Label::Remote => {
            ip(b, req.src.ip());
            Ok(())
        }
        Label::Port => write!(b, "{}", req.src.port()),
        Label::Local => {
            ip(b, req.local.ip());
            Ok(())
        }
        Label::Id => write!(b, "{}", req.msg.metadata.id),
        Label::Opcode => write!(b, "{}", u8::from(req.msg.metadata.op_code)),
        Label::Do => write!(b, "{}", req.do_bit()),
        Label::Bufsize => write!(b, "{}", req.size()),
        Label::Rcode => match reply {
            Some(m) => write!(
                b,
                "{}",
                crate::plugin::mnemonics::rcode_text(u16::from(m.metadata.response_code))
            ),
            None => write!(b, "-"),
        },
        Label::Rsize => write!(
            b,
            "{}",
            reply.map_or(0, |m| m.to_vec().map_or(0, |v| v.len()))
        ),
        Label::Duration => {
            let secs = req.start.elapsed().as_secs_f64();
            write!(b, "{secs}s")
        }
        Label::Rflags => match reply {
            Some(m) => {
                flags(b, m);
                Ok(())
            }
            None => write!(b, "-"),
        },
    };
}

fn flags(b: &mut String, m: &Message) {
    let h = &m.metadata;
    let set = [
        (
            h.message_type == hickory_proto::op::MessageType::Response,
            "qr",
        ),
        (h.authoritative, "aa"),
        (h.truncation, "tc"),
        (h.recursion_desired, "rd"),
        (h.recursion_available, "ra"),
        (h.authentic_data, "ad"),
        (h.checking_disabled, "cd"),
    ];
    let mut first = true;
    for (on, name) in set {
        if on {
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

    #[test]
    fn common_line() {
        let req = request("Example.ORG.", RecordType::A);
        let mut reply = req.reply();
        reply.metadata.authoritative = true;
        let line = Format::parse(COMMON).render(&req, Some(&reply), &|_| None);
        let expect =
            r#"192.0.2.1:53000 - 4242 "A IN example.org. udp 29 false 512" NOERROR qr,aa,rd 29 "#;
        assert!(line.starts_with(expect), "{line}");
        assert!(line.ends_with('s'));
    }

    #[test]
    fn combined_and_literals() {
        let req = request("a.", RecordType::AAAA);
        let line = Format::parse(COMBINED).render(&req, None, &|_| None);
        assert!(line.contains(r#"- - 0 "#), "{line}");
        assert!(line.ends_with(r#" "0""#), "{line}");
        let f = Format::parse("{ {type} } {bogus} }x");
        assert_eq!(f.render(&req, None, &|_| None), "{ AAAA } {bogus} }x");
        assert_eq!(Format::parse("{/meta}").render(&req, None, &|_| None), "-");
        let mut req = req;
        req.metadata = Some(Default::default());
        req.set_metadata("forward/upstream", || "127.0.0.1:53".into());
        let f = Format::parse("{/forward/upstream} {/log/type} {/none}");
        assert_eq!(
            f.render(&req, None, &|k| (k == "log/type").then(|| "NOERROR".into())),
            "127.0.0.1:53 NOERROR -"
        );
    }
}
