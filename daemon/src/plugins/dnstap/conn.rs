//! The connections dnstap frames travel on: dialed to a collector (unix,
//! tcp, tls) or accepted from a sink (`listen`), blocking, with CoreDNS's
//! 4 s timeout on every read and write. Errors read as Go's `net` words
//! them, since the first failed dial is logged.

use crate::gocompat::{errno, net as gonet};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// CoreDNS's `tcpTimeout`: dialing, and each read and write.
pub const TIMEOUT: Duration = Duration::from_secs(4);

/// A connection to a collector or from a sink.
pub enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
    TlsClient(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    TlsServer(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
            Stream::TlsClient(s) => s.read(buf),
            Stream::TlsServer(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
            Stream::TlsClient(s) => s.write(buf),
            Stream::TlsServer(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.flush(),
            Stream::Tcp(s) => s.flush(),
            Stream::TlsClient(s) => s.flush(),
            Stream::TlsServer(s) => s.flush(),
        }
    }
}

/// Why a dial failed, as Go's `*net.OpError` reads.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    #[error("dial unix {}: connect: {}", .path.display(), errno::text(.source))]
    Unix { path: PathBuf, source: io::Error },
    #[error("dial tcp: {0}")]
    Address(gonet::AddrError),
    /// The host has no address (Go adds which server it asked).
    #[error("dial tcp: lookup {host}: no such host")]
    NoHost { host: String },
    #[error("dial tcp: lookup tcp/{port}: unknown port")]
    Port { port: String },
    #[error("dial tcp {addr}: i/o timeout")]
    Timeout { addr: SocketAddr },
    #[error("dial tcp {addr}: connect: {}", errno::text(.source))]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("{}", errno::text(.0))]
    Socket(io::Error),
    #[error("tls: {0}")]
    Tls(#[from] rustls::Error),
    #[error("tls: {source}: {host:?}")]
    ServerName {
        host: String,
        source: rustls::pki_types::InvalidDnsNameError,
    },
}

/// TLS towards a collector: the configuration and the name checked.
pub struct TlsDial {
    pub config: Arc<rustls::ClientConfig>,
    pub name: ServerName<'static>,
}

/// The client configuration for `tls://HOST:PORT`: the web's roots (as
/// forward's TLS), or no check of the certificate at all with `skipverify`.
pub fn tls_client(hostport: &str, skip_verify: bool) -> Result<TlsDial, DialError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let config = if skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    let host = gonet::split_host_port(hostport).map_or(hostport, |(h, _)| h);
    let name = ServerName::try_from(host.to_string()).map_err(|source| DialError::ServerName {
        host: host.to_string(),
        source,
    })?;
    Ok(TlsDial {
        config: Arc::new(config),
        name,
    })
}

/// Go's `InsecureSkipVerify`: any certificate is taken; the handshake's
/// signatures are still checked.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn timeouts(
    set: impl Fn(Option<Duration>) -> io::Result<()>,
    also: impl Fn(Option<Duration>) -> io::Result<()>,
) -> io::Result<()> {
    set(Some(TIMEOUT))?;
    also(Some(TIMEOUT))
}

/// Connects to a unix socket.
pub fn unix(path: &Path) -> Result<Stream, DialError> {
    let fail = |source| DialError::Unix {
        path: path.to_path_buf(),
        source,
    };
    let s = UnixStream::connect(path).map_err(fail)?;
    timeouts(|d| s.set_read_timeout(d), |d| s.set_write_timeout(d)).map_err(DialError::Socket)?;
    Ok(Stream::Unix(s))
}

/// Connects over TCP to `hostport` (a name is looked up; the first
/// address that answers is taken), with a send buffer of `sndbuf` bytes.
pub fn tcp(hostport: &str, sndbuf: usize) -> Result<TcpStream, DialError> {
    let (host, port) = gonet::split_host_port(hostport).map_err(DialError::Address)?;
    // Go dials the local system for an empty host.
    let host = if host.is_empty() { "127.0.0.1" } else { host };
    let no_host = || DialError::NoHost {
        host: host.to_string(),
    };
    let port: u16 = port.parse().map_err(|_| DialError::Port {
        port: port.to_string(),
    })?;
    let addrs = (host, port).to_socket_addrs().map_err(|_| no_host())?;
    let mut last = None;
    for addr in addrs {
        match connect(addr, sndbuf) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(no_host))
}

fn connect(addr: SocketAddr, sndbuf: usize) -> Result<TcpStream, DialError> {
    use socket2::{Domain, Socket, Type};
    let sock =
        Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(DialError::Socket)?;
    // As CoreDNS's SetWriteBuffer; the kernel caps it at wmem_max.
    let _ = sock.set_send_buffer_size(sndbuf);
    match sock.connect_timeout(&addr.into(), TIMEOUT) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::TimedOut => return Err(DialError::Timeout { addr }),
        Err(source) => return Err(DialError::Connect { addr, source }),
    }
    let s: TcpStream = sock.into();
    timeouts(|d| s.set_read_timeout(d), |d| s.set_write_timeout(d)).map_err(DialError::Socket)?;
    Ok(s)
}

/// TLS over a TCP connection; the handshake happens on first use.
pub fn tls(tcp: TcpStream, t: &TlsDial) -> Result<Stream, DialError> {
    let c = rustls::ClientConnection::new(Arc::clone(&t.config), t.name.clone())?;
    Ok(Stream::TlsClient(Box::new(rustls::StreamOwned::new(
        c, tcp,
    ))))
}

/// Why a listener's TLS files were refused.
#[derive(Debug, thiserror::Error)]
pub enum ListenTlsError {
    #[error("open {}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("tls: failed to find any PEM data in certificate input")]
    NoCert,
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

/// The server configuration of `listen tls://`: CERT and KEY, and with
/// a CA, client certificates checked against it (required, or only when
/// given with `skipverify`).
pub fn tls_server(
    cert: &Path,
    key: &Path,
    ca: Option<&Path>,
    skip_verify: bool,
) -> Result<Arc<rustls::ServerConfig>, ListenTlsError> {
    use rustls::pki_types::pem::PemObject;
    let read = |p: &Path| {
        CertificateDer::pem_file_iter(p)
            .and_then(|it| it.collect::<Result<Vec<_>, _>>())
            .map_err(|source| ListenTlsError::Read {
                path: p.to_path_buf(),
                source,
            })
    };
    let chain = read(cert)?;
    if chain.is_empty() {
        return Err(ListenTlsError::NoCert);
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| ListenTlsError::Read {
        path: key.to_path_buf(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()?;
    let builder = match ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in read(ca)? {
                roots.add(c)?;
            }
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let v = if skip_verify {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(v.build()?)
        }
    };
    Ok(Arc::new(builder.with_single_cert(chain, key)?))
}

/// A sink's accepted TCP connection, in TLS when configured, with the
/// timeouts set.
pub fn accepted_tcp(s: TcpStream, tls: Option<&Arc<rustls::ServerConfig>>) -> io::Result<Stream> {
    s.set_nonblocking(false)?;
    timeouts(|d| s.set_read_timeout(d), |d| s.set_write_timeout(d))?;
    Ok(match tls {
        None => Stream::Tcp(s),
        Some(c) => {
            let conn = rustls::ServerConnection::new(Arc::clone(c)).map_err(io::Error::other)?;
            Stream::TlsServer(Box::new(rustls::StreamOwned::new(conn, s)))
        }
    })
}

/// A sink's accepted unix connection, with the timeouts set.
pub fn accepted_unix(s: UnixStream) -> io::Result<Stream> {
    s.set_nonblocking(false)?;
    timeouts(|d| s.set_read_timeout(d), |d| s.set_write_timeout(d))?;
    Ok(Stream::Unix(s))
}
