//! The part of Go's text/template that CoreDNS's template examples use:
//! text with `{{ ... }}` actions (and `{{-`/`-}}` trimming, comments)
//! holding pipelines of fields (`.Name`, `.Group.a`, `$.Zone`), string,
//! number and boolean constants, parenthesised pipelines, the methods of
//! the data (`.Meta "name"`) and the functions `index`, `len`, `print`,
//! `printf`, `println`, `not`, `eq`, `ne` and CoreDNS's `parseInt`.
//! Control actions (`if`, `range`, `with`, `define`, ...) and variables
//! other than `$` are refused when the template is compiled.

mod error;
mod evaluator;
mod functions;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

pub use error::ExecError;
use std::collections::BTreeMap;

/// A compiled template.
#[derive(Debug)]
pub struct Template {
    name: String,
    nodes: Vec<parser::Node>,
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
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Question {
    /// The name as the client sent it, in presentation form.
    pub name: String,
    pub qtype: u16,
    pub qclass: u16,
}

/// The header fields of the incoming message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageData {
    pub id: u16,
    pub opcode: i64,
    pub recursion_desired: bool,
    pub checking_disabled: bool,
    pub authenticated_data: bool,
    pub question: Vec<Question>,
}
