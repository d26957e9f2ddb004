//! Go's template lexing: where an action ends in the text, and the tokens
//! of an action's body.

use super::error::Syntax;
use crate::gocompat::strconv;

/// The text up to the action's closing `}}` (outside string constants), the
/// length of the closing marker, and whether it trims (` -}}`).
pub(super) fn action_body(s: &str) -> Option<(&str, usize, bool)> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => {
                if i >= 2 && b[i - 1] == b'-' && b[i - 2].is_ascii_whitespace() {
                    return Some((&s[..i - 1], 3, true));
                }
                return Some((&s[..i], 2, false));
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    Field(Vec<String>),
    Ident(String),
    Str(String),
    Num(i64),
    Pipe,
    Open,
    Close,
}

impl Tok {
    pub(super) fn show(&self) -> String {
        match self {
            Tok::Field(f) => format!("<.{}>", f.join(".")),
            Tok::Ident(s) => format!("<{s}>"),
            Tok::Str(s) => format!("{s:?}"),
            Tok::Num(n) => format!("<{n}>"),
            Tok::Pipe => "\"|\"".into(),
            Tok::Open => "\"(\"".into(),
            Tok::Close => "\")\"".into(),
        }
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(super) fn lex(s: &str) -> Result<Vec<Tok>, Syntax> {
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    // Reads `.A.B...` from i (at a '.'); returns the field names.
    let fields = |i: &mut usize| -> Vec<String> {
        let mut f = Vec::new();
        while *i < cs.len() && cs[*i] == '.' {
            let start = *i + 1;
            let mut j = start;
            while j < cs.len() && is_ident(cs[j]) {
                j += 1;
            }
            if j == start {
                break;
            }
            f.push(cs[start..j].iter().collect());
            *i = j;
        }
        f
    };
    while i < cs.len() {
        let c = cs[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '.' => {
                if cs.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                    return Err(Syntax::Float);
                }
                let f = fields(&mut i);
                if f.is_empty() {
                    i += 1; // the dot alone
                }
                out.push(Tok::Field(f));
            }
            '$' => {
                i += 1;
                if i < cs.len() && is_ident(cs[i]) {
                    return Err(Syntax::Variable);
                }
                out.push(Tok::Field(fields(&mut i)));
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    let Some(&c) = cs.get(i) else {
                        return Err(Syntax::UnterminatedQuote);
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = cs.get(i).copied().ok_or(Syntax::UnterminatedQuote)?;
                            i += 1;
                            v.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '\\' => '\\',
                                '"' => '"',
                                '\'' => '\'',
                                '0' => '\0',
                                _ => return Err(Syntax::Escape(e)),
                            });
                        }
                        '\n' => return Err(Syntax::UnterminatedQuote),
                        c => v.push(c),
                    }
                }
                out.push(Tok::Str(v));
            }
            '`' => {
                let start = i + 1;
                let mut j = start;
                while j < cs.len() && cs[j] != '`' {
                    j += 1;
                }
                if j >= cs.len() {
                    return Err(Syntax::UnterminatedRawQuote);
                }
                out.push(Tok::Str(cs[start..j].iter().collect()));
                i = j + 1;
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let start = i;
                i += 1;
                while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '_') {
                    i += 1;
                }
                let text: String = cs[start..i].iter().collect();
                // Go's integer constants: decimal, 0x, 0o, 0b or leading-0
                // octal, `_` between digits.
                match strconv::parse_int(&text, 0, 64) {
                    Ok(n) => out.push(Tok::Num(n)),
                    Err(_) => return Err(Syntax::Number(text)),
                }
            }
            c if is_ident(c) => {
                let start = i;
                while i < cs.len() && is_ident(cs[i]) {
                    i += 1;
                }
                let word: String = cs[start..i].iter().collect();
                if cs.get(i) == Some(&'.') && cs.get(i + 1).is_some_and(|c| is_ident(*c)) {
                    return Err(Syntax::DotAfter(word));
                }
                out.push(Tok::Ident(word));
            }
            other => return Err(Syntax::Char(other)),
        }
    }
    Ok(out)
}
