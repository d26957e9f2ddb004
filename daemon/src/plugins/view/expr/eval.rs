//! Running a checked expression for one query, with expr-lang's runtime
//! semantics (`vm/runtime`): numbers compare across int and float, `==`
//! between other types is false, `and`/`or` stop early, and whatever
//! expr's VM would fail on (a regexp that does not compile, an integer
//! division by zero, `incidr` on something that is no address) is a
//! [`Fault`], which CoreDNS's view takes as "no".

use super::env::Func;
use crate::plugin::Request;
use regex::Regex;
use std::cmp::Ordering;

/// A runtime error of expr's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

#[derive(Clone, Debug)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
    /// An environment function named without a call (never equal to
    /// anything, as Go's DeepEqual has functions).
    Func,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
    In,
    Matches,
    Contains,
    StartsWith,
    EndsWith,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Pow,
}

/// A checked expression, ready to run.
#[derive(Debug)]
pub enum Expr {
    Const(Value),
    Call(Func, Vec<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Plus(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Bin(Op, Box<Expr>, Box<Expr>),
    /// `matches` with a pattern given as a literal: compiled once.
    Match(Box<Expr>, Box<Regex>),
    Array(Vec<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

pub fn eval(e: &Expr, req: &Request) -> Result<Value, Fault> {
    Ok(match e {
        Expr::Const(v) => v.clone(),
        Expr::Call(f, args) => {
            let args = args
                .iter()
                .map(|a| eval(a, req))
                .collect::<Result<Vec<_>, _>>()?;
            f.call(req, &args)?
        }
        Expr::Not(a) => Value::Bool(!truth(&eval(a, req)?)?),
        Expr::Neg(a) => match eval(a, req)? {
            Value::Int(i) => Value::Int(i.wrapping_neg()),
            Value::Float(f) => Value::Float(-f),
            _ => return Err(Fault),
        },
        Expr::Plus(a) => match eval(a, req)? {
            v @ (Value::Int(_) | Value::Float(_)) => v,
            _ => return Err(Fault),
        },
        // The left side decides; the right side's value is the result as
        // it is (expr's OpJumpIfFalse / OpJumpIfTrue).
        Expr::And(a, b) => match truth(&eval(a, req)?)? {
            false => Value::Bool(false),
            true => eval(b, req)?,
        },
        Expr::Or(a, b) => match truth(&eval(a, req)?)? {
            true => Value::Bool(true),
            false => eval(b, req)?,
        },
        Expr::Bin(op, a, b) => binary(*op, eval(a, req)?, eval(b, req)?)?,
        Expr::Match(a, re) => match eval(a, req)? {
            Value::Str(s) => Value::Bool(re.is_match(&s)),
            _ => return Err(Fault),
        },
        Expr::Array(items) => Value::Array(
            items
                .iter()
                .map(|a| eval(a, req))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Cond(c, a, b) => match truth(&eval(c, req)?)? {
            true => eval(a, req)?,
            false => eval(b, req)?,
        },
    })
}

fn truth(v: &Value) -> Result<bool, Fault> {
    match v {
        Value::Bool(b) => Ok(*b),
        _ => Err(Fault),
    }
}

fn binary(op: Op, a: Value, b: Value) -> Result<Value, Fault> {
    use Value::{Bool, Float, Int, Str};
    Ok(match (op, a, b) {
        (Op::Eq, a, b) => Bool(equal(&a, &b)),
        (Op::Ne, a, b) => Bool(!equal(&a, &b)),
        (Op::Lt | Op::Gt | Op::Le | Op::Ge, a, b) => {
            let o = order(&a, &b)?;
            Bool(match op {
                Op::Lt => o == Some(Ordering::Less),
                Op::Gt => o == Some(Ordering::Greater),
                Op::Le => matches!(o, Some(Ordering::Less | Ordering::Equal)),
                _ => matches!(o, Some(Ordering::Greater | Ordering::Equal)),
            })
        }
        (Op::In, _, Value::Nil) => Bool(false),
        (Op::In, a, Value::Array(items)) => Bool(items.iter().any(|i| equal(i, &a))),
        (Op::Matches, Str(s), Str(p)) => Bool(Regex::new(&p).map_err(|_| Fault)?.is_match(&s)),
        (Op::Contains, Str(s), Str(t)) => Bool(s.contains(t.as_str())),
        (Op::StartsWith, Str(s), Str(t)) => Bool(s.starts_with(t.as_str())),
        (Op::EndsWith, Str(s), Str(t)) => Bool(s.ends_with(t.as_str())),
        (Op::Add, Str(s), Str(t)) => Str(s + &t),
        (Op::Add, Int(x), Int(y)) => Int(x.wrapping_add(y)),
        (Op::Sub, Int(x), Int(y)) => Int(x.wrapping_sub(y)),
        (Op::Mul, Int(x), Int(y)) => Int(x.wrapping_mul(y)),
        (Op::Rem, Int(_), Int(0)) => return Err(Fault),
        (Op::Rem, Int(x), Int(y)) => Int(x.wrapping_rem(y)),
        (Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Pow, a, b) => {
            let (x, y) = (float(&a)?, float(&b)?);
            Float(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                _ => x.powf(y),
            })
        }
        _ => return Err(Fault),
    })
}

fn float(v: &Value) -> Result<f64, Fault> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        _ => Err(Fault),
    }
}

/// expr's `runtime.Less` and friends: numbers and strings only.
fn order(a: &Value, b: &Value) -> Result<Option<Ordering>, Fault> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(Some(x.cmp(y))),
        (Value::Str(x), Value::Str(y)) => Ok(Some(x.cmp(y))),
        _ => Ok(float(a)?.partial_cmp(&float(b)?)),
    }
}

/// expr's `runtime.Equal`: numbers by value across int and float, then
/// Go's `reflect.DeepEqual` (same type and value; functions never equal).
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Float(y)) | (Value::Float(y), Value::Int(x)) => *x as f64 == *y,
        _ => deep_equal(a, b),
    }
}

fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| deep_equal(a, b))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_semantics_as_expr() {
        let b = |op, a, b| binary(op, a, b);
        assert!(matches!(
            b(Op::Eq, Value::Int(1), Value::Float(1.0)),
            Ok(Value::Bool(true))
        ));
        assert!(matches!(
            b(Op::Eq, Value::Int(1), Value::Str("1".into())),
            Ok(Value::Bool(false))
        ));
        assert!(matches!(
            b(Op::Lt, Value::Int(1), Value::Float(1.5)),
            Ok(Value::Bool(true))
        ));
        assert!(b(Op::Lt, Value::Int(1), Value::Str("a".into())).is_err());
        assert!(
            matches!(b(Op::Div, Value::Int(1), Value::Int(0)), Ok(Value::Float(f)) if f.is_infinite())
        );
        assert!(b(Op::Rem, Value::Int(1), Value::Int(0)).is_err());
        assert!(matches!(
            b(Op::Rem, Value::Int(i64::MIN), Value::Int(-1)),
            Ok(Value::Int(0))
        ));
        assert!(matches!(
            b(Op::Add, Value::Int(i64::MAX), Value::Int(1)),
            Ok(Value::Int(i64::MIN))
        ));
        let arr = Value::Array(vec![Value::Str("A".into()), Value::Int(2)]);
        assert!(matches!(
            b(Op::In, Value::Float(2.0), arr.clone()),
            Ok(Value::Bool(true))
        ));
        assert!(matches!(
            b(Op::In, Value::Str("AAAA".into()), arr),
            Ok(Value::Bool(false))
        ));
        // Inside arrays, DeepEqual: 1 and 1.0 differ.
        let one = |v| Value::Array(vec![v]);
        assert!(matches!(
            b(Op::Eq, one(Value::Int(1)), one(Value::Float(1.0))),
            Ok(Value::Bool(false))
        ));
        assert!(matches!(
            b(Op::Eq, Value::Func, Value::Func),
            Ok(Value::Bool(false))
        ));
        assert!(b(Op::Matches, Value::Str("a".into()), Value::Str("[".into())).is_err());
    }
}
