//! The expressions of `view`'s `expr`: the part of expr-lang
//! (github.com/expr-lang/expr v1.17, which CoreDNS 1.14.7 compiles them
//! with) that CoreDNS's README documents and its examples use. Literals
//! (strings in `'`, `"` or backquotes, numbers, `true`, `false`, `nil`,
//! arrays), the environment's functions (`name()`, `client_ip()`,
//! `incidr(...)`, ...: see [`env`]), `!`/`not`, unary `-`/`+`, `==`, `!=`,
//! `<`, `>`, `<=`, `>=`, `in`, `matches`, `contains`, `startsWith`,
//! `endsWith` (and their `not` forms), `and`/`&&`, `or`/`||`, arithmetic,
//! `? :`, `|` into a function, parentheses. The whole grammar is read, so
//! syntax errors read as expr's; what ferrodns does not evaluate (builtins
//! such as `len`, member access, maps, predicates, `let`, ...) is refused
//! when the Corefile loads.

mod check;
mod env;
mod eval;
mod lexer;
mod parser;

pub use eval::{Fault, Value};

use crate::plugin::Request;

/// An error of expr's: a message, and the character it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    from: usize,
    message: String,
}

impl Error {
    fn at(from: usize, message: impl Into<String>) -> Error {
        Error {
            from,
            message: message.into(),
        }
    }

    /// expr's `file.Error` bound to its source: `MESSAGE (LINE:COLUMN)`
    /// and the line with a caret under the column; the message alone when
    /// the line is empty.
    fn text(&self, src: &str) -> String {
        let (mut line, mut column, mut line_start) = (1, 0, 0);
        for (count, (i, c)) in src.char_indices().enumerate() {
            if count == self.from {
                break;
            }
            if c == '\n' {
                line_start = i + 1;
                line += 1;
                column = 0;
            } else {
                column += 1;
            }
        }
        let rest = &src[line_start..];
        let text = &rest[..rest.find('\n').unwrap_or(rest.len())];
        if text.is_empty() {
            return self.message.clone();
        }
        format!(
            "{} ({line}:{})\n | {}\n | {}^",
            self.message,
            column + 1,
            text.replace('\t', " "),
            ".".repeat(column)
        )
    }
}

/// An expression refused at setup, in expr's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CompileError(String);

/// A compiled expression.
#[derive(Debug)]
pub struct Program {
    expr: eval::Expr,
}

impl Program {
    /// Compiles `src` against CoreDNS's environment, as its view does
    /// (`expr.Compile` with `expression.DefaultEnv` and the `type` builtin
    /// turned off).
    pub fn compile(src: &str) -> Result<Program, CompileError> {
        let env = |name: &str| env::Func::named(name).is_some();
        parser::parse(src, &env)
            .and_then(|node| check::check(&node))
            .map(|expr| Program { expr })
            .map_err(|e| CompileError(e.text(src)))
    }

    /// The expression's value for `req`.
    pub fn run(&self, req: &Request) -> Result<Value, Fault> {
        eval::eval(&self.expr, req)
    }
}

#[cfg(test)]
mod tests;
