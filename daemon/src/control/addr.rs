//! Addresses of the HTTP endpoints as CoreDNS takes them: Go's
//! `net.SplitHostPort` at setup, Go's `net.Listen("tcp", ...)` rules at start.

use crate::gocompat::net::{split_host_port, AddrError};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// An address `net.Listen("tcp", ...)` refuses; `Display` is Go's text.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("listen tcp: {0}")]
    Split(AddrError),
    #[error("listen tcp: lookup tcp/{0}: unknown port")]
    Port(String),
    #[error("listen tcp: lookup {0}: no such host")]
    Host(String),
}

/// Where `net.Listen("tcp", addr)` would listen: an empty host is every
/// address (dual stack), a name resolves to its first IPv4 address if it
/// has one.
pub fn resolve(addr: &str) -> Result<SocketAddr, ListenError> {
    let (host, port) = split_host_port(addr).map_err(ListenError::Split)?;
    let port: u16 = if port.is_empty() {
        0
    } else {
        port.parse()
            .map_err(|_| ListenError::Port(port.to_string()))?
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
        .map_err(|_| ListenError::Host(host.to_string()))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| ListenError::Host(host.to_string()))
}

/// Go's text for a listen address in errors: `:8080` for every address.
pub fn listen_text(a: SocketAddr) -> String {
    if a.ip().is_unspecified() && a.is_ipv6() {
        format!(":{}", a.port())
    } else {
        a.to_string()
    }
}

pub use crate::plugin::endpoint::optional_arg;

#[cfg(test)]
mod tests {
    use super::*;

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
            resolve("bla:a").unwrap_err().to_string(),
            "listen tcp: lookup tcp/a: unknown port"
        );
        assert_eq!(listen_text("[::]:8080".parse().unwrap()), ":8080");
    }
}
