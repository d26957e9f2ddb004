//! Corefile text to tokens grouped into server blocks and directives.
//!
//! Follows Caddy v1's Caddyfile rules as CoreDNS uses them (lexer, server
//! block keys, snippets, `import`, `{$ENV}`), and CoreDNS's rules for server
//! block keys (schemes, ports, zones, reverse CIDR zones). Pure: no sockets,
//! no plugin knowledge beyond the set of valid directive names. Every error
//! names `file:line`.
//!
//! Line rule (Caddy's): two tokens are on the same line when they come from
//! the same source and the second starts on the line where the first ends (a
//! quoted token may span lines). Tokens spliced in by `import` always start a
//! new line relative to the tokens around them.

mod address;
mod dispenser;
mod lexer;
mod parser;

pub use address::{parse_key, Transport, ZoneAddr};
pub use dispenser::Dispenser;
pub use parser::{parse, parse_with_warnings, replace_env, MAX_IMPORTED_TOKENS, MAX_IMPORTS};

use std::fmt;
use std::sync::Arc;

/// Where a token came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pos {
    /// The file as named to the parser (the Corefile path, or an imported path).
    pub file: Arc<str>,
    /// 1-based line number.
    pub line: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One Corefile token after environment substitution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub pos: Pos,
}

/// One occurrence of a directive inside a server block: the directive name
/// followed by every token that belongs to it (arguments and any nested
/// `{ ... }` block, braces included), in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Directive {
    pub tokens: Vec<Token>,
}

impl Directive {
    pub fn name(&self) -> &str {
        &self.tokens[0].text
    }
    pub fn pos(&self) -> &Pos {
        &self.tokens[0].pos
    }
}

/// A server block: its keys as written, and its directives in Corefile order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerBlock {
    pub keys: Vec<Token>,
    pub directives: Vec<Directive>,
}

/// An error in a Corefile, rendered as `file:line: message`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pos}: {msg}")]
pub struct Error {
    pub pos: Pos,
    pub msg: String,
    /// A plugin's setup error that carries no `plugin/NAME: ` (caddy's own
    /// plugins word theirs so).
    pub bare: bool,
}

impl Error {
    pub fn new(pos: &Pos, msg: impl Into<String>) -> Self {
        Self {
            pos: pos.clone(),
            msg: msg.into(),
            bare: false,
        }
    }
}
