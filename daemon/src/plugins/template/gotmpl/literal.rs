//! Go's constants in templates: quoted strings (`strconv.Unquote`),
//! character constants (`strconv.UnquoteChar`) and numbers, kept under
//! every type that can hold them as text/template/parse's `NumberNode`.

use super::lexer::ItemType;
use super::node::Number;
use crate::gocompat::quote::quote;
use crate::gocompat::strconv::{parse_int, parse_uint, underscore_ok};

/// Why a constant is refused, in Go's words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LiteralError {
    #[error("invalid syntax")]
    Syntax,
    #[error("malformed character constant: {0}")]
    MalformedChar(String),
    #[error("integer overflow: {}", quote(.0))]
    Overflow(String),
    #[error("illegal number syntax: {}", quote(.0))]
    Illegal(String),
    #[error("strconv.ParseFloat: parsing {}: invalid syntax", quote(.0))]
    Complex(String),
}

/// `strconv.UnquoteChar`: the first character of `s` (which sits inside
/// `q` quotes), whether it is a whole character rather than a byte, and
/// the rest.
fn unquote_char(s: &str, q: char) -> Result<(u32, bool, &str), LiteralError> {
    let mut chars = s.chars();
    let c = chars.next().ok_or(LiteralError::Syntax)?;
    if c == q && (q == '\'' || q == '"') {
        return Err(LiteralError::Syntax);
    }
    if !c.is_ascii() {
        return Ok((c as u32, true, chars.as_str()));
    }
    if c != '\\' {
        return Ok((c as u32, false, chars.as_str()));
    }
    let b = s.as_bytes();
    if b.len() <= 1 {
        return Err(LiteralError::Syntax);
    }
    let e = b[1];
    let rest = &s[2..];
    let simple = |v: char| Ok((v as u32, false, rest));
    match e {
        b'a' => simple('\x07'),
        b'b' => simple('\x08'),
        b'f' => simple('\x0c'),
        b'n' => simple('\n'),
        b'r' => simple('\r'),
        b't' => simple('\t'),
        b'v' => simple('\x0b'),
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n).ok_or(LiteralError::Syntax)?;
            if !digits.bytes().all(|d| d.is_ascii_hexdigit()) {
                return Err(LiteralError::Syntax);
            }
            let v = u32::from_str_radix(digits, 16).map_err(|_| LiteralError::Syntax)?;
            if e == b'x' {
                return Ok((v, false, &rest[n..]));
            }
            if char::from_u32(v).is_none() {
                return Err(LiteralError::Syntax);
            }
            Ok((v, true, &rest[n..]))
        }
        b'0'..=b'7' => {
            let digits = rest.get(..2).ok_or(LiteralError::Syntax)?;
            let mut v = u32::from(e - b'0');
            for d in digits.bytes() {
                if !(b'0'..=b'7').contains(&d) {
                    return Err(LiteralError::Syntax);
                }
                v = v << 3 | u32::from(d - b'0');
            }
            if v > 255 {
                return Err(LiteralError::Syntax);
            }
            Ok((v, false, &rest[2..]))
        }
        b'\\' => simple('\\'),
        b'\'' | b'"' if char::from(e) == q => simple(char::from(e)),
        _ => Err(LiteralError::Syntax),
    }
}

/// `strconv.Unquote` of a `"..."` or `` `...` `` string constant. Bytes
/// that are not UTF-8 (`"\xff"`) become U+FFFD.
pub(super) fn unquote(s: &str) -> Result<String, LiteralError> {
    if s.len() < 2 {
        return Err(LiteralError::Syntax);
    }
    let q = s.as_bytes()[0];
    if q != s.as_bytes()[s.len() - 1] {
        return Err(LiteralError::Syntax);
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => {
            if inner.contains('`') {
                return Err(LiteralError::Syntax);
            }
            Ok(inner.replace('\r', ""))
        }
        b'"' => {
            if inner.contains('\n') {
                return Err(LiteralError::Syntax);
            }
            let mut bytes = Vec::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                let (v, multibyte, tail) = unquote_char(rest, '"')?;
                match char::from_u32(v) {
                    Some(c) if multibyte || v < 0x80 => {
                        let mut buf = [0; 4];
                        bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => bytes.push(v as u8),
                }
                rest = tail;
            }
            Ok(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => Err(LiteralError::Syntax),
    }
}

/// `strconv.ParseFloat(s, 64)` for the numbers the lexer lets through:
/// decimal and hexadecimal (with a `p` exponent) floats, `_` between
/// digits. `None` for bad syntax and for values out of range.
pub(super) fn parse_float(s: &str) -> Option<f64> {
    if s.contains('_') && !underscore_ok(s.strip_prefix(['+', '-']).unwrap_or(s)) {
        return None;
    }
    let clean = s.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        parse_hex_float(hex)?
    } else {
        // Rust's syntax is Go's for decimal floats, but for the words.
        if !body
            .bytes()
            .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
        {
            return None;
        }
        body.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = s.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars().chain(frac.chars()) {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let shift = exp - 4 * i32::try_from(frac.len()).ok()?;
    Some(v * 2f64.powi(shift))
}

/// A complex constant (`1+2i`), as `fmt.Sscan` reads it.
fn parse_complex(text: &str) -> Option<(f64, f64)> {
    let b = text.as_bytes();
    let split = (1..b.len())
        .rev()
        .find(|&i| matches!(b[i], b'+' | b'-') && !matches!(b[i - 1], b'e' | b'E' | b'p' | b'P'))?;
    let re = parse_float(&text[..split])?;
    let im = parse_float(text[split..].strip_suffix('i')?)?;
    Some((re, im))
}

/// Does `f` hold an integer that fits in an `i64`?
fn as_i64(f: f64) -> Option<i64> {
    // -2^63 <= f < 2^63, and no fraction.
    (f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f))
        .then_some(f as i64)
}

fn as_u64(f: f64) -> Option<u64> {
    (f.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&f)).then_some(f as u64)
}

impl Number {
    /// text/template/parse's `newNumber`.
    pub(super) fn parse(pos: usize, text: &str, typ: ItemType) -> Result<Number, LiteralError> {
        let mut n = Number {
            pos,
            text: text.to_string(),
            ..Number::default()
        };
        match typ {
            ItemType::CharConstant => {
                let (c, _, tail) = unquote_char(&text[1..], '\'')?;
                if tail != "'" {
                    return Err(LiteralError::MalformedChar(text.to_string()));
                }
                n.int64 = i64::from(c);
                n.uint64 = u64::from(c);
                n.float64 = f64::from(c);
                n.is_int = true;
                n.is_uint = true;
                n.is_float = true;
                return Ok(n);
            }
            ItemType::Complex => {
                let (re, im) =
                    parse_complex(text).ok_or_else(|| LiteralError::Complex(text.to_string()))?;
                n.is_complex = true;
                n.complex = (re, im);
                n.simplify_complex();
                return Ok(n);
            }
            _ => {}
        }
        if let Some(im) = text.strip_suffix('i').and_then(parse_float) {
            n.is_complex = true;
            n.complex = (0.0, im);
            n.simplify_complex();
            return Ok(n);
        }
        let u = parse_uint(text, 0, 64);
        if let Ok(u) = u {
            n.is_uint = true;
            n.uint64 = u;
        }
        if let Ok(i) = parse_int(text, 0, 64) {
            n.is_int = true;
            n.int64 = i;
            if i == 0 {
                // -0
                n.is_uint = true;
                n.uint64 = u.unwrap_or(0);
            }
        }
        if n.is_int {
            n.is_float = true;
            n.float64 = n.int64 as f64;
        } else if n.is_uint {
            n.is_float = true;
            n.float64 = n.uint64 as f64;
        } else if let Some(f) = parse_float(text) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(LiteralError::Overflow(text.to_string()));
            }
            n.is_float = true;
            n.float64 = f;
            if let Some(i) = as_i64(f) {
                n.is_int = true;
                n.int64 = i;
            }
            if let Some(u) = as_u64(f) {
                n.is_uint = true;
                n.uint64 = u;
            }
        }
        if !n.is_int && !n.is_uint && !n.is_float {
            return Err(LiteralError::Illegal(text.to_string()));
        }
        Ok(n)
    }

    fn simplify_complex(&mut self) {
        self.is_float = self.complex.1 == 0.0;
        if self.is_float {
            self.float64 = self.complex.0;
            if let Some(i) = as_i64(self.float64) {
                self.is_int = true;
                self.int64 = i;
            }
            if let Some(u) = as_u64(self.float64) {
                self.is_uint = true;
                self.uint64 = u;
            }
        }
    }
}
