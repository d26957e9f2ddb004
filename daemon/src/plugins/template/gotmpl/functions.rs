//! The functions templates may call: text/template's builtins that CoreDNS's
//! examples use and CoreDNS's `parseInt`.

use super::error::{Eval, Index};
use super::evaluator::Value;
use crate::gocompat::quote::quote;
use crate::gocompat::strconv::parse_uint;
use std::fmt::Write as _;

pub(super) const FUNCS: &[&str] = &[
    "index", "len", "print", "printf", "println", "not", "eq", "ne", "parseInt",
];

pub(super) fn call(f: &str, args: Vec<Value>) -> Result<Value, Eval> {
    let want = |n: usize| -> Result<(), Eval> {
        if args.len() == n {
            Ok(())
        } else {
            Err(Eval::ArgCount {
                func: f.to_string(),
                want: n,
                got: args.len(),
            })
        }
    };
    match f {
        "index" => {
            let Some((first, keys)) = args.split_first() else {
                return Err(Eval::ArgCountAtLeast {
                    func: "index".into(),
                    want: 1,
                    got: 0,
                });
            };
            let mut v = first.clone();
            for k in keys {
                v = index(&v, k).map_err(Eval::Index)?;
            }
            Ok(v)
        }
        "len" => {
            want(1)?;
            let n = match &args[0] {
                Value::Str(s) => s.len(),
                Value::Strings(v) => v.len(),
                Value::Map(m) => m.len(),
                Value::Questions(q) => q.len(),
                v => return Err(Eval::Len(v.type_name())),
            };
            Ok(Value::Int(n as i64))
        }
        "print" => {
            let mut out = String::new();
            for (i, a) in args.iter().enumerate() {
                let is_str = |v: &Value| matches!(v, Value::Str(_));
                if i > 0 && !is_str(a) && !is_str(&args[i - 1]) {
                    out.push(' ');
                }
                a.print(&mut out)?;
            }
            Ok(Value::Str(out))
        }
        "println" => {
            let mut parts = Vec::new();
            for a in &args {
                let mut s = String::new();
                a.print(&mut s)?;
                parts.push(s);
            }
            Ok(Value::Str(parts.join(" ") + "\n"))
        }
        "printf" => {
            let Some((Value::Str(format), rest)) = args.split_first() else {
                return Err(Eval::Format);
            };
            Ok(Value::Str(sprintf(format, rest)?))
        }
        "not" => {
            want(1)?;
            Ok(Value::Bool(!args[0].truth()))
        }
        "eq" | "ne" => {
            if args.len() < 2 {
                return Err(Eval::ArgCountAtLeast {
                    func: f.to_string(),
                    want: 2,
                    got: args.len(),
                });
            }
            let eq = args[1..].iter().any(|b| same(&args[0], b));
            Ok(Value::Bool(if f == "eq" { eq } else { !eq }))
        }
        "parseInt" => {
            want(3)?;
            let Value::Str(s) = &args[0] else {
                return Err(Eval::Type {
                    want: "string",
                    got: args[0].type_name(),
                });
            };
            let base = int_arg(&args[1])?;
            let bits = int_arg(&args[2])?;
            parse_uint(s, base, bits)
                .map(Value::Uint)
                .map_err(Eval::ParseInt)
        }
        _ => Err(Eval::Function(f.to_string())),
    }
}

fn int_arg(v: &Value) -> Result<i64, Eval> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Uint(u) => i64::try_from(*u).map_err(|_| Eval::Overflow),
        v => Err(Eval::Type {
            want: "int",
            got: v.type_name(),
        }),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Int(x), Value::Uint(y)) | (Value::Uint(y), Value::Int(x)) => {
            u64::try_from(*x).is_ok_and(|x| x == *y)
        }
        _ => a == b,
    }
}

fn index(v: &Value, k: &Value) -> Result<Value, Index> {
    match v {
        Value::Strings(items) => {
            let i = int_arg(k).map_err(|_| Index::KeyType(k.type_name()))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .map(|s| Value::Str(s.clone()))
                .ok_or(Index::OutOfRange(i))
        }
        Value::Questions(items) => {
            let i = int_arg(k).map_err(|_| Index::KeyType(k.type_name()))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .map(|q| Value::Question(q.clone()))
                .ok_or(Index::OutOfRange(i))
        }
        Value::Map(m) => match k {
            // A missing key gives the zero value here, not `<no value>`.
            Value::Str(s) => Ok(Value::Str(m.get(s).cloned().unwrap_or_default())),
            k => Err(Index::MapKey(k.type_name())),
        },
        Value::Str(s) => {
            let i = int_arg(k).map_err(|_| Index::KeyType(k.type_name()))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| s.as_bytes().get(i))
                .map(|b| Value::Uint(u64::from(*b)))
                .ok_or(Index::OutOfRange(i))
        }
        v => Err(Index::Item(v.type_name())),
    }
}

/// `fmt.Sprintf` for the verbs templates use: %s %v %d %x %X %q %%, with
/// an optional `-`/`0` flag and a width.
fn sprintf(format: &str, args: &[Value]) -> Result<String, Eval> {
    let mut out = String::new();
    let mut args = args.iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width * 10 + d as usize;
            chars.next();
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(a) = args.next() else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        let s = match (verb, a) {
            ('d', Value::Int(i)) => i.to_string(),
            ('d', Value::Uint(u)) => u.to_string(),
            ('x', Value::Int(i)) => format!("{i:x}"),
            ('x', Value::Uint(u)) => format!("{u:x}"),
            ('X', Value::Int(i)) => format!("{i:X}"),
            ('X', Value::Uint(u)) => format!("{u:X}"),
            ('x', Value::Str(s)) => s.bytes().map(|b| format!("{b:02x}")).collect(),
            ('q', Value::Str(s)) => quote(s),
            ('s' | 'v', v) => {
                let mut s = String::new();
                v.print(&mut s)?;
                s
            }
            (verb, v) => {
                let mut s = String::new();
                v.print(&mut s)?;
                format!("%!{verb}({}={s})", v.type_name())
            }
        };
        let pad = width.saturating_sub(s.chars().count());
        if left {
            out.push_str(&s);
            out.extend(std::iter::repeat_n(' ', pad));
        } else if zero && matches!(verb, 'd' | 'x' | 'X') {
            let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
            out.push_str(sign);
            out.extend(std::iter::repeat_n('0', pad));
            out.push_str(digits);
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&s);
        }
    }
    let extra: Vec<&Value> = args.collect();
    if !extra.is_empty() {
        out.push_str("%!(EXTRA ");
        let items: Vec<String> = extra
            .iter()
            .map(|v| {
                let mut s = String::new();
                let _ = v.print(&mut s);
                format!("{}={s}", v.type_name())
            })
            .collect();
        out.push_str(&items.join(", "));
        out.push(')');
    }
    Ok(out)
}
