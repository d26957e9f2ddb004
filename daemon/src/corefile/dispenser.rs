//! Walks the tokens of one directive occurrence for a plugin's setup, as
//! Caddy's Dispenser does.

use super::{Directive, Error, Pos, Token};

pub struct Dispenser<'a> {
    tokens: &'a [Token],
    cursor: isize,
    nesting: usize,
}

impl<'a> Dispenser<'a> {
    pub fn new(d: &'a Directive) -> Self {
        Self {
            tokens: &d.tokens,
            cursor: -1,
            nesting: 0,
        }
    }
    /// Loads the next token, whatever line it is on.
    pub fn next(&mut self) -> bool {
        todo!()
    }
    /// Loads the next token if it is on the same line and is not `{`.
    pub fn next_arg(&mut self) -> bool {
        todo!()
    }
    /// Inside a `{ ... }` opened on the current line: loads the next token of
    /// the block, false at its closing brace (or when there is no block).
    pub fn next_block(&mut self) -> bool {
        todo!()
    }
    pub fn val(&self) -> &str {
        &self.token().text
    }
    pub fn token(&self) -> &'a Token {
        todo!()
    }
    pub fn pos(&self) -> &'a Pos {
        &self.token().pos
    }
    /// The rest of the current line's arguments, stopping before a `{`.
    pub fn remaining_args(&mut self) -> Vec<String> {
        todo!()
    }
    /// `Wrong argument count or unexpected line ending after 'VAL'` at the current token.
    pub fn arg_err(&self) -> Error {
        todo!()
    }
    /// An error at the current token.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        Error::new(self.pos(), msg)
    }
}
