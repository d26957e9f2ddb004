//! Go's `regexp` error texts, as far as they can be had from the regex
//! crate: Go's prefix and the gist of the crate's message (Go words the
//! gist itself differently: "missing closing )" where the crate says
//! "unclosed group").

/// `error parsing regexp: <gist>` for a pattern the regex crate refused.
pub fn error(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    format!(
        "error parsing regexp: {}",
        last.strip_prefix("error: ").unwrap_or(last)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn gist_with_go_prefix() {
        let pattern = String::from("(abc");
        let e = regex::Regex::new(&pattern).unwrap_err();
        assert_eq!(super::error(&e), "error parsing regexp: unclosed group");
    }
}
