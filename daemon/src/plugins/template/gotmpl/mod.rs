//! Go's text/template, as CoreDNS's template plugin runs it: the lexer,
//! parser and executor of the whole template language (text and actions
//! with `{{-`/`-}}` trimming and comments; `if`/`else if`/`else`,
//! `range` (slices, maps in key order, integers, `break`, `continue`),
//! `with`/`else with`, `define`, `template` and `block`; variables;
//! pipelines, parenthesised and chained), Go's `fmt` for what it prints,
//! the builtin functions and CoreDNS's `parseInt`, over the data CoreDNS
//! gives (`.Zone`, `.Name`, `.Match`, `.Group`, `.Message`, ...). Output
//! and errors are Go's; `testdata/cases.txt` holds Go's own results.

mod edns;
mod error;
mod exec;
mod fmt;
mod functions;
mod lexer;
mod literal;
mod node;
mod parser;
#[cfg(test)]
mod tests;
mod value;

pub use error::{ExecError, ParseError};
use std::collections::BTreeMap;

/// A compiled template: the trees of its text by name, its own first.
#[derive(Debug)]
pub struct Template {
    name: String,
    /// The text, for the line and column of execution errors.
    text: String,
    set: parser::TreeSet,
}

impl Template {
    /// Compiles `text` as Go's `template.New(name).Parse(text)` does;
    /// errors read like Go's (`template: NAME:LINE: ...`).
    pub fn parse(name: &str, text: &str) -> Result<Self, ParseError> {
        let set = parser::parse(name, text)?;
        Ok(Template {
            name: name.to_string(),
            text: text.to_string(),
            set,
        })
    }

    /// Go's `Tree.Root.String()`: the template's own text as its parse
    /// tree prints it (CoreDNS labels its failure metrics with it).
    pub fn root_string(&self) -> String {
        self.set
            .get(&self.name)
            .map(|l| l.to_string())
            .unwrap_or_default()
    }
}

/// What templates can see of the query.
#[derive(Clone, Debug, Default)]
pub struct Data {
    pub zone: String,
    pub name: String,
    pub regex: String,
    pub matches: Vec<String>,
    pub group: BTreeMap<String, String>,
    pub class: String,
    pub qtype: String,
    pub remote: String,
    pub question: Question,
    pub message: MessageData,
    /// What `.Meta` reads: the metadata plugins before this one set, when
    /// the block has `metadata`.
    pub meta: Option<crate::plugin::request::Metadata>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Question {
    /// The name as the client sent it, in presentation form.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// The incoming message: its header and question (miekg's `dns.Msg`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageData {
    pub id: u16,
    pub response: bool,
    pub opcode: i64,
    pub authoritative: bool,
    pub truncated: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    pub zero: bool,
    pub authenticated_data: bool,
    pub checking_disabled: bool,
    pub rcode: i64,
    pub question: Vec<Question>,
    /// The OPT record of the additional section.
    pub opt: Option<Opt>,
}

/// The query's OPT record (miekg's `*dns.OPT`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Opt {
    pub udp_size: u16,
    /// The record's TTL: extended rcode, version, DO and the other flags.
    pub ttl: u32,
    /// Each option's code and data, in order.
    pub options: Vec<(u16, Vec<u8>)>,
}
