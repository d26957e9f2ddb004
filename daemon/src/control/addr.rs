//! Addresses of the HTTP endpoints as CoreDNS takes them: Go's
//! `net.SplitHostPort` at setup, Go's `net.Listen("tcp", ...)` rules at start.

use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// Go's `net.SplitHostPort`, with Go's error text (`address X: missing port in address`).
pub fn split_host_port(hostport: &str) -> Result<(&str, &str), String> {
    let err = |why: &str| Err(format!("address {hostport}: {why}"));
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

/// Where `net.Listen("tcp", addr)` would listen: an empty host is every
/// address (dual stack), a name resolves to its first IPv4 address if it
/// has one. Errors read like Go's.
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    let (host, port) = split_host_port(addr).map_err(|e| format!("listen tcp: {e}"))?;
    let port: u16 = if port.is_empty() {
        0
    } else {
        port.parse()
            .map_err(|_| format!("listen tcp: lookup tcp/{port}: unknown port"))?
    };
    if host.is_empty() {
        return Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
    }
    let ip_text = host.split('%').next().unwrap_or(host);
    if let Ok(ip) = ip_text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| format!("listen tcp: lookup {host}: no such host"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("listen tcp: lookup {host}: no such host"))
}

/// Go's text for a listen address in errors: `:8080` for every address.
pub fn listen_text(a: SocketAddr) -> String {
    if a.ip().is_unspecified() && a.is_ipv6() {
        format!(":{}", a.port())
    } else {
        a.to_string()
    }
}

/// The `[ADDRESS]` argument of prometheus, health and ready: `default` when
/// absent, checked as Go's `net.SplitHostPort` would when given.
pub fn optional_arg(
    d: &crate::corefile::Dispenser<'_>,
    args: &[String],
    default: &str,
) -> Result<String, crate::corefile::Error> {
    match args {
        [] => Ok(default.to_string()),
        [a] => {
            split_host_port(a).map_err(|e| d.err(e))?;
            Ok(a.clone())
        }
        _ => Err(d.arg_err()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_split_host_port() {
        assert_eq!(split_host_port("localhost:9153"), Ok(("localhost", "9153")));
        assert_eq!(split_host_port(":8080"), Ok(("", "8080")));
        assert_eq!(split_host_port("[::1]:53"), Ok(("::1", "53")));
        assert_eq!(split_host_port("bla:a"), Ok(("bla", "a")));
        assert_eq!(
            split_host_port("/foo"),
            Err("address /foo: missing port in address".into())
        );
        assert_eq!(
            split_host_port("::1:53"),
            Err("address ::1:53: too many colons in address".into())
        );
        assert_eq!(
            split_host_port("[::1"),
            Err("address [::1: missing ']' in address".into())
        );
        assert_eq!(
            split_host_port("[::1]"),
            Err("address [::1]: missing port in address".into())
        );
        assert_eq!(
            split_host_port("a]:53"),
            Err("address a]:53: unexpected ']' in address".into())
        );
    }

    #[test]
    fn resolves_like_go_listen() {
        assert_eq!(resolve(":8080").unwrap(), "[::]:8080".parse().unwrap());
        assert_eq!(
            resolve("127.0.0.1:9").unwrap(),
            "127.0.0.1:9".parse().unwrap()
        );
        assert_eq!(
            resolve("localhost:9153").unwrap(),
            "127.0.0.1:9153".parse().unwrap()
        );
        assert_eq!(
            resolve("bla:a").unwrap_err(),
            "listen tcp: lookup tcp/a: unknown port"
        );
        assert_eq!(listen_text("[::]:8080".parse().unwrap()), ":8080");
    }
}
