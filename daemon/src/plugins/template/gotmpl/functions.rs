//! The functions templates may call: text/template's builtins (`and`,
//! `or`, `not`, `call`, `index`, `slice`, `len`, `eq`, `ne`, `lt`, `le`,
//! `gt`, `ge`, `print`, `printf`, `println`, `html`, `js`, `urlquery`)
//! and CoreDNS's `parseInt` (`strconv.ParseUint`), with Go's signatures
//! (which decide how arguments are typed) and error texts.

use super::error::CallError;
use super::fmt::{printable, sprint, sprintf, sprintln};
use super::value::{Kind, Slice, UintTy, Value};
use crate::gocompat::quote::is_print;
use crate::gocompat::strconv::parse_uint;
use std::fmt::Write as _;

const BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf",
    "println", "urlquery", "eq", "ge", "gt", "le", "lt", "ne", "parseInt",
];

/// Whether a template may call `name`.
pub(super) fn is_function(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// The function's name with the program's lifetime.
pub(super) fn builtin_name(name: &str) -> &'static str {
    BUILTINS
        .iter()
        .find(|b| **b == name)
        .copied()
        .unwrap_or("call")
}

/// The Go type of a parameter, as far as it decides how an argument is
/// evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Param {
    /// No type (a chain's receiver): the value as it is.
    Untyped,
    /// `reflect.Value`: the value as it is, constants as Go's ideal ones.
    Value,
    /// `any`: the same, and nil is an untyped nil.
    Any,
    Str,
    Int,
}

/// A function's parameters: the fixed ones and the variadic one's type.
pub(super) struct Sig {
    pub params: &'static [Param],
    pub variadic: Option<Param>,
}

pub(super) fn signature(f: &str) -> Sig {
    use Param::*;
    let (params, variadic): (&'static [Param], _) = match f {
        "and" | "or" | "call" | "index" | "slice" | "eq" => (&[Value], Some(Value)),
        "html" | "js" | "urlquery" | "print" | "println" => (&[], Some(Any)),
        "printf" => (&[Str], Some(Any)),
        "len" | "not" => (&[Value], None),
        "parseInt" => (&[Str, Int, Int], None),
        // ne lt le gt ge
        _ => (&[Value, Value], None),
    };
    Sig { params, variadic }
}

/// `call`'s failure: templates have no function values to call.
pub(super) fn call_error(name: &str, f: Option<&Value<'_>>) -> CallError {
    match f {
        None | Some(Value::Invalid) => CallError::CallNil,
        Some(v) => CallError::NonFunction {
            name: name.to_string(),
            ty: v.type_name(),
        },
    }
}

pub(super) fn call_builtin<'a>(f: &str, argv: Vec<Value<'a>>) -> Result<Value<'a>, CallError> {
    let mut args = argv.into_iter().map(Value::concrete);
    let mut next = || args.next().unwrap_or(Value::Invalid);
    Ok(match f {
        "index" => {
            let item = next();
            index(item, args.collect())?
        }
        "slice" => {
            let item = next();
            slice(item, args.collect())?
        }
        "len" => length(next())?,
        "not" => Value::Bool(!next().truth()),
        "eq" => {
            let a = next();
            Value::Bool(eq(&a, &args.collect::<Vec<_>>())?)
        }
        "ne" => {
            let (a, b) = (next(), next());
            Value::Bool(!eq(&a, &[b])?)
        }
        "lt" => {
            let (a, b) = (next(), next());
            Value::Bool(lt(&a, &b)?)
        }
        "le" => {
            let (a, b) = (next(), next());
            Value::Bool(lt(&a, &b)? || eq(&a, &[b])?)
        }
        "gt" => {
            let (a, b) = (next(), next());
            Value::Bool(!(lt(&a, &b)? || eq(&a, &[b])?))
        }
        "ge" => {
            let (a, b) = (next(), next());
            Value::Bool(!lt(&a, &b)?)
        }
        "print" => Value::str(&sprint(&args.collect::<Vec<_>>())),
        "println" => Value::str(&sprintln(&args.collect::<Vec<_>>())),
        "printf" => {
            let format = match next() {
                Value::Str(s) => s,
                _ => "".into(),
            };
            Value::str(&sprintf(&format, &args.collect::<Vec<_>>()))
        }
        "html" => Value::str(&html_escape(&eval_args(args.collect()))),
        "js" => Value::str(&js_escape(&eval_args(args.collect()))),
        "urlquery" => Value::str(&query_escape(&eval_args(args.collect()))),
        "parseInt" => {
            let s = match next() {
                Value::Str(s) => s,
                _ => "".into(),
            };
            let (base, bits) = match (next(), next()) {
                (Value::Int(b), Value::Int(n)) => (b, n),
                _ => (0, 0),
            };
            let u = parse_uint(&s, base, bits).map_err(CallError::ParseInt)?;
            Value::Uint(u, UintTy::Uint64)
        }
        _ => Value::Invalid,
    })
}

/// Go's `indexArg`: an integer index up to `cap`.
fn index_arg(index: &Value<'_>, cap: usize) -> Result<usize, CallError> {
    let x = match index {
        Value::Int(i) => *i,
        Value::Uint(u, _) => *u as i64,
        Value::Invalid => return Err(CallError::IndexWithNil),
        v => return Err(CallError::IndexType(v.type_name())),
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(CallError::OutOfRange(x));
    }
    Ok(x as usize)
}

fn index<'a>(item: Value<'a>, indexes: Vec<Value<'a>>) -> Result<Value<'a>, CallError> {
    if matches!(item, Value::Invalid) {
        return Err(CallError::IndexNil);
    }
    let mut item = item;
    for i in indexes {
        let (it, is_nil) = item.indirect();
        if is_nil {
            return Err(CallError::IndexNilPointer);
        }
        item = match it {
            Value::Slice(s) => {
                let x = index_arg(&i, s.len())?;
                if x >= s.len() {
                    return Err(CallError::ReflectIndex("slice"));
                }
                s.get(x)
            }
            Value::Str(s) => {
                let x = index_arg(&i, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Value::Uint(u64::from(*b), UintTy::Uint8),
                    None => return Err(CallError::ReflectIndex("string")),
                }
            }
            Value::Map(m) => match i {
                Value::Str(k) => Value::str(m.get(&*k).map_or("", String::as_str)),
                Value::Invalid => return Err(CallError::KeyNil("string")),
                v => {
                    return Err(CallError::KeyType {
                        got: v.type_name(),
                        want: "string",
                    })
                }
            },
            v => return Err(CallError::CantIndex(v.type_name())),
        };
    }
    Ok(item)
}

fn slice<'a>(item: Value<'a>, indexes: Vec<Value<'a>>) -> Result<Value<'a>, CallError> {
    if matches!(item, Value::Invalid) {
        return Err(CallError::SliceNil);
    }
    let (item, is_nil) = item.indirect();
    if is_nil {
        return Err(CallError::SliceNilPointer);
    }
    if indexes.len() > 3 {
        return Err(CallError::SliceIndexes(indexes.len()));
    }
    let (cap, len) = match &item {
        Value::Str(s) => {
            if indexes.len() == 3 {
                return Err(CallError::Slice3String);
            }
            (s.len(), s.len())
        }
        Value::Slice(s) => (s.cap(), s.len()),
        v => return Err(CallError::CantSlice(v.type_name())),
    };
    let mut idx = [0, len, 0];
    for (i, x) in indexes.iter().enumerate() {
        idx[i] = index_arg(x, cap)?;
    }
    if idx[0] > idx[1] {
        return Err(CallError::SliceOrder(idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(CallError::SliceOrder(idx[1], idx[2]));
    }
    Ok(match item {
        Value::Str(s) => {
            let b = &s.as_bytes()[idx[0]..idx[1]];
            Value::str(&String::from_utf8_lossy(b))
        }
        Value::Slice(s) => Value::Slice(Slice {
            lo: s.lo + idx[0],
            hi: s.lo + idx[1],
            max: if indexes.len() == 3 {
                s.lo + idx[2]
            } else {
                s.max
            },
            ..s
        }),
        _ => Value::Invalid,
    })
}

fn length<'a>(item: Value<'a>) -> Result<Value<'a>, CallError> {
    let (item, is_nil) = item.indirect();
    if is_nil {
        return Err(CallError::LenNilPointer);
    }
    if matches!(item, Value::Invalid) {
        return Err(CallError::ZeroType);
    }
    match item.len() {
        Some(n) => Ok(Value::int(n as i64)),
        None => Err(CallError::LenType(item.type_name())),
    }
}

/// Go's comparison kinds: only basic kinds compare by value.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Basic {
    Invalid,
    Bool,
    Complex,
    Int,
    Float,
    String,
    Uint,
}

fn basic_kind(v: &Value<'_>) -> Basic {
    match v.kind() {
        Kind::Bool => Basic::Bool,
        Kind::Int => Basic::Int,
        Kind::Uint => Basic::Uint,
        Kind::Float => Basic::Float,
        Kind::Complex => Basic::Complex,
        Kind::String => Basic::String,
        _ => Basic::Invalid,
    }
}

fn is_nil(v: &Value<'_>) -> bool {
    match v {
        Value::Invalid | Value::NilPtr(_) => true,
        Value::Slice(s) => s.nil,
        _ => false,
    }
}

fn comparable(v: &Value<'_>) -> bool {
    match v {
        Value::Slice(_) | Value::Map(_) => false,
        Value::Struct(o) => o.struct_eq(o).is_some(),
        _ => true,
    }
}

/// Go's `==` of two values of the same kind that are not basic.
fn same_value(a: &Value<'_>, b: &Value<'_>) -> bool {
    match (a, b) {
        (Value::Ptr(x), Value::Ptr(y)) => x.same(y),
        (Value::Struct(x), Value::Struct(y)) => x.struct_eq(y).unwrap_or(false),
        _ => false,
    }
}

fn as_int(v: &Value<'_>) -> i64 {
    match v {
        Value::Int(i) => *i,
        _ => 0,
    }
}

fn as_uint(v: &Value<'_>) -> u64 {
    match v {
        Value::Uint(u, _) => *u,
        _ => 0,
    }
}

/// A value in an error message, as `fmt.Errorf` writes it.
fn show(v: &Value<'_>, verb: &str) -> String {
    sprintf(verb, std::slice::from_ref(v))
}

fn eq(a: &Value<'_>, others: &[Value<'_>]) -> Result<bool, CallError> {
    if others.is_empty() {
        return Err(CallError::NoComparison);
    }
    let k1 = basic_kind(a);
    for b in others {
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (k1, k2) {
                (Basic::Int, Basic::Uint) => as_int(a) >= 0 && as_int(a) as u64 == as_uint(b),
                (Basic::Uint, Basic::Int) => as_int(b) >= 0 && as_uint(a) == as_int(b) as u64,
                _ => {
                    if !matches!(a, Value::Invalid) && !matches!(b, Value::Invalid) {
                        return Err(CallError::Incompatible(a.type_name(), b.type_name()));
                    }
                    false
                }
            }
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Complex(r1, i1), Value::Complex(r2, i2)) => r1 == r2 && i1 == i2,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Int(x), Value::Int(y)) => x == y,
                (Value::Str(x), Value::Str(y)) => x == y,
                (Value::Uint(x, _), Value::Uint(y, _)) => x == y,
                _ => {
                    let (ka, kb) = (a.kind(), b.kind());
                    if ka != kb && ka != Kind::Invalid && kb != Kind::Invalid {
                        return Err(CallError::NonComparableTypes(
                            show(a, "%s"),
                            a.type_name(),
                            b.type_name(),
                            show(b, "%v"),
                        ));
                    }
                    if is_nil(a) || is_nil(b) {
                        is_nil(a) == is_nil(b)
                    } else {
                        if !comparable(b) {
                            return Err(CallError::NonComparable(show(b, "%s"), b.type_name()));
                        }
                        same_value(a, b)
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

fn lt(a: &Value<'_>, b: &Value<'_>) -> Result<bool, CallError> {
    let k1 = basic_kind(a);
    if k1 == Basic::Invalid {
        return Err(CallError::BadComparisonType);
    }
    let k2 = basic_kind(b);
    if k2 == Basic::Invalid {
        return Err(CallError::BadComparisonType);
    }
    if k1 != k2 {
        return match (k1, k2) {
            (Basic::Int, Basic::Uint) => Ok(as_int(a) < 0 || (as_int(a) as u64) < as_uint(b)),
            (Basic::Uint, Basic::Int) => Ok(as_int(b) >= 0 && as_uint(a) < as_int(b) as u64),
            _ => Err(CallError::Incompatible(a.type_name(), b.type_name())),
        };
    }
    Ok(match (a, b) {
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::Int(x), Value::Int(y)) => x < y,
        (Value::Str(x), Value::Str(y)) => x < y,
        (Value::Uint(x, _), Value::Uint(y, _)) => x < y,
        _ => return Err(CallError::BadComparisonType),
    })
}

/// Go's `evalArgs` for html, js and urlquery: `fmt.Sprint` of the
/// arguments, pointers followed.
fn eval_args(args: Vec<Value<'_>>) -> String {
    if let [Value::Str(s)] = args.as_slice() {
        return s.to_string();
    }
    let args: Vec<Value<'_>> = args.into_iter().map(|a| printable(a, false)).collect();
    sprint(&args)
}

/// text/template's `HTMLEscapeString`.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{fffd}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// text/template's `JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u00{:02X}", c as u32);
            }
            c if c.is_ascii() || is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

/// `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}
