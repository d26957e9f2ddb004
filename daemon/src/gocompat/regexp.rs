//! Go's `regexp` error texts (`regexp/syntax.Error`: `error parsing
//! regexp: CODE: `EXPR``), for the errors a Corefile's patterns commonly
//! make; other errors keep the regex crate's gist after Go's prefix.

/// The error Go's `regexp.Compile` gives for `pattern`, which the regex
/// crate refused with `e`.
pub fn error(e: &regex::Error, pattern: &str) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let gist = last.strip_prefix("error: ").unwrap_or(last);
    let go = match gist {
        "unclosed group" => format!("missing closing ): `{pattern}`"),
        "unopened group" => format!("unexpected ): `{pattern}`"),
        "unclosed character class" => match pattern.rfind('[') {
            Some(i) => format!("missing closing ]: `{}`", &pattern[i..]),
            None => gist.to_string(),
        },
        "repetition operator missing expression" => {
            let op = pattern
                .chars()
                .find(|c| matches!(c, '*' | '+' | '?'))
                .map_or(String::new(), String::from);
            format!("missing argument to repetition operator: `{op}`")
        }
        _ => gist.to_string(),
    };
    format!("error parsing regexp: {go}")
}

#[cfg(test)]
mod tests {
    fn go(p: &str) -> String {
        let pattern = String::from(p);
        super::error(&regex::Regex::new(&pattern).unwrap_err(), p)
    }

    /// Go's words, as `go run` prints them for these patterns.
    #[test]
    fn go_texts() {
        assert_eq!(
            go("(abc"),
            "error parsing regexp: missing closing ): `(abc`"
        );
        assert_eq!(go("abc)"), "error parsing regexp: unexpected ): `abc)`");
        assert_eq!(go("a[bc"), "error parsing regexp: missing closing ]: `[bc`");
        assert_eq!(
            go("*a"),
            "error parsing regexp: missing argument to repetition operator: `*`"
        );
    }
}
