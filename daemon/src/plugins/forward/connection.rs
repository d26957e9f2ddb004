//! Connections to an upstream: the transports, dialing (UDP, TCP, TLS) and
//! one DNS message written to or read from a connection (length-prefixed
//! on streams).

use super::upstream::Upstream;
use crate::gocompat::errno;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};
use tokio::time::timeout_at;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// The `proto` label of the connection cache metrics.
    pub fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tcp-tls",
        }
    }
    pub(super) fn bucket(self) -> usize {
        usize::from(self != Transport::Udp)
    }
}

pub enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl Conn {
    pub(super) fn local(&self) -> Option<SocketAddr> {
        match self {
            Conn::Udp(s) => s.local_addr().ok(),
            Conn::Tcp(s) => s.local_addr().ok(),
            Conn::Tls(s) => s.get_ref().0.local_addr().ok(),
        }
    }
}

/// A connection as Go's net errors name it: `udp 127.0.0.1:40000->192.0.2.1:53`
/// (the remote end alone when the local one is not known).
#[derive(Debug)]
pub struct Link {
    pub net: &'static str,
    pub local: Option<SocketAddr>,
    pub remote: SocketAddr,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.local {
            Some(l) => write!(f, "{} {l}->{}", self.net, self.remote),
            None => write!(f, "{} {}", self.net, self.remote),
        }
    }
}

pub(super) fn unspecified(addr: &SocketAddr) -> IpAddr {
    match addr {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// Why a connection to an upstream could not be made, in Go's words.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// Opening, binding or (UDP) connecting the socket.
    #[error("dial {net} {addr}: {}", errno::text(.source))]
    Socket {
        net: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("dial tcp {addr}: connect: {}", errno::text(.source))]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("dial {net} {addr}: i/o timeout")]
    Timeout { net: &'static str, addr: SocketAddr },
    #[error("{}", errno::text(.0))]
    Handshake(io::Error),
}

/// A new connection to `up` over `t`, within `limit`.
pub(super) async fn dial(up: &Upstream, t: Transport, limit: Duration) -> Result<Conn, DialError> {
    let net = match t {
        Transport::Udp => "udp",
        _ => "tcp",
    };
    let addr = up.addr;
    let fail = |source| DialError::Socket { net, addr, source };
    let timeout = |_| DialError::Timeout { net, addr };
    let deadline = tokio::time::Instant::now() + limit;
    let local = SocketAddr::new(up.source.unwrap_or_else(|| unspecified(&up.addr)), 0);
    match t {
        Transport::Udp => {
            let s = UdpSocket::bind(local).await.map_err(fail)?;
            s.connect(up.addr).await.map_err(fail)?;
            // Every exchange of the worker with this upstream shares the
            // socket: room for a burst of replies.
            let _ = socket2::SockRef::from(&s).set_recv_buffer_size(4 << 20);
            Ok(Conn::Udp(s))
        }
        Transport::Tcp | Transport::Tls => {
            let sock = match up.addr {
                SocketAddr::V4(_) => TcpSocket::new_v4(),
                SocketAddr::V6(_) => TcpSocket::new_v6(),
            }
            .map_err(fail)?;
            if up.source.is_some() {
                sock.bind(local).map_err(fail)?;
            }
            let tcp = timeout_at(deadline, sock.connect(up.addr))
                .await
                .map_err(timeout)?
                .map_err(|source| DialError::Connect { addr, source })?;
            let _ = tcp.set_nodelay(true);
            if t == Transport::Tcp {
                return Ok(Conn::Tcp(tcp));
            }
            let Some(tls) = &up.tls else {
                return Ok(Conn::Tcp(tcp));
            };
            let name = tls
                .server_name
                .clone()
                .unwrap_or_else(|| rustls::pki_types::ServerName::IpAddress(up.addr.ip().into()));
            let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::clone(&tls.config));
            let s = timeout_at(deadline, connector.connect(name, tcp))
                .await
                .map_err(timeout)?
                .map_err(DialError::Handshake)?;
            Ok(Conn::Tls(Box::new(s)))
        }
    }
}

async fn write_stream<S: AsyncWrite + Unpin>(s: &mut S, wire: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(wire.len() + 2);
    buf.extend_from_slice(&(wire.len() as u16).to_be_bytes());
    buf.extend_from_slice(wire);
    s.write_all(&buf).await?;
    s.flush().await
}

async fn read_stream<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> io::Result<()> {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    buf.resize(usize::from(u16::from_be_bytes(len)), 0);
    s.read_exact(buf).await.map(drop)
}

pub(super) async fn write(conn: &mut Conn, wire: &[u8]) -> io::Result<()> {
    match conn {
        Conn::Udp(s) => s.send(wire).await.map(|_| ()),
        Conn::Tcp(s) => write_stream(s, wire).await,
        Conn::Tls(s) => write_stream(s.as_mut(), wire).await,
    }
}

/// One message off the connection (a whole datagram for UDP) into `buf`,
/// which has room for the largest (its capacity is not zeroed first).
pub(super) async fn read(conn: &mut Conn, buf: &mut Vec<u8>) -> io::Result<()> {
    buf.clear();
    match conn {
        Conn::Udp(s) => s.recv_buf(buf).await.map(drop),
        Conn::Tcp(s) => read_stream(s, buf).await,
        Conn::Tls(s) => read_stream(s.as_mut(), buf).await,
    }
}
