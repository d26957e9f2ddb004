//! Go's way of writing values into text (`%q`, `%#U`), for error and log
//! messages that must read as CoreDNS's.

/// `strconv.Quote` (`%q`) of a string.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\x0b' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `%q` of a byte: a quoted character literal.
pub fn quote_byte(b: u8) -> String {
    match b {
        b'\'' => "'\\''".into(),
        b'\\' => "'\\\\'".into(),
        0x20..=0x7e => format!("'{}'", char::from(b)),
        _ => format!("'\\x{b:02x}'"),
    }
}

/// `%#U` of a byte taken as a rune: `U+0078 'x'`, the character only when
/// Go counts it printable.
pub fn unicode_byte(c: u8) -> String {
    let printable = (0x20..=0x7e).contains(&c) || (0xa1..=0xff).contains(&c) && c != 0xad;
    if printable {
        format!("U+{:04X} '{}'", c, char::from(c))
    } else {
        format!("U+{c:04X}")
    }
}

/// `%#U` of a rune: `U+0040 '@'`, the character only when Go counts it
/// printable.
pub fn unicode_rune(c: char) -> String {
    let printable = c == ' ' || !(c.is_control() || c.is_whitespace());
    if printable {
        format!("U+{:04X} '{c}'", u32::from(c))
    } else {
        format!("U+{:04X}", u32::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go() {
        assert_eq!(quote("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\x01\"");
        assert_eq!(quote("é"), "\"é\"");
        assert_eq!(quote_byte(b'x'), "'x'");
        assert_eq!(quote_byte(b'\''), "'\\''");
        assert_eq!(quote_byte(0), "'\\x00'");
        assert_eq!(unicode_byte(b'x'), "U+0078 'x'");
        assert_eq!(unicode_byte(0x0a), "U+000A");
        assert_eq!(unicode_rune('@'), "U+0040 '@'");
        assert_eq!(unicode_rune('€'), "U+20AC '€'");
        assert_eq!(unicode_rune('\u{7}'), "U+0007");
    }
}
