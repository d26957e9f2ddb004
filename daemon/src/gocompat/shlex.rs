//! google/shlex's `Split`, as caddy's `SplitCommandAndArgs` splits a
//! command line on Unix: words separated by spaces, tabs and newlines;
//! `"..."` (where a backslash takes the next character as it is) and
//! `'...'` (literal) quoted; a backslash outside quotes escapes the next
//! character; `#` at the start of a word comments out the rest.

/// Why a command line did not split; `Display` is google/shlex's text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("EOF found when expecting closing quote")]
    Unclosed,
    #[error("EOF found after escape character")]
    Escape,
}

/// The words of `s`.
pub fn split(s: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        // Between words.
        while chars
            .next_if(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .is_some()
        {}
        let Some(&first) = chars.peek() else {
            return Ok(words);
        };
        if first == '#' {
            // A comment runs to the end of its line.
            while chars.next_if(|&c| c != '\n').is_some() {}
            continue;
        }
        let mut word = String::new();
        while let Some(c) = chars.next() {
            match c {
                ' ' | '\t' | '\n' | '\r' => break,
                '\\' => word.push(chars.next().ok_or(SplitError::Escape)?),
                '\'' => loop {
                    match chars.next().ok_or(SplitError::Unclosed)? {
                        '\'' => break,
                        c => word.push(c),
                    }
                },
                '"' => loop {
                    match chars.next().ok_or(SplitError::Unclosed)? {
                        '"' => break,
                        '\\' => word.push(chars.next().ok_or(SplitError::Escape)?),
                        c => word.push(c),
                    }
                },
                c => word.push(c),
            }
        }
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_as_shlex() {
        let s = |t: &str| split(t).unwrap();
        assert_eq!(s("echo hello  world"), ["echo", "hello", "world"]);
        assert_eq!(s("sh -c 'echo $HOME; ls'"), ["sh", "-c", "echo $HOME; ls"]);
        assert_eq!(s(r#"printf "a \"b\" \n""#), ["printf", r#"a "b" n"#]);
        assert_eq!(s(r"a\ b c"), ["a b", "c"]);
        assert_eq!(s("cmd arg # a comment"), ["cmd", "arg"]);
        assert_eq!(s("cmd a#b"), ["cmd", "a#b"]);
        assert_eq!(s("x'y'\"z\""), ["xyz"]);
        assert!(s("   ").is_empty());
        assert_eq!(split("echo 'open").unwrap_err(), SplitError::Unclosed);
        assert_eq!(split("echo \\").unwrap_err(), SplitError::Escape);
        assert_eq!(
            SplitError::Unclosed.to_string(),
            "EOF found when expecting closing quote"
        );
    }
}
