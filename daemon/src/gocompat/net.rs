//! Go's `net.SplitHostPort` and `net.JoinHostPort`.

use std::fmt;

/// Go's `*net.AddrError` from `SplitHostPort`: `address X: missing port in address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrError {
    pub addr: String,
    pub why: &'static str,
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "address {}: {}", self.addr, self.why)
    }
}

impl std::error::Error for AddrError {}

/// Go's `net.SplitHostPort`: host (without brackets) and port.
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), AddrError> {
    let err = |why| {
        Err(AddrError {
            addr: hostport.to_string(),
            why,
        })
    };
    let Some(i) = hostport.rfind(':') else {
        return err("missing port in address");
    };
    let (host, j, k);
    if hostport.starts_with('[') {
        let Some(end) = hostport.find(']') else {
            return err("missing ']' in address");
        };
        if end + 1 == hostport.len() {
            return err("missing port in address");
        } else if end + 1 != i {
            if hostport.as_bytes()[end + 1] == b':' {
                return err("too many colons in address");
            }
            return err("missing port in address");
        }
        host = &hostport[1..end];
        (j, k) = (1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return err("too many colons in address");
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') {
        return err("unexpected '[' in address");
    }
    if hostport[k..].contains(']') {
        return err("unexpected ']' in address");
    }
    Ok((host, &hostport[i + 1..]))
}

/// Go's `net.JoinHostPort`: brackets around a host with a colon.
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_split_host_port() {
        let e = |s: &str| split_host_port(s).unwrap_err().to_string();
        assert_eq!(split_host_port("localhost:9153"), Ok(("localhost", "9153")));
        assert_eq!(split_host_port(":8080"), Ok(("", "8080")));
        assert_eq!(split_host_port("[::1]:53"), Ok(("::1", "53")));
        assert_eq!(
            split_host_port("[fe80::1%eth0]:53"),
            Ok(("fe80::1%eth0", "53"))
        );
        assert_eq!(split_host_port("bla:a"), Ok(("bla", "a")));
        assert_eq!(e("/foo"), "address /foo: missing port in address");
        assert_eq!(e("::1:53"), "address ::1:53: too many colons in address");
        assert_eq!(e("[::1"), "address [::1: missing ']' in address");
        assert_eq!(e("[::1]"), "address [::1]: missing port in address");
        assert_eq!(e("[::1]x:53"), "address [::1]x:53: missing port in address");
        assert_eq!(
            e("[::1]::53"),
            "address [::1]::53: too many colons in address"
        );
        assert_eq!(e("a]:53"), "address a]:53: unexpected ']' in address");
        assert_eq!(e("a[:53"), "address a[:53: unexpected '[' in address");
    }

    #[test]
    fn go_join_host_port() {
        assert_eq!(join_host_port("::1", "53"), "[::1]:53");
        assert_eq!(join_host_port("1.2.3.4", "53"), "1.2.3.4:53");
        assert_eq!(join_host_port("", "8080"), ":8080");
    }
}
