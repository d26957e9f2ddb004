//! The search list of a resolv.conf(5) file as miekg/dns's
//! `ClientConfigFromFile` reads it (autopath's file, the kubernetes
//! plugin's /etc/resolv.conf): `search` sets the list, `domain` sets it to
//! one name (none without an argument), the last such line wins; names
//! are kept as written.

use std::path::Path;

/// The file could not be opened: `*os.PathError`'s text
/// (`open PATH: no such file or directory`).
#[derive(Debug, thiserror::Error)]
#[error("{}", super::errno::path_error("open", path, source))]
pub struct OpenError {
    path: std::path::PathBuf,
    source: std::io::Error,
}

/// The search list of the file at `path`. Only opening it can fail, as
/// with miekg: what cannot be read (a folder, a line past bufio.Scanner's
/// 64 KiB) ends the list where reading stopped.
pub fn search(path: &Path) -> Result<Vec<String>, OpenError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|source| OpenError {
        path: path.to_path_buf(),
        source,
    })?;
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    Ok(search_of(&bytes))
}

/// bufio.Scanner's largest token: a longer line stops the scan.
const MAX_LINE: usize = 64 * 1024;

/// The search list of a file's contents.
pub fn search_of(bytes: &[u8]) -> Vec<String> {
    let mut search = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        if line.len() >= MAX_LINE {
            break;
        }
        // The scanner's line is its token, `\r` dropped.
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = String::from_utf8_lossy(line);
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.first().copied() {
            Some("domain") => search = f.get(1).map(|d| vec![d.to_string()]).unwrap_or_default(),
            Some("search") => search = f[1..].iter().map(|s| s.to_string()).collect(),
            _ => {}
        }
    }
    search
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_miekg() {
        let conf =
            b"nameserver 1.2.3.4\ndomain foo.com\nsearch bar.com  baz.com\r\noptions ndots:5\n";
        assert_eq!(search_of(conf), ["bar.com", "baz.com"]);
        assert_eq!(search_of(b"search a.org\ndomain b.org"), ["b.org"]);
        assert_eq!(search_of(b"search a.org\ndomain"), Vec::<String>::new());
        assert_eq!(search_of(b"nameserver 1.2.3.4\n"), Vec::<String>::new());
        assert_eq!(search_of(b"\tsearch\tx.org\x0by.org"), ["x.org", "y.org"]);
        let mut long = b"search a.org\n".to_vec();
        long.extend(std::iter::repeat_n(b'#', MAX_LINE + 1));
        long.extend(b"\nsearch b.org\n");
        assert_eq!(search_of(&long), ["a.org"]);
    }

    #[test]
    fn open_errors_read_as_go() {
        let e = search(Path::new("no-such.conf")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "open no-such.conf: no such file or directory"
        );
        let e = search(Path::new("")).unwrap_err();
        assert_eq!(e.to_string(), "open : no such file or directory");
        let dir = std::env::temp_dir();
        assert_eq!(search(&dir).unwrap(), Vec::<String>::new());
    }
}
