//! Go's way of writing values into text (`%q`, `%#U`), for error and log
//! messages that must read as CoreDNS's.

/// `strconv.Quote` (`%q`) of a string.
pub fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// `strconv.QuoteToASCII` (`%+q`): non-ASCII characters escaped too.
pub fn quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

/// `strconv.QuoteRune` (`%q` of an integer), or with `ascii`
/// `QuoteRuneToASCII` (`%+q`).
pub fn quote_rune(c: char, ascii: bool) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', ascii);
    out.push('\'');
    out
}

fn quote_with(s: &str, q: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        escape_rune(&mut out, c, q, ascii);
    }
    out.push(q);
    out
}

fn escape_rune(out: &mut String, c: char, q: char, ascii: bool) {
    if c == q || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if if ascii {
        c.is_ascii() && is_print(c)
    } else {
        is_print(c)
    } {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and
/// the ASCII space. Go reads Unicode's tables; this leaves out controls,
/// spaces other than U+0020, the format characters and private use, and
/// counts every other character as printable.
pub fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x80 {
        return (0x20..0x7f).contains(&u);
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(u,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x206f | 0xd800..=0xf8ff
        | 0xfeff | 0xfff9..=0xfffb | 0xfffe..=0xffff | 0x110bd | 0x110cd
        | 0x13430..=0x1343f | 0x1bca0..=0x1bca3 | 0x1d173..=0x1d17a | 0xe0000..=0xe007f
        | 0xf0000..)
}

/// `strconv.CanBackquote`: whether `s` can be written as a raw string.
pub fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| match c {
        '\t' => true,
        '`' | '\u{feff}' | '\x7f' => false,
        c => c >= ' ',
    })
}

/// `%#U` of a rune: `U+0078 'x'`, the character only when Go counts it
/// printable.
pub fn unicode_rune(c: char) -> String {
    if is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
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
        assert_eq!(quote("\u{200b}\u{1F600}"), "\"\\u200b\u{1F600}\"");
        assert_eq!(quote_ascii("é\u{1F600}"), "\"\\u00e9\\U0001f600\"");
        assert_eq!(quote_rune('\'', false), "'\\''");
        assert_eq!(quote_rune('"', false), "'\"'");
        assert_eq!(unicode_rune('x'), "U+0078 'x'");
        assert_eq!(unicode_rune('€'), "U+20AC '€'");
        assert_eq!(unicode_rune('\u{7}'), "U+0007");
        assert!(can_backquote("a\tb") && !can_backquote("a`b"));
    }
}
