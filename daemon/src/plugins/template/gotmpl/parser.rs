//! Go's template parsing: text and actions into nodes, an action's tokens
//! into a pipeline of commands.

use super::error::{ParseError, Syntax};
use super::functions::FUNCS;
use super::lexer::{action_body, lex, Tok};
use super::Template;

#[derive(Debug)]
pub(super) enum Node {
    Text(String),
    Action {
        line: usize,
        src: String,
        pipe: Pipe,
    },
}

#[derive(Debug, Clone)]
pub(super) struct Pipe(pub(super) Vec<Cmd>);

#[derive(Debug, Clone)]
pub(super) struct Cmd(pub(super) Vec<Operand>);

#[derive(Debug, Clone)]
pub(super) enum Operand {
    /// `.A.B`; empty: the dot itself. `$` and `$.A` are the same here, as
    /// the dot never moves.
    Field(Vec<String>),
    Str(String),
    Int(i64),
    Bool(bool),
    Nil,
    Func(String),
    Sub(Pipe),
}

const UNSUPPORTED: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    "and", "or", "call", "html", "js", "urlquery", "slice", "lt", "le", "gt", "ge",
];

impl Template {
    /// Compiles `text`; errors read like Go's (`template: NAME:LINE: ...`).
    pub fn parse(name: &str, text: &str) -> Result<Self, ParseError> {
        let err = |line: usize, kind: Syntax| ParseError {
            name: name.to_string(),
            line,
            kind,
        };
        let mut nodes = Vec::new();
        let mut rest = text;
        let mut line = 1;
        let mut trim_next = false;
        while !rest.is_empty() {
            let Some(open) = rest.find("{{") else {
                let t = if trim_next { rest.trim_start() } else { rest };
                nodes.push(Node::Text(t.to_string()));
                break;
            };
            let mut txt = &rest[..open];
            if trim_next {
                txt = txt.trim_start();
            }
            let after = &rest[open + 2..];
            let trim_left = after.starts_with("- ")
                || after.starts_with("-\t")
                || after.starts_with("-\n")
                || after.starts_with("-\r");
            if trim_left {
                txt = txt.trim_end();
            }
            if !txt.is_empty() {
                nodes.push(Node::Text(txt.to_string()));
            }
            line += rest[..open].matches('\n').count();
            let body_start = if trim_left { &after[2..] } else { after };
            let (body, close_len, trim_right) =
                action_body(body_start).ok_or_else(|| err(line, Syntax::UnclosedAction))?;
            let action_line = line;
            line += body.matches('\n').count();
            let consumed =
                (body_start.as_ptr() as usize - rest.as_ptr() as usize) + body.len() + close_len;
            rest = &rest[consumed..];
            trim_next = trim_right;
            let trimmed = body.trim();
            if trimmed.starts_with("/*") {
                if !trimmed.ends_with("*/") {
                    return Err(err(action_line, Syntax::UnclosedComment));
                }
                continue;
            }
            let toks = lex(body).map_err(|m| err(action_line, m))?;
            if toks.is_empty() {
                return Err(err(action_line, Syntax::MissingValue));
            }
            let mut p = TokParser { toks: &toks, i: 0 };
            let pipe = p.pipe().map_err(|m| err(action_line, m))?;
            if p.i < toks.len() {
                return Err(err(action_line, Syntax::Token(toks[p.i].show())));
            }
            nodes.push(Node::Action {
                line: action_line,
                src: trimmed.to_string(),
                pipe,
            });
        }
        Ok(Template {
            name: name.to_string(),
            nodes,
        })
    }
}

struct TokParser<'a> {
    toks: &'a [Tok],
    i: usize,
}

impl TokParser<'_> {
    fn pipe(&mut self) -> Result<Pipe, Syntax> {
        let mut cmds = vec![self.cmd()?];
        while self.toks.get(self.i) == Some(&Tok::Pipe) {
            self.i += 1;
            cmds.push(self.cmd()?);
        }
        Ok(Pipe(cmds))
    }

    fn cmd(&mut self) -> Result<Cmd, Syntax> {
        let mut ops = Vec::new();
        while let Some(t) = self.toks.get(self.i) {
            let op = match t {
                Tok::Pipe | Tok::Close => break,
                Tok::Field(f) => Operand::Field(f.clone()),
                Tok::Str(s) => Operand::Str(s.clone()),
                Tok::Num(n) => Operand::Int(*n),
                Tok::Open => {
                    self.i += 1;
                    let p = self.pipe()?;
                    if self.toks.get(self.i) != Some(&Tok::Close) {
                        return Err(Syntax::UnclosedParen);
                    }
                    Operand::Sub(p)
                }
                Tok::Ident(w) => match w.as_str() {
                    "true" => Operand::Bool(true),
                    "false" => Operand::Bool(false),
                    "nil" => Operand::Nil,
                    w if FUNCS.contains(&w) => Operand::Func(w.to_string()),
                    w if UNSUPPORTED.contains(&w) => {
                        return Err(Syntax::Unsupported(w.to_string()))
                    }
                    w => return Err(Syntax::Function(w.to_string())),
                },
            };
            self.i += 1;
            ops.push(op);
        }
        if ops.is_empty() {
            return Err(Syntax::MissingValue);
        }
        Ok(Cmd(ops))
    }
}
