//! Server block keys: `[scheme://]zone[:port]`, CIDR keys to reverse zones.

use super::{Error, Token};
use std::fmt;

/// The transport a server block key names by its scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    Dns,
    Tls,
    Https,
    Grpc,
    Quic,
}

impl Transport {
    pub fn scheme(self) -> &'static str {
        todo!()
    }
}

/// One zone served on one transport and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZoneAddr {
    pub transport: Transport,
    /// Lowercased, fully qualified (`example.org.`, `.`, `0.0.10.in-addr.arpa.`).
    pub zone: String,
    pub port: u16,
}

impl fmt::Display for ZoneAddr {
    /// As CoreDNS prints it: `dns://example.org.:53`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}:{}",
            self.transport.scheme(),
            self.zone,
            self.port
        )
    }
}

/// Parses one server block key. `default_port` (the `-dns.port` flag) is used
/// for `dns://` keys without a port; other schemes default to their own port.
/// A CIDR key yields one reverse zone per octet (IPv4) or nibble (IPv6)
/// boundary it spans.
pub fn parse_key(key: &Token, default_port: u16) -> Result<Vec<ZoneAddr>, Error> {
    let _ = (key, default_port);
    todo!()
}
