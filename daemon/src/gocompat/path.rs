//! Go's `path/filepath` for Unix paths.

/// Go's `filepath.Clean`: the shortest path naming the same file, by
/// lexical processing only (`//` and `.` dropped, `..` after a name
/// removed with it, `..` at the root dropped, `.` for an empty result).
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&l) if l != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_as_go() {
        assert_eq!(clean("./db"), "db");
        assert_eq!(clean("/etc//coredns/../db"), "/etc/db");
        assert_eq!(clean("a/./b/"), "a/b");
        assert_eq!(clean("../x"), "../x");
    }
}
