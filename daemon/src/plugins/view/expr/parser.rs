//! expr-lang's parser (github.com/expr-lang/expr v1.17, `parser`): the
//! whole grammar is read, so that a malformed expression is refused with
//! expr's words; what ferrodns does not evaluate (member access, maps,
//! predicates, builtins, `let`, ...) is kept as an [`Kind::Unsupported`]
//! node, which the checker refuses.

use super::lexer::{self, Kind as Tok, Lexer, Token};
use super::Error;

/// Nodes deeper than this, or parentheses nested deeper, are refused
/// (expr has no such limit; it keeps the checker's and the evaluator's
/// recursion within a thread's stack).
pub const MAX_DEPTH: usize = 200;
/// expr's `conf.DefaultMaxNodes`.
const MAX_NODES: usize = 10_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    /// The character the node is reported at (expr's `Location().From`).
    pub from: usize,
    depth: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Ident(String),
    Unary(String, Box<Node>),
    Binary(String, Box<Node>, Box<Node>),
    /// A call of an identifier that is no builtin of expr's.
    Call(String, Vec<Node>),
    Array(Vec<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    /// Syntax expr has and ferrodns does not evaluate: what it is.
    Unsupported(String),
}

impl Node {
    fn new(kind: Kind, from: usize) -> Node {
        let below = match &kind {
            Kind::Unary(_, n) => n.depth,
            Kind::Binary(_, a, b) => a.depth.max(b.depth),
            Kind::Call(_, args) | Kind::Array(args) => {
                args.iter().map(|n| n.depth).max().unwrap_or(0)
            }
            Kind::Cond(a, b, c) => a.depth.max(b.depth).max(c.depth),
            _ => 0,
        };
        Node {
            kind,
            from,
            depth: below + 1,
        }
    }
}

/// expr's builtins (`builtin.Builtins`): a call of one of them is no call
/// of the environment's functions. `type` is left out: CoreDNS disables it
/// for its own `type()`.
const BUILTINS: &[&str] = &[
    "all",
    "none",
    "any",
    "one",
    "filter",
    "map",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "count",
    "sum",
    "groupBy",
    "sortBy",
    "reduce",
    "len",
    "abs",
    "ceil",
    "floor",
    "round",
    "int",
    "float",
    "string",
    "trim",
    "trimPrefix",
    "trimSuffix",
    "upper",
    "lower",
    "split",
    "splitAfter",
    "replace",
    "repeat",
    "join",
    "indexOf",
    "lastIndexOf",
    "hasPrefix",
    "hasSuffix",
    "max",
    "min",
    "mean",
    "median",
    "toJSON",
    "fromJSON",
    "toBase64",
    "fromBase64",
    "now",
    "duration",
    "date",
    "timezone",
    "first",
    "last",
    "get",
    "take",
    "keys",
    "values",
    "toPairs",
    "fromPairs",
    "reverse",
    "uniq",
    "concat",
    "flatten",
    "sort",
    "bitnot",
    "bitand",
    "bitor",
    "bitxor",
    "bitnand",
    "bitshl",
    "bitshr",
    "bitushr",
];

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// The builtins whose arguments are predicates (expr's `predicates`), and
/// theirs: an expression, a predicate, maybe an optional expression.
fn predicate_args(name: &str) -> Option<&'static [Arg]> {
    use Arg::*;
    Some(match name {
        "all" | "none" | "any" | "one" | "filter" | "map" | "find" | "findIndex" | "findLast"
        | "findLastIndex" | "groupBy" => &[Expr, Predicate],
        "count" | "sum" => &[Expr, OptionalPredicate],
        "sortBy" | "reduce" => &[Expr, Predicate, OptionalExpr],
        _ => return None,
    })
}

#[derive(Clone, Copy)]
enum Arg {
    Expr,
    Predicate,
    OptionalPredicate,
    OptionalExpr,
}

struct Op {
    precedence: u16,
    left: bool,
}

fn unary(op: &str) -> Option<Op> {
    let precedence = match op {
        "not" | "!" => 50,
        "-" | "+" => 90,
        _ => return None,
    };
    Some(Op {
        precedence,
        left: true,
    })
}

fn binary(op: &str) -> Option<Op> {
    let (precedence, left) = match op {
        "|" => (0, true),
        "or" | "||" => (10, true),
        "and" | "&&" => (15, true),
        "==" | "!=" | "<" | ">" | ">=" | "<=" | "in" | "matches" | "contains" | "startsWith"
        | "endsWith" => (20, true),
        ".." => (25, true),
        "+" | "-" => (30, true),
        "*" | "/" | "%" => (60, true),
        "**" | "^" => (100, false),
        "??" => (500, true),
        _ => return None,
    };
    Some(Op { precedence, left })
}

fn is_comparison(op: &str) -> bool {
    matches!(op, "<" | ">" | ">=" | "<=")
}

fn negatable(op: &str) -> bool {
    matches!(
        op,
        "contains" | "matches" | "startsWith" | "endsWith" | "in"
    )
}

type R<T> = Result<T, Error>;

pub struct Parser<'e> {
    lexer: Lexer,
    current: Token,
    stashed: Option<Token>,
    /// Inside a predicate's arguments, where `#` and `.` stand alone.
    predicates: usize,
    nodes: usize,
    nesting: usize,
    /// Names of the environment: they take precedence over builtins.
    env: &'e dyn Fn(&str) -> bool,
}

/// Parses `src`; `env` says which names the environment has.
pub fn parse(src: &str, env: &dyn Fn(&str) -> bool) -> R<Node> {
    let mut p = Parser {
        lexer: Lexer::new(src),
        current: Token {
            kind: Tok::Eof,
            value: String::new(),
            from: 0,
        },
        stashed: None,
        predicates: 0,
        nodes: 0,
        nesting: 0,
        env,
    };
    p.next()?;
    let node = p.sequence()?;
    if p.current.kind != Tok::Eof {
        return Err(p.unexpected());
    }
    Ok(node)
}

impl Parser<'_> {
    fn error(&self, msg: impl Into<String>) -> Error {
        Error::at(self.current.from, msg)
    }

    fn unexpected(&self) -> Error {
        self.error(format!("unexpected token {}", self.current))
    }

    /// A node made, counted against expr's limit and ferrodns's depth.
    fn make(&mut self, kind: Kind, from: usize) -> R<Node> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(self.error("compilation failed: expression exceeds maximum allowed nodes"));
        }
        let n = Node::new(kind, from);
        if n.depth > MAX_DEPTH {
            return Err(too_deep(from));
        }
        Ok(n)
    }

    fn next(&mut self) -> R<()> {
        if let Some(t) = self.stashed.take() {
            self.current = t;
            return Ok(());
        }
        match self.lexer.token()? {
            Some(t) => {
                self.current = t;
                Ok(())
            }
            None => Err(self.error("unexpected end of expression")),
        }
    }

    fn expect(&mut self, kind: Tok, value: Option<&str>) -> R<()> {
        if self.current.kind == kind && value.is_none_or(|v| self.current.value == v) {
            return self.next();
        }
        Err(self.unexpected())
    }

    fn is(&self, kind: Tok, value: &str) -> bool {
        self.current.is(kind, value)
    }

    fn sequence(&mut self) -> R<Node> {
        let first = self.expression(0)?;
        let from = first.from;
        let mut more = false;
        while self.is(Tok::Operator, ";") {
            self.next()?;
            if self.current.kind == Tok::Eof {
                break;
            }
            self.expression(0)?;
            more = true;
        }
        if more {
            return self.make(Kind::Unsupported("sequences (;)".into()), from);
        }
        Ok(first)
    }

    fn expression(&mut self, precedence: u16) -> R<Node> {
        self.nesting += 1;
        if self.nesting > MAX_DEPTH {
            return Err(too_deep(self.current.from));
        }
        let node = self.expression_inner(precedence);
        self.nesting -= 1;
        node
    }

    fn expression_inner(&mut self, precedence: u16) -> R<Node> {
        if precedence == 0 && self.is(Tok::Operator, "let") {
            return self.variable_declaration();
        }
        if precedence == 0 && self.is(Tok::Operator, "if") {
            return self.conditional_if();
        }
        let mut left = self.primary()?;
        let mut prev = String::new();
        let mut op_token = self.current.clone();
        while op_token.kind == Tok::Operator {
            let negate = op_token.value == "not";
            let mut not_token = None;
            if negate {
                let backup = self.current.clone();
                self.next()?;
                if !negatable(&self.current.value) {
                    return Err(self.unexpected());
                }
                match binary(&self.current.value) {
                    Some(op) if op.precedence >= precedence => {
                        not_token = Some(self.current.clone());
                        op_token = self.current.clone();
                    }
                    _ => {
                        self.stashed = Some(std::mem::replace(&mut self.current, backup));
                        break;
                    }
                }
            }
            let Some(op) = binary(&op_token.value).filter(|op| op.precedence >= precedence) else {
                break;
            };
            self.next()?;
            if op_token.value == "|" {
                let ident = self.current.clone();
                self.expect(Tok::Identifier, None)?;
                left = self.call(ident, vec![left], true)?;
            } else {
                if prev == "??" && op_token.value != "??" {
                    return Err(Error::at(
                        op_token.from,
                        format!(
                            "Operator ({}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses.",
                            op_token.value
                        ),
                    ));
                }
                if is_comparison(&op_token.value) {
                    left = self.comparison(left, op_token.clone(), op.precedence)?;
                } else {
                    let right = if op.left {
                        self.expression(op.precedence + 1)?
                    } else {
                        self.expression(op.precedence)?
                    };
                    let kind =
                        Kind::Binary(op_token.value.clone(), Box::new(left), Box::new(right));
                    left = self.make(kind, op_token.from)?;
                    if let Some(t) = &not_token {
                        left = self.make(Kind::Unary("not".into(), Box::new(left)), t.from)?;
                    }
                }
            }
            prev = op_token.value.clone();
            op_token = self.current.clone();
        }
        if precedence == 0 {
            left = self.conditional(left)?;
        }
        Ok(left)
    }

    /// `a < b < c` is `a < b && b < c`.
    fn comparison(&mut self, mut left: Node, mut token: Token, precedence: u16) -> R<Node> {
        let mut root: Option<Node> = None;
        loop {
            let comparator = self.expression(precedence + 1)?;
            let cmp = self.make(
                Kind::Binary(
                    token.value.clone(),
                    Box::new(left),
                    Box::new(comparator.clone()),
                ),
                token.from,
            )?;
            root = Some(match root {
                None => cmp,
                Some(r) => self.make(
                    Kind::Binary("&&".into(), Box::new(r), Box::new(cmp)),
                    token.from,
                )?,
            });
            left = comparator;
            token = self.current.clone();
            if !(token.kind == Tok::Operator && is_comparison(&token.value)) {
                break;
            }
            self.next()?;
        }
        Ok(root.expect("one comparison at least"))
    }

    fn variable_declaration(&mut self) -> R<Node> {
        self.expect(Tok::Operator, Some("let"))?;
        let name = self.current.clone();
        self.expect(Tok::Identifier, None)?;
        self.expect(Tok::Operator, Some("="))?;
        self.expression(0)?;
        self.expect(Tok::Operator, Some(";"))?;
        self.sequence()?;
        self.make(Kind::Unsupported("variables (let)".into()), name.from)
    }

    fn conditional_if(&mut self) -> R<Node> {
        self.next()?;
        self.expression(0)?;
        self.expect(Tok::Bracket, Some("{"))?;
        self.sequence()?;
        self.expect(Tok::Bracket, Some("}"))?;
        self.expect(Tok::Operator, Some("else"))?;
        if self.is(Tok::Operator, "if") {
            self.conditional_if()?;
        } else {
            self.expect(Tok::Bracket, Some("{"))?;
            self.sequence()?;
            self.expect(Tok::Bracket, Some("}"))?;
        }
        // expr gives this node no position.
        self.make(Kind::Unsupported("if/else".into()), 0)
    }

    fn conditional(&mut self, mut node: Node) -> R<Node> {
        while self.is(Tok::Operator, "?") {
            self.next()?;
            let (a, b) = if !self.is(Tok::Operator, ":") {
                let a = self.expression(0)?;
                self.expect(Tok::Operator, Some(":"))?;
                (a, self.expression(0)?)
            } else {
                self.next()?;
                (node.clone(), self.expression(0)?)
            };
            let kind = Kind::Cond(Box::new(node), Box::new(a), Box::new(b));
            node = self.make(kind, self.current.from)?;
        }
        Ok(node)
    }

    fn primary(&mut self) -> R<Node> {
        let token = self.current.clone();
        if token.kind == Tok::Operator {
            if let Some(op) = unary(&token.value) {
                self.next()?;
                let operand = self.expression(op.precedence)?;
                let node = self.make(
                    Kind::Unary(token.value.clone(), Box::new(operand)),
                    token.from,
                )?;
                return self.postfix(node);
            }
        }
        if token.is(Tok::Bracket, "(") {
            self.next()?;
            let inner = self.sequence()?;
            self.expect(Tok::Bracket, Some(")"))?;
            return self.postfix(inner);
        }
        if self.predicates > 0 && (token.is(Tok::Operator, "#") || token.is(Tok::Operator, ".")) {
            if token.value == "#" {
                self.next()?;
                if self.current.kind == Tok::Identifier {
                    self.next()?;
                }
            }
            let node = self.make(Kind::Unsupported("predicates (#)".into()), token.from)?;
            return self.postfix(node);
        }
        if token.is(Tok::Operator, "::") {
            self.next()?;
            let name = self.current.clone();
            self.expect(Tok::Identifier, None)?;
            let node = self.call(name, Vec::new(), false)?;
            return self.postfix(node);
        }
        self.secondary()
    }

    fn secondary(&mut self) -> R<Node> {
        let token = self.current.clone();
        let node = match token.kind {
            Tok::Identifier => {
                self.next()?;
                match token.value.as_str() {
                    "true" => return self.make(Kind::Bool(true), token.from),
                    "false" => return self.make(Kind::Bool(false), token.from),
                    "nil" => return self.make(Kind::Nil, token.from),
                    _ if self.is(Tok::Bracket, "(") => self.call(token, Vec::new(), true)?,
                    _ => self.make(Kind::Ident(token.value.clone()), token.from)?,
                }
            }
            Tok::Number => {
                self.next()?;
                return self.number(&token);
            }
            Tok::String => {
                self.next()?;
                self.make(Kind::Str(token.value.clone()), token.from)?
            }
            Tok::Bytes => {
                self.next()?;
                self.make(Kind::Unsupported("bytes literals".into()), token.from)?
            }
            _ if token.is(Tok::Bracket, "[") => self.array(&token)?,
            _ if token.is(Tok::Bracket, "{") => self.map(&token)?,
            _ => return Err(self.unexpected()),
        };
        self.postfix(node)
    }

    /// A number token read as expr reads it; an error is reported at the
    /// token after it, as expr's is.
    fn number(&mut self, token: &Token) -> R<Node> {
        use crate::gocompat::strconv::{parse_float, parse_int};
        let value = token.value.replace('_', "");
        let lower = value.to_ascii_lowercase();
        let (kind, parsed) = if lower.starts_with("0x") {
            ("hex", parse_int(&value, 0, 64).map(Kind::Int))
        } else if lower.contains(['.', 'e']) {
            ("float", parse_float(&value).map(Kind::Float))
        } else if lower.starts_with("0b") {
            ("binary", parse_int(&value, 0, 64).map(Kind::Int))
        } else if lower.starts_with("0o") {
            ("octal", parse_int(&value, 0, 64).map(Kind::Int))
        } else {
            ("integer", parse_int(&value, 10, 64).map(Kind::Int))
        };
        match parsed {
            Ok(k) => self.make(k, token.from),
            Err(e) => Err(self.error(format!("invalid {kind} literal: {e}"))),
        }
    }

    fn call(&mut self, token: Token, mut args: Vec<Node>, check_overrides: bool) -> R<Node> {
        let overridden = check_overrides && (self.env)(&token.value);
        if let (Some(spec), false) = (predicate_args(&token.value), overridden) {
            self.expect(Tok::Bracket, Some("("))?;
            let spec = &spec[args.len().min(spec.len())..];
            for (i, arg) in spec.iter().enumerate() {
                let optional = matches!(arg, Arg::OptionalPredicate | Arg::OptionalExpr);
                if self.is(Tok::Bracket, ")") {
                    if optional {
                        break;
                    }
                    return Err(self.error(format!("expected at least {} arguments", spec.len())));
                }
                if i > 0 {
                    self.expect(Tok::Operator, Some(","))?;
                }
                match arg {
                    Arg::Expr | Arg::OptionalExpr => args.push(self.expression(0)?),
                    Arg::Predicate | Arg::OptionalPredicate => args.push(self.predicate()?),
                }
            }
            if self.is(Tok::Operator, ",") {
                self.next()?;
            }
            self.expect(Tok::Bracket, Some(")"))?;
            return self.make(
                Kind::Unsupported(format!("the builtin {}", token.value)),
                token.from,
            );
        }
        let builtin = is_builtin(&token.value) && !overridden;
        let args = self.arguments(args)?;
        if builtin {
            return self.make(
                Kind::Unsupported(format!("the builtin {}", token.value)),
                token.from,
            );
        }
        self.make(Kind::Call(token.value, args), token.from)
    }

    fn arguments(&mut self, mut args: Vec<Node>) -> R<Vec<Node>> {
        let offset = args.len();
        self.expect(Tok::Bracket, Some("("))?;
        while !self.is(Tok::Bracket, ")") {
            if args.len() > offset {
                self.expect(Tok::Operator, Some(","))?;
            }
            if self.is(Tok::Bracket, ")") {
                break;
            }
            args.push(self.expression(0)?);
        }
        self.expect(Tok::Bracket, Some(")"))?;
        Ok(args)
    }

    fn predicate(&mut self) -> R<Node> {
        let from = self.current.from;
        let brackets = self.is(Tok::Bracket, "{");
        if brackets {
            self.next()?;
        }
        self.predicates += 1;
        let body = if brackets {
            self.sequence()
        } else {
            self.expression(0).and_then(|n| {
                if self.is(Tok::Operator, ";") {
                    Err(self.error("wrap predicate with brackets { and }"))
                } else {
                    Ok(n)
                }
            })
        };
        self.predicates -= 1;
        body?;
        if brackets {
            self.expect(Tok::Bracket, Some("}"))?;
        }
        self.make(Kind::Unsupported("predicates".into()), from)
    }

    fn array(&mut self, token: &Token) -> R<Node> {
        let mut nodes = Vec::new();
        self.expect(Tok::Bracket, Some("["))?;
        while !self.is(Tok::Bracket, "]") {
            if !nodes.is_empty() {
                self.expect(Tok::Operator, Some(","))?;
                if self.is(Tok::Bracket, "]") {
                    break;
                }
            }
            nodes.push(self.expression(0)?);
        }
        self.expect(Tok::Bracket, Some("]"))?;
        self.make(Kind::Array(nodes), token.from)
    }

    fn map(&mut self, token: &Token) -> R<Node> {
        self.expect(Tok::Bracket, Some("{"))?;
        let mut pairs = 0;
        while !self.is(Tok::Bracket, "}") {
            if pairs > 0 {
                self.expect(Tok::Operator, Some(","))?;
                if self.is(Tok::Bracket, "}") {
                    break;
                }
                if self.is(Tok::Operator, ",") {
                    return Err(self.unexpected());
                }
            }
            if matches!(
                self.current.kind,
                Tok::Number | Tok::String | Tok::Identifier
            ) {
                self.next()?;
            } else if self.is(Tok::Bracket, "(") {
                self.expression(0)?;
            } else {
                return Err(self.error(format!(
                    "a map key must be a quoted string, a number, a identifier, or an expression enclosed in parentheses (unexpected token {})",
                    self.current
                )));
            }
            self.expect(Tok::Operator, Some(":"))?;
            self.expression(0)?;
            pairs += 1;
        }
        self.expect(Tok::Bracket, Some("}"))?;
        self.make(Kind::Unsupported("maps".into()), token.from)
    }

    /// Member access, indexing and slicing after a node.
    fn postfix(&mut self, mut node: Node) -> R<Node> {
        loop {
            let mut token = self.current.clone();
            if !matches!(token.kind, Tok::Operator | Tok::Bracket) {
                return Ok(node);
            }
            if token.value == "." || token.value == "?." {
                let optional = token.value == "?.";
                self.next()?;
                let property = self.current.clone();
                if optional && property.is(Tok::Bracket, "[") {
                    token = property;
                } else {
                    self.next()?;
                    let name_like = property.kind == Tok::Identifier
                        || property.kind == Tok::Operator
                            && lexer::valid_identifier(&property.value);
                    if !name_like {
                        return Err(self.error("expected name"));
                    }
                    if self.is(Tok::Bracket, "(") {
                        self.arguments(Vec::new())?;
                    }
                    node =
                        self.make(Kind::Unsupported("member access (.)".into()), property.from)?;
                    continue;
                }
            }
            if token.value != "[" {
                return Ok(node);
            }
            self.next()?;
            if self.is(Tok::Operator, ":") {
                self.next()?;
                if !self.is(Tok::Bracket, "]") {
                    self.expression(0)?;
                }
                self.expect(Tok::Bracket, Some("]"))?;
                node = self.make(Kind::Unsupported("slices ([:])".into()), token.from)?;
                continue;
            }
            self.expression(0)?;
            let what = if self.is(Tok::Operator, ":") {
                self.next()?;
                if !self.is(Tok::Bracket, "]") {
                    self.expression(0)?;
                }
                "slices ([:])"
            } else {
                "indexing ([])"
            };
            self.expect(Tok::Bracket, Some("]"))?;
            node = self.make(Kind::Unsupported(what.into()), token.from)?;
        }
    }
}

fn too_deep(from: usize) -> Error {
    Error::at(
        from,
        format!("ferrodns refuses expressions nested more than {MAX_DEPTH} deep"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(n: &Node) -> String {
        match &n.kind {
            Kind::Nil => "nil".into(),
            Kind::Bool(b) => b.to_string(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => format!("{f:?}"),
            Kind::Str(s) => format!("'{s}'"),
            Kind::Ident(s) => s.clone(),
            Kind::Unary(op, a) => format!("({op} {})", shape(a)),
            Kind::Binary(op, a, b) => format!("({} {op} {})", shape(a), shape(b)),
            Kind::Call(f, args) => {
                format!(
                    "{f}({})",
                    args.iter().map(shape).collect::<Vec<_>>().join(", ")
                )
            }
            Kind::Array(v) => format!("[{}]", v.iter().map(shape).collect::<Vec<_>>().join(", ")),
            Kind::Cond(c, a, b) => format!("({} ? {} : {})", shape(c), shape(a), shape(b)),
            Kind::Unsupported(w) => format!("<{w}>"),
        }
    }

    fn p(src: &str) -> String {
        let env = |n: &str| matches!(n, "name" | "type" | "incidr" | "client_ip");
        match parse(src, &env) {
            Ok(n) => shape(&n),
            Err(e) => e.text(src),
        }
    }

    #[test]
    fn precedence_as_expr() {
        assert_eq!(p("a || b && c"), "(a || (b && c))");
        assert_eq!(p("not a == b"), "((not a) == b)");
        assert_eq!(p("!a && b"), "((! a) && b)");
        assert_eq!(p("1 + 2 * 3 ** 2 ** 2"), "(1 + (2 * (3 ** (2 ** 2))))");
        assert_eq!(p("1 < 2 < 3"), "((1 < 2) && (2 < 3))");
        assert_eq!(p("a not in [1, 'x',]"), "(not (a in [1, 'x']))");
        assert_eq!(
            p("type() in ['A', 'AAAA'] or name() matches '^a'"),
            "((type() in ['A', 'AAAA']) or (name() matches '^a'))"
        );
        assert_eq!(p("a ? b : c ? d : e"), "(a ? b : (c ? d : e))");
        assert_eq!(p("-1.5e1 + 0x1f"), "((- 15.0) + 31)");
        assert_eq!(
            p("client_ip() | incidr('10.0.0.0/8')"),
            "incidr(client_ip(), '10.0.0.0/8')"
        );
    }

    #[test]
    fn what_ferrodns_does_not_evaluate_is_parsed_and_kept() {
        assert_eq!(p("len(name()) > 3"), "(<the builtin len> > 3)");
        assert_eq!(p("all([1], {# > 0})"), "<the builtin all>");
        assert_eq!(p("name().x"), "<member access (.)>");
        assert_eq!(p("[1][0]"), "<indexing ([])>");
        assert_eq!(p("{a: 1}"), "<maps>");
        assert_eq!(p("let x = 1; x"), "<variables (let)>");
        assert_eq!(p("type(1)"), "type(1)");
    }

    #[test]
    fn syntax_errors_as_expr_words_them() {
        assert_eq!(
            p("name() =="),
            "unexpected token EOF (1:9)\n | name() ==\n | ........^"
        );
        assert_eq!(
            p("name() = 'a'"),
            "unexpected token Operator(\"=\") (1:8)\n | name() = 'a'\n | .......^"
        );
        assert_eq!(
            p("(name() == 'a'"),
            "unexpected token EOF (1:14)\n | (name() == 'a'\n | .............^"
        );
        assert_eq!(
            p("1.5e"),
            "invalid float literal: strconv.ParseFloat: parsing \"1.5e\": invalid syntax (1:4)\n | 1.5e\n | ...^"
        );
        assert_eq!(
            p("0x"),
            "invalid hex literal: strconv.ParseInt: parsing \"0x\": invalid syntax (1:2)\n | 0x\n | .^"
        );
        assert_eq!(p(""), "unexpected token EOF");
        assert_eq!(
            p("a not b"),
            "unexpected token Identifier(\"b\") (1:7)\n | a not b\n | ......^"
        );
        let deep = format!("{}1{}", "(".repeat(300), ")".repeat(300));
        assert!(p(&deep).starts_with("ferrodns refuses expressions nested more than 200 deep"));
        let long = vec!["a"; 300].join(" || ");
        assert!(p(&long).starts_with("ferrodns refuses expressions nested"));
    }
}
