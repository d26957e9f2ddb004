//! Go's `time.Duration` text form, which Corefiles use (`5s`, `1h30m`,
//! `250ms`): `time.ParseDuration` with its error texts, and `Duration.String`.

use super::quote::quote;
use std::fmt;
use std::time::Duration;

/// Why `time.ParseDuration` refused a text; `Display` is Go's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// `time: invalid duration "X"`.
    Invalid(String),
    /// `time: missing unit in duration "X"`.
    MissingUnit(String),
    /// `time: unknown unit "U" in duration "X"`.
    UnknownUnit { unit: String, orig: String },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Invalid(s) => write!(f, "time: invalid duration {}", quote(s)),
            ParseError::MissingUnit(s) => write!(f, "time: missing unit in duration {}", quote(s)),
            ParseError::UnknownUnit { unit, orig } => write!(
                f,
                "time: unknown unit {} in duration {}",
                quote(unit),
                quote(orig)
            ),
        }
    }
}

impl std::error::Error for ParseError {}

/// Go's `time.ParseDuration`: signed nanoseconds.
pub fn parse_nanos(orig: &str) -> Result<i64, ParseError> {
    let invalid = || ParseError::Invalid(orig.to_string());
    let mut s = orig;
    let mut neg = false;
    if let Some(r) = s.strip_prefix(['+', '-']) {
        neg = s.starts_with('-');
        s = r;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let int_end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let int_part = &s[..int_end];
        s = &s[int_end..];
        let mut frac_part = "";
        if let Some(r) = s.strip_prefix('.') {
            let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
            frac_part = &r[..end];
            s = &r[end..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_end = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        if unit.is_empty() {
            return Err(ParseError::MissingUnit(orig.to_string()));
        }
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(ParseError::UnknownUnit {
                    unit: unit.to_string(),
                    orig: orig.to_string(),
                })
            }
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut v = whole.checked_mul(scale).ok_or_else(invalid)?;
        // The fraction, to nanosecond precision (Go truncates too).
        let mut f = scale;
        for c in frac_part.bytes().take(30) {
            f /= 10;
            v += u128::from(c - b'0') * f;
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    let t = total as i64;
    Ok(if neg { -t } else { t })
}

/// `time.ParseDuration` as a sign and a magnitude: (negative, magnitude).
/// `-0` is not negative.
pub fn parse_signed(s: &str) -> Result<(bool, Duration), ParseError> {
    let n = parse_nanos(s)?;
    Ok((n < 0, Duration::from_nanos(n.unsigned_abs())))
}

/// `time.ParseDuration` of a duration that may not be negative, as most
/// Corefile options take: None for a negative one or a text Go refuses.
pub fn parse(s: &str) -> Option<Duration> {
    match parse_signed(s) {
        Ok((false, d)) => Some(d),
        _ => None,
    }
}

/// Go's `Duration.String()`: `5m0s`, `1.5s`, `300ms`, `0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (div, unit) = if nanos < 1_000 {
            (1, "ns")
        } else if nanos < 1_000_000 {
            (1_000, "µs")
        } else {
            (1_000_000, "ms")
        };
        return format!("{}{unit}", trim_frac(nanos, div));
    }
    let secs_total = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let h = secs_total / 3600;
    let m = (secs_total % 3600) / 60;
    let s = secs_total % 60;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&trim_frac(s * 1_000_000_000 + frac, 1_000_000_000));
    out.push('s');
    out
}

fn trim_frac(v: u128, div: u128) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_forms() {
        assert_eq!(parse("5s"), Some(Duration::from_secs(5)));
        assert_eq!(parse("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse("0.3ms"), Some(Duration::from_micros(300)));
        assert_eq!(parse("+300ms"), Some(Duration::from_millis(300)));
        assert_eq!(parse("0"), Some(Duration::ZERO));
        assert_eq!(parse("-0"), Some(Duration::ZERO));
        assert_eq!(parse("-1s"), None);
        assert_eq!(parse("5"), None);
        assert_eq!(parse("s"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("5x"), None);
    }

    #[test]
    fn signed_and_nanos() {
        assert_eq!(parse_nanos("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(parse_nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_nanos("-2s"), Ok(-2_000_000_000));
        assert_eq!(parse_nanos("0"), Ok(0));
        assert_eq!(parse_signed("-2s"), Ok((true, Duration::from_secs(2))));
        assert_eq!(parse_signed("-0"), Ok((false, Duration::ZERO)));
        assert_eq!(
            parse_nanos("9223372036854775808ns"),
            Err(ParseError::Invalid("9223372036854775808ns".into()))
        );
    }

    #[test]
    fn go_error_texts() {
        let err = |s: &str| parse_nanos(s).unwrap_err().to_string();
        assert_eq!(err(""), "time: invalid duration \"\"");
        assert_eq!(err("abc"), "time: invalid duration \"abc\"");
        assert_eq!(err("-"), "time: invalid duration \"-\"");
        assert_eq!(err(".s"), "time: invalid duration \".s\"");
        assert_eq!(err("1"), "time: missing unit in duration \"1\"");
        assert_eq!(err("1.5.3s"), "time: missing unit in duration \"1.5.3s\"");
        assert_eq!(err("1d"), "time: unknown unit \"d\" in duration \"1d\"");
        assert_eq!(err("3x"), "time: unknown unit \"x\" in duration \"3x\"");
    }

    #[test]
    fn formats_as_go() {
        assert_eq!(format(Duration::from_secs(300)), "5m0s");
        assert_eq!(format(Duration::from_secs(5)), "5s");
        assert_eq!(format(Duration::from_secs(30)), "30s");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::from_millis(300)), "300ms");
        assert_eq!(format(Duration::from_secs(3661)), "1h1m1s");
        assert_eq!(format(Duration::ZERO), "0s");
    }
}
