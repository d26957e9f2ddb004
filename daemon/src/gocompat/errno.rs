//! OS errors as Go words them: `syscall.Errno`'s text (the C library's
//! message, first letter lowercased, no `(os error N)`) and `*os.PathError`.

use std::io;
use std::path::Path;

/// `syscall.Errno.Error()`: `address already in use`, `no such file or directory`.
pub fn text(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.rfind(" (os error") {
        Some(i) => &s[..i],
        None => &s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// `*os.PathError`'s text: `open db.example.org: no such file or directory`.
pub fn path_error(op: &str, path: &Path, e: &io::Error) -> String {
    format!("{op} {}: {}", path.display(), text(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_as_go() {
        let e = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(text(&e), "address already in use");
        let e = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(text(&e), "permission denied");
        let e = io::Error::from_raw_os_error(libc::ENOTDIR);
        assert_eq!(text(&e), "not a directory");
        let e = io::Error::other("Timed out");
        assert_eq!(text(&e), "timed out");
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            path_error("open", Path::new("db"), &e),
            "open db: no such file or directory"
        );
    }
}
