//! Walks the tokens of one directive occurrence for a plugin's setup, as
//! Caddy's Dispenser does.
//!
//! Two tokens are on the same line when they come from the same file and the
//! second starts on the line where the first ends (a quoted token may span
//! lines: its end is its start plus the line breaks in its text).

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

    /// A dispenser over any token slice (for tests and nested walks).
    pub fn from_tokens(tokens: &'a [Token]) -> Self {
        Self {
            tokens,
            cursor: -1,
            nesting: 0,
        }
    }

    fn at(&self, i: isize) -> Option<&'a Token> {
        usize::try_from(i).ok().and_then(|i| self.tokens.get(i))
    }

    /// Whether the token after the cursor is on the cursor's line.
    fn next_on_same_line(&self) -> bool {
        match (self.at(self.cursor), self.at(self.cursor + 1)) {
            (Some(a), Some(b)) => {
                let breaks = a.text.matches('\n').count() as u32;
                a.pos.file == b.pos.file && a.pos.line + breaks == b.pos.line
            }
            _ => false,
        }
    }

    /// Loads the next token, whatever line it is on.
    #[allow(clippy::should_implement_trait)] // Caddy's name; not an iterator
    pub fn next(&mut self) -> bool {
        if self.cursor + 1 < self.tokens.len() as isize {
            self.cursor += 1;
            true
        } else {
            false
        }
    }

    /// Loads the next token if it is on the same line and is not `{` (nor
    /// a `}` closing a block on that line). Before the first token, loads the
    /// first token.
    pub fn next_arg(&mut self) -> bool {
        if self.cursor < 0 {
            return self.next();
        }
        if !self.next_on_same_line() {
            return false;
        }
        match self.at(self.cursor + 1) {
            Some(t) if t.text == "{" || t.text == "}" => false,
            Some(_) => {
                self.cursor += 1;
                true
            }
            None => false,
        }
    }

    /// Inside a `{ ... }` opened on the current line: loads the next token of
    /// the block, false at its closing brace (or when there is no block).
    ///
    /// When the next token is a `{` on the current line, the block (possibly
    /// nested in another) is entered and its first token loaded. Otherwise,
    /// inside a block, the next token is loaded; at the block's `}` this
    /// returns false with the cursor on that `}`. Like Caddy, arguments of a
    /// line that the caller did not consume are returned as tokens.
    pub fn next_block(&mut self) -> bool {
        if self.cursor >= 0
            && self.next_on_same_line()
            && self.at(self.cursor + 1).is_some_and(|t| t.text == "{")
        {
            self.cursor += 1; // the `{`
            if !self.next() {
                return false;
            }
            if self.val() == "}" {
                return false; // empty block
            }
            self.nesting += 1;
            return true;
        }
        if self.nesting == 0 {
            return false;
        }
        if !self.next() {
            self.nesting = 0;
            return false;
        }
        if self.val() == "}" {
            self.nesting -= 1;
            return false;
        }
        true
    }

    /// The current token's text; empty before the first token.
    pub fn val(&self) -> &'a str {
        match self.at(self.cursor) {
            Some(t) => &t.text,
            None => "",
        }
    }

    /// The current token (the first before `next`, the last past the end).
    pub fn token(&self) -> &'a Token {
        match self.at(self.cursor) {
            Some(t) => t,
            None if self.cursor < 0 => &self.tokens[0],
            None => &self.tokens[self.tokens.len() - 1],
        }
    }

    pub fn pos(&self) -> &'a Pos {
        &self.token().pos
    }

    /// The rest of the current line's arguments, stopping before a `{`.
    pub fn remaining_args(&mut self) -> Vec<String> {
        let mut args = Vec::new();
        while self.next_arg() {
            args.push(self.val().to_string());
        }
        args
    }

    /// `Wrong argument count or unexpected line ending after 'VAL'` at the current token.
    pub fn arg_err(&self) -> Error {
        if self.val() == "{" {
            return self.err("Unexpected token '{', expecting argument");
        }
        self.err(format!(
            "Wrong argument count or unexpected line ending after '{}'",
            self.val()
        ))
    }

    /// An error at the current token.
    pub fn err(&self, msg: impl Into<String>) -> Error {
        Error::new(self.pos(), msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corefile::parse;

    fn directives(src: &str) -> Vec<Directive> {
        let blocks = parse(src, "Corefile", &|_| None, &|_| true).unwrap();
        blocks.into_iter().flat_map(|b| b.directives).collect()
    }

    #[test]
    fn typical_setup_walk() {
        let ds = directives(
            ". {\n forward . 1.1.1.1 8.8.8.8 {\n  max_fails 3\n  policy random\n  health_check 5s {\n   domain x.org\n  }\n  force_tcp\n }\n}",
        );
        let mut d = Dispenser::new(&ds[0]);
        assert_eq!(d.val(), "");
        assert!(d.next());
        assert_eq!(d.val(), "forward");
        assert_eq!(d.remaining_args(), [".", "1.1.1.1", "8.8.8.8"]);
        let mut seen = Vec::new();
        while d.next_block() {
            match d.val() {
                "max_fails" | "policy" => {
                    let prop = d.val();
                    assert!(d.next_arg());
                    seen.push(format!("{prop}={}@{}", d.val(), d.pos().line));
                    assert!(!d.next_arg());
                }
                "health_check" => {
                    assert_eq!(d.remaining_args(), ["5s"]);
                    let mut inner = Vec::new();
                    while d.next_block() {
                        inner.push(d.val().to_string());
                        inner.extend(d.remaining_args());
                    }
                    assert_eq!(d.val(), "}");
                    assert_eq!(d.pos().line, 7);
                    seen.push(format!("health_check[{}]", inner.join(" ")));
                }
                "force_tcp" => seen.push("force_tcp".into()),
                other => panic!("unknown property '{other}'"),
            }
        }
        assert_eq!(
            seen,
            [
                "max_fails=3@3",
                "policy=random@4",
                "health_check[domain x.org]",
                "force_tcp"
            ]
        );
        assert_eq!(d.val(), "}");
        assert!(!d.next());
    }

    #[test]
    fn args_and_errors() {
        let ds = directives(". {\n cache 30 {\n  success\n }\n log\n hosts \"a\nb\" c\n}");
        let mut d = Dispenser::new(&ds[0]);
        // Before the first token, errors point at the first token.
        assert_eq!(
            d.arg_err().to_string(),
            "Corefile:2: Wrong argument count or unexpected line ending after ''"
        );
        assert!(d.next());
        assert!(d.next_arg());
        assert_eq!(d.val(), "30");
        assert!(!d.next_arg()); // `{` is not an argument
        assert!(d.next_block());
        assert_eq!((d.val(), d.pos().line), ("success", 3));
        assert!(!d.next_arg()); // does not cross the line
        assert_eq!(
            d.arg_err().to_string(),
            "Corefile:3: Wrong argument count or unexpected line ending after 'success'"
        );
        assert_eq!(
            d.err("unknown property 'success'").to_string(),
            "Corefile:3: unknown property 'success'"
        );
        assert!(!d.next_block());
        assert!(!d.next_block());
        assert!(!d.next());

        // No block at all.
        let mut d = Dispenser::new(&ds[1]);
        assert!(d.next());
        assert!(d.remaining_args().is_empty());
        assert!(!d.next_block());

        // A token after a quoted token spanning lines is on its closing line.
        let mut d = Dispenser::new(&ds[2]);
        assert!(d.next());
        assert_eq!(d.remaining_args(), ["a\nb", "c"]);
        assert_eq!(d.pos().line, 7);
    }

    #[test]
    fn empty_block_and_unconsumed_args() {
        let ds = directives(". {\n errors {\n }\n log {\n  class denial error\n }\n}");
        let mut d = Dispenser::new(&ds[0]);
        assert!(d.next());
        assert!(!d.next_block()); // opened and closed right away
        assert_eq!(d.val(), "}");
        // Arguments the caller does not consume come back from next_block,
        // as in Caddy.
        let mut d = Dispenser::new(&ds[1]);
        assert!(d.next());
        let mut got = Vec::new();
        while d.next_block() {
            got.push(d.val().to_string());
        }
        assert_eq!(got, ["class", "denial", "error"]);
        // Unclosed block (built by hand): next_block stops at the end.
        let toks = &ds[1].tokens[..4]; // log { class denial
        let mut d = Dispenser::from_tokens(toks);
        assert!(d.next());
        assert!(d.next_block());
        assert!(d.next_block());
        assert_eq!(d.val(), "denial");
        assert!(!d.next_block());
        assert!(!d.next_block());
    }
}
