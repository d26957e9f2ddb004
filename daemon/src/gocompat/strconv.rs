//! Go's `strconv` integer parsing, with its `*NumError` texts
//! (`strconv.Atoi: parsing "x": invalid syntax`).

use super::quote::quote;
use std::fmt;

/// Go's `*strconv.NumError`; `Display` is its `Error()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumError {
    /// The function, as Go names it: `Atoi`, `ParseUint`.
    pub func: &'static str,
    /// The text given.
    pub num: String,
    pub kind: NumErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumErrorKind {
    Syntax,
    Range,
    Base(i64),
    BitSize(i64),
}

impl fmt::Display for NumErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumErrorKind::Syntax => f.write_str("invalid syntax"),
            NumErrorKind::Range => f.write_str("value out of range"),
            NumErrorKind::Base(b) => write!(f, "invalid base {b}"),
            NumErrorKind::BitSize(b) => write!(f, "invalid bit size {b}"),
        }
    }
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "strconv.{}: parsing {}: {}",
            self.func,
            quote(&self.num),
            self.kind
        )
    }
}

impl std::error::Error for NumError {}

fn err(func: &'static str, num: &str, kind: NumErrorKind) -> NumError {
    NumError {
        func,
        num: num.to_string(),
        kind,
    }
}

/// Go's `strconv.Atoi` (64-bit `int`).
pub fn atoi(s: &str) -> Result<i64, NumError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("Atoi", s, NumErrorKind::Syntax));
    }
    s.parse::<i64>()
        .map_err(|_| err("Atoi", s, NumErrorKind::Range))
}

/// Go's `strconv.ParseUint(s, base, bits)`: base 0 (prefixes `0x`, `0o`,
/// `0b`, `0`, and `_` between digits) or 2 to 36; bits 0 (64) to 64.
pub fn parse_uint(s0: &str, base: i64, bits: i64) -> Result<u64, NumError> {
    let fail = |kind| Err(err("ParseUint", s0, kind));
    if s0.is_empty() {
        return fail(NumErrorKind::Syntax);
    }
    let base0 = base == 0;
    let b = s0.as_bytes();
    let (base, digits) = if base0 {
        if b[0] == b'0' {
            match b.get(1).map(u8::to_ascii_lowercase) {
                Some(b'b') if b.len() >= 3 => (2, &b[2..]),
                Some(b'o') if b.len() >= 3 => (8, &b[2..]),
                Some(b'x') if b.len() >= 3 => (16, &b[2..]),
                _ => (8, &b[1..]),
            }
        } else {
            (10, b)
        }
    } else if (2..=36).contains(&base) {
        (base as u64, b)
    } else {
        return fail(NumErrorKind::Base(base));
    };
    let bits = if bits == 0 { 64 } else { bits };
    if !(1..=64).contains(&bits) {
        return fail(NumErrorKind::BitSize(bits));
    }
    let max: u64 = u64::MAX >> (64 - bits);
    let mut n: u64 = 0;
    let mut underscores = false;
    for &c in digits {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => u64::from(c - b'0'),
            _ if c.is_ascii_alphabetic() => u64::from(c.to_ascii_lowercase() - b'a') + 10,
            _ => return fail(NumErrorKind::Syntax),
        };
        if d >= base {
            return fail(NumErrorKind::Syntax);
        }
        match n.checked_mul(base).and_then(|v| v.checked_add(d)) {
            Some(v) if v <= max => n = v,
            _ => return fail(NumErrorKind::Range),
        }
    }
    if underscores && !underscore_ok(s0) {
        return fail(NumErrorKind::Syntax);
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, base, bits)`: an optional sign, then
/// [`parse_uint`]'s digits; bits 0 (64) to 64. text/template reads its
/// integer constants with `ParseInt(s, 0, 64)`.
pub fn parse_int(s0: &str, base: i64, bits: i64) -> Result<i64, NumError> {
    let (neg, s) = match s0.as_bytes().first() {
        None => return Err(err("ParseInt", s0, NumErrorKind::Syntax)),
        Some(b'+') => (false, &s0[1..]),
        Some(b'-') => (true, &s0[1..]),
        Some(_) => (false, s0),
    };
    let bits = if bits == 0 { 64 } else { bits };
    let un = match parse_uint(s, base, bits) {
        Ok(n) => n,
        // Go's ParseUint returns its largest value with a range error; the
        // checks below decide on that value.
        Err(e) if e.kind == NumErrorKind::Range => u64::MAX >> (64 - bits),
        Err(e) => return Err(err("ParseInt", s0, e.kind)),
    };
    let cutoff = 1u64 << (bits - 1);
    if (!neg && un >= cutoff) || (neg && un > cutoff) {
        return Err(err("ParseInt", s0, NumErrorKind::Range));
    }
    let n = un as i64;
    // -(1 << 63) wraps to itself, as in Go.
    Ok(if neg { n.wrapping_neg() } else { n })
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal numbers (what expr-lang's
/// lexer hands it: digits, a point, an exponent): a value too large for
/// an f64 is a range error, as in Go.
pub fn parse_float(s: &str) -> Result<f64, NumError> {
    let plain = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    match s.parse::<f64>() {
        Ok(v) if plain && v.is_infinite() => Err(err("ParseFloat", s, NumErrorKind::Range)),
        Ok(v) if plain => Ok(v),
        _ => Err(err("ParseFloat", s, NumErrorKind::Syntax)),
    }
}

/// Go's rule for `_` in numbers: only between digits (or after a base prefix).
pub fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || hex && c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_as_go() {
        assert_eq!(atoi("42"), Ok(42));
        assert_eq!(atoi("+1"), Ok(1));
        assert_eq!(atoi("-7"), Ok(-7));
        for (s, why) in [
            ("1s", "invalid syntax"),
            ("", "invalid syntax"),
            ("-", "invalid syntax"),
            ("99999999999999999999", "value out of range"),
        ] {
            let want = format!("strconv.Atoi: parsing {}: {why}", quote(s));
            assert_eq!(atoi(s).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn parse_float_as_go() {
        assert_eq!(parse_float("1.5e3"), Ok(1500.0));
        assert_eq!(parse_float(".5"), Ok(0.5));
        assert_eq!(parse_float("1."), Ok(1.0));
        assert_eq!(
            parse_float("1.5e").unwrap_err().to_string(),
            "strconv.ParseFloat: parsing \"1.5e\": invalid syntax"
        );
        assert_eq!(
            parse_float("1e400").unwrap_err().to_string(),
            "strconv.ParseFloat: parsing \"1e400\": value out of range"
        );
        assert!(parse_float("inf").is_err());
        assert!(parse_float("0b1.5").is_err());
    }

    #[test]
    fn parse_int_as_go() {
        for (s, base, bits, n) in [
            ("0x1f", 0, 64, 31),
            ("-0b101", 0, 64, -5),
            ("+0o17", 0, 64, 15),
            ("-010", 0, 64, -8),
            ("1_000", 0, 64, 1000),
            ("-0", 0, 64, 0),
            ("-ff", 16, 0, -255),
            ("127", 10, 8, 127),
            ("-128", 10, 8, -128),
            ("9223372036854775807", 0, 64, i64::MAX),
            ("-9223372036854775808", 0, 64, i64::MIN),
            ("-0x8000000000000000", 0, 64, i64::MIN),
        ] {
            assert_eq!(parse_int(s, base, bits), Ok(n), "{s}");
        }
        for (s, base, bits, why) in [
            ("", 0, 64, "invalid syntax"),
            ("-", 0, 64, "invalid syntax"),
            ("+-1", 0, 64, "invalid syntax"),
            ("08", 0, 64, "invalid syntax"),
            ("0x", 0, 64, "invalid syntax"),
            ("1__0", 0, 64, "invalid syntax"),
            ("1_", 0, 64, "invalid syntax"),
            ("128", 10, 8, "value out of range"),
            ("-129", 10, 8, "value out of range"),
            ("9223372036854775808", 0, 64, "value out of range"),
            ("-9223372036854775809", 0, 64, "value out of range"),
            ("-99999999999999999999", 10, 64, "value out of range"),
            ("1", 37, 64, "invalid base 37"),
            ("-1", 10, 65, "invalid bit size 65"),
        ] {
            let want = format!("strconv.ParseInt: parsing {}: {why}", quote(s));
            assert_eq!(parse_int(s, base, bits).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn parse_uint_as_go() {
        for (s, base, bits, n) in [
            ("0x1f", 0, 64, 31),
            ("0o17", 0, 64, 15),
            ("017", 0, 64, 15),
            ("010", 0, 16, 8),
            ("0", 0, 8, 0),
            ("0b101", 0, 8, 5),
            ("1_000", 0, 16, 1000),
            ("0xffee", 0, 16, 0xffee),
            ("255", 10, 8, 255),
            ("ff", 16, 0, 255),
            ("18446744073709551615", 10, 64, u64::MAX),
        ] {
            assert_eq!(parse_uint(s, base, bits), Ok(n), "{s}");
        }
        for (s, base, bits, why) in [
            ("1_000", 10, 64, "invalid syntax"),
            ("1__0", 0, 16, "invalid syntax"),
            ("_1", 0, 64, "invalid syntax"),
            ("", 10, 16, "invalid syntax"),
            ("-1", 10, 16, "invalid syntax"),
            ("+5", 10, 32, "invalid syntax"),
            ("256", 10, 8, "value out of range"),
            ("18446744073709551616", 10, 64, "value out of range"),
            // Go stops at the first digit that overflows.
            ("99999999999999999999x", 10, 64, "value out of range"),
            ("1", 1, 64, "invalid base 1"),
            ("1", 10, 65, "invalid bit size 65"),
        ] {
            let want = format!("strconv.ParseUint: parsing {}: {why}", quote(s));
            assert_eq!(parse_uint(s, base, bits).unwrap_err().to_string(), want);
        }
    }
}
