//! expr-lang's checker (`checker`), for the nodes ferrodns evaluates: the
//! type ("nature") of every node, the errors expr gives at compile time in
//! its words, and the tree [`eval`](super::eval) runs. Then the one error
//! expr's optimizer gives: an integer constant `%` zero.

use super::env::{Func, Ret};
use super::eval::{Expr, Op, Value};
use super::parser::{is_builtin, Kind, Node};
use super::Error;

/// What expr knows of a value's type at compile time.
#[derive(Clone, Debug, PartialEq)]
enum Nature {
    /// Nothing known (expr's zero `Nature`).
    Unknown,
    /// `interface {}`: anything.
    Any,
    Nil,
    Bool,
    Int,
    Float,
    Str,
    /// `[]interface {}`, with what its elements are known to be.
    Array(Box<Nature>),
    Func(Func),
}

/// Go's `reflect.Kind` of a nature, for the checks that compare kinds.
#[derive(PartialEq)]
enum GoKind {
    Invalid,
    Interface,
    Bool,
    Int,
    Float,
    String,
    Slice,
    Func,
}

impl Nature {
    fn of(r: Ret) -> Nature {
        match r {
            Ret::Bool => Nature::Bool,
            Ret::Int => Nature::Int,
            Ret::Str => Nature::Str,
        }
    }

    fn kind(&self) -> GoKind {
        match self {
            Nature::Unknown | Nature::Nil => GoKind::Invalid,
            Nature::Any => GoKind::Interface,
            Nature::Bool => GoKind::Bool,
            Nature::Int => GoKind::Int,
            Nature::Float => GoKind::Float,
            Nature::Str => GoKind::String,
            Nature::Array(_) => GoKind::Slice,
            Nature::Func(_) => GoKind::Func,
        }
    }

    fn unknown(&self) -> bool {
        matches!(self, Nature::Unknown | Nature::Any)
    }

    fn number(&self) -> bool {
        matches!(self, Nature::Int | Nature::Float)
    }

    /// expr's `Nature.String()`: the Go type.
    fn name(&self) -> &'static str {
        match self {
            Nature::Unknown | Nature::Nil => "unknown",
            Nature::Any => "interface {}",
            Nature::Bool => "bool",
            Nature::Int => "int",
            Nature::Float => "float64",
            Nature::Str => "string",
            Nature::Array(_) => "[]interface {}",
            Nature::Func(f) => f.go_type(),
        }
    }

    fn elem(&self) -> Nature {
        match self {
            Nature::Array(e) => (**e).clone(),
            _ => Nature::Unknown,
        }
    }

    fn assignable_to(&self, to: &Nature) -> bool {
        if *self == Nature::Nil
            && matches!(to.kind(), GoKind::Interface | GoKind::Func | GoKind::Slice)
        {
            return true;
        }
        match (self, to) {
            (Nature::Unknown | Nature::Nil, _) | (_, Nature::Unknown | Nature::Nil) => false,
            (_, Nature::Any) => true,
            (Nature::Func(a), Nature::Func(b)) => a.go_type() == b.go_type(),
            _ => self.kind() == to.kind(),
        }
    }

    fn comparable_to(&self, r: &Nature) -> bool {
        self.unknown()
            || r.unknown()
            || *self == Nature::Nil
            || *r == Nature::Nil
            || self.number() && r.number()
            || self.kind() == GoKind::Slice && r.kind() == GoKind::Slice
            || self.assignable_to(r)
    }

    /// expr's `MaybeCompatible`: one side unknown, the other unknown or
    /// passing `check`.
    fn maybe(&self, r: &Nature, check: fn(&Nature) -> bool) -> bool {
        let (lu, ru) = (self.unknown(), r.unknown());
        lu && (ru || check(r)) || ru && check(self)
    }

    fn promote(&self, r: &Nature) -> Nature {
        if *self == Nature::Float || *r == Nature::Float {
            Nature::Float
        } else {
            Nature::Int
        }
    }
}

type R<T> = Result<T, Error>;

#[derive(Default)]
pub struct Checker {
    /// Where the last integer constant `% 0` is, which expr's optimizer
    /// refuses once the checks pass.
    divide_by_zero: Option<usize>,
}

/// Checks `node` and compiles it for [`eval`](super::eval::eval).
pub fn check(node: &Node) -> R<Expr> {
    let mut c = Checker::default();
    let (_, e, _) = c.visit(node)?;
    if let Some(at) = c.divide_by_zero {
        return Err(Error::at(at, "integer divide by zero"));
    }
    Ok(e)
}

fn mismatched(n: &Node, op: &str, l: &Nature, r: &Nature) -> Error {
    Error::at(
        n.from,
        format!(
            "invalid operation: {op} (mismatched types {} and {})",
            l.name(),
            r.name()
        ),
    )
}

fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Checker {
    /// A node's nature, its compiled form, and its value when it folds to
    /// an integer constant (as expr's optimizer folds `+ - * %`).
    fn visit(&mut self, n: &Node) -> R<(Nature, Expr, Option<i64>)> {
        Ok(match &n.kind {
            Kind::Nil => (Nature::Nil, Expr::Const(Value::Nil), None),
            Kind::Bool(b) => (Nature::Bool, Expr::Const(Value::Bool(*b)), None),
            Kind::Int(i) => (Nature::Int, Expr::Const(Value::Int(*i)), Some(*i)),
            Kind::Float(f) => (Nature::Float, Expr::Const(Value::Float(*f)), None),
            Kind::Str(s) => (Nature::Str, Expr::Const(Value::Str(s.clone())), None),
            Kind::Ident(name) => match Func::named(name) {
                Some(f) => (Nature::Func(f), Expr::Const(Value::Func), None),
                None if name == "$env" => return Err(unsupported(n, "$env")),
                None if is_builtin(name) => {
                    return Err(unsupported(n, &format!("the builtin {name}")))
                }
                None => return Err(Error::at(n.from, format!("unknown name {name}"))),
            },
            Kind::Unsupported(what) => return Err(unsupported(n, what)),
            Kind::Unary(op, a) => self.unary(n, op, a)?,
            Kind::Binary(op, a, b) => self.binary(n, op, a, b)?,
            Kind::Call(name, args) => self.call(n, name, args)?,
            Kind::Array(items) => self.array(items)?,
            Kind::Cond(c, a, b) => self.cond(c, a, b)?,
        })
    }

    fn unary(&mut self, n: &Node, op: &str, a: &Node) -> R<(Nature, Expr, Option<i64>)> {
        let (nt, e, k) = self.visit(a)?;
        match op {
            "!" | "not" if nt == Nature::Bool || nt.unknown() => {
                Ok((Nature::Bool, Expr::Not(bx(e)), None))
            }
            "-" | "+" if nt.number() || nt.unknown() => {
                let nature = if nt.unknown() { Nature::Unknown } else { nt };
                Ok(match op {
                    "-" => (nature, Expr::Neg(bx(e)), k.map(i64::wrapping_neg)),
                    _ => (nature, Expr::Plus(bx(e)), k),
                })
            }
            "!" | "not" | "-" | "+" => Err(Error::at(
                n.from,
                format!("invalid operation: {op} (mismatched type {})", nt.name()),
            )),
            _ => Err(Error::at(n.from, format!("unknown operator ({op})"))),
        }
    }

    fn binary(&mut self, n: &Node, op: &str, a: &Node, b: &Node) -> R<(Nature, Expr, Option<i64>)> {
        let (l, le, lk) = self.visit(a)?;
        let (r, re, rk) = self.visit(b)?;
        let bin = |o: Op, le: Expr, re: Expr| Expr::Bin(o, bx(le), bx(re));
        let ok = match op {
            "==" | "!=" => l.comparable_to(&r),
            "or" | "||" | "and" | "&&" => {
                l == Nature::Bool && r == Nature::Bool || l.maybe(&r, |n| *n == Nature::Bool)
            }
            "<" | ">" | ">=" | "<=" => {
                l.number() && r.number()
                    || l == Nature::Str && r == Nature::Str
                    || l.maybe(&r, |n| n.number() || *n == Nature::Str)
            }
            "-" | "*" | "/" | "**" | "^" => l.number() && r.number() || l.maybe(&r, Nature::number),
            "%" => l == Nature::Int && r == Nature::Int || l.maybe(&r, |n| *n == Nature::Int),
            "+" => {
                l.number() && r.number()
                    || l == Nature::Str && r == Nature::Str
                    || l.maybe(&r, |n| n.number() || *n == Nature::Str)
            }
            "in" => {
                if let Nature::Array(_) = r {
                    let elem = r.elem();
                    if !l.comparable_to(&elem) {
                        return Err(Error::at(
                            n.from,
                            format!("cannot use {} as type {} in array", l.name(), elem.name()),
                        ));
                    }
                    true
                } else {
                    l.unknown() && r == Nature::Str || r.unknown()
                }
            }
            "matches" => {
                if let Kind::Str(p) = &b.kind {
                    let re = regex::Regex::new(p)
                        .map_err(|e| Error::at(n.from, crate::gocompat::regexp::error(&e, p)))?;
                    if l == Nature::Str && r == Nature::Str || l.maybe(&r, |n| *n == Nature::Str) {
                        return Ok((Nature::Bool, Expr::Match(bx(le), Box::new(re)), None));
                    }
                    false
                } else {
                    l == Nature::Str && r == Nature::Str || l.maybe(&r, |n| *n == Nature::Str)
                }
            }
            "contains" | "startsWith" | "endsWith" => {
                l == Nature::Str && r == Nature::Str || l.maybe(&r, |n| *n == Nature::Str)
            }
            ".." => return Err(unsupported(n, "ranges (..)")),
            "??" => return Err(unsupported(n, "the ?? operator")),
            _ => return Err(Error::at(n.from, format!("unknown operator ({op})"))),
        };
        if !ok {
            return Err(mismatched(n, op, &l, &r));
        }
        let num = |l: &Nature, r: &Nature| {
            if l.unknown() || r.unknown() {
                Nature::Unknown
            } else {
                l.promote(r)
            }
        };
        Ok(match op {
            "==" => (Nature::Bool, bin(Op::Eq, le, re), None),
            "!=" => (Nature::Bool, bin(Op::Ne, le, re), None),
            "or" | "||" => (Nature::Bool, Expr::Or(bx(le), bx(re)), None),
            "and" | "&&" => (Nature::Bool, Expr::And(bx(le), bx(re)), None),
            "<" => (Nature::Bool, bin(Op::Lt, le, re), None),
            ">" => (Nature::Bool, bin(Op::Gt, le, re), None),
            "<=" => (Nature::Bool, bin(Op::Le, le, re), None),
            ">=" => (Nature::Bool, bin(Op::Ge, le, re), None),
            "in" => (Nature::Bool, bin(Op::In, le, re), None),
            "matches" => (Nature::Bool, bin(Op::Matches, le, re), None),
            "contains" => (Nature::Bool, bin(Op::Contains, le, re), None),
            "startsWith" => (Nature::Bool, bin(Op::StartsWith, le, re), None),
            "endsWith" => (Nature::Bool, bin(Op::EndsWith, le, re), None),
            "+" if l == Nature::Str && r == Nature::Str => {
                (Nature::Str, bin(Op::Add, le, re), None)
            }
            "+" => (
                num(&l, &r),
                bin(Op::Add, le, re),
                fold(lk, rk, i64::wrapping_add),
            ),
            "-" => (
                num(&l, &r),
                bin(Op::Sub, le, re),
                fold(lk, rk, i64::wrapping_sub),
            ),
            "*" => (
                num(&l, &r),
                bin(Op::Mul, le, re),
                fold(lk, rk, i64::wrapping_mul),
            ),
            "/" => (Nature::Float, bin(Op::Div, le, re), None),
            "%" => {
                let k = match (lk, rk) {
                    (Some(_), Some(0)) => {
                        self.divide_by_zero = Some(n.from);
                        None
                    }
                    (Some(x), Some(y)) => Some(x.wrapping_rem(y)),
                    _ => None,
                };
                (Nature::Int, bin(Op::Rem, le, re), k)
            }
            _ => (Nature::Float, bin(Op::Pow, le, re), None),
        })
    }

    /// expr's `checkArguments`, for the environment's functions.
    fn call(&mut self, n: &Node, name: &str, args: &[Node]) -> R<(Nature, Expr, Option<i64>)> {
        let Some(f) = Func::named(name) else {
            if is_builtin(name) {
                return Err(unsupported(n, &format!("the builtin {name}")));
            }
            return Err(Error::at(n.from, format!("unknown name {name}")));
        };
        let want = f.arity();
        if args.len() != want {
            // expr looks at every argument before it reports their number.
            for a in args {
                self.visit(a)?;
            }
            let how = if args.len() > want {
                "too many"
            } else {
                "not enough"
            };
            return Err(Error::at(n.from, format!("{how} arguments to call {name}")));
        }
        let mut compiled = Vec::with_capacity(args.len());
        for a in args {
            let (nt, e, _) = self.visit(a)?;
            compiled.push(e);
            if nt == Nature::Nil {
                return Err(Error::at(
                    a.from,
                    format!("cannot use nil as argument (type string) to call {name}"),
                ));
            }
            if !nt.assignable_to(&Nature::Str) && !nt.unknown() {
                // expr's message ends in a space.
                return Err(Error::at(
                    a.from,
                    format!(
                        "cannot use {} as argument (type string) to call {name} ",
                        nt.name()
                    ),
                ));
            }
        }
        Ok((Nature::of(f.ret()), Expr::Call(f, compiled), None))
    }

    fn array(&mut self, items: &[Node]) -> R<(Nature, Expr, Option<i64>)> {
        let mut compiled = Vec::with_capacity(items.len());
        let mut prev = Nature::Unknown;
        let mut same = true;
        for (i, item) in items.iter().enumerate() {
            let (nt, e, _) = self.visit(item)?;
            if i > 0 && nt.kind() != prev.kind() {
                same = false;
            }
            prev = nt;
            compiled.push(e);
        }
        let elem = if same { prev } else { Nature::Any };
        Ok((Nature::Array(Box::new(elem)), Expr::Array(compiled), None))
    }

    fn cond(&mut self, c: &Node, a: &Node, b: &Node) -> R<(Nature, Expr, Option<i64>)> {
        let (cn, ce, _) = self.visit(c)?;
        if cn != Nature::Bool && !cn.unknown() {
            return Err(Error::at(
                c.from,
                format!("non-bool expression (type {}) used as condition", cn.name()),
            ));
        }
        let (t1, e1, _) = self.visit(a)?;
        let (t2, e2, _) = self.visit(b)?;
        let nature = match (t1 == Nature::Nil, t2 == Nature::Nil) {
            (true, false) => t2,
            (false, true) | (true, true) => t1,
            _ if t1.assignable_to(&t2) => t1,
            _ => Nature::Unknown,
        };
        Ok((nature, Expr::Cond(bx(ce), bx(e1), bx(e2)), None))
    }
}

fn fold(a: Option<i64>, b: Option<i64>, f: fn(i64, i64) -> i64) -> Option<i64> {
    Some(f(a?, b?))
}

fn unsupported(n: &Node, what: &str) -> Error {
    Error::at(n.from, format!("{what} is not supported by ferrodns"))
}
