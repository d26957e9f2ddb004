//! expr-lang's lexer (github.com/expr-lang/expr v1.17, `parser/lexer`):
//! the tokens of an expression, handed out one at a time as the parser
//! asks, so that an error is met where expr meets it. Positions count
//! characters (Go's runes), as expr's do.

use super::Error;
use std::collections::VecDeque;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Identifier,
    Number,
    String,
    Bytes,
    Operator,
    Bracket,
    Eof,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Identifier => "Identifier",
            Kind::Number => "Number",
            Kind::String => "String",
            Kind::Bytes => "Bytes",
            Kind::Operator => "Operator",
            Kind::Bracket => "Bracket",
            Kind::Eof => "EOF",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    pub kind: Kind,
    pub value: String,
    /// The character the token starts at.
    pub from: usize,
}

impl Token {
    pub fn is(&self, kind: Kind, value: &str) -> bool {
        self.kind == kind && self.value == value
    }
}

/// expr's `Token.String()`: `Operator("==")`, or the kind alone when the
/// value is empty (`EOF`).
impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            f.write_str(self.kind.name())
        } else {
            let q = crate::gocompat::quote::quote(&self.value);
            write!(f, "{}({q})", self.kind.name())
        }
    }
}

/// Go's `unicode.IsLetter` and `unicode.IsDigit`, as expr's identifiers use them.
fn alphabetic(c: char) -> bool {
    c == '_' || c == '$' || c.is_alphabetic()
}

pub fn alphanumeric(c: char) -> bool {
    alphabetic(c) || c.is_numeric()
}

pub fn valid_identifier(s: &str) -> bool {
    let mut cs = s.chars();
    cs.next().is_some_and(alphabetic) && cs.all(alphanumeric)
}

/// What `next` returns at the end of the source (Go's `eof` rune).
const EOF: Option<char> = None;

pub struct Lexer {
    src: Vec<char>,
    start: usize,
    end: usize,
    /// The last `next` ran off the end.
    eof: bool,
    tokens: VecDeque<Token>,
    done: bool,
}

impl Lexer {
    pub fn new(src: &str) -> Lexer {
        Lexer {
            src: src.chars().collect(),
            start: 0,
            end: 0,
            eof: false,
            tokens: VecDeque::new(),
            done: false,
        }
    }

    /// The next token; None once EOF was handed out (expr's `io.EOF`).
    pub fn token(&mut self) -> Result<Option<Token>, Error> {
        while !self.done && self.tokens.is_empty() {
            self.root()?;
        }
        Ok(self.tokens.pop_front())
    }

    fn next(&mut self) -> Option<char> {
        match self.src.get(self.end) {
            Some(&c) => {
                self.end += 1;
                Some(c)
            }
            None => {
                self.eof = true;
                EOF
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.end).copied()
    }

    fn backup(&mut self) {
        if self.eof {
            self.eof = false;
        } else if self.end > 0 {
            self.end -= 1;
        }
    }

    fn word(&self) -> String {
        self.src[self.start..self.end].iter().collect()
    }

    fn emit(&mut self, kind: Kind) {
        let value = self.word();
        self.emit_value(kind, value);
    }

    fn emit_value(&mut self, kind: Kind, value: String) {
        self.tokens.push_back(Token {
            kind,
            value,
            from: self.start,
        });
        self.start = self.end;
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.next();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// An error where the lexer stands (expr's `lexer.error`).
    fn error(&self, msg: impl Into<String>) -> Error {
        let end = self.end + usize::from(self.eof);
        Error::at(end.saturating_sub(1), msg)
    }

    /// expr's `root` state, once: one token (or none, for a space or a
    /// comment).
    fn root(&mut self) -> Result<(), Error> {
        let Some(r) = self.next() else {
            self.tokens.push_back(Token {
                kind: Kind::Eof,
                value: String::new(),
                from: self.end.saturating_sub(1),
            });
            self.start = self.end;
            self.done = true;
            return Ok(());
        };
        match r {
            _ if r.is_whitespace() => self.start = self.end,
            '\'' | '"' => {
                self.scan_string(r)?;
                let s = unescape(&self.word(), false).map_err(|e| self.error(e))?;
                self.emit_value(Kind::String, s);
            }
            '`' => self.scan_raw_string(r)?,
            'b' | 'B' if matches!(self.peek(), Some('\'' | '"')) => {
                let quote = self.next().unwrap_or('"');
                self.scan_string(quote)?;
                let word = self.word();
                let s = unescape(&word[1..], true).map_err(|e| self.error(e))?;
                self.emit_value(Kind::Bytes, s);
            }
            '0'..='9' => {
                self.backup();
                self.number()?;
            }
            '?' => {
                self.accept(".?");
                self.emit(Kind::Operator);
            }
            '/' => self.slash()?,
            '#' => self.pointer(),
            '|' => {
                self.accept("|");
                self.emit(Kind::Operator);
            }
            ':' => {
                self.accept(":");
                self.emit(Kind::Operator);
            }
            '(' | '[' | '{' | ')' | ']' | '}' => self.emit(Kind::Bracket),
            ',' | ';' | '%' | '+' | '-' | '^' => self.emit(Kind::Operator),
            '&' | '!' | '=' | '*' | '<' | '>' => {
                self.accept("&=*");
                self.emit(Kind::Operator);
            }
            '.' => {
                self.backup();
                self.dot()?;
            }
            _ if alphanumeric(r) => {
                self.backup();
                self.identifier();
            }
            _ => {
                return Err(self.error(format!(
                    "unrecognized character: {}",
                    crate::gocompat::quote::unicode_rune(r)
                )))
            }
        }
        Ok(())
    }

    fn number(&mut self) -> Result<(), Error> {
        if !self.scan_number() {
            let q = crate::gocompat::quote::quote(&self.word());
            return Err(self.error(format!("bad number syntax: {q}")));
        }
        self.emit(Kind::Number);
        Ok(())
    }

    fn scan_number(&mut self) -> bool {
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        let end = self.end;
        if self.accept(".") {
            // `1..2`: the range operator, not a fraction.
            if self.peek() == Some('.') {
                self.end = end;
                return true;
            }
            self.accept_run(digits);
        }
        if self.accept("eE") {
            self.accept("+-");
            self.accept_run(digits);
        }
        if self.peek().is_some_and(alphanumeric) {
            self.next();
            return false;
        }
        true
    }

    fn dot(&mut self) -> Result<(), Error> {
        self.next();
        if self.accept("0123456789") {
            self.backup();
            return self.number();
        }
        self.accept(".");
        self.emit(Kind::Operator);
        Ok(())
    }

    fn identifier(&mut self) {
        while self.next().is_some_and(alphanumeric) {}
        self.backup();
        match self.word().as_str() {
            "not" => self.not(),
            "in" | "or" | "and" | "matches" | "contains" | "startsWith" | "endsWith" | "let"
            | "if" | "else" => self.emit(Kind::Operator),
            _ => self.emit(Kind::Identifier),
        }
    }

    /// `not`, and the operator it negates when one follows (`not in`).
    fn not(&mut self) {
        self.emit(Kind::Operator);
        self.accept_run(" ");
        self.start = self.end;
        let end = self.end;
        while self.next().is_some_and(alphanumeric) {}
        self.backup();
        match self.word().as_str() {
            "in" | "matches" | "contains" | "startsWith" | "endsWith" => self.emit(Kind::Operator),
            _ => self.end = end,
        }
    }

    fn slash(&mut self) -> Result<(), Error> {
        if self.accept("/") {
            while !matches!(self.next(), EOF | Some('\n')) {}
            self.start = self.end;
        } else if self.accept("*") {
            loop {
                match self.next() {
                    EOF => return Err(self.error("unclosed comment")),
                    Some('*') if self.accept("/") => break,
                    _ => {}
                }
            }
            self.start = self.end;
        } else {
            self.emit(Kind::Operator);
        }
        Ok(())
    }

    fn pointer(&mut self) {
        self.accept("#");
        self.emit(Kind::Operator);
        while self.next().is_some_and(alphanumeric) {}
        self.backup();
        if self.end > self.start {
            self.emit(Kind::Identifier);
        }
    }

    fn scan_digits(
        &mut self,
        mut ch: Option<char>,
        base: u32,
        mut n: usize,
    ) -> Result<Option<char>, Error> {
        while n > 0 && digit_val(ch) < base {
            ch = self.next();
            n -= 1;
        }
        if n > 0 {
            return Err(self.error("invalid char escape"));
        }
        Ok(ch)
    }

    /// After a backslash: checks the escape, returns the character after it.
    fn scan_escape(&mut self, quote: char) -> Result<Option<char>, Error> {
        let ch = self.next();
        match ch {
            Some(c) if "abfnrtv\\".contains(c) || c == quote => Ok(self.next()),
            Some('0'..='7') => self.scan_digits(ch, 8, 3),
            Some('x') => {
                let c = self.next();
                self.scan_digits(c, 16, 2)
            }
            Some('u') if self.peek() == Some('{') => {
                self.next();
                let mut digits = 0;
                while self.peek() != Some('}') {
                    if digit_val(self.peek()) >= 16 || digits >= 6 {
                        return Err(self.error("invalid char escape"));
                    }
                    self.next();
                    digits += 1;
                }
                if digits == 0 {
                    return Err(self.error("invalid char escape"));
                }
                self.next();
                Ok(self.next())
            }
            Some('u') => {
                let c = self.next();
                self.scan_digits(c, 16, 4)
            }
            Some('U') => {
                let c = self.next();
                self.scan_digits(c, 16, 8)
            }
            _ => Err(self.error("invalid char escape")),
        }
    }

    fn scan_string(&mut self, quote: char) -> Result<(), Error> {
        let mut ch = self.next();
        while ch != Some(quote) {
            match ch {
                EOF | Some('\n') => return Err(self.error("literal not terminated")),
                Some('\\') => ch = self.scan_escape(quote)?,
                Some(_) => ch = self.next(),
            }
        }
        Ok(())
    }

    /// A backquoted string: no escapes, a doubled backquote stands for one.
    fn scan_raw_string(&mut self, quote: char) -> Result<(), Error> {
        loop {
            let mut ch = self.next();
            while ch == Some(quote) && self.peek() == Some(quote) {
                self.next();
                ch = self.next();
            }
            match ch {
                Some(c) if c == quote => break,
                EOF => return Err(self.error("literal not terminated")),
                _ => {}
            }
        }
        let inner = &self.src[self.start + 1..self.end - 1];
        let mut s = String::with_capacity(inner.len());
        let mut skipped = false;
        for &c in inner {
            if c == quote {
                if !skipped {
                    skipped = true;
                    continue;
                }
                skipped = false;
            }
            s.push(c);
        }
        self.emit_value(Kind::String, s);
        Ok(())
    }
}

/// Go's `digitVal`: 16 for anything that is no hex digit.
fn digit_val(c: Option<char>) -> u32 {
    match c {
        Some(c) => c.to_digit(16).unwrap_or(16),
        None => 16,
    }
}

/// expr's `unescape` (and, for `bytes`, `unescapeBytes`): a quoted
/// literal's text with its escapes read.
fn unescape(quoted: &str, bytes: bool) -> Result<String, &'static str> {
    const BAD: &str = "unable to unescape string";
    let value = quoted.replace("\r\n", "\n").replace('\r', "\n");
    let b = value.as_bytes();
    let n = b.len();
    if n < 2 || b[0] != b[n - 1] || (b[0] != b'"' && b[0] != b'\'') {
        return Err(BAD);
    }
    let mut rest = &value[1..n - 1];
    let mut out = String::with_capacity(rest.len());
    while let Some(c) = rest.chars().next() {
        if c != '\\' {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        let mut it = rest[1..].chars();
        let Some(e) = it.next() else {
            return Err("unable to unescape string, found '\\' as last character");
        };
        rest = it.as_str();
        let simple = match e {
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'f' => Some('\x0c'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '`' | '?' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            continue;
        }
        let (digits, base) = match e {
            'x' | 'X' => (2, 16),
            'u' | 'U' if bytes => return Err(BAD),
            'u' if rest.starts_with('{') => {
                let close = rest.find('}').ok_or(BAD)?;
                let hex = &rest[1..close];
                if hex.is_empty() || hex.len() > 6 || !hex.bytes().all(|d| d.is_ascii_hexdigit()) {
                    return Err(BAD);
                }
                let v = u32::from_str_radix(hex, 16).map_err(|_| BAD)?;
                push_rune(&mut out, v)?;
                rest = &rest[close + 1..];
                continue;
            }
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='3' => {
                let oct = rest
                    .get(..2)
                    .ok_or("unable to unescape octal sequence in string")?;
                if !oct.bytes().all(|d| (b'0'..=b'7').contains(&d)) {
                    return Err("unable to unescape octal sequence in string");
                }
                let v =
                    (e as u32 - '0' as u32) * 64 + u32::from_str_radix(oct, 8).map_err(|_| BAD)?;
                push_rune(&mut out, v)?;
                rest = &rest[2..];
                continue;
            }
            _ => return Err(BAD),
        };
        let hex = rest.get(..digits).ok_or(BAD)?;
        if !hex.bytes().all(|d| d.is_ascii_hexdigit()) {
            return Err(BAD);
        }
        let v = u32::from_str_radix(hex, base).map_err(|_| BAD)?;
        push_rune(&mut out, v)?;
        rest = &rest[digits..];
    }
    Ok(out)
}

/// A rune as Go's `utf8.EncodeRune` writes it: surrogates as U+FFFD.
fn push_rune(out: &mut String, v: u32) -> Result<(), &'static str> {
    if v > 0x10FFFF {
        return Err("unable to unescape string");
    }
    out.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(src: &str) -> Result<Vec<String>, String> {
        let mut l = Lexer::new(src);
        let mut out = Vec::new();
        while let Some(t) = l.token().map_err(|e| e.text(src))? {
            out.push(t.to_string());
        }
        Ok(out)
    }

    #[test]
    fn tokens_as_expr_writes_them() {
        assert_eq!(
            tokens("type() in ['A', \"AAAA\"] && !do()").unwrap(),
            [
                "Identifier(\"type\")",
                "Bracket(\"(\")",
                "Bracket(\")\")",
                "Operator(\"in\")",
                "Bracket(\"[\")",
                "String(\"A\")",
                "Operator(\",\")",
                "String(\"AAAA\")",
                "Bracket(\"]\")",
                "Operator(\"&&\")",
                "Operator(\"!\")",
                "Identifier(\"do\")",
                "Bracket(\"(\")",
                "Bracket(\")\")",
                "EOF"
            ]
        );
        assert_eq!(
            tokens("a not   in b not x != 1_000 .5 1..2 ?? ?. :: ||").unwrap(),
            [
                "Identifier(\"a\")",
                "Operator(\"not\")",
                "Operator(\"in\")",
                "Identifier(\"b\")",
                "Operator(\"not\")",
                "Identifier(\"x\")",
                "Operator(\"!=\")",
                "Number(\"1_000\")",
                "Number(\".5\")",
                "Number(\"1\")",
                "Operator(\"..\")",
                "Number(\"2\")",
                "Operator(\"??\")",
                "Operator(\"?.\")",
                "Operator(\"::\")",
                "Operator(\"||\")",
                "EOF"
            ]
        );
        // Comments are skipped, `` doubles a backquote, '' is an empty String.
        assert_eq!(
            tokens("// x\n`a``b` /* y */ ''").unwrap(),
            ["String(\"a`b\")", "String", "EOF"]
        );
    }

    #[test]
    fn escapes_are_read() {
        let mut l = Lexer::new(r"'^abc\\..*\x41\u00e9\101\n'");
        let t = l.token().unwrap().unwrap();
        assert_eq!(t.value, "^abc\\..*Aé\u{41}\n");
        let mut l = Lexer::new(r#""\u{1F600}\'""#);
        assert!(l.token().is_err(), "\\' is no escape in a \"string\"");
        let mut l = Lexer::new(r#""\u{1F600}""#);
        assert_eq!(l.token().unwrap().unwrap().value, "\u{1F600}");
    }

    #[test]
    fn errors_where_expr_finds_them() {
        assert_eq!(
            tokens("'a").unwrap_err(),
            "literal not terminated (1:3)\n | 'a\n | ..^"
        );
        assert_eq!(
            tokens("@").unwrap_err(),
            "unrecognized character: U+0040 '@' (1:1)\n | @\n | ^"
        );
        assert_eq!(
            tokens("name() matches '^a\\.b'").unwrap_err(),
            "invalid char escape (1:20)\n | name() matches '^a\\.b'\n | ...................^"
        );
        assert_eq!(
            tokens("1a").unwrap_err(),
            "bad number syntax: \"1a\" (1:2)\n | 1a\n | .^"
        );
        assert_eq!(
            tokens("/* x").unwrap_err(),
            "unclosed comment (1:5)\n | /* x\n | ....^"
        );
    }
}
