//! Caddyfile lexer (Caddy v1 rules).
//!
//! Tokens are separated by whitespace. A token that starts with `"` is quoted:
//! it runs to the next unescaped `"`, may span lines, and inside it only `\"`
//! is an escape (any other backslash stays literal). Outside quotes `#` starts
//! a comment up to the end of the line, even in the middle of a token, and
//! `\r` is dropped. A leading byte order mark is ignored.

use std::sync::Arc;

/// A lexed token with the span of lines it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LexToken {
    pub text: String,
    pub file: Arc<str>,
    /// Line the token starts on (1-based).
    pub line: u32,
    /// Line the token ends on (differs from `line` for quoted tokens that
    /// span lines).
    pub end_line: u32,
}

/// Splits `src` into tokens, naming `file` in each.
///
/// Like Caddy, an unterminated quoted string runs to the end of the input and
/// still yields its text (nothing when it is empty).
pub(crate) fn lex(src: &str, file: &Arc<str>) -> Vec<LexToken> {
    let src = src.strip_prefix('\u{FEFF}').unwrap_or(src);
    let mut out = Vec::new();
    let mut line: u32 = 1;
    let mut val = String::new();
    let mut start: u32 = 1;
    // `in_token` tells a started empty quoted token (`""`) from no token.
    let mut in_token = false;
    let (mut quoted, mut escaped, mut comment) = (false, false, false);

    let mut push = |val: &mut String, start: u32, end: u32| {
        out.push(LexToken {
            text: std::mem::take(val),
            file: file.clone(),
            line: start,
            end_line: end,
        });
    };

    for ch in src.chars() {
        if quoted {
            if !escaped {
                if ch == '\\' {
                    escaped = true;
                    continue;
                }
                if ch == '"' {
                    quoted = false;
                    in_token = false;
                    push(&mut val, start, line);
                    continue;
                }
            }
            if ch == '\n' {
                line += 1;
            }
            if escaped && ch != '"' {
                val.push('\\');
            }
            val.push(ch);
            escaped = false;
            continue;
        }

        if ch.is_whitespace() {
            if ch == '\r' {
                continue;
            }
            if ch == '\n' {
                line += 1;
                comment = false;
            }
            if in_token {
                in_token = false;
                push(&mut val, start, start);
            }
            continue;
        }

        if ch == '#' {
            comment = true;
        }
        if comment {
            continue;
        }

        if !in_token {
            in_token = true;
            start = line;
            if ch == '"' {
                quoted = true;
                continue;
            }
        }
        val.push(ch);
    }
    // End of input: a pending token is kept when it has text (an unterminated
    // quote that collected nothing yields no token, as in Caddy).
    if in_token && !val.is_empty() {
        let end = if quoted { line } else { start };
        push(&mut val, start, end);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lx(src: &str) -> Vec<(String, u32, u32)> {
        let f: Arc<str> = Arc::from("Corefile");
        lex(src, &f)
            .into_iter()
            .map(|t| (t.text, t.line, t.end_line))
            .collect()
    }

    fn texts(src: &str) -> Vec<String> {
        lx(src).into_iter().map(|t| t.0).collect()
    }

    #[test]
    fn whitespace_and_lines() {
        assert_eq!(
            lx("a b\n\tc  d\n\n e"),
            vec![
                ("a".into(), 1, 1),
                ("b".into(), 1, 1),
                ("c".into(), 2, 2),
                ("d".into(), 2, 2),
                ("e".into(), 4, 4)
            ]
        );
        assert!(lx("").is_empty());
        assert!(lx("  \n\n ").is_empty());
    }

    #[test]
    fn comments_even_mid_token() {
        assert_eq!(
            texts("foo#bar baz\nqux # c { }\n#x\ny"),
            vec!["foo", "qux", "y"]
        );
        assert_eq!(lx("a # c\nb")[1], ("b".into(), 2, 2));
        // Inside quotes `#` is literal.
        assert_eq!(texts("\"a # b\" c"), vec!["a # b", "c"]);
    }

    #[test]
    fn quotes() {
        // Spanning lines; the token after it has the right line.
        assert_eq!(
            lx("x \"a\nb\nc\" y\nz"),
            vec![
                ("x".into(), 1, 1),
                ("a\nb\nc".into(), 1, 3),
                ("y".into(), 3, 3),
                ("z".into(), 4, 4)
            ]
        );
        // Only \" is an escape.
        assert_eq!(
            texts(r#""say \"hi\"" "a\b" "c\\d""#),
            vec![r#"say "hi""#, r"a\b", r"c\\d"]
        );
        // A quote only opens at the start of a token.
        assert_eq!(texts(r#"a"b c"#), vec![r#"a"b"#, "c"]);
        // A closing quote ends the token.
        assert_eq!(texts(r#""ab"cd"#), vec!["ab", "cd"]);
        // Empty quoted string is an empty token.
        assert_eq!(
            lx(r#"a "" b"#),
            vec![("a".into(), 1, 1), ("".into(), 1, 1), ("b".into(), 1, 1)]
        );
        // Whitespace kept inside quotes.
        assert_eq!(texts("\"a  b\tc\""), vec!["a  b\tc"]);
        // Unterminated quote runs to the end.
        assert_eq!(
            lx("a \"b\nc"),
            vec![("a".into(), 1, 1), ("b\nc".into(), 1, 2)]
        );
        assert_eq!(texts("a \""), vec!["a"]);
    }

    #[test]
    fn bom_and_crlf() {
        assert_eq!(
            lx("\u{FEFF}a\r\nb\r\n"),
            vec![("a".into(), 1, 1), ("b".into(), 2, 2)]
        );
        // A BOM elsewhere is an ordinary character.
        assert_eq!(texts("a \u{FEFF}b"), vec!["a", "\u{FEFF}b"]);
        // \r is dropped outside quotes, kept inside.
        assert_eq!(texts("a\rb \"c\r\n\""), vec!["ab", "c\r\n"]);
    }
}
